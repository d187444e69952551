"""The `local` launcher with real processes: process groups, exit codes read by a later process,
cancel (TERM then KILL), ports, and jobs that outlive the process that started them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lazycli.launchers import PORT_PLACEHOLDER, Job, Resources, Status
from lazycli.plugins import registry

from .conftest import group_alive


@pytest.fixture
def launcher():
    local = registry().get("launchers", "local").factory()
    local.grace = 1.0
    jobs: list[Job] = []
    local.started = jobs
    yield local
    for job in jobs:  # nothing a test started is left behind
        local.cancel(job)


def submit(launcher, code: str, tmp_path, name="job") -> Job:
    job = launcher.submit(
        [sys.executable, "-c", code], Resources(), {"LZ_TEST_VAR": "yes"}, tmp_path / f"{name}.log"
    )
    launcher.started.append(job)
    return job


def wait_status(launcher, job, until, timeout=15.0) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        status = launcher.status(job)
        if until(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_exit_code_and_log_are_recorded(launcher, tmp_path):
    job = submit(launcher, "import os,sys; print('hello', os.environ['LZ_TEST_VAR']); sys.exit(3)", tmp_path)
    status = wait_status(launcher, job, lambda s: s.finished)
    assert status == Status.FAILED and job.exit_code == 3
    assert "hello yes" in launcher.logs(job)
    ok = submit(launcher, "print('fine')", tmp_path, "ok")
    assert wait_status(launcher, ok, lambda s: s.finished) == Status.COMPLETED and ok.exit_code == 0


def test_status_and_exit_code_from_another_process(launcher, tmp_path):
    job = submit(launcher, "import time; time.sleep(0.5); raise SystemExit(5)", tmp_path)
    assert launcher.status(job) == Status.RUNNING
    time.sleep(1.5)
    probe = (
        "import json,sys; from lazycli.plugins import registry; from lazycli.launchers import Job;"
        "job = Job(**json.loads(sys.argv[1])); l = registry().get('launchers','local').factory();"
        "print(l.status(job).value, job.exit_code)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(job.__dict__)], capture_output=True, text=True
    )
    assert out.stdout.split() == ["failed", "5"], out.stderr


def test_cancel_stops_the_whole_group_including_children(launcher, tmp_path):
    code = (
        "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']);"
        "print('started', flush=True); time.sleep(60)"
    )
    job = submit(launcher, code, tmp_path)
    deadline = time.monotonic() + 10
    while len(group_alive(job.pid)) < 3 and time.monotonic() < deadline:  # wrapper, command, grandchild
        time.sleep(0.05)
    assert len(group_alive(job.pid)) == 3
    launcher.cancel(job)
    assert group_alive(job.pid) == []
    assert launcher.status(job) == Status.CANCELLED


def test_cancel_kills_after_grace_when_term_is_ignored(launcher, tmp_path):
    code = "import signal as s,time; s.signal(s.SIGTERM, s.SIG_IGN); print('up', flush=True); time.sleep(60)"
    job = submit(launcher, code, tmp_path)
    wait_for_log(launcher, job, "up")
    started = time.monotonic()
    launcher.cancel(job)
    took = time.monotonic() - started
    assert group_alive(job.pid) == []
    assert 0.9 <= took < 5, took  # waited the 1 s grace, then SIGKILL


def test_sigkilled_group_shows_failed_without_code(launcher, tmp_path):
    job = submit(launcher, "import time; print('up', flush=True); time.sleep(60)", tmp_path)
    wait_for_log(launcher, job, "up")
    os.killpg(job.pid, signal.SIGKILL)
    status = wait_status(launcher, job, lambda s: s.finished)
    assert status == Status.FAILED and job.exit_code is None and "SIGKILL" in job.reason


def test_job_outlives_the_process_that_started_it(launcher, tmp_path):
    code = (
        "import json,sys; from pathlib import Path; from lazycli.plugins import registry;"
        "from lazycli.launchers import Resources;"
        "l = registry().get('launchers','local').factory();"
        "argv = [sys.executable, '-c', 'import time; time.sleep(60)'];"
        "job = l.submit(argv, Resources(), {}, Path(sys.argv[1]));"
        "print(job.to_json())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "j.log")], capture_output=True, text=True
    )
    job = Job.from_json(out.stdout)
    launcher.started.append(job)
    assert launcher.status(job) == Status.RUNNING  # its parent has exited; it has not
    launcher.cancel(job)
    assert launcher.status(job) == Status.CANCELLED


def test_port_placeholder_gets_distinct_free_ports(launcher, tmp_path):
    code = (
        "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen();"
        "print('listening', flush=True); time.sleep(60)"
    )
    jobs = [
        launcher.submit(
            [sys.executable, "-c", code, PORT_PLACEHOLDER], Resources(), {}, tmp_path / f"p{i}.log"
        )
        for i in range(5)
    ]
    launcher.started.extend(jobs)
    ports = [job.port for job in jobs]
    assert len(set(ports)) == 5 and all(ports)
    for job in jobs:
        wait_for_log(launcher, job, "listening")
        assert launcher.status(job) == Status.RUNNING  # each bound its own port
        assert launcher.endpoint(job) == ("127.0.0.1", job.port)


def test_pinned_port_in_use_is_refused(launcher):
    import socket

    from lazycli.errors import LzError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(LzError, match="already in use"):
            launcher.check_port(sock.getsockname()[1])


def test_missing_program_fails_with_a_clear_log(launcher, tmp_path):
    job = launcher.submit(["/nonexistent/engine", "--port", "1"], Resources(), {}, tmp_path / "m.log")
    launcher.started.append(job)
    assert wait_status(launcher, job, lambda s: s.finished) == Status.FAILED
    assert job.exit_code == 127 and "cannot start" in launcher.logs(job)


def test_describe_shows_the_wrapping(launcher):
    text = launcher.describe(["engine", "--port", PORT_PLACEHOLDER], Resources(), {"A": "1"})
    assert "_wrap.py" in text and "free port" in text and "process group" in text


def wait_for_log(launcher, job, text, timeout=15.0):
    deadline = time.monotonic() + timeout
    while text not in launcher.logs(job).splitlines():  # a whole line: the log starts with the argv
        assert time.monotonic() < deadline, launcher.logs(job)
        time.sleep(0.05)
