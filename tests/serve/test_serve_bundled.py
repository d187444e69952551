"""The real `openai` client against `lz serve` in front of the real llama.cpp server (bundled SmolLM2)."""

from __future__ import annotations

import openai
import pytest

from tests.serve.conftest import lz_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_openai_client_plain_and_streaming_on_the_bundled_model(llamacpp_url, tmp_path):
    with lz_serve(llamacpp_url, home=tmp_path) as (base, _):
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        assert [m.id for m in client.models.list().data] == ["smollm2-135m-instruct"]
        messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
        plain = client.chat.completions.create(
            model="smollm2-135m-instruct", messages=messages, max_tokens=16, temperature=0
        )
        text = plain.choices[0].message.content
        assert text.strip() and plain.usage.completion_tokens > 0 and plain.usage.prompt_tokens > 5
        stream = client.chat.completions.create(
            model="smollm2-135m-instruct",
            messages=messages,
            max_tokens=16,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage = [], None
        for chunk in stream:
            usage = chunk.usage or usage
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
        assert len(pieces) > 1
        assert "".join(pieces) == text  # temperature 0: the same answer, streamed piece by piece
        assert usage is not None and usage.completion_tokens == plain.usage.completion_tokens
