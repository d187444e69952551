"""`lz doctor`: the real checks pass on this machine; what a user can break fails with a hint, exit 2."""

from __future__ import annotations

import json
import os
import platform
import socket
import textwrap
from pathlib import Path

import pytest
from tests.conftest import lz

from lazycli.doctor import cpu_flags, parse_system_info, variant_of

REQUIRED = ("config", "state", "disk", "plugins", "model", "cpu", "engine", "generate", "embedder")
OPTIONAL = ("slurm", "ray", "engines", "chromium")
CHECK_KEYS = {"name", "status", "detail", "required", "hint", "seconds", "data"}


def doctor_json(*args: str, env: dict | None = None, check: int | None = None) -> tuple[int, dict]:
    proc = lz("doctor", "--json", *args, env=env, check=check)
    return proc.returncode, json.loads(proc.stdout)  # stdout is plain JSON and nothing else


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


@pytest.mark.slow
@pytest.mark.integration
def test_every_required_check_passes_here_with_a_real_token_and_embedding():
    pytest.importorskip("llama_cpp")
    proc = lz("doctor", "--json", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""  # --json is quiet: no progress
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == [*REQUIRED, *OPTIONAL]
    for check in report["checks"]:
        assert set(check) == CHECK_KEYS
        assert check["required"] == (check["name"] in REQUIRED)
        assert check["status"] in ("ok", "warn", "fail", "missing", "skip")
    checks = by_name(report)
    assert all(checks[name]["status"] in ("ok", "warn") for name in REQUIRED)
    # llama.cpp really ran the bundled model and said which CPU features its build uses.
    assert checks["generate"]["data"]["text"]
    assert "SmolLM2" in checks["model"]["detail"]
    engine = checks["engine"]["data"]
    assert "CPU" in engine["backends"] and engine["cpu_features"]
    if "avx2" in cpu_flags():
        assert "AVX2" in engine["cpu_features"]
    assert checks["embedder"]["data"]["dim"] == 384
    assert set(checks["cpu"]["data"]["flags"]) <= cpu_flags()


def test_terminal_output_names_each_check_and_the_summary():
    proc = lz("doctor", "--only", "state,disk", check=0)
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["ok", "state"]
    assert lines[1].split()[:2] == ["ok", "disk"]
    assert "all required checks passed" in lines[-1]


def test_broken_state_dir_fails_with_a_hint_and_exit_2(lz_home: Path):
    (lz_home / "data").write_text("a file where the data folder should be")
    code, report = doctor_json("--only", "state")
    assert code == 2 and report["ok"] is False
    state = by_name(report)["state"]
    assert state["status"] == "fail"
    assert str(lz_home / "data") in state["detail"]
    assert "LAZYCLI_HOME" in state["hint"]


def test_corrupt_state_database_fails_with_how_to_move_it_aside(lz_home: Path):
    (lz_home / "data").mkdir()
    (lz_home / "data" / "state.db").write_bytes(b"this is not a SQLite file" * 100)
    code, report = doctor_json("--only", "state")
    state = by_name(report)["state"]
    assert code == 2 and state["status"] == "fail"
    assert "state.db.broken" in state["hint"]
    assert (lz_home / "data" / "state.db").read_bytes().startswith(b"this is not")  # nothing lost


def _unwritable_home(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        home = tmp_path / "locked"
        home.mkdir(mode=0o500)
        return home / "lz"
    # root writes through permissions: use a read-only file system instead.
    home = Path("/sys/lazycli-doctor-test")
    try:
        home.mkdir()
    except OSError:
        return home
    home.rmdir()
    pytest.skip("no read-only folder to point LAZYCLI_HOME at")


def test_unwritable_home_fails_state_with_a_hint(tmp_path):
    home = _unwritable_home(tmp_path)
    proc = lz("doctor", "--only", "state", env={"LAZYCLI_HOME": str(home)}, check=2)
    assert "FAIL" in proc.stdout and "state" in proc.stdout
    assert f"LAZYCLI_HOME={home} must be a writable folder" in proc.stdout
    assert "1 required check(s) failed: state" in proc.stdout


def test_missing_model_path_fails_and_the_token_check_is_skipped(tmp_path):
    missing = tmp_path / "nowhere" / "model.Q4_K_M.gguf"
    code, report = doctor_json("--only", "generate", "--model", str(missing))
    checks = by_name(report)
    assert code == 2
    assert checks["model"]["status"] == "fail"
    assert str(missing) in checks["model"]["detail"] and checks["model"]["hint"]
    assert checks["generate"]["status"] == "skip"
    assert list(checks) == ["config", "model", "cpu", "engine", "generate"]  # --only pulls in needs


def test_model_path_setting_naming_a_missing_folder_fails_config(tmp_path):
    env = {"LAZYCLI_MODEL_PATH": str(tmp_path / "models-gone")}
    code, report = doctor_json("--only", "config", env=env)
    config = by_name(report)["config"]
    assert code == 2 and config["status"] == "fail"
    assert "models-gone" in config["detail"] and "LAZYCLI_MODEL_PATH" in config["hint"]


def test_bad_config_file_fails_config(lz_home: Path):
    (lz_home / "config").mkdir()
    (lz_home / "config" / "config.toml").write_text("deploy_timeout = = 3\n")
    code, report = doctor_json("--only", "config")
    assert code == 2 and by_name(report)["config"]["status"] == "fail"
    assert "not valid TOML" in by_name(report)["config"]["detail"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_optional_parts_never_fail(tmp_path):
    env = {
        "PATH": str(tmp_path),  # no sinfo, no chromium
        "LAZYCLI_RAY_ADDRESS": f"http://127.0.0.1:{_closed_port()}",
    }
    code, report = doctor_json("--only", "slurm,ray,chromium", env=env, check=0)
    checks = by_name(report)
    assert report["ok"] is True
    for name in ("slurm", "ray", "chromium"):
        assert checks[name]["status"] == "missing" and checks[name]["required"] is False
        assert checks[name]["hint"]
    assert "sinfo" in checks["slurm"]["detail"]


def test_unknown_check_name_is_a_user_error():
    proc = lz("doctor", "--only", "stat", check=2)
    assert "unknown check 'stat'" in proc.stderr and "did you mean 'state'" in proc.stderr


# A stand-in llama_cpp whose build claims CPU features and crashes the way a wrong build does.
FAKE_LLAMA = """
import os, signal
__version__ = "0.0-fake"
def llama_print_system_info():
    return b"CPU : SSE3 = 1 | AVX = 1 | AVX2 = {avx2} | AVX512 = {avx512} | LLAMAFILE = 1 | "
class Llama:
    def __init__(self, **kwargs):
        pass
    def create_chat_completion(self, **kwargs):
        os.kill(os.getpid(), signal.SIGSEGV)
"""


def _fake_llama(tmp_path: Path, avx2: int = 1, avx512: int = 0) -> dict:
    package = tmp_path / "fake" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(FAKE_LLAMA.format(avx2=avx2, avx512=avx512)))
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), os.environ.get("PYTHONPATH", "")])}


def test_engine_killed_by_a_signal_is_a_failed_check_with_the_rebuild_hint(tmp_path):
    env = _fake_llama(tmp_path)
    code, report = doctor_json("--only", "generate", env=env)
    generate = by_name(report)["generate"]
    assert code == 2
    assert generate["status"] == "fail"
    assert "killed by SIGSEGV while generating" in generate["detail"]
    assert "-DGGML_NATIVE=OFF" in generate["hint"]


@pytest.mark.skipif(
    platform.machine() != "x86_64" or "avx512f" in cpu_flags(), reason="needs a CPU without AVX-512"
)
def test_a_build_using_features_this_cpu_lacks_fails_the_engine_check(tmp_path):
    env = _fake_llama(tmp_path, avx512=1)
    code, report = doctor_json("--only", "engine", env=env)
    engine = by_name(report)["engine"]
    assert code == 2 and engine["status"] == "fail"
    assert "AVX512" in engine["detail"] and "SIGILL" in engine["detail"]


def test_system_info_parsing_and_variant_names():
    info = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0 | REPACK = 1 | CUDA : ARCHS = 890 | USE_GRAPHS = 1 |"
    parsed = parse_system_info(info)
    assert parsed["CPU"] == {"SSE3": True, "AVX2": True, "AVX512": False, "REPACK": True}
    assert parsed["CUDA"]["USE_GRAPHS"] is True
    libs = ["/x/lib/libggml-base.so", "/x/lib/libggml-cpu-sapphirerapids.so", "/x/lib/libllama.so"]
    assert variant_of(libs) == "sapphirerapids"
    assert variant_of(["/x/lib/libggml.so"]) is None
