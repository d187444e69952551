"""Traces in the real state database: flow steps as nested spans, secrets kept out, `lz logs`
filters, rating, and every export format loaded back; the background recorder under a locked db."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest
from tests.conftest import lz

from lazycli import chatlog, flow, trace
from lazycli.client import Completion


def _env(home) -> dict:
    return {"LAZYCLI_HOME": str(home)}


def _logs(home, *args: str) -> list[dict]:
    return json.loads(lz("logs", *args, "--json", env=_env(home), check=0).stdout)["logs"]


def _chat(prompt: str, answer: str, *, system: str | None = None, history=(), target="standin") -> int:
    messages = ([{"role": "system", "content": system}] if system else []) + list(history)
    messages.append({"role": "user", "content": prompt})
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    completion = Completion(text=answer, model="m1", usage=usage, finish_reason="stop", latency_s=0.25)
    return chatlog.record(
        conversation_id=chatlog.new_conversation_id(),
        target=target,
        model="m1",
        messages=messages,
        completion=completion,
        options={"temperature": 0.2},
    )


class FakeClient:
    """Only for the flow-structure test: an LLM client that answers instantly with usage."""

    model = "fake"
    last = None

    def complete(self, messages, **options):
        self.last = Completion(text="it is " + messages[-1]["content"][-20:], model="fake", usage={
            "prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15})  # fmt: skip
        return self.last


def test_a_flow_run_records_each_step_nested_with_sources_prompt_and_tokens(lz_home):
    docs = [{"source": "/kb/a.md", "text": "alpha passage", "score": 0.9}]
    app = flow.pipeline(
        flow.parallel(flow.fn(lambda q: docs, name="left"), flow.fn(lambda q: [], name="right")),
        flow.fn(lambda lists: lists[0] + lists[1], name="merge"),
        flow.prompt("Sources:\n{context}\nQuestion: {query}"),
        flow.llm("fake", client_factory=lambda target: FakeClient()),
    )
    with trace.recording("run", "demo", "what is alpha?") as t:
        t.output = app("what is alpha?")
    row = chatlog.get_log(t.id)[0]
    assert row["kind"] == "run" and row["app"] == "demo" and row["response"].startswith("it is")
    assert (row["prompt_tokens"], row["completion_tokens"]) == (11, 4)
    spans = chatlog.spans(t.id)
    by_name = {s["name"]: s for s in spans}
    assert [s["name"] for s in spans][:2] == ["pipeline", "parallel"]
    assert set(by_name) == {"pipeline", "parallel", "left", "right", "merge", "prompt", "llm"}
    parallel = by_name["parallel"]["seq"]
    # Branches ran in worker threads and still hang under the parallel step.
    assert by_name["left"]["parent"] == parallel and by_name["right"]["parent"] == parallel
    assert by_name["left"]["output"] == docs
    assert "alpha passage" in by_name["prompt"]["output"]
    llm = by_name["llm"]["attrs"]
    assert llm["messages"][-1]["content"].startswith("Sources:\n[1] (/kb/a.md) alpha passage")
    assert llm["usage"]["completion_tokens"] == 4 and by_name["llm"]["duration_s"] >= 0
    assert row["messages"] == llm["messages"]  # the prompt sent is on the exchange row too


def test_no_trace_active_means_nothing_is_recorded_and_the_flow_still_runs(lz_home):
    app = flow.pipeline(flow.fn(str.upper), flow.fn(lambda s: s + "!"))
    assert app("hi") == "HI!"
    assert chatlog.list_logs() == []


def test_secrets_never_reach_the_database(lz_home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")
    trace.add_secret("serve-key-9876543210")
    lz("keys", "set", "qwen", input="stored-qwen-key-24680\n", env=_env(lz_home), check=0)
    with trace.recording("run", "demo", "my key is sk-live-0123456789abcdef; stored-qwen-key-24680") as t:
        with trace.span("call", "python", input={"api_key": "plain-secret-value", "q": "x"}) as sp:
            sp.output = "used serve-key-9876543210 to call"
        t.output = "done"
    from lazycli import state

    wal = state.db_path().with_name("state.db-wal")
    raw = state.db_path().read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    for secret in (
        b"sk-live-0123456789abcdef",
        b"plain-secret-value",
        b"serve-key-9876543210",
        b"stored-qwen",
    ):
        assert secret not in raw
    span = chatlog.spans(t.id)[0]
    assert span["input"] == {"api_key": "[redacted]", "q": "x"}
    assert span["output"] == "used [redacted] to call"
    assert chatlog.get_log(t.id)[0]["prompt"] == "my key is [redacted]; [redacted]"


def test_logs_filter_by_rating_app_text_and_date(lz_home):
    first = _chat("capital of France?", "Berlin", target="kb-app")
    _chat("2+2?", "4", target="calc")
    lz("logs", "rate", str(first), "down", "-m", "wrong city", "--correction", "Paris",
       env=_env(lz_home), check=0)  # fmt: skip
    lz("logs", "rate", "last", "up", env=_env(lz_home), check=0)

    bad = json.loads(lz("logs", "--bad", "--json", env=_env(lz_home), check=0).stdout)["logs"]
    assert [(r["id"], r["comment"], r["correction"]) for r in bad] == [(first, "wrong city", "Paris")]
    good = json.loads(lz("logs", "--good", "--json", env=_env(lz_home), check=0).stdout)["logs"]
    assert [r["prompt"] for r in good] == ["2+2?"]
    by_app = json.loads(lz("logs", "--app", "calc", "--json", env=_env(lz_home), check=0).stdout)["logs"]
    assert [r["prompt"] for r in by_app] == ["2+2?"]
    text = json.loads(lz("logs", "-t", "FRANCE", "--json", env=_env(lz_home), check=0).stdout)["logs"]
    assert [r["id"] for r in text] == [first]
    assert len(_logs(lz_home, "--since", "1h")) == 2
    assert _logs(lz_home, "--until", "1h") == []
    listing = lz("logs", "--bad", env=_env(lz_home), check=0).stdout
    assert "capital of France?" in listing and "2+2?" not in listing

    shown = lz("logs", "show", str(first), env=_env(lz_home), check=0).stdout
    assert "corrected answer: Paris" in shown and "prompt sent:" in shown and "7→3 tokens" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("logs", "--since", "yesterday"), "--since 'yesterday' is not a date or an age"),
        (("logs", "--bad", "--good"), "--bad and --good exclude each other"),
        (("logs", "export", "--format", "csv"), "unknown --format 'csv'"),
        (("logs", "rate", "999", "down"), "no logged exchange '999'"),
        (("logs", "rate", "last", "meh"), "unknown rating 'meh'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(lz_home, args, message):
    _chat("q", "a")
    proc = lz(*args, env=_env(lz_home), check=2)
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_exports_load_back_in_every_format(lz_home, tmp_path):
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    corrected = _chat("capital of France?", "Berlin", system="Be brief.", history=history)
    uncorrected = _chat("colour of the sky?", "green")
    good = _chat("2+2?", "4")
    chatlog.rate(str(corrected), -1, comment="wrong city", correction="Paris")
    chatlog.rate(str(uncorrected), -1, comment="no")
    chatlog.rate(str(good), 1)

    def export(fmt: str, *flags: str) -> tuple[list[dict], str]:
        out = tmp_path / f"{fmt}{'-'.join(flags)}.jsonl"
        proc = lz("logs", "export", "--format", fmt, *flags, "-o", str(out), env=_env(lz_home), check=0)
        return [json.loads(line) for line in out.read_text().splitlines()], proc.stderr

    rows, _ = export("eval", "--bad")
    assert [r["q"] for r in rows] == ["capital of France?", "colour of the sky?"]  # oldest first
    assert rows[0]["answer"] == "Paris" and "answer" not in rows[1]  # no correction: no gold answer
    assert rows[0]["meta"]["logged_answer"] == "Berlin" and rows[0]["meta"]["comment"] == "wrong city"

    rows, note = export("alpaca", "--bad")
    assert "skipped 1 without a corrected answer" in note  # a bad answer is never a training target
    assert rows == [
        {
            "instruction": "capital of France?",
            "input": "",
            "output": "Paris",
            "system": "Be brief.",
            "history": [["hi", "hello"]],
        }
    ]
    rows, _ = export("sharegpt")
    assert len(rows) == 2  # the corrected one and the good one
    for row in rows:
        turns = row["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
    assert rows[0]["system"] == "Be brief." and rows[0]["conversations"][-1]["value"] == "Paris"
    assert rows[1]["conversations"] == [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]
    rows, _ = export("messages", "--good")
    assert rows == [
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
    ]

    # to stdout as well
    proc = lz("logs", "export", "--bad", "--format", "eval", env=_env(lz_home), check=0)
    assert [json.loads(line)["q"] for line in proc.stdout.splitlines()] == [
        "capital of France?",
        "colour of the sky?",
    ]


_LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_recorder_never_blocks_a_request_while_another_process_holds_the_db(lz_home):
    from lazycli import state

    with state.reading():
        pass  # the database exists and is migrated
    holder = subprocess.Popen(
        [sys.executable, "-c", _LOCK_HOLDER, str(state.db_path()), "2"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        recorder = trace.Recorder()
        traces = []
        started = time.perf_counter()
        for i in range(20):
            t = trace.Trace("serve", app="busy", input=f"q{i}")
            traces.append(t.finish(output=f"a{i}"))
            recorder.submit(t)
        assert time.perf_counter() - started < 0.5  # submitting is in-memory work only
        with pytest.raises(sqlite3.OperationalError):  # the database really is locked now
            _try_write_now(state.db_path())
        assert recorder.wait_for(traces[-1].id, timeout=30)
        recorder.close()
    finally:
        holder.wait(timeout=30)
    assert recorder.saved == 20 and recorder.dropped == 0
    assert len(chatlog.list_logs(None, where=chatlog.LogFilter(app="busy"))) == 20


def _try_write_now(path) -> None:
    """Take the write lock without waiting (raises while another process holds it)."""
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    finally:
        db.close()
