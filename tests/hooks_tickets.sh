#!/bin/sh
# hooks_tickets.sh: Zendesk and Request Tracker sinks against fake help desks on 127.0.0.1
# that check the published request shapes (auth header, Idempotency-Key, external_id,
# body fields, uploads).  The fakes lose the answer to the first creation of each ticket,
# so only the look-up by external_id (RT: the event-id custom field) before a retry keeps
# a second ticket from being made.  Chat questions carry a JPEG still of the frame.
set -u
B=${VBILL_BUILDDIR:-.}
S=${VBILL_SRCDIR:-.}
V="$B/examples/vbill"
RECV="$S/tests/servers/hookrecv.py"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the fake help desks"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vbill-tickets.XXXXXX")
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }
start_recv() {
    name=$1; shift
    python3 "$RECV" --port-file "$T/$name.port" --log "$T/$name.log" "$@" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/$name.port" ]; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "receiver $name did not start"; sleep 0.1
    done
    PORT=$(cat "$T/$name.port")
}
TOKEN="zd-$(python3 -c 'import secrets;print(secrets.token_hex(12))')"
RTTOKEN="rt-$(python3 -c 'import secrets;print(secrets.token_hex(12))')"
start_recv zd --kind zendesk --mode flaky --email agent@example.com --token "$TOKEN"
ZD=$PORT
start_recv rt --kind rt --mode flaky --token "$RTTOKEN"
RT=$PORT
SECRET="whsec_$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')"
start_recv wh --kind webhook --mode ok --secret "$SECRET"
WH=$PORT
cat > "$T/hooks.json" <<JSON
{"source": "urn:vbill:test", "retry_base_ms": 30, "retry_max_ms": 200, "lease_ms": 2000,
 "sinks": [
  {"type": "zendesk", "name": "zd", "url": "http://127.0.0.1:$ZD", "email": "agent@example.com",
   "token": "$TOKEN", "timeout_ms": 3000, "insecure": true,
   "tags": ["vbill", "{{data.scenario}}"],
   "custom_fields": [{"id": 360001, "value": "{{data.this_month}}"}]},
  {"type": "rt", "name": "rt", "url": "http://127.0.0.1:$RT/", "token": "$RTTOKEN",
   "queue": "Billing", "timeout_ms": 3000, "insecure": true,
   "custom_fields": {"Scenario": "{{data.scenario}}"}},
  {"type": "webhook", "name": "wh", "url": "http://127.0.0.1:$WH/hook", "secret": "$SECRET",
   "events": ["chat.requested"]}]}
JSON
export VBILL_HOOKS_CONFIG="$T/hooks.json" VBILL_STATE_DIR="$T/state"

# The desks' tokens never travel over plain http:// unless the configuration says
# "insecure": true (these fakes are on loopback without TLS).
sed 's/, "insecure": true//' "$T/hooks.json" > "$T/plain.json"
"$V" hooks --hooks "$T/plain.json" status > /dev/null 2> "$T/err"; [ $? -eq 2 ] ||
    fail "plain http:// accepted for a sink that sends credentials"
grep -q "'zd': \"url\" is plain http://" "$T/err" || fail "plain http:// message: $(cat "$T/err")"
grep -q "$TOKEN" "$T/err" && fail "the token was printed"

STILL=""
if command -v ffmpeg >/dev/null 2>&1; then
    ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=25:duration=3 -c:v mpeg4 \
        -y "$T/bill.mp4" && STILL="--still $T/bill.mp4 --position 1.5"
fi
REC="$T/record.json"
cat > "$REC" <<'JSON'
{"id":"S-000123","name":"김민수","birth":"1958-03-14","phone":"01012345678","locale":"ko-KR","currency":"KRW",
 "bill":{"issue_date":"2026-12-05","cycle_start":"2026-11-01","cycle_end":"2026-11-30","total":60960,"rounding_unit":10,"other_charges":[{"name":"USIM","amount":7700}]},
 "lines":[{"id":"L1","kind":"mobile","product":"5G 프리미어","event":"new","start":"2026-11-14","monthly_fee":85000,"discounts":[{"name":"선택약정 25%","amount":21250}],"device":{"model":"Galaxy S26","installment_monthly":45000,"months_left":24}},
          {"id":"L2","kind":"mobile","product":"5G 라이트","event":"new","start":"2026-11-14","monthly_fee":55000,"discounts":[{"name":"선택약정 25%","amount":13750}]}],
 "bundle":{"name":"참 쉬운 가족 결합","discount":11000,"start":"2026-11-14"},
 "benefits":["데이터 무제한"],"payment":{"method":"card","institution":"신한카드","account_last4":"1234","day":25}}
JSON
echo '{"question":"왜 이번 달 요금이 다음 달보다 적어요?","position":1.5,"priority":"high"}' > "$T/q.json"
: > "$T/ids"
# shellcheck disable=SC2086
"$V" hooks emit chat.requested --record "$REC" --link "https://v.example/b/abc" $STILL \
    "$T/q.json" >> "$T/ids" || fail "emit chat.requested"
echo '{"subscriber_id":"S-000123","flags":["total_mismatch"],"scenario":"mobile_new_bundle"}' > "$T/f.json"
"$V" hooks emit bill.flagged "$T/f.json" >> "$T/ids" || fail "emit bill.flagged"
echo '{"subscriber_id":"S-000123","reason":"10 failed checks"}' > "$T/l.json"
"$V" hooks emit auth.locked "$T/l.json" >> "$T/ids" || fail "emit auth.locked"
echo '{"subscriber_id":"S-000123","watched":0.5}' > "$T/v.json"
"$V" hooks emit bill.viewed "$T/v.json" > /dev/null || fail "emit bill.viewed"
"$V" hooks pump --until-empty --timeout 30 > /dev/null 2> "$T/err" ||
    { cat "$T/err"; fail "pump did not finish"; }
grep -q "$TOKEN\|$RTTOKEN" "$T/err" && fail "a token reached the log"

for desk in zd rt; do
python3 - "$T/$desk.log" "$T/ids" "$desk" "${STILL:+still}" <<'PY' || fail "$desk check"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
desk, still = sys.argv[3], sys.argv[4] == "still"
bad = [e for e in log if e.get("problems")]
if bad:
    sys.exit("%s: request shape problems: %s" % (desk, bad[:3]))
tickets = [e for e in log if e["kind"] == "ticket"]
made = [e["id"] for e in tickets]
if sorted(made) != sorted(ids):
    sys.exit("%s: tickets for %s, wanted one each for %s" % (desk, made, ids))
lookups = {e["id"] for e in log if e["kind"] == "lookup"}
if not set(ids) <= lookups:
    sys.exit("%s: retries did not look the ticket up first" % desk)
if still and not any(e.get("upload") for e in tickets):
    sys.exit("%s: the chat ticket has no still attached" % desk)
if desk == "zd" and still and not any(e["kind"] == "upload" for e in log):
    sys.exit("zd: no upload through the uploads API")
print("%s: %d tickets, one per event, after %d lost answers" % (desk, len(tickets),
      sum(1 for e in tickets if e.get("lost_answer"))))
PY
done
# a webhook gets the still inside the event's data (hookrecv.py decodes it)
python3 - "$T/wh.log" "${STILL:+still}" <<'PY' || fail "webhook check"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
bad = [e for e in log if e.get("problems") or not e.get("sig_ok")]
if bad or [e["type"] for e in log] != ["chat.requested"]:
    sys.exit("webhook: %s" % log)
still = log[0]["data"].get("still")
if sys.argv[2] == "still" and not (still and still["jpeg"] and still["bytes"] > 1000):
    sys.exit("webhook: no JPEG still in the data: %s" % log[0]["data"])
if log[0]["data"].get("question") != "왜 이번 달 요금이 다음 달보다 적어요?":
    sys.exit("webhook: the data lost the question: %s" % log[0]["data"])
print("webhook: chat.requested with its still (%s bytes)" % (still or {}).get("bytes"))
PY
"$V" hooks status | grep -q '"pending":0,"in_flight":0,"delivered":7,"dead":0' ||
    fail "status: $("$V" hooks status)"
echo "ok: Zendesk and RT tickets made once each, request shapes as published"
