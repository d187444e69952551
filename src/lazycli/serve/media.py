"""The media paths of `lz serve`: OpenAI's `/v1/audio/speech`, `/v1/audio/transcriptions` and
`/v1/images/generations`, and lz's `/v1/ocr`, passed through to the deployment of the matching kind.

A recipe exposes them for its `[models]` that are tts/stt/ocr models (voice-rag: stt and tts); `lz
serve MODEL` of a media model exposes its own path. The request body goes to the engine as it came
(size-capped by `Limits.max_media_body`, not the JSON limit) and the engine's answer, audio bytes or
a 4xx JSON error, comes back as it is: one wire format, checked in one place (the engine).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' `Request` annotation at run time,
# and a string naming a class imported inside mount() would not resolve.
import asyncio
from typing import Any

from lazycli.errors import LzError

PATHS = {
    "tts": "/v1/audio/speech",
    "stt": "/v1/audio/transcriptions",
    "ocr": "/v1/ocr",
    "sd": "/v1/images/generations",
}
KINDS = tuple(PATHS)


def is_media_path(path: str) -> bool:
    return path in PATHS.values()


def kind_of_engine(engine: str | None) -> str | None:
    """tts/stt/ocr when `engine` serves that kind of model, else None."""
    from lazycli import engines

    if not engine:
        return None
    try:
        types = engines.get_engine(engine).model_types
    except LzError:
        return None
    return next((t for t in types if t in KINDS), None)


def recipe_targets(results: dict[str, Any]) -> dict[str, str]:
    """kind → deployment for a recipe's deployed media models (the first of each kind)."""
    out: dict[str, str] = {}
    for result in (results.get("models") or {}).values():
        kind = kind_of_engine(result.get("engine"))
        if kind and kind not in out:
            out[kind] = result["target"]
    return out


def model_kind(parsed: Any) -> str | None:
    """The media kind of a parsed target (`lazycli.targets.parse`): a deployment's by its engine, a
    model's by the catalogue; None for chat models, URLs and providers."""
    from lazycli import catalog
    from lazycli.targets import DeploymentTarget, ModelTarget

    if isinstance(parsed, DeploymentTarget):
        return kind_of_engine(parsed.row.engine)
    if not isinstance(parsed, ModelTarget):
        return None
    try:
        kind = catalog.resolve(parsed.name).type
    except LzError:
        return None
    return kind if kind in KINDS else None


class MediaModel:
    """`lz serve MODEL` for a tts/stt/ocr model: its media path, and a clear 400 on the chat paths."""

    kind = "media"

    def __init__(self, target: str, kind: str) -> None:
        self.name = target
        self.aliases = {target}
        self.media = {kind: target}
        self.description = f"{kind} model"

    def _refuse(self, *_: Any) -> Any:
        from lazycli.media import MediaError

        kind = next(iter(self.media))
        raise MediaError(f"{self.name} is a {kind} model: it answers on {PATHS[kind]}", status=400)

    chat = stream = invoke = _refuse

    def embeds(self) -> bool:
        return False


def mount(app, backend: Any, error) -> None:
    """Add the media routes to the FastAPI `app` of `lz serve`."""
    from fastapi import Request
    from fastapi.responses import Response

    targets: dict[str, str] = dict(getattr(backend, "media", None) or {})
    endpoints: dict[str, Any] = {}

    def endpoint(kind: str):
        from lazycli.media import client

        if kind not in endpoints:
            endpoints[kind] = client.endpoint(targets[kind], kind)
        return endpoints[kind]

    def forward(kind: str, body: bytes, content_type: str):
        import httpx

        ep = endpoint(kind)
        url = ep.base_url.removesuffix("/v1") + PATHS[kind]
        try:
            with httpx.Client(timeout=300, trust_env=False) as http:
                return http.post(url, content=body, headers={"content-type": content_type})
        except httpx.HTTPError as exc:
            raise LzError(f"the {kind} engine at {url} did not answer ({type(exc).__name__})") from None

    async def relay(kind: str, request: Request):
        if kind not in targets:
            return error(
                404,
                f"{backend.name!r} has no {kind} model, so {PATHS[kind]} is not served",
                "invalid_request_error",
                "not_found",
            )
        body = await request.body()
        try:
            answer = await asyncio.to_thread(forward, kind, body, request.headers.get("content-type", ""))
        except LzError as exc:
            return error(502, exc.message, "upstream_error")
        headers = {"content-type": answer.headers.get("content-type", "application/octet-stream")}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    @app.post(PATHS["tts"])
    async def speech(request: Request):
        return await relay("tts", request)

    @app.post(PATHS["stt"])
    async def transcriptions(request: Request):
        return await relay("stt", request)

    @app.post(PATHS["ocr"])
    async def ocr(request: Request):
        return await relay("ocr", request)

    @app.post(PATHS["sd"])
    async def images(request: Request):
        return await relay("sd", request)
