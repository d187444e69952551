"""The RAG prompt: numbered sources within a token budget, and citations [n] mapped back to files."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from lazycli.rag.splitter import count_tokens

SYSTEM = (
    "You answer questions using only the numbered sources given. After each statement, cite the "
    "source it comes from as [n]. If the sources do not contain the answer, say that you do not know."
)
# For models of a few hundred million parameters: one short instruction they can follow, and the
# exact words to copy (a long rule list made SmolLM2 invent flags; see docs/eval.md).
BRIEF_SYSTEM = (
    "Answer in one or two sentences from the sources. Copy commands and setting names exactly as "
    "the sources write them. Cite the source number like [1]."
)
DEFAULT_CONTEXT_TOKENS = 400  # chosen with lz eval: see docs/eval.md
DEFAULT_QUOTE_TOKENS = 120


@dataclass(frozen=True)
class Style:
    """How the answer is made: the system prompt, and whether the best passage is quoted first."""

    name: str
    system: str | None  # None: no model call (the quote is the answer)
    quote: bool = False
    help: str = ""
    focused: bool = False  # the model sees only the quoted passage, not the numbered sources


STYLES = {
    s.name: s
    for s in (
        Style("numbered", SYSTEM, help="numbered sources, the model answers and cites [n]"),
        Style("brief", BRIEF_SYSTEM, help="a one-line instruction for small models"),
        Style("quote", BRIEF_SYSTEM, quote=True, help="quote the best passage, then a summary"),
        Style(
            "focused",
            BRIEF_SYSTEM,
            quote=True,
            focused=True,
            help="quote the best passage, then a summary of that passage alone",
        ),
        Style("extract", None, quote=True, help="quote the best passage with its citation; no model call"),
    )
}
DEFAULT_STYLE = "focused"  # chosen with lz eval: see docs/eval.md


def check_style(name: str) -> str:
    if name not in STYLES:
        from lazycli.errors import unknown

        raise unknown("prompt style", name, list(STYLES), hint="styles: " + ", ".join(STYLES))
    return name


_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def label(result: dict) -> str:
    """How a source is named to the model and the user: file name plus page/line when known."""
    meta = result.get("meta") or {}
    where = f" p.{meta['page']}" if "page" in meta else (f" line {meta['line']}" if "line" in meta else "")
    return f"{result['file']}{where}"


def _trim(text: str, budget: int) -> str:
    if count_tokens(text) <= budget:
        return text
    # Cut on a character count proportional to the budget, then tighten: cheap and close enough.
    cut = max(1, int(len(text) * budget / max(count_tokens(text), 1)))
    while cut > 1 and count_tokens(text[:cut]) > budget:
        cut = int(cut * 0.9)
    return text[:cut].rstrip() + " …"


def context_block(results: list[dict], budget: int = DEFAULT_CONTEXT_TOKENS) -> str:
    """`[n] (file) text` per source; each source gets an equal share of the token budget."""
    if not results:
        return ""
    share = max(32, budget // len(results))
    parts = [f"[{n}] ({label(r)})\n{_trim(r['text'], share)}" for n, r in enumerate(results, start=1)]
    return "\n\n".join(parts)


def messages(
    question: str,
    results: list[dict],
    budget: int = DEFAULT_CONTEXT_TOKENS,
    style: str = "numbered",
    quote_tokens: int = DEFAULT_QUOTE_TOKENS,
) -> list[dict]:
    if STYLES[style].focused and results:
        return focused_messages(question, results, quote_tokens, STYLES[style].system or SYSTEM)
    context = context_block(results, budget)
    user = f"Sources:\n{context}\n\nQuestion: {question}\nAnswer with citations [n]:" if context else question
    system = STYLES[style].system or SYSTEM
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- the quoted passage ---------------------------------------------------------------------------

_WORD = re.compile(r"[\u4e00-\u9fff]|[A-Za-z0-9_.\-]+")
_STOP = frozenset(
    ["a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "is", "are", "do", "does", "how", "what",
     "which", "where", "when", "i", "my", "me", "it", "with", "by", "be", "can", "that", "this", "from",
     "as", "at", "without"]
)  # fmt: skip


def _words(text: str) -> set[str]:
    """Lower-cased words, cut to five letters (a cheap stem: deploy/deployment, key/keys)."""
    return {w.lower().strip(".-")[:5] for w in _WORD.findall(text)} - _STOP - {""}


def _blocks(text: str) -> list[str]:
    """Paragraphs; an indented or fenced code block stays attached to the paragraph before it."""
    out: list[str] = []
    for part in re.split(r"\n\s*\n", text.strip()):
        code = part.startswith(("    ", "\t", "```", "$ ")) or part.lstrip().startswith("```")
        if code and out:
            out[-1] += "\n\n" + part
        else:
            out.append(part)
    return [b for b in out if b.strip()]


def _is_heading(block: str) -> bool:
    return block.lstrip().startswith("#") and "\n" not in block.strip()


def _units(block: str) -> list[str]:
    """What can be quoted on its own: a table row (under the table's header), a list item, else
    the whole paragraph."""
    lines = block.splitlines()
    if len(lines) > 2 and all(line.lstrip().startswith("|") for line in lines):
        return ["\n".join([*lines[:2], row]) for row in lines[2:]]
    if lines and lines[0].startswith("- "):
        items: list[str] = []
        for line in lines:
            if line.startswith("- ") or not items:
                items.append(line)
            else:
                items[-1] += "\n" + line
        return items
    return [block]


@dataclass(frozen=True)
class Quote:
    n: int  # 1-based number of the source it comes from
    text: str


def best_quote(
    question: str, results: list[dict], budget: int = DEFAULT_QUOTE_TOKENS, depth: int = 3
) -> Quote:
    """The part of the top `depth` passages that best matches the question, with what follows it up
    to the next heading, within `budget` tokens. A part is a paragraph, a list item or a table row;
    it scores the question words it holds, rarer words counting more (idf over these parts), per
    √length, a little less for each lower rank. A heading alone pulls in the paragraph under it."""
    asked = _words(question)
    split = [[u for b in _blocks(r.get("text", "")) for u in _units(b)] for r in results[:depth]]
    words = [[_words(u) for u in units] for units in split]
    df: dict[str, int] = {}
    for ws in (w for group in words for w in group):
        for w in ws & asked:
            df[w] = df.get(w, 0) + 1
    total = sum(len(group) for group in words)
    best: tuple[float, int, int] | None = None  # (score, passage index, part index)
    for i, group in enumerate(words):
        for j, ws in enumerate(group):
            weight = sum(math.log(1 + total / df[w]) for w in ws & asked)
            score = weight / (1 + len(ws)) ** 0.5 * (1 - 0.15 * i)
            if best is None or score > best[0]:
                best = (score, i, j)
    if best is None:
        return Quote(1, "")
    _, i, j = best
    picked, used = [], 0
    for unit in split[i][j:]:
        cost = count_tokens(unit)
        heading_only = len(picked) == 1 and _is_heading(picked[0])
        if picked and not heading_only and (used + cost > budget or unit.lstrip().startswith(("#", "|"))):
            break  # the next section (or table row) is another topic
        picked.append(unit)
        used += cost
    return Quote(i + 1, _trim("\n\n".join(picked), budget))


def focused_messages(question: str, results: list[dict], quote_tokens: int, system: str) -> list[dict]:
    """The quoted passage alone, under its own source number: a small model then summarises what
    the reader was just shown instead of drifting to another source (and prefill is ~4× shorter)."""
    found = best_quote(question, results, quote_tokens)
    context = f"[{found.n}] ({label(results[found.n - 1])})\n{found.text}"
    user = f"Sources:\n{context}\n\nQuestion: {question}\nAnswer with citations [n]:"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def quoted(question: str, results: list[dict], budget: int = DEFAULT_QUOTE_TOKENS) -> str:
    """`> passage` lines and the source line: the honest first part of an answer."""
    if not results:
        return ""
    found = best_quote(question, results, budget)
    body = "\n".join(f"> {line}" if line.strip() else ">" for line in found.text.splitlines())
    return f"{body}\n[{found.n}] ({label(results[found.n - 1])})\n\n"


def cited(answer: str, results: list[dict]) -> list[int]:
    """Source numbers the answer cites (1-based, in order of first citation, valid ones only)."""
    seen: list[int] = []
    for match in _CITATION.finditer(answer):
        for part in match.group(1).split(","):
            n = int(part)
            if 1 <= n <= len(results) and n not in seen:
                seen.append(n)
    return seen


def sources(results: list[dict], answer: str = "") -> list[dict]:
    """The numbered source list shown under an answer, marking which ones were cited."""
    used = set(cited(answer, results))
    return [
        {"n": n, "source": r["source"], "label": label(r), "cited": n in used}
        for n, r in enumerate(results, start=1)
    ]
