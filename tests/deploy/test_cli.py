"""`lz deploy` verbs: the default-command group, --dry-run, errors, --no-wait, timeouts, restart."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import lz

from .conftest import group_alive


def test_dry_run_says_why_and_prints_exact_argv_and_wrapping():
    proc = lz(
        "deploy", "smollm2-135m-instruct", "--dry-run", "--set", "n_ctx=1024", "--", "--chat_format", "chatml"
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "auto: model format is gguf → llamacpp" in out
    assert "-m lazycli_plugins.llamacpp_server --model" in out and "--n_ctx 1024" in out
    assert "--chat_format chatml" in out
    assert "--port '{port}'" in out and "_wrap.py" in out and "process group" in out
    plan = json.loads(lz("deploy", "all-minilm-l6-v2", "--dry-run", "--json", check=0).stdout)
    assert plan["engine"] == "embed" and plan["reason"].startswith("auto: model type is embed")
    assert plan["argv"][1:3] == ["-m", "lazycli_plugins.embed.server"] and "{port}" in plan["argv"]
    assert json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"] == []  # started nothing


def test_dry_run_of_a_gpu_engine_shows_tensor_parallel(standin_env):
    plan = json.loads(
        lz(
            "deploy", "qwen2-1.5b", "--engine", "vllm", "--gpus", "4", "--dry-run", "--json", env=standin_env
        ).stdout
    )
    argv = plan["argv"]
    assert argv[:2] == ["vllm", "serve"]
    assert argv[argv.index("--tensor-parallel-size") + 1] == "4"
    assert argv[argv.index("--served-model-name") + 1] == "qwen2-1.5b"


def test_user_errors_are_one_line_exit_2():
    cases = [
        (["deploy", "smollm2-135m-instruct", "--engine", "vlm"], "did you mean 'vllm'"),
        (["deploy", "smollm2-135m-instruct", "--launcher", "locl"], "did you mean 'local'"),
        (["deploy", "smollm2-135m-instruct", "--set", "n_ctxx=5"], "did you mean 'n_ctx'"),
        (["deploy", "smollm2-135m-instruct", "--set", "n_ctx=big"], "expected int"),
        (["deploy", "no-such-model-xyz"], "unknown model"),
        (["deploy", "status", "nope"], "unknown deployment 'nope'"),
        (["deploy", "stop"], "give a deployment NAME or --all"),
        (["deploy", "smollm2-135m-instruct", "--name", "bad name!"], "bad deployment name"),
    ]
    for args, expected in cases:
        proc = lz(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert expected in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_help_has_examples_and_subcommands():
    out = lz("deploy", "--help", check=0).stdout
    for word in ("Examples", "ls", "status", "logs", "stop", "restart", "--dry-run"):
        assert word in out
    assert "--set" in lz("deploy", "start", "--help", check=0).stdout


@pytest.mark.integration
def test_no_wait_then_ls_turns_running_once_healthy(standin_env, hf_dir):
    env = {**standin_env, "STANDIN_START_DELAY": "1.5"}
    row = json.loads(
        lz(
            "deploy", str(hf_dir), "--engine", "vllm", "--no-wait", "--json", "--name", "bg", env=env, check=0
        ).stdout
    )
    try:
        assert row["status"] == "starting" and row["port"]
        deadline = time.monotonic() + 30
        while True:
            [listed] = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
            if listed["status"] == "running" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert listed["status"] == "running" and listed["url"] == row["url"]
    finally:
        lz("deploy", "stop", "bg", check=0)


@pytest.mark.integration
def test_timeout_stops_the_engine_and_records_it(standin_env, hf_dir):
    env = {**standin_env, "STANDIN_START_DELAY": "60"}
    proc = lz("deploy", str(hf_dir), "--engine", "vllm", "--name", "slow", "--timeout", "1", env=env)
    assert proc.returncode == 2 and "not healthy after 1 s" in proc.stderr
    [row] = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
    assert row["status"] == "timeout"
    assert group_alive(row["pid"]) == []


@pytest.mark.integration
def test_dead_process_shows_exit_code_in_ls_and_restart_brings_it_back(standin_env, hf_dir):
    import os
    import signal

    row = json.loads(
        lz("deploy", str(hf_dir), "--engine", "lmdeploy", "--name", "r", "--json", env=standin_env).stdout
    )
    try:
        engine_pid = next(p for p in group_alive(row["pid"]) if p != row["pid"])
        os.kill(engine_pid, signal.SIGINT)  # the engine dies on its own (the wrapper records its code)
        deadline = time.monotonic() + 15
        while True:
            [listed] = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
            if listed["status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert listed["status"] == "completed" or (listed["status"] == "failed" and listed["exit_code"])
        assert "exit" in lz("deploy", "ls", check=0).stdout  # the table shows the exit code
        chat = lz("chat", "r", "hi", env=standin_env)  # the hint names the verb that brings it back
        assert chat.returncode == 2 and "start it again: `lz deploy restart r`" in chat.stderr, chat.stderr
        again = json.loads(lz("deploy", "restart", "r", "--json", env=standin_env, check=0).stdout)
        assert again["name"] == "r" and again["status"] == "running" and again["pid"] != row["pid"]
        assert again["engine"] == "lmdeploy"
    finally:
        lz("deploy", "stop", "r", check=0)


@pytest.mark.integration
def test_logs_follow_streams_new_lines_and_ends_with_the_deployment(standin_env, hf_dir):
    import os
    import subprocess
    import sys
    import urllib.request

    row = json.loads(
        lz("deploy", str(hf_dir), "--engine", "vllm", "--name", "f", "--json", env=standin_env).stdout
    )
    cmd = [sys.executable, "-m", "lazycli", "deploy", "logs", "f", "-f"]
    follower = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        time.sleep(2.0)  # the follower has printed what was there
        urllib.request.urlopen(row["url"] + "/models", timeout=10).read()
        time.sleep(1.0)
    finally:
        lz("deploy", "stop", "f", check=0)
    out, err = follower.communicate(timeout=30)  # ends by itself once the deployment has ended
    assert follower.returncode == 0, err
    assert "standin openai serving" in out
    assert '"GET /v1/models HTTP/1.1" 200' in out  # written after the follower started


@pytest.mark.integration
def test_pinned_port_is_used_checked_and_kept_by_restart(standin_env, hf_dir):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["deploy", str(hf_dir), "--engine", "vllm", "--port", str(port), "--json"]
    row = json.loads(lz(*args, "--name", "pin", env=standin_env, check=0).stdout)
    try:
        assert row["port"] == port and row["url"] == f"http://127.0.0.1:{port}/v1"
        clash = lz(*args, "--name", "pin2", env=standin_env)
        assert clash.returncode == 2 and f"port {port} is already in use" in clash.stderr
        again = json.loads(lz("deploy", "restart", "pin", "--json", env=standin_env, check=0).stdout)
        assert again["port"] == port and again["status"] == "running"
    finally:
        lz("deploy", "stop", "pin", check=0)


@pytest.mark.integration
def test_ctrl_c_while_waiting_stops_the_engine(standin_env, hf_dir):
    import os
    import signal
    import subprocess
    import sys

    # The stand-in never becomes healthy while the test runs, however slow a busy machine is.
    env = {**os.environ, **standin_env, "STANDIN_START_DELAY": "3600"}
    cmd = [sys.executable, "-m", "lazycli", "deploy", str(hf_dir), "--engine", "vllm", "--name", "int"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Await the condition (the engine was submitted), not a fixed time: on a busy machine that takes
    # longer; pytest's timeout bounds a hang, and an lz that exited early fails with its stderr.
    row = None
    while row is None:
        assert proc.poll() is None, proc.communicate()[1]
        rows = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
        row = rows[0] if rows and rows[0]["pid"] else None
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.communicate()
    assert proc.returncode != 0
    [after] = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
    assert after["status"] == "cancelled"
    assert group_alive(row["pid"]) == []


@pytest.mark.integration
def test_ensure_running_waits_for_a_deployment_another_lz_is_starting(standin_env, hf_dir):
    from lazycli import deployments

    env = {**standin_env, "STANDIN_START_DELAY": "2"}
    first = json.loads(lz("deploy", str(hf_dir), "--engine", "vllm", "--no-wait", "--json", env=env).stdout)
    try:
        assert first["status"] == "starting"
        said: list[str] = []
        row = deployments.ensure_running(str(hf_dir), announce=said.append)
        assert row.name == first["name"] and row.status == "running"
        assert said[0].startswith("waiting for deployment") and said[-1].startswith("using deployment")
        assert len(deployments.list_deployments()) == 1  # no second copy was started
    finally:
        lz("deploy", "stop", first["name"], check=0)


def test_row_orphaned_before_submit_turns_failed():
    from lazycli import deployments, state

    old = time.time() - 3600
    with state.transaction() as db:
        db.execute(
            """INSERT INTO deployments (name, model, engine, launcher, status, protocol, served_name,
                   health_path, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            ("orphan", "m", "llamacpp", "local", "pending", "openai", "m", "/v1/models", old, old),
        )
    assert deployments.get("orphan").status == "pending"  # reading asks no launcher and writes nothing
    row = deployments.get("orphan", refresh=True)
    assert row.status == "failed" and "before starting" in row.reason
    assert deployments.get("orphan").status == "failed"  # the refresh was recorded
