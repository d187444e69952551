#!/usr/bin/env bash
# Start a single-node Slurm cluster on 127.0.0.1 for lz's integration tests (no systemd).
#
# Installs Debian's munge, slurmctld, slurmd and slurm-client when they are missing (one
# `apt-get update`, then install), writes a private munge key, socket and slurm.conf under
# $LZ_SLURM_DIR (default /tmp/lazycli-slurm), starts munged, slurmctld and slurmd by hand and
# waits until the node is idle. Stop it with scripts/slurm-down.sh (by pid).
#
# The config is also installed as /etc/slurm/slurm.conf (Debian's default, so plain `sbatch`
# and `lz deploy --launcher slurm` find it); an existing foreign config there is left alone and
# you must export SLURM_CONF=$LZ_SLURM_DIR/slurm.conf instead.
#
#   scripts/slurm-up.sh            # ~30 s from nothing once the packages are installed
#   sbatch --wrap 'hostname'; squeue
#   scripts/slurm-down.sh
set -euo pipefail

DIR=${LZ_SLURM_DIR:-/tmp/lazycli-slurm}
CTLD_PORT=${LZ_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${LZ_SLURM_SLURMD_PORT:-6818}
NODE=$(hostname -s)
MARK="# written by lazycli scripts/slurm-up.sh"

log() { echo "slurm-up: $*" >&2; }

install_packages() {
  local missing=()
  command -v munged >/dev/null || missing+=(munge)
  command -v slurmctld >/dev/null || missing+=(slurmctld)
  command -v slurmd >/dev/null || missing+=(slurmd)
  command -v sbatch >/dev/null || missing+=(slurm-client)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  # Wait for another apt/dpkg run instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  running "$DIR/munged.pid" && return
  if [ ! -s "$DIR/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none
  fi
  chmod 0400 "$DIR/munge.key"
  # --force: munged is strict about the owners and modes of dirs it did not create itself.
  munged --force --socket="$DIR/munge.socket" --key-file="$DIR/munge.key" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed"
}

write_config() {
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
  cat > "$DIR/slurm.conf" <<CONF
$MARK
ClusterName=lazycli
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
EnforcePartLimits=ALL
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  mkdir -p /etc/slurm
  if [ ! -e /etc/slurm/slurm.conf ] || grep -qF "$MARK" /etc/slurm/slurm.conf; then
    cp "$DIR/slurm.conf" /etc/slurm/slurm.conf
  else
    log "/etc/slurm/slurm.conf is not ours: export SLURM_CONF=$DIR/slurm.conf"
  fi
}

wait_idle() {
  local state
  for _ in $(seq 1 60); do
    state=$(SLURM_CONF="$DIR/slurm.conf" sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)
    case "$state" in
      idle*|mixed*|allocated*) log "node $NODE is $state"; return 0 ;;
      down*|drain*) SLURM_CONF="$DIR/slurm.conf" scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.5
  done
  log "node did not turn idle; see $DIR/slurmctld.log and $DIR/slurmd.log"
  return 1
}

main() {
  install_packages
  mkdir -p "$DIR/state" "$DIR/spool"
  chmod 0700 "$DIR"
  start_munge
  write_config
  export SLURM_CONF="$DIR/slurm.conf"
  running "$DIR/slurmctld.pid" || slurmctld -f "$DIR/slurm.conf"
  running "$DIR/slurmd.pid" || slurmd -f "$DIR/slurm.conf" -N "$NODE"
  wait_idle
  echo "export SLURM_CONF=$DIR/slurm.conf"
}

main "$@"
