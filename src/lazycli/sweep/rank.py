"""Rank a sweep's configurations and print them: text table, JSON, CSV, Markdown.

A configuration's score on a metric is the mean over its finished repeats (± the sample standard
deviation). Higher is better for every `lz eval` metric. Configurations are ordered by the first
metric, ties broken by the next metrics, then by the shorter mean time; those with no finished
trial come last, with their error.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from lazycli.sweep import store


@dataclass
class Ranked:
    rank: int
    config_hash: str
    params: dict[str, Any]
    done: int
    failed: int
    scores: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # mean, std
    duration_s: float | None = None
    tokens: int = 0
    error: str | None = None
    recipe: str | None = None

    def mean(self, metric: str) -> float | None:
        return self.scores.get(metric, (None, None))[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "config_hash": self.config_hash,
            "params": self.params,
            "done": self.done,
            "failed": self.failed,
            "metrics": {k: {"mean": _r(m), "std": _r(s)} for k, (m, s) in self.scores.items()},
            "duration_s": _r(self.duration_s),
            "tokens": self.tokens,
            "error": self.error,
            "recipe": self.recipe,
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def rank(trials: list[store.Trial], metrics: list[str]) -> list[Ranked]:
    groups: dict[str, list[store.Trial]] = {}
    for t in trials:
        groups.setdefault(t.config_hash, []).append(t)
    out = []
    for config_hash, group in groups.items():
        done = [t for t in group if t.status == store.DONE]
        failed = [t for t in group if t.status == store.FAILED]
        scores = {}
        for metric in metrics:
            values = [t.metrics[metric] for t in done if t.metrics.get(metric) is not None]
            scores[metric] = _mean_std(values)
        durations = [t.duration_s for t in done if t.duration_s is not None]
        out.append(
            Ranked(
                rank=0,
                config_hash=config_hash,
                params=group[0].params,
                done=len(done),
                failed=len(failed),
                scores=scores,
                duration_s=sum(durations) / len(durations) if durations else None,
                tokens=sum(t.tokens or 0 for t in group),
                error=next((t.error for t in failed if t.error), None),
                recipe=next((t.recipe for t in done if t.recipe), None),
            )
        )

    def key(r: Ranked):
        means = [r.mean(m) for m in metrics]
        return (
            r.done == 0,
            *[-(m if m is not None else -math.inf) for m in means],
            r.duration_s if r.duration_s is not None else math.inf,
        )

    out.sort(key=key)
    for n, r in enumerate(out, 1):
        r.rank = n
    return out


def short_names(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each key that no other key ends with (topk, 0.retriever)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            name = ".".join(parts[-n:])
            if not any(o != key and (o == name or o.endswith("." + name)) for o in keys):
                break
        out[key] = name
    return out


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _score(mean: float | None, std: float | None, repeats: bool) -> str:
    if mean is None:
        return "-"
    return f"{mean:.3f} ± {std:.3f}" if repeats else f"{mean:.3f}"


def table_rows(
    ranking: list[Ranked], keys: list[str], metrics: list[str]
) -> tuple[list[str], list[list[str]]]:
    names = short_names(keys)
    repeats = any(r.done > 1 for r in ranking)
    header = ["#", *[names[k] for k in keys], *metrics, "n", "time s", "tokens", "error"]
    rows = []
    for r in ranking:
        rows.append(
            [
                str(r.rank),
                *[_cell(r.params.get(k, "")) for k in keys],
                *[_score(*r.scores.get(m, (None, None)), repeats) for m in metrics],
                f"{r.done}" + (f"+{r.failed} failed" if r.failed else ""),
                "-" if r.duration_s is None else f"{r.duration_s:.2f}",
                str(r.tokens),
                (r.error or "")[:60],
            ]
        )
    return header, rows


def to_text(ranking: list[Ranked], keys: list[str], metrics: list[str], title: str) -> str:
    header, rows = table_rows(ranking, keys, metrics)
    if not any(row[-1] for row in rows):
        header, rows = header[:-1], [row[:-1] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(ranking: list[Ranked], keys: list[str], metrics: list[str], title: str) -> str:
    header, rows = table_rows(ranking, keys, metrics)

    def esc(c: str) -> str:
        return c.replace("|", "\\|").replace("\n", " ")

    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(ranking: list[Ranked], keys: list[str], metrics: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        ["rank", *keys, *[f"{m} {s}" for m in metrics for s in ("mean", "std")], "done", "failed"]
        + ["duration_s", "tokens", "error", "config_hash"]
    )
    for r in ranking:
        writer.writerow(
            [r.rank, *[_cell(r.params.get(k, "")) for k in keys]]
            + [_r(v) if v is not None else "" for m in metrics for v in r.scores.get(m, (None, None))]
            + [r.done, r.failed, _r(r.duration_s) or "", r.tokens, r.error or "", r.config_hash]
        )
    return buf.getvalue()
