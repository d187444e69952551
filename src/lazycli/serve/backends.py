"""What `lz serve` puts behind its endpoints: a model target (through `lazycli.client`) or a
recipe's app (a `lazycli.flow` tree). Both are synchronous; the web app runs them in threads.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lazycli import trace
from lazycli.errors import LzError
from lazycli.flow import Context, to_text


@dataclass
class Reply:
    text: str
    usage: dict = field(default_factory=dict)
    finish_reason: str | None = "stop"
    sources: list[dict] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)  # OpenAI wire shape


class StreamReply:
    """Text deltas; once exhausted, `usage`, `finish_reason` and `sources` are filled."""

    def __init__(self, pieces: Iterator[str], finish) -> None:
        self._pieces = pieces
        self._finish = finish
        self.usage: dict = {}
        self.finish_reason: str | None = "stop"
        self.sources: list[dict] = []
        self.tool_calls: list[dict] = []

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self._pieces
        finally:
            self._finish(self)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close:
            close()


def message_text(content: Any) -> str:
    """OpenAI content (a string or a list of parts) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("text", "input_text"):
            parts.append(str(part.get("text", "")))
    return "".join(parts)


def plain_messages(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": message_text(m.get("content"))} for m in messages]


def _last_user(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def _model_content(content: Any) -> Any:
    """Text, or the parts as sent when they carry an image or audio for a multimodal model."""
    if isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("image_url", "input_audio") for p in content
    ):
        return content
    return message_text(content)


def model_messages(messages: list[dict]) -> list[dict]:
    """Plain text content (image and audio parts kept as sent), with the tool-calling fields a
    served model needs kept as sent."""
    out = []
    for m in messages:
        message = {"role": m["role"], "content": _model_content(m.get("content"))}
        for key in ("tool_calls", "tool_call_id", "name"):
            if m.get(key) is not None:
                message[key] = m[key]
        if message.get("tool_calls") and m.get("content") is None:
            message["content"] = None
        out.append(message)
    return out


class ModelBackend:
    """A deployment, model, provider:model or URL, served as it is."""

    kind = "model"

    def __init__(self, target: str | None, client: Any, *, embed_client: Any = None) -> None:
        self.client = client
        self.target = target
        # A URL is no model name: expose the model the URL serves. Names (deployment, model,
        # provider:model) are what users typed, so they stay.
        self.name = target if target and "://" not in target else client.model
        self.aliases = {a for a in (target, client.model, getattr(client, "label", None), self.name) if a}
        self._embed_client = embed_client or client

    def _client(self) -> Any:
        # ChatClient keeps the last completion on itself; a shallow copy per request keeps usage apart
        # while sharing the HTTP connection pool.
        return copy.copy(self.client)

    def chat(self, messages: list[dict], options: dict) -> Reply:
        sent = model_messages(messages)
        with trace.span("llm", "llm", input=_last_user(sent), messages=sent, options=options) as sp:
            completion = self._client().complete(sent, **options)
            sp.output = completion.text
            trace.llm_result(completion)
        return Reply(
            completion.text,
            dict(completion.usage or {}),
            completion.finish_reason or "stop",
            tool_calls=[c.as_wire() for c in completion.tool_calls],
        )

    def stream(self, messages: list[dict], options: dict) -> StreamReply:
        client = self._client()
        sent = model_messages(messages)

        def finish(reply: StreamReply) -> None:
            last = client.last
            if last is not None:
                reply.usage = dict(last.usage or {})
                reply.finish_reason = last.finish_reason or "stop"
                reply.tool_calls = [c.as_wire() for c in last.tool_calls]

        def pieces() -> Iterator[str]:
            with trace.span("llm", "llm", input=_last_user(sent), messages=sent, options=options) as sp:
                parts = []
                for piece in client.complete(sent, stream=True, **options):
                    parts.append(piece)
                    yield piece
                sp.output = "".join(parts)
                trace.llm_result(client.last)

        return StreamReply(pieces(), finish)

    def invoke(self, value: Any, options: dict) -> dict:
        reply = self.chat([{"role": "user", "content": to_text(value)}], options)
        return {"output": reply.text, "sources": [], "usage": reply.usage}

    def embeds(self) -> bool:
        return hasattr(getattr(self._embed_client, "backend", None), "embed")

    def embed(self, texts: list[str], model: str | None) -> list[list[float]]:
        # The served name is the embedding model's name on a deployment of one (lz's embed engine).
        chosen = self._embed_client.model if model is None or model in self.aliases else model
        return self._embed_client.embed(texts, chosen)


class AppBackend:
    """A recipe's app: the last user message is the input, earlier messages the history."""

    kind = "app"
    media: dict[str, str] = {}  # noqa: RUF012 - kind → deployment, set per instance by lz serve

    def __init__(
        self, name: str, app: Any, *, embed_target: str | None = None, description: str = ""
    ) -> None:
        self.name = name
        self.aliases = {name}
        self.app = app
        self.description = description
        self.embed_target = embed_target
        self._embedder = None
        self._lock = threading.Lock()

    def _context(self, messages: list[dict], options: dict):
        msgs = plain_messages(messages)
        last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=None)
        if last_user is None:
            raise LzError("no user message to answer", hint="send at least one message with role 'user'")
        history, opts = msgs[:last_user], dict(options)
        from lazycli.media.parts import files_in

        # In an app with stt/ocr models, an image or audio part makes the input {"text",
        # "image"/"audio": data URL} for those steps; elsewhere the text alone, as before.
        value = msgs[last_user]["content"]
        if self.media.keys() & {"stt", "ocr"}:
            value = files_in(messages[last_user].get("content"), value)
        return value, Context(input=value, history=history, options=opts, local_files=False)

    def chat(self, messages: list[dict], options: dict) -> Reply:
        value, ctx = self._context(messages, options)
        out = self.app.run(value, ctx)
        return Reply(to_text(out), sources=list(ctx.sources))

    def stream(self, messages: list[dict], options: dict) -> StreamReply:
        value, ctx = self._context(messages, options)

        def finish(reply: StreamReply) -> None:
            reply.sources = list(ctx.sources)

        return StreamReply(self.app.stream(value, ctx), finish)

    def invoke(self, value: Any, options: dict) -> dict:
        ctx = Context(input=value, options=dict(options), local_files=False)
        out = self.app.run(value, ctx)
        result = {"output": out, "sources": list(ctx.sources)}
        if ctx.steps:  # an app with agents: their steps (thought, tool calls, results)
            result["steps"] = [step.as_dict() for step in ctx.steps]
        return result

    def embeds(self) -> bool:
        return bool(self.embed_target)

    def embed(self, texts: list[str], model: str | None) -> list[list[float]]:
        if not self.embed_target:
            raise LzError(
                f"app {self.name!r} does not embed", hint='set [serve] embed = "MODEL" in the recipe'
            )
        with self._lock:
            if self._embedder is None:
                from lazycli.targets import resolve_target

                self._embedder = resolve_target(self.embed_target, start=True)  # [serve] embed = MODEL
        chosen = self._embedder.model if model is None or model == self.name else model
        return self._embedder.embed(texts, chosen)
