#!/usr/bin/env bash
# A single-node Slurm on this machine, from Debian's packages, for testing the sweep's sbatch
# array for real (tests/test_scale_out.py; CI runs it as root on a fresh machine).
#
#   scripts/slurm_local.sh start    # install slurm-wlm + munge if missing, start munged,
#                                   # slurmctld and slurmd; wait until the node is idle
#   scripts/slurm_local.sh stop     # stop the daemons this script started (by their pid files)
#   scripts/slurm_local.sh status   # sinfo of the local cluster
#
# Nothing of a real cluster is touched: the config is written to $SEATS_SLURM_DIR/slurm.conf
# (default /tmp/seats-slurm), never /etc/slurm; clients find it through SLURM_CONF (start
# prints the export line); the daemons use ports 16817/16818, not Slurm's 6817/6818.
# Config: this node as `slurmd -C` describes it, one partition `local`, select/cons_tres with
# CR_CPU (array tasks share the node by CPUs), ProctrackType linuxproc, TaskPlugin none (no
# cgroups: works in containers), no accounting (completed jobs stay in scontrol for an hour).
# Needs root (apt, munge's key, daemons); munged runs as the munge user.
set -euo pipefail
DIR="${SEATS_SLURM_DIR:-/tmp/seats-slurm}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

die() { echo "slurm_local.sh: $*" >&2; exit 1; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
      && command -v munged >/dev/null; then
    return
  fi
  [ "$(id -u)" = 0 ] || die "slurm-wlm/munge are not installed and this is not root"
  command -v apt-get >/dev/null || die "slurm-wlm/munge are not installed and there is no apt-get"
  echo "slurm_local.sh: installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_ok; then
    return
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  echo "/run/munge/munged.pid" > "$DIR/munged.started"
  for _ in $(seq 50); do munge_ok && return; sleep 0.2; done
  die "munged did not come up"
}

write_conf() {
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | head -n 1)
  case "$node" in NodeName=*) ;; *) die "slurmd -C printed no NodeName line: $node" ;; esac
  mkdir -p "$DIR/ctld" "$DIR/d"
  cat > "$CONF" <<EOF
# written by seats-eval scripts/slurm_local.sh: a single-node test cluster
ClusterName=seats-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/d
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  install_packages
  mkdir -p "$DIR"
  start_munge
  if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
    echo "slurm_local.sh: already running ($CONF)"
  else
    write_conf
    alive "$DIR/slurmctld.pid" || slurmctld -f "$CONF"
    for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
    alive "$DIR/slurmd.pid" || slurmd -f "$CONF"
  fi
  local state=""
  for _ in $(seq 150); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)
    case "$state" in idle|mixed|allocated) break ;; esac
    sleep 0.2
  done
  case "$state" in
    idle|mixed|allocated) ;;
    *) tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true; die "the node is not up (state '$state')" ;;
  esac
  echo "slurm_local.sh: cluster seats-local up: $(sinfo -h -o '%N %c CPUs %m MB %T')"
  echo "export SLURM_CONF=$CONF"
}

stop() {
  local f
  for f in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
    if alive "$f"; then kill "$(cat "$f")"; fi
  done
  if [ -f "$DIR/munged.started" ]; then
    f=$(cat "$DIR/munged.started")
    if alive "$f"; then kill "$(cat "$f")"; fi
    rm -f "$DIR/munged.started"
  fi
  echo "slurm_local.sh: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
