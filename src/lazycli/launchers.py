"""What every launcher plugin shares: the Launcher protocol, the Job record and the Status enum.

A launcher runs an argv somewhere (this machine, a Slurm node, a pod…) and can later tell its
status, the host it runs on, its logs, and cancel it, from another `lz` process: everything it
needs for that lives in the Job record, which is stored in the state database.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


# Put this token in an argv where the service's port goes: the launcher picks a free port on the
# node where the job runs, substitutes it, and reports it back (`endpoint(job)`). A port pinned by
# the user (`--port`) is written into the argv directly instead.
PORT_PLACEHOLDER = "{port}"


class Status(enum.StrEnum):
    PENDING = "pending"  # queued, not started (Slurm PENDING, pod Pending, …)
    STARTING = "starting"  # process started, service not healthy yet
    RUNNING = "running"
    COMPLETED = "completed"  # ended with exit code 0
    FAILED = "failed"  # ended with a non-zero exit code or a launcher-side failure
    CANCELLED = "cancelled"  # stopped by a user or an admin
    TIMEOUT = "timeout"  # hit its time limit
    PREEMPTED = "preempted"
    NODE_FAIL = "node_fail"
    OUT_OF_MEMORY = "out_of_memory"
    UNKNOWN = "unknown"  # the launcher cannot tell (yet); never silently "failed"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset(
    {
        Status.COMPLETED,
        Status.FAILED,
        Status.CANCELLED,
        Status.TIMEOUT,
        Status.PREEMPTED,
        Status.NODE_FAIL,
        Status.OUT_OF_MEMORY,
    }
)


@dataclass
class Resources:
    """What a job asks for; `extra` carries launcher-specific settings."""

    nodes: int = 1
    gpus: int = 0
    cpus: int | None = None
    memory: str | None = None  # e.g. "16G"
    time_limit: str | None = None  # e.g. "04:00:00"
    partition: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """A submitted job, enough to find it again from another process."""

    launcher: str
    job_id: str
    log_path: str | None = None
    host: str | None = None
    port: int | None = None
    pid: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


class Launcher(Protocol):
    name: str

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job: ...

    def status(self, job: Job) -> Status: ...

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        """(host, port) where the job's service listens; None while that is not known yet."""
        ...

    def logs(self, job: Job, lines: int | None = None) -> str: ...

    def cancel(self, job: Job) -> None: ...


def tail_text(path: str | Path | None, lines: int | None) -> str:
    """The last `lines` lines of a text file ('' when it does not exist yet)."""
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return ""
    if lines is None:
        return text
    return "\n".join(text.splitlines()[-lines:])
