"""The FastAPI app behind `lz serve`: OpenAI-compatible endpoints over a model or a recipe's app.

    GET  /                          a small web chat page (streaming; sources for RAG apps)
    GET  /health                    {"status": "ok", ...} (no key needed)
    GET  /v1/models                 the one model this server exposes
    POST /v1/chat/completions       plain JSON, or SSE with "stream": true
    POST /v1/embeddings             when the target embeds
    POST /v1/apps/{name}/invoke     {"input": ...} → {"output": ..., "sources": [...]}
    POST /v1/feedback               {"id": response id, "rating": "up"|"down", "comment", "correction"}

Every exchange is traced (`lazycli.trace`): the response id (`chatcmpl-<trace id>`) names it, and a
background `Recorder` stores it, so a request never waits for the state database.

JSON only on the wire. Limits: API key (401), body size (413), requests at once (429),
seconds per request (504). Backends are synchronous (the client, flows); they run in a thread
pool sized to the concurrency limit, and a stream's producer thread hands pieces to the event
loop through a queue, so a slow generation never blocks other requests.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lazycli import trace
from lazycli.errors import LzError
from lazycli.flow import StepError
from lazycli.media import MediaError


@dataclass
class Limits:
    api_key: str | None = None
    max_concurrency: int = 128
    timeout: float = 300.0
    max_body: int = 1_000_000
    max_media_body: int = 27 * 1024 * 1024  # audio/image uploads (lazycli.media's limits + the form)

    def body_limit(self, path: str) -> int:
        from lazycli.serve.media import is_media_path

        return self.max_media_body if is_media_path(path) else self.max_body


# --- wire models --------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


PASS_THROUGH = ("tools", "tool_choice", "parallel_tool_calls", "response_format")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None

    def options(self) -> dict[str, Any]:
        opts = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens or self.max_completion_tokens,
            "stop": self.stop,
        }
        # Tool calling (and JSON mode) pass through to a served model as the client sent them.
        opts.update({k: (self.model_extra or {}).get(k) for k in PASS_THROUGH})
        return {k: v for k, v in opts.items() if v is not None}


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    input: str | list[str] = Field(min_length=1)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200, description="the response id (chatcmpl-…) or trace id")
    rating: Literal["up", "down", 1, -1]
    comment: str | None = Field(None, max_length=10_000)
    correction: str | None = Field(None, max_length=100_000, description="the answer it should have given")

    def value(self) -> int:
        return 1 if self.rating in ("up", 1) else -1


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Any
    options: dict[str, Any] = Field(default_factory=dict)


# --- errors -------------------------------------------------------------------------------------


def error(status: int, message: str, kind: str, code: str | None = None, headers=None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "code": code or kind}}
    return JSONResponse(body, status_code=status, headers=headers)


class _Guard:
    """ASGI middleware: body limit (413) and concurrency limit (429) for /v1 routes."""

    def __init__(self, app, limits: Limits, counter: dict[str, int]) -> None:
        self.app = app
        self.limits = limits
        self.counter = counter

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        if self.limits.api_key and not _authorized(scope, self.limits.api_key):
            # Before the body is read or validated: without the key, nothing about the request is answered.
            response = error(
                401,
                "missing or wrong API key (send Authorization: Bearer KEY)",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
            return await response(scope, receive, send)
        length = _content_length(scope)
        cap = self.limits.body_limit(scope["path"])
        if length is not None and length > cap:
            return await _too_large(cap)(scope, receive, send)
        if self.counter["active"] >= self.limits.max_concurrency:
            response = error(
                429,
                f"too many requests at once (limit {self.limits.max_concurrency})",
                "rate_limit_exceeded",
                headers={"Retry-After": "1"},
            )
            return await response(scope, receive, send)
        self.counter["active"] += 1
        try:
            if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                # A chunked body has no length up front: read it (up to the limit) before the route does.
                body = await _read_limited(receive, cap)
                if body is None:
                    return await _too_large(cap)(scope, receive, send)
                receive = _replay(body, receive)
            await self.app(scope, receive, send)
        finally:
            self.counter["active"] -= 1


def _authorized(scope, key: str) -> bool:
    header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
    scheme, _, given = header.decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode())


async def _read_limited(receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, when it comes

    return replay


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> JSONResponse:
    return error(413, f"request body larger than {limit} bytes", "request_too_large")


# --- the app ------------------------------------------------------------------------------------


def create_app(backend: Any, limits: Limits | None = None, recorder: trace.Recorder | None = None) -> FastAPI:
    """recorder: where finished traces go (None: nothing is recorded, feedback is refused)."""
    limits = limits or Limits()
    counter = {"active": 0}
    pool = ThreadPoolExecutor(max_workers=limits.max_concurrency + 4, thread_name_prefix="lz-serve")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)  # uvicorn has drained in-flight requests by now
        if recorder is not None:
            recorder.close()

    app = FastAPI(
        title=f"lz serve: {backend.name}", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.backend = backend
    app.state.limits = limits
    app.state.counter = counter
    app.state.recorder = recorder
    app.add_middleware(_Guard, limits=limits, counter=counter)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # Starlette's own errors (a body that is not UTF-8, 404, 405) in the OpenAI error shape too.
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # not UTF-8
            return error(400, "request body is not UTF-8 JSON", "invalid_request_error", "json_invalid")
        return error(exc.status_code, str(exc.detail), "invalid_request_error", headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error(400, "request body is not valid JSON", "invalid_request_error", "json_invalid")
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return error(
            422, f"{where}: {first.get('msg', 'invalid request')}", "invalid_request_error", "invalid_value"
        )

    async def in_thread(fn, *args):
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), limits.timeout)

    def check_model(name: str | None) -> JSONResponse | None:
        if name is None or name in backend.aliases:
            return None
        return error(
            404,
            f"model {name!r} is not served here; this server serves {backend.name!r}",
            "invalid_request_error",
            "model_not_found",
        )

    async def guarded(model: str | None, fn, *args):
        """Model check, run in a thread under the timeout, user errors as JSON (auth: `_Guard`)."""
        failure = check_model(model)
        if failure:
            return failure
        try:
            return await in_thread(fn, *args)
        except TimeoutError:
            return error(504, f"request took longer than {limits.timeout:g} s", "timeout")
        except StepError as exc:  # the app's own code failed: a 500, as any bug in it
            return error(500, exc.message, "internal_error")
        except MediaError as exc:  # a file the client sent that cannot be used: its 4xx
            return error(exc.status, _public(exc), "invalid_request_error")
        except LzError as exc:
            return error(502, _public(exc), "upstream_error")
        except Exception as exc:  # a bug in an app step: still JSON on the wire, and the server stays up
            return error(500, f"{type(exc).__name__}: {exc}", "internal_error")

    def new_trace(value: Any, options: dict) -> trace.Trace | None:
        if recorder is None:
            return None
        t = trace.Trace("serve", app=backend.name, input=value, target=backend.name)
        t.options = dict(options)
        return t

    def traced(t: trace.Trace | None, fn, *args):
        """Run a backend call in this worker thread with `t` current, then hand `t` to the recorder."""
        if t is None:
            return fn(*args)
        with trace.active(t):
            try:
                result = fn(*args)
            except BaseException as exc:
                recorder.submit(t.finish(error=exc))
                raise
        output = result.get("output") if isinstance(result, dict) else result.text
        sources = result.get("sources") if isinstance(result, dict) else result.sources
        t.sources = list(sources or [])
        recorder.submit(t.finish(output=output))
        return result

    from lazycli.serve.media import mount

    mount(app, backend, error)

    @app.get("/", response_class=HTMLResponse)
    async def page():
        return HTMLResponse(_page_html())

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": backend.name, "kind": backend.kind, "in_flight": counter["active"]}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [_model_card(backend)]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        from lazycli.serve.backends import message_text

        users = [m for m in messages if m["role"] == "user"]
        question = message_text(users[-1].get("content")) if users else ""
        if body.stream:
            failure = check_model(body.model)
            if failure:
                return failure
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            t = new_trace(question, body.options())
            return StreamingResponse(
                _sse(backend, messages, body.options(), include_usage, pool, limits.timeout, t, recorder),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        t = new_trace(question, body.options())
        result = await guarded(body.model, traced, t, backend.chat, messages, body.options())
        if isinstance(result, JSONResponse):
            return result
        return _completion(backend.name, result, t.id if t else None)

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest):
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        if not backend.embeds():
            return error(
                400, f"{backend.name!r} does not embed", "invalid_request_error", "embeddings_unsupported"
            )
        result = await guarded(None, backend.embed, texts, body.model)
        if isinstance(result, JSONResponse):
            return result
        data = [{"object": "embedding", "index": i, "embedding": vec} for i, vec in enumerate(result)]
        return {
            "object": "list",
            "data": data,
            "model": body.model or backend.name,
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }

    @app.post("/v1/apps/{name}/invoke")
    async def invoke(name: str, body: InvokeRequest):
        if name not in backend.aliases:
            return error(
                404,
                f"no app {name!r} here; this server serves {backend.name!r}",
                "invalid_request_error",
                "app_not_found",
            )
        t = new_trace(body.input, body.options)
        result = await guarded(None, traced, t, backend.invoke, body.input, body.options)
        if isinstance(result, JSONResponse):
            return result
        return {"id": t.id if t else None, "app": backend.name, **result}

    @app.post("/v1/feedback")
    async def feedback(body: FeedbackRequest):
        if recorder is None:
            return error(
                400,
                "this server records no exchanges (it runs with chat_log off), so there is nothing to rate",
                "invalid_request_error",
                "feedback_unavailable",
            )
        rated = await guarded(None, _rate, recorder, body)
        if isinstance(rated, JSONResponse):
            return rated
        if rated is _BEHIND:
            return error(
                503,
                "this exchange is not stored yet (the state database is busy); send the feedback again",
                "service_unavailable",
                headers={"Retry-After": "5"},
            )
        if rated is None:
            return error(
                404,
                f"no recorded exchange {body.id!r} (send the id of a response from this server)",
                "invalid_request_error",
                "exchange_not_found",
            )
        return {
            "object": "feedback",
            "id": body.id,
            "trace_id": rated.trace_id,
            "exchange": rated.id,
            "rating": "up" if rated.rating > 0 else "down",
        }

    return app


_BEHIND = object()


def _rate(recorder: trace.Recorder, body: FeedbackRequest):
    from lazycli import chatlog

    trace_id = body.id.removeprefix("chatcmpl-")
    if not recorder.wait_for(trace_id):  # a rating can come before its exchange is written
        return _BEHIND
    return chatlog.rate(
        trace_id, body.value(), comment=body.comment, correction=body.correction, origin="api"
    )


def _model_card(backend: Any) -> dict[str, Any]:
    return {"id": backend.name, "object": "model", "created": 0, "owned_by": "lazycli", "kind": backend.kind}


def _completion(name: str, reply, trace_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-" + (trace_id or uuid.uuid4().hex),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason or "stop",
            }
        ],
        "usage": _usage(reply.usage),
    }
    if reply.tool_calls:
        body["choices"][0]["message"] = {"role": "assistant", "content": reply.text or None}
        body["choices"][0]["message"]["tool_calls"] = reply.tool_calls
    if reply.sources:
        body["sources"] = reply.sources
    return body


def _usage(usage: dict | None) -> dict[str, int]:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


_DONE = object()


async def _sse(backend, messages, options, include_usage: bool, pool, timeout: float, t=None, recorder=None):
    """Server-sent events in OpenAI's chunk format; the backend's pieces come from a thread.
    `t`: this exchange's trace, current in that thread and handed to `recorder` when it ends."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = {"flag": False}
    cid = "chatcmpl-" + (t.id if t is not None else uuid.uuid4().hex)
    created = int(time.time())
    holder: dict[str, Any] = {}

    def produce() -> None:
        parts: list[str] = []
        failure: BaseException | str | None = None
        with trace.active(t):
            try:
                reply = backend.stream(messages, options)
                holder["reply"] = reply
                for piece in reply:
                    if stop["flag"]:
                        reply.close()
                        failure = "the client went away before the answer ended"
                        break
                    parts.append(piece)
                    loop.call_soon_threadsafe(queue.put_nowait, piece)
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except BaseException as exc:  # handed to the event loop, reported as an error event
                failure = exc
                loop.call_soon_threadsafe(queue.put_nowait, exc)
        if t is not None and recorder is not None:
            reply = holder.get("reply")
            t.sources = list(getattr(reply, "sources", None) or [])
            recorder.submit(t.finish(output="".join(parts), error=failure))

    def frame(choices: list[dict], **extra) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": backend.name,
            "choices": choices,
            **extra,
        }
        return "data: " + json.dumps(body, ensure_ascii=False) + "\n\n"

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return frame([{"index": 0, "delta": delta, "finish_reason": finish}], **extra)

    deadline = loop.time() + timeout
    pool.submit(produce)
    yield chunk({"role": "assistant", "content": ""})
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                stop["flag"] = True
                yield _sse_error(f"request took longer than {timeout:g} s", "timeout")
                return
            # Pieces that arrived together go out in one write: fewer sends under load, same events.
            batch = [item]
            while not queue.empty() and isinstance(batch[-1], str):
                batch.append(queue.get_nowait())
            text = "".join(chunk({"content": piece}) for piece in batch if isinstance(piece, str))
            if text:
                yield text
            item = batch[-1]
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                message = _public(item) if isinstance(item, LzError) else f"{type(item).__name__}: {item}"
                yield _sse_error(message, "upstream_error")
                return
        reply = holder.get("reply")
        if reply is not None and reply.tool_calls:  # whole calls, after the text: one delta each
            calls = [{"index": i, **call} for i, call in enumerate(reply.tool_calls)]
            yield chunk({"tool_calls": calls})
        extra: dict[str, Any] = {}
        if reply is not None and reply.sources:
            extra["sources"] = reply.sources
        yield chunk({}, (reply.finish_reason if reply else None) or "stop", **extra)
        if include_usage:
            yield frame([], usage=_usage(reply.usage if reply else None))
        yield "data: [DONE]\n\n"
    finally:
        stop["flag"] = True  # a client that went away stops the producer at its next piece


def _public(exc: LzError) -> str:
    """An upstream error as HTTP clients see it: no hint (it names local commands and files) and no
    path of this machine's keys file."""
    from lazycli.paths import keys_path

    return exc.message.replace(str(keys_path()), "lz's keys file")


def _sse_error(message: str, kind: str) -> str:
    return "data: " + json.dumps({"error": {"message": message, "type": kind, "code": kind}}) + "\n\n"


_PAGE: str | None = None


def _page_html() -> str:
    global _PAGE
    if _PAGE is None:
        _PAGE = resources.files("lazycli.serve").joinpath("static/index.html").read_text(encoding="utf-8")
    return _PAGE
