"""Run jobs on a Slurm cluster through sbatch, squeue, scontrol and scancel.

The job script is written next to the log file, so what ran can always be read back. A service's
port is chosen on the node by the script, which prints `LAZYCLI_ENDPOINT node:port` into the
job's output; the host reported is the node's `NodeAddr` as Slurm knows it.
Secrets never appear in the script or on argv: sbatch runs with them in its environment and
`--export=ALL` carries them to the job.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

from lazycli.errors import LzError
from lazycli.fsutil import atomic_write_text
from lazycli.launchers import (
    RAY_CLUSTER,
    Job,
    Resources,
    Status,
    env_names,
    find_endpoint,
    job_name,
    map_state,
    resources_text,
    tail_text,
    wrapper_script,
)

NAME = "slurm"

# Every job state Slurm documents (squeue(1) "JOB STATE CODES"), mapped explicitly; a state not
# listed here is reported as UNKNOWN, never as failed.
STATES: dict[str, Status] = {
    "PENDING": Status.PENDING,
    "CONFIGURING": Status.PENDING,  # nodes being booted/allocated
    "REQUEUED": Status.PENDING,
    "REQUEUE_HOLD": Status.PENDING,
    "REQUEUE_FED": Status.PENDING,
    "RESV_DEL_HOLD": Status.PENDING,
    "SUSPENDED": Status.PENDING,  # holds its allocation, may resume
    "STOPPED": Status.PENDING,  # SIGSTOPped, may resume
    "RUNNING": Status.RUNNING,
    "COMPLETING": Status.RUNNING,  # processes still ending on some node
    "SIGNALING": Status.RUNNING,
    "STAGE_OUT": Status.RUNNING,
    "RESIZING": Status.RUNNING,
    "COMPLETED": Status.COMPLETED,
    "FAILED": Status.FAILED,
    "BOOT_FAIL": Status.FAILED,
    "SPECIAL_EXIT": Status.FAILED,
    "CANCELLED": Status.CANCELLED,
    "REVOKED": Status.CANCELLED,  # removed because a sibling federated job started
    "TIMEOUT": Status.TIMEOUT,
    "DEADLINE": Status.TIMEOUT,
    "NODE_FAIL": Status.NODE_FAIL,
    "OUT_OF_MEMORY": Status.OUT_OF_MEMORY,
    "PREEMPTED": Status.PREEMPTED,
}

# squeue's explicit output format: id | state (long) | reason | node list | batch host.
SQUEUE_FORMAT = "%i|%T|%r|%N|%B"
TOOL_TIMEOUT = 30
CANCEL_WAIT_S = 15.0


def _settings():
    """This plugin's settings (`slurm_*`, declared in its __init__), typed."""
    from lazycli import settings

    return settings.section("slurm")


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=TOOL_TIMEOUT)
    except FileNotFoundError:
        raise LzError(
            f"{argv[0]} not found: the slurm launcher needs Slurm's client tools on PATH",
            hint="install slurm-client, or start a test cluster with scripts/slurm-up.sh",
        ) from None


def _slurm_error(proc: subprocess.CompletedProcess) -> str:
    """Slurm's own reason: the last `error:` line of its stderr (e.g. `Requested node
    configuration is not available`)."""
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _fields(text: str) -> dict[str, str]:
    """`Key=Value Key2=Value2` (scontrol -o, jobcomp/filetxt) as a dict."""
    out: dict[str, str] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep:
            out[key] = value
    return out


def _exit_code(value: str | None) -> int | None:
    """Slurm's `ExitCode=3:0` (code:signal) → 3, or 128+signal when a signal ended it."""
    if not value:
        return None
    code, _, sig = value.partition(":")
    if code.isdigit() and sig.isdigit() and int(code) == 0 and int(sig) > 0:
        return 128 + int(sig)
    return int(code) if code.isdigit() else None


class SlurmLauncher:
    name = NAME
    multi_node = True  # --nodes N: one allocation, a Ray cluster over it when Resources.cluster asks

    # --- the job script ---------------------------------------------------------------------

    def directives(self, resources: Resources, log_path: Path) -> list[str]:
        """The `#SBATCH` options for these resources (partition, account and time from settings)."""
        cfg = _settings()
        opts = [
            f"--job-name={job_name(log_path)}",
            f"--output={log_path}",
            "--open-mode=append",
            f"--chdir={log_path.parent}",
            "--export=ALL",
            f"--nodes={resources.nodes}",
            "--ntasks-per-node=1",
        ]
        if resources.gpus:
            opts.append(f"--gres=gpu:{resources.gpus}")
        if resources.cpus:
            opts.append(f"--cpus-per-task={resources.cpus}")
        if resources.memory:
            opts.append(f"--mem={resources.memory}")
        time_limit = resources.time_limit or cfg.time
        if time_limit:
            opts.append(f"--time={time_limit}")
        partition = resources.partition or cfg.partition
        if partition:
            opts.append(f"--partition={partition}")
        account = resources.extra.get("account") or cfg.account
        if account:
            opts.append(f"--account={account}")
        # Other extras pass through as sbatch long options (qos, constraint, reservation, …).
        for key, value in sorted(resources.extra.items()):
            if key == "account" or value in (None, False):
                continue
            flag = "--" + key.replace("_", "-")
            opts.append(flag if value is True else f"{flag}={value}")
        return opts

    def render_script(self, argv: list[str], resources: Resources, log_path: Path) -> str:
        """The complete job script sbatch receives."""
        header = ["#!/bin/bash"] + [f"#SBATCH {opt}" for opt in self.directives(resources, log_path)]
        header.append("# written by lz; the job picks its port on the node and prints it below")
        preamble = RAY_CLUSTER if resources.cluster == "ray" else ""
        body = wrapper_script(argv, host_expr="${SLURMD_NODENAME:-$(hostname)}", preamble=preamble)
        return "\n".join(header) + "\n" + body

    def script_path(self, log_path: Path) -> Path:
        return log_path.with_suffix(".sbatch")

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str], log_path=None) -> str:
        log_path = Path(log_path) if log_path else Path("<log dir>/<name>.log")
        script = self.script_path(log_path)
        return (
            f"# launcher: slurm  resources: {resources_text(resources)}\n"
            f"# environment passed by sbatch --export=ALL (values not shown): {env_names(env)}\n"
            f"$ sbatch --parsable {shlex.quote(str(script))}\n"
            f"# {script}:\n" + self.render_script(argv, resources, log_path)
        )

    # --- the contract -------------------------------------------------------------------------

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        script = self.script_path(log_path)
        atomic_write_text(script, self.render_script(argv, resources, log_path), mode=0o700)
        proc = _run(["sbatch", "--parsable", str(script)], env={**os.environ, **env})
        if proc.returncode != 0:
            raise LzError(
                f"Slurm refused the job ({script}): {_slurm_error(proc)}",
                hint="ask for fewer resources or another partition (`sinfo` shows what nodes have)",
            )
        # --parsable prints "jobid" or "jobid;cluster".
        job_id = proc.stdout.strip().splitlines()[-1].split(";")[0].strip()
        if not job_id.isdigit():
            raise LzError(f"sbatch printed no job id: {proc.stdout.strip()!r}", hint=f"see {script}")
        cluster = proc.stdout.strip().split(";")[1] if ";" in proc.stdout else None
        return Job(
            launcher=NAME,
            job_id=job_id,
            log_path=str(log_path),
            extra={"script": str(script), "cluster": cluster, "name": job_name(log_path)},
        )

    def status(self, job: Job) -> Status:
        record = self._squeue(job) or self._scontrol(job) or self._jobcomp(job)
        if record is None:
            return Status.UNKNOWN
        state = map_state(STATES, record.get("state"))
        if record.get("reason") and record["reason"] not in ("None", "(null)"):
            job.reason = record["reason"]
        node = record.get("node")
        if node and node not in ("n/a", "(null)", "None"):
            job.extra["node"] = node
        if state.finished and job.exit_code is None:
            job.exit_code = record.get("exit_code")
            if job.exit_code is None:
                full = self._scontrol(job) or self._jobcomp(job) or {}
                job.exit_code = full.get("exit_code")
        return state

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        if job.host and job.port:
            return job.host, job.port
        found = find_endpoint(tail_text(job.log_path, None))
        if found is None:
            return None
        node, port = found
        node = job.extra.get("node") or node
        job.host, job.port = self._node_addr(node) or found[0], port
        return job.host, job.port

    def logs(self, job: Job, lines: int | None = None) -> str:
        return tail_text(job.log_path, lines)

    def cancel(self, job: Job) -> None:
        proc = _run(["scancel", job.job_id])
        if proc.returncode != 0 and "Invalid job id" not in (proc.stderr or ""):
            raise LzError(f"scancel {job.job_id} failed: {_slurm_error(proc)}", hint="check `squeue`")
        # scancel only asks: wait (briefly) until the job has really ended, so that `lz deploy
        # stop` returns with nothing left in squeue and no process on the node.
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            record = self._squeue(job)
            if record is None or map_state(STATES, record["state"]).finished:
                return
            time.sleep(0.2)

    # --- where status comes from --------------------------------------------------------------

    def _squeue(self, job: Job) -> dict | None:
        """Live and recently finished jobs (squeue keeps them for MinJobAge)."""
        proc = _run(["squeue", "--noheader", "--states=all", f"--jobs={job.job_id}", "-o", SQUEUE_FORMAT])
        if proc.returncode != 0:
            return None
        for line in proc.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 5 and parts[0] == job.job_id:
                batch_host = parts[4] if parts[4] not in ("n/a", "") else None
                return {"state": parts[1], "reason": parts[2], "node": batch_host or parts[3] or None}
        return None

    def _scontrol(self, job: Job) -> dict | None:
        proc = _run(["scontrol", "--oneliner", "show", "job", job.job_id])
        if proc.returncode != 0 or "JobState=" not in proc.stdout:
            return None
        fields = _fields(proc.stdout)
        return {
            "state": fields.get("JobState"),
            "reason": fields.get("Reason"),
            "node": fields.get("BatchHost") or fields.get("NodeList"),
            "exit_code": _exit_code(fields.get("ExitCode")),
        }

    def _jobcomp(self, job: Job) -> dict | None:
        """The job-completion record: all that is left once slurmctld has forgotten a job."""
        path = self._jobcomp_path()
        if path is None:
            return None
        last = None
        for line in tail_text(path, None).splitlines():
            if line.startswith(f"JobId={job.job_id} "):
                last = line
        if last is None:
            return None
        fields = _fields(last)
        return {
            "state": fields.get("JobState"),
            "node": fields.get("NodeList"),
            "exit_code": _exit_code(fields.get("ExitCode")),
        }

    def _jobcomp_path(self) -> str | None:
        if not hasattr(self, "_jobcomp_loc"):
            self._jobcomp_loc = None
            proc = _run(["scontrol", "show", "config"])
            conf = {}
            for line in proc.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    conf[key.strip()] = value.strip()
            if conf.get("JobCompType") == "jobcomp/filetxt":
                self._jobcomp_loc = conf.get("JobCompLoc")
        return self._jobcomp_loc

    def _node_addr(self, node: str) -> str | None:
        proc = _run(["scontrol", "--oneliner", "show", "node", node])
        if proc.returncode != 0:
            return None
        return _fields(proc.stdout).get("NodeAddr")
