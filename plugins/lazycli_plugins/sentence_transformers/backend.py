"""The sentence-transformers models behind the plugin records (heavy imports live here)."""

from __future__ import annotations

import contextlib
import json
import os
import re
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


# A batch this small is a query (or a handful): the numpy encoder answers it in milliseconds
# without importing torch; bigger batches (indexing) go to sentence-transformers' batched forward.
SMALL_BATCH = 8


# English-only sentence models, by name (the model directory or the checkpoint it was trained
# from): retrieval gives their vectors no vote on Chinese queries. Anything else is assumed to be
# multilingual, which only keeps the old behaviour.
_ENGLISH_ONLY = re.compile(
    r"all[-_]minilm|all[-_]mpnet|minilm-l\d+-h\d+-uncased|bge-(small|base|large)-en|-en-v", re.I
)


def _languages(model_path: str) -> tuple[str, ...] | None:
    names = [model_path]
    with contextlib.suppress(OSError, ValueError):
        names.append(json.loads((Path(model_path) / "config.json").read_text()).get("_name_or_path") or "")
    return ("en",) if any(_ENGLISH_ONLY.search(n) for n in names) else None


class LocalEmbedder:
    """`embed(texts)` → unit-length float32 vectors (so cosine similarity is a dot product).

    Two engines compute the same vectors (to ~1e-6): `numpy_bert` for small batches when the model
    is a plain BERT sentence model (the bundled all-MiniLM-L6-v2 is), and sentence-transformers on
    torch for everything else. Each is loaded on first use, so a query never imports torch.
    """

    def __init__(self, model: str | Path, options: dict[str, Any]):
        from lazycli_plugins.sentence_transformers import numpy_bert

        self.model_path = str(model)
        self.options = options
        self.batch_size = int(options.get("batch_size", 32))
        self._torch_model = None
        self._numpy_model = None
        self.languages = _languages(self.model_path)
        self.numpy_ok = bool(options.get("numpy", True)) and numpy_bert.supports(self.model_path)
        if self.numpy_ok:
            self.dim, self.max_tokens = numpy_bert.shape(self.model_path)
        else:
            model = self.torch_model
            self.dim = int(
                (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
            )
            self.max_tokens = int(model.max_seq_length)

    @property
    def torch_model(self):
        if self._torch_model is None:
            _quiet_transformers()
            from sentence_transformers import SentenceTransformer

            _threads()
            self._torch_model = SentenceTransformer(self.model_path, device=self.options.get("device", "cpu"))
        return self._torch_model

    @property
    def numpy_model(self):
        if self._numpy_model is None:
            from lazycli_plugins.sentence_transformers.numpy_bert import NumpyBert

            self._numpy_model = NumpyBert(self.model_path)
        return self._numpy_model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.numpy_ok and len(texts) <= SMALL_BATCH:
            return self.numpy_model.embed(list(texts))
        vectors = self.torch_model.encode(
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
