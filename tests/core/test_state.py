"""The state database: migrations once, WAL, safe with several processes at once."""

from __future__ import annotations

import subprocess
import sys

from lazycli import state


def test_migrations_apply_once(lz_home):
    with state.reading() as db:
        names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert names == [name for name, _ in state.MIGRATIONS]
    with state.reading() as db:  # reconnecting applies nothing new
        assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == names


def test_transaction_rolls_back_on_error(lz_home):
    state.set_meta("k", "before")
    try:
        with state.transaction() as db:
            db.execute("UPDATE meta SET value = 'after' WHERE key = 'k'")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert state.get_meta("k") == "before"


WRITER = """
import sys
from lazycli import state
for i in range(50):
    with state.transaction() as db:
        value = int((db.execute("SELECT value FROM meta WHERE key='n'").fetchone() or ['0'])[0])
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('n', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(value + 1),),
        )
"""


def test_concurrent_processes_do_not_lose_writes(lz_home):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER]) for _ in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert state.get_meta("n") == "200"
