"""Parameter counts read from names (LazyLLM read `qwen2-1.5b` as 5B) and byte formatting."""

from __future__ import annotations

import pytest

from lazycli.catalog.sizes import format_bytes, format_params, parse_params


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen2-1.5b", 1.5),
        ("0.5B", 0.5),
        ("7b-chat", 7.0),
        ("14B-awq", 14.0),
        ("Qwen/Qwen2.5-0.5B-Instruct", 0.5),
        ("qwen2.5-72b-instruct", 72.0),
        ("internlm2-chat-1_8b", 1.8),  # underscore spelling of 1.8B
        ("internlm2_5-7b-chat", 7.0),  # "2_5" is a version, not a size
        ("smollm2-135m-instruct", 0.135),
        ("Qwen3-30B-A3B", 30.0),  # total, not the active A3B
        ("Mixtral-8x7B-Instruct", 56.0),
        ("llama-3.1-8b-instruct", 8.0),
        ("glm-4-9b-chat", 9.0),
        ("deepseek-r1-distill-qwen-1.5b", 1.5),
        ("bge-m3", None),  # "m3" is a name, not 3 million
        ("qwen2", None),
        ("SenseVoiceSmall", None),
        ("Qwen2.5-7B-Instruct-q4_k_m", 7.0),
    ],
)
def test_parse_params(name, expected):
    assert parse_params(name) == expected


@pytest.mark.parametrize(("params", "text"), [(1.5, "1.5B"), (0.135, "135M"), (72.0, "72B"), (None, "-")])
def test_format_params(params, text):
    assert format_params(params) == text


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1536, "1.5 KiB"), (93 * 1024**2, "93.0 MiB"), (None, "-")]
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text
