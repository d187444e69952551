"""The plugins core picks by default are settings (engine_cpu, engine_gpu_order, engine_embed,
embedder_local, reranker_local, store): `lz config set` changes what the verbs use, and a name
that is not a loaded plugin is refused in one line naming the key and the installed choices."""

from __future__ import annotations

import json

import pytest
from tests.conftest import lz
from tests.core.test_plugins import install_fake_dist

# Engines that serve what the built-in ones do, under other names; a store and an embedder that
# hand over to the built-in ones and note each use in calls.txt next to the module.
OTHERS = """
from pathlib import Path

from lazycli.hookspecs import EmbedderSpec, EngineSpec, StoreSpec, hookimpl

CALLS = Path(__file__).with_name("calls.txt")


def _noted(what):
    with open(CALLS, "a") as fh:
        fh.write(what + "\\n")


def _argv(req):
    return ["other-server", "--model", str(req.model_path), "--port", str(req.port)]


def _store(path, options=None):
    from lazycli_plugins.lancedb import _open

    _noted("lance-two")
    return _open(path, options)


def _embedder(model, options=None):
    from lazycli_plugins.sentence_transformers import _embedder as built_in

    _noted("st-two")
    return built_in(model, options)


@hookimpl
def lazycli_engines():
    yield EngineSpec(name="llama-two", argv=_argv, formats=("gguf",))
    yield EngineSpec(name="fast-gpu", argv=_argv, formats=("hf",), needs_gpu=True)
    yield EngineSpec(name="embed-two", argv=_argv, model_types=("embed", "rerank"), formats=("hf",))


@hookimpl
def lazycli_stores():
    yield StoreSpec(name="lance-two", open=_store)


@hookimpl
def lazycli_embedders():
    yield EmbedderSpec("st-two", _embedder, "the bundled embedder, counted")
"""


@pytest.fixture
def site(tmp_path):
    install_fake_dist(tmp_path, "lazycli-others", {"lz_others": OTHERS}, {"others": "lz_others"})
    return tmp_path


def run(site, *args, check=0):
    return lz(*args, env={"PYTHONPATH": str(site)}, check=check)


def _plan(site, *args) -> dict:
    return json.loads(run(site, "deploy", *args, "--dry-run", "--json").stdout)


def test_config_set_shows_and_refuses_unknown_plugins(site, lz_home):
    shown = {r["key"]: r for r in json.loads(run(site, "config", "show", "--json").stdout)["settings"]}
    assert shown["engine_cpu"]["value"] == "llamacpp" and shown["store"]["value"] == "lancedb"
    assert shown["engine_gpu_order"]["value"] == ["vllm", "lmdeploy", "lightllm"]
    assert shown["embedder_local"]["value"] == "sentence-transformers"
    run(site, "config", "set", "store", "lance-two")
    before = (lz_home / "config" / "config.toml").read_text()
    said = {}
    for key, value, kind in [
        ("engine_cpu", "llamacp", "engines"),
        ("engine_gpu_order", "fast-gpu,nope", "engines"),
        ("store", "chroma", "stores"),
        ("embedder_local", "st-three", "embedders"),
    ]:
        said[key] = run(site, "config", "set", key, value, check=2).stderr
        assert said[key].count("\n") == 1 and "Traceback" not in said[key]
        assert f"bad value for '{key}'" in said[key] and f"known {kind}:" in said[key]
    assert "did you mean 'llamacpp'" in said["engine_cpu"]
    assert "no engine 'nope' is loaded" in said["engine_gpu_order"]
    assert "known stores: lancedb, lance-two" in said["store"]  # the installed choices
    assert "st-two" in said["embedder_local"]
    assert (lz_home / "config" / "config.toml").read_text() == before  # nothing written


def test_deploy_auto_follows_the_engine_settings(site):
    assert _plan(site, "smollm2-135m-instruct")["engine"] == "llamacpp"
    run(site, "config", "set", "engine_cpu", "llama-two")
    plan = _plan(site, "smollm2-135m-instruct")
    assert plan["engine"] == "llama-two" and plan["argv"][0] == "other-server"
    assert "gguf → llama-two" in plan["reason"]

    run(site, "config", "set", "engine_gpu_order", "lightllm,fast-gpu")
    plan = _plan(site, "qwen2-0.5b-instruct", "--gpus", "2")
    assert plan["engine"] == "fast-gpu" and "lightllm not installed" in plan["reason"]

    run(site, "config", "set", "engine_embed", "embed-two")
    assert _plan(site, "all-minilm-l6-v2")["engine"] == "embed-two"


def test_index_uses_the_configured_store_and_embedder(site, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text("Ocean tides are caused by the gravity of the Moon.", encoding="utf-8")
    (docs / "tea.txt").write_text("Longjing green tea is grown near Hangzhou.", encoding="utf-8")
    run(site, "config", "set", "store", "lance-two")
    run(site, "config", "set", "embedder_local", "st-two")
    built = json.loads(run(site, "index", str(docs), "--name", "kb", "--json").stdout)
    assert built["files"] == 2 and built["chunks"] > 0
    [row] = json.loads(run(site, "index", "ls", "--json").stdout)["indexes"]
    assert row["store"] == "lance-two"
    calls = (site / "calls.txt").read_text().split()
    assert "lance-two" in calls and "st-two" in calls
    found = json.loads(
        run(site, "rag", "--index", "kb", "--retrieve-only", "--json", "what causes tides?").stdout
    )
    assert [r["file"] for r in found["results"]][:1] == ["tides.txt"]
