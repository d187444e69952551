"""The plugin manager: loads every `lazycli` entry point, built-in or third-party, the same way.

A plugin that fails to import, or whose hook raises, is recorded with its error and skipped: one
broken plugin never breaks every command (llm's most-reported bug). Duplicate record names are
refused by name: the first plugin keeps the name, the clash is reported on the second, and asking
for that name (`registry().get("engines", name)`) is a user error naming both plugins.
`LAZYCLI_PLUGINS=a,b` restricts loading to those entry-point names.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, overload

import pluggy

from lazycli import hookspecs
from lazycli.errors import LzError, unknown

GROUP = "lazycli"
BUILTIN_DIST = "lazycli"


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str | None
    source: str  # "built-in" or the distribution name
    records: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "version": self.version,
            "source": self.source,
            "records": self.records,
            "errors": self.errors,
        }


@dataclass
class Registry:
    """Records by kind and name, plus what was loaded and what failed."""

    plugins: list[PluginInfo]
    records: dict[str, dict[str, Any]]
    owners: dict[tuple[str, str], str]
    clashes: dict[tuple[str, str], list[str]]

    # Typed per kind: `registry().get("stores", name).open(...)` is a `contracts.ChunkStore` to a type
    # checker (a kind held in a variable gets Any).
    @overload
    def all(self, kind: Literal["engines"]) -> dict[str, hookspecs.EngineSpec]: ...
    @overload
    def all(self, kind: Literal["launchers"]) -> dict[str, hookspecs.LauncherSpec]: ...
    @overload
    def all(self, kind: Literal["providers"]) -> dict[str, hookspecs.ProviderSpec]: ...
    @overload
    def all(self, kind: Literal["finetuners"]) -> dict[str, hookspecs.FinetunerSpec]: ...
    @overload
    def all(self, kind: Literal["stores"]) -> dict[str, hookspecs.StoreSpec]: ...
    @overload
    def all(self, kind: Literal["loaders"]) -> dict[str, hookspecs.LoaderSpec]: ...
    @overload
    def all(self, kind: Literal["embedders"]) -> dict[str, hookspecs.EmbedderSpec]: ...
    @overload
    def all(self, kind: Literal["rerankers"]) -> dict[str, hookspecs.RerankerSpec]: ...
    @overload
    def all(self, kind: Literal["commands"]) -> dict[str, hookspecs.CommandSpec]: ...
    @overload
    def all(self, kind: Literal["settings"]) -> dict[str, hookspecs.SettingsSpec]: ...
    @overload
    def all(self, kind: str) -> dict[str, Any]: ...  # a kind in a variable (loops over KINDS)
    def all(self, kind: str) -> dict[str, Any]:
        return self.records[kind]

    @overload
    def get(self, kind: Literal["engines"], name: str) -> hookspecs.EngineSpec: ...
    @overload
    def get(self, kind: Literal["launchers"], name: str) -> hookspecs.LauncherSpec: ...
    @overload
    def get(self, kind: Literal["providers"], name: str) -> hookspecs.ProviderSpec: ...
    @overload
    def get(self, kind: Literal["finetuners"], name: str) -> hookspecs.FinetunerSpec: ...
    @overload
    def get(self, kind: Literal["stores"], name: str) -> hookspecs.StoreSpec: ...
    @overload
    def get(self, kind: Literal["loaders"], name: str) -> hookspecs.LoaderSpec: ...
    @overload
    def get(self, kind: Literal["embedders"], name: str) -> hookspecs.EmbedderSpec: ...
    @overload
    def get(self, kind: Literal["rerankers"], name: str) -> hookspecs.RerankerSpec: ...
    @overload
    def get(self, kind: Literal["commands"], name: str) -> hookspecs.CommandSpec: ...
    @overload
    def get(self, kind: Literal["settings"], name: str) -> hookspecs.SettingsSpec: ...
    @overload
    def get(self, kind: str, name: str) -> Any: ...
    def get(self, kind: str, name: str) -> Any:
        """The record `name` of `kind` ("engines", "providers", …), or a user error."""
        clash = self.clashes.get((kind, name))
        if clash:
            raise LzError(
                f"{kind[:-1]} {name!r} is registered by several plugins: {', '.join(clash)}",
                hint="uninstall one of them, or restrict loading with LAZYCLI_PLUGINS=…",
            )
        found = self.records[kind].get(name)
        if found is None:
            raise unknown(kind[:-1], name, self.records[kind], hint="`lz plugins` lists what is loaded")
        return found

    def owner(self, kind: str, name: str) -> str | None:
        return self.owners.get((kind, name))


def _allowed() -> set[str] | None:
    raw = os.environ.get("LAZYCLI_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


@dataclass(frozen=True)
class Found:
    """One `lazycli` entry point and the distribution that declares it."""

    name: str
    value: str  # "module" or "module:attr"
    dist_name: str | None
    dist_version: str | None

    def load(self) -> Any:
        """What `importlib.metadata.EntryPoint.load` does, without importing importlib.metadata."""
        import importlib

        module_name, _, attrs = self.value.partition(":")
        obj = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.split("[")[0].strip().split(".")):
            obj = getattr(obj, attr)
        return obj


def _scan() -> tuple[list[Found], list[str]]:
    """Every entry point of the group (importlib.metadata reads every installed dist: slow), and the
    entry_points.txt files they come from."""
    from importlib import metadata

    found, files = [], []
    for ep in metadata.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        found.append(
            Found(
                name=ep.name,
                value=ep.value,
                dist_name=dist.metadata["Name"] if dist is not None else None,
                dist_version=dist.version if dist is not None else None,
            )
        )
        where = getattr(dist, "_path", None)  # PathDistribution: the .dist-info/.egg-info folder
        if where is not None:
            files.append(str(Path(where) / "entry_points.txt"))
    return sorted(found, key=lambda f: f.name), sorted(set(files))


# --- entry-point cache ------------------------------------------------------------------------------
# Scanning every installed distribution costs more than the rest of `lz plugins`. What pip (or any
# installer) does to a sys.path folder changes that folder's mtime: a .dist-info is created or
# removed. So the scan is cached under a key made of sys.path, each folder's mtime, and the mtimes
# of the entry_points.txt files found; any change rescans. A folder changed in the last few seconds
# is not trusted (its mtime may not move again within the same clock tick), so nothing is cached then.

CACHE_VERSION = 1
RACY_SECONDS = 2.0


def _cache_path() -> Path:
    from lazycli import paths

    return paths.cache_dir() / "entry-points.json"


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return None


def _cache_key(files: list[str]) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "executable": sys.executable,
        "path": [[entry, _mtime(entry)] for entry in sys.path],
        "files": [[file, _mtime(file)] for file in files],
    }


def _read_cache() -> list[Found] | None:
    try:
        with open(_cache_path(), encoding="utf-8") as fh:
            cached = json.load(fh)
        if cached["key"] != _cache_key([file for file, _ in cached["key"]["files"]]):
            return None
        return [Found(**row) for row in cached["entry_points"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(found: list[Found], files: list[str]) -> None:
    key = _cache_key(files)
    newest = max((m for _, m in key["path"] + key["files"] if m is not None), default=0)
    if newest / 1e9 > time.time() - RACY_SECONDS:
        return
    target = _cache_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        payload = {"key": key, "entry_points": [asdict(f) for f in found]}
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only cache dir costs speed, never correctness


def entry_points() -> list[Found]:
    """The group's entry points sorted by name, from the cache when nothing on sys.path changed."""
    cached = _read_cache()
    if cached is not None:
        return cached
    found, files = _scan()
    _write_cache(found, files)
    return found


def _describe(found: Found) -> PluginInfo:
    source = "built-in" if found.dist_name == BUILTIN_DIST else (found.dist_name or "unknown")
    return PluginInfo(name=found.name, module=found.value, version=found.dist_version, source=source)


def _error_text(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _load_plugins(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    allowed = _allowed()
    for ep in entry_points():
        if allowed is not None and ep.name not in allowed:
            continue
        info = _describe(ep)
        infos.append(info)
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except BaseException as exc:  # a broken plugin must not break lz (even SystemExit)
            if isinstance(exc, KeyboardInterrupt):
                raise
            info.errors.append(f"import failed: {_error_text(exc)}")


def _collect(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registry:
    by_name = {info.name: info for info in infos}
    records: dict[str, dict[str, Any]] = {kind: {} for kind in hookspecs.KINDS}
    owners: dict[tuple[str, str], str] = {}
    clashes: dict[tuple[str, str], list[str]] = {}
    for kind, (hook_name, record_type) in hookspecs.KINDS.items():
        hook = getattr(pm.hook, hook_name)
        # Call each implementation on its own so a raising hook only costs its own plugin.
        for impl in hook.get_hookimpls():  # registration order: entry points sorted by name
            info = by_name[impl.plugin_name]
            try:
                produced = list(impl.function() or ())
            except Exception as exc:
                info.errors.append(f"{hook_name} failed: {_error_text(exc)}")
                continue
            for record in produced:
                if not isinstance(record, record_type):
                    info.errors.append(
                        f"{hook_name} yielded {type(record).__name__}, not {record_type.__name__}"
                    )
                    continue
                key = (kind, record.name)
                if key in owners:
                    first = owners[key]
                    clashes.setdefault(key, [first]).append(info.name)
                    info.errors.append(
                        f"{kind[:-1]} {record.name!r} is already registered by plugin {first!r}"
                    )
                    continue
                owners[key] = info.name
                records[kind][record.name] = record
                info.records.setdefault(kind, []).append(record.name)
    return Registry(plugins=infos, records=records, owners=owners, clashes=clashes)


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Load every plugin once per process and return the registries."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    _load_plugins(pm, infos)
    return _collect(pm, infos)


def reset() -> None:
    """Forget the loaded registry (tests that install or restrict plugins call this)."""
    registry.cache_clear()
