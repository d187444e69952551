"""The conversation log in the state database (table `chat_logs`, migration m005_chat_logs).

One row per exchange: the prompt, the response, target, model, token usage, latency; the messages
sent (history included) as JSON. Keys never reach it: only what was said and how it went.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from lazycli import state
from lazycli.client import Completion

LIST_COLUMNS = (
    "id, conversation_id, created_at, target, model, prompt, response, prompt_tokens, completion_tokens, "
    "total_tokens, latency_s, finish_reason, error"
)


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
    """Store one exchange; returns its id. The prompt is the last user message."""
    prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    system = next((m["content"] for m in messages if m.get("role") == "system"), None)
    usage = (completion.usage if completion else None) or {}
    with state.transaction() as db:
        cur = db.execute(
            """INSERT INTO chat_logs (conversation_id, created_at, target, model, system, prompt, response,
                   messages_json, options_json, usage_json, prompt_tokens, completion_tokens, total_tokens,
                   latency_s, finish_reason, error)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                conversation_id,
                time.time(),
                target,
                (completion.model if completion and completion.model else model),
                system,
                prompt,
                completion.text if completion else "",
                json.dumps(messages, ensure_ascii=False),
                json.dumps(options or {}, ensure_ascii=False),
                json.dumps(usage),
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                usage.get("total_tokens"),
                completion.latency_s if completion else None,
                completion.finish_reason if completion else None,
                error,
            ),
        )
        return int(cur.lastrowid)


def _rows(sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with state.reading() as db:
        return [state.row_to_dict(r) for r in db.execute(sql, params).fetchall()]


def list_logs(limit: int = 20, conversation: str | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    if conversation:
        sql = f"SELECT {LIST_COLUMNS} FROM chat_logs WHERE conversation_id = ? ORDER BY id DESC LIMIT ?"
        return _rows(sql, (conversation, limit))
    return _rows(f"SELECT {LIST_COLUMNS} FROM chat_logs ORDER BY id DESC LIMIT ?", (limit,))


def get_log(ident: str) -> list[dict[str, Any]]:
    """An exchange by id, `last`, or every exchange of a conversation id (oldest first)."""
    if ident == "last":
        return _rows("SELECT * FROM chat_logs ORDER BY id DESC LIMIT 1")
    if ident.isdigit():
        found = _rows("SELECT * FROM chat_logs WHERE id = ?", (int(ident),))
        if found:
            return found
    return _rows("SELECT * FROM chat_logs WHERE conversation_id = ? ORDER BY id", (ident,))


def search(text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Exchanges whose prompt or response contains `text` (case-insensitive), newest first."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = (
        f"SELECT {LIST_COLUMNS} FROM chat_logs "
        "WHERE prompt LIKE ? ESCAPE '\\' OR response LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?"
    )
    return _rows(sql, (pattern, pattern, limit))
