"""Fixtures for deploy tests: the engine stand-ins on PATH/PYTHONPATH, and a check that nothing is
left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STANDINS = Path(__file__).parent / "standins"


@pytest.fixture
def standin_env(monkeypatch) -> dict[str, str]:
    """Environment where `vllm`, `lmdeploy` and `python -m lightllm…` are the local stand-ins."""
    path = f"{STANDINS / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    pythonpath = os.pathsep.join(p for p in (str(STANDINS), os.environ.get("PYTHONPATH", "")) if p)
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    return {"PATH": path, "PYTHONPATH": pythonpath}


@pytest.fixture
def hf_dir(tmp_path) -> Path:
    """A Hugging Face-style model directory (config.json) for GPU engines' stand-ins."""
    model = tmp_path / "tiny-llama"
    model.mkdir()
    (model / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    )
    return model


def parse_with_standin(argv: list[str], env: dict[str, str]) -> dict:
    """Run an engine argv against its stand-in in parse-only mode: what the real CLI would parse."""
    full = {**os.environ, **env, "STANDIN_PARSE_ONLY": "1"}
    if argv[0] == sys.executable:
        argv = [sys.executable, *argv[1:]]
    proc = subprocess.run(argv, capture_output=True, text=True, env=full, timeout=30)
    assert proc.returncode == 0, f"{argv} rejected:\n{proc.stderr}"
    return json.loads(proc.stdout)


def group_alive(pgid: int) -> list[int]:
    """Processes still in process group `pgid` (zombies excluded)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(entry))
    return alive


def served_argv(url: str) -> dict:
    """What the stand-in engine behind deployment URL `url` (…/v1) was started with: its `argv` and
    the flags it `parsed`."""
    import urllib.request

    with urllib.request.urlopen(url.removesuffix("/v1") + "/_argv", timeout=10) as resp:
        return json.loads(resp.read())
