"""The `embed` engine: `lz deploy all-minilm-l6-v2` (auto → embed) serves /v1/embeddings to the real
openai client (which asks for base64 by default) and /v1/rerank in the Cohere/Jina shape."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from tests.conftest import lz

from .conftest import group_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow]
if (
    importlib.util.find_spec("sentence_transformers") is None
):  # found, not imported: importing it costs seconds
    pytest.skip("sentence_transformers is not installed", allow_module_level=True)


def test_embed_deployment_embeddings_and_rerank(lz_home):
    row = json.loads(
        lz("deploy", "all-minilm-l6-v2", "--name", "emb", "--json", "--timeout", "240", check=0).stdout
    )
    try:
        assert row["engine"] == "embed" and row["protocol"] == "openai"
        from openai import OpenAI

        client = OpenAI(base_url=row["url"], api_key="none", max_retries=0, timeout=60)
        texts = ["The cat sat on the mat.", "A kitten rested on the rug.", "Stock prices fell sharply."]
        result = client.embeddings.create(model=row["served_name"], input=texts)  # base64 on the wire
        vectors = [d.embedding for d in result.data]
        assert [len(v) for v in vectors] == [384] * 3
        assert result.usage.prompt_tokens > 0
        cos = [sum(a * b for a, b in zip(vectors[0], v, strict=True)) for v in vectors]
        assert math.isclose(cos[0], 1.0, abs_tol=1e-4)  # normalised
        assert cos[1] > cos[2]  # the kitten is closer to the cat than the stock market
        floats = client.embeddings.create(model=row["served_name"], input="x", encoding_format="float")
        assert len(floats.data[0].embedding) == 384

        import httpx

        resp = httpx.post(
            row["url"] + "/rerank",
            json={"query": "cat on a mat", "documents": [texts[2], {"text": texts[0]}, texts[1]], "top_n": 2},
        ).json()
        assert [r["index"] for r in resp["results"]] == [1, 2]
        assert resp["results"][0]["document"]["text"] == texts[0]
        assert resp["results"][0]["relevance_score"] > resp["results"][1]["relevance_score"]
        bad = httpx.post(row["url"] + "/embeddings", json={"input": [1, 2]})
        assert bad.status_code == 400 and "input" in bad.json()["error"]["message"]
    finally:
        lz("deploy", "stop", "emb", check=0)
    assert group_alive(row["pid"]) == []
