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
