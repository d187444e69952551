"""`lz eval` end to end: a real `lz` process against a local OpenAI-compatible stand-in that plays
the evaluated model and the judge (tests/eval/standin.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import lz
from tests.eval.standin import EvalStandIn

ANSWERS = {
    "What is the capital of France?": "Paris is the capital of France.",
    "Who wrote Hamlet?": "Hamlet was written by Shakespeare. It premiered in 1850.",
    "What colour is the sky?": "I do not know.",
    "Make the judge fail?": "GARBAGE makes the stand-in judge reply with prose.",
}
ROWS = [
    {
        "q": "What is the capital of France?",
        "answer": "Paris",
        "facts": ["Paris", "France"],
        "context": ["Paris is the capital of France. It has 2 million people."],
    },
    {
        "q": "Who wrote Hamlet?",
        "answer": "Shakespeare",
        "facts": ["Shakespeare"],
        "context": ["Hamlet was written by Shakespeare around 1600."],
    },
    {
        "q": "What colour is the sky?",
        "answer": "blue",
        "facts": ["blue"],
        "context": ["On a clear day the sky looks blue."],
    },
]


@pytest.fixture
def standin():
    server = EvalStandIn(ANSWERS)
    yield server
    server.close()


def write_rows(path, rows) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_scores_rows_and_a_warm_rerun_calls_no_model(tmp_path, standin):
    data = write_rows(tmp_path / "qa.jsonl", ROWS)
    args = (
        "eval",
        standin.url,
        "--data",
        data,
        "--metric",
        "all-facts,contains,f1,faithfulness,context-recall",
        "--judge",
        standin.url,
        "--json",
    )
    first = json.loads(lz(*args, check=0).stdout)
    assert [r["scores"]["all-facts"] for r in first["rows"]] == [1.0, 1.0, 0.0]
    assert [r["scores"]["contains"] for r in first["rows"]] == [1.0, 1.0, 0.0]
    # The Hamlet answer has two claims, one of them (1850) not in the context: faithfulness 1/2.
    assert [r["scores"]["faithfulness"] for r in first["rows"]] == [1.0, 0.5, 1.0]
    assert first["aggregates"]["faithfulness"]["mean"] == pytest.approx(0.8333, abs=1e-4)
    # A URL judge gets each reply's JSON schema (llama.cpp turns it into a grammar): one verdict a claim.
    hamlet = next(r["body"] for r in standin.requests if r["kind"] == "judge" and "1850" in str(r["body"]))
    verdicts = hamlet["response_format"]["schema"]["properties"]["verdicts"]
    assert hamlet["response_format"]["type"] == "json_object"
    assert verdicts["minItems"] == 2 == verdicts["maxItems"]
    low, high = first["aggregates"]["all-facts"]["ci95"]
    assert low < 2 / 3 < high  # a Wilson interval around 2/3 over 3 rows
    assert first["model_calls"] == 3 + 6 and standin.count() == 9
    second = json.loads(lz(*args, check=0).stdout)
    assert second["model_calls"] == 0 and standin.count() == 9  # everything from the cache
    assert second["aggregates"] == first["aggregates"]
    lz(*args, "--no-cache", check=0)
    assert standin.count() == 18


def test_unparsable_judge_reply_is_an_error_for_that_row_not_a_zero(tmp_path, standin):
    rows = [*ROWS[:2], {"q": "Make the judge fail?", "answer": "x", "context": ["nothing"]}]
    data = write_rows(tmp_path / "qa.jsonl", rows)
    proc = lz(
        "eval", standin.url, "--data", data, "--metric", "faithfulness", "--judge", standin.url, "--json"
    )
    assert proc.returncode == 1 and "1 row(s) had errors" in proc.stderr
    report = json.loads(proc.stdout)
    bad = report["rows"][2]
    assert "faithfulness" not in bad["scores"] and "not JSON" in bad["errors"]["faithfulness"]
    agg = report["aggregates"]["faithfulness"]
    assert (agg["n"], agg["errors"], agg["mean"]) == (2, 1, 0.75)
    # An error is never cached: the rerun asks the judge again for that row only.
    before = standin.count("judge")
    lz("eval", standin.url, "--data", data, "--metric", "faithfulness", "--judge", standin.url, "--json")
    assert standin.count("judge") == before + 1


def test_retrieval_metrics_name_hit_and_source_recall_apart(tmp_path, standin):
    from lazycli.eval.data import Row
    from lazycli.eval.metrics import Output, resolve

    out = Output(text="", contexts=[{"source": "docs/a.md"}, {"source": "docs/c.md"}, {"source": "b.md"}])
    row = Row(q="q", sources=["a.md", "b.md"])
    score = {
        name: resolve(name).score(row, out) for name in ("hit@1", "recall@1", "recall@3", "mrr", "ndcg@3")
    }
    assert score["hit@1"] == 1.0 and score["recall@1"] == 0.5 and score["recall@3"] == 1.0
    assert score["mrr"] == 1.0 and 0.9 < score["ndcg@3"] < 1.0


def test_token_f1_counts_chinese_characters():
    from lazycli.eval.data import Row
    from lazycli.eval.metrics import Output, f1

    assert f1(Row(q="q", answer="长城很长"), Output(text="长城")) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1(Row(q="q", answer="The Great Wall"), Output(text="great wall!")) == pytest.approx(0.8)


def test_min_score_fails_ci_below_the_floor(tmp_path, standin):
    data = write_rows(tmp_path / "qa.jsonl", ROWS)
    low = lz("eval", standin.url, "--data", data, "--metric", "contains", "--min-score", "contains=0.9")
    assert low.returncode == 1 and "contains 0.6667 < 0.9" in low.stderr
    ok = lz("eval", standin.url, "--data", data, "--metric", "contains", "--min-score", "contains=0.5")
    assert ok.returncode == 0 and "contains" in ok.stdout


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"q": "fine"}\n{"q": "broken"', "qa.jsonl:2: bad JSON"),
        ('{"q": "fine"}\n{"answer": "no question"}\n', 'qa.jsonl:2: missing "q"'),
        ('{"q": "fine"}\n{"q": "x", "facts": 3}\n', "qa.jsonl:2: 'facts' must be a string"),
    ],
)
def test_bad_data_names_file_and_line(tmp_path, standin, line, expected):
    (tmp_path / "qa.jsonl").write_text(line)
    out = tmp_path / "report.json"
    proc = lz(
        "eval", standin.url, "--data", str(tmp_path / "qa.jsonl"), "--metric", "contains", "-o", str(out)
    )
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and not out.exists() and standin.count() == 0


def test_unknown_metric_and_missing_fields(tmp_path, standin):
    data = write_rows(tmp_path / "qa.jsonl", [{"q": "a", "answer": "b"}, {"q": "c"}])
    proc = lz("eval", standin.url, "--data", data, "--metric", "contains,faithfullness")
    assert proc.returncode == 2 and "unknown metric 'faithfullness'" in proc.stderr
    assert "did you mean 'faithfulness'" in proc.stderr
    proc = lz("eval", standin.url, "--data", data, "--metric", "contains")
    assert proc.returncode == 2 and "qa.jsonl:2: metric 'contains' needs 'answer'" in proc.stderr
    proc = lz("eval", standin.url, "--data", data, "--metric", "hit@5")
    assert proc.returncode == 2 and "needs 'sources'" in proc.stderr


def test_unreachable_judge_stops_with_one_line_and_no_report(tmp_path, standin):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    data = write_rows(tmp_path / "qa.jsonl", ROWS)
    out = tmp_path / "report.md"
    proc = lz(
        "eval",
        standin.url,
        "--data",
        data,
        "--metric",
        "faithfulness",
        "--judge",
        dead,
        "-o",
        str(out),
        env={"LAZYCLI_MAX_RETRIES": "0"},
    )
    assert proc.returncode == 2 and "cannot reach" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and proc.stdout == ""


def test_reports_as_csv_markdown_and_file(tmp_path, standin):
    data = write_rows(tmp_path / "qa.jsonl", ROWS)
    csv_out = lz("eval", standin.url, "--data", data, "--metric", "contains", "--csv", check=0).stdout
    assert csv_out.splitlines()[0].startswith("line,q,output,contains") and len(csv_out.splitlines()) == 4
    md = tmp_path / "r.md"
    lz("eval", standin.url, "--data", data, "--metric", "contains", "-o", str(md), check=0)
    assert "| contains | 0.667 |" in md.read_text()


def test_show_prompts_prints_every_judge_prompt():
    proc = lz("eval", "--data", "x.jsonl", "--show-prompts", check=0)
    for name in ("faithfulness", "answer-relevancy", "context-recall", "context-precision"):
        assert f"=== {name} ===" in proc.stdout
    assert "Statements:\n[1] {claim 1}.\n[2] {claim 2}." in proc.stdout  # lz splits the answer
    assert '{"verdicts": [<2 values, each 0 or 1>]}' in proc.stdout


def test_a_killed_run_resumes_from_its_cache(tmp_path, standin, lz_home):
    rows = [{"q": f"question {i}?", "answer": "x"} for i in range(12)]
    data = write_rows(tmp_path / "qa.jsonl", rows)
    standin.delay = 0.3
    argv = [
        sys.executable,
        "-m",
        "lazycli",
        "eval",
        standin.url,
        "--data",
        data,
        "--metric",
        "contains",
        "--json",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while standin.count("model") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    answered = standin.count("model")
    assert 4 <= answered < 12
    standin.delay = 0
    report = json.loads(
        lz("eval", standin.url, "--data", data, "--metric", "contains", "--json", check=0).stdout
    )
    # What the killed run had answered comes from the cache (the answer in flight may be lost).
    assert report["cache_hits"] >= answered - 1 and report["model_calls"] + report["cache_hits"] == 12
    assert report["model_calls"] < 12


def test_a_recipe_app_is_scored_and_cached_by_its_text(tmp_path):
    from pathlib import Path

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "data" / "eval.toml"
    qa = str(recipe.parent / "qa.jsonl")
    first = json.loads(
        lz("eval", str(recipe), "--data", qa, "--metric", "contains,exact", "--json", check=0).stdout
    )
    assert [r["output"] for r in first["rows"]] == ["ABC", "HELLO WORLD", "X"]
    assert [r["scores"]["contains"] for r in first["rows"]] == [1.0, 1.0, 0.0]
    assert first["aggregates"]["exact"]["mean"] == pytest.approx(1 / 3, abs=1e-4)
    assert first["model_calls"] == 3
    second = json.loads(
        lz("eval", str(recipe), "--data", qa, "--metric", "contains", "--json", check=0).stdout
    )
    assert second["model_calls"] == 0 and second["cache_hits"] == 3
    changed = tmp_path / "eval.toml"  # another recipe text: answered afresh
    changed.write_text(recipe.read_text() + "\n# edited\n")
    (tmp_path / "tools.py").write_text((recipe.parent / "tools.py").read_text())
    third = json.loads(
        lz("eval", str(changed), "--data", qa, "--metric", "contains", "--json", check=0).stdout
    )
    assert third["model_calls"] == 3
