#!/bin/sh
# Same answers everywhere: the shared fill vectors through the C CLI, Python and Lua must give
# exactly the checked-in expected JSON, byte for byte.
set -u
B=$(cd "${VBILL_BUILDDIR:-.}" && pwd)
S=$(cd "${VBILL_SRCDIR:-.}" && pwd)
V="$S/tests/vectors"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
compare() { # name, output file, exit status
  if [ "$3" -eq 0 ] && cmp -s "$V/fill.expected.jsonl" "$2"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL: $1 (exit $3) differs from fill.expected.jsonl:"
    diff "$V/fill.expected.jsonl" "$2" | head -10
  fi
}
asan=$(ldd "$B/libvbill/.libs/libvbill.so.1" 2>/dev/null | awk '/libasan/ {print $3}')

"$B/examples/vbill" fill "$V/fill.jsonl" >"$tmp/c" 2>"$tmp/c.err"
compare "C (vbill fill)" "$tmp/c" $?

if command -v "${PYTHON3:-python3}" >/dev/null 2>&1; then
  for mode in "" --dict; do
    VBILL_LIBRARY="$B/libvbill/.libs/libvbill.so.1" PYTHONPATH="$S/bindings/python" \
      PYTHONDONTWRITEBYTECODE=1 LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0 \
      "${PYTHON3:-python3}" "$V/run_fill.py" $mode "$V/fill.jsonl" >"$tmp/py" 2>"$tmp/py.err"
    compare "Python $mode" "$tmp/py" $?
  done
else
  fail=$((fail + 1)); echo "FAIL: no python3"
fi

if [ -f "$B/bindings/lua/.libs/vbill.so" ]; then
  for mode in "" --table; do
    LUA_CPATH="$B/bindings/lua/.libs/?.so" LD_LIBRARY_PATH="$B/libvbill/.libs" \
      LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0 \
      "${LUA54:-lua5.4}" "$V/run_fill.lua" $mode "$V/fill.jsonl" >"$tmp/lua" 2>"$tmp/lua.err"
    compare "Lua $mode" "$tmp/lua" $?
  done
else
  echo "Lua module not built (no lua5.4 development files): Lua not compared"
fi
cat "$tmp"/*.err 2>/dev/null | head -5
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -ge 3 ]
