"""Local embedding and reranking with sentence-transformers (CPU by default).

`sentence-transformers` embeds with a bi-encoder (default: the bundled all-MiniLM-L6-v2);
`cross-encoder` reranks with a local cross-encoder model directory. torch and
sentence_transformers are imported only when a model is loaded.
"""

from __future__ import annotations

from lazycli.hookspecs import EmbedderSpec, RerankerSpec, hookimpl


def _embedder(model, options=None):
    from lazycli_plugins.sentence_transformers.backend import LocalEmbedder

    return LocalEmbedder(model, options or {})


def _reranker(model, options=None):
    from lazycli_plugins.sentence_transformers.backend import LocalReranker

    return LocalReranker(model, options or {})


@hookimpl
def lazycli_embedders():
    yield EmbedderSpec("sentence-transformers", _embedder, "local bi-encoder (default all-MiniLM-L6-v2)")


@hookimpl
def lazycli_rerankers():
    yield RerankerSpec("cross-encoder", _reranker, "local cross-encoder model directory")
