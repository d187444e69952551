"""The state database: one SQLite file under the data dir.

WAL mode and a busy timeout make it safe for several `lz` processes at once; every write runs in
a transaction (`with transaction() as db:`). Schema changes are small named functions applied in
the order they are defined here, each recorded in `_migrations` once applied (the llm project's
shape), so a later issue adds a table by appending a function with `@migration`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lazycli import paths

MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []

BUSY_TIMEOUT_MS = 30_000


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    """Register a migration; the function name is its identity, so never rename one."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def db_path() -> Path:
    return paths.data_dir() / "state.db"


def enable_wal(db: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Put `db` in WAL mode. Two connections switching a new database at once: one gets "database is
    locked" at once (SQLite's busy handler does not cover the journal-mode change), so retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def connect(path: Path | None = None) -> sqlite3.Connection:
    """A connection with migrations applied (rows as sqlite3.Row)."""
    path = path or db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    enable_wal(db)
    db.execute("PRAGMA foreign_keys = ON")
    _migrate(db)
    return db


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    pending = [(name, fn) for name, fn in MIGRATIONS if name not in applied]
    if not pending:
        return
    # BEGIN IMMEDIATE takes the write lock, so two processes never run the same migration twice.
    db.execute("BEGIN IMMEDIATE")
    try:
        applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        for name, fn in pending:
            if name in applied:
                continue
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@contextmanager
def transaction(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
    db = connect(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


@contextmanager
def reading(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    db = connect(path)
    try:
        yield db
    finally:
        db.close()


def row_to_dict(row: sqlite3.Row | None) -> dict | None:
    """A row as a dict, with JSON columns (named *_json) decoded under their bare name."""
    if row is None:
        return None
    out = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row iterates values, not keys
        value = row[key]
        if key.endswith("_json"):
            out[key[:-5]] = json.loads(value) if value else None
        else:
            out[key] = value
    return out


# --- migrations (append only; never edit or reorder an applied one) ---------------------------


@migration
def m001_meta(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", (str(time.time()),))


def get_meta(key: str) -> str | None:
    with reading() as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(key: str, value: str) -> None:
    with transaction() as db:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


@migration
def m003_models_registered(db: sqlite3.Connection) -> None:
    """Local models registered under a name (`lz models add`, finetune results)."""
    db.execute(
        """CREATE TABLE models_registered (
            name TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            type TEXT NOT NULL,
            format TEXT NOT NULL,
            params_b REAL,
            context_length INTEGER,
            template TEXT,
            base TEXT,
            created_at REAL NOT NULL,
            meta_json TEXT
        )"""
    )


@migration
def m005_chat_logs(db: sqlite3.Connection) -> None:
    """Conversation log of `lz chat` (one row per exchange; a REPL session shares a conversation id)."""
    db.execute(
        """CREATE TABLE chat_logs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            target TEXT NOT NULL,
            model TEXT NOT NULL,
            system TEXT,
            prompt TEXT NOT NULL,
            response TEXT NOT NULL,
            messages_json TEXT,
            options_json TEXT,
            usage_json TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            total_tokens INTEGER,
            latency_s REAL,
            finish_reason TEXT,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX chat_logs_conversation ON chat_logs (conversation_id, id)")
    db.execute("CREATE INDEX chat_logs_created ON chat_logs (created_at)")


@migration
def m006_rag_indexes(db: sqlite3.Connection) -> None:
    """`lz index`: one row per index, and its per-file manifest (hash NULL = being rewritten)."""
    db.execute(
        """CREATE TABLE indexes (
            name TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            store TEXT NOT NULL,
            embed TEXT NOT NULL,
            config_json TEXT NOT NULL,
            roots_json TEXT,
            files INTEGER NOT NULL DEFAULT 0,
            chunks INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE index_files (
            index_name TEXT NOT NULL REFERENCES indexes(name) ON DELETE CASCADE,
            path TEXT NOT NULL,
            hash TEXT,
            size INTEGER,
            mtime_ns INTEGER,
            chunks INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL,
            PRIMARY KEY (index_name, path)
        )"""
    )


@migration
def m004_deploy_deployments(db: sqlite3.Connection) -> None:
    """`lz deploy`: one row per deployment name (a finished one is replaced when the name is reused)."""
    db.execute(
        """CREATE TABLE deployments (
            name TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            model_path TEXT,
            engine TEXT NOT NULL,
            launcher TEXT NOT NULL,
            job_id TEXT,
            host TEXT,
            port INTEGER,
            port_pinned INTEGER NOT NULL DEFAULT 0,
            url TEXT,
            protocol TEXT NOT NULL,
            served_name TEXT NOT NULL,
            health_path TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            log_path TEXT,
            pid INTEGER,
            exit_code INTEGER,
            gpus INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            ready_at REAL,
            job_json TEXT,
            argv_json TEXT,
            options_json TEXT,
            extra_args_json TEXT
        )"""
    )
    db.execute("CREATE INDEX deployments_model ON deployments (model, status)")


@migration
def m007_traces_feedback(db: sqlite3.Connection) -> None:
    """Every exchange (chat, rag, run, serve) is a chat_logs row with a trace id, its steps in
    trace_spans, and its ratings in feedback (the latest one is copied onto the row for filtering)."""
    for column in (
        "trace_id TEXT",
        "kind TEXT NOT NULL DEFAULT 'chat'",
        "app TEXT",
        "sources_json TEXT",
        "rating INTEGER",
        "comment TEXT",
        "correction TEXT",
        "rated_at REAL",
    ):
        db.execute(f"ALTER TABLE chat_logs ADD COLUMN {column}")
    db.execute("CREATE UNIQUE INDEX chat_logs_trace ON chat_logs (trace_id)")
    db.execute("CREATE INDEX chat_logs_rating ON chat_logs (rating, id)")
    db.execute(
        """CREATE TABLE trace_spans (
            trace_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            parent INTEGER,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            started_at REAL NOT NULL,
            duration_s REAL,
            input_json TEXT,
            output_json TEXT,
            attrs_json TEXT,
            error TEXT,
            PRIMARY KEY (trace_id, seq)
        )"""
    )
    db.execute(
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trace_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            rating INTEGER NOT NULL,
            comment TEXT,
            correction TEXT,
            origin TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX feedback_trace ON feedback (trace_id, id)")


@migration
def m008_jobs(db: sqlite3.Connection) -> None:
    """`lz launch`: any command on a launcher, one row per job name (a finished one is replaced when
    its name is reused). Status values are `lazycli.launchers.Status`, as for deployments."""
    db.execute(
        """CREATE TABLE jobs (
            name TEXT PRIMARY KEY,
            launcher TEXT NOT NULL,
            argv_json TEXT NOT NULL,
            resources_json TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            reason TEXT,
            log_path TEXT NOT NULL,
            job_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            ended_at REAL
        )"""
    )


@migration
def m009_deployment_nodes(db: sqlite3.Connection) -> None:
    """`lz deploy … --nodes N`: a multi-node deployment keeps its node count (restart needs it)."""
    db.execute("ALTER TABLE deployments ADD COLUMN nodes INTEGER")


@migration
def m010_job_kind_owner(db: sqlite3.Connection) -> None:
    """Fine-tune runs and sweep workers are jobs too: a row says which (`lazycli.jobs.Kind`; rows
    from before are `lz launch` commands) and what it belongs to (the run's or the sweep's name)."""
    db.execute("ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'command'")
    db.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")
    db.execute("CREATE INDEX jobs_owner ON jobs (kind, owner)")


@migration
def m011_deployment_jobs(db: sqlite3.Connection) -> None:
    """A deployment's engine is a job (`lazycli.jobs`, kind deployment, `deploy-NAME`): a deployment
    still active gets its job row now, so `lz jobs ls` lists it from the first run after upgrading
    (an older lz still running beside this one is covered on read: `deployments._job_row` adopts)."""
    db.execute(
        """INSERT OR IGNORE INTO jobs (name, launcher, argv_json, resources_json, status, exit_code,
               reason, log_path, job_json, created_at, updated_at, ended_at, kind, owner)
           SELECT 'deploy-' || name, launcher, COALESCE(argv_json, '[]'), NULL,
                  CASE status WHEN 'starting' THEN 'running' ELSE status END, exit_code, reason,
                  COALESCE(log_path, ''), job_json, created_at, updated_at, NULL, 'deployment', name
           FROM deployments
           WHERE job_json IS NOT NULL AND status IN ('pending', 'starting', 'running', 'unknown')"""
    )
