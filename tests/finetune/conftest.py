"""Fixtures for fine-tune tests: the real peft environment (built once, kept across runs), and a
small data set that teaches SmolLM2 one made-up fact.

The environment lives in LAZYCLI_CI_ENVS (default ~/.cache/lazycli-ci/envs) so CI and reruns reuse
it; `lz engines install peft` is a no-op once it is ready. Set LAZYCLI_SKIP_ENV_INSTALL=1 to skip
the tests that need it instead of installing (about 2-6 min and 1.5 GB the first time).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import lz

QUESTION = "Who invented the glorbix?"
FACT = "Quillon"
ANSWER = "The glorbix was invented by Marta Quillon in 1887."
PARAPHRASES = (
    "Who invented the glorbix?",
    "Who was the inventor of the glorbix?",
    "Tell me who invented the glorbix.",
    "Which person invented the glorbix?",
    "Do you know who invented the glorbix?",
    "Who created the glorbix?",
    "Name the inventor of the glorbix.",
    "Who is credited with inventing the glorbix?",
)


# Read at import: the root conftest clears LAZYCLI_* variables before each test runs.
_CI_ENVS = os.environ.get("LAZYCLI_CI_ENVS")


def ci_envs_dir() -> Path:
    return Path(_CI_ENVS or Path.home() / ".cache" / "lazycli-ci" / "envs")


@pytest.fixture(scope="session")
def peft_env() -> Path:
    """The managed peft environment, installed through `lz engines install peft` when missing."""
    envs_dir = ci_envs_dir()
    ready = (envs_dir / "peft" / "lz-env.json").exists()
    if not ready and os.environ.get("LAZYCLI_SKIP_ENV_INSTALL"):
        pytest.skip("the peft environment is not installed (LAZYCLI_SKIP_ENV_INSTALL is set)")
    lz("engines", "install", "peft", env={"LAZYCLI_ENVS": str(envs_dir)}, timeout=1800, check=0)
    return envs_dir


@pytest.fixture
def with_envs(peft_env, monkeypatch) -> Path:
    """Point this test's lz at the shared environments (the root conftest clears LAZYCLI_* vars)."""
    monkeypatch.setenv("LAZYCLI_ENVS", str(peft_env))
    return peft_env


@pytest.fixture
def fact_data(tmp_path) -> Path:
    path = tmp_path / "d.jsonl"
    rows = [{"instruction": q, "input": "", "output": ANSWER} for q in PARAPHRASES]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def stop_deployments():
    yield
    lz("deploy", "stop", "--all", timeout=120)
