"""RAG: documents → node groups of chunks → embeddings + BM25 → fused retrieval → cited answers.

Other parts call only these (heavy modules are imported when called):

    build_index(paths, name, *, embed=None, groups=None, include=(), exclude=(), progress=True) -> dict
    retrieve(index, query, *, retrievers=("cosine", "bm25"), topk=5, fusion="rrf", rerank=None,
             groups=None) -> list[dict]       # {"source", "file", "score", "text", "group", ...}
    answer(index, question, *, llm=None, stream=True, **kw)   # AnswerStream, or the result dict
    evaluate(index, qa, *, ks=(1, 5, 10), **retrieve_kw) -> dict   # n, hit@k, recall@k, mrr, ndcg@10
    Index(name)                                # an opened index for many queries (REPL, sweeps)
"""

from __future__ import annotations


def build_index(paths, name, *, embed=None, groups=None, include=(), exclude=(), progress=True, **kw) -> dict:
    from lazycli.rag.indexer import build_index as _build

    return _build(
        paths, name, embed=embed, groups=groups, include=include, exclude=exclude, progress=progress, **kw
    )


def retrieve(index, query, *, retrievers=("cosine", "bm25"), topk=5, fusion="rrf", rerank=None, groups=None):
    from lazycli.rag.retrieval import retrieve as _retrieve

    return _retrieve(
        index, query, retrievers=retrievers, topk=topk, fusion=fusion, rerank=rerank, groups=groups
    )


def answer(index, question, *, llm=None, stream=True, **kw):
    from lazycli.rag.answering import answer as _answer

    return _answer(index, question, llm=llm, stream=stream, **kw)


def evaluate(index, qa, *, ks=(1, 5, 10), **kw) -> dict:
    """Retrieval metrics over `qa` ({"q", "sources"} dicts), as `lz rag eval --json` prints them:
    hit@k and source recall@k for each k, mrr, ndcg@10 (lazycli.eval computes them)."""
    from lazycli import eval as lzeval
    from lazycli.eval import data, metrics, targets

    rows = [data.parse_row(record, f"qa[{n}]", n) for n, record in enumerate(qa, start=1)]
    names = [f"{kind}@{k}" for k in sorted(set(ks)) for kind in ("hit", "recall")] + ["mrr", "ndcg@10"]
    chosen = metrics.parse(names)
    metrics.check_rows(chosen, rows, "qa")
    target = targets.RetrievalTarget(getattr(index, "name", index), topk=max([*ks, 10]), search=kw)
    report = lzeval.evaluate(target, rows, chosen, cache=lzeval.CallCache(enabled=False))
    return {"n": len(rows)} | {a.metric: round(a.mean, 4) for a in report.aggregates if a.mean is not None}


def __getattr__(name):
    if name == "Index":
        from lazycli.rag.retrieval import Index

        return Index
    raise AttributeError(name)


__all__ = ["Index", "answer", "build_index", "evaluate", "retrieve"]
