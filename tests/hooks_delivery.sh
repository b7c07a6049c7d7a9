#!/bin/sh
# hooks_delivery.sh: events reach a flaky webhook receiver on 127.0.0.1 exactly once after
# de-duplication by id, even when the pumping process is SIGKILLed mid-delivery and
# restarted; signatures check out with an independent implementation (Python hmac);
# only events whose deadline passed become dead letters, and they can be replayed.
set -u
B=${VBILL_BUILDDIR:-.}
S=${VBILL_SRCDIR:-.}
V="$B/examples/vbill"
RECV="$S/tests/servers/hookrecv.py"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the test receiver"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vbill-hooks.XXXXXX")
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

start_recv() { # NAME MODE [args]: starts a receiver, sets PORT
    name=$1; mode=$2; shift 2
    python3 "$RECV" --port-file "$T/$name.port" --log "$T/$name.log" --mode "$mode" "$@" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/$name.port" ]; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "receiver $name did not start"; sleep 0.1
    done
    PORT=$(cat "$T/$name.port")
}

SECRET="whsec_$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')"
start_recv flaky flaky --secret "$SECRET" --seed 7 --hang 2.5
cat > "$T/hooks.json" <<JSON
{"source": "urn:vbill:test", "retry_base_ms": 40, "retry_max_ms": 400, "lease_ms": 1500,
 "deadline_s": 120, "batch": 8,
 "sinks": [{"type": "webhook", "url": "http://127.0.0.1:$PORT/hooks", "secret": "$SECRET",
            "events": ["*"], "timeout_ms": 600}]}
JSON
export VBILL_HOOKS_CONFIG="$T/hooks.json" VBILL_STATE_DIR="$T/state"

# 1. Queue events of every type; each emit is durable when it prints its id.
N=0
: > "$T/ids"
for t in bill.generated bill.link_sent bill.viewed auth.failed auth.locked chat.requested \
         survey.answered bill.flagged; do
    : > "$T/data.jsonl"
    for i in 1 2 3 4 5 6 7 8 9 10; do
        N=$((N + 1))
        printf '{"subscriber_id":"S-%04d","score":%d,"comment":"ok","position":12.5,"birth":"1958-03-14","question":"q"}\n' \
            "$N" $((i % 5 + 1)) >> "$T/data.jsonl"
    done
    "$V" hooks emit --jsonl "$t" "$T/data.jsonl" >> "$T/ids" 2>/dev/null || fail "emit $t failed"
done
# one single emit, the common form
echo '{"subscriber_id":"S-9999","watched":0.75}' > "$T/data.json"
"$V" hooks emit bill.viewed "$T/data.json" >> "$T/ids" || fail "emit failed"
N=$((N + 1))
[ "$(sort -u "$T/ids" | wc -l)" -eq "$N" ] || fail "emit did not print $N distinct ids"
"$V" hooks status | grep -q "\"pending\":$N" || fail "status does not show $N pending"

# 2. Pump, SIGKILL the pumping process mid-delivery, twice, then restart to the end.
touch "$T/flaky.log"
for round in 1 2; do
    before=$(wc -l < "$T/flaky.log")
    "$V" hooks pump --until-empty --timeout 60 > /dev/null 2>&1 &
    P=$!
    # kill once the receiver has seen this process's requests: mid-batch, leases held
    i=0
    while [ "$(wc -l < "$T/flaky.log")" -lt $((before + 3)) ] && [ $i -lt 300 ]; do
        sleep 0.05; i=$((i + 1))
    done
    kill -9 "$P" 2>/dev/null
    wait "$P" 2>/dev/null
    "$V" hooks status > "$T/status.$round"
done
cat "$T/status.1" "$T/status.2" | grep -q '"in_flight":[1-9]' ||
    fail "no SIGKILL landed mid-delivery: $(cat "$T/status.1" "$T/status.2")"
"$V" hooks pump --until-empty --timeout 60 > "$T/pump.out" 2> "$T/pump.err" ||
    { cat "$T/pump.err"; fail "pump --until-empty did not empty the outbox"; }
"$V" hooks status > "$T/status.end"
grep -q "\"delivered\":$N" "$T/status.end" || fail "not all delivered: $(cat "$T/status.end")"
grep -q '"dead":0' "$T/status.end" || fail "dead letters without a passed deadline"

python3 - "$T/flaky.log" "$T/ids" <<'PY' || fail "receiver-side check"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
ids = set(l.strip() for l in open(sys.argv[2]) if l.strip())
bad = [e for e in log if e.get("problems")]
if bad:
    sys.exit("problems seen by the receiver: %s" % bad[:3])
acks = [e["id"] for e in log if e["status"] == 200]
got = set(acks)
if got != ids:
    sys.exit("lost %d, unexpected %d" % (len(ids - got), len(got - ids)))
acts = {e["act"] for e in log}
for need in ("500", "429", "close", "hang"):
    if need not in acts:
        sys.exit("the schedule never exercised " + need)
if not all(e["sig_ok"] for e in log):
    sys.exit("a signature did not verify")
print("receiver: %d requests, %d events acknowledged (%d duplicates removed), acts %s"
      % (len(log), len(got), len(acks) - len(got), sorted(acts)))
PY

# 3. Deadlines: a receiver that always fails; events die only once their deadline passed.
start_recv down fail --secret "$SECRET"
DOWN=$PORT
cat > "$T/down.json" <<JSON
{"retry_base_ms": 50, "retry_max_ms": 200, "deadline_ms": 1500,
 "sinks": [{"type": "webhook", "name": "down", "url": "http://127.0.0.1:$DOWN/h",
            "secret": "$SECRET", "timeout_ms": 500}]}
JSON
export VBILL_HOOKS_CONFIG="$T/down.json" VBILL_STATE_DIR="$T/state2"
for i in 1 2 3 4 5; do echo "{\"subscriber_id\":\"D-$i\"}"; done > "$T/d.jsonl"
echo '{"subscriber_id":"D-1"}' > "$T/d.json"
"$V" hooks emit --jsonl bill.viewed "$T/d.jsonl" > "$T/ids2" || fail "emit (down)"
"$V" hooks pump --until-empty --timeout 30 > /dev/null 2>&1 || fail "pump (down) did not finish"
"$V" hooks dead > "$T/dead"
[ "$(wc -l < "$T/dead")" -eq 5 ] || fail "expected 5 dead letters: $(cat "$T/dead")"
# no event died before its deadline (1.5 s after it was queued)
python3 - "$T/dead" <<'PY' || fail "an event died before its deadline"
import datetime, json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    if (t(d["died"]) - t(d["created"])).total_seconds() < 1.5 or d["attempts"] < 1:
        sys.exit("died early: %s" % d)
PY
grep -q '"sink":"down"' "$T/dead" && grep -q '"error":"down: POST: HTTP 500"' "$T/dead" ||
    fail "dead letters do not say why: $(head -1 "$T/dead")"
# Replay one, then the rest, after the receiver recovered.
curl -s -X POST --data ok "http://127.0.0.1:$DOWN/_mode" > /dev/null || fail "mode switch"
ONE=$(head -1 "$T/ids2")
"$V" hooks replay "$ONE" | grep -q '"replayed":1' || fail "replay ID"
"$V" hooks replay no-such-id > /dev/null 2>&1; [ $? -eq 20 ] || fail "replay of an unknown id"
"$V" hooks replay --all | grep -q '"replayed":4' || fail "replay --all"
"$V" hooks pump --until-empty --timeout 20 > /dev/null 2>&1 || fail "pump after replay"
"$V" hooks status | grep -q '"delivered":5,"dead":0' ||
    "$V" hooks status | grep -q '"dead":0,"delivered":5' || fail "replayed events not delivered"
[ ! -s "$T/dead2" ] || true
python3 - "$T/down.log" "$T/ids2" <<'PY' || fail "replayed events did not all arrive"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
ids = set(l.strip() for l in open(sys.argv[2]) if l.strip())
got = {e["id"] for e in log if e["status"] == 200}
sys.exit(0 if got == ids else "missing %s" % (ids - got))
PY

# 4. Usage errors are clear and non-zero.
"$V" hooks emit > /dev/null 2>&1; [ $? -eq 2 ] || fail "emit without arguments"
"$V" hooks emit NotAType "$T/d.json" > /dev/null 2> "$T/err"; [ $? -eq 2 ] || fail "bad type"
grep -q "dotted lowercase" "$T/err" || fail "bad type message: $(cat "$T/err")"
echo '{"subscriber_id":"S-1","score":9}' > "$T/s.json"
"$V" hooks emit survey.answered "$T/s.json" > /dev/null 2> "$T/err"; [ $? -eq 2 ] ||
    fail "survey score 9 accepted"
echo '{"sinks":[{"type":"webhook","url":"https://x","secret":"whsec_%%%"}]}' > "$T/bad.json"
"$V" hooks --hooks "$T/bad.json" status > /dev/null 2> "$T/err"; [ $? -eq 2 ] || fail "bad secret"
grep -q '%%%' "$T/err" && fail "the secret was printed"
# a guessable signing secret (16 bytes) and plain http:// to another machine are refused
echo '{"sinks":[{"type":"webhook","url":"https://x","secret":"whsec_c2hvcnQtc2hvcnQtc2hvcnQ="}]}' > "$T/bad.json"
"$V" hooks --hooks "$T/bad.json" status > /dev/null 2> "$T/err"; [ $? -eq 2 ] || fail "short secret"
grep -q "at least 24 random bytes" "$T/err" || fail "short secret message: $(cat "$T/err")"
echo "{\"sinks\":[{\"type\":\"webhook\",\"url\":\"http://hooks.example.com/x\",\"secret\":\"$SECRET\"}]}" > "$T/bad.json"
"$V" hooks --hooks "$T/bad.json" status > /dev/null 2> "$T/err"; [ $? -eq 2 ] ||
    fail "plain http:// to another machine accepted"
grep -q "plain http:// to another machine" "$T/err" || fail "plain http message: $(cat "$T/err")"
VBILL_STATE_DIR= "$V" hooks status > /dev/null 2>&1; [ $? -eq 2 ] || fail "no state dir"
"$V" hooks --help | grep -q "replay ID|--all" || fail "--help"
echo "ok: $N events delivered once after de-duplication, dead letters only past the deadline"
