#!/bin/sh
# bench/fill_bench.sh: `vbill fill` throughput and peak memory on generated JSON Lines.
# Prints figures; never pass/fail.  Usage: BUILDDIR=/path/to/build bench/fill_bench.sh [N]
set -eu
BUILDDIR=${BUILDDIR:-.}
VBILL="$BUILDDIR/examples/vbill"
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# N records: the sample subscribers' valid records (ids S-0...) in turn, each with a fresh
# id, so every scenario is represented in its sample proportion.
LC_ALL=C awk -v n="$N" '
  match($0, /"id": *"S-0[0-9]*"/) {
    k++; pre[k] = substr($0, 1, RSTART - 1); post[k] = substr($0, RSTART + RLENGTH)
  }
  END { for (i = 0; i < n; i++) { j = i % k + 1; printf "%s\"id\":\"B-%07d\"%s\n", pre[j], i, post[j] } }
' "$SRC/examples/data/subscribers.jsonl" >"$tmp/big.jsonl"
bytes=$(wc -c <"$tmp/big.jsonl")

# run LABEL FILE SINK COMMAND...: the command's own CPU time (user + system) and peak RSS,
# the best of BENCH_RUNS runs (default 3: this machine's speed wanders by up to 1.5x from one
# minute to the next).  Output goes to a pipe (counted by wc, a process of its own) or, with
# SINK=file, into a file (the kernel's page-cache work for ~1 GB then counts as the command's
# system time).
RUNS=${BENCH_RUNS:-3}
run() {
  label=$1; file=$2; sink=$3; shift 3
  : >"$tmp/times"
  i=0
  while [ "$i" -lt "$RUNS" ]; do
    if [ "$sink" = file ]; then
      /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" "$file" >"$tmp/out" 2>"$tmp/err" || true
      out=$(wc -l <"$tmp/out"); rm -f "$tmp/out"
    else
      out=$( { /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" "$file" 2>"$tmp/err" || true; } | wc -l)
    fi
    tail -n 1 "$tmp/time" >>"$tmp/times"
    i=$((i + 1))
  done
  read -r wall user sys rss <<EOF2
$(awk '{ c = $2 + $3; if (NR == 1 || c < best) { best = c; line = $0 } } END { print line }' "$tmp/times")
EOF2
  recs=$(wc -l <"$file")
  awk -v l="$label" -v n="$recs" -v o="$out" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" 'BEGIN {
    cpu = u + s; if (cpu <= 0) cpu = 0.01
    printf "%-24s %8d records %8d out  wall %6.2f s  cpu %6.2f s (user %5.2f sys %4.2f)  %8.0f records/s  peak RSS %5.1f MiB\n",
      l, n, o, w, cpu, u, s, n / cpu, m / 1024 }'
}

echo "vbill fill benchmark: $N records, $((bytes / 1048576)) MiB of JSON Lines, one core"
head -n $((N / 10)) "$tmp/big.jsonl" >"$tmp/tenth.jsonl"
run "classify (N/10)" "$tmp/tenth.jsonl" pipe "$VBILL" classify
run "fill (N/10)" "$tmp/tenth.jsonl" pipe "$VBILL" fill
run "classify (N)" "$tmp/big.jsonl" pipe "$VBILL" classify
run "fill (N)" "$tmp/big.jsonl" pipe "$VBILL" fill
run "fill (N) into a file" "$tmp/big.jsonl" file "$VBILL" fill
echo "records/s = records / (user + system CPU seconds of vbill alone), best of $RUNS runs"
echo "target: >= 200,000 records/s on one core for fill; peak RSS flat between N/10 and N"
