#!/bin/bash
# bench/voice_batch.sh: what the voice adds to a bill in the month's run: `vbill batch` in
# stored mode on the same Korean bills of mobile_new_bundle (bench/make_month.py: the change
# day, payment and people drawn at random), once with the built-in template and its
# narration.json (the voice) and once with the same template without it (silent), with the
# segment cache (default) and without it (--no-segment-cache: every window encoded).  The
# voice's share of a bill falls in the month's run: a window whose texts and sentence another
# bill had is copied from the cache, and a sentence said again is recalled, not said by
# espeak-ng again.  Prints figures, never pass/fail.
#
# Usage: BUILDDIR=build/check bench/voice_batch.sh [N]     (default 60 bills)
#        TEMPLATE=DIR  a prepared mobile_new_bundle.ko-KR built-in template to copy instead of
#                      making one here (vbill template builtin, about 30 CPU-s)
# Environment: BENCH_JOBS (--jobs, default the cores)
set -euo pipefail
BUILDDIR=${BUILDDIR:-.}
SRC=$(cd "$(dirname "$0")/.." && pwd)
V="$BUILDDIR/examples/vbill"
N=${1:-60}
JOBS=${BENCH_JOBS:-$(nproc)}
[ -x "$V" ] || { echo "voice_batch: $V not found (set BUILDDIR)" >&2; exit 2; }
command -v espeak-ng >/dev/null || { echo "voice_batch: espeak-ng not installed" >&2; exit 2; }
W=$(mktemp -d /tmp/vbill-voice-batch.XXXXXX)
trap 'rm -rf "$W"' EXIT

(umask 077 && "$V" keygen --out "$W/keys.json")
python3 "$SRC/bench/make_month.py" "$((N * 12))" 3 | grep '"locale": "ko-KR"' >"$W/all.jsonl"
"$V" classify "$W/all.jsonl" | python3 -c '
import json, sys
want = {json.loads(l)["id"] for l in open(sys.argv[1], encoding="utf-8")
        if json.loads(l).get("scenario") == "mobile_new_bundle"}
n = 0
for line in open(sys.argv[2], encoding="utf-8"):
    if json.loads(line)["id"] in want and n < int(sys.argv[3]):
        sys.stdout.write(line)
        n += 1' /dev/stdin "$W/all.jsonl" "$N" >"$W/month.jsonl"
got=$(wc -l <"$W/month.jsonl")
[ "$got" -gt 0 ] || { echo "voice_batch: no mobile_new_bundle record drawn" >&2; exit 1; }

T="$W/voice/mobile_new_bundle.ko-KR"
mkdir -p "$W/voice" "$W/silent"
if [ -n "${TEMPLATE:-}" ]; then
  cp -a "$TEMPLATE" "$T"
else
  echo "voice_batch: making the built-in template" >&2
  "$V" template builtin mobile_new_bundle "$T" --locale ko-KR >/dev/null 2>&1
fi
"$V" template prepare "$T" >/dev/null 2>&1
cp -a "$T" "$W/silent/"
rm "$W/silent/mobile_new_bundle.ko-KR/narration.json"

cpu() { awk '{printf "%.3f", ($1 + $2) / n}' n="$got" "$1"; }
run() { # run LABEL TEMPLATES ARGS...
  local label=$1 t=$2
  shift 2
  /usr/bin/time -f "%U %S" -o "$W/$label.time" "$V" batch "$W/month.jsonl" --store "$W/$label" \
    --templates "$t" --key-file "$W/keys.json" --jobs "$JOBS" --progress none "$@" \
    >/dev/null 2>"$W/$label.err" || { echo "voice_batch: $label: $(tail -n 2 "$W/$label.err")" >&2; exit 1; }
}
echo "voice_batch: $got bills of mobile_new_bundle (ko-KR), --jobs $JOBS" >&2
run voice-cache "$W/voice"
run silent-cache "$W/silent"
run voice-nocache "$W/voice" --no-segment-cache
run silent-nocache "$W/silent" --no-segment-cache

echo "voice batch benchmark: $got Korean bills of mobile_new_bundle, vbill batch stored, --jobs $JOBS"
echo "CPU-s per bill (user + system of vbill batch and the espeak-ng it runs)"
printf "%-28s %9s %9s %9s\n" "" "silent" "voice" "added"
for c in cache nocache; do
  s=$(cpu "$W/silent-$c.time")
  v=$(cpu "$W/voice-$c.time")
  label=$([ $c = cache ] && echo "with the segment cache" || echo "--no-segment-cache")
  awk -v s="$s" -v v="$v" -v l="$label" 'BEGIN { printf "%-28s %8.3fs %8.3fs %8.3fs\n", l, s, v, v - s }'
done
echo "(the first bills of a run fill the cache: the larger the run, the more windows it copies)"
