"""Stand-in for `python -m lightllm.server.api_server` (flags from lightllm/server/api_cli.py)."""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".."))
from tests.deploy.standins.wire import serve  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--model_name", default="default_model_name")
parser.add_argument("--model_dir", default=None)
parser.add_argument("--tokenizer_mode", default="fast")
parser.add_argument("--max_total_token_num", type=int, default=None)
parser.add_argument("--mem_fraction", type=float, default=0.9)
parser.add_argument("--batch_max_tokens", type=int, default=None)
parser.add_argument("--eos_id", nargs="+", type=int, default=None)
parser.add_argument("--running_max_req_size", type=int, default=1000)
parser.add_argument("--tp", type=int, default=1)
parser.add_argument("--max_req_total_len", type=int, default=16384)
parser.add_argument("--nccl_port", type=int, default=28765)
parser.add_argument("--mode", nargs="+", default=[])
parser.add_argument("--trust_remote_code", action="store_true")
parser.add_argument("--disable_cudagraph", action="store_true")
parser.add_argument(
    "--data_type", choices=["fp16", "float16", "bf16", "bfloat16", "fp32", "float32"], default=None
)
parser.add_argument("--quant_type", default="none")

if __name__ == "__main__":
    args = parser.parse_args()
    serve(args.host, args.port, served_name=args.model_name, parsed=vars(args), api="lightllm")
