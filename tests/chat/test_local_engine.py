"""The client against the real llama.cpp server serving the bundled SmolLM2, over 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from lazycli.targets import resolve_target
from tests.chat.engine_standins import EngineStandIn
from tests.conftest import lz

pytestmark = pytest.mark.integration

SYSTEM = {"role": "system", "content": "You answer in one short sentence."}
QUESTION = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def greedy_answer(llama_url):
    """What the real `openai` SDK gets from the server, greedy, 12 tokens."""
    import openai

    sdk = openai.OpenAI(base_url=llama_url, api_key="none", max_retries=0)
    reply = sdk.chat.completions.create(model="smollm2", messages=QUESTION, temperature=0, max_tokens=12)
    assert reply.choices[0].message.content
    return reply.choices[0].message.content


def test_client_and_openai_sdk_agree(llama_url, greedy_answer):
    client = resolve_target(llama_url)
    assert client.model == "smollm2"  # the server's first model, from GET /models
    completion = client.complete(QUESTION, temperature=0, max_tokens=12)
    assert completion.text == greedy_answer
    assert 0 < completion.usage["completion_tokens"] <= 12 and completion.usage["prompt_tokens"] > 10
    assert completion.finish_reason in ("stop", "length")

    deltas = list(client.complete(QUESTION, stream=True, temperature=0, max_tokens=12))
    assert len(deltas) > 3  # it streamed, piece by piece
    assert "".join(deltas) == greedy_answer
    assert client.last.text == greedy_answer and client.last.finish_reason == completion.finish_reason
    assert client.last.usage["completion_tokens"] > 0  # llama.cpp streams no usage: estimated
    assert client.last.latency_s > 0


def test_stop_sequence_and_closing_a_stream_early(llama_url):
    client = resolve_target(llama_url)
    stream = client.complete(QUESTION, stream=True, temperature=0, max_tokens=40)
    first = next(stream)
    stream.close()  # what Ctrl-C does in the REPL
    assert client.last.text == first and client.last.finish_reason == "interrupted"
    full = client.complete(QUESTION, temperature=0, max_tokens=40).text
    word = full.split()[2]
    cut = client.complete(QUESTION, temperature=0, max_tokens=40, stop=word).text
    assert word not in cut and full.startswith(cut)


@pytest.mark.parametrize("protocol", ["lightllm", "vllm", "lmdeploy"])
def test_own_protocol_adapters(llama_url, greedy_answer, protocol):
    """LightLLM / vLLM-demo / LMDeploy wire formats, with the real model behind a stand-in.

    The prompt-only protocols get the messages rendered with the model's chat template (chatml):
    the greedy answer must equal the one llama.cpp's own chat endpoint gives.
    """
    engine = EngineStandIn(protocol, llama_url)
    try:
        client = resolve_target(f"{protocol}+{engine.url}", model="smollm2")
        completion = client.complete(QUESTION, temperature=0, max_tokens=12)
        assert completion.text.strip() == greedy_answer.strip()
        streamed = "".join(client.complete(QUESTION, stream=True, temperature=0, max_tokens=12))
        assert streamed.strip() == greedy_answer.strip()
        if protocol != "vllm":  # the vLLM demo server reports no token counts
            assert completion.usage["completion_tokens"] > 0 and client.last.usage["completion_tokens"] > 0
        if protocol == "lightllm":
            sent = engine.requests[0]["body"]
            assert sent["inputs"].endswith("<|im_start|>assistant\n")
            assert (
                sent["parameters"]["max_new_tokens"] == 12
                and "<|im_end|>" in sent["parameters"]["stop_sequences"]
            )
    finally:
        engine.close()


@pytest.mark.slow
def test_piped_question_answers_from_the_bundled_model(lz_home):
    """Done when: `echo "What is 2+2?" | lz chat` answers with no network and no key."""
    from lazycli import deployments

    try:
        proc = lz("chat", "--max-tokens", "24", input="What is 2+2?\n", timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.strip()) > 0
        assert "deploying smollm2-135m-instruct" in proc.stderr
        again = lz("chat", "--max-tokens", "8", input="And 3+3?\n", timeout=120, check=0)
        assert "using deployment smollm2-135m-instruct" in again.stderr  # reused, not started again
        rows = json.loads(lz("logs", "list", "--json", check=0).stdout)["logs"]
        assert [r["prompt"] for r in rows] == ["And 3+3?", "What is 2+2?"]
        assert all(r["target"] == "smollm2-135m-instruct" and r["completion_tokens"] > 0 for r in rows)
        assert rows[1]["response"] == proc.stdout.strip()
    finally:
        for row in deployments.list_deployments():
            deployments.stop(row.name)
