"""A fast local stand-in for an OpenAI-compatible engine (llama.cpp / vLLM wire format).

Answers /v1/chat/completions (plain and SSE, with usage), /v1/models, /v1/embeddings, /health.
The answer is "echo: " + the last user message, split into word pieces; `--delay` seconds between
pieces. Used by the serve tests and benchmarks/bench_serve.py, where its speed is the baseline:

    python tests/serve/engine_standin.py --port 8123 [--delay 0.001] [--pieces 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

MODEL = "standin"


def _answer(body: dict, pieces: int) -> list[str]:
    last = next((m for m in reversed(body.get("messages", [])) if m.get("role") == "user"), {})
    content = last.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    words = ("echo: " + text).split(" ")
    filler = [f" w{i}" for i in range(max(0, pieces - len(words)))]
    return [words[0]] + [" " + w for w in words[1:]] + filler


def make_app(delay: float = 0.0, pieces: int = 16) -> Starlette:
    async def models(request: Request):
        return JSONResponse(
            {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "standin"}]}
        )

    async def health(request: Request):
        return JSONResponse({"status": "ok"})

    async def chat(request: Request):
        body = await request.json()
        parts = _answer(body, pieces)
        usage = {"prompt_tokens": 5, "completion_tokens": len(parts), "total_tokens": 5 + len(parts)}
        if not body.get("stream"):
            if delay:
                await asyncio.sleep(delay * len(parts))
            return JSONResponse(
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL,
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(parts)},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events():
            base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
            yield (
                "data: "
                + json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
                + "\n\n"
            )
            for part in parts:
                if delay:
                    await asyncio.sleep(delay)
                chunk = {**base, "choices": [{"index": 0, "delta": {"content": part}, "finish_reason": None}]}
                yield "data: " + json.dumps(chunk) + "\n\n"
            yield (
                "data: "
                + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                + "\n\n"
            )
            if include_usage:
                yield "data: " + json.dumps({**base, "choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def embeddings(request: Request):
        body = await request.json()
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        data = []
        for i, text in enumerate(texts):
            digest = hashlib.sha256(text.encode()).digest()
            data.append({"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]})
        return JSONResponse(
            {"object": "list", "data": data, "model": MODEL, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
        )

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/health", health),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--pieces", type=int, default=16)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.delay, args.pieces),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
