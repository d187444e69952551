"""Rows for `lz models ls/info/rm`: the catalogue joined with what is on this machine (no network)."""

from __future__ import annotations

from pathlib import Path

from lazycli.catalog import data, local
from lazycli.catalog.model import ModelRef
from lazycli.catalog.resolver import ref_from_entry, ref_from_registered, resolve
from lazycli.catalog.sizes import tree_size
from lazycli.errors import LzError


def _size(ref: ModelRef) -> int | None:
    if not ref.ready:
        return None
    if ref.source == "cache" and ref.download_dir is not None:
        marker = local.read_marker(ref.download_dir) or {}
        files = marker.get("files") or {}
        if files:
            return sum((f.get("size") or 0) for f in files.values())
    return tree_size(ref.path)


def _row(ref: ModelRef) -> dict:
    row = ref.to_dict()
    partial = [] if ref.ready else local.partial_downloads(ref.hub_ids)
    row["partial"] = [str(p) for p in partial]
    row["size_bytes"] = _size(ref)
    return row


def rows(*, local_only: bool = False, type_: str | None = None) -> list[dict]:
    """Catalogue entries, registered models and downloads of unlisted hub ids, one row each."""
    refs: list[ModelRef] = [ref_from_registered(r) for r in local.registered_all()]
    known_ids = set()
    for entry in data.entries():
        refs.append(ref_from_entry(entry))
        known_ids.update(v.lower() for v in entry.get("hub_ids", {}).values())
    for _hub, repo_id, _directory, _marker in local.cached_repos():
        if repo_id.lower() not in known_ids:
            known_ids.add(repo_id.lower())
            refs.append(resolve(repo_id))
    seen_paths = {str(r.path) for r in refs if r.path is not None}
    for ref in _uncatalogued_in_model_dirs():
        if str(ref.path) not in seen_paths:
            refs.append(ref)
    out = []
    for ref in refs:
        if type_ and ref.type != type_:
            continue
        row = _row(ref)
        if local_only and not (row["ready"] or row["partial"]):
            continue
        out.append(row)
    return out


def _uncatalogued_in_model_dirs() -> list[ModelRef]:
    """Models sitting in LAZYCLI_MODEL_PATH dirs under names the catalogue does not know."""
    from lazycli.catalog.resolver import model_dirs, ref_from_path

    out = []
    for directory in model_dirs():
        if not directory.is_dir():
            continue
        for child in sorted(directory.iterdir()):
            if child.name.startswith(".") or data.lookup(child.name) is not None:
                continue
            is_model = child.suffix.lower() == ".gguf" or (
                child.is_dir() and local.detect_format(child) == "gguf" or (child / "config.json").exists()
            )
            if is_model:
                try:
                    out.append(ref_from_path(child, source="model_path", name=child.name))
                except LzError:
                    continue
    return out


def info(name: str) -> dict:
    ref = resolve(name)
    row = _row(ref)
    if ref.download_dir is not None:
        marker = local.read_marker(ref.download_dir)
        row["commit"] = marker.get("commit") if marker else None
    return row


def remove(name: str) -> dict:
    """Forget a registered model, or delete a model's download dirs (ready or partial)."""
    from lazycli.catalog.download import remove_download

    registered = local.registered(name)
    if registered is not None:
        local.unregister(name)
        return {
            "name": registered["name"],
            "unregistered": True,
            "path": registered["path"],
            "deleted": [],
            "freed_bytes": 0,
        }
    ref = resolve(name)
    dirs = [local.cache_dir_for(hub, repo) for hub, repo in ref.hub_ids.items()]
    dirs = [d for d in dirs if d.exists()]
    if not dirs:
        if ref.source == "bundled":
            raise LzError(
                f"{ref.name} is bundled with the {ref.bundled_pip} package",
                hint=f"pip uninstall {ref.bundled_pip} removes it",
            )
        if ref.source in ("model_path", "path"):
            raise LzError(
                f"{ref.name} at {ref.path} was not downloaded by lz", hint="delete it yourself if you mean to"
            )
        raise LzError(
            f"model {ref.name!r} is not downloaded", hint="`lz models ls --local` lists local models"
        )
    freed = sum(remove_download(Path(d)) for d in dirs)
    return {
        "name": ref.name,
        "unregistered": False,
        "path": None,
        "deleted": [str(d) for d in dirs],
        "freed_bytes": freed,
    }
