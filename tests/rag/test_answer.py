"""Answers through the real llama.cpp server on the bundled SmolLM2, and citation mapping."""

from __future__ import annotations

import json

import pytest

from lazycli.rag import prompt
from tests.conftest import lz

RESULTS = [
    {"source": "/d/tides.txt", "file": "tides.txt", "text": "Tides follow the Moon.", "meta": {}},
    {
        "source": "/d/manual.pdf",
        "file": "manual.pdf",
        "text": "Reset with the red button.",
        "meta": {"page": 4},
    },
]


def test_prompt_numbers_sources_and_citations_map_to_files():
    messages = prompt.messages("How do I reset it?", RESULTS)
    user = messages[-1]["content"]
    assert "[1] (tides.txt)\nTides follow the Moon." in user and "[2] (manual.pdf p.4)" in user
    assert user.rstrip().endswith("Answer with citations [n]:")
    answer = "Press the red button [2]. See also [2, 1] and [7]."
    assert prompt.cited(answer, RESULTS) == [2, 1]  # [7] is not a source
    sources = prompt.sources(RESULTS, "Press the red button [2].")
    assert [(s["label"], s["cited"]) for s in sources] == [("tides.txt", False), ("manual.pdf p.4", True)]


def test_context_budget_trims_long_passages():
    long = [{"source": "/d/a.txt", "file": "a.txt", "text": "word " * 3000, "meta": {}}]
    block = prompt.context_block(long, budget=200)
    assert prompt.count_tokens(block) < 230 and block.endswith("…")


@pytest.mark.slow
@pytest.mark.integration
def test_rag_answers_with_sources_from_the_bundled_model(in_kb, llamacpp_url):
    from lazycli.rag import answer

    stream = answer("kb", "What causes ocean tides?", llm=llamacpp_url, topk=2, max_tokens=16, temperature=0)
    deltas = list(stream)
    result = stream.result
    assert len(deltas) > 1 and "".join(deltas) == result["answer"] and result["answer"].strip()
    assert result["sources"][0]["label"] == "tides.txt"
    assert "[1] (tides.txt)" in stream.messages[-1]["content"]
    assert result["usage"].get("completion_tokens", 0) > 0

    proc = lz("rag", "--index", "kb", "What causes ocean tides?", "--llm", llamacpp_url, "--topk", "2",
              "--max-tokens", "12", check=0)  # fmt: skip
    assert "Sources:" in proc.stdout and "[1] tides.txt" in proc.stdout
    proc = lz("rag", "--index", "kb", "龙井茶产自哪里？", "--llm", llamacpp_url, "-r", "bm25_chinese",
              "--topk", "1", "--max-tokens", "12", "--json", check=0)  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["answer"].strip() and data["sources"][0]["label"] == "tea.txt"
    assert data["results"][0]["file"] == "tea.txt"
