"""BM25 over chunks: a mixed Chinese/English tokenizer and a precomputed sparse scorer.

Tokenizer: CJK runs are cut by jieba (search mode, so both words and their parts match); Latin
runs are lower-cased, stop words dropped, and stemmed with the Snowball English stemmer
(PyStemmer, when installed). `bm25` and `bm25_chinese` retrievers share this tokenizer, so a
mixed corpus needs one index per node group.

Scorer: Okapi BM25 (k1=1.5, b=0.75). Two idf variants share the code: `okapi` is rank_bm25's
exact formula (log((N-n+0.5)/(n+0.5)), negatives floored at epsilon × mean idf), so its top-10
equals `rank_bm25.BM25Okapi.get_scores`'s; `lucene` (the default) is log(1 + (N-n+0.5)/(n+0.5)),
always positive. The default is lucene because Okapi's idf is 0 for a word in half the documents:
on a small index (a handful of files, e.g. one coarse chunk per file) it scores most words 0 and
BM25 finds nothing. On large corpora both rank alike except for very common words. Every (term, doc)
weight is computed once at build time into a CSR matrix (rows = terms), so a query is a sum of a
few sparse rows: no per-document work at query time. Persisted as .npy arrays + a vocab JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75
EPSILON = 0.25

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# A compact English stop-word list (the usual function words); Chinese function characters that
# jieba leaves as single tokens are dropped as well.
_EN_STOP_TEXT = (
    "a about above after again against all am an and any are as at be because been before being "
    "below between both but by can could did do does doing down during each few for from further had "
    "has have having he her here hers herself him himself his how i if in into is it its itself just "
    "me more most my myself no nor not now of off on once only or other our ours ourselves out over "
    "own same she should so some such than that the their theirs them themselves then there these "
    "they this those through to too under until up very was we were what when where which while who "
    "whom why will with would you your yours yourself yourselves"
)
EN_STOPWORDS = frozenset(_EN_STOP_TEXT.split())
ZH_STOPWORDS = frozenset("的了是在和与及或也都就而把被将对从以之其这那个上下中有我你他她它们吗呢吧啊")


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # stemming is an improvement, not a requirement
        return None


def _import_jieba():
    """jieba, imported without pkg_resources: its `_compat` imports it only to find dict.txt (a
    plain file next to it), and that import cost ~0.5 s CPU of every cold query here."""
    import logging
    import sys

    if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes its import fail
        try:
            import jieba
        finally:
            del sys.modules["pkg_resources"]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


@lru_cache(maxsize=1)
def _jieba():
    jieba = _import_jieba()
    jieba.initialize()
    return jieba


class QueryCutter:
    """jieba's cut_for_search for short texts without loading its whole dictionary (~1 s CPU).

    jieba only ever looks up substrings of the text it cuts (the DAG of prefixes, the route, the
    2- and 3-grams of long words). So the dictionary (words, the zero-frequency prefixes jieba
    adds, the total) is copied once into an SQLite table, and a query fetches just the entries for
    its own substrings into a plain dict that a `jieba.Tokenizer` then uses: the same algorithm on
    the same numbers, so the same tokens (a test compares it with jieba on real text).
    """

    def __init__(self, path: Path):
        import sqlite3

        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        self.total = int(meta["total"])
        self.longest = int(meta["longest"])

    @staticmethod
    def build(path: Path) -> None:
        """Write the dictionary table from the loaded jieba (atomically: temp file, rename)."""
        import os
        import sqlite3

        jieba = _jieba()
        freq = jieba.dt.FREQ
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        with db:
            db.execute("CREATE TABLE freq (word TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.executemany("INSERT INTO freq VALUES (?, ?)", freq.items())
            meta = {"total": jieba.dt.total, "longest": max(map(len, freq)), "jieba": jieba.__version__}
            db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        db.close()
        os.replace(tmp, path)

    def cut_for_search(self, text: str) -> list[str]:
        jieba = _import_jieba()
        subs = {
            text[i:j] for i in range(len(text)) for j in range(i + 1, min(len(text), i + self.longest) + 1)
        }
        freq: dict[str, int] = {}
        subs_list = list(subs)
        for start in range(0, len(subs_list), 500):  # SQLite's host-parameter limit
            chunk = subs_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            freq.update(self.db.execute(f"SELECT word, n FROM freq WHERE word IN ({marks})", chunk))
        cutter = jieba.Tokenizer()
        cutter.FREQ, cutter.total, cutter.initialized = freq, self.total, True
        return list(cutter.cut_for_search(text))


def _query_cutter_path() -> Path:
    """Keyed by jieba's version and its dictionary's size: another jieba gets its own table."""
    import os

    from lazycli import paths

    jieba = _import_jieba()
    size = os.stat(os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME)).st_size
    return paths.cache_dir() / "jieba" / f"dict-{jieba.__version__}-{size}.sqlite"


def prepare_query_cutter() -> None:
    """Write the query dictionary now if this process loaded jieba anyway (the indexer, after
    cutting Chinese text), so the first cold query does not pay for it."""
    if _jieba.cache_info().currsize and not _query_cutter_path().exists():
        with contextlib.suppress(OSError):  # a read-only cache: queries load the full dictionary
            QueryCutter.build(_query_cutter_path())


@lru_cache(maxsize=1)
def _query_cutter() -> QueryCutter | None:
    path = _query_cutter_path()
    try:
        if not path.exists():
            QueryCutter.build(path)
        return QueryCutter(path)
    except OSError:  # a read-only cache dir: the full dictionary still works
        return None


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    stemmer = _stemmer()
    return stemmer.stemWord(word) if stemmer else word


def _latin_tokens(text: str, out: list[str]) -> None:
    for word in _WORD.findall(text.lower()):
        if word not in EN_STOPWORDS:
            out.append(_stem(word))


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: jieba words for Chinese, stemmed non-stop words for everything else."""
    return _tokens(text, lambda run: _jieba().cut_for_search(run))


def tokenize_query(text: str) -> list[str]:
    """`tokenize` for a query: the same tokens, without loading jieba's dictionary when this
    process has not loaded it already (a cold `lz rag` saves ~1 s)."""
    if not _CJK_RUN.search(text) or _jieba.cache_info().currsize:
        return tokenize(text)
    cutter = _query_cutter()
    if cutter is None:
        return tokenize(text)
    return _tokens(text, cutter.cut_for_search)


def _tokens(text: str, cut) -> list[str]:
    out: list[str] = []
    pos = 0
    for match in _CJK_RUN.finditer(text):
        _latin_tokens(text[pos : match.start()], out)
        for word in cut(match.group()):
            if word not in ZH_STOPWORDS:
                out.append(word)
        pos = match.end()
    _latin_tokens(text[pos:], out)
    return out


class BM25:
    """A built BM25 index: `scores(tokens)` → a float64 score per document.

    float64, so that scores, ties and order match rank_bm25's exactly."""

    def __init__(
        self, vocab: dict[str, int], indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_docs: int
    ):
        self.vocab = vocab
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.n_docs = n_docs

    @classmethod
    def build(cls, corpus_tokens: list[list[str]], idf: str = "lucene") -> BM25:
        n_docs = len(corpus_tokens)
        counts = [Counter(doc) for doc in corpus_tokens]
        lengths = np.array([len(doc) for doc in corpus_tokens], dtype=np.float64)
        avgdl = float(lengths.mean()) if n_docs else 0.0
        doc_freq: Counter = Counter()
        for c in counts:
            doc_freq.update(c.keys())
        idf_of = _okapi_idf(doc_freq, n_docs) if idf == "okapi" else _lucene_idf(doc_freq, n_docs)
        vocab = {term: i for i, term in enumerate(sorted(doc_freq))}
        # (term, doc, tf) triples sorted by term: the CSR layout with one row per term.
        rows, cols, tfs = [], [], []
        for doc_id, c in enumerate(counts):
            for term, tf in c.items():
                rows.append(vocab[term])
                cols.append(doc_id)
                tfs.append(tf)
        rows_a = np.array(rows, dtype=np.int64)
        cols_a = np.array(cols, dtype=np.int32)
        tf_a = np.array(tfs, dtype=np.float64)
        norm = K1 * (1 - B + B * lengths[cols_a] / avgdl) if n_docs else tf_a
        idf_a = np.array([idf_of[t] for t in vocab], dtype=np.float64)  # vocab order: row order
        data = idf_a[rows_a] * tf_a * (K1 + 1) / (tf_a + norm)
        order = np.argsort(rows_a, kind="stable")
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.add.at(indptr, rows_a + 1, 1)
        return cls(vocab, np.cumsum(indptr), cols_a[order], data[order], n_docs)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """Scores of every document (repeated query tokens count again, as in rank_bm25)."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        for token in query_tokens:
            row = self.vocab.get(token)
            if row is None:
                continue
            start, end = self.indptr[row], self.indptr[row + 1]
            out[self.indices[start:end]] += self.data[start:end]
        return out

    def top(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """The best `k` (doc, score) pairs with score > 0 (a query of unknown words finds nothing)."""
        scores = self.scores(query_tokens)
        return top_k(scores, k)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "indptr.npy", self.indptr)
        np.save(directory / "indices.npy", self.indices)
        np.save(directory / "data.npy", self.data)
        (directory / "vocab.json").write_text(
            json.dumps({"n_docs": self.n_docs, "vocab": self.vocab}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> BM25:
        meta = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        return cls(
            meta["vocab"],
            np.load(directory / "indptr.npy"),
            np.load(directory / "indices.npy"),
            np.load(directory / "data.npy"),
            meta["n_docs"],
        )


def _okapi_idf(doc_freq: Counter, n_docs: int) -> dict[str, float]:
    """rank_bm25.BM25Okapi's idf: log((N - n + 0.5) / (n + 0.5)), negatives floored at ε·mean."""
    idf = {term: math.log(n_docs - freq + 0.5) - math.log(freq + 0.5) for term, freq in doc_freq.items()}
    if not idf:
        return idf
    floor = EPSILON * (sum(idf.values()) / len(idf))
    return {term: (floor if value < 0 else value) for term, value in idf.items()}


def _lucene_idf(doc_freq: Counter, n_docs: int) -> dict[str, float]:
    return {term: math.log(1 + (n_docs - freq + 0.5) / (freq + 0.5)) for term, freq in doc_freq.items()}


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices of the `k` highest positive scores, best first (ties broken by lower index)."""
    if k <= 0 or scores.size == 0:
        return []
    k = min(k, scores.size)
    if k < scores.size:
        # Everything tied with the k-th score is a candidate, so ties resolve by index, not by chance.
        kth = np.partition(scores, scores.size - k)[scores.size - k]
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(scores.size)
    order = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), i))[:k]
    return [(i, float(scores[i])) for i in order if scores[i] > 0]
