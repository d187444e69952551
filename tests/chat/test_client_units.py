"""Small pieces of the client layer: error mapping, Retry-After, styles, target parsing, the log."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest

from lazycli import chatlog
from lazycli.client import clean_options
from lazycli.client.adapters import render_prompt
from lazycli.errors import LzError
from lazycli.providers import classify, parse_retry_after
from lazycli.targets import for_deployment, kind_of, resolve_target
from tests.chat.standin import ANSWER
from tests.conftest import lz


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": {"message": "Incorrect API key", "code": "invalid_api_key"}}, "auth"),
        (
            429,
            {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
            "quota",
        ),
        (429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, "rate_limit"),
        (400, {"error": {"message": "This model's maximum context length is 4096 tokens"}}, "context_length"),
        (400, {"error": {"message": "Model Not Exist", "type": "invalid_request_error"}}, "model_not_found"),
        (402, {"error": {"message": "Insufficient Balance"}}, "quota"),
        (503, "upstream unavailable", "server"),
        (400, {"code": "InvalidParameter", "message": "temperature must be in [0, 2)"}, "bad_request"),
        (422, {"detail": [{"msg": "field required"}]}, "bad_request"),
    ],
)
def test_classify(status, body, kind):
    assert classify(status, body)[0] == kind


def test_vendor_codes_win_over_status():
    assert classify(429, {"error": {"code": "1113", "message": "欠费"}}, {"1113": "quota"})[0] == "quota"


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    later = parse_retry_after({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert 25 < later <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_clean_options():
    assert clean_options({"temperature": None, "stop": "END", "max_tokens": 5}) == {
        "stop": ["END"],
        "max_tokens": 5,
    }
    assert clean_options({"stop": []}) == {}


def test_chatml_and_llama3_prompts():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert render_prompt(messages, "chatml") == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )
    llama3 = render_prompt(messages, "llama3")
    assert llama3.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>")
    assert llama3.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_kind_of_tells_targets_from_prompt_words():
    assert kind_of("qwen") == "provider" and kind_of("glm:glm-4") == "provider"
    assert kind_of("http://127.0.0.1:9/v1") == "url" and kind_of("lightllm+http://h:1") == "url"
    assert kind_of("smollm2-135m-instruct") == "model"
    assert kind_of("hello") is None and kind_of("some-org/unknown-model") is None  # never a download


def test_unknown_target_suggests():
    with pytest.raises(LzError) as info:
        resolve_target("qwne:qwen-plus")
    assert "did you mean 'qwen:qwen-plus'" in info.value.hint


def test_deployment_rows_pick_their_protocol(standin):
    server = standin("local")
    from dataclasses import replace

    from lazycli.deployments import Deployment
    from lazycli.launchers import Status

    row = Deployment(
        name="d1", model="m1", engine="vllm", launcher="local", status=Status.RUNNING, protocol="openai",
        url=server.url, served_name="m1", health_path="/v1/models", created_at=0.0, updated_at=0.0,
    )  # fmt: skip
    client = for_deployment(row)
    assert client.complete([{"role": "user", "content": "hi"}]).text == ANSWER
    assert server.requests[-1]["body"]["model"] == "m1"
    assert client.target == "d1"
    # A self-hosted server's embeddings / rerank default to the model it serves (lz's embed engine).
    assert client.embed(["ab"]) == [[2.0, 0.0, 1.0]]
    assert server.requests[-1]["body"] == {"model": "m1", "input": ["ab"]}
    scores = client.rerank("blue sky", ["green grass", "blue sky today"])
    assert scores[1] > scores[0] and server.requests[-1]["path"] == "/v1/rerank"
    with pytest.raises(LzError, match="deployment 'd2' is failed") as info:
        for_deployment(replace(row, name="d2", status=Status.FAILED))
    assert "lz deploy logs d2" in info.value.hint


def test_chat_log_list_show_search():
    first = chatlog.new_conversation_id()
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    from lazycli.client import Completion

    for prompt, answer in [("What is RAG?", "Retrieval-augmented generation."), ("100% sure_x?", "yes")]:
        messages = [{"role": "user", "content": prompt}]
        done = Completion(text=answer, model="m", usage=usage, finish_reason="stop", latency_s=0.25)
        chatlog.record(conversation_id=first, target="t", model="m", messages=messages, completion=done)
    listed = json.loads(lz("logs", "list", "--json", check=0).stdout)["logs"]
    assert [r["prompt"] for r in listed] == ["100% sure_x?", "What is RAG?"]
    assert listed[0]["total_tokens"] == 8 and listed[0]["latency_s"] == 0.25
    found = json.loads(lz("logs", "search", "retrieval", "--json", check=0).stdout)["logs"]
    assert [r["prompt"] for r in found] == ["What is RAG?"]
    assert json.loads(lz("logs", "search", "0%", "--json", check=0).stdout)["logs"][0]["response"] == "yes"
    assert json.loads(lz("logs", "search", "e_x", "--json", check=0).stdout)["logs"][0]["response"] == "yes"
    assert json.loads(lz("logs", "search", "%", "--json", check=0).stdout)["logs"][0]["prompt"].startswith(
        "100%"
    )
    whole = json.loads(lz("logs", "show", first, "--json", check=0).stdout)["logs"]
    assert [r["prompt"] for r in whole] == ["What is RAG?", "100% sure_x?"]
    assert whole[0]["messages"] == [{"role": "user", "content": "What is RAG?"}]
    shown = lz("logs", "show", "last", check=0).stdout
    assert "100% sure_x?" in shown and "5→3 tokens" in shown
    missing = lz("logs", "show", "999")
    assert missing.returncode == 2 and "lz logs list" in missing.stderr


def test_parse_says_what_a_name_names_and_starts_nothing(lz_home):
    from lazycli import targets

    url = targets.UrlTarget("http://10.0.0.1:8000/v1", "vllm-generate")
    assert targets.parse("vllm+http://10.0.0.1:8000/v1") == url
    assert targets.parse("qwen:qwen-max") == targets.ProviderTarget("qwen", "qwen-max")
    assert targets.parse("openai") == targets.ProviderTarget("openai", None)
    assert targets.parse("smollm2-135m-instruct") == targets.ModelTarget("smollm2-135m-instruct")
    assert targets.parse("no-such-thing-xyz", known_only=True) is None
    # Without start=True a model that is not running is one line, and nothing was deployed.
    with pytest.raises(LzError, match=r"model 'smollm2-135m-instruct' has no running deployment") as caught:
        resolve_target("smollm2-135m-instruct")
    assert "lz deploy smollm2-135m-instruct" in caught.value.hint
    from lazycli import deployments

    assert deployments.list_deployments() == []
