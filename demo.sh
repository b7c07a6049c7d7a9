#!/bin/sh
# demo.sh: installs the Debian packages, builds libvbill and runs the main job on the shipped
# sample subscribers: a summary per scenario and the rejected records, the month's run into a
# bill store (vbill batch: the built-in templates, every valid subscriber's video bill, links
# and SMS texts), then the viewer (vbill serve) on http://localhost:8080 with a few links and
# the six digits to try them with.  Interactive: it serves until Ctrl-C.  Otherwise (CI, a
# pipe) it checks one link answers and stops, unless DEMO_SERVE_SECONDS says how long to serve.
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
PORT=${DEMO_PORT:-8080}

echo
echo "== Sample subscribers ($DATA): scenarios"
build/demo/examples/scenario_counts "$DATA" || true
out="$top/out"
mkdir -p "$out"
[ -f "$out/keys.json" ] || (umask 077 && "$VBILL" keygen >"$out/keys.json" 2>/dev/null)
chmod 600 "$out/keys.json"

echo
echo "== The month's run: vbill batch (built-in templates, made once; a re-run skips what is done)"
started=$(date +%s)
rc=0
"$VBILL" batch "$DATA" --store "$out/store" --key-file "$out/keys.json" --mp4 \
  --base-url "http://localhost:$PORT/v/" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { echo "vbill batch failed ($rc)"; exit 1; }
echo "in $(( $(date +%s) - started )) s"
"$VBILL" batch status --store "$out/store"

# A few links to try, with their digits (the sample's birth dates: fictional people).
python3 - "$DATA" "$out/store" <<'PY'
import glob, json, sys
data, store = sys.argv[1], sys.argv[2]
births = {}
for line in open(data, encoding="utf-8"):
    try:
        r = json.loads(line)
        births[r["id"]] = r["birth"]
    except Exception:
        pass
links = []
for p in sorted(glob.glob(store + "/*/links*.jsonl")):
    links += [json.loads(l) for l in open(p, encoding="utf-8")]
print("\n== %d video bills; some links to open (digits: the birth date's YYMMDD)" % len(links))
for l in links[:5]:
    b = births.get(l["id"], "")
    print("  %s  digits %s\n    SMS: %s" % (l["url"], b[2:4] + b[5:7] + b[8:10], l["sms"]))
print("every link and SMS: %s/<cycle>/links.jsonl; rejected records: rejected.jsonl" % store)
if links:  # the first one, for the check below
    b = births.get(links[0]["id"], "")
    with open(store + "/../demo-link.txt", "w") as f:
        f.write("%s %s\n" % (links[0]["url"], b[2:4] + b[5:7] + b[8:10]))
PY

serve() {  # exec: run in the background, the subshell becomes the server (kill stops it)
  exec "$VBILL" serve --store "$out/store" --listen "127.0.0.1:$PORT" --key-file "$out/keys.json" \
    --state "$out/state" --base-url "http://localhost:$PORT/v/" --insecure-cookies \
    --page "$top/examples/page" --quiet "$@"
}
echo
if [ -t 0 ] && [ -t 1 ] && [ -z "${DEMO_SERVE_SECONDS:-}" ]; then
  echo "== The viewer: open a link above (this plain-HTTP demo sends cookies without Secure)."
  echo "   Ctrl-C stops it."
  serve
else
  serve &
  pid=$!
  read -r url digits < "$out/demo-link.txt"
  i=0
  until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
  done
  # The link as a browser walks it: the check page, the six digits (a session cookie and
  # the watch page), the page's script, the video's playlist and its first segment.
  jar="$out/demo-cookies.txt"
  rm -f "$jar"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
  post=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" --data "digits=$digits" "$url" || true)
  watch=$(curl -s -b "$jar" "$url/watch" || true)
  js=$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$PORT/static/watch.js" || true)
  pl=$(curl -s -b "$jar" "$url/index.m3u8" || true)
  seg=$(printf '%s\n' "$pl" | grep -v '^#' | head -n 1)
  case "$seg" in http*) ;; /*) seg="http://localhost:$PORT$seg" ;; *) seg="$url/$seg" ;; esac
  segcode=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "$seg" || true)
  rm -f "$jar"
  echo "== The viewer on $url:"
  echo "   check page $code; digits: $post; watch page $(printf '%s' "$watch" | grep -c 'id="bill-data"') page data;"
  echo "   watch.js $js; playlist $(printf '%s' "$pl" | grep -c EXTINF) segments; first segment $segcode"
  sleep "${DEMO_SERVE_SECONDS:-0}"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$code" = 200 ] && [ "${post%% *}" = 303 ] && [ "$segcode" = 200 ] ||
    { echo "demo: the link does not work with the page"; exit 1; }
fi
