"""The client side of the media endpoints: speak, transcribe, read (OCR) at a deployment or a URL.

A target is a URL (`http://host:port/v1`), a deployment name, or a model name (the running
deployment of it, else one is started, as `lz chat` does). The engine's 4xx answers come back as
`MediaError`s carrying its one-line message and status; an engine that cannot be reached is an
`LzError` naming its URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lazycli.errors import LzError
from lazycli.launchers import Status
from lazycli.media import Blob, MediaError

if TYPE_CHECKING:
    from lazycli.deployments import Deployment

PATHS = {"tts": "/audio/speech", "stt": "/audio/transcriptions", "ocr": "/ocr", "sd": "/images/generations"}
# The bundled model each kind uses when no target is given (models shipped in the `media` extra).
DEFAULT_MODELS = {"tts": "espeak-ng-en", "stt": "pocketsphinx-en-us", "ocr": "pp-ocrv6-small"}
TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Endpoint:
    """Where one media model answers: its /v1 base URL and the name it serves under."""

    base_url: str
    model: str
    kind: str
    label: str  # what the user named (deployment, model or URL), for messages


@dataclass
class OcrResult:
    text: str
    lines: list[dict[str, Any]] = field(default_factory=list)


def default_target(kind: str) -> str:
    """`media_tts` / `media_stt` / `media_ocr` from the settings (LAZYCLI_MEDIA_TTS, …), else the
    bundled model of `kind`."""
    from lazycli import settings

    try:
        return getattr(settings.section("media"), kind)
    except (LzError, AttributeError):  # the media plugin is not loaded
        return DEFAULT_MODELS[kind]


def endpoint(target: str | None, kind: str, *, announce=None) -> Endpoint:
    """The endpoint for `target` (default: the configured model of `kind`, the bundled one)."""
    target = target or default_target(kind)
    if "://" in target:
        return Endpoint(base_url=target.rstrip("/"), model=target, kind=kind, label=target)
    from lazycli import deployments

    row = deployments.get(target, refresh=True)  # a dead engine is not reused
    if row is None or row.status is not Status.RUNNING:
        from lazycli.console import note

        # A model name, or a stopped deployment: the running one of that model, else a new one.
        row = deployments.ensure_running(row.model if row else target, announce=announce or note)
    _check_kind(row, kind, target)
    if not row.url:
        raise LzError(f"deployment {row.name} has no URL yet", hint=f"lz deploy status {row.name}")
    return Endpoint(row.url.rstrip("/"), row.served_name or row.model, kind, target)


def usage_hint(row: Deployment) -> str | None:
    """How to use a media deployment (`lz deploy` prints it), None for other engines."""
    from lazycli.serve.media import kind_of_engine

    kind = kind_of_engine(row.engine)
    verbs = {"tts": 'lz speak -m {} "Hello" -o hello.wav', "stt": "lz transcribe -m {} audio.wav"}
    verbs["ocr"] = "lz ocr -m {} page.png"
    verbs["sd"] = "POST {}/images/generations".replace("{}", row.url or "URL")
    return f"use: {verbs[kind].format(row.name)}" if kind else None


def _check_kind(row: Deployment, kind: str, target: str) -> None:
    from lazycli import engines

    try:
        types = engines.get_engine(row.engine).model_types
    except LzError:
        return  # an engine whose plugin is gone: let the request say what it can
    if kind not in types:
        raise LzError(
            f"{target} is a {'/'.join(types)} deployment ({row.engine}), not {kind}",
            hint=f"give {'an' if kind[0] in 'os' else 'a'} {kind} model, e.g. {DEFAULT_MODELS[kind]}",
        )


def _post(ep: Endpoint, **kwargs: Any):
    import httpx

    url = ep.base_url + PATHS[ep.kind]
    try:
        with httpx.Client(timeout=TIMEOUT_S, trust_env=False) as client:
            response = client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise LzError(
            f"{ep.label}: no answer from {url} ({type(exc).__name__})",
            hint="check it with `lz deploy ls`; restart it with `lz deploy restart NAME`",
        ) from None
    if response.status_code >= 400:
        raise MediaError(_message(response), status=response.status_code)
    return response


def _message(response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"


def speak(ep: Endpoint, text: str, *, voice: str | None = None, speed: float = 1.0) -> Blob:
    """`text` as WAV audio."""
    body: dict[str, Any] = {"model": ep.model, "input": text, "response_format": "wav", "speed": speed}
    if voice:
        body["voice"] = voice
    response = _post(ep, json=body)
    return Blob(data=response.content, mime="audio/wav", name="speech.wav")


def transcribe(ep: Endpoint, audio: Blob, *, language: str | None = None) -> str:
    data = {"model": ep.model}
    if language:
        data["language"] = language
    files = {"file": (f"audio.{audio.extension}", audio.data, audio.mime)}
    return str(_post(ep, data=data, files=files).json().get("text", ""))


def read(ep: Endpoint, image: Blob) -> OcrResult:
    """The text in `image` (lines in reading order, joined by newlines)."""
    answer = _post(ep, json={"model": ep.model, "image": image.data_url()}).json()
    return OcrResult(text=str(answer.get("text", "")), lines=list(answer.get("lines") or []))
