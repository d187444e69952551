"""The RAG prompt: numbered sources within a token budget, and citations [n] mapped back to files."""

from __future__ import annotations

import re

from lazycli.rag.splitter import count_tokens

SYSTEM = (
    "You answer questions using only the numbered sources given. After each statement, cite the "
    "source it comes from as [n]. If the sources do not contain the answer, say that you do not know."
)
DEFAULT_CONTEXT_TOKENS = 1500
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


def messages(question: str, results: list[dict], budget: int = DEFAULT_CONTEXT_TOKENS) -> list[dict]:
    context = context_block(results, budget)
    user = f"Sources:\n{context}\n\nQuestion: {question}\nAnswer with citations [n]:" if context else question
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


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
