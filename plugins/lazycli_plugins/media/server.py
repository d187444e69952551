"""The media engines' server: `python -m lazycli_plugins.media.server --backend espeak --port P …`.

One process serves one model of one kind, on the OpenAI paths where OpenAI has one:

  POST /v1/audio/speech          {"model", "input", "voice"?, "response_format"?: wav|pcm, "speed"?}
                                 → audio bytes (tts: espeak)
  POST /v1/audio/transcriptions  multipart: file (WAV), model, language?, response_format?: json|text|
                                 verbose_json → {"text"} (stt: pocketsphinx)
  POST /v1/ocr                   {"image": data URL | base64, "model"?} or multipart `file`
                                 → {"text", "lines": [{"text", "score", "box"}], "model"} (ocr: rapidocr)
  GET  /health, /v1/models

The model loads before the port opens, so /health answering means ready. Bad input is a 4xx JSON
error in OpenAI's shape (413 too large, 415 unsupported format, 400 corrupt) and the server goes on.
"""

# No `from __future__ import annotations`: FastAPI reads `Request` annotations at run time.
import argparse
import asyncio
import base64
import binascii
import sys
import threading
import time
from pathlib import Path

BACKENDS = {
    "espeak": "tts", "pocketsphinx": "stt", "rapidocr": "ocr",  # CPU, models in wheels
    "chattts": "tts", "funasr": "stt", "diffusers": "sd",  # GPU (lazycli_plugins.media.gpu)
}  # fmt: skip
PATHS = {
    "tts": "/v1/audio/speech",
    "stt": "/v1/audio/transcriptions",
    "ocr": "/v1/ocr",
    "sd": "/v1/images/generations",
}
MAX_IMAGES = 4  # per /v1/images/generations request
MAX_TEXT = 4096  # characters per /v1/audio/speech request, as OpenAI's


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lazycli_plugins.media.server", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True, choices=sorted(BACKENDS))
    parser.add_argument("--model", default=None, help="model folder (default: the wheel's)")
    parser.add_argument("--served-name", default=None, help="model name reported to clients")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (ocr)")
    parser.add_argument("--max-audio-mb", type=float, default=25.0, help="largest audio upload")
    parser.add_argument("--max-image-mb", type=float, default=20.0, help="largest image upload")
    parser.add_argument("--voice", default=None, help="default voice (tts)")
    parser.add_argument(
        "--device", default="cpu", help="torch device of the GPU backends (cuda, cuda:1, cpu)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="diffusion steps (sd; default: the pipeline's)"
    )
    return parser.parse_args(argv)


def load_backend(args: argparse.Namespace):
    from lazycli_plugins.media import backends

    model = Path(args.model) if args.model else None
    if args.backend in ("chattts", "funasr", "diffusers"):
        from lazycli_plugins.media import gpu

        cls = {"chattts": gpu.ChatTts, "funasr": gpu.SenseVoice, "diffusers": gpu.Diffusion}[args.backend]
        return cls(model, args.device)
    if args.backend == "espeak":
        return backends.Espeak(model)
    if args.backend == "pocketsphinx":
        return backends.Pocketsphinx(model)
    ocr = backends.RapidOcr(model, threads=args.threads)
    ocr.read(_blank_png())  # onnxruntime builds its sessions on the first call: do it before /health
    return ocr


def _blank_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 32), "white").save(out, format="PNG")
    return out.getvalue()


def build_app(backend, args: argparse.Namespace):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    from lazycli.media import MediaError, decode_data_url, from_bytes, is_data_url
    from lazycli.media.form import parse_form
    from lazycli_plugins.media.backends import read_wav

    kind = BACKENDS[args.backend]
    served = args.served_name or args.backend
    limits = {"audio": int(args.max_audio_mb * 1024 * 1024), "image": int(args.max_image_mb * 1024 * 1024)}
    app = FastAPI(title=f"lazycli {args.backend} server", docs_url=None, redoc_url=None)
    created = int(time.time())
    lock = threading.Lock()  # the backends are single-threaded (one eSpeak, one decoder per rate)

    def error(status: int, message: str) -> JSONResponse:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
        return JSONResponse(body, status_code=status)

    async def body_of(request: Request, cap: int) -> bytes:
        """The request body, refused (413) past `cap` plus room for the form around the file."""
        room = cap + 64 * 1024
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > room:
            raise MediaError(f"request body is {int(length)} bytes, over the {cap}-byte limit", status=413)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > room:
                raise MediaError(f"request body is over the {cap}-byte limit", status=413)
            chunks.append(chunk)
        return b"".join(chunks)

    async def run(fn, *args):
        def locked():
            with lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    def wrong_kind(path: str) -> JSONResponse:
        return error(404, f"this deployment serves {kind} ({served}) at {PATHS[kind]}, not {path}")

    @app.exception_handler(MediaError)
    async def _media_error(request: Request, exc: MediaError):
        return error(exc.status, str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        # A bug, not bad input: still JSON on the wire (its log has the traceback).
        return JSONResponse(
            {"error": {"message": f"{type(exc).__name__}: {exc}", "type": "internal_error", "code": 500}},
            status_code=500,
        )

    @app.get("/health")
    def health():
        return {"status": "ok", "model": served, "kind": kind, "backend": args.backend}

    @app.get("/v1/models")
    def models():
        card = {"id": served, "object": "model", "created": created, "owned_by": "lazycli", "kind": kind}
        return {"object": "list", "data": [card]}

    @app.post("/v1/audio/speech")
    async def speech(request: Request):
        if kind != "tts":
            return wrong_kind("/v1/audio/speech")
        body = await _json(request)
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            return error(400, "'input' must be non-empty text")
        if len(text) > MAX_TEXT:
            return error(400, f"'input' is {len(text)} characters, over the {MAX_TEXT} limit")
        fmt = body.get("response_format") or "wav"
        if fmt not in ("wav", "pcm"):
            return error(400, f"response_format {fmt!r} is not supported by {args.backend} (use wav or pcm)")
        speed = body.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            return error(400, "'speed' must be a number from 0.25 to 4.0")
        wav = await run(backend.speak, text, body.get("voice") or args.voice, float(speed))
        if fmt == "pcm":
            return Response(read_wav(wav).pcm, media_type="audio/pcm")
        return Response(wav, media_type="audio/wav")

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request):
        if kind != "stt":
            return wrong_kind("/v1/audio/transcriptions")
        raw = await body_of(request, limits["audio"])
        fields = parse_form(raw, request.headers.get("content-type", ""))
        upload = fields.get("file")
        if upload is None:
            return error(400, "no 'file' field in the upload (send the audio as -F file=@audio.wav)")
        blob = from_bytes(upload.data, kind="audio", name=upload.filename or "file", limit=limits["audio"])
        if blob.mime != "audio/wav":
            raise MediaError(
                f"{blob.name}: {blob.extension} audio is not supported by {args.backend}",
                hint="send WAV (PCM); convert with `ffmpeg -i in.mp3 out.wav`",
                status=415,
            )
        audio = read_wav(blob.data, blob.name)
        started = time.perf_counter()
        language = fields["language"].text if "language" in fields else None
        text = await run(backend.transcribe, audio, language)
        fmt = fields["response_format"].text if "response_format" in fields else "json"
        if fmt == "text":
            return Response(text, media_type="text/plain")
        if fmt == "verbose_json":
            took = time.perf_counter() - started
            return {"text": text, "duration": audio.seconds, "language": "english", "processing_s": took}
        return {"text": text}

    @app.post("/v1/images/generations")
    async def images(request: Request):
        if kind != "sd":
            return wrong_kind("/v1/images/generations")
        body = await _json(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return error(400, "'prompt' must be non-empty text")
        n = body.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
            return error(400, f"'n' must be a whole number from 1 to {MAX_IMAGES}")
        if (body.get("response_format") or "b64_json") != "b64_json":
            return error(400, "response_format must be b64_json (this server keeps no image URLs)")
        try:
            width, height = (int(v) for v in str(body.get("size") or "1024x1024").lower().split("x"))
        except ValueError:
            return error(400, "'size' must be WIDTHxHEIGHT, e.g. 1024x1024")
        if not (64 <= width <= 2048 and 64 <= height <= 2048 and width % 8 == 0 and height % 8 == 0):
            return error(400, "'size' sides must be multiples of 8 from 64 to 2048")
        encoded = await run(backend.generate, prompt, n, width, height, args.steps)
        return {"created": int(time.time()), "data": [{"b64_json": b} for b in encoded]}

    @app.post("/v1/ocr")
    async def ocr(request: Request):
        if kind != "ocr":
            return wrong_kind("/v1/ocr")
        content_type = request.headers.get("content-type", "")
        raw = await body_of(request, limits["image"] * 4 // 3 + 1024)  # room for base64 in JSON
        if content_type.startswith("multipart/"):
            upload = parse_form(raw, content_type).get("file")
            if upload is None:
                return error(400, "no 'file' field in the upload (send the image as -F file=@page.png)")
            name = upload.filename or "file"
            blob = from_bytes(upload.data, kind="image", name=name, limit=limits["image"])
        else:
            body = _loads(raw)
            image = body.get("image")
            if not isinstance(image, str) or not image:
                return error(400, "'image' must be a data URL or base64 string")
            if is_data_url(image):
                blob = decode_data_url(image, kind="image", limit=limits["image"], name="image")
            else:
                blob = from_bytes(_b64(image), kind="image", name="image", limit=limits["image"])
        if blob.mime == "application/pdf":
            raise MediaError("PDF pages must be sent as images", hint="render each page to PNG", status=415)
        lines = await run(backend.read, blob.data, blob.name)
        return {
            "model": served,
            "text": "\n".join(line.text for line in lines),
            "lines": [{"text": line.text, "score": line.score, "box": line.box} for line in lines],
        }

    return app


async def _json(request) -> dict:
    return _loads(await request.body())


def _loads(raw: bytes) -> dict:
    import json

    from lazycli.media import MediaError

    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MediaError("the request body is not JSON", hint="send a JSON object") from None
    if not isinstance(body, dict):
        raise MediaError("the request body must be a JSON object")
    return body


def _b64(text: str) -> bytes:
    from lazycli.media import MediaError

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("'image' is neither a data URL nor base64", hint="encode the file again") from None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    backend = load_backend(args)
    print(f"{args.backend} server: loaded in {time.perf_counter() - started:.1f}s", flush=True)
    import uvicorn

    uvicorn.run(build_app(backend, args), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main(sys.argv[1:])
