#!/usr/bin/env bash
# CI step for `lz finetune`: build the managed environments once (kept in $LAZYCLI_CI_ENVS, default
# ~/.cache/lazycli-ci/envs, so a cached CI directory makes later runs skip the installs), then run
# the fine-tune tests: data doctor and plans (seconds), envs (~1 min), and the real trainings
# (peft e2e + kill/resume, recipe step, embedding; Slurm when scripts/slurm-up.sh ran).
#
#   scripts/ci-finetune.sh              # all of it
#   FINETUNE_ENVS="peft" scripts/ci-finetune.sh
#
# Cost measured on the 2-core box (busy, load 6-18): peft env 4-10 min the first time, 0 when
# cached; flagembedding ~15 min, llamafactory ~18 min wall (2-3 min CPU each: mostly waiting on a
# busy box). Tests: fast ones ~1.5 min; peft e2e + kill/resume ~15 min; LLaMA-Factory ~8 min;
# embedding ~2.5 min; recipe step ~1.5 min; Slurm ~3 min.
set -euo pipefail
cd "$(dirname "$0")/.."
export LAZYCLI_CI_ENVS=${LAZYCLI_CI_ENVS:-$HOME/.cache/lazycli-ci/envs}
export OMP_NUM_THREADS=1
for env in ${FINETUNE_ENVS:-peft flagembedding llamafactory}; do
  LAZYCLI_ENVS="$LAZYCLI_CI_ENVS" python -m lazycli engines install "$env"
done
python -m pytest tests/finetune -q -p no:cacheprovider -m "extended or not extended" "$@"
