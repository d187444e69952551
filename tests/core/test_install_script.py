"""scripts/install.sh: the llama.cpp wheel cache is keyed by build configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install.sh"


def wheel_dir(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("CMAKE_ARGS", "LAZYCLI_LLAMA_BUILD")}
    return subprocess.run(
        ["bash", str(SCRIPT), "--wheel-dir"],
        capture_output=True,
        text=True,
        env={**clean, "LAZYCLI_WHEEL_CACHE": str(tmp_path), **env},
    )


def test_each_build_configuration_has_its_own_cache_folder(tmp_path):
    dirs = {build: wheel_dir(tmp_path, LAZYCLI_LLAMA_BUILD=build).stdout.strip() for build in
            ("portable", "x86-64-v3", "native")}  # fmt: skip
    assert len(set(dirs.values())) == 3
    assert all(
        Path(d).parent == tmp_path and Path(d).name.startswith("llama-cpp-python-") for d in dirs.values()
    )
    assert wheel_dir(tmp_path).stdout.strip() == dirs["x86-64-v3"]  # the default


def test_own_cmake_args_key_the_cache_and_their_order_does_not(tmp_path):
    mine = wheel_dir(tmp_path, CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON").stdout.strip()
    swapped = wheel_dir(tmp_path, CMAKE_ARGS="-DGGML_AVX2=ON -DGGML_NATIVE=OFF").stdout.strip()
    other = wheel_dir(tmp_path, CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=OFF").stdout.strip()
    assert mine == swapped and mine != other
    assert (
        wheel_dir(tmp_path, LAZYCLI_LLAMA_CPP_PYTHON="0.3.99").stdout.strip()
        != wheel_dir(tmp_path).stdout.strip()
    )


def test_an_unknown_build_is_refused_with_a_hint(tmp_path):
    proc = wheel_dir(tmp_path, LAZYCLI_LLAMA_BUILD="fast")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "install.sh: LAZYCLI_LLAMA_BUILD=fast is not a build (hint: portable, x86-64-v3 or native)"
    )
