"""Launcher harnesses for the contract suite: one per launcher, each on its real code path.

local: this machine. slurm: the single-node cluster from scripts/slurm-up.sh (skipped when it is
not up). sco: stand-in SenseCore tools on PATH. k8s: a stand-in API server driven through the
official client. ray: a real `ray[default]` head on 127.0.0.1 (skipped when `ray` is missing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lazycli.fsutil import free_port
from lazycli.launchers import Resources

FAKES = Path(__file__).parent / "fakes"
LAUNCHERS = ["local", "slurm", "sco", "k8s", "ray"]


@dataclass
class Harness:
    name: str
    launcher: object
    env: dict[str, str] = field(default_factory=dict)  # what the job needs besides the test's own
    extra: dict = field(default_factory=dict)  # Resources.extra for this launcher
    context: dict = field(default_factory=dict)

    def resources(self, **kw) -> Resources:
        return Resources(extra=dict(self.extra), **kw)

    def fresh(self):
        """A new launcher object from the registry, as another `lz` process would make it."""
        from lazycli import plugins

        plugins.reset()
        return plugins.registry().get("launchers", self.name).factory()


def _factory(name: str):
    from lazycli import plugins

    registry = plugins.registry()
    if name not in registry.all("launchers"):
        pytest.skip(f"launcher {name!r} is not registered (plugin missing or broken: see `lz plugins`)")
    return registry.get("launchers", name).factory()


# --- slurm -----------------------------------------------------------------------------------------


def slurm_up() -> str | None:
    """None when a Slurm cluster answers, else why not."""
    if shutil.which("sinfo") is None:
        return "Slurm client tools are not installed (run scripts/slurm-up.sh)"
    conf = os.environ.get("SLURM_CONF") or "/etc/slurm/slurm.conf"
    if not os.path.exists(conf):
        # Without a config file the clients look the controller up by DNS: do not even ask.
        return f"no Slurm config at {conf}: run scripts/slurm-up.sh"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    states = proc.stdout.split()
    if proc.returncode != 0 or not any(s.rstrip("*~#") in ("idle", "mixed", "allocated") for s in states):
        said = " ".join((proc.stderr or proc.stdout).split())[:160]
        return f"no Slurm cluster is up (sinfo: {said}); run scripts/slurm-up.sh"
    return None


# --- sco -------------------------------------------------------------------------------------------


@pytest.fixture
def fake_sco(tmp_path, monkeypatch) -> Path:
    """Stand-in srun/squeue/scontrol/scancel first on PATH; returns their state dir."""
    bin_dir = tmp_path / "sco-bin"
    bin_dir.mkdir()
    for tool in ("srun", "squeue", "scontrol", "scancel"):
        shim = bin_dir / tool
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKES / "sco_tools.py"} {tool} "$@"\n')
        shim.chmod(0o755)
    state = tmp_path / "sco-state"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LZ_FAKE_SCO_DIR", str(state))
    monkeypatch.setenv("LAZYCLI_SCO_PARTITION", "pat_rd")
    monkeypatch.setenv("LAZYCLI_SCO_WORKSPACE_ID", "ws-0d1e2f")
    _reset_settings()
    yield state
    _kill_fake_sco_jobs(state)


def _kill_fake_sco_jobs(state: Path) -> None:
    import json
    import signal

    for path in (state / "jobs").glob("*.json"):
        pid = json.loads(path.read_text()).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


# --- k8s -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory):
    pytest.importorskip("kubernetes")
    from tests.launchers.fakes.kube_api import FakeKube

    with FakeKube(tmp_path_factory.mktemp("kube")) as fake:
        yield fake


@pytest.fixture
def fake_kube(kube_server, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kube_server.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("LAZYCLI_K8S_IMAGE", "python:3.11-slim")
    monkeypatch.setenv("LAZYCLI_K8S_NAMESPACE", "lz-test")
    _reset_settings()
    kube_server.requests.clear()
    return kube_server


# --- ray -------------------------------------------------------------------------------------------


def ray_binary() -> str | None:
    return os.environ.get("LZ_TEST_RAY_BIN") or shutil.which("ray")


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory):
    """A real Ray head on 127.0.0.1 (dashboard = Jobs API); stopped at the end of the session."""
    ray = ray_binary()
    if ray is None:
        pytest.skip("ray is not installed (pip install 'ray[default]', or set LZ_TEST_RAY_BIN)")
    tmp = tmp_path_factory.mktemp("ray")
    port = free_port()
    env = {
        **os.environ,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    # Ray's temp dir path must stay short (unix socket names are limited to 107 bytes).
    temp_dir = Path("/tmp") / f"lzray{port}"
    start = [
        ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={free_port()}",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={port}", "--include-dashboard=true",
        "--num-cpus=1", "--disable-usage-stats", f"--temp-dir={temp_dir}",
    ]  # fmt: skip
    proc = subprocess.run(start, capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"ray start failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    address = f"http://127.0.0.1:{port}"
    try:
        _wait_http(address + "/api/jobs/", 60)  # the Jobs API, not just the dashboard
        yield address
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env=env, timeout=120, cwd=tmp)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_http(url: str, timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


# --- the harness the contract suite is parametrized over ---------------------------------------------


def _reset_settings() -> None:
    from lazycli import settings

    settings.reset_cache()


@pytest.fixture(params=LAUNCHERS)
def harness(request, lz_home, monkeypatch) -> Harness:
    name = request.param
    if name == "slurm":
        request.getfixturevalue("slurm_cluster")
        return Harness(name, _factory(name))
    if name == "sco":
        state = request.getfixturevalue("fake_sco")
        # The stand-in runs jobs here: the container address would be this machine's LAN IP.
        return Harness(name, _factory(name), env={"LAZYCLI_NODE_HOST": "127.0.0.1"}, context={"state": state})
    if name == "k8s":
        fake = request.getfixturevalue("fake_kube")
        return Harness(name, _factory(name), extra={"port": free_port()}, context={"kube": fake})
    if name == "ray":
        address = request.getfixturevalue("ray_head")
        monkeypatch.setenv("LAZYCLI_RAY_ADDRESS", address)
        _reset_settings()
        return Harness(name, _factory(name), context={"address": address})
    return Harness(name, _factory(name))


def pytest_collection_modifyitems(items):
    """Contract tests on slurm and ray start real clusters' jobs: mark them so CI can select."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("harness") if callspec else None
        if param == "slurm":
            item.add_marker(pytest.mark.slurm)
            item.add_marker(pytest.mark.integration)
        elif param == "ray":
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)
