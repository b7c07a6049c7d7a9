#!/bin/sh
# The Python binding's unittest suite, against this build's libvbill (not an installed one).
set -u
B=$(cd "${VBILL_BUILDDIR:-.}" && pwd)
S=$(cd "${VBILL_SRCDIR:-.}" && pwd)
PY="${PYTHON3:-python3}"
command -v "$PY" >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
export VBILL_LIBRARY="$B/libvbill/.libs/libvbill.so.1"
export VBILL_SRCDIR="$S"
export PYTHONDONTWRITEBYTECODE=1
# A sanitizer build: python is not instrumented, so the runtime must be loaded first.
asan=$(ldd "$VBILL_LIBRARY" 2>/dev/null | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
  export LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
cd "$S/bindings/python" && exec "$PY" -m unittest discover -s tests -v
