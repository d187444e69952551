"""The ray launcher's request body, and a clear error when no Ray head answers."""

from __future__ import annotations

import pytest

from lazycli.errors import LzError
from lazycli.fsutil import free_port
from lazycli.launchers import Resources
from lazycli_plugins.ray.launcher import RayLauncher


def test_body_carries_resources_and_env_in_runtime_env():
    body = RayLauncher().body(
        ["python", "-m", "srv", "--port", "{port}"],
        Resources(gpus=2, cpus=4, memory="2G"),
        {"K": "v"},
        "lz-x",
    )
    assert body["entrypoint"].startswith("bash -c ") and "LAZYCLI_ENDPOINT" in body["entrypoint"]
    assert body["runtime_env"] == {"env_vars": {"K": "v"}}
    assert (body["entrypoint_num_gpus"], body["entrypoint_num_cpus"]) == (2, 4)
    assert body["entrypoint_memory"] == 2 * 2**30


def test_no_ray_head_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LAZYCLI_RAY_ADDRESS", f"http://127.0.0.1:{free_port()}")
    from lazycli import settings

    settings.reset_cache()
    with pytest.raises(LzError, match="cannot be reached"):
        RayLauncher().submit(["true"], Resources(), {}, tmp_path / "r.log")


def test_a_head_whose_job_agent_is_still_starting_is_asked_again_and_runs_the_job_once(tmp_path, monkeypatch):
    from lazycli import settings
    from tests.launchers.fakes.ray_jobs import FakeRayHead

    with FakeRayHead(tmp_path, agent_late_by=2) as head:
        monkeypatch.setenv("LAZYCLI_RAY_ADDRESS", head.url)
        settings.reset_cache()
        job = RayLauncher().submit(["echo", "once"], Resources(), {}, tmp_path / "r.log")
        assert len(head.submitted()) == 3 and list(head.jobs) == [job.job_id]
        head.jobs[job.job_id].proc.wait(10)
        assert "once" in RayLauncher().logs(job)
