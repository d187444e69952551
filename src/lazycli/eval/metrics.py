"""Metric definitions: names, what each needs from a row, and the deterministic scorers.

Every metric scores one row in [0, 1]. Names (see docs/eval.md for the exact definitions):

- answer: `exact`, `contains`, `all-facts`, `facts` (share of facts found), `regex`, `f1` (token F1),
  `citation` (the answer cites a given source as [n]), `cited-source` (it cites a listed source);
- retrieval (the target retrieves): `hit@K`, `recall@K` (source recall), `mrr`, `ndcg@K`;
- judged (`--judge`): `faithfulness`, `answer-relevancy`, `context-recall`, `context-precision`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from lazycli.errors import LzError, unknown

ANSWER, RETRIEVAL, JUDGED = "answer", "retrieval", "judged"


@dataclass
class Output:
    """What a target gave for one row: the answer text and, when it retrieves, its passages."""

    text: str
    contexts: list[dict] = field(default_factory=list)  # {"source", "text", "score"?}
    retrieves: bool = False
    cited: list[int] = field(default_factory=list)  # 1-based numbers of contexts the answer cites
    ttft_s: float | None = None
    latency_s: float | None = None
    usage: dict = field(default_factory=dict)
    cached: bool = False


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    needs: tuple[str, ...] = ()  # row fields; "answer|facts" means either
    k: int | None = None
    score: Callable | None = None  # (row, output) -> float, for answer and retrieval metrics


# --- text helpers ---------------------------------------------------------------------------------

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+", re.UNICODE)


def normalize(text: str) -> str:
    """Case-folded, NFKC (full-width → ASCII), markdown emphasis/backticks dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = re.sub(r"[`*]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """Words for alphabetic scripts, one token per character for Chinese/Japanese."""
    return _TOKEN.findall(normalize(text))


# --- answer metrics -------------------------------------------------------------------------------


def exact(row, out: Output) -> float:
    return float(normalize(out.text) == normalize(row.answer))


def contains(row, out: Output) -> float:
    return float(normalize(row.answer) in normalize(out.text))


def fact_share(row, out: Output) -> float:
    text = normalize(out.text)
    return sum(normalize(f) in text for f in row.facts) / len(row.facts)


def all_facts(row, out: Output) -> float:
    return float(fact_share(row, out) == 1.0)


def regex(row, out: Output) -> float:
    pattern = row.regex if row.regex is not None else row.answer
    return float(re.search(pattern, out.text, re.I | re.S) is not None)


def f1(row, out: Output) -> float:
    got, want = tokens(out.text), tokens(row.answer)
    if not got or not want:
        return float(got == want)
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def citation(row, out: Output) -> float:
    return float(bool(out.cited))


def cited_source(row, out: Output) -> float:
    files = [out.contexts[n - 1].get("source", "") for n in out.cited if 0 < n <= len(out.contexts)]
    return float(any(matches(f, s) for f in files for s in row.sources))


# --- retrieval metrics ----------------------------------------------------------------------------


def matches(source_path: str, listed: str) -> bool:
    """A retrieved file matches a listed source: same path, a path ending in it, or the same name."""
    listed = listed.replace("\\", "/").removeprefix("./")
    path = (source_path or "").replace("\\", "/")
    return path == listed or path.endswith("/" + listed) or PurePosixPath(path).name == listed


def first_ranks(out: Output, listed: list[str]) -> dict[str, int]:
    """Listed source → rank (1-based) of its first passage in the retrieved list."""
    found: dict[str, int] = {}
    for rank, passage in enumerate(out.contexts, start=1):
        for s in listed:
            if s not in found and matches(passage.get("source", ""), s):
                found[s] = rank
    return found


def hit_at(k: int):
    def score(row, out: Output) -> float:
        return float(any(r <= k for r in first_ranks(out, row.sources).values()))

    return score


def recall_at(k: int):
    def score(row, out: Output) -> float:
        return sum(r <= k for r in first_ranks(out, row.sources).values()) / len(row.sources)

    return score


def mrr(row, out: Output) -> float:
    ranks = first_ranks(out, row.sources)
    return 1.0 / min(ranks.values()) if ranks else 0.0


def ndcg_at(k: int):
    def score(row, out: Output) -> float:
        ranks = first_ranks(out, row.sources)
        dcg = sum(1.0 / math.log2(r + 1) for r in ranks.values() if r <= k)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(row.sources), k)))
        return dcg / ideal if ideal else 0.0

    return score


# --- the table ------------------------------------------------------------------------------------

FIXED: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("exact", ANSWER, ("answer",), score=exact),
        Metric("contains", ANSWER, ("answer",), score=contains),
        Metric("all-facts", ANSWER, ("facts",), score=all_facts),
        Metric("facts", ANSWER, ("facts",), score=fact_share),
        Metric("regex", ANSWER, ("regex|answer",), score=regex),
        Metric("f1", ANSWER, ("answer",), score=f1),
        Metric("citation", ANSWER, (), score=citation),
        Metric("cited-source", ANSWER, ("sources",), score=cited_source),
        Metric("mrr", RETRIEVAL, ("sources",), score=mrr),
        Metric("faithfulness", JUDGED),
        Metric("answer-relevancy", JUDGED),
        Metric("context-recall", JUDGED, ("answer|facts",)),
        Metric("context-precision", JUDGED),
    )
}
AT_K = {"hit": hit_at, "recall": recall_at, "ndcg": ndcg_at}
ALL_NAMES = [*FIXED, "hit@K", "recall@K", "ndcg@K"]


def resolve(name: str) -> Metric:
    """A metric by name (`_` and `-` alike, `token-f1` for `f1`); an unknown one is a user error."""
    key = name.strip().lower().replace("_", "-")
    key = {"token-f1": "f1", "allfacts": "all-facts", "em": "exact"}.get(key, key)
    if key in FIXED:
        return FIXED[key]
    base, at, k = key.partition("@")
    if at and base in AT_K:
        if not k.isdigit() or int(k) < 1:
            raise LzError(f"bad metric {name!r}: k must be a positive integer", hint=f"e.g. {base}@5")
        return Metric(f"{base}@{int(k)}", RETRIEVAL, ("sources",), k=int(k), score=AT_K[base](int(k)))
    candidates = [*FIXED, "hit@5", "recall@5", "ndcg@10"]
    raise unknown("metric", name, candidates, hint="metrics: " + ", ".join(ALL_NAMES))


def parse(spec: str | list[str] | None) -> list[Metric]:
    """`--metric a,b --metric c` → metrics, in order, without duplicates."""
    parts = [spec] if isinstance(spec, str) else list(spec or [])
    names = [p.strip() for part in parts for p in part.split(",") if p.strip()]
    out: dict[str, Metric] = {}
    for name in names:
        metric = resolve(name)
        out.setdefault(metric.name, metric)
    return list(out.values())


def check_rows(metrics: list[Metric], rows, path) -> None:
    """Every row has what each chosen metric needs; else `file:line` names the first that does not."""
    for metric in metrics:
        for need in metric.needs:
            fields = need.split("|")
            for row in rows:
                if not any(getattr(row, f) for f in fields):
                    wanted = " or ".join(repr(f) for f in fields)
                    raise LzError(
                        f"{path}:{row.line}: metric {metric.name!r} needs {wanted} in every row",
                        hint=f"add {wanted} to the row, or drop --metric {metric.name}",
                    )


def default_for(rows, retrieves: bool) -> list[Metric]:
    """Without --metric: what the data can score (facts → all-facts, answer → contains and f1,
    sources → retrieval metrics when the target retrieves)."""
    names = []
    if all(r.facts for r in rows):
        names += ["all-facts", "facts"]
    if all(r.answer for r in rows):
        names += ["contains", "f1"]
    if retrieves:
        names.append("citation")
        if all(r.sources for r in rows):
            names += ["hit@1", "hit@5", "recall@5", "mrr", "ndcg@10"]
    return parse(names)
