"""The retrieval snapshot: what queries read, built from the store after each indexing run.

Per node group: the group's vectors as one float32 matrix (exact cosine search is one mat-vec,
~10–25 ms at 100k × 384 on this CPU, with recall 1.0, so no ANN index to tune), the BM25 index over
the tokens stored with each chunk, and the store offsets of the group's rows (results are fetched
by offset). A snapshot is tied to the store version it was built from: a directory
`snapshot-<version>` plus a pointer file written last, atomically. A query that finds the pointer
behind the store (a run was killed after its store commit) builds a fresh snapshot in memory.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lazycli.fsutil import atomic_write_text
from lazycli.rag.bm25 import BM25

POINTER = "snapshot.json"


@dataclass
class GroupData:
    offsets: np.ndarray  # store offsets of this group's rows, in snapshot order
    vectors: np.ndarray | None  # unit vectors (rows aligned with offsets)
    bm25: BM25


@dataclass
class Snapshot:
    version: int
    groups: dict[str, GroupData]

    @property
    def chunks(self) -> int:
        return sum(len(g.offsets) for g in self.groups.values())


def build(store) -> Snapshot:
    """Read groups, tokens and vectors from the store and build every group's search data."""
    version = store.version()
    table = store.scan(["group", "tokens", "vector"])
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
        bm25 = BM25.build([tokens[i].split() for i in offsets.tolist()])
        out[name] = GroupData(offsets=offsets, vectors=np.ascontiguousarray(vectors[offsets]), bm25=bm25)
    return Snapshot(version, out)


def save(snap: Snapshot, index_dir: Path) -> None:
    """Write `snapshot-<version>/`, then the pointer, then remove older snapshot dirs."""
    target = index_dir / f"snapshot-{snap.version}"
    shutil.rmtree(target, ignore_errors=True)
    for name, group in snap.groups.items():
        gdir = target / name
        gdir.mkdir(parents=True, exist_ok=True)
        np.save(gdir / "offsets.npy", group.offsets)
        np.save(gdir / "vectors.npy", group.vectors)
        group.bm25.save(gdir / "bm25")
    target.mkdir(parents=True, exist_ok=True)
    pointer = {"version": snap.version, "dir": target.name, "groups": sorted(snap.groups)}
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
            groups[name] = GroupData(
                offsets=np.load(gdir / "offsets.npy"),
                vectors=np.load(gdir / "vectors.npy", mmap_mode="r"),
                bm25=BM25.load(gdir / "bm25"),
            )
    except FileNotFoundError:
        return None
    return Snapshot(pointer["version"], groups)


def current(store, index_dir: Path) -> tuple[Snapshot, bool]:
    """(snapshot matching the store, whether it had to be rebuilt in memory)."""
    snap = load(index_dir)
    if snap is not None and snap.version == store.version():
        return snap, False
    return build(store), True
