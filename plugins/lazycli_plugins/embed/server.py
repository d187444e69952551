"""The embed engine's server: `python -m lazycli_plugins.embed.server --model DIR --port P …`.

Loads the model first and only then listens, so /health answering means the model is ready.
Wire formats: OpenAI embeddings (float or base64 little-endian float32, as the openai SDK asks for
by default) and the Cohere/Jina rerank shape used by vLLM, Xinference and TEI:
  POST /v1/rerank {"query", "documents": [str | {"text"}], "top_n"?, "return_documents"?}
  → {"results": [{"index", "relevance_score", "document"?}], "model", "usage"} best first.
An embedding model serves /v1/rerank by cosine similarity; a cross-encoder (--kind rerank) serves
/v1/rerank by its scores and /v1/embeddings not at all.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' `Request` annotation
# at run time, and a string annotation of a name imported inside build_app() would not resolve.
import argparse
import base64
import struct
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lazycli_plugins.embed.server", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="sentence-transformers model directory")
    parser.add_argument("--served-name", default=None, help="model name reported to clients")
    parser.add_argument("--kind", choices=("embed", "rerank"), default="embed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-seq-length", type=int, default=None)
    parser.add_argument("--normalize", type=_bool, default=True)
    parser.add_argument("--trust-remote-code", type=_bool, default=False)
    return parser.parse_args(argv)


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


class Backend:
    """The loaded model: embeddings, rerank scores and token counts."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        self.kind = args.kind
        self.batch_size = args.batch_size
        self.normalize = args.normalize
        if args.kind == "rerank":
            from sentence_transformers import CrossEncoder

            self.model = CrossEncoder(
                args.model, device=args.device, trust_remote_code=args.trust_remote_code
            )
        else:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(
                args.model, device=args.device, trust_remote_code=args.trust_remote_code
            )
            if args.max_seq_length:
                self.model.max_seq_length = args.max_seq_length
        self.tokenizer = getattr(self.model, "tokenizer", None)

    def count_tokens(self, texts: list[str]) -> int:
        if self.tokenizer is None:
            return sum(len(t.split()) for t in texts)
        return sum(len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"])

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self.kind == "rerank":
            raise ValueError("this deployment serves a rerank model: use /v1/rerank")
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=self.normalize, convert_to_numpy=True
        )
        return vectors.tolist()

    def scores(self, query: str, documents: list[str]) -> list[float]:
        if not documents:
            return []
        if self.kind == "rerank":
            return [
                float(s)
                for s in self.model.predict([(query, d) for d in documents], batch_size=self.batch_size)
            ]
        vectors = self.model.encode(
            [query, *documents], batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [float(v) for v in vectors[1:] @ vectors[0]]


def _as_texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError("'input' must be a string or a list of strings (token arrays are not supported)")


def _doc_text(doc) -> str:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("text"), str):
        return doc["text"]
    raise ValueError("each document must be a string or an object with 'text'")


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def build_app(backend: Backend, served_name: str):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="lazycli embed server", docs_url=None, redoc_url=None)
    created = int(time.time())

    def error(status: int, message: str) -> JSONResponse:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
        return JSONResponse(body, status_code=status)

    @app.get("/health")
    def health():
        return {"status": "ok", "model": served_name, "kind": backend.kind}

    @app.get("/v1/models")
    def models():
        card = {"id": served_name, "object": "model", "created": created, "owned_by": "lazycli"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        try:
            body = await request.json()
            texts = _as_texts(body.get("input"))
            fmt = body.get("encoding_format") or "float"
            if fmt not in ("float", "base64"):
                raise ValueError("encoding_format must be 'float' or 'base64'")
            vectors = backend.embed(texts)
        except ValueError as exc:
            return error(400, str(exc))
        tokens = backend.count_tokens(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": _b64(v) if fmt == "base64" else v}
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": body.get("model") or served_name, "usage": usage}

    @app.post("/v1/rerank")
    async def rerank(request: Request):
        try:
            body = await request.json()
            query = body.get("query")
            if not isinstance(query, str):
                raise ValueError("'query' must be a string")
            docs = [_doc_text(d) for d in body.get("documents") or []]
            scores = backend.scores(query, docs)
        except ValueError as exc:
            return error(400, str(exc))
        order = sorted(range(len(docs)), key=lambda i: scores[i], reverse=True)
        top_n = body.get("top_n")
        if isinstance(top_n, int) and top_n > 0:
            order = order[:top_n]
        with_docs = body.get("return_documents", True)
        results = []
        for i in order:
            item = {"index": i, "relevance_score": scores[i]}
            if with_docs:
                item["document"] = {"text": docs[i]}
            results.append(item)
        tokens = backend.count_tokens([query, *docs])
        return {
            "model": body.get("model") or served_name,
            "results": results,
            "usage": {"total_tokens": tokens},
        }

    return app


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    served = args.served_name or args.model
    started = time.perf_counter()
    backend = Backend(args)
    print(
        f"embed server: loaded {args.model} ({args.kind}) in {time.perf_counter() - started:.1f}s", flush=True
    )
    import uvicorn

    uvicorn.run(build_app(backend, served), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main(sys.argv[1:])
