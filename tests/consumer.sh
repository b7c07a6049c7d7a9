#!/bin/sh
# A third-party C program, outside the tree, built against the installed library with only
# `pkg-config --cflags --libs libvbill` (shared), and `pkg-config --static` (static archive).
set -u
B="${VBILL_BUILDDIR:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The staged install that `make check` makes before the tests (DESTDIR=tests/installed).
${MAKE:-make} -s -C "$B" tests/installed.stamp >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "0 passed, 1 failed"; exit 1; }
root="$B/tests/installed"
prefix=$(sed -n 's/^prefix=//p' "$B/pkgconfig/libvbill.pc")
libdir=$(PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" pkg-config --variable=libdir libvbill)
export PKG_CONFIG_PATH="$root$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
cat >"$tmp/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <vbill.h>
int main(void)
{
    const char *rec = "{\"id\":\"C-1\",\"name\":\"Kim\",\"birth\":\"1950-01-01\",\"bill\":{"
        "\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\",\"cycle_end\":\"2026-11-30\"},"
        "\"lines\":[{\"kind\":\"home\",\"event\":\"recontract\",\"start\":\"2026-11-01\",\"monthly_fee\":33000}]}";
    vbill_ctx *ctx;
    char *out;
    if (vbill_ctx_new(&ctx) != VBILL_OK || vbill_classify(ctx, rec, strlen(rec), 1, &out) != VBILL_OK)
        return 1;
    printf("%s %s\n", vbill_version(), out);
    vbill_free(out);
    vbill_ctx_free(ctx);
    return 0;
}
C
# A sanitizer build of the library needs the consumer built with the same sanitizers.
SAN=""
ldd "$root$libdir/libvbill.so" 2>/dev/null | grep -q libasan && SAN="-fsanitize=address,undefined"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
pass=0
fail=0
# shellcheck disable=SC2046,SC2086
if cc $SAN -o "$tmp/consumer" "$tmp/consumer.c" $(pkg-config --cflags --libs libvbill) &&
   LD_LIBRARY_PATH="$root$libdir" "$tmp/consumer" | grep -q '"scenario":"home_recontract","age":76'; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: shared consumer"
fi
# Static: the archive plus the modules of Requires.private and Libs.private (as shared
# libraries: Debian ships no static FFmpeg closure) must resolve every symbol.
private=$(pkg-config --print-requires-private libvbill | awk '{print $1}')
libs_private=$(sed -n 's/^Libs.private: //p' "$root$libdir/pkgconfig/libvbill.pc")
# shellcheck disable=SC2046,SC2086
if cc $SAN -o "$tmp/consumer-static" "$tmp/consumer.c" $(pkg-config --cflags libvbill) \
     "$root$libdir/libvbill.a" $(pkg-config --libs $private) $libs_private &&
   "$tmp/consumer-static" | grep -q '"scenario":"home_recontract"'; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: static consumer"
fi
# Only vbill_* symbols are exported.
if nm -D --defined-only "$root$libdir/libvbill.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^vbill_' | grep -q .; then
  fail=$((fail + 1)); echo "FAIL: non-vbill_ symbols exported:"; nm -D --defined-only "$root$libdir/libvbill.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^vbill_' | head
else
  pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
