#!/bin/bash
# bench/batch_bench.sh: the month's run on the built-in templates: CPU seconds per bill,
# bills per CPU-hour and bytes stored per bill, in stored mode with the segment cache,
# without it (--no-segment-cache), and in on-demand mode, side by side in one run on the same
# records (bench/make_month.py: the sample records' plans with the change day, payment and
# people drawn at random), after the templates were generated and prepared into the stores
# (once per store: reported apart).  Then the cache's hit rate projected to a whole month
# (bench/window_texts: the windows' texts, not rendered), and one `vbill render` of the
# same kind of bill for comparison.
#
# Records are ko-KR only (see ko() below).  Prints figures, never pass/fail.  Usage: BUILDDIR=/path/to/build bench/batch_bench.sh [N [MONTH]]
#   N      bills rendered per mode (default 200)
#   MONTH  records for the hit-rate projection (default 500000)
# Environment: BENCH_JOBS (--jobs, default the cores), BENCH_KEEP=1 keeps the work directory.
set -euo pipefail
BUILDDIR=${BUILDDIR:-.}
SRC=$(cd "$(dirname "$0")/.." && pwd)
V="$BUILDDIR/examples/vbill"
N=${1:-200}
MONTH=${2:-500000}
JOBS=${BENCH_JOBS:-$(nproc)}
[ -x "$V" ] || { echo "batch_bench: $V not found (set BUILDDIR)" >&2; exit 2; }
[ -x "$BUILDDIR/bench/window_texts" ] || { echo "batch_bench: build bench/window_texts first (make)" >&2; exit 2; }
W=$(mktemp -d /tmp/vbill-batch-bench.XXXXXX)
[ "${BENCH_KEEP:-0}" = 1 ] && echo "batch_bench: work directory $W" >&2 || trap 'rm -rf "$W"' EXIT

(umask 077 && "$V" keygen --out "$W/keys.json")
# A Korean carrier's month (the built-in templates exist per scenario and locale: ja-JP and
# en-US bills cost the same per window, and would each need their own templates prepared)
ko() { grep '"locale": "ko-KR"'; }
python3 "$SRC/bench/make_month.py" "$((N * 11 / 10 + 10))" 1 | ko | head -n "$N" >"$W/month.jsonl"
# one bill of each scenario, other ids: the run that generates and prepares the templates
python3 "$SRC/bench/make_month.py" 400 2 | ko | sed 's/"id": "M-/"id": "W-/' |
  python3 -c '
import json, subprocess, sys
recs = sys.stdin.read().splitlines()
out = subprocess.run([sys.argv[1], "classify", "-"], input="\n".join(recs) + "\n",
                     capture_output=True, text=True).stdout.splitlines()
seen = set()
by_id = {json.loads(r)["id"]: r for r in recs}
for l in out:
    c = json.loads(l)
    if c["scenario"] and c["scenario"] not in seen:
        seen.add(c["scenario"]); print(by_id[c["id"]])' "$V" >"$W/warm.jsonl"

# run LABEL STORE ARGS...: the batch's own CPU (user + system) and the figures of its store
run() {
  local label=$1 store=$2; shift 2
  /usr/bin/time -f "%U %S %e" -o "$W/$label.time" "$V" batch "$W/month.jsonl" --store "$store" \
    --key-file "$W/keys.json" --jobs "$JOBS" --progress json "$@" >"$W/$label.progress" 2>"$W/$label.err" || {
    rc=$?; [ $rc -eq 3 ] || { echo "batch_bench: $label exited $rc: $(tail -n 3 "$W/$label.err")" >&2; exit 1; }; }
  grep '^{' "$W/$label.err" | tail -n 1 >"$W/$label.last" # JSON progress goes to stderr
}

echo "batch_bench: generating and preparing the built-in templates (once per store)" >&2
/usr/bin/time -f "%U %S %e" -o "$W/prepare.time" "$V" batch "$W/warm.jsonl" --store "$W/s1" \
  --key-file "$W/keys.json" --jobs "$JOBS" --render on-demand --progress none 2>"$W/prepare.err" || true
for s in s2 s3; do mkdir -p "$W/$s" && cp -a "$W/s1/templates" "$W/$s/"; done

echo "batch_bench: $N bills, stored, with the segment cache" >&2
run cached "$W/s1"
echo "batch_bench: $N bills, stored, without the segment cache" >&2
run plain "$W/s2" --no-segment-cache
echo "batch_bench: $N bills, on demand" >&2
run ondemand "$W/s3" --render on-demand

echo "batch_bench: the hit rate over $MONTH records (texts only)" >&2
python3 "$SRC/bench/make_month.py" "$MONTH" 3 | ko >"$W/big.jsonl"
"$BUILDDIR/bench/window_texts" "$W/s1/templates" "$W/big.jsonl" >"$W/project.txt"
"$BUILDDIR/bench/window_texts" "$W/s1/templates" "$W/month.jsonl" >"$W/project_n.txt"

# one vbill render of a bill of the run, HLS, for comparison
first=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["id"].startswith("M-"):
        print(l, end=""); break' "$W/month.jsonl")
echo "$first" >"$W/one.json"
sc=$("$V" classify "$W/one.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scenario"] or "")')
[ -d "$W/s1/templates/$sc.ko-KR" ] && sc="$sc.ko-KR" # the store names built-ins SCENARIO.LOCALE
if [ -n "$sc" ] && [ -d "$W/s1/templates/$sc" ]; then
  /usr/bin/time -f "%U %S %e" -o "$W/render.time" "$V" render --template "$W/s1/templates/$sc" \
    "$W/one.json" --hls "$W/one-hls" --speed 1 >/dev/null 2>"$W/render.err" || true
fi

python3 - "$W" "$N" <<'PY'
import json, os, subprocess, sys
w, n = sys.argv[1], int(sys.argv[2])
def cpu(label):
    try:
        u, s, e = open(os.path.join(w, label + ".time")).read().split()[-3:]
        return float(u) + float(s), float(e)
    except (OSError, ValueError):
        return None, None
def last(label):
    return json.load(open(os.path.join(w, label + ".last")))
def du(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0
print("vbill batch benchmark: %d records of one month (bench/make_month.py), --jobs %s, %d cores"
      % (n, os.environ.get("BENCH_JOBS") or os.cpu_count(), os.cpu_count()))
c, e = cpu("prepare")
print("templates generated and prepared once per store: %.1f CPU-s, %.1f s wall" % (c, e))
print("%-22s %6s %12s %16s %14s %10s" % ("mode", "bills", "CPU-s/bill", "bills/CPU-hour", "bytes/bill", "cache hits"))
for label, store, name in (("cached", "s1", "stored, cache"), ("plain", "s2", "stored, no cache"),
                           ("ondemand", "s3", "on demand")):
    p = last(label)
    c, e = cpu(label)
    made = p.get("made", 0) or 1
    b = du(os.path.join(w, store, "2026-11"))
    sc = p.get("segment_cache")
    hits = ("%.1f%%" % (100.0 * sc["hits"] / max(1, sc["hits"] + sc["misses"]))) if sc else "-"
    print("%-22s %6d %12.3f %16.0f %14.0f %10s" % (name, p.get("made", 0), c / made,
                                                    3600 * made / c if c else 0, b / made, hits))
c, e = cpu("render")
if c:
    print("vbill render, one bill of the run (HLS): %.2f CPU-s" % c)
print("\nsegment-cache hits projected from the windows' texts, %d records:" % n)
print(open(os.path.join(w, "project_n.txt")).read().rstrip())
print("\n... and over a month's run:")
print(open(os.path.join(w, "project.txt")).read().rstrip())
print("\ntargets (issue 15): <= 2.8 CPU-s per bill stored, <= 0.01 on demand")
PY
