#!/usr/bin/env bash
# Install lz with every extra the tests and the embedded default need, into the current Python.
# - torch: the CPU build first (an unpinned torch pulls several GB of CUDA packages). Users who
#   already have a torch keep it: set LAZYCLI_KEEP_TORCH=1.
# - llama-cpp-python has no binary wheel on PyPI: pip compiles llama.cpp. Building only what lz
#   uses (no llava/mtmd, no tools/examples/tests, native CPU flags) takes ~5 min on 2 cores instead
#   of ~35; pip keeps the wheel in its cache, so later installs are instant.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [ -z "${LAZYCLI_KEEP_TORCH:-}" ] && ! $PY -c "import torch" 2>/dev/null; then
  $PY -m pip install -q torch==2.13.0
fi
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
$PY -m pip install -q -e ".[all]"
