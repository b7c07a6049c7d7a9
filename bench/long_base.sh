#!/bin/sh
# bench/long_base.sh: peak memory of `vbill template prepare` and `vbill render` against the
# length of the base video, to show it stays bounded (the pipeline streams; nothing grows
# with the duration).  Small frames keep a two-hour base cheap to make and prepare.
#
# Prints figures, never pass/fail.  Usage:
#   BUILDDIR=/path/to/build bench/long_base.sh [SECONDS...]     (default: 600 7200)
# Environment: LONG_SIZE (default 320x180), LONG_FPS (default 10).
set -eu
BUILDDIR=${BUILDDIR:-.}
SRC=$(cd "$(dirname "$0")/.." && pwd)
VBILL="$BUILDDIR/examples/vbill"
SIZE=${LONG_SIZE:-320x180}
FPS=${LONG_FPS:-10}
[ $# -gt 0 ] || set -- 600 7200
[ -x "$VBILL" ] || { echo "long_base: $VBILL not found (set BUILDDIR)" >&2; exit 2; }
W=$(mktemp -d /tmp/vbill-long.XXXXXX)
trap 'rm -rf "$W"' EXIT
grep -m 1 '"id":"S-0' "$SRC/examples/data/subscribers.jsonl" >"$W/record.json"
scenario=$("$VBILL" classify "$W/record.json" | sed 's/.*"scenario":"\([^"]*\)".*/\1/')

# timed LABEL CMD...: "label  cpu s  wall s  peak RSS MiB"
timed() {
  label=$1; shift
  /usr/bin/time -f "%U %S %e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || {
    echo "long_base: $label failed:" >&2; tail -n 5 "$W/err" >&2; exit 1; }
  awk -v l="$label" '{ printf "  %-28s cpu %8.1f s  wall %8.1f s  peak RSS %7.1f MiB\n",
    l, $1 + $2, $3, $4 / 1024 }' "$W/time"
}

echo "long base videos: $SIZE at $FPS fps, AAC audio; slots near the start and the end"
for d in "$@"; do
  T="$W/t$d"
  mkdir -p "$T"
  ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=$SIZE:r=$FPS:d=$d" \
    -f lavfi -i "sine=f=330:d=$d" -c:v libx264 -preset ultrafast -g 250 \
    -c:a aac -b:a 64k -shortest "$T/base.mp4"
  last=$((d - 10))
  cat >"$T/template.json" <<EOF
{"scenario":"$scenario","video":"base.mp4","slots":[
 {"name":"first","text":"{{period_text}}","from":5,"to":9,"box":[10,130,300,40],"size":20,
  "color":"#FFFFFF","background":"#00000099"},
 {"name":"last","text":"{{this_month_text}}","from":$last,"to":$((last + 4)),
  "box":[10,10,300,40],"size":20,"color":"#FFFFFF","background":"#00000099"}]}
EOF
  echo "$d s base ($(du -k "$T/base.mp4" | cut -f1) KiB):"
  timed "prepare" "$VBILL" template prepare "$T"
  timed "render MP4 (1x)" "$VBILL" render --template "$T" "$W/record.json" -o "$W/out.mp4" --speed 1
  timed "render MP4 (0.8x)" "$VBILL" render --template "$T" "$W/record.json" -o "$W/out.mp4" --speed 0.8
  timed "render HLS (1x)" "$VBILL" render --template "$T" "$W/record.json" -o "$W/out2.mp4" --speed 1 --hls "$W/hls$d"
  rm -rf "$T" "$W"/out*.mp4 "$W/hls$d"
done
echo "bounded memory: the peak RSS of each step should not grow with the base's length"
