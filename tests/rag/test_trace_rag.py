"""`lz rag` and `lz run` record their exchanges with a trace: the retrieved sources with their
scores, the prompt sent, tokens and latency (the LLM is the engine stand-in on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import lz
from tests.serve.conftest import standin

pytestmark = [pytest.mark.integration]

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "data"


def _show(home, ident: str) -> dict:
    return json.loads(lz("logs", "show", ident, "--json", env={"LAZYCLI_HOME": str(home)}, check=0).stdout)[
        "logs"
    ][0]


def test_lz_rag_trace_has_sources_with_scores_and_the_prompt(in_kb):
    env = {"LAZYCLI_HOME": str(in_kb.home)}
    with standin() as url:
        answer = lz("rag", "--index", "kb", "What causes ocean tides?", "--llm", url, "--topk", "2",
                    env=env, check=0)  # fmt: skip
    row = _show(in_kb.home, "last")
    assert row["kind"] == "rag" and row["app"] == "kb" and row["prompt"] == "What causes ocean tides?"
    assert row["response"] and row["response"] in answer.stdout
    retrieve, llm = row["spans"]
    assert retrieve["kind"] == "retriever" and retrieve["attrs"]["topk"] == 2
    docs = retrieve["output"]
    assert Path(docs[0]["source"]).name == "tides.txt" and all(isinstance(d["score"], float) for d in docs)
    assert [d["source"] for d in row["sources"]] == [d["source"] for d in docs]
    prompt = llm["attrs"]["messages"][-1]["content"]
    assert "[1] (tides.txt)" in prompt and "What causes ocean tides?" in prompt
    assert llm["attrs"]["usage"]["completion_tokens"] > 0 and row["latency_s"] > 0
    assert row["messages"] == llm["attrs"]["messages"]

    shown = lz("logs", "show", "last", env=env, check=0).stdout
    assert "retrieve (retriever" in shown and "tides.txt" in shown and "prompt sent:" in shown

    lz("logs", "rate", "last", "down", "--correction", "The Moon's gravity.", env=env, check=0)
    exported = lz("logs", "export", "--bad", "--format", "eval", "--app", "kb", env=env, check=0).stdout
    (record,) = [json.loads(line) for line in exported.splitlines()]
    assert record["answer"] == "The Moon's gravity." and Path(record["sources"][0]).name == "tides.txt"
    assert record["context"][0] == docs[0]["text"]


def test_lz_run_trace_has_each_flow_step_and_the_prompt(lz_home):
    env = {"LAZYCLI_HOME": str(lz_home)}
    with standin() as url:
        proc = lz(
            "run", str(RECIPES / "llm_url.toml"), "cats", env={**env, "LZ_TEST_ENGINE_URL": url}, check=0
        )
    row = _show(lz_home, "last")
    assert row["kind"] == "run" and row["prompt"] == "cats" and row["response"] in proc.stdout
    llm = next(s for s in row["spans"] if s["kind"] == "llm")
    assert llm["attrs"]["messages"] == [{"role": "user", "content": "Topic: cats"}]
    assert llm["attrs"]["usage"]["total_tokens"] > 0 and llm["output"].startswith("echo: Topic: cats")
