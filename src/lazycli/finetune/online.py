"""Online fine-tuning: `lz finetune PROVIDER:MODEL --data FILE` for providers whose record carries an
`OnlineTuner` (openai, qwen, glm, sensenova).

A run lives in the same folder and `run.json` as a local run (`lz finetune ls|status|logs|cancel`
read it), with `method: "online"` and an `online` block holding what the vendor gave back: file id,
dataset id, job id, vendor status, fine-tuned model, deployment. Each id is written to run.json the
moment it is known, before the next request, so a later `lz finetune status|attach NAME` (another
shell, hours later) carries on from there and a rerun never uploads or creates twice:

    check data → upload (retried) → [dataset] → create (sent once; an unanswered create is looked up
    by the run's token before another is sent) → poll with backoff: job state + events →
    progress.jsonl / logs/train.log → [deploy] → the model registered under --name as online.

Vendor events become `trainer_log.jsonl` rows (step, total, loss, lr), so `progress.jsonl` has the
schema a local run has; job states map to pending, running, completed, failed, cancelled, and the
vendor's own state is kept beside them (`online.vendor_status`).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.finetune import progress, runs
from lazycli.finetune.online_vendor import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    JobEvent,
    JobView,
    OnlineTuner,
)
from lazycli.finetune.online_wire import WireError, WireRequest, describe, render, send

METHOD = "online"
ACTIVE = (PENDING, RUNNING)
POLL_ENV = "LAZYCLI_FINETUNE_POLL_S"  # first poll interval; tests make it tiny
DEFAULT_POLL_S = 10.0
MAX_POLL_S = 60.0
CREATE_TRIES = 3
SEEN_EVENTS_KEPT = 1000
UPLOAD_NAME = "train.jsonl"


# --- which models are online ------------------------------------------------------------------------


def _providers() -> dict:
    from lazycli.plugins import registry

    return registry().all("providers")


def split_target(model: str) -> tuple[Any, str] | None:
    """(provider spec, vendor model) for `provider:model` when that provider fine-tunes online."""
    provider, colon, vendor_model = model.partition(":")
    if not colon:
        return None
    spec = _providers().get(provider)
    if spec is None:
        return None
    if getattr(spec, "finetune", None) is None:
        able = sorted(n for n, s in _providers().items() if getattr(s, "finetune", None) is not None)
        raise LzError(
            f"provider {provider!r} offers no online fine-tuning",
            hint="providers that do: " + ", ".join(able) + "; or fine-tune a local model",
        )
    if not vendor_model:
        raise LzError(
            f"no model given for {provider}", hint=f"use {provider}:MODEL, e.g. {spec.default_model}"
        )
    return spec, vendor_model


def is_online(model: str) -> bool:
    return split_target(model) is not None


def is_online_record(record: dict) -> bool:
    return record.get("method") == METHOD


# --- the provider's endpoint -------------------------------------------------------------------------


def endpoint(spec, *, need_key: bool = True, announce=None):
    """The provider's client (key, base URL incl. LAZYCLI_<NAME>_BASE_URL, error codes)."""
    from lazycli.providers import base_url_env, compat_factory, connect, key_for

    if need_key:
        return connect(spec, announce=announce)
    key, source = key_for(spec)
    base_url = os.environ.get(base_url_env(spec.name)) or spec.base_url
    factory = spec.client_factory or compat_factory()
    return factory(spec, base_url=base_url, api_key=key, key_source=source, announce=announce)


def key_hint(spec) -> str:
    from lazycli.keys import env_var_for

    names = list(dict.fromkeys((env_var_for(spec.name), *spec.key_env_vars)))
    return f"no key: set {' or '.join(names)}"


# --- planning ---------------------------------------------------------------------------------------------


@dataclass
class OnlinePlan:
    name: str
    spec: Any
    tuner: OnlineTuner
    base_model: str
    prepared: Any  # online_data.Prepared
    params: dict[str, Any]
    notes: list[str]

    @property
    def model(self) -> str:
        return f"{self.spec.name}:{self.base_model}"

    def requests(self) -> list[tuple[str, WireRequest]]:
        """Every request a run sends up to the job, ids it learns on the way shown as <…>."""
        tuner = self.tuner
        out = [("upload", tuner.upload(UPLOAD_NAME, self.prepared.content))]
        training = "<file id>"
        prepare = tuner.prepare(training)
        if prepare is not None:
            out.append(("dataset", prepare))
            training = "<dataset id>"
        out.append(("create", tuner.create(self.base_model, training, self.params, "<run token>", self.name)))
        return out

    def describe(self) -> dict:
        point = endpoint(self.spec, need_key=False)
        report = self.prepared.report
        return {
            "name": self.name,
            "method": METHOD,
            "provider": self.spec.name,
            "model": self.model,
            "run_dir": str(runs.run_dir(self.name)),
            "data": {**report.to_dict(), "examples": self.prepared.examples},
            "params": self.params,
            "requests": [{"step": step, **describe(point, r)} for step, r in self.requests()],
            "notes": self.notes,
        }

    def render(self) -> str:
        point = endpoint(self.spec, need_key=False)
        report = self.prepared.report
        lines = [
            f"{'name':>9}: {self.name}",
            f"{'method':>9}: online ({self.spec.name})",
            f"{'model':>9}: {self.model}",
            f"{'data':>9}: {report.path} ({report.format} → {self.spec.name} format, "
            f"{self.prepared.examples} examples)",
            f"{'params':>9}: "
            + (", ".join(f"{k}={v}" for k, v in self.params.items()) or "(vendor defaults)"),
            f"{'run dir':>9}: {runs.run_dir(self.name)}",
        ]
        for step, request in self.requests():
            lines.append(f"--- {step} ---")
            lines.append(render(point, request, key_hint=key_hint(self.spec)))
        after = "poll the job until it ends, then register the model"
        lines.append(f"--- then: {after}{' (after deploying it)' if self.tuner.needs_deploy else ''} ---")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def typed_params(tuner: OnlineTuner, overrides: dict[str, Any], sets: dict[str, str]) -> dict[str, Any]:
    """Named flags (--epochs, --lr, --batch-size, --lora-rank) mapped to the vendor's own names, then
    `--set key=value` typed by the vendor's declared type."""
    params: dict[str, Any] = {h.wire: h.default for h in tuner.hyper if h.default is not None}
    params.update({k: v for k, v in tuner.options.items() if v not in (None, "", 0)})
    by_flag = {h.flag: h for h in tuner.hyper if h.flag}
    for flag, value in overrides.items():
        if value is None:
            continue
        hp = by_flag.get(flag)
        if hp is None:
            known = ", ".join("--" + f.replace("_", "-") for f in by_flag) or "none"
            raise LzError(
                f"{tuner.provider} fine-tuning takes no --{flag.replace('_', '-')}",
                hint=f"its flags: {known}; other parameters with --set",
            )
        params[hp.wire] = _cast(tuner.provider, hp.wire, value, hp.type)
    known_keys = {h.wire: h.type for h in tuner.hyper}
    known_keys.update({k: type(v) for k, v in tuner.options.items()})
    for key, raw in sets.items():
        if key not in known_keys:
            from lazycli.errors import unknown

            raise unknown(
                f"--set key for {tuner.provider} fine-tuning:", key, known_keys,
                hint="known: " + ", ".join(sorted(known_keys)),
            )  # fmt: skip
        params[key] = _cast(tuner.provider, key, raw, known_keys[key])
    return params


def _cast(provider: str, key: str, value: Any, kind: type) -> Any:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        if kind is bool:
            return (
                value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            )
        if kind is int:
            number = float(value)
            if number != int(number):
                raise ValueError(value)
            return int(number)
        if kind is float:
            return float(value)
    except (TypeError, ValueError):
        raise LzError(
            f"bad value for {key}={value} ({provider})", hint=f"expected {kind.__name__} or auto"
        ) from None
    return str(value)


def plan(
    model: str,
    data_path: str | Path,
    *,
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
    sets: dict[str, str] | None = None,
    force: bool = False,
    show: Callable[[str], None] | None = None,
) -> OnlinePlan:
    """Everything an online run needs, checked; nothing sent, nothing written."""
    from lazycli.catalog import local
    from lazycli.finetune import online_data

    target = split_target(model)
    if target is None:
        raise LzError(f"{model!r} is not provider:model", hint="e.g. openai:gpt-4o-mini")
    spec, base_model = target
    tuner: OnlineTuner = spec.finetune
    params = typed_params(tuner, overrides or {}, sets or {})
    prepared = online_data.check(data_path, tuner.rules, force=force, show=show, vendor=spec.name)
    run_name = name or f"{base_model.replace(':', '-').replace('/', '-')}-ft"
    local.check_model_name(run_name)
    notes = []
    if tuner.trainable and base_model not in tuner.trainable:
        notes.append(
            f"{spec.name} lists {', '.join(tuner.trainable)} as trainable; {base_model} may be refused"
        )
    return OnlinePlan(run_name, spec, tuner, base_model, prepared, params, notes)


# --- starting ----------------------------------------------------------------------------------------------


def start(
    p: OnlinePlan, *, overwrite: bool = False, wait: bool = True, on_progress=None, on_note=None
) -> dict:
    """Upload, create and (with `wait`) follow the job; a rerun picks up the ids already in run.json."""
    note = on_note or (lambda _m: None)
    point = endpoint(p.spec, announce=note)  # no key: stop here, before anything is written or sent
    existing = runs.read_run(p.name)
    if existing is not None:
        same = (
            existing.get("data", {}).get("sha256") == p.prepared.report.sha256
            and existing.get("params") == p.params
            and existing.get("model") == p.model
        )
        if overwrite:
            import shutil

            shutil.rmtree(runs.run_dir(p.name))
            existing = None
        elif not same:
            raise LzError(
                f"fine-tune {p.name!r} exists with other data, model or parameters",
                hint="pass --overwrite to start it over, or pick another --name",
            )
        elif existing["status"] == COMPLETED and existing.get("result"):
            note(f"fine-tune {p.name} already completed: nothing to do")
            return existing
        elif existing["status"] in ACTIVE and (existing.get("online") or {}).get("job_id"):
            note(f"fine-tune {p.name} is already {existing['status']}: following it")
            return follow(existing, on_progress=on_progress, on_note=note) if wait else existing
    runs._check_result_name(p.name, overwrite)
    record = existing if existing is not None and existing["status"] in ACTIVE else _new_record(p, existing)
    record = submit(record, p.tuner, point, note)
    return follow(record, on_progress=on_progress, on_note=note) if wait else record


def _new_record(p: OnlinePlan, previous: dict | None) -> dict:
    """run.json for a new job (a failed or cancelled run keeps its uploaded file: no second upload)."""
    from lazycli import __version__
    from lazycli.fsutil import atomic_write_text

    folder = runs.run_dir(p.name)
    data_file = folder / "data" / UPLOAD_NAME
    atomic_write_text(data_file, p.prepared.content.decode("utf-8"))
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    old = (previous or {}).get("online") or {}
    report = p.prepared.report
    record = {
        "name": p.name,
        "created_at": (previous or {}).get("created_at", time.time()),
        "attempts": (previous or {}).get("attempts", 0),
        "method": METHOD,
        "reason": f"online fine-tune at {p.spec.name}",
        "provider": p.spec.name,
        "model": p.model,
        "base_model": p.base_model,
        "run_dir": str(folder),
        "log_path": str(folder / "logs" / "train.log"),
        "data": {
            "path": str(report.path.resolve()),
            "sha256": report.sha256,
            "format": report.format,
            "records": len(report.records),
            "used": p.prepared.examples,
            "converted": str(data_file),
        },
        "params": p.params,
        "versions": {"lazycli": __version__},
        "status": PENDING,
        "reason_failed": None,
        "result": None,
        "online": {
            "token": uuid.uuid4().hex,  # names this job at the vendor (metadata / request_id)
            "file_id": old.get("file_id"),
            "prepared_id": old.get("prepared_id"),
            "job_id": None,
            "create_sent": False,
            "vendor_status": None,
            "fine_tuned_model": None,
            "deployment_id": None,
            "served_model": None,
            "events_seen": [],
            "event_cursor": None,
            "jobs": [*old.get("jobs", []), *([old["job_id"]] if old.get("job_id") else [])],
        },
    }
    return runs.write_run(record)


def submit(record: dict, tuner: OnlineTuner, point, note) -> dict:
    """Upload, dataset, create: each step skipped when its id is already in run.json."""
    online = record["online"]
    record["attempts"] = record.get("attempts", 0) + 1
    if not online.get("file_id"):
        content = Path(record["data"]["converted"]).read_bytes()
        note(f"uploading {len(content)} bytes to {point.name}…")
        answer = send(point, tuner.upload(UPLOAD_NAME, content), announce=note)
        online["file_id"] = tuner.file_id(answer.body)
        _log(record, f"uploaded the training file: {online['file_id']}")
        runs.write_run(record)
    training = online.get("prepared_id") or online["file_id"]
    prepare = tuner.prepare(online["file_id"]) if not online.get("prepared_id") else None
    if prepare is not None:
        answer = send(point, prepare, announce=note)
        prepared_id, ready = tuner.prepared_id(answer.body)
        _wait_prepared(point, tuner, prepared_id, ready, note)
        online["prepared_id"] = training = prepared_id
        _log(record, f"dataset {prepared_id} is ready")
        runs.write_run(record)
    if not online.get("job_id"):
        online["job_id"] = _create(record, tuner, point, training, note)
        _log(record, f"created job {online['job_id']}")
    record["status"] = PENDING
    progress.sync(Path(record["run_dir"]), PENDING)
    return runs.write_run(record)


def _wait_prepared(point, tuner: OnlineTuner, prepared_id: str, ready: bool, note) -> None:
    interval = poll_interval()
    while not ready:
        time.sleep(interval)
        interval = min(MAX_POLL_S, interval * 1.5)
        answer = send(point, tuner.prepared_status(prepared_id), announce=note)
        _id, ready = tuner.prepared_id(answer.body)


def _create(record: dict, tuner: OnlineTuner, point, training: str, note) -> str:
    """Create the job exactly once: before any resend, ask the vendor whether the last one landed."""
    from lazycli.providers import ProviderError, backoff_delay

    online = record["online"]
    request = tuner.create(record["base_model"], training, record["params"], online["token"], record["name"])
    for attempt in range(CREATE_TRIES):
        if online.get("create_sent"):
            found = _find(record, tuner, point, training, note)
            if found:
                note(f"found the job an earlier, unanswered request created: {found}")
                return found
        online["create_sent"] = True
        runs.write_run(record)  # on disk before the request: a kill after it still knows to look
        try:
            answer = send(point, request, announce=note)
        except WireError as exc:
            lost = str(exc)
        except ProviderError as exc:
            if exc.kind not in ("server", "rate_limit") or attempt == CREATE_TRIES - 1:
                raise
            lost = exc.message
        else:
            return tuner.created_id(answer.body)
        note(f"{lost}; checking whether the job was created before trying again")
        time.sleep(backoff_delay(attempt))
    raise LzError(
        f"{point.name}: could not create the fine-tuning job after {CREATE_TRIES} tries",
        hint="rerun the same command later: it looks the job up before creating one",
    )


def _find(record: dict, tuner: OnlineTuner, point, training: str, note) -> str | None:
    online = record["online"]
    request = tuner.find(online["token"], training)
    if request is None:
        raise LzError(
            f"{point.name}: an earlier request to create job {record['name']!r} got no answer, and "
            f"{point.name} offers no way to look it up, so lz does not send it again (no duplicate job)",
            hint=f"check the {point.name} console; `lz finetune cancel {record['name']}`, then start it "
            "with --overwrite to create a new one",
        )
    answer = send(point, request, announce=note)
    earlier = set(online.get("jobs") or [])  # jobs of this run's past attempts are not this create's
    fresh = [j for j in tuner.found(answer.body, online["token"], training) if j not in earlier]
    return fresh[0] if fresh else None


# --- following ------------------------------------------------------------------------------------------


def poll_interval() -> float:
    try:
        return max(0.0, float(os.environ.get(POLL_ENV, DEFAULT_POLL_S)))
    except ValueError:
        return DEFAULT_POLL_S


def reconcile(record: dict, *, strict: bool = False) -> dict:
    """One look at the vendor: job state, new events, deployment; registers the model when done.

    Not strict (`lz finetune ls`): a vendor that cannot be reached leaves the record as it was.
    """
    online = record.get("online") or {}
    if record["status"] not in ACTIVE or not online.get("job_id"):
        return record
    try:
        spec, _model = split_target(record["model"]) or (None, None)
        point = endpoint(spec)
        return _poll(record, spec.finetune, point)
    except LzError as exc:
        if strict:
            raise
        record["poll_error"] = str(exc)
        return record


def _poll(record: dict, tuner: OnlineTuner, point) -> dict:
    online = record["online"]
    view = tuner.view(send(point, tuner.get(online["job_id"])).body)
    _read_events(record, tuner, point)
    if view.vendor_status != online.get("vendor_status"):
        _log(record, f"job {view.job_id or online['job_id']}: {view.vendor_status}")
    online.update(vendor_status=view.vendor_status, trained_tokens=view.trained_tokens)
    record.pop("poll_error", None)
    if view.status == COMPLETED:
        online["fine_tuned_model"] = view.model_id
        served = _serve(record, tuner, point, view)
        if served is None:
            record["status"] = RUNNING  # trained, not served yet
        else:
            record["result"] = register(record, served)
            record["status"] = COMPLETED
            _log(record, f"registered {record['name']} → {record['provider']}:{served}")
    elif view.status in (FAILED, CANCELLED):
        record["status"] = view.status
        record["reason_failed"] = _failure(view, point)
    else:
        record["status"] = view.status
    progress.sync(Path(record["run_dir"]), record["status"])
    return runs.write_run(record)


def _failure(view: JobView, point) -> str:
    if view.status == CANCELLED:
        return "cancelled"
    text = view.error or f"the job ended as {view.vendor_status}"
    return point.redact(text)


def _serve(record: dict, tuner: OnlineTuner, point, view: JobView) -> str | None:
    """The chat model name of a finished job; for vendors that serve after a deployment, start it
    (once: its id goes to run.json) and report None until it runs."""
    if not view.model_id:
        raise LzError(
            f"{point.name}: job {view.job_id} succeeded without a model id", hint="see `lz finetune logs`"
        )
    online = record["online"]
    request = tuner.deploy(view.model_id, record["params"])
    if request is None:
        return view.model_id
    if not online.get("deployment_id"):
        deployment_id, served = tuner.deployed(send(point, request).body, view.model_id)
        online.update(deployment_id=deployment_id, served_model=served)
        _log(record, f"deploying {view.model_id} as {served} ({deployment_id})")
        runs.write_run(record)
    ready, failed = tuner.deployment_ready(send(point, tuner.deployment(online["deployment_id"])).body)
    if failed:
        raise LzError(
            f"{point.name}: deployment {online['deployment_id']} failed: {point.redact(failed)}",
            hint=f"the model {view.model_id} is trained; deploy it in the {point.name} console",
        )
    return online["served_model"] if ready else None


def _read_events(record: dict, tuner: OnlineTuner, point) -> None:
    online = record["online"]
    request = tuner.events(online["job_id"], online.get("event_cursor"))
    if request is None:
        return
    page = tuner.parse_events(send(point, request).body, online.get("event_cursor"))
    seen = set(online.get("events_seen") or [])
    fresh = [e for e in page.events if e.id not in seen]
    for event in fresh:
        # A vendor message may echo what it was sent: the key never reaches the log.
        _log(record, point.redact(event.message), level=event.level, when=event.created_at)
        if event.step is not None:
            _metric(record, event)
    online["events_seen"] = [*online.get("events_seen", []), *(e.id for e in fresh)][-SEEN_EVENTS_KEPT:]
    online["event_cursor"] = page.cursor


def _metric(record: dict, event: JobEvent) -> None:
    """A vendor metric as a trainer_log.jsonl row, the log every local finetuner writes."""
    row = {"current_steps": event.step, "total_steps": event.total, "loss": event.loss, "lr": event.lr}
    if event.eta is not None:
        row["remaining_s"] = event.eta
    path = Path(record["run_dir"]) / progress.TRAINER_LOG
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def _log(record: dict, message: str, *, level: str = "info", when: float | None = None) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when or time.time()))
    path = Path(record["log_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{stamp} {level:<5} {message}\n")


def follow(record: dict, *, on_progress=None, on_note=None) -> dict:
    """Poll until the job ends (the interval grows ×1.5 to 60 s while nothing changes); the final
    record, or an LzError with the vendor's reason when it failed or was cancelled."""
    from lazycli.providers import ProviderError

    note = on_note or (lambda _m: None)
    if record["status"] in ACTIVE and not (record.get("online") or {}).get("job_id"):
        raise LzError(
            f"fine-tune {record['name']!r} stopped before its job was created at {record['provider']}",
            hint=f"`lz finetune resume {record['name']}` uploads what is missing and creates it",
        )
    base = poll_interval()
    interval = base
    last: tuple = ()
    misses = 0
    while True:
        try:
            record = reconcile(record, strict=True)
            misses = 0
        except (WireError, ProviderError) as exc:
            kind = getattr(exc, "kind", "connection")
            misses += 1
            if kind not in ("connection", "timeout", "server", "rate_limit") or misses > 5:
                raise
            note(f"{exc.message}; trying again")
        row = progress.latest(Path(record["run_dir"]))
        state = (record["status"], (record.get("online") or {}).get("vendor_status"), row.step if row else -1)
        if state != last:
            if on_progress and row is not None:
                on_progress(row, record)
            interval = base  # something moved: look again soon
            last = state
        if record["status"] not in ACTIVE:
            break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            raise LzError(
                f"stopped following {record['name']!r}; the job goes on at {record['provider']}",
                hint=f"`lz finetune attach {record['name']}` follows it again; "
                f"`lz finetune cancel {record['name']}` stops it",
            ) from None
        interval = min(MAX_POLL_S, max(interval * 1.5, 0.001))
        record = runs.read_run(record["name"]) or record
    if record["status"] != COMPLETED:
        why = record.get("reason_failed") or "see its log"
        raise LzError(
            f"fine-tune {record['name']!r} {record['status']}: {why}",
            hint=f"`lz finetune logs {record['name']}`; fix the cause and run the same command again",
        )
    return record


# --- cancel / resume -------------------------------------------------------------------------------------


def cancel(record: dict) -> dict:
    online = record.get("online") or {}
    if record["status"] not in ACTIVE or not online.get("job_id"):
        return record
    spec, _model = split_target(record["model"])
    point = endpoint(spec)
    send(point, spec.finetune.cancel(online["job_id"]))
    _log(record, f"cancel requested for job {online['job_id']}")
    record = reconcile(record, strict=True)
    if record["status"] in ACTIVE:  # the vendor stops it in a while (CANCELING): it is on its way
        record.update(status=CANCELLED, reason_failed="cancelled")
        progress.sync(Path(record["run_dir"]), CANCELLED)
        record = runs.write_run(record)
    return record


def resume(record: dict, *, wait: bool = True, on_progress=None, on_note=None) -> dict:
    """A failed or cancelled online run gets a new job on the file already uploaded."""
    note = on_note or (lambda _m: None)
    if record["status"] in ACTIVE and not record["online"].get("job_id"):  # stopped mid-way: go on
        spec, _model = split_target(record["model"])
        record = submit(record, spec.finetune, endpoint(spec, announce=note), note)
    if record["status"] in ACTIVE:
        return follow(record, on_progress=on_progress, on_note=note) if wait else record
    if record["status"] == COMPLETED and record.get("result"):
        note(f"fine-tune {record['name']} already completed")
        return record
    spec, _model = split_target(record["model"])
    point = endpoint(spec, announce=note)
    fresh = _renew(record)
    fresh = submit(fresh, spec.finetune, point, note)
    return follow(fresh, on_progress=on_progress, on_note=note) if wait else fresh


def _renew(record: dict) -> dict:
    old = record["online"]
    record["online"] = {
        **old,
        "token": uuid.uuid4().hex,
        "job_id": None,
        "create_sent": False,
        "vendor_status": None,
        "fine_tuned_model": None,
        "deployment_id": None,
        "served_model": None,
        "jobs": [*old.get("jobs", []), *([old["job_id"]] if old.get("job_id") else [])],
    }
    record.update(status=PENDING, reason_failed=None, result=None)
    return runs.write_run(record)


# --- the result ------------------------------------------------------------------------------------------


def register(record: dict, served: str) -> dict:
    """The model under the run's name, online at its provider: `lz chat NAME` reaches it there."""
    from lazycli.catalog import local

    target = f"{record['provider']}:{served}"
    local.register(
        {
            "name": record["name"],
            "path": target,
            "type": "llm",
            "format": "online",
            "base": record["model"],
            "meta": {
                "finetune": record["name"],
                "provider": record["provider"],
                "provider_model": served,
                "job_id": record["online"]["job_id"],
            },
        }
    )
    return {"model": record["name"], "format": "online", "path": target, "provider": record["provider"]}


def online_model(name: str) -> tuple[str, str] | None:
    """(provider, vendor model) when NAME is a registered online model."""
    from lazycli.catalog import local

    try:
        row = local.registered(name)
    except Exception:  # resolving a target must not fail on a state problem here
        return None
    if not row or row.get("format") != "online":
        return None
    meta = row.get("meta") or {}
    provider, _, served = str(row["path"]).partition(":")
    return meta.get("provider") or provider, meta.get("provider_model") or served
