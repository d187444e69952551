"""The `collie` finetuner: CoLLiE (OpenLMLab) for large models with 3D parallelism on GPUs.

CoLLiE is a library, not a command: lz writes `config/collie_train.py` (a script building CoLLiE's
`CollieConfig`, its model, a LoRA peft config and `Trainer`) and runs it under torchrun with one
process per GPU. It needs CUDA, so on a machine without GPUs only `--dry-run` works: it prints the
script and the exact argv.
"""

from __future__ import annotations

import json
from pathlib import Path

from lazycli.hookspecs import CHAT_FORMATS, EnvRecipe, FinetunerSpec, hookimpl

ENV = EnvRecipe(
    name="collie",
    packages=("collie-lm", "peft", "transformers"),
    probe=("collie-lm", "torch", "transformers"),
    refuse=lambda: _no_gpu(),
    description="CoLLiE (GPU only: 3D parallelism, ZeRO)",
)

OPTIONS: dict = {
    "max_steps": 0,
    "num_train_epochs": 1.0,
    "learning_rate": 2e-4,
    "lora_rank": 8,
    "lora_alpha": 16,
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 1,
    "cutoff_len": 1024,
    "tp_size": 1,
    "pp_size": 1,
    "seed": 42,
}

SCRIPT = '''\
"""Written by lz for run {name}: CoLLiE LoRA fine-tune (run under torchrun, one process per GPU)."""
import json

from collie import CollieConfig, CollieDatasetForTraining, LlamaForCausalLM, Trainer
from peft import LoraConfig, TaskType
from transformers import AutoTokenizer

settings = json.loads({settings!r})
config = CollieConfig.from_pretrained(settings["model"])
config.dp_size = settings["dp_size"]
config.tp_size = settings["tp_size"]
config.pp_size = settings["pp_size"]
config.train_epochs = settings["num_train_epochs"]
config.train_micro_batch_size = settings["per_device_train_batch_size"]
config.gradient_accumulation_steps = settings["gradient_accumulation_steps"]
config.seed = settings["seed"]
config.peft_config = LoraConfig(
    r=settings["lora_rank"], lora_alpha=settings["lora_alpha"], target_modules=["q_proj", "v_proj"],
    task_type=TaskType.CAUSAL_LM,
)
tokenizer = AutoTokenizer.from_pretrained(settings["model"])
rows = [json.loads(line) for line in open(settings["data"], encoding="utf-8") if line.strip()]
samples = [
    {{"input": tokenizer.apply_chat_template(r["messages"][:-1], tokenize=False, add_generation_prompt=True),
      "output": r["messages"][-1]["content"]}}
    for r in rows
]
dataset = CollieDatasetForTraining(samples, tokenizer=tokenizer, max_length=settings["cutoff_len"])
model = LlamaForCausalLM.from_pretrained(settings["model"], config=config)
trainer = Trainer(model=model, config=config, train_dataset=dataset, tokenizer=tokenizer)
trainer.train()
trainer.save_peft(settings["adapter_dir"])
'''


def _no_gpu() -> str | None:
    from lazycli import engines

    return None if engines.gpu_count() > 0 else "CoLLiE runs on CUDA GPUs only; this machine has none"


def _settings(job) -> dict:
    p = job.params
    gpus = max(job.gpus, 1)
    return {
        "model": str(job.base_path),
        "data": str(job.data_file),
        "adapter_dir": str(job.run_dir / "adapter"),
        "dp_size": max(gpus // (p["tp_size"] * p["pp_size"]), 1),
        **{k: v for k, v in p.items()},
    }


def prepare(job):
    from lazycli.finetune.runs import Prepared

    script = SCRIPT.format(name=job.name, settings=json.dumps(_settings(job)))
    env = {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return Prepared({"config/collie_train.py": script}, argv(job), env, ["needs CUDA GPUs (--gpus N)"])


def argv(job) -> list[str]:
    python = str(job.env_python) if job.env_python else "python"
    return [
        python, "-m", "torch.distributed.run", "--nproc_per_node", str(max(job.gpus, 1)),
        str(job.config_dir / "collie_train.py"),
    ]  # fmt: skip


def finish(run_dir: Path, record: dict) -> dict:
    from lazycli.errors import LzError

    adapter = run_dir / "adapter"
    if not adapter.exists():
        raise LzError(f"the collie run in {run_dir} ended without an adapter", hint="see its logs")
    return {"path": str(adapter), "format": "hf"}


@hookimpl
def lazycli_finetuners():
    yield FinetunerSpec(
        name="collie",
        prepare=prepare,
        argv=argv,
        model_types=("llm",),
        dataset_formats=CHAT_FORMATS,
        env=ENV,
        data_target="messages",
        options=OPTIONS,
        finish=finish,
        needs_gpu=True,
        description="CoLLiE LoRA on GPUs (3D parallelism); --dry-run only on CPU machines",
    )
