"""Fine-tune runs: plan → run folder → launcher job → progress → a registered model.

One folder per run under `<data dir>/finetune/NAME`:

    run.json          name, method, model, data (path, sha256, format, records), params, versions,
                      launcher, job_name, status, result; rewritten atomically at each change
    config/           what the finetuner reads (train.json, LLaMA-Factory YAML + dataset_info.json)
    data/             the checked set converted for the method
    logs/train.log    the job's stdout + stderr
    trainer_log.jsonl the framework's own step log; progress.jsonl is mapped from it
    checkpoints/ adapter/ merged/ (model.gguf)

The trainer is a job (`lazycli.jobs`, kind finetune, named `finetune-NAME`): submitted through
`jobs.submit` from one `LaunchRequest` (the one --dry-run describes), its status read from its jobs
row, so `lz jobs ls|logs|cancel` work on it too. It outlives `lz`: `kill -9` of lz leaves it
training (a rerun of the same command attaches to it); `kill -9` of the trainer fails the job, and a
rerun (or `lz finetune resume NAME`) submits it again and it continues from its newest checkpoint.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli import contracts, jobs, paths
from lazycli.errors import LzError, unknown
from lazycli.finetune import progress
from lazycli.launchers import Resources, Status

RUN_FILE = "run.json"
LOG_TAIL_LINES = 20
POLL_S = 0.5
_NAME_HELP = "use letters, digits, '.', '_' or '-'"


@dataclass
class FinetuneJob:
    """What a finetuner plugin gets: the base model, the converted data, the params, the folder."""

    name: str
    method: str
    model: str
    base_path: Path
    base_format: str
    template: str | None
    model_type: str
    data_file: Path
    data_format: str
    run_dir: Path
    params: dict[str, Any]
    gpus: int = 0
    env_python: Path | None = None
    cache_dir: Path = field(default_factory=lambda: paths.cache_dir() / "finetune")

    @property
    def config_dir(self) -> Path:
        return self.run_dir / "config"


@dataclass
class Prepared:
    """A finetuner's config files (relative path → text) and its argv; written only when run."""

    files: dict[str, str]
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- runs on disk ----------------------------------------------------------------------------------


def runs_root() -> Path:
    return paths.data_dir() / "finetune"


def run_dir(name: str) -> Path:
    return runs_root() / name


def read_run(name: str) -> dict | None:
    try:
        return json.loads((run_dir(name) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_run(record: dict) -> dict:
    from lazycli.fsutil import atomic_write_text

    record["updated_at"] = time.time()
    atomic_write_text(run_dir(record["name"]) / RUN_FILE, json.dumps(record, indent=2, default=str))
    return record


def require_run(name: str) -> dict:
    record = read_run(name)
    if record is None:
        names = (
            [p.name for p in runs_root().glob("*") if (p / RUN_FILE).exists()] if runs_root().exists() else []
        )
        raise unknown("fine-tune", name, names, hint="`lz finetune ls` lists them")
    return record


def list_runs() -> list[dict]:
    if not runs_root().exists():
        return []
    out = []
    for folder in sorted(runs_root().iterdir()):
        record = read_run(folder.name)
        if record is not None:
            out.append(reconcile(record))
    return out


# --- the finetuner registry -------------------------------------------------------------------------


def finetuners() -> dict:
    from lazycli.plugins import registry

    return registry().all("finetuners")


def finetuner(method: str):
    known = finetuners()
    if method not in known:
        raise unknown(
            "finetune method", method, [*known, "auto"], hint="one of " + ", ".join([*known, "auto"])
        )
    return known[method]


def choose_method(ref, gpus: int) -> tuple[str, str]:
    """`--method auto`: (method, why) from the model type, installed environments and GPUs."""
    from lazycli import envs

    known = finetuners()
    if ref.type == "embed":
        if "flagembedding" in known:
            return "flagembedding", "an embedding model: FlagEmbedding-style contrastive fine-tune"
        raise LzError("no embedding finetuner is installed", hint="`lz plugins` lists finetuners")
    candidates = [m for m in ("llamafactory", "peft") if m in known]
    if gpus > 0 and "collie" in known and (ref.params_b or 0) >= 30:
        return "collie", f"{ref.params_b}B parameters on {gpus} GPU(s): CoLLiE's 3D parallelism"
    ready = [m for m in candidates if known[m].env is not None and envs.is_ready(known[m].env.name)]
    if ready:
        return ready[0], f"{ref.type} model; the {ready[0]} environment is installed"
    if "peft" in candidates:
        return "peft", f"{ref.type} model; no finetuner environment yet: peft is the smallest (1.5 GB)"
    if candidates:
        return candidates[0], f"{ref.type} model"
    raise LzError("no LLM finetuner is installed", hint="`lz plugins` lists finetuners")


# --- params ----------------------------------------------------------------------------------------------


def typed_params(spec, overrides: dict[str, Any], sets: dict[str, str]) -> dict[str, Any]:
    """The method's defaults, then the named flags, then `--set key=value` typed by each default."""
    params = dict(spec.options)
    for key, value in overrides.items():
        if value is not None:
            params[key] = value
    for key, raw in sets.items():
        if key not in spec.options:
            raise unknown(
                f"--set key for method {spec.name}:",
                key,
                spec.options,
                hint="known: " + ", ".join(sorted(spec.options)),
            )
        params[key] = _typed(spec.name, key, raw, spec.options[key])
    return params


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _typed(method: str, key: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low in _TRUE | _FALSE:
                return low in _TRUE
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, list | tuple):
            return [part.strip() for part in raw.split(",") if part.strip()]
        if default is None and raw.lower() in ("none", "null", ""):
            return None
    except ValueError:
        kind = type(default).__name__
        raise LzError(
            f"bad value for --set {key}={raw} ({method})", hint=f"expected {kind}, like {key}={default}"
        ) from None
    return raw


# --- planning ---------------------------------------------------------------------------------------------


@dataclass
class Plan:
    job: FinetuneJob
    spec: Any
    reason: str
    report: Any  # data.DataReport
    prepared: Prepared
    request: jobs.LaunchRequest  # the trainer's job: what --dry-run shows is what start submits
    rows: list[dict]

    @property
    def launcher_name(self) -> str:
        return self.request.launcher

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.job.name,
            "method": self.spec.name,
            "reason": self.reason,
            "model": self.job.model,
            "base_path": str(self.job.base_path),
            "run_dir": str(self.job.run_dir),
            "data": self.report.to_dict(),
            "params": self.job.params,
            "environment": self.spec.env.name if self.spec.env else None,
            "argv": self.prepared.argv,
            "files": self.prepared.files,
            "launcher": self.launcher_name,
            "job_name": self.request.name,
            "launcher_wrapping": jobs.wrapping(self.request),
            "notes": self.prepared.notes,
        }


def plan(
    model: str,
    data_path: str | Path,
    *,
    method: str = "auto",
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
    sets: dict[str, str] | None = None,
    launcher: str | None = None,
    gpus: int = 0,
    force: bool = False,
    show: Callable[[str], None] | None = None,
) -> Plan:
    """Everything the run needs, checked; nothing written (this is what --dry-run prints)."""
    from lazycli import catalog, engines, settings
    from lazycli.catalog import local
    from lazycli.finetune import data

    ref = catalog.resolve(model)
    gpus_here = engines.gpu_count()
    if method == "auto":
        method, reason = choose_method(ref, gpus or gpus_here)
        reason = f"auto: {reason}"
    else:
        reason = "chosen with --method"
    spec = finetuner(method)
    if ref.type not in spec.model_types:
        raise LzError(
            f"method {method} fine-tunes {', '.join(spec.model_types)} models, and {ref.name} is {ref.type}",
            hint="pick another --method, or leave it out (auto)",
        )
    if spec.needs_gpu and (gpus or gpus_here) == 0:
        reason += f" (note: {method} needs GPUs; this machine has none, so only --dry-run works here)"
    params = typed_params(spec, overrides or {}, sets or {})
    report = data.check(
        data_path, accepted=data.CONVERTIBLE[spec.data_target], cutoff_len=params.get("cutoff_len")
    )
    data.require_ok(report, force=force, show=show)
    run_name = name or f"{ref.name.rsplit('/', 1)[-1]}-{method}"
    local.check_model_name(run_name)
    if len(job_name(run_name)) > jobs.NAME_MAX:
        most = jobs.NAME_MAX - len(job_name(""))
        raise LzError(
            f"fine-tune name {run_name!r} is too long", hint=f"pick a --name of at most {most} characters"
        )
    if ref.path is None:
        raise LzError(f"model {ref.name} is not on this machine", hint=f"`lz download {ref.name}` first")
    folder = run_dir(run_name)
    job = FinetuneJob(
        name=run_name,
        method=method,
        model=ref.name,
        base_path=Path(ref.path),
        base_format=ref.format,
        template=ref.template,
        model_type=ref.type,
        data_file=folder / "data" / "train.jsonl",
        data_format=report.format,
        run_dir=folder,
        params=params,
        gpus=gpus,
    )
    if spec.env is not None:
        from lazycli import envs

        job.env_python = envs.python(spec.env.name)
        # Conversions made with the env's libraries (a GGUF base dequantized to HF) live with it.
        job.cache_dir = envs.env_dir(spec.env.name) / "cache"
    if spec.finish is not None:  # refused now, not after the training it would end
        contracts.require(spec, "finish", contracts.FinishFinetune)
    rows = data.convert(report, spec.data_target)
    prepared = contracts.call(spec, "prepare", contracts.PrepareFinetune, job)
    launcher_name = launcher or settings.get().default_launcher
    request = launch_request(run_name, prepared.argv, prepared.env, launcher_name, gpus, folder)
    jobs.check(request)  # an unknown launcher stops here, before anything is written
    return Plan(job, spec, reason, report, prepared, request, rows)


def job_name(run_name: str) -> str:
    """The run's job in `lz jobs` (one per run: a resume replaces the finished one)."""
    return f"finetune-{run_name}"


def launch_request(
    run_name: str, argv: list[str], env: dict[str, str], launcher: str, gpus: int, folder: Path
) -> jobs.LaunchRequest:
    """The trainer's job, from the plan (start, --dry-run) or from run.json (resume): one shape."""
    return jobs.LaunchRequest(
        argv=tuple(argv),
        launcher=launcher,
        name=job_name(run_name),
        resources=Resources(gpus=gpus),
        kind=jobs.Kind.FINETUNE,
        owner=run_name,
        log_path=folder / "logs" / "train.log",
        env=tuple(sorted(env.items())),
    )


# --- running ------------------------------------------------------------------------------------


def start(p: Plan, *, overwrite: bool = False, wait: bool = True, on_progress=None, on_note=None) -> dict:
    """Start (or attach to, or resume) the run `p` describes; with `wait`, return when it ended."""
    note = on_note or (lambda _m: None)
    _check_runnable(p)
    existing = read_run(p.job.name)
    if existing is not None:
        existing = reconcile(existing)
        if run_status(existing).active:
            note(f"fine-tune {p.job.name} is already {existing['status']}: following it")
            return follow(existing, on_progress=on_progress) if wait else existing
        same = (
            existing.get("data", {}).get("sha256") == p.report.sha256
            and existing.get("params") == p.job.params
        )
        if overwrite:
            shutil.rmtree(p.job.run_dir)
        elif run_status(existing) == Status.COMPLETED and same:
            note(f"fine-tune {p.job.name} already completed: nothing to do")
            return existing
        elif not same:
            raise LzError(
                f"fine-tune {p.job.name!r} exists with other data or parameters",
                hint="pass --overwrite to start it over, or pick another --name",
            )
        else:
            note(f"resuming fine-tune {p.job.name} from its last checkpoint")
    _check_result_name(p.job.name, overwrite)
    if p.spec.env is not None:
        _ensure_env(p.spec.env.name, note)
    record = _write_folder(p, existing if existing and not overwrite else None)
    record = _submit(record, p.request)
    return follow(record, on_progress=on_progress) if wait else record


def _check_runnable(p: Plan) -> None:
    """A GPU-only method on a machine without GPUs stops here, before any download or file."""
    from lazycli import engines

    if p.spec.needs_gpu and (p.job.gpus or engines.gpu_count()) == 0:
        raise LzError(
            f"method {p.spec.name} needs CUDA GPUs and this machine has none",
            hint="--dry-run prints its script and argv; run it on a GPU machine (--launcher slurm --gpus N)",
        )
    if p.spec.needs_gpu and p.launcher_name == "local" and engines.gpu_count() == 0:
        raise LzError(f"method {p.spec.name} needs GPUs on this machine", hint="use --launcher slurm")


def run_status(record: dict) -> Status:
    return Status(record["status"])


def _check_result_name(name: str, overwrite: bool) -> None:
    """The result is registered under the run's name: refuse a clash before training, not after."""
    from lazycli.catalog import data as catalog_data
    from lazycli.catalog import local

    if catalog_data.lookup(name) is not None:
        raise LzError(
            f"{name!r} is a catalogue model name", hint="pick another --name for the fine-tuned model"
        )
    row = local.registered(name)
    if row is not None and (row.get("meta") or {}).get("finetune") != name and not overwrite:
        raise LzError(
            f"model {name!r} is already registered", hint="pick another --name, or pass --overwrite"
        )


def _ensure_env(env_name: str, note) -> None:
    from lazycli import envs

    if envs.is_ready(env_name):
        return
    note(f"installing the {env_name} environment (first use; `lz engines ls` shows it)…")
    envs.install(env_name, on_step=lambda i, n, title: note(f"  [{i}/{n}] {title}"))


def _write_folder(p: Plan, previous: dict | None) -> dict:
    from lazycli.finetune import data
    from lazycli.fsutil import atomic_write_text

    job = p.job
    for rel, text in p.prepared.files.items():
        atomic_write_text(job.run_dir / rel, text)
    data.write_jsonl(p.rows, job.data_file)
    (job.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    record = previous or {"name": job.name, "created_at": time.time(), "attempts": 0}
    record.update(
        {
            "method": p.spec.name,
            "reason": p.reason,
            "model": job.model,
            "base_path": str(job.base_path),
            "run_dir": str(job.run_dir),
            "data": {
                "path": str(p.report.path.resolve()),
                "sha256": p.report.sha256,
                "format": p.report.format,
                "records": len(p.report.records),
                "used": len(p.rows),
                "converted": str(job.data_file),
            },
            "params": job.params,
            "environment": p.spec.env.name if p.spec.env else None,
            "versions": _versions(p.spec),
            "argv": p.prepared.argv,
            "env": sorted(p.prepared.env),
            "status": Status.PENDING.value,
            "reason_failed": None,
            "result": None,
        }
    )
    return write_run(record)


def _versions(spec) -> dict[str, str]:
    from lazycli import __version__, envs

    out = {"lazycli": __version__}
    if spec.env is not None:
        out.update((envs.marker(spec.env.name) or {}).get("versions", {}))
    return out


def _submit(record: dict, request: jobs.LaunchRequest) -> dict:
    """Submit the trainer's job; run.json names it (the job's own state lives in its jobs row)."""
    record["attempts"] = record.get("attempts", 0) + 1
    record["launcher"] = request.launcher
    record["gpus"] = request.resources.gpus
    record["log_path"] = str(request.log_path)
    record["submitted_env"] = dict(request.env)
    record["job_name"] = request.name
    record.pop("job", None)  # runs from before jobs kept the launcher's record here
    try:
        jobs.submit(request)
    except BaseException as exc:  # nothing runs: the run says so, instead of staying pending
        reason = exc.message if isinstance(exc, LzError) else f"{type(exc).__name__}: {exc}"
        record.update(status=Status.FAILED.value, reason_failed=f"not submitted: {reason}")
        write_run(record)
        raise
    record["status"] = Status.RUNNING.value
    progress.sync(Path(record["run_dir"]), Status.RUNNING)
    return write_run(record)


def resume(name: str, *, wait: bool = True, on_progress=None, on_note=None) -> dict:
    """Start a failed or cancelled run again with its own config (it continues from its checkpoint)."""
    record = reconcile(require_run(name))
    if record.get("method") == "online":
        from lazycli.finetune import online

        return online.resume(record, wait=wait, on_progress=on_progress, on_note=on_note)
    if run_status(record).active:
        return follow(record, on_progress=on_progress) if wait else record
    if run_status(record) == Status.COMPLETED and record.get("result"):
        (on_note or (lambda _m: None))(f"fine-tune {name} already completed")
        return record
    record["status"] = Status.PENDING.value
    record["reason_failed"] = None
    record = _submit(record, _request_of(record))
    return follow(record, on_progress=on_progress) if wait else record


def cancel(name: str) -> dict:
    record = reconcile(require_run(name))
    if record.get("method") == "online":
        from lazycli.finetune import online

        return online.cancel(record)
    if not run_status(record).active or not record.get("job_name"):
        return record
    jobs.cancel(record["job_name"])  # the same as `lz jobs cancel finetune-NAME`
    return reconcile(record)


def reconcile(record: dict) -> dict:
    """Bring a run's status in line with its job's row; a job that ended well gets its result
    registered (whoever notices first: this process, `lz finetune status`, or `lz jobs` then this)."""
    if record.get("method") == "online":  # a job at a vendor (lazycli.finetune.online)
        from lazycli.finetune import online

        return online.reconcile(record)
    if run_status(record).active and not record.get("job_name") and record.get("job"):
        record = _adopt(record)
    if not run_status(record).active or not record.get("job_name"):
        return record
    try:
        row = jobs.get(record["job_name"])
    except LzError:  # its launcher plugin is gone: nothing can be asked
        return record
    run = Path(record["run_dir"])
    if row is None or row.owner != record["name"]:  # its row is gone (the state database was reset)
        record.update(
            status=Status.FAILED.value, reason_failed=f"its job {record['job_name']} is no longer known"
        )
        progress.sync(run, Status.FAILED)
        return write_run(record)
    if not row.status.finished:
        progress.sync(run, Status.RUNNING)
        return record
    if row.status == Status.COMPLETED:
        try:
            record["result"] = _finish(record)
            record["status"] = Status.COMPLETED.value
        except LzError as exc:
            record.update(status=Status.FAILED.value, reason_failed=exc.message)
    else:
        record.update(status=row.status.value, reason_failed=_why(row))
    progress.sync(run, run_status(record))
    return write_run(record)


def _adopt(record: dict) -> dict:
    """A run started by an lz from before jobs (its launcher's job in run.json): give it its row."""
    from lazycli.launchers import Job

    request = _request_of(record)
    try:
        jobs.adopt(request, Job(**record["job"]))
    except LzError:  # the name is held by another running job: leave the run as it was
        return record
    record["job_name"] = request.name
    record.pop("job")
    return write_run(record)


def _request_of(record: dict) -> jobs.LaunchRequest:
    """The trainer's job as run.json recorded it (to start it again, or to give an old run its row)."""
    return launch_request(record["name"], record.get("argv") or [], record.get("submitted_env") or {},
                          record["launcher"], record.get("gpus", 0), Path(record["run_dir"]))  # fmt: skip


def _why(row: jobs.JobRow) -> str:
    if row.status == Status.CANCELLED:
        return "cancelled"
    if row.exit_code is not None:
        return f"the trainer exited with code {row.exit_code}"
    return row.reason or f"its job {row.name} ended {row.status.value}"


def _finish(record: dict) -> dict:
    """Register the run's model under its name (`lz chat NAME` / `lz deploy NAME` then serve it)."""
    from lazycli import catalog
    from lazycli.catalog import local

    spec = finetuner(record["method"])
    if spec.finish is None:
        raise LzError(f"method {record['method']} produced no model", hint="see `lz finetune logs`")
    result = contracts.call(spec, "finish", contracts.FinishFinetune, Path(record["run_dir"]), record)
    ref = catalog.resolve(record["model"])
    catalog.register_local(
        record["name"],
        result["path"],
        type=result.get("type", ref.type),
        template=ref.template,
        params_b=ref.params_b,
        context_length=ref.context_length,
        base=record["model"],
        replace=True,
    )
    row = local.registered(record["name"])
    if row is not None:  # mark it as this run's, so a later run of the same name may replace it
        row["meta"] = {**(row.get("meta") or {}), "finetune": record["name"]}
        local.register(row)
    return {"model": record["name"], **result}


def follow(record: dict, *, on_progress=None, poll: float = POLL_S) -> dict:
    """Wait for the run to end, reporting progress rows; its final record (raises on failure)."""
    if record.get("method") == "online":
        from lazycli.finetune import online

        return online.follow(record, on_progress=on_progress)
    name = record["name"]
    last_step = -1
    while True:
        record = reconcile(record)
        row = progress.latest(Path(record["run_dir"]))
        if on_progress and row is not None and row.step != last_step:
            on_progress(row, record)
            last_step = row.step
        if not run_status(record).active:
            break
        time.sleep(poll)
        record = read_run(name) or record
    if run_status(record) != Status.COMPLETED:
        from lazycli.launchers import tail_text

        tail = tail_text(record.get("log_path"), LOG_TAIL_LINES).rstrip()
        raise LzError(
            f"fine-tune {name!r} {record['status']}: {record.get('reason_failed') or 'see its log'}"
            + (
                f"\n--- last lines of {record.get('log_path')} ---\n{tail}\n--- end of log ---"
                if tail
                else ""
            ),
            hint=f"`lz finetune resume {name}` continues from the last checkpoint; `lz finetune logs {name}`",
        )
    return record


def status_of(name: str) -> dict:
    record = reconcile(require_run(name))
    status = run_status(record)
    rows = progress.sync(Path(record["run_dir"]), Status.RUNNING if status.active else status)
    record["progress"] = rows[-1].to_dict() if rows else None
    return record


def as_json(record: dict) -> dict:
    """A run as `lz finetune ... --json` prints it: its record, with its job's row when it has one."""
    return {**record, "job": job_of(record)} if record.get("job_name") else record


def job_of(record: dict) -> dict | None:
    """The run's job as `lz jobs status` shows it (None for a vendor's or a never-submitted run)."""
    row = jobs.get(record["job_name"], refresh=False) if record.get("job_name") else None
    return row.as_dict() if row is not None else None


def is_finished(record: dict) -> bool:
    return run_status(record).finished
