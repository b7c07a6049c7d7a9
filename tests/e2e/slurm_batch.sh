#!/bin/sh
# slurm_batch.sh: the month's run on a real single-node Slurm cluster (Debian's slurm-wlm and
# munge, started on loopback by tests/e2e/slurm/cluster.sh): an array of 4 tasks runs
# examples/slurm/vbill-batch.sbatch over a few hundred records (some invalid); one task is
# SIGKILLed midway through its shard (scancel --signal=KILL --full) and requeued (scontrol
# requeue); when all are done, every valid record has exactly one bill, every invalid one a
# reason, the links list each bill once, no temporary file and no birth date is in the store,
# `vbill batch status` adds up, and running a shard again makes no bill again.
# Skips (77) when slurm-wlm / munge are not installed or `vbill batch` is not built.
set -u
RENDER=${VBILL_SLURM_RENDER:-on-demand} # the render mode of the run (stored: video, slower)
SHARDS=4                                # array tasks
COPIES=${VBILL_SLURM_COPIES:-8}         # x 36 sample records (40 of the 288 invalid)
VICTIM=1                                # the array index killed midway
B=${VBILL_BUILDDIR:-.}
S=${VBILL_SRCDIR:-.}
V="$B/examples/vbill"                   # the oracle: vbill fill
BATCH=${VBILL_BATCH_PROGRAM:-$V}        # what the tasks run (the harness self-test: a stand-in)
H="$S/tests/e2e/slurm"
fail() { echo "FAIL: $*"; [ -n "${W:-}" ] && show_logs; exit 1; }
show_logs() {
    for f in "$W"/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
    vb_slurm_logs 15
}

. "$H/cluster.sh"
vb_slurm_require
[ -x "$V" ] || fail "$V is not built"
if ! "$BATCH" batch --help >/dev/null 2>&1; then
    echo "SKIP: \`$BATCH batch --help\` fails: vbill batch is not built yet (issue 15)"
    exit 77
fi

W=$(mktemp -d /tmp/vbill-slurm-batch.XXXXXX) && chmod 0755 "$W" || exit 1 # munged: o+x to its socket
cleanup() { vb_slurm_stop; [ "${VB_SLURM_KEEP:-0}" = 1 ] || rm -rf "$W"; }
VB_SLURM_NO_TRAP=1
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$W/logs" "$W/bin"
t0=$(date +%s)

# 1. The records: the samples with unique ids, fresh birth dates, two cycles and more.
python3 "$H/make_records.py" "$S/examples/data/subscribers.jsonl" "$COPIES" 15 >"$W/records.jsonl" ||
    fail "make_records.py"
nrec=$(wc -l <"$W/records.jsonl")

# 2. The cluster: one node offering $SHARDS CPUs, so that all tasks run at once.
VB_SLURM_CPUS=$SHARDS vb_slurm_start "$W/c"
echo "cluster up in $(( $(date +%s) - t0 )) s (ports $VB_SLURM_CTLD_PORT, $VB_SLURM_SLURMD_PORT)"

# The tasks run $BATCH through this wrapper: the first attempt of task $VICTIM stops itself
# (SIGSTOP) before vbill starts, so that the test can let it run in short slices and kill it
# once it has made some bills but not all: midway, however fast the batch is.
cat >"$W/bin/vbill" <<EOF
#!/bin/sh
if [ "\${SLURM_ARRAY_TASK_ID:-}" = $VICTIM ] && [ "\${SLURM_RESTART_COUNT:-0}" = 0 ] &&
   [ "\${1:-}" = batch ]; then
    echo \$\$ >"$W/victim.pid.new" && mv "$W/victim.pid.new" "$W/victim.pid"
    kill -STOP \$\$
fi
exec "$BATCH" "\$@"
EOF
chmod +x "$W/bin/vbill"

# 3. The array, as a carrier submits it (the script's own settings; logs and cwd in $W).
export RECORDS="$W/records.jsonl" STORE="$W/store" VBILL="$W/bin/vbill"
# A short template for every scenario (a carrier's rule set naming one): the built-in ones
# take minutes of CPU to generate and prepare, which this test is not about.
mkdir -p "$W/templates/any"
ffmpeg -nostdin -v error -f lavfi -i testsrc=size=320x240:rate=25:duration=4 -f lavfi \
    -i sine=f=440:d=4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest -y \
    "$W/templates/any/base.mp4" || fail "ffmpeg: the test template"
cat >"$W/templates/any/template.json" <<'JSON'
{"scenario": "any", "video": "base.mp4", "slots": [{"name": "total",
 "text": "{{{this_month_text}}}", "from": 1, "to": 2, "box": [10, 180, 300, 40], "size": 20,
 "color": "#FFFFFF"}]}
JSON
echo '{"rules": [{"scenario": "any", "when": ["m_new >= 1"]}, {"scenario": "any", "when": ["m_dc >= 1"]}, {"scenario": "any", "when": ["h_any >= 1"]}]}' >"$W/rules.json"
(umask 077 && "$V" keygen >"$W/keys.json" 2>/dev/null) || fail "vbill keygen"
export VBILL_KEY_FILE="$W/keys.json"
export VBILL_BATCH_ARGS="--render $RENDER --templates $W/templates --rules $W/rules.json"
J=$(sbatch --parsable --array=0-$((SHARDS - 1)) --chdir="$W" --output="$W/logs/task-%a.log" \
    "$S/examples/slurm/vbill-batch.sbatch") || fail "sbatch refused the array"
echo "submitted array job $J: $SHARDS tasks over $nrec records, --render $RENDER"

bills() { find "$STORE" -name bill.json 2>/dev/null | wc -l; }
i=0
until [ -s "$W/victim.pid" ]; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "task $VICTIM did not start within 60 s"
    sleep 0.1
done
P=$(cat "$W/victim.pid")
# the other tasks run to their end while the victim waits
i=0
while squeue -h -j "$J" -o %i 2>/dev/null | grep -qvx "${J}_${VICTIM}"; do
    i=$((i + 1)); [ $i -gt 900 ] && fail "the other tasks did not finish within 90 s"
    sleep 0.1
done
b0=$(bills)
# the victim runs in 20 ms slices until it has made a bill of its own
i=0
while :; do
    kill -CONT "$P" 2>/dev/null || fail "task $VICTIM's vbill (pid $P) ended before it could be killed"
    sleep 0.02
    kill -STOP "$P" 2>/dev/null
    vb_slurm_alive "$P" || fail "task $VICTIM finished its shard within one 20 ms slice: raise COPIES"
    [ "$(bills)" -gt "$b0" ] && break
    i=$((i + 1)); [ $i -gt 3000 ] && fail "task $VICTIM made no bill in 60 s of slices"
done
b1=$(bills)
scancel --signal=KILL --full "${J}_${VICTIM}" || fail "scancel"
i=0
while [ -n "$(squeue -h -j "${J}_${VICTIM}" -t R,CG 2>/dev/null)" ]; do
    i=$((i + 1)); [ $i -gt 300 ] && fail "task $VICTIM still running 30 s after SIGKILL"
    sleep 0.1
done
state=$(vb_slurm_job_state "${J}_${VICTIM}")
echo "task $VICTIM killed after $((b1 - b0)) bill(s) of its shard ($b1 of the store's); state $state"
[ "$state" != COMPLETED ] || fail "the killed task shows COMPLETED"
scontrol requeue "${J}_${VICTIM}" || fail "scontrol requeue ${J}_${VICTIM}"
vb_slurm_wait_jobs "$J" 120 || fail "the array did not finish within 120 s of the requeue"
echo "array done in $(( $(date +%s) - t0 )) s"

# 4. Every task completed (exit 3, rejected records, is a success for the script); the
# killed one ran twice.
for k in $(seq 0 $((SHARDS - 1))); do
    info=$(scontrol -o show job "${J}_$k")
    st=$(echo "$info" | sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p')
    ex=$(echo "$info" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p')
    rs=$(echo "$info" | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p')
    n=$(grep -c '^vbill-batch: task .* attempt ' "$W/logs/task-$k.log" 2>/dev/null)
    echo "task $k: $n attempts, state $st, exit $ex, restarts $rs"
    [ "$st" = COMPLETED ] && [ "$ex" = 0:0 ] || fail "task $k ended $st ($ex)"
done
n=$(grep -c '^vbill-batch: task .* attempt ' "$W/logs/task-$VICTIM.log")
[ "$n" -ge 2 ] || fail "the killed task $VICTIM ran $n time(s), not again after its requeue"

# 5. The store, against the records (tests/e2e/slurm/check_store.py says what it checks).
"$BATCH" batch status --store "$STORE" >"$W/status.json" 2>"$W/status.err" ||
    fail "vbill batch status: $(cat "$W/status.err")"
python3 "$H/check_store.py" --records "$RECORDS" --store "$STORE" --status "$W/status.json" \
    --vbill "$V" --render "$RENDER" --rules "$W/rules.json" || { echo "status: $(cat "$W/status.json")"; fail "the store"; }

# 6. A shard run again (here without Slurm, --shard) makes no bill again.
snap() { find "$STORE" -name bill.json -printf '%P %i %T@\n' | sort; }
snap >"$W/before"
"$BATCH" batch "$RECORDS" --store "$STORE" --shard "$VICTIM/$SHARDS" $VBILL_BATCH_ARGS \
    >"$W/rerun.out" 2>&1
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "shard $VICTIM run again: exit $rc: $(tail -n 5 "$W/rerun.out")"
snap >"$W/after"
cmp -s "$W/before" "$W/after" || fail "running shard $VICTIM again rewrote bills:
$(diff "$W/before" "$W/after" | head -n 10)"
"$BATCH" batch status --store "$STORE" >"$W/status.json" 2>"$W/status.err" || fail "status after the re-run"
python3 "$H/check_store.py" --records "$RECORDS" --store "$STORE" --status "$W/status.json" \
    --vbill "$V" --render "$RENDER" --rules "$W/rules.json" >/dev/null || fail "the store after shard $VICTIM ran again"
echo "PASS in $(( $(date +%s) - t0 )) s"
