"""`lz sweep`: what the scheduler costs per trial, and its store under parallel writers.

1. Overhead. The toy recipe of tests/sweep (a python step that sleeps `--delay` seconds per eval
   row, 2 rows) swept over `--trials` values, -j 1, against the same trials run by hand in the
   same process (load the recipe with --set, build the app, `lazycli.eval.evaluate`) and against
   `lz eval RECIPE --set …` run once per configuration (what a user scripts without lz sweep).
   Goal: the scheduler adds under 5% to trials of a few seconds.
2. Store. `--writers` processes claim and finish `--store-trials` trials of one store at once
   (each claim and finish a write transaction); counts lock errors, trials claimed twice or never.

    python benchmarks/bench_sweep.py [--trials 4] [--delay 1.0] [--writers 8] [--store-trials 400] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
TOY = REPO / "tests" / "sweep" / "data" / "toy.toml"
QA = REPO / "tests" / "sweep" / "data" / "qa.jsonl"


def by_hand(delays: list[float]) -> float:
    from lazycli import eval as lzeval
    from lazycli import recipes
    from lazycli.eval import data, metrics, targets

    rows, chosen = data.load(QA), metrics.parse("contains")
    t0 = time.perf_counter()
    for d in delays:
        sets = [f"app.steps.0.args.delay={d}", 'app.steps.0.args.style="short"']
        loaded = recipes.load(TOY, sets)
        cache = lzeval.CallCache(enabled=False)
        target = targets.RecipeTarget(str(TOY), cache, sets=sets, loaded=loaded)
        target.use_app(recipes.build_app(loaded, recipes.execute(loaded, progress=False).results))
        lzeval.evaluate(target, rows, chosen, cache=cache)
    return time.perf_counter() - t0


def with_scheduler(delays: list[float]) -> float:
    from lazycli.sweep import plan, scheduler

    t0 = time.perf_counter()
    grid = "app.steps.0.args.delay=" + ",".join(str(d) for d in delays)
    # style=short: the toy's own [sweep.grid] narrowed to the value the by-hand run uses.
    name = f"bench-{os.getpid()}-{time.time_ns()}"
    p = plan.build(TOY, grid=[grid, "app.steps.0.args.style=short"], name=name, jobs=1)
    summary = scheduler.execute(p)
    assert all(t.status == "done" for t in summary.trials), [t.error for t in summary.trials]
    return time.perf_counter() - t0


def with_lz_eval(delays: list[float]) -> float:
    t0 = time.perf_counter()
    for d in delays:
        subprocess.run(
            [sys.executable, "-m", "lazycli", "eval", str(TOY), "--data", str(QA), "--metric", "contains"]
            + ["--set", f"app.steps.0.args.delay={d}", "--no-cache", "--json"],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + str(REPO / "plugins")},
        )
    return time.perf_counter() - t0


def _writer(path: str, ids: list[int], out) -> None:
    from lazycli.sweep import store

    db = store.Store(Path(path))
    me = store.owner_id()
    claimed, errors = [], 0
    while True:
        try:
            t = db.claim(ids, me)
        except sqlite3.OperationalError:
            errors += 1
            continue
        if t is None:
            break
        t.status, t.metrics, t.ended, t.duration_s = "done", {"m": 1.0}, time.time(), 0.0
        try:
            db.finish(t, me)
        except sqlite3.OperationalError:
            errors += 1
        claimed.append(t.id)
    out.put((claimed, errors))


def store_under_writers(writers: int, n: int) -> dict:
    from lazycli.sweep import store

    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    db = store.Store(folder / "sweep.sqlite")
    db.add([(f"h{i}", 0, {"i": i}, 0) for i in range(n)])
    ids = db.ids_of([(f"h{i}", 0) for i in range(n)])
    db.close()
    queue = multiprocessing.Queue()
    t0 = time.perf_counter()
    procs = [multiprocessing.Process(target=_writer, args=(str(db.path), ids, queue)) for _ in range(writers)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    claimed = [i for c, _ in results for i in c]
    return {
        "writers": writers,
        "trials": n,
        "lock_errors": sum(e for _, e in results),
        "claimed_twice": len(claimed) - len(set(claimed)),
        "never_claimed": n - len(set(claimed)),
        "transactions_per_s": round(2 * n / wall, 1),
        "wall_s": round(wall, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--delay", type=float, default=1.0, help="seconds per eval row (2 rows per trial)")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--store-trials", type=int, default=400)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("LAZYCLI_HOME", tempfile.mkdtemp(prefix="bench-sweep-home-"))
    # Distinct delays (so distinct configurations), all close to --delay.
    delays = [round(args.delay + i / 1000, 3) for i in range(args.trials)]
    by_hand(delays[:1])  # warm imports once, for both
    hand = by_hand(delays)
    sched = with_scheduler(delays)
    cli = with_lz_eval(delays)
    trial_s = hand / args.trials
    result = {
        "trials": args.trials,
        "trial_s": round(trial_s, 3),
        "by_hand_s": round(hand, 3),
        "lz_sweep_s": round(sched, 3),
        "lz_eval_loop_s": round(cli, 3),
        "overhead_per_trial_s": round((sched - hand) / args.trials, 4),
        "overhead_pct_of_trial": round(100 * (sched - hand) / hand, 2),
        "sweep_vs_lz_eval_loop": round(sched / cli, 3),
        "store": store_under_writers(args.writers, args.store_trials),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"trials of {trial_s:.2f} s ({args.trials}, -j 1):")
    print(f"  by hand (in-process)   {hand:8.3f} s  = 1.000")
    print(
        f"  lz sweep scheduler     {sched:8.3f} s  = {sched / hand:.3f}  ({result['overhead_pct_of_trial']}%)"
    )
    print(f"  lz eval per config     {cli:8.3f} s  = {cli / hand:.3f}")
    s = result["store"]
    print(
        f"store, {s['writers']} writers × {s['trials']} trials: {s['lock_errors']} lock errors, "
        f"{s['claimed_twice']} claimed twice, {s['never_claimed']} never, {s['transactions_per_s']} tx/s"
    )


if __name__ == "__main__":
    main()
