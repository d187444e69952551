"""Which llama.cpp CPU variant the llamacpp engine loads (scripts/install.sh builds all of them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from lazycli_plugins.llamacpp_server import VARIANT_ENV, VariantError, choose, library_dir, variant_files

# ggml's scores on an AVX-512 + AMX Xeon: every variant runs, the AMX one scores highest.
XEON = {"x64": 1, "sse42": 5, "haswell": 63, "skylakex": 191, "icelake": 1471, "sapphirerapids": 3775}
# An AVX2-only EPYC: the AVX-512 variants score 0 (this CPU lacks their instructions).
EPYC = {"x64": 1, "sse42": 5, "haswell": 63, "skylakex": 0, "icelake": 0, "sapphirerapids": 0}


def test_default_is_the_fastest_variant_without_amx():
    assert choose(XEON, None) == "icelake"  # AVX-512, but not ggml's AMX kernels (llama.cpp#20824)
    assert choose(XEON, "auto") == "icelake"
    assert choose(EPYC, None) == "haswell"


def test_best_opts_in_to_amx_and_a_name_forces_a_variant():
    assert choose(XEON, "best") == "sapphirerapids"
    assert choose(XEON, "haswell") == "haswell"
    assert choose(EPYC, "best") == "haswell"


def test_a_variant_this_cpu_cannot_run_or_that_does_not_exist_is_one_clear_line():
    with pytest.raises(VariantError, match=r"LAZYCLI_LLAMACPP_CPU=icelake: this CPU lacks .*haswell"):
        choose(EPYC, "icelake")
    with pytest.raises(VariantError, match=r"no such llama.cpp CPU variant \(hint: one of auto, best, has"):
        choose(EPYC, "zen9")


def _dl_build() -> dict:
    lib = library_dir()
    files = variant_files(lib) if lib is not None and lib.is_dir() else {}
    if not files:
        pytest.skip("this llama-cpp-python links one CPU backend in (not built by scripts/install.sh)")
    return files


def _load(env_value: str | None) -> subprocess.CompletedProcess:
    code = (
        "import json; from lazycli_plugins.llamacpp_server import load_cpu_backend as load; "
        "b = load(); print(json.dumps({'variant': b.variant, 'scores': b.scores}))"
    )
    env = {k: v for k, v in os.environ.items() if k != VARIANT_ENV}
    if env_value is not None:
        env[VARIANT_ENV] = env_value
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_the_installed_build_loads_a_variant_this_cpu_runs():
    files = _dl_build()
    proc = _load(None)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    variant, scores = loaded["variant"], loaded["scores"]
    assert variant in files and variant != "sapphirerapids" and scores[variant] > 0
    assert scores[variant] == max(score for name, score in scores.items() if name != "sapphirerapids")


def test_the_engine_refuses_a_variant_this_cpu_lacks_in_one_line():
    _dl_build()
    proc = subprocess.run(
        [sys.executable, "-m", "lazycli_plugins.llamacpp_server", "--model", "/nonexistent.gguf"],
        capture_output=True,
        text=True,
        env={**os.environ, VARIANT_ENV: "no-such-variant"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "LAZYCLI_LLAMACPP_CPU=no-such-variant: no such llama.cpp CPU variant" in proc.stderr


# Instructions past x86-64-v3: AVX-512 (zmm registers, opmask registers k1-k7), AMX (tmm tiles and
# their config), AVX-VNNI and BF16 dot products. One of them in the default build would make it die
# with SIGILL on a Haswell/Zen machine; AMX kernels have segfaulted inside Xeon VMs.
BEYOND_V3 = re.compile(
    r"%zmm\d|%k[1-7]\b|%tmm\d|\bldtilecfg\b|\btilerelease\b|\bvpdpbusds?\b|\bvpdpwssds?\b|\bvcvtne2?ps2bf16\b|\bvdpbf16ps\b"
)


def _disassembly(path) -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed (Debian: binutils)")
    return subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True
    ).stdout


def test_the_default_build_uses_avx2_and_nothing_past_x86_64_v3():
    """The machine-code proof that the installed engine runs on every AVX2 CPU, AVX-512/AMX Xeons too:
    no instruction of its libraries needs more than x86-64-v3, and its kernels do use AVX2."""
    lib = library_dir()
    if lib is None or variant_files(lib):
        pytest.skip("not the default single-build llama-cpp-python (scripts/install.sh x86-64-v3)")
    libraries = sorted(lib.glob("lib*.so"))  # the wheel holds copies, not links, of the .so.N files
    assert any(p.name.startswith("libggml-cpu") for p in libraries), libraries
    for path in libraries:
        code = _disassembly(path)
        beyond = sorted({m.group(0) for m in BEYOND_V3.finditer(code)})
        assert not beyond, f"{path.name} has instructions past x86-64-v3: {beyond}"
        if path.name.startswith("libggml-cpu"):
            assert code.count("%ymm") > 1000, f"{path.name}: its kernels are not AVX2"
