"""What is on this machine: model dirs, the download cache, bundled packages, registered models.

Kept free of heavy imports: `lz models ls` and every verb that resolves a model go through here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path

from lazycli import paths

READY_MARKER = ".lz-ready.json"  # written only after a download is verified
HUBS = ("huggingface", "modelscope")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- looking at a path ---------------------------------------------------------------------------


def gguf_in_dir(directory: Path, include: tuple[str, ...] = ()) -> Path | None:
    """The .gguf file a directory holds: the one matching `include`, else a Q4_K_M, else the first."""
    import fnmatch

    files = sorted(p for p in directory.rglob("*.gguf") if ".cache" not in p.relative_to(directory).parts)
    if not files:
        return None
    for pattern in include:
        matched = [p for p in files if fnmatch.fnmatch(p.name.lower(), pattern.lower())]
        if matched:
            return matched[0]
    preferred = [p for p in files if "q4_k_m" in p.name.lower()]
    return (preferred or files)[0]


def detect_format(path: Path) -> str:
    """'gguf' for a .gguf file or a dir holding only GGUF weights, else 'hf' (a HF-style dir)."""
    if path.is_file():
        return "gguf" if path.suffix.lower() == ".gguf" else "file"
    has_hf = any((path / f).exists() for f in ("config.json", "modules.json", "model_index.json"))
    if not has_hf and gguf_in_dir(path) is not None:
        return "gguf"
    return "hf"


def model_file(path: Path, fmt: str, include: tuple[str, ...] = ()) -> Path | None:
    """The path other parts load: the .gguf file for GGUF models, the directory otherwise."""
    if fmt == "gguf" and path.is_dir():
        return gguf_in_dir(path, include)
    return path


def guess_type(path: Path, name: str) -> str:
    """A model type from its files and name, for paths and hub ids the catalogue does not know."""
    lowered = name.lower()
    if "rerank" in lowered:
        return "rerank"
    if path.is_dir() and (path / "modules.json").exists():
        return "embed"  # a sentence-transformers model
    if any(k in lowered for k in ("bge-", "embed", "minilm", "e5-", "gte-")):
        return "embed"
    if any(k in lowered for k in ("-vl", "vl-", "internvl", "llava")):
        return "vlm"
    config = path / "config.json" if path.is_dir() else None
    if config and config.exists():
        try:
            archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        except (OSError, ValueError):
            archs = []
        if any("SequenceClassification" in a for a in archs):
            return "rerank"
        if any(a.endswith("Model") and "ForCausalLM" not in a for a in archs):
            return "embed"
    return "llm"


# --- LAZYCLI_MODEL_PATH dirs -----------------------------------------------------------------------


def _child_ci(parent: Path, name: str) -> Path | None:
    """parent/name, matching the name case-insensitively."""
    exact = parent / name
    if exact.exists():
        return exact
    try:
        for child in parent.iterdir():
            if child.name.lower() == name.lower():
                return child
    except OSError:
        return None
    return None


def find_in_dirs(dirs: list[Path], candidates: list[str]) -> Path | None:
    """The first `dir/candidate` (candidates may be `org/name`) that exists, case-insensitively."""
    for directory in dirs:
        if not directory.is_dir():
            continue
        for candidate in candidates:
            found: Path | None = directory
            for part in candidate.split("/"):
                found = _child_ci(found, part) if found is not None else None
            if found is not None and _non_empty(found):
                return found
    return None


def _non_empty(path: Path) -> bool:
    if path.is_file():
        return path.stat().st_size > 0
    try:
        return any(path.iterdir())
    except OSError:
        return False


def candidate_names(name: str, hub_ids: dict[str, str], aliases=()) -> list[str]:
    """Names a model may have inside a model dir: its own, aliases, `org/name`, `org--name`, `name`."""
    out = [name, *aliases]
    for hub_id in hub_ids.values():
        out += [hub_id, hub_id.replace("/", "--"), hub_id.rsplit("/", 1)[-1]]
    return list(dict.fromkeys(out))


# --- the download cache -----------------------------------------------------------------------------


def models_cache() -> Path:
    return paths.cache_dir() / "models"


def cache_dir_for(hub: str, repo_id: str) -> Path:
    """Where a hub download of `repo_id` lives: cache/models/<hub>/<org>--<name>."""
    return models_cache() / hub / repo_id.replace("/", "--")


def read_marker(directory: Path) -> dict | None:
    """The ready marker of a download dir, or None while the download is not verified."""
    try:
        return json.loads((directory / READY_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cached(hub_ids: dict[str, str], prefer: str | None = None) -> tuple[str, Path, dict] | None:
    """(hub, dir, marker) of a verified download of this model, preferred hub first."""
    order = [prefer] if prefer in hub_ids else []
    order += [h for h in HUBS if h in hub_ids and h not in order]
    for hub in order:
        directory = cache_dir_for(hub, hub_ids[hub])
        marker = read_marker(directory)
        if marker is not None:
            return hub, directory, marker
    return None


def partial_downloads(hub_ids: dict[str, str]) -> list[Path]:
    """Download dirs that exist without a ready marker (interrupted or failed verification)."""
    out = []
    for hub, repo_id in hub_ids.items():
        directory = cache_dir_for(hub, repo_id)
        if directory.exists() and read_marker(directory) is None:
            out.append(directory)
    return out


def cached_repos() -> list[tuple[str, str, Path, dict | None]]:
    """Every (hub, repo_id, dir, marker) under the cache, for listings."""
    out = []
    root = models_cache()
    for hub in HUBS:
        base = root / hub
        if not base.is_dir():
            continue
        for directory in sorted(base.iterdir()):
            if directory.is_dir():
                out.append((hub, directory.name.replace("--", "/", 1), directory, read_marker(directory)))
    return out


# --- bundled packages -------------------------------------------------------------------------------


def bundled_path(package: str, file: str) -> Path | None:
    """A file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / file
        if candidate.exists():
            return candidate
    return None


# --- registered local models (state DB) -------------------------------------------------------------


def check_model_name(name: str) -> None:
    from lazycli.errors import LzError

    if not _NAME_RE.match(name):
        raise LzError(
            f"bad model name {name!r}",
            hint="use letters, digits, '.', '_' or '-' (no '/': org/name ids belong to the hubs)",
        )


def registered(name: str) -> dict | None:
    from lazycli import state

    if not state.db_path().exists():
        return None  # nothing registered yet; resolving must not create the database
    with state.reading() as db:
        row = db.execute("SELECT * FROM models_registered WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
    return state.row_to_dict(row)


def registered_all() -> list[dict]:
    from lazycli import state

    if not state.db_path().exists():
        return []
    with state.reading() as db:
        rows = db.execute("SELECT * FROM models_registered ORDER BY name").fetchall()
    return [state.row_to_dict(r) for r in rows]


def register(row: dict) -> None:
    from lazycli import state

    with state.transaction() as db:
        db.execute("DELETE FROM models_registered WHERE name = ? COLLATE NOCASE", (row["name"],))
        db.execute(
            "INSERT INTO models_registered (name, path, type, format, params_b, context_length, template,"
            " base, created_at, meta_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row["name"],
                row["path"],
                row["type"],
                row["format"],
                row.get("params_b"),
                row.get("context_length"),
                row.get("template"),
                row.get("base"),
                time.time(),
                json.dumps(row.get("meta") or {}),
            ),
        )


def unregister(name: str) -> bool:
    from lazycli import state

    with state.transaction() as db:
        cur = db.execute("DELETE FROM models_registered WHERE name = ? COLLATE NOCASE", (name,))
    return cur.rowcount > 0
