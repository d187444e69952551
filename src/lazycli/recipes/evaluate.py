"""Score a recipe's app on its `[eval]` QA set (JSONL: question + answer per line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.flow import to_text


def load_qa(loaded) -> list[dict[str, Any]]:
    spec = loaded.spec.eval
    path = Path(spec.qa) if Path(spec.qa).is_absolute() else loaded.folder / spec.qa
    where = loaded.where(("eval", "qa"))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LzError(f"{where}: eval.qa: cannot read {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = row.get("question", row.get("input"))
            answer = row.get("answer", row.get("expected"))
        except (json.JSONDecodeError, AttributeError):
            raise LzError(
                f"{path}:{number}: not a JSON object", hint='{"question": "...", "answer": "..."}'
            ) from None
        if question is None or answer is None:
            raise LzError(
                f"{path}:{number}: needs 'question' and 'answer'", hint='{"question": "...", "answer": "..."}'
            )
        rows.append({"question": question, "answer": answer})
    return rows[: spec.limit] if spec.limit else rows


def correct(output: Any, answer: Any, metric: str) -> bool:
    got, want = to_text(output).strip().lower(), to_text(answer).strip().lower()
    return got == want if metric == "exact" else want in got


def evaluate(loaded, app) -> dict[str, Any]:
    """Run the app on every question: {"n", "correct", "score", "metric", "rows"}."""
    from lazycli.recipes import ask

    if loaded.spec.eval is None:
        raise LzError(f"{loaded.path}: the recipe has no [eval]", hint='add [eval] qa = "qa.jsonl"')
    metric = loaded.spec.eval.metric
    rows = []
    for row in load_qa(loaded):
        output, _sources = ask(app, row["question"])
        rows.append({**row, "output": output, "correct": correct(output, row["answer"], metric)})
    hits = sum(r["correct"] for r in rows)
    return {
        "n": len(rows),
        "correct": hits,
        "score": round(hits / len(rows), 4) if rows else 0.0,
        "metric": metric,
        "rows": rows,
    }
