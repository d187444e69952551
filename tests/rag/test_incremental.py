"""Incremental updates: unchanged files cost nothing; edits, additions and deletions are applied,
and the result equals a clean build of the same files."""

from __future__ import annotations

import os

import pytest

from lazycli.rag import build_index, retrieve
from lazycli.rag.splitter import make_group
from tests.rag import corpus, helpers

pytestmark = pytest.mark.slow

GROUPS = [make_group("small", 40, 6), make_group("big", 120, 12)]


def _build(docs, name="inc"):
    return build_index([docs], name, groups=GROUPS, progress=False)


def test_edit_add_delete_then_equal_to_clean_build(tmp_path, lz_home):
    docs = corpus.write(tmp_path / "docs")
    first = _build(docs)
    assert first["added"] == len(corpus.DOCS) and first["embedded"] == first["chunks"] > 2 * len(corpus.DOCS)

    again = _build(docs)
    assert (
        again["unchanged"] == len(corpus.DOCS)
        and again["embedded"] == 0
        and again["chunks"] == first["chunks"]
    )

    # Touched but identical: hashed, not re-embedded.
    os.utime(docs / "tides.txt", ns=(1, 1))
    touched = _build(docs)
    assert touched["unchanged"] == len(corpus.DOCS) and touched["embedded"] == 0

    # Edit the end of a file: its earlier chunks keep their vectors.
    with open(docs / "coffee.txt", "a", encoding="utf-8") as fh:
        fh.write("Espresso machines force hot water through finely ground coffee at nine bars of pressure.\n")
    (docs / "glaciers.md").write_text(
        "# Glaciers\n\nA glacier is a persistent body of dense ice that moves under its own weight. "
        "Glaciers carve U-shaped valleys and leave moraines behind when they retreat.\n",
        encoding="utf-8",
    )
    (docs / "volcano.md").unlink()
    changed = _build(docs)
    assert (changed["added"], changed["updated"], changed["deleted"]) == (1, 1, 1)
    assert changed["reused_vectors"] > 0  # coffee.txt's unchanged sentences were not embedded again
    assert changed["unchanged"] == len(corpus.DOCS) - 2

    assert (
        retrieve("inc", "espresso pressure nine bars", retrievers=("bm25",), topk=1)[0]["file"]
        == "coffee.txt"
    )
    assert retrieve("inc", "U-shaped valleys moraines", topk=1)[0]["file"] == "glaciers.md"
    assert "volcano.md" not in {r["file"] for r in retrieve("inc", "Mount Etna Sicily volcano", topk=10)}

    # Rows carry absolute paths: the clean index is built from the same directory, under another name.
    incremental_rows = helpers.rows("inc")
    incremental_vectors = helpers.vectors("inc")
    _build(docs, name="clean")
    assert helpers.rows("clean") == incremental_rows
    clean_vectors = helpers.vectors("clean")
    assert clean_vectors.keys() == incremental_vectors.keys()
    for key, vec in clean_vectors.items():  # reused vectors equal freshly computed ones
        assert max(abs(a - b) for a, b in zip(vec, incremental_vectors[key], strict=True)) < 1e-4


def test_changed_groups_rebuild_and_cli_ls_info_rm(tmp_path, lz_home):
    from tests.conftest import lz

    docs = corpus.write(tmp_path / "docs")
    _build(docs)
    rebuilt = build_index([docs], "inc", groups=[make_group("only", 64, 8)], progress=False)
    assert rebuilt["rebuilt"] and {r[1] for r in helpers.rows("inc")} == {"only"}

    listed = lz("index", "ls", "--json", check=0)
    assert '"name": "inc"' in listed.stdout and '"only:64:8"' in listed.stdout
    info = lz("index", "info", "inc", "--files", "--json", check=0)
    assert '"pending": []' in info.stdout and "tides.txt" in info.stdout
    lz("index", "rm", "inc", check=0)
    gone = lz("index", "info", "inc")
    assert gone.returncode == 2 and "unknown index 'inc'" in gone.stderr


def test_rows_the_manifest_does_not_account_for_are_repaired(tmp_path, lz_home):
    """A store changed behind lz's back (a duplicate row, a row of an unknown file) is put right."""
    from pathlib import Path

    import pyarrow as pa

    from lazycli.rag import backends, manifest

    docs = corpus.write(tmp_path / "docs")
    _build(docs)
    before = helpers.rows("inc")
    store = backends.open_store(Path(manifest.require("inc")["path"]) / "store")
    table = store.scan(store.table().schema.names)
    where = table.schema.get_field_index("source")
    stray = table.slice(0, 1).set_column(where, "source", pa.array(["/nowhere/ghost.txt"]))
    store.add(pa.concat_tables([table.slice(3, 1), stray]))
    again = _build(docs)
    assert again["updated"] == 1 and helpers.rows("inc") == before
