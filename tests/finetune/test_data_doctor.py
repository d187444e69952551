"""The data doctor: format detection, per-line problems with line numbers, exit 2, conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lazycli.errors import LzError
from lazycli.finetune import data
from tests.conftest import lz

DATA = Path(__file__).with_name("data")


@pytest.mark.parametrize(
    "file, fmt",
    [
        ("alpaca.json", "alpaca"),
        ("sharegpt.jsonl", "sharegpt"),
        ("messages.jsonl", "messages"),
        ("prompt_completion.jsonl", "prompt_completion"),
        ("triplet.jsonl", "triplet"),
    ],
)
def test_each_format_is_detected_and_clean(file, fmt):
    proc = lz("finetune", "doctor", str(DATA / file), "--json", check=0)
    report = json.loads(proc.stdout)
    assert report["format"] == fmt
    assert report["problems"] == []
    assert report["records"] == 2


def test_bad_messages_report_each_line_and_reason_and_exit_2():
    proc = lz("finetune", "doctor", str(DATA / "bad_messages.jsonl"), check=2)
    err = proc.stderr
    expected = {
        2: "no assistant message",
        3: "message 1 has unknown role 'robot'",
        4: "message 1 has unrecognized key(s) mood",
        5: "message 1 has no content",
        6: "'messages' is not a non-empty list",
        7: "message 2 (assistant) has empty content",
        8: "not valid JSON",
        9: "a record in alpaca format in a messages file",
        11: "not a messages record (keys: what)",
    }
    for line, reason in expected.items():
        assert f"bad_messages.jsonl:line {line}: {reason}" in err, (line, err)
    assert "line 1:" not in err  # the good record is not blamed
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("lz: error: ")
    assert "--force" in err.strip().splitlines()[-1]


def test_json_array_problems_carry_the_line_the_record_starts_on():
    report = data.check(DATA / "bad_alpaca.json")
    assert [(p.line, p.reason) for p in report.problems] == [
        (3, "no 'output' (the answer to train on)"),
        (4, "empty or non-text 'instruction'"),
        (5, "'input' is not text"),
    ]
    broken = data.check(DATA / "broken_array.json")
    assert broken.problems[0].line == 4 and "stopped reading" in broken.problems[0].reason
    assert len(broken.records) == 1


def test_empty_neg_is_an_error_for_triplets():
    report = data.check(DATA / "bad_triplet.jsonl")
    reasons = {p.line: p.reason for p in report.problems}
    assert reasons == {
        2: "'neg' must be a non-empty list of passages",
        3: "empty or non-text 'query'",
        4: "'pos' holds an empty or non-text passage",
    }


def test_longer_than_the_cutoff_is_reported():
    proc = lz("finetune", "doctor", str(DATA / "long.jsonl"), "--cutoff-len", "32", check=2)
    assert "long.jsonl:line 2: about" in proc.stderr and "longer than cutoff_len 32" in proc.stderr
    lz("finetune", "doctor", str(DATA / "long.jsonl"), "--cutoff-len", "4096", check=0)


def test_force_keeps_the_good_records_and_none_left_is_still_an_error():
    report = data.check(DATA / "bad_messages.jsonl")
    with pytest.raises(LzError):
        data.require_ok(report)
    data.require_ok(report, force=True)
    assert [r.line for r in report.good] == [1]
    assert data.convert(report, "messages") == [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    ]


def test_conversion_to_chat_messages_from_every_llm_format():
    alpaca = data.convert(data.check(DATA / "alpaca.json"), "messages")
    assert alpaca[1]["messages"] == [
        {"role": "user", "content": "Translate to French\n\ngood morning"},
        {"role": "assistant", "content": "bonjour"},
    ]
    sharegpt = data.convert(data.check(DATA / "sharegpt.jsonl"), "messages")
    assert [m["role"] for m in sharegpt[0]["messages"]] == ["system", "user", "assistant"]
    pc = data.convert(data.check(DATA / "prompt_completion.jsonl"), "messages")
    assert pc[0]["messages"][1] == {"role": "assistant", "content": " blue."}
    assert (
        data.convert(data.check(DATA / "alpaca.json"), "alpaca")[0]["instruction"]
        == "Who invented the glorbix?"
    )


def test_a_method_refuses_data_it_cannot_train_on(tmp_path):
    with pytest.raises(LzError, match="triplet data, which this method does not train on"):
        data.check(DATA / "triplet.jsonl", accepted=data.CONVERTIBLE["messages"])
    with pytest.raises(LzError, match="cannot become triplet"):
        data.convert(data.check(DATA / "alpaca.json"), "triplet")


def test_unknown_shapes_and_missing_files_are_one_line_errors(tmp_path):
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"foo": 1}\n{"bar": 2}\n')
    proc = lz("finetune", "doctor", str(odd), check=2)
    assert "no record looks like a known format" in proc.stderr
    proc = lz("finetune", "doctor", str(tmp_path / "missing.jsonl"), check=2)
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
