"""How much latency `lz serve` adds in front of an engine, measured against calling the engine directly,
and what recording every exchange (its trace) costs on top.

Starts the fast local engine stand-in (tests/serve/engine_standin.py) and two `lz serve URL` in front
of it, one recording traces (the default) and one with chat_log off, then for each path (direct,
serve untraced, serve traced) measures:
  * sequential streaming requests: mean and p50/p95 time to the last byte;
  * CONCURRENCY streaming requests at once (default 64): wall time, p50/p95, errors.
Prints the added latency per request (ms), the ratios serve/direct and traced/untraced, and checks
that every traced request was stored. With --busy-db another process holds the traced server's
state database write-locked for the whole measurement (several `lz` processes at once).

    python benchmarks/bench_serve.py [--requests 200] [--concurrency 64] [--pieces 16] [--busy-db] [--json]

With --real, the engine is the real default one instead: the bundled SmolLM2 on llama.cpp, started
with `lz deploy` (so with lz's own engine flags) and `lz serve DEPLOYMENT` in front of it. For 1, 4
and 16 concurrent streams (--streams) it measures throughput (completion tokens/s over the wall
time) and p50/p95 time to first token, direct and through lz serve, and counts errors (a stream
that fails or ends without a finish reason). The engine runs one request at a time: lz serve queues
the others, so time to first token grows with the queue on both paths.

    python benchmarks/bench_serve.py --real [--max-tokens 16] [--streams 1,4,16] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready after {timeout} s")


async def _one(client, base: str, i: int) -> float:
    body = {"model": None, "messages": [{"role": "user", "content": f"question {i}"}], "stream": True}
    body = {k: v for k, v in body.items() if v is not None}
    started = time.perf_counter()
    pieces = 0
    async with client.stream("POST", base + "/chat/completions", json=body) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP {resp.status_code}")
        async for line in resp.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                pieces += 1
    if pieces < 2:
        raise RuntimeError("empty stream")
    return time.perf_counter() - started


async def _sequential(base: str, n: int) -> list[float]:
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(5):  # warm-up: connections, first-request imports
            await _one(client, base, i)
        return [await _one(client, base, i) for i in range(n)]


async def _concurrent(base: str, n: int) -> tuple[float, list[float], int]:
    import httpx

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(_one(client, base, i) for i in range(n)), return_exceptions=True)
        wall = time.perf_counter() - started
    times = [r for r in results if isinstance(r, float)]
    return wall, times, len(results) - len(times)


async def _interleaved(bases: list[str], n: int) -> list[list[float]]:
    """Sequential requests alternating between paths (order flipped every round), so that the load
    of a shared machine drifts over all paths alike; one list of times per path."""
    import httpx

    times: list[list[float]] = [[] for _ in bases]
    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(5):
            for base in bases:
                await _one(client, base, i)
        for i in range(n):
            order = list(range(len(bases)))
            if i % 2:
                order.reverse()
            for k in order:
                times[k].append(await _one(client, bases[k], i))
    return times


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc): load-independent cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(base: str, requests: int, concurrency: int) -> dict:
    seq = asyncio.run(_sequential(base, requests))
    wall, conc, errors = asyncio.run(_concurrent(base, concurrency))
    return {
        "seq_mean_ms": statistics.mean(seq) * 1000,
        "seq_p50_ms": _pct(seq, 0.5) * 1000,
        "seq_p95_ms": _pct(seq, 0.95) * 1000,
        "conc_wall_ms": wall * 1000,
        "conc_p50_ms": _pct(conc, 0.5) * 1000 if conc else None,
        "conc_p95_ms": _pct(conc, 0.95) * 1000 if conc else None,
        "conc_errors": errors,
    }


def _start_serve(engine_port: int, env: dict) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazycli", "serve", f"http://127.0.0.1:{engine_port}/v1", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    _wait(f"http://127.0.0.1:{port}/health", proc)
    return proc, f"http://127.0.0.1:{port}/v1"


_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("COMMIT")
"""


def _hold_lock(home: str) -> subprocess.Popen:
    """Another process holding the state database's write lock until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _LOCK, str(Path(home) / "data" / "state.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _recorded(home: str) -> int:
    import sqlite3

    db = sqlite3.connect(Path(home) / "data" / "state.db")
    try:
        return db.execute("SELECT COUNT(*) FROM chat_logs WHERE kind = 'serve'").fetchone()[0]
    finally:
        db.close()


# --- the real default engine ---------------------------------------------------------------------


async def _timed_stream(client, base: str, model: str, max_tokens: int) -> tuple[float, int]:
    """(time to first token, completion tokens) of one streaming request; raises on a cut-off stream."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Name three colours."}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first, finish, tokens, pieces = None, None, 0, 0
    async with client.stream("POST", base + "/chat/completions", json=body) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP {resp.status_code}")
        async for line in resp.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                raise RuntimeError(event["error"].get("message"))
            for choice in event.get("choices") or []:
                if choice.get("delta", {}).get("content"):
                    pieces += 1
                    first = first if first is not None else time.perf_counter() - started
                finish = choice.get("finish_reason") or finish
            tokens = (event.get("usage") or {}).get("completion_tokens", tokens)
    if first is None or finish is None:
        raise RuntimeError("the stream ended before the answer was finished")
    # llama-cpp-python sends no usage in streams: there, each content chunk is one token.
    return first, tokens or pieces


async def _real_round(base: str, model: str, streams: int, max_tokens: int) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        await _timed_stream(client, base, model, max_tokens)  # warm-up: the prompt cache, connections
        started = time.perf_counter()
        jobs = (_timed_stream(client, base, model, max_tokens) for _ in range(streams))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        wall = time.perf_counter() - started
    done = [r for r in results if isinstance(r, tuple)]
    ttft = [r[0] for r in done]
    return {
        "streams": streams,
        "wall_s": wall,
        "tokens_per_s": sum(r[1] for r in done) / wall,
        "ttft_p50_ms": _pct(ttft, 0.5) * 1000 if ttft else None,
        "ttft_p95_ms": _pct(ttft, 0.95) * 1000 if ttft else None,
        "errors": len(results) - len(done),
    }


def _lz(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lazycli", *args], env=env, capture_output=True, text=True, check=False
    )


def real(args) -> dict:
    model = "smollm2-135m-instruct"
    env = dict(os.environ, LAZYCLI_HOME=tempfile.mkdtemp(prefix="lz-bench-serve-real-"))
    env.setdefault("LAZYCLI_LLAMACPP_THREADS", "1")
    serve_port = _free_port()
    serve = None
    try:
        started = _lz(env, "deploy", model, "--name", "bench", "--timeout", "300")
        if started.returncode != 0:
            raise SystemExit(f"lz deploy failed: {started.stderr.strip()}")
        engine = started.stdout.strip()  # the deployment's OpenAI base URL (…/v1)
        serve = subprocess.Popen(
            [sys.executable, "-m", "lazycli", "serve", "bench", "--port", str(serve_port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        _wait(f"http://127.0.0.1:{serve_port}/health", serve)
        served = f"http://127.0.0.1:{serve_port}/v1"
        rounds = []
        for streams in args.streams:
            direct = asyncio.run(_real_round(engine, model, streams, args.max_tokens))
            through = asyncio.run(_real_round(served, "bench", streams, args.max_tokens))
            rounds.append({"streams": streams, "direct": direct, "serve": through})
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=15)
        _lz(env, "deploy", "stop", "--all")
    return {
        "engine": "llamacpp (bundled SmolLM2-135M, lz deploy)",
        "threads": int(env["LAZYCLI_LLAMACPP_THREADS"]),
        "max_tokens": args.max_tokens,
        "rounds": rounds,
        "errors": sum(r["direct"]["errors"] + r["serve"]["errors"] for r in rounds),
    }


def print_real(report: dict) -> None:
    print(f"{report['engine']}, {report['threads']} thread(s), max_tokens {report['max_tokens']}")
    print(f"{'streams':>8} {'path':>9} {'tok/s':>8} {'ttft p50':>10} {'ttft p95':>10} {'errors':>7}")
    for r in report["rounds"]:
        for path in ("direct", "serve"):
            m = r[path]
            p50 = f"{m['ttft_p50_ms']:.0f} ms" if m["ttft_p50_ms"] is not None else "-"
            p95 = f"{m['ttft_p95_ms']:.0f} ms" if m["ttft_p95_ms"] is not None else "-"
            print(
                f"{r['streams']:>8} {path:>9} {m['tokens_per_s']:>8.1f} {p50:>10} {p95:>10} {m['errors']:>7}"
            )
        ratio = r["serve"]["tokens_per_s"] / r["direct"]["tokens_per_s"] if r["direct"]["tokens_per_s"] else 0
        print(f"{'':>8} {'ratio':>9} {ratio:>7.2f}x (throughput serve/direct)")
    print(f"errors: {report['errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per path")
    parser.add_argument("--concurrency", type=int, default=64, help="streaming requests at once")
    parser.add_argument("--pieces", type=int, default=16, help="stream pieces per answer")
    parser.add_argument("--busy-db", action="store_true", help="hold the traced server's db locked")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--real", action="store_true", help="the real default engine (llama.cpp + SmolLM2)")
    parser.add_argument("--max-tokens", type=int, default=16, help="--real: tokens per answer")
    parser.add_argument(
        "--streams",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 4, 16],
        help="--real: concurrent streams per round, comma-separated",
    )
    args = parser.parse_args()
    if args.real:
        report = real(args)
        print(json.dumps(report, indent=2)) if args.json else print_real(report)
        return

    engine_port = _free_port()
    env = dict(os.environ, LAZYCLI_HOME=tempfile.mkdtemp(prefix="lz-bench-serve-"))
    untraced_env = dict(
        env, LAZYCLI_HOME=tempfile.mkdtemp(prefix="lz-bench-serve-off-"), LAZYCLI_CHAT_LOG="false"
    )
    engine = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests/serve/engine_standin.py"),
            "--port",
            str(engine_port),
            "--pieces",
            str(args.pieces),
        ],
        env=env,
    )
    procs: list[subprocess.Popen] = [engine]
    lock = None
    try:
        _wait(f"http://127.0.0.1:{engine_port}/health", engine)
        untraced, untraced_url = _start_serve(engine_port, untraced_env)
        procs.append(untraced)
        traced, traced_url = _start_serve(engine_port, env)
        procs.append(traced)
        direct = measure(f"http://127.0.0.1:{engine_port}/v1", args.requests, args.concurrency)
        lock = _hold_lock(env["LAZYCLI_HOME"]) if args.busy_db else None
        cpu0 = (_cpu_s(untraced.pid), _cpu_s(traced.pid))
        plain = measure(untraced_url, args.requests, args.concurrency)
        served = measure(traced_url, args.requests, args.concurrency)
        pair = asyncio.run(_interleaved([untraced_url, traced_url], args.requests))
        cpu1 = (_cpu_s(untraced.pid), _cpu_s(traced.pid))
        if lock is not None:
            lock.stdin.close()  # release: the recorder's queued traces go in now
            lock.wait(timeout=15)
    finally:
        for proc in reversed(procs):
            proc.terminate()  # SIGTERM: lz serve flushes its queued traces before it exits
            proc.wait(timeout=30)
    recorded = _recorded(env["LAZYCLI_HOME"])
    report = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "pieces": args.pieces,
        "busy_db": args.busy_db,
        "direct": direct,
        "serve_untraced": plain,
        "serve": served,
        "interleaved_untraced_p50_ms": _pct(pair[0], 0.5) * 1000,
        "interleaved_traced_p50_ms": _pct(pair[1], 0.5) * 1000,
        "trace_added_ms_p50": (_pct(pair[1], 0.5) - _pct(pair[0], 0.5)) * 1000,
        "ratio_traced_untraced_seq_p50": _pct(pair[1], 0.5) / _pct(pair[0], 0.5),
        "cpu_ms_per_request_untraced": (cpu1[0] - cpu0[0])
        * 1000
        / (2 * args.requests + args.concurrency + 10),
        "cpu_ms_per_request_traced": (cpu1[1] - cpu0[1]) * 1000 / (2 * args.requests + args.concurrency + 10),
        "ratio_traced_untraced_conc_wall": served["conc_wall_ms"] / plain["conc_wall_ms"],
        "traces_expected": 10 + 2 * args.requests + args.concurrency,
        "traces_recorded": recorded,
        "added_ms_per_request_p50": served["seq_p50_ms"] - direct["seq_p50_ms"],
        "added_ms_per_request_mean": served["seq_mean_ms"] - direct["seq_mean_ms"],
        "ratio_seq_p50": served["seq_p50_ms"] / direct["seq_p50_ms"],
        "ratio_conc_wall": served["conc_wall_ms"] / direct["conc_wall_ms"],
        "errors": direct["conc_errors"] + plain["conc_errors"] + served["conc_errors"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'':26}{'direct':>10}{'untraced':>10}{'traced':>10}")
    for key in ("seq_mean_ms", "seq_p50_ms", "seq_p95_ms", "conc_wall_ms", "conc_p50_ms", "conc_p95_ms"):
        print(f"{key:26}{direct[key]:10.1f}{plain[key]:10.1f}{served[key]:10.1f}")
    print(f"errors (direct + serve, {args.concurrency} concurrent streams): {report['errors']}")
    print(
        f"added latency per streaming request: p50 {report['added_ms_per_request_p50']:.1f} ms, "
        f"mean {report['added_ms_per_request_mean']:.1f} ms"
    )
    print(
        f"ratio serve/direct: sequential p50 {report['ratio_seq_p50']:.2f}x, "
        f"{args.concurrency} concurrent wall {report['ratio_conc_wall']:.2f}x"
    )
    print(
        f"tracing{' (db write-locked by another process)' if args.busy_db else ''}, interleaved sequential "
        f"p50 {report['interleaved_untraced_p50_ms']:.1f} → {report['interleaved_traced_p50_ms']:.1f} ms "
        f"({report['trace_added_ms_p50']:+.2f} ms, {report['ratio_traced_untraced_seq_p50']:.2f}x); "
        f"server CPU per request {report['cpu_ms_per_request_untraced']:.2f} → "
        f"{report['cpu_ms_per_request_traced']:.2f} ms; concurrent wall "
        f"{report['ratio_traced_untraced_conc_wall']:.2f}x; "
        f"traces stored {recorded}/{report['traces_expected']}"
    )


if __name__ == "__main__":
    main()
