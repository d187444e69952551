"""Run LLaMA-Factory for one lz fine-tune, inside the llamafactory environment (stand-alone script).

    python driver.py RUN_DIR/config/driver.json

Steps, each named in RUN_DIR/stage: the HF copy of a GGUF base (shared with the peft finetuner,
made once), `llamafactory-cli train` (it resumes from the newest checkpoint in output_dir by
itself), the adapter copied to adapter/, `llamafactory-cli export` into merged/, and for a GGUF
base the patched model.gguf. Imports no lazycli.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALL_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _stage(run: Path, name: str) -> None:
    (run / "stage").write_text(name + "\n")
    print(f"[lz-llamafactory] stage: {name}", flush=True)


def _cli(*args: str) -> None:
    cli = Path(sys.executable).parent / "llamafactory-cli"
    code = subprocess.call([str(cli), *args])
    if code != 0:
        raise SystemExit(code)


def _replace_dir(src: Path, final: Path) -> None:
    shutil.rmtree(final, ignore_errors=True)
    src.replace(final)


def main(config_path: Path) -> None:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    run = Path(config["run_dir"])
    sys.path.insert(0, str(HERE.parent / "peft"))
    if config.get("base_gguf"):
        from worker import _ensure_base

        _ensure_base(Path(config["base_gguf"]), Path(config["base_hf"]), run)
    _stage(run, "training")
    _cli("train", config["train_yaml"])
    output = run / "checkpoints"
    # lz runs LoRA only (prepare refuses the rest): copy the adapter, then merge it.
    _stage(run, "saving adapter")
    tmp = run / "adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for item in output.iterdir():
        if item.is_file() and not item.name.startswith(
            ("trainer_", "training_", "all_results", "train_results")
        ):
            shutil.copy2(item, tmp / item.name)
    _replace_dir(tmp, run / "adapter")
    _stage(run, "merging (llamafactory-cli export)")
    shutil.rmtree(run / "merged.tmp", ignore_errors=True)
    _cli("export", config["export_yaml"])
    _replace_dir(run / "merged.tmp", run / "merged")
    if config.get("base_gguf"):
        _stage(run, "writing gguf")
        from gguf_patch import patch

        targets = config["lora_target"]
        targets = ALL_TARGETS if targets == "all" else [t.strip() for t in targets.split(",")]
        changed = _changed(run / "merged", targets)
        written = patch(
            Path(config["base_gguf"]), Path(config["base_hf"]), run / "merged", run / "model.gguf", changed
        )
        print(f"[lz-llamafactory] gguf: replaced {len(written)} tensors", flush=True)
    _stage(run, "done")


def _changed(merged: Path, targets: list[str]) -> list[str]:
    from safetensors import safe_open

    names = []
    for file in sorted(merged.glob("*.safetensors")):
        with safe_open(str(file), "np") as fh:
            names.extend(fh.keys())
    return [
        n for n in names if n.startswith("model.layers.") and any(n.endswith(f"{t}.weight") for t in targets)
    ]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
