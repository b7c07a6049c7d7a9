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
#if !VBILL_VERSION_AT_LEAST(0, 2, 0)
#error "needs the 0.2 headers"
#endif
int main(void)
{
    const char *rec = "{\"id\":\"C-1\",\"name\":\"Kim\",\"birth\":\"1950-01-01\",\"bill\":{"
        "\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\",\"cycle_end\":\"2026-11-30\"},"
        "\"lines\":[{\"kind\":\"home\",\"event\":\"recontract\",\"start\":\"2026-11-01\",\"monthly_fee\":33000}]}";
    vbill_ctx *ctx;
    vbill_bill *bill;
    char *out, *json;
    if (vbill_ctx_new(&ctx) != VBILL_OK || vbill_classify(ctx, rec, strlen(rec), 1, &out) != VBILL_OK ||
        vbill_bill_new(ctx, rec, strlen(rec), 1, &bill) != VBILL_OK ||
        vbill_bill_to_json(ctx, bill, &json) != VBILL_OK)
        return 1;
    if (vbill_version_num() != VBILL_VERSION_NUM)
        return 2;
    printf("%s %s %s video=%d\n", vbill_version(), out, vbill_bill_scenario(bill), vbill_has("video"));
    vbill_free(out);
    vbill_free(json);
    vbill_bill_free(bill);
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
   LD_LIBRARY_PATH="$root$libdir" "$tmp/consumer" | grep -q '"scenario":"home_recontract","age":76.* home_recontract video='; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: shared consumer"
fi
# Static: what `pkg-config --static` says is enough to link the static archive, with the
# dependencies as the shared libraries the Debian -dev packages install.  A copy of the prefix
# without the shared library makes -lvbill find libvbill.a.
static_root="$tmp/static"
mkdir -p "$static_root" && cp -a "$root/." "$static_root/" &&
  rm -f "$static_root$libdir"/libvbill.so*
# shellcheck disable=SC2046,SC2086
if PKG_CONFIG_PATH="$static_root$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$static_root" \
   sh -c 'cc '"$SAN"' -o "$1" "$2" $(pkg-config --static --cflags --libs libvbill)' sh \
     "$tmp/consumer-static" "$tmp/consumer.c" &&
   "$tmp/consumer-static" | grep -q ' home_recontract video='; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: static consumer: pkg-config --static --libs libvbill gave:"
  PKG_CONFIG_PATH="$static_root$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$static_root" \
    pkg-config --static --libs libvbill
fi
# Exactly the functions the headers declare are exported, each in the version node.
nm -D --defined-only "$root$libdir/libvbill.so" | awk '$2 ~ /[TDBR]/ {print $3}' | sed 's/@.*//' |
  sort -u >"$tmp/exported"
srcdir="${VBILL_SRCDIR:-.}"
cat "$srcdir"/include/vbill/*.h | tr '\n' ' ' | grep -o 'VBILL_API[^;{]*(' |
  grep -o 'vbill_[a-z0-9_]*[ ]*($' | tr -d ' (' | sort -u >"$tmp/declared"
if cmp -s "$tmp/exported" "$tmp/declared" && [ -s "$tmp/declared" ]; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: exported symbols differ from the headers' (< exported, > declared):"
  diff "$tmp/exported" "$tmp/declared" | head -20
fi
if objdump -T "$root$libdir/libvbill.so" | grep ' vbill_' | grep -qv 'VBILL_0\.2'; then
  fail=$((fail + 1)); echo "FAIL: symbols outside the VBILL_0.2 version node"
else
  pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
