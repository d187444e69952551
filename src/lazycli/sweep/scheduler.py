"""Run a plan's trials: at most `jobs` at once, resumable, within the budget.

Workers are threads of this process (trials share the loaded embedder and deployments); each one
claims a pending trial in the store, runs it and records the outcome. A heartbeat thread keeps
this process's running rows fresh, so another run can tell a live sweep from a dead one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lazycli.sweep import rank, store, trial
from lazycli.sweep.plan import Plan


@dataclass
class Summary:
    name: str
    folder: str
    planned: int
    added: int
    ran: int = 0
    retried: int = 0
    stopped: str | None = None  # why no more trials started (budget, target), else None
    ranking: list[rank.Ranked] = field(default_factory=list)
    trials: list[store.Trial] = field(default_factory=list)


class _Limits:
    """Budget and early stop, checked before each claim."""

    def __init__(self, plan: Plan, ids: list[int], db: store.Store) -> None:
        self.plan, self.ids, self.db = plan, ids, db
        self.started = time.monotonic()
        self.reason: str | None = None
        self.lock = threading.Lock()

    def claim(self, me: str) -> store.Trial | None:
        """The next trial, unless a limit is reached: checked and claimed under one lock, so two
        workers cannot both take the last trial a budget allows."""
        with self.lock:
            if self._stop_reason() is not None:
                return None
            return self.db.claim(self.ids, me)

    def _stop_reason(self) -> str | None:
        if self.reason:
            return self.reason
        budget, plan = self.plan.budget, self.plan
        trials = self.db.trials(self.ids)
        used = [t for t in trials if t.status in (store.DONE, store.FAILED, store.RUNNING)]
        if budget.trials is not None and len(used) >= budget.trials:
            self.reason = f"budget: {budget.trials} trials"
        elif budget.time_s is not None and time.monotonic() - self.started >= budget.time_s:
            self.reason = f"budget: {budget.time_s:g} s"
        elif budget.tokens is not None and sum(t.tokens or 0 for t in trials) >= budget.tokens:
            self.reason = f"budget: {budget.tokens} tokens"
        elif plan.target is not None:
            best = rank.rank(trials, [m.name for m in plan.metrics])
            score = best[0].mean(plan.metric) if best else None
            if score is not None and score >= plan.target:
                self.reason = f"target: {plan.metric} {score:.4g} >= {plan.target:g}"
        return self.reason


def execute(
    plan: Plan, *, retry_failed: bool = False, progress: Callable[[str], None] | None = None
) -> Summary:
    folder = plan.folder
    db = store.Store(folder / "sweep.sqlite")
    me = store.owner_id()
    try:
        db.set_meta(
            {
                "name": plan.name,
                "recipe": str(plan.recipe),
                "data": str(plan.data),
                "metrics": [m.name for m in plan.metrics],
                "keys": plan.keys,
            }
        )
        planned = plan.trials()
        added = db.add(planned)
        retried = db.reset(stale_for=me, retry_failed=retry_failed)
        ids = db.ids_of([(h, r) for h, r, _, _ in planned])
        summary = Summary(plan.name, str(folder), len(planned), added, retried=retried)
        job = trial.Job(
            recipe=plan.recipe,
            rows=plan.rows,
            metrics=plan.metrics,
            data=str(plan.data),
            folder=folder,
            cache=plan.repeat == 1,  # a repeat measures again: no answer from the cache
            judge=plan.judge,
        )
        limits = _Limits(plan, ids, db)
        _run_workers(plan, db, me, ids, job, limits, summary, progress)
        summary.stopped = limits.reason
        summary.trials = db.trials(ids)
        summary.ranking = rank.rank(summary.trials, [m.name for m in plan.metrics])
        return summary
    finally:
        db.close()


def on_launcher(
    plan: Plan, launcher: str, argv: list[str], *, retry_failed: bool = False, progress=None
) -> Summary:
    """The trials run by -j worker jobs on `launcher`; this process records the plan and waits."""
    from lazycli.sweep import launch

    db = store.Store(plan.folder / "sweep.sqlite")
    me = store.owner_id()
    try:
        planned = plan.trials()
        added = db.add(planned)
        retried = db.reset(stale_for=me, retry_failed=retry_failed)
        ids = db.ids_of([(h, r) for h, r, _, _ in planned])
        before = {t.id: t.attempts for t in db.trials(ids)}
        summary = Summary(plan.name, str(plan.folder), len(planned), added, retried=retried)
        if any(t.status in (store.PENDING, store.RUNNING) for t in db.trials(ids)):
            workers = launch.submit(plan, launcher, argv)
            try:
                summary.stopped = launch.wait(workers, db, ids, progress)
            except KeyboardInterrupt:
                # As with -j threads here, Ctrl-C stops the sweep: its workers are cancelled; their
                # trials are taken again by the next run (kill -9 of lz leaves them running instead).
                launch.cancel(plan.name)
                raise
        summary.trials = db.trials(ids)
        summary.ran = sum(t.attempts > before.get(t.id, 0) for t in summary.trials)
        summary.ranking = rank.rank(summary.trials, [m.name for m in plan.metrics])
        return summary
    finally:
        db.close()


def _run_workers(plan, db, me, ids, job, limits, summary, progress) -> None:
    stop = threading.Event()
    lock = threading.Lock()
    total = len(ids)

    def worker() -> None:
        while not stop.is_set():
            claimed = limits.claim(me)
            if claimed is None:
                return
            outcome = trial.run(job, claimed.params, plan.raw, claimed.config_hash)
            for name in ("status", "metrics", "tokens", "rows", "row_errors", "error", "duration_s"):
                setattr(claimed, name, getattr(outcome, name))
            claimed.ended = time.time()
            claimed.recipe = str(trial.recipe_path(job.folder, claimed.config_hash))
            db.finish(claimed, me)
            with lock:
                summary.ran += 1
                if progress:
                    progress(_progress_line(claimed, plan, summary.ran, total))

    def heartbeat() -> None:
        while not stop.wait(store.HEARTBEAT_S):
            db.beat(me)

    beat = threading.Thread(target=heartbeat, name="sweep-heartbeat", daemon=True)
    beat.start()
    workers = [threading.Thread(target=worker, name=f"sweep-{n}", daemon=True) for n in range(plan.jobs)]
    for w in workers:
        w.start()
    try:
        for w in workers:
            while w.is_alive():
                w.join(0.2)
    except KeyboardInterrupt:
        # Trials cut short are not failures: hand them back, so the rerun takes them at once.
        stop.set()
        db.release(me)
        raise
    finally:
        stop.set()
        beat.join()


def _progress_line(t: store.Trial, plan: Plan, n: int, total: int) -> str:
    values = " ".join(f"{rank.short_names(plan.keys)[k]}={v}" for k, v in t.params.items())
    if t.status == store.DONE:
        score = t.metrics.get(plan.metric)
        result = f"{plan.metric}={'n/a' if score is None else f'{score:.4g}'}"
    else:
        result = f"failed: {t.error}"
    return f"  [{n}/{total}] {values}  {result}  ({t.duration_s:.1f}s)"
