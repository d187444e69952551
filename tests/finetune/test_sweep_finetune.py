"""A fine-tuning sweep (issue 17): two learning rates × PEFT, two steps each, on the bundled SmolLM2.
Each trial trains, merges, deploys and is scored by `lz eval`; the GGUF base is converted to HF once
and the second trial reuses it. Minutes on a CPU: marked `extended`, run by `.ci/run` after the
README's test command (not part of the default run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import lz
from tests.finetune.conftest import FACT, QUESTION

pytestmark = [pytest.mark.extended, pytest.mark.slow, pytest.mark.integration]

RECIPE = """
name = "ft-sweep"

[[steps]]
verb = "finetune"
name = "ft"
[steps.args]
_ = ["smollm2-135m-instruct"]
data = "{data}"
method = "peft"
steps = 2
lr = 0.0002
name = "ftsw-a"

[app]
[[app.steps]]
type = "llm"
model = "${{steps.ft.model}}"
options = {{ max_tokens = 16, temperature = 0.0 }}

[sweep]
eval = "qa.jsonl"
metrics = ["contains"]

[[sweep.paired]]
"steps.0.args.lr" = [0.0002, 0.002]
"steps.0.args.name" = ["ftsw-a", "ftsw-b"]
"""


def test_two_learning_rates_train_two_models_from_one_converted_base(with_envs, fact_data, lz_home, tmp_path,
                                                                     stop_deployments):  # fmt: skip
    (tmp_path / "qa.jsonl").write_text(json.dumps({"q": QUESTION, "answer": FACT}) + "\n")
    recipe = tmp_path / "ft-sweep.toml"
    recipe.write_text(RECIPE.format(data=fact_data))
    out = json.loads(lz("sweep", str(recipe), "--name", "ftsw", "--json", timeout=1800, check=0).stdout)
    trials = out["trials"]
    assert len(trials) == 2 and {t["status"] for t in trials} == {"done"}, trials
    assert sorted(t["params"]["steps.0.args.lr"] for t in trials) == [0.0002, 0.002]
    for name in ("ftsw-a", "ftsw-b"):
        status = json.loads(lz("finetune", "status", name, "--json", check=0).stdout)
        assert status["status"] == "completed", status
    # Both trainings start from the one HF copy of the GGUF base (made once, then reused).
    configs = [json.loads((lz_home / "data" / "finetune" / n / "config" / "train.json").read_text())
               for n in ("ftsw-a", "ftsw-b")]  # fmt: skip
    assert configs[0]["base_hf"] == configs[1]["base_hf"]
    assert (Path(configs[0]["base_hf"]) / "config.json").is_file()
    # Each trial's training was a job of its own, tracked like any other.
    listed = json.loads(lz("jobs", "ls", "--kind", "finetune", "--json", check=0).stdout)["jobs"]
    assert sorted((j["name"], j["owner"], j["status"]) for j in listed) == [
        ("finetune-ftsw-a", "ftsw-a", "completed"),
        ("finetune-ftsw-b", "ftsw-b", "completed"),
    ]
