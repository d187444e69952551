#!/usr/bin/env bash
# Stop the single-node Slurm started by scripts/slurm-up.sh: cancel its jobs, then stop slurmd,
# slurmctld and munged by the pids they wrote (never by name). Keeps $LZ_SLURM_DIR unless --purge.
set -uo pipefail

DIR=${LZ_SLURM_DIR:-/tmp/lazycli-slurm}
MARK="# written by lazycli scripts/slurm-up.sh"

stop_pid() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

if [ -f "$DIR/slurm.conf" ] && [ -f "$DIR/slurmctld.pid" ]; then
  SLURM_CONF="$DIR/slurm.conf" scancel --user="$(id -un)" 2>/dev/null || true
  sleep 1
fi
stop_pid "$DIR/slurmd.pid"
stop_pid "$DIR/slurmctld.pid"
stop_pid "$DIR/munged.pid"
if [ -f /etc/slurm/slurm.conf ] && grep -qF "$MARK" /etc/slurm/slurm.conf; then
  rm -f /etc/slurm/slurm.conf
fi
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$DIR"
fi
echo "slurm-down: stopped" >&2
