"""Build the backend for `lz serve TARGET` and run the web app with uvicorn."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.console import note
from lazycli.errors import LzError


@dataclass
class Served:
    backend: Any
    recipe: Any = None  # the LoadedRecipe when serving one
    run: Any = None  # its Run (results, what it started)
    defaults: dict[str, Any] = field(default_factory=dict)  # [serve] of the recipe


def is_recipe(target: str) -> bool:
    return target.endswith(".toml") or Path(target).is_file()


def prepare(target: str, overrides: tuple[str, ...] = (), *, announce=note) -> Served:
    """A recipe (run its resources, compile its app) or a deployment/model/provider/URL target."""
    from lazycli.serve import media
    from lazycli.serve.backends import AppBackend, ModelBackend

    if is_recipe(target):
        from lazycli import recipes

        loaded = recipes.load(target, overrides)
        if loaded.spec.app is None:
            raise LzError(f"{target}: the recipe has no [app] to serve", hint="add [[app.steps]]")
        run = recipes.execute(loaded)
        try:
            app = recipes.build_app(loaded, run.results)
        except BaseException:
            run.stop_started()
            raise
        from lazycli.recipes.refs import resolve_refs

        serve = loaded.spec.serve
        embed = resolve_refs(serve.embed, run.results)
        backend = AppBackend(loaded.app_name, app, embed_target=embed, description=loaded.spec.description)
        backend.media = media.recipe_targets(run.results)  # its tts/stt/ocr models on their /v1 paths
        return Served(backend, loaded, run, serve.model_dump())
    if overrides:
        raise LzError("--set applies to recipes only", hint="serve a .toml recipe, or drop --set")
    from lazycli import catalog, targets

    with catalog.reading():  # one reading of the name: what it names, its kind, its client
        parsed = targets.require(target)
        kind = media.model_kind(parsed)
        if kind is not None:
            return Served(media.MediaModel(target, kind))
        client = targets.open_target(parsed, start=True, announce=announce)  # `lz serve MODEL` serves it
    backend = ModelBackend(target, client)
    capacity = engine_capacity(client.target)
    if capacity:
        announce(f"the engine runs {capacity} request(s) at once: lz serve queues the rest")
        backend = Queued(backend, capacity)
    return Served(backend)


def engine_capacity(deployment: str) -> int:
    """How many requests the engine behind deployment `deployment` runs at once (0: unknown)."""
    from lazycli import deployments, engines

    try:
        row = deployments.get(deployment)
        return engines.get_engine(row.engine).concurrency if row else 0
    except LzError:
        return 0


class Queued:
    """A backend limited to `capacity` requests at once; the others wait their turn in lz serve (a
    stream waits before its first token) instead of piling onto an engine that cannot run them."""

    def __init__(self, inner: Any, capacity: int) -> None:
        import threading

        self.inner = inner
        self.capacity = capacity
        self._slots = threading.BoundedSemaphore(capacity)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def chat(self, messages: list[dict], options: dict):
        with self._slots:
            return self.inner.chat(messages, options)

    def invoke(self, value: Any, options: dict):
        with self._slots:
            return self.inner.invoke(value, options)

    def stream(self, messages: list[dict], options: dict):
        from lazycli.serve.backends import StreamReply

        inner: dict[str, Any] = {}

        def pieces():
            with self._slots:
                inner["reply"] = self.inner.stream(messages, options)
                yield from inner["reply"]

        def finish(reply: StreamReply) -> None:
            done = inner.get("reply")
            if done is not None:
                reply.usage, reply.finish_reason, reply.sources = done.usage, done.finish_reason, done.sources

        return StreamReply(pieces(), finish)


def serve(served: Served, *, host: str, port: int, limits, announce=note) -> None:
    """Run uvicorn until SIGINT/SIGTERM; in-flight requests get `graceful` seconds to finish."""
    import uvicorn

    from lazycli.serve.app import create_app

    app = create_app(served.backend, limits, _recorder(limits, announce))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = _server_class()(config)
    base = f"http://{host}:{port}"
    announce(f"serving {served.backend.name!r} at {base}/  (OpenAI base URL {base}/v1)")
    if limits.api_key:
        announce("clients must send Authorization: Bearer <key>")
    server.run()


def _recorder(limits, announce):
    """Traces of every exchange, written off the request path; none with `chat_log = false`."""
    from lazycli import settings, trace

    if not settings.get().chat_log:
        announce("exchanges are not recorded (chat_log is off): feedback is refused")
        return None
    trace.add_secret(limits.api_key)  # the server's own key never reaches a stored trace
    return trace.Recorder(warn=announce)


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown (the process then dies of the
        signal); for `lz serve` a drained, graceful stop is a clean exit, code 0."""

        @contextlib.contextmanager
        def capture_signals(self):
            with super().capture_signals():
                yield
                captured = getattr(self, "_captured_signals", None)
                if isinstance(captured, list):
                    captured.clear()

    return Server
