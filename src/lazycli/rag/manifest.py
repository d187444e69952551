"""Index rows and per-file manifests in the state database.

Crash-safety rule: a file's manifest entry says "these bytes are fully in the store" and is written
only after the store commit that put them there. Before a file's rows are touched its entry is set
to pending (hash NULL), so a run killed in between redoes that file next time, whatever the file
holds by then.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from lazycli import paths, state
from lazycli.errors import LzError, unknown

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass
class FileEntry:
    hash: str | None
    size: int | None
    mtime_ns: int | None
    chunks: int


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise LzError(f"bad index name {name!r}", hint="use letters, digits, '.', '_' or '-' (≤ 100 chars)")
    return name


def index_dir(name: str) -> Path:
    return paths.data_dir() / "indexes" / check_name(name)


def get(name: str) -> dict | None:
    with state.reading() as db:
        row = db.execute("SELECT * FROM indexes WHERE name = ?", (name,)).fetchone()
    return state.row_to_dict(row)


def require(name: str) -> dict:
    row = get(check_name(name))
    if row is None:
        raise unknown("index", name, [r["name"] for r in list_indexes()], hint="`lz index ls` lists indexes")
    return row


def list_indexes() -> list[dict]:
    with state.reading() as db:
        rows = db.execute("SELECT * FROM indexes ORDER BY name").fetchall()
    return [state.row_to_dict(r) for r in rows]


def upsert(name: str, *, path: Path, store: str, embed: str, config: dict, roots: list[str]) -> None:
    now = time.time()
    with state.transaction() as db:
        db.execute(
            """INSERT INTO indexes (name, path, store, embed, config_json, roots_json, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(name) DO UPDATE SET path = excluded.path, store = excluded.store,
                 embed = excluded.embed, config_json = excluded.config_json,
                 roots_json = excluded.roots_json, updated_at = excluded.updated_at""",
            (name, str(path), store, embed, json.dumps(config), json.dumps(roots), now, now),
        )


def set_totals(name: str, files: int, chunks: int) -> None:
    with state.transaction() as db:
        db.execute(
            "UPDATE indexes SET files = ?, chunks = ?, updated_at = ? WHERE name = ?",
            (files, chunks, time.time(), name),
        )


def remove(name: str) -> None:
    with state.transaction() as db:
        db.execute("DELETE FROM index_files WHERE index_name = ?", (name,))
        db.execute("DELETE FROM indexes WHERE name = ?", (name,))


def files(name: str) -> dict[str, FileEntry]:
    with state.reading() as db:
        rows = db.execute(
            "SELECT path, hash, size, mtime_ns, chunks FROM index_files WHERE index_name = ?", (name,)
        ).fetchall()
    return {r["path"]: FileEntry(r["hash"], r["size"], r["mtime_ns"], r["chunks"]) for r in rows}


def mark_pending(name: str, sources: list[str]) -> None:
    """Before a file's store rows change: forget that they are complete."""
    now = time.time()
    with state.transaction() as db:
        db.executemany(
            """INSERT INTO index_files (index_name, path, hash, chunks, updated_at) VALUES (?, ?, NULL, 0, ?)
               ON CONFLICT(index_name, path) DO UPDATE SET hash = NULL, updated_at = excluded.updated_at""",
            [(name, s, now) for s in sources],
        )


def mark_done(name: str, entries: dict[str, FileEntry]) -> None:
    """After the store commit: these files' rows are complete for these bytes."""
    now = time.time()
    with state.transaction() as db:
        db.executemany(
            """INSERT INTO index_files (index_name, path, hash, size, mtime_ns, chunks, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(index_name, path) DO UPDATE SET hash = excluded.hash, size = excluded.size,
                 mtime_ns = excluded.mtime_ns, chunks = excluded.chunks, updated_at = excluded.updated_at""",
            [(name, p, e.hash, e.size, e.mtime_ns, e.chunks, now) for p, e in entries.items()],
        )


def forget(name: str, sources: list[str]) -> None:
    with state.transaction() as db:
        db.executemany(
            "DELETE FROM index_files WHERE index_name = ? AND path = ?", [(name, s) for s in sources]
        )


def forget_all(name: str) -> None:
    with state.transaction() as db:
        db.execute("DELETE FROM index_files WHERE index_name = ?", (name,))
