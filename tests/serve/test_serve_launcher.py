"""`lz serve RECIPE --detach` / `--launcher slurm`: the app server as a deployment, started where
the launcher puts it, answered through the real `openai` client, listed and stopped by `lz deploy`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import openai
import pytest

from tests.conftest import REPO, lz

RECIPE = str(REPO / "recipes" / "chatbot.toml")
RAG = str(REPO / "recipes" / "rag.toml")


def _answer(url: str, model: str = "chatbot") -> str:
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What causes tides?"}], max_tokens=8
    )
    return reply.choices[0].message.content


def _rows() -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]}


@pytest.mark.integration
def test_a_detached_app_server_is_a_deployment_until_stopped(lz_home):
    row = json.loads(lz("serve", RECIPE, "--detach", "--name", "bot", "--json", check=0).stdout)
    try:
        assert row["engine"] == "lz-serve" and row["status"] == "running" and row["served_name"] == "chatbot"
        assert _answer(row["url"]).strip()
        assert _rows()["bot"]["status"] == "running"
        assert "-m lazycli serve " + RECIPE in lz("deploy", "logs", "bot", check=0).stdout
    finally:
        stopped = lz("deploy", "stop", "--all", check=0)
    assert "bot: cancelled" in stopped.stdout + stopped.stderr
    assert _rows()["bot"]["status"] == "cancelled"


def test_a_bad_recipe_submits_nothing(lz_home, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[app]\nname = "x"\n[[app.steps]]\ntype = "llm"\nmodel = "nosuch"\n')
    proc = lz("serve", str(bad), "--detach", check=2)
    assert "bad.toml" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _rows() == {}


def test_dry_run_with_a_launcher_prints_the_job_it_would_submit_and_submits_nothing(lz_home):
    proc = lz("serve", RAG, "--launcher", "slurm", "--dry-run", "--set", "app.name=kb-bot", check=0)
    out = proc.stdout
    assert "through the slurm launcher" in out and "#SBATCH --nodes=1" in out
    # The job runs the same recipe (by absolute path, with the same overrides) and serves on its port.
    assert f"-m lazycli serve {Path(RAG).resolve()}" in out and "--set app.name=kb-bot" in out
    assert "models.llm" in out  # the plan that runs inside the job
    assert "LZ_SERVE_JOB" in out  # the job's environment is the one deploy_app submits
    data = json.loads(lz("serve", RAG, "--launcher", "slurm", "--dry-run", "--json", check=0).stdout)
    assert data["launcher"] == "slurm" and "sbatch" in data["job"]
    assert _rows() == {}


@pytest.mark.slurm
@pytest.mark.integration
def test_an_app_server_on_the_real_slurm_answers_and_stops_with_its_job(slurm_cluster, lz_home):
    args = ["serve", RAG, "--launcher", "slurm", "--detach", "--name", "cb", "--json"]
    row = json.loads(lz(*args, check=0).stdout)
    try:
        assert row["launcher"] == "slurm" and row["job_id"].isdigit() and row["served_name"] == "rag"
        assert _answer(row["url"], "rag").strip()
    finally:
        lz("deploy", "stop", "--all", check=0)
    squeue = [shutil.which("squeue") or "squeue", "-h", "-j", row["job_id"]]
    assert subprocess.run(squeue, capture_output=True, text=True).stdout.strip() == ""
    assert _rows()["cb"]["status"] == "cancelled"


@pytest.mark.slurm
@pytest.mark.integration
def test_lz_run_deploys_every_model_of_the_recipe_through_the_launcher(slurm_cluster, lz_home):
    try:
        out = json.loads(lz("run", RECIPE, "--launcher", "slurm", "--json", "Say hi", check=0).stdout)
        assert str(out["output"]).strip()
        [row] = _rows().values()
        assert row["launcher"] == "slurm" and row["status"] == "running" and row["job_id"].isdigit()
        assert out["results"]["models"]["llm"]["launcher"] == "slurm"
    finally:
        lz("deploy", "stop", "--all", check=0)
