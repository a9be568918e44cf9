#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the SLURM end-to-end test
# (tests/workflow/test_slurm.py).
#
#   tests/slurm/setup_slurm.sh          install (Debian packages), configure, start, wait until idle
#   tests/slurm/setup_slurm.sh stop     stop the daemons this script starts
#   tests/slurm/setup_slurm.sh status   exit 0 when the node is up and sacct answers
#
# Idempotent: packages are installed once, config files are rewritten only when they change, and
# running daemons are restarted only when their config changed. Needs root, apt-get and a Debian
# with slurm 22.05+ (bookworm). Without root or apt-get it exits with status 3 and says why, so
# callers can skip. No systemd: daemons are started directly (containers and CI runners lack it).
#
# Layout: munge authenticates, mariadb + slurmdbd keep accounting (without slurmdbd `sacct` fails and
# the snakemake SLURM plugin, which prefers sacct, polls forever), slurmctld + slurmd run the node.
# The node advertises fake GPUs (GRES) backed by character devices cloned from /dev/null, so
# `sbatch --gpus=1` is accepted and the GPU request is visible in accounting.
set -euo pipefail

FAKE_GPUS=${MRISEQ_SLURM_FAKE_GPUS:-2}
STATE=/var/lib/slurm
LOGDIR=/var/log/slurm
CONF=/etc/slurm
DB_PASS=mriseq-slurmdbd
NODE_WAIT_S=${MRISEQ_SLURM_WAIT_S:-90}

say() { echo "setup_slurm: $*" >&2; }
cannot() {
    say "cannot run: $*"
    exit 3
}

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {
    local pidfile=$1 name=$2 pid
    if pid_alive "$pidfile"; then
        pid=$(cat "$pidfile")
        say "stopping $name (pid $pid)"
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

stop_all() {
    stop_pidfile /run/slurmd.pid slurmd
    stop_pidfile /run/slurmctld.pid slurmctld
    stop_pidfile /run/slurmdbd.pid slurmdbd
    if [[ -x /etc/init.d/mariadb ]] && /etc/init.d/mariadb status >/dev/null 2>&1; then
        /etc/init.d/mariadb stop >/dev/null
    fi
    stop_pidfile /run/munge/munged.pid munged
}

node_state() { sinfo -h -N -o %T 2>/dev/null | head -1; }

case "${1:-start}" in
    stop)
        stop_all
        exit 0
        ;;
    status)
        # Our own cluster with slurmctld down: say so at once (sinfo would wait for its timeout).
        if grep -qs "written by tests/slurm/setup_slurm.sh" "$CONF/slurm.conf" &&
            ! pid_alive /run/slurmctld.pid; then
            exit 1
        fi
        [[ $(node_state) == idle* || $(node_state) == mix* || $(node_state) == alloc* ]] &&
            sacct -n -X -S now-1minutes >/dev/null 2>&1
        exit
        ;;
    start) ;;
    *)
        say "usage: $0 [start|stop|status]"
        exit 2
        ;;
esac

[[ $(id -u) == 0 ]] || cannot "needs root (installs packages and starts daemons)"
command -v apt-get >/dev/null || cannot "needs apt-get (Debian/Ubuntu)"

# --- packages -----------------------------------------------------------------------------------
PACKAGES=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    # A policy-rc.d that exits 101 stops apt from starting services (no systemd here); keep one
    # that already exists (container images ship it), remove only the one we add.
    added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        added_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
        cannot "apt-get install ${missing[*]} failed"
    if ((added_policy)); then rm -f /usr/sbin/policy-rc.d; fi
fi

# --- configuration ------------------------------------------------------------------------------
HOST=$(hostname -s)
read -r -a hw <<<"$(slurmd -C | head -1)"
hw_value() {
    local kv
    for kv in "${hw[@]}"; do if [[ $kv == "$1="* ]]; then echo "${kv#*=}"; fi; done
}
CPUS=$(hw_value CPUs)
SOCKETS=$(hw_value SocketsPerBoard)
CORES=$(hw_value CoresPerSocket)
THREADS=$(hw_value ThreadsPerCore)
# Leave ~10 % of the memory to the OS and the daemons.
MEMORY=$(($(hw_value RealMemory) * 9 / 10))

changed=()
install_file() { # install_file PATH MODE OWNER < content; records PATH in $changed when it differs
    local path=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
    else
        install -D -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$tmp" "$path"
        rm -f "$tmp"
        changed+=("$path")
    fi
}

# Fake GPUs: GRES File= entries must be character devices (regular files are refused, file-less
# GPUs drain the node); clones of /dev/null (major 1, minor 3) are harmless.
gpu_files=()
for ((i = 0; i < FAKE_GPUS; i++)); do
    [[ -c /dev/fakegpu$i ]] || mknod -m 666 "/dev/fakegpu$i" c 1 3
    gpu_files+=("/dev/fakegpu$i")
done
gpu_range="/dev/fakegpu[0-$((FAKE_GPUS - 1))]"

mkdir -p "$STATE/slurmctld" "$STATE/slurmd" "$LOGDIR" /run/munge
chown slurm:slurm "$STATE/slurmctld" "$LOGDIR"

install_file "$CONF/slurm.conf" 644 root:root <<CONFEOF
# One-node test cluster written by tests/slurm/setup_slurm.sh (do not edit: rewritten on each run).
ClusterName=mriseq
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
# No cgroup v1/systemd in containers: track processes through /proc.
ProctrackType=proctrack/linuxproc
# task/none makes srun complain about CPU binding inside the job.
TaskPlugin=task/affinity
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
# Finished jobs must stay visible to the executor's status polls.
MinJobAge=3600
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# Keep the comment (the executor writes rule_<name>_wildcards_<...> there) in accounting.
AccountingStoreFlags=job_comment
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEMORY Gres=gpu:$FAKE_GPUS State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
# A second partition on the same node: the test sends GPU jobs here through a partition file.
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP
CONFEOF

install_file "$CONF/gres.conf" 644 root:root <<CONFEOF
NodeName=$HOST Name=gpu File=$gpu_range
CONFEOF

install_file "$CONF/cgroup.conf" 644 root:root <<CONFEOF
IgnoreSystemd=yes
CONFEOF

install_file "$CONF/slurmdbd.conf" 600 slurm:slurm <<CONFEOF
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=localhost
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=$LOGDIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
CONFEOF

# --- daemons ------------------------------------------------------------------------------------
if ((${#changed[@]})); then
    say "config changed (${changed[*]}): restarting the SLURM daemons"
    stop_pidfile /run/slurmd.pid slurmd
    stop_pidfile /run/slurmctld.pid slurmctld
    stop_pidfile /run/slurmdbd.pid slurmdbd
fi

[[ -s /etc/munge/munge.key ]] || { mungekey --create --keyfile /etc/munge/munge.key --force; }
chown munge:munge /etc/munge/munge.key /run/munge
chmod 600 /etc/munge/munge.key
if ! pid_alive /run/munge/munged.pid; then
    say "starting munged"
    runuser -u munge -- munged
fi

if ! /etc/init.d/mariadb status >/dev/null 2>&1; then
    say "starting mariadb"
    /etc/init.d/mariadb start >/dev/null
fi
mysql -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2
    shift 2
    for ((i = 0; i < seconds * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    say "timed out after ${seconds}s waiting for $what (logs in $LOGDIR)"
    return 1
}

if ! pid_alive /run/slurmdbd.pid; then
    say "starting slurmdbd"
    slurmdbd
fi
wait_for 30 slurmdbd sacctmgr -n list cluster

if ! pid_alive /run/slurmctld.pid; then
    say "starting slurmctld"
    slurmctld
fi
wait_for 30 slurmctld scontrol ping
if ! pid_alive /run/slurmd.pid; then
    say "starting slurmd"
    slurmd
fi

node_ready() { [[ $(node_state) =~ ^(idle|mixed|allocated) ]]; }
if ! wait_for "$NODE_WAIT_S" "node $HOST to become idle" node_ready; then
    sinfo -N -l >&2 || true
    exit 1
fi
# The cluster registers with slurmdbd when slurmctld starts; sacct works once it is known.
wait_for 30 "the cluster in accounting" bash -c "sacctmgr -n -P list cluster format=cluster | grep -qx mriseq"
wait_for 30 sacct sacct -n -X -S now-1minutes
# An account for the submitting user (the executor validates `slurm_account` against sacctmgr).
user=${SUDO_USER:-$(id -un)}
if ! sacctmgr -n -P list assoc account=mriseq user="$user" format=user | grep -qx "$user"; then
    sacctmgr -i add account mriseq cluster=mriseq description=mriseq-tests >/dev/null || true
    sacctmgr -i add user "$user" account=mriseq defaultaccount=mriseq >/dev/null
fi
say "node $HOST is $(node_state) (CPUs=$CPUS RealMemory=${MEMORY}MB gpu:$FAKE_GPUS)"
