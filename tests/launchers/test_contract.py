"""The launcher contract, the same for every launcher: submit → status → endpoint → logs → cancel,
with the job found again from its JSON record by a fresh launcher object (another `lz` process)."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
import uuid

import pytest

from lazycli.launchers import Job, Status

FINISH_TIMEOUT = 90.0


def wait_status(launcher, job: Job, accept, timeout: float = FINISH_TIMEOUT) -> Status:
    deadline = time.monotonic() + timeout
    status = launcher.status(job)
    while not accept(status) and time.monotonic() < deadline:
        time.sleep(0.3)
        status = launcher.status(job)
    return status


def wait_endpoint(launcher, job: Job, timeout: float = FINISH_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = launcher.endpoint(job)
        if found and found[1]:
            try:
                with urllib.request.urlopen(f"http://{found[0]}:{found[1]}/", timeout=2) as resp:
                    return found, resp.status
            except OSError:
                pass
        status = launcher.status(job)
        assert not status.finished, (
            f"{job.launcher} job ended ({status}) before serving:\n{launcher.logs(job)}"
        )
        time.sleep(0.3)
    pytest.fail(f"no endpoint from {job.launcher} in {timeout} s; log:\n{launcher.logs(job)}")


def roundtrip(job: Job) -> Job:
    return Job.from_json(job.to_json())


def test_batch_job_completes_with_its_environment(harness, tmp_path):
    token = f"tok-{uuid.uuid4().hex}"
    argv = [
        sys.executable,
        "-c",
        "import os; print('hello from lz'); print('token', os.environ['LZ_CONTRACT_TOKEN'])",
    ]
    job = harness.launcher.submit(
        argv, harness.resources(), {**harness.env, "LZ_CONTRACT_TOKEN": token}, tmp_path / "ok.log"
    )
    assert job.launcher == harness.name and job.job_id

    status = wait_status(harness.launcher, job, lambda s: s.finished)
    logs = harness.launcher.logs(job)
    assert status == Status.COMPLETED, logs
    assert "hello from lz" in logs and f"token {token}" in logs
    assert job.exit_code in (0, None)


def test_failing_job_is_failed_with_its_log_tail(harness, tmp_path):
    argv = [sys.executable, "-c", "import sys; print('boom-marker', flush=True); sys.exit(3)"]
    job = harness.launcher.submit(argv, harness.resources(), dict(harness.env), tmp_path / "fail.log")

    status = wait_status(harness.launcher, job, lambda s: s.finished)
    assert status == Status.FAILED
    assert "boom-marker" in harness.launcher.logs(job, 5)
    if job.exit_code is not None:
        assert job.exit_code == 3


def test_service_picks_its_port_and_is_cancelled_from_another_process(harness, tmp_path):
    argv = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    job = harness.launcher.submit(argv, harness.resources(), dict(harness.env), tmp_path / "svc.log")
    try:
        (host, port), code = wait_endpoint(harness.launcher, job)
        assert code == 200 and port > 0
        assert wait_status(harness.launcher, job, lambda s: s == Status.RUNNING, 10) == Status.RUNNING

        # Another `lz` process: a new launcher object and the job from its stored JSON.
        other = harness.fresh()
        again = roundtrip(job)
        assert other.status(again) == Status.RUNNING
        assert other.endpoint(again)[1] == port
        other.cancel(again)
        status = wait_status(other, again, lambda s: s.finished, 30)
        assert status == Status.CANCELLED
        assert _port_closed(host, port), f"{harness.name}: something still listens on {host}:{port}"
    finally:
        harness.launcher.cancel(job)


def test_describe_shows_the_command_and_only_env_names(harness):
    secret = f"s3cret-{uuid.uuid4().hex}"
    argv = [sys.executable, "-m", "http.server", "{port}"]
    text = harness.launcher.describe(argv, harness.resources(gpus=0), {"LZ_SECRET_KEY": secret})
    assert text.strip()
    assert "LZ_SECRET_KEY" in text and secret not in text


def _port_closed(host: str, port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((host, port)) != 0:
                return True
        time.sleep(0.2)
    return False
