"""Contrastive fine-tune of an embedding model on {query, pos, neg} triplets (stand-alone script).

    python worker.py RUN_DIR/config/train.json

The objective is FlagEmbedding's: InfoNCE over the positive, the hard negatives and the other
queries' passages in the batch, with a temperature (scale = 1 / temperature). It is run with
sentence-transformers' trainer (MultipleNegativesRankingLoss), which works on CPU; FlagEmbedding's
own launcher needs torchrun and a distributed backend. Writes trainer_log.jsonl (the fields lz
maps to progress.jsonl), checkpoints/ (resumed from), and model/ (a sentence-transformers dir).
Imports no lazycli.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def _stage(run: Path, name: str) -> None:
    (run / "stage").write_text(name + "\n")
    print(f"[lz-embed] stage: {name}", flush=True)


def rows(path: Path, group: int) -> dict[str, list[str]]:
    """anchor / positive / negative_1..k columns: one row per positive, k = train_group_size - 1."""
    out: dict[str, list[str]] = {"anchor": [], "positive": []}
    negatives = [f"negative_{i + 1}" for i in range(max(group - 1, 1))]
    for name in negatives:
        out[name] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        for pos in rec["pos"]:
            out["anchor"].append(rec["query"])
            out["positive"].append(pos)
            for i, name in enumerate(negatives):  # fewer negatives than needed: reused in turn
                out[name].append(rec["neg"][i % len(rec["neg"])])
    return out


def main(config_path: Path) -> None:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    run = Path(config["run_dir"])
    _stage(run, "loading")
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, losses
    from sentence_transformers.training_args import SentenceTransformerTrainingArguments
    from transformers import TrainerCallback

    torch.manual_seed(config["seed"])
    model = SentenceTransformer(config["base"], device="cpu")
    dataset = Dataset.from_dict(rows(Path(config["data"]), config["train_group_size"]))
    loss = losses.MultipleNegativesRankingLoss(model, scale=1.0 / config["temperature"])
    log_path = run / "trainer_log.jsonl"

    class TrainerLog(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start, self.first = time.time(), state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            elapsed = time.time() - self.start
            done = max(state.global_step - self.first, 1)
            line = {
                "current_steps": state.global_step,
                "total_steps": state.max_steps,
                "loss": logs["loss"],
                "lr": logs.get("learning_rate"),
                "epoch": logs.get("epoch"),
                "elapsed_s": round(elapsed, 2),
                "remaining_s": round((state.max_steps - state.global_step) * elapsed / done, 2),
            }
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    checkpoints = run / "checkpoints"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        max_steps=config["max_steps"] or -1,
        num_train_epochs=config["num_train_epochs"],
        per_device_train_batch_size=config["per_device_train_batch_size"],
        learning_rate=config["learning_rate"],
        warmup_steps=config["warmup_steps"],
        logging_steps=1,
        save_steps=config["save_steps"],
        save_total_limit=2,
        seed=config["seed"],
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[TrainerLog()]
    )
    done = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    resume = str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None
    _stage(run, "training")
    if resume:
        print(f"[lz-embed] resuming from {resume}", flush=True)
    trainer.train(resume_from_checkpoint=resume)
    _stage(run, "saving model")
    tmp = run / "model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    shutil.rmtree(run / "model", ignore_errors=True)
    tmp.replace(run / "model")
    _stage(run, "done")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
