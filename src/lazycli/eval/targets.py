"""What `lz eval` scores: a recipe's app, a chat target (deployment, model, provider:model, URL),
the same chat target answering from an index (`--index`, the `lz rag` path), or an index alone
(retrieval only, `lz rag eval`).

Model calls go through `CachedClient`, keyed by (model, messages, options): a warm rerun makes no
call, and nothing is started (no deployment, no recipe run) until a row misses the cache.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.eval.cache import CallCache
from lazycli.eval.metrics import Output


class Fatal(Exception):
    """A failure that stops the whole run (a target or judge that cannot be reached)."""


def _is_fatal(exc: BaseException) -> bool:
    return getattr(exc, "kind", None) in ("connection", "auth", "timeout")


@dataclass
class _Last:
    """What `AnswerStream` reads from `client.last` after a (possibly cached) answer."""

    model: str
    usage: dict = field(default_factory=dict)


class CachedClient:
    """A ChatClient look-alike: answers from the cache, else from the real client (opened lazily)."""

    def __init__(self, target: str | None, cache: CallCache, *, opener=None) -> None:
        self.target = target
        self.cache = cache
        self._opener = opener
        self._client = None
        self._lock = threading.Lock()
        self.last: _Last | None = None

    def client(self):
        with self._lock:
            if self._client is None:
                if self._opener is not None:
                    self._client = self._opener()
                else:
                    from lazycli.console import note
                    from lazycli.targets import resolve_target

                    self._client = resolve_target(self.target, start=True, announce=note)  # lz eval MODEL
            return self._client

    @property
    def model(self) -> str:
        return self.target or "default"

    def call(self, messages: list[dict], options: dict, check=None) -> tuple[dict, bool]:
        """{"text", "usage", "ttft_s", "latency_s", "model"} and whether it came from the cache."""

        def live() -> dict:
            client = self.client()
            started = time.monotonic()
            first = None
            parts = []
            try:
                for delta in client.complete(messages, stream=True, **options):
                    if first is None:
                        first = time.monotonic() - started
                    parts.append(delta)
            except Exception as exc:
                if _is_fatal(exc):
                    raise Fatal(str(exc)) from exc
                raise
            last = client.last
            return {
                "text": "".join(parts),
                "usage": dict(getattr(last, "usage", None) or {}),
                "model": getattr(last, "model", None) or client.model,
                "ttft_s": round(first, 4) if first is not None else None,
                "latency_s": round(time.monotonic() - started, 4),
            }

        return self.cache.cached(self.model, messages, dict(sorted(options.items())), live, check)

    def complete(self, messages: list[dict], *, stream: bool = False, **options: Any):
        value, cached = self.call(messages, {k: v for k, v in options.items() if v is not None})
        self.last = _Last(model=value.get("model") or self.model, usage=value.get("usage") or {})
        self.last_value, self.last_cached = value, cached
        if not stream:
            return value["text"]
        return iter([value["text"]] if value["text"] else [])


def _contexts(results: list[dict]) -> list[dict]:
    return [
        {"source": r.get("source", "?"), "text": r.get("text", ""), "score": r.get("score")} for r in results
    ]


class ChatTarget:
    """A chat target; with `index` it answers like `lz rag` (retrieve, numbered sources, cite)."""

    def __init__(
        self,
        target: str | None,
        cache: CallCache,
        *,
        index: str | None = None,
        rag: dict | None = None,
        options: dict | None = None,
    ) -> None:
        self.label = target or "default"
        self.index_name = index
        self.rag = dict(rag or {})
        self.options = dict(options or {})
        self.cache = cache
        self.llm = CachedClient(target, cache)
        self._index = None
        self.retrieves = index is not None

    def index(self):
        if self._index is None:
            from lazycli.rag.retrieval import Index

            self._index = Index(self.index_name)
        return self._index

    def run(self, row) -> Output:
        if self.index_name is not None:
            return self._rag(row)
        from lazycli.rag import prompt

        client = CachedClient(self.llm.target, self.cache, opener=self.llm.client)
        if row.context:
            given = [
                {"source": f"context {n}", "file": f"context {n}", "text": t}
                for n, t in enumerate(row.context, 1)
            ]
            messages = prompt.messages(
                row.q, given, self.rag.get("context_tokens", prompt.DEFAULT_CONTEXT_TOKENS)
            )
        else:
            given, messages = [], [{"role": "user", "content": row.q}]
        text = client.complete(messages, **self.options)
        value = client.last_value
        return Output(
            text=text,
            contexts=_contexts(given),
            cited=prompt.cited(text, given) if given else [],
            ttft_s=value.get("ttft_s"),
            latency_s=value.get("latency_s"),
            usage=value.get("usage") or {},
            cached=client.last_cached,
        )

    def _rag(self, row) -> Output:
        from lazycli.rag import prompt
        from lazycli.rag.answering import prepare

        client = CachedClient(self.llm.target, self.cache, opener=self.llm.client)
        pending = prepare(self.index(), row.q, client=client, **self.rag, **self.options)
        for _ in pending:
            pass
        result = pending.result
        value = getattr(client, "last_value", None) or {}
        return Output(
            text=result["answer"],
            contexts=_contexts(pending.results),
            retrieves=True,
            cited=prompt.cited(result["answer"], pending.results),
            ttft_s=value.get("ttft_s"),
            latency_s=value.get("latency_s"),
            usage=value.get("usage") or {},
            cached=getattr(client, "last_cached", False),
        )


class RetrievalTarget:
    """An index alone: the passages are the output (retrieval metrics only)."""

    retrieves = True

    def __init__(self, index: str, *, topk: int = 10, search: dict | None = None) -> None:
        from lazycli.rag.retrieval import Index

        self.label = f"index {index}"
        self.opened = Index(index)
        self.topk = topk
        self.search = dict(search or {})

    def run(self, row) -> Output:
        started = time.monotonic()
        results = self.opened.search(row.q, topk=self.topk, **self.search)
        return Output(
            text="",
            contexts=_contexts(results),
            retrieves=True,
            latency_s=round(time.monotonic() - started, 4),
        )


class RecipeTarget:
    """A recipe's app. Its answer per question is cached keyed by the recipe's text and overrides;
    the recipe is run (deployments, indexes) only when a row misses the cache."""

    retrieves = True

    def __init__(self, path: str, cache: CallCache, *, sets: list[str] | None = None, loaded=None) -> None:
        from lazycli import recipes

        self.loaded = loaded or recipes.load(path, list(sets or []))
        if self.loaded.spec.app is None:
            from lazycli.errors import LzError

            raise LzError(
                f"{path}: the recipe has no [app] to evaluate", hint="add an [app] table with steps"
            )
        self.label = f"recipe {self.loaded.name}"
        digest = hashlib.sha256(Path(self.loaded.path).read_bytes()).hexdigest()[:16]
        self.key = f"recipe:{self.loaded.path}:{digest}"
        self.sets = list(sets or [])
        self.cache = cache
        self._app = None
        self._execution = None
        self._lock = threading.Lock()

    def app(self):
        with self._lock:
            if self._app is None:
                from lazycli import recipes

                self._execution = recipes.execute(self.loaded, progress=False)
                self._app = recipes.build_app(self.loaded, self._execution.results)
            return self._app

    def use_app(self, app) -> None:
        """Score an app already built (`lz run --eval` has run the recipe)."""
        self._app = app

    def run(self, row) -> Output:
        from lazycli.flow import to_text
        from lazycli.rag import prompt

        def live() -> dict:
            from lazycli import recipes

            started = time.monotonic()
            try:
                output, sources = recipes.ask(self.app(), row.q)
            except Exception as exc:
                if _is_fatal(exc):
                    raise Fatal(str(exc)) from exc
                raise
            return {
                "text": to_text(output),
                "sources": _contexts(sources or []),
                "latency_s": round(time.monotonic() - started, 4),
            }

        value, cached = self.cache.cached(self.key, row.q, {"set": self.sets}, live)
        contexts = value.get("sources") or []
        return Output(
            text=value["text"],
            contexts=contexts,
            retrieves=bool(contexts),
            cited=prompt.cited(value["text"], contexts),
            latency_s=value.get("latency_s"),
            cached=cached,
        )

    def stop(self) -> None:
        if self._execution is not None:
            self._execution.stop_started()
