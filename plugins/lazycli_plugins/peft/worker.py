"""The PEFT finetuner's own process (alpaca-lora style), run from the peft managed environment.

    python worker.py hf-from-gguf MODEL.gguf OUT_DIR     # a trainable HF copy of a GGUF model
    python worker.py train RUN_DIR/config/train.json      # LoRA train → adapter → merged (→ GGUF)

It imports no lazycli (lz's own environment is not this one); lz reads what it writes:
`trainer_log.jsonl` (one line per logged step, LLaMA-Factory's field names), `checkpoints/`,
`adapter/`, `merged/` and `model.gguf`, and a `stage` file naming the step it is in.

Training resumes from the newest complete checkpoint in `checkpoints/` (a killed run continues);
each output is written beside its final name and renamed, so a kill never leaves a half one.
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
    print(f"[lz-peft] stage: {name}", flush=True)


# --- GGUF → trainable HF ---------------------------------------------------------------------------


def hf_from_gguf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF into fp32 safetensors + tokenizer (chat template included)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers marks a GGUF-loaded model as quantized and refuses to save it; its weights are
    # already dequantized, so dropping the quantizer leaves a plain fp32 model.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)


def _ensure_base(gguf: Path, out: Path, run: Path) -> None:
    """The cached HF copy of the GGUF base, made once (a lock keeps two runs from racing)."""
    import fcntl

    if (out / "config.json").exists():
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "config.json").exists():
            _stage(run, "converting the GGUF base to HF (once)")
            hf_from_gguf(gguf, out)


# --- data ----------------------------------------------------------------------------------------------


def _render(tokenizer, messages, *, generation: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode(tokenizer, messages: list[dict], cutoff: int, train_on_inputs: bool) -> dict:
    """input_ids and labels; only assistant turns are learned unless train_on_inputs."""
    ids = _render(tokenizer, messages, generation=False)
    labels = list(ids) if train_on_inputs else [-100] * len(ids)
    if not train_on_inputs:
        for i, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            start = len(_render(tokenizer, messages[:i], generation=True)) if i else 0
            end = len(_render(tokenizer, messages[: i + 1], generation=False))
            labels[start:end] = ids[start:end]
    return {"input_ids": ids[:cutoff], "attention_mask": [1] * len(ids[:cutoff]), "labels": labels[:cutoff]}


def load_dataset(path: Path, tokenizer, cutoff: int, train_on_inputs: bool):
    from datasets import Dataset

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    encoded = [encode(tokenizer, row["messages"], cutoff, train_on_inputs) for row in rows]
    return Dataset.from_list(encoded)


# --- progress ------------------------------------------------------------------------------------------


def _progress_callback(run: Path):
    from transformers import TrainerCallback

    log_path = run / "trainer_log.jsonl"

    class TrainerLog(TrainerCallback):
        """One JSON line per logged step (LLaMA-Factory's trainer_log.jsonl fields)."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.time()
            self.first_step = state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            elapsed = time.time() - self.start
            done = max(state.global_step - self.first_step, 1)
            remaining = (state.max_steps - state.global_step) * elapsed / done
            line = {
                "current_steps": state.global_step,
                "total_steps": state.max_steps,
                "loss": logs.get("loss"),
                "lr": logs.get("learning_rate"),
                "epoch": logs.get("epoch"),
                "elapsed_s": round(elapsed, 2),
                "remaining_s": round(remaining, 2),
            }
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    return TrainerLog()


def last_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint-N that was saved completely (trainer_state.json is written last)."""
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    done.sort(key=lambda p: int(p.name.split("-")[-1]))
    return str(done[-1]) if done else None


# --- train → adapter → merged → GGUF -------------------------------------------------------------------


def train(config_path: Path) -> None:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    run = Path(config["run_dir"])
    _stage(run, "loading")
    if config.get("base_gguf"):
        _ensure_base(Path(config["base_gguf"]), Path(config["base_hf"]), run)
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    torch.manual_seed(config["seed"])
    base = config["base_hf"]
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = load_dataset(Path(config["data"]), tokenizer, config["cutoff_len"], config["train_on_inputs"])
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    lora = LoraConfig(
        r=config["lora_rank"],
        lora_alpha=config["lora_alpha"],
        lora_dropout=config["lora_dropout"],
        target_modules=config["target_modules"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    checkpoints = run / "checkpoints"
    args = TrainingArguments(
        output_dir=str(checkpoints),
        max_steps=config["max_steps"] if config["max_steps"] else -1,
        num_train_epochs=config["num_train_epochs"],
        per_device_train_batch_size=config["per_device_train_batch_size"],
        gradient_accumulation_steps=config["gradient_accumulation_steps"],
        learning_rate=config["learning_rate"],
        lr_scheduler_type=config["lr_scheduler_type"],
        warmup_steps=config["warmup_steps"],
        logging_steps=config["logging_steps"],
        save_steps=config["save_steps"],
        save_total_limit=config["save_total_limit"],
        seed=config["seed"],
        use_cpu=True,
        report_to=[],
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
        callbacks=[_progress_callback(run)],
    )
    resume = last_checkpoint(checkpoints)
    _stage(run, "training")
    if resume:
        print(f"[lz-peft] resuming from {resume}", flush=True)
    result = trainer.train(resume_from_checkpoint=resume)
    import resource

    metrics = {**result.metrics, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    (run / "train_result.json").write_text(json.dumps(metrics, indent=2))

    _stage(run, "saving adapter")
    _save_dir(run / "adapter", lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))
    _stage(run, "merging")
    merged = model.merge_and_unload()
    _save_dir(run / "merged", lambda tmp: (merged.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))
    if config.get("base_gguf"):
        _stage(run, "writing gguf")
        sys.path.insert(0, str(Path(__file__).parent))
        from gguf_patch import patch

        changed = _changed_weights(merged, config["target_modules"])
        written = patch(Path(config["base_gguf"]), Path(base), run / "merged", run / "model.gguf", changed)
        print(f"[lz-peft] gguf: replaced {len(written)} tensors", flush=True)
    _stage(run, "done")


def _changed_weights(model, targets: list[str]) -> list[str]:
    names = [n for n, _ in model.named_parameters() if n.endswith(".weight")]
    return [n for n in names if any(n.endswith(f"{t}.weight") for t in targets)]


def _save_dir(final: Path, save) -> None:
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    tmp.replace(final)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "hf-from-gguf":
        hf_from_gguf(Path(rest[0]), Path(rest[1]))
    elif command == "train":
        train(Path(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")
