"""The HTTP wire layer: the OpenAI-compatible client (`OpenAICompatible`), its base `HttpEndpoint`,
error mapping and retries. It imports nothing above errors and settings; `lazycli.providers` builds
these clients from provider plugins' records, `client.adapters` speaks other engines' protocols.

Most services (OpenAI, Moonshot, DeepSeek, DashScope's compatible mode, Zhipu, Ark, SenseNova's
compatible mode) speak the OpenAI chat API, so a provider plugin is mostly data (a `ProviderSpec`)
plus, where the vendor differs, a `client_factory` built with `compat_factory(...)` that declares
its error codes, option names and native embedding / rerank endpoints.

Requests retry on 429, 5xx and connection errors with exponential backoff, honouring Retry-After;
a stream that breaks after text has been shown is reported, never silently retried. Vendor error
bodies are mapped to one clear line by kind: auth, quota, rate limit, model not found, context too
long. Keys are sent only in the auth header: never logged, never put in an error message.

Kept light at import (plugin modules import it): httpx is imported when the first request is sent.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from lazycli.client import Backend, Chunk, Completion, ToolCall, ToolCallDelta
from lazycli.errors import LzError, mask

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_BACKOFF_S = 8.0
# A Retry-After longer than this is not waited out: the user gets the rate-limit error instead.
MAX_RETRY_AFTER_S = 60.0
_CLIENT_LOCK = threading.Lock()
# Retry notes go to the `announce` callback the caller passes (lz's core passes its console's
# `note`); without one they are logged, which Python prints on stderr when nothing is configured.
_log_note = logging.getLogger("lazycli.client").warning

# Error kinds and the hint each gives.
KIND_HINTS = {
    "auth": "check the key: `lz keys set {name}` or the env var",
    "quota": "the account is out of quota or balance: top it up or use another provider",
    "rate_limit": "slow down or retry later",
    "model_not_found": "check the model name (provider:model) and that your account may use it",
    "context_length": "shorten the conversation (/reset in the REPL) or lower --max-tokens",
    "bad_request": "check the options sent (temperature, max tokens, stop…)",
    "server": "the service failed; retry later",
    "connection": "check the URL and that the server is up",
    "not_api": "check the URL: give the server's API base (an OpenAI-compatible one usually ends in /v1)",
    "timeout": "raise request_timeout (`lz config set request_timeout 300`) or retry",
    "disconnected": "the partial answer was kept; ask again",
    "content_filter": "the service refused the content",
}

# Codes / types every OpenAI-style vendor shares (OpenAI's own names).
COMMON_CODES: dict[str, str] = {
    "invalid_api_key": "auth",
    "invalid_authentication_error": "auth",
    "authentication_error": "auth",
    "permission_denied": "auth",
    "insufficient_quota": "quota",
    "billing_hard_limit_reached": "quota",
    "rate_limit_exceeded": "rate_limit",
    "model_not_found": "model_not_found",
    "context_length_exceeded": "context_length",
    "string_above_max_length": "context_length",
}

_CONTEXT_WORDS = re.compile(
    r"maximum context length|context length|context window|too many tokens|prompt is too long|"
    r"input length|exceeds the limit|too long",
    re.I,
)
_MODEL_WORDS = re.compile(
    r"model.*(not exist|not found|does not exist|no such|unknown)|not found.*model", re.I
)


class ProviderError(LzError):
    """An error reported by (or on the way to) a model service, mapped to a kind."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class Provider(Backend, Protocol):
    """What a provider client offers: a chat backend plus embeddings and rerank (OpenAICompatible
    implements all of it)."""

    def embed(self, texts: list[str], model: str | None = None) -> list[list[float]]: ...

    def rerank(self, query: str, documents: list[str], model: str | None = None) -> list[float]: ...


# --- error mapping ------------------------------------------------------------------------------


def _error_fields(body: Any) -> tuple[str, list[str]]:
    """(message, codes) from the error bodies vendors send.

    OpenAI/Moonshot/DeepSeek/DashScope-compatible: {"error": {"message", "type", "code"}};
    Zhipu: {"error": {"code": "1113", "message"}}; DashScope native: {"code", "message"};
    Ark: {"error": {"code": "AuthenticationError", "message", "type"}}; FastAPI: {"detail": ...}.
    """
    if not isinstance(body, dict):
        return (_one_line(str(body))[:300] if body else ""), []
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    message = inner.get("message") or inner.get("msg") or body.get("message") or body.get("detail") or ""
    if isinstance(body.get("error"), str):
        message = message or body["error"]
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    codes = [str(inner.get(k)) for k in ("code", "type", "status") if inner.get(k) not in (None, "")]
    if inner is not body:
        codes += [str(body.get(k)) for k in ("code", "type") if body.get(k) not in (None, "")]
    return message.strip(), codes


def _one_line(text: str) -> str:
    """A non-JSON error body (an HTML error page, a proxy's text) as one line of its words."""
    title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    body = re.sub(r"<(script|style|head)\b.*?</\1>", " ", text, flags=re.I | re.S)
    words = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    return words or (" ".join(title.group(1).split()) if title else "")


def _not_this_api(status: int, body: Any) -> bool:
    """A 404/405/501 without an API error body: the URL reached a web server, or a path that does
    not exist there (a missing /v1), not the API (which answers errors in JSON)."""
    if status not in (404, 405, 501):
        return False
    if not isinstance(body, dict):
        return True
    return set(body) == {"detail"} and body["detail"] in ("Not Found", "Method Not Allowed")


def classify(status: int | None, body: Any, codes_table: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(kind, vendor message) for an HTTP error: vendor codes first, then the status, then the text."""
    message, codes = _error_fields(body)
    table = {**COMMON_CODES, **(codes_table or {})}
    for code in codes:
        if code in table:
            return table[code], message
    if status in (401, 403):
        return "auth", message
    if status == 402:
        return "quota", message
    if status == 429:
        return "rate_limit", message
    if message and _CONTEXT_WORDS.search(message):
        return "context_length", message
    if status == 404 or (message and _MODEL_WORDS.search(message)):
        return "model_not_found", message
    if status is not None and status >= 500:
        return "server", message
    return "bad_request", message


def error_from_response(
    name: str,
    status: int,
    text: str,
    *,
    codes: Mapping[str, str] | None = None,
    retry_after: float | None = None,
    model: str | None = None,
    key_source: str | None = None,
    url: str | None = None,
    api: str = "an OpenAI-compatible",
) -> ProviderError:
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    kind, message = classify(status, body, codes)
    if url and _not_this_api(status, body):
        said = f": {message[:100]}" if message else ""
        return ProviderError(
            f"{name}: {url} is not {api} endpoint (HTTP {status}{said})",
            kind="not_api",
            status=status,
            hint=KIND_HINTS["not_api"],
        )
    detail = f": {message}" if message else ""
    what = {
        "auth": f"{name} rejected the API key" + (f" (from {key_source})" if key_source else ""),
        "quota": f"{name}: quota or balance exhausted",
        "rate_limit": f"{name}: rate limited"
        + (f", retry after {retry_after:g}s" if retry_after is not None else ""),
        "model_not_found": f"{name}: model {model!r} not found" if model else f"{name}: not found",
        "context_length": f"{name}: the conversation is too long for model {model!r}",
        "server": f"{name}: server error",
        "bad_request": f"{name}: request refused",
        "content_filter": f"{name}: content refused",
    }.get(kind, f"{name}: error")
    hint = KIND_HINTS.get(kind, "").format(name=name)
    return ProviderError(
        f"{what} (HTTP {status}){detail}", kind=kind, status=status, retry_after=retry_after, hint=hint
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from Retry-After (seconds or an HTTP date) or the retry-after-ms header."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: ~0.5, 1, 2, 4… seconds, capped."""
    return min(MAX_BACKOFF_S, 0.5 * (2**attempt)) * (0.8 + 0.4 * random.random())


# --- HTTP with retries --------------------------------------------------------------------------


class HttpEndpoint:
    """Shared HTTP plumbing for a base URL: headers, timeouts, retries, error mapping, SSE."""

    # Native tool calling (`tools` / `tool_calls` on the wire): the OpenAI-compatible base has it;
    # the prompt-only engine protocols built on this class do not.
    supports_tools = False
    # What the server at the URL should be; a 404/405/501 without an API error says it is not.
    api = "an OpenAI-compatible"

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str | None = None,
        key_source: str | None = None,
        auth_header: str = "Authorization",
        auth_scheme: str = "Bearer",
        extra_headers: Mapping[str, str] | None = None,
        error_codes: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.key_source = key_source
        self.auth_header = auth_header
        self.auth_scheme = auth_scheme
        self.extra_headers = dict(extra_headers or {})
        self.error_codes = dict(error_codes or {})
        self.timeout = timeout if timeout is not None else _setting("request_timeout", 120.0)
        self.max_retries = max_retries if max_retries is not None else _setting("max_retries", 3)
        self.announce = announce or _log_note
        self._client = None

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    # -- plumbing

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("//"):  # relative to the origin, not the base path
            origin = re.match(r"^(https?://[^/]+)", self.base_url)
            return (origin.group(1) if origin else self.base_url) + path[1:]
        return self.base_url + "/" + path.lstrip("/")

    def redact(self, text: str) -> str:
        """Vendor error text with our key masked: an error body may echo the key it was sent, and
        that text ends up in the one-line error a user sees (and in chat logs)."""
        if self._api_key and self._api_key in text:
            return text.replace(self._api_key, mask(self._api_key))
        return text

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json", "User-Agent": "lazycli"}
        out.update(self.extra_headers)
        if self._api_key:
            out[self.auth_header] = f"{self.auth_scheme} {self._api_key}".strip()
        return out

    def client(self):
        with _CLIENT_LOCK:  # serve shares one endpoint (and its connection pool) across threads
            if self._client is None:
                import httpx

                trust_env = not is_loopback(self.base_url)
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
                    # Proxies from the environment apply to online services, never to 127.0.0.1.
                    trust_env=trust_env,
                    verify=_ssl_context(trust_env),
                )
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        stream: bool = False,
        model: str | None = None,
        retries: int | None = None,
    ):
        """The response (status < 400) after retries; a ProviderError otherwise."""
        import httpx

        url = self.url(path)
        max_retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                client = self.client()
                request = client.build_request(method, url, json=payload, headers=self.headers())
                response = client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                if attempt < max_retries:
                    attempt = self._wait(attempt, max_retries, None, f"timed out ({type(exc).__name__})")
                    continue
                raise ProviderError(
                    f"{self.name}: no answer from {url} within {self.timeout:g}s",
                    kind="timeout",
                    hint=KIND_HINTS["timeout"],
                ) from None
            except httpx.TransportError as exc:
                if attempt < max_retries:
                    attempt = self._wait(
                        attempt, max_retries, None, f"connection failed ({type(exc).__name__})"
                    )
                    continue
                raise ProviderError(
                    f"{self.name}: cannot reach {url}: {exc or type(exc).__name__}",
                    kind="connection",
                    hint=KIND_HINTS["connection"],
                ) from None
            if response.status_code < 400:
                return response
            text = self.redact(response.read().decode("utf-8", errors="replace"))
            response.close()
            retry_after = parse_retry_after(response.headers)
            error = error_from_response(
                self.name,
                response.status_code,
                text,
                codes=self.error_codes,
                retry_after=retry_after,
                model=model,
                key_source=self.key_source,
                url=url,
                api=self.api,
            )
            retryable = response.status_code in RETRY_STATUS and error.kind in (
                "rate_limit",
                "server",
                "bad_request",
            )
            too_long = retry_after is not None and retry_after > MAX_RETRY_AFTER_S
            if retryable and attempt < max_retries and not too_long:
                attempt = self._wait(attempt, max_retries, retry_after, f"HTTP {response.status_code}")
                continue
            raise error

    def _wait(self, attempt: int, max_retries: int, retry_after: float | None, why: str) -> int:
        delay = retry_after if retry_after is not None else backoff_delay(attempt)
        self.announce(f"{self.name}: {why}; retry {attempt + 1}/{max_retries} in {delay:.1f}s")
        time.sleep(delay)
        return attempt + 1

    def post_json(self, path: str, payload: Any, *, model: str | None = None) -> Any:
        response = self.send("POST", path, payload, model=model)
        return _json_body(self.name, response)

    def get_json(self, path: str, *, retries: int | None = None) -> Any:
        return _json_body(self.name, self.send("GET", path, retries=retries))

    def stream_lines(self, path: str, payload: Any, *, model: str | None = None) -> Iterator[str]:
        """Lines of a streamed response; a broken connection becomes a 'disconnected' error."""
        import httpx

        response = self.send("POST", path, payload, stream=True, model=model)
        try:
            yield from response.iter_lines()
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise ProviderError(
                f"{self.name}: the connection dropped mid-answer ({type(exc).__name__})",
                kind="disconnected",
                hint=KIND_HINTS["disconnected"],
            ) from None
        finally:
            response.close()

    def sse_events(self, path: str, payload: Any, *, model: str | None = None) -> Iterator[Any]:
        """Decoded JSON `data:` events of a Server-Sent Events stream, until [DONE]."""
        for line in self.stream_lines(path, payload, model=model):
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if not data:
                continue
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("error") and not event.get("choices"):
                raise error_from_response(
                    self.name, 200, self.redact(data), codes=self.error_codes, model=model
                )
            yield event


@functools.lru_cache(maxsize=2)
def _ssl_context(trust_env: bool):
    """One TLS context per process: building one loads the CA bundle (~0.1 s), and lz makes a
    client per endpoint (chat, embed, rerank, each step of a recipe)."""
    import httpx

    return httpx.create_ssl_context(trust_env=trust_env)


def is_loopback(url: str) -> bool:
    host = re.sub(r"^[a-z+]+://", "", url.lower()).split("/", 1)[0].rsplit("@", 1)[-1]
    host = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    return host in ("localhost", "::1") or host.startswith("127.")


def _json_body(name: str, response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            f"{name}: the answer is not JSON: {response.text[:200]!r}",
            kind="server",
            hint=KIND_HINTS["server"],
        ) from None


# --- the OpenAI-compatible base -----------------------------------------------------------------


def normalize_usage(usage: Any) -> dict:
    """prompt_tokens / completion_tokens / total_tokens from OpenAI- or DashScope-style usage."""
    if not isinstance(usage, dict):
        return {}
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    total = usage.get("total_tokens")
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    out = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    return {k: v for k, v in out.items() if v is not None}


def tool_call_deltas(items: Any) -> list[ToolCallDelta]:
    """The tool-call fragments of one stream delta: `{index, id?, function: {name?, arguments?}}`.
    A server that sends no index (some do, for a single call) gets -1: the assembler places it."""
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        fn = item.get("function") or {}
        args = fn.get("arguments")
        if args is not None and not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        index = item.get("index")
        out.append(
            ToolCallDelta(
                index=index if isinstance(index, int) else -1,
                id=item.get("id") or None,
                name=fn.get("name") or None,
                arguments=args or "",
            )
        )
    return out


class OpenAICompatible(HttpEndpoint):
    """A client for any service speaking the OpenAI API (`POST {base}/chat/completions`, …).

    `option_names` renames options for vendors that differ (SenseNova: max_tokens → max_new_tokens);
    `stream_usage` asks for usage in the stream (`stream_options.include_usage`) where supported;
    `embed_path` / `rerank_path` point at the embedding and rerank endpoints (a path starting with
    "//" is taken from the origin, not the base path); `embed_style` / `rerank_style` pick their
    body shapes: "openai" / "native-sensenova" and "cohere" (model, query, documents → results[]
    with index + relevance_score) / "dashscope" ({"input": {...}} → output.results[]).
    `tools=False` declares a service without tool calling (a request with tools is then refused).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        option_names: Mapping[str, str] | None = None,
        stream_usage: bool = True,
        embed_path: str | None = "/embeddings",
        embed_style: str = "openai",
        default_embed_model: str | None = None,
        rerank_path: str | None = None,
        rerank_style: str = "cohere",
        default_rerank_model: str | None = None,
        tools: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, base_url, **kwargs)
        self.supports_tools = tools
        self.option_names = dict(option_names or {})
        self.stream_usage = stream_usage
        self.embed_path = embed_path
        self.embed_style = embed_style
        self.default_embed_model = default_embed_model
        self.rerank_path = rerank_path
        self.rerank_style = rerank_style
        self.default_rerank_model = default_rerank_model

    def payload(self, messages: list[dict], model: str, options: dict, *, stream: bool) -> dict:
        body: dict[str, Any] = {"model": model, "messages": messages}
        for key, value in options.items():
            body[self.option_names.get(key, key)] = value
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body["stream_options"] = {"include_usage": True}
        return body

    def chat(self, messages: list[dict], model: str, options: dict) -> Completion:
        data = self.post_json(
            "/chat/completions", self.payload(messages, model, options, stream=False), model=model
        )
        choices = data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        calls = message.get("tool_calls") or []
        return Completion(
            text=message.get("content") or "",
            model=data.get("model") or model,
            usage=normalize_usage(data.get("usage")),
            finish_reason=choices[0].get("finish_reason"),
            raw=data,
            tool_calls=[ToolCall.from_wire(c, i) for i, c in enumerate(calls) if isinstance(c, dict)],
        )

    def chat_stream(self, messages: list[dict], model: str, options: dict) -> Iterator[Chunk]:
        payload = self.payload(messages, model, options, stream=True)
        finished = False
        for event in self.sse_events("/chat/completions", payload, model=model):
            choices = event.get("choices") or []
            choice = choices[0] if choices else {}
            delta = choice.get("delta") or {}
            # Moonshot puts the final usage inside the choice; OpenAI in a last chunk without choices.
            usage = normalize_usage(event.get("usage") or choice.get("usage"))
            reason = choice.get("finish_reason")
            finished = finished or bool(reason)
            yield Chunk(
                text=delta.get("content") or "",
                finish_reason=reason,
                usage=usage or None,
                model=event.get("model"),
                tool_calls=tool_call_deltas(delta.get("tool_calls")),
            )
        if not finished:
            # The server closed the stream cleanly but never said the answer was done.
            raise ProviderError(
                f"{self.name}: the stream ended before the answer was finished",
                kind="disconnected",
                hint=KIND_HINTS["disconnected"],
            )

    def embed(self, texts: list[str], model: str | None = None) -> list[list[float]]:
        model = model or self.default_embed_model
        if not self.embed_path or not model:
            raise LzError(
                f"{self.name} offers no embeddings", hint="use openai, sensenova, glm, qwen or doubao"
            )
        data = self.post_json(self.embed_path, {"model": model, "input": texts}, model=model)
        # Same request body for both styles; SenseNova's native API answers under "embeddings".
        rows = data.get("embeddings" if self.embed_style == "native-sensenova" else "data") or []
        rows = sorted(rows, key=lambda r: r.get("index", 0))
        return [list(map(float, r["embedding"])) for r in rows]

    def rerank(self, query: str, documents: list[str], model: str | None = None) -> list[float]:
        model = model or self.default_rerank_model
        if not self.rerank_path or not model:
            raise LzError(f"{self.name} offers no rerank", hint="glm and qwen offer rerank")
        if self.rerank_style == "dashscope":
            body = {
                "model": model,
                "input": {"query": query, "documents": documents},
                "parameters": {"return_documents": False, "top_n": len(documents)},
            }
            data = self.post_json(self.rerank_path, body, model=model)
            results = (data.get("output") or {}).get("results") or []
        else:
            body = {"model": model, "query": query, "documents": documents, "top_n": len(documents)}
            data = self.post_json(self.rerank_path, body, model=model)
            results = data.get("results") or []
        scores = [0.0] * len(documents)
        for row in results:
            scores[int(row["index"])] = float(row["relevance_score"])
        return scores

    def list_models(self) -> list[str]:
        # A question asked on the way to the real request: no retries (the request has its own).
        data = self.get_json("/models", retries=0)
        return [m.get("id") for m in data.get("data") or [] if m.get("id")]


def _setting(name: str, default: Any) -> Any:
    try:
        from lazycli import settings

        return getattr(settings.get(), name)
    except LzError:
        return default
