"""Engine argv, options and the `auto` choice (fast; no engine is started)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lazycli import engines
from lazycli.errors import LzError
from lazycli.hookspecs import EngineRequest, EngineSpec

from .conftest import parse_with_standin

MODEL = Path("/models/qwen2-1.5b")


def request(**kw) -> EngineRequest:
    base = dict(model_path=MODEL, served_name="qwen2-1.5b", port=8123, host="127.0.0.1")
    return EngineRequest(**{**base, **kw})


def checked(name: str, **options) -> dict:
    return engines.check_options(engines.get_engine(name), {k: str(v) for k, v in options.items()})


# --- argv of the GPU engines, parsed by stand-ins that take exactly the documented flags -----------


@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_vllm_argv_tensor_parallel_max_len_dtype(gpus, standin_env):
    opts = checked("vllm", max_model_len=4096, dtype="bfloat16", trust_remote_code="true")
    argv = engines.get_engine("vllm").argv(request(gpus=gpus, options=opts, extra_args=("--enforce-eager",)))
    assert argv[:3] == ["vllm", "serve", str(MODEL)]
    parsed = parse_with_standin(argv, standin_env)
    assert parsed["parsed"]["tensor_parallel_size"] == gpus
    assert parsed["parsed"]["max_model_len"] == 4096
    assert parsed["parsed"]["dtype"] == "bfloat16"
    assert parsed["parsed"]["trust_remote_code"] is True
    assert parsed["parsed"]["enforce_eager"] is True  # the raw `-- …` argument reached the engine
    assert parsed["served_name"] == "qwen2-1.5b"
    assert (parsed["host"], parsed["port"]) == ("127.0.0.1", 8123)


def test_vllm_set_overrides_gpus_for_tensor_parallel(standin_env):
    opts = checked("vllm", tensor_parallel_size=4)
    parsed = parse_with_standin(engines.get_engine("vllm").argv(request(gpus=2, options=opts)), standin_env)
    assert parsed["parsed"]["tensor_parallel_size"] == 4


@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_lmdeploy_argv(gpus, standin_env):
    opts = checked(
        "lmdeploy", session_len=8192, backend="pytorch", dtype="float16", enable_prefix_caching="1"
    )
    argv = engines.get_engine("lmdeploy").argv(
        request(gpus=gpus, options=opts, extra_args=("--quant-policy", "8"))
    )
    assert argv[:4] == ["lmdeploy", "serve", "api_server", str(MODEL)]
    parsed = parse_with_standin(argv, standin_env)["parsed"]
    assert parsed["tp"] == gpus
    assert parsed["session_len"] == 8192
    assert parsed["backend"] == "pytorch"
    assert parsed["dtype"] == "float16"
    assert parsed["enable_prefix_caching"] is True
    assert parsed["quant_policy"] == 8
    assert parsed["model_name"] == "qwen2-1.5b"
    assert (parsed["server_name"], parsed["server_port"]) == ("127.0.0.1", 8123)


@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_lightllm_argv(gpus, standin_env):
    opts = checked("lightllm", max_total_token_num=120000, max_req_total_len=4096, data_type="bf16")
    argv = engines.get_engine("lightllm").argv(
        request(gpus=gpus, options=opts, extra_args=("--trust_remote_code",))
    )
    assert argv[:3] == [sys.executable, "-m", "lightllm.server.api_server"]
    parsed = parse_with_standin(argv, standin_env)["parsed"]
    assert parsed["tp"] == gpus
    assert parsed["model_dir"] == str(MODEL)
    assert parsed["max_total_token_num"] == 120000
    assert parsed["max_req_total_len"] == 4096
    assert parsed["data_type"] == "bf16"
    assert parsed["trust_remote_code"] is True
    assert parsed["model_name"] == "qwen2-1.5b"


def test_llamacpp_argv_uses_thread_and_ctx_settings(monkeypatch):
    monkeypatch.setenv("LAZYCLI_LLAMACPP_THREADS", "3")
    monkeypatch.setenv("LAZYCLI_LLAMACPP_CTX", "2048")
    from lazycli import settings

    settings.reset_cache()
    opts = checked("llamacpp", embedding="yes", n_batch=64)
    argv = engines.get_engine("llamacpp").argv(request(model_path=Path("/m/x.gguf"), options=opts))
    assert argv[:3] == [sys.executable, "-m", "lazycli_plugins.llamacpp_server"]
    pairs = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert pairs["--model"] == "/m/x.gguf"
    assert pairs["--model_alias"] == "qwen2-1.5b"
    assert pairs["--n_threads"] == "3"
    assert pairs["--n_ctx"] == "2048"
    assert pairs["--embedding"] == "true"  # llama.cpp's booleans take a value
    assert pairs["--n_batch"] == "64"
    # --set wins over the settings default
    argv = engines.get_engine("llamacpp").argv(request(options=checked("llamacpp", n_threads=1)))
    assert argv[argv.index("--n_threads") + 1] == "1"


def test_llamacpp_flags_are_the_real_servers(tmp_path):
    """Every option we map exists in the installed llama_cpp.server's own argument parser."""
    pytest.importorskip("llama_cpp.server.settings")
    import argparse

    from llama_cpp.server.cli import add_args_from_model
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    parser = argparse.ArgumentParser()
    add_args_from_model(parser, ModelSettings)
    add_args_from_model(parser, ServerSettings)
    real = {action.option_strings[0] for action in parser._actions if action.option_strings}
    spec = engines.get_engine("llamacpp")
    assert {o.flag for o in spec.options.values()} <= real
    argv = spec.argv(request(model_path=tmp_path / "m.gguf"))
    assert {a for a in argv if a.startswith("--")} <= real


# --- --set checking ---------------------------------------------------------------------------------


def test_parse_set_and_unknown_key_did_you_mean():
    assert engines.parse_set(["max-model-len=4096", "dtype=half"]) == {
        "max_model_len": "4096",
        "dtype": "half",
    }
    with pytest.raises(LzError, match="bad --set"):
        engines.parse_set(["novalue"])
    with pytest.raises(LzError) as err:
        engines.check_options(engines.get_engine("vllm"), {"max_modle_len": "1"})
    assert "max_model_len" in err.value.hint and "--force-set" in err.value.hint


def test_set_values_are_typed_and_bad_values_refused():
    spec = engines.get_engine("vllm")
    assert engines.check_options(spec, {"max_model_len": "4096", "enforce_eager": "false"}) == {
        "max_model_len": 4096,
        "enforce_eager": False,
    }
    with pytest.raises(LzError, match="max_model_len=lots"):
        engines.check_options(spec, {"max_model_len": "lots"})


def test_force_set_passes_unknown_keys_in_the_engines_flag_style(standin_env):
    opts = engines.check_options(
        engines.get_engine("vllm"), {"max_num_seqs": "8", "new_flag": "x"}, force=True
    )
    argv = engines.get_engine("vllm").argv(request(options=opts))
    assert argv[argv.index("--new-flag") + 1] == "x"
    opts = engines.check_options(engines.get_engine("lightllm"), {"new_flag": "x"}, force=True)
    argv = engines.get_engine("lightllm").argv(request(options=opts))
    assert argv[argv.index("--new_flag") + 1] == "x"


# --- auto ------------------------------------------------------------------------------------------------


def _spec(name, installed):
    return EngineSpec(name=name, argv=lambda r: [], formats=("hf",), is_installed=lambda: installed)


def test_auto_choice_by_type_format_gpus_and_installed_engines():
    llama = EngineSpec(name="llamacpp", argv=lambda r: [], formats=("gguf",))
    specs = {"llamacpp": llama, "vllm": _spec("vllm", False), "lmdeploy": _spec("lmdeploy", True)}
    specs["lightllm"] = _spec("lightllm", True)
    assert engines.choose_engine("llm", "gguf", 8, specs).engine == "llamacpp"
    assert engines.choose_engine("embed", "hf", 0, specs).engine == "embed"
    assert engines.choose_engine("rerank", "hf", 2, specs).engine == "embed"
    choice = engines.choose_engine("llm", "hf", 2, specs)
    assert choice.engine == "lmdeploy" and "vllm not installed" in choice.reason
    with pytest.raises(LzError, match="no GPU"):  # llama.cpp needs gguf, and no CPU vLLM is installed
        engines.choose_engine("llm", "hf", 0, specs)
    specs["vllm"] = _spec("vllm", True)
    assert engines.choose_engine("llm", "hf", 1, specs).engine == "vllm"
    cpu = engines.choose_engine("llm", "hf", 0, specs)
    assert cpu.engine == "vllm" and "needs gguf" in cpu.reason
    none = {"llamacpp": llama, **{n: _spec(n, False) for n in ("vllm", "lmdeploy", "lightllm")}}
    with pytest.raises(LzError, match="no GPU engine is installed"):
        engines.choose_engine("llm", "hf", 4, none)


def test_gpu_count_honours_cuda_visible_devices(monkeypatch):
    gpus_dir = Path("/proc/driver/nvidia/gpus")
    present = len(list(gpus_dir.iterdir())) if gpus_dir.exists() else 0
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert engines.gpu_count() == present
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert engines.gpu_count() == 0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert engines.gpu_count() == 0


def test_engine_plugins_registered_with_protocols():
    specs = engines.engine_specs()
    assert {"llamacpp", "vllm", "vllm-generate", "lightllm", "lmdeploy", "embed"} <= set(specs)
    assert specs["lightllm"].protocol == "lightllm"
    assert specs["vllm-generate"].protocol == "vllm-generate"
    assert specs["vllm"].health_path == specs["lmdeploy"].health_path == "/health"
    assert specs["llamacpp"].formats == ("gguf",)
    assert specs["embed"].model_types == ("embed", "rerank")
