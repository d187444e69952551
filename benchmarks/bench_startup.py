"""Start-up cost of `lz --help` and `lz plugins`, as a ratio to `python -c pass` measured in the same run.

CPU seconds (user + sys of the child) are what the targets are about: wall time on a shared 2-core
box swings with whatever else runs. Targets (issue 12): `lz --help` ≤ 2.0×, `lz plugins` ≤ 5.0×.

    python benchmarks/bench_startup.py [--runs 15] [--check]           # the lz next to this Python
    python benchmarks/bench_startup.py --wheel [--runs 15] [--check]   # an ordinary install

`--wheel` builds a wheel of this checkout and installs it (not editable, no deps) into a temporary
venv made with --system-site-packages, then measures that venv's `lz`: what a user who ran
`pip install lazycli` gets. `--check` exits 1 when a ratio is over its target.

The children run without PYTHONDONTWRITEBYTECODE: a pip install byte-compiles every module, and an
editable one writes its .pyc on first run; with the variable set every run recompiles lz's
modules, which no user's `lz` does. The warm-up run also fills lz's caches (the rendered root help,
the entry-point scan), as any earlier `lz` run on the machine would have. The baseline includes
whatever the interpreter's site-packages .pth files import at start-up; so does every `lz` run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"lz --help": 2.0, "lz plugins": 5.0, "lz plugins --json": 5.0}


def lz_command(python: str) -> list[str]:
    """The installed console script next to that interpreter (what a user runs), else -m."""
    script = Path(python).with_name("lz")
    if script.exists():
        return [str(script)]
    found = shutil.which("lz")
    return [found] if found and "shims" not in found else [python, "-m", "lazycli"]


def cpu_seconds(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved_medians(cases: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median CPU per case, the cases taking turns so a burst of load hits them all alike."""
    for argv in cases.values():
        cpu_seconds(argv, env)  # warm the page cache, .pyc files and lz's caches
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(runs):
        for label, argv in cases.items():
            samples[label].append(cpu_seconds(argv, env))
    return {label: statistics.median(values) for label, values in samples.items()}


def wheel_venv(workdir: Path) -> str:
    """A venv with this checkout installed from a wheel (non-editable); returns its python."""
    dist = workdir / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(dist),
            str(REPO),
        ],
        check=True,
    )
    wheel = next(dist.glob("lazycli-*.whl"))
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio is over its target")
    parser.add_argument("--wheel", action="store_true", help="measure a non-editable install in a temp venv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lz-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["LAZYCLI_HOME"] = str(Path(tmp) / "home")  # its own caches, never the user's
        python = sys.executable
        if args.wheel:
            python = wheel_venv(Path(tmp))
            # The checkout must not shadow the installed wheel.
            env.pop("PYTHONPATH", None)
        lz = lz_command(python)
        cases = {
            "python -c pass": [python, "-c", "pass"],
            "lz --help": [*lz, "--help"],
            "lz plugins": [*lz, "plugins"],
            "lz plugins --json": [*lz, "plugins", "--json"],
        }
        medians = interleaved_medians(cases, args.runs, env)

    print(f"install: {'wheel (non-editable) in a temp venv' if args.wheel else ' '.join(lz)}")
    baseline = medians["python -c pass"]
    failed = False
    print(f"{'command':<20} {'median CPU s':>12} {'x python':>9} {'target':>8}")
    for label, value in medians.items():
        ratio = value / baseline
        target = TARGETS.get(label)
        ok = target is None or ratio <= target
        failed |= not ok
        mark = "" if target is None else f"≤{target:.1f}x{'' if ok else ' MISSED'}"
        print(f"{label:<20} {value:>12.3f} {ratio:>9.2f} {mark:>8}")
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
