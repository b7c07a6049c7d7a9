#!/bin/sh
# The Lua module's TAP test, against this build's module and libvbill (not installed ones).
set -u
B=$(cd "${VBILL_BUILDDIR:-.}" && pwd)
S=$(cd "${VBILL_SRCDIR:-.}" && pwd)
LUA="${LUA54:-lua5.4}"
command -v "$LUA" >/dev/null 2>&1 || { echo "SKIP: no lua5.4 interpreter"; exit 77; }
export VBILL_SRCDIR="$S"
export LUA_CPATH="$B/bindings/lua/.libs/?.so"
export LD_LIBRARY_PATH="$B/libvbill/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# A sanitizer build: the interpreter is not instrumented, so the runtime must come first.
asan=$(ldd "$B/libvbill/.libs/libvbill.so.1" 2>/dev/null | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
  export LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
out=$("$LUA" "$S/bindings/lua/tests/test_vbill.lua" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || exit 1
printf '%s\n' "$out" | grep -q '^not ok' && exit 1
printf '%s\n' "$out" | grep -q '^1\.\.[1-9]' || { echo "no TAP plan: the test stopped early"; exit 1; }
exit 0
