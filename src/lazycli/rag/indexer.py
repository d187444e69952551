"""`build_index`: files → chunks per node group → embeddings → store → BM25 + vector snapshot.

Incremental: a file whose size and mtime match its manifest entry is skipped without being read;
one whose bytes hash the same is skipped after hashing; a changed file has its rows replaced
(chunks whose text is unchanged keep their stored vectors instead of being embedded again);
a file that is gone has its rows deleted.

Crash-safe (`kill -9` anywhere, then the same command, gives the clean result): one writer per
index (an flock held for the run); per batch the manifest entries are set pending, the batch's
sources are deleted from the store and re-added (so a replay never duplicates), and only then are
the entries marked done; the snapshot is rebuilt whenever it lags the store version; `.tmp*`
leftovers of an interrupted LanceDB write are removed while the lock is held.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lazycli.console import err_console, is_tty, note, options
from lazycli.errors import LzError
from lazycli.rag import backends, bm25, documents, manifest, snapshot
from lazycli.rag.bm25 import tokenize
from lazycli.rag.splitter import DEFAULT_GROUPS, Group, split

if TYPE_CHECKING:
    from lazycli.contracts import ChunkStore

CONFIG_VERSION = 1
BATCH_CHUNKS = 2048  # chunks per commit (plus `index_batch_files` files): embed batches sort well


@dataclass
class Summary:
    name: str
    files: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    embedded: int = 0
    reused_vectors: int = 0
    failed: list[dict] = field(default_factory=list)
    unsupported: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@contextmanager
def writer_lock(index_dir: Path, name: str):
    """One writer per index; the kernel drops the lock when its holder dies (even by kill -9)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LzError(
                f"index {name!r} is being written by another lz process", hint="wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)


def build_index(
    paths: list[Path],
    name: str,
    *,
    embed: str | None = None,
    groups: list[Group] | None = None,
    include=(),
    exclude=(),
    progress: bool = True,
    store: str | None = None,
    ocr: str | None = None,
) -> dict:
    """Build or update index `name` from `paths`; returns a summary dict (files, chunks, skipped…)."""
    started = time.monotonic()
    manifest.check_name(name)
    groups = list(groups or DEFAULT_GROUPS)
    if len({g.name for g in groups}) != len(groups):
        raise LzError("node group names must be unique", hint="give each --group its own NAME")
    choice = backends.choose_embedder(embed)
    loaders = backends.loaders_by_extension()
    if ocr is not None:  # images and scanned PDF pages through an OCR deployment (lazycli.media)
        from lazycli.media.ocr_loaders import loaders as ocr_loaders

        loaders = {**loaders, **ocr_loaders(ocr or None)}
    found = documents.scan([Path(p) for p in paths], loaders, include, exclude)
    index_dir = manifest.index_dir(name)
    summary = Summary(name=name, unsupported=len(found.unsupported))
    if store is None:  # an update keeps the store the index was built with
        known = manifest.get(name)
        store = (known or {}).get("store") or backends.default_store()
    backends.store_record(store)  # one lz cannot open is refused before the index folder exists
    new_index = not index_dir.exists()
    with writer_lock(index_dir, name):
        st = _open_store(index_dir, store, remove_on_failure=new_index)
        freed = st.clean_temp()
        if freed:
            note(f"removed {freed / 1e6:.1f} MB left by an interrupted write")
        config = {"version": CONFIG_VERSION, "embed": choice.identity, "store": store,
                  "groups": [g.as_dict() for g in groups]}  # fmt: skip
        if ocr is not None:  # turning OCR on re-reads files it would have found no text in
            config["ocr"] = ocr or "default"
        st = _reset_if_config_changed(name, config, st, index_dir, summary, store)
        roots = [str(Path(p).expanduser().resolve()) for p in paths]
        manifest.upsert(name, path=index_dir, store=store, embed=choice.identity, config=config, roots=roots)
        run = _Run(name, st, groups, choice, loaders, summary, progress)
        run.apply(found.files)
        if run.changed or _snapshot_stale(index_dir, st):
            if run.changed:
                st.compact()
            snapshot.save(snapshot.build(st), index_dir, st.fingerprint())
        entries = manifest.files(name)
        bm25.prepare_query_cutter()
        summary.files = len(entries)
        summary.chunks = st.count()
        manifest.set_totals(name, summary.files, summary.chunks)
    summary.seconds = round(time.monotonic() - started, 3)
    return summary.as_dict()


def _open_store(index_dir: Path, store: str, *, remove_on_failure: bool) -> ChunkStore:
    """The index's store; a plugin that cannot give one (a missing method, a failing opener) leaves
    no folder behind for an index this run was about to create."""
    try:
        return backends.open_store(index_dir / "store", store)
    except LzError:
        if remove_on_failure:
            shutil.rmtree(index_dir, ignore_errors=True)
        raise


def _snapshot_stale(index_dir: Path, st) -> bool:
    """Behind the store, or saved by an lz that kept no result rows / store fingerprint (then
    every query would open the store): rebuilt even when no file changed."""
    snap = snapshot.load(index_dir)
    if snap is None or snap.version != st.version() or snap.rows is None:
        return True
    return snap.fingerprint != st.fingerprint()


def _reset_if_config_changed(name, config, st, index_dir, summary, store_name):
    row = manifest.get(name)
    if row is None or row["config"] == config:
        return st
    note(f"index {name!r}: embedder, store or node groups changed; rebuilding it from scratch")
    manifest.forget_all(name)  # first: a kill from here on leaves nothing marked complete
    st.drop()
    snapshot.clean_old(index_dir, keep=None)
    (index_dir / snapshot.POINTER).unlink(missing_ok=True)
    summary.rebuilt = True
    return backends.open_store(index_dir / "store", store_name)


class _Run:
    """One indexing pass: plan from the manifest, then delete, then add in batches."""

    def __init__(self, name, st, groups, choice, loaders, summary, progress):
        self.name = name
        self.store = st
        self.groups = groups
        self.choice = choice
        self.loaders = loaders
        self.summary = summary
        self.show_progress = (
            progress and not options.quiet and not options.json and is_tty(err_console().file)
        )
        self.changed = False
        self._embedder = None
        from lazycli import settings

        self.batch_files = settings.get().index_batch_files

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = backends.embedder(backends.spec_of(self.choice.identity))
        return self._embedder

    def apply(self, files: dict[str, Path]) -> None:
        known = self._reconcile(manifest.files(self.name))
        gone = sorted(set(known) - set(files))
        if gone:
            self.store.delete_sources(gone)
            manifest.forget(self.name, gone)
            self.summary.deleted = len(gone)
            self.changed = True
        todo, fresh_stats = self._plan(files, known)
        if fresh_stats:  # touched but identical files: remember the new mtime, nothing else
            manifest.mark_done(self.name, fresh_stats)
        if todo:
            self.changed = True
            self._index(todo, known)

    def _reconcile(self, known: dict) -> dict:
        """Check the store against the manifest (one row count); on a mismatch, redo the files
        whose row counts differ and drop rows of files the manifest does not know."""
        expected = sum(e.chunks for e in known.values() if e.hash)
        if self.store.count() == expected:
            return known
        from collections import Counter

        table = self.store.scan(["source"])
        counts = Counter(table.column("source").to_pylist()) if table is not None else Counter()
        strays = [s for s in counts if s not in known]
        wrong = [s for s, e in known.items() if e.hash and counts.get(s, 0) != e.chunks]
        if not strays and not wrong:  # only pending files (a cut-short run): redone anyway
            return known
        note(f"index {self.name!r}: {len(strays) + len(wrong)} files disagree with the store; redoing them")
        self.store.delete_sources(strays + wrong)
        manifest.mark_pending(self.name, wrong)
        self.changed = True
        return manifest.files(self.name)

    def _plan(
        self, files: dict[str, Path], known: dict
    ) -> tuple[list[tuple[str, Path, str, os.stat_result]], dict]:
        todo, fresh = [], {}
        for source, path in files.items():
            try:
                stat = path.stat()
                entry = known.get(source)
                if entry and entry.hash and entry.size == stat.st_size and entry.mtime_ns == stat.st_mtime_ns:
                    self.summary.unchanged += 1
                    continue
                digest = documents.file_hash(path)
            except OSError as exc:  # unreadable or gone: skip it, index the others
                self._skip(source, exc.strerror or str(exc))
                continue
            if entry and entry.hash == digest:
                fresh[source] = manifest.FileEntry(digest, stat.st_size, stat.st_mtime_ns, entry.chunks)
                self.summary.unchanged += 1
                continue
            todo.append((source, path, digest, stat))
        return todo, fresh

    def _index(self, todo, known) -> None:
        with self._progress(len(todo)) as advance:
            batch: list = []
            rows_in_batch = 0
            for item in todo:
                rows = self._chunk_file(item)
                if rows is None:
                    advance(1)
                    continue
                batch.append((item, rows))
                rows_in_batch += len(rows)
                if len(batch) >= self.batch_files or rows_in_batch >= BATCH_CHUNKS:
                    self._commit(batch, known)
                    advance(len(batch))
                    batch, rows_in_batch = [], 0
            if batch:
                self._commit(batch, known)
                advance(len(batch))

    def _chunk_file(self, item) -> list[dict] | None:
        source, path, digest, _stat = item
        loader = self.loaders[path.suffix.lower()]
        try:
            segments = list(loader.load(path))
        except LzError as exc:
            return self._skip(source, exc.message)
        except (OSError, UnicodeError, ValueError) as exc:
            return self._skip(source, f"{type(exc).__name__}: {exc}")
        if _looks_binary("".join(text for text, _ in segments)):
            return self._skip(source, "binary data, not text")
        rows = []
        for group in self.groups:
            seq = 0
            for segment_no, (text, meta) in enumerate(segments):
                for start, end in split(text, group.size, group.overlap):
                    chunk = text[start:end].strip()
                    rows.append(
                        {
                            "id": documents.text_hash(f"{source}\0{digest}\0{group.name}\0{seq}"),
                            "source": source,
                            "file_hash": digest,
                            "group": group.name,
                            "seq": seq,
                            "segment": segment_no,
                            "start": start,
                            "end": end,
                            "meta": json.dumps(meta or {}, ensure_ascii=False),
                            "text": chunk,
                            "text_hash": documents.text_hash(chunk),
                            "tokens": " ".join(tokenize(chunk)),
                        }
                    )
                    seq += 1
        return rows

    def _skip(self, source: str, why: str) -> None:
        """Record and show a file that could not be indexed; the run goes on with the others."""
        self.summary.failed.append({"source": source, "error": why})
        _warn(source, why)

    def _commit(self, batch, known) -> None:
        sources = [item[0] for item, _ in batch]
        rows = [row for _, file_rows in batch for row in file_rows]
        vectors = self._vectors(rows, [s for s in sources if s in known])
        manifest.mark_pending(self.name, sources)
        # A source can only have rows if it had a manifest entry (entries are made pending before
        # any row is written), so brand-new files skip the delete, which scans the whole table.
        self.store.delete_sources([s for s in sources if s in known])
        if rows:
            self.store.add(_to_arrow(rows, vectors))
        done = {}
        for (source, _path, digest, stat), file_rows in batch:
            done[source] = manifest.FileEntry(digest, stat.st_size, stat.st_mtime_ns, len(file_rows))
            if source in known:
                self.summary.updated += 1
            else:
                self.summary.added += 1
        manifest.mark_done(self.name, done)
        # `lz index info` shows what is committed (and searchable) even if this run is cut short.
        entries = manifest.files(self.name)
        manifest.set_totals(self.name, sum(1 for e in entries.values() if e.hash), self.store.count())

    def _vectors(self, rows: list[dict], old_sources: list[str]):
        import numpy as np

        if not rows:  # only empty files in this batch: nothing to embed
            return np.zeros((0, 0), dtype=np.float32)
        reuse = {}
        if old_sources:
            for old in self.store.rows_for_sources(old_sources, ["group", "text_hash", "vector"]):
                reuse[(old["group"], old["text_hash"])] = old["vector"]
        need = [i for i, r in enumerate(rows) if (r["group"], r["text_hash"]) not in reuse]
        # An embedder may answer with lists (the contract asks for a 2-D array-like): one array here.
        fresh = (
            np.asarray(self.embedder.embed([rows[i]["text"] for i in need]), dtype=np.float32)
            if need
            else None
        )
        dim = fresh.shape[1] if fresh is not None else len(next(iter(reuse.values())))
        out = np.zeros((len(rows), dim), dtype=np.float32)
        if fresh is not None:
            out[need] = fresh
        for i, r in enumerate(rows):
            key = (r["group"], r["text_hash"])
            if key in reuse:
                out[i] = reuse[key]
        self.summary.embedded += len(need)
        self.summary.reused_vectors += len(rows) - len(need)
        return out

    @contextmanager
    def _progress(self, total: int):
        if not self.show_progress:
            yield lambda n: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("files"))
        with Progress(*columns, TimeElapsedColumn(), console=err_console(), transient=True) as bar:
            task = bar.add_task("index", total=total)
            yield lambda n: bar.advance(task, n)


BINARY_SHARE = 0.1  # more undecodable or control characters than this: not text


def _looks_binary(text: str) -> bool:
    """Random bytes decoded leniently: mostly U+FFFD and control characters (tabs/newlines aside)."""
    sample = text[:20000]
    if not sample:
        return False
    odd = sum(1 for ch in sample if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f"))
    return odd / len(sample) > BINARY_SHARE


def _warn(source: str, why: str) -> None:
    from rich.markup import escape

    note(f"[yellow]skipped {escape(source)}: {escape(why)}[/yellow]")


def _to_arrow(rows: list[dict], vectors):
    import pyarrow as pa

    columns = {key: [r[key] for r in rows] for key in rows[0]}
    table = pa.table(
        {
            **{
                k: pa.array(v, type=pa.int32())
                for k, v in columns.items()
                if k in ("seq", "segment", "start", "end")
            },
            **{
                k: pa.array(v, type=pa.string())
                for k, v in columns.items()
                if k not in ("seq", "segment", "start", "end")
            },
        }
    )
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    return table.append_column("vector", pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]))
