#!/bin/sh
# demo.sh: installs the Debian packages, builds libvbill and runs the main job on the shipped
# sample subscribers: a summary per scenario, the rejected records, and the video bills.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
scripts/deps.sh
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null 2>&1
mkdir -p build/demo
cd build/demo
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
cd "$top"
VBILL=build/demo/examples/vbill
DATA=examples/data/subscribers.jsonl

echo
echo "== Sample subscribers ($DATA): scenarios"
build/demo/examples/scenario_counts "$DATA" || true
echo
out="$top/out"
mkdir -p "$out"
"$VBILL" fill "$DATA" >"$out/fill.jsonl" 2>/dev/null || true
echo "== Filled records (amounts, period, slot texts): $out/fill.jsonl"
