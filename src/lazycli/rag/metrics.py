"""Retrieval metrics for `lz rag eval`: recall@k (hit rate), MRR and nDCG@10 over a QA set.

A QA record is `{"q": question, "sources": [file names]}`. A retrieved chunk is a hit when its
file matches a listed source: the same file name, or a path ending in the listed relative path.
Per question, with R the set of listed sources:
- recall@k: share of R found among the files of the top-k chunks (with one source per question,
  the hit rate: 1 if any top-k chunk is from it);
- MRR: 1 / rank of the first hit (0 if none in the retrieved list);
- nDCG@10: binary gain for the first chunk of each listed source, 1/log2(rank+1), over the ideal
  ranking of min(|R|, 10) hits.
Every metric is the mean over questions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lazycli.errors import LzError

DEFAULT_KS = (1, 5, 10)


def load_qa(path: Path) -> list[dict]:
    """A JSONL file of {"q", "sources"} records; a bad line is a user error naming its number."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LzError(
            f"QA file {path} does not exist", hint='one JSON object per line: {"q": …, "sources": […]}'
        ) from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise LzError(f"bad JSON in {path}:{number}: {exc}") from None
        q, sources = (record.get("q") or record.get("question")), record.get("sources")
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(q, str) or not q.strip() or not isinstance(sources, list) or not sources:
            raise LzError(
                f'{path}:{number} needs a non-empty "q" and a "sources" list',
                hint='e.g. {"q": "…", "sources": ["a.md"]}',
            )
        records.append({"q": q, "sources": [str(s) for s in sources]})
    if not records:
        raise LzError(f"QA file {path} has no records")
    return records


def matches(source_path: str, listed: str) -> bool:
    listed = listed.replace("\\", "/").lstrip("./")
    path = source_path.replace("\\", "/")
    return path == listed or path.endswith("/" + listed) or Path(path).name == listed


def _first_ranks(results: list[dict], listed: list[str]) -> dict[str, int]:
    """Listed source → rank (1-based) of its first chunk in the results."""
    found: dict[str, int] = {}
    for rank, r in enumerate(results, start=1):
        for s in listed:
            if s not in found and matches(r["source"], s):
                found[s] = rank
    return found


def score_one(results: list[dict], listed: list[str], ks) -> dict[str, float]:
    ranks = _first_ranks(results, listed)
    out = {f"recall@{k}": sum(1 for r in ranks.values() if r <= k) / len(listed) for k in ks}
    out["mrr"] = 1.0 / min(ranks.values()) if ranks else 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in ranks.values() if r <= 10)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(listed), 10)))
    out["ndcg@10"] = dcg / ideal if ideal else 0.0
    return out


def evaluate(index, qa: list[dict], *, ks=DEFAULT_KS, **search_kw) -> dict:
    from lazycli.rag.retrieval import Index

    ks = sorted({int(k) for k in ks} | {1, 5, 10})
    opened = index if isinstance(index, Index) else Index(index)
    depth = max(ks)
    totals: dict[str, float] = {}
    for record in qa:
        results = opened.search(record["q"], topk=depth, **search_kw)
        for key, value in score_one(results, record["sources"], ks).items():
            totals[key] = totals.get(key, 0.0) + value
    n = len(qa)
    out: dict = {"n": n}
    out.update({key: round(value / n, 4) for key, value in totals.items()})
    return out
