"""The retrieval snapshot: what queries read, built from the store after each indexing run.

Per node group: the group's vectors as one float32 matrix, the BM25 index over the tokens stored
with each chunk, and the store offsets of the group's rows (results are fetched by offset).
Cosine search is exact (one mat-vec) for groups under IVF_MIN_ROWS rows. Larger groups get an
IVF partition (spherical k-means, √N lists, rows stored list by list): a query scores the
centroids, scans the best PROBE_FRACTION of the lists exactly, and so reads ~25% of the matrix. A
mat-vec over 100k × 384 floats reads 150 MB and is memory-bound (60–80 ms on this shared CPU);
the benchmark reports the IVF's recall@10 against the exact scan.

The snapshot also keeps what a result shows (source, group, positions, meta, text) as one JSON
record per store row in `rows.bin`, located by `rows.npy` offsets and read through a memory map:
a query then never opens the store, so a fresh `lz rag` process does not import lancedb/pyarrow
(about a second on this CPU). That doubles the text on disk, not the vectors.

A snapshot is tied to the store version it was built from: a directory `snapshot-<version>` plus
a pointer file written last, atomically. The pointer also records the store's `fingerprint()`
(a cheap look at its files, where the store offers one), so a query can tell that the snapshot
is current without opening the store. A query that finds the pointer behind the store (an update
is running, or a run was killed after its store commit) reads the store as of the snapshot's
version; if that version is gone, it builds a fresh snapshot in memory.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lazycli.fsutil import atomic_write_text
from lazycli.rag.bm25 import BM25

if TYPE_CHECKING:
    from lazycli.contracts import ChunkStore

POINTER = "snapshot.json"
ROW_COLUMNS = ["source", "group", "segment", "start", "end", "meta", "text"]


IVF_MIN_ROWS = 20_000
PROBE_FRACTION = 0.25
KMEANS_ITERATIONS = 8
KMEANS_SAMPLE_PER_LIST = 64


@dataclass
class IVF:
    centroids: np.ndarray  # (lists, dim) unit vectors
    bounds: np.ndarray  # (lists + 1,) row ranges: list i holds rows bounds[i]:bounds[i+1]

    def probe(self, query: np.ndarray) -> list[tuple[int, int]]:
        """Row ranges of the lists nearest to the query."""
        n = max(1, int(np.ceil(len(self.centroids) * PROBE_FRACTION)))
        scores = self.centroids @ query
        best = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        return [(int(self.bounds[i]), int(self.bounds[i + 1])) for i in sorted(best.tolist())]


@dataclass
class GroupData:
    offsets: np.ndarray  # store offsets of this group's rows, in snapshot order
    vectors: np.ndarray | None  # unit vectors (rows aligned with offsets)
    bm25: BM25
    ivf: IVF | None = None


class Rows:
    """Result rows by store offset: JSON records in one byte buffer (a file map when loaded)."""

    def __init__(self, blob, bounds: np.ndarray):
        self.blob = blob
        self.bounds = bounds  # (rows + 1,) byte offsets

    @classmethod
    def from_table(cls, table) -> Rows:
        columns = {c: table.column(c).to_pylist() for c in ROW_COLUMNS}
        parts = [
            json.dumps({c: columns[c][i] for c in ROW_COLUMNS}, ensure_ascii=False).encode("utf-8")
            for i in range(table.num_rows)
        ]
        bounds = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=bounds[1:])
        return cls(b"".join(parts), bounds)

    def take(self, offsets: list[int]) -> list[dict]:
        return [json.loads(bytes(self.blob[self.bounds[o] : self.bounds[o + 1]])) for o in offsets]

    def save(self, directory: Path) -> None:
        (directory / "rows.bin").write_bytes(bytes(self.blob))
        np.save(directory / "rows.npy", self.bounds)

    @classmethod
    def load(cls, directory: Path) -> Rows | None:
        import mmap

        try:
            bounds = np.load(directory / "rows.npy")
            with open(directory / "rows.bin", "rb") as fh:
                blob = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if bounds[-1] else b""
        except FileNotFoundError:  # a snapshot written before rows were kept: the store serves them
            return None
        return cls(blob, bounds)


@dataclass
class Snapshot:
    version: int
    groups: dict[str, GroupData]
    rows: Rows | None = None
    fingerprint: str | None = None  # the store's fingerprint() when this snapshot was saved

    @property
    def chunks(self) -> int:
        return sum(len(g.offsets) for g in self.groups.values())

    def matches(self, store: ChunkStore) -> bool:
        """Whether the store still holds what this snapshot was built from (cheaply when it can)."""
        if self.fingerprint and store.fingerprint() == self.fingerprint:
            return True  # the fast path: the store is not even opened
        return self.version == store.version()

    @property
    def dim(self) -> int | None:
        for group in self.groups.values():
            if group.vectors is not None and group.vectors.ndim == 2:
                return int(group.vectors.shape[1])
        return None


def build(store) -> Snapshot:
    """Read groups, tokens and vectors from the store and build every group's search data."""
    version = store.version()
    table = store.scan(["tokens", "vector", *ROW_COLUMNS])
    if table is None or table.num_rows == 0:
        return Snapshot(version, {})
    groups = np.asarray(table.column("group").to_numpy(zero_copy_only=False))
    tokens = table.column("tokens").to_pylist()
    flat = table.column("vector").combine_chunks()
    dim = flat.type.list_size
    vectors = flat.flatten().to_numpy().reshape(-1, dim)
    out = {}
    for name in sorted(set(groups.tolist())):
        offsets = np.flatnonzero(groups == name)
        group_vectors = vectors[offsets]
        ivf = None
        if len(offsets) >= IVF_MIN_ROWS:
            order, ivf = _partition(group_vectors)
            offsets, group_vectors = offsets[order], group_vectors[order]
        bm25 = BM25.build([tokens[i].split() for i in offsets.tolist()])
        out[name] = GroupData(offsets, np.ascontiguousarray(group_vectors, dtype=np.float32), bm25, ivf)
    return Snapshot(version, out, Rows.from_table(table))


def _partition(vectors: np.ndarray) -> tuple[np.ndarray, IVF]:
    """Spherical k-means on a sample, every row assigned; returns (row order, IVF over that order)."""
    n = len(vectors)
    lists = max(16, int(np.sqrt(n)))
    rng = np.random.default_rng(0)  # deterministic: the same store gives the same snapshot
    sample = vectors[rng.choice(n, size=min(n, lists * KMEANS_SAMPLE_PER_LIST), replace=False)]
    centroids = sample[rng.choice(len(sample), size=lists, replace=False)].copy()
    for _ in range(KMEANS_ITERATIONS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        centroids = np.where(empty[:, None], centroids, sums / np.where(norms == 0, 1, norms))
    assign = np.concatenate(
        [np.argmax(vectors[i : i + 8192] @ centroids.T, axis=1) for i in range(0, n, 8192)]
    )
    order = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[order], np.arange(lists + 1))
    return order, IVF(centroids.astype(np.float32), bounds)


def save(snap: Snapshot, index_dir: Path, fingerprint: str | None = None) -> None:
    """Write `snapshot-<version>/`, then the pointer, then remove older snapshot dirs.

    `fingerprint`: the store's, taken with no writer running (the indexer holds its lock)."""
    target = index_dir / f"snapshot-{snap.version}"
    shutil.rmtree(target, ignore_errors=True)
    for name, group in snap.groups.items():
        gdir = target / name
        gdir.mkdir(parents=True, exist_ok=True)
        np.save(gdir / "offsets.npy", group.offsets)
        np.save(gdir / "vectors.npy", group.vectors)
        if group.ivf is not None:
            np.save(gdir / "centroids.npy", group.ivf.centroids)
            np.save(gdir / "bounds.npy", group.ivf.bounds)
        group.bm25.save(gdir / "bm25")
    target.mkdir(parents=True, exist_ok=True)
    if snap.rows is not None:
        snap.rows.save(target)
    pointer = {"version": snap.version, "dir": target.name, "groups": sorted(snap.groups)}
    if fingerprint:
        pointer["fingerprint"] = fingerprint
    atomic_write_text(index_dir / POINTER, json.dumps(pointer))
    clean_old(index_dir, keep=target.name)


def clean_old(index_dir: Path, keep: str | None) -> None:
    for old in index_dir.glob("snapshot-*"):
        if old.is_dir() and old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def load(index_dir: Path) -> Snapshot | None:
    """The saved snapshot, or None when there is none (vectors are memory-mapped, not read)."""
    try:
        pointer = json.loads((index_dir / POINTER).read_text())
    except (FileNotFoundError, ValueError):
        return None
    root = index_dir / pointer["dir"]
    groups = {}
    try:
        for name in pointer["groups"]:
            gdir = root / name
            ivf = None
            if (gdir / "centroids.npy").exists():
                ivf = IVF(np.load(gdir / "centroids.npy"), np.load(gdir / "bounds.npy"))
            groups[name] = GroupData(
                offsets=np.load(gdir / "offsets.npy"),
                # A plain ndarray view of the mapping: memmap slices carry per-call overhead.
                vectors=np.asarray(np.load(gdir / "vectors.npy", mmap_mode="r")),
                bm25=BM25.load(gdir / "bm25"),
                ivf=ivf,
            )
    except FileNotFoundError:
        return None
    return Snapshot(pointer["version"], groups, Rows.load(root), pointer.get("fingerprint"))


def current(store, index_dir: Path) -> tuple[Snapshot, bool]:
    """(snapshot matching the store, whether it had to be rebuilt in memory)."""
    snap = load(index_dir)
    if snap is not None and snap.matches(store):
        return snap, False
    return build(store), True
