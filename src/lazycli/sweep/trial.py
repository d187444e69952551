"""One trial: the recipe with a configuration's values, written out in full, run and scored by
`lz eval` (in this process: one embedder and one deployment serve every trial).

The values are applied as `--set` overrides of the original recipe, so the recipe loader checks
them (types, unknown keys) and relative paths keep meaning what they meant. What a trial builds
before it answers (deployments, indexes, steps such as a fine-tune) is keyed by those resource
tables: trials that differ only in their app (retriever, top-k, prompt, decoding) share one build,
and a swept index gets a name of its own per distinct setting, so two chunkings never overwrite
each other while equal ones share the index.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.sweep import store

RESOURCE_TABLES = ("models", "indexes", "steps")


def toml_value(value: Any) -> str:
    """A value as one TOML expression (what `--set KEY=…` parses back to the same value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML's basic ones
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise LzError(f"sweep value {value!r}: cannot be written to a recipe", hint="use TOML values")


def overrides(params: dict[str, Any], raw: dict[str, Any]) -> list[str]:
    """`--set` strings for a configuration, plus a name per swept index setting."""
    sets = [f"{key}={toml_value(value)}" for key, value in params.items()]
    for key, spec in (raw.get("indexes") or {}).items():
        mine = {k: v for k, v in params.items() if k.startswith(f"indexes.{key}.")}
        if mine and f"indexes.{key}.name" not in mine:
            digest = hashlib.sha256(json.dumps(mine, sort_keys=True).encode()).hexdigest()[:8]
            name = f"{spec.get('name') or key}-{digest}"
            sets.append(f"indexes.{key}.name={toml_value(name)}")
    return sets


def resource_key(raw: dict[str, Any]) -> str:
    part = {k: raw.get(k) for k in RESOURCE_TABLES}
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()


def materialise(loaded, folder: Path) -> dict[str, Any]:
    """The trial's full recipe as a table: no [sweep], paths absolute (it lives elsewhere)."""
    raw = copy.deepcopy(loaded.raw)
    raw.pop("sweep", None)
    raw.setdefault("name", loaded.name)
    for spec in (raw.get("indexes") or {}).values():
        spec["paths"] = [
            str((folder / p).resolve()) if not Path(p).is_absolute() else p for p in spec["paths"]
        ]
    if raw.get("eval") and not Path(raw["eval"]["qa"]).is_absolute():
        raw["eval"]["qa"] = str((folder / raw["eval"]["qa"]).resolve())
    return raw


def write_recipe(raw: dict[str, Any], path: Path, header: str) -> None:
    import tomli_w

    from lazycli.fsutil import atomic_write_text

    atomic_write_text(path, header + tomli_w.dumps(raw, multiline_strings=True))


@dataclass
class Outcome:
    status: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    tokens: int = 0
    rows: int = 0
    row_errors: int = 0
    error: str | None = None
    duration_s: float = 0.0


class Resources:
    """What recipes.execute built, per resource key; built once, one build at a time."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def results(self, loaded, lock_path: Path) -> dict[str, Any]:
        from lazycli import recipes

        key = resource_key(loaded.raw)
        with self._lock:
            if key not in self._built:
                with _file_lock(lock_path):  # other `lz sweep` processes build the same indexes
                    self._built[key] = recipes.execute(loaded, progress=False).results
            return self._built[key]


class _file_lock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a")  # noqa: SIM115 - held until __exit__
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


class _Counted:
    """A target whose rows run inside a trace, so the tokens its LLM calls spend add up."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.label, self.retrieves = inner.label, inner.retrieves
        self.tokens = 0
        self._lock = threading.Lock()

    def run(self, row):
        from lazycli import trace

        t = trace.Trace("sweep", app=self.inner.label, input=row.q)
        with trace.active(t), trace.span("trial", "run"):
            out = self.inner.run(row)
        used = t.usage.get("total_tokens") or (out.usage or {}).get("total_tokens") or 0
        with self._lock:
            self.tokens += int(used)
        return out


@dataclass
class Job:
    """What every trial of a sweep shares."""

    recipe: Path
    rows: list
    metrics: list  # eval Metric objects
    data: str
    folder: Path  # the sweep's folder
    cache: bool = True
    judge: str | None = None
    resources: Resources = field(default_factory=Resources)


def run(job: Job, params: dict[str, Any], raw: dict[str, Any], config_hash: str) -> Outcome:
    """Materialise, build (or reuse), answer every eval row, score; never raises for a user error."""
    from lazycli import eval as lzeval
    from lazycli import recipes
    from lazycli.eval import targets

    started = time.monotonic()
    sets = overrides(params, raw)
    out = Outcome(store.FAILED)
    try:
        loaded = recipes.load(job.recipe, sets)
        path = recipe_path(job.folder, config_hash)
        write_recipe(materialise(loaded, loaded.folder), path, _header(params))
        results = job.resources.results(loaded, job.folder.parent / ".build.lock")
        app = recipes.build_app(loaded, results)
        cache = lzeval.CallCache(enabled=job.cache)
        target = _Counted(targets.RecipeTarget(str(loaded.path), cache, sets=sets, loaded=loaded))
        target.inner.use_app(app)
        try:
            report = lzeval.evaluate(
                target, job.rows, job.metrics, data=job.data, judge=job.judge, cache=cache
            )
        finally:
            cache.close()
        out.metrics = {m.name: report.mean(m.name) for m in job.metrics}
        out.rows, out.row_errors, out.tokens = len(report.results), report.errors(), target.tokens
        # The app failing on every row is a failed trial; a metric failing on some rows (a judge
        # reply that does not parse) is counted in row_errors and left out of that metric's mean.
        app_errors = [r.errors["target"] for r in report.results if "target" in r.errors]
        if out.rows and len(app_errors) == out.rows:
            out.error = f"every row failed: {app_errors[0]}"
        else:
            out.status = store.DONE
    except LzError as exc:
        out.error = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    except Exception as exc:  # a trial's own crash is recorded; the sweep goes on
        out.error = f"{type(exc).__name__}: {exc}"
    out.duration_s = round(time.monotonic() - started, 4)
    return out


def recipe_path(folder: Path, config_hash: str) -> Path:
    return folder / "trials" / f"{config_hash}.toml"


def _header(params: dict[str, Any]) -> str:
    lines = ["# A trial of `lz sweep`, with these values:"]
    lines += [f"#   {k} = {toml_value(v)}" for k, v in params.items()]
    return "\n".join(lines) + "\n"
