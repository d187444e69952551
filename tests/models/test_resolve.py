"""Name resolution: bundled models, the catalogue, paths, model dirs, cache, registered models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lazycli import catalog
from lazycli.catalog import local
from lazycli.errors import LzError
from tests.conftest import lz


def _hf_dir(path: Path, arch: str = "Qwen2ForCausalLM") -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": [arch]}))
    (path / "model.safetensors").write_bytes(b"\0" * 16)
    return path


def _mark_ready(directory: Path, files: dict) -> None:
    (directory / local.READY_MARKER).write_text(json.dumps({"commit": "c" * 40, "files": files}))


# --- bundled ------------------------------------------------------------------------------------


def test_bundled_llm_is_the_gguf_file():
    ref = catalog.resolve("smollm2-135m-instruct")
    assert (ref.type, ref.format, ref.source, ref.template) == ("llm", "gguf", "bundled", "chatml")
    assert ref.ready and ref.path.is_file() and ref.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert ref.path.stat().st_size > 50_000_000
    assert catalog.ensure_local("smollm2-135m-instruct") == ref.path


def test_bundled_embedder_is_a_sentence_transformers_dir():
    ref = catalog.resolve("all-minilm-l6-v2")
    assert (ref.type, ref.format, ref.source) == ("embed", "hf", "bundled")
    assert ref.ready and (ref.path / "modules.json").is_file() and (ref.path / "model.safetensors").is_file()


# --- catalogue names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical", "type_"),
    [
        ("QWEN2-1.5B-Instruct", "qwen2-1.5b-instruct", "llm"),
        ("Qwen/Qwen2-1.5B-Instruct", "qwen2-1.5b-instruct", "llm"),
        ("qwen2.5-7B-instruct", "qwen2.5-7b-instruct", "llm"),
        ("internlm2.5-7b-chat", "internlm2_5-7b-chat", "llm"),
        ("Shanghai_AI_Laboratory/internlm2_5-7b-chat", "internlm2_5-7b-chat", "llm"),
        ("THUDM/glm-4-9b-chat", "glm-4-9b-chat", "llm"),
        ("mini-internvl-chat-2b-v1-5", "internvl-chat-2b-v1-5", "vlm"),
        ("SenseVoiceSmall", "sensevoicesmall", "stt"),
        ("ChatTTS", "chattts", "tts"),
        ("BAAI/bge-reranker-v2-m3", "bge-reranker-v2-m3", "rerank"),
        ("bge-small", "bge-small-zh-v1.5", "embed"),
        ("stable-diffusion-3-medium", "stable-diffusion-3-medium", "sd"),
        ("smollm2", "smollm2-135m-instruct", "llm"),
    ],
)
def test_names_aliases_and_hub_ids_resolve_case_insensitively(given, canonical, type_):
    ref = catalog.resolve(given)
    assert (ref.name, ref.type, ref.in_catalog) == (canonical, type_, True)


ISSUE_MODELS = {
    "qwen2-1.5b": "llm",
    "qwen2-7b-instruct": "llm",
    "qwen2.5-0.5b-instruct": "llm",
    "qwen2.5-14b-instruct-awq": "llm",
    "qwen3-8b": "llm",
    "internlm2-chat-7b": "llm",
    "internlm2_5-7b-chat": "llm",
    "glm-4-9b-chat": "llm",
    "chatglm3-6b": "llm",
    "llama-3-8b-instruct": "llm",
    "llama-3.1-8b-instruct": "llm",
    "deepseek-r1-distill-qwen-7b": "llm",
    "baichuan2-7b-chat": "llm",
    "mistral-7b-instruct-v0.3": "llm",
    "bge-large-zh-v1.5": "embed",
    "bge-m3": "embed",
    "bge-small-en-v1.5": "embed",
    "bge-reranker-base": "rerank",
    "bge-reranker-large": "rerank",
    "bge-reranker-v2-m3": "rerank",
    "internvl-chat-2b-v1-5": "vlm",
    "qwen2-vl-7b-instruct": "vlm",
    "stable-diffusion-3-medium": "sd",
    "chattts": "tts",
    "bark": "tts",
    "musicgen-small": "tts",
    "sensevoicesmall": "stt",
    "got-ocr2_0": "ocr",
}


@pytest.mark.parametrize(("name", "type_"), sorted(ISSUE_MODELS.items()))
def test_issue_models_have_both_hub_ids_and_metadata(name, type_):
    ref = catalog.resolve(name)
    assert ref.type == type_
    assert set(ref.hub_ids) == {"huggingface", "modelscope"}
    assert all("/" in hub_id for hub_id in ref.hub_ids.values())
    if type_ == "llm":
        assert ref.params_b and ref.context_length and ref.template and ref.default_engines


def test_catalogue_sizes_agree_with_names():
    """The size in each catalogue name matches its params_b within rounding (no 1.5b → 5B)."""
    from lazycli.catalog import data
    from lazycli.catalog.sizes import parse_params

    for entry in data.entries():
        from_name = parse_params(entry["name"])
        if from_name and entry.get("params_b"):
            assert abs(entry["params_b"] - from_name) / from_name < 0.25, entry["name"]


def test_unknown_name_gets_did_you_mean():
    with pytest.raises(LzError) as info:
        catalog.resolve("qwen-2.5-7b-instrct")
    assert "qwen2.5-7b-instruct" in info.value.hint


def test_unknown_org_name_passes_through_to_the_hub():
    ref = catalog.resolve("someorg/Some-Model-7B-Instruct")
    assert ref.source == "hub" and not ref.ready and ref.path is None
    assert ref.hub_ids == {
        "huggingface": "someorg/Some-Model-7B-Instruct",
        "modelscope": "someorg/Some-Model-7B-Instruct",
    }
    assert ref.params_b == 7.0
    assert ref.download_dir.name == "someorg--Some-Model-7B-Instruct"


# --- paths ---------------------------------------------------------------------------------------


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(LzError, match="does not exist"):
        catalog.resolve(str(tmp_path / "nope"))


def test_gguf_file_and_dir_paths(tmp_path):
    bundled = catalog.resolve("smollm2-135m-instruct").path
    gguf_dir = tmp_path / "ggufs"
    gguf_dir.mkdir()
    (gguf_dir / "model-q8_0.gguf").symlink_to(bundled)
    (gguf_dir / "model-q4_k_m.gguf").symlink_to(bundled)
    ref = catalog.resolve(str(gguf_dir))
    assert ref.format == "gguf" and ref.path.name == "model-q4_k_m.gguf"  # Q4_K_M preferred
    single = catalog.resolve(str(gguf_dir / "model-q8_0.gguf"))
    assert (single.format, single.source, single.path.name) == ("gguf", "path", "model-q8_0.gguf")


@pytest.mark.parametrize(
    ("arch", "type_"),
    [("Qwen2ForCausalLM", "llm"), ("XLMRobertaForSequenceClassification", "rerank"), ("BertModel", "embed")],
)
def test_hf_dir_type_from_config(tmp_path, arch, type_):
    ref = catalog.resolve(str(_hf_dir(tmp_path / "m", arch)))
    assert (ref.format, ref.type, ref.source, ref.ready) == ("hf", type_, "path", True)


# --- model dirs, cache and their order ---------------------------------------------------------------


def test_model_path_dirs_searched_case_insensitively(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    nested = _hf_dir(second / "Qwen" / "Qwen2-1.5B-Instruct")
    flat = _hf_dir(second / "QWEN2-0.5B-INSTRUCT")
    monkeypatch.setenv("LAZYCLI_MODEL_PATH", f"{first}:{second}")
    ref = catalog.resolve("qwen2-1.5b-instruct")
    assert (ref.source, ref.path) == ("model_path", nested)
    assert catalog.resolve("Qwen2-0.5B-Instruct").path == flat


def test_model_path_wins_over_cache_and_bundled(tmp_path, monkeypatch):
    copy = _hf_dir(tmp_path / "models" / "all-minilm-l6-v2", "BertModel")
    monkeypatch.setenv("LAZYCLI_MODEL_PATH", str(tmp_path / "models"))
    ref = catalog.resolve("all-minilm-l6-v2")
    assert (ref.source, ref.path) == ("model_path", copy)


def test_half_download_is_never_ready_until_marked(tmp_path):
    directory = local.cache_dir_for("huggingface", "Qwen/Qwen2-0.5B")
    _hf_dir(directory)
    half = catalog.resolve("qwen2-0.5b")
    assert (half.source, half.ready, half.path) == ("hub", False, None)
    assert local.partial_downloads(half.hub_ids) == [directory]
    _mark_ready(directory, {"config.json": {"size": 1}})
    done = catalog.resolve("qwen2-0.5b")
    assert (done.source, done.ready, done.path, done.revision) == ("cache", True, directory, "c" * 40)


def test_cached_gguf_repo_resolves_to_the_selected_file():
    directory = local.cache_dir_for("huggingface", "Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    directory.mkdir(parents=True)
    for name in ("qwen2.5-0.5b-instruct-q8_0.gguf", "qwen2.5-0.5b-instruct-q4_k_m.gguf"):
        (directory / name).write_bytes(b"GGUF")
    _mark_ready(directory, {})
    ref = catalog.resolve("qwen2.5-0.5b-instruct-gguf")
    assert ref.ready and ref.path.name == "qwen2.5-0.5b-instruct-q4_k_m.gguf"


# --- registered models ---------------------------------------------------------------------------


def test_register_resolve_and_forget(tmp_path):
    model = _hf_dir(tmp_path / "merged")
    ref = catalog.register_local("my-qwen", model, type="llm", template="chatml")
    assert (ref.name, ref.source, ref.path, ref.template) == ("my-qwen", "registered", model, "chatml")
    assert catalog.resolve("MY-QWEN").path == model
    with pytest.raises(LzError, match="already registered"):
        catalog.register_local("my-qwen", model, type="llm")
    with pytest.raises(LzError, match="catalogue model name"):
        catalog.register_local("qwen2-1.5b", model, type="llm")
    with pytest.raises(LzError, match="unknown model type"):
        catalog.register_local("other", model, type="chat")
    assert catalog.unregister_local("my-qwen")
    with pytest.raises(LzError, match="unknown model"):
        catalog.resolve("my-qwen")
    assert model.exists()


def test_models_add_info_rm_cli(tmp_path):
    model = _hf_dir(tmp_path / "ft-out")
    lz("models", "add", "ft-1", "--path", str(model), "--type", "llm", check=0)
    info = json.loads(lz("models", "info", "ft-1", "--json", check=0).stdout)
    assert (info["source"], info["ready"], info["path"]) == ("registered", True, str(model))
    listed = json.loads(lz("models", "ls", "--local", "--json", check=0).stdout)["models"]
    assert "ft-1" in {row["name"] for row in listed}
    bad = lz("models", "add", "ft-2", "--path", str(tmp_path / "missing"), "--type", "llm")
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    lz("models", "rm", "ft-1", check=0)
    assert model.is_dir()
    assert lz("models", "info", "ft-1").returncode == 2


def test_uncatalogued_model_in_model_path_resolves_and_is_listed(tmp_path, monkeypatch):
    mine = _hf_dir(tmp_path / "models" / "my-llama-8b")
    monkeypatch.setenv("LAZYCLI_MODEL_PATH", str(tmp_path / "models"))
    ref = catalog.resolve("my-llama-8b")
    assert (ref.source, ref.path, ref.type, ref.params_b) == ("model_path", mine, "llm", 8.0)
    rows = json.loads(
        lz(
            "models", "ls", "--local", "--json", env={"LAZYCLI_MODEL_PATH": str(tmp_path / "models")}, check=0
        ).stdout
    )["models"]
    assert {"name": "my-llama-8b", "source": "model_path", "path": str(mine)}.items() <= {
        k: v for r in rows if r["name"] == "my-llama-8b" for k, v in r.items()
    }.items()
