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

# The video bills: one built-in template per scenario (generated, prepared once, cached),
# then every valid subscriber's bill rendered from it (the slow variant for seniors).
echo
echo "== Video bills"
mkdir -p "$out/templates" "$out/videos" "$out/records"
[ -f "$out/keys.json" ] || { umask 077; "$VBILL" keygen >"$out/keys.json"; }
export VBILL_KEY_FILE="$out/keys.json" VBILL_STATE_DIR="$out/state"
mkdir -p "$VBILL_STATE_DIR"
python3 - "$DATA" "$out" <<'PY'
import json, sys
data, out = sys.argv[1], sys.argv[2]
for n, line in enumerate(open(data, encoding="utf-8"), 1):
    try:
        rec = json.loads(line)
        rid = rec["id"]
    except Exception:
        continue
    if all(c.isalnum() or c in "._-" for c in rid):
        with open(f"{out}/records/{rid}.json", "w", encoding="utf-8") as f:
            f.write(line)
PY
jobs=$(nproc 2>/dev/null || echo 2)
sed -n 's/.*"id":"\([^"]*\)","scenario":"\([^"]*\)".*/\1 \2/p' "$out/fill.jsonl" >"$out/targets.txt"
for scenario in $(cut -d' ' -f2 "$out/targets.txt" | sort -u); do
  dir="$out/templates/$scenario"
  [ -f "$dir/template.json" ] || "$VBILL" template builtin "$scenario" "$dir"
done
# Prepare the templates (H.264 with IDRs at the slot windows, the slow variant), two at a time.
ls -d "$out"/templates/*/ | xargs -P "$jobs" -I{} "$VBILL" template prepare {} >/dev/null
started=$(date +%s)
# Render every bill, two at a time; a bill already rendered is kept (a re-run skips it).
while read -r id scenario; do
  [ -s "$out/videos/$id.mp4" ] || echo "$out/templates/$scenario $out/records/$id.json $out/videos/$id.mp4"
done <"$out/targets.txt" | xargs -r -P "$jobs" -n 3 sh -c \
  'build/demo/examples/vbill render --template "$1" "$2" -o "$3" --speed auto || echo "render failed: $2"' _
rendered=$(ls "$out"/videos/*.mp4 2>/dev/null | wc -l)
echo "rendered $rendered video bills in $(( $(date +%s) - started )) s"

# A signed link and the SMS for each bill, and a page that lists them.
: >"$out/links.txt"
while read -r id scenario; do
  "$VBILL" link issue "$out/records/$id.json" --base-url "http://localhost:8080/v/" >"$out/records/$id.link" 2>/dev/null &&
    echo "$id $(head -n 1 "$out/records/$id.link")" >>"$out/links.txt"
done <"$out/targets.txt"
python3 - "$out" <<'PY'
import html, json, os, sys
out = sys.argv[1]
rows = []
for line in open(os.path.join(out, "fill.jsonl"), encoding="utf-8"):
    r = json.loads(line)
    if not r["scenario"]:
        continue
    link_file = os.path.join(out, "records", r["id"] + ".link")
    link, sms = "", ""
    if os.path.exists(link_file):
        parts = open(link_file, encoding="utf-8").read().split("\n", 1)
        link, sms = parts[0], parts[1].strip() if len(parts) > 1 else ""
    video = "videos/%s.mp4" % r["id"]
    have = os.path.exists(os.path.join(out, video))
    rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td><code>%s</code><br><small>%s</small></td></tr>" % (
        html.escape(r["id"]), html.escape(r["scenario"]), "%.1f" % r["speed"],
        html.escape(r["slots"].get("this_month", "")), html.escape(r["slots"].get("next_month", "")),
        '<video src="%s" controls width="320" preload="none"></video>' % video if have else "(not rendered)",
        html.escape(link), html.escape(sms)))
page = """<!doctype html><meta charset="utf-8"><title>libvbill sample video bills</title>
<style>body{font-family:sans-serif}td{border-top:1px solid #ccc;padding:4px;vertical-align:top}</style>
<h1>Sample video bills</h1><table><tr><th>id</th><th>scenario</th><th>speed</th><th>this month</th>
<th>next month</th><th>video</th><th>signed link and SMS</th></tr>%s</table>""" % "\n".join(rows)
with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as f:
    f.write(page)
PY
echo
echo "== Done"
echo "video bills:   $out/videos/ ($rendered MP4 files; seniors get the 0.8x variant)"
echo "signed links:  $out/links.txt (the SMS text is in $out/records/ID.link)"
echo "open this:     file://$out/index.html"
