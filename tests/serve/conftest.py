"""Servers for the serve tests: the engine stand-in and `lz serve` as real processes on free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            pytest.fail(f"{url}: process exited with {proc.returncode}\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"{url} not healthy after {timeout} s")


def stop(proc: subprocess.Popen, grace: float = 15) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def standin(delay: float = 0.0, pieces: int = 16):
    """The fast engine stand-in; yields its OpenAI base URL (…/v1)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "engine_standin.py"),
            "--port",
            str(port),
            "--delay",
            str(delay),
            "--pieces",
            str(pieces),
        ]
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


@contextlib.contextmanager
def lz_serve(target: str, *args: str, home: Path, env: dict | None = None, timeout: float = 120):
    """`lz serve TARGET --port P ARGS…` as a real process; yields (base URL without /v1, process)."""
    port = free_port()
    log = home / f"serve-{port}.log"
    full_env = {**os.environ, "LAZYCLI_HOME": str(home), **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lazycli", "serve", target, "--port", str(port), *args],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, log, timeout=timeout)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lzhome-serve")
