"""A deployment's engine is a job of the one job lifecycle: `lz jobs` lists, logs and cancels it
(kind `deployment`, job `deploy-NAME`), and `lz deploy` reads its status from that job row."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from tests.conftest import REPO, lz

from .conftest import group_alive


def _jobs(*args: str) -> list[dict]:
    return json.loads(lz("jobs", "ls", "--json", *args, check=0).stdout)["jobs"]


def _deployment(name: str) -> dict:
    rows = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
    return next(r for r in rows if r["name"] == name)


def _deploy(hf_dir, name: str, env: dict) -> dict:
    out = lz("deploy", str(hf_dir), "--engine", "vllm", "--name", name, "--json", env=env, check=0).stdout
    return json.loads(out)


@pytest.mark.integration
def test_lz_jobs_lists_logs_and_cancels_a_deployment_and_lz_deploy_sees_it(standin_env, hf_dir):
    row = _deploy(hf_dir, "svc", standin_env)
    try:
        [job] = _jobs("--kind", "deployment")
        assert (job["name"], job["kind"], job["owner"], job["status"]) == (
            "deploy-svc", "deployment", "svc", "running",
        )  # fmt: skip
        assert job["log_path"] == row["log_path"] and job["job"]["pid"] == row["pid"]
        assert _jobs("--kind", "command") == []  # listed under its own kind only
        assert "standin openai serving" in lz("jobs", "logs", "deploy-svc", check=0).stdout
        cancelled = json.loads(lz("jobs", "cancel", "deploy-svc", "--json", check=0).stdout)
        assert cancelled["status"] == "cancelled"
        listed = _deployment("svc")
        assert listed["status"] == "cancelled" and listed["exit_code"] == cancelled["exit_code"]
        assert group_alive(row["pid"]) == []
        assert json.loads(lz("deploy", "status", "svc", "--json", check=0).stdout)["status"] == "cancelled"
    finally:
        lz("deploy", "stop", "svc", check=0)


@pytest.mark.integration
def test_deploy_stop_cancels_the_job_and_restart_replaces_it(standin_env, hf_dir):
    first = _deploy(hf_dir, "s", standin_env)
    try:
        lz("deploy", "stop", "s", check=0)
        stopped = json.loads(lz("jobs", "status", "deploy-s", "--json", check=0).stdout)
        assert stopped["status"] == "cancelled" and group_alive(first["pid"]) == []
        again = json.loads(lz("deploy", "restart", "s", "--json", env=standin_env, check=0).stdout)
        assert again["status"] == "running"
        [job] = _jobs("--kind", "deployment")  # one job per deployment: the ended one was replaced
        assert job["status"] == "running" and job["job"]["pid"] == again["pid"] != first["pid"]
    finally:
        lz("deploy", "stop", "s", check=0)
    assert _jobs("--kind", "deployment")[0]["status"] == "cancelled"


def _db(lz_home):
    return sqlite3.connect(next(lz_home.rglob("state.db")))


@pytest.mark.integration
def test_a_deployment_started_before_jobs_gets_its_job_row(standin_env, hf_dir, lz_home):
    row = _deploy(hf_dir, "old", standin_env)
    try:
        # The state an older lz leaves: a running deployment and no job row, m011 not applied yet.
        with _db(lz_home) as db:
            db.execute("DELETE FROM jobs")
            db.execute("DELETE FROM _migrations WHERE name = 'm011_deployment_jobs'")
        [job] = _jobs("--kind", "deployment")  # the migration gave it its row
        assert (job["name"], job["owner"], job["status"]) == ("deploy-old", "old", "running")
        assert job["job"]["pid"] == row["pid"]
        # An older lz still running beside this one writes rows without jobs: adopted on read.
        with _db(lz_home) as db:
            db.execute("DELETE FROM jobs")
        assert _deployment("old")["status"] == "running"
        assert [j["name"] for j in _jobs("--kind", "deployment")] == ["deploy-old"]
        lz("jobs", "cancel", "deploy-old", check=0)
        assert _deployment("old")["status"] == "cancelled" and group_alive(row["pid"]) == []
    finally:
        lz("deploy", "stop", "old", check=0)


@pytest.mark.integration
def test_a_detached_app_server_is_a_job_and_its_api_key_is_stored_nowhere(lz_home):
    secret = "sk-lifecycle-" + str(time.time_ns())
    recipe = str(REPO / "recipes" / "chatbot.toml")
    env = {"LZ_TEST_KEY": secret}
    out = lz("serve", recipe, "--detach", "--name", "bot", "--api-key-env", "LZ_TEST_KEY", "--json", env=env)
    try:
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)
        # (the recipe's model, which the app server deploys for itself, is a deployment job too)
        job = next(j for j in _jobs("--kind", "deployment") if j["name"] == "deploy-bot")
        assert job["owner"] == "bot" and job["status"] == "running"
        import urllib.error
        import urllib.request

        auth = {"Authorization": f"Bearer {secret}"}
        request = urllib.request.Request(row["url"] + "/models", headers=auth)
        assert urllib.request.urlopen(request, timeout=30).status == 200  # the job got its key
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(row["url"] + "/models", timeout=30)  # and needs it
    finally:
        lz("deploy", "stop", "--all", check=0)
    stored = b"".join(p.read_bytes() for p in lz_home.rglob("state.db*"))
    assert secret.encode() not in stored


@pytest.mark.slurm
@pytest.mark.integration
def test_lz_jobs_cancel_of_a_deployment_on_the_real_slurm_ends_its_slurm_job(slurm_cluster, lz_home):
    import shutil
    import subprocess

    recipe = str(REPO / "recipes" / "rag.toml")
    row = json.loads(
        lz("serve", recipe, "--launcher", "slurm", "--detach", "--name", "cb", "--json", check=0).stdout
    )
    try:
        job = next(j for j in _jobs("--kind", "deployment") if j["name"] == "deploy-cb")
        assert (
            job["launcher"] == "slurm"
            and job["job"]["job_id"] == row["job_id"]
            and job["status"] == "running"
        )
        assert (
            json.loads(lz("jobs", "cancel", "deploy-cb", "--json", check=0).stdout)["status"] == "cancelled"
        )
        squeue = [shutil.which("squeue") or "squeue", "-h", "-j", row["job_id"]]
        assert subprocess.run(squeue, capture_output=True, text=True).stdout.strip() == ""
        assert _deployment("cb")["status"] == "cancelled"
    finally:
        lz("deploy", "stop", "--all", check=0)
