"""A fine-tune's trainer is a job like any `lz launch` command: `lz jobs ls` lists it (kind finetune),
`lz jobs logs` prints its training log, and `lz jobs cancel` leaves the run cancelled, as
`lz finetune status` says; a resume then submits the same job again. Real PEFT on SmolLM2, CPU."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from lazycli.launchers import Resources
from tests.conftest import lz, pid_alive

BASE = "smollm2-135m-instruct"


def _wait_for_a_step(run: Path, timeout: float = 600) -> None:
    log = run / "trainer_log.jsonl"
    deadline = time.monotonic() + timeout
    while not (log.exists() and log.read_text().strip()):
        assert time.monotonic() < deadline, (run / "logs" / "train.log").read_text()[-2000:]
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.integration
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
    assert cancelled["status"] == "cancelled" and not pid_alive(job["job"]["pid"])
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


def test_a_run_started_by_an_older_lz_gets_its_job_row_and_lz_jobs_cancels_it(lz_home):
    """run.json from before jobs kept the launcher's job itself: the first read gives it a row."""
    import sys

    from lazycli.plugins import registry

    run = lz_home / "data" / "finetune" / "legacy"
    (run / "logs").mkdir(parents=True)
    argv = [sys.executable, "-c", "import time; print('training', flush=True); time.sleep(120)"]
    job = (
        registry()
        .get("launchers", "local")
        .factory()
        .submit(argv, Resources(), {}, run / "logs" / "train.log")
    )
    record = {"name": "legacy", "method": "peft", "model": BASE, "run_dir": str(run), "status": "running",
              "argv": argv, "launcher": "local", "gpus": 0, "log_path": str(run / "logs" / "train.log"),
              "job": json.loads(job.to_json()), "attempts": 1}  # fmt: skip
    (run / "run.json").write_text(json.dumps(record))
    try:
        status = json.loads(lz("finetune", "status", "legacy", "--json", check=0).stdout)
        assert status["status"] == "running" and status["job_name"] == "finetune-legacy"
        assert "job" not in json.loads((run / "run.json").read_text())  # run.json now names it
        [listed] = json.loads(lz("jobs", "ls", "--json", check=0).stdout)["jobs"]
        assert (listed["name"], listed["kind"], listed["owner"]) == ("finetune-legacy", "finetune", "legacy")
        assert listed["job"]["pid"] == job.pid and listed["status"] == "running"
        assert "training" in lz("jobs", "logs", "finetune-legacy", check=0).stdout
        lz("jobs", "cancel", "finetune-legacy", check=0)
        assert not pid_alive(job.pid)
        assert (
            json.loads(lz("finetune", "status", "legacy", "--json", check=0).stdout)["status"] == "cancelled"
        )
    finally:
        if pid_alive(job.pid):
            os.killpg(job.pid, signal.SIGKILL)
