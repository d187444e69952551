"""A BERT sentence encoder in numpy: the bundled all-MiniLM-L6-v2 without importing torch.

Why: a query needs one forward pass over ~20 tokens (a few ms), but importing torch and
sentence-transformers costs seconds in every fresh `lz rag` process. This module reads the same
model directory (safetensors weights, tokenizer.json, the sentence-transformers pooling config) and
computes the same function: BERT encoder → mean (or CLS) pooling → L2 normalisation. Vectors match
sentence-transformers' to ~1e-6 (the test checks cosine ≥ 0.9999), so an index built with torch is
queried with numpy and vice versa.

Only what plain BERT sentence models need is supported (absolute positions, GELU, mean/CLS
pooling); `supports(model_dir)` says whether a directory qualifies, and the caller falls back to
sentence-transformers otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _pooling(model_dir: Path) -> str | None:
    """'mean' or 'cls' from the sentence-transformers modules, or None when unsupported."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return None
    kinds = [m.get("type", "") for m in _read_json(modules_file)]
    if not kinds or not kinds[0].endswith("models.Transformer"):
        return None
    if any(not k.endswith(("models.Transformer", "models.Pooling", "models.Normalize")) for k in kinds):
        return None  # a Dense layer or anything else we do not implement
    pool_dirs = [m["path"] for m in _read_json(modules_file) if m.get("type", "").endswith("models.Pooling")]
    if len(pool_dirs) != 1:
        return None
    cfg = _read_json(model_dir / pool_dirs[0] / "config.json")
    on = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    if on == ["pooling_mode_mean_tokens"]:
        return "mean"
    if on == ["pooling_mode_cls_token"]:
        return "cls"
    return None


def supports(model_dir: str | Path) -> bool:
    """Whether `model_dir` is a BERT sentence model this module computes exactly."""
    root = Path(model_dir)
    try:
        config = _read_json(root / "config.json")
        pooling = _pooling(root)
    except (OSError, ValueError, KeyError):
        return False
    return (
        pooling is not None
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and (root / "model.safetensors").is_file()
        and (root / "tokenizer.json").is_file()
    )


def shape(model_dir: str | Path) -> tuple[int, int]:
    """(vector size, max input tokens) read from the model's config files, nothing loaded."""
    root = Path(model_dir)
    config = _read_json(root / "config.json")
    st_config = root / "sentence_bert_config.json"
    limit = _read_json(st_config).get("max_seq_length") if st_config.is_file() else None
    return int(config["hidden_size"]), int(limit or config.get("max_position_embeddings", 512))


def _limit_blas_threads():
    """One BLAS thread for the forward pass: at query size, OpenBLAS threads spinning on a busy
    machine made a 15-token query take 1.2 s instead of 0.03 s (measured here)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def _map_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file as read-only views of one memory map (no copy, no torch).

    The format: an 8-byte little-endian header length, a JSON header giving each tensor's dtype,
    shape and byte range, then the data. A query touches only the rows and layers it uses, so
    mapping beats reading all 90 MB (safetensors.numpy.load_file copies every tensor)."""
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, not supported here")
        start, end = info["data_offsets"]
        out[name] = np.asarray(data[start:end]).view(_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1.5e-7 absolute (Abramowitz & Stegun 7.1.26): float32-exact enough for GELU."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyBert:
    """`embed(texts)` → unit float32 vectors, like sentence-transformers' encode(normalize=True)."""

    def __init__(self, model_dir: str | Path):
        from tokenizers import Tokenizer

        root = Path(model_dir)
        self.config = _read_json(root / "config.json")
        self.pooling = _pooling(root)
        self.dim, self.max_tokens = shape(root)
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        weights = _map_safetensors(root / "model.safetensors")
        # Checkpoints name the encoder with or without a "bert." prefix.
        self.w = {k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One text at a time: no padding, so no masking inside attention (queries are short).
        with _limit_blas_threads():
            out = np.stack([self._encode(enc.ids) for enc in self.tokenizer.encode_batch(list(texts))])
        return out.astype(np.float32)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _encode(self, ids: list[int]) -> np.ndarray:
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.dim // self.heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = (
                self._linear(x, f"{p}.attention.self.query")
                .reshape(n, self.heads, head_dim)
                .transpose(1, 0, 2)
            )
            k = self._linear(x, f"{p}.attention.self.key").reshape(n, self.heads, head_dim).transpose(1, 0, 2)
            v = (
                self._linear(x, f"{p}.attention.self.value")
                .reshape(n, self.heads, head_dim)
                .transpose(1, 0, 2)
            )
            scores = (q @ k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, self.dim)
            attn = self._linear(context, f"{p}.attention.output.dense")
            norm = f"{p}.attention.output.LayerNorm"
            x = _layer_norm(attn + x, w[f"{norm}.weight"], w[f"{norm}.bias"], self.eps)
            hidden = _gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                self._linear(hidden, f"{p}.output.dense") + x,
                w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], self.eps,
            )  # fmt: skip
        pooled = x[0] if self.pooling == "cls" else x.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)
