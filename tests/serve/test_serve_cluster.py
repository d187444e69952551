"""`lz serve RECIPE --launcher k8s|ray --detach` (#20): the app server as a deployment on the cluster
launchers, through their real code paths, on the stand-ins tests/launchers has (an API server driven
by the official kubernetes client whose pods run here; Ray's Jobs REST API, whose entrypoints run
here). Inside the job the server deploys the recipe's model and builds its index, as on Slurm; it
answers the real `openai` client, `lz deploy ls/logs` show it, and `lz deploy stop` ends all of it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import lz
from tests.serve.test_serve_launcher import RAG, _answer


def _pod_home(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """The job's LAZYCLI_HOME is its own (a pod's file system, a Ray node's), as on a real cluster;
    `lz` on this side keeps the test's home. Returns the env for the `lz` calls of this side."""
    here = {"LAZYCLI_HOME": os.environ["LAZYCLI_HOME"]}
    monkeypatch.setenv("LAZYCLI_HOME", str(tmp_path / "job-home"))  # what the stand-ins hand the job
    return here


def _serve_app(launcher: str, name: str, env: dict[str, str]) -> dict:
    args = ["serve", RAG, "--launcher", launcher, "--detach", "--name", name, "--json"]
    row = json.loads(lz(*args, env=env, timeout=180, check=0).stdout)
    assert row["engine"] == "lz-serve" and row["launcher"] == launcher and row["served_name"] == "rag"
    assert row["status"] == "running" and row["url"].startswith("http://127.0.0.1:")
    return row


def _serves_until_stopped(row: dict, name: str, env: dict[str, str]) -> None:
    try:
        assert _answer(row["url"], "rag").strip()
        assert _rows_with(env)[name]["status"] == "running"
        logs = lz("deploy", "logs", name, env=env, check=0).stdout
        # the server's own log: it deployed the model and built the index inside the job
        assert "indexes.kb:" in logs and "serving 'rag'" in logs
    finally:
        stopped = lz("deploy", "stop", name, env=env, check=0)
    assert f"{name}: cancelled" in stopped.stdout + stopped.stderr
    assert _rows_with(env)[name]["status"] == "cancelled"


def _job_processes(job_home: Path, but: int | None = None, wait: float = 15.0) -> list[str]:
    """Processes still running with the job's LAZYCLI_HOME (the server, the model it deployed), once
    they have had `wait` seconds to end (a stopped job ends a moment after the stop call returns)."""
    deadline = time.monotonic() + wait
    while (found := _processes_with(job_home, but)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _processes_with(job_home: Path, but: int | None) -> list[str]:
    mark = f"LAZYCLI_HOME={job_home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (
                proc.name.isdigit()
                and int(proc.name) != but
                and mark in (proc / "environ").read_bytes().split(b"\0")
            ):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
        except OSError:  # gone, or not ours
            continue
    return found


def _rows_with(env: dict[str, str]) -> dict[str, dict]:
    out = lz("deploy", "ls", "--json", env=env, check=0).stdout
    return {r["name"]: r for r in json.loads(out)["deployments"]}


def test_the_app_server_runs_as_a_kubernetes_deployment_until_stopped(lz_home, tmp_path, monkeypatch):
    pytest.importorskip("kubernetes")
    from lazycli.fsutil import free_port
    from tests.launchers.fakes.kube_api import FakeKube

    env = _pod_home(tmp_path, monkeypatch)
    with FakeKube(tmp_path) as kube:
        env |= {
            "KUBECONFIG": str(kube.kubeconfig(tmp_path / "kubeconfig")),
            "LAZYCLI_K8S_IMAGE": "lz-app-rag:latest",
            "LAZYCLI_K8S_PORT": str(free_port()),
        }
        row = _serve_app("k8s", "kb", env)
        _serves_until_stopped(row, "kb", env)
        assert kube.objects == {}
        assert _job_processes(tmp_path / "job-home") == []
        assert all(pod.proc.poll() is not None for pod in kube.pods.values())


def test_the_app_server_runs_as_a_ray_job_until_stopped(lz_home, tmp_path, monkeypatch):
    from tests.launchers.fakes.ray_jobs import FakeRayHead

    env = _pod_home(tmp_path, monkeypatch)
    with FakeRayHead(tmp_path) as head:
        env["LAZYCLI_RAY_ADDRESS"] = head.url
        row = _serve_app("ray", "kb", env)
        _serves_until_stopped(row, "kb", env)
        [job] = head.jobs.values()
        assert job.info()["status"] == "STOPPED"
        # the stand-in Ray head (started with the same home) is the cluster, not the job
        assert _job_processes(tmp_path / "job-home", but=head.cluster.pid) == []
