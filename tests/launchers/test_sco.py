"""The sco launcher: LazyLLM's `srun` form, its JSON states and the 0600 env file, against the
stand-in SenseCore tools (tests/launchers/fakes/sco_tools.py)."""

from __future__ import annotations

import json
import stat
import sys
import uuid

import pytest

from lazycli.errors import LzError
from lazycli.launchers import Resources, Status, map_state
from lazycli_plugins.sco.launcher import STATES, ScoLauncher
from tests.launchers.test_contract import wait_status


def test_srun_has_the_lazyllm_form(fake_sco):
    cmd = ScoLauncher().srun_argv(
        ["python", "-m", "x", "--port", "{port}"], Resources(gpus=8, nodes=2), "lz-a1", None
    )
    assert cmd[:-1] == [
        "srun", "-p", "pat_rd", "--workspace-id", "ws-0d1e2f", "--job-name=lz-a1", "-f", "pt",
        "-r", "N3lS.Ii.I60.8", "-N", "2", "--priority", "normal",
    ]  # fmt: skip
    # One argument of shell code: pick a port in the container, print the marker, exec the argv.
    assert "LAZYCLI_ENDPOINT" in cmd[-1] and 'exec python -m x --port "$LAZYCLI_PORT"' in cmd[-1]


def test_missing_workspace_is_a_user_error(lz_home):
    with pytest.raises(LzError, match="workspace"):
        ScoLauncher().srun_argv(["true"], Resources(partition="p"), "lz-a", None)


def test_secrets_travel_in_a_private_file_not_on_srun_argv(fake_sco, tmp_path):
    secret = f"s3cret-{uuid.uuid4().hex}"
    launcher = ScoLauncher()
    argv = [sys.executable, "-c", "import os; print('got', os.environ['LZ_API_KEY'])"]
    job = launcher.submit(argv, Resources(), {"LZ_API_KEY": secret}, tmp_path / "sec.log")
    assert wait_status(launcher, job, lambda s: s.finished) is Status.COMPLETED
    assert f"got {secret}" in launcher.logs(job)
    calls = (fake_sco / "calls.log").read_text()
    assert '"srun"' in calls and secret not in calls
    env_file = tmp_path / "sec.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_job_id_is_found_by_name_and_state_read_from_json(fake_sco, tmp_path):
    launcher = ScoLauncher()
    job = launcher.submit(
        [sys.executable, "-c", "import time; time.sleep(30)"], Resources(), {}, tmp_path / "s.log"
    )
    try:
        assert job.job_id.startswith("pt-")  # the id squeue listed for our job name
        assert wait_status(launcher, job, lambda s: s is Status.RUNNING, 20) is Status.RUNNING
    finally:
        launcher.cancel(job)
    assert wait_status(launcher, job, lambda s: s.finished, 20) is Status.CANCELLED
    calls = [json.loads(line) for line in (fake_sco / "calls.log").read_text().splitlines()]
    assert ["scancel", "--workspace-id=ws-0d1e2f", job.job_id] in calls


def test_sco_states_map_explicitly():
    assert map_state(STATES, "running") is Status.RUNNING
    assert map_state(STATES, "Queueing") is Status.PENDING
    assert map_state(STATES, "succeeded") is Status.COMPLETED
    assert map_state(STATES, "failed") is Status.FAILED
    assert map_state(STATES, "suspended") is Status.CANCELLED
    assert map_state(STATES, "something-new") is Status.UNKNOWN
