"""A local OpenAI-compatible server that plays both the evaluated model and the judge.

As a model it answers from `answers` (question → text; else "I do not know."). As a judge (the
request's system message is lz's grader instruction) it reads lz's judge prompt and answers the
JSON lz asks for, computed from the prompt's own text: a statement is supported when it appears in
the context (a refusal, "I do not know", claims nothing and counts as supported), a reference
statement is recalled when the context contains it, a passage is useful when it shares a word of
five letters or more with the question. A judge prompt containing GARBAGE gets an unparsable
reply. Every request is counted, so tests can assert that a warm run makes none.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler

from tests.chat.standin import QuietServer


def _section(text: str, name: str) -> str:
    found = re.search(rf"{name}:\n(.*?)(?:\n\n|$)", text, re.S)
    return found.group(1) if found else ""


def _items(block: str) -> list[str]:
    return [re.sub(r"^\[\d+\]\s*", "", line).strip() for line in block.splitlines() if line.strip()]


def judge_reply(user: str) -> str:
    if "GARBAGE" in user:
        return "Looks good to me!"
    context = _section(user, "Context").lower()
    if "For each statement" in user:
        statements = _items(_section(user, "Statements"))
        verdicts = [int("do not know" in s or s.rstrip(".!?").lower() in context) for s in statements]
        return json.dumps({"verdicts": verdicts})
    if "Rate how directly" in user:
        question = set(re.findall(r"\w{5,}", _section(user, "Question").lower()))
        answer = set(re.findall(r"\w{5,}", _section(user, "Answer").lower()))
        return json.dumps({"rating": 3 if question & answer else 0})
    if "For each reference statement" in user:
        statements = _items(_section(user, "Reference statements"))
        return json.dumps({"verdicts": [int(s.lower() in context) for s in statements]})
    if "For each passage" in user:
        question = set(re.findall(r"\w{5,}", _section(user, "Question").lower()))
        passages = _items(_section(user, "Passages"))
        return (
            "```json\n"
            + json.dumps(
                {"verdicts": [int(bool(question & set(re.findall(r"\w{5,}", p.lower())))) for p in passages]}
            )
            + "\n```"
        )
    return "?"


class EvalStandIn:
    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.answers = dict(answers or {})
        self.delay = 0.0  # seconds before each model answer (a slow target, for kill -9 tests)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = QuietServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def count(self, kind: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if kind is None or r["kind"] == kind)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    standin: EvalStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(
            200, json.dumps({"object": "list", "data": [{"id": "standin"}]}).encode(), "application/json"
        )

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        messages = body.get("messages", [])
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = messages[-1]["content"] if messages else ""
        if system.startswith("You are a strict grader"):
            kind, text = "judge", judge_reply(user)
        else:
            question = user.rsplit("Question: ", 1)[-1].split("\n")[0] if "Question: " in user else user
            kind, text = "model", self.standin.answers.get(question.strip(), "I do not know.")
        if kind == "model" and self.standin.delay:
            import time

            time.sleep(self.standin.delay)
        with self.standin.lock:
            self.standin.requests.append({"kind": kind, "body": body})
        if not body.get("stream"):
            reply = {
                "id": "x",
                "object": "chat.completion",
                "model": body.get("model", "standin"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            self._send(200, json.dumps(reply).encode(), "application/json")
            return
        events = b""
        for piece in re.findall(r"\S+\s*", text) or [""]:
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "model": body.get("model", "standin"),
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            events += f"data: {json.dumps(chunk)}\n\n".encode()
        done = {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        events += f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()
        self._send(200, events, "text/event-stream")
