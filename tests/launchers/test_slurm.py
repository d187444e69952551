"""The slurm launcher: job script, state mapping and settings here; the real single-node cluster
from scripts/slurm-up.sh for refusal, secrets, the jobcomp record and `lz deploy`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lazycli.errors import LzError
from lazycli.launchers import Resources, Status, map_state
from lazycli_plugins.slurm.launcher import STATES, SlurmLauncher, _exit_code
from tests.conftest import lz
from tests.launchers.test_contract import wait_status

ARGV = ["vllm", "serve", "/models/qwen2-1.5b", "--port", "{port}", "--tensor-parallel-size", "2"]

# Every state in squeue(1)'s "JOB STATE CODES".
DOCUMENTED = (
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "CONFIGURING",
    "COMPLETING",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PENDING",
    "PREEMPTED",
    "RUNNING",
    "RESV_DEL_HOLD",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "REQUEUED",
    "RESIZING",
    "REVOKED",
    "SIGNALING",
    "SPECIAL_EXIT",
    "STAGE_OUT",
    "STOPPED",
    "SUSPENDED",
    "TIMEOUT",
)


def _settings_env(monkeypatch, **values):
    from lazycli import settings

    for key, value in values.items():
        monkeypatch.setenv(f"LAZYCLI_{key.upper()}", value)
    settings.reset_cache()


def test_gres_only_when_gpus_are_asked(tmp_path):
    launcher = SlurmLauncher()
    with_gpus = launcher.render_script(ARGV, Resources(gpus=2), tmp_path / "a.log")
    without = launcher.render_script(ARGV, Resources(), tmp_path / "a.log")
    assert "#SBATCH --gres=gpu:2" in with_gpus.splitlines()
    assert "--gres" not in without
    assert f"#SBATCH --output={tmp_path / 'a.log'}" in without.splitlines()
    # The argv is exec'd with the port the job picked on its node.
    assert 'exec vllm serve /models/qwen2-1.5b --port "$LAZYCLI_PORT" --tensor-parallel-size 2' in without


def test_partition_account_and_time_come_from_settings(tmp_path, monkeypatch):
    _settings_env(monkeypatch, slurm_partition="gpu-a100", slurm_account="proj42", slurm_time="04:00:00")
    opts = SlurmLauncher().directives(Resources(cpus=8, memory="32G"), tmp_path / "x.log")
    for expected in (
        "--partition=gpu-a100",
        "--account=proj42",
        "--time=04:00:00",
        "--cpus-per-task=8",
        "--mem=32G",
    ):
        assert expected in opts
    # An explicit partition and time limit win over the settings.
    opts = SlurmLauncher().directives(Resources(partition="debug", time_limit="00:10:00"), tmp_path / "x.log")
    assert "--partition=debug" in opts and "--time=00:10:00" in opts and "--partition=gpu-a100" not in opts


def test_every_documented_state_has_an_explicit_status():
    unmapped = [state for state in DOCUMENTED if map_state(STATES, state) is Status.UNKNOWN]
    assert unmapped == []
    expected = {
        "PENDING": Status.PENDING, "RUNNING": Status.RUNNING, "COMPLETED": Status.COMPLETED,
        "FAILED": Status.FAILED, "TIMEOUT": Status.TIMEOUT, "CANCELLED": Status.CANCELLED,
        "NODE_FAIL": Status.NODE_FAIL, "OUT_OF_MEMORY": Status.OUT_OF_MEMORY, "PREEMPTED": Status.PREEMPTED,
    }  # fmt: skip
    assert {state: map_state(STATES, state) for state in expected} == expected
    assert map_state(STATES, "CANCELLED by 0") is Status.CANCELLED  # as squeue -o %T can print it
    assert map_state(STATES, "SOMETHING_NEW") is Status.UNKNOWN  # never "failed" by default


def test_exit_codes_are_read_like_slurm_writes_them():
    assert _exit_code("3:0") == 3
    assert _exit_code("0:0") == 0
    assert _exit_code("0:15") == 143  # ended by SIGTERM
    assert _exit_code(None) is None


def test_dry_run_prints_the_vllm_job_script_with_tensor_parallel_2():
    proc = lz("deploy", "qwen2-1.5b", "--engine", "vllm", "--launcher", "slurm", "--gpus", "2", "--dry-run")
    if proc.returncode != 0 and "No such command" in proc.stderr:
        pytest.skip("lz deploy is not available")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "#SBATCH --gres=gpu:2" in out and "#SBATCH --nodes=1" in out
    exec_line = next(line for line in out.splitlines() if line.startswith("exec vllm serve"))
    assert "--tensor-parallel-size 2" in exec_line and '--port "$LAZYCLI_PORT"' in exec_line
    assert "sbatch --parsable" in out


# --- on the real cluster ------------------------------------------------------------------------------


@pytest.mark.slurm
@pytest.mark.integration
def test_job_asking_for_more_than_the_node_has_is_refused_with_slurms_reason(slurm_cluster, tmp_path):
    with pytest.raises(LzError) as info:
        SlurmLauncher().submit(["true"], Resources(cpus=4096), {}, tmp_path / "big.log")
    message = str(info.value)
    assert "Slurm refused the job" in message
    # Slurm's own words (22.05 with EnforcePartLimits=ALL, or without it).
    assert "More processors requested than permitted" in message or "node configuration" in message


@pytest.mark.slurm
@pytest.mark.integration
def test_secrets_reach_the_job_but_not_the_script_or_argv(slurm_cluster, tmp_path):
    secret = f"s3cret-{uuid.uuid4().hex}"
    launcher = SlurmLauncher()
    argv = [sys.executable, "-c", "import os; print('got', os.environ['LZ_API_KEY'])"]
    job = launcher.submit(argv, Resources(), {"LZ_API_KEY": secret}, tmp_path / "sec.log")
    assert wait_status(launcher, job, lambda s: s.finished) is Status.COMPLETED
    assert f"got {secret}" in launcher.logs(job)
    script = Path(job.extra["script"]).read_text()
    assert secret not in script
    shown = subprocess.run(["scontrol", "show", "job", job.job_id], capture_output=True, text=True).stdout
    assert secret not in shown


@pytest.mark.slurm
@pytest.mark.integration
def test_finished_job_is_read_from_the_jobcomp_record(slurm_cluster, tmp_path):
    launcher = SlurmLauncher()
    argv = [sys.executable, "-c", "raise SystemExit(7)"]
    job = launcher.submit(argv, Resources(), {}, tmp_path / "gone.log")
    assert wait_status(launcher, job, lambda s: s.finished) is Status.FAILED
    # Once slurmctld has forgotten the job (MinJobAge), only the jobcomp record is left: read
    # the record Slurm wrote, as a later `lz deploy ls` would.
    later = SlurmLauncher()
    later._squeue = lambda job: None
    later._scontrol = lambda job: None
    again = type(job).from_json(job.to_json())
    again.exit_code = None
    deadline = time.monotonic() + 10
    while later.status(again) is Status.UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.2)  # slurmctld writes the record just after the job ends
    assert later.status(again) is Status.FAILED
    assert again.exit_code == 7


@pytest.mark.slurm
@pytest.mark.integration
@pytest.mark.slow
def test_deploy_the_bundled_model_through_slurm_chat_list_and_stop(slurm_cluster):
    pytest.importorskip("llama_cpp")
    name = f"slurm-{uuid.uuid4().hex[:6]}"
    proc = lz("deploy", "smollm2-135m-instruct", "--launcher", "slurm", "--name", name, timeout=300)
    if "No such command" in proc.stderr:
        pytest.skip("lz deploy is not available")
    try:
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(lz("deploy", "ls", "--json", check=0).stdout)
        rows = rows["deployments"] if isinstance(rows, dict) else rows
        row = next(r for r in rows if r["name"] == name)
        assert row["launcher"] == "slurm" and row["status"] == "running"
        assert row["job_id"].isdigit() and row["job"]["extra"]["node"]
        queued = subprocess.run(
            ["squeue", "-h", "-j", row["job_id"], "-o", "%T"], capture_output=True, text=True
        )
        assert queued.stdout.strip() == "RUNNING"

        chat = lz("chat", name, "Reply with one word: hello", timeout=120)
        assert chat.returncode == 0 and chat.stdout.strip(), chat.stderr
    finally:
        stop = lz("deploy", "stop", name)
    assert stop.returncode == 0, stop.stderr
    left = subprocess.run(["squeue", "-h", "-j", row["job_id"]], capture_output=True, text=True)
    assert left.stdout.strip() == ""
    # No process of the job is left on the node (its argv carried the deployment's log path).
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(row["port"]) not in " ".join(line for line in ps.splitlines() if "llamacpp_server" in line)
    assert os.path.exists(row["log_path"])
