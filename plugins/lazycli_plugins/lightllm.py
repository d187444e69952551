"""The `lightllm` engine: `python -m lightllm.server.api_server --model_dir …` with LightLLM's own
protocol: POST /generate {"inputs", "parameters"} → {"generated_text": [...]}, and /generate_stream
(server-sent `data:{"token": {"text": …}, "finished": …}` events). Health: GET /health.

Flags checked against `lightllm/server/api_cli.py` (argparse, underscore names).
"""

from __future__ import annotations

import sys
from typing import Any

from lazycli.engines import module_available, option, render_flags
from lazycli.hookspecs import EngineRequest, EngineSpec, hookimpl

OPTIONS = dict(
    [
        option("max_total_token_num", "--max_total_token_num", int, "total tokens the GPUs can hold"),
        option("max_req_total_len", "--max_req_total_len", int, "max input + output tokens per request"),
        option("batch_max_tokens", "--batch_max_tokens", int, "max tokens in a prefill batch"),
        option("running_max_req_size", "--running_max_req_size", int, "max requests running at once"),
        option("mem_fraction", "--mem_fraction", float, "GPU memory fraction, 0-1"),
        option("data_type", "--data_type", str, "fp16 | bf16 | fp32"),
        option("tokenizer_mode", "--tokenizer_mode", str, "slow | fast | auto"),
        option("trust_remote_code", "--trust_remote_code", bool, "run the model repo's own code"),
        option("nccl_port", "--nccl_port", int, "NCCL port for tensor parallel"),
        option("mode", "--mode", str, "kernel mode, e.g. triton_flashdecoding"),
        option("eos_id", "--eos_id", int, "stop token id"),
        option("quant_type", "--quant_type", str, "quantization method"),
        option("disable_cudagraph", "--disable_cudagraph", bool, "no CUDA graphs"),
        option("tp", "--tp", int, "tensor parallel size (default: --gpus)"),
    ]
)


def argv(req: EngineRequest) -> list[str]:
    options = dict(req.options)
    options.setdefault("tp", max(1, req.gpus))
    head = [
        sys.executable, "-m", "lightllm.server.api_server",
        "--model_dir", str(req.model_path),
        "--host", req.host,
        "--port", str(req.port),
        "--model_name", req.served_name,
    ]  # fmt: skip
    return head + render_flags(options, OPTIONS, style="underscore") + list(req.extra_args)


def client(name: str, base_url: str, **kwargs: Any):
    """The client of its own API (/generate, /generate_stream)."""
    from lazycli.client.adapters import LightLLM

    return LightLLM(name, base_url, **kwargs)


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="lightllm",
        argv=argv,
        model_types=("llm", "vlm"),
        formats=("hf",),
        health_path="/health",
        protocol="lightllm",
        clients={"lightllm": client},
        options=OPTIONS,
        is_installed=lambda: module_available("lightllm"),
        install_hint="install LightLLM from source (github.com/ModelTC/lightllm) in its own environment",
        description="LightLLM server (/generate, /generate_stream); --gpus N → --tp N",
        needs_gpu=True,
    )
