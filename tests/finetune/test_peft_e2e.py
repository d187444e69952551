"""PEFT LoRA on the bundled SmolLM2, for real, on CPU: the fine-tuned model knows a made-up fact
the base model does not, served by llama.cpp through `lz chat`; kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import lz
from tests.finetune.conftest import FACT, QUESTION

pytestmark = [pytest.mark.slow, pytest.mark.integration]
BASE = "smollm2-135m-instruct"


def _ask(target: str) -> str:
    proc = lz(
        "chat", target, QUESTION, "--temperature", "0", "--max-tokens", "40", "--no-log", timeout=300, check=0
    )
    return proc.stdout


def test_peft_teaches_a_fact_and_lz_chat_serves_it(with_envs, fact_data, lz_home, stop_deployments):
    assert FACT not in _ask(BASE)

    args = ("finetune", BASE, "--data", str(fact_data), "--method", "peft")
    args += ("--steps", "20", "--name", "smol-ft")
    proc = lz(*args, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lz chat smol-ft" in proc.stdout

    answer = _ask("smol-ft")
    assert FACT in answer, answer

    run = lz_home / "data" / "finetune" / "smol-ft"
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["method"] == "peft"
    import hashlib

    assert record["data"]["sha256"] == hashlib.sha256(fact_data.read_bytes()).hexdigest()
    assert record["data"]["format"] == "alpaca"
    assert record["params"]["max_steps"] == 20
    assert {"torch", "transformers", "peft"} <= set(record["versions"])
    assert record["result"]["format"] == "gguf"
    merged = run / "merged"
    assert (merged / "config.json").exists() and (merged / "tokenizer.json").exists()
    assert (merged / "chat_template.jinja").exists() or "chat_template" in (
        merged / "tokenizer_config.json"
    ).read_text()
    assert (run / "adapter" / "adapter_config.json").exists()
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["state"] == "completed" and rows[-1]["step"] == 20 and rows[-1]["total"] == 20
    assert {"step", "total", "loss", "lr", "eta", "state"} <= set(rows[0])
    assert rows[-1]["loss"] < rows[0]["loss"]

    listed = json.loads(lz("models", "ls", "--local", "--json", check=0).stdout)["models"]
    assert any(m["name"] == "smol-ft" for m in listed)
    status = json.loads(lz("finetune", "status", "smol-ft", "--json", check=0).stdout)
    assert status["progress"]["state"] == "completed"


def _wait_for_step(run: Path, step: int, timeout: float = 600) -> None:
    log = run / "trainer_log.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            steps = [
                json.loads(line)["current_steps"] for line in log.read_text().splitlines() if line.strip()
            ]
            if steps and max(steps) >= step:
                return
        time.sleep(0.5)
    pytest.fail(f"no step {step} within {timeout} s:\n" + (run / "logs" / "train.log").read_text()[-2000:])


@pytest.mark.extended  # two interrupted trainings and a resumed one: minutes (.ci/run runs it)
def test_kill_9_of_lz_then_of_the_trainer_and_rerun_resumes(with_envs, fact_data, lz_home):
    argv = [sys.executable, "-m", "lazycli", "finetune", BASE, "--data", str(fact_data), "--method", "peft",
            "--steps", "12", "--set", "save_steps=4", "--name", "resumable"]  # fmt: skip
    run = lz_home / "data" / "finetune" / "resumable"
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    _wait_for_step(run, 2)
    first.send_signal(signal.SIGKILL)  # lz dies; the trainer runs on
    first.wait()
    record = json.loads((run / "run.json").read_text())
    assert json.loads(lz("finetune", "status", "resumable", "--json", check=0).stdout)["status"] == "running"
    job = json.loads(lz("jobs", "status", record["job_name"], "--json", check=0).stdout)
    assert job["kind"] == "finetune" and job["status"] == "running"

    _wait_for_step(run, 5)  # checkpoint-4 is saved
    os.killpg(job["job"]["pid"], signal.SIGKILL)  # now the trainer dies
    deadline = time.monotonic() + 30
    while json.loads(lz("finetune", "status", "resumable", "--json").stdout)["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert json.loads(lz("finetune", "status", "resumable", "--json").stdout)["status"] == "failed"

    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200)  # the same command again
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (run / "logs" / "train.log").read_text()
    assert "resuming from" in log and "checkpoint-4" in log
    final = json.loads((run / "run.json").read_text())
    assert final["status"] == "completed" and final["attempts"] == 2
    steps = [
        json.loads(line)["current_steps"] for line in (run / "trainer_log.jsonl").read_text().splitlines()
    ]
    assert steps[-1] == 12 and 5 in steps
    assert json.loads((run / "progress.jsonl").read_text().splitlines()[-1])["state"] == "completed"
