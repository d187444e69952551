"""A deterministic stand-in for an app's answering step: how good the answer is depends on the
swept `style`, how long it takes on `delay`, and `fail` makes it raise (a trial that fails)."""

from __future__ import annotations

import time

FACTS = {
    "What is the capital of France?": "Paris",
    "Who wrote Hamlet?": "Shakespeare",
}


def answer(question: str, style: str = "short", delay: float = 0.0, fail: bool = False) -> str:
    time.sleep(delay)
    if fail:
        raise RuntimeError("the toy app was asked to fail")
    fact = FACTS.get(question, "")
    if style == "long":
        return f"The answer is {fact}."
    if style == "short":  # right for the first question only
        return fact if question.startswith("What") else "I do not know."
    return "No idea."
