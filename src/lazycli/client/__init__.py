"""The wire layer: one chat client interface over every server lz talks to.

It imports nothing from lazycli above `lazycli.errors` and `lazycli.settings`; what a name means
(a deployment, a model, a provider, a URL) is decided above it, in `lazycli.targets`:

    from lazycli.targets import resolve_target

    llm = resolve_target("qwen:qwen-plus")      # or a deployment, "smollm2-135m-instruct", a URL, None
    print(llm.complete([{"role": "user", "content": "hi"}]).text)
    for delta in llm.complete(messages, stream=True):  # text deltas as they arrive
        print(delta, end="")
    print(llm.last.usage)                               # the Completion of the streamed answer
    done = llm.complete(messages, tools=[schema], tool_choice="auto")
    done.tool_calls                                     # [ToolCall(id, name, arguments)], streamed too

A backend speaks one wire protocol (`lazycli.client.http.OpenAICompatible` for the OpenAI API, the
adapters in `lazycli.client.adapters` for LightLLM / vLLM's demo server / LMDeploy, named by the
engine plugins' records); `ChatClient` adds timing, option cleaning and the `last` completion. This
module stays light: httpx is imported by the backends when they send their first request.

Tool calling uses the OpenAI wire format the vendors share (`tools`, `tool_choice` in; `tool_calls`
out, the argument fragments of a stream assembled by `ToolCallAssembler`); a backend without it
(`supports_tools` false) refuses in one line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from lazycli.errors import LzError

# Options every backend understands; anything else is passed through to the wire as-is.
KNOWN_OPTIONS = ("temperature", "max_tokens", "top_p", "stop")
# Options that ask for tool calling: only a backend with `supports_tools` may be sent them.
TOOL_OPTIONS = ("tools", "tool_choice", "parallel_tool_calls")


@dataclass
class ToolCall:
    """One function call the model asked for, in the OpenAI wire shape. `arguments` stays the raw
    JSON text the model wrote (it may be invalid: the caller decides what to tell the model)."""

    id: str
    name: str
    arguments: str = ""

    def as_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_wire(cls, data: dict, index: int = 0) -> ToolCall:
        fn = data.get("function") or {}
        args = fn.get("arguments")
        if not isinstance(args, str):  # some servers send an object instead of its JSON text
            args = json.dumps(args, ensure_ascii=False) if args is not None else ""
        return cls(id=data.get("id") or f"call_{index}", name=fn.get("name") or "", arguments=args)


@dataclass
class ToolCallDelta:
    """A piece of a streamed tool call: `index` says which call; id and name come once, the
    arguments in fragments to be concatenated."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class ToolCallAssembler:
    """Joins streamed tool-call fragments into whole calls, keyed by their `index` (parallel calls
    interleave). A fragment without an index continues the call it names by id, else the last one."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, delta: ToolCallDelta) -> None:
        index = delta.index
        if index < 0:  # no index on the wire: find it by id, else continue the latest call
            known = [i for i, c in self._calls.items() if delta.id and c["id"] == delta.id]
            index = (
                known[0]
                if known
                else (max(self._calls) if self._calls and not delta.id else len(self._calls))
            )
        call = self._calls.setdefault(index, {"id": None, "name": "", "arguments": []})
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            call["name"] = delta.name
        if delta.arguments:
            call["arguments"].append(delta.arguments)

    def calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments="".join(c["arguments"]))
            for i, c in sorted(self._calls.items())
        ]


@dataclass
class Completion:
    """One finished answer. `usage` holds prompt_tokens / completion_tokens / total_tokens when known."""

    text: str
    model: str
    usage: dict = field(default_factory=dict)
    finish_reason: str | None = None
    raw: dict = field(default_factory=dict)
    latency_s: float | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "text": self.text,
            "model": self.model,
            "usage": self.usage,
            "finish_reason": self.finish_reason,
            "latency_s": self.latency_s,
            "raw": self.raw,
        }
        if self.tool_calls:
            out["tool_calls"] = [c.as_wire() for c in self.tool_calls]
        return out

    def as_message(self) -> dict[str, Any]:
        """The assistant message to put back into the conversation (tool calls included). The
        content stays a string even when empty: llama.cpp's server refuses null there."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or ""}
        if self.tool_calls:
            message["tool_calls"] = [c.as_wire() for c in self.tool_calls]
        return message


@dataclass
class Chunk:
    """One piece of a streamed answer: a text delta, and on the last pieces finish reason / usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict | None = None
    model: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)


class Backend(Protocol):
    """What a wire protocol implements; `ChatClient` wraps one."""

    name: str

    def chat(self, messages: list[dict], model: str, options: dict) -> Completion: ...

    def chat_stream(self, messages: list[dict], model: str, options: dict) -> Iterator[Chunk]: ...


class ChatClient:
    """One interface over every target (see the module docstring)."""

    def __init__(self, backend: Any, *, target: str, model: str, label: str | None = None) -> None:
        self.backend = backend
        self.target = target
        self.model = model
        self.label = label or target
        self.last: Completion | None = None

    def __repr__(self) -> str:
        return f"ChatClient(target={self.target!r}, model={self.model!r})"

    def complete(self, messages: list[dict], *, stream: bool = False, **options: Any):
        """The answer to `messages`: a Completion, or (stream=True) an iterator of text deltas.

        After a stream ends (or is closed early), `self.last` holds its Completion with usage.
        """
        model = options.pop("model", None) or self.model
        opts = clean_options(options)
        if opts.get("tools") and not getattr(self.backend, "supports_tools", False):
            raise LzError(
                f"{self.label} cannot call tools (its wire protocol has no tool calling)",
                hint="use an OpenAI-compatible target, or the react agent (tools as text): "
                '`lz chat --agent react`, kind = "react" in a recipe',
            )
        if not stream:
            self.last = None  # a failed request must not leave the previous answer here
            started = time.monotonic()
            completion = self.backend.chat(messages, model, opts)
            completion.latency_s = round(time.monotonic() - started, 4)
            self.last = completion
            return completion
        return self._stream(messages, model, opts)

    def _stream(self, messages: list[dict], model: str, opts: dict) -> Iterator[str]:
        started = time.monotonic()
        parts: list[str] = []
        state: dict[str, Any] = {"finish_reason": None, "usage": {}, "model": model, "chunks": 0, "pieces": 0}
        calls = ToolCallAssembler()
        self.last = None
        inner = self.backend.chat_stream(messages, model, opts)
        try:
            for chunk in inner:
                state["chunks"] += 1
                if chunk.finish_reason:
                    state["finish_reason"] = chunk.finish_reason
                if chunk.usage:
                    state["usage"] = chunk.usage
                if chunk.model:
                    state["model"] = chunk.model
                for delta in chunk.tool_calls:
                    calls.add(delta)
                if chunk.text:
                    state["pieces"] += 1
                    parts.append(chunk.text)
                    yield chunk.text
        except (GeneratorExit, KeyboardInterrupt):
            state["finish_reason"] = state["finish_reason"] or "interrupted"
            raise
        finally:
            inner.close()  # closes the HTTP response now, so the server stops generating
            text = "".join(parts)
            self.last = Completion(
                text=text,
                model=state["model"],
                usage=state["usage"] or estimate_usage(messages, text, state["pieces"]),
                finish_reason=state["finish_reason"],
                raw={"stream": True, "chunks": state["chunks"]},
                latency_s=round(time.monotonic() - started, 4),
                tool_calls=calls.calls(),
            )

    def embed(self, texts: list[str], model: str | None = None) -> list[list[float]]:
        fn = getattr(self.backend, "embed", None)
        if fn is None:
            raise LzError(
                f"{self.label} offers no embeddings",
                hint="use a provider with embeddings or a local embedder",
            )
        return fn(list(texts), model)

    def rerank(self, query: str, documents: list[str], model: str | None = None) -> list[float]:
        """One relevance score per document, in the order given."""
        fn = getattr(self.backend, "rerank", None)
        if fn is None:
            raise LzError(
                f"{self.label} offers no rerank", hint="glm and qwen offer rerank; or use a local reranker"
            )
        return fn(query, list(documents), model)


def estimate_usage(messages: list[dict], text: str, pieces: int) -> dict:
    """Usage for servers that stream none (llama.cpp): ~4 characters a prompt token, and one
    token per streamed text piece (what llama.cpp and vLLM send); flagged `estimated`."""
    if not text:
        return {}
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    prompt = max(1, round(chars / 4))
    completion = max(1, pieces)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "estimated": True,
    }


def clean_options(options: dict[str, Any]) -> dict[str, Any]:
    """Drop unset options; a single stop string becomes a list (every wire format takes a list)."""
    out = {k: v for k, v in options.items() if v is not None}
    if not out.get("tools"):  # no tools: nothing about them goes on the wire
        for key in TOOL_OPTIONS:
            out.pop(key, None)
    stop = out.get("stop")
    if isinstance(stop, str):
        out["stop"] = [stop]
    elif stop is not None:
        out["stop"] = [s for s in stop if s]
        if not out["stop"]:
            del out["stop"]
    return out


__all__ = [
    "ChatClient",
    "Chunk",
    "Completion",
    "ToolCall",
    "ToolCallAssembler",
    "ToolCallDelta",
    "clean_options",
]
