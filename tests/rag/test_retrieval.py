"""Index the mixed Chinese/English corpus and check that each question finds its file."""

from __future__ import annotations

import json

import pytest

from lazycli.rag import retrieve
from tests.conftest import lz
from tests.rag import corpus

pytestmark = pytest.mark.slow


def _files(results):
    return [r["file"] for r in results]


def test_index_summary_counts_every_file_and_group(kb):
    s = kb.summary
    assert s["files"] == len(corpus.DOCS) and s["added"] == len(corpus.DOCS)
    assert s["failed"] == [] and s["unchanged"] == 0
    # Each file is shorter than every default group size: one chunk per file per group.
    assert s["chunks"] == 3 * len(corpus.DOCS) == s["embedded"]


@pytest.mark.parametrize(("question", "expected"), corpus.EN_QUESTIONS)
def test_english_questions_find_their_file_first(in_kb, question, expected):
    results = retrieve("kb", question, topk=3)
    assert _files(results)[0] == expected, results
    assert len(set(_files(results))) == len(results)  # overlapping chunks of one passage are merged


@pytest.mark.parametrize(("question", "expected"), corpus.ZH_QUESTIONS)
def test_chinese_questions_through_bm25_chinese(in_kb, question, expected):
    results = retrieve("kb", question, retrievers=("bm25_chinese",), topk=3)
    assert _files(results)[0] == expected, results
    assert all(r["score"] > 0 for r in results)


def test_chinese_questions_hybrid_keep_the_answer_in_top3(in_kb):
    for question, expected in corpus.ZH_QUESTIONS:
        assert expected in _files(retrieve("kb", question, topk=3)), question


def test_results_carry_source_position_and_group(in_kb):
    top = retrieve("kb", "waggle dance direction of food", retrievers=("bm25",), topk=1)[0]
    source_text = (in_kb.docs / "bees.md").read_text(encoding="utf-8")
    assert top["source"] == str(in_kb.docs / "bees.md")
    assert top["group"] in ("coarse", "medium", "fine")
    assert source_text[top["start"] : top["end"]].strip() == top["text"]


def test_unknown_words_find_nothing_with_bm25(in_kb):
    assert retrieve("kb", "zzyzx qwxrt", retrievers=("bm25",)) == []


def test_weighted_fusion_and_single_group(in_kb):
    results = retrieve("kb", "lunar gravity sea level", fusion="weighted", groups=["fine"], topk=2)
    assert results[0]["file"] == "tides.txt" and {r["group"] for r in results} == {"fine"}


def test_cli_retrieve_only_json_and_eval(in_kb, tmp_path):
    proc = lz(
        "rag", "--index", "kb", "龙井茶产自哪里", "--retrieve-only", "--json", "-r", "bm25_chinese", check=0
    )
    results = json.loads(proc.stdout)["results"]
    assert results[0]["file"] == "tea.txt"
    assert {"source", "score", "text", "group"} <= set(results[0])

    qa = corpus.write_qa(tmp_path / "qa.jsonl")
    proc = lz("rag", "eval", "--index", "kb", "--qa", str(qa), "--json", check=0)
    metrics = json.loads(proc.stdout)
    at_k = {f"{m}@{k}" for m in ("hit", "recall") for k in (1, 5, 10)}
    assert set(metrics) == {"n", "mrr", "ndcg@10"} | at_k
    assert metrics["n"] == len(corpus.EN_QUESTIONS) + len(corpus.ZH_QUESTIONS)
    assert metrics["recall@5"] >= 0.85 and metrics["mrr"] >= 0.75
    assert metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"] <= 1
    assert all(metrics[f"recall@{k}"] <= metrics[f"hit@{k}"] for k in (1, 5, 10))


def test_cli_errors_are_one_line(in_kb):
    proc = lz("rag", "--index", "kbb", "q", "--retrieve-only")
    assert (
        proc.returncode == 2 and "unknown index 'kbb'" in proc.stderr and "did you mean 'kb'" in proc.stderr
    )
    proc = lz("rag", "--index", "kb", "q", "--retrieve-only", "-r", "cosin")
    assert proc.returncode == 2 and "did you mean 'cosine'" in proc.stderr
    assert "Traceback" not in proc.stderr
