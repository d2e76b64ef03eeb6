#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for `make test-cluster` and for trying --executor slurm:
#   scripts/slurm-local.sh install   Debian's slurm-wlm + munge (root; apt)
#   scripts/slurm-local.sh start     munged, slurmctld, slurmd on 127.0.0.1 with this machine's CPUs; prints
#                                    the `export SLURM_CONF=...` that sbatch/squeue/scancel need
#   scripts/slurm-local.sh stop      stops the three daemons (by their pid files) and keeps nothing running
#   scripts/slurm-local.sh status    exit 0 when all three run
# Everything lives under $SLURM_LOCAL_DIR (default /tmp/minireason-slurm); /etc/slurm is not touched, so
# the cluster's config is found through SLURM_CONF only. A real cluster has its own config: nothing here applies.
set -euo pipefail
DIR=${SLURM_LOCAL_DIR:-/tmp/minireason-slurm}
CPUS=${SLURM_LOCAL_CPUS:-$(nproc)}
NODE=localnode

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  apt-get update -qq >/dev/null  # a fresh machine may have no package lists yet
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

conf() {
  cat >"$DIR/slurm.conf" <<CONF
ClusterName=minireason
SlurmctldHost=$(hostname -s)(127.0.0.1)
MailProg=/bin/true
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
# no cgroups in a container: track processes by parent pid, no task affinity
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# a job whose afterok dependency failed (a cancelled stage) is cancelled instead of pending forever
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=5
NodeName=$NODE NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=8000 State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
  conf
  export SLURM_CONF=$DIR/slurm.conf
  [ -f /etc/munge/munge.key ] || (umask 077; dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null)
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  alive "$DIR/munged.pid" || munged --force --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" </dev/null &>/dev/null
  alive "$DIR/slurmctld.pid" || slurmctld -c </dev/null &>/dev/null  # -c: a clean state, no jobs left from an earlier start
  alive "$DIR/slurmd.pid" || slurmd -N "$NODE" </dev/null &>/dev/null
  for _ in $(seq 60); do  # the node registers within seconds
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      return
    fi
    sleep 1
  done
  echo "slurm did not come up; see $DIR/*.log" >&2
  sinfo >&2 || true
  exit 1
}

stop() {
  for d in slurmd slurmctld munged; do
    if alive "$DIR/$d.pid"; then
      pid=$(cat "$DIR/$d.pid")
      kill "$pid"
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$DIR/$d.pid"
  done
}

status() { alive "$DIR/munged.pid" && alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; }

case "${1:-}" in
  install) install ;;
  status) status ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
