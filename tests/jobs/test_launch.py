"""`lz launch … -- CMD` and `lz jobs`: any command through a launcher, tracked in the state database,
followed from a fresh process; the local launcher here and the real single-node Slurm."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from tests.conftest import lz, pid_alive


def _jobs(env=None) -> dict[str, dict]:
    listing = json.loads(lz("jobs", "ls", "--json", env=env, check=0).stdout)["jobs"]
    return {job["name"]: job for job in listing}


def test_a_command_streams_here_and_lz_exits_with_its_code(lz_home):
    ok = lz("launch", "--", "python", "-c", "print(42)", check=0)
    assert "42" in ok.stdout.splitlines()
    failed = lz("launch", "--name", "boom", "--", "python", "-c", "import sys; print('bad'); sys.exit(3)")
    assert failed.returncode == 3 and "bad" in failed.stdout and "job boom failed" in failed.stderr
    jobs = _jobs()
    assert jobs["boom"]["status"] == "failed" and jobs["boom"]["exit_code"] == 3
    [first] = [j for name, j in jobs.items() if name != "boom"]
    assert first["name"] == "python-1" and first["status"] == "completed" and first["exit_code"] == 0
    assert lz("jobs", "logs", "python-1", check=0).stdout.strip().endswith("42")


def test_a_detached_job_is_followed_and_cancelled_from_new_processes(lz_home):
    script = "import time\nfor i in range(600):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"
    out = json.loads(lz("launch", "--name", "ticker", "--json", "--", "python", "-c", script, check=0).stdout)
    pid = int(out["job_id"])
    assert out["status"] == "running" and os.path.exists(f"/proc/{pid}")
    deadline = time.monotonic() + 30
    while "tick 3" not in lz("jobs", "logs", "ticker", check=0).stdout:
        assert time.monotonic() < deadline, "the job printed nothing"
        time.sleep(0.2)
    assert json.loads(lz("jobs", "status", "ticker", "--json", check=0).stdout)["status"] == "running"
    cancelled = json.loads(lz("jobs", "cancel", "ticker", "--json", check=0).stdout)
    assert cancelled["status"] == "cancelled"
    assert not pid_alive(pid)
    lz("launch", "--name", "ticker", "--", "true", check=0)  # a finished job's name can be used again


def test_environment_values_go_to_the_job_by_name_and_nowhere_else(lz_home):
    secret = "sk-launch-secret-0123456789"
    env = {"MY_TOKEN": secret}
    probe = "import os; print('token length', len(os.environ['MY_TOKEN']))"
    dry = lz("launch", "--env", "MY_TOKEN", "--dry-run", "--", "python", "-c", probe, env=env, check=0)
    assert "MY_TOKEN" in dry.stdout and secret not in dry.stdout
    ran = lz("launch", "--env", "MY_TOKEN", "--", "python", "-c", probe, env=env, check=0)
    assert f"token length {len(secret)}" in ran.stdout
    with sqlite3.connect(lz_home / "data" / "state.db") as db:
        dumped = "\n".join(db.iterdump())
    assert secret not in dumped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no command to launch"),
        (["--env", "NOPE_NOT_SET", "--", "true"], "--env NOPE_NOT_SET: no such variable in this shell"),
        (["--nodes", "2", "--", "true"], "the local launcher runs on this machine only"),
        (
            ["-l", "slurm", "--nodes", "2", "--gpus", "3", "--", "true"],
            "--gpus 3 does not divide across --nodes 2",
        ),
        (["--launcher", "slrum", "--", "true"], "did you mean 'slurm'"),
        (["--name", "bad name", "--", "true"], "bad job name 'bad name'"),
        (["--", "no-such-program-xyz", "--flag"], "command 'no-such-program-xyz' not found on PATH"),
    ],
)
def test_bad_launches_are_one_line_and_record_nothing(lz_home, args, message):
    proc = lz("launch", *args, check=2)
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _jobs() == {}


def test_gpus_is_the_total_and_each_node_asks_for_its_share(lz_home):
    """As in lz deploy (and Slurm's own --gpus): 16 GPUs over 2 nodes is 8 on each node."""
    script = lz(
        "launch", "-l", "slurm", "--nodes", "2", "--gpus", "16", "--dry-run", "--", "true", check=0
    ).stdout
    assert "#SBATCH --nodes=2" in script and "#SBATCH --gres=gpu:8" in script


@pytest.mark.slurm
@pytest.mark.integration
def test_a_command_on_the_real_slurm_shows_its_output_in_jobs_logs(slurm_cluster, lz_home):
    launched = lz(
        "launch", "--launcher", "slurm", "--name", "answer", "--", "python", "-c", "print(42)", check=0
    )
    assert "42" in launched.stdout.splitlines()
    job = _jobs()["answer"]
    assert job["launcher"] == "slurm" and job["status"] == "completed" and job["job_id"].isdigit()
    assert lz("jobs", "logs", "answer", check=0).stdout.strip().splitlines()[-1] == "42"
