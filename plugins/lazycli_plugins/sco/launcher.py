"""Run jobs on SenseCore (SCO) with its `srun`/`squeue`/`scontrol`/`scancel`.

SCO's `srun` stays attached and streams the job's output, so lz runs it as a detached local
process writing into the log file; the job id comes from `squeue --workspace-id W -o
jobname,jobid` by the unique job name lz gave it; the state from `scontrol --workspace-id W show
job ID`, which prints JSON. The job prints `LAZYCLI_ENDPOINT ip:port` (its container's address
and the port it picked) into that output.

Secrets: SCO runs the command in a container and the caller's environment does not reach it, so
the variables are written to a 0600 file next to the log (which must be on storage the workspace
mounts, as LazyLLM assumes for its working directory) and sourced by the command; their values
are never on argv.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
import uuid
from pathlib import Path

from lazycli.errors import LzError
from lazycli.fsutil import atomic_write_text
from lazycli.launchers import (
    Job,
    Resources,
    Status,
    env_names,
    find_endpoint,
    map_state,
    resources_text,
    tail_text,
    wrapper_script,
)

NAME = "sco"

# SCO job states (lower-case in its JSON), mapped explicitly; others are UNKNOWN.
STATES: dict[str, Status] = {
    "TBSUBMITTED": Status.PENDING,
    "SUSPENDING": Status.PENDING,
    "WAITING": Status.PENDING,
    "INIT": Status.PENDING,
    "QUEUEING": Status.PENDING,
    "CREATING": Status.PENDING,
    "RESTARTING": Status.PENDING,
    "RECOVERING": Status.PENDING,
    "STARTING": Status.PENDING,
    "RUNNING": Status.RUNNING,
    "SUCCEEDED": Status.COMPLETED,
    "FAILED": Status.FAILED,
    "SUSPENDED": Status.CANCELLED,  # what a job stopped by scancel turns into
    "STOPPED": Status.CANCELLED,
    "DELETED": Status.CANCELLED,
}

ID_WAIT_S = 20.0
TOOL_TIMEOUT = 30
# The container's first address (LazyLLM reads `ifconfig`'s inet lines for the same purpose).
HOST_EXPR = "$(hostname -I 2>/dev/null | awk '{print $1}')"


def _settings():
    """This plugin's settings (`sco_*`, declared in its __init__), typed."""
    from lazycli import settings

    return settings.section("sco")


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except FileNotFoundError:
        raise LzError(
            f"{argv[0]} not found: the sco launcher needs SenseCore's CLI (srun, squeue, scontrol) on PATH",
            hint="install and log in to the SenseCore CLI first",
        ) from None


class ScoLauncher:
    name = NAME

    def _workspace(self, resources: Resources | None = None, strict: bool = True) -> str:
        extra = resources.extra if resources else {}
        workspace = extra.get("workspace_id") or _settings().workspace_id
        if not workspace and not strict:
            return "<sco_workspace_id>"
        if not workspace:
            raise LzError(
                "no SenseCore workspace set for the sco launcher",
                hint="lz config set sco_workspace_id WORKSPACE (or LAZYCLI_SCO_WORKSPACE_ID)",
            )
        return workspace

    def _partition(self, resources: Resources, strict: bool = True) -> str:
        partition = resources.partition or _settings().partition
        if not partition and not strict:
            return "<sco_partition>"
        if not partition:
            raise LzError(
                "no SenseCore partition set for the sco launcher",
                hint="lz config set sco_partition PARTITION (or --partition)",
            )
        return partition

    def command(self, argv: list[str], env_file: Path | None) -> str:
        """The shell command SCO runs in the container: load the env file, pick the port, exec."""
        preamble = ""
        if env_file is not None:
            quoted = shlex.quote(str(env_file))
            preamble = f"if [ -f {quoted} ]; then set -a; . {quoted}; set +a; fi"
        return wrapper_script(argv, host_expr=HOST_EXPR, preamble=preamble, one_line=True)

    def srun_argv(
        self, argv: list[str], resources: Resources, name: str, env_file: Path | None, strict: bool = True
    ) -> list[str]:
        """The srun command line; `strict=False` (for --dry-run) shows unset settings as <name>."""
        cfg = _settings()
        spec = resources.extra.get("resource_type") or cfg.resource_type
        framework = resources.extra.get("framework") or cfg.framework
        # SCO's resource spec ends in the number of GPUs per node; it has no zero-GPU form.
        per_node = max(1, resources.gpus)
        return [
            "srun",
            "-p",
            self._partition(resources, strict),
            "--workspace-id",
            self._workspace(resources, strict),
            f"--job-name={name}",
            "-f",
            framework,
            "-r",
            f"{spec}.{per_node}",
            "-N",
            str(resources.nodes),
            "--priority",
            str(resources.extra.get("priority", "normal")),
            # One argument holding shell code, as SCO's srun expects (it runs it in the container).
            self.command(argv, env_file),
        ]

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str], log_path=None) -> str:
        env_file = Path(log_path).with_suffix(".env") if log_path else Path("<log dir>/<name>.env")
        cmd = self.srun_argv(argv, resources, "lz-<name>-<id>", env_file if env else None, strict=False)
        return (
            f"# launcher: sco  resources: {resources_text(resources)}\n"
            f"# environment from a 0600 file sourced in the job (values not shown): {env_names(env)}\n"
            f"$ {shlex.join(cmd[:-1])} \\\n  {shlex.quote(cmd[-1])}\n"
        )

    # --- the contract -------------------------------------------------------------------------

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # SCO job names must start with a letter and be unique: squeue finds the id by name.
        name = f"lz-{log_path.stem[:24]}-{uuid.uuid4().hex[:8]}".lower()
        env_file = None
        if env:
            env_file = log_path.with_suffix(".env")
            text = "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items())
            atomic_write_text(env_file, text, mode=0o600)
        cmd = self.srun_argv(argv, resources, name, env_file)
        workspace = self._workspace(resources)
        exit_file = log_path.with_suffix(".exit")
        exit_file.unlink(missing_ok=True)
        # srun's exit code is the job's: keep it in a file, since a job that ends before squeue
        # ever lists it can only be judged by it (and a later `lz` is not srun's parent).
        keeper = ["/bin/sh", "-c", 'srun "$@"; echo $? > "$0"', str(exit_file), *cmd[1:]]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                keeper, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        job = Job(
            launcher=NAME,
            job_id=name,
            log_path=str(log_path),
            pid=proc.pid,
            extra={"name": name, "workspace_id": workspace, "exit_file": str(exit_file)},
        )
        job_id = self._wait_for_id(job, proc)
        if job_id:
            job.job_id = job_id
            job.extra["sco_id"] = job_id
        return job

    def _wait_for_id(self, job: Job, proc: subprocess.Popen) -> str | None:
        deadline = time.monotonic() + ID_WAIT_S
        while time.monotonic() < deadline:
            found = self._lookup_id(job)
            if found:
                return found
            if proc.poll() is not None:  # over already (or refused): status() reads its exit code
                return None
            time.sleep(0.5)
        return None  # still unknown: status() keeps looking by name

    def _lookup_id(self, job: Job) -> str | None:
        proc = _run(["squeue", f"--workspace-id={job.extra['workspace_id']}", "-o", "jobname,jobid"])
        if proc.returncode != 0:
            return None
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == job.extra["name"]:
                return parts[1]
        return None

    def _sco_id(self, job: Job) -> str | None:
        if not job.extra.get("sco_id"):
            found = self._lookup_id(job)
            if found:
                job.extra["sco_id"] = job.job_id = found
        return job.extra.get("sco_id")

    def status(self, job: Job) -> Status:
        sco_id = self._sco_id(job)
        if sco_id:
            proc = _run(["scontrol", f"--workspace-id={job.extra['workspace_id']}", "show", "job", sco_id])
            if proc.returncode == 0:
                try:
                    record = json.loads(proc.stdout)
                except json.JSONDecodeError:
                    record = {}
                state = map_state(STATES, str(record.get("state", "")))
                if record.get("reason"):
                    job.reason = str(record["reason"])
                if state is not Status.UNKNOWN:
                    return state
        # No record: srun's exit code once it has ended; while it runs, the job is on its way.
        code = _read_exit(job)
        if code is not None:
            job.exit_code = code
            return Status.COMPLETED if code == 0 else Status.FAILED
        return Status.PENDING if _alive(job.pid) else Status.UNKNOWN

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        if job.host and job.port:
            return job.host, job.port
        found = find_endpoint(tail_text(job.log_path, None))
        if found:
            job.host, job.port = found
        return found

    def logs(self, job: Job, lines: int | None = None) -> str:
        return tail_text(job.log_path, lines)

    def cancel(self, job: Job) -> None:
        sco_id = self._sco_id(job)
        if sco_id:
            proc = _run(["scancel", f"--workspace-id={job.extra['workspace_id']}", sco_id])
            if proc.returncode != 0:
                raise LzError(
                    f"SenseCore scancel {sco_id} failed: {(proc.stderr or proc.stdout).strip()}",
                    hint="check the job in the SenseCore console",
                )
        # The attached srun only streams output; stop it too (if that pid is still our srun).
        if _alive(job.pid) and _is_srun(job.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGTERM)


def _read_exit(job: Job) -> int | None:
    try:
        text = Path(job.extra.get("exit_file", "")).read_text().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _is_srun(pid: int) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"srun" in a for a in args[:3])
