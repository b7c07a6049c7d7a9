#!/bin/sh
# video_cli.sh: the `vbill template` / `vbill render` command-line contract: exit codes,
# messages naming the slot, the prepare cache, MP4 / HLS / single-segment outputs.
set -u
B=${VBILL_BUILDDIR:-.}
S=${VBILL_SRCDIR:-.}
VB="$B/examples/vbill"
command -v ffmpeg >/dev/null || { echo "ffmpeg CLI missing: cannot make a base video"; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$W/t"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=320x240:r=25:d=4 -c:v libx264 -preset ultrafast \
  "$W/t/base.mp4" || fail "ffmpeg"
cat >"$W/t/template.json" <<'J'
{"scenario":"mobile_new_home_new","video":"base.mp4","slots":[
 {"name":"period","text":"{{period_text}}","from":1,"to":2,"box":[10,180,300,40],"size":24,
  "color":"#FFFFFF","background":"#000000AA"}]}
J
sed -n 1p "$S/examples/data/subscribers.jsonl" >"$W/young.json"
sed -n 4p "$S/examples/data/subscribers.jsonl" >"$W/other.json"

"$VB" template check "$W/t" >/dev/null || fail "check of a good template"
"$VB" template --help >/dev/null || fail "template --help"
"$VB" render --help >/dev/null || fail "render --help"

# a malformed template: exit 2, the message names the slot
mkdir -p "$W/bad" && cp "$W/t/base.mp4" "$W/bad/"
sed 's/"#FFFFFF"/"#FFF"/' "$W/t/template.json" >"$W/bad/template.json"
"$VB" template check "$W/bad" 2>"$W/err" && fail "bad colour accepted"
[ $? -eq 2 ] || fail "bad template: exit code"
grep -q "slot 'period'" "$W/err" || fail "message does not name the slot: $(cat "$W/err")"

"$VB" template prepare "$W/t" >/dev/null 2>"$W/err" || fail "prepare: $(cat "$W/err")"
grep -q "prepared" "$W/err" || fail "prepare said: $(cat "$W/err")"
"$VB" template prepare "$W/t" >/dev/null 2>"$W/err" || fail "prepare again"
grep -q "cache hit" "$W/err" || fail "second prepare was not a cache hit: $(cat "$W/err")"

"$VB" render --template "$W/t" "$W/young.json" -o "$W/out.mp4" --hls "$W/hls" --speed 1 ||
  fail "render"
n=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
  -of csv=p=0 "$W/out.mp4")
[ "$n" = 100 ] || fail "MP4 has $n frames, not 100"
[ -f "$W/hls/index.m3u8" ] || fail "no playlist"
ls "$W/hls"/p*.ts >/dev/null 2>&1 || fail "no personal segment"

# a record of another scenario: exit 3, nothing written
"$VB" render --template "$W/t" "$W/other.json" -o "$W/no.mp4" 2>"$W/err" && fail "wrong scenario accepted"
[ $? -eq 3 ] || fail "wrong scenario: exit code"
grep -q "mobile_new_bundle" "$W/err" || fail "message: $(cat "$W/err")"
[ ! -e "$W/no.mp4" ] || fail "partial output left"
ls -a "$W" | grep -q '\.tmp-' && fail "temporary file left"

# no font that draws Hangul (fontconfig looking into an empty root): a clear error, no file
mkdir -p "$W/emptyroot"
FONTCONFIG_SYSROOT="$W/emptyroot" "$VB" render --template "$W/t" "$W/young.json" -o "$W/nofont.mp4" \
  --speed 1 2>"$W/err" && fail "render without fonts succeeded"
grep -q "no usable font" "$W/err" || fail "missing font message: $(cat "$W/err")"
[ ! -e "$W/nofont.mp4" ] || fail "partial output left without fonts"

# one personal segment on demand; a shared one is refused
seg=$(ls "$W/hls" | sed -n 's/^p0*\([0-9][0-9]*\)\.ts$/\1/p' | head -n 1)
"$VB" render --template "$W/t" "$W/young.json" --segment "$seg" -o "$W/one.ts" || fail "segment"
cmp -s "$W/one.ts" "$W/hls/$(printf 'p%05d.ts' "$seg")" || fail "on-demand segment differs"
"$VB" render --template "$W/t" "$W/young.json" --segment 0 -o "$W/zero.ts" 2>/dev/null &&
  fail "shared segment rendered as personal"
echo "video CLI contract: ok"
exit 0
