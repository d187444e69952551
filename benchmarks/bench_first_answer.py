"""The quickstart's first answer, deploy included, on the real embedded default (issue 12).

    python benchmarks/bench_first_answer.py              # 3 cold + 3 warm runs
    python benchmarks/bench_first_answer.py --runs 5 --json

An index of the repository's docs/ is built once under a temporary LAZYCLI_HOME. A "cold" run is
what a newcomer's second command costs: no engine running, then the README's
`lz rag --index lzdocs QUESTION` in a fresh process (it deploys the bundled SmolLM2 on llama.cpp,
retrieves, and answers). A "warm" run is the same command with the engine already up. Before each
cold run every deployment is stopped. The baseline measured in the same run is the engine start
alone (`lz deploy smollm2-135m-instruct` then stop), so the table shows what the deploy costs and
what the answer costs on top. Goal: cold ≤ 10 s wall.
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTION = "How do I add an OpenAI-compatible endpoint without writing a plugin?"
MODEL = "smollm2-135m-instruct"
TARGET_S = 10.0


def lz(*args: str, env: dict[str, str]) -> float:
    """Wall seconds of one `python -m lazycli ARGS` process (it must succeed)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lazycli", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="lz-first-answer-"))
    env = {**os.environ, "LAZYCLI_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    lz("index", str(REPO / "docs"), "--name", "lzdocs", env=env)
    rag = ("rag", "--index", "lzdocs", QUESTION)
    deploy_only, cold, warm = [], [], []
    try:
        for _ in range(args.runs):
            deploy_only.append(lz("deploy", MODEL, env=env))
            lz("deploy", "stop", "--all", env=env)
            cold.append(lz(*rag, env=env))
            warm.append(lz(*rag, env=env))
            lz("deploy", "stop", "--all", env=env)
    finally:
        subprocess.run(
            [sys.executable, "-m", "lazycli", "deploy", "stop", "--all"], env=env, capture_output=True
        )
    result = {
        "runs": args.runs,
        "deploy_only_s": statistics.median(deploy_only),
        "first_answer_cold_s": statistics.median(cold),
        "answer_warm_s": statistics.median(warm),
        "cold_over_deploy": statistics.median(cold) / statistics.median(deploy_only),
        "target_s": TARGET_S,
        "engine": "llama.cpp (bundled SmolLM2-135M-Instruct Q4_1), local launcher",
        "load_average": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"first answer, deploy included (median of {args.runs}, load {result['load_average']:.1f}):")
    print(f"  engine start alone       {result['deploy_only_s']:6.2f} s   (baseline)")
    print(f"  cold: lz rag, deploying  {result['first_answer_cold_s']:6.2f} s   "
          f"{result['cold_over_deploy']:.2f}x the engine start; goal <= {TARGET_S:.0f} s")  # fmt: skip
    print(f"  warm: lz rag, engine up  {result['answer_warm_s']:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
