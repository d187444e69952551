#!/usr/bin/env bash
# Install lz with every extra the tests and the embedded default need, into the current Python.
#
# llama.cpp: llama-cpp-python has no binary wheel on PyPI, so it is compiled once per build
# configuration into lz's wheel cache, in a folder named by a hash of the version, the CMake flags,
# the compiler and the machine, then installed from there. A wheel built with other flags is never
# reused (pip's own cache keys by source archive, not by CMAKE_ARGS, so it is bypassed).
#   LAZYCLI_LLAMA_BUILD=x86-64-v3  (default) one AVX2/FMA build: runs on Intel Haswell (2013), AMD Zen
#                                  and later, AVX-512/AMX Xeons included (it uses neither)
#   LAZYCLI_LLAMA_BUILD=portable   every x86-64 CPU variant as a loadable backend (~3x the compile);
#                                  the engine loads the best one for the CPU it runs on
#                                  (lazycli_plugins/llamacpp_server.py, override: LAZYCLI_LLAMACPP_CPU)
#   LAZYCLI_LLAMA_BUILD=native     -march=native: this CPU only, never copy the wheel to another machine
#   CMAKE_ARGS=...                 your own flags (they replace the above and key the cache too)
#   LAZYCLI_WHEEL_CACHE=DIR        where built wheels are kept (default: lz's cache dir/wheels)
#   install.sh --wheel-dir         prints the cache folder of this configuration and exits
# torch: the CPU build first (an unpinned torch pulls several GB of CUDA packages). Users who already
# have a torch keep it: set LAZYCLI_KEEP_TORCH=1.
# On a terminal pip shows its progress bars and the compile a counter; in a log, one line per stage.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
LLAMA_VERSION=${LAZYCLI_LLAMA_CPP_PYTHON:-0.3.36}
BUILD=${LAZYCLI_LLAMA_BUILD:-x86-64-v3}
if [ -n "${LAZYCLI_HOME:-}" ]; then default_cache="$LAZYCLI_HOME/cache"; else default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/lazycli"; fi
CACHE=${LAZYCLI_WHEEL_CACHE:-$default_cache/wheels}
START=$SECONDS
if [ -t 1 ]; then TTY=1; PIP_QUIET=(); else TTY=0; PIP_QUIET=(-q); fi

stage() { printf '==> [%dm%02ds] %s\n' $(((SECONDS - START) / 60)) $(((SECONDS - START) % 60)) "$*"; }

# Only what lz uses: no llava/mtmd, tools, examples, tests or llama.cpp's own server (~35 min → ~5).
COMMON="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
case "$BUILD" in
  portable) FLAGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_BACKEND_DIR:STRING=llama_cpp/lib" ;;
  x86-64-v3) FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" ;;
  native) FLAGS="-DGGML_NATIVE=ON" ;;
  *) echo "install.sh: LAZYCLI_LLAMA_BUILD=$BUILD is not a build (hint: portable, x86-64-v3 or native)" >&2; exit 2 ;;
esac
export CMAKE_ARGS="${CMAKE_ARGS:-$COMMON $FLAGS}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"

# Everything the wheel depends on names its cache folder; a native build also names this CPU.
build_identity() {
  echo "llama-cpp-python==$LLAMA_VERSION"
  echo "CMAKE_ARGS=$(printf '%s\n' $CMAKE_ARGS | sort | tr '\n' ' ')"  # the order of flags does not matter
  uname -m
  "${CC:-cc}" -dumpfullversion 2>/dev/null || true
  ldd --version 2>/dev/null | head -1 || true
  case "$CMAKE_ARGS" in *GGML_NATIVE=ON*) grep -m1 -E '^flags' /proc/cpuinfo || true ;; esac
}
KEY=$(build_identity | sha256sum | cut -c1-16)
WHEEL_DIR="$CACHE/llama-cpp-python-$LLAMA_VERSION-$KEY"
if [ "${1:-}" = "--wheel-dir" ]; then echo "$WHEEL_DIR"; exit 0; fi  # the folder this config uses

# Shows ninja's [n/N] counter: one updating line on a terminal, every 10% in a log.
compile_progress() {
  awk -v tty="$TTY" '
    match($0, /^ *\[[0-9]+\/[0-9]+\]/) {
      split(substr($0, RSTART, RLENGTH), p, /[^0-9]+/); n = p[2]; total = p[3]
      if (tty == 1) { printf "\r    compiling llama.cpp: %d/%d", n, total; fflush() }
      else if (n * 10 >= (shown + 1) * total) { shown = int(n * 10 / total); printf "    compiling llama.cpp: %d/%d\n", n, total; fflush() }
    }
    END { if (tty == 1) printf "\n" }'
}

build_llama_wheel() {
  local tmp log
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.build-XXXXXX")
  log="$tmp/build.log"
  stage "compiling llama.cpp ($BUILD; llama-cpp-python $LLAMA_VERSION, $CMAKE_BUILD_PARALLEL_LEVEL jobs; the log: $log)"
  if ! "$PY" -m pip wheel --no-deps --no-cache-dir --no-binary llama-cpp-python -v -w "$tmp" \
    "llama-cpp-python==$LLAMA_VERSION" 2>&1 | tee "$log" | compile_progress; then
    tail -n 30 "$log" >&2
    echo "install.sh: compiling llama.cpp failed (the whole log: $log)" >&2
    exit 1
  fi
  # The variants must be inside the wheel, beside libllama.so (GGML_BACKEND_DIR is typed STRING:
  # as a PATH, CMake would make it absolute and install them into the throwaway source tree).
  case "$CMAKE_ARGS" in *GGML_BACKEND_DL=ON*)
    if ! "$PY" -m zipfile -l "$tmp"/llama_cpp_python-*.whl | grep -q 'llama_cpp/lib/libggml-cpu-'; then
      echo "install.sh: the llama.cpp wheel has no CPU variant libraries (log: $log)" >&2
      exit 1
    fi ;;
  esac
  build_identity > "$tmp/build-identity.txt"
  rm -f "$log"
  # Atomic: an interrupted build never leaves a folder that looks complete.
  rm -rf "$WHEEL_DIR" && mv "$tmp" "$WHEEL_DIR"
}

if [ -z "${LAZYCLI_KEEP_TORCH:-}" ] && ! "$PY" -c "import torch" 2>/dev/null; then
  stage "installing torch 2.13.0 (CPU build)"
  "$PY" -m pip install "${PIP_QUIET[@]}" torch==2.13.0
fi

if compgen -G "$WHEEL_DIR/llama_cpp_python-*.whl" >/dev/null; then
  stage "llama.cpp: reusing the wheel built with these flags ($WHEEL_DIR)"
else
  build_llama_wheel
fi
stage "installing llama.cpp from $WHEEL_DIR"
# --force-reinstall: a llama-cpp-python built with other flags may already be installed.
"$PY" -m pip install "${PIP_QUIET[@]}" --force-reinstall --no-deps "$WHEEL_DIR"/llama_cpp_python-*.whl

stage "installing lz and its extras"
pin=$(mktemp)
trap 'rm -f "$pin"' EXIT
echo "llama-cpp-python==$LLAMA_VERSION" > "$pin"  # never a second compile through the extras
"$PY" -m pip install "${PIP_QUIET[@]}" -c "$pin" -e ".[all]"

variant=$("$PY" -c 'from lazycli_plugins.llamacpp_server import load_cpu_backend as b; print(b().variant)')
stage "done: llama.cpp runs its '$variant' CPU backend here (try: lz chat \"hello\")"
