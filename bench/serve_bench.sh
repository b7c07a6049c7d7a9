#!/bin/sh
# bench/serve_bench.sh: vbill serve under 1,000 concurrent connections (wrk, loopback), for
# DURATION seconds (default 30): (1) one customer's playlist and segments with their session,
# (2) the check page.  Prints wrk's figures, the socket errors and unexpected statuses, the
# latency percentiles and the server's peak RSS.  Figures, never pass/fail.
#   BUILDDIR=build/dev bench/serve_bench.sh [DURATION] [CONNECTIONS]
set -eu
BUILDDIR=${BUILDDIR:-.}
SRC=$(cd "$(dirname "$0")/.." && pwd)
V="$BUILDDIR/examples/vbill"
D=${1:-30}
C=${2:-1000}
PAGE=${PAGE:-$SRC/examples/page}
command -v wrk >/dev/null || { echo "serve_bench: wrk is needed (Debian: wrk)"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n 8192
T=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT

# a store of bills made by vbill batch, on a 60-second 720p template
"$V" keygen --out "$T/keys.json" # created 0600 (keygen > FILE is refused under umask 022)
mkdir -p "$T/templates/any"
ffmpeg -nostdin -v error -f lavfi -i testsrc=size=1280x720:rate=30:duration=60 -f lavfi \
  -i sine=f=440:d=60 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest -y \
  "$T/templates/any/base.mp4"
cat >"$T/templates/any/template.json" <<'EOF'
{"scenario":"any","video":"base.mp4","slots":[
 {"name":"this_month","text":"{{{this_month_text}}}","from":10,"to":15,"box":[100,420,1080,112],"size":56,"color":"#FFFFFF"},
 {"name":"payment","text":"{{{payment_text}}}","from":40,"to":45,"box":[100,420,1080,112],"size":48,"color":"#FFFFFF"}]}
EOF
echo '{"rules":[{"scenario":"any","when":["m_any >= 0"]}]}' >"$T/rules.json"
grep '"S-0' "$SRC/examples/data/subscribers.jsonl" | head -n 4 >"$T/records.jsonl"
"$V" batch "$T/records.jsonl" --store "$T/store" --templates "$T/templates" --rules "$T/rules.json" \
  --key-file "$T/keys.json" --progress none >/dev/null 2>&1 || true
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$V" serve --store "$T/store" --listen "127.0.0.1:$PORT" --key-file "$T/keys.json" \
  --state "$T/state" --page "$PAGE" --insecure-cookies --quiet 2>"$T/serve.log" &
PID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$T/serve.log"; exit 1; }; sleep 0.1
done
LINK=$(head -n 1 "$T/store"/*/links.jsonl | python3 -c 'import json,sys,urllib.parse;print(urllib.parse.urlparse(json.load(sys.stdin)["url"]).path)')
ID=$(head -n 1 "$T/store"/*/links.jsonl | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
DIGITS=$(grep "\"$ID\"" "$T/records.jsonl" | python3 -c 'import json,sys;b=json.load(sys.stdin)["birth"];print(b[2:4]+b[5:7]+b[8:10])')
COOKIE=$(curl -s -D - -o /dev/null -d "digits=$DIGITS" "http://127.0.0.1:$PORT$LINK" | sed -n 's/^Set-Cookie: \(vbs=[^;]*\).*/\1/ip' | tr -d '\r')
PATHS=$(curl -s -b "$COOKIE" "http://127.0.0.1:$PORT$LINK/index.m3u8" | grep -v '^#' |
  sed "s|^p|$LINK/p|")
{
  echo "paths = {\"$LINK/index.m3u8\""
  for p in $PATHS; do echo ", \"$p\""; done
  echo "}"
  cat <<EOF
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Cookie"] = "$COOKIE"})
end
statuses = {}
response = function(status, headers, body)
  if status ~= 200 then statuses[status] = (statuses[status] or 0) + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
EOF
} >"$T/session.lua"
cat >"$T/check.lua" <<EOF
request = function() return wrk.format("GET", "$LINK") end
done = function(summary, latency, requests)
  io.write(string.format("p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
EOF
# warm: every personal segment rendered before the run
for p in $PATHS; do curl -s -o /dev/null -b "$COOKIE" "http://127.0.0.1:$PORT$p"; done
peak() { awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$PID/status"; }
echo "== 1. playlist + segments with a session: $C connections, ${D}s, $(nproc) cores"
wrk -t2 -c"$C" -d"${D}s" --timeout 10s -s "$T/session.lua" "http://127.0.0.1:$PORT" |
  grep -E 'Requests/sec|Transfer/sec|requests in|Non-2xx|p50|socket errors'
echo "server peak RSS: $(peak)"
echo "== 2. the check page: $C connections, ${D}s"
wrk -t2 -c"$C" -d"${D}s" --timeout 10s -s "$T/check.lua" "http://127.0.0.1:$PORT" |
  grep -E 'Requests/sec|Transfer/sec|requests in|Non-2xx|p50|socket errors'
echo "server peak RSS: $(peak)"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^vbill_http_requests_total' | head -n 20
