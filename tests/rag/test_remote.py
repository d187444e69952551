"""Embedding and reranking through a served model: lz's embed server (the real process, serving the
bundled all-MiniLM-L6-v2 on 127.0.0.1) reached by URL through `lazycli.client`."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from lazycli.fsutil import free_port
from tests.rag import corpus, helpers

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def embed_url(tmp_path_factory):
    from lazycli.catalog import resolve

    port = free_port()
    log_path = tmp_path_factory.mktemp("embed") / "server.log"
    model = str(resolve("all-minilm-l6-v2").path)
    argv = [sys.executable, "-m", "lazycli_plugins.embed.server", "--model", model, "--served-name", "minilm"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--threads", "1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"embed server did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_remote_embedder_matches_local_and_remote_rerank(tmp_path, lz_home, embed_url):
    from lazycli.rag import build_index, retrieve
    from lazycli.rag.splitter import make_group

    docs = corpus.write(tmp_path / "docs")
    groups = [make_group("one", 200, 20)]
    remote = build_index([docs], "remote", embed=embed_url, groups=groups, progress=False)
    local = build_index([docs], "local", groups=groups, progress=False)
    assert remote["embedded"] == local["embedded"] == len(corpus.DOCS)
    # Same model behind the URL: the vectors agree with in-process ones.
    r_vec, l_vec = helpers.vectors("remote"), helpers.vectors("local")
    for key, vec in l_vec.items():
        assert np.allclose(vec, r_vec[key], atol=1e-3)
    hits = retrieve("remote", "What happens to coffee beans during a dark roast?", topk=3)
    assert hits[0]["file"] == "coffee.txt"

    reranked = retrieve("local", "honeybee waggle dance", rerank=embed_url, topk=3)
    assert reranked[0]["file"] == "bees.md"
    assert all("fusion_score" in r for r in reranked)
    assert [r["score"] for r in reranked] == sorted((r["score"] for r in reranked), reverse=True)
