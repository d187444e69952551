"""Reading an index back for comparisons (rows as the store holds them)."""

from __future__ import annotations

from pathlib import Path

from tests.rag import corpus


def rows(name: str) -> list[tuple]:
    """Every stored chunk as (source, group, seq, text, id), sorted: the index's content."""
    from lazycli.rag import backends, manifest

    row = manifest.require(name)
    table = backends.open_store(Path(row["path"]) / "store").scan(["source", "group", "seq", "text", "id"])
    return sorted(tuple(r.values()) for r in table.to_pylist())


def vectors(name: str) -> dict[str, list[float]]:
    from lazycli.rag import backends, manifest

    row = manifest.require(name)
    table = backends.open_store(Path(row["path"]) / "store").scan(["id", "vector"])
    return {r["id"]: r["vector"] for r in table.to_pylist()}


def many_files(root: Path, count: int, parts: int = 1) -> Path:
    """`count` files of real sentences (`parts` corpus texts each, rotated and numbered)."""
    root.mkdir(parents=True, exist_ok=True)
    texts = list(corpus.DOCS.values())
    for i in range(count):
        body = " ".join(texts[(i + j) % len(texts)] for j in range(parts))
        (root / f"note_{i:03d}.txt").write_text(f"Note {i}. {body}\n", encoding="utf-8")
    return root
