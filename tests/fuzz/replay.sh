#!/bin/sh
# Replays every fuzz harness's checked-in corpus (a make check test); fails if any crashes.
# In a libFuzzer build with VBILL_FUZZ_SECONDS set, fuzzes each harness that long instead,
# VBILL_FUZZ_JOBS (default 2) harnesses at a time.
set -u
builddir=${VBILL_BUILDDIR:-.}
srcdir=${VBILL_SRCDIR:-.}

# One libFuzzer harness for VBILL_FUZZ_SECONDS (new inputs go to a scratch folder, not into
# the source tree); its progress goes to a log, shown only when the harness fails.
fuzz_one() {
  h=$1
  name=$(basename "$h")
  scratch=$(mktemp -d)
  if "$h" -max_total_time="$VBILL_FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/" "$scratch" "$srcdir/tests/fuzz/$name.in" >"$scratch.log" 2>&1; then
    echo "$name: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$scratch.log"), no crash"
    rm -rf "$scratch" "$scratch.log"
    return 0
  fi
  grep -v '^#[0-9]' "$scratch.log" | tail -n 60
  echo "FAIL: $name (artifacts in $scratch)"
  rm -f "$scratch.log"
  return 1
}

if [ "${1:-}" = --fuzz-one ]; then
  fuzz_one "$2"
  exit $?
fi

status=0
count=0
fuzzing=
for h in "$builddir"/tests/fuzz/*_fuzzer; do
  [ -x "$h" ] || continue
  count=$((count + 1))
  name=$(basename "$h")
  corpus="$srcdir/tests/fuzz/$name.in"
  if "$h" -help=1 >/dev/null 2>&1; then
    if [ "${VBILL_FUZZ_SECONDS:-0}" -gt 0 ] 2>/dev/null; then
      fuzzing="$fuzzing $h"
    else
      "$h" -runs=0 "$corpus" || { echo "FAIL: $name"; status=1; }
    fi
  else
    "$h" "$corpus" || { echo "FAIL: $name"; status=1; }
  fi
done
if [ -n "$fuzzing" ]; then
  # xargs exits non-zero when any harness did
  printf '%s\n' $fuzzing | VBILL_SRCDIR="$srcdir" xargs -P "${VBILL_FUZZ_JOBS:-2}" -I{} \
    sh "$0" --fuzz-one {} || status=1
fi
echo "fuzz harnesses run: $count"
[ "$count" -gt 0 ] || exit 77
exit $status
