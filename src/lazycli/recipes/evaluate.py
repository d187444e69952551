"""Score a recipe's app on its `[eval]` QA set: a thin use of `lazycli.eval` (`lz eval RECIPE`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lazycli.errors import LzError


def qa_path(loaded) -> Path:
    spec = loaded.spec.eval
    return Path(spec.qa) if Path(spec.qa).is_absolute() else loaded.folder / spec.qa


def evaluate(loaded, app) -> dict[str, Any]:
    """Run the app on every question: {"n", "correct", "score", "metric", "rows", "aggregates"}."""
    from lazycli import eval as lzeval
    from lazycli.eval import data, metrics, targets

    if loaded.spec.eval is None:
        raise LzError(f"{loaded.path}: the recipe has no [eval]", hint='add [eval] qa = "qa.jsonl"')
    spec = loaded.spec.eval
    path = qa_path(loaded)
    if not path.is_file():
        raise LzError(f"{loaded.where(('eval', 'qa'))}: eval.qa: cannot read {path}", hint="a JSONL file")
    rows = data.load(path, limit=spec.limit)
    chosen = metrics.parse(spec.metric)
    metrics.check_rows(chosen, rows, path)
    cache = lzeval.CallCache(enabled=False)  # `lz run --eval` scores this run's app afresh
    target = targets.RecipeTarget(str(loaded.path), cache, loaded=loaded)
    target.use_app(app)
    report = lzeval.evaluate(target, rows, chosen, data=str(path), cache=cache)
    scored = [r for r in report.results if spec.metric in r.scores]
    hits = sum(int(r.scores[spec.metric]) for r in scored)
    return {
        "n": len(report.results),
        "correct": hits,
        "score": round(hits / len(report.results), 4) if report.results else 0.0,
        "metric": spec.metric,
        "rows": [
            {
                "question": r.row.q,
                "answer": r.row.answer,
                "output": r.output.text if r.output else None,
                "correct": bool(r.scores.get(spec.metric)),
                **({"errors": r.errors} if r.errors else {}),
            }
            for r in report.results
        ],
        "aggregates": {a.metric: a.as_dict() for a in report.aggregates},
    }
