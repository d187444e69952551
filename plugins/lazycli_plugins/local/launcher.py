"""LocalLauncher: the Launcher protocol on this machine.

- submit: picks a free port for PORT_PLACEHOLDER (a marker file per port, chosen under a lock, so
  concurrent `lz` processes never pick the same one), starts `_wrap.py EXIT_FILE -- argv` with
  start_new_session (own session and process group: Ctrl-C in the terminal and `lz` exiting leave
  it running), stdin from /dev/null, stdout+stderr appended to the log.
- status: the exit file when the job has ended, else whether the leader pid is alive (its start
  time, kept in the Job, guards against pid reuse; zombies count as ended).
- cancel: SIGTERM to the group, SIGKILL after a grace period, until no process of the group is left,
  and the command itself (its pid file, written by the wrapper) when it left the group. It works
  whatever happened to the wrapper: a `kill -9`ed wrapper's group lives on under the same id.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from lazycli import paths
from lazycli.errors import LzError
from lazycli.fsutil import free_port, port_is_free
from lazycli.launchers import (
    PORT_PLACEHOLDER,
    Job,
    Resources,
    Status,
    env_names,
    fill_port,
    needs_port,
    tail_text,
)

WRAPPER = Path(__file__).with_name("_wrap.py")
HOST = "127.0.0.1"
RESERVATION_TTL_S = 600.0  # a reserved port is held this long, or until its job has ended


class LocalLauncher:
    name = "local"
    # Services started here listen on loopback only; clients connect to 127.0.0.1.
    bind_host = HOST
    # Status is a look at /proc and a file, cheap enough to ask at the health probe's pace.
    poll_interval = 0.05

    def __init__(self, grace: float = 10.0) -> None:
        self.grace = grace

    # --- submit -------------------------------------------------------------------------------

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        exit_file = _exit_file(log_path)
        for stale in (exit_file, _cancel_file(log_path), _pid_file(log_path)):
            stale.unlink(missing_ok=True)
        port = None
        if needs_port(argv):
            port = reserve_port()
            argv = fill_port(argv, port)
        full_env = {**_inherited_env(), **(env or {})}
        command = self.wrap(argv, exit_file)
        with open(log_path, "ab") as log:
            log.write(f"$ {shlex.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
                close_fds=True,
            )
        if port is not None:
            _claim(port, proc.pid)
        return Job(
            launcher=self.name,
            job_id=str(proc.pid),
            log_path=str(log_path),
            host=HOST,
            port=port,
            pid=proc.pid,
            extra={"start_time": _start_time(proc.pid), "exit_file": str(exit_file), "argv": argv},
        )

    def wrap(self, argv: list[str], exit_file: Path) -> list[str]:
        return [sys.executable, "-I", "-S", str(WRAPPER), str(exit_file), "--", *argv]

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str], log_path=None) -> str:
        log = Path(log_path) if log_path else paths.logs_dir() / "NAME.log"
        wrapped = self.wrap(argv, _exit_file(log))
        lines = [
            "launcher local: this machine, own session/process group (survives lz exiting)",
            f"  port: {PORT_PLACEHOLDER} → a free port on 127.0.0.1" if needs_port(argv) else "",
            f"  log: a file under {log.parent} (stdout + stderr)",
            f"  wrapper (records the exit code): {shlex.join(wrapped[:6])} …",
            f"  env: {env_names(env)}" if env else "",
            f"  GPUs: {resources.gpus}" if resources.gpus else "",
        ]
        return "\n".join(line for line in lines if line)

    def check_port(self, port: int) -> None:
        """A port pinned by the user must be free here (else the engine dies at bind, later)."""
        if not port_is_free(port, HOST):
            raise LzError(
                f"port {port} is already in use on {HOST}", hint="pick another --port, or leave it out"
            )

    # --- status / endpoint / logs ---------------------------------------------------------------

    def status(self, job: Job) -> Status:
        code = _read_exit(job)
        cancelled = _cancel_file(Path(job.log_path)).exists() if job.log_path else False
        if code is None and job.pid:
            if _alive(job.pid, job.extra.get("start_time")):
                return Status.RUNNING
            _reap(job.pid)
            code = _read_exit(job)  # it may have ended between the two reads
        if code is not None:
            job.exit_code = code
            if code == 0:
                return Status.COMPLETED
            return Status.CANCELLED if cancelled else Status.FAILED
        if cancelled:
            return Status.CANCELLED
        job.reason = job.reason or "the process ended without recording an exit code (killed with SIGKILL?)"
        return Status.FAILED

    def leftovers(self, job: Job) -> list[int]:
        """Processes of the job still alive (its group, and the command by its pid file)."""
        if not job.pid:
            return []
        pids = set(_group_members(job.pid))
        command = _command_pid(job)
        if command is not None:
            pids.add(command)
        return sorted(pids)

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        return (job.host or HOST, job.port)

    def logs(self, job: Job, lines: int | None = None) -> str:
        return tail_text(job.log_path, lines)

    # --- cancel ----------------------------------------------------------------------------------

    def cancel(self, job: Job) -> None:
        if not job.pid:
            return
        if job.log_path:
            _cancel_file(Path(job.log_path)).touch()
        self._end_group(job)
        command = _command_pid(job)
        if command is not None:  # it left the group (setsid): end it by its own pid
            _end_pid(command, self.grace)

    def _end_group(self, job: Job) -> None:
        pgid = job.pid
        fields, started = _stat(pgid), job.extra.get("start_time")
        if fields and started is not None and int(fields[19]) != int(started):
            return  # the pid was reused: our job ended long ago, and this group is someone else's
        # A group id stays taken while any member lives, so members of group `pgid` are ours even
        # when the leader (the wrapper) is gone.
        if not _alive(pgid, started) and not _group_members(pgid):
            return
        _signal_group(pgid, signal.SIGTERM)
        if _wait_group_gone(pgid, self.grace):
            return
        _signal_group(pgid, signal.SIGKILL)
        _wait_group_gone(pgid, 5.0)


# --- environment ---------------------------------------------------------------------------------

# Secrets in lz's own environment (provider keys, `lz serve`'s API key) are not an engine's business:
# a job gets them only when its env names them explicitly.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.I)


def _inherited_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not _SECRET_NAME.search(name)}


# --- ports ---------------------------------------------------------------------------------------


def _ports_dir() -> Path:
    path = paths.data_dir() / "run" / "ports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def reserve_port(attempts: int = 50) -> int:
    """A free port on 127.0.0.1 that no other lz process has reserved: one marker file per port,
    chosen under a lock, so concurrent deploys never pick the same port before their engines bind."""
    folder = _ports_dir()
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _sweep(folder)
        for _ in range(attempts):
            port = free_port(HOST)
            marker = folder / str(port)
            if marker.exists() or not port_is_free(port, HOST):
                continue
            marker.write_text(f"{os.getpid()}\n")
            return port
    raise LzError("no free port found on 127.0.0.1", hint="pin one with --port")


def _sweep(folder: Path) -> None:
    """Forget reservations whose job has ended (or that are older than the TTL)."""
    for marker in folder.iterdir():
        if marker.name.isdigit() and _reservation_stale(marker):
            marker.unlink(missing_ok=True)


def _claim(port: int, pid: int) -> None:
    """Hand the reservation to the job: it lasts while the job lives (or the TTL runs out)."""
    (_ports_dir() / str(port)).write_text(f"{pid}\n")


def _reservation_stale(marker: Path) -> bool:
    try:
        age = time.time() - marker.stat().st_mtime
        owner = int(marker.read_text().strip() or 0)
    except (OSError, ValueError):
        return True
    return age > RESERVATION_TTL_S or not _alive(owner)


# --- processes (via /proc: works for processes that are not our children) -------------------------


def _exit_file(log_path: Path) -> Path:
    return Path(str(log_path) + ".exit")


def _pid_file(log_path: Path) -> Path:
    return Path(str(log_path) + ".pid")


def _command_pid(job: Job) -> int | None:
    """The wrapped command's pid from the wrapper's pid file, when that process still lives."""
    if not job.log_path:
        return None
    try:
        pid_text, _, started = _pid_file(Path(job.log_path)).read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _alive(pid, int(started) if started.isdigit() else None) else None


def _end_pid(pid: int, grace: float) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not _alive(pid):
                return
            time.sleep(0.05)


def _cancel_file(log_path: Path) -> Path:
    return Path(str(log_path) + ".cancelled")


def _read_exit(job: Job) -> int | None:
    path = job.extra.get("exit_file") or (job.log_path and str(_exit_file(Path(job.log_path))))
    if not path:
        return None
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], pgid [2], start time [19])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _alive(pid: int, start_time: int | None = None) -> bool:
    """The process exists and is no zombie (and, given its start time, is not a reused pid)."""
    fields = _stat(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return start_time is None or int(fields[19]) == int(start_time)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _reap(pid: int) -> None:
    """Collect our own child's exit status (when this process started it), so it is no zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        _reap(pgid)
        if not _group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
