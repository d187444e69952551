"""kill -9 at several points of `lz index`, then the same command again: exactly the clean index."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.rag import helpers

pytestmark = [pytest.mark.slow, pytest.mark.integration]

FILES = 24
ARGS = ["--group", "fine:24:4", "--group", "coarse:96:10"]


def _start(docs: Path, env: dict) -> subprocess.Popen:
    argv = [sys.executable, "-m", "lazycli", "index", str(docs), "--name", "kb", *ARGS, "--json"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _done_files(home: Path) -> int:
    db = home / "data" / "state.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM index_files WHERE hash IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


def _kill_when(proc: subprocess.Popen, home: Path, files_done: int, extra_delay: float) -> bool:
    """kill -9 once `files_done` files are committed (+ a delay); False if it finished first."""
    deadline = time.monotonic() + 300
    while _done_files(home) < files_done:
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    time.sleep(extra_delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def test_kill_9_at_several_points_then_rerun_equals_clean_build(tmp_path, lz_home):
    docs = helpers.many_files(tmp_path / "docs", FILES)
    env = dict(os.environ, LAZYCLI_HOME=str(lz_home), LAZYCLI_INDEX_BATCH_FILES="4")
    kills = 0
    # During a LanceDB write of the second batch; mid-way; right after the last file (compaction and
    # search-data build).
    for files_done, delay in ((4, 0.05), (FILES // 2, 0.2), (FILES, 0.0)):
        proc = _start(docs, env)
        killed = _kill_when(proc, lz_home, files_done, delay)
        kills += killed
        proc.stdout.close()
        proc.stderr.close()
        if killed and files_done == FILES // 2:
            _info_shows_the_committed_part(env, _done_files(lz_home))
    assert kills >= 2, "the runs finished before they could be killed: the test proves nothing"

    final = subprocess.run(
        [sys.executable, "-m", "lazycli", "index", str(docs), "--name", "kb", *ARGS, "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert not list((lz_home / "data" / "indexes" / "kb").rglob(".tmp*"))
    resumed = helpers.rows("kb")
    assert len(resumed) == len(set(resumed))  # no duplicates

    # The clean build runs in this process, under another home, from the same files.
    from lazycli.rag import build_index, retrieve
    from lazycli.rag.splitter import parse_group

    groups = [parse_group(g) for g in ARGS[1::2]]
    os.environ["LAZYCLI_HOME"] = str(tmp_path / "clean_home")
    try:
        build_index([docs], "kb", groups=groups, progress=False)
        assert helpers.rows("kb") == resumed  # nothing lost, nothing extra
    finally:
        os.environ["LAZYCLI_HOME"] = str(lz_home)
    hits = retrieve("kb", "waggle dance", retrievers=("bm25",))
    assert hits and "waggle" in hits[0]["text"]


def _info_shows_the_committed_part(env: dict, committed: int) -> None:
    """After a kill, `lz index info` counts what is committed, and that part is searchable."""
    import json

    def lz(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "lazycli", *args], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    info = lz("index", "info", "kb", "--json")
    assert committed > 0 and info["files"] == committed and info["chunks"] > 0
    hits = lz("rag", "--index", "kb", "--retrieve-only", "--json", "Note")["results"]
    assert hits
