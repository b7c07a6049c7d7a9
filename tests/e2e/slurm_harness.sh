#!/bin/sh
# slurm_harness.sh: the self-test of the Slurm harness (tests/e2e/slurm_batch.sh, its store
# checker and examples/slurm/vbill-batch.sbatch), run with a stand-in for `vbill batch`
# (tests/e2e/slurm/standin_vbill.py) so that it holds whether or not the real one is built:
#   1. the checker fails on each kind of broken store (a bill twice, a bill missing, a
#      temporary file, a birth date as YYYY-MM-DD or YYMMDD, a links line twice, a rejected
#      record missing, status counts that do not add up) and passes on a good one;
#   2. on the real cluster, slurm_batch.sh passes with a correct stand-in whose shard 2 first
#      exits 75 (the sbatch script requeues it itself: it runs twice) and whose killed task 1
#      runs again after `scontrol requeue`;
#   3. on the real cluster, slurm_batch.sh fails when the stand-in loses a bill.
set -u
B=${VBILL_BUILDDIR:-.}
S=${VBILL_SRCDIR:-.}
V="$B/examples/vbill"
H="$S/tests/e2e/slurm"
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$V" ] || fail "$V is not built"
command -v python3 >/dev/null || fail "python3 is needed"
T=$(mktemp -d /tmp/vbill-slurm-harness.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
export VBILL_BUILDDIR="$B"
cat >"$T/vbill" <<EOF
#!/bin/sh
exec python3 "$H/standin_vbill.py" "\$@"
EOF
chmod +x "$T/vbill"

# 1. The checker, without Slurm: the stand-in (one shard, or two in turn), status, the checker.
python3 "$H/make_records.py" "$S/examples/data/subscribers.jsonl" 2 7 >"$T/records.jsonl" ||
    fail "make_records.py"
store_with() { # FAULT [SHARDS]: makes $T/store with the stand-in, then runs the checker on it
    rm -rf "$T/store"
    i=0
    while [ $i -lt "${2:-1}" ]; do
        STANDIN_FAULT=$1 "$T/vbill" batch "$T/records.jsonl" --store "$T/store" \
            --shard "$i/${2:-1}" 2>"$T/err"
        rc=$?
        [ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "stand-in shard $i exited $rc: $(cat "$T/err")"
        i=$((i + 1))
    done
    STANDIN_FAULT=$1 "$T/vbill" batch status --store "$T/store" >"$T/status.json" ||
        fail "stand-in status"
    python3 "$H/check_store.py" --records "$T/records.jsonl" --store "$T/store" \
        --status "$T/status.json" --vbill "$V" >"$T/check.out" 2>&1
}
store_with "" 2 || fail "the checker refuses a good store: $(cat "$T/check.out")"
for f in duplicate lose tmp birth birth6 links reject status; do
    store_with "$f"
    rc=$?
    [ $rc -eq 1 ] || fail "the checker did not fail on a store with fault '$f' (exit $rc)"
    echo "fault $f: $(head -n 1 "$T/check.out")"
done

# 2. and 3. On the real cluster (skips like slurm_batch.sh when Slurm is not installed).
export VBILL_BATCH_PROGRAM="$T/vbill"
mkdir -p "$T/retry"
STANDIN_RETRY="2:$T/retry" "$S/tests/e2e/slurm_batch.sh" >"$T/run.out" 2>&1
rc=$?
cat "$T/run.out"
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "slurm_batch.sh failed with a correct stand-in"
[ -f "$T/retry/retried-2" ] || fail "the stand-in's shard 2 never exited 75"
grep -q '^task 2: 2 attempts, state COMPLETED' "$T/run.out" ||
    fail "the task that exited 75 was not requeued by the sbatch script"
grep -q '^task 1: 2 attempts, state COMPLETED' "$T/run.out" || fail "the killed task did not run twice"
STANDIN_FAULT=lose "$S/tests/e2e/slurm_batch.sh" >"$T/run.out" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$T/run.out"; fail "slurm_batch.sh exited $rc with a stand-in that loses bills"; }
grep -q '^FAIL: valid record .* has no bill' "$T/run.out" ||
    { cat "$T/run.out"; fail "slurm_batch.sh failed, but not on the lost bills"; }
echo "PASS: the harness passes a correct run and fails a wrong one"
