"""The `vllm` engine: `vllm serve MODEL` (OpenAI-compatible, /health), and `vllm-generate`: vLLM's
legacy demo server (`python -m vllm.entrypoints.api_server`, POST /generate) for those who ask for it.

Flags checked against vLLM's engine arguments (`vllm serve --help`, docs "Engine Arguments").
"""

from __future__ import annotations

import sys
from typing import Any

from lazycli.engines import binary_on_path, module_available, option, render_flags
from lazycli.hookspecs import EngineRequest, EngineSpec, hookimpl

OPTIONS = dict(
    [
        option("max_model_len", "--max-model-len", int, "context length (prompt + output)"),
        option("dtype", "--dtype", str, "auto | half | float16 | bfloat16 | float | float32"),
        option("gpu_memory_utilization", "--gpu-memory-utilization", float, "fraction of GPU memory, 0-1"),
        option("max_num_seqs", "--max-num-seqs", int, "max sequences per iteration"),
        option("max_num_batched_tokens", "--max-num-batched-tokens", int, "max tokens per iteration"),
        option("quantization", "--quantization", str, "awq | gptq | fp8 | …"),
        option("kv_cache_dtype", "--kv-cache-dtype", str, "auto | fp8 | …"),
        option("trust_remote_code", "--trust-remote-code", bool, "run the model repo's own code"),
        option("enforce_eager", "--enforce-eager", bool, "no CUDA graphs"),
        option("enable_prefix_caching", "--enable-prefix-caching", bool, "reuse KV cache across requests"),
        option("pipeline_parallel_size", "--pipeline-parallel-size", int, "pipeline stages"),
        option("tensor_parallel_size", "--tensor-parallel-size", int, "GPUs per model (default: --gpus)"),
        option(
            "distributed_executor_backend",
            "--distributed-executor-backend",
            str,
            "ray | mp (multi-node: ray)",
        ),
        option("tokenizer", "--tokenizer", str, "tokenizer name or path"),
        option("chat_template", "--chat-template", str, "chat template file or string"),
        option("seed", "--seed", int, "random seed"),
        option("swap_space", "--swap-space", float, "CPU swap space per GPU (GiB)"),
        option("download_dir", "--download-dir", str, "where weights are downloaded"),
        option("generation_config", "--generation-config", str, "auto | vllm | a folder"),
    ]
)


def _tail(req: EngineRequest) -> list[str]:
    options = dict(req.options)
    if req.distributed:  # --nodes N: tensor parallel inside a node, pipeline parallel across nodes
        options.setdefault("tensor_parallel_size", max(1, req.gpus // req.nodes))
        options.setdefault("pipeline_parallel_size", req.nodes)
        options.setdefault("distributed_executor_backend", "ray")
    options.setdefault("tensor_parallel_size", max(1, req.gpus))
    return render_flags(options, OPTIONS, style="dash") + list(req.extra_args)


def argv(req: EngineRequest) -> list[str]:
    head = [
        "vllm", "serve", str(req.model_path),
        "--host", req.host,
        "--port", str(req.port),
        "--served-model-name", req.served_name,
    ]  # fmt: skip
    return head + _tail(req)


def generate_argv(req: EngineRequest) -> list[str]:
    # The demo server takes the engine arguments too, but the model by --model.
    head = [
        sys.executable, "-m", "vllm.entrypoints.api_server",
        "--model", str(req.model_path),
        "--host", req.host,
        "--port", str(req.port),
        "--served-model-name", req.served_name,
    ]  # fmt: skip
    return head + _tail(req)


def is_installed() -> bool:
    return binary_on_path("vllm") or module_available("vllm")


_HINT = "pip install vllm in its own virtual environment (it pins torch); put its `vllm` on PATH"


def generate_client(name: str, base_url: str, **kwargs: Any):
    """The client of the demo server's POST /generate."""
    from lazycli.client.adapters import VLLMGenerate

    return VLLMGenerate(name, base_url, **kwargs)


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="vllm",
        argv=argv,
        multi_node=True,
        model_types=("llm", "vlm"),
        formats=("hf",),
        health_path="/health",
        protocol="openai",
        options=OPTIONS,
        is_installed=is_installed,
        install_hint=_HINT,
        description="vLLM OpenAI-compatible server (vllm serve); --gpus N → tensor parallel",
        needs_gpu=True,
    )
    yield EngineSpec(
        name="vllm-generate",
        argv=generate_argv,
        model_types=("llm",),
        formats=("hf",),
        health_path="/health",
        protocol="vllm-generate",
        clients={"vllm-generate": generate_client},
        options=OPTIONS,
        is_installed=lambda: module_available("vllm"),
        install_hint=_HINT,
        description="vLLM's legacy demo server (POST /generate); only when asked for",
        needs_gpu=True,
    )
