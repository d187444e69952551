"""A recipe's `finetune` step runs for real and a later step deploys its result by name."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import lz

pytestmark = [pytest.mark.slow, pytest.mark.integration]
RECIPE = Path(__file__).with_name("data") / "finetune_recipe.toml"


def test_finetune_step_then_deploy_its_model(with_envs, stop_deployments):
    dry = lz("run", str(RECIPE), "--dry-run", check=0)
    assert (
        "lz finetune smollm2-135m-instruct --data tiny_fact.jsonl --method peft --steps 2"
        in dry.stderr + dry.stdout
    )

    proc = lz("run", str(RECIPE), "--json", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = json.loads(proc.stdout)["results"]["steps"]
    assert steps["ft"]["model"] == "recipe-ft"
    assert steps["ft"]["run"]["status"] == "completed"
    assert steps["ft"]["run"]["data"]["path"] == str(RECIPE.with_name("tiny_fact.jsonl"))
    served = json.loads(lz("deploy", "status", "recipe-ft-served", "--json", check=0).stdout)
    models = httpx.get(served["url"].rstrip("/") + "/models", timeout=10).json()
    assert models["data"][0]["id"] == "recipe-ft"
