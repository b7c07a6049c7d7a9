#!/bin/sh
# The birth date never appears in any output or message (issue 14 item 10): every rule
# failure of the birth field, through every command that reads records (classify, fill,
# link issue, render), with many malformed birth values.  Before the fix `vbill fill` printed
# "birth: '19580314' is not a real date".
set -u
VBILL="${VBILL_BUILDDIR:-.}/examples/vbill"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # description, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: expected '$2', got '$3'"; fi
}
unset VBILL_KEY_FILE VBILL_STATE_DIR VBILL_PEPPER VBILL_PEPPER_FILE
umask 077
"$VBILL" keygen --out "$tmp/keys.json" 2>/dev/null || "$VBILL" keygen >"$tmp/keys.json" 2>/dev/null

# A record whose id and other fields hold no digit run of the birth values below.
record() { # the birth member's JSON value
  printf '{"id":"S-ABC","name":"Kim","birth":%s,"bill":{"issue_date":"2026-12-05",' "$1"
  printf '"cycle_start":"2026-11-01","cycle_end":"2026-11-30"},"lines":[{"id":"L","kind":'
  printf '"mobile","product":"5G","event":"device_change","start":"2026-11-10",'
  printf '"monthly_fee":50000}]}\n'
}

# Malformed or refused birth values (JSON), one per line: wrong formats, impossible dates,
# after the issue date, odd spaces and characters, other types.
cat >"$tmp/values" <<'EOF'
"19580314"
"1958.03.14"
"1958/03/14"
"58-03-14"
"580314"
"1958-03-14T00:00:00Z"
"1958-3-14"
"1958-03-4"
" 1958-03-14"
"1958-03-14 "
"1958-02-30"
"1958-13-14"
"1958-00-14"
"1958-03-00"
"1958-03-32"
"1957-02-29"
"2958-03-14"
"2027-01-01"
"1958-03-14\n"
"1958-03-14\u0000"
"1958-03-1a"
"１９５８-03-14"
"-1958-03-14"
"+1958-03-14"
"19580-03-14"
"1958-03-14-01"
"14/03/1958"
"March 14, 1958"
19580314
1958
["1958-03-14"]
{"date":"1958-03-14"}
true
""
EOF

# Every digit run of 2+ digits in the value that could name a part of the date (year,
# YYMMDD, MMDD, YYYYMMDD), plus the value itself: none may appear in any output.
forbidden() { # value
  v=$(printf '%s' "$1" | sed 's/^"//; s/"$//')
  printf '%s\n' "$v"
  v=$(printf '%s' "$v" | sed 's/\\u[0-9a-fA-F]\{4\}//g; s/\\.//g') # JSON escapes are not digits of it
  digits=$(printf '%s' "$v" | tr -cd '0-9')
  [ ${#digits} -ge 4 ] && printf '%s\n' "$digits"
  printf '%s' "$v" | grep -o '[0-9][0-9][0-9][0-9]*' | awk 'length($0) >= 4'
  case "$digits" in
    ????????) printf '%s\n' "$(echo "$digits" | cut -c3-8)" "$(echo "$digits" | cut -c5-8)" ;;
  esac
}

n=0
while IFS= read -r value; do
  n=$((n + 1))
  record "$value" >"$tmp/rec.json"
  forbidden "$value" | grep -v '^$' | sort -u >"$tmp/forbidden"
  for cmd in classify fill issue render; do
    case $cmd in
      classify) "$VBILL" classify "$tmp/rec.json" >"$tmp/out" 2>"$tmp/err"; rc=$?; want=3 ;;
      fill) "$VBILL" fill "$tmp/rec.json" >"$tmp/out" 2>"$tmp/err"; rc=$?; want=3 ;;
      issue) "$VBILL" link issue "$tmp/rec.json" --key-file "$tmp/keys.json" >"$tmp/out" 2>"$tmp/err"; rc=$?; want=3 ;;
      render) "$VBILL" render --template "$tmp/no-template" "$tmp/rec.json" -o "$tmp/o.mp4" >"$tmp/out" 2>"$tmp/err"; rc=$?; want=3 ;;
    esac
    check "value $n ($value): $cmd refuses the record" "$want" "$rc"
    check "value $n: $cmd names the birth field" 1 "$(grep -c 'birth' "$tmp/err")"
    leaked=0
    [ -s "$tmp/forbidden" ] && leaked=$(cat "$tmp/out" "$tmp/err" | grep -F -c -f "$tmp/forbidden")
    check "value $n ($value): $cmd output holds no part of it" 0 "$leaked"
    [ "$leaked" -eq 0 ] || sed 's/^/    /' "$tmp/err"
  done
done <"$tmp/values"

# The same through standard input and as one of many lines: a good record still goes out,
# the bad one's line is named, the value is not.
{ head -1 "${VBILL_SRCDIR:-.}/examples/data/subscribers.jsonl"; record '"19580314"'; } >"$tmp/two.jsonl"
"$VBILL" fill - <"$tmp/two.jsonl" >"$tmp/out" 2>"$tmp/err"; check "two records: exit" 3 $?
check "two records: the good one filled" 1 "$(grep -c '"amounts"' "$tmp/out")"
check "two records: line 2 named" 1 "$(grep -c 'line 2' "$tmp/err")"
check "two records: no value" 0 "$(grep -c -e 19580314 -e 580314 -e 1958 "$tmp/err")"

echo "birth_private: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
