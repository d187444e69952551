"""Run a target over eval rows with bounded concurrency, score every row, aggregate.

A row's target failure or a judge reply that does not parse is an error for that row (kept in the
report, left out of the means). A target or judge that cannot be reached stops the run: an LzError,
no report; what was answered so far is in the cache, so the rerun resumes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lazycli.errors import LzError
from lazycli.eval import judge as judging
from lazycli.eval.cache import CallCache
from lazycli.eval.metrics import JUDGED, RETRIEVAL, Metric, Output
from lazycli.eval.targets import CachedClient, Fatal


@dataclass
class RowResult:
    row: object
    output: Output | None = None
    scores: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # metric (or "target") → message

    def as_dict(self) -> dict:
        out = self.row.as_dict()
        if self.output is not None:
            o = self.output
            out |= {
                "output": o.text,
                "sources": [c["source"] for c in o.contexts],
                "cited": o.cited,
                "ttft_s": o.ttft_s,
                "latency_s": o.latency_s,
                "cached": o.cached,
            }
        out["scores"] = {k: round(v, 4) for k, v in self.scores.items()}
        if self.errors:
            out["errors"] = self.errors
        return out


class Judge:
    """A judge target's cached calls and the parsing of its replies."""

    def __init__(self, target: str, cache: CallCache) -> None:
        from lazycli import targets as client_targets

        self.target = target
        self.client = CachedClient(target, cache)
        # llama.cpp (what lz deploys locally) turns a response_format schema into a grammar; a
        # provider's API may refuse the extra key, so it gets the prompt alone.
        self.constrained = client_targets.kind_of(target) in ("deployment", "model", "url")

    def params(self, prompt: judging.Prompt) -> dict:
        params = dict(judging.PARAMS)
        if self.constrained:
            params["response_format"] = prompt.response_format()
        return params

    def score(self, metric: str, row, output: Output) -> float:
        contexts = [c["text"] for c in output.contexts] or list(row.context)
        prompt = judging.build(metric, row, output.text, contexts)
        if metric == "faithfulness" and prompt.n_items == 0:
            return 1.0  # no claim (an empty answer): nothing unsupported was said; no call

        def parse(value: dict) -> float:
            return judging.score(prompt, value["text"])

        # A reply that does not parse raises before it is stored: the rerun asks again.
        value, _cached = self.client.call(prompt.messages(), self.params(prompt), check=parse)
        return parse(value)


def score_row(target, row, metrics: list[Metric], judge: Judge | None) -> RowResult:
    result = RowResult(row)
    try:
        result.output = target.run(row)
    except (Fatal, KeyboardInterrupt):
        raise
    except LzError as exc:
        result.errors["target"] = exc.message
        return result
    for metric in metrics:
        try:
            if metric.kind == JUDGED:
                result.scores[metric.name] = judge.score(metric.name, row, result.output)
            else:
                result.scores[metric.name] = float(metric.score(row, result.output))
        except judging.JudgeError as exc:
            result.errors[metric.name] = str(exc)
        except LzError as exc:
            result.errors[metric.name] = exc.message
    return result


def run(
    target, rows, metrics: list[Metric], *, judge: Judge | None = None, jobs: int = 1, progress=None
) -> list[RowResult]:
    """Every row scored, in the data's order; `progress(done)` is called as rows finish."""
    if any(m.kind == RETRIEVAL for m in metrics) and not target.retrieves:
        names = ", ".join(m.name for m in metrics if m.kind == RETRIEVAL)
        raise LzError(
            f"{target.label} does not retrieve, so {names} cannot be measured",
            hint="evaluate a recipe with retrievers, or give --index NAME",
        )
    if any(m.kind == JUDGED for m in metrics) and judge is None:
        names = ", ".join(m.name for m in metrics if m.kind == JUDGED)
        raise LzError(
            f"{names} need a judge", hint="add --judge TARGET (a deployment, provider:model or URL)"
        )
    done = 0
    lock = threading.Lock()

    def one(row) -> RowResult:
        nonlocal done
        result = score_row(target, row, metrics, judge)
        with lock:
            done += 1
            if progress:
                progress(done)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(one, rows))
    except Fatal as exc:
        raise LzError(
            str(exc), hint="answers so far are cached: run the same command again to resume"
        ) from None
