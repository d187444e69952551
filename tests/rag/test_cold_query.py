"""A cold `lz rag` query: numpy embedder, snapshot rows, jieba query cutter, language-aware fusion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lazycli.catalog import resolve
from lazycli.errors import LzError
from lazycli.rag import bm25, retrieve
from lazycli.rag.retrieval import Index
from tests.rag import corpus

pytestmark = pytest.mark.slow

TEXTS = [
    "How do I set the tensor parallel size when deploying with vLLM?",
    "用 vLLM 部署时怎么设置张量并行的卡数？",
    "lunar gravity " * 200,  # longer than the model's 256-token window: truncated alike
]


@pytest.fixture(scope="module")
def minilm() -> str:
    return str(resolve("all-minilm-l6-v2").path)


def test_numpy_encoder_gives_sentence_transformers_vectors(minilm):
    from sentence_transformers import SentenceTransformer

    from lazycli_plugins.sentence_transformers.numpy_bert import NumpyBert, supports

    assert supports(minilm)
    ours = NumpyBert(minilm).embed(TEXTS)
    theirs = SentenceTransformer(minilm, device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (3, 384) and ours.dtype == np.float32
    assert np.all(np.sum(ours * theirs, axis=1) > 0.9999)


def test_query_cutter_cuts_like_jieba(tmp_path):
    path = tmp_path / "dict.sqlite"
    bm25.QueryCutter.build(path)
    cutter = bm25.QueryCutter(path)
    runs = [run for doc in corpus.DOCS.values() for run in bm25._CJK_RUN.findall(doc)]
    assert len(runs) > 10
    for run in runs:
        assert cutter.cut_for_search(run) == list(bm25._jieba().cut_for_search(run)), run


def test_fresh_process_query_imports_neither_torch_nor_lancedb(in_kb):
    code = (
        "import sys, json\n"
        "from lazycli.rag import retrieve\n"
        "zh = retrieve('kb', '大熊猫吃什么', topk=2)\n"
        "en = retrieve('kb', 'waggle dance direction of food', topk=2)\n"
        "heavy = [m for m in ('torch', 'lancedb', 'pyarrow', 'sentence_transformers') if m in sys.modules]\n"
        "print(json.dumps({'zh': zh[0]['file'], 'en': en[0]['file'], 'heavy': heavy}))\n"
    )
    env = {**os.environ, "LAZYCLI_HOME": str(in_kb.home)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []
    assert got["en"] == "bees.md"
    assert got["zh"] == next(f for q, f in corpus.ZH_QUESTIONS if "大熊猫" in q)


def test_chinese_query_ranks_as_bm25_when_the_embedder_is_english_only(in_kb):
    # all-MiniLM-L6-v2 is English-only: it gets no vote on a Chinese question, so the default
    # fusion cannot rank below bm25 there.
    for question, _expected in corpus.ZH_QUESTIONS:
        fused = retrieve("kb", question, topk=5)
        alone = retrieve("kb", question, retrievers=("bm25",), topk=5)
        assert [r["source"] for r in fused] == [r["source"] for r in alone]


def test_english_query_still_uses_cosine(in_kb):
    opened = Index("kb")
    assert opened.default_weights("waggle dance", ["cosine", "bm25"])["cosine"] > 0
    assert opened.default_weights("大熊猫吃什么", ["cosine", "bm25"])["cosine"] == 0


def test_snapshot_serves_rows_and_a_store_change_is_noticed(lz_home, tmp_path):
    from lazycli.rag import build_index

    docs = corpus.write(tmp_path / "docs")
    build_index([docs], "small", progress=False)
    opened = Index("small")
    assert opened.snap.rows is not None and opened.snap.matches(opened.store)
    top = opened.search("waggle dance direction of food", retrievers=("bm25",), topk=1)[0]
    assert top["file"] == "bees.md"
    # A store commit the snapshot never saw (a run killed after its commit): not trusted blindly.
    opened.store.delete_sources([str(docs / "bees.md")])
    assert opened.store.fingerprint() != opened.snap.fingerprint
    assert not opened.snap.matches(opened.store)
    # The next query reads the store as of the snapshot's version (the design for a run cut short).
    again = Index("small").search("waggle dance direction of food", retrievers=("bm25",), topk=1)[0]
    assert again["file"] == "bees.md" and again["text"] == top["text"]


def test_a_query_vector_of_another_size_is_refused_in_one_line(in_kb, monkeypatch):
    opened = Index("kb")

    class Other:
        def embed(self, texts):
            return np.ones((len(texts), 8), dtype=np.float32)

    monkeypatch.setattr("lazycli.rag.backends.embedder", lambda spec: Other())
    with pytest.raises(LzError) as err:
        opened.embed_query("anything")
    assert "384-dimensional" in err.value.message and "\n" not in err.value.message


def test_bench_split_makes_one_file_per_api(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_retrieval_quality as bench

    if not (bench.DEFAULT_CORPUS / "components.txt").is_file():
        pytest.skip("shared/corpus is not beside this checkout")
    assert bench.split_corpus(bench.DEFAULT_CORPUS, tmp_path) == 62
    names = {p.name for p in tmp_path.iterdir()}
    for record in bench.load_qa(bench.DEFAULT_QA):
        assert set(record["sources"]) <= names, record
