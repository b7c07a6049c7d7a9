#!/bin/bash
# bench/render_bench.sh: libvbill's splicing renderer against the obvious alternative, the
# ffmpeg command line burning the same texts with drawtext over a full re-encode (libx264
# preset veryfast), side by side in one run on the same reference template.
#
# Prints figures, never pass/fail.  Uses an already-built tree:
#   BUILDDIR=/path/to/build bench/render_bench.sh
# Environment: BUILDDIR (default ./), BENCH_DURATION (seconds of base video, default 120),
# BENCH_RUNS (renders in a row for the throughput figure, default 3), BENCH_DIR (work
# directory, default a fresh temporary one, removed at the end unless BENCH_KEEP=1),
# BENCH_FONT (font file for drawtext, default fontconfig's Noto Sans CJK KR),
# BENCH_SKIP_SLOW=1 (skip the 0.8x part), BENCH_ONLY_FFMPEG=1 (only the ffmpeg half: for
# checking the script where `vbill render` is not available).
set -euo pipefail

BUILDDIR=${BUILDDIR:-./}
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
VBILL="$BUILDDIR/examples/vbill"
DUR=${BENCH_DURATION:-120}
RUNS=${BENCH_RUNS:-3}
FONT=${BENCH_FONT:-$(fc-match -f '%{file}' 'Noto Sans CJK KR' 2>/dev/null || true)}
ONLY_FFMPEG=${BENCH_ONLY_FFMPEG:-0}

for tool in ffmpeg ffprobe python3 cc /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "render_bench: $tool is needed" >&2; exit 2; }
done
[ -x "$VBILL" ] || { echo "render_bench: $VBILL not found (set BUILDDIR)" >&2; exit 2; }
[ -n "$FONT" ] && [ -f "$FONT" ] || { echo "render_bench: no font file (set BENCH_FONT)" >&2; exit 2; }

if [ -n "${BENCH_DIR:-}" ]; then
  W=$BENCH_DIR; mkdir -p "$W"
else
  W=$(mktemp -d /tmp/vbill-bench.XXXXXX)
  [ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
fi
T="$W/template"
mkdir -p "$T"

# timed LABEL CMD...: runs CMD, records "user sys wall" in $W/LABEL.time (stdout/err kept).
timed() {
  local label=$1; shift
  /usr/bin/time -f "%U %S %e" -o "$W/$label.time" "$@" >"$W/$label.out" 2>"$W/$label.err" || {
    echo "render_bench: '$label' failed:" >&2; tail -n 5 "$W/$label.err" >&2; return 1; }
}
cpu_of() { awk '{printf "%.2f", $1 + $2}' "$W/$1.time"; }
wall_of() { awk '{printf "%.2f", $3}' "$W/$1.time"; }
bytes() { du -sb "$@" | awk '{s += $1} END {print s + 0}'; }

# ---- the record: SPEC.md's worked example (scenario mobile_new_bundle, aged 68) ----------
cat >"$W/record.json" <<'EOF'
{"id":"S-000123","name":"김민수","birth":"1958-03-14","phone":"01012345678","locale":"ko-KR","currency":"KRW","bill":{"issue_date":"2026-12-05","cycle_start":"2026-11-01","cycle_end":"2026-11-30","total":60960,"rounding_unit":10,"other_charges":[{"name":"USIM","amount":7700}]},"lines":[{"id":"L1","kind":"mobile","product":"5G 프리미어","event":"new","start":"2026-11-14","monthly_fee":85000,"discounts":[{"name":"선택약정 25%","amount":21250}],"device":{"model":"Galaxy S26","installment_monthly":45000,"months_left":24}},{"id":"L2","kind":"mobile","product":"5G 라이트","event":"new","start":"2026-11-14","monthly_fee":55000,"discounts":[{"name":"선택약정 25%","amount":13750}]}],"bundle":{"name":"참 쉬운 가족 결합","discount":11000,"start":"2026-11-14"},"benefits":["데이터 무제한"],"payment":{"method":"card","institution":"신한카드","account_last4":"1234","day":25}}
EOF
SCENARIO=$("$VBILL" classify "$W/record.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scenario"])')

# ---- the reference template: testsrc2 (motion everywhere) + AAC, six 4 s slots -----------
echo "render_bench: making a ${DUR} s 1280x720 30 fps reference base (testsrc2 + sine, AAC) in $W" >&2
ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=s=1280x720:r=30:d=$DUR" \
  -f lavfi -i "sine=f=440:sample_rate=48000:d=$DUR" -c:v libx264 -preset veryfast -crf 18 \
  -pix_fmt yuv420p -c:a aac -b:a 128k -shortest "$T/base.mp4"

# Windows spread evenly; boxes alternate between the top and the bottom of the picture.
python3 - "$T/template.json" "$SCENARIO" "$DUR" >"$W/slots.tsv" <<'EOF'
import json, sys
path, scenario, dur = sys.argv[1], sys.argv[2], float(sys.argv[3])
texts = ["{{{name_masked}}} 고객님, 첫 요금 안내입니다",
         "이용 기간 {{{period_text}}}",
         "이번 달 요금 {{{this_month_text}}}",
         "{{#lines}}{{{product}}} {{{prorated_text}}}{{^last}} · {{/last}}{{/lines}}",
         "다음 달부터 월 {{{next_month_text}}}",
         "납부 {{{payment_text}}}"]
names = ["greeting", "period", "this_month", "plan", "next_month", "payment"]
slots = []
for i in range(6):
    frm = round(dur * (i + 0.5) / 6 - 2)
    box = [100, 60 if i % 2 == 0 else 560, 1080, 96]
    slots.append({"name": names[i], "text": texts[i], "from": frm, "to": frm + 4, "box": box,
                  "size": 48, "color": "#FFFFFF", "background": "#00000099", "align": "left"})
    print("%d\t%d\t%d\t%d\t%d\t%d" % (frm, frm + 4, *box))
json.dump({"scenario": scenario, "video": "base.mp4", "slots": slots},
          open(path, "w"), ensure_ascii=False, indent=1)
EOF

# The same texts for drawtext: a helper renders the template's slot texts for the record.
LIBS="$BUILDDIR/libvbill/.libs"
cc -O2 -I"$SRCDIR/include" -I"$BUILDDIR/include" $(pkg-config --cflags libcjson) -o "$W/slot_texts" \
  "$SRCDIR/bench/slot_texts.c" -L"$LIBS" -Wl,-rpath,"$(cd "$LIBS" && pwd)" -lvbill \
  $(pkg-config --libs libcjson)
"$W/slot_texts" "$T/template.json" "$W/record.json" >"$W/texts.txt"

# The baseline's filter graph for speed s: the box background (#00000099 = black@0.6) over the
# whole box (overlay of a colour source: drawbox blends alpha wrongly in YUV), the text
# left-aligned with the rasteriser's padding (box_h/6, at most 16 px), vertically centred, in
# the window [from, to) of the (slowed) timeline.  Output label [vout].
filter_for() { # speed
  python3 - "$1" "$W" "$FONT" <<'EOF'
import sys
speed, w, font = float(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = [l.split("\t") for l in open(w + "/slots.tsv").read().split("\n") if l]
texts = open(w + "/texts.txt", encoding="utf-8").read().split("\n")
g = ["[0:v]%s[v0]" % ("setpts=PTS/%g" % speed if speed != 1 else "null")]
for i, r in enumerate(rows):
    frm, to, x, y, bw, bh = (float(v) for v in r)
    frm, to = frm / speed, to / speed
    tf = "%s/text%d.txt" % (w, i)
    open(tf, "w", encoding="utf-8").write(texts[i])
    en = "enable='gte(t,%.4f)*lt(t,%.4f)'" % (frm, to)
    pad = min(int(bh) // 6, 16)
    # The colour source runs at the (slowed) frame rate: at 30 fps against a 24 fps main it
    # would add frames off the 24 fps grid and misalign the SSIM comparison.
    g.append("color=c=black@0.6:s=%dx%d:r=%g,format=yuva420p[c%d]" % (bw, bh, 30 * speed, i))
    g.append("[v%d][c%d]overlay=x=%d:y=%d:shortest=1:%s[o%d]" % (i, i, x, y, en, i))
    g.append("[o%d]drawtext=fontfile='%s':textfile='%s':fontsize=48:fontcolor=white:"
             "x=%d:y=%d+(%d-th)/2:%s[%s]" % (i, font, tf, x + pad, y, bh, en,
                                              "vout" if i == len(rows) - 1 else "v%d" % (i + 1)))
print(";\n".join(g))
EOF
}
filter_for 1 >"$W/filter1.txt"
filter_for 0.8 >"$W/filter08.txt"

# ssim A B EXPR-OR-EMPTY: SSIM "All" of A against B over all frames or the selected ones.
ssim() {
  local sel=""
  [ -n "$3" ] && sel="select='$3',setpts=N/FRAME_RATE/TB,"
  ffmpeg -nostdin -hide_banner -i "$1" -i "$2" -lavfi \
    "[0:v]${sel}settb=AVTB[a];[1:v]${sel}settb=AVTB[b];[a][b]ssim" -f null - 2>&1 |
    grep -o 'All:[0-9.]*' | tail -n 1 | cut -d: -f2 || echo "n/a (no frames selected)"
}
windows_expr() { # speed
  awk -F'\t' -v s="$1" '{printf "%sbetween(t,%.4f,%.4f)", (NR > 1 ? "+" : ""), $1 / s, $2 / s - 0.001}' "$W/slots.tsv"
}

# ---- the baseline: ffmpeg drawtext + full re-encode, veryfast ------------------------------
echo "render_bench: ffmpeg baseline (drawtext, libx264 veryfast, audio copied)" >&2
timed ffmpeg1 ffmpeg -nostdin -y -i "$T/base.mp4" -filter_complex_script "$W/filter1.txt" \
  -map '[vout]' -map 0:a -c:v libx264 -preset veryfast -c:a copy "$W/b.mp4"

if [ "$ONLY_FFMPEG" = 1 ]; then
  echo "ffmpeg baseline: cpu $(cpu_of ffmpeg1) s, wall $(wall_of ffmpeg1) s, $(bytes "$W/b.mp4") bytes"
  echo "SSIM of the baseline against the base (slot windows): $(ssim "$W/b.mp4" "$T/base.mp4" "$(windows_expr 1)")"
  exit 0
fi

# ---- libvbill ------------------------------------------------------------------------
echo "render_bench: vbill template prepare (once per template)" >&2
timed prepare "$VBILL" template prepare "$T"
"$VBILL" template info "$T" >"$W/info.json"
echo "render_bench: vbill render (MP4, HLS)" >&2
timed vbill1 "$VBILL" render --template "$T" "$W/record.json" -o "$W/a.mp4" --speed 1
timed hls1 "$VBILL" render --template "$T" "$W/record.json" --hls "$W/hls" --speed 1

ss_all=$(ssim "$W/a.mp4" "$W/b.mp4" "")
ss_win=$(ssim "$W/a.mp4" "$W/b.mp4" "$(windows_expr 1)")
# Outside the windows: what the splice copies (the prepared base against the re-encode).
ss_out=$(ssim "$W/a.mp4" "$W/b.mp4" "not($(windows_expr 1))")

frames() { ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
dur_of() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }

mp4_a=$(bytes "$W/a.mp4"); mp4_b=$(bytes "$W/b.mp4")
hls_personal=$(bytes "$W/hls")
cache=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cache"])' "$W/info.json")
case "$cache" in /*) ;; *) cache="$PWD/$cache" ;; esac
hls_shared=$(bytes "$cache"/hls-normal 2>/dev/null || echo 0)
personal_frames=$(python3 -c '
import json,sys
i = json.load(open(sys.argv[1]))
p = sum(s[1] - s[0] for s in i["segments"] if s[2])
print("%d %d" % (p, i["frames"]))' "$W/info.json")

# ---- the slow (0.8x) variant ------------------------------------------------------------
if [ "${BENCH_SKIP_SLOW:-0}" != 1 ]; then
  echo "render_bench: 0.8x: vbill render --speed 0.8 and ffmpeg setpts/atempo re-encode" >&2
  timed vbill08 "$VBILL" render --template "$T" "$W/record.json" -o "$W/a08.mp4" --speed 0.8
  # -r 24 (30 fps slowed to 0.8x): without it the output keeps the 30 fps grid and its
  # timestamps are rounded onto it, pairing the wrong frames in the SSIM comparison.
  timed ffmpeg08 ffmpeg -nostdin -y -i "$T/base.mp4" -filter_complex_script "$W/filter08.txt" \
    -map '[vout]' -map 0:a -af atempo=0.8 -r 24 -c:v libx264 -preset veryfast \
    -c:a aac -b:a 128k "$W/b08.mp4"
  ss08_all=$(ssim "$W/a08.mp4" "$W/b08.mp4" "")
  ss08_win=$(ssim "$W/a08.mp4" "$W/b08.mp4" "$(windows_expr 0.8)")
fi

# ---- throughput: renders in a row ---------------------------------------------------------
echo "render_bench: $RUNS renders in a row" >&2
timed many bash -c 'for i in $(seq 1 "$1"); do "$2" render --template "$3" "$4" -o "$5/r$i.mp4" --speed 1 || exit 1; done' \
  many "$RUNS" "$VBILL" "$T" "$W/record.json" "$W"

# ---- report -----------------------------------------------------------------------------
python3 - "$W" "$DUR" "$RUNS" "$mp4_a" "$mp4_b" "$hls_personal" "$hls_shared" \
  "$ss_all" "$ss_win" "$ss_out" "${ss08_all:-}" "${ss08_win:-}" $personal_frames \
  "$(frames "$W/a.mp4")" "$(frames "$W/b.mp4")" "$(dur_of "$W/a.mp4")" \
  "$(nproc)" <<'EOF'
import os, sys
(w, dur, runs, mp4_a, mp4_b, hls_p, hls_s, ss_all, ss_win, ss_out, ss08_all, ss08_win,
 pframes, nframes, fa, fb, da, ncpu) = sys.argv[1:]
dur, runs = float(dur), int(runs)
mp4_a, mp4_b, hls_p, hls_s = int(mp4_a), int(mp4_b), int(hls_p), int(hls_s)
def t(label):
    p = os.path.join(w, label + ".time")
    if not os.path.exists(p):
        return None
    u, s, e = (float(x) for x in open(p).read().split()[-3:])
    return u + s, e
a, b, prep, hls = t("vbill1"), t("ffmpeg1"), t("prepare"), t("hls1")
a8, b8, many = t("vbill08"), t("ffmpeg08"), t("many")
print("libvbill render benchmark: %.0f s of 1280x720 30 fps testsrc2 + AAC, six 4 s slots"
      " (windows %.0f%% of the video), %s cores" % (dur, 100 * 24 / dur, ncpu))
print()
print("%-44s %10s %10s" % ("", "cpu s", "wall s"))
print("%-44s %10.2f %10.2f" % ("vbill template prepare (once per template)", *prep))
print("%-44s %10.2f %10.2f" % ("(a) vbill render -o a.mp4", *a))
print("%-44s %10.2f %10.2f" % ("(a) vbill render --hls", *hls))
print("%-44s %10.2f %10.2f" % ("(b) ffmpeg drawtext + libx264 veryfast", *b))
print("CPU ratio (b)/(a), MP4: %.1fx less CPU per video with libvbill (target >= 10x)"
      % (b[0] / a[0]))
if a8 and b8:
    print("%-44s %10.2f %10.2f" % ("(a) vbill render --speed 0.8", *a8))
    print("%-44s %10.2f %10.2f" % ("(b) ffmpeg setpts/atempo 0.8 + drawtext", *b8))
    print("CPU ratio at 0.8x: %.1fx" % (b8[0] / a8[0]))
print()
print("SSIM of (a) against (b), target >= 0.97:")
print("  whole video %s   slot windows %s   outside the windows %s" % (ss_all, ss_win, ss_out))
if ss08_all:
    print("  0.8x: whole video %s   slot windows %s" % (ss08_all, ss08_win))
print("frames: (a) %s, (b) %s; (a) duration %s s" % (fa, fb, da))
print()
print("bytes per customer:")
print("  MP4 (a) %d   MP4 (b) %d" % (mp4_a, mp4_b))
print("  HLS personal segments + playlist %d = %.1f%% of the full MP4 (a)"
      % (hls_p, 100.0 * hls_p / mp4_a))
print("  (shared HLS segments, stored once per template: %d bytes)" % hls_s)
print("  personal share of the HLS bytes %.1f%%; slot windows' share of the time %.1f%%;"
      " personal GOPs' share of the frames %.1f%% (target: within 5 points of the windows)"
      % (100.0 * hls_p / max(1, hls_p + hls_s), 100 * 24 / dur, 100.0 * int(pframes) / int(nframes)))
print()
if many:
    per = many[0] / runs
    print("throughput: %d renders in a row: %.2f cpu s, %.2f wall s -> %.2f cpu s per video,"
          " %.0f videos per CPU-hour" % (runs, many[0], many[1], per, 3600 / per))
    core_h = 500000 * per / 3600
    print("  500,000 videos a month = %.0f CPU-hours = %.1f cores busy around the clock"
          " (%.1f 8-core machines at 70%% load); the ffmpeg baseline would need %.0f CPU-hours"
          % (core_h, core_h / 720, core_h / 720 / 8 / 0.7, 500000 * b[0] / 3600))
EOF
