"""One client layer over every target: a local deployment, a model name, an online provider, a URL.

Other parts (rag, serve, recipes) call only `resolve_target(...)` and the `ChatClient` methods:

    from lazycli.client import resolve_target

    llm = resolve_target("qwen:qwen-plus")      # or a deployment, "smollm2-135m-instruct", a URL, None
    print(llm.complete([{"role": "user", "content": "hi"}]).text)
    for delta in llm.complete(messages, stream=True):  # text deltas as they arrive
        print(delta, end="")
    print(llm.last.usage)                               # the Completion of the streamed answer

A backend speaks one wire protocol (`lazycli.providers.OpenAICompatible` for the OpenAI API, the
adapters in `lazycli.client.adapters` for LightLLM / vLLM's demo server / LMDeploy); `ChatClient`
adds timing, option cleaning and the `last` completion. This module stays light: httpx is imported
by the backends when they send their first request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from lazycli.errors import LzError

# Options every backend understands; anything else is passed through to the wire as-is.
KNOWN_OPTIONS = ("temperature", "max_tokens", "top_p", "stop")


@dataclass
class Completion:
    """One finished answer. `usage` holds prompt_tokens / completion_tokens / total_tokens when known."""

    text: str
    model: str
    usage: dict = field(default_factory=dict)
    finish_reason: str | None = None
    raw: dict = field(default_factory=dict)
    latency_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "usage": self.usage,
            "finish_reason": self.finish_reason,
            "latency_s": self.latency_s,
            "raw": self.raw,
        }


@dataclass
class Chunk:
    """One piece of a streamed answer: a text delta, and on the last pieces finish reason / usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict | None = None
    model: str | None = None


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
    stop = out.get("stop")
    if isinstance(stop, str):
        out["stop"] = [stop]
    elif stop is not None:
        out["stop"] = [s for s in stop if s]
        if not out["stop"]:
            del out["stop"]
    return out


def resolve_target(target: str | None = None, *, announce=None, model: str | None = None) -> ChatClient:
    """A ChatClient for a deployment name, model name, provider[:model], http(s) URL, or None (default)."""
    from lazycli.client.targets import resolve

    return resolve(target, announce=announce, model=model)


__all__ = ["ChatClient", "Chunk", "Completion", "clean_options", "resolve_target"]
