"""LLM-judged metrics: the prompts (shown by `--show-prompts`) and the strict parsing of replies.

The judge never gives the score itself: it answers per-item verdicts (or a 0-3 rating) as JSON,
and lz computes the score from them, so a definition is the same whichever model judges. For
faithfulness lz splits the answer into its claims itself (sentences, list items, a quoted passage)
and asks one 0/1 verdict per claim: a small judge can answer that, where counting claims it must
first find is beyond it. A local judge (a deployment, a model, a URL) is also sent the reply's JSON
schema as llama.cpp's `response_format`, so even a 135M model answers JSON of the right shape.
A reply that is not that JSON, or has the wrong number of verdicts, is an error for that row
(never a 0 or a NaN).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SYSTEM = "You are a strict grader. Reply with one JSON object and nothing else."
PARAMS = {"temperature": 0.0, "max_tokens": 300}
# The passages shown to the judge, at most (prefill is the cost of a local judge: 1,400 tokens took
# 50 s with SmolLM2 on the shared 2-core machine, and five whole passages overflowed its 4,096-token
# window). The parts kept are those sharing most words with what is judged, so 600 is enough for
# a 64-token answer under a 120-token quote.
CONTEXT_TOKENS = 600
MAX_CLAIMS = 12  # more sentences than this are judged in MAX_CLAIMS groups: one verdict each


class JudgeError(Exception):
    """The judge's reply for one row could not be used."""


@dataclass
class Prompt:
    metric: str
    user: str
    n_items: int = 0  # verdicts the reply must hold (0 for a rating)

    def messages(self) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": self.user}]

    def schema(self) -> dict:
        """The JSON schema of a valid reply (sent to local judges as a grammar)."""
        if self.metric == "answer-relevancy":
            rating = {"type": "integer", "enum": [0, 1, 2, 3]}
            return {"type": "object", "properties": {"rating": rating}, "required": ["rating"]}
        verdicts = {
            "type": "array",
            "items": {"type": "integer", "enum": [0, 1]},
            "minItems": self.n_items,
            "maxItems": self.n_items,
        }
        return {"type": "object", "properties": {"verdicts": verdicts}, "required": ["verdicts"]}

    def response_format(self) -> dict:
        return {"type": "json_object", "schema": self.schema()}


def _numbered(items: list[str]) -> str:
    return "\n".join(f"[{n}] {text.strip()}" for n, text in enumerate(items, start=1))


def reference_statements(row) -> list[str]:
    return list(row.facts) if row.facts else [row.answer] if row.answer else []


_SOURCE_LINE = re.compile(r"^\[\d+\]\s*\(.*\)\s*$")  # "[1] (configuration.md)" under a quote
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def _paragraphs(answer: str) -> list[tuple[str, bool]]:
    """(text, is_code) per paragraph: `> ` quote marks dropped, a fenced block kept whole."""
    lines = [re.sub(r"^>\s?", "", line) for line in (answer or "").splitlines()]
    out: list[tuple[str, bool]] = []
    current: list[str] = []
    fenced = False

    def flush(code: bool = False) -> None:
        text = "\n".join(current).strip()
        if text:
            out.append((text, code))
        current.clear()

    for line in lines:
        if line.strip().startswith("```"):
            if fenced:
                current.append(line)
                flush(code=True)
            else:
                flush()
                current.append(line)
            fenced = not fenced
            continue
        if fenced:
            current.append(line)
        elif not line.strip() or _SOURCE_LINE.match(line.strip()):
            flush()
        elif line.lstrip().startswith(("- ", "* ", "|")) or re.match(r"\s*\d+[.)] ", line):
            flush()
            current.append(line)
            flush()
        else:
            current.append(line)
    flush(code=fenced)
    return out


def claims(answer: str) -> list[str]:
    """The answer's claims as lz splits them: each sentence, list item or table row, a code block
    whole; headings, citation lines and fragments without a word are not claims. More than
    MAX_CLAIMS are merged into MAX_CLAIMS consecutive groups (one verdict each)."""
    found: list[str] = []
    for text, code in _paragraphs(answer):
        if code:
            found.append(text)
            continue
        if text.startswith("#") and "\n" not in text:
            continue
        flat = re.sub(r"\s+", " ", text)
        found += [c.strip() for c in _SENTENCE_END.split(flat) if re.search(r"\w\w", c)]
    if len(found) <= MAX_CLAIMS:
        return found
    size = -(-len(found) // MAX_CLAIMS)
    return [" ".join(found[i : i + size]) for i in range(0, len(found), size)]


def evidence(contexts: list[str], about: str, budget: int = CONTEXT_TOKENS) -> list[str]:
    """`contexts` within `budget` tokens: whole when they fit, else from each passage (an equal
    share) the paragraphs, list items and table rows sharing most words with `about` (the answer,
    or the reference statements), kept in their order. A quote lifted from deep in a passage is
    then still in front of the judge, which a cut at each passage's start would drop."""
    from lazycli.rag.prompt import _blocks, _trim, _units, _words
    from lazycli.rag.splitter import count_tokens

    if sum(count_tokens(c) for c in contexts) <= budget:
        return contexts
    wanted = _words(about)
    share = max(32, budget // len(contexts))
    out = []
    for text in contexts:
        units = [u for b in _blocks(text) for u in _units(b)] or [text]
        ranked = sorted(range(len(units)), key=lambda i: -len(_words(units[i]) & wanted))
        keep, used = set(), 0
        for i in ranked:
            cost = count_tokens(units[i])
            if keep and used + cost > share:
                continue
            keep.add(i)
            used += cost
        out.append(_trim("\n\n".join(units[i] for i in sorted(keep)), share))
    return out


def build(metric: str, row, answer: str, contexts: list[str]) -> Prompt:
    """The judge prompt for one metric and row (a JudgeError when the row lacks what it needs)."""
    if metric in ("faithfulness", "context-recall", "context-precision") and not contexts:
        raise JudgeError(f"{metric}: no context (the target retrieved nothing and the row has no 'context')")
    about = answer if metric == "faithfulness" else " ".join([row.q, *reference_statements(row)])
    contexts = evidence(contexts, about)
    if metric == "faithfulness":
        said = claims(answer)
        user = (
            f"Context:\n{_numbered(contexts)}\n\nStatements:\n{_numbered(said)}\n\n"
            "For each statement, in order, answer 1 if the context states it or directly implies it, "
            "and 0 if the context does not support it.\n"
            f'Reply exactly as {{"verdicts": [<{len(said)} values, each 0 or 1>]}}.'
        )
        return Prompt(metric, user, len(said))
    if metric == "answer-relevancy":
        user = (
            f"Question:\n{row.q.strip()}\n\nAnswer:\n{answer.strip()}\n\n"
            "Rate how directly the answer addresses the question: 0 = off-topic or a refusal, "
            "1 = touches the topic but does not answer, 2 = answers part of it, 3 = answers it fully.\n"
            'Reply exactly as {"rating": <0, 1, 2 or 3>}.'
        )
    elif metric == "context-recall":
        statements = reference_statements(row)
        user = (
            f"Context:\n{_numbered(contexts)}\n\nReference statements:\n{_numbered(statements)}\n\n"
            "For each reference statement, in order, answer 1 if the context contains it (or states "
            "it in other words) and 0 if not.\n"
            f'Reply exactly as {{"verdicts": [<{len(statements)} values, each 0 or 1>]}}.'
        )
        return Prompt(metric, user, len(statements))
    elif metric == "context-precision":
        reference = "\n".join(reference_statements(row))
        known = f"\nReference answer:\n{reference}\n" if reference else ""
        user = (
            f"Question:\n{row.q.strip()}\n{known}\nPassages:\n{_numbered(contexts)}\n\n"
            "For each passage, in order, answer 1 if it is useful for answering the question and 0 if not.\n"
            f'Reply exactly as {{"verdicts": [<{len(contexts)} values, each 0 or 1>]}}.'
        )
        return Prompt(metric, user, len(contexts))
    else:  # pragma: no cover - metrics.resolve only lets the four through
        raise ValueError(metric)
    return Prompt(metric, user)


_OBJECT = re.compile(r"\{.*\}", re.S)


def _reply_object(reply: str) -> dict:
    found = _OBJECT.search(reply or "")
    if not found:
        raise JudgeError(f"judge reply is not JSON: {_clip(reply)!r}")
    try:
        value = json.loads(found.group(0))
    except ValueError:
        raise JudgeError(f"judge reply is not JSON: {_clip(reply)!r}") from None
    if not isinstance(value, dict):
        raise JudgeError(f"judge reply is not a JSON object: {_clip(reply)!r}")
    return value


def _clip(text: str, n: int = 120) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[:n] + "…"


def _int(obj: dict, key: str, reply: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise JudgeError(f"judge reply has no non-negative integer {key!r}: {_clip(reply)!r}")
    return int(value)


def _verdicts(obj: dict, n: int, reply: str) -> list[int]:
    values = obj.get("verdicts")
    if (
        not isinstance(values, list)
        or len(values) != n
        or any(v not in (0, 1) or isinstance(v, float) for v in values)
    ):
        raise JudgeError(f"judge reply needs 'verdicts': {n} values of 0 or 1: {_clip(reply)!r}")
    return [int(v) for v in values]


def average_precision(verdicts: list[int]) -> float:
    """Mean of precision@i over the ranks i holding a useful passage (0 when none is useful)."""
    useful, total = 0, 0.0
    for i, v in enumerate(verdicts, start=1):
        if v:
            useful += 1
            total += useful / i
    return total / useful if useful else 0.0


def score(prompt: Prompt, reply: str) -> float:
    """The score for one row from the judge's reply; a JudgeError when the reply cannot be used."""
    obj = _reply_object(reply)
    if prompt.metric == "answer-relevancy":
        rating = _int(obj, "rating", reply)
        if rating > 3:
            raise JudgeError(f"judge rating {rating} is not 0-3: {_clip(reply)!r}")
        return rating / 3
    verdicts = _verdicts(obj, prompt.n_items, reply)
    if prompt.metric in ("faithfulness", "context-recall"):
        return sum(verdicts) / len(verdicts)
    return average_precision(verdicts)
