"""`lz eval`: score a target's answers (and retrieval) on a JSONL set; judged metrics; a call cache.

    from lazycli import eval as lzeval
    report = lzeval.evaluate(target, rows, metrics, judge="http://127.0.0.1:8000/v1")
    print(lzeval.report.to_text(report))

Modules: `data` (rows, file:line errors), `metrics` (names and deterministic scorers), `judge`
(prompts, strict reply parsing), `cache` (SQLite, keyed by model/prompt/parameters), `targets`
(recipe, chat, rag, index), `runner` (bounded concurrency), `report` (CI, JSON/CSV/Markdown).
"""

from __future__ import annotations

from lazycli.eval import report
from lazycli.eval.cache import CallCache
from lazycli.eval.report import Report


def evaluate(
    target,
    rows,
    metrics,
    *,
    data: str = "",
    judge: str | None = None,
    cache: CallCache | None = None,
    jobs: int = 1,
    progress=None,
) -> Report:
    """Run `target` (a targets.* object) on `rows`, score `metrics`; a Report."""
    from lazycli.eval.runner import Judge, run

    cache = cache or CallCache()
    judged = Judge(judge, cache) if judge else None
    results = run(target, rows, metrics, judge=judged, jobs=jobs, progress=progress)
    names = [m.name for m in metrics]
    return Report(
        target=target.label,
        data=data,
        metrics=names,
        results=results,
        aggregates=report.aggregate(results, names),
        calls=cache.calls,
        cache_hits=cache.hits,
        judge=judge,
    )


__all__ = ["CallCache", "Report", "evaluate", "report"]
