"""Which embedder, reranker and store serve an index: names the user gives → plugin records.

`--embed` / `--rerank` accept a local model (a catalogue name of type embed/rerank, or a model
directory) served in-process by sentence-transformers, an embedder/reranker plugin by its name
(`PLUGIN` or `PLUGIN:MODEL`, see `lz plugins`), or anything `lz chat` accepts as a target
(`provider:model`, a deployment name, a URL) served remotely through `lazycli.client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from lazycli.errors import LzError

if TYPE_CHECKING:
    from lazycli.contracts import ChunkStore, Embedder, Reranker
    from lazycli.hookspecs import StoreSpec

# The plugins for local models and the store of a new index are settings (embedder_local,
# reranker_local, store); a name served over the wire goes to the remote plugin.
REMOTE = "remote"


@dataclass(frozen=True)
class Choice:
    """A backend plugin name and what to hand its factory (a model path or a target)."""

    plugin: str
    model: str | None  # None: the plugin's own default model
    identity: str  # what the index records: a change of identity means re-embedding everything


def _local_model(spec: str, wanted_types: tuple[str, ...]) -> Path | None:
    """A local model directory for `spec`, or None when it names something remote."""
    candidate = Path(spec).expanduser()
    if candidate.is_dir():
        return candidate.resolve()
    if "://" in spec:
        return None
    try:
        from lazycli.catalog import resolve

        ref = resolve(spec)
    except LzError:
        return None
    if ref.type not in wanted_types or ref.format != "hf":
        return None
    if not ref.ready:
        raise LzError(f"model {spec!r} is not downloaded", hint=f"`lz download {spec}` first")
    return Path(ref.path)


def spec_of(identity: str) -> str:
    """The `--embed` / `--rerank` value inside a recorded identity (`PLUGIN:SPEC`)."""
    return identity.split(":", 1)[1]


def choose_embedder(spec: str | None) -> Choice:
    if not spec:
        spec = _settings().embed_model
    local = _local_model(spec, ("embed",))
    if local is not None:
        plugin = _settings().embedder_local
        return Choice(plugin, str(local), f"{plugin}:{spec}")
    return _plugin_choice(spec, "embedders") or Choice(REMOTE, spec, f"{REMOTE}:{spec}")


def choose_reranker(spec: str) -> Choice:
    local = _local_model(spec, ("rerank",))
    if local is not None:
        plugin = _settings().reranker_local
        return Choice(plugin, str(local), f"{plugin}:{spec}")
    return _plugin_choice(spec, "rerankers") or Choice(REMOTE, spec, f"{REMOTE}:{spec}")


def _plugin_choice(spec: str, kind: str) -> Choice | None:
    """`PLUGIN` or `PLUGIN:MODEL` naming an installed embedder/reranker plugin; the local and remote
    ones keep their own spellings (a model, a target)."""
    name, _, model = spec.partition(":")
    current = _settings()
    local = (current.embedder_local, current.reranker_local, REMOTE)
    if name in local or name not in _registry().all(kind):
        return None
    return Choice(name, model or None, f"{name}:{spec}")


def _settings():
    from lazycli import settings

    return settings.get()


def default_store() -> str:
    """The store plugin of a new index (the `store` setting)."""
    return _settings().store


def _registry():
    from lazycli.plugins import registry

    return registry()


@lru_cache(maxsize=4)
def embedder(spec: str | None) -> Embedder:
    """A loaded embedder (cached per process: loading a model costs seconds)."""
    from lazycli.contracts import EmbedderFactory, call, conform

    choice = choose_embedder(spec)
    record = _registry().get("embedders", choice.plugin)
    return conform(call(record, "factory", EmbedderFactory, choice.model, {}), "embedders", choice.plugin)


@lru_cache(maxsize=4)
def reranker(spec: str) -> Reranker:
    from lazycli.contracts import RerankerFactory, call, conform

    choice = choose_reranker(spec)
    record = _registry().get("rerankers", choice.plugin)
    return conform(call(record, "factory", RerankerFactory, choice.model, {}), "rerankers", choice.plugin)


def store_record(name: str) -> StoreSpec:
    """The store plugin `name`, refused in one line when its `open` cannot be called as lz calls it."""
    from lazycli.contracts import StoreOpener, require

    record = _registry().get("stores", name)
    require(record, "open", StoreOpener)
    return record


def open_store(path: Path, name: str | None = None) -> ChunkStore:
    from lazycli.contracts import StoreOpener, call, conform

    name = name or default_store()
    return conform(call(store_record(name), "open", StoreOpener, path, {}), "stores", name)


def loaders_by_extension() -> dict[str, object]:
    """Extension (lower case, with dot) → LoaderSpec; the first plugin to claim one keeps it."""
    table: dict[str, object] = {}
    for spec in _registry().all("loaders").values():
        for ext in spec.extensions:
            table.setdefault(ext.lower(), spec)
    return table
