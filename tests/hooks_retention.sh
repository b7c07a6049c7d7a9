#!/bin/sh
# hooks_retention.sh: what the outbox keeps, and how openly, seen from outside with the
# vbill command: its files are 0600 even in an existing folder under umask 022; events
# delivered or dead longer ago than "retention_days" are deleted (JPEG stills with them)
# by `vbill hooks purge` and by the pump, and leave no trace in the files; events still to
# deliver are kept; data nested past the birth-date filter's 64 levels is refused, not
# stored.
set -u
B=${VBILL_BUILDDIR:-.}
S=${VBILL_SRCDIR:-.}
V="$B/examples/vbill"
RECV="$S/tests/servers/hookrecv.py"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the test receiver"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vbill-retention.XXXXXX")
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }
start_recv() { # NAME MODE: starts a webhook receiver, sets PORT
    python3 "$RECV" --port-file "$T/$1.port" --log "$T/$1.log" --mode "$2" --secret "$SECRET" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/$1.port" ]; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "receiver $1 did not start"; sleep 0.1
    done
    PORT=$(cat "$T/$1.port")
}
mode_of() { stat -c %a "$1"; }
# how many files of the state folder hold the text $2 (grep -a: SQLite files are binary)
traces() { grep -alF "$2" "$1"/* 2>/dev/null | wc -l; }

umask 022
SECRET="whsec_$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')"
start_recv ok ok
OK=$PORT
start_recv down fail
DOWN=$PORT
# retention 0.00005 days = 4.3 s; deliveries to "down" die after 0.8 s
cat > "$T/hooks.json" <<JSON
{"retention_days": 0.00005, "deadline_ms": 800, "retry_base_ms": 50, "retry_max_ms": 100,
 "sinks": [{"type": "webhook", "name": "ok", "url": "http://127.0.0.1:$OK/h", "secret": "$SECRET",
            "events": ["chat.*", "bill.viewed"]},
           {"type": "webhook", "name": "down", "url": "http://127.0.0.1:$DOWN/h",
            "secret": "$SECRET", "events": ["bill.flagged"]}]}
JSON
export VBILL_HOOKS_CONFIG="$T/hooks.json" VBILL_STATE_DIR="$T/state"
mkdir -m 0755 "$T/state"

# 1. Files made 0600 in a folder that already exists, under umask 022.
echo '{"subscriber_id":"S-1","question":"MARKER-QUESTION-7731","position":1.5}' > "$T/q.json"
STILL=""
if command -v ffmpeg >/dev/null 2>&1; then
    ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=25:duration=2 -c:v mpeg4 \
        -y "$T/bill.mp4" && STILL="--still $T/bill.mp4 --position 1.5"
fi
# shellcheck disable=SC2086
"$V" hooks emit chat.requested $STILL "$T/q.json" > /dev/null || fail "emit chat.requested"
[ "$(mode_of "$T/state/outbox.sqlite")" = 600 ] ||
    fail "outbox.sqlite is $(mode_of "$T/state/outbox.sqlite"), not 600"
echo '{"subscriber_id":"S-2","reason":"MARKER-FLAGGED-7731"}' > "$T/f.json"
"$V" hooks emit bill.flagged "$T/f.json" > /dev/null || fail "emit bill.flagged"
echo '{"subscriber_id":"S-3","watched":"MARKER-VIEWED-7731"}' > "$T/v.json"
"$V" hooks emit bill.viewed "$T/v.json" > /dev/null || fail "emit bill.viewed"
# the -wal and -shm files of a running process are 0600 too
"$V" hooks pump --until-empty --timeout 20 > /dev/null 2>&1 &
P=$!
i=0
while [ ! -e "$T/state/outbox.sqlite-wal" ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
for f in "$T/state/outbox.sqlite-wal" "$T/state/outbox.sqlite-shm"; do
    [ ! -e "$f" ] || [ "$(mode_of "$f")" = 600 ] || fail "$(basename "$f") is $(mode_of "$f")"
done
wait $P || fail "pump did not deliver (or dead-letter) everything"
"$V" hooks status | grep -q '"delivered":2,"dead":1' || fail "status: $("$V" hooks status)"
[ "$(traces "$T/state" MARKER-QUESTION-7731)" -ge 1 ] || fail "the question is not in the outbox"
if [ -n "$STILL" ]; then
    # the still's JPEG bytes: its last 32 bytes, as the outbox stores them
    python3 -c "import sqlite3,sys;b=sqlite3.connect(sys.argv[1]).execute('select attachment from events where attachment is not null').fetchone()[0];open(sys.argv[2],'wb').write(b[-64:])" \
        "$T/state/outbox.sqlite" "$T/jpeg.tail" || fail "no still stored"
fi

# 2. Before the retention period nothing goes; after it `vbill hooks purge` deletes the
#    delivered and the dead events, stills included, and no trace is left in the files.
"$V" hooks purge | grep -q '"purged":0' || fail "purged before the retention period"
sleep 5
"$V" hooks purge > "$T/purge.out" || fail "vbill hooks purge failed"
grep -q '"purged":3' "$T/purge.out" || fail "purge: $(cat "$T/purge.out")"
"$V" hooks status | grep -q '"events":0,' || fail "events left: $("$V" hooks status)"
"$V" hooks dead | grep -q . && fail "dead letters left after the purge"
for m in MARKER-QUESTION-7731 MARKER-FLAGGED-7731 MARKER-VIEWED-7731; do
    [ "$(traces "$T/state" $m)" -eq 0 ] || fail "$m is still in the outbox files"
done
if [ -n "$STILL" ]; then
    python3 - "$T/state" "$T/jpeg.tail" <<'PY' || fail "the still's bytes are still in the outbox files"
import os, sys
tail = open(sys.argv[2], "rb").read()
for f in os.listdir(sys.argv[1]):
    if tail in open(os.path.join(sys.argv[1], f), "rb").read():
        sys.exit(f)
PY
fi

# 3. The pump purges too (at its first round in a process).
"$V" hooks emit bill.viewed "$T/v.json" > /dev/null || fail "emit"
"$V" hooks pump --until-empty --timeout 20 > /dev/null 2>&1 || fail "pump"
sleep 5
"$V" hooks pump > /dev/null 2>&1 || fail "pump"
"$V" hooks status | grep -q '"events":0,' || fail "the pump did not purge: $("$V" hooks status)"

# 4. What is still to deliver is kept, however old.
sed 's/"deadline_ms": 800/"deadline_ms": 600000/' "$T/hooks.json" > "$T/slow.json"
"$V" hooks --hooks "$T/slow.json" emit bill.flagged "$T/f.json" > /dev/null || fail "emit"
"$V" hooks --hooks "$T/slow.json" pump > /dev/null 2>&1
sleep 5
"$V" hooks --hooks "$T/slow.json" purge | grep -q '"purged":0' || fail "a pending event was purged"
"$V" hooks status | grep -q '"events":1,"pending":1' || fail "status: $("$V" hooks status)"

# 5. An outbox an older version left 0644 is made 0600.
chmod 0644 "$T/state/outbox.sqlite"
"$V" hooks status > /dev/null || fail "status"
[ "$(mode_of "$T/state/outbox.sqlite")" = 600 ] || fail "a 0644 outbox was left as it was"

# 6. Data nested deeper than the birth-date filter looks is refused, not stored.
python3 -c '
import json
d = {"birth": "1958-03-14"}
for i in range(70):
    d = {"x": d}
d["subscriber_id"] = "S-4"
print(json.dumps(d))' > "$T/deep.json"
"$V" hooks emit bill.viewed "$T/deep.json" > /dev/null 2> "$T/err"; [ $? -eq 2 ] ||
    fail "data nested 71 levels deep was accepted"
grep -q "nested deeper than 64 levels" "$T/err" || fail "deep data message: $(cat "$T/err")"
[ "$(traces "$T/state" 1958-03-14)" -eq 0 ] || fail "the birth date reached the outbox"
# within the limit, the member is removed and the rest kept
python3 -c '
import json
d = {"birth_date": "1958-03-14", "kept": "yes"}
for i in range(60):
    d = {"x": d}
d["subscriber_id"] = "S-5"
print(json.dumps(d))' > "$T/deep60.json"
"$V" hooks emit bill.viewed "$T/deep60.json" > /dev/null 2>&1 || fail "data 61 levels deep refused"
[ "$(traces "$T/state" 1958-03-14)" -eq 0 ] || fail "the birth date reached the outbox"

# 7. Usage.
"$V" hooks --hooks /dev/null purge > /dev/null 2>&1; [ $? -eq 2 ] || fail "purge with a bad config"
echo '{"retention_days": 0, "sinks": []}' > "$T/bad.json"
"$V" hooks --hooks "$T/bad.json" purge > /dev/null 2> "$T/err"; [ $? -eq 2 ] ||
    fail "retention_days 0 accepted"
grep -q retention_days "$T/err" || fail "retention message: $(cat "$T/err")"
"$V" hooks --help | grep -q "purge" || fail "--help does not name purge"
echo "ok: outbox files 0600, delivered and dead events purged without a trace, pending kept, deep data refused"
