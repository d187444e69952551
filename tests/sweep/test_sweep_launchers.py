"""`lz sweep -j 2` on the cluster launchers (#20): the workers are submitted as sweep-worker jobs
through the k8s and ray launchers' real code paths, to the stand-ins tests/launchers already has (an
API server driven through the official kubernetes client; Ray's Jobs REST API). Both stand-ins run
what they are given on this machine (a pod's command, a job's entrypoint), so each worker is a real
`lz sweep run` process sharing the sweep's SQLite store, and the submitting `lz sweep` ranks the trials."""

from __future__ import annotations

import pytest

from tests.sweep.test_sweep import TOY, max_running, store_rows, sweep_json, worker_jobs

ARGS = ("--grid", "app.steps.0.args.delay=0.2,0.21", "-j", "2")


def _ran_on(launcher: str, home, name: str) -> dict:
    """The sweep on `launcher` with 2 workers: every trial done, ranked, by two worker jobs."""
    out = sweep_json(TOY, *ARGS, "--name", name, "--launcher", launcher)
    rows = store_rows(home, name)
    assert out["ran"] == 6 and len(rows) == 6 and all(r["status"] == "done" for r in rows)
    assert max_running(rows) <= 2
    assert len({r["owner"].split(":")[1] for r in rows}) == 2  # both workers claimed trials, none twice
    assert [r["params"]["app.steps.0.args.style"] for r in out["ranking"]][:2] == ["long", "long"]
    workers = worker_jobs(name)
    assert sorted(workers) == [f"sweep-{name}-0", f"sweep-{name}-1"]
    assert all(j["status"] == "completed" and j["launcher"] == launcher for j in workers.values())
    return workers


def test_sweep_workers_run_as_kubernetes_jobs(lz_home, tmp_path, monkeypatch):
    pytest.importorskip("kubernetes")
    from tests.launchers.fakes.kube_api import FakeKube

    with FakeKube(tmp_path) as kube:
        monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setenv("LAZYCLI_K8S_IMAGE", "python:3.11-slim")
        monkeypatch.setenv("LAZYCLI_K8S_NAMESPACE", "lz-test")
        _ran_on("k8s", lz_home, "onk8s")
        created = [r for r in kube.requests if r[0] == "POST" and "/jobs" in r[1]]
    # One batch Job per worker, each running `lz sweep run` on the same sweep.
    assert len(created) == 2
    for _, _, body in created:
        [container] = body["spec"]["template"]["spec"]["containers"]
        command = " ".join(container.get("command", []) + container.get("args", []))
        assert "-m lazycli sweep run" in command and "--name onk8s" in command


def test_sweep_workers_run_as_ray_jobs(lz_home, tmp_path, monkeypatch):
    from tests.launchers.fakes.ray_jobs import FakeRayHead

    with FakeRayHead(tmp_path) as head:
        monkeypatch.setenv("LAZYCLI_RAY_ADDRESS", head.url)
        workers = _ran_on("ray", lz_home, "onray")
        submitted = head.submitted()
    # One Ray job per worker, each running `lz sweep run` on the same sweep, tracked by its submission id.
    assert len(submitted) == 2
    assert all(
        "-m lazycli sweep run" in s["entrypoint"] and "--name onray" in s["entrypoint"] for s in submitted
    )
    assert sorted(j["job"]["job_id"] for j in workers.values()) == sorted(
        s["submission_id"] for s in submitted
    )
