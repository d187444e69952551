"""Any command on any launcher, tracked (`lz launch … -- CMD`, `lz jobs ls|status|logs|cancel`).

LazyLLM runs arbitrary commands on Slurm or SenseCore through the same launchers that start model
servers; so does lz. A job is a row in the state database (`jobs`), typed here as `JobRow`: what was
run, where, the launcher's own `Job` record (enough to find it again from another process), and a
status from the one `lazycli.launchers.Status` enum that deployments use too. Rows are refreshed
from the launcher when read, so `lz jobs ls` in a new shell tells the truth.

Environment values never reach the row, argv or `--dry-run`: `--env NAME` copies a variable of this
shell into the job's environment by name.

Fine-tune runs and sweep workers on a launcher are jobs too (one lifecycle, one table): their row has
a `kind` (`Kind`) and an `owner` (the run or sweep it belongs to), and their caller picks the log
path (a fine-tune's `logs/train.log`). `lz jobs ls` lists them; `lz jobs cancel` stops them, and the
owner reads the row's status back (`lz finetune status` then says cancelled).

A deployment's engine (or `lz serve --launcher` app server) is a job as well (kind `deployment`, job
`deploy-NAME`, owner the deployment): its status, exit code and reason are this row's, reconciled
here; the `deployments` row keeps what is a deployment's own (endpoint, served name, engine, health).
"""

from __future__ import annotations

import enum
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lazycli import launchers, paths, state
from lazycli.errors import LzError, unknown
from lazycli.launchers import Job, Resources, Status

FOLLOW_POLL_S = 0.2
NAME_MAX = 63  # a job name: letters, digits, "_", "." and "-", first a letter or digit
_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{NAME_MAX - 1}}}$")


class Kind(enum.StrEnum):
    """Who started a job: `lz launch`, a fine-tune run, or a sweep (its trial workers)."""

    COMMAND = "command"
    FINETUNE = "finetune"
    SWEEP_WORKER = "sweep-worker"
    DEPLOYMENT = "deployment"


@dataclass(frozen=True)
class LaunchRequest:
    """What a job asks for: built once, used by --dry-run and by the real submit."""

    argv: tuple[str, ...]
    launcher: str = "local"
    name: str | None = None
    resources: Resources = field(default_factory=Resources)
    env_names: tuple[str, ...] = ()  # variables of this shell passed to the job by name
    kind: Kind = Kind.COMMAND
    owner: str | None = None  # the fine-tune run, sweep or deployment the job belongs to
    log_path: Path | None = None  # None: <logs dir>/job-NAME.log
    # Values lz itself passes (a finetuner's thread counts, PYTHONPATH; a detached app server's API key,
    # which `lz serve` took out of its own environment): handed to the launcher, never written to the
    # jobs row; a fine-tune keeps its (never secret) values in run.json so a resume submits the same. A
    # user's variables go by name (env_names).
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class JobRow:
    name: str
    launcher: str
    argv: list[str]
    status: Status
    log_path: str
    created_at: float
    updated_at: float
    job: Job
    resources: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    reason: str | None = None
    ended_at: float | None = None
    kind: Kind = Kind.COMMAND
    owner: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["kind"] = self.kind.value
        out["job_id"] = self.job.job_id
        return out

    @classmethod
    def from_db(cls, row: dict) -> JobRow:
        return cls(
            name=row["name"],
            launcher=row["launcher"],
            argv=row["argv"] or [],
            status=Status(row["status"]),
            log_path=row["log_path"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            job=Job(**row["job"]),
            resources=row["resources"] or {},
            exit_code=row["exit_code"],
            reason=row["reason"],
            ended_at=row["ended_at"],
            kind=Kind(row.get("kind") or Kind.COMMAND),
            owner=row.get("owner"),
        )


# --- submit -----------------------------------------------------------------------------------------


def _launcher(name: str):
    from lazycli.contracts import conform
    from lazycli.plugins import registry

    return conform(registry().get("launchers", name).factory(), "launchers", name)


def check(request: LaunchRequest) -> None:
    """Everything that can be refused is refused here, before anything is submitted or written."""
    if not request.argv:
        raise LzError("no command to launch", hint="put it after --: lz launch -- python train.py")
    # A deployment's job is named after the deployment, whose name was checked (deploy-NAME may pass 63).
    if request.name is not None and request.kind != Kind.DEPLOYMENT and not _NAME.match(request.name):
        raise LzError(f"bad job name {request.name!r}", hint="use letters, digits, '-', '_' or '.' (max 63)")
    missing = [n for n in request.env_names if n not in os.environ]
    if missing:
        raise LzError(
            f"--env {missing[0]}: no such variable in this shell", hint=f"export {missing[0]}=… first"
        )
    if request.kind == Kind.COMMAND and request.launcher == "local" and shutil.which(request.argv[0]) is None:
        # Elsewhere the node's PATH decides; here a typo is caught before anything is recorded. (A
        # fine-tune's or sweep's argv is lz's own: its interpreter may be installed after a dry run.)
        raise LzError(
            f"command {request.argv[0]!r} not found on PATH", hint="check its spelling or give its path"
        )
    if request.resources.nodes > 1 and request.launcher == "local":
        raise LzError("the local launcher runs on this machine only", hint="--nodes N needs --launcher slurm")
    _launcher(request.launcher)


def describe(request: LaunchRequest) -> str:
    """What would be submitted (the launcher's job script or command line), with variable names only."""
    import shlex

    check(request)
    return f"command: {shlex.join(request.argv)}\n{wrapping(request)}"


def wrapping(request: LaunchRequest) -> str:
    """The launcher's part of `describe` (its job script, manifest, command line), unchecked."""
    launcher = _launcher(request.launcher)
    args = [list(request.argv), request.resources, _env(request, names_only=True)]
    # The script path shown is the one submit will write; the Launcher protocol's describe has no
    # log path, so it goes only to a launcher whose describe takes one (slurm, k8s, local…).
    if request.log_path is not None and launchers.supports(launcher, launchers.DescribeAt):
        args.append(request.log_path)
    return launcher.describe(*args)


def _env(request: LaunchRequest, *, names_only: bool = False) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1", **dict(request.env)}
    for name in request.env_names:
        env[name] = "<from your shell>" if names_only else os.environ[name]
    return env


def submit(request: LaunchRequest, *, launcher: Any = None) -> JobRow:
    """Submit and record the job; `launcher`: the instance to submit through (a deployment's plan
    already made and checked one), else one made from `request.launcher`."""
    check(request)
    launcher = launcher if launcher is not None else _launcher(request.launcher)
    name = _reserve(request)
    log_path = Path(request.log_path or paths.logs_dir() / f"job-{name}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        job = launcher.submit(list(request.argv), request.resources, _env(request), log_path)
    except BaseException as exc:
        reason = exc.message if isinstance(exc, LzError) else f"{type(exc).__name__}: {exc}"
        _update(name, status=Status.FAILED, reason=reason, ended_at=time.time())
        raise
    return _update(name, status=Status.RUNNING, job=job, log_path=str(log_path))


def adopt(request: LaunchRequest, job: Job) -> JobRow:
    """A row for a job submitted before it had one (a fine-tune run.json from an older lz that still
    runs): from now on it is read, listed and cancelled like any other."""
    name = _reserve(request)
    return _update(name, status=Status.RUNNING, job=job, log_path=job.log_path or str(request.log_path or ""))


def _reserve(request: LaunchRequest) -> str:
    """The row, inserted in one write transaction so two launches never share a name."""
    base = request.name or _base_name(request.argv)
    now = time.time()
    with state.transaction() as db:
        taken = db.execute("SELECT status FROM jobs WHERE name = ?", (base,)).fetchone()
        if request.name is not None and taken is not None and not Status(taken[0]).finished:
            raise LzError(
                f"job {base!r} is still {taken[0]}", hint=f"`lz jobs cancel {base}` or pick another --name"
            )
        name = base if request.name is not None else _free_name(db, base)
        db.execute("DELETE FROM jobs WHERE name = ?", (name,))
        db.execute(
            "INSERT INTO jobs (name, launcher, argv_json, resources_json, status, log_path, created_at,"
            " updated_at, job_json, kind, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, request.launcher, json.dumps(list(request.argv)), json.dumps(asdict(request.resources)),
             Status.PENDING.value, "", now, now, json.dumps(asdict(Job(request.launcher, job_id=""))),
             request.kind.value, request.owner),
        )  # fmt: skip
    return name


SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".r", ".jl", ".js", ".pl", ".rb")


def _base_name(argv: tuple[str, ...]) -> str:
    """`python train.py` → "train", `./run.sh` → "run", `python -c …` → "python": the script when
    there is one (it says more than the interpreter), else the program."""
    script = next((a for a in argv if Path(a).suffix.lower() in SCRIPT_SUFFIXES), None)
    word = Path(script).stem if script else Path(argv[0]).name
    return safe_name(word, "job", 56)


def safe_name(word: str, fallback: str, limit: int) -> str:
    """`word` in the characters a job name may hold (other runs become "-"), at most `limit` long,
    else `fallback`: the start of a job name made from what a user typed."""
    return (re.sub(r"[^A-Za-z0-9_.-]+", "-", word).strip("-.") or fallback)[:limit]


def _free_name(db, base: str) -> str:
    names = {
        row[0]
        for row in db.execute("SELECT name FROM jobs WHERE name = ? OR name LIKE ?", (base, f"{base}-%"))
    }
    n = 1
    while f"{base}-{n}" in names:
        n += 1
    return f"{base}-{n}"


def _update(name: str, **values: Any) -> JobRow:
    values["updated_at"] = time.time()
    if "status" in values:
        values["status"] = Status(values["status"]).value
    if "job" in values:
        values["job_json"] = json.dumps(asdict(values.pop("job")))
    columns = ", ".join(f"{key} = ?" for key in values)
    with state.transaction() as db:
        db.execute(f"UPDATE jobs SET {columns} WHERE name = ?", (*values.values(), name))
        row = db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
    return JobRow.from_db(state.row_to_dict(row))


# --- read, follow, cancel ---------------------------------------------------------------------------


def get(name: str, *, refresh: bool = True) -> JobRow | None:
    with state.reading() as db:
        row = state.row_to_dict(db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone())
    if row is None:
        return None
    job = JobRow.from_db(row)
    return reconcile(job) if refresh else job


def require(name: str) -> JobRow:
    job = get(name)
    if job is None:
        raise unknown("job", name, [j.name for j in list_jobs(refresh=False)], hint="`lz jobs ls` lists jobs")
    return job


def list_jobs(*, refresh: bool = True, kind: Kind | None = None, owner: str | None = None) -> list[JobRow]:
    where, args = [], []
    if kind is not None:
        where.append("kind = ?")
        args.append(Kind(kind).value)
    if owner is not None:
        where.append("owner = ?")
        args.append(owner)
    sql = (
        "SELECT * FROM jobs"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY created_at DESC"
    )
    with state.reading() as db:
        rows = [state.row_to_dict(r) for r in db.execute(sql, args)]
    jobs = [JobRow.from_db(r) for r in rows]
    return [reconcile(j) for j in jobs] if refresh else jobs


def reconcile(row: JobRow, *, launcher: Any = None) -> JobRow:
    """The row with the launcher's current word on it (written back when it changed). `launcher`:
    an instance already at hand (a deployment polling its engine), else one is made."""
    if row.status.finished or not row.job.job_id:
        return row
    status = (launcher if launcher is not None else _launcher(row.launcher)).status(row.job)
    if status == row.status and row.job.exit_code == row.exit_code:
        return row
    ended = time.time() if status.finished else None
    return _update(row.name, status=status, exit_code=row.job.exit_code, reason=row.job.reason,
                   job=row.job, ended_at=ended)  # fmt: skip


def end(name: str, status: Status, reason: str, job: Job | None = None) -> JobRow:
    """Record how job `name` ended when its owner decided it (a deployment whose engine never became
    healthy, or was interrupted while starting): `job` is the launcher's record after the cancel."""
    values: dict[str, Any] = {"status": status, "reason": reason, "ended_at": time.time()}
    if job is not None:
        values.update(job=job, exit_code=job.exit_code)
    return _update(name, **values)


def logs(row: JobRow, lines: int | None = None) -> str:
    return _launcher(row.launcher).logs(row.job, lines)


def follow(row: JobRow, write: Callable[[str], None], *, poll: float = FOLLOW_POLL_S) -> JobRow:
    """Write the job's log as it grows until the job ends; returns the final row."""
    offset = 0
    while True:
        row = reconcile(row)
        offset = _write_new(row, offset, write)
        if row.status.finished:
            return row
        time.sleep(poll)


def _write_new(row: JobRow, offset: int, write: Callable[[str], None]) -> int:
    path = Path(row.job.log_path or row.log_path)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return offset
    if chunk:
        write(chunk.decode("utf-8", errors="replace"))
    return offset + len(chunk)


def cancel(name: str) -> JobRow:
    row = require(name)
    if row.status.finished:
        return row
    _launcher(row.launcher).cancel(row.job)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        row = reconcile(row)
        if row.status.finished:
            return row
        time.sleep(FOLLOW_POLL_S)
    return _update(name, status=Status.CANCELLED, reason="cancelled by the user", ended_at=time.time())
