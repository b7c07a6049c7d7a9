#!/bin/sh
# The command-line contract of vbill keygen / vbill link (issue 4): exit codes, outputs, and
# the birth-date factor never appearing in any output, message or state file.
set -u
VBILL="${VBILL_BUILDDIR:-.}/examples/vbill"
DATA="${VBILL_SRCDIR:-.}/examples/data/subscribers.jsonl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # description, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: expected '$2', got '$3'"; fi
}
unset VBILL_KEY_FILE VBILL_STATE_DIR VBILL_BASE_URL

# The first sample record (S-000001, born 1988-11-02) and its digits.
head -1 "$DATA" >"$tmp/rec.json"
birth=$(sed 's/.*"birth": *"\([0-9-]*\)".*/\1/' "$tmp/rec.json")
digits=$(echo "$birth" | sed 's/^..\(..\)-\(..\)-\(..\)$/\1\2\3/')
check "digits derived" 6 "${#digits}"
wrong=000101
[ "$digits" = "$wrong" ] && wrong=000102
all="$tmp/all-output"   # every stdout and stderr, searched for the factor at the end
: >"$all"
run() { # runs vbill with args, stdin from $IN (or /dev/null); sets rc, out, err
  "$VBILL" "$@" <"${IN:-/dev/null}" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/out" "$tmp/err" >>"$all"
}

# keygen
umask 077
run keygen; check "keygen exit" 0 "$rc"
cp "$tmp/out" "$tmp/keys.json"
check "keygen is JSON with a signing key" 1 "$(grep -c '"signing"' "$tmp/keys.json")"
check "keygen has a pepper" 1 "$(grep -c '"pepper"' "$tmp/keys.json")"
run keygen --rotate "$tmp/keys.json"; check "keygen --rotate exit" 0 "$rc"
cp "$tmp/out" "$tmp/rotated.json"
check "rotated file keeps the old key" 2 "$(grep -c '"kid"' "$tmp/rotated.json")"
run keygen --help; check "keygen help" 0 "$rc"
run keygen --bogus; check "keygen bad option" 2 "$rc"

# keys are never on the command line; a missing key is a clear error
run link issue "$tmp/rec.json"; check "issue without keys" 2 "$rc"
check "missing key message" 1 "$(grep -c 'VBILL_KEY_FILE' "$tmp/err")"
run link verify AAAA --key-file "$tmp/nonexistent.json"; check "unreadable key file" 2 "$rc"
check "unreadable key file named" 1 "$(grep -c 'nonexistent.json' "$tmp/err")"
run link issue "$tmp/rec.json" --secret abc --key-file "$tmp/keys.json"; check "no --secret" 2 "$rc"

export VBILL_KEY_FILE="$tmp/keys.json" VBILL_STATE_DIR="$tmp/state"

# issue: URL on the first line, SMS text after it
run link issue "$tmp/rec.json" --base-url https://kt.co/v; check "issue exit" 0 "$rc"
url=$(head -1 "$tmp/out")
token=${url##*/}
check "URL base" "https://kt.co/v/$token" "$url"
check "SMS follows with the URL" 1 "$(tail -n +2 "$tmp/out" | grep -c "$token")"
check "short SMS fits 90 bytes EUC-KR" yes "$(tail -n +2 "$tmp/out" | iconv -f UTF-8 -t EUC-KR | wc -c | awk '{print ($1 <= 91) ? "yes" : "no"}')"
check "token has no subscriber id" 0 "$(echo "$token" | grep -c 'S-000001')"
run link issue "$tmp/rec.json" --ttl 2h; check "issue --ttl" 0 "$rc"
check "default base URL" 1 "$(head -1 "$tmp/out" | grep -c '^https://vbill.example/v/')"
run link issue "$tmp/rec.json" --ttl 0d; check "bad ttl" 2 "$rc"
run link issue "$tmp/nonexistent.json"; check "unreadable record" 2 "$rc"
echo '{"id":"BAD"}' >"$tmp/bad.json"
run link issue "$tmp/bad.json"; check "invalid record" 3 "$rc"
now=$(date +%s)
run link issue "$tmp/rec.json" --ttl 1h --now "$now"
short=$(head -1 "$tmp/out"); short=${short##*/}

# verify
run link verify "$token"; check "verify exit" 0 "$rc"
check "verify names the subscriber" 1 "$(grep -c '"subscriber":"S-000001"' "$tmp/out")"
run link verify "$url"; check "verify accepts the URL" 0 "$rc"
run link verify "$short" --now $((now + 3600)); check "expired" 5 "$rc"
check "expired says so" 1 "$(grep -c 'expired' "$tmp/err")"
run link verify "${token%?}"; check "truncated" 5 "$rc"
altered=$(echo "$token" | sed 's/^\(..........\)./\1A/')
[ "$altered" = "$token" ] && altered=$(echo "$token" | sed 's/^\(..........\)./\1B/')
run link verify "$altered"; check "altered" 5 "$rc"
run link verify 'not+base64'; check "malformed" 5 "$rc"
run link verify "$token" --key-file "$tmp/rotated.json"; check "old key verifies after rotation" 0 "$rc"
"$VBILL" keygen >"$tmp/other.json" 2>/dev/null
run link verify "$token" --key-file "$tmp/other.json"; check "another key file" 5 "$rc"
run link verify; check "verify without token" 2 "$rc"
run link --help; check "link help" 0 "$rc"
run link verify --help; check "verify help" 0 "$rc"
run link frobnicate x; check "unknown subcommand" 2 "$rc"

# check: 0 accepted (session token printed), 1 wrong, 4 locked, 5 bad link
echo "$digits" >"$tmp/right"; echo "$wrong" >"$tmp/wrong"
IN="$tmp/right" run link check "$token"; check "right digits" 0 "$rc"
check "session printed" 1 "$(grep -c '^[A-Za-z0-9_-]\{40,\}$' "$tmp/out")"
IN="$tmp/wrong" run link check "$token" --client 192.0.2.1; check "wrong digits" 1 "$rc"
IN="$tmp/right" run link check "$altered"; check "check altered link" 5 "$rc"
IN="$tmp/right" run link check "$token" --state ""; check "check without state" 2 "$rc"
for i in 2 3 4 5; do IN="$tmp/wrong" run link check "$token" --client "192.0.2.$i"; done
check "fifth wrong" 1 "$rc"
IN="$tmp/right" run link check "$token"; check "locked after five" 4 "$rc"
check "locked message" 1 "$(grep -c 'locked' "$tmp/err")"
# after the cooling period (a later clock), five more; then locked for good
later=$(( $(date +%s) + 1000 ))
for i in 1 2 3 4 5; do IN="$tmp/wrong" run link check "$token" --now "$later"; done
check "tenth wrong" 1 "$rc"
IN="$tmp/right" run link check "$token" --now $((later + 86400)); check "hard lock" 4 "$rc"
# the counters live in the state dir: a restart (new process) does not reset them
check "state file exists" yes "$([ -f "$tmp/state/vbill-state.sqlite" ] && echo yes)"
# re-issue (a new link) lets the customer in; the help desk can unlock the old one
run link issue "$tmp/rec.json"; new=$(head -1 "$tmp/out"); new=${new##*/}
IN="$tmp/right" run link check "$new"; check "re-issued link works" 0 "$rc"
run link unlock "$token"; check "unlock" 0 "$rc"
IN="$tmp/right" run link check "$token"; check "unlocked link works" 0 "$rc"

# the factor: never in any output or message, nor in the state files
for f in "$all" "$tmp/state"/*; do
  [ -f "$f" ] || continue
  check "no digits in $(basename "$f")" 0 "$(grep -c -a "$digits" "$f")"
  check "no birth date in $(basename "$f")" 0 "$(grep -c -a "$birth" "$f")"
done

echo "link_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
