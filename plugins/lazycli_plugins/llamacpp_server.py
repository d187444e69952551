"""Start llama-cpp-python's OpenAI-compatible server on the best llama.cpp CPU build for this machine.

`LAZYCLI_LLAMA_BUILD=portable bash scripts/install.sh` builds llama.cpp once with every x86-64 CPU
variant as a loadable backend (`GGML_BACKEND_DL` + `GGML_CPU_ALL_VARIANTS`): `libggml-cpu-<variant>.so`
files beside `libllama.so`.
llama-cpp-python never loads them itself (ggml looks only beside the python executable and in the
working directory), so this module scores each variant on this CPU, registers one, then runs
`llama_cpp.server` with the same arguments:

    python -m lazycli_plugins.llamacpp_server --model m.gguf --port 8000 ...

The AMX variant (`sapphirerapids`) is never picked on its own: ggml's AMX matrix kernels segfault on
some AVX-512/AMX machines and VMs (llama.cpp#20824), so the default is the best variant without
AMX (AVX-512 where the CPU has it). `LAZYCLI_LLAMACPP_CPU` overrides the choice: `best` allows AMX,
a variant name (`haswell`, `x64`, ...) forces that one. A llama.cpp built any other way (one CPU
backend linked in: install.sh's default x86-64-v3 build, `native`) has no variant files and runs
unchanged.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

VARIANT_ENV = "LAZYCLI_LLAMACPP_CPU"
# Variants whose kernels use AMX tiles; opt-in only (see the module docstring).
AMX_VARIANTS = frozenset({"sapphirerapids"})
_PREFIX, _SUFFIX = "libggml-cpu-", ".so"


class VariantError(RuntimeError):
    """The CPU variant asked for cannot be loaded here (one line, for the engine log)."""


@dataclass(frozen=True)
class CpuBackend:
    """The llama.cpp CPU backend this process runs on."""

    variant: str  # "haswell", "skylakex", ...; "builtin" when the build links one CPU backend in
    path: Path | None
    scores: dict[str, int]  # every variant found → ggml's score on this CPU (0: cannot run here)


def library_dir() -> Path | None:
    """llama-cpp-python's `lib/` folder, found without importing llama_cpp (that loads libllama)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "lib"


def variant_files(lib: Path) -> dict[str, Path]:
    return {p.name[len(_PREFIX) : -len(_SUFFIX)]: p for p in sorted(lib.glob(f"{_PREFIX}*{_SUFFIX}"))}


def _score(path: Path) -> int:
    # Each variant exports ggml_backend_score(): 0 when this CPU lacks an instruction set it was
    # built for, higher for more features (ggml's own loader picks the same way, by CPUID).
    lib = ctypes.CDLL(str(path))
    try:
        fn = lib.ggml_backend_score
        fn.restype = ctypes.c_int
        return int(fn())
    finally:
        import _ctypes

        _ctypes.dlclose(lib._handle)


def choose(scores: dict[str, int], wanted: str | None) -> str:
    """The variant to load: `wanted` by name, the best of all (`best`), or the best without AMX."""
    runnable = {name: score for name, score in scores.items() if score > 0}
    if wanted and wanted not in ("auto", "best"):
        if wanted not in scores:
            raise VariantError(
                f"{VARIANT_ENV}={wanted}: no such llama.cpp CPU variant "
                f"(hint: one of auto, best, {', '.join(sorted(scores))})"
            )
        if wanted not in runnable:
            raise VariantError(
                f"{VARIANT_ENV}={wanted}: this CPU lacks instructions that variant needs "
                f"(hint: one of {', '.join(sorted(runnable)) or 'none'}, or unset it)"
            )
        return wanted
    pool = runnable if wanted == "best" else {n: s for n, s in runnable.items() if n not in AMX_VARIANTS}
    if not pool:
        raise VariantError(f"no llama.cpp CPU variant runs on this CPU (found: {', '.join(scores)})")
    return max(pool, key=lambda name: pool[name])


def load_cpu_backend(wanted: str | None = None) -> CpuBackend:
    """Register the chosen CPU variant with ggml in this process (before any model is loaded)."""
    lib = library_dir()
    files = variant_files(lib) if lib is not None and lib.is_dir() else {}
    if not files:
        return CpuBackend("builtin", None, {})
    # libggml.so first: the variants link against libggml-base.so.0, which it brings in.
    ggml = ctypes.CDLL(str(lib / "libggml.so"), mode=ctypes.RTLD_GLOBAL)
    scores = {name: _score(path) for name, path in files.items()}
    name = choose(scores, wanted if wanted is not None else os.environ.get(VARIANT_ENV))
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(files[name]).encode()):
        raise VariantError(f"llama.cpp could not load its CPU backend {files[name]}")
    return CpuBackend(name, files[name], scores)


def main() -> None:
    try:
        backend = load_cpu_backend()
    except VariantError as exc:
        print(f"lz: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if backend.path is not None:
        # The deployment log says which variant ran: what `lz deploy logs` and a crash report show.
        print(f"lz: llama.cpp CPU backend: {backend.variant} ({backend.path.name})", file=sys.stderr)
        sys.stderr.flush()
    import runpy

    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
