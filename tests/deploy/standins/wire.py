"""Local stand-ins for engines that cannot run here (vLLM, LMDeploy and LightLLM need GPUs).

Each stand-in parses its command line with the flags the real program documents (argparse,
unknown flags are an error, exactly like the real CLIs) and then speaks the real wire protocol on
127.0.0.1: OpenAI-compatible /v1 (vLLM, LMDeploy) or LightLLM's /generate + /generate_stream. The
parsed arguments are served at GET /_argv so tests can check what the engine received.
Stdlib only, so a stand-in starts in ~50 ms.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Delay before listening (tests of "not healthy yet" and the deploy-overhead benchmark).
START_DELAY_S = float(os.environ.get("STANDIN_START_DELAY", "0"))
# When set, the time the server started listening is written here (deploy-overhead benchmark).
LISTENING_FILE = os.environ.get("STANDIN_LISTENING_FILE")


def reply_text(prompt: str) -> str:
    """A deterministic answer a test can predict: the prompt reversed word by word."""
    return " ".join(reversed(prompt.split())) or "(empty)"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"
    served_name = "model"
    parsed: dict = {}
    api = "openai"
    health_path = "/health"

    def log_message(self, fmt, *args):  # to the log file, like a real server
        sys.stdout.write(f"{self.address_string()} - {fmt % args}\n")
        sys.stdout.flush()

    def _send(self, status: int, body: dict | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: list[str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            chunk = event.encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _body(self) -> dict:
        length = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        if self.path == self.health_path:
            return self._send(200, {"status": "ok"})
        if self.path == "/_argv":
            return self._send(200, {"argv": sys.argv[1:], "parsed": self.parsed})
        if self.path == "/v1/models" and self.api == "openai":
            return self._send(200, {"object": "list", "data": [{"id": self.served_name, "object": "model"}]})
        return self._send(404, {"error": "not found"})

    def do_POST(self):
        body = self._body()
        if self.api == "openai" and self.path == "/v1/chat/completions":
            return self._chat(body)
        if self.api == "lightllm" and self.path in ("/generate", "/generate_stream"):
            return self._lightllm(body, stream=self.path.endswith("_stream"))
        return self._send(404, {"error": f"no route {self.path}"})

    def _chat(self, body: dict) -> None:
        if body.get("model") != self.served_name:
            return self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
        text = reply_text(body["messages"][-1]["content"])
        base = {"id": "chatcmpl-standin", "created": int(time.time()), "model": self.served_name}
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            usage = {"prompt_tokens": 3, "completion_tokens": len(text.split()), "total_tokens": 3}
            return self._send(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        events = []
        for word in text.split():
            delta = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
            events.append(
                "data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [delta]})
            )
        done = {"index": 0, "delta": {}, "finish_reason": "stop"}
        events.append("data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [done]}))
        events.append("data: [DONE]")
        self._stream([e + "\n\n" for e in events])

    def _lightllm(self, body: dict, stream: bool) -> None:
        # LightLLM: {"inputs": str, "parameters": {...}} (api_lightllm.py)
        if not isinstance(body.get("inputs"), str) or not isinstance(body.get("parameters"), dict):
            return self._send(417, {"message": "inputs (str) and parameters (dict) are required"})
        words = reply_text(body["inputs"]).split()[: body["parameters"].get("max_new_tokens", 16)]
        if not stream:
            return self._send(
                200,
                {
                    "generated_text": [" ".join(words)],
                    "count_output_tokens": len(words),
                    "finish_reason": "stop",
                    "prompt_tokens": len(body["inputs"].split()),
                },
            )
        events = []
        for i, word in enumerate(words):
            last = i == len(words) - 1
            event = {
                "token": {"id": i, "text": (" " if i else "") + word, "logprob": -0.1, "special": False,
                          "count_output_tokens": i + 1, "prompt_tokens": len(body["inputs"].split())},
                "generated_text": None,
                "finished": last,
                "finish_reason": "stop" if last else None,
                "details": None,
            }  # fmt: skip
            events.append("data:" + json.dumps(event) + "\n\n")
        self._stream(events)


def serve(host: str, port: int, *, served_name: str, parsed: dict, api: str = "openai", handler=None) -> None:
    if os.environ.get("STANDIN_PARSE_ONLY"):  # argv tests: print what was parsed, start nothing
        print(json.dumps({"served_name": served_name, "host": host, "port": port, "parsed": parsed}))
        return
    time.sleep(START_DELAY_S)
    handler = handler or Handler
    handler.served_name = served_name
    handler.parsed = parsed
    handler.api = api
    server = ThreadingHTTPServer((host, port), handler)  # bound and listening from here on
    if LISTENING_FILE:
        with open(LISTENING_FILE, "w") as fh:
            fh.write(repr(time.time()))
    print(f"standin {api} serving {served_name} on {host}:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
