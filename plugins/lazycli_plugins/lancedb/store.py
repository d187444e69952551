"""A LanceDB-backed chunk store with the methods `lazycli.rag` calls (indexer, snapshot, retrieval).

Writes are idempotent by source: the indexer deletes a file's rows before adding its new ones, so
replaying a batch after a crash never duplicates rows. A `kill -9` during a LanceDB write leaves
the table consistent (the manifest of the last committed version wins) but may leave `.tmp*`
files behind; `clean_temp()` removes them and is only called while the index lock is held.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

TABLE = "chunks"
KEEP_VERSIONS_MINUTES = 30


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_sources(sources: list[str]) -> str:
    return f"source IN ({', '.join(_quote(s) for s in sources)})"


class LanceStore:
    def __init__(self, path: Path, options: dict[str, Any]):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._connection = None
        self._table = None

    @property
    def _db(self):
        # lancedb (and pyarrow under it) cost ~1 s to import here: only when the table is touched.
        if self._connection is None:
            import lancedb

            self._connection = lancedb.connect(str(self.path))
        return self._connection

    # --- reading ---------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """The table's version manifests: every commit (add, delete, optimize, cleanup) writes or
        removes one, so equal fingerprints mean the same table. No lancedb import."""
        import hashlib

        versions = self.path / f"{TABLE}.lance" / "_versions"
        try:
            entries = sorted(os.scandir(versions), key=lambda e: e.name)
        except FileNotFoundError:
            entries = []
        # Size and mtime too: a table dropped and made again restarts at the same version names.
        listing = [f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}" for e in entries]
        return hashlib.blake2b("\n".join(listing).encode(), digest_size=12).hexdigest()

    def table(self):
        if self._table is None:
            try:
                self._table = self._db.open_table(TABLE)
            except (ValueError, FileNotFoundError):
                return None
        return self._table

    def checkout(self, version: int) -> bool:
        """Read the table as of `version` (the one a snapshot was built from); False if it is gone."""
        table = self.table()
        if table is None:
            return False
        try:
            table.checkout(version)
        except Exception:  # lance raises several types for a cleaned-up version
            return False
        return True

    def version(self) -> int:
        table = self.table()
        return 0 if table is None else int(table.version)

    def count(self) -> int:
        table = self.table()
        return 0 if table is None else table.count_rows()

    def scan(self, columns: list[str]):
        """Every row (in storage order, the order `take` offsets refer to) as a pyarrow Table."""
        table = self.table()
        if table is None:
            return None
        return table.search().select(columns).limit(None).to_arrow()

    def take(self, offsets: list[int], columns: list[str]) -> list[dict]:
        """Rows at these storage offsets, in the order asked for."""
        table = self.table()
        if table is None or not offsets:
            return []
        unique = sorted(set(offsets))
        cols = list(dict.fromkeys(["id", *columns]))
        got = table.take_offsets(unique).select(cols).to_arrow().to_pylist()
        # take_offsets answers in storage order; map back through the offsets asked for.
        by_offset = dict(zip(unique, got, strict=True))
        return [by_offset[o] for o in offsets]

    def rows_for_sources(self, sources: list[str], columns: list[str]) -> list[dict]:
        table = self.table()
        if table is None or not sources:
            return []
        return table.search().where(_in_sources(sources)).select(columns).limit(None).to_arrow().to_pylist()

    # --- writing ---------------------------------------------------------------------------

    def delete_sources(self, sources: list[str]) -> None:
        table = self.table()
        if table is None or not sources:
            return
        table.delete(_in_sources(sources))

    def add(self, rows) -> None:
        """Append rows (a pyarrow Table); the first add creates the table."""
        table = self.table()
        if table is None:
            self._table = self._db.create_table(TABLE, rows)
        else:
            table.add(rows)

    def compact(self) -> None:
        """Merge small fragments and drop old versions (many small adds slow every scan)."""
        table = self.table()
        if table is None:
            return
        import warnings
        from datetime import timedelta

        # Keep recent versions: a query may be reading the previous snapshot's version right now.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table.optimize(cleanup_older_than=timedelta(minutes=KEEP_VERSIONS_MINUTES))

    def clean_temp(self) -> int:
        """Remove `.tmp*` leftovers of interrupted writes; returns the bytes freed."""
        freed = 0
        for leftover in self.path.rglob(".tmp*"):
            try:
                if leftover.is_dir():
                    freed += sum(f.stat().st_size for f in leftover.rglob("*") if f.is_file())
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    freed += leftover.stat().st_size
                    leftover.unlink()
            except FileNotFoundError:
                continue
        return freed

    def drop(self) -> None:
        self._table = None
        self._connection = None
        shutil.rmtree(self.path, ignore_errors=True)
