"""The data doctor: read a JSON or JSONL training set, detect its format, check every record, and
convert it to what a finetuner reads.

Formats (one per file; a record of another shape is reported by its line):

    alpaca             {"instruction", "input"?, "output", "system"?}
    sharegpt           {"conversations": [{"from": human|gpt|system|…, "value"}]}
    messages           {"messages": [{"role": system|user|assistant|tool, "content"}]} (OpenAI), or a
                       bare JSON array of such messages per line (SenseNova)
    prompt_completion  {"prompt", "completion"}
    triplet            {"query", "pos": [..], "neg": [..]} (embedding fine-tunes, FlagEmbedding)

Every problem carries the 1-based line where its record starts (JSON arrays included), so a user
can open the file at that line. Nothing here imports more than the standard library.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.hookspecs import CHAT_FORMATS

FORMATS = ("alpaca", "sharegpt", "messages", "prompt_completion", "triplet")
# What each target representation can be made from (the conversions in `convert`).
CONVERTIBLE = {
    "messages": CHAT_FORMATS,
    "alpaca": ("alpaca",),
    "triplet": ("triplet",),
}
MESSAGE_ROLES = ("system", "user", "assistant", "tool", "function")
MESSAGE_KEYS = ("role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight")
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "observation": "tool"}
SHAREGPT_ROLES_EXTRA = ("function_call",)
MAX_SHOWN = 20  # problems printed before "… and N more"


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Record:
    line: int
    value: Any


@dataclass
class DataReport:
    """What the doctor found in one file."""

    path: Path
    format: str | None
    records: list[Record]
    problems: list[Problem]
    sha256: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def good(self) -> list[Record]:
        bad = {p.line for p in self.problems}
        return [r for r in self.records if r.line not in bad]

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "records": len(self.records),
            "good": len(self.good),
            "problems": [{"line": p.line, "reason": p.reason} for p in self.problems],
            "sha256": self.sha256,
            "counts": self.counts,
        }


# --- reading -----------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_records(path: Path) -> tuple[list[Record], list[Problem]]:
    """Records with the line each starts on; a `.json` file holding an array, else JSON Lines."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LzError(
            f"data file {path} does not exist", hint="give the path of a .json or .jsonl file"
        ) from None
    except UnicodeDecodeError as exc:
        raise LzError(f"data file {path} is not UTF-8 text ({exc.reason})", hint="save it as UTF-8") from None
    # A .jsonl file is lines even when each line is an array (SenseNova's format).
    if text.lstrip().startswith("[") and Path(path).suffix.lower() != ".jsonl":
        return _read_array(text)
    return _read_lines(text)


def _read_lines(text: str) -> tuple[list[Record], list[Problem]]:
    records, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            records.append(Record(number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
    return records, problems


def _read_array(text: str) -> tuple[list[Record], list[Problem]]:
    """Walk a JSON array element by element, so each record knows its line (json.loads would not)."""
    decoder = json.JSONDecoder()
    records: list[Record] = []
    pos = _skip_ws(text, text.index("[") + 1)
    while pos < len(text) and text[pos] != "]":
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return records, [Problem(exc.lineno, f"not valid JSON ({exc.msg}); stopped reading here")]
        records.append(Record(line, value))
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] != "]":
            line = text.count("\n", 0, pos) + 1
            return records, [Problem(line, "expected ',' or ']' between records; stopped reading here")]
    if pos >= len(text):
        return records, [Problem(text.count("\n") + 1, "the JSON array is not closed with ']'")]
    return records, []


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


# --- detecting ---------------------------------------------------------------------------------------


def classify(value: Any) -> str | None:
    """The format one record looks like, from its keys; None when it looks like none."""
    if isinstance(value, list):
        return "messages" if value and all(isinstance(m, dict) and "role" in m for m in value) else None
    if not isinstance(value, dict):
        return None
    if "query" in value and ("pos" in value or "neg" in value):
        return "triplet"
    if "messages" in value:
        return "messages"
    if "conversations" in value:
        return "sharegpt"
    if "instruction" in value:
        return "alpaca"
    if "prompt" in value and "completion" in value:
        return "prompt_completion"
    return None


def detect(records: list[Record]) -> str | None:
    """The file's format: the one most records have."""
    kinds = Counter(k for k in (classify(r.value) for r in records) if k)
    return kinds.most_common(1)[0][0] if kinds else None


# --- checking ----------------------------------------------------------------------------------------


def check(
    path: str | Path,
    *,
    fmt: str | None = None,
    accepted: tuple[str, ...] | None = None,
    cutoff_len: int | None = None,
) -> DataReport:
    """Read, detect and check `path`; problems are collected, never raised (see `require_ok`)."""
    path = Path(path).expanduser()
    records, problems = read_records(path)
    found = fmt or detect(records)
    if fmt is not None and fmt not in FORMATS:
        from lazycli.errors import unknown

        raise unknown("data format", fmt, FORMATS, hint="one of " + ", ".join(FORMATS))
    if found is None and records:
        keys = (
            sorted(records[0].value)
            if isinstance(records[0].value, dict)
            else type(records[0].value).__name__
        )
        raise LzError(
            f"{path}: no record looks like a known format (first record: {keys})",
            hint="use alpaca {instruction, input, output}, messages, sharegpt, prompt/completion or "
            "{query, pos, neg}; see `lz finetune doctor --help`",
        )
    if not records and not problems:
        raise LzError(f"data file {path} holds no records", hint="one JSON object per line (JSONL)")
    if accepted is not None and found is not None and found not in accepted:
        raise LzError(
            f"{path} is {found} data, which this method does not train on",
            hint="it reads " + ", ".join(accepted),
        )
    for record in records:
        problems.extend(_check_record(record, found, cutoff_len))
    problems.sort(key=lambda p: p.line)
    counts = Counter(classify(r.value) or "unknown" for r in records)
    return DataReport(path, found, records, problems, file_sha256(path), dict(counts))


def _check_record(record: Record, fmt: str | None, cutoff_len: int | None) -> list[Problem]:
    kind = classify(record.value)
    if kind is None:
        return [Problem(record.line, f"not a {fmt} record ({_shape(record.value)})")]
    if kind != fmt:
        return [Problem(record.line, f"a record in {kind} format in a {fmt} file")]
    reasons = CHECKS[fmt](record.value)
    if not reasons and cutoff_len:
        tokens = estimate_tokens(record.value)
        if tokens > cutoff_len:
            reasons.append(f"about {tokens} tokens, longer than cutoff_len {cutoff_len} (it would be cut)")
    return [Problem(record.line, reason) for reason in reasons]


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "keys: " + ", ".join(sorted(value)) if value else "an empty object"
    return f"a JSON {type(value).__name__}"


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_alpaca(rec: dict) -> list[str]:
    out = []
    if not _text(rec.get("instruction")):
        out.append("empty or non-text 'instruction'")
    if "input" in rec and not isinstance(rec["input"], str):
        out.append("'input' is not text")
    if "output" not in rec:
        out.append("no 'output' (the answer to train on)")
    elif not _text(rec["output"]):
        out.append("empty or non-text 'output'")
    return out


def _check_messages(rec: Any) -> list[str]:
    """The OpenAI cookbook's checks (data_type, missing_messages_list, message_missing_key, …)."""
    messages = rec if isinstance(rec, list) else rec.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["'messages' is not a non-empty list"]
    out = []
    for i, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict):
            out.append(f"message {i} is not an object")
            continue
        if "role" not in msg or "content" not in msg:
            out.append(f"message {i} has no {'role' if 'role' not in msg else 'content'}")
            continue
        extra = sorted(set(msg) - set(MESSAGE_KEYS))
        if extra:
            out.append(f"message {i} has unrecognized key(s) {', '.join(extra)}")
        if msg["role"] not in MESSAGE_ROLES:
            out.append(f"message {i} has unknown role {msg['role']!r} (use {', '.join(MESSAGE_ROLES[:3])})")
        if not _text(msg["content"]) and not msg.get("tool_calls") and not msg.get("function_call"):
            out.append(f"message {i} ({msg['role']}) has empty content")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        out.append("no assistant message (nothing to learn)")
    return out


def _check_sharegpt(rec: dict) -> list[str]:
    turns = rec.get("conversations")
    if not isinstance(turns, list) or not turns:
        return ["'conversations' is not a non-empty list"]
    out = []
    known = (*SHAREGPT_ROLES, *SHAREGPT_ROLES_EXTRA)
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            out.append(f"turn {i} needs 'from' and 'value'")
            continue
        if turn["from"] not in known:
            out.append(f"turn {i} has unknown role {turn['from']!r} (use human, gpt or system)")
        if not _text(turn["value"]):
            out.append(f"turn {i} ({turn['from']}) has an empty value")
    if not any(isinstance(t, dict) and t.get("from") == "gpt" for t in turns):
        out.append("no 'gpt' turn (nothing to learn)")
    return out


def _check_prompt_completion(rec: dict) -> list[str]:
    out = []
    if not _text(rec.get("prompt")):
        out.append("empty or non-text 'prompt'")
    if not _text(rec.get("completion")):
        out.append("empty or non-text 'completion'")
    return out


def _check_triplet(rec: dict) -> list[str]:
    out = []
    if not _text(rec.get("query")):
        out.append("empty or non-text 'query'")
    for key in ("pos", "neg"):
        value = rec.get(key)
        if not isinstance(value, list) or not value:
            # FlagEmbedding samples negatives from this list: an empty one divides by zero.
            out.append(f"'{key}' must be a non-empty list of passages")
        elif not all(_text(v) for v in value):
            out.append(f"'{key}' holds an empty or non-text passage")
    return out


CHECKS = {
    "alpaca": _check_alpaca,
    "messages": _check_messages,
    "sharegpt": _check_sharegpt,
    "prompt_completion": _check_prompt_completion,
    "triplet": _check_triplet,
}


def estimate_tokens(value: Any) -> int:
    """A tokenizer-free estimate: ~4 ASCII characters per token, one per other character (CJK)."""
    ascii_chars = other = 0
    for text in _strings(value):
        for ch in text:
            if ord(ch) < 128:
                ascii_chars += 1
            else:
                other += 1
    return ascii_chars // 4 + other + 1


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def require_ok(report: DataReport, *, force: bool = False, show=None) -> None:
    """Print each problem (via `show`) and stop with exit 2, unless `force` (bad records are dropped)."""
    if report.ok:
        return
    if show is not None:
        for problem in report.problems[:MAX_SHOWN]:
            show(f"{report.path}:{problem}")
        if len(report.problems) > MAX_SHOWN:
            show(f"… and {len(report.problems) - MAX_SHOWN} more")
    if force:
        if not report.good:
            raise LzError(f"{report.path}: no usable record left", hint="fix the lines listed above")
        return
    first = report.problems[0]
    raise LzError(
        f"{report.path}: {len(report.problems)} bad record(s) (first: line {first.line}: {first.reason})",
        hint="fix them, or pass --force to train on the good records only",
    )


# --- converting --------------------------------------------------------------------------------------


def convert(report: DataReport, target: str) -> list[dict]:
    """The good records in the `target` representation (messages, alpaca or triplet)."""
    if report.format not in CONVERTIBLE[target]:
        raise LzError(
            f"{report.path} is {report.format} data and cannot become {target}",
            hint="this method reads " + ", ".join(CONVERTIBLE[target]),
        )
    out = []
    for record in report.good:
        if target == "messages":
            out.append({"messages": to_messages(report.format, record.value)})
        elif target == "alpaca":
            rec = record.value
            out.append({k: rec[k] for k in ("instruction", "input", "output", "system") if k in rec})
        else:
            rec = record.value
            out.append(
                {k: rec[k] for k in ("query", "pos", "neg", "pos_scores", "neg_scores", "prompt") if k in rec}
            )
    return out


def to_messages(fmt: str, rec: Any) -> list[dict]:
    """One record as [{role, content}] chat messages."""
    if fmt == "messages":
        messages = rec if isinstance(rec, list) else rec["messages"]
        return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
    if fmt == "sharegpt":
        return [
            {"role": SHAREGPT_ROLES.get(t["from"], "tool"), "content": t["value"]}
            for t in rec["conversations"]
        ]
    if fmt == "prompt_completion":
        return [
            {"role": "user", "content": rec["prompt"]},
            {"role": "assistant", "content": rec["completion"]},
        ]
    user = rec["instruction"] + (f"\n\n{rec['input']}" if rec.get("input") else "")
    messages = [{"role": "system", "content": rec["system"]}] if rec.get("system") else []
    return [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": rec["output"]}]


def write_jsonl(rows: list[dict], path: Path) -> None:
    from lazycli.fsutil import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
