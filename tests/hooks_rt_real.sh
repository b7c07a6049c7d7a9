#!/bin/sh
# hooks_rt_real.sh: the RT sink against a real Request Tracker 5 on 127.0.0.1 (Debian
# request-tracker5 + rt5-standalone + rt5-db-sqlite).  Slow (RT takes tens of seconds to
# start and to make a ticket on a busy machine), so it runs only with VBILL_TEST_RT=1;
# tests/hooks_tickets.sh checks the same REST2 request shapes against a fake in every run.
# Shows: a ticket per event, the still attached, the event id in the custom field, and no
# second ticket when the answer to the creation is lost (the client times out first).
set -u
B=${VBILL_BUILDDIR:-.}
V="$B/examples/vbill"
SERVER=/usr/share/request-tracker5/libexec/rt-server
[ "${VBILL_TEST_RT:-0}" = 1 ] || { echo "SKIP: set VBILL_TEST_RT=1 to test against a real RT"; exit 77; }
[ -x "$SERVER" ] || { echo "SKIP: rt5-standalone is not installed"; exit 77; }
command -v python3 >/dev/null && command -v curl >/dev/null || { echo "SKIP: python3, curl"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vbill-rt.XXXXXX")
RP=""
cleanup() { [ -n "$RP" ] && kill "$RP" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

cat > "$T/setup.pl" <<'PL'
use strict; use warnings;
use lib '/usr/share/request-tracker5/lib';
use RT; RT::LoadConfig(); RT::Init();
my $u = RT::User->new(RT->SystemUser); $u->Load('root');
my $cf = RT::CustomField->new(RT->SystemUser);
$cf->LoadByName(Name => 'vbill-event-id', LookupType => RT::Ticket->CustomFieldLookupType);
unless ($cf->id) {
  my ($ok, $msg) = $cf->Create(Name => 'vbill-event-id', Type => 'Freeform', MaxValues => 1,
     LookupType => RT::Ticket->CustomFieldLookupType);
  die "cf: $msg" unless $ok;
  ($ok, $msg) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
  die "cf: $msg" unless $ok;
}
my $t = RT::AuthToken->new(RT->SystemUser);
my ($ok, $msg, $auth) = $t->Create(Owner => $u->id, Description => 'vbill test');
die "token: $msg" unless $ok;
print "$auth\n";
PL
TOK=$(perl "$T/setup.pl" 2>/dev/null | tail -1)
[ -n "$TOK" ] || { echo "SKIP: cannot set RT up (database not writable?)"; exit 77; }
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$SERVER" --port "$PORT" > "$T/rt.log" 2>&1 &
RP=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/REST/2.0/"; do
    i=$((i + 1)); [ $i -gt 120 ] && fail "RT did not start"; sleep 1
done
cat > "$T/hooks.json" <<JSON
{"retry_base_ms": 8000, "retry_max_ms": 8000,
 "sinks": [{"type": "rt", "name": "rt", "url": "http://127.0.0.1:$PORT", "token": "$TOK",
            "queue": "General", "timeout_ms": 60000, "insecure": true}]}
JSON
sed 's/"timeout_ms": 60000/"timeout_ms": 2000/' "$T/hooks.json" > "$T/impatient.json"
ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=25:duration=3 -c:v mpeg4 \
    -y "$T/bill.mp4" || fail "ffmpeg"
echo '{"subscriber_id":"S-000123","question":"why is this month lower?","position":1.5,"scenario":"mobile_new_bundle"}' > "$T/q.json"
ID1=$("$V" hooks --hooks "$T/hooks.json" --state "$T/st" emit chat.requested "$T/q.json" \
      --still "$T/bill.mp4" --position 1.5) || fail "emit"
"$V" hooks --hooks "$T/hooks.json" --state "$T/st" pump --until-empty --timeout 120 ||
    fail "pump"
# the impatient client gives up before RT answers; the retry must find the ticket
ID2=$("$V" hooks --hooks "$T/impatient.json" --state "$T/st2" emit bill.flagged "$T/q.json")
"$V" hooks --hooks "$T/impatient.json" --state "$T/st2" pump --timeout 10 > /dev/null 2>&1
sleep 10
"$V" hooks --hooks "$T/hooks.json" --state "$T/st2" pump --until-empty --timeout 120 ||
    fail "pump after the lost answer"
for id in "$ID1" "$ID2"; do
    q=$(python3 -c "import urllib.parse,sys;print(urllib.parse.quote(\"'CF.{vbill-event-id}'='$id'\"))")
    n=$(curl -s -H "Authorization: token $TOK" "http://127.0.0.1:$PORT/REST/2.0/tickets?query=$q" |
        python3 -c 'import sys,json;print(json.load(sys.stdin)["count"])')
    [ "$n" = 1 ] || fail "event $id made $n tickets"
done
echo "ok: real RT: one ticket per event, also after a lost answer"
