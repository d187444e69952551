"""`retrieve`: retrievers in parallel over node groups → fusion → optional rerank → result rows.

Retrievers: `cosine` (the index's embedder; exact search over the group's unit vectors), `bm25`
and `bm25_chinese` (the same mixed jieba + English-stemming BM25 index: LazyLLM's name for the
Chinese one is kept so its recipes read the same). Each (retriever, group) pair yields a ranked
list; the lists are fused; chunks that repeat the same passage (a fine chunk inside a coarse one
of the same file) are dropped after the first, so the k results are k different passages.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lazycli.console import note
from lazycli.errors import LzError, unknown
from lazycli.rag import backends, manifest, snapshot
from lazycli.rag import fusion as fusion_mod
from lazycli.rag.bm25 import tokenize_query

RETRIEVERS = ("cosine", "bm25", "bm25_chinese")
DEFAULT_RETRIEVERS = ("cosine", "bm25")
FETCH_COLUMNS = ["source", "group", "segment", "start", "end", "meta", "text"]


# The cosine retriever's vote in the default RRF, against bm25's 1. Chosen on the 59-question
# mixed set in benchmarks/data (bench_retrieval_quality.py) with all-MiniLM-L6-v2: at 0.2 the
# fusion scores hit@5 0.966 / MRR 0.878, bm25 alone 0.966 / 0.869; at 0.3 or more it falls below.
COSINE_WEIGHT = 0.2
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]+")


def _depth(topk: int) -> int:
    """How deep each retriever looks before fusion (fusion needs more than k from each)."""
    return max(50, topk * 5)


class Index:
    """An opened index, reusable across queries (the REPL, `lz rag eval`, sweeps)."""

    def __init__(self, name: str):
        self.name = name
        self.row = manifest.require(name)
        self.config = self.row["config"]
        self.dir = Path(self.row["path"])
        self.store = backends.open_store(self.dir / "store", self.config["store"])
        self.snap = self._snapshot()
        self.embed_spec = backends.spec_of(self.config["embed"])

    def _snapshot(self) -> snapshot.Snapshot:
        snap = snapshot.load(self.dir)
        if snap is not None and snap.matches(self.store):
            return snap
        if snap is not None and self.store.checkout(snap.version):
            note(
                f"index {self.name!r} is being updated (or its last run was cut short): using its last build"
            )
            return snap
        note(f"index {self.name!r}: building its search data in memory; re-run `lz index` to save it")
        return snapshot.build(self.store)

    @property
    def groups(self) -> list[str]:
        return sorted(self.snap.groups)

    def embed_query(self, query: str) -> np.ndarray:
        vector = np.asarray(backends.embedder(self.embed_spec).embed([query]), dtype=np.float32)[0]
        dim = self.snap.dim
        if dim is not None and len(vector) != dim:
            raise LzError(
                f"index {self.name!r} holds {dim}-dimensional vectors but its embedder "
                f"{self.config['embed']!r} now gives {len(vector)}",
                hint=f"rebuild it: `lz index PATH --name {self.name}` after `lz index rm {self.name}`",
            )
        return vector

    def search(
        self,
        query: str,
        *,
        retrievers=DEFAULT_RETRIEVERS,
        topk: int = 5,
        fusion: str = "rrf",
        rerank: str | None = None,
        groups=None,
        query_vector: np.ndarray | None = None,
        weights: dict | None = None,
    ) -> list[dict]:
        retrievers = _check_retrievers(retrievers)
        groups = self._check_groups(groups)
        if topk < 1:
            raise LzError(f"--topk must be at least 1, got {topk}")
        if fusion not in fusion_mod.METHODS:
            raise unknown("fusion method", fusion, fusion_mod.METHODS, hint="use rrf or weighted")
        if not groups:
            return []
        if weights is None and fusion == "rrf":
            weights = self.default_weights(query, retrievers)
        if "cosine" in retrievers and len(retrievers) > 1 and (weights or {}).get("cosine", 1.0) <= 0:
            retrievers = [r for r in retrievers if r != "cosine"]  # no vote: skip embedding the query
        if "cosine" in retrievers and query_vector is None:
            query_vector = self.embed_query(query)
        lists = self.ranked_lists(query, retrievers, groups, _depth(topk), query_vector)
        fused = fusion_mod.fuse(lists, fusion, weights) if len(lists) > 1 else next(iter(lists.values()), [])
        pool = topk * 4 if rerank else topk
        results = self._fetch_distinct(fused, pool, lists)
        if rerank:
            results = _rerank(rerank, query, results)
        return results[:topk]

    def default_weights(self, query: str, retrievers) -> dict[str, float]:
        """RRF weights per retriever: bm25 1; cosine COSINE_WEIGHT, or 0 for a mostly-Chinese
        query when the embedder is English-only (measured on benchmarks/data: any cosine vote
        on Chinese questions from all-MiniLM-L6-v2 lowered MRR, 0.92 → 0.76 at weight 0.2)."""
        weights = {"bm25": 1.0, "cosine": COSINE_WEIGHT}
        if "cosine" in retrievers and _mostly_cjk(query):
            from lazycli.contracts import KnowsLanguages

            embedder = backends.embedder(self.embed_spec)
            languages = embedder.languages if isinstance(embedder, KnowsLanguages) else None
            if languages and "zh" not in languages:
                weights["cosine"] = 0.0
        return weights

    def ranked_lists(self, query, retrievers, groups, depth, query_vector) -> dict[str, list]:
        """{"retriever@group": [(store offset, score), …]} computed in parallel."""
        tokens = tokenize_query(query) if any(r.startswith("bm25") for r in retrievers) else []
        kinds = list(dict.fromkeys("bm25" if r.startswith("bm25") else r for r in retrievers))
        jobs = [(kind, group) for kind in kinds for group in groups]

        def run(job):
            kind, group = job
            data = self.snap.groups[group]
            if kind == "cosine":
                hits = cosine_search(data, query_vector, depth)
            else:
                hits = data.bm25.top(tokens, depth)
            return f"{kind}@{group}", [(int(data.offsets[i]), score) for i, score in hits]

        if len(jobs) == 1:
            return dict([run(jobs[0])])
        with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
            return dict(pool.map(run, jobs))

    def _fetch_distinct(self, fused, want: int, lists) -> list[dict]:
        ranks = {
            name: {item: r for r, (item, _s) in enumerate(ranked, start=1)} for name, ranked in lists.items()
        }
        out: list[dict] = []
        cursor = 0
        while len(out) < want and cursor < len(fused):
            window = fused[cursor : cursor + max(want * 2, 10)]
            cursor += len(window)
            rows = self._rows([item for item, _ in window])
            for (item, score), row in zip(window, rows, strict=True):
                if any(_same_passage(row, kept) for kept in out):
                    continue
                out.append(_result(row, score, {n: r[item] for n, r in ranks.items() if item in r}))
                if len(out) >= want:
                    break
        return out

    def _rows(self, offsets: list[int]) -> list[dict]:
        """Result rows from the snapshot (no store opened), or from the store for an old one."""
        if self.snap.rows is not None:
            return self.snap.rows.take(offsets)
        return self.store.take(offsets, FETCH_COLUMNS)

    def _check_groups(self, groups) -> list[str]:
        if not groups:
            return self.groups
        for g in groups:
            if g not in self.snap.groups:
                raise unknown(
                    "node group", g, self.groups, hint=f"index {self.name!r} has: {', '.join(self.groups)}"
                )
        return list(dict.fromkeys(groups))


def _mostly_cjk(text: str) -> bool:
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    return cjk > 0 and cjk >= latin


def _check_retrievers(retrievers) -> list[str]:
    names = [r.strip() for r in (retrievers or DEFAULT_RETRIEVERS) if r.strip()]
    for r in names:
        if r not in RETRIEVERS:
            raise unknown("retriever", r, RETRIEVERS, hint="choose from " + ", ".join(RETRIEVERS))
    return names


def cosine_search(data, query: np.ndarray, k: int, exact: bool = False) -> list[tuple[int, float]]:
    """Top-k rows of a group by cosine: exact, or over the IVF lists nearest the query."""
    query = np.asarray(query, dtype=np.float32)
    if data.vectors is None or len(data.vectors) == 0:
        return []
    if data.ivf is None or exact:
        return _top(data.vectors @ query, np.arange(len(data.vectors)), k)
    ranges = data.ivf.probe(query)
    # Each probed list is a contiguous block of rows: one mat-vec per block, one selection overall.
    scores = np.concatenate([data.vectors[a:b] @ query for a, b in ranges])
    rows = np.concatenate([np.arange(a, b) for a, b in ranges])
    return _top(scores, rows, k)


def _top(scores: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, scores.size)
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return list(zip(rows[idx].tolist(), scores[idx].tolist(), strict=True))


def _same_passage(a: dict, b: dict) -> bool:
    """Two chunks of one file segment overlapping by at least half of the shorter one."""
    if a["source"] != b["source"] or a["segment"] != b["segment"]:
        return False
    overlap = min(a["end"], b["end"]) - max(a["start"], b["start"])
    shorter = min(a["end"] - a["start"], b["end"] - b["start"])
    return shorter > 0 and overlap >= shorter / 2


def _result(row: dict, score: float, ranks: dict) -> dict:
    meta = json.loads(row.get("meta") or "{}")
    return {
        "source": row["source"],
        "file": Path(row["source"]).name,
        "score": round(float(score), 6),
        "text": row["text"],
        "group": row["group"],
        "segment": row["segment"],
        "start": row["start"],
        "end": row["end"],
        **({"meta": meta} if meta else {}),
        "ranks": ranks,
    }


def _rerank(spec: str, query: str, results: list[dict]) -> list[dict]:
    scores = backends.reranker(spec).rerank(query, [r["text"] for r in results])
    for r, s in zip(results, scores, strict=True):
        r["fusion_score"] = r["score"]
        r["score"] = round(float(s), 6)
    return sorted(results, key=lambda r: -r["score"])


def retrieve(
    index: str,
    query: str,
    *,
    retrievers=DEFAULT_RETRIEVERS,
    topk: int = 5,
    fusion: str = "rrf",
    rerank: str | None = None,
    groups=None,
) -> list[dict]:
    """Top-k passages of `index` for `query`: dicts with source, score, text, group, …"""
    return Index(index).search(
        query, retrievers=retrievers, topk=topk, fusion=fusion, rerank=rerank, groups=groups
    )
