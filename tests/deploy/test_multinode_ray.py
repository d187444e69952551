"""`lz deploy MODEL --engine vllm --launcher ray --nodes N --gpus G`: one Ray job on an existing
cluster whose entrypoint runs vLLM with its Ray executor. The 2-node request by golden file; the
path end to end with `--nodes 1` against a stand-in Ray head (Jobs + State API over the stand-in
`ray` cluster) and the stand-in vLLM, which joins that cluster; a cluster too small is one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lazycli.fsutil import free_port
from tests.conftest import lz
from tests.deploy.conftest import STANDINS, served_argv
from tests.launchers.fakes.kube_api import wait_for
from tests.launchers.fakes.ray_jobs import FakeRayHead, node

GOLDEN = Path(__file__).parent / "golden" / "vllm-qwen2-72b-2-nodes.ray.txt"
BIG = "qwen2-72b-instruct"


def test_the_two_node_request_is_one_job_whose_vllm_spreads_over_the_cluster(lz_home):
    env = {"LAZYCLI_RAY_ADDRESS": "http://ray-head.example:8265"}
    args = ["deploy", BIG, "--engine", "vllm", "--launcher", "ray", "--nodes", "2", "--gpus", "16"]
    plan = json.loads(lz(*args, "--dry-run", "--json", env=env, check=0).stdout)
    argv = " ".join(plan["argv"])
    assert "--tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray" in argv
    assert any("over the Ray cluster at ray_address" in n for n in plan["notes"])
    text = plan["launcher_wrapping"]
    if os.environ.get("LZ_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    body = json.loads(text[text.index("{") :])
    # The GPUs are vLLM's to place: a GPU held by the entrypoint would not be free for its workers.
    assert "entrypoint_num_gpus" not in body and "VLLM_HOST_IP" not in text


def _kill_ray_head(marks: list[str]) -> None:
    """End the processes of one Ray head, by pid: those whose command line names its temp dir or its
    GCS port (the client server names only the latter); never another head's."""
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if entry.name.isdigit() and any(mark in cmdline for mark in marks):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


@pytest.fixture(scope="module")
def real_ray_head():
    """A real `ray[default]` head on this machine (1 CPU) with the stand-in `vllm` on its PATH, so a
    job's vLLM stand-in joins it with ray.init as vLLM's executor does; skipped without Ray."""
    from tests.launchers.conftest import _wait_http, ray_binary

    ray = ray_binary()
    if ray is None:
        pytest.skip("ray is not installed (pip install 'lazycli[ray]', or set LZ_TEST_RAY_BIN)")
    port, temp_dir = free_port(), Path("/tmp") / f"lzray{free_port()}"  # short: socket paths are limited
    # The job's `python3` is the Ray venv's (CI keeps Ray out of lz's venv): the stand-in vLLM needs
    # only the standard library and `ray` to join the head as vLLM's executor does.
    bins = [STANDINS / "bin", Path(ray).parent, Path(sys.executable).parent]
    path = os.pathsep.join([*map(str, bins), os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "RAY_USAGE_STATS_ENABLED": "0"}
    gcs = free_port()
    start = [
        ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={port}", "--include-dashboard=true",
        "--num-cpus=1", "--disable-usage-stats", f"--temp-dir={temp_dir}",
        # Ray's fixed default ports (job agent 52365, client server 10001…): another head here has them
        f"--dashboard-agent-listen-port={free_port()}", f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}", f"--metrics-export-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
    ]  # fmt: skip
    proc = subprocess.run(start, capture_output=True, text=True, env=env, timeout=180)
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        _wait_http(f"http://127.0.0.1:{port}/api/jobs/", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _kill_ray_head([str(temp_dir), f"--address=127.0.0.1:{gcs}", f":{gcs} "])
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def ray_head(tmp_path, lz_home, standin_env, monkeypatch):
    def start(nodes=None):
        head = FakeRayHead(tmp_path, nodes).__enter__()
        started.append(head)
        monkeypatch.setenv("LAZYCLI_RAY_ADDRESS", head.url)
        return head

    started: list[FakeRayHead] = []
    yield start
    for head in started:
        head.__exit__(None, None, None)


def _deploy_one_node_of(model: Path) -> tuple[dict, dict]:
    """`lz deploy` a model over one node of the cluster; its row and what the stand-in vLLM parsed."""
    args = ["--engine", "vllm", "--launcher", "ray", "--nodes", "1", "--name", "mn", "--json"]
    row = json.loads(lz("deploy", str(model), "--timeout", "120", *args, check=0).stdout)
    parsed = served_argv(row["url"])["parsed"]
    # vLLM joined the cluster at the RAY_ADDRESS Ray's job supervisor gave its entrypoint
    assert parsed["distributed_executor_backend"] == "ray" and parsed["ray_nodes"] == 1
    assert (parsed["tensor_parallel_size"], parsed["pipeline_parallel_size"]) == (1, 1)
    return row, parsed


def test_one_node_runs_end_to_end_on_the_cluster_and_stops(ray_head, hf_dir):
    head = ray_head()
    try:
        _, parsed = _deploy_one_node_of(hf_dir)
        assert parsed["ray_address"] == f"127.0.0.1:{head.gcs_port}"
        (body,) = head.submitted()
        assert "entrypoint_num_gpus" not in body
    finally:
        lz("deploy", "stop", "mn", check=0)
    (job,) = head.jobs.values()
    assert job.info()["status"] == "STOPPED" and job.proc.poll() is not None


@pytest.mark.integration
@pytest.mark.slow
def test_one_node_on_a_real_ray_head(real_ray_head, lz_home, standin_env, hf_dir, monkeypatch):
    monkeypatch.setenv("LAZYCLI_RAY_ADDRESS", real_ray_head)
    try:
        row, _ = _deploy_one_node_of(hf_dir)
        assert row["url"].startswith("http://127.0.0.1:")  # the node's address as the head reports it
    finally:
        lz("deploy", "stop", "mn", check=0)
    import requests

    def job() -> dict:
        return requests.get(f"{real_ray_head}/api/jobs/{row['job_id']}", timeout=10).json()

    assert wait_for(lambda: job()["status"] == "STOPPED", timeout=60)  # Ray stops a job asynchronously
    nodes = requests.get(f"{real_ray_head}/api/v0/nodes", timeout=10).json()["data"]["result"]["result"]
    (head,) = [n["node_id"] for n in nodes if n["is_head_node"]]
    assert job()["driver_node_id"] == head  # an entrypoint that asks for nothing runs on the head


@pytest.mark.parametrize(
    ("nodes", "message", "hint"),
    [
        (
            [node("10.0.0.1", 8, head=True), node("10.0.0.2", 4)],
            "--nodes 2 --gpus 16 needs 2 node(s) with 8 GPU(s) each, and the Ray cluster at",
            "it holds --nodes 1 --gpus 8",
        ),
        (
            [node("10.0.0.1", 0, head=True), node("10.0.0.2", 8), node("10.0.0.3", 8)],
            "has 0 GPU(s), and vLLM's driver runs there",
            "start the Ray head on a GPU node",
        ),
    ],
)
def test_a_cluster_too_small_is_one_line_and_nothing_is_submitted(ray_head, hf_dir, nodes, message, hint):
    head = ray_head(nodes)
    args = ["--engine", "vllm", "--launcher", "ray", "--nodes", "2", "--gpus", "16"]
    proc = lz("deploy", str(hf_dir), *args, check=2)
    assert message in proc.stderr and hint in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert head.submitted() == []
    assert json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"] == []
