"""Every provider plugin against a stand-in of its vendor's API (tests/chat/standin.py).

The code path is the real one: the plugin's ProviderSpec from the registry, the key from the
vendor's env var, the OpenAI-compatible base with the vendor's quirks; only the base URL points
at 127.0.0.1 (LAZYCLI_<NAME>_BASE_URL).
"""

from __future__ import annotations

import json
import time

import pytest

from lazycli.providers import ProviderError
from lazycli.targets import resolve_target
from tests.chat.conftest import DEFAULT_MODELS, KEY, VENDOR_ENV, all_vendors
from tests.chat.standin import ANSWER
from tests.conftest import lz

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]


@all_vendors
def test_chat_sends_what_the_vendor_requires(vendor):
    name, server = vendor
    client = resolve_target(name)
    completion = client.complete(MESSAGES, max_tokens=32, temperature=0.2)
    assert completion.text == ANSWER
    assert completion.usage["completion_tokens"] == 4 and completion.usage["total_tokens"] > 4
    sent = server.requests[-1]
    assert sent["path"] == f"{server.vendor.base}/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == DEFAULT_MODELS[name]
    assert sent["body"]["messages"] == MESSAGES
    assert sent["body"][server.vendor.max_tokens_name] == 32


@all_vendors
def test_stream_yields_deltas_and_usage(vendor):
    name, server = vendor
    client = resolve_target(f"{name}:{server.vendor.models[1]}")
    deltas = list(client.complete(MESSAGES, stream=True))
    assert len(deltas) == 4 and "".join(deltas) == ANSWER
    assert client.last.text == ANSWER and client.last.finish_reason == "stop"
    assert server.requests[-1]["body"]["model"] == server.vendor.models[1]
    if name == "sensenova":  # asks for no stream usage: estimated from the stream
        assert client.last.usage.get("estimated") is True
    else:
        assert client.last.usage["completion_tokens"] == 4 and "estimated" not in client.last.usage


@all_vendors
def test_bad_key_is_an_auth_error_without_the_key(vendor, monkeypatch):
    name, _ = vendor
    monkeypatch.setenv(VENDOR_ENV[name], "sk-wrong-key-000000")
    with pytest.raises(ProviderError) as info:
        resolve_target(name).complete(MESSAGES)
    assert info.value.kind == "auth"
    assert name in info.value.message and VENDOR_ENV[name] in info.value.message
    assert "sk-wrong-key-000000" not in str(info.value)


@all_vendors
def test_unknown_model_is_named(vendor):
    name, _ = vendor
    with pytest.raises(ProviderError) as info:
        resolve_target(f"{name}:no-such-model").complete(MESSAGES)
    assert info.value.kind == "model_not_found"
    assert "no-such-model" in info.value.message


@all_vendors
def test_quota_errors_are_not_retried(vendor):
    name, server = vendor
    server.script("quota")
    with pytest.raises(ProviderError) as info:
        resolve_target(name).complete(MESSAGES)
    assert info.value.kind == "quota"
    assert len(server.requests) == 1


@all_vendors
def test_429_waits_retry_after_then_succeeds(vendor):
    name, server = vendor
    server.script("429")
    started = time.monotonic()
    completion = resolve_target(name).complete(MESSAGES)
    assert completion.text == ANSWER
    assert len(server.requests) == 2
    assert time.monotonic() - started >= 0.95  # Retry-After: 1 was honoured


@pytest.mark.parametrize("vendor", ["openai"], indirect=True)
def test_long_retry_after_is_reported_not_waited(vendor):
    _, server = vendor
    server.script("429-long")
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        resolve_target("openai").complete(MESSAGES)
    assert info.value.kind == "rate_limit" and info.value.retry_after == 3600
    assert "retry after 3600s" in info.value.message
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("vendor", ["openai"], indirect=True)
def test_server_errors_retry_with_backoff(vendor, monkeypatch):
    _, server = vendor
    server.script("500", "500")
    assert resolve_target("openai").complete(MESSAGES).text == ANSWER
    assert len(server.requests) == 3


@pytest.mark.parametrize("vendor", ["openai", "glm"], indirect=True)
def test_context_too_long_is_explained(vendor):
    name, server = vendor
    server.script("context")
    with pytest.raises(ProviderError) as info:
        resolve_target(name).complete(MESSAGES)
    assert info.value.kind == "context_length"
    assert "/reset" in info.value.hint


@all_vendors
def test_mid_stream_disconnect_keeps_partial_text(vendor):
    name, server = vendor
    server.script("disconnect")
    client = resolve_target(name)
    got = []
    with pytest.raises(ProviderError) as info:
        for delta in client.complete(MESSAGES, stream=True):
            got.append(delta)
    assert info.value.kind == "disconnected"
    assert "".join(got) == "The answer "  # the two words sent before the drop
    assert client.last.text == "The answer "
    assert len(server.requests) == 1  # text was shown: never silently asked again


@pytest.mark.parametrize("vendor", ["openai", "glm", "qwen", "doubao", "sensenova"], indirect=True)
def test_embeddings(vendor):
    name, server = vendor
    vectors = resolve_target(name).embed(["a", "bbb", "cc"])
    assert vectors == [[1.0, 0.0, 1.0], [3.0, 1.0, 1.0], [2.0, 2.0, 1.0]]  # back in input order
    sent = server.requests[-1]
    assert sent["path"] == server.vendor.embed_path
    assert sent["body"]["input"] == ["a", "bbb", "cc"]


@pytest.mark.parametrize("vendor", ["glm", "qwen"], indirect=True)
def test_rerank(vendor):
    name, server = vendor
    docs = ["pandas are bears", "the sky is blue", "giant pandas eat bamboo"]
    scores = resolve_target(name).rerank("giant pandas", docs)
    assert scores[2] > scores[0] > scores[1]
    assert server.requests[-1]["path"] == server.vendor.rerank_path


@pytest.mark.parametrize("vendor", ["deepseek", "kimi"], indirect=True)
def test_no_embeddings_where_not_offered(vendor):
    name, _ = vendor
    with pytest.raises(Exception, match="offers no embeddings"):
        resolve_target(name).embed(["a"])


# --- through the real `lz` process -------------------------------------------------------------


def test_lz_chat_openai_without_key_exits_2_naming_both_env_vars():
    proc = lz("chat", "openai", "hi", input="", env={"OPENAI_API_KEY": "", "LAZYCLI_OPENAI_API_KEY": ""})
    assert proc.returncode == 2
    assert "set LAZYCLI_OPENAI_API_KEY or OPENAI_API_KEY" in proc.stderr
    assert "lz keys set openai" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_lz_chat_provider_one_shot_logs_usage(standin, lz_home):
    server = standin("qwen")
    env = {"DASHSCOPE_API_KEY": KEY, "LAZYCLI_QWEN_BASE_URL": server.url}
    proc = lz("chat", "qwen:qwen-turbo", "What is 2+2?", "--system", "Be brief.", input="", env=env, check=0)
    assert proc.stdout == ANSWER + "\n"
    assert server.requests[-1]["body"]["stream"] is True
    proc = lz("logs", "list", "--json", check=0)
    import json

    rows = json.loads(proc.stdout)["logs"]
    assert len(rows) == 1
    row = rows[0]
    assert (
        row["target"] == "qwen:qwen-turbo" and row["prompt"] == "What is 2+2?" and row["response"] == ANSWER
    )
    assert row["completion_tokens"] == 4 and row["total_tokens"] == row["prompt_tokens"] + 4
    assert row["latency_s"] > 0


def test_lz_chat_json_and_key_from_lz_keys(standin):
    server = standin("glm")
    lz("keys", "set", "glm", input=KEY + "\n", check=0)
    proc = lz("chat", "glm", "hello", "--json", input="", env={"LAZYCLI_GLM_BASE_URL": server.url}, check=0)
    import json

    data = json.loads(proc.stdout)
    assert data["text"] == ANSWER and data["usage"]["completion_tokens"] == 4
    assert data["target"] == "glm:glm-4-flash" and data["finish_reason"] == "stop"
    assert server.requests[-1]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_lz_chat_mid_stream_disconnect_exits_2_and_logs_the_error(standin):
    server = standin("openai")
    server.script("disconnect")
    env = {"OPENAI_API_KEY": KEY, "LAZYCLI_OPENAI_BASE_URL": server.url}
    proc = lz("chat", "openai", "hi", input="", env=env)
    assert proc.returncode == 2
    assert proc.stdout.startswith("The answer ")
    assert "dropped mid-answer" in proc.stderr
    log = lz("logs", "show", "last", "--json", check=0)
    import json

    row = json.loads(log.stdout)["logs"][0]
    assert row["response"] == "The answer " and "dropped" in row["error"]


def test_default_target_is_first_provider_with_a_key(standin):
    server = standin("deepseek")
    env = {"DEEPSEEK_API_KEY": KEY, "LAZYCLI_DEEPSEEK_BASE_URL": server.url}
    proc = lz("chat", "--no-log", input="What is 2+2?\n", env=env, check=0)
    assert proc.stdout.strip() == ANSWER
    assert "using deepseek" in proc.stderr
    assert server.requests[-1]["body"]["messages"][-1]["content"] == "What is 2+2?"
    assert lz("logs", "list", "--json", check=0).stdout.count('"id"') == 0  # --no-log


def test_endpoint_added_by_config_alone(standin):
    server = standin("local")
    lz("config", "set", "endpoints.mybox.base_url", server.url, check=0)
    proc = lz("chat", "mybox", "hi", "--max-tokens", "7", input="", check=0)
    assert proc.stdout.strip() == ANSWER
    sent = server.requests[-1]
    assert sent["body"]["model"] == "local-model"  # no default_model: the server's first model
    assert sent["body"]["max_tokens"] == 7
    assert "Authorization" not in sent["headers"]


def test_style_prefix_and_suffix(standin):
    server = standin("local")
    proc = lz(
        "chat", server.url, "hi", "--style", "color=cyan,prefix=>> ,suffix= <<", "--no-log", input="", check=0
    )
    assert proc.stdout == f">> {ANSWER} <<\n"
    bad = lz("chat", server.url, "hi", "--style", "colour=cyan", input="")
    assert bad.returncode == 2 and "unknown --style key 'colour'" in bad.stderr


def test_prompt_with_stdin_left_open_does_not_hang(standin):
    """A parent that never closes our stdin (CI runners, recipe steps) must not hang `lz chat X PROMPT`."""
    import os
    import subprocess
    import sys

    server = standin("local")
    argv = [sys.executable, "-m", "lazycli", "chat", server.url, "hi", "--no-log"]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
    )
    try:
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read().decode().strip() == ANSWER
        assert "answering the PROMPT alone" in proc.stderr.read().decode()
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()


def test_a_vendor_error_that_echoes_the_key_never_shows_it():
    """Some services repeat the key they were sent in their error text; lz must mask it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            sent = self.headers.get("Authorization", "")
            body = json.dumps({"error": {"message": f"invalid key: {sent}", "code": "invalid_api_key"}})
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "sk-echoed-secret-0123456789"
    try:
        proc = lz(
            "chat",
            "openai",
            "hi",
            env={
                "OPENAI_API_KEY": secret,
                "LAZYCLI_OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1",
            },
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 2
    assert "invalid key" in proc.stderr
    assert secret not in proc.stdout + proc.stderr
