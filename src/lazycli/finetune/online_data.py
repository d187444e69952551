"""Training data for an online fine-tune: checked by the vendor's rules, then written in its format.

Any format the data doctor knows (alpaca, sharegpt, messages, prompt/completion) is accepted and
converted. Records already in messages form are checked the way the OpenAI cookbook does
(missing_messages_list, message_missing_key, message_unrecognized_key, unrecognized_role,
missing_content, example_missing_assistant_message), with the vendor's own roles (SenseNova adds
`knowledge`). Every bad record is reported by its line and nothing is uploaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.finetune import data
from lazycli.finetune.online_vendor import DataRules

KNOWN_KEYS = ("role", "content", "name", "weight")


@dataclass
class Prepared:
    report: data.DataReport
    rows: list[list[dict]]  # the good records as message lists
    content: bytes  # the file as the vendor reads it

    @property
    def examples(self) -> int:
        return len(self.rows)


def check(
    path: str | Path, rules: DataRules, *, force: bool = False, show=None, vendor: str = ""
) -> Prepared:
    report = data.check(path, accepted=data.CONVERTIBLE["messages"])
    if report.format == "messages":
        report.problems = _read_problems(report.path) + [
            data.Problem(r.line, reason) for r in report.records for reason in check_messages(r.value, rules)
        ]
        report.problems.sort(key=lambda p: p.line)
    data.require_ok(report, force=force, show=show)
    rows = [data.to_messages(report.format, r.value) for r in report.good]
    rows = [[m for m in msgs if m["role"] in rules.roles] for msgs in rows]
    if len(rows) < rules.min_examples:
        raise LzError(
            f"{report.path}: {len(rows)} example(s); {vendor or 'this provider'} needs at least "
            f"{rules.min_examples}",
            hint="add examples (`lz finetune doctor FILE` counts them)",
        )
    return Prepared(report, rows, encode(rows, rules))


def _read_problems(path: Path) -> list[data.Problem]:
    _records, problems = data.read_records(path)
    return problems


def check_messages(value: Any, rules: DataRules) -> list[str]:
    """The cookbook's checks on one record, with the vendor's roles; each reason names what to fix."""
    if data.classify(value) != "messages":
        return [f"not a messages record ({data._shape(value)})"]
    messages = value if isinstance(value, list) else value.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["'messages' is not a non-empty list (missing_messages_list)"]
    out = []
    for i, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict):
            out.append(f"message {i} is not an object (data_type)")
            continue
        missing = [k for k in ("role", "content") if k not in msg]
        if missing:
            out.append(f"message {i} has no {missing[0]} (message_missing_key)")
            continue
        extra = sorted(set(msg) - set(KNOWN_KEYS))
        if extra:
            out.append(f"message {i} has unrecognized key(s) {', '.join(extra)} (message_unrecognized_key)")
        if msg["role"] not in rules.roles:
            out.append(
                f"message {i} has role {msg['role']!r}; use {', '.join(rules.roles)} (unrecognized_role)"
            )
        if not isinstance(msg["content"], str) or not msg["content"].strip():
            out.append(f"message {i} ({msg['role']}) has no text content (missing_content)")
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        out.append("no assistant message: nothing to learn (example_missing_assistant_message)")
    elif rules.last_assistant and roles[-1] != "assistant":
        out.append("the last message must be the assistant's answer")
    return out


def encode(rows: list[list[dict]], rules: DataRules) -> bytes:
    """JSONL in the vendor's line shape: {"messages": [...]} or a bare array (SenseNova)."""
    lines = []
    for messages in rows:
        value = messages if rules.line_style == "array" else {"messages": messages}
        lines.append(json.dumps(value, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")
