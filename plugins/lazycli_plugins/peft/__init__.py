"""The `peft` finetuner: LoRA through PEFT and the transformers Trainer (the alpaca-lora method).

It runs `worker.py` from the `peft` managed environment (torch 2.13 CPU, transformers, peft,
accelerate, datasets, gguf). A GGUF base (the bundled SmolLM2) is first dequantized into a cached
HF copy; the result is `merged/` (HF, with tokenizer and chat template) and, for a GGUF base,
`model.gguf` (the base with the LoRA-changed tensors replaced) that llama.cpp serves.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lazycli.hookspecs import CHAT_FORMATS, EnvRecipe, FinetunerSpec, hookimpl

WORKER = Path(__file__).with_name("worker.py")

ENV = EnvRecipe(
    name="peft",
    packages=("transformers", "peft", "accelerate", "datasets", "gguf", "sentencepiece"),
    probe=("torch", "transformers", "peft", "accelerate", "datasets", "gguf"),
    description="PEFT LoRA + transformers Trainer on CPU (measured: 1.5 GB, ~2-6 min)",
)

# Defaults, typed: `--set key=value` is converted to each default's type.
OPTIONS: dict = {
    "max_steps": 0,  # 0: train num_train_epochs instead
    "num_train_epochs": 3.0,
    "learning_rate": 1e-3,  # small sets, few steps (a fact in 20 steps on CPU); lower it for big sets
    "lora_rank": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": ["q_proj", "v_proj"],
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 2,
    "cutoff_len": 512,
    "train_on_inputs": False,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "logging_steps": 1,
    "save_steps": 5,
    "save_total_limit": 2,
    "seed": 42,
    "threads": 1,  # OMP threads: 1 was 20x faster than 2 on this shared 2-core box
}


def base_cache(gguf: Path, cache_dir: Path) -> Path:
    """Where the trainable HF copy of a GGUF lives (keyed by the file's path, size and mtime)."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir / "base" / f"{gguf.stem}-{key}"


def _config(job) -> dict:
    p = job.params
    gguf = job.base_format == "gguf"
    return {
        "run_dir": str(job.run_dir),
        "base_hf": str(base_cache(job.base_path, job.cache_dir) if gguf else job.base_path),
        "base_gguf": str(job.base_path) if gguf else None,
        "data": str(job.data_file),
        **{k: v for k, v in p.items() if k != "threads"},
    }


def prepare(job):
    from lazycli.finetune.runs import Prepared

    config = job.config_dir / "train.json"
    files = {"config/train.json": json.dumps(_config(job), indent=2) + "\n"}
    notes = []
    if job.base_format == "gguf":
        notes.append(f"{job.model} is GGUF: a dequantized HF copy is made once and cached")
    env = {
        "OMP_NUM_THREADS": str(job.params["threads"]),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    return Prepared(files=files, argv=argv(job, config), env=env, notes=notes)


def argv(job, config: Path | None = None) -> list[str]:
    python = str(job.env_python) if job.env_python else "python"
    return [python, str(WORKER), "train", str(config or job.config_dir / "train.json")]


def finish(run_dir: Path, record: dict) -> dict:
    """The model to register: model.gguf for a GGUF base (llama.cpp serves it), else merged/."""
    from lazycli.errors import LzError

    gguf = run_dir / "model.gguf"
    merged = run_dir / "merged"
    if gguf.exists():
        return {
            "path": str(gguf),
            "format": "gguf",
            "merged": str(merged),
            "adapter": str(run_dir / "adapter"),
        }
    if (merged / "config.json").exists():
        return {"path": str(merged), "format": "hf", "adapter": str(run_dir / "adapter")}
    raise LzError(f"the peft run in {run_dir} ended without a merged model", hint="see its logs")


@hookimpl
def lazycli_finetuners():
    yield FinetunerSpec(
        name="peft",
        prepare=prepare,
        argv=argv,
        model_types=("llm",),
        dataset_formats=CHAT_FORMATS,
        env=ENV,
        data_target="messages",
        options=OPTIONS,
        finish=finish,
        description="LoRA with PEFT + transformers Trainer (alpaca-lora style), CPU or GPU",
    )
