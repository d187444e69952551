"""Deploy overhead: how long after an engine can answer does `lz deploy` report it ready?

    python benchmarks/bench_deploy.py [--runs 5] [--no-llamacpp]

1. Health-to-ready (target < 0.5 s): a stand-in engine (tests/deploy/standins, `vllm` on PATH)
   writes the moment it starts listening; `lz deploy` is timed from that moment until it has
   recorded the deployment and exited. Baseline in the same run: a bare loop polling the same
   stand-in's /health every 5 ms (the least any poller can do).
2. End to end on the real engine: `lz deploy smollm2-135m-instruct` (llama.cpp, bundled SmolLM2)
   against the bare server started by hand and polled every 5 ms (ratio = lz / bare).

Everything runs on 127.0.0.1 under a temporary LAZYCLI_HOME; every process is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STANDINS = REPO / "tests" / "deploy" / "standins"
TARGET_S = 0.5


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LAZYCLI_HOME=str(home),
        PATH=f"{STANDINS / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(p for p in (str(STANDINS), str(REPO), env.get("PYTHONPATH", "")) if p),
        HF_HUB_OFFLINE="1",
        **extra,
    )
    return env


def _lz(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lazycli", *args], capture_output=True, text=True, env=env)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def _poll(url: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} never became healthy")
        time.sleep(0.005)
    return time.time()


def standin_overhead(home: Path, model_dir: Path, runs: int) -> tuple[list[float], list[float]]:
    lz_gaps, bare_gaps = [], []
    for i in range(runs):
        mark = home / f"listening-{i}"
        # engine startup delay so lz is already polling when the engine begins to listen
        env = _env(home, STANDIN_LISTENING_FILE=str(mark), STANDIN_START_DELAY="0.7")
        proc = _lz(env, "deploy", str(model_dir), "--engine", "vllm", "--name", f"b{i}", "--json")
        done = time.time()
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        row = json.loads(proc.stdout)
        lz_gaps.append(done - float(mark.read_text()))
        _lz(env, "deploy", "stop", row["name"])

        port = _free_port()
        mark.unlink()
        argv = ["vllm", "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
        bare = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ready = _poll(f"http://127.0.0.1:{port}/health", bare)
            bare_gaps.append(ready - float(mark.read_text()))
        finally:
            bare.terminate()
            bare.wait()
    return lz_gaps, bare_gaps


def llamacpp_end_to_end(home: Path, runs: int) -> tuple[list[float], list[float]]:
    from lazycli import catalog

    gguf = catalog.resolve("smollm2-135m-instruct").path
    lz_times, bare_times = [], []
    env = _env(home)
    threads = os.environ.get("LAZYCLI_LLAMACPP_THREADS", "1")
    for i in range(runs):
        started = time.time()
        proc = _lz(env, "deploy", "smollm2-135m-instruct", "--name", f"l{i}", "--json")
        lz_times.append(time.time() - started)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        _lz(env, "deploy", "stop", f"l{i}")

        port = _free_port()
        argv = [sys.executable, "-m", "lazycli_plugins.llamacpp_server", "--model", str(gguf)]
        argv += ["--host", "127.0.0.1"]
        argv += ["--port", str(port), "--n_threads", threads, "--n_ctx", "4096"]
        started = time.time()
        bare = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            bare_times.append(_poll(f"http://127.0.0.1:{port}/v1/models", bare) - started)
        finally:
            bare.terminate()
            bare.wait()
    return lz_times, bare_times


def _row(label: str, values: list[float]) -> str:
    spread = f"(min {min(values):.3f}, max {max(values):.3f})"
    return f"  {label:44} median {statistics.median(values):6.3f} s   {spread}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-llamacpp", action="store_true", help="skip the real-engine comparison")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="lz-bench-deploy-") as tmp:
        home = Path(tmp)
        model_dir = home / "tiny-llama"
        model_dir.mkdir()
        (model_dir / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
        lz_gaps, bare_gaps = standin_overhead(home, model_dir, args.runs)
        overhead = statistics.median(lz_gaps)
        ok = overhead < TARGET_S
        print(f"deploy overhead: engine listening → lz reported ready and exited ({args.runs} runs)")
        print(_row("lz deploy", lz_gaps))
        print(_row("baseline: bare 5 ms health poll", bare_gaps))
        extra = overhead - statistics.median(bare_gaps)
        print(
            f"  lz adds {extra:.3f} s over the bare poll; target < {TARGET_S} s: {'PASS' if ok else 'FAIL'}"
        )
        if not args.no_llamacpp:
            runs = max(1, min(args.runs, 3))
            lz_times, bare_times = llamacpp_end_to_end(home, runs)
            ratio = statistics.median(lz_times) / statistics.median(bare_times)
            print(f"\nend to end, bundled SmolLM2 on llama.cpp ({runs} runs)")
            print(_row("lz deploy smollm2-135m-instruct (whole CLI)", lz_times))
            print(_row("baseline: bare llama_cpp.server to healthy", bare_times))
            print(f"  ratio lz / bare: {ratio:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
