"""Fixtures for the RAG tests: a corpus index built once per module in its own LAZYCLI_HOME."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.rag import corpus


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """The test corpus indexed as "kb" with the default node groups and the bundled embedder."""
    from lazycli.rag import build_index

    home = tmp_path_factory.mktemp("kbhome")
    docs = corpus.write(tmp_path_factory.mktemp("kbdocs"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAZYCLI_HOME", str(home))
        summary = build_index([docs], "kb", progress=False)
    return SimpleNamespace(home=home, docs=docs, summary=summary)


@pytest.fixture
def in_kb(kb, lz_home, monkeypatch):
    """Run this test inside the module's index home (after the per-test home was set up)."""
    monkeypatch.setenv("LAZYCLI_HOME", str(kb.home))
    return kb
