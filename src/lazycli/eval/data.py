"""Eval data: JSONL rows `{"q", "answer"?, "facts"?, "sources"?, "context"?, "regex"?}`.

A bad line is a user error naming `file:line`; nothing is run before the whole file is read.
`question`/`input` are accepted for `q` and `expected` for `answer` (the older recipe `[eval]` sets).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lazycli.errors import LzError

EXAMPLE = '{"q": "…", "facts": ["…"], "sources": ["a.md"]}'


@dataclass
class Row:
    """One question and what a right answer (and retrieval) looks like."""

    q: str
    line: int = 0
    answer: str | None = None
    facts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    regex: str | None = None
    id: str | None = None

    def as_dict(self) -> dict:
        out = {"line": self.line, "q": self.q}
        for key in ("id", "answer", "regex"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        for key in ("facts", "sources"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def _strings(value, where: str, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise LzError(f"{where}: {key!r} must be a string or a list of strings", hint=f"e.g. {EXAMPLE}")


def parse_row(record, where: str, line: int) -> Row:
    if not isinstance(record, dict):
        raise LzError(f"{where}: not a JSON object", hint=f"one object per line, e.g. {EXAMPLE}")
    q = record.get("q", record.get("question", record.get("input")))
    if not isinstance(q, str) or not q.strip():
        raise LzError(f'{where}: missing "q" (the question)', hint=f"e.g. {EXAMPLE}")
    answer = record.get("answer", record.get("expected"))
    if answer is not None and not isinstance(answer, str):
        answer = (
            json.dumps(answer, ensure_ascii=False) if not isinstance(answer, (int, float)) else str(answer)
        )
    regex = record.get("regex")
    if regex is not None and not isinstance(regex, str):
        raise LzError(f"{where}: 'regex' must be a string", hint=f"e.g. {EXAMPLE}")
    return Row(
        q=q,
        line=line,
        answer=answer,
        facts=_strings(record.get("facts"), where, "facts"),
        sources=_strings(record.get("sources"), where, "sources"),
        context=_strings(record.get("context"), where, "context"),
        regex=regex,
        id=str(record["id"]) if record.get("id") is not None else None,
    )


def load(path: str | Path, *, limit: int | None = None) -> list[Row]:
    """Every row of a JSONL file; the first bad line stops it with `file:line` and a hint."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LzError(
            f"eval data {path} does not exist", hint=f"JSONL, one object per line: {EXAMPLE}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LzError(f"cannot read eval data {path}: {exc}") from None
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise LzError(
                f"{where}: bad JSON ({exc.msg} at column {exc.colno})", hint=f"e.g. {EXAMPLE}"
            ) from None
        rows.append(parse_row(record, where, number))
    if not rows:
        raise LzError(f"eval data {path} has no rows", hint=f"one JSON object per line: {EXAMPLE}")
    return rows[:limit] if limit else rows
