"""Deployments: a model served by an engine through a launcher, recorded in the state database so
that it outlives the `lz` process (no atexit hook kills it; `lz deploy stop` does).

    DeployRequest(model, …) → what was asked: built once by `lz deploy`, recipes and restart
    plan(request)           → Plan: model, engine (and why), argv, launcher (no side effects; --dry-run)
    deploy(request, …)      → Deployment: submit, poll launcher status + HTTP health until ready
    get / list_deployments  → Deployments as stored (pure); `refresh=True` asks the launchers first
                              (a dead process shows its exit code) and records what changed
    stop / restart          → Deployments
    find_running / ensure_running(model) → a healthy deployment of that model, deploying one if needed

A row of the `deployments` table is typed as `Deployment` (name, model, engine, launcher, job id,
host, port, url, protocol, served name, status, log path, pid, exit code, the launcher's Job record,
plus what restart needs); `Deployment.as_dict()` is what `--json` prints.

Its engine runs as a job of the one job lifecycle (`lazycli.jobs`, kind `deployment`, job
`deploy-NAME`, owner NAME): submitted, reconciled and cancelled there, so `lz jobs ls/logs/cancel`
see it. The job row is the truth for whether the process runs and how it ended (status, exit code,
reason); the deployment row copies that when it reconciles and keeps what is its own (endpoint,
served name, engine, options, readiness: starting until its health check answers).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli import contracts, engines, jobs, launchers, paths, state
from lazycli.console import note
from lazycli.errors import LzError, unknown
from lazycli.hookspecs import EngineRequest, EngineSpec
from lazycli.launchers import PORT_PLACEHOLDER, Job, Resources, Status, fill_port

LOG_TAIL_LINES = 20
HEALTH_PROBE_INTERVAL_S = 0.05  # keeps "engine healthy → lz says ready" well under 0.5 s
ORPHAN_PENDING_S = 120.0  # a row with no job this long after it was reserved: its lz process died


class DeployError(LzError):
    """A deployment that failed to become ready; carries the engine's last log lines."""

    def __init__(self, message: str, *, hint: str | None = None, log_tail: str = "") -> None:
        super().__init__(message + (f"\n{log_tail}" if log_tail else ""), hint=hint)
        self.log_tail = log_tail


# --- planning (pure: used by --dry-run and by deploy) ---------------------------------------------


@dataclass(frozen=True)
class DeployRequest:
    """What a user (flags), a recipe's model table or a restart asks for. The one record that --dry-run,
    the real deploy, restart and recipes all build, so the plan printed is the deployment started."""

    model: str
    engine: str | None = None
    launcher: str | None = None
    name: str | None = None
    port: int | None = None  # pinned; None: the launcher picks a free one
    gpus: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    force_set: bool = False  # pass unknown engine options through unchecked
    extra_args: tuple[str, ...] = ()
    resources: Resources | None = None
    nodes: int | None = None  # given: a multi-node deployment (a Ray cluster over the allocation)

    @classmethod
    def from_row(cls, row: Deployment) -> DeployRequest:
        """The request that started deployment `row`, to start it again (options were checked then)."""
        return cls(
            model=row.model,
            engine=row.engine,
            launcher=row.launcher,
            name=row.name,
            port=row.pinned_port,
            gpus=row.gpus,
            options=dict(row.options),
            force_set=True,
            extra_args=tuple(row.extra_args),
            nodes=row.nodes,
        )

    def command(self) -> list[str]:
        """The `lz deploy` command line that asks for this request (what `lz run --dry-run` shows)."""
        words = ["lz", "deploy", self.model]
        for flag, value in (
            ("--engine", self.engine),
            ("--launcher", self.launcher),
            ("--name", self.name),
            ("--port", self.port),
            ("--nodes", self.nodes),
        ):
            if value is not None:
                words += [flag, str(value)]
        if self.gpus:
            words += ["--gpus", str(self.gpus)]
        for key, value in self.options.items():
            words += ["--set", f"{key}={value}"]
        if self.force_set:
            words.append("--force-set")
        return words + (["--", *self.extra_args] if self.extra_args else [])


@dataclass(kw_only=True)
class Deployment:
    """One row of the `deployments` table, typed (as `jobs.JobRow` is for `lz launch`). The fields
    are the table's columns in their order, so `as_dict()` prints the JSON `lz deploy ls --json`
    has always printed."""

    name: str
    model: str
    model_path: str | None = None
    engine: str
    launcher: str
    job_id: str | None = None
    host: str | None = None
    port: int | None = None
    port_pinned: bool = False  # the user pinned `port` (restart keeps it); else the launcher picked it
    url: str | None = None
    protocol: str
    served_name: str
    health_path: str
    status: Status
    reason: str | None = None
    log_path: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    gpus: int = 0
    created_at: float
    updated_at: float
    ready_at: float | None = None
    job: Job | None = None  # None until the launcher accepted it
    argv: list[str] | None = None  # the engine argv as it ran (None until submitted)
    options: dict[str, Any] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    nodes: int | None = None

    @classmethod
    def from_db(cls, row: dict) -> Deployment:
        """From `state.row_to_dict` of a `deployments` row (JSON columns already decoded)."""
        return cls(
            name=row["name"],
            model=row["model"],
            model_path=row["model_path"],
            engine=row["engine"],
            launcher=row["launcher"],
            job_id=row["job_id"],
            host=row["host"],
            port=row["port"],
            port_pinned=bool(row["port_pinned"]),
            url=row["url"],
            protocol=row["protocol"],
            served_name=row["served_name"],
            health_path=row["health_path"],
            status=Status(row["status"]),
            reason=row["reason"],
            log_path=row["log_path"],
            pid=row["pid"],
            exit_code=row["exit_code"],
            gpus=row["gpus"] or 0,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            ready_at=row["ready_at"],
            job=Job(**row["job"]) if row["job"] is not None else None,
            argv=row["argv"],
            options=row["options"] or {},
            extra_args=row["extra_args"] or [],
            nodes=row["nodes"],
        )

    def as_dict(self) -> dict[str, Any]:
        """The row as `--json` prints it: every column, under its name, in the table's order."""
        out = dataclasses.asdict(self)
        out["status"] = self.status.value
        out["port_pinned"] = int(self.port_pinned)
        return out

    @property
    def pinned_port(self) -> int | None:
        """The port the user pinned (kept by restart), else None (the launcher picks one)."""
        return self.port if self.port_pinned else None

    @property
    def is_app(self) -> bool:
        """An lz app server (`lz serve … --launcher/--detach`), not a model server."""
        return self.engine == APP_ENGINE


@dataclass
class Plan:
    model: str  # canonical model name
    model_path: Path | None
    model_type: str
    model_format: str
    engine: EngineSpec
    reason: str  # why this engine (auto or explicit)
    launcher_name: str
    launcher: Any
    served_name: str
    name: str | None
    port: int | None  # pinned by the user, else None (the launcher picks one)
    gpus: int
    options: dict[str, Any]
    extra_args: list[str]
    resources: Resources
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    nodes: int | None = None  # a multi-node deployment over this many nodes

    @property
    def request(self) -> EngineRequest:
        return EngineRequest(
            model_path=self.model_path or Path(f"<{self.model} after download>"),
            served_name=self.served_name,
            port=self.port if self.port is not None else PORT_PLACEHOLDER,
            host=launchers.trait(self.launcher, "bind_host"),
            gpus=self.gpus,
            options=self.options,
            extra_args=tuple(self.extra_args),
            model_type=self.model_type,
            nodes=self.nodes or 1,
            distributed=self.nodes is not None,
        )

    def argv(self) -> list[str]:
        return contracts.call(self.engine, "argv", contracts.EngineCommand, self.request)

    def describe(self) -> dict[str, Any]:
        """What --dry-run prints: the choice and why, the exact argv, the launcher wrapping."""
        argv = self.argv()
        describe = self.launcher.describe  # a conformed launcher has one
        return {
            "model": self.model,
            "model_path": str(self.model_path) if self.model_path else None,
            "model_type": self.model_type,
            "format": self.model_format,
            "engine": self.engine.name,
            "reason": self.reason,
            "installed": self.engine.is_installed(),
            "protocol": self.engine.protocol,
            "health_path": self.engine.health_path,
            "served_name": self.served_name,
            "launcher": self.launcher_name,
            "gpus": self.gpus,
            "port": self.port if self.port is not None else PORT_PLACEHOLDER,
            "argv": argv,
            "launcher_wrapping": describe(argv, self.resources, self.env) if describe else None,
            "notes": self.notes,
        }


def plan(request: DeployRequest) -> Plan:
    from lazycli import catalog, settings

    model, engine, launcher, name = request.model, request.engine, request.launcher, request.name
    port, gpus, resources = request.port, request.gpus, request.resources
    current = settings.get()
    ref = catalog.resolve(model)
    gpus_here = engines.gpu_count()
    notes: list[str] = []
    engine_name = engine or current.default_engine
    if engine_name == "auto":
        choice = engines.choose_engine(ref.type, ref.format, gpus or gpus_here, preferred=ref.default_engines)
        spec, reason = engines.get_engine(choice.engine), f"auto: {choice.reason}"
    else:
        spec, reason = (
            engines.get_engine(engine_name),
            "chosen with --engine" if engine else "settings.default_engine",
        )
    _check_fits(spec, ref)
    if spec.needs_gpu and gpus == 0 and gpus_here > 0:
        gpus = 1
        notes.append(f"{spec.name} needs a GPU: using 1 (pass --gpus N for tensor parallel)")
    checked = engines.check_options(spec, dict(request.options), force=request.force_set)
    launcher_name = launcher or current.default_launcher
    launcher_obj = _launcher(launcher_name)
    res = dataclasses.replace(resources, gpus=gpus) if resources else Resources(gpus=gpus)
    if request.nodes is not None:
        res = _multi_node(request.nodes, gpus, spec, launcher_name, launcher_obj, ref, res, notes)
    if name is not None:
        _check_name(name)
    return Plan(
        model=ref.name,
        model_path=ref.path if ref.ready else None,
        model_type=ref.type,
        model_format=ref.format,
        engine=spec,
        reason=reason,
        launcher_name=launcher_name,
        launcher=launcher_obj,
        served_name=_base_name(ref.name) if ref.source == "path" else ref.name,
        name=name,
        port=port,
        gpus=gpus,
        options=checked,
        extra_args=list(request.extra_args),
        resources=res,
        nodes=request.nodes,
        env={"PYTHONUNBUFFERED": "1"},  # engine logs reach the file as they happen (log tail on failure)
        notes=notes,
    )


def _multi_node(nodes, gpus, spec, launcher_name, launcher, ref, res: Resources, notes) -> Resources:
    """Resources for one model over `nodes` nodes (`gpus` in all), or one line saying why not."""
    if nodes < 1:
        raise LzError(f"--nodes {nodes}: at least 1", hint="--nodes 2 --gpus 16 spreads a model over 2 nodes")
    if not spec.multi_node:
        from lazycli.plugins import registry

        capable = ", ".join(n for n, s in registry().all("engines").items() if s.multi_node) or "none"
        raise LzError(f"engine {spec.name} serves a model on one node only", hint=f"--nodes needs: {capable}")
    if not launchers.trait(launcher, "multi_node"):
        raise LzError(f"launcher {launcher_name} runs jobs on one node", hint=_multi_node_launchers())
    per_node = launchers.gpus_per_node(gpus, nodes)
    _check_memory(ref, gpus, nodes)
    notes.append(
        f"{nodes} node(s) x {per_node} GPU(s): tensor parallel {per_node} inside a node, pipeline parallel "
        f"{nodes} across nodes, {launchers.trait(launcher, 'multi_node_how')} "
        "(override: --set tensor_parallel_size=…, pipeline_parallel_size=…)"
    )
    return dataclasses.replace(res, nodes=nodes, gpus=per_node, cluster="ray")


def _multi_node_launchers() -> str:
    """A hint naming the launchers that can spread one model over nodes (those with `multi_node`)."""
    from lazycli.plugins import registry

    names = []
    for name, spec in registry().all("launchers").items():
        try:
            if launchers.trait(spec.factory(), "multi_node"):
                names.append(name)
        except Exception:  # noqa: BLE001 - a broken plugin only leaves the hint shorter
            continue
    return f"use --launcher {' or '.join(names)}" if names else "no launcher here spans nodes"


def _check_memory(ref, gpus: int, nodes: int) -> None:
    """Weights in 16-bit plus 20% (KV cache, activations) must fit the GPUs asked for."""
    from lazycli import settings

    if not ref.params_b or gpus == 0:
        return
    per_gpu = settings.get().gpu_memory_gb
    need_gb = ref.params_b * 2 * 1.2
    need = int(-(-need_gb // (per_gpu * 0.9)))  # gpu_memory_utilization 0.9, rounded up
    need = -(-need // nodes) * nodes  # the same number on every node
    if gpus < need:
        raise LzError(
            f"{ref.name} ({ref.params_b:g}B parameters) needs about {need_gb:.0f} GB in 16-bit: at least "
            f"{need} GPUs of {per_gpu:g} GB, and --gpus is {gpus}",
            hint=f"ask for --gpus {need} or more (or set gpu_memory_gb to your GPUs' size)",
        )


def _check_fits(spec: EngineSpec, ref) -> None:
    if ref.type not in spec.model_types:
        raise LzError(
            f"engine {spec.name} does not serve {ref.type} models ({ref.name})",
            hint=f"{spec.name} serves {', '.join(spec.model_types)}; leave out --engine to pick one",
        )
    if ref.format not in spec.formats:
        raise LzError(
            f"engine {spec.name} serves {', '.join(spec.formats)} models, and {ref.name} is {ref.format}",
            hint="leave out --engine to choose automatically, or deploy another build of the model",
        )


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise LzError(f"bad deployment name {name!r}", hint="use letters, digits, '-', '_' or '.' (max 63)")


def _base_name(model: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(model).name.removesuffix(".gguf")).strip("-.") or "model"
    return base[:56]


# --- rows ------------------------------------------------------------------------------------------


def _row(db, name: str) -> Deployment | None:
    found = db.execute("SELECT * FROM deployments WHERE name = ?", (name,)).fetchone()
    return Deployment.from_db(state.row_to_dict(found)) if found else None


def _update(name: str, **values: Any) -> Deployment:
    values["updated_at"] = time.time()
    if isinstance(values.get("status"), Status):
        values["status"] = values["status"].value
    for key in ("job", "argv", "options", "extra_args"):
        if key in values:
            values[f"{key}_json"] = json.dumps(values.pop(key))
    columns = ", ".join(f"{key} = ?" for key in values)
    with state.transaction() as db:
        db.execute(f"UPDATE deployments SET {columns} WHERE name = ?", (*values.values(), name))
        return _row(db, name)


def _reserve(p: Plan) -> Deployment:
    """Insert the row in one write transaction, so concurrent deploys never share a name."""
    base = p.name or _base_name(p.model)
    now = time.time()
    with state.transaction() as db:
        name = base if p.name else _free_name(db, base)
        existing = _row(db, name)
        if existing is not None:
            if existing.status.active:
                raise LzError(
                    f"deployment {name!r} is already {existing.status} ({existing.url or 'no url'})",
                    hint=f"`lz deploy stop {name}` first, or pick another --name",
                )
            db.execute("DELETE FROM deployments WHERE name = ?", (name,))
        db.execute(
            """INSERT INTO deployments (name, model, model_path, engine, launcher, status, protocol,
                   served_name, health_path, gpus, port, port_pinned, created_at, updated_at,
                   options_json, extra_args_json, nodes)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                name, p.model, str(p.model_path) if p.model_path else None, p.engine.name, p.launcher_name,
                Status.PENDING.value, p.engine.protocol, p.served_name, p.engine.health_path, p.gpus,
                p.port, int(p.port is not None), now, now, json.dumps(p.options), json.dumps(p.extra_args),
                p.nodes,
            ),
        )  # fmt: skip
        return _row(db, name)


def _free_name(db, base: str) -> str:
    taken = {
        row["name"]: row["status"]
        for row in db.execute(
            "SELECT name, status FROM deployments WHERE name = ? OR name LIKE ?", (base, base + "-%")
        )
    }
    candidate, n = base, 1
    while candidate in taken and Status(taken[candidate]).active:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# --- deploy ------------------------------------------------------------------------------------------


def deploy(
    request: DeployRequest | str,
    *,
    timeout: float | None = None,
    wait: bool = True,
    progress: Callable[[float], None] | None = None,
) -> Deployment:
    """Start what `request` asks for (a model name: that model with defaults) and, with `wait`,
    return once it answers its health check; the deployment row."""
    if isinstance(request, str):
        request = DeployRequest(request)
    model = request.model
    p = plan(request)
    if not p.engine.is_installed():
        raise LzError(f"engine {p.engine.name} is not installed here", hint=p.engine.install_hint or None)
    if launchers.supports(p.launcher, launchers.ResourceCheck):  # can the cluster hold it (before downloads)
        p.launcher.check_resources(p.resources)
    if p.model_path is None:
        from lazycli import catalog

        p.model_path = catalog.ensure_local(model)
    if p.port is not None and launchers.supports(p.launcher, launchers.PortCheck):
        p.launcher.check_port(p.port)
    _reconcile_names(p.name or _base_name(p.model))  # a dead "running" row must not hold its name
    row = _reserve(p)
    return _start(p, row, timeout=timeout, wait=wait, progress=progress)


# --- an lz app server as a deployment (`lz serve TARGET --launcher L`) ---------------------------

APP_ENGINE = "lz-serve"  # the engine column of a row that is lz's own app server
APP_JOB_ENV = "LZ_SERVE_JOB"  # set in an app server's job: it stops the deployments it started on exit


@dataclass(frozen=True)
class AppRequest:
    """`lz serve TARGET …` to run where a launcher puts it, recorded like a model deployment."""

    target: str  # a recipe path (absolute) or a model/deployment/provider/URL
    served_name: str  # the model id clients send (the recipe's app name)
    launcher: str = "local"
    name: str | None = None
    port: int | None = None
    serve_args: tuple[str, ...] = ()  # more `lz serve` flags (--set, --api-key-env, limits)
    env: dict[str, str] = field(default_factory=dict)  # values the server needs (its API key)


def _app_spec(app: AppRequest) -> EngineSpec:
    import sys

    def argv(req: EngineRequest) -> list[str]:
        return [sys.executable, "-m", "lazycli", "serve", app.target, "--host", req.host,
                "--port", str(req.port), *app.serve_args]  # fmt: skip

    return EngineSpec(
        name=APP_ENGINE, argv=argv, model_types=("app",), formats=("recipe",), health_path="/health",
        protocol="openai", description="lz serve: an application's OpenAI-compatible server",
    )  # fmt: skip


def app_plan(app: AppRequest) -> Plan:
    """The app server's plan: what `deploy_app` submits and `lz serve --launcher --dry-run` shows."""
    if app.name is not None:
        _check_name(app.name)
    return Plan(
        model=app.target, model_path=None, model_type="app", model_format="recipe", engine=_app_spec(app),
        reason="lz serve --launcher", launcher_name=app.launcher, launcher=_launcher(app.launcher),
        served_name=app.served_name, name=app.name or _base_name(f"app-{app.served_name}"), port=app.port,
        gpus=0, options={"serve_args": list(app.serve_args)}, extra_args=[], resources=Resources(),
        env={"PYTHONUNBUFFERED": "1", APP_JOB_ENV: "1", **app.env},
    )  # fmt: skip


def deploy_app(
    app: AppRequest, *, timeout: float | None = None, wait: bool = True, progress=None
) -> Deployment:
    """Submit the app server through its launcher and record it as a deployment, so `lz deploy
    ls/logs/stop` work on it; with `wait`, return once its /health answers."""
    p = app_plan(app)
    if p.port is not None and launchers.supports(p.launcher, launchers.PortCheck):
        p.launcher.check_port(p.port)
    _reconcile_names(p.name)
    row = _reserve(p)
    return _start(p, row, timeout=timeout, wait=wait, progress=progress)


def _app_of(row: Deployment) -> AppRequest:
    """The AppRequest that started app row `row`; its API key (never stored) comes from this shell."""
    import os

    args = tuple(row.options.get("serve_args") or ())
    env = {}
    if "--api-key-env" in args:
        var = args[args.index("--api-key-env") + 1]
        if not os.environ.get(var):
            raise LzError(f"deployment {row.name!r} needs its API key in {var}", hint=f"export {var}=…")
        env[var] = os.environ[var]
    return AppRequest(row.model, row.served_name, row.launcher, row.name, row.pinned_port, args, env)


def _start(p: Plan, row: Deployment, *, timeout: float | None, wait: bool, progress) -> Deployment:
    name = row.name
    argv = p.argv()
    log_path = paths.logs_dir() / f"deploy-{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")  # a fresh log per start (restart included)
    try:
        job = jobs.submit(_launch_request(p, name, argv, log_path), launcher=p.launcher).job
    except BaseException:
        _update(name, status=Status.FAILED, reason="submit failed")
        raise
    host, port = _endpoint(p.launcher, job, p.port)
    row = _update(
        name,
        status=Status.STARTING,
        job_id=job.job_id,
        pid=job.pid,
        log_path=str(log_path),
        host=host,
        port=port,
        url=engines.base_url(host, port, p.engine.protocol) if port else None,
        job=_job_dict(job),
        argv=_with_port(argv, port),
    )
    if not wait:
        return row
    from lazycli import settings

    limit = timeout if timeout is not None else settings.get().deploy_timeout
    try:
        return wait_ready(row, p.launcher, limit, progress=progress)
    except KeyboardInterrupt:
        p.launcher.cancel(job)
        _record_end(name, Status.CANCELLED, "interrupted while starting")
        raise


def job_name(name: str) -> str:
    """Deployment `name`'s job in `lz jobs` (one per deployment: a restart replaces the ended one)."""
    return f"deploy-{name}"


def _launch_request(p: Plan, name: str, argv: list[str], log_path: Path) -> jobs.LaunchRequest:
    """The engine's job. A value this shell holds (an app's API key) goes by its variable's name, so
    no secret is kept anywhere; the rest are values lz chose."""
    by_name = tuple(sorted(k for k, v in p.env.items() if k != "PYTHONUNBUFFERED" and os.environ.get(k) == v))
    return jobs.LaunchRequest(
        argv=tuple(argv),
        launcher=p.launcher_name,
        name=job_name(name),
        resources=p.resources,
        env_names=by_name,
        kind=jobs.Kind.DEPLOYMENT,
        owner=name,
        log_path=log_path,
        env=tuple(sorted((k, v) for k, v in p.env.items() if k not in by_name)),
    )


def _reconcile_names(base: str) -> None:
    with state.reading() as db:
        rows = db.execute(
            "SELECT * FROM deployments WHERE name = ? OR name LIKE ?", (base, base + "-%")
        ).fetchall()
    cache: dict = {}
    for row in rows:
        reconcile_row(Deployment.from_db(state.row_to_dict(row)), cache=cache)


def _with_port(argv: list[str], port: int | None) -> list[str]:
    """The argv as it ran (the placeholder replaced by the port the launcher picked)."""
    return fill_port(argv, port) if port else argv


def _job_dict(job: Job) -> dict:
    return json.loads(job.to_json())


def _endpoint(launcher, job: Job, pinned: int | None) -> tuple[str | None, int | None]:
    found = launcher.endpoint(job)
    host, port = found if found else (None, None)
    return (engines.connect_host(host) if host else None), (port or pinned)


def wait_ready(row: Deployment, launcher, timeout: float, *, progress=None) -> Deployment:
    """Poll the job (reconciled with its launcher) and HTTP health until the engine answers; on
    failure stop it, record why, and raise DeployError with the log tail (nothing is left running)."""
    name = row.name
    found = _job_row(row)
    assert found is not None, "wait_ready runs after submit, which wrote the job row"
    job_row, job = found, found.job
    started = time.monotonic()
    deadline = started + timeout
    # Asking a scheduler costs a command or a request; a launcher whose status is cheap says so.
    status_every = launchers.trait(launcher, "poll_interval")
    next_status = 0.0
    host, port = row.host, row.port
    while True:
        now = time.monotonic()
        if now >= next_status:
            job_row = jobs.reconcile(job_row, launcher=launcher)
            status, job = job_row.status, job_row.job
            if status.finished:  # the launcher's reason where there is no exit code (a pod's state)
                said = job.reason if job.exit_code is None and job.reason else None
                why = said or f"the engine exited with code {job.exit_code}"
                return _failed(row, launcher, job, status, why)
            if not port:
                host, port = _endpoint(launcher, job, row.pinned_port)
            next_status = now + status_every
        if port and engines.probe(_health_url(host, port, row.health_path), timeout=2.0):
            return _update(
                name,
                status=Status.RUNNING,
                host=host,
                port=port,
                url=engines.base_url(host, port, row.protocol),
                ready_at=time.time(),
                job=_job_dict(job),
            )
        if now >= deadline:
            return _failed(row, launcher, job, Status.TIMEOUT, f"not healthy after {timeout:g} s")
        if progress:
            progress(now - started)
        time.sleep(HEALTH_PROBE_INTERVAL_S)


def _health_url(host: str | None, port: int, path: str) -> str:
    return f"http://{engines.connect_host(host)}:{port}{path}"


def _failed(row: Deployment, launcher, job: Job, status: Status, reason: str) -> Deployment:
    name = row.name
    # The leader may be gone while its children live on: cancel stops the whole group.
    recorded = Status.TIMEOUT if status == Status.TIMEOUT else Status.FAILED
    _cancel(name, launcher, job, recorded, reason)
    tail = launcher.logs(job, LOG_TAIL_LINES).rstrip()
    header = f"--- last {LOG_TAIL_LINES} lines of {job.log_path} ---" if tail else "(the engine wrote no log)"
    raise DeployError(
        f"deployment {name!r} ({row.engine} on {row.launcher}) failed: {reason}",
        hint=f"fix the cause and run `lz deploy restart {name}`; full log: `lz deploy logs {name}`",
        log_tail=f"{header}\n{tail}\n--- end of log ---" if tail else header,
    )


def _cancel(name: str, launcher, job: Job, status: Status, reason: str) -> Deployment:
    """Cancel the job and record `status`, with its exit code once it has ended."""
    launcher.cancel(job)
    launcher.status(job)  # fills in the exit code once the job has ended
    return _record_end(name, status, reason, job)


def _record_end(name: str, status: Status, reason: str, job: Job | None = None) -> Deployment:
    """An end lz decided (never healthy, interrupted): written on the job row, copied from it."""
    ended = jobs.end(job_name(name), status, reason, job)
    return _update(name, status=ended.status, exit_code=ended.exit_code, reason=ended.reason,
                   job=_job_dict(ended.job))  # fmt: skip


def _job_row(row: Deployment) -> jobs.JobRow | None:
    """The job row of a submitted deployment. One submitted by an lz from before jobs (or by an older
    lz still running beside this one) gets its row now (`jobs.adopt`), as old fine-tunes do; None
    before it was submitted, or when that name is held by another running job."""
    if row.job is None:
        return None
    name = job_name(row.name)
    found = jobs.get(name, refresh=False)
    if found is not None and found.kind == jobs.Kind.DEPLOYMENT and found.owner == row.name:
        return found
    request = jobs.LaunchRequest(
        argv=tuple(row.argv or ()),
        launcher=row.launcher,
        name=name,
        kind=jobs.Kind.DEPLOYMENT,
        owner=row.name,
        log_path=Path(row.log_path) if row.log_path else None,
    )
    try:
        return jobs.adopt(request, Job(**dataclasses.asdict(row.job)))
    except LzError:
        return None


# --- reading and reconciling -----------------------------------------------------------------------------


def _launcher(name: str):
    from lazycli.plugins import registry

    return contracts.conform(registry().get("launchers", name).factory(), "launchers", name)


def job_of(row: Deployment) -> tuple[Any, Job] | None:
    """(launcher, Job) of a deployment row, for logs and status; None before it was submitted."""
    if row.job is None:
        return None
    return _launcher(row.launcher), row.job


def reconcile_row(row: Deployment, *, cache: dict | None = None) -> Deployment:
    """Bring a row's status in line with its launcher (a dead process shows as exited with its code;
    a --no-wait deployment turns running once it answers its health check), recording what changed.
    `cache`: launcher instances by name, shared by the rows of one listing."""
    if row.status.finished:
        return row
    if row.job is None:
        if time.time() - (row.updated_at or 0) > ORPHAN_PENDING_S:
            return _update(row.name, status=Status.FAILED, reason="lz stopped before starting it")
        return row
    cache = cache if cache is not None else {}
    try:
        launcher = cache.get(row.launcher) or cache.setdefault(row.launcher, _launcher(row.launcher))
    except LzError:
        return row  # its launcher plugin is gone: show the row as recorded
    job_row = _job_row(row)
    if job_row is None:
        return row  # its job name is taken by another running job: show the row as recorded
    job_row = jobs.reconcile(job_row, launcher=launcher)  # the one reconcile path (also `lz jobs`)
    status, job = job_row.status, job_row.job
    changes: dict[str, Any] = {}
    if status.finished:
        changes = {"status": status, "exit_code": job_row.exit_code, "reason": job_row.reason or row.reason}
    elif status is Status.RUNNING and row.status is not Status.RUNNING:
        host, port = _endpoint(launcher, job, row.port)
        if port and engines.probe(_health_url(host, port, row.health_path), timeout=1.0):
            url = engines.base_url(host, port, row.protocol)
            changes = {"status": Status.RUNNING, "host": host, "port": port, "url": url}
    if not changes:
        return row
    changes["job"] = _job_dict(job)
    return _update(row.name, **changes)


def get(name: str, *, refresh: bool = False) -> Deployment | None:
    """The deployment `name` as recorded, or None. Reading is pure: it asks no launcher and writes
    nothing. `refresh=True` asks its launcher first and records what changed (`reconcile_row`), for
    the callers that must tell the truth now (`lz deploy ls/status`, stop, reuse)."""
    with state.reading() as db:
        row = _row(db, name)
    return reconcile_row(row) if row is not None and refresh else row


def require(name: str, *, refresh: bool = False) -> Deployment:
    """`get`, or a one-line error naming the deployments there are."""
    row = get(name, refresh=refresh)
    if row is None:
        with state.reading() as db:
            names = [r[0] for r in db.execute("SELECT name FROM deployments")]
        raise unknown("deployment", name, names, hint="`lz deploy ls` lists them")
    return row


def list_deployments(*, refresh: bool = False) -> list[Deployment]:
    """Every deployment, oldest first, as recorded; `refresh=True` reconciles each with its launcher."""
    with state.reading() as db:
        rows = [
            Deployment.from_db(state.row_to_dict(r))
            for r in db.execute("SELECT * FROM deployments ORDER BY created_at")
        ]
    if not refresh:
        return rows
    cache: dict = {}
    return [reconcile_row(row, cache=cache) for row in rows]


def leftovers(row: Deployment) -> list[int]:
    """Pids of a deployment's processes still alive (its engine may outlive a killed wrapper)."""
    found = job_of(row)
    if found is None:
        return []
    launcher, job = found
    return list(launcher.leftovers(job)) if launchers.supports(launcher, launchers.Leftovers) else []


def needs_stop(row: Deployment) -> bool:
    """Active, or recorded as ended while some of its processes still run (`stop --all` ends those)."""
    return row.status.active or bool(leftovers(row))


def stop(name: str) -> Deployment:
    """Stop a deployment (TERM, then KILL after a grace period); the row stays, as cancelled. A row
    that already ended is cleaned too: whatever of its process group still runs is ended."""
    row = require(name, refresh=True)
    if row.job is None:
        if row.status.active:
            return _update(name, status=Status.CANCELLED, reason="stopped before it started")
        return row
    launcher, job = job_of(row)
    if row.status.finished:
        if not leftovers(row):
            return row
        launcher.cancel(job)
        return _update(name, reason=f"{row.reason or row.status}; its leftover processes were stopped")
    if _job_row(row) is None:  # its job name is held by another running job: cancel it directly
        return _cancel(name, launcher, job, Status.CANCELLED, "stopped")
    ended = jobs.cancel(job_name(name))  # the same as `lz jobs cancel deploy-NAME`
    return _update(name, status=Status.CANCELLED, exit_code=ended.exit_code, reason="stopped",
                   job=_job_dict(ended.job))  # fmt: skip


def restart(name: str, *, timeout: float | None = None, wait: bool = True, progress=None) -> Deployment:
    """Stop (whatever still runs of it) and start again with the same model, engine, launcher and
    options; refuses when its old processes cannot be ended (two engines would serve one name)."""
    recorded = require(name)
    if recorded.is_app:
        app = _app_of(recorded)  # refused here, before anything is stopped, when its key is gone
        stop(name)
        return deploy_app(app, timeout=timeout, wait=wait, progress=progress)
    row = stop(name)
    left = leftovers(row)
    if left:
        pids = " ".join(str(p) for p in left)
        raise LzError(
            f"deployment {name!r}: its old engine is still running (pid {pids}); not starting a second one",
            hint=f"end it with `kill {pids}`, then `lz deploy restart {name}`",
        )
    return deploy(DeployRequest.from_row(row), timeout=timeout, wait=wait, progress=progress)


# --- an engine that crashed mid-request ---------------------------------------------------------------

CRASH_WAIT_S = 2.0  # the wrapper records the exit code a moment after the connection drops


def crash_error(name: str, *, wait: float = CRASH_WAIT_S) -> LzError | None:
    """When deployment `name`'s engine died by a signal, a one-line error saying so (deployment,
    engine, signal, last log lines, the engine's crash hint); None when it did not die that way."""
    import signal

    deadline = time.monotonic() + wait
    while True:
        row = get(name, refresh=True)
        if row is None:
            return None
        code = row.exit_code
        if row.status.finished or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if code is None or code <= 128:
        return None
    try:
        signame = signal.Signals(code - 128).name
    except ValueError:
        signame = f"signal {code - 128}"
    found = job_of(row)
    tail = found[0].logs(found[1], 40) if found else ""
    last = " | ".join([line.strip() for line in tail.splitlines() if line.strip()][-3:])
    try:
        hint = engines.get_engine(row.engine).crash_hint
    except LzError:
        hint = ""
    return LzError(
        f"deployment {name!r}: the {row.engine} engine died of {signame} (exit {code}) during the request"
        + (f"; last log lines: {last}" if last else ""),
        hint=(hint or "see `lz deploy logs " + name + "`") + f"; then `lz deploy restart {name}`",
    )


class CrashAware:
    """A deployment's client backend: a request that fails because the engine died by a signal
    raises the crash error (never "ask again"); every other error passes through unchanged."""

    def __init__(self, backend: Any, name: str) -> None:
        self._backend = backend
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._backend, attr)

    def _crashed(self, exc: LzError) -> LzError:
        if getattr(exc, "kind", None) not in ("disconnected", "connection", "server", "timeout"):
            return exc
        return crash_error(self._name) or exc

    def chat(self, *args: Any, **kwargs: Any):
        try:
            return self._backend.chat(*args, **kwargs)
        except LzError as exc:
            raise self._crashed(exc) from None

    def chat_stream(self, *args: Any, **kwargs: Any):
        try:
            yield from self._backend.chat_stream(*args, **kwargs)
        except LzError as exc:
            raise self._crashed(exc) from None


def _model_names(model: str) -> set[str]:
    """The ways a row may record `model`: as given, its catalogue name, its local path."""
    names = {model}
    try:
        from lazycli import catalog

        ref = catalog.resolve(model)
        names |= {ref.name, str(ref.path)} if ref.path else {ref.name}
    except LzError:
        pass
    return names


def _serves(row: Deployment, model: str, names: set[str]) -> bool:
    return row.model in names or row.model_path in names or row.name == model


def _answers(row: Deployment) -> bool:
    return bool(row.port) and engines.probe(_health_url(row.host, row.port, row.health_path))


def _deployments_of(model: str) -> list[Deployment]:
    """The deployments serving `model` (reconciled now with their launchers), oldest first."""
    names = _model_names(model)
    cache: dict = {}
    return [reconcile_row(row, cache=cache) for row in list_deployments() if _serves(row, model, names)]


def _first_answering(rows: list[Deployment]) -> Deployment | None:
    return next((r for r in rows if r.status is Status.RUNNING and _answers(r)), None)


def find_running(model: str) -> Deployment | None:
    """A running deployment serving `model` that answers its health check now."""
    return _first_answering(_deployments_of(model))


def _wait_for_starting(rows: list[Deployment], announce: Callable[[str], None]) -> Deployment | None:
    """When another lz is starting the model right now (two `lz chat` at once), wait for that one
    instead of starting a second copy; None when there is none or it fails."""
    starting = [r for r in rows if r.status is Status.STARTING]
    if not starting:
        return None
    from lazycli import settings

    name = starting[-1].name
    announce(f"waiting for deployment {name}, which another lz is starting…")
    deadline = time.monotonic() + settings.get().deploy_timeout
    while time.monotonic() < deadline:
        row = get(name, refresh=True)
        if row is None or row.status.finished:
            return None
        if row.status is Status.RUNNING and _answers(row):
            return row
        time.sleep(0.2)
    return None


def ensure_running(model: str, *, announce: Callable[[str], None] = note) -> Deployment:
    """Reuse a healthy deployment of `model` (or one being started), or deploy it; say which."""
    rows = _deployments_of(model)  # listed once: reconciling asks every row's launcher
    found = _first_answering(rows) or _wait_for_starting(rows, announce)
    if found:
        announce(f"using deployment {found.name} ({found.engine}) at {found.url}")
        return found
    announce(f"deploying {model} (stop it later with `lz deploy stop`)…")
    started = time.monotonic()
    row = deploy(model)
    announce(f"deployment {row.name} ready at {row.url} in {time.monotonic() - started:.1f} s")
    return row
