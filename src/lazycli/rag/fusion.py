"""Fusing ranked lists from several retrievers (and node groups) into one ranking.

`rrf`: reciprocal rank fusion, Σ 1 / (k + rank) with k = 60 (Cormack et al.): needs no score
calibration, so cosine similarities and BM25 scores mix safely. `weighted`: each list's scores
min-max normalised to [0, 1], then summed with per-retriever weights (default 1 each).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

RRF_K = 60
METHODS = ("rrf", "weighted")

Ranked = Sequence[tuple[Hashable, float]]  # (item, score), best first


def rrf(lists: Mapping[str, Ranked], k: int = RRF_K) -> list[tuple[Hashable, float]]:
    fused: dict[Hashable, float] = {}
    for ranked in lists.values():
        for rank, (item, _score) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


def weighted(
    lists: Mapping[str, Ranked], weights: Mapping[str, float] | None = None
) -> list[tuple[Hashable, float]]:
    fused: dict[Hashable, float] = {}
    for name, ranked in lists.items():
        if not ranked:
            continue
        weight = (weights or {}).get(name.split("@", 1)[0], 1.0)
        scores = [s for _, s in ranked]
        low, high = min(scores), max(scores)
        for item, score in ranked:
            norm = 1.0 if high == low else (score - low) / (high - low)
            fused[item] = fused.get(item, 0.0) + weight * norm
    return sorted(fused.items(), key=lambda kv: -kv[1])


def fuse(lists: Mapping[str, Ranked], method: str = "rrf", weights: Mapping[str, float] | None = None):
    if method == "rrf":
        return rrf(lists)
    if method == "weighted":
        return weighted(lists, weights)
    from lazycli.errors import unknown

    raise unknown("fusion method", method, METHODS, hint="use rrf or weighted")
