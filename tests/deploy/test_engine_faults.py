"""The bundled engine (llama.cpp + SmolLM2) under load and under faults (issues 21 and 12):
concurrent streams all finish, a `kill -9`ed wrapper leaves nothing behind after `stop --all`,
restart never doubles up, and an engine that segfaults mid-request says so in one line."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import lz
from tests.conftest import pid_alive as alive
from tests.serve.conftest import lz_serve

from .conftest import group_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow]
if importlib.util.find_spec("llama_cpp") is None:
    pytest.skip("llama_cpp is not installed", allow_module_level=True)
MODEL = "smollm2-135m-instruct"
THREADS = {"LAZYCLI_LLAMACPP_THREADS": os.environ.get("LAZYCLI_LLAMACPP_THREADS", "1")}


def engine_pid(row: dict) -> int:
    """The engine's pid, from the pid file the wrapper writes beside the log."""
    return int(Path(row["log_path"] + ".pid").read_text().split()[0])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def deploy(name: str) -> dict:
    lz("deploy", MODEL, "--name", name, "--timeout", "180", env=THREADS, check=0)
    return json.loads(lz("deploy", "status", name, "--json", check=0).stdout)


def test_16_concurrent_streams_through_lz_serve_all_finish(lz_home):
    import openai

    streams, max_tokens = 16, 12
    messages = [{"role": "user", "content": "Name three colours."}]
    try:
        with lz_serve(MODEL, home=lz_home, env=THREADS, timeout=240) as (base, _):
            client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=600)
            results: list = [None] * streams

            def one(i: int) -> None:
                try:
                    stream = client.chat.completions.create(
                        model=MODEL,
                        messages=messages,
                        max_tokens=max_tokens,
                        temperature=0,
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                    pieces, finish, usage = [], None, None
                    for chunk in stream:
                        usage = chunk.usage or usage
                        if chunk.choices:
                            pieces.append(chunk.choices[0].delta.content or "")
                            finish = chunk.choices[0].finish_reason or finish
                    results[i] = ("".join(pieces), finish, usage.completion_tokens if usage else 0)
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    results[i] = (f"{type(exc).__name__}: {exc}", None, 0)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=600)
        # Every stream got its whole answer: it ended by the engine's own choice (stop) or after all
        # max_tokens tokens (length), never cut off by another request.
        assert all(r is not None and r[1] in ("stop", "length") for r in results), results
        assert all(r[0].strip() for r in results), results
        assert all(r[2] == max_tokens for r in results if r[1] == "length"), results
    finally:
        lz("deploy", "stop", "--all")


def test_kill_9_of_the_wrapper_then_stop_all_leaves_no_engine_and_no_port(lz_home):
    row = deploy("orphan")
    engine, port = engine_pid(row), row["port"]
    try:
        assert alive(engine) and listening(port)
        os.kill(row["pid"], signal.SIGKILL)  # the wrapper, as `kill -9` of any lz process would
        status = json.loads(lz("deploy", "status", "orphan", "--json", check=0).stdout)
        assert status["status"] == "failed"
        stopped = lz("deploy", "stop", "--all", "--json", check=0)
        assert "Traceback" not in stopped.stderr
        assert wait_until(lambda: not alive(engine) and not listening(port) and not group_alive(row["pid"]))
    finally:
        if alive(engine):
            os.kill(engine, signal.SIGKILL)


def test_restart_after_a_kill_9_runs_exactly_one_engine(lz_home):
    row = deploy("again")
    old_engine = engine_pid(row)
    try:
        os.kill(row["pid"], signal.SIGKILL)
        lz("deploy", "restart", "again", "--timeout", "180", env=THREADS, check=0)
        new = json.loads(lz("deploy", "status", "again", "--json", check=0).stdout)
        assert new["status"] == "running"
        assert not alive(old_engine)
        servers = [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_engine_of(pid, lz_home)]
        assert len(servers) == 1, servers
    finally:
        lz("deploy", "stop", "--all")


def _is_engine_of(pid: str, home: Path) -> bool:
    """A llama.cpp server process (not its wrapper) started under this test's LAZYCLI_HOME."""
    cmdline = _cmdline(int(pid))
    return (
        "-m lazycli_plugins.llamacpp_server" in cmdline
        and "_wrap.py" not in cmdline
        and str(home) in _environ_home(pid)
    )


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _environ_home(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_an_engine_that_segfaults_mid_request_says_so_in_one_line(lz_home):
    row = deploy("crashy")
    engine = engine_pid(row)
    env = {**os.environ, **THREADS}
    chat = subprocess.Popen(
        [sys.executable, "-m", "lazycli", "chat", "crashy", "--max-tokens", "2000",
         "Write a very long story about the sea, with many chapters."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        # Mid-request: the engine holds lz chat's connection, and the answer is not done yet.
        assert wait_until(lambda: _connected(row["port"]), timeout=60)
        time.sleep(1.0)
        assert chat.poll() is None, "the answer ended before the engine could be killed"
        os.kill(engine, signal.SIGSEGV)
        out, err = chat.communicate(timeout=120)
    finally:
        if chat.poll() is None:
            chat.kill()
        lz("deploy", "stop", "--all")
    assert chat.returncode == 2, err
    errors = [line for line in err.splitlines() if line.startswith("lz: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    line = errors[0]
    for needle in (
        "'crashy'",
        "llamacpp",
        "SIGSEGV",
        "exit 139",
        "bash scripts/install.sh",
        "restart crashy",
    ):
        assert needle in line, line
    assert "ask again" not in line


def _connected(port: int) -> bool:
    """A TCP connection to `port` on this machine is established (the request is in flight)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            return True
    return False
