"""The same `lz finetune` on the real single-node Slurm (scripts/slurm-up.sh): submitted with
sbatch, followed through `lz finetune status` until its model is registered."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import lz

# A training through Slurm: `extended` (.ci/run runs it after the default test run).
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.slurm, pytest.mark.extended]
DATA = Path(__file__).with_name("data") / "tiny_fact.jsonl"


def test_finetune_on_slurm_reports_progress_through_status(slurm_cluster, with_envs, lz_home):
    args = (
        "finetune",
        "smollm2-135m-instruct",
        "--data",
        str(DATA),
        "--method",
        "peft",
        "--name",
        "slurm-ft",
    )
    dry = lz(*args, "--steps", "3", "--launcher", "slurm", "--dry-run", check=0)
    assert "#SBATCH" in dry.stdout and "worker.py train" in dry.stdout

    started = json.loads(
        lz(*args, "--steps", "3", "--launcher", "slurm", "--no-wait", "--json", check=0).stdout
    )
    assert started["launcher"] == "slurm" and started["job"]["launcher"] == "slurm"
    seen_steps = set()
    deadline = time.monotonic() + 1200
    while True:
        status = json.loads(lz("finetune", "status", "slurm-ft", "--json", check=0).stdout)
        if status["progress"]:
            seen_steps.add(status["progress"]["step"])
        if status["status"] not in ("pending", "starting", "running", "unknown"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert status["status"] == "completed", lz("finetune", "logs", "slurm-ft").stdout[-3000:]
    assert status["progress"]["step"] == 3 and status["progress"]["state"] == "completed"
    assert status["result"]["model"] == "slurm-ft"
    assert any(
        m["name"] == "slurm-ft" for m in json.loads(lz("models", "ls", "--json", check=0).stdout)["models"]
    )
