"""What the client layer costs on top of the wire, measured against baselines in the same run.

Against the OpenAI-compatible stand-in (tests/chat/standin.py, on 127.0.0.1, in this process):
  * per request: `ChatClient.complete` (lz's client) vs a bare httpx POST vs the `openai` SDK;
  * streaming: time to the first delta and to the last one, lz client vs the `openai` SDK;
  * `lz chat URL PROMPT` as a process: CPU seconds vs `python -c pass` (start-up is most of it).

    python benchmarks/bench_chat.py [--requests 200] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MESSAGES = [{"role": "user", "content": "What is 2+2?"}]


def _timed(fn, n: int) -> float:
    """Mean seconds per call over n calls (after one warm-up)."""
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def _stream_times(make_stream, n: int) -> tuple[float, float]:
    firsts, lasts = [], []
    for _ in range(n):
        started = time.perf_counter()
        first = None
        for _piece in make_stream():
            if first is None:
                first = time.perf_counter() - started
        firsts.append(first or 0.0)
        lasts.append(time.perf_counter() - started)
    return statistics.median(firsts), statistics.median(lasts)


def _cpu_of(argv: list[str], runs: int, env: dict) -> float:
    """Median CPU seconds (user + sys) of a child process."""
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import tempfile

    import httpx
    import openai
    from tests.chat.standin import StandIn

    from lazycli.targets import resolve_target

    home = tempfile.mkdtemp(prefix="lzbench")
    os.environ["LAZYCLI_HOME"] = home
    server = StandIn("local")
    try:
        client = resolve_target(server.url, model="m")
        raw = httpx.Client(trust_env=False)
        sdk = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
        body = {"model": "m", "messages": MESSAGES}

        t_raw = _timed(lambda: raw.post(f"{server.url}/chat/completions", json=body).json(), args.requests)
        t_lz = _timed(lambda: client.complete(MESSAGES), args.requests)
        t_sdk = _timed(lambda: sdk.chat.completions.create(model="m", messages=MESSAGES), args.requests)

        lz_first, lz_last = _stream_times(lambda: client.complete(MESSAGES, stream=True), args.requests // 4)
        sdk_first, sdk_last = _stream_times(
            lambda: (
                c.choices[0].delta.content
                for c in sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)
                if c.choices and c.choices[0].delta.content
            ),
            args.requests // 4,
        )

        env = {**os.environ, "LAZYCLI_HOME": home}
        cpu_python = _cpu_of([sys.executable, "-c", "pass"], args.runs, env)
        lz_argv = [sys.executable, "-m", "lazycli", "chat", server.url, "hi", "--no-log"]
        cpu_chat = _cpu_of(lz_argv, args.runs, env)
    finally:
        server.close()

    result = {
        "request_ms": {"httpx": t_raw * 1e3, "lz_client": t_lz * 1e3, "openai_sdk": t_sdk * 1e3},
        "lz_client_vs_httpx": t_lz / t_raw,
        "lz_client_vs_openai_sdk": t_lz / t_sdk,
        "stream_ms": {
            "lz_first": lz_first * 1e3,
            "lz_last": lz_last * 1e3,
            "sdk_first": sdk_first * 1e3,
            "sdk_last": sdk_last * 1e3,
        },
        "stream_lz_vs_sdk": lz_last / sdk_last,
        "cpu_s": {"python_c_pass": cpu_python, "lz_chat_one_shot": cpu_chat},
        "lz_chat_cpu_over_python": cpu_chat - cpu_python,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r = result
    print(
        f"non-streamed request: httpx {r['request_ms']['httpx']:.2f} ms,"
        f" lz client {r['request_ms']['lz_client']:.2f} ms, openai SDK {r['request_ms']['openai_sdk']:.2f} ms"
    )
    print(
        f"  lz client / httpx = {r['lz_client_vs_httpx']:.2f}x,"
        f" lz client / openai SDK = {r['lz_client_vs_openai_sdk']:.2f}x"
    )
    s = r["stream_ms"]
    print(
        f"streamed: first delta lz {s['lz_first']:.2f} ms / SDK {s['sdk_first']:.2f} ms;"
        f" last lz {s['lz_last']:.2f} ms / SDK {s['sdk_last']:.2f} ms ({r['stream_lz_vs_sdk']:.2f}x)"
    )
    print(
        f"`lz chat URL hi` process: {cpu_chat:.3f} CPU s vs python -c pass {cpu_python:.3f} s"
        f" (+{r['lz_chat_cpu_over_python']:.3f} s)"
    )


if __name__ == "__main__":
    main()
