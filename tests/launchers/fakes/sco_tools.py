"""A stand-in for SenseCore's CLI (`srun`, `squeue`, `scontrol`, `scancel`), run as
`python sco_tools.py TOOL ARGS...` through small shims on PATH.

It checks the argument forms LazyLLM's SCO launcher uses and prints what those tools print:
`srun -p P --workspace-id W --job-name=N -f FRAMEWORK -r SPEC.GPUS -N NODES [--priority P] CMD`
stays attached and streams the job's output; `squeue --workspace-id=W -o jobname,jobid` prints a
table; `scontrol --workspace-id=W show job ID` prints the job as JSON with a lower-case `state`;
`scancel --workspace-id=W ID` prints `success scancel`. Jobs run locally (`bash -c CMD`); state
lives in $LZ_FAKE_SCO_DIR. Every call is appended to $LZ_FAKE_SCO_DIR/calls.log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

STATE = Path(os.environ.get("LZ_FAKE_SCO_DIR", "/tmp/lz-fake-sco"))
SPEC = re.compile(r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*\.\d+$")


def _job_file(job_id: str) -> Path:
    return STATE / "jobs" / f"{job_id}.json"


def _load(job_id: str) -> dict | None:
    try:
        return json.loads(_job_file(job_id).read_text())
    except FileNotFoundError:
        return None


def _save(job: dict) -> None:
    path = _job_file(job["job_id"])
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(job))
    os.replace(tmp, path)


def _workspace(value: str | None) -> str:
    if not value:
        print("error: --workspace-id is required", file=sys.stderr)
        sys.exit(2)
    return value


def srun(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="srun")
    parser.add_argument("-p", dest="partition", required=True)
    parser.add_argument("--workspace-id", required=True)
    parser.add_argument("--job-name", required=True)
    parser.add_argument("-f", dest="framework", required=True, choices=["pt", "pytorch", "tensorflow", "mpi"])
    parser.add_argument("-r", dest="resource", required=True)
    parser.add_argument("-N", dest="nodes", type=int, default=1)
    parser.add_argument("--priority", default="normal", choices=["normal", "high", "low", "highest"])
    parser.add_argument("command")
    ns = parser.parse_args(args)
    if not SPEC.match(ns.resource):
        print(f"error: invalid resource spec {ns.resource!r} (want SPEC.GPUS)", file=sys.stderr)
        return 2
    if not ns.job_name[0].isalpha():
        print("error: job name must start with a letter", file=sys.stderr)
        return 2
    job = {
        "job_id": "pt-" + uuid.uuid4().hex[:10],
        "name": ns.job_name,
        "workspace_id": ns.workspace_id,
        "partition": ns.partition,
        "resource": ns.resource,
        "nodes": ns.nodes,
        "state": "queueing",
        "pid": None,
    }
    _save(job)
    time.sleep(0.3)  # queued for a moment, as on the real service
    child = subprocess.Popen(["bash", "-c", ns.command], start_new_session=True)
    job.update(state="running", pid=child.pid)
    _save(job)

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    code = child.wait()
    job = _load(job["job_id"]) or job
    if job["state"] != "suspended":  # scancel already recorded the stop
        job["state"] = "succeeded" if code == 0 else "failed"
    job["exit_code"] = code
    _save(job)
    return code


def squeue(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="squeue")
    parser.add_argument("--workspace-id")
    parser.add_argument("-o", dest="fmt", default="jobname,jobid")
    ns = parser.parse_args(args)
    ws = _workspace(ns.workspace_id)
    cols = ns.fmt.split(",")
    print(" ".join(c.upper() for c in cols))
    for path in sorted((STATE / "jobs").glob("*.json")):
        job = json.loads(path.read_text())
        if job["workspace_id"] == ws and job["state"] not in ("succeeded", "failed", "suspended"):
            print(" ".join(str(job.get({"jobname": "name", "jobid": "job_id"}.get(c, c), "")) for c in cols))
    return 0


def scontrol(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scontrol")
    parser.add_argument("--workspace-id")
    parser.add_argument("what", choices=["show"])
    parser.add_argument("kind", choices=["job"])
    parser.add_argument("job_id")
    ns = parser.parse_args(args)
    ws = _workspace(ns.workspace_id)
    job = _load(ns.job_id)
    if job is None or job["workspace_id"] != ws:
        print(f"error: job {ns.job_id} not found", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in job.items() if k != "pid"}, indent=2))
    return 0


def scancel(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scancel")
    parser.add_argument("--workspace-id")
    parser.add_argument("job_id")
    ns = parser.parse_args(args)
    ws = _workspace(ns.workspace_id)
    job = _load(ns.job_id)
    if job is None or job["workspace_id"] != ws:
        print(f"error: job {ns.job_id} not found", file=sys.stderr)
        return 1
    if job["state"] in ("queueing", "running"):
        job["state"] = "suspended"
        _save(job)
        if job.get("pid"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job["pid"], signal.SIGTERM)
    print("success scancel")
    return 0


TOOLS = {"srun": srun, "squeue": squeue, "scontrol": scontrol, "scancel": scancel}


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    (STATE / "jobs").mkdir(parents=True, exist_ok=True)
    with open(STATE / "calls.log", "a") as log:
        log.write(json.dumps([tool, *args]) + "\n")
    return TOOLS[tool](args)


if __name__ == "__main__":
    sys.exit(main())
