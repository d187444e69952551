"""The `embed` engine: lz's own small server for embedding and rerank models (sentence-transformers),
speaking OpenAI-style POST /v1/embeddings plus the Cohere/Jina-style POST /v1/rerank, so RAG can use
a deployed embedder. The server lives in `lazycli_plugins.embed.server` (imported only when run).
"""

from __future__ import annotations

import sys

from lazycli.engines import module_available, option, render_flags
from lazycli.hookspecs import EngineRequest, EngineSpec, hookimpl

OPTIONS = dict(
    [
        option("device", "--device", str, "cpu | cuda | cuda:1 … (default: cuda when a GPU is asked for)"),
        option("batch_size", "--batch-size", int, "texts per forward pass"),
        option("threads", "--threads", int, "torch CPU threads"),
        option("max_seq_length", "--max-seq-length", int, "truncate inputs to this many tokens"),
        option("normalize", "--normalize", bool, "L2-normalise embeddings (default: true)"),
        option("trust_remote_code", "--trust-remote-code", bool, "run the model repo's own code"),
    ]
)


def argv(req: EngineRequest) -> list[str]:
    options = dict(req.options)
    if req.gpus > 0:
        options.setdefault("device", "cuda")
    kind = "rerank" if req.model_type == "rerank" else "embed"
    head = [
        sys.executable, "-m", "lazycli_plugins.embed.server",
        "--model", str(req.model_path),
        "--served-name", req.served_name,
        "--kind", kind,
        "--host", req.host,
        "--port", str(req.port),
    ]  # fmt: skip
    return head + render_flags(options, OPTIONS, style="dash", bool_values=True) + list(req.extra_args)


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="embed",
        argv=argv,
        model_types=("embed", "rerank"),
        formats=("hf",),
        health_path="/health",
        protocol="openai",
        options=OPTIONS,
        is_installed=lambda: all(
            module_available(m) for m in ("sentence_transformers", "fastapi", "uvicorn")
        ),
        install_hint="pip install 'lazycli[local]' (sentence-transformers, fastapi, uvicorn)",
        description="built-in embedding/rerank server: /v1/embeddings, /v1/rerank, /health",
    )
