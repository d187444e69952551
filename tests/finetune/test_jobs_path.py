"""A fine-tune's trainer is a job like any `lz launch` command: `lz jobs ls` lists it (kind finetune),
`lz jobs logs` prints its training log, and `lz jobs cancel` leaves the run cancelled, as
`lz finetune status` says; a resume then submits the same job again. Real PEFT on SmolLM2, CPU."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import lz

pytestmark = [pytest.mark.slow, pytest.mark.integration]
BASE = "smollm2-135m-instruct"


def _wait_for_a_step(run: Path, timeout: float = 600) -> None:
    log = run / "trainer_log.jsonl"
    deadline = time.monotonic() + timeout
    while not (log.exists() and log.read_text().strip()):
        assert time.monotonic() < deadline, (run / "logs" / "train.log").read_text()[-2000:]
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_finetune_is_a_job_that_lz_jobs_lists_shows_and_cancels(with_envs, fact_data, lz_home):
    args = ("finetune", BASE, "--data", str(fact_data), "--method", "peft", "--name", "jobbed")
    started = json.loads(lz(*args, "--steps", "400", "--detach", "--json", timeout=600, check=0).stdout)
    assert started["job_name"] == "finetune-jobbed" and started["job"]["kind"] == "finetune"
    run = lz_home / "data" / "finetune" / "jobbed"
    _wait_for_a_step(run)

    listed = {j["name"]: j for j in json.loads(lz("jobs", "ls", "--json", check=0).stdout)["jobs"]}
    job = listed["finetune-jobbed"]
    assert job["kind"] == "finetune" and job["owner"] == "jobbed" and job["status"] == "running"
    assert job["log_path"] == str(run / "logs" / "train.log")
    only = json.loads(lz("jobs", "ls", "--kind", "finetune", "--json", check=0).stdout)["jobs"]
    assert [j["name"] for j in only] == ["finetune-jobbed"]

    shown = lz("jobs", "logs", "finetune-jobbed", check=0).stdout
    assert "worker.py" in shown and shown.strip() in (run / "logs" / "train.log").read_text()

    cancelled = json.loads(lz("jobs", "cancel", "finetune-jobbed", "--json", check=0).stdout)
    assert cancelled["status"] == "cancelled" and not _alive(job["job"]["pid"])
    status = json.loads(lz("finetune", "status", "jobbed", "--json", check=0).stdout)
    assert status["status"] == "cancelled" and status["reason_failed"] == "cancelled"
    assert status["progress"]["state"] == "cancelled" and status["job"]["status"] == "cancelled"
    assert "cancelled" in lz("finetune", "ls", check=0).stdout

    # The run goes on from the same job name: the cancelled row is replaced by a running one.
    resumed = json.loads(lz("finetune", "resume", "jobbed", "--no-wait", "--json", check=0).stdout)
    assert resumed["status"] == "running" and resumed["attempts"] == 2
    again = json.loads(lz("jobs", "status", "finetune-jobbed", "--json", check=0).stdout)
    assert again["status"] == "running" and again["job"]["pid"] != job["job"]["pid"]
    lz("finetune", "cancel", "jobbed", check=0)
    assert (
        json.loads(lz("jobs", "status", "finetune-jobbed", "--json", check=0).stdout)["status"] == "cancelled"
    )
