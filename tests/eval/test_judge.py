"""Faithfulness as lz judges it: lz splits the answer into claims, a judge gives one verdict each;
against the real llama.cpp server on the bundled SmolLM2 (its replies are held to the schema)."""

from __future__ import annotations

import json

from tests.conftest import lz
from tests.eval.test_eval_cli import write_rows

QUOTED = """> ## OpenAI-compatible endpoints
>
> Add an `[endpoints.NAME]` table to config.toml. It needs a `base_url`.
[1] (configuration.md)

Use the [endpoints.NAME] setting [1]. No plugin is needed!"""


def test_claims_are_the_sentences_of_the_quote_and_the_summary_not_headings_or_source_lines():
    from lazycli.eval.judge import claims

    assert claims(QUOTED) == [
        "Add an `[endpoints.NAME]` table to config.toml.",
        "It needs a `base_url`.",
        "Use the [endpoints.NAME] setting [1].",
        "No plugin is needed!",
    ]
    assert claims("- lz deploy starts a model\n- lz chat talks to it") == [
        "- lz deploy starts a model",
        "- lz chat talks to it",
    ]
    assert claims("长城很长。它在中国。") == ["长城很长。", "它在中国。"]
    assert len(claims(" ".join(f"Claim {i}." for i in range(30)))) == 10  # merged, never dropped


def test_a_real_llamacpp_judge_scores_every_row_and_a_rerun_calls_no_model(tmp_path, llamacpp_url):
    rows = [
        {
            "q": "Which port does the web page use?",
            "facts": ["8000"],
            "context": ["lz serve starts the web page on port 8000 by default."],
        },
    ]
    data = write_rows(tmp_path / "qa.jsonl", rows)
    args = ("eval", llamacpp_url, "--data", data, "--metric", "all-facts,faithfulness",
            "--judge", llamacpp_url, "--max-tokens", "12", "--json")  # fmt: skip
    first = json.loads(lz(*args, check=0).stdout)
    # The 135M judge's reply is held to the schema by a grammar: every row parses, none is an error.
    (row,) = first["rows"]
    assert sorted(row["scores"]) == ["all-facts", "faithfulness"] and "errors" not in row
    assert 0.0 <= row["scores"]["faithfulness"] <= 1.0
    assert first["model_calls"] == 2  # the answer and its judgement
    second = json.loads(lz(*args, check=0).stdout)
    assert second["model_calls"] == 0 and second["cache_hits"] == 2
    assert (second["rows"][0]["output"], second["rows"][0]["scores"]) == (row["output"], row["scores"])


def test_the_judge_sees_the_part_of_a_long_passage_the_answer_comes_from_within_its_budget():
    from lazycli.eval.judge import evidence
    from lazycli.rag.splitter import count_tokens

    filler = "\n\n".join(
        f"Paragraph {i} talks about deployment logs and engines at length." for i in range(80)
    )
    deep = "Set base_url in the [endpoints.NAME] table of config.toml."
    passages = [filler + "\n\n" + deep + "\n\n" + filler, filler]
    shown = evidence(passages, "Use the [endpoints.NAME] table with its base_url.", budget=200)
    assert len(shown) == 2 and deep in shown[0]
    assert sum(count_tokens(p) for p in shown) <= 200 + 10
    assert evidence(["short passage"], "anything") == ["short passage"]  # whole when it fits


def test_a_new_call_cache_opened_by_several_trials_at_once_never_says_locked(tmp_path):
    """Sweep trials open the same new cache at once: SQLite's switch to WAL is not covered by its
    busy timeout and answered "database is locked" for some of them; lz retries it."""
    import threading

    from lazycli.eval.cache import CallCache

    errors: list[str] = []
    for round_ in range(20):
        path = tmp_path / f"cache-{round_}.db"

        def open_and_write(path=path):
            try:
                CallCache(path).put(f"key-{threading.get_ident()}", {"ok": True})
            except Exception as exc:  # noqa: BLE001 - what the assertion reports
                errors.append(repr(exc))

        threads = [threading.Thread(target=open_and_write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
