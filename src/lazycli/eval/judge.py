"""LLM-judged metrics: the prompts (shown by `--show-prompts`) and the strict parsing of replies.

The judge never gives the score itself: it answers counts or per-item verdicts as JSON, and lz
computes the score from them, so a definition is the same whichever model judges. A reply that is
not that JSON, or whose numbers do not add up, is an error for that row (never a 0 or a NaN).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SYSTEM = "You are a strict grader. Reply with one JSON object and nothing else."
PARAMS = {"temperature": 0.0, "max_tokens": 300}


class JudgeError(Exception):
    """The judge's reply for one row could not be used."""


@dataclass
class Prompt:
    metric: str
    user: str

    def messages(self) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": self.user}]


def _numbered(items: list[str]) -> str:
    return "\n".join(f"[{n}] {text.strip()}" for n, text in enumerate(items, start=1))


def reference_statements(row) -> list[str]:
    return list(row.facts) if row.facts else [row.answer] if row.answer else []


def build(metric: str, row, answer: str, contexts: list[str]) -> Prompt:
    """The judge prompt for one metric and row (a JudgeError when the row lacks what it needs)."""
    if metric in ("faithfulness", "context-recall", "context-precision") and not contexts:
        raise JudgeError(f"{metric}: no context (the target retrieved nothing and the row has no 'context')")
    if metric == "faithfulness":
        user = (
            f"Context:\n{_numbered(contexts)}\n\nAnswer:\n{answer.strip()}\n\n"
            "Split the answer into its factual claims. Count the claims, and count how many of them "
            "the context states or directly implies.\n"
            'Reply exactly as {"claims": <integer>, "supported": <integer>}.'
        )
    elif metric == "answer-relevancy":
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
    elif metric == "context-precision":
        reference = "\n".join(reference_statements(row))
        known = f"\nReference answer:\n{reference}\n" if reference else ""
        user = (
            f"Question:\n{row.q.strip()}\n{known}\nPassages:\n{_numbered(contexts)}\n\n"
            "For each passage, in order, answer 1 if it is useful for answering the question and 0 if not.\n"
            f'Reply exactly as {{"verdicts": [<{len(contexts)} values, each 0 or 1>]}}.'
        )
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


def score(prompt: Prompt, reply: str, *, n_items: int) -> float:
    """The score for one row from the judge's reply; a JudgeError when the reply cannot be used."""
    obj = _reply_object(reply)
    if prompt.metric == "faithfulness":
        claims, supported = _int(obj, "claims", reply), _int(obj, "supported", reply)
        if supported > claims:
            raise JudgeError(f"judge reply counts more supported claims than claims: {_clip(reply)!r}")
        return 1.0 if claims == 0 else supported / claims  # no claim: nothing unsupported was said
    if prompt.metric == "answer-relevancy":
        rating = _int(obj, "rating", reply)
        if rating > 3:
            raise JudgeError(f"judge rating {rating} is not 0-3: {_clip(reply)!r}")
        return rating / 3
    verdicts = _verdicts(obj, n_items, reply)
    if prompt.metric == "context-recall":
        return sum(verdicts) / len(verdicts)
    return average_precision(verdicts)
