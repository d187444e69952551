"""Aggregates with 95% confidence intervals, and the report in text, JSON, CSV or Markdown.

Intervals: for a 0/1 metric the Wilson score interval; for a graded one the normal approximation
mean ± 1.96·s/√n, clipped to [0, 1]. Rows whose metric errored are left out and counted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

Z = 1.96


@dataclass
class Aggregate:
    metric: str
    n: int
    mean: float | None
    low: float | None
    high: float | None
    errors: int

    def as_dict(self) -> dict:
        def r(v):
            return None if v is None else round(v, 4)

        return {
            "metric": self.metric,
            "n": self.n,
            "mean": r(self.mean),
            "ci95": [r(self.low), r(self.high)],
            "errors": self.errors,
        }


def interval(values: list[float]) -> tuple[float | None, float | None, float | None]:
    n = len(values)
    if n == 0:
        return None, None, None
    mean = sum(values) / n
    if all(v in (0.0, 1.0) for v in values):
        denom = 1 + Z * Z / n
        centre = (mean + Z * Z / (2 * n)) / denom
        half = Z * math.sqrt(mean * (1 - mean) / n + Z * Z / (4 * n * n)) / denom
        return mean, max(0.0, centre - half), min(1.0, centre + half)
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z * sd / math.sqrt(n)
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def aggregate(results, metric_names: list[str]) -> list[Aggregate]:
    out = []
    for name in metric_names:
        values = [r.scores[name] for r in results if name in r.scores]
        errors = sum(1 for r in results if name in r.errors or "target" in r.errors)
        mean, low, high = interval(values)
        out.append(Aggregate(name, len(values), mean, low, high, errors))
    return out


def timing(results) -> dict:
    ttft = [r.output.ttft_s for r in results if r.output and r.output.ttft_s is not None]
    latency = [r.output.latency_s for r in results if r.output and r.output.latency_s is not None]

    def mean(xs):
        return round(sum(xs) / len(xs), 4) if xs else None

    return {"ttft_s": mean(ttft), "latency_s": mean(latency)}


@dataclass
class Report:
    target: str
    data: str
    metrics: list[str]
    results: list
    aggregates: list[Aggregate]
    calls: int
    cache_hits: int
    judge: str | None = None

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "data": self.data,
            "judge": self.judge,
            "n": len(self.results),
            "metrics": self.metrics,
            "aggregates": {a.metric: a.as_dict() for a in self.aggregates},
            "timing": timing(self.results),
            "model_calls": self.calls,
            "cache_hits": self.cache_hits,
            "rows": [r.as_dict() for r in self.results],
        }

    def errors(self) -> int:
        return sum(1 for r in self.results if r.errors)

    def mean(self, metric: str) -> float | None:
        return next((a.mean for a in self.aggregates if a.metric == metric), None)


def _cell(value) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _clip(text: str, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["line", "q", "output", *report.metrics, "ttft_s", "latency_s", "errors"])
    for r in report.results:
        o = r.output
        writer.writerow(
            [
                r.row.line,
                r.row.q,
                o.text if o else "",
                *[_cell(r.scores.get(m)) for m in report.metrics],
                _cell(o.ttft_s if o else None),
                _cell(o.latency_s if o else None),
                "; ".join(f"{k}: {v}" for k, v in r.errors.items()),
            ]
        )
    return buf.getvalue()


def to_markdown(report: Report) -> str:
    lines = [f"# lz eval: {report.target} on {report.data}", ""]
    lines += ["| metric | mean | 95% CI | n | errors |", "|---|---|---|---|---|"]
    for a in report.aggregates:
        lines.append(
            f"| {a.metric} | {_cell(a.mean)} | {_cell(a.low)}–{_cell(a.high)} | {a.n} | {a.errors} |"
        )
    t = timing(report.results)
    lines += [
        "",
        f"mean time to first token {_cell(t['ttft_s'])} s, latency {_cell(t['latency_s'])} s; "
        f"model calls {report.calls}, cache hits {report.cache_hits}",
        "",
    ]
    lines += [
        "| line | q | " + " | ".join(report.metrics) + " | output |",
        "|---" * (len(report.metrics) + 3) + "|",
    ]
    for r in report.results:
        scores = " | ".join(_cell(r.scores.get(m)) if m not in r.errors else "error" for m in report.metrics)
        text = r.output.text if r.output else "error: " + r.errors.get("target", "")
        lines.append(
            f"| {r.row.line} | {_clip(r.row.q, 60)} | {scores} | {_clip(text, 80).replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def to_text(report: Report, width: int = 100) -> str:
    lines = []
    for r in report.results:
        scores = "  ".join(
            f"{m} {_cell(r.scores[m])}" if m in r.scores else f"{m} ERROR" for m in report.metrics
        )
        text = r.output.text if r.output else ""
        lines.append(f"{r.row.line:>4}  {scores}  {_clip(r.row.q, 50)!r} → {_clip(text, 60)!r}")
        for where, message in r.errors.items():
            lines.append(f"      error ({where}): {message}")
    lines.append("")
    lines.append(f"{'metric':<20} {'mean':>6}  {'95% CI':<13} {'n':>4} {'errors':>6}")
    for a in report.aggregates:
        ci = f"{_cell(a.low)}–{_cell(a.high)}" if a.mean is not None else ""
        lines.append(f"{a.metric:<20} {_cell(a.mean):>6}  {ci:<13} {a.n:>4} {a.errors:>6}")
    t = timing(report.results)
    ttft = "n/a (not streamed)" if t["ttft_s"] is None else f"{_cell(t['ttft_s'])} s"
    lines.append(
        f"{len(report.results)} rows; time to first token {ttft}, latency "
        f"{_cell(t['latency_s'])} s; model calls {report.calls}, cache hits {report.cache_hits}"
    )
    return "\n".join(lines) + "\n"


FORMATS = {".json": to_json, ".csv": to_csv, ".md": to_markdown, ".txt": to_text}


def write_atomic(path: Path, text: str) -> None:
    """Written whole or not at all: a temporary file beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
