"""The flagembedding method on the bundled all-MiniLM-L6-v2: after a few steps on triplets the
trained positive ranks above the hard negative (the base model ranks them the other way), and
`lz index --embed NAME` builds an index with the fine-tuned model."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import lz

# Minutes of training: `extended` (.ci/run runs it after the default test run).
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.extended]

QUERY = "Who invented the glorbix?"
POS = "Marta Quillon built the first one in 1887."
NEG = "Many people ask who invented the glorbix, a question about glorbix invention."


@pytest.fixture
def embed_env(monkeypatch):
    from tests.finetune.conftest import ci_envs_dir

    envs_dir = ci_envs_dir()
    if not (envs_dir / "flagembedding" / "lz-env.json").exists() and os.environ.get(
        "LAZYCLI_SKIP_ENV_INSTALL"
    ):
        pytest.skip("the flagembedding environment is not installed")
    lz("engines", "install", "flagembedding", env={"LAZYCLI_ENVS": str(envs_dir)}, timeout=1800, check=0)
    monkeypatch.setenv("LAZYCLI_ENVS", str(envs_dir))


def _scores(model_path: str) -> tuple[float, float]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    q, p, n = model.encode([QUERY, POS, NEG], normalize_embeddings=True)
    return float(q @ p), float(q @ n)


def test_embedding_finetune_ranks_the_positive_first_and_lz_index_uses_it(embed_env, tmp_path, lz_home):
    data = tmp_path / "triplets.jsonl"
    rows = [
        {"query": QUERY, "pos": [POS], "neg": [NEG]},
        {"query": "Who made the glorbix?", "pos": [POS], "neg": [NEG]},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = json.loads(lz("models", "info", "all-minilm-l6-v2", "--json", check=0).stdout)["path"]
    pos, neg = _scores(base)
    assert neg > pos  # the base model is fooled by the word overlap

    args = (
        "finetune",
        "all-minilm-l6-v2",
        "--data",
        str(data),
        "--method",
        "flagembedding",
        "--name",
        "mini-ft",
    )
    proc = lz(*args, "--steps", "10", "--lr", "5e-5", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(lz("models", "info", "mini-ft", "--json", check=0).stdout)
    assert info["type"] == "embed" and info["format"] == "hf"
    pos, neg = _scores(info["path"])
    assert pos > neg

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "glorbix.md").write_text(POS + "\n")
    (docs / "other.md").write_text(NEG + "\n")
    lz("index", str(docs), "--name", "kb", "--embed", "mini-ft", timeout=600, check=0)
    listed = json.loads(lz("index", "ls", "--json", check=0).stdout)
    row = next(r for r in listed["indexes"] if r["name"] == "kb")
    assert "mini-ft" in row["embed"]
