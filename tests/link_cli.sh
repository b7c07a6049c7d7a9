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
unset VBILL_KEY_FILE VBILL_STATE_DIR VBILL_BASE_URL VBILL_PEPPER VBILL_PEPPER_FILE
# The clock is moved from outside the product (libfaketime), never by a switch of vbill.
command -v faketime >/dev/null || { echo "link_cli: faketime is missing (Debian package faketime)"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
AT=
at() { # seconds from now, then run's arguments: runs vbill with the clock moved
  AT=$1; shift; run "$@"; AT=
}

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
  if [ -n "$AT" ]; then
    faketime -f "+$AT" "$VBILL" "$@" <"${IN:-/dev/null}" >"$tmp/out" 2>"$tmp/err"
  else
    "$VBILL" "$@" <"${IN:-/dev/null}" >"$tmp/out" 2>"$tmp/err"
  fi
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
run link issue "$tmp/rec.json" --ttl 1h
short=$(head -1 "$tmp/out"); short=${short##*/}

# verify
run link verify "$token"; check "verify exit" 0 "$rc"
check "verify names the subscriber" 1 "$(grep -c '"subscriber":"S-000001"' "$tmp/out")"
run link verify "$url"; check "verify accepts the URL" 0 "$rc"
at 3601 link verify "$short"; check "expired" 5 "$rc"
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
IN="$tmp/right" run link check "$token" --client 198.51.100.1; check "right digits" 0 "$rc"
check "session printed" 1 "$(grep -c '^[A-Za-z0-9_-]\{40,\}$' "$tmp/out")"
IN="$tmp/wrong" run link check "$token" --client 192.0.2.1; check "wrong digits" 1 "$rc"
check "tries left" 1 "$(grep -c '4 more tries' "$tmp/err")"
IN="$tmp/right" run link check "$altered" --client 192.0.2.1; check "check altered link" 5 "$rc"
IN="$tmp/right" run link check "$token" --client 192.0.2.1 --state ""; check "check without state" 2 "$rc"
for i in 2 3 4 5; do IN="$tmp/wrong" run link check "$token" --client "192.0.2.$i"; done
check "fifth wrong" 1 "$rc"
IN="$tmp/right" run link check "$token" --client 198.51.100.1; check "locked after five" 4 "$rc"
check "locked message" 1 "$(grep -c 'locked' "$tmp/err")"
# after the cooling period (a later clock), five more; then locked for good
for i in 1 2 3 4 5; do IN="$tmp/wrong" at 1000 link check "$token" --client "192.0.2.$((i + 10))"; done
check "tenth wrong" 1 "$rc"
IN="$tmp/right" at 87400 link check "$token" --client 198.51.100.1; check "hard lock" 4 "$rc"
# the counters live in the state dir: a restart (new process) does not reset them
check "state file exists" yes "$([ -f "$tmp/state/vbill-state.sqlite" ] && echo yes)"
# issue 14 item 3: the ten failures are the subscriber's for the cycle: a new link brings no
# new guesses, and a help-desk unlock clears the link, not the subscriber's failures
run link issue "$tmp/rec.json"; new=$(head -1 "$tmp/out"); new=${new##*/}
IN="$tmp/wrong" run link check "$new" --client 198.51.100.2; check "a new link: no new guess" 4 "$rc"
IN="$tmp/right" run link check "$new" --client 198.51.100.2; check "a new link: locked" 4 "$rc"
check "a new link: the cycle's bound" 1 "$(grep -c 'over all its links' "$tmp/err")"
run link unlock "$token"; check "unlock" 0 "$rc"
IN="$tmp/right" run link check "$token" --client 198.51.100.2; check "unlock keeps the subscriber's bound" 4 "$rc"

# re-issue revokes the old link (a second subscriber)
sed -n 2p "$DATA" >"$tmp/rec2.json"
birth2=$(sed 's/.*"birth": *"\([0-9-]*\)".*/\1/' "$tmp/rec2.json")
echo "$birth2" | sed 's/^..\(..\)-\(..\)-\(..\)$/\1\2\3/' >"$tmp/right2"
run link issue "$tmp/rec2.json"; t2=$(head -1 "$tmp/out"); t2=${t2##*/}
IN="$tmp/right2" run link check "$t2" --client 198.51.100.3; check "second subscriber" 0 "$rc"
run link reissue "$t2" "$tmp/rec2.json" --base-url https://kt.co/v; check "reissue" 0 "$rc"
n2=$(head -1 "$tmp/out"); n2=${n2##*/}
check "reissue prints the new URL" 1 "$(head -1 "$tmp/out" | grep -c "^https://kt.co/v/$n2\$")"
check "reissue prints the SMS" 1 "$(tail -n +2 "$tmp/out" | grep -c "$n2")"
IN="$tmp/right2" run link check "$t2" --client 198.51.100.3; check "the old link is revoked" 5 "$rc"
check "revoked says so" 1 "$(grep -c 'revoked' "$tmp/err")"
run link verify "$t2"; check "verify sees the revocation" 5 "$rc"
IN="$tmp/right2" run link check "$n2" --client 198.51.100.3; check "the new link works" 0 "$rc"
run link reissue "$t2" "$tmp/rec2.json"; check "no reissue from a revoked link" 5 "$rc"
run link reissue "$n2" "$tmp/rec.json"; check "reissue for another subscriber" 2 "$rc"
run link reissue "$n2"; check "reissue needs a record" 2 "$rc"
run link revoke "$n2"; check "revoke" 0 "$rc"
IN="$tmp/right2" run link check "$n2" --client 198.51.100.3; check "a revoked link" 5 "$rc"

# issue 14 item 5: no default client (every caller was put in one bucket, "cli")
IN="$tmp/right" run link check "$token"; check "check without --client" 2 "$rc"
check "check without --client: says so" 1 "$(grep -c -e '--client' "$tmp/err")"
IN="$tmp/right" run link check "$token" --client ""; check "check with an empty --client" 2 "$rc"

# issue 14 item 8: the installed command has no clock switch (a future --now let the right
# digits into a locked link)
for sub in verify check unlock; do
  IN="$tmp/right" run link $sub "$token" --client 192.0.2.1 --now 1; check "no --now on link $sub" 2 "$rc"
  check "link $sub --now: unknown option" 1 "$(grep -c 'unknown option --now' "$tmp/err")"
done
run link issue "$tmp/rec.json" --now 1; check "no --now on link issue" 2 "$rc"
IN="$tmp/wrong" run link check "$new" --client 192.0.2.1 --now=99999999999; check "no --now=X either" 2 "$rc"

# issue 14 item 2: key files readable by others, reached through a symlink, or written
# under a careless umask are refused; keygen --out creates the file 0600, never over one
umask 022
run keygen --out "$tmp/k600.json"; check "keygen --out" 0 "$rc"
check "keygen --out mode" 600 "$(stat -c %a "$tmp/k600.json" 2>/dev/null)"
check "keygen --out prints no key" 0 "$(grep -c secret "$tmp/out")"
check "keygen --out file has the key" 1 "$(grep -c '"secret"' "$tmp/k600.json" 2>/dev/null)"
cp "$tmp/k600.json" "$tmp/k600.bak"
run keygen --out "$tmp/k600.json"; check "keygen --out over a file" 2 "$rc"
check "keygen --out left the file" same "$(cmp -s "$tmp/k600.json" "$tmp/k600.bak" && echo same)"
"$VBILL" keygen >"$tmp/k644.json" 2>"$tmp/err"; rc=$?
check "keygen > file under umask 022 refused" 2 "$rc"
check "no secret in the 0644 file" 0 "$(grep -c secret "$tmp/k644.json")"
check "keygen says how" 1 "$(grep -c -e '--out' "$tmp/err")"
"$VBILL" keygen 2>/dev/null | cat >"$tmp/piped.json"; check "keygen into a pipe" 1 "$(grep -c '"secret"' "$tmp/piped.json")"
chmod 644 "$tmp/k600.json"
run link verify "$token" --key-file "$tmp/k600.json"; check "0644 key file refused" 2 "$rc"
check "0644 key file: names it and the fix" 1 "$(grep -c "k600.json.*chmod 600" "$tmp/err")"
chmod 666 "$tmp/k600.json"
run link verify "$token" --key-file "$tmp/k600.json"; check "0666 key file refused" 2 "$rc"
chmod 600 "$tmp/k600.json"
ln -s "$tmp/k600.json" "$tmp/klink.json"
run link verify "$token" --key-file "$tmp/klink.json"; check "key file through a symlink refused" 2 "$rc"
check "symlink named" 1 "$(grep -c 'symlink' "$tmp/err")"
umask 077

# issue 14 item 2: the pepper kept apart from the key file
run keygen --out "$tmp/kp.json" --pepper-out "$tmp/pp.json"; check "keygen --pepper-out" 0 "$rc"
check "key file without pepper" 0 "$(grep -c pepper "$tmp/kp.json")"
check "pepper file" 1 "$(grep -c '"vbill_peppers"' "$tmp/pp.json")"
check "pepper file mode" 600 "$(stat -c %a "$tmp/pp.json")"
run link issue "$tmp/rec.json" --key-file "$tmp/kp.json"; check "issue without the pepper" 2 "$rc"
check "says the pepper is missing" 1 "$(grep -c 'no pepper' "$tmp/err")"
run link issue "$tmp/rec2.json" --key-file "$tmp/kp.json" --pepper-file "$tmp/pp.json"; check "issue with --pepper-file" 0 "$rc"
tp=$(head -1 "$tmp/out"); tp=${tp##*/}
run link verify "$tp" --key-file "$tmp/kp.json"; check "verify needs no pepper" 0 "$rc"
IN="$tmp/right" run link check "$tp" --key-file "$tmp/kp.json" --client 192.0.2.77; check "check without the pepper" 2 "$rc"
VBILL_PEPPER_FILE="$tmp/pp.json" IN="$tmp/wrong" run link check "$tp" --key-file "$tmp/kp.json" --client 192.0.2.77
check "check with VBILL_PEPPER_FILE" 1 "$rc"
VBILL_PEPPER="$(cat "$tmp/pp.json")" IN="$tmp/wrong" run link check "$tp" --key-file "$tmp/kp.json" --client 192.0.2.77
check "check with VBILL_PEPPER" 1 "$rc"
VBILL_PEPPER='{"vbill_peppers":1,"peppers":{}}' run link issue "$tmp/rec.json" --key-file "$tmp/kp.json"
check "a pepper set without the key's pepper" 2 "$rc"
check "names VBILL_PEPPER" 1 "$(grep -c 'VBILL_PEPPER' "$tmp/err")"
chmod 644 "$tmp/pp.json"
run link issue "$tmp/rec.json" --key-file "$tmp/kp.json" --pepper-file "$tmp/pp.json"; check "0644 pepper file refused" 2 "$rc"
check "0644 pepper file: the fix" 1 "$(grep -c 'chmod 600' "$tmp/err")"
chmod 600 "$tmp/pp.json"
run keygen --rotate "$tmp/kp.json" --pepper-file "$tmp/pp.json" --out "$tmp/kp2.json" --pepper-out "$tmp/pp2.json"
check "rotate with the peppers apart" 0 "$rc"
check "rotated pepper file holds both" 2 "$(grep -c '"[0-9a-f]\{4\}":' "$tmp/pp2.json")"
VBILL_PEPPER_FILE="$tmp/pp2.json" IN="$tmp/wrong" run link check "$tp" --key-file "$tmp/kp2.json" --client 192.0.2.77
check "old link after rotation" 1 "$rc"
run keygen --pepper-out "$tmp/x.json"; check "--pepper-out needs --out" 2 "$rc"

# issue 14 item 6: --redis takes a URL with a password and a database (and VBILL_REDIS_URL,
# which keeps the password off the command line)
for attempt in 1 2 3 4 5; do # a free port: another test may hold the first one tried
  rport=$((20000 + ($$ * 7 + attempt * 7919) % 40000))
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
    --requirepass "cli-pw" >/dev/null 2>&1 &
  rpid=$!
  up=no
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$rpid" 2>/dev/null || break
    redis-cli -p "$rport" -a cli-pw ping 2>/dev/null | grep -q PONG && { up=yes; break; }
    sleep 0.2
  done
  [ "$up" = yes ] && break
  kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
done
check "redis-server started" yes "$up"
run link issue "$tmp/rec2.json"; tr=$(head -1 "$tmp/out"); tr=${tr##*/}
IN="$tmp/wrong" run link check "$tr" --client 192.0.2.90 --redis "redis://:cli-pw@127.0.0.1:$rport/4"
check "check with --redis URL" 1 "$rc"
check "the password is not echoed" 0 "$(grep -c cli-pw "$tmp/err")"
IN="$tmp/wrong" VBILL_REDIS_URL="redis://:cli-pw@127.0.0.1:$rport/4" run link check "$tr" --client 192.0.2.90
check "check with VBILL_REDIS_URL" 1 "$rc"
check "counted in database 4" 2 "$(redis-cli -p "$rport" -a cli-pw -n 4 --scan --pattern 'vbill:l:*:f' 2>/dev/null | head -1 | xargs -r redis-cli -p "$rport" -a cli-pw -n 4 get 2>/dev/null)"
IN="$tmp/right2" run link check "$tr" --client 192.0.2.90 --redis "redis://127.0.0.1:$rport/4"
check "no password: a store error" 1 "$rc"
check "no password: says NOAUTH" 1 "$(grep -c NOAUTH "$tmp/err")"
run link check "$tr" --client 192.0.2.90 --redis "redis://:cli-pw@127.0.0.1:$rport/x"
check "a malformed --redis URL" 2 "$rc"
kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null

# the factor: never in any output or message, nor in the state files
for f in "$all" "$tmp/state"/*; do
  [ -f "$f" ] || continue
  check "no digits in $(basename "$f")" 0 "$(grep -c -a "$digits" "$f")"
  check "no birth date in $(basename "$f")" 0 "$(grep -c -a "$birth" "$f")"
done

echo "link_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
