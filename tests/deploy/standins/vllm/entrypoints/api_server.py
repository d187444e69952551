"""Stand-in for `python -m vllm.entrypoints.api_server` (vLLM's legacy demo server): POST /generate
{"prompt", "stream"?, sampling params…} → {"text": [prompt + output]}; streaming sends one JSON
object per line, each with the text so far (vllm/entrypoints/api_server.py)."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".."))
from tests.deploy.standins import wire  # noqa: E402


class GenerateHandler(wire.Handler):
    def do_POST(self):
        body = self._body()
        if self.path != "/generate" or not isinstance(body.get("prompt"), str):
            return self._send(400, {"error": "POST /generate with a prompt"})
        prompt = body["prompt"]
        words = wire.reply_text(prompt).split()[: body.get("max_tokens", 16)]
        if not body.get("stream"):
            return self._send(200, {"text": [prompt + " " + " ".join(words)]})
        self._stream(
            [
                json.dumps({"text": [prompt + " " + " ".join(words[: i + 1])]}) + "\n"
                for i in range(len(words))
            ]
        )


parser = argparse.ArgumentParser()
parser.add_argument("--host", default=None)
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--model", required=True)
parser.add_argument("--served-model-name", nargs="+", default=None)
parser.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
parser.add_argument("--max-model-len", type=int, default=None)
parser.add_argument("--dtype", default="auto")
parser.add_argument("--enforce-eager", action="store_true")

if __name__ == "__main__":
    args = parser.parse_args()
    name = (args.served_model_name or [args.model])[0]
    wire.serve(
        args.host or "0.0.0.0", args.port, served_name=name, parsed=vars(args), handler=GenerateHandler
    )
