"""Stand-ins for engines with their own wire protocol, backed by the real llama.cpp server.

LightLLM (/generate, /generate_stream), vLLM's demo server (/generate) and LMDeploy
(/v1/chat/interactive) cannot run here (GPU engines), so each stand-in speaks that engine's
protocol exactly (request fields checked, reply shapes and stream framing as the engine's source
writes them) and produces the text with the real model: it forwards the prompt to llama.cpp's
/v1/completions (or the messages to /v1/chat/completions for LMDeploy).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

import httpx

from tests.chat.standin import QuietServer


class EngineStandIn:
    def __init__(self, mode: str, llama_url: str) -> None:
        self.mode = mode
        self.llama_url = llama_url
        self.requests: list[dict] = []
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = QuietServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the real model behind it

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]) -> dict:
        body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature, "stop": stop}
        return httpx.post(f"{self.llama_url}/completions", json=body, timeout=120).json()

    def stream(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]):
        body = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": stop,
            "stream": True,
        }
        with httpx.stream("POST", f"{self.llama_url}/completions", json=body, timeout=120) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line[6:] != "[DONE]":
                    yield json.loads(line[6:])["choices"][0]


class _Handler(BaseHTTPRequestHandler):
    standin: EngineStandIn
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body leave in one write (no Nagle / delayed-ACK stalls)
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, data: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _reject(self, why: str) -> None:
        self._send(422, json.dumps({"detail": why}).encode())

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.standin.requests.append({"path": self.path, "body": body})
        route = (self.standin.mode, self.path)
        if route in (("lightllm", "/generate"), ("lightllm", "/generate_stream")):
            self._lightllm(body, stream=self.path.endswith("_stream"))
        elif route == ("vllm", "/generate"):
            self._vllm(body)
        elif route == ("lmdeploy", "/v1/chat/interactive"):
            self._lmdeploy(body)
        else:
            self._send(404, b'{"detail": "Not Found"}')

    # LightLLM: {"inputs": str, "parameters": {...}}; SSE "data:{json}\n\n" per token.
    def _lightllm(self, body: dict, stream: bool) -> None:
        params = body.get("parameters")
        if not isinstance(body.get("inputs"), str) or not isinstance(params, dict):
            return self._reject("inputs (str) and parameters (object) are required")
        if not isinstance(params.get("max_new_tokens"), int):
            return self._reject("parameters.max_new_tokens must be an int")
        args = (
            body["inputs"],
            params["max_new_tokens"],
            params.get("temperature", 0.0),
            params.get("stop_sequences", []),
        )
        if not stream:
            data = self.standin.complete(*args)
            choice, usage = data["choices"][0], data["usage"]
            reply = {
                "generated_text": [choice["text"]],
                "count_output_tokens": usage["completion_tokens"],
                "finish_reason": choice["finish_reason"],
                "prompt_tokens": usage["prompt_tokens"],
            }
            return self._send(200, json.dumps(reply).encode())
        self._start_chunked("text/event-stream")
        count = 0
        pieces = list(self.standin.stream(*args))
        for i, choice in enumerate(pieces):
            last = i == len(pieces) - 1
            count += 1 if choice["text"] else 0
            token = {"id": i, "text": choice["text"], "logprob": None, "special": False}
            token |= {"count_output_tokens": count, "prompt_tokens": 7}
            event = {
                "token": token,
                "generated_text": None,
                "finished": last,
                "finish_reason": (choice.get("finish_reason") or "stop") if last else None,
                "details": None,
            }
            self._chunk(("data:" + json.dumps(event) + "\n\n").encode())
        self._chunk(b"")

    # vLLM demo server: {"prompt", "stream", sampling params}; text includes the prompt.
    def _vllm(self, body: dict) -> None:
        if not isinstance(body.get("prompt"), str):
            return self._reject("prompt is required")
        prompt = body["prompt"]
        args = (prompt, body.get("max_tokens", 16), body.get("temperature", 1.0), body.get("stop") or [])
        if not body.get("stream"):
            text = self.standin.complete(*args)["choices"][0]["text"]
            return self._send(200, json.dumps({"text": [prompt + text]}).encode())
        self._start_chunked("application/json")
        so_far = ""
        for choice in self.standin.stream(*args):
            so_far += choice["text"]
            self._chunk((json.dumps({"text": [prompt + so_far]}) + "\n").encode())
        self._chunk(b"")

    # LMDeploy: {"prompt": messages, "interactive_mode": false, "request_output_len", "stream"}.
    def _lmdeploy(self, body: dict) -> None:
        if not isinstance(body.get("prompt"), list) or body.get("interactive_mode") is not False:
            return self._reject("this stand-in expects messages with interactive_mode false")
        chat = {
            "messages": body["prompt"],
            "max_tokens": body.get("request_output_len", 16),
            "temperature": body.get("temperature", 0.8),
        }
        url = f"{self.standin.llama_url}/chat/completions"
        if not body.get("stream"):
            data = httpx.post(url, json=chat, timeout=120).json()
            reply = {
                "text": data["choices"][0]["message"]["content"],
                "tokens": data["usage"]["completion_tokens"],
                "input_tokens": data["usage"]["prompt_tokens"],
                "history_tokens": 0,
                "finish_reason": data["choices"][0]["finish_reason"],
            }
            return self._send(200, json.dumps(reply).encode())
        self._start_chunked("application/json")
        tokens = 0
        with httpx.stream("POST", url, json={**chat, "stream": True}, timeout=120) as response:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line[6:] == "[DONE]":
                    continue
                choice = json.loads(line[6:])["choices"][0]
                text = choice["delta"].get("content") or ""
                tokens += 1 if text else 0
                reply = {"text": text, "tokens": tokens, "input_tokens": 9, "history_tokens": 0}
                reply["finish_reason"] = choice.get("finish_reason")
                self._chunk((json.dumps(reply) + "\n").encode())
        self._chunk(b"")
