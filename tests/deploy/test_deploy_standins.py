"""`lz deploy` through vLLM, LMDeploy and LightLLM: the real code path (argv → local launcher →
health → row → client), with stand-ins that parse the documented flags and speak each protocol."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import lz

from .conftest import group_alive

pytestmark = pytest.mark.integration


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def post(url: str, body: dict) -> bytes:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def root(url: str) -> str:
    return url.removesuffix("/v1")


@pytest.mark.parametrize("engine", ["vllm", "lmdeploy"])
def test_openai_engines_tensor_parallel_and_chat(engine, standin_env, hf_dir):
    args = ["deploy", str(hf_dir), "--engine", engine, "--gpus", "2", "--name", "big", "--json"]
    args += ["--set", "max_model_len=2048" if engine == "vllm" else "session_len=2048"]
    row = json.loads(lz(*args, env=standin_env, check=0).stdout)
    try:
        assert row["status"] == "running" and row["protocol"] == "openai" and row["url"].endswith("/v1")
        parsed = get_json(root(row["url"]) + "/_argv")["parsed"]
        if engine == "vllm":
            assert (parsed["tensor_parallel_size"], parsed["max_model_len"]) == (2, 2048)
        else:
            assert (parsed["tp"], parsed["session_len"]) == (2, 2048)
        from openai import OpenAI

        client = OpenAI(base_url=row["url"], api_key="none", max_retries=0)
        answer = client.chat.completions.create(
            model=row["served_name"], messages=[{"role": "user", "content": "one two three"}]
        )
        assert answer.choices[0].message.content == "three two one"
        stream = client.chat.completions.create(
            model=row["served_name"], messages=[{"role": "user", "content": "a b c"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream).split() == ["c", "b", "a"]
    finally:
        lz("deploy", "stop", "big", check=0)
    assert group_alive(row["pid"]) == []


def test_lightllm_generate_and_stream_protocol(standin_env, hf_dir):
    row = json.loads(
        lz(
            "deploy", str(hf_dir), "--engine", "lightllm", "--gpus", "4", "--json", env=standin_env, check=0
        ).stdout
    )
    try:
        assert row["protocol"] == "lightllm" and not row["url"].endswith("/v1")
        assert get_json(row["url"] + "/_argv")["parsed"]["tp"] == 4
        body = {"inputs": "x y z", "parameters": {"max_new_tokens": 2, "do_sample": False}}
        assert json.loads(post(row["url"] + "/generate", body))["generated_text"] == ["z y"]
        events = [
            json.loads(line[len("data:") :])
            for line in post(row["url"] + "/generate_stream", body).decode().splitlines()
            if line.startswith("data:")
        ]
        assert "".join(e["token"]["text"] for e in events) == "z y" and events[-1]["finished"]
    finally:
        lz("deploy", "stop", row["name"], check=0)


def test_vllm_legacy_generate_server_on_request(standin_env, hf_dir):
    row = json.loads(
        lz(
            "deploy", str(hf_dir), "--engine", "vllm-generate", "--name", "demo", "--json", env=standin_env
        ).stdout
    )
    try:
        assert row["protocol"] == "vllm-generate"
        assert json.loads(post(row["url"] + "/generate", {"prompt": "p q", "max_tokens": 5}))["text"] == [
            "p q q p"
        ]
    finally:
        lz("deploy", "stop", "demo", check=0)


def test_gpu_engine_refuses_gguf_and_unknown_set_key(standin_env, hf_dir):
    proc = lz("deploy", "smollm2-135m-instruct", "--engine", "vllm", env=standin_env)
    assert proc.returncode == 2 and "serves hf models" in proc.stderr and "Traceback" not in proc.stderr
    proc = lz("deploy", str(hf_dir), "--engine", "vllm", "--set", "max_modl_len=1", env=standin_env)
    assert proc.returncode == 2 and "did you mean 'max_model_len'" in proc.stderr
    assert json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"] == []  # nothing started


def test_ten_deploys_at_once_get_distinct_ports_and_consistent_rows(standin_env, hf_dir):
    env = {**__import__("os").environ, **standin_env}
    cmd = [
        sys.executable,
        "-m",
        "lazycli",
        "deploy",
        str(hf_dir),
        "--engine",
        "vllm",
        "--json",
        "--timeout",
        "120",
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(10)
    ]
    results = [p.communicate(timeout=240) for p in procs]
    try:
        assert all(p.returncode == 0 for p in procs), [err for _, err in results]
        rows = [json.loads(out) for out, _ in results]
        assert len({r["name"] for r in rows}) == 10
        assert len({r["port"] for r in rows}) == 10
        listed = {
            r["name"]: r for r in json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
        }
        assert set(listed) == {r["name"] for r in rows}
        for r in rows:
            assert listed[r["name"]]["status"] == "running"
            assert (listed[r["name"]]["port"], listed[r["name"]]["pid"]) == (r["port"], r["pid"])
            served = get_json(r["url"] + "/models")["data"][0]["id"]
            assert served == r["served_name"] == "tiny-llama"
            assert get_json(root(r["url"]) + "/_argv")["parsed"]["port"] == r["port"]
    finally:
        stopped = lz("deploy", "stop", "--all", "--json")
    assert stopped.returncode == 0
    assert len(json.loads(stopped.stdout)["stopped"]) == 10
    time.sleep(0.1)
    assert all(group_alive(r["pid"]) == [] for r in rows)


def test_dry_run_deploy_and_restart_start_the_same_engine_argv(standin_env, hf_dir):
    """One DeployRequest: what --dry-run prints is what deploy starts, and restart starts it again."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    flags = [str(hf_dir), "--engine", "vllm", "--gpus", "2", "--name", "same", "--port", str(port)]
    flags += ["--set", "max_model_len=2048", "--json"]
    planned = json.loads(
        lz("deploy", *flags, "--dry-run", "--", "--seed", "7", env=standin_env, check=0).stdout
    )
    row = json.loads(lz("deploy", *flags, "--", "--seed", "7", env=standin_env, check=0).stdout)
    try:
        started = get_json(root(row["url"]) + "/_argv")["argv"]
        assert planned["argv"][-len(started) :] == started  # the same flags, values and extra args
        assert "--seed" in started and str(port) in started
        again = json.loads(lz("deploy", "restart", "same", "--json", env=standin_env, check=0).stdout)
        assert again["port"] == port
        assert get_json(root(again["url"]) + "/_argv")["argv"] == started
    finally:
        lz("deploy", "stop", "same", env=standin_env)
