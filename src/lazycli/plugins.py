"""The plugin manager: loads every `lazycli` entry point, built-in or third-party, the same way.

A plugin that fails to import, or whose hook raises, is recorded with its error and skipped: one
broken plugin never breaks every command (llm's most-reported bug). Duplicate record names are
refused by name: the first plugin keeps the name, the clash is reported on the second, and asking
for that name (`registry().get("engines", name)`) is a user error naming both plugins.
`LAZYCLI_PLUGINS=a,b` restricts loading to those entry-point names.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

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

    def all(self, kind: str) -> dict[str, Any]:
        return self.records[kind]

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


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=GROUP), key=lambda ep: ep.name)


def _describe(ep: metadata.EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else None
    source = "built-in" if dist_name == BUILTIN_DIST else (dist_name or "unknown")
    version = dist.version if dist is not None else None
    return PluginInfo(name=ep.name, module=ep.value, version=version, source=source)


def _error_text(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _load_plugins(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    allowed = _allowed()
    for ep in _entry_points():
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
