"""Traces: what happened inside one exchange (`lz chat`, `lz rag`, `lz run`, `lz serve`).

A `Trace` is one exchange: its input, its output, and the steps (`Span`s) that produced it: each
step's input and output, the retrieved sources with their scores, the prompt sent, tokens and
latency. Code that does a step opens a span on the *current* trace, which a context variable holds,
so library code (flow nodes, `rag.answer`) needs no trace argument and costs one lookup when
nothing is being traced:

    t = trace.Trace("rag", app="kb", input=question)
    with trace.active(t):
        with trace.span("retrieve", "retriever", input=question) as s:
            s.output = index.search(question)
    t.finish(output=answer)
    t.save()                      # the chat_logs row + its spans (lazycli.chatlog)

Threads do not inherit context variables: `flow` runs parallel branches in a copied context, and
`lz serve` activates a request's trace in the thread that runs it. Secrets never reach a trace:
values under secret-looking keys and the text of known secrets are replaced before anything is
stored (`redact`).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[redacted]"


@dataclass
class Span:
    """One step of an exchange. `attrs` holds what the step knows: model, messages (the prompt
    sent), usage (tokens), retriever names, scores…"""

    seq: int
    parent: int | None
    name: str
    kind: str
    started_at: float
    duration_s: float | None = None
    input: Any = None
    output: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Trace:
    """One exchange and its spans; `save()` stores it (see `lazycli.chatlog.save`)."""

    kind: str  # chat | rag | run | serve
    app: str | None = None  # the index, recipe app, or served name
    input: Any = None
    target: str | None = None
    model: str | None = None
    conversation_id: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    output: Any = None
    error: str | None = None
    latency_s: float | None = None
    messages: list[dict] | None = None  # what the (last) LLM was sent: the prompt
    options: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)
    finish_reason: str | None = None
    spans: list[Span] = field(default_factory=list)
    _t0: float = field(default_factory=time.perf_counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextlib.contextmanager
    def span(self, name: str, kind: str, input: Any = None, **attrs: Any) -> Iterator[Span]:
        """A step of this trace; nested spans (in this thread or context) get it as parent."""
        now = _current.get()
        parent = now[1] if now is not None and now[0] is self else None
        with self._lock:
            sp = Span(len(self.spans), parent, name, kind, time.time(), input=input, attrs=attrs)
            self.spans.append(sp)
        token = _current.set((self, sp.seq))
        t0 = time.perf_counter()
        try:
            yield sp
        except BaseException as exc:
            sp.error = error_text(exc)
            raise
        finally:
            sp.duration_s = time.perf_counter() - t0
            _reset(token, now)

    def llm_result(self, sp: Span, completion: Any) -> None:
        """Fill an LLM span (and the trace) from a `lazycli.client.Completion`."""
        if completion is None:
            return
        usage = dict(getattr(completion, "usage", None) or {})
        sp.attrs.update(model=completion.model, usage=usage, finish_reason=completion.finish_reason)
        if getattr(completion, "latency_s", None) is not None:
            sp.attrs["latency_s"] = completion.latency_s
        self.model = completion.model or self.model
        self.finish_reason = completion.finish_reason
        # Several LLM calls in one exchange (a flow): their tokens add up.
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if isinstance(usage.get(key), int):
                self.usage[key] = self.usage.get(key, 0) + usage[key]

    def finish(self, output: Any = None, error: BaseException | str | None = None) -> Trace:
        self.output = output
        if error is not None:
            self.error = error if isinstance(error, str) else error_text(error)
        self.latency_s = time.perf_counter() - self._t0
        if self.messages is None:
            self.messages = next(
                (s.attrs["messages"] for s in reversed(self.spans) if "messages" in s.attrs), None
            )
        return self

    def save(self, *, warn=None) -> bool:
        """Store it; a busy or broken database costs a warning, never the user's answer."""
        from lazycli import chatlog

        try:
            chatlog.save([self])
            return True
        except Exception as exc:
            if warn is not None:
                warn(f"[dim]could not record the trace: {exc}[/dim]")
            return False


_current: ContextVar[tuple[Trace, int | None] | None] = ContextVar("lazycli_trace", default=None)


def _reset(token, previous) -> None:
    try:
        _current.reset(token)
    except ValueError:  # a generator's span closed in another context: put the old value back
        _current.set(previous)


def current() -> Trace | None:
    now = _current.get()
    return now[0] if now is not None else None


@contextlib.contextmanager
def active(trace: Trace | None) -> Iterator[Trace | None]:
    """Make `trace` the current one for code run inside (None: trace nothing)."""
    token = _current.set((trace, None) if trace is not None else None)
    try:
        yield trace
    finally:
        _current.reset(token)


class _Discard:
    """What `span()` yields when nothing is traced: one shared object that keeps nothing."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        pass

    @property
    def attrs(self) -> dict[str, Any]:
        return {}


_DISCARD: Any = _Discard()


@contextlib.contextmanager
def span(name: str, kind: str, input: Any = None, **attrs: Any) -> Iterator[Span]:
    """A span on the current trace, or a throwaway one when nothing is traced (cheap)."""
    now = _current.get()
    if now is None:
        yield _DISCARD
        return
    with now[0].span(name, kind, input, **attrs) as sp:
        yield sp


def annotate(**attrs: Any) -> None:
    """Add attributes to the current span (no-op when nothing is traced)."""
    now = _current.get()
    if now is not None and now[1] is not None:
        now[0].spans[now[1]].attrs.update(attrs)


def llm_result(completion: Any) -> None:
    """Model, tokens, latency of a finished LLM call onto the current span and its trace."""
    now = _current.get()
    if now is not None and now[1] is not None:
        now[0].llm_result(now[0].spans[now[1]], completion)


@contextlib.contextmanager
def recording(
    kind: str, app: str | None, input: Any, *, target: str | None = None, enabled: bool = True, warn=None
) -> Iterator[Trace]:
    """Trace the code inside as one exchange and store it at the end (also when it fails). The
    caller sets `.output` (and `.sources`) on the yielded trace; enabled=False records nothing."""
    t = Trace(kind, app=app, input=input, target=target)
    if not enabled:
        yield t
        return
    with active(t):
        try:
            yield t
        except BaseException as exc:
            t.finish(t.output, error="interrupted" if isinstance(exc, KeyboardInterrupt) else exc)
            t.save(warn=warn)
            raise
    t.finish(t.output)
    t.save(warn=warn)


def error_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None)  # LzError: its one line, not the repr
    return message if isinstance(message, str) else f"{type(exc).__name__}: {exc}"


# --- secrets ------------------------------------------------------------------------------------

_SECRET_KEY = re.compile(r"(api[_-]?key|secret|password|passwd|authorization|bearer|access[_-]?token)", re.I)
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|SECRET|PASSWORD)$", re.I)
_extra_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """A value (e.g. `lz serve --api-key`) that must never appear in a stored trace."""
    if value and len(value) >= 6:
        _extra_secrets.add(value)


def known_secrets() -> list[str]:
    """Secret values this process knows: env vars named like keys/tokens, keys stored with
    `lz keys set`, and added ones (longest first, so a key containing another goes whole)."""
    found = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 6}
    try:
        from lazycli import keys

        found |= {v for v in keys._read().values() if len(v) >= 6}
    except Exception:  # an unreadable keys file is `lz keys`' error to report, not the trace's
        pass
    return sorted(found | _extra_secrets, key=len, reverse=True)


def redact(value: Any, secrets: list[str] | None = None) -> Any:
    """`value` with secret-keyed entries and known secret strings replaced by [redacted]."""
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else redact(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value


# --- recording off the hot path (lz serve) -------------------------------------------------------


class Recorder:
    """Stores finished traces from a background thread, in batches: a request never waits for
    SQLite. A busy or locked database (another `lz` process writing) only delays the writes: a
    failed batch is retried with back-off, and at most `max_pending` traces wait in memory.

    The thread keeps one connection with `synchronous = NORMAL`: in WAL mode a commit then costs no
    fsync (measured here: 29 ms per one-trace commit with fsync, well under 1 ms without); a crash of
    the process loses nothing committed, a power cut may lose the last traces, never the database."""

    def __init__(self, save=None, *, max_pending: int = 10_000, warn=None) -> None:
        self._save = save or self._save_default
        self._db = None
        self._max = max_pending
        self._warn = warn
        self._queue: list[Trace] = []
        self._pending: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.saved = 0
        self._thread = threading.Thread(target=self._loop, name="lz-trace-writer", daemon=True)
        self._thread.start()

    def submit(self, t: Trace) -> None:
        with self._cond:
            if len(self._queue) >= self._max:  # the database has been unwritable for long: oldest go
                old = self._queue.pop(0)
                self._pending.discard(old.id)
                self.dropped += 1
            self._queue.append(t)
            self._pending.add(t.id)
            self._cond.notify_all()

    def wait_for(self, trace_id: str, timeout: float = 10.0) -> bool:
        """Block until `trace_id` is stored (True), or it was never submitted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while trace_id in self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to `timeout` seconds), then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        backoff = 0.05
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    if self._db is not None:
                        self._db.close()
                    return
                batch = list(self._queue)
            try:
                self._store(batch)
            except Exception as exc:  # locked past the busy timeout, disk full…: keep them, retry
                if self._warn is not None and backoff == 0.05:  # once per failing streak
                    self._warn(f"traces not stored yet ({len(batch)} waiting, retrying): {exc}")
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.05
            with self._cond:
                done = {t.id for t in batch}
                self._queue = [t for t in self._queue if t.id not in done]
                self._pending -= done
                self.saved += len(batch)
                self._cond.notify_all()

    def _store(self, batch: list[Trace]) -> None:
        import sqlite3

        try:
            self._save(batch)
        except sqlite3.IntegrityError:  # one bad trace (a reused id) must not block the others
            for t in batch:
                try:
                    self._save([t])
                except sqlite3.IntegrityError:
                    self.dropped += 1

    def _save_default(self, batch: list[Trace]) -> None:
        from lazycli import chatlog, state

        if self._db is None:
            self._db = state.connect()
            self._db.execute("PRAGMA synchronous = NORMAL")
        chatlog.save(batch, db=self._db)
