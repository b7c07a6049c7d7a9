#!/bin/sh
# The command-line contract of vbill classify / fill (SPEC.md section 5).
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

"$VBILL" classify "$DATA" >"$tmp/out" 2>"$tmp/err"; check "sample exit" 3 $?
check "sample valid records" 31 "$(wc -l <"$tmp/out" | tr -d ' ')"
check "sample rejected records" 5 "$(wc -l <"$tmp/err" | tr -d ' ')"
check "stderr names line 21" 1 "$(grep -c 'line 21' "$tmp/err")"
check "all scenarios present" 8 "$(sed 's/.*"scenario":\([^,]*\),.*/\1/' "$tmp/out" | sort -u | wc -l | tr -d ' ')"

grep -v BAD "$DATA" | grep '"id"' | "$VBILL" fill - >"$tmp/fill" 2>"$tmp/err"; check "valid only exit" 0 $?
check "fill has amounts" 31 "$(grep -c '"amounts"' "$tmp/fill")"

"$VBILL" classify /nonexistent/file >/dev/null 2>"$tmp/err"; check "unreadable exit" 2 $?
check "unreadable message" 1 "$(grep -c 'cannot open' "$tmp/err")"
"$VBILL" classify --bogus >/dev/null 2>&1; check "unknown option exit" 2 $?
"$VBILL" classify a b >/dev/null 2>&1; check "two inputs exit" 2 $?
"$VBILL" classify --help >"$tmp/help"; check "help exit" 0 $?
check "help text" 1 "$(grep -c '^usage: vbill classify' "$tmp/help")"
"$VBILL" fill --help >/dev/null; check "fill help exit" 0 $?

echo '{"rules": [{"scenario": "x", "when": ["nope"]}]}' >"$tmp/rules.json"
"$VBILL" classify --rules "$tmp/rules.json" "$DATA" >/dev/null 2>"$tmp/err"; check "bad rules exit" 2 $?
check "bad rules message names position" 1 "$(grep -c 'rules\[0\].when\[0\]' "$tmp/err")"
echo '{"rules": [{"scenario": "everyone", "when": []}]}' >"$tmp/rules.json"
"$VBILL" classify --rules "$tmp/rules.json" "$DATA" 2>/dev/null | grep -c '"scenario":"everyone"' >"$tmp/n"
check "custom rules apply" 31 "$(cat "$tmp/n")"

# A line longer than the record limit is rejected alone, in bounded memory.
{ head -1 "$DATA"; printf '{"id":"LONG","name":"'; head -c 3000000 /dev/zero | tr '\0' 'a'; printf '"}\n'; head -2 "$DATA" | tail -1; } >"$tmp/long.jsonl"
"$VBILL" classify "$tmp/long.jsonl" >"$tmp/out" 2>"$tmp/err"; check "long line exit" 3 $?
check "records around the long line" 2 "$(wc -l <"$tmp/out" | tr -d ' ')"
check "long line named" 1 "$(grep -c 'line 2' "$tmp/err")"

# Blank lines and CRLF endings are fine.
{ head -1 "$DATA"; echo; head -1 "$DATA" | sed 's/$/\r/'; } | "$VBILL" classify - >"$tmp/out" 2>&1; check "blank/CRLF exit" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
