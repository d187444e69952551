"""The `lmdeploy` engine: `lmdeploy serve api_server MODEL` (OpenAI-compatible, GET /health).

Flags checked against `lmdeploy/cli/serve.py` and `lmdeploy serve api_server -h` (dash names).
"""

from __future__ import annotations

from typing import Any

from lazycli.engines import binary_on_path, module_available, option, render_flags
from lazycli.hookspecs import EngineRequest, EngineSpec, hookimpl

OPTIONS = dict(
    [
        option("session_len", "--session-len", int, "max context length"),
        option("backend", "--backend", str, "turbomind | pytorch"),
        option("dtype", "--dtype", str, "auto | float16 | bfloat16"),
        option("max_batch_size", "--max-batch-size", int, "max batch size"),
        option("cache_max_entry_count", "--cache-max-entry-count", float, "GPU memory fraction for KV cache"),
        option("cache_block_seq_len", "--cache-block-seq-len", int, "tokens per KV cache block"),
        option("enable_prefix_caching", "--enable-prefix-caching", bool, "reuse KV cache across requests"),
        option("model_format", "--model-format", str, "hf | awq | gptq | fp8"),
        option("quant_policy", "--quant-policy", int, "KV cache quantization: 0 | 4 | 8"),
        option("chat_template", "--chat-template", str, "chat template name or JSON file"),
        option("log_level", "--log-level", str, "ERROR | WARNING | INFO | DEBUG"),
        option("device", "--device", str, "cuda | ascend | maca | camb"),
        option("max_prefill_token_num", "--max-prefill-token-num", int, "tokens per prefill iteration"),
        option("rope_scaling_factor", "--rope-scaling-factor", float, "RoPE scaling factor"),
        option("tp", "--tp", int, "tensor parallel size (default: --gpus)"),
    ]
)


def argv(req: EngineRequest) -> list[str]:
    options = dict(req.options)
    options.setdefault("tp", max(1, req.gpus))
    head = [
        "lmdeploy", "serve", "api_server", str(req.model_path),
        "--server-name", req.host,
        "--server-port", str(req.port),
        "--model-name", req.served_name,
    ]  # fmt: skip
    return head + render_flags(options, OPTIONS, style="dash") + list(req.extra_args)


def interactive_client(name: str, base_url: str, **kwargs: Any):
    """The client of its /v1/chat/interactive API (`lz chat lmdeploy+http://…`); deployments use
    the OpenAI API the same server offers."""
    from lazycli.client.adapters import LMDeployInteractive

    return LMDeployInteractive(name, base_url, **kwargs)


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="lmdeploy",
        argv=argv,
        model_types=("llm", "vlm"),
        formats=("hf",),
        health_path="/health",
        protocol="openai",
        clients={"lmdeploy": interactive_client},
        options=OPTIONS,
        is_installed=lambda: binary_on_path("lmdeploy") or module_available("lmdeploy"),
        install_hint="pip install 'lazycli[lmdeploy]' in its own environment",
        description="LMDeploy OpenAI-compatible api_server; --gpus N → --tp N",
        needs_gpu=True,
    )
