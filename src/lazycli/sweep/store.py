"""One SQLite store per sweep (`DATA/sweeps/NAME/sweep.sqlite`): the trials and what they measured.

Many writers, no server: WAL, a busy timeout, and every state change is one short transaction
(`BEGIN IMMEDIATE`, so two writers never both read-then-write). A trial is a (config hash, repeat)
pair, unique in the table, so a rerun or a second worker can never add it twice. A worker claims a
pending trial by an UPDATE that only succeeds while the row is still pending; while it runs, a
heartbeat thread refreshes `heartbeat`. A running row whose owner is gone (its process is dead on
this host, or its heartbeat is older than `STALE_S`) is stale: the next run takes it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.launchers import Status

HEARTBEAT_S = 2.0
STALE_S = 30.0  # a heartbeat this old means the worker died (on another host: no pid to check)

# A trial's states: the job states (`launchers.Status`) it shares with every job, and DONE, which a
# trial has instead of Status.COMPLETED ("done" is the word stores and `lz sweep --json` have always
# had; scripts read it).
PENDING, RUNNING, FAILED = Status.PENDING, Status.RUNNING, Status.FAILED
DONE = "done"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    config_hash TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    heartbeat REAL,
    started REAL,
    ended REAL,
    duration_s REAL,
    tokens INTEGER,
    rows INTEGER,
    row_errors INTEGER,
    metrics TEXT,
    error TEXT,
    recipe TEXT,
    UNIQUE (config_hash, repeat)
);
"""


@dataclass
class Trial:
    id: int
    config_hash: str
    repeat: int
    params: dict[str, Any]
    seed: int
    status: str
    attempts: int = 0
    owner: str | None = None
    heartbeat: float | None = None
    started: float | None = None
    ended: float | None = None
    duration_s: float | None = None
    tokens: int | None = None
    rows: int | None = None
    row_errors: int | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    recipe: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Trial:
        data = dict(row)
        data["params"] = json.loads(data["params"])
        data["metrics"] = json.loads(data["metrics"]) if data["metrics"] else {}
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("owner", "heartbeat")}


def owner_id() -> str:
    """host:pid:token for this process (the token tells a reused pid from the original)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(owner: str | None, heartbeat: float | None, now: float, me: str) -> bool:
    if owner == me:
        return False
    if heartbeat is None or now - heartbeat > STALE_S:
        return True
    host, _, rest = (owner or "").partition(":")
    pid = rest.split(":", 1)[0]
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=60000")
        from lazycli.state import enable_wal

        enable_wal(self._db, timeout=60)  # many workers may open a new store at once
        self._db.execute("PRAGMA synchronous=NORMAL")  # a commit survives kill -9 of lz
        self._db.executescript(_SCHEMA)
        import threading

        self._lock = threading.Lock()  # one connection shared by this process's threads

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- meta ---

    def get_meta(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self._read("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, Any]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in values.items()],
            )

    # --- trials ---

    def add(self, planned: list[tuple[str, int, dict[str, Any], int]]) -> int:
        """(config hash, repeat, params, seed) rows as pending, unless already there; how many new."""
        with self._write() as db:
            before = db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            db.executemany(
                "INSERT OR IGNORE INTO trials (config_hash, repeat, params, seed, status) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (h, r, json.dumps(p, sort_keys=True, ensure_ascii=False), s, PENDING)
                    for h, r, p, s in planned
                ],
            )
            return db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] - before

    def reset(self, *, stale_for: str, retry_failed: bool) -> int:
        """Running rows whose worker is gone (and failed ones, if asked) back to pending."""
        now = time.time()
        with self._write() as db:
            rows = db.execute(
                "SELECT id, owner, heartbeat FROM trials WHERE status = ?", (RUNNING,)
            ).fetchall()
            ids = [r["id"] for r in rows if is_stale(r["owner"], r["heartbeat"], now, stale_for)]
            if retry_failed:
                ids += [r["id"] for r in db.execute("SELECT id FROM trials WHERE status = ?", (FAILED,))]
            db.executemany(
                "UPDATE trials SET status = ?, owner = NULL, heartbeat = NULL WHERE id = ?",
                [(PENDING, i) for i in ids],
            )
        return len(ids)

    def claim(self, ids: list[int], owner: str) -> Trial | None:
        """The first of `ids` still pending, now running for `owner`; None when none is left."""
        now = time.time()
        with self._write() as db:
            for trial_id in ids:
                cur = db.execute(
                    "UPDATE trials SET status = ?, owner = ?, heartbeat = ?, started = ?, "
                    "attempts = attempts + 1, error = NULL WHERE id = ? AND status = ?",
                    (RUNNING, owner, now, now, trial_id, PENDING),
                )
                if cur.rowcount == 1:
                    row = db.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
                    return Trial.from_row(row)
        return None

    def beat(self, owner: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE trials SET heartbeat = ? WHERE owner = ? AND status = ?",
                (time.time(), owner, RUNNING),
            )

    def release(self, owner: str) -> int:
        """This worker's running trials back to pending (it is stopping: Ctrl-C)."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE trials SET status = ?, owner = NULL, heartbeat = NULL WHERE owner = ? AND status = ?",
                (PENDING, owner, RUNNING),
            )
            return cur.rowcount

    def finish(self, trial: Trial, owner: str) -> None:
        """Record a trial's outcome, only if this worker still owns it (a stale takeover wins)."""
        with self._write() as db:
            db.execute(
                "UPDATE trials SET status = ?, ended = ?, duration_s = ?, tokens = ?, rows = ?, "
                "row_errors = ?, metrics = ?, error = ?, recipe = ?, heartbeat = ? "
                "WHERE id = ? AND owner = ? AND status = ?",
                (
                    trial.status,
                    trial.ended,
                    trial.duration_s,
                    trial.tokens,
                    trial.rows,
                    trial.row_errors,
                    json.dumps(trial.metrics),
                    trial.error,
                    trial.recipe,
                    time.time(),
                    trial.id,
                    owner,
                    RUNNING,
                ),
            )

    def trials(self, ids: list[int] | None = None) -> list[Trial]:
        rows = self._read("SELECT * FROM trials ORDER BY id")
        trials = [Trial.from_row(r) for r in rows]
        return trials if ids is None else [t for t in trials if t.id in set(ids)]

    def ids_of(self, keys: list[tuple[str, int]]) -> list[int]:
        by_key = {(r["config_hash"], r["repeat"]): r["id"] for r in self._read("SELECT * FROM trials")}
        return [by_key[k] for k in keys if k in by_key]
