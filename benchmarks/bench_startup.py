"""Start-up cost of `lz --help` and `lz plugins`, against `python -c pass` measured in the same run.

CPU seconds (user + sys of the child) are what the targets are about: wall time on a shared 2-core
box swings with whatever else runs. Usage:

    python benchmarks/bench_startup.py [--runs 15] [--check]

`--check` exits 1 when a median is over its target (lz --help ≤ 0.15 s, lz plugins ≤ 0.4 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path


def lz_command() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else -m."""
    script = Path(sys.executable).with_name("lz")
    if script.exists():
        return [str(script)]
    found = shutil.which("lz")
    return [found] if found and "shims" not in found else [sys.executable, "-m", "lazycli"]


def cpu_seconds(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_cpu(argv: list[str], runs: int, env: dict[str, str]) -> float:
    cpu_seconds(argv, env)  # warm the page cache and .pyc files
    return statistics.median(cpu_seconds(argv, env) for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    env = dict(os.environ)
    lz = lz_command()
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("lz --help", [*lz, "--help"], 0.15),
        ("lz plugins", [*lz, "plugins"], 0.40),
        ("lz plugins --json", [*lz, "plugins", "--json"], 0.40),
    ]
    baseline = None
    failed = False
    print(f"{'command':<20} {'median CPU s':>12} {'x python':>9} {'target':>8}")
    for label, argv, target in cases:
        value = median_cpu(argv, args.runs, env)
        baseline = baseline or value
        ok = target is None or value <= target
        failed |= not ok
        mark = "" if target is None else f"{target:>7.2f}{' ' if ok else '!'}"
        print(f"{label:<20} {value:>12.3f} {value / baseline:>9.2f} {mark:>8}")
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
