"""`lz deploy` with the real llama.cpp server and the bundled SmolLM2, end to end through `lz`."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.conftest import lz

from .conftest import group_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow]
if importlib.util.find_spec("llama_cpp") is None:  # found, not imported: importing it costs seconds
    pytest.skip("llama_cpp is not installed", allow_module_level=True)
MODEL = "smollm2-135m-instruct"


def test_deploy_chat_ls_logs_stop_leaves_nothing_running(lz_home):
    proc = lz("deploy", MODEL, "--name", "tiny", "--timeout", "120", check=0)
    url = proc.stdout.strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    assert "ready" in proc.stderr and "lz chat tiny" in proc.stderr
    row = None
    try:
        from openai import OpenAI

        client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=120)
        plain = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0
        )
        assert plain.choices[0].message.content.strip()
        assert plain.usage.completion_tokens > 0
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Count to three."}], max_tokens=8, stream=True
        )
        deltas = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        assert len(deltas) >= 2  # really streamed, piece by piece

        # a new process (a new shell) sees the same running deployment
        listing = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
        [row] = listing
        assert row["name"] == "tiny" and row["status"] == "running" and row["url"] == url
        assert row["engine"] == "llamacpp" and row["launcher"] == "local" and row["served_name"] == MODEL
        assert group_alive(row["pid"])

        logs = lz("deploy", "logs", "tiny", "-n", "50", check=0).stdout
        assert "/v1/chat/completions" in logs
        status = lz("deploy", "status", "tiny", "--json", check=0)
        assert json.loads(status.stdout)["status"] == "running"
    finally:
        stopped = lz("deploy", "stop", "tiny", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["stopped"][0]["status"] == "cancelled"
    assert group_alive(row["pid"]) == []
    [after] = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
    assert after["status"] == "cancelled"


def test_engine_dying_at_start_shows_log_tail_and_leaves_nothing(lz_home, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)  # a header llama.cpp refuses to load
    proc = lz("deploy", str(broken), "--name", "broken", "--timeout", "120")
    assert proc.returncode == 2, proc.stderr
    assert "deployment 'broken'" in proc.stderr and "failed" in proc.stderr
    assert "last 20 lines" in proc.stderr and "Traceback" not in proc.stderr.split("last 20 lines")[0]
    assert "lz deploy logs broken" in proc.stderr
    [row] = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
    assert row["status"] == "failed" and row["exit_code"] not in (None, 0)
    assert group_alive(row["pid"]) == []


def test_ensure_running_reuses_a_healthy_deployment(lz_home):
    """What `lz chat MODEL` relies on: deploy once, then reuse while it answers."""
    from lazycli import deployments
    from lazycli.launchers import Status

    said: list[str] = []
    first = deployments.ensure_running(MODEL, announce=said.append)
    try:
        assert first.status is Status.RUNNING and first.served_name == MODEL
        second = deployments.ensure_running(MODEL, announce=said.append)
        assert (second.name, second.pid) == (first.name, first.pid)
        assert said[0].startswith("deploying") and said[-1].startswith("using deployment")
        assert deployments.find_running(MODEL).name == first.name
    finally:
        deployments.stop(first.name)
    assert deployments.find_running(MODEL) is None
    assert group_alive(first.pid) == []


def test_llamacpp_url_fixture_serves_the_bundled_model(llamacpp_url):
    """The session fixture other parts' tests use: a real llama.cpp server, OpenAI base URL."""
    import urllib.request

    assert llamacpp_url.startswith("http://127.0.0.1:") and llamacpp_url.endswith("/v1")
    with urllib.request.urlopen(llamacpp_url + "/models", timeout=10) as resp:
        assert [m["id"] for m in json.loads(resp.read())["data"]] == [MODEL]
