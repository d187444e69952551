"""LLaMA-Factory for real from its managed environment: train + export on the bundled SmolLM2,
and the registered model answers with the taught fact through `lz chat` (llama.cpp)."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import lz
from tests.finetune.conftest import FACT, QUESTION, ci_envs_dir

# Minutes of training: `extended` (.ci/run runs it after the default test run).
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.extended]


@pytest.fixture
def lf_env(monkeypatch):
    envs_dir = ci_envs_dir()
    if not (envs_dir / "llamafactory" / "lz-env.json").exists() and os.environ.get(
        "LAZYCLI_SKIP_ENV_INSTALL"
    ):
        pytest.skip("the llamafactory environment is not installed")
    lz("engines", "install", "llamafactory", env={"LAZYCLI_ENVS": str(envs_dir)}, timeout=2400, check=0)
    monkeypatch.setenv("LAZYCLI_ENVS", str(envs_dir))


def test_llamafactory_trains_exports_and_the_model_knows_the_fact(
    lf_env, fact_data, lz_home, stop_deployments
):
    args = ("finetune", "smollm2-135m-instruct", "--data", str(fact_data), "--method", "llamafactory")
    proc = lz(*args, "--steps", "20", "--name", "lf-ft", timeout=2400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = lz_home / "data" / "finetune" / "lf-ft"
    assert (run / "config" / "dataset_info.json").exists() and (run / "config" / "train.yaml").exists()
    assert (run / "merged" / "config.json").exists() and (run / "model.gguf").exists()
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["state"] == "completed" and rows[-1]["step"] == 20
    record = json.loads((run / "run.json").read_text())
    assert record["versions"]["llamafactory"] == "0.9.5"
    answer = lz(
        "chat", "lf-ft", QUESTION, "--temperature", "0", "--max-tokens", "40", "--no-log", timeout=300
    )
    assert FACT in answer.stdout, answer.stdout + answer.stderr
