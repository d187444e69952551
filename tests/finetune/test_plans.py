"""`lz finetune --dry-run` for every method: the exact files and argv, nothing started or written;
typed `--set` with did-you-mean; GPU-only methods refused before anything happens."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import lz

DATA = Path(__file__).with_name("data")
BASE = "smollm2-135m-instruct"


def _plan(*args: str) -> dict:
    return json.loads(lz("finetune", *args, "--dry-run", "--json", check=0).stdout)


def test_llamafactory_dry_run_prints_dataset_info_and_the_train_yaml(lz_home):
    plan = _plan(BASE, "--data", str(DATA / "alpaca.json"), "--method", "llamafactory", "--steps", "5")
    info = json.loads(plan["files"]["config/dataset_info.json"])
    assert info["lz_train"]["formatting"] == "sharegpt"
    assert info["lz_train"]["file_name"].endswith("/data/train.jsonl")
    train = plan["files"]["config/train.yaml"]
    assert 'template: "smollm2"' in train  # SmolLM2 → smollm2, from lz's template table
    assert "max_steps: 5" in train and 'stage: "sft"' in train and 'report_to: "none"' in train
    assert "max_samples" not in train  # no hidden cap
    assert "overwrite_output_dir" not in train  # resume by default
    assert "bf16: false" in train and "fp16: false" in train  # CPU
    export = plan["files"]["config/export.yaml"]
    assert "adapter_name_or_path" in export and 'export_device: "cpu"' in export
    assert plan["argv"][1].endswith("llamafactory/driver.py") and plan["argv"][0].endswith(
        "llamafactory/bin/python"
    )
    assert plan["environment"] == "llamafactory"
    assert not (lz_home / "data" / "finetune").exists()  # a dry run writes nothing


def test_a_model_missing_from_the_template_table_gets_template_null(tmp_path):
    model = tmp_path / "mystery-model"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    plan = _plan(
        str(model), "--data", str(DATA / "messages.jsonl"), "--method", "llamafactory", "--name", "m"
    )
    assert "template: null" in plan["files"]["config/train.yaml"]
    assert any("template null" in n for n in plan["notes"])
    explicit = _plan(str(model), "--data", str(DATA / "messages.jsonl"), "--method", "llamafactory",
                     "--name", "m", "--set", "template=qwen")  # fmt: skip
    assert 'template: "qwen"' in explicit["files"]["config/train.yaml"]


def test_set_is_typed_and_unknown_keys_get_a_did_you_mean():
    sets = ("--set", "lora_alpha=64", "--set", "target_modules=q_proj,k_proj,v_proj", "--lr", "5e-4")
    plan = _plan(BASE, "--data", str(DATA / "messages.jsonl"), "--method", "peft", *sets)
    config = json.loads(plan["files"]["config/train.json"])
    assert config["lora_alpha"] == 64 and config["target_modules"] == ["q_proj", "k_proj", "v_proj"]
    assert config["learning_rate"] == 5e-4
    bad = lz("finetune", BASE, "--data", str(DATA / "messages.jsonl"), "--method", "peft",
             "--set", "lora_alfa=3", "--dry-run", check=2)  # fmt: skip
    assert "did you mean 'lora_alpha'" in bad.stderr
    bad = lz("finetune", BASE, "--data", str(DATA / "messages.jsonl"), "--method", "peft",
             "--set", "lora_alpha=many", "--dry-run", check=2)  # fmt: skip
    assert "expected int" in bad.stderr
    bad = lz(
        "finetune", BASE, "--data", str(DATA / "messages.jsonl"), "--method", "pef", "--dry-run", check=2
    )
    assert "did you mean 'peft'" in bad.stderr


def test_bad_data_stops_the_run_with_line_numbers(lz_home):
    proc = lz("finetune", BASE, "--data", str(DATA / "bad_messages.jsonl"), "--method", "peft", check=2)
    assert "bad_messages.jsonl:line 2: no assistant message" in proc.stderr
    assert not (lz_home / "data" / "finetune").exists() and not (lz_home / "data" / "envs").exists()
    triplets = lz("finetune", BASE, "--data", str(DATA / "triplet.jsonl"), "--method", "peft", check=2)
    assert "triplet data, which this method does not train on" in triplets.stderr


def test_collie_dry_run_shows_torchrun_and_its_script_and_a_real_run_is_refused_on_cpu(lz_home):
    plan = _plan(BASE, "--data", str(DATA / "alpaca.json"), "--method", "collie", "--gpus", "4")
    assert plan["argv"][1:5] == ["-m", "torch.distributed.run", "--nproc_per_node", "4"]
    script = plan["files"]["config/collie_train.py"]
    assert "CollieConfig" in script and '"dp_size": 4' in script
    proc = lz("finetune", BASE, "--data", str(DATA / "alpaca.json"), "--method", "collie", check=2)
    assert "needs CUDA GPUs" in proc.stderr
    assert not (lz_home / "data" / "envs").exists()


def test_auto_says_why(tmp_path):
    llm = _plan(BASE, "--data", str(DATA / "alpaca.json"))
    assert llm["method"] == "peft" and llm["reason"].startswith("auto: ")
    embed = _plan("all-minilm-l6-v2", "--data", str(DATA / "triplet.jsonl"))
    assert embed["method"] == "flagembedding" and "embedding" in embed["reason"]
    assert any("FlagEmbedding.finetune.embedder.encoder_only.base" in n for n in embed["notes"])


def test_engines_ls_lists_every_finetuner_environment():
    rows = {r["name"]: r for r in json.loads(lz("engines", "ls", "--json", check=0).stdout)["environments"]}
    assert {"peft", "llamafactory", "flagembedding", "collie", "vllm", "lmdeploy"} <= set(rows)
    assert rows["collie"]["status"] == "refused"
