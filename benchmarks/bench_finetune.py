"""lz's overhead on a fine-tune, against the same framework run by hand in the same session.

Both runs use the peft environment, the bundled SmolLM2 (its HF copy made beforehand, untimed),
the same data, steps and parameters:
  * by hand: `ENV/bin/python worker.py train config.json` (the config lz's --dry-run prints);
  * lz: `lz finetune smollm2-135m-instruct --data … --method peft --steps N` (data doctor, run
    folder, launcher, progress polling, registration of the result).
Printed: wall seconds of each and their ratio (goal ≤ 1.1), seconds per step (from the trainer's
own train_runtime), and the trainer's peak RSS.

    LAZYCLI_ENVS=~/.cache/lazycli-ci/envs python benchmarks/bench_finetune.py [--steps 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = ("Who invented the glorbix?", "Who created the glorbix?", "Name the inventor of the glorbix.")
ANSWER = "The glorbix was invented by Marta Quillon in 1887."


def _lz(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lazycli", *args], capture_output=True, text=True, env=env)


def _result(run_dir: Path) -> dict:
    return json.loads((run_dir / "train_result.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    env = {**os.environ, "LAZYCLI_HOME": str(work / "home"), "OMP_NUM_THREADS": "1"}
    env.setdefault("LAZYCLI_ENVS", str(Path.home() / ".cache" / "lazycli-ci" / "envs"))
    data = work / "d.jsonl"
    data.write_text("".join(json.dumps({"instruction": q, "output": ANSWER}) + "\n" for q in QUESTIONS))
    args = ["finetune", "smollm2-135m-instruct", "--data", str(data), "--method", "peft"]
    args += ["--steps", str(opts.steps), "--name", "bench"]
    subprocess.run([sys.executable, "-m", "lazycli", "engines", "install", "peft"], env=env, check=True)
    plan = json.loads(_lz(*args, "--dry-run", "--json", env=env).stdout)

    # By hand: the same config with its own run folder; the HF copy of the GGUF is made first.
    hand_dir = work / "by-hand"
    (hand_dir / "config").mkdir(parents=True)
    config = json.loads(plan["files"]["config/train.json"])
    config["run_dir"] = str(hand_dir)
    config["data"] = str(hand_dir / "train.jsonl")
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ANSWER}]}
        for q in QUESTIONS
    ]
    (hand_dir / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (hand_dir / "config" / "train.json").write_text(json.dumps(config))
    python, worker = plan["argv"][0], plan["argv"][1]
    if not (Path(config["base_hf"]) / "config.json").exists():
        subprocess.run(
            [python, worker, "hf-from-gguf", config["base_gguf"], config["base_hf"]], env=env, check=True
        )

    started = time.perf_counter()
    subprocess.run([python, worker, "train", str(hand_dir / "config" / "train.json")], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    hand_s = time.perf_counter() - started

    started = time.perf_counter()
    proc = _lz(*args, env=env)
    lz_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    lz_dir = Path(plan["run_dir"])

    hand, via_lz = _result(hand_dir), _result(lz_dir)
    out = {
        "steps": opts.steps,
        "by_hand_wall_s": round(hand_s, 1),
        "lz_wall_s": round(lz_s, 1),
        "overhead_ratio": round(lz_s / hand_s, 3),
        "by_hand_s_per_step": round(hand["train_runtime"] / opts.steps, 2),
        "lz_s_per_step": round(via_lz["train_runtime"] / opts.steps, 2),
        "by_hand_peak_rss_mb": round(hand["peak_rss_mb"]),
        "lz_peak_rss_mb": round(via_lz["peak_rss_mb"]),
        "load_average": os.getloadavg()[0],
    }
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    print(f"peft, SmolLM2-135M, {opts.steps} steps, OMP_NUM_THREADS=1 (load {out['load_average']:.1f})")
    wall = f"by hand {out['by_hand_wall_s']} s, lz {out['lz_wall_s']} s"
    print(f"  wall: {wall}, ratio {out['overhead_ratio']} (goal ≤ 1.1)")
    print(f"  s/step: by hand {out['by_hand_s_per_step']}, lz {out['lz_s_per_step']}")
    print(f"  trainer peak RSS: by hand {out['by_hand_peak_rss_mb']} MB, lz {out['lz_peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
