#!/bin/sh
# Replays every fuzz harness's checked-in corpus (a make check test); fails if any crashes.
set -u
builddir=${VBILL_BUILDDIR:-.}
srcdir=${VBILL_SRCDIR:-.}
status=0
count=0
for h in "$builddir"/tests/fuzz/*_fuzzer; do
  [ -x "$h" ] || continue
  name=$(basename "$h")
  corpus="$srcdir/tests/fuzz/$name.in"
  if "$h" -help=1 >/dev/null 2>&1; then
    # A libFuzzer build: fuzz for VBILL_FUZZ_SECONDS (new inputs go to a scratch folder, not
    # into the source tree), or just replay the corpus when it is unset.
    if [ "${VBILL_FUZZ_SECONDS:-0}" -gt 0 ] 2>/dev/null; then
      scratch=$(mktemp -d)
      # libFuzzer's progress goes to a log, shown only when the harness fails.
      if "$h" -max_total_time="$VBILL_FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$scratch/" "$scratch" "$corpus" >"$scratch.log" 2>&1; then
        echo "$name: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$scratch.log"), no crash"
        rm -rf "$scratch"
      else
        grep -v '^#[0-9]' "$scratch.log" | tail -n 60
        echo "FAIL: $name (artifacts in $scratch)"; status=1
      fi
      rm -f "$scratch.log"
    else
      "$h" -runs=0 "$corpus" || { echo "FAIL: $name"; status=1; }
    fi
  else
    "$h" "$corpus" || { echo "FAIL: $name"; status=1; }
  fi
  count=$((count + 1))
done
echo "fuzz corpora replayed for $count harnesses"
[ "$count" -gt 0 ] || exit 77
exit $status
