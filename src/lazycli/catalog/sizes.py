"""Sizes: parameter counts read from model names, and byte counts for people.

LazyLLM read `qwen2-1.5b` as 5B because its regex only looked at the digits right before the `b`.
Here a size is a whole token of the name (split on `-`, `_`, `/`, space): a decimal number with a
`b`/`m`/`k` unit, optionally `NxM` for mixtures of experts, and nothing glued after the unit
except a known suffix like `chat` does not count, so `qwen2` never reads as a size and
`7b-chat`, `14B-awq` and `0.5B` all do.
"""

from __future__ import annotations

import re

# One size token: "1.5b", "0.5B", "135m", "8x7b", "a3b" (active params of a MoE, ignored).
_SIZE_TOKEN = re.compile(r"^(?:(?P<experts>\d+)x)?(?P<num>\d+(?:\.\d+)?)(?P<unit>[bmk])$", re.IGNORECASE)
_SPLIT = re.compile(r"[-_/\s:]+")
_UNDERSCORE_DECIMAL = re.compile(r"(?<![\w.])(\d+)_(\d+[bmk])\b", re.IGNORECASE)
_UNIT = {"b": 1.0, "m": 1e-3, "k": 1e-6}


def parse_params(name: str) -> float | None:
    """Parameter count in billions read from a model name, or None when the name has no size.

    >>> parse_params("qwen2-1.5b"), parse_params("Qwen2.5-0.5B-Instruct"), parse_params("14B-awq")
    (1.5, 0.5, 14.0)
    """
    # "internlm2-chat-1_8b" spells 1.8B with an underscore; read it as a decimal point.
    text = _UNDERSCORE_DECIMAL.sub(r"\1.\2", name.strip())
    for token in _SPLIT.split(text):
        match = _SIZE_TOKEN.match(token)
        if not match:
            continue
        value = float(match["num"]) * _UNIT[match["unit"].lower()]
        if match["experts"]:
            value *= int(match["experts"])
        return round(value, 6)
    return None


def format_params(params_b: float | None) -> str:
    """1.5 → '1.5B', 0.135 → '135M', None → '-'."""
    if params_b is None:
        return "-"
    if params_b < 1:
        return f"{params_b * 1000:g}M"
    return f"{params_b:g}B"


def format_bytes(n: int | None) -> str:
    """Bytes for people: 1536 → '1.5 KiB'."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - loop always returns


def tree_size(path) -> int:
    """Bytes under a file or directory (symlinks followed once, hidden bookkeeping dirs skipped)."""
    from pathlib import Path

    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for item in path.rglob("*"):
        if ".cache" in item.relative_to(path).parts[:1]:
            continue
        if item.is_file():
            total += item.stat().st_size
    return total
