"""Many concurrent jobs on the real single-node Slurm: a sweep-sized array, its trial store (issue 20).

    python benchmarks/bench_scale.py                  # 200 array tasks, 8 store writers
    python benchmarks/bench_scale.py --tasks 1000     # the size a big sweep reaches

One `sbatch --array=0-(N-1)` job whose tasks each do what a sweep trial's bookkeeping does: open
the sweep's SQLite store (WAL, busy timeout), claim one trial row, write its result. It measures how
long Slurm takes to run N tasks through 2 CPUs and whether the store loses or doubles a row, against
a baseline measured in the same run: the same N claims made by N local processes started by hand
(no scheduler). Needs scripts/slurm-up.sh.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = r"""
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60)
db.execute("PRAGMA journal_mode=WAL")
task = int(os.environ.get("SLURM_ARRAY_TASK_ID", sys.argv[2] if len(sys.argv) > 2 else -1))
with db:
    db.execute("UPDATE trials SET status='running', started=? WHERE id=? AND status='pending'",
               (time.time(), task))
with db:
    db.execute("UPDATE trials SET status='done', ended=? WHERE id=?", (time.time(), task))
"""


def store(path: Path, n: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, status TEXT, started REAL, ended REAL)")
    db.executemany("INSERT INTO trials (id, status) VALUES (?, 'pending')", [(i,) for i in range(n)])
    db.commit()
    db.close()


def counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    out = dict(db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())
    db.close()
    return out


def by_hand(folder: Path, n: int, parallel: int) -> float:
    path = folder / "hand.db"
    store(path, n)
    script = folder / "task.py"
    started = time.perf_counter()
    running: list[subprocess.Popen] = []
    for i in range(n):
        if len(running) >= parallel:
            running.pop(0).wait()
        running.append(subprocess.Popen([sys.executable, str(script), str(path), str(i)]))
    for proc in running:
        proc.wait()
    assert counts(path) == {"done": n}, counts(path)
    return time.perf_counter() - started


def slurm_array(folder: Path, n: int) -> tuple[float, dict[str, int]]:
    path = folder / "slurm.db"
    store(path, n)
    script = folder / "task.py"
    submit = ["sbatch", "--parsable", f"--array=0-{n - 1}", f"--output={folder}/task-%a.log",
              "--ntasks=1", "--cpus-per-task=1", f"--wrap={sys.executable} {script} {path}"]  # fmt: skip
    started = time.perf_counter()
    job = subprocess.run(submit, capture_output=True, text=True, check=True).stdout.strip().split(";")[0]
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip():
        time.sleep(0.5)
    return time.perf_counter() - started, counts(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=2, help="processes at once by hand (CPUs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="lz-scale-", dir="/tmp"))
    (folder / "task.py").write_text(TASK)
    hand = by_hand(folder, args.tasks, args.parallel)
    wall, rows = slurm_array(folder, args.tasks)
    result = {
        "tasks": args.tasks,
        "by_hand_s": round(hand, 2),
        "slurm_array_s": round(wall, 2),
        "slurm_over_hand": round(wall / hand, 2),
        "tasks_per_s": round(args.tasks / wall, 1),
        "rows": rows,
        "lost_or_doubled": args.tasks - rows.get("done", 0),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.tasks} trial claims: by hand ({args.parallel} at once) {hand:.1f} s, one Slurm array "
              f"{wall:.1f} s ({result['slurm_over_hand']}x, {result['tasks_per_s']} tasks/s); "
              f"rows done {rows.get('done', 0)}, lost or doubled {result['lost_or_doubled']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
