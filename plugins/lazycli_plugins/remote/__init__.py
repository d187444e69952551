"""Embedding and reranking over a deployment or an online provider.

The target is anything `lz chat` accepts (a deployment name, `provider[:model]`, an http(s) URL);
`lazycli.targets` reads it (`require`) and opens its client (`open_target`), whose `embed` /
`rerank` methods do the requests. Nothing heavy is imported here.
"""

from __future__ import annotations

from lazycli.hookspecs import EmbedderSpec, RerankerSpec, hookimpl


def _connect(target: str):
    """The client for `target` and the model to name in embed/rerank requests.

    `provider:model` → that model; a bare provider → None, so the provider's default embedding or
    rerank model is used (its chat default would be wrong); a URL or deployment serves one model:
    the client's.
    """
    from lazycli import catalog
    from lazycli.targets import ProviderTarget, open_target, require

    with catalog.reading():
        parsed = require(target)
        client = open_target(parsed, start=True)  # `--embed/--rerank MODEL` asks for it to run
    return client, parsed.model if isinstance(parsed, ProviderTarget) else client.model


class RemoteEmbedder:
    batch_size = 64

    def __init__(self, target: str, options=None):
        self.target = target
        self.client, self.model_name = _connect(target)
        self.dim = None
        self.max_tokens = None

    def embed(self, texts):
        import numpy as np

        out = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self.client.embed(list(texts[start : start + self.batch_size]), model=self.model_name))
        vectors = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        # Providers differ on normalisation; unit length keeps cosine a dot product everywhere.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        self.dim = vectors.shape[1] if len(texts) else self.dim
        return vectors


class RemoteReranker:
    def __init__(self, target: str, options=None):
        self.target = target
        self.client, self.model_name = _connect(target)

    def rerank(self, query, texts):
        if not texts:
            return []
        return [float(s) for s in self.client.rerank(query, list(texts), model=self.model_name)]


@hookimpl
def lazycli_embedders():
    yield EmbedderSpec("remote", RemoteEmbedder, "a deployment or provider:model through lazycli.client")


@hookimpl
def lazycli_rerankers():
    yield RerankerSpec("remote", RemoteReranker, "a deployment or provider's rerank through lazycli.client")
