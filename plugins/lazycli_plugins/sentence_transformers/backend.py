"""The sentence-transformers models behind the plugin records (heavy imports live here)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _threads() -> None:
    # torch defaults to every core; on a shared box that thrashes. LAZYCLI_TORCH_THREADS wins.
    import torch

    wanted = os.environ.get("LAZYCLI_TORCH_THREADS")
    if wanted:
        torch.set_num_threads(max(1, int(wanted)))


def _quiet_transformers() -> None:
    # transformers draws a "Loading weights" bar on stderr for every model load; lz has its own.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass


class LocalEmbedder:
    """`embed(texts)` → unit-length float32 vectors (so cosine similarity is a dot product)."""

    def __init__(self, model: str | Path, options: dict[str, Any]):
        _quiet_transformers()
        from sentence_transformers import SentenceTransformer

        _threads()
        self.model_path = str(model)
        self.model = SentenceTransformer(self.model_path, device=options.get("device", "cpu"))
        self.batch_size = int(options.get("batch_size", 32))
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.max_tokens = int(self.model.max_seq_length)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


class LocalReranker:
    """`rerank(query, texts)` → one relevance score per text (higher is better)."""

    def __init__(self, model: str | Path, options: dict[str, Any]):
        _quiet_transformers()
        from sentence_transformers import CrossEncoder

        _threads()
        self.model = CrossEncoder(str(model), device=options.get("device", "cpu"))

    def rerank(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        scores = self.model.predict([(query, t) for t in texts], convert_to_numpy=True)
        return [float(s) for s in np.asarray(scores).reshape(-1)]
