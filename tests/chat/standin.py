"""Local stand-ins for the online providers' APIs (and a key-less OpenAI-compatible server).

Each stand-in is a real HTTP server on 127.0.0.1 that checks what that vendor requires (path,
`Authorization: Bearer <key>`, a known model in the `model` field, vendor option names) and answers
the way the vendor does: its JSON shapes, its SSE stream format (OpenAI: usage in a last chunk
without choices when `stream_options.include_usage`; Moonshot: usage inside the final choice),
and its error bodies. Faults are scripted per request: `server.script("429")` answers the next
request with a 429 + Retry-After, "disconnect" drops the connection mid-stream, "slow" streams
one word every 0.1 s.

Scripted replies (tool calling): `server.play("math", reply(calls=[call("add", {"a": 2})]), reply("5"))`
queues replies for the conversations whose system message contains "math" (a key of "" matches
any). Parallel agents talk to one server at once, so replies are picked by conversation, not by
arrival order. Streamed, a reply's tool calls go out the way vendors send them: id and name first,
then the JSON arguments in small fragments, the fragments of parallel calls interleaved. The
server checks the tool wire as OpenAI does: `tools` entries shaped {type: function, function:
{name, parameters}}, a called tool among them, and every `tool` message answering a call id of a
preceding assistant message (else 400).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    """Clients that hang up (Ctrl-C, a finished `lz` process) are normal here, not errors."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


@dataclass
class Vendor:
    name: str
    base: str  # the path part of the provider's base URL
    models: tuple[str, ...]
    key: str | None = "sk-test-0123456789"
    embed_path: str | None = None
    rerank_path: str | None = None
    rerank_style: str = "cohere"
    embed_style: str = "openai"
    usage_in_choice: bool = False  # Moonshot
    max_tokens_name: str = "max_tokens"
    errors: dict = field(default_factory=dict)  # kind -> (status, body)


def _openai_error(message, type_, code=None):
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


OPENAI_ERRORS = {
    "auth": (
        401,
        _openai_error("Incorrect API key provided: sk-te***89.", "invalid_request_error", "invalid_api_key"),
    ),
    "model": (404, _openai_error("The model `x` does not exist", "invalid_request_error", "model_not_found")),
    "rate": (429, _openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded")),
    "quota": (
        429,
        _openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
    ),
    "context": (
        400,
        _openai_error(
            "This model's maximum context length is 128 tokens",
            "invalid_request_error",
            "context_length_exceeded",
        ),
    ),
}

VENDORS = {
    "openai": Vendor(
        "openai",
        "/v1",
        ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small"),
        embed_path="/v1/embeddings",
        errors=OPENAI_ERRORS,
    ),
    "deepseek": Vendor(
        "deepseek",
        "",
        ("deepseek-chat", "deepseek-reasoner"),
        errors={
            "auth": (
                401,
                _openai_error("Authentication Fails, Your api key is invalid", "authentication_error"),
            ),
            "model": (400, _openai_error("Model Not Exist", "invalid_request_error")),
            "rate": (429, _openai_error("Rate Limit Reached", "rate_limit_error")),
            "quota": (402, _openai_error("Insufficient Balance", "unknown_error")),
        },
    ),
    "kimi": Vendor(
        "kimi",
        "/v1",
        ("moonshot-v1-8k", "moonshot-v1-32k"),
        usage_in_choice=True,
        errors={
            "auth": (
                401,
                {"error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}},
            ),
            "model": (
                404,
                {"error": {"message": "Not found the model x", "type": "resource_not_found_error"}},
            ),
            "rate": (429, {"error": {"message": "rate limit reached", "type": "rate_limit_reached_error"}}),
            "quota": (429, {"error": {"message": "quota exceeded", "type": "exceeded_current_quota_error"}}),
        },
    ),
    "glm": Vendor(
        "glm",
        "/api/paas/v4",
        ("glm-4-flash", "glm-4", "embedding-3", "rerank"),
        embed_path="/api/paas/v4/embeddings",
        rerank_path="/api/paas/v4/rerank",
        errors={
            "auth": (
                401,
                {
                    "error": {
                        "code": "1002",
                        "message": "Authorization Token非法，请确认Authorization Token正确传递。",
                    }
                },
            ),
            "model": (400, {"error": {"code": "1211", "message": "模型不存在，请检查模型代码。"}}),
            "rate": (429, {"error": {"code": "1302", "message": "您当前使用该API的并发数过高，请降低并发"}}),
            "quota": (429, {"error": {"code": "1113", "message": "您的账户已欠费，请充值后重试。"}}),
            "context": (400, {"error": {"code": "1261", "message": "Prompt 超长"}}),
        },
    ),
    "qwen": Vendor(
        "qwen",
        "/compatible-mode/v1",
        ("qwen-plus", "qwen-turbo", "text-embedding-v3", "gte-rerank"),
        embed_path="/compatible-mode/v1/embeddings",
        rerank_path="/api/v1/services/rerank/text-rerank/text-rerank",
        rerank_style="dashscope",
        errors={
            "auth": (
                401,
                _openai_error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
            ),
            "model": (
                404,
                _openai_error("The model `x` does not exist.", "invalid_request_error", "model_not_found"),
            ),
            "rate": (429, _openai_error("Requests rate limit exceeded", "limit_requests", "limit_requests")),
            "quota": (
                400,
                _openai_error("Access denied, account is in good standing?", "Arrearage", "Arrearage"),
            ),
        },
    ),
    "doubao": Vendor(
        "doubao",
        "/api/v3",
        ("doubao-1-5-pro-32k-250115", "doubao-embedding-text-240715"),
        embed_path="/api/v3/embeddings",
        errors={
            "auth": (
                401,
                {
                    "error": {
                        "code": "AuthenticationError",
                        "message": "the API key is invalid",
                        "type": "Unauthorized",
                    }
                },
            ),
            "model": (
                404,
                {
                    "error": {
                        "code": "InvalidEndpointOrModel.NotFound",
                        "message": "does not exist",
                        "type": "NotFound",
                    }
                },
            ),
            "rate": (
                429,
                {"error": {"code": "RateLimitExceeded", "message": "rate limit", "type": "TooManyRequests"}},
            ),
            "quota": (
                403,
                {"error": {"code": "AccountOverdueError", "message": "overdue", "type": "Forbidden"}},
            ),
        },
    ),
    "sensenova": Vendor(
        "sensenova",
        "/compatible-mode/v1",
        ("SenseChat-5", "SenseChat-Turbo", "nova-embedding-stable"),
        embed_path="/v1/llm/embeddings",
        embed_style="sensenova",
        max_tokens_name="max_new_tokens",
        errors={
            "auth": (401, {"error": {"code": 16, "message": "unauthenticated", "details": []}}),
            "model": (404, {"error": {"code": 5, "message": "model not found", "details": []}}),
            "rate": (429, {"error": {"code": 8, "message": "rate limited", "details": []}}),
            "quota": (402, {"error": {"code": 9, "message": "balance not enough", "details": []}}),
        },
    ),
    # A local OpenAI-compatible server: no key, any model.
    "local": Vendor(
        "local",
        "/v1",
        (),
        key=None,
        embed_path="/v1/embeddings",
        rerank_path="/v1/rerank",
        errors=OPENAI_ERRORS,
    ),
}

ANSWER = "The answer is four."


def call(name: str, arguments, id: str | None = None) -> dict:
    """A scripted tool call; `arguments` is a dict (sent as JSON) or raw text (sent as it is)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id, "name": name, "arguments": text}


def reply(content: str | None = None, calls: list[dict] | None = None) -> dict:
    return {"content": content, "calls": list(calls or [])}


def _fragments(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _words(text: str) -> list[str]:
    out, parts = [], text.split(" ")
    for i, part in enumerate(parts):
        out.append(part if i == len(parts) - 1 else part + " ")
    return out


class StandIn:
    """One vendor's stand-in: `url` is the base URL to give lz; `requests` what it received."""

    def __init__(self, vendor: str) -> None:
        self.vendor = VENDORS[vendor]
        self.requests: list[dict] = []
        self.faults: list[str] = []
        self.answer = ANSWER
        self.scripts: dict[str, list[dict]] = {}
        self.call_count = 0
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = QuietServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.vendor.base}"

    def script(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.scripts.clear()
            self.answer = ANSWER

    def play(self, key: str, *replies: dict) -> None:
        """Queue replies for conversations whose system message contains `key` ("" = any)."""
        with self.lock:
            self.scripts.setdefault(key, []).extend(replies)

    def next_reply(self, body: dict) -> dict | None:
        system = next((m.get("content") or "" for m in body.get("messages", []) if m["role"] == "system"), "")
        with self.lock:
            for key in sorted(self.scripts, key=len, reverse=True):  # the most specific key first
                if key in system and self.scripts[key]:
                    picked = self.scripts[key].pop(0)
                    for i, c in enumerate(picked["calls"]):
                        self.call_count += 1
                        picked["calls"][i] = {**c, "id": c["id"] or f"call_{self.call_count}"}
                    return picked
        return None

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body leave in one write (no Nagle / delayed-ACK stalls)
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    # -- helpers

    def _json(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, kind: str, headers: dict | None = None) -> None:
        status, body = self.standin.vendor.errors[kind]
        self._json(status, body, headers)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # -- routes

    def do_GET(self) -> None:
        vendor = self.standin.vendor
        if self.path == f"{vendor.base}/models":
            models = vendor.models or ("local-model",)
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
            return
        self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        try:
            self._post()
        except (BrokenPipeError, ConnectionResetError):  # the client went away (Ctrl-C): fine
            self.close_connection = True

    def _post(self) -> None:
        vendor = self.standin.vendor
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.standin.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if vendor.key is not None and self.headers.get("Authorization") != f"Bearer {vendor.key}":
            self._error("auth")
            return
        fault = self.standin.next_fault()
        if fault == "429":
            self._error("rate", {"Retry-After": "1"})
            return
        if fault == "429-long":
            self._error("rate", {"Retry-After": "3600"})
            return
        if fault in ("quota", "context", "500"):
            if fault == "500":
                self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
            else:
                self._error(fault)
            return
        model = body.get("model")
        if vendor.models and model not in vendor.models:
            self._error("model")
            return
        if self.path == f"{vendor.base}/chat/completions":
            if "max_tokens" in body and vendor.max_tokens_name != "max_tokens":
                self._json(400, {"error": {"code": 3, "message": "unknown field max_tokens", "details": []}})
                return
            self._chat(body, fault)
        elif vendor.embed_path and self.path == vendor.embed_path:
            self._embed(body)
        elif vendor.rerank_path and self.path == vendor.rerank_path:
            self._rerank(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def _usage(self, body: dict, text: str) -> dict:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", [])) + 3
        completion = len(_words(text))
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _tool_wire_error(self, body: dict, scripted: dict | None) -> str | None:
        """What OpenAI would refuse about the tools and tool messages of this request."""
        tools = body.get("tools")
        names = set()
        if tools is not None:
            for tool in tools if isinstance(tools, list) else [None]:
                fn = tool.get("function") if isinstance(tool, dict) else None
                if not (isinstance(tool, dict) and tool.get("type") == "function" and isinstance(fn, dict)):
                    return "tools: each entry must be {type: function, function: {...}}"
                if not isinstance(fn.get("name"), str) or not isinstance(fn.get("parameters", {}), dict):
                    return "tools: function.name (string) and function.parameters (object) are required"
                names.add(fn["name"])
        if "tool_choice" in body and tools is None:
            return "tool_choice is only allowed when tools are specified"
        open_ids: set[str] = set()
        for message in body.get("messages", []):
            for tc in message.get("tool_calls") or []:
                open_ids.add(tc.get("id"))
            if message["role"] == "tool" and message.get("tool_call_id") not in open_ids:
                return "messages with role 'tool' must be a response to a preceding message with 'tool_calls'"
        for c in (scripted or {}).get("calls", []):
            if c["name"] not in names and not c["name"].startswith("unknown"):
                return f"script error: tool {c['name']!r} was not offered (offered: {sorted(names)})"
        return None

    def _chat(self, body: dict, fault: str | None) -> None:
        scripted = self.standin.next_reply(body)
        problem = self._tool_wire_error(body, scripted)
        if problem:
            self._json(400, _openai_error(problem, "invalid_request_error"))
            return
        if scripted is not None:
            self._scripted(body, scripted)
            return
        vendor = self.standin.vendor
        text = self.standin.answer if fault != "slow" else " ".join(f"word{i}" for i in range(100))
        usage = self._usage(body, text)
        if not body.get("stream"):
            self._json(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = _words(text)
        for i, word in enumerate(words):
            if fault == "disconnect" and i == 2:
                # Drop the connection in the middle of the body: no terminating chunk.
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            event = {"id": "c1", "object": "chat.completion.chunk", "model": body["model"]}
            event["choices"] = [{"index": 0, "delta": {"content": word}, "finish_reason": None}]
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
            if fault == "slow":
                time.sleep(0.1)
        final = {"index": 0, "delta": {}, "finish_reason": "stop"}
        if vendor.usage_in_choice:
            final["usage"] = usage
        self._chunk(
            f"data: {json.dumps({'id': 'c1', 'model': body['model'], 'choices': [final]})}\n\n".encode()
        )
        if (body.get("stream_options") or {}).get("include_usage") and not vendor.usage_in_choice:
            self._chunk(f"data: {json.dumps({'id': 'c1', 'choices': [], 'usage': usage})}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _scripted(self, body: dict, scripted: dict) -> None:
        content, calls = scripted["content"], scripted["calls"]
        finish = "tool_calls" if calls else "stop"
        usage = self._usage(body, content or "")
        if not body.get("stream"):
            message = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ]
            choice = {"index": 0, "message": message, "finish_reason": finish}
            self._json(200, {"id": "chatcmpl-2", "object": "chat.completion", "model": body["model"],
                             "choices": [choice], "usage": usage})  # fmt: skip
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(delta: dict, finish_reason=None) -> None:
            event = {"id": "c2", "object": "chat.completion.chunk", "model": body["model"]}
            event["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())

        send({"role": "assistant", "content": None if calls else ""})
        for word in _words(content) if content else []:
            send({"content": word})
        for i, c in enumerate(calls):  # the head of each call: its id, type and name
            send({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                  "function": {"name": c["name"], "arguments": ""}}]})  # fmt: skip
        pieces = [_fragments(c["arguments"]) for c in calls]
        for round_ in range(max((len(p) for p in pieces), default=0)):  # parallel calls interleave
            for i, frags in enumerate(pieces):
                if round_ < len(frags):
                    send({"tool_calls": [{"index": i, "function": {"arguments": frags[round_]}}]})
        send({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            self._chunk(f"data: {json.dumps({'id': 'c2', 'choices': [], 'usage': usage})}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _embed(self, body: dict) -> None:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(len(t)), float(i), 1.0] for i, t in enumerate(texts)]
        if self.standin.vendor.embed_style == "sensenova":
            rows = [{"index": i, "embedding": v, "status": "success"} for i, v in enumerate(vectors)]
            self._json(200, {"embeddings": list(reversed(rows)), "usage": {"prompt_tokens": 3}})
            return
        rows = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        self._json(200, {"object": "list", "data": list(reversed(rows)), "model": body["model"]})

    def _rerank(self, body: dict) -> None:
        if self.standin.vendor.rerank_style == "dashscope":
            query, docs = body["input"]["query"], body["input"]["documents"]
        else:
            query, docs = body["query"], body["documents"]
        words = set(query.lower().split())
        scored = [(len(words & set(d.lower().split())) / (len(words) or 1), i) for i, d in enumerate(docs)]
        results = [{"index": i, "relevance_score": s} for s, i in sorted(scored, reverse=True)]
        if self.standin.vendor.rerank_style == "dashscope":
            self._json(
                200, {"output": {"results": results}, "usage": {"total_tokens": 10}, "request_id": "r1"}
            )
        else:
            self._json(200, {"results": results, "usage": {"total_tokens": 10}})
