"""The exchange log in the state database: table `chat_logs` (m005), its traces and ratings (m007).

One row per exchange of `lz chat`, `lz rag`, `lz run` and `lz serve`: the prompt, the response,
target, model, token usage, latency, the messages sent (the prompt) and the sources used, plus a
trace id whose steps are rows of `trace_spans` (`lazycli.trace`). Ratings (`lz logs rate`, the web
page's thumbs, `POST /v1/feedback`) go to `feedback`; the latest one is copied onto the row so that
`lz logs --bad` is one indexed query. Keys never reach it: values are redacted before they are stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lazycli import state
from lazycli.client import Completion

LIST_COLUMNS = (
    "id, trace_id, kind, app, conversation_id, created_at, target, model, prompt, response, prompt_tokens, "
    "completion_tokens, total_tokens, latency_s, finish_reason, error, rating, comment, correction"
)

RATINGS = {"up": 1, "good": 1, "+1": 1, "1": 1, "down": -1, "bad": -1, "-1": -1, "0": 0, "none": 0}


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:12]


def record(
    *,
    conversation_id: str,
    target: str,
    model: str,
    messages: list[dict],
    completion: Completion | None,
    options: dict | None = None,
    error: str | None = None,
) -> int:
    """Store one `lz chat` exchange (a trace of one LLM step); returns its id."""
    from lazycli.trace import Trace

    prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    t = Trace("chat", app=target, input=prompt, target=target, model=model, conversation_id=conversation_id)
    t.options = dict(options or {})
    with t.span("llm", "llm", input=prompt, model=model, messages=messages, options=t.options) as sp:
        sp.output = completion.text if completion else ""
        t.llm_result(sp, completion)
        sp.error = error
    t.finish(output=sp.output, error=error)
    if completion is not None and completion.latency_s is not None:  # the trace was built after the call
        t.latency_s = sp.duration_s = completion.latency_s
    return save([t])[0]


# --- writing ------------------------------------------------------------------------------------


def _dumps(value: Any, secrets: list[str]) -> str | None:
    from lazycli.trace import redact

    if value is None:
        return None
    return json.dumps(redact(value, secrets), ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _log_row(t, secrets: list[str]) -> tuple:
    from lazycli.trace import redact

    messages = t.messages or []
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    usage = t.usage or {}
    return (
        t.conversation_id or t.id[:12],
        t.created_at,
        t.target or t.app or "",
        t.model or "",
        redact(system, secrets),
        redact(_text(t.input), secrets),
        redact(_text(t.output), secrets),
        _dumps(messages, secrets),
        _dumps(t.options or {}, secrets),
        json.dumps(usage),
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
        usage.get("total_tokens"),
        t.latency_s,
        t.finish_reason,
        redact(t.error, secrets),
        t.id,
        t.kind,
        t.app,
        _dumps(t.sources, secrets) if t.sources else None,
    )


def save(traces: Iterable, db=None) -> list[int]:
    """Store finished traces (rows + spans) in one transaction; returns their row ids. `db`: an
    open connection to reuse (the serve recorder keeps one), else a new one for this call."""
    from lazycli.trace import known_secrets, redact

    secrets = known_secrets()
    # Serialise before taking the write lock: the lock is held only for the inserts.
    prepared = []
    for t in traces:
        spans = [
            (
                t.id,
                s.seq,
                s.parent,
                s.name,
                s.kind,
                s.started_at,
                s.duration_s,
                _dumps(s.input, secrets),
                _dumps(s.output, secrets),
                _dumps(s.attrs, secrets),
                redact(s.error, secrets),
            )
            for s in list(t.spans)
        ]
        prepared.append((_log_row(t, secrets), spans))
    if db is None:
        with state.transaction() as fresh:
            return _insert(fresh, prepared)
    db.execute("BEGIN IMMEDIATE")
    try:
        ids = _insert(db, prepared)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return ids


def _insert(db, prepared: list) -> list[int]:
    ids = []
    for row, spans in prepared:
        cur = db.execute(
            """INSERT INTO chat_logs (conversation_id, created_at, target, model, system, prompt,
                   response, messages_json, options_json, usage_json, prompt_tokens, completion_tokens,
                   total_tokens, latency_s, finish_reason, error, trace_id, kind, app, sources_json)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            row,
        )
        ids.append(int(cur.lastrowid))
        db.executemany(
            """INSERT INTO trace_spans (trace_id, seq, parent, name, kind, started_at, duration_s,
                   input_json, output_json, attrs_json, error)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            spans,
        )
    return ids


@dataclass
class Rated:
    id: int
    trace_id: str
    rating: int
    comment: str | None
    correction: str | None


def parse_rating(value: str | int) -> int | None:
    """'up'/'down'/'good'/'bad'/1/-1/0 → 1, -1, 0 (0 clears); None when it is none of these."""
    return RATINGS.get(str(value).strip().lower())


def rate(
    ident: str,
    rating: int,
    *,
    comment: str | None = None,
    correction: str | None = None,
    origin: str = "cli",
) -> Rated | None:
    """Rate an exchange (row id, trace id, or a response id `chatcmpl-<trace id>`); None if unknown."""
    from lazycli.trace import redact

    trace_id = ident.removeprefix("chatcmpl-")
    comment, correction = redact(comment), redact(correction)
    with state.transaction() as db:
        if ident.isdigit():
            row = db.execute("SELECT id, trace_id FROM chat_logs WHERE id = ?", (int(ident),)).fetchone()
        else:
            row = db.execute("SELECT id, trace_id FROM chat_logs WHERE trace_id = ?", (trace_id,)).fetchone()
        if row is None:
            return None
        if row["trace_id"] is None:  # an exchange logged before traces existed: give it an id now
            db.execute("UPDATE chat_logs SET trace_id = ? WHERE id = ?", (uuid.uuid4().hex, row["id"]))
            row = db.execute("SELECT id, trace_id FROM chat_logs WHERE id = ?", (row["id"],)).fetchone()
        now = time.time()
        db.execute(
            "INSERT INTO feedback (trace_id, created_at, rating, comment, correction, origin) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (row["trace_id"], now, rating, comment, correction, origin),
        )
        db.execute(
            "UPDATE chat_logs SET rating = ?, comment = ?, correction = ?, rated_at = ? WHERE id = ?",
            (rating or None, comment, correction, now, row["id"]),
        )
    return Rated(row["id"], row["trace_id"], rating, comment, correction)


# --- reading ------------------------------------------------------------------------------------


@dataclass
class LogFilter:
    """What `lz logs` narrows the log to; every field optional."""

    app: str | None = None
    kind: str | None = None
    rating: int | None = None  # 1 good, -1 bad
    since: float | None = None
    until: float | None = None
    text: str | None = None
    conversation: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.app:
            clauses.append("(app = ? OR target = ?)")
            params += [self.app, self.app]
        if self.kind:
            clauses.append("kind = ?")
            params.append(self.kind)
        if self.rating:
            clauses.append("rating = ?")
            params.append(self.rating)
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("created_at < ?")
            params.append(self.until)
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(
                "(prompt LIKE ? ESCAPE '\\' OR response LIKE ? ESCAPE '\\' OR comment LIKE ? ESCAPE '\\')"
            )
            params += [pattern, pattern, pattern]
        if self.conversation:
            clauses.append("conversation_id = ?")
            params.append(self.conversation)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _rows(sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
    with state.reading() as db:
        return [state.row_to_dict(r) for r in db.execute(sql, tuple(params)).fetchall()]


def list_logs(
    limit: int | None = 20, conversation: str | None = None, where: LogFilter | None = None, *, full=False
) -> list[dict[str, Any]]:
    """Newest first (limit None: all)."""
    where = where or LogFilter()
    if conversation:
        where.conversation = conversation
    sql_where, params = where.where()
    columns = "*" if full else LIST_COLUMNS
    sql = f"SELECT {columns} FROM chat_logs{sql_where} ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return _rows(sql, params)


def get_log(ident: str) -> list[dict[str, Any]]:
    """An exchange by id, trace id (or `chatcmpl-<trace id>`), `last`, or every exchange of a
    conversation id (oldest first)."""
    if ident == "last":
        return _rows("SELECT * FROM chat_logs ORDER BY id DESC LIMIT 1")
    if ident.isascii() and ident.isdigit() and int(ident) < 2**63:  # SQLite ids are 64-bit
        found = _rows("SELECT * FROM chat_logs WHERE id = ?", (int(ident),))
        if found:
            return found
    found = _rows("SELECT * FROM chat_logs WHERE trace_id = ?", (ident.removeprefix("chatcmpl-"),))
    if found:
        return found
    return _rows("SELECT * FROM chat_logs WHERE conversation_id = ? ORDER BY id", (ident,))


def spans(trace_id: str | None) -> list[dict[str, Any]]:
    """The steps of one trace, in the order they started."""
    if not trace_id:
        return []
    return _rows("SELECT * FROM trace_spans WHERE trace_id = ? ORDER BY seq", (trace_id,))


def feedback(trace_id: str | None) -> list[dict[str, Any]]:
    if not trace_id:
        return []
    return _rows("SELECT * FROM feedback WHERE trace_id = ? ORDER BY id", (trace_id,))


def search(text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Exchanges whose prompt, response or comment contains `text` (case-insensitive), newest first."""
    return list_logs(limit, where=LogFilter(text=text))


# --- export -------------------------------------------------------------------------------------

EXPORT_FORMATS = ("eval", "alpaca", "sharegpt", "messages")


def _sent_messages(row: dict) -> list[dict]:
    """The messages the LLM was sent (the prompt, history and system included) as plain text."""
    messages = [m for m in (row.get("messages") or []) if isinstance(m, dict) and m.get("role")]
    if not messages:
        messages = [{"role": "user", "content": row.get("prompt") or ""}]
    return [{"role": m["role"], "content": _text(m.get("content"))} for m in messages]


def target_answer(row: dict) -> str | None:
    """What a model should have said: the correction, else the answer itself when rated good."""
    if row.get("correction"):
        return row["correction"]
    if row.get("rating") == 1 and not row.get("error"):
        return row.get("response")
    return None


def to_eval(row: dict) -> dict[str, Any]:
    """An `lz eval` record: q, answer (the corrected one, when given), context and sources."""
    docs = [d for d in (row.get("sources") or []) if isinstance(d, dict)]
    record: dict[str, Any] = {"q": row.get("prompt") or ""}
    answer = target_answer(row)
    if answer is not None:
        record["answer"] = answer
    if docs:
        record["context"] = [str(d.get("text", "")) for d in docs]
        record["sources"] = list(dict.fromkeys(str(d.get("source", "?")) for d in docs))
    record["meta"] = {
        "trace_id": row.get("trace_id"),
        "kind": row.get("kind"),
        "app": row.get("app") or row.get("target"),
        "rating": {1: "good", -1: "bad"}.get(row.get("rating")),
        "comment": row.get("comment"),
        "logged_answer": row.get("response"),
    }
    return record


def to_messages(row: dict, answer: str) -> dict[str, Any]:
    """OpenAI fine-tuning shape: {"messages": [...sent..., {"role": "assistant", ...}]}."""
    return {"messages": [*_sent_messages(row), {"role": "assistant", "content": answer}]}


def to_sharegpt(row: dict, answer: str) -> dict[str, Any]:
    """LLaMA-Factory's sharegpt shape: conversations of human/gpt turns, the system apart."""
    names = {"user": "human", "assistant": "gpt"}
    sent = _sent_messages(row)
    system = next((m["content"] for m in sent if m["role"] == "system"), None)
    turns = [{"from": names[m["role"]], "value": m["content"]} for m in sent if m["role"] in names]
    record: dict[str, Any] = {"conversations": [*turns, {"from": "gpt", "value": answer}]}
    if system:
        record["system"] = system
    return record


def to_alpaca(row: dict, answer: str) -> dict[str, Any]:
    """Alpaca shape: instruction (the last user message as sent), input, output, system, history."""
    sent = _sent_messages(row)
    system = next((m["content"] for m in sent if m["role"] == "system"), None)
    turns = [m for m in sent if m["role"] in ("user", "assistant")]
    last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
    instruction = turns[last_user]["content"] if last_user is not None else (row.get("prompt") or "")
    before = turns[:last_user] if last_user is not None else []
    history = [
        [before[i]["content"], before[i + 1]["content"]]
        for i in range(len(before) - 1)
        if before[i]["role"] == "user" and before[i + 1]["role"] == "assistant"
    ]
    record: dict[str, Any] = {"instruction": instruction, "input": "", "output": answer}
    if system:
        record["system"] = system
    if history:
        record["history"] = history
    return record


def export_record(row: dict, fmt: str) -> dict[str, Any] | None:
    """One exported line, or None when a training format has no answer to teach (a bad exchange
    without a correction must not become a training target)."""
    if fmt == "eval":
        return to_eval(row)
    answer = target_answer(row)
    if answer is None:
        return None
    return {"alpaca": to_alpaca, "sharegpt": to_sharegpt, "messages": to_messages}[fmt](row, answer)
