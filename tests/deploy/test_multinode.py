"""`lz deploy MODEL --engine vllm --launcher slurm --nodes N --gpus G`: one model over several nodes,
a Ray cluster started inside the Slurm job, vLLM with tensor parallel per node and pipeline parallel
across nodes. The 2-node job script by golden file; the same script on the real single-node Slurm
with `--nodes 1`, stand-ins for `ray` and `vllm` checking the cluster and the argv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import lz
from tests.deploy.conftest import served_argv

GOLDEN = Path(__file__).parent / "golden" / "vllm-qwen2-72b-2-nodes.sbatch"
BIG = "qwen2-72b-instruct"


def test_the_two_node_job_script_starts_a_ray_cluster_then_vllm_over_it(lz_home):
    args = ["deploy", BIG, "--engine", "vllm", "--launcher", "slurm", "--nodes", "2", "--gpus", "16"]
    plan = json.loads(lz(*args, "--dry-run", "--json", check=0).stdout)
    assert plan["argv"][plan["argv"].index("--tensor-parallel-size") + 1] == "8"
    assert plan["argv"][plan["argv"].index("--pipeline-parallel-size") + 1] == "2"
    assert any(
        "tensor parallel 8 inside a node, pipeline parallel 2 across nodes" in n for n in plan["notes"]
    )
    script = plan["launcher_wrapping"]
    if os.environ.get("LZ_UPDATE_GOLDEN"):
        GOLDEN.write_text(script)
    assert script == GOLDEN.read_text()
    overridden = json.loads(
        lz(
            *args,
            "--set",
            "tensor_parallel_size=4",
            "--set",
            "pipeline_parallel_size=4",
            "--dry-run",
            "--json",
            check=0,
        ).stdout  # fmt: skip
    )
    assert "--tensor-parallel-size 4 --pipeline-parallel-size 4" in " ".join(overridden["argv"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--launcher", "slurm", "--nodes", "4", "--gpus", "6"], "--gpus 6 does not divide across --nodes 4"),
        (
            ["--launcher", "slurm", "--nodes", "2", "--gpus", "2"],
            "needs about 174 GB in 16-bit: at least 4 GPUs",
        ),
        (["--launcher", "local", "--nodes", "2", "--gpus", "8"], "launcher local runs jobs on one node"),
        (["--launcher", "slurm", "--nodes", "0", "--gpus", "8"], "--nodes 0: at least 1"),
    ],
)
def test_what_cannot_be_spread_is_one_line_and_submits_nothing(lz_home, args, message):
    proc = lz("deploy", BIG, "--engine", "vllm", *args, check=2)
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    engine = lz(
        "deploy", BIG, "--engine", "lmdeploy", "--launcher", "slurm", "--nodes", "2", "--gpus", "8", check=2
    )
    assert "engine lmdeploy serves a model on one node only (hint: --nodes needs: vllm" in engine.stderr
    assert json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"] == []


@pytest.mark.slurm
@pytest.mark.integration
def test_one_node_of_the_multi_node_script_on_the_real_slurm(
    slurm_cluster, lz_home, standin_env, hf_dir, tmp_path
):
    env = {**standin_env, "RAY_STANDIN_DIR": str(tmp_path)}
    row = json.loads(
        lz(
            "deploy",
            str(hf_dir),
            "--engine",
            "vllm",
            "--launcher",
            "slurm",
            "--nodes",
            "1",
            "--name",
            "mn",
            "--json",
            env=env,
            check=0,
        ).stdout  # fmt: skip
    )
    try:
        parsed = served_argv(row["url"])["parsed"]
        assert parsed["distributed_executor_backend"] == "ray" and parsed["ray_nodes"] == 1
        assert (parsed["tensor_parallel_size"], parsed["pipeline_parallel_size"]) == (1, 1)
        assert "lz: ray head on" in lz("deploy", "logs", "mn", env=env, check=0).stdout
    finally:
        lz("deploy", "stop", "mn", env=env)
    squeue = [shutil.which("squeue") or "squeue", "-h", "-j", row["job_id"]]
    assert subprocess.run(squeue, capture_output=True, text=True).stdout.strip() == ""
