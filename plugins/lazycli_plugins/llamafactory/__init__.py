"""The `llamafactory` finetuner: LLaMA-Factory's `llamafactory-cli train`, then `export` to merge.

lz writes `config/dataset_info.json`, `config/train.yaml` and `config/export.yaml` (all printed by
`--dry-run`) and runs `driver.py` from the `llamafactory` managed environment: it makes the HF copy
of a GGUF base when needed, trains, merges with export, and writes `model.gguf` for a GGUF base.

- Template: `--set template=NAME`, else the LLaMA-Factory template of the catalogue model (SmolLM2
  → smollm2), else `null`: LLaMA-Factory then uses the tokenizer's own chat template. A model
  missing from the table is never an error.
- No hidden `max_samples`: every good record is used (LazyLLM capped at 1000 silently).
- Resume by default: the same output_dir continues from its newest checkpoint; the output is
  only overwritten when `lz finetune --overwrite` starts the run over.
- On CPU: no bf16/fp16, one preprocessing worker, OMP threads 1 (see frameworks-cpu.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from lazycli.hookspecs import CHAT_FORMATS, EnvRecipe, FinetunerSpec, hookimpl

DRIVER = Path(__file__).with_name("driver.py")
DATASET = "lz_train"

ENV = EnvRecipe(
    name="llamafactory",
    packages=("llamafactory==0.9.5", "gguf"),
    # PyPI's torchvision is CUDA-linked and breaks `import transformers…image_utils`; torchaudio is
    # imported at module level by mm_plugin, so only its .so files go (it then loads pure-Python).
    remove=("torchvision",),
    strip=("torchaudio/lib/*.so",),
    probe=("llamafactory", "torch", "transformers", "peft", "datasets", "accelerate", "trl"),
    description="LLaMA-Factory 0.9.5 (measured: 2.1 GB, ~5-14 min cold)",
)

# Catalogue name prefix → LLaMA-Factory template (its `template:` key).
TEMPLATES = {
    "smollm2": "smollm2",
    "smollm": "smollm",
    "qwen2.5": "qwen",
    "qwen2": "qwen",
    "qwen3": "qwen3",
    "llama3": "llama3",
    "llama-3": "llama3",
    "gemma3": "gemma3",
    "gemma-3": "gemma3",
    "glm4": "glm4",
    "internlm2": "intern2",
    "mistral": "mistral",
    "deepseek": "deepseek",
}

OPTIONS: dict = {
    "max_steps": 0,
    "num_train_epochs": 3.0,
    "learning_rate": 1e-3,
    "lora_rank": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "lora_target": "q_proj,v_proj",
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 2,
    "cutoff_len": 512,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "logging_steps": 1,
    "save_steps": 5,
    "save_total_limit": 2,
    "seed": 42,
    "template": None,
    "finetuning_type": "lora",
    "threads": 1,
}


def template_for(model: str, explicit: str | None) -> tuple[str | None, str]:
    """(template, why): --set wins, then the catalogue table, else null (the tokenizer's own)."""
    if explicit:
        return explicit, "set with --set template"
    lowered = model.lower()
    for prefix in sorted(TEMPLATES, key=len, reverse=True):
        if lowered.startswith(prefix):
            return TEMPLATES[prefix], f"catalogue: {model} uses the {TEMPLATES[prefix]} template"
    return None, f"{model} is not in lz's template table: template null (the tokenizer's chat template)"


def yaml_text(values: dict) -> str:
    """Flat YAML: strings JSON-quoted (valid YAML), None as null, booleans lowercase."""
    lines = []
    for key, value in values.items():
        if value is None:
            text = "null"
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = repr(value)
        else:
            text = json.dumps(str(value))
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + "\n"


def dataset_info(job) -> dict:
    """The dataset entry for the converted set (chat messages in LLaMA-Factory's sharegpt form)."""
    return {
        DATASET: {
            "file_name": str(job.data_file),
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
    }


def _base_hf(job) -> str:
    if job.base_format != "gguf":
        return str(job.base_path)
    from lazycli_plugins.peft import base_cache

    return str(base_cache(job.base_path, job.cache_dir))


def train_config(job, template: str | None) -> dict:
    p = job.params
    config = {
        "model_name_or_path": _base_hf(job),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": p["finetuning_type"],
        "lora_rank": p["lora_rank"],
        "lora_alpha": p["lora_alpha"],
        "lora_dropout": p["lora_dropout"],
        "lora_target": p["lora_target"],
        "dataset": DATASET,
        "dataset_dir": str(job.config_dir),
        "template": template,
        "cutoff_len": p["cutoff_len"],
        "output_dir": str(job.run_dir / "checkpoints"),
        "per_device_train_batch_size": p["per_device_train_batch_size"],
        "gradient_accumulation_steps": p["gradient_accumulation_steps"],
        "learning_rate": p["learning_rate"],
        "lr_scheduler_type": p["lr_scheduler_type"],
        "warmup_steps": p["warmup_steps"],
        "logging_steps": p["logging_steps"],
        "save_steps": p["save_steps"],
        "save_total_limit": p["save_total_limit"],
        "seed": p["seed"],
        "report_to": "none",
        "preprocessing_num_workers": 1,
        "dataloader_num_workers": 0,
        "overwrite_cache": True,
        "bf16": job.gpus > 0,
        "fp16": False,
    }
    if p["max_steps"]:
        config["max_steps"] = p["max_steps"]
    else:
        config["num_train_epochs"] = p["num_train_epochs"]
    return config


def export_config(job, template: str | None) -> dict:
    return {
        "model_name_or_path": _base_hf(job),
        "adapter_name_or_path": str(job.run_dir / "adapter"),
        "template": template,
        "finetuning_type": job.params["finetuning_type"],
        "export_dir": str(job.run_dir / "merged.tmp"),
        "export_size": 5,
        "export_device": "cpu",
    }


def driver_config(job) -> dict:
    gguf = job.base_format == "gguf"
    return {
        "run_dir": str(job.run_dir),
        "base_gguf": str(job.base_path) if gguf else None,
        "base_hf": _base_hf(job),
        "train_yaml": str(job.config_dir / "train.yaml"),
        "export_yaml": str(job.config_dir / "export.yaml"),
        "lora_target": job.params["lora_target"],
        "finetuning_type": job.params["finetuning_type"],
    }


def prepare(job):
    from lazycli.errors import LzError
    from lazycli.finetune.runs import Prepared

    if job.params["finetuning_type"] != "lora":
        raise LzError(
            f"finetuning_type {job.params['finetuning_type']!r} is not run by lz yet",
            hint="use --set finetuning_type=lora (the adapter is merged into merged/ and model.gguf)",
        )
    template, why = template_for(job.model, job.params.get("template"))
    files = {
        "config/dataset_info.json": json.dumps(dataset_info(job), indent=2) + "\n",
        "config/train.yaml": yaml_text(train_config(job, template)),
        "config/export.yaml": yaml_text(export_config(job, template)),
        "config/driver.json": json.dumps(driver_config(job), indent=2) + "\n",
    }
    env = {
        "OMP_NUM_THREADS": str(job.params["threads"]),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DISABLE_VERSION_CHECK": "1",  # its own venv: the pins are the ones it was tested with
        "TOKENIZERS_PARALLELISM": "false",
    }
    return Prepared(files=files, argv=argv(job), env=env, notes=[f"template: {why}"])


def argv(job) -> list[str]:
    python = str(job.env_python) if job.env_python else "python"
    return [python, str(DRIVER), str(job.config_dir / "driver.json")]


def finish(run_dir: Path, record: dict) -> dict:
    from lazycli_plugins.peft import finish as peft_finish

    return peft_finish(run_dir, record)


@hookimpl
def lazycli_finetuners():
    yield FinetunerSpec(
        name="llamafactory",
        prepare=prepare,
        argv=argv,
        model_types=("llm",),
        dataset_formats=CHAT_FORMATS,
        env=ENV,
        data_target="messages",
        options=OPTIONS,
        finish=finish,
        description="LLaMA-Factory: llamafactory-cli train + export (LoRA/full), CPU or GPU",
    )
