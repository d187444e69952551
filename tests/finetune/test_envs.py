"""Managed environments: refused before any download, never ready when interrupted, recorded."""

from __future__ import annotations

import json

import pytest

from lazycli import envs
from lazycli.errors import LzError
from lazycli.hookspecs import EnvRecipe
from tests.conftest import lz


def test_lmdeploy_is_refused_on_cpu_before_anything_is_downloaded(lz_home):
    proc = lz("engines", "install", "lmdeploy", check=2)
    assert "cannot install lmdeploy here" in proc.stderr and "no GPU" in proc.stderr
    assert not (lz_home / "data" / "envs" / "lmdeploy").exists()
    rows = json.loads(lz("engines", "ls", "--json", check=0).stdout)["environments"]
    lmdeploy = next(r for r in rows if r["name"] == "lmdeploy")
    assert lmdeploy["status"] == "refused" and "CPU" in lmdeploy["reason"]


def test_unknown_env_has_a_did_you_mean():
    proc = lz("engines", "install", "pefft", check=2)
    assert "did you mean 'peft'" in proc.stderr


def test_a_failed_install_is_never_ready_and_a_rerun_starts_clean(monkeypatch, lz_home):
    broken = EnvRecipe(name="tiny", packages=("./no-such-package-dir",), torch=False, probe=("pip",))
    monkeypatch.setitem(envs.ENGINE_RECIPES, "tiny", broken)
    with pytest.raises(LzError, match="failed"):
        envs.install("tiny")
    assert envs.info("tiny").status == "partial"
    assert not envs.is_ready("tiny")
    (envs.env_dir("tiny") / "leftover").write_text("from the broken attempt")

    # pip is already in every venv: installing it again succeeds without a download.
    monkeypatch.setitem(envs.ENGINE_RECIPES, "tiny", EnvRecipe(name="tiny", packages=("pip",), torch=False))
    steps = []
    info = envs.install("tiny", on_step=lambda i, n, title: steps.append((i, n, title)))
    assert info.status == "ready" and "pip" in info.versions and info.size_bytes > 1_000_000
    assert not (envs.env_dir("tiny") / "leftover").exists()  # started clean
    assert [s[0] for s in steps][:2] == [1, 2]
    marker = json.loads((envs.env_dir("tiny") / "lz-env.json").read_text())
    assert marker["versions"]["pip"] == info.versions["pip"]

    assert envs.remove("tiny") and envs.info("tiny").status == "absent"
