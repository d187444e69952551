"""The HTTP requests of online fine-tuning: built as records first, then printed (--dry-run) or sent.

A `WireRequest` is what one call puts on the wire: method, path (relative to the provider's base
URL; "//path" is taken from the URL's origin, a full URL is used as it is), query, a JSON body or a
multipart form with one file. `render()` prints it the way it would go out, with the key masked;
`send()` sends it through the provider's own endpoint (its key, headers, error mapping), retrying
only where a retry cannot create anything twice (`idempotent=True`: GETs, uploads).

Imported only by `lz finetune PROVIDER:MODEL`; httpx is imported when a request is sent.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from lazycli.errors import LzError


@dataclass(frozen=True)
class FilePart:
    """The file of a multipart upload: its form field, file name, bytes and content type."""

    field: str
    filename: str
    content: bytes
    content_type: str = "application/jsonl"


@dataclass
class WireRequest:
    method: str
    path: str
    json: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)  # multipart text fields, in order
    file: FilePart | None = None
    idempotent: bool = False  # safe to resend when the answer is lost

    @property
    def multipart(self) -> bool:
        return self.file is not None or bool(self.form)


@dataclass
class WireResponse:
    status: int
    body: Any


class WireError(LzError):
    """A request that reached no answer (connection dropped, timed out): the caller decides whether
    resending is safe."""


def full_url(endpoint, request: WireRequest) -> str:
    from urllib.parse import urlencode

    url = endpoint.url(request.path)
    if request.query:
        url += "?" + urlencode({k: v for k, v in request.query.items() if v is not None})
    return url


def _auth_line(endpoint, key_hint: str) -> str:
    from lazycli.keys import mask

    key = getattr(endpoint, "_api_key", None)
    shown = mask(key) if key else f"<{key_hint}>"
    return f"{endpoint.auth_header}: {endpoint.auth_scheme} {shown}".replace("  ", " ")


def render(endpoint, request: WireRequest, *, key_hint: str = "API key") -> str:
    """The request as text, key masked, the uploaded file summarised (name, size, sha256, lines)."""
    lines = [f"{request.method} {full_url(endpoint, request)}", _auth_line(endpoint, key_hint)]
    if request.multipart:
        lines.append("Content-Type: multipart/form-data")
        for name, value in request.form.items():
            lines.append(f"  form {name}={value}")
        if request.file is not None:
            part = request.file
            digest = hashlib.sha256(part.content).hexdigest()[:16]
            count = part.content.count(b"\n")
            lines.append(
                f"  file {part.field}=@{part.filename} ({part.content_type}, {len(part.content)} bytes, "
                f"{count} lines, sha256 {digest}…)"
            )
    elif request.json is not None:
        lines.append("Content-Type: application/json")
        lines.append(json.dumps(request.json, indent=2, ensure_ascii=False))
    return "\n".join(lines)


def describe(endpoint, request: WireRequest) -> dict:
    """The request as JSON (for --dry-run --json); no key, the file as its summary."""
    out: dict[str, Any] = {"method": request.method, "url": full_url(endpoint, request)}
    if request.multipart:
        out["form"] = dict(request.form)
        if request.file is not None:
            out["file"] = {
                "field": request.file.field,
                "filename": request.file.filename,
                "content_type": request.file.content_type,
                "bytes": len(request.file.content),
                "sha256": hashlib.sha256(request.file.content).hexdigest(),
            }
    elif request.json is not None:
        out["json"] = request.json
    return out


def _headers(endpoint, request: WireRequest) -> dict[str, str]:
    headers = endpoint.headers()
    if request.multipart:
        headers.pop("Content-Type", None)  # httpx writes multipart/form-data with its boundary
    return headers


def send(endpoint, request: WireRequest, *, retries: int | None = None, announce=None) -> WireResponse:
    """Send `request`; a vendor error becomes a ProviderError (key masked), a lost answer a WireError.

    Idempotent requests are retried on connection errors, 429 and 5xx with backoff; the others are
    sent once: the caller looks up whether the vendor acted before sending them again.
    """
    import httpx

    from lazycli.providers import RETRY_STATUS, backoff_delay, error_from_response, parse_retry_after

    url = full_url(endpoint, request)
    limit = (endpoint.max_retries if retries is None else retries) if request.idempotent else 0
    attempt = 0
    while True:
        try:
            response = _send_once(endpoint, request, url)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            if attempt < limit:
                attempt += 1
                delay = backoff_delay(attempt - 1)
                if announce:
                    announce(f"{endpoint.name}: {type(exc).__name__} on {request.method} {request.path}; "
                             f"retry {attempt}/{limit} in {delay:.1f}s")  # fmt: skip
                time.sleep(delay)
                continue
            raise WireError(
                f"{endpoint.name}: no answer to {request.method} {url} ({type(exc).__name__})",
                hint="check the network; a rerun of the same command picks up where this stopped",
            ) from None
        text = endpoint.redact(response.content.decode("utf-8", errors="replace"))
        if response.status_code < 400:
            try:
                return WireResponse(response.status_code, json.loads(text) if text.strip() else {})
            except ValueError:
                raise LzError(
                    f"{endpoint.name}: the answer to {request.method} {url} is not JSON: {text[:200]!r}",
                    hint="check the provider's base URL",
                ) from None
        retry_after = parse_retry_after(response.headers)
        error = error_from_response(
            endpoint.name,
            response.status_code,
            text,
            codes=endpoint.error_codes,
            retry_after=retry_after,
            key_source=endpoint.key_source,
        )
        # A busy or failing server is worth another try; an empty balance (also a 429) is not.
        transient = response.status_code in RETRY_STATUS and error.kind in ("rate_limit", "server")
        if transient and attempt < limit and (retry_after or 0) <= 60:
            attempt += 1
            time.sleep(retry_after if retry_after is not None else backoff_delay(attempt - 1))
            continue
        raise error


def _send_once(endpoint, request: WireRequest, url: str):
    client = endpoint.client()
    headers = _headers(endpoint, request)
    if request.multipart:
        files = None
        if request.file is not None:
            part = request.file
            files = [(part.field, (part.filename, part.content, part.content_type))]
        return client.request(request.method, url, data=dict(request.form), files=files, headers=headers)
    if request.json is not None:
        return client.request(request.method, url, json=request.json, headers=headers)
    return client.request(request.method, url, headers=headers)
