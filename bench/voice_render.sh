#!/bin/sh
# voice_render.sh: what the voice adds to a bill's render, in CPU seconds (user + system of
# vbill and of the espeak-ng processes it runs), side by side with the same render without
# it (the same prepared template without its narration.json), for the built-in template of
# mobile_new_bundle in each locale; espeak-ng's own share; the sizes of what is stored.
# Then the cost of issue 18 item 5's two ways of showing a value: the label and panel with
# the value for its 6.5 s window (shipped), or the value for the whole scene (15.5 s), as
# still windows over a still picture.  Prints figures; never pass/fail.
#
# Usage: BUILDDIR=build/check bench/voice_render.sh [BILLS]   (default 6 bills per locale)
#        LOCALES="ko-KR ja-JP en-US" to choose the locales (default: all three)
#        TEMPLATES=STORE/templates to take the built-in templates a `vbill batch` store has
#        made and prepared (mobile_new_bundle.<locale>) instead of making them here
set -eu
B=${BUILDDIR:-build/dev}
S=$(cd "$(dirname "$0")/.." && pwd)
VBILL=$(cd "$B" && pwd)/examples/vbill
N=${1:-6}
LOCALES=${LOCALES:-"ko-KR ja-JP en-US"}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ESPEAK=$(command -v espeak-ng) || { echo "voice_render: espeak-ng not installed"; exit 1; }

# espeak-ng behind a wrapper that adds up its CPU seconds
mkdir -p "$T/bin"
cat >"$T/bin/espeak-ng" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$T/espeak.times" -f "%U %S" "$ESPEAK" "\$@"
EOF
chmod +x "$T/bin/espeak-ng"

cpu() { # cpu FILE: the sum of "user system" lines
  awk '{s += $1 + $2} END {printf "%.3f", s}' "$1" 2>/dev/null || echo 0
}
timed() { # timed TIMES_FILE command...: runs it, adds its CPU seconds to TIMES_FILE
  f=$1
  shift
  /usr/bin/time -a -o "$f" -f "%U %S" "$@" >/dev/null 2>>"$T/log" || { tail -3 "$T/log"; exit 1; }
}

# N bills of the worked record, amounts and dates varied (the same scenario)
python3 - "$S/tests/vectors/spec_example.json" "$N" >"$T/records.txt" <<'EOF'
import json, sys
rec = json.load(open(sys.argv[1], encoding="utf-8"))
for i in range(int(sys.argv[2])):
    r = json.loads(json.dumps(rec))
    r["id"] = "B-%03d" % i
    r["lines"][0]["monthly_fee"] = 85000 + 1370 * i
    r["lines"][1]["monthly_fee"] = 55000 + 990 * i
    r["lines"][0]["start"] = r["lines"][1]["start"] = "2026-11-%02d" % (2 + 3 * i % 27)
    r["bundle"]["start"] = r["lines"][0]["start"]
    r["bill"].pop("total", None)
    print(json.dumps(r, ensure_ascii=False))
EOF

echo "voice render benchmark: $N bills per locale of the built-in mobile_new_bundle (SPEC's"
echo "worked record, amounts varied); CPU = user + system of vbill and of espeak-ng"
echo
printf "%-6s %-22s %9s %9s %9s %11s %11s\n" locale "what" "no voice" "voice" "added" "espeak-ng" "bytes+"
for L in $LOCALES; do
  cur=$(echo "$L" | sed 's/ko-KR/KRW/; s/ja-JP/JPY/; s/en-US/USD/')
  D="$T/$L"
  rm -f "$T/espeak.times"
  if [ -n "${TEMPLATES:-}" ] && [ -d "$TEMPLATES/mobile_new_bundle.$L" ]; then
    cp -a "$TEMPLATES/mobile_new_bundle.$L" "$D"
    made=no
  else
    timed "$T/make.$L" env PATH="$T/bin:$PATH" "$VBILL" template builtin mobile_new_bundle "$D" --locale "$L"
    timed "$T/prep.$L" "$VBILL" template prepare "$D"
    made=yes
  fi
  make_espeak=$(cpu "$T/espeak.times")
  cp -a "$D" "$D-silent"
  rm "$D-silent/narration.json"
  rm -f "$T/espeak.times"
  i=0
  while IFS= read -r line; do
    i=$((i + 1))
    printf '%s\n' "$line" | python3 -c "
import json, sys
r = json.loads(sys.stdin.read()); r['locale'] = '$L'; r['currency'] = '$cur'
print(json.dumps(r, ensure_ascii=False))" >"$T/r.json"
    timed "$T/mp4v.$L" env PATH="$T/bin:$PATH" "$VBILL" render --template "$D" "$T/r.json" -o "$T/v.mp4" --speed 1
    timed "$T/mp4s.$L" "$VBILL" render --template "$D-silent" "$T/r.json" -o "$T/s.mp4" --speed 1
    rm -rf "$T/hv" "$T/hs"
    timed "$T/hlsv.$L" env PATH="$T/bin:$PATH" "$VBILL" render --template "$D" "$T/r.json" --hls "$T/hv" --speed 1
    timed "$T/hlss.$L" "$VBILL" render --template "$D-silent" "$T/r.json" --hls "$T/hs" --speed 1
    timed "$T/slowv.$L" env PATH="$T/bin:$PATH" "$VBILL" render --template "$D" "$T/r.json" -o "$T/v8.mp4" --speed 0.8
    timed "$T/slows.$L" "$VBILL" render --template "$D-silent" "$T/r.json" -o "$T/s8.mp4" --speed 0.8
    echo "$(stat -c %s "$T/v.mp4") $(stat -c %s "$T/s.mp4") $(cat "$T"/hv/p*.ts | wc -c) $(cat "$T"/hs/p*.ts | wc -c)" >>"$T/sizes.$L"
  done <"$T/records.txt"
  es=$(cpu "$T/espeak.times")
  for what in mp4 hls slow; do
    v=$(cpu "$T/${what}v.$L")
    s=$(cpu "$T/${what}s.$L")
    case $what in
      mp4) label="MP4 (normal)"; col=1 ;;
      hls) label="HLS personal segments"; col=3 ;;
      slow) label="MP4 (0.8, pitch kept)"; col=0 ;;
    esac
    bytes=$(awk -v c="$col" 'c > 0 {s += $c - $(c + 1)} END {printf "%d", (c > 0 ? s / NR : 0)}' "$T/sizes.$L")
    awk -v v="$v" -v s="$s" -v n="$N" -v l="$L" -v w="$label" -v b="$bytes" 'BEGIN {
      printf "%-6s %-22s %8.3fs %8.3fs %8.3fs %11s %11s\n", l, w, s / n, v / n, (v - s) / n, "", b }'
  done
  awk -v e="$es" -v n="$N" -v l="$L" 'BEGIN { printf "%-6s %-22s %9s %9s %9s %10.3fs\n", l,
    "espeak-ng, all renders", "", "", "", e / n }'
  [ "$made" = no ] || awk -v m="$(cpu "$T/make.$L")" -v p="$(cpu "$T/prep.$L")" -v e="$make_espeak" -v l="$L" 'BEGIN {
    printf "%-6s once per template: made in %.1f s (espeak-ng %.2f s of it), prepared in %.1f s\n",
    l, m, e, p }'
done
echo
echo "per bill: each figure is the mean over the bills; 'added' is what the voice costs (the"
echo "espeak-ng column is inside it: every render of a bill speaks its six sentences again);"
echo "bytes+ = bytes the voice adds to the MP4 / to the stored personal segments.  Budget 0.5 s."

# Item 5: a value for its window, or for the whole scene, as still windows
echo
L=$(echo "$LOCALES" | awk '{print $1}')
D="$T/$L-silent"
"$VBILL" template info "$D" >/dev/null
ffmpeg -v error -nostdin -ss 12 -i "$D/base.mp4" -frames:v 1 -y "$T/still.png"
mkdir -p "$T/win" "$T/scene"
ffmpeg -v error -nostdin -loop 1 -framerate 30 -i "$T/still.png" -f lavfi -i "sine=f=220:d=120,volume=0.1" \
  -t 120 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$T/win/base.mp4"
cp "$T/win/base.mp4" "$T/scene/base.mp4"
python3 - "$D/template.json" "$T" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1], encoding="utf-8"))
for name, frm, to in (("win", 4, 10.5), ("scene", 0.25, 15.75)):
    for i, s in enumerate(t["slots"]):
        s["from"], s["to"] = 10 + 16 * i + frm, 10 + 16 * i + to
    json.dump(t, open("%s/%s/template.json" % (sys.argv[2], name), "w"), ensure_ascii=False)
EOF
for w in win scene; do
  "$VBILL" template prepare "$T/$w" >/dev/null 2>&1
  : >"$T/item5.$w"
  while IFS= read -r line; do
    printf '%s\n' "$line" >"$T/r.json"
    rm -rf "$T/h5"
    timed "$T/item5.$w" "$VBILL" render --template "$T/$w" "$T/r.json" --hls "$T/h5" --speed 1
    cat "$T"/h5/p*.ts | wc -c >>"$T/bytes5.$w"
  done <"$T/records.txt"
done
echo "item 5, the value's picture (HLS personal segments over a still scene, no voice):"
for w in win scene; do
  if [ "$w" = win ]; then what="label, panel and value in the 6.5 s window"; else what="value for the whole 15.5 s scene"; fi
  awk -v c="$(cpu "$T/item5.$w")" -v n="$N" -v w="$what" 'BEGIN {
    printf "  %-44s %6.3f s per bill", w, c / n }'
  awk '{s += $1} END {printf ", %d bytes of personal segments\n", s / NR}' "$T/bytes5.$w"
done
