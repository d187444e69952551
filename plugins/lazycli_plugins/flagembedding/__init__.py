"""The `flagembedding` finetuner: embedding models on {query, pos, neg} triplets.

On this CPU path the trainer is sentence-transformers' (MultipleNegativesRankingLoss with hard
negatives and a temperature: FlagEmbedding's contrastive objective), run by `worker.py` from the
`flagembedding` managed environment. `--dry-run` also shows FlagEmbedding's own torchrun argv for a
GPU machine (`gpu_argv`). The result (`model/`, a sentence-transformers directory) is registered
as an `embed` model: `lz index DOCS --embed NAME` uses it.
"""

from __future__ import annotations

import json
from pathlib import Path

from lazycli.hookspecs import EnvRecipe, FinetunerSpec, hookimpl

WORKER = Path(__file__).with_name("worker.py")

ENV = EnvRecipe(
    name="flagembedding",
    packages=("sentence-transformers", "datasets", "accelerate"),
    probe=("torch", "sentence-transformers", "transformers", "datasets", "accelerate"),
    description="embedding fine-tunes (sentence-transformers trainer, FlagEmbedding's loss) on CPU",
)

OPTIONS: dict = {
    "max_steps": 0,
    "num_train_epochs": 1.0,
    "learning_rate": 2e-5,
    "per_device_train_batch_size": 4,
    "train_group_size": 2,  # 1 positive + (size - 1) negatives per query, as FlagEmbedding counts
    "temperature": 0.05,
    "warmup_steps": 0,
    "save_steps": 5,
    "seed": 42,
    "query_max_len": 64,
    "passage_max_len": 256,
    "threads": 1,
    # LoRA options are accepted for a uniform CLI but unused by embedding fine-tunes.
    "lora_rank": 0,
}


def gpu_argv(job) -> list[str]:
    """FlagEmbedding's own command for a GPU machine (torchrun even for one process)."""
    p = job.params
    return [
        "torchrun", "--nproc_per_node", str(max(job.gpus, 1)),
        "-m", "FlagEmbedding.finetune.embedder.encoder_only.base",
        "--model_name_or_path", str(job.base_path),
        "--output_dir", str(job.run_dir / "model"),
        "--train_data", str(job.data_file),
        "--train_group_size", str(p["train_group_size"]),
        "--query_max_len", str(p["query_max_len"]),
        "--passage_max_len", str(p["passage_max_len"]),
        "--temperature", str(p["temperature"]),
        "--learning_rate", str(p["learning_rate"]),
        "--num_train_epochs", str(p["num_train_epochs"]),
        "--per_device_train_batch_size", str(p["per_device_train_batch_size"]),
        "--sentence_pooling_method", "mean",
        "--normalize_embeddings", "True",
        "--fp16",
    ]  # fmt: skip


def prepare(job):
    from lazycli.finetune.runs import Prepared

    config = {
        "run_dir": str(job.run_dir),
        "base": str(job.base_path),
        "data": str(job.data_file),
        **{k: v for k, v in job.params.items() if k not in ("threads", "lora_rank")},
    }
    env = {"OMP_NUM_THREADS": str(job.params["threads"]), "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    notes = [
        "CPU path: sentence-transformers trainer (FlagEmbedding's InfoNCE loss with hard negatives)",
        "on GPUs FlagEmbedding itself would run: " + " ".join(gpu_argv(job)),
    ]
    return Prepared({"config/train.json": json.dumps(config, indent=2) + "\n"}, argv(job), env, notes)


def argv(job) -> list[str]:
    python = str(job.env_python) if job.env_python else "python"
    return [python, str(WORKER), str(job.config_dir / "train.json")]


def finish(run_dir: Path, record: dict) -> dict:
    from lazycli.errors import LzError

    model = run_dir / "model"
    if not (model / "modules.json").exists():
        raise LzError(f"the embedding run in {run_dir} ended without a model", hint="see its logs")
    return {"path": str(model), "format": "hf", "type": "embed"}


@hookimpl
def lazycli_finetuners():
    yield FinetunerSpec(
        name="flagembedding",
        prepare=prepare,
        argv=argv,
        model_types=("embed",),
        dataset_formats=("triplet",),
        env=ENV,
        data_target="triplet",
        options=OPTIONS,
        finish=finish,
        description="embedding fine-tune on {query, pos, neg} triplets (FlagEmbedding's loss)",
    )
