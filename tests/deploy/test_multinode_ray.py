"""`lz deploy MODEL --engine vllm --launcher ray --nodes N --gpus G`: one Ray job on an existing
cluster whose entrypoint runs vLLM with its Ray executor. The 2-node request by golden file; the
path end to end with `--nodes 1` against a stand-in Ray head (Jobs + State API over the stand-in
`ray` cluster) and the stand-in vLLM, which joins that cluster; a cluster too small is one line."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import lz
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


def test_one_node_runs_end_to_end_on_the_cluster_and_stops(ray_head, hf_dir):
    head = ray_head()
    args = ["--engine", "vllm", "--launcher", "ray", "--nodes", "1", "--name", "mn", "--json"]
    row = json.loads(lz("deploy", str(hf_dir), *args, check=0).stdout)
    try:
        with urllib.request.urlopen(row["url"].removesuffix("/v1") + "/_argv", timeout=10) as resp:
            parsed = json.loads(resp.read())["parsed"]
        # the stand-in vLLM joined the cluster at the RAY_ADDRESS Ray's job supervisor gave it
        assert parsed["distributed_executor_backend"] == "ray" and parsed["ray_nodes"] == 1
        assert parsed["ray_address"] == f"127.0.0.1:{head.gcs_port}"
        assert (parsed["tensor_parallel_size"], parsed["pipeline_parallel_size"]) == (1, 1)
        (body,) = head.submitted()
        assert "entrypoint_num_gpus" not in body
    finally:
        lz("deploy", "stop", "mn", check=0)
    (job,) = head.jobs.values()
    assert job.info()["status"] == "STOPPED" and job.proc.poll() is not None


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
