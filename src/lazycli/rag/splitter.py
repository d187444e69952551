"""A sentence-aware splitter that knows Chinese punctuation and measures chunks in tokens.

Token counts are a cheap approximation of a word-piece tokenizer (running the embedder's tokenizer
over every sentence would cost a noticeable share of indexing time): each CJK character counts 1,
each punctuation mark 1, and each Latin/digit word 1 plus 1 per 7 characters beyond the first 7
(long words split into several word pieces). On English prose this lands within ~15% of
all-MiniLM-L6-v2's tokenizer; on Chinese it is exact for that tokenizer (one piece per character).

Chunks are spans of the original text, so each keeps its character position. Node groups follow
LazyLLM: several chunkings of the same text at different sizes, each with its own name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A token of the approximation: one CJK character, one run of word characters, or one other mark.
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+|[^\w\s]")

# Where a sentence ends: CJK stops need no space after them; Latin stops need one (so "3.14" and
# "e.g.x" stay whole); a newline always ends a sentence. Closing quotes stay with their sentence.
_SENTENCE_END = re.compile(r"(?:[。！？；…]+|[.!?;]+(?=\s)|\n)[\"'”’」』）)\]]*\s*")
# Inside an over-long sentence: clause marks, then any whitespace.
_CLAUSE_END = re.compile(r"[，、,：:]\s*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Group:
    """A node group: chunks of `size` tokens overlapping by `overlap` tokens."""

    name: str
    size: int
    overlap: int

    def as_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "overlap": self.overlap}


# LazyLLM's default node groups.
DEFAULT_GROUPS = (Group("coarse", 1024, 100), Group("medium", 256, 25), Group("fine", 128, 12))


def parse_group(text: str) -> Group:
    """`NAME:SIZE:OVERLAP` → Group (a user error names the bad part)."""
    from lazycli.errors import LzError

    parts = text.split(":")
    if len(parts) != 3 or not parts[0]:
        raise LzError(f"bad --group {text!r}", hint="use NAME:SIZE:OVERLAP, e.g. fine:128:12")
    try:
        size, overlap = int(parts[1]), int(parts[2])
    except ValueError:
        raise LzError(
            f"bad --group {text!r}: size and overlap must be integers", hint="e.g. fine:128:12"
        ) from None
    return make_group(parts[0], size, overlap)


def make_group(name: str, size: int, overlap: int) -> Group:
    from lazycli.errors import LzError

    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise LzError(f"bad group name {name!r}", hint="use letters, digits, '-' or '_'")
    if size < 8:
        raise LzError(f"chunk size {size} of group {name!r} is too small", hint="use at least 8 tokens")
    if not 0 <= overlap < size:
        raise LzError(f"overlap {overlap} of group {name!r} must be ≥ 0 and below its size {size}")
    return Group(name, size, overlap)


def count_tokens(text: str) -> int:
    """The approximate token count described in the module docstring."""
    total = 0
    for match in _TOKEN.finditer(text):
        piece = match.group()
        total += 1 + (len(piece) - 1) // 7 if len(piece) > 7 else 1
    return total


def _spans(text: str, pattern: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] after each match of `pattern` (the separator stays with the left part)."""
    spans = []
    pos = start
    for match in pattern.finditer(text, start, end):
        if match.end() > pos:
            spans.append((pos, match.end()))
            pos = match.end()
    if pos < end:
        spans.append((pos, end))
    return spans


def _hard_cut(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut a span with no usable separator into pieces of at most `size` tokens, on token borders."""
    pieces = []
    piece_start, used = start, 0
    for match in _TOKEN.finditer(text, start, end):
        cost = count_tokens(match.group())
        if used + cost > size and used > 0:
            pieces.append((piece_start, match.start()))
            piece_start, used = match.start(), 0
        used += cost
    if piece_start < end:
        pieces.append((piece_start, end))
    return pieces


def _pieces(text: str, size: int) -> list[tuple[int, int, int]]:
    """Sentences (then clauses, words, hard cuts) no longer than `size` tokens: (start, end, tokens)."""
    out = []
    for start, end in _spans(text, _SENTENCE_END, 0, len(text)):
        _fit(text, start, end, size, out, level=0)
    return out


_FALLBACKS = (_CLAUSE_END, _SPACE)


def _fit(text: str, start: int, end: int, size: int, out: list, level: int) -> None:
    tokens = count_tokens(text[start:end])
    if tokens <= size:
        if tokens:
            out.append((start, end, tokens))
        elif out:  # pure whitespace: glue it onto the previous piece so spans stay contiguous
            prev = out[-1]
            out[-1] = (prev[0], end, prev[2])
        return
    if level < len(_FALLBACKS):
        parts = _spans(text, _FALLBACKS[level], start, end)
        if len(parts) > 1:
            for s, e in parts:
                _fit(text, s, e, size, out, level + 1)
            return
        _fit(text, start, end, size, out, level + 1)
        return
    for s, e in _hard_cut(text, start, end, size):
        out.append((s, e, count_tokens(text[s:e])))


def split(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans of chunks: whole sentences packed up to `size` tokens, each chunk starting
    with the last sentences of the previous one worth at most `overlap` tokens."""
    pieces = _pieces(text, size)
    chunks: list[tuple[int, int]] = []
    current: list[tuple[int, int, int]] = []
    used = 0
    for piece in pieces:
        if current and used + piece[2] > size:
            chunks.append((current[0][0], current[-1][1]))
            current, used = _overlap_tail(current, overlap, size - piece[2])
        current.append(piece)
        used += piece[2]
    if current:
        chunks.append((current[0][0], current[-1][1]))
    return [(s, e) for s, e in chunks if text[s:e].strip()]


def _overlap_tail(current: list, overlap: int, room: int) -> tuple[list, int]:
    """The trailing pieces of a chunk to repeat at the start of the next one."""
    limit = min(overlap, room)
    tail: list = []
    used = 0
    for piece in reversed(current):
        if used + piece[2] > limit:
            break
        tail.insert(0, piece)
        used += piece[2]
    if len(tail) == len(current):  # never repeat a whole chunk: that would not advance
        tail, used = [], 0
    return tail, used
