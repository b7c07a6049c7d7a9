# tests/e2e/slurm/cluster.sh: a private single-node Slurm cluster on loopback, for tests.
# POSIX sh, meant to be sourced:
#
#   . "$VBILL_SRCDIR/tests/e2e/slurm/cluster.sh"
#   vb_slurm_require              # exit 77 with a message when slurm-wlm / munge are absent
#   vb_slurm_start                # munged + slurmctld + slurmd, waits until the node is idle
#   sbatch ...; squeue ...        # SLURM_CONF points at the private cluster
#   vb_slurm_stop                 # kills everything it started, removes its directory
#
# Everything lives in one directory (VB_SLURM_DIR, made under /tmp: socket paths must stay
# short): its own munge key and munged socket, slurm.conf on two free loopback ports, state,
# spool and logs.  Nothing under /etc, /run or /var is read or written, so two runs at once,
# or a system Slurm, never clash.  It needs root (slurmd starts jobs as their owner); the
# Debian packages are slurm-wlm (slurmctld, slurmd, slurm-client) and munge.
#
# Settings (environment, read by vb_slurm_start):
#   VB_SLURM_CPUS         CPUs the node offers (default: the machine's; more than the machine
#                         has is allowed, SlurmdParameters=config_overrides, so that N tasks
#                         of one CPU run at once on a smaller machine)
#   VB_SLURM_CRED_EXPIRE  AuthInfo cred_expire, seconds (default 10).  Slurm holds a requeued
#                         job for cred_expire + 1 s before it may start again (default 120 s).
#   VB_SLURM_KEEP=1       keep the directory after vb_slurm_stop (logs, for debugging)
#   VB_SLURM_NO_TRAP=1    vb_slurm_start installs no EXIT trap (the caller's cleanup must
#                         call vb_slurm_stop)
#   VB_SLURM_TIMEOUT      seconds to wait for the node to become idle (default 60)
#
# After vb_slurm_start: SLURM_CONF (exported), VB_SLURM_DIR, VB_SLURM_PARTITION,
# VB_SLURM_CTLD_PORT, VB_SLURM_SLURMD_PORT.  Helpers: vb_slurm_logs (daemon log tails, for
# a failure message), vb_slurm_job_state JOBID, vb_slurm_wait_jobs JOBID TIMEOUT,
# vb_slurm_alive PID.

VB_SLURM_DIR=
VB_SLURM_PARTITION=vbill
VB_SLURM_STARTED=0
VB_SLURM_CTLD_PID=
VB_SLURM_SLURMD_PID=

vb_slurm__say() { echo "slurm-cluster: $*" >&2; }

# vb_slurm_require: exit 77 (skip) with a message naming what is missing when the Debian
# packages are not installed; fail (exit 1) when they are but this process cannot run them.
vb_slurm_require() {
    _vbs_missing=
    for _vbs_c in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
        command -v "$_vbs_c" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$_vbs_c" >/dev/null 2>&1 ||
            _vbs_missing="$_vbs_missing $_vbs_c"
    done
    if [ -n "$_vbs_missing" ]; then
        echo "SKIP: a real Slurm cluster needs Debian's slurm-wlm and munge (missing:$_vbs_missing);" \
             "scripts/deps.sh installs them"
        exit 77
    fi
    case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin"; export PATH ;; esac
    if [ "$(id -u)" -ne 0 ]; then
        echo "FAIL: the private Slurm cluster must be started as root (slurmd launches jobs as" \
             "their owner); run this test as root (check.sh, CI) or skip it with TESTS=..."
        exit 1
    fi
    command -v python3 >/dev/null 2>&1 || { echo "FAIL: python3 is needed to pick free ports"; exit 1; }
}

# vb_slurm_alive PID: the process exists and is not a zombie (public: tests poll with it).
vb_slurm_alive() {
    [ -r "/proc/$1/stat" ] || return 1
    case $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) in Z|X|'') return 1 ;; esac
    return 0
}

# vb_slurm__pid FILE: the pid written in a daemon's pid file, or nothing.
vb_slurm__pid() { [ -s "$1" ] && tr -dc 0-9 < "$1"; }

# vb_slurm__free_ports N: N distinct free TCP ports on 127.0.0.1, one per line (bound all at
# once, then released: the kernel does not hand the same port to two binds).
vb_slurm__free_ports() {
    python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
' "$1"
}

vb_slurm_logs() { # the tail of each daemon log, for failure messages
    [ -n "$VB_SLURM_DIR" ] || return 0
    for _vbs_f in "$VB_SLURM_DIR"/log/*.log; do
        [ -f "$_vbs_f" ] || continue
        echo "--- $_vbs_f"; tail -n "${1:-15}" "$_vbs_f"
    done
}

vb_slurm__fail() { # message: print it with the logs, stop the cluster, exit 1
    vb_slurm__say "$*"
    vb_slurm_logs 20 >&2
    vb_slurm_stop
    exit 1
}

# vb_slurm__munged: its own key and socket.  munged insists that the socket's directory is
# reachable by all (0755) and that the key belongs to the user running it, mode 0600/0400.
vb_slurm__munged() {
    _vbs_d=$VB_SLURM_DIR
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$_vbs_d/munge/munge.key" >/dev/null 2>&1 ||
            vb_slurm__fail "mungekey could not create $_vbs_d/munge/munge.key"
    else # munge < 0.5.14 has no mungekey: any 1024 random bytes make a key
        dd if=/dev/urandom of="$_vbs_d/munge/munge.key" bs=1024 count=1 2>/dev/null
    fi
    chmod 0600 "$_vbs_d/munge/munge.key"
    set -- --socket="$_vbs_d/run/munge.socket" --key-file="$_vbs_d/munge/munge.key" \
        --log-file="$_vbs_d/log/munged.log" --pid-file="$_vbs_d/run/munged.pid" \
        --seed-file="$_vbs_d/munge/munged.seed"
    if ! env VB_SLURM_OWNER="$_vbs_d" munged "$@" 2>"$_vbs_d/log/munged.err"; then
        # its directory checks can refuse odd TMPDIRs (group-writable parents): --force
        # turns those errors into warnings; say why it was needed.
        vb_slurm__say "munged refused to start ($(cat "$_vbs_d/log/munged.err")); retrying with --force"
        env VB_SLURM_OWNER="$_vbs_d" munged --force "$@" 2>>"$_vbs_d/log/munged.err" ||
            vb_slurm__fail "munged did not start: $(cat "$_vbs_d/log/munged.err")"
    fi
    _vbs_i=0
    until [ -S "$_vbs_d/run/munge.socket" ] && munge -n -S "$_vbs_d/run/munge.socket" 2>/dev/null |
            unmunge -S "$_vbs_d/run/munge.socket" >/dev/null 2>&1; do
        _vbs_i=$((_vbs_i + 1)); [ $_vbs_i -gt 50 ] && vb_slurm__fail "munged does not answer on $_vbs_d/run/munge.socket"
        sleep 0.1
    done
}

vb_slurm__conf() { # ctld_port slurmd_port
    _vbs_d=$VB_SLURM_DIR
    # The machine as slurmd sees it ("slurmd -C"): its CPUs and memory.
    _vbs_hw=$(slurmd -C 2>/dev/null | head -n 1)
    _vbs_cpus=$(echo "$_vbs_hw" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
    _vbs_mem=$(echo "$_vbs_hw" | sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p')
    [ -n "$_vbs_cpus" ] || _vbs_cpus=$(nproc 2>/dev/null || echo 1)
    [ -n "$_vbs_mem" ] || _vbs_mem=1024
    [ -n "${VB_SLURM_CPUS:-}" ] && [ "$VB_SLURM_CPUS" -gt "$_vbs_cpus" ] && _vbs_cpus=$VB_SLURM_CPUS
    cat > "$_vbs_d/slurm.conf" <<EOF
# A private single-node cluster for libvbill's tests (tests/e2e/slurm/cluster.sh).
ClusterName=vbtest
SlurmctldHost=localhost
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$_vbs_d/run/munge.socket,cred_expire=${VB_SLURM_CRED_EXPIRE:-10}
StateSaveLocation=$_vbs_d/state
SlurmdSpoolDir=$_vbs_d/spool
SlurmctldPidFile=$_vbs_d/run/slurmctld.pid
SlurmdPidFile=$_vbs_d/run/slurmd.pid
SlurmctldLogFile=$_vbs_d/log/slurmctld.log
SlurmdLogFile=$_vbs_d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$_vbs_d/plugstack.conf
# No cgroups, no accounting: what works in a container without systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobRequeue=1
ReturnToService=2
# Short timeouts: a test waits seconds, not minutes.
KillWait=2
MinJobAge=600
MessageTimeout=10
SlurmdTimeout=30
SlurmctldTimeout=30
BatchStartTimeout=20
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$_vbs_cpus RealMemory=$_vbs_mem State=UNKNOWN
PartitionName=$VB_SLURM_PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    : > "$_vbs_d/plugstack.conf" # no SPANK plugins (never the system's /etc/slurm/plugstack.conf)
}

# vb_slurm_start [DIR]: starts the cluster in DIR (made; default a new /tmp/vbill-slurm.*).
vb_slurm_start() {
    # Outer Slurm variables (a CI that itself runs under Slurm) would leak into our jobs.
    for _vbs_v in $(env | sed -n 's/^\(SLURM_[A-Z_]*\)=.*/\1/p'); do unset "$_vbs_v"; done
    if [ -n "${1:-}" ]; then
        VB_SLURM_DIR=$1; mkdir -p "$VB_SLURM_DIR" || exit 1
    else
        VB_SLURM_DIR=$(mktemp -d /tmp/vbill-slurm.XXXXXX) || exit 1
    fi
    VB_SLURM_DIR=$(cd "$VB_SLURM_DIR" && pwd -P)
    [ ${#VB_SLURM_DIR} -le 60 ] ||
        { vb_slurm__say "$VB_SLURM_DIR: too long for the daemons' unix socket paths"; exit 1; }
    VB_SLURM_STARTED=1
    if [ "${VB_SLURM_NO_TRAP:-0}" != 1 ]; then
        trap 'vb_slurm_stop' EXIT
        trap 'exit 130' INT TERM HUP
    fi
    _vbs_d=$VB_SLURM_DIR
    chmod 0755 "$_vbs_d"
    mkdir -p "$_vbs_d/munge" "$_vbs_d/run" "$_vbs_d/state" "$_vbs_d/spool" "$_vbs_d/log"
    chmod 0700 "$_vbs_d/munge" "$_vbs_d/state" "$_vbs_d/spool"
    chmod 0755 "$_vbs_d/run" "$_vbs_d/log"
    vb_slurm__munged
    SLURM_CONF=$_vbs_d/slurm.conf
    export SLURM_CONF
    # Free ports are found by binding port 0 and letting go: another program may take one
    # before slurmctld or slurmd binds it, so a daemon that dies at start is tried again on
    # new ports, three times.
    _vbs_attempt=1
    while :; do
        vb_slurm__daemons && break
        [ $_vbs_attempt -ge 3 ] && vb_slurm__fail "the Slurm daemons did not start ($_vbs_attempt tries)"
        vb_slurm__say "a daemon died at start (port taken?): trying again on other ports"
        vb_slurm__kill_daemons
        _vbs_attempt=$((_vbs_attempt + 1))
    done
}

# vb_slurm__daemons: slurmctld and slurmd on two free ports, then waits until the node is
# idle.  Returns 1 when a daemon died (worth another try), exits on anything else.
vb_slurm__daemons() {
    _vbs_d=$VB_SLURM_DIR
    rm -rf "$_vbs_d/state"/* "$_vbs_d/spool"/* "$_vbs_d/run/slurmctld.pid" "$_vbs_d/run/slurmd.pid"
    # shellcheck disable=SC2046
    set -- $(vb_slurm__free_ports 2)
    [ $# -eq 2 ] || vb_slurm__fail "could not find two free loopback ports"
    VB_SLURM_CTLD_PORT=$1 VB_SLURM_SLURMD_PORT=$2
    vb_slurm__conf "$1" "$2"
    # In the foreground (-D), started in the background here: their pids are known at once,
    # so a daemon that dies at start (a fatal error in its log, its port taken) is seen at
    # once.  In daemon mode the pid file appears only later, and a client meanwhile waits
    # MessageTimeout for an answer from whatever holds the port.  -N names the node
    # "localhost" whatever the machine's hostname.
    env VB_SLURM_OWNER="$_vbs_d" slurmctld -D </dev/null >"$_vbs_d/log/slurmctld.out" 2>&1 &
    VB_SLURM_CTLD_PID=$!
    env VB_SLURM_OWNER="$_vbs_d" slurmd -D -N localhost </dev/null >"$_vbs_d/log/slurmd.out" 2>&1 &
    VB_SLURM_SLURMD_PID=$!
    _vbs_i=0 _vbs_limit=$(( ${VB_SLURM_TIMEOUT:-60} * 5 ))
    _vbs_state=
    sleep 0.3 # a fatal error at start comes within milliseconds
    while :; do
        for _vbs_p in $VB_SLURM_CTLD_PID $VB_SLURM_SLURMD_PID; do
            vb_slurm_alive "$_vbs_p" || { vb_slurm_logs 5 >&2; return 1; }
        done
        _vbs_state=$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null)
        [ "$_vbs_state" = idle ] && return 0
        _vbs_i=$((_vbs_i + 1))
        [ $_vbs_i -gt $_vbs_limit ] && vb_slurm__fail "the node is not idle after ${VB_SLURM_TIMEOUT:-60} s" \
            "(state '${_vbs_state:-no answer}'; $(scontrol show node localhost 2>&1 | grep -o 'Reason=.*'))"
        sleep 0.2
    done
}

# vb_slurm__kill_daemons: slurmctld and slurmd (SIGTERM, then SIGKILL after 5 s).
vb_slurm__kill_daemons() {
    for _vbs_p in $VB_SLURM_CTLD_PID $VB_SLURM_SLURMD_PID; do
        vb_slurm_alive "$_vbs_p" && kill "$_vbs_p" 2>/dev/null
    done
    _vbs_i=0
    for _vbs_p in $VB_SLURM_CTLD_PID $VB_SLURM_SLURMD_PID; do
        while vb_slurm_alive "$_vbs_p" && [ $_vbs_i -lt 50 ]; do sleep 0.1; _vbs_i=$((_vbs_i + 1)); done
        vb_slurm_alive "$_vbs_p" && kill -9 "$_vbs_p" 2>/dev/null
    done
    wait "$VB_SLURM_CTLD_PID" "$VB_SLURM_SLURMD_PID" 2>/dev/null
    VB_SLURM_CTLD_PID= VB_SLURM_SLURMD_PID=
}

# vb_slurm_job_state JOBID: the job's JobState (PENDING, RUNNING, COMPLETED, FAILED, ...).
vb_slurm_job_state() {
    scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1
}

# vb_slurm_wait_jobs JOBID TIMEOUT: waits until no task of the job (array) is pending,
# running, requeued or completing; returns 1 on timeout.
vb_slurm_wait_jobs() {
    _vbs_i=0
    while [ -n "$(squeue -h -j "$1" -t PD,R,CF,CG,RQ,RS,S,ST 2>/dev/null)" ]; do
        _vbs_i=$((_vbs_i + 1)); [ $_vbs_i -gt $(($2 * 5)) ] && return 1
        sleep 0.2
    done
    return 0
}

# vb_slurm__sweep: SIGKILL what is left: the daemons (VB_SLURM_OWNER in their environment:
# munged, slurmctld, slurmd and the slurmstepd they forked) and job processes (our SLURM_CONF
# and a SLURM_JOB_ID).  Never this shell.
vb_slurm__sweep() {
    _vbs_d=$VB_SLURM_DIR
    for _vbs_f in $(grep -lzxF "VB_SLURM_OWNER=$_vbs_d" /proc/[0-9]*/environ 2>/dev/null) \
             $(grep -lzxF "SLURM_CONF=$_vbs_d/slurm.conf" /proc/[0-9]*/environ 2>/dev/null |
               xargs -r grep -lz '^SLURM_JOB_ID=' 2>/dev/null); do
        _vbs_p=${_vbs_f#/proc/}; _vbs_p=${_vbs_p%/environ}
        [ "$_vbs_p" = $$ ] && continue
        vb_slurm_alive "$_vbs_p" && kill -9 "$_vbs_p" 2>/dev/null
    done
}

# vb_slurm_stop: cancels every job, shuts the daemons down, kills what is left, removes the
# directory (unless VB_SLURM_KEEP=1).  Safe to call twice, and from a trap.
vb_slurm_stop() {
    [ "$VB_SLURM_STARTED" = 1 ] || return 0
    VB_SLURM_STARTED=0
    _vbs_d=$VB_SLURM_DIR
    if [ -f "$_vbs_d/slurm.conf" ]; then
        # (each client bounded: with slurmctld gone it would wait MessageTimeout)
        _vbs_jobs=$(SLURM_CONF=$_vbs_d/slurm.conf timeout 5 squeue -h -o %A 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$_vbs_jobs" ] && SLURM_CONF=$_vbs_d/slurm.conf timeout 5 scancel --full $_vbs_jobs 2>/dev/null
        _vbs_i=0
        while [ -n "$_vbs_jobs" ] && [ $_vbs_i -lt 25 ] &&
              [ -n "$(SLURM_CONF=$_vbs_d/slurm.conf timeout 5 squeue -h 2>/dev/null)" ]; do
            sleep 0.2; _vbs_i=$((_vbs_i + 1))
        done
        SLURM_CONF=$_vbs_d/slurm.conf timeout 5 scontrol shutdown >/dev/null 2>&1
    fi
    vb_slurm__kill_daemons
    _vbs_p=$(vb_slurm__pid "$_vbs_d/run/munged.pid")
    [ -S "$_vbs_d/run/munge.socket" ] && munged --stop --socket="$_vbs_d/run/munge.socket" >/dev/null 2>&1
    _vbs_i=0
    while [ -n "$_vbs_p" ] && vb_slurm_alive "$_vbs_p" && [ $_vbs_i -lt 50 ]; do sleep 0.1; _vbs_i=$((_vbs_i + 1)); done
    vb_slurm__sweep
    if [ "${VB_SLURM_KEEP:-0}" = 1 ]; then
        vb_slurm__say "kept $_vbs_d"
    else
        rm -rf "$_vbs_d"
    fi
}
