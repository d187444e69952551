"""The `llamacpp` engine: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) for GGUF
models on CPU. It is the embedded default: the bundled SmolLM2 deploys with it, no GPU needed.

Flags are those of `python -m llama_cpp.server --help` (llama-cpp-python 0.3.x): its options use
underscores and its booleans take a value (`--embedding true`).
"""

from __future__ import annotations

import sys
from functools import cache

from lazycli.engines import module_available, option, render_flags
from lazycli.hookspecs import EngineRequest, EngineSpec, SettingsSpec, hookimpl

# llama_cpp.server imports these at start-up; without them the server dies before listening.
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)

OPTIONS = dict(
    [
        option("n_ctx", "--n_ctx", int, "context length (default: settings.llamacpp_ctx)"),
        option("n_threads", "--n_threads", int, "CPU threads (default: settings.llamacpp_threads)"),
        option("n_threads_batch", "--n_threads_batch", int, "threads for prompt processing"),
        option("n_batch", "--n_batch", int, "prompt batch size"),
        option("n_ubatch", "--n_ubatch", int, "physical batch size"),
        option("n_gpu_layers", "--n_gpu_layers", int, "layers offloaded to the GPU (-1: all)"),
        option("chat_format", "--chat_format", str, "chat template name (default: from the GGUF)"),
        option("seed", "--seed", int, "random seed"),
        option("embedding", "--embedding", bool, "serve /v1/embeddings"),
        option("flash_attn", "--flash_attn", bool, "flash attention"),
        option("use_mmap", "--use_mmap", bool, "memory-map the model file"),
        option("use_mlock", "--use_mlock", bool, "lock the model in RAM"),
        option("cache", "--cache", bool, "prompt cache"),
        option("rope_freq_base", "--rope_freq_base", float, "RoPE base frequency"),
        option("rope_freq_scale", "--rope_freq_scale", float, "RoPE frequency scale"),
        option("type_k", "--type_k", int, "KV cache type for K"),
        option("type_v", "--type_v", int, "KV cache type for V"),
        option("verbose", "--verbose", bool, "llama.cpp's own logging"),
        option("interrupt_requests", "--interrupt_requests", bool, "a new request interrupts a running one"),
    ]
)


# Said when the engine dies by a signal (SIGSEGV, SIGILL): a llama.cpp built for another CPU does
# that on its first batch. One place, so the rebuild advice can follow how install.sh builds it.
CRASH_HINT = "llama.cpp may be built for another CPU: rebuild it portable with `bash scripts/install.sh`"


def _defaults(req: EngineRequest) -> dict:
    from lazycli import settings

    current = settings.section("llamacpp")
    # llama-cpp-python's server stops a running stream when another request arrives unless told not
    # to (interrupt_requests defaults to true): concurrent clients then cut each other off. Off, they
    # queue on the server's lock and each gets its whole answer.
    values = {
        "n_threads": current.threads,
        "n_ctx": current.ctx,
        "interrupt_requests": False,
    }
    if req.gpus > 0:
        values["n_gpu_layers"] = -1
    return values


def argv(req: EngineRequest) -> list[str]:
    options = {**_defaults(req), **req.options}
    head = [
        sys.executable, "-m", "lazycli_plugins.llamacpp_server",  # llama_cpp.server on the best CPU variant
        "--model", str(req.model_path),
        "--model_alias", req.served_name,
        "--host", req.host,
        "--port", str(req.port),
    ]  # fmt: skip
    return head + render_flags(options, OPTIONS, style="underscore", bool_values=True) + list(req.extra_args)


def is_installed() -> bool:
    return all(module_available(name) for name in _SERVER_MODULES)


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="llamacpp",
        argv=argv,
        model_types=("llm",),
        formats=("gguf",),
        # llama-cpp-python's server has no /health; /v1/models answers once the model is loaded.
        health_path="/v1/models",
        protocol="openai",
        options=OPTIONS,
        is_installed=is_installed,
        install_hint="bash scripts/install.sh (compiles llama.cpp once: ~9 min on 2 cores; see README)",
        crash_hint=CRASH_HINT,
        concurrency=1,  # llama-cpp-python serves one request at a time (the rest wait on its lock)
        description="llama.cpp OpenAI-compatible server for GGUF models on CPU (the embedded default)",
    )


@cache
def _settings_model():
    import os

    from pydantic import BaseModel, Field

    class LlamaCppSettings(BaseModel):
        threads: int = Field(
            default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
            ge=1,
            description="CPU threads for the llama.cpp engine (more threads can be slower on a busy box)",
        )
        ctx: int = Field(4096, ge=256, description="Context length for the llama.cpp engine")

    return LlamaCppSettings


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="llamacpp", model=_settings_model, description="llama.cpp engine defaults")
