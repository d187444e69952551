"""Fixtures for the media engines: each real server (eSpeak NG, PocketSphinx, RapidOCR) started once
per session on a free 127.0.0.1 port from the models inside their wheels, and small inputs made here
(speech by the TTS engine itself, printed text rendered with Pillow)."""

from __future__ import annotations

import importlib.util
import io
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

NEEDS = {"espeak": "espeakng_loader", "pocketsphinx": "pocketsphinx", "rapidocr": "rapidocr"}


def media_installed(backend: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in (NEEDS[backend], "fastapi", "uvicorn"))


def require(backend: str) -> None:
    if not media_installed(backend):
        pytest.skip(f"{NEEDS[backend]} is not installed (pip install 'lazycli[media]')")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One media engine server process; `url` is its /v1 base."""

    def __init__(self, backend: str, log: Path, *extra: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        argv = [
            sys.executable, "-m", "lazycli_plugins.media.server", "--backend", backend,
            "--served-name", backend, "--host", "127.0.0.1", "--port", str(self.port), *extra,
        ]  # fmt: skip
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(
                argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )

    def wait(self, timeout: float = 120) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"media server exited {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url.removesuffix("/v1") + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"media server not ready after {timeout} s:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None


def _server(backend: str, tmp_path_factory, *extra: str):
    require(backend)
    server = Server(backend, tmp_path_factory.mktemp(backend) / "server.log", *extra)
    try:
        yield server.wait()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tts_server(tmp_path_factory):
    yield from _server("espeak", tmp_path_factory)


@pytest.fixture(scope="session")
def stt_server(tmp_path_factory):
    # A 1 MiB upload limit, so the over-the-limit check needs no 25 MiB body.
    yield from _server("pocketsphinx", tmp_path_factory, "--max-audio-mb", "1")


@pytest.fixture(scope="session")
def ocr_server(tmp_path_factory):
    yield from _server("rapidocr", tmp_path_factory, "--threads", "1", "--max-image-mb", "1")


def render_text(lines: list[str], size: tuple[int, int] = (640, 80)) -> bytes:
    """A PNG of `lines` printed in black on white (Pillow's built-in font at 36 px)."""
    from PIL import Image, ImageDraw, ImageFont

    width, line_height = size
    img = Image.new("RGB", (width, line_height * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=36)
    for i, line in enumerate(lines):
        draw.text((20, 20 + i * line_height), line, fill="black", font=font)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
