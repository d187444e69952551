"""An on-disk cache of model calls keyed by (model, prompt, parameters).

Each finished call is committed at once (SQLite, WAL), so a run killed with `kill -9` resumes from
what it had: the rerun finds those answers and calls the model only for the rest. Failed calls are
never stored, so a rerun retries them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path


def key_of(model: str, prompt, params: dict) -> str:
    blob = json.dumps(
        {"model": model, "prompt": prompt, "params": params}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def default_path() -> Path:
    from lazycli.paths import cache_dir

    return cache_dir() / "eval" / "calls.sqlite"


class CallCache:
    """get/put JSON values by key; `enabled=False` (`--no-cache`) stores and finds nothing.

    `calls` counts the model calls made through `cached()`, `hits` the answers found here.
    """

    def __init__(self, path: Path | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = path or default_path()
        self.lock = threading.Lock()
        self.hits = 0
        self.calls = 0
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            from lazycli.state import enable_wal

            db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            enable_wal(db)  # concurrent trials of a sweep may open a new cache at once
            # WAL + NORMAL: a committed call survives `kill -9` of lz (not a power cut); no fsync each.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db = db
        return self._db

    def get(self, key: str):
        if not self.enabled:
            return None
        with self.lock:
            row = self._conn().execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value) -> None:
        if not self.enabled:
            return
        with self.lock:
            db = self._conn()
            db.execute("INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            db.commit()

    def cached(self, model: str, prompt, params: dict, call, check=None):
        """The cached value for (model, prompt, params), else `call()`, stored unless it (or
        `check(value)`, e.g. parsing a judge reply) raised."""
        key = key_of(model, prompt, params)
        found = self.get(key)
        if found is not None:
            with self.lock:
                self.hits += 1
            return found, True
        with self.lock:
            self.calls += 1
        value = call()
        if check is not None:
            check(value)
        self.put(key, value)
        return value, False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
