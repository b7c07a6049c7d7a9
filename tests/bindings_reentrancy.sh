#!/bin/sh
# A hooks callback calling pump() on its own handle gets an error, never a hang (issue 14 item
# 12), in Python (BusyError, status VBILL_ERR_BUSY) and in Lua (nil, message, vbill.ERR_BUSY).
# Each runs under `timeout`: a hang is a failure.
set -u
B=$(cd "${VBILL_BUILDDIR:-.}" && pwd)
S=$(cd "${VBILL_SRCDIR:-.}" && pwd)
PY="${PYTHON3:-python3}"
LUA="${LUA54:-lua5.4}"
LIMIT="${VBILL_REENTRANCY_TIMEOUT:-30}"
pass=0
fail=0
export VBILL_LIBRARY="$B/libvbill/.libs/libvbill.so.1" VBILL_PYTHONPATH="$S/bindings/python"
export PYTHONDONTWRITEBYTECODE=1 LUA_CPATH="$B/bindings/lua/.libs/?.so"
export LD_LIBRARY_PATH="$B/libvbill/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# A sanitizer build: the interpreters are not instrumented, so the runtime must come first.
asan=$(ldd "$VBILL_LIBRARY" 2>/dev/null | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
  export LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
check() { # name, command...
  name=$1; shift
  timeout -k 5 "$LIMIT" "$@"
  rc=$?
  case $rc in
    0) pass=$((pass + 1)) ;;
    124|137) fail=$((fail + 1)); echo "FAIL: $name: hung (killed after $LIMIT s)" ;;
    *) fail=$((fail + 1)); echo "FAIL: $name: exit $rc" ;;
  esac
}
if command -v "$PY" >/dev/null 2>&1; then
  check "Python: pump() inside a callback" "$PY" "$S/bindings/python/tests/reentrancy.py"
else
  echo "note: no python3: the Python case not run"
fi
if [ -f "$B/bindings/lua/.libs/vbill.so" ] && command -v "$LUA" >/dev/null 2>&1; then
  check "Lua: hooks:pump() inside a callback" "$LUA" "$S/bindings/lua/tests/reentrancy.lua"
else
  echo "note: Lua module not built: the Lua case not run"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
