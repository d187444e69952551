"""Plan and run a recipe's resources: models (deploy or reuse), indexes (incremental), steps.

Order: references decide (a value using `${models.llm.url}` runs after models.llm); otherwise
models, then indexes, then steps, as written. What is already up is reused (a healthy deployment
of the same model, or of the pinned name); indexes are rebuilt incrementally, so an unchanged
folder costs little. If anything fails, the deployments this run started are stopped again.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lazycli.console import note
from lazycli.errors import LzError
from lazycli.recipes import loader, schema
from lazycli.recipes.loader import LoadedRecipe
from lazycli.recipes.refs import resolve_refs


class FieldError(LzError):
    """A user error about one field of the resource being run (the message points at its line)."""

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


@dataclass
class Action:
    """One line of the plan."""

    id: str  # models.llm | indexes.kb | steps.0
    action: str  # deploy | reuse | provider | url | local | index | download | run
    detail: str
    command: list[str] | None = None  # the equivalent `lz …` command line
    argv: list[str] | None = None  # the process it starts (engine argv), when known
    launcher: str | None = None
    depends_on: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [])}


# --- planning -----------------------------------------------------------------------------------


def plan(loaded: LoadedRecipe, *, probe_deploys: bool = True) -> list[Action]:
    """What `lz run` would do, in order, without starting anything."""
    order = loader.check_references(loaded)
    deps = loader.dependencies(loaded)
    actions = []
    for rid in order:
        action = _plan_one(loaded, rid, probe_deploys=probe_deploys)
        action.depends_on = sorted({target for target, _ in deps[rid]})
        actions.append(action)
    return actions


def _plan_one(loaded: LoadedRecipe, rid: str, *, probe_deploys: bool) -> Action:
    kind, key = rid.split(".", 1)
    if kind == "models":
        return _plan_model(rid, loaded.spec.models[key], probe=probe_deploys)
    if kind == "indexes":
        spec = loaded.spec.indexes[key]
        name = spec.name or key
        paths = [str(_abs(loaded, p)) for p in spec.paths]
        return Action(
            rid,
            "index",
            f"index {', '.join(paths)} as {name!r} (incremental: unchanged files skipped)",
            command=_index_command(name, paths, spec),
        )
    index = int(loader.resource_loc(rid, loaded.spec)[1])
    step = loaded.spec.steps[index]
    command = ["lz", *_step_words(step)]
    return Action(
        rid,
        step.verb if step.verb in ("download", "index", "deploy") else "run",
        " ".join(command),
        command=command,
    )


def _plan_model(rid: str, spec: schema.ModelSpec, *, probe: bool) -> Action:
    if spec.provider:
        return Action(rid, "provider", f"call {spec.provider}:{spec.model} (nothing deployed)")
    if spec.url:
        return Action(rid, "url", f"use the server at {spec.url} (nothing deployed)")
    if not spec.deploy:
        return Action(
            rid,
            "local",
            f"make sure {spec.model} is on disk (lz download {spec.model})",
            command=["lz", "download", spec.model],
        )
    command = deploy_command(spec)
    running = _running(spec) if probe else None
    if running:
        return Action(
            rid,
            "reuse",
            f"reuse deployment {running.name!r} at {running.url}",
            command=command,
            launcher=running.launcher,
        )
    action = Action(rid, "deploy", f"deploy {spec.model}", command=command)
    if probe and "${" not in " ".join(command):
        dry = _deploy_description(spec)
        action.argv = dry.get("argv")
        action.launcher = dry.get("launcher") or spec.launcher
        if dry.get("engine"):
            action.detail += f" with {dry['engine']}"
    return action


def deploy_command(spec: schema.ModelSpec) -> list[str]:
    """The `lz deploy` command line equivalent to the model table: its request's own words (one
    record, so the plan shown and the deployment started cannot drift), plus how long to wait."""
    words = _deploy_request(spec).command()
    if spec.timeout is not None:
        cut = words.index("--") if "--" in words else len(words)
        words[cut:cut] = ["--timeout", str(spec.timeout)]
    return words


def _deploy_description(spec: schema.ModelSpec) -> dict[str, Any]:
    """The deploy verb's own dry run: the engine it picks, the exact argv and the launcher."""
    return _deployments().plan(_deploy_request(spec)).describe()


def _deploy_request(spec: schema.ModelSpec):
    """What a model table says about its deployment: the record the dry run and the real deploy share."""
    return _deployments().DeployRequest(
        spec.model, engine=spec.engine, launcher=spec.launcher, name=spec.name, port=spec.port,
        gpus=spec.gpus, options=dict(spec.options),
    )  # fmt: skip


def _running(spec: schema.ModelSpec):
    """The running deployment a model table names (checked now with its launcher), else None."""
    from lazycli.launchers import Status

    deployments = _deployments()
    if spec.name:
        row = deployments.get(spec.name, refresh=True)
        return row if row and row.status is Status.RUNNING else None
    return deployments.find_running(spec.model)


def _deployments():
    from lazycli import deployments  # imported when a model is deployed, not for every recipe

    return deployments


def _abs(loaded: LoadedRecipe, path: str) -> Path:
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else (loaded.folder / p).resolve()


def _index_command(name: str, paths: list[str], spec: schema.IndexSpec) -> list[str]:
    words = ["lz", "index", *paths, "--name", name]
    if spec.embed:
        words += ["--embed", spec.embed]
    for group in spec.groups or ():
        words += ["--group", group]
    for pattern in spec.include:
        words += ["--include", pattern]
    for pattern in spec.exclude:
        words += ["--exclude", pattern]
    return words


def _step_words(step: schema.StepSpec) -> list[str]:
    words = [] if step.verb == "lz" else [step.verb]
    positional = step.args.get("_", [])
    words += [str(p) for p in (positional if isinstance(positional, list) else [positional])]
    for key, value in step.args.items():
        if key == "_":
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, str(value)]
    return words + list(step.argv)


# --- running ------------------------------------------------------------------------------------


@dataclass
class Run:
    """The results of a run so far, and what it started (stopped again on failure)."""

    loaded: LoadedRecipe
    results: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"models": {}, "indexes": {}, "steps": {}}
    )
    started: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)

    def stop_started(self) -> None:
        if not self.started:
            return
        deployments = _deployments()
        for name in reversed(self.started):
            note(f"stopping deployment {name!r} (started by this run)")
            try:
                deployments.stop(name)
            except Exception as exc:  # keep stopping the others; say what was left
                note(f"could not stop {name!r}: {exc}")
        self.started.clear()


def execute(loaded: LoadedRecipe, *, progress: bool = True) -> Run:
    """Run every resource in plan order; on failure stop what this run started and re-raise."""
    run = Run(loaded)
    try:
        for rid in loader.check_references(loaded):
            kind, key = rid.split(".", 1)
            result = _execute_one(run, rid, progress=progress)
            run.results[kind][key] = result
            run.log.append({"id": rid, **{k: v for k, v in result.items() if k != "stdout"}})
    except BaseException:
        run.stop_started()
        raise
    return run


def _execute_one(run: Run, rid: str, *, progress: bool) -> dict[str, Any]:
    loaded = run.loaded
    kind, key = rid.split(".", 1)
    loc = loader.resource_loc(rid, loaded.spec)
    try:
        raw = resolve_refs(loader.value_at(loaded.raw, loc), run.results)
        if kind == "models":
            return _run_model(run, key, schema.ModelSpec.model_validate(raw))
        if kind == "indexes":
            return _run_index(loaded, key, schema.IndexSpec.model_validate(raw), progress=progress)
        return _run_step(run, schema.StepSpec.model_validate(raw), progress=progress)
    except LzError as exc:
        if exc.message.startswith(str(loaded.path)):
            raise
        field_loc = loc + (exc.field,) if isinstance(exc, FieldError) else loc
        raise LzError(f"{loaded.where(field_loc)}: {rid}: {exc.message}", hint=exc.hint) from None


def _run_model(run: Run, key: str, spec: schema.ModelSpec) -> dict[str, Any]:
    if spec.provider:
        return _provider_result(spec)
    if spec.url:  # served elsewhere (a cluster Service, a shared server): talk to it as it is
        return {"target": spec.url, "model": spec.model, "url": spec.url, "reused": True}
    if not spec.deploy:
        from lazycli import catalog

        path = catalog.ensure_local(spec.model)
        note(f"models.{key}: {spec.model} is at {path}")
        return {"target": spec.model, "model": spec.model, "path": str(path), "reused": True}
    running = _running(spec)
    if running:
        note(f"models.{key}: reusing deployment {running.name!r} at {running.url}")
        return _deployment_result(running, reused=True)
    note(f"models.{key}: deploying {spec.model}…")
    row = _deployments().deploy(_deploy_request(spec), timeout=spec.timeout)
    run.started.append(row.name)
    note(f"models.{key}: {row.name!r} is up at {row.url}")
    return _deployment_result(row, reused=False)


def _deployment_result(row, *, reused: bool) -> dict[str, Any]:
    """What `models.KEY` means to later values (`${models.KEY.url}`) and to `lz run --json`."""
    keep = ("name", "model", "engine", "launcher", "host", "port", "url", "protocol", "served_name", "status")
    out = {k: getattr(row, k) for k in keep} | {"status": row.status.value}
    return {"target": row.name, **out, "reused": reused}


def _provider_result(spec: schema.ModelSpec) -> dict[str, Any]:
    from lazycli.keys import env_var_for, get_key
    from lazycli.plugins import registry

    provider = registry().get("providers", spec.provider)
    name = spec.key or spec.provider
    key, _source = get_key(name, provider.key_env_vars if name == spec.provider else (name,))
    if not key and (provider.key_env_vars or spec.key):
        env = " or ".join(provider.key_env_vars) or env_var_for(name)
        raise FieldError(
            "key" if spec.key else "provider",
            f"no API key for {spec.provider}",
            hint=f"set {env}, or run `lz keys set {name}`",
        )
    if key and name != spec.provider:
        # The client looks a provider's key up by the provider's name: hand it the named key through
        # lz's own env var for this process (never argv, logs or state).
        os.environ.setdefault(env_var_for(spec.provider), key)
    return {
        "target": f"{spec.provider}:{spec.model}",
        "provider": spec.provider,
        "model": spec.model,
        "url": provider.base_url,
        "reused": True,
    }


def _run_index(loaded: LoadedRecipe, key: str, spec: schema.IndexSpec, *, progress: bool) -> dict[str, Any]:
    from lazycli import rag

    name = spec.name or key
    paths = [_abs(loaded, p) for p in spec.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FieldError(
            "paths",
            f"index {name!r}: no such path {missing[0]}",
            hint="paths are relative to the recipe's folder",
        )
    note(f"indexes.{key}: indexing {', '.join(map(str, paths))} as {name!r}…")
    groups = _parse_groups(spec.groups)
    summary = rag.build_index(
        paths,
        name,
        embed=spec.embed,
        groups=groups,
        include=tuple(spec.include),
        exclude=tuple(spec.exclude),
        progress=progress,
    )
    summary = dict(summary or {})
    summary.setdefault("name", name)
    counts = ", ".join(
        f"{summary[k]} {k}" for k in ("unchanged", "added", "updated", "deleted") if summary.get(k)
    )
    note(f"indexes.{key}: {counts or 'no files'} ({summary.get('chunks', '?')} chunks)")
    return summary


def _parse_groups(groups: list[str] | None):
    if not groups:
        return None
    from lazycli.rag.splitter import parse_group

    return [parse_group(g) for g in groups]


def _run_step(run: Run, step: schema.StepSpec, *, progress: bool) -> dict[str, Any]:
    if step.verb == "download" and not step.argv and set(step.args) <= {"model", "_"}:
        from lazycli import catalog

        model = step.args.get("model") or step.args.get("_")
        model = model[0] if isinstance(model, list) else model
        path = catalog.ensure_local(str(model))
        return {"model": model, "path": str(path)}
    if step.verb == "index" and not step.argv:
        spec = schema.IndexSpec.model_validate(
            {k: v for k, v in step.args.items() if k != "_"}
            | {"paths": step.args.get("paths") or step.args.get("_") or []}
        )
        return _run_index(run.loaded, spec.name or "index", spec, progress=progress)
    if step.verb == "deploy" and not step.argv:
        return _run_model(run, step.name or "deploy", schema.ModelSpec.model_validate(step.args))
    if step.verb == "finetune" and "data" in step.args:
        return _run_finetune(run, step)
    return _run_lz(step)


def _run_finetune(run: Run, step: schema.StepSpec) -> dict[str, Any]:
    """`lz finetune` with --data relative to the recipe's folder; the result names the new model
    (`model`), so a later deploy step can serve it by that name."""
    args = {**step.args, "data": str(_abs(run.loaded, str(step.args["data"]))), "json": True}
    result = _run_lz(step.model_copy(update={"args": args}))
    record = result.get("json") or {}
    return {**result, "model": (record.get("result") or {}).get("model"), "run": record}


def _run_lz(step: schema.StepSpec) -> dict[str, Any]:
    words = _step_words(step)
    note(f"running lz {' '.join(words)}")
    proc = subprocess.run([sys.executable, "-m", "lazycli", *words], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise LzError(f"`lz {' '.join(words)}` exited {proc.returncode}: {tail}")
    result: dict[str, Any] = {"returncode": 0, "stdout": proc.stdout}
    with contextlib.suppress(json.JSONDecodeError):
        result["json"] = json.loads(proc.stdout)
    return result
