"""What the launchers cost per call, against baselines measured in the same run.

* slurm (when a cluster answers, e.g. scripts/slurm-up.sh): `SlurmLauncher.status()` vs one bare
  `squeue -h -j ID -o %T` call, and submit → RUNNING → cancel → gone for a sleep job;
* ray (when `ray` is installed: $LZ_TEST_RAY_BIN or PATH; a head is started on 127.0.0.1):
  `RayLauncher.status()` through the Jobs REST API vs `ray job status ID` (the CLI), which is
  why the launcher speaks REST.

  python benchmarks/bench_launchers.py [--calls 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lazycli.launchers import Resources, Status  # noqa: E402


def _mean(fn, n: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def _wait(fn, accept, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if accept(value):
            return value
        time.sleep(0.05)
    raise RuntimeError("timed out")


def bench_slurm(calls: int, tmp: Path) -> dict | None:
    if shutil.which("squeue") is None or not os.path.exists(
        os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
    ):
        return None
    from lazycli_plugins.slurm.launcher import SlurmLauncher

    launcher = SlurmLauncher()
    started = time.perf_counter()
    job = launcher.submit(["sleep", "300"], Resources(), {}, tmp / "slurm.log")
    _wait(lambda: launcher.status(job), lambda s: s is Status.RUNNING)
    to_running = time.perf_counter() - started
    lz_status = _mean(lambda: launcher.status(job), calls)
    bare = _mean(
        lambda: subprocess.run(["squeue", "-h", "-j", job.job_id, "-o", "%T"], capture_output=True), calls
    )
    started = time.perf_counter()
    launcher.cancel(job)  # returns once the job has left squeue
    cancel = time.perf_counter() - started
    return {
        "submit_to_running_s": round(to_running, 3),
        "cancel_to_gone_s": round(cancel, 3),
        "status_s": round(lz_status, 4),
        "bare_squeue_s": round(bare, 4),
        "status_vs_squeue": round(lz_status / bare, 2),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_ray(calls: int, tmp: Path) -> dict | None:
    ray = os.environ.get("LZ_TEST_RAY_BIN") or shutil.which("ray")
    if ray is None:
        return None
    from lazycli import settings
    from lazycli_plugins.ray.launcher import RayLauncher

    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    temp_dir = f"/tmp/lzrayb{port}"
    subprocess.run(
        [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={_free_port()}",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={port}", "--num-cpus=1",
         "--disable-usage-stats", f"--temp-dir={temp_dir}"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    try:
        os.environ["LAZYCLI_RAY_ADDRESS"] = address
        settings.reset_cache()
        launcher = RayLauncher()
        _wait(lambda: _ok(address), bool)
        job = launcher.submit(["sleep", "300"], Resources(), {}, tmp / "ray.log")
        _wait(lambda: launcher.status(job), lambda s: s is Status.RUNNING)
        rest = _mean(lambda: launcher.status(job), calls)
        cli_runs = max(2, calls // 10)
        cli = _mean(
            lambda: subprocess.run(
                [ray, "job", "status", "--address", address, job.job_id], capture_output=True, env=env
            ),
            cli_runs,
        )
        launcher.cancel(job)
        return {
            "rest_status_s": round(rest, 4),
            "cli_status_s": round(cli, 3),
            "cli_vs_rest": round(cli / rest, 1),
        }
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env=env)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _ok(address: str) -> bool:
    import requests

    try:
        return requests.get(address + "/api/jobs/", timeout=2).ok
    except requests.ConnectionError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LAZYCLI_HOME", tempfile.mkdtemp(prefix="lzbench-"))
    with tempfile.TemporaryDirectory() as tmp:
        results = {"slurm": bench_slurm(args.calls, Path(tmp)), "ray": bench_ray(args.calls, Path(tmp))}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, values in results.items():
        if values is None:
            print(f"{name}: skipped (not available here)")
            continue
        print(f"{name}: " + "  ".join(f"{k}={v}" for k, v in values.items()))


if __name__ == "__main__":
    main()
