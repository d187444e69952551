"""Trials on a launcher: `-j N` workers, each a plain `lz sweep … -j 1` on the same store.

The store is the only coordination: a worker claims pending trials until none is left, so N
workers never run more than N trials, and a worker that dies leaves a stale row the next one
takes. On Slurm the workers are one array job (`--array=0-(N-1)`); on other launchers N jobs.
The submitting `lz sweep` waits, reading the store, and prints the ranking.

The workers are jobs (`lazycli.jobs`, kind sweep-worker, owned by the sweep): `lz jobs ls` lists
them, and a rerun after `kill -9` of the submitting `lz sweep` waits on the workers still running
instead of starting more. Ctrl-C, or `lz sweep cancel NAME`, cancels them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lazycli import jobs
from lazycli.sweep import store
from lazycli.sweep.plan import Plan

POLL_S = 0.5


@dataclass
class Workers:
    launcher_name: str
    names: list[str]  # their jobs (`lz jobs status NAME`)
    log_path: Path


def worker_argv(plan: Plan, flags: list[str]) -> list[str]:
    """What each worker runs: the same sweep, one trial at a time, JSON into its log."""
    return [sys.executable, "-m", "lazycli", "sweep", "run", str(Path(plan.recipe).resolve()), *flags]


def forwarded_flags(
    plan: Plan, grid: list[str], eval_file: Path | None, random_n, seed, metric, budget
) -> list:
    flags: list[str] = []
    for g in grid:
        flags += ["--grid", g]
    if eval_file is not None:
        flags += ["--eval", str(Path(eval_file).resolve())]
    if random_n is not None:
        flags += ["--random", str(random_n)]
    if seed is not None:
        flags += ["--seed", str(seed)]
    for m in metric:
        flags += ["--metric", m]
    for b in budget:
        flags += ["--budget", b]
    if plan.judge:
        flags += ["--judge", plan.judge]
    if plan.target is not None:
        flags += ["--target", repr(plan.target)]
    return [*flags, "--repeat", str(plan.repeat), "--name", plan.name, "-j", "1", "--json"]


def resources(name: str, workers: int):
    from lazycli.launchers import Resources

    # Slurm runs the workers as one array job; other launchers get one job per worker.
    return Resources(extra={"array": f"0-{workers - 1}"}) if name == "slurm" else Resources()


def _logs(plan: Plan, name: str) -> list[Path]:
    """One log per job (a launcher keeps a job's state next to its log): Slurm's array job has one."""
    if name == "slurm":
        return [plan.folder / "workers.log"]
    return [plan.folder / f"worker-{n}.log" for n in range(plan.jobs)]


def job_base(sweep: str) -> str:
    """`sweep-NAME`: the workers' job name (a sweep name may hold what a job name may not)."""
    return "sweep-" + jobs.safe_name(sweep, "sweep", 50)


def requests(plan: Plan, name: str, argv: list[str]) -> list[jobs.LaunchRequest]:
    """The worker jobs, built once for --dry-run and for the submit."""
    logs = _logs(plan, name)
    base = job_base(plan.name)
    names = [base] if len(logs) == 1 else [f"{base}-{n}" for n in range(len(logs))]
    return [
        jobs.LaunchRequest(
            argv=tuple(argv),
            launcher=name,
            name=job,
            resources=resources(name, plan.jobs),
            kind=jobs.Kind.SWEEP_WORKER,
            owner=plan.name,
            log_path=log,
        )
        for job, log in zip(names, logs, strict=True)
    ]


def describe(plan: Plan, name: str, argv: list[str]) -> str:
    wanted = requests(plan, name, argv)
    jobs.check(wanted[0])
    text = jobs.wrapping(wanted[0])
    return f"# {len(wanted)} job(s) like this on {name} ({wanted[0].name}…): {plan.jobs} worker(s)\n{text}"


def submit(plan: Plan, name: str, argv: list[str]) -> Workers:
    """Submit the workers; one of this sweep still running (its `lz sweep` was killed) is kept."""
    wanted = requests(plan, name, argv)
    for request in wanted:
        jobs.check(request)
    for request in wanted:
        row = jobs.get(request.name)
        if row is not None and row.status.active and row.owner == plan.name:
            continue
        jobs.submit(request)
    return Workers(name, [r.name for r in wanted], wanted[0].log_path.parent)


def cancel(sweep: str) -> list[jobs.JobRow]:
    """Cancel the sweep's worker jobs that still run (`lz sweep cancel`, Ctrl-C); their rows."""
    active = [row for row in jobs.list_jobs(kind=jobs.Kind.SWEEP_WORKER, owner=sweep) if row.status.active]
    return [jobs.cancel(row.name) for row in active]


def wait(
    workers: Workers, db: store.Store, ids: list[int], progress: Callable[[str], None] | None
) -> str | None:
    """Until every trial is finished; None, or why waiting stopped early (the workers ended)."""
    seen = -1
    while True:
        trials = db.trials(ids)
        finished = sum(t.status in (store.DONE, store.FAILED) for t in trials)
        if progress and finished != seen:
            running = sum(t.status == store.RUNNING for t in trials)
            progress(
                f"  {finished}/{len(trials)} trials finished, {running} running on {workers.launcher_name}"
            )
            seen = finished
        if finished == len(trials):
            return None
        if all(_ended(name) for name in workers.names):
            trials = db.trials(ids)
            if all(t.status in (store.DONE, store.FAILED) for t in trials):
                return None
            left = sum(t.status not in (store.DONE, store.FAILED) for t in trials)
            return f"the workers ended with {left} trial(s) not finished (logs in {workers.log_path})"
        time.sleep(POLL_S)


def _ended(name: str) -> bool:
    row = jobs.get(name)
    return row is None or row.status.finished
