"""Shared fixtures: every test gets its own LAZYCLI_HOME; `lz` runs as a real subprocess."""

from __future__ import annotations

import os
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


@pytest.fixture
def run_lz():
    return lz
