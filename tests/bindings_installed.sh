#!/bin/sh
# Consumer check for the bindings: `make install DESTDIR=...`, then import the Python package
# and require the Lua module from that installed prefix (never from the source or build tree),
# and check that they loaded the installed libvbill.  Also `pip install --no-build-isolation`
# of bindings/python (offline) when a python3 with setuptools and wheel is available.
set -u
B=$(cd "${VBILL_BUILDDIR:-.}" && pwd)
S=$(cd "${VBILL_SRCDIR:-.}" && pwd)
PY="${PYTHON3:-python3}"
LUA="${LUA54:-lua5.4}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# The staged install that `make check` makes before the tests (DESTDIR=tests/installed).
${MAKE:-make} -s -C "$B" tests/installed.stamp >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "0 passed, 1 failed"; exit 1; }
root="$B/tests/installed"
prefix=$(sed -n 's/^prefix=//p' "$B/pkgconfig/libvbill.pc")
libdir=$(PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" pkg-config --variable=libdir libvbill)
pydir="$root$prefix/lib/python3/dist-packages"
luadir="$root$libdir/lua/5.4"
[ -f "$pydir/vbill/__init__.py" ] && ok || bad "no vbill package in $pydir"
[ -f "$pydir/vbill/_installed.py" ] && grep -q "LIBDIR = '$libdir'" "$pydir/vbill/_installed.py" && ok ||
  bad "_installed.py does not record libdir $libdir"
[ -f "$luadir/vbill.so" ] && ok || bad "no vbill.so in $luadir"

# Nothing from the build tree on any search path; the installed library by the loader path.
unset VBILL_LIBRARY LUA_PATH
export LD_LIBRARY_PATH="$root$libdir" PYTHONDONTWRITEBYTECODE=1
asan=$(ldd "$root$libdir/libvbill.so.1" 2>/dev/null | awk '/libasan/ {print $3}')
[ -n "$asan" ] && export LD_PRELOAD="$asan" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
REC="$S/tests/vectors/spec_example.json"

cat >"$tmp/consumer.py" <<'PY'
import sys, vbill
rec = open(sys.argv[1], encoding="utf-8").read()
with vbill.Context() as ctx:
    r = ctx.fill(rec)
    with ctx.bill(rec) as b:
        assert b.scenario == r["scenario"] and "birth" not in b.to_json(), b
    assert vbill.has("records") and vbill.version_num() >= 0x000200
    try:
        ctx.classify('{"id": "x"}', 7)
        raise SystemExit("a bad record was accepted")
    except vbill.RecordError as e:
        assert e.status == vbill.Status.ERR_RECORD and "x" in e.message, e
maps = [l.split()[-1] for l in open("/proc/self/maps") if "libvbill.so" in l]
print(vbill.__file__, maps[0] if maps else "?", r["scenario"], r["amounts"]["this_month"])
PY
(cd "$tmp" && PYTHONPATH="$pydir" "$PY" "$tmp/consumer.py" "$REC") >"$tmp/py.out" 2>&1
if grep -q "^$pydir/vbill/__init__.py $root$libdir/libvbill.so.1.* mobile_new_bundle 60960$" "$tmp/py.out"; then ok; else
  bad "python from the installed prefix:"; cat "$tmp/py.out"; fi

# Without LD_LIBRARY_PATH, the installed package still finds the library through the libdir
# that make install recorded, when that libdir is the real one (DESTDIR-less installs).  Here
# (DESTDIR) it must fail cleanly with ImportError naming VBILL_LIBRARY unless the system has one.
(cd "$tmp" && env -u LD_LIBRARY_PATH PYTHONPATH="$pydir" "$PY" -c 'import vbill' ) >"$tmp/py2.out" 2>&1
if [ -s "$tmp/py2.out" ] && ! grep -q "VBILL_LIBRARY" "$tmp/py2.out"; then
  bad "import without a library gave an unclear error:"; cat "$tmp/py2.out"; else ok; fi

cat >"$tmp/consumer.lua" <<'LUA'
local vbill = require("vbill")
local f = assert(io.open(arg[1], "rb")); local rec = f:read("a"); f:close()
local ctx <close> = assert(vbill.new())
local r = assert(ctx:fill(rec))
local b <close> = assert(ctx:bill(rec))
assert(b:scenario() == r.scenario and not b:to_json():find("birth", 1, true))
assert(vbill.has("records") and vbill.version_num() >= 0x000200)
local bad, msg, code = ctx:classify('{"id": "x"}', 7)
assert(bad == nil and code == vbill.ERR_RECORD, msg)
local lib = "?"
for l in io.lines("/proc/self/maps") do
  local p = l:match("(%S*libvbill%.so%S*)$"); if p then lib = p; break end
end
print(table.concat({package.searchpath("vbill", package.cpath), lib, r.scenario,
                    r.amounts.this_month}, " "))
LUA
if command -v "$LUA" >/dev/null 2>&1 && [ -f "$luadir/vbill.so" ]; then
  (cd "$tmp" && LUA_CPATH="$luadir/?.so" "$LUA" "$tmp/consumer.lua" "$REC") >"$tmp/lua.out" 2>&1
  if grep -q "^$luadir/vbill.so $root$libdir/libvbill.so.1.* mobile_new_bundle 60960$" "$tmp/lua.out"; then ok; else
    bad "lua from the installed prefix:"; cat "$tmp/lua.out"; fi
fi

# The rockspec builds the module against the installed library (luarocks make, offline, from a
# copy of the files it names: luarocks writes its objects beside the sources).
if command -v luarocks >/dev/null 2>&1 && command -v "$LUA" >/dev/null 2>&1; then
  mkdir -p "$tmp/rock/bindings/lua"
  cp "$S/bindings/lua/vbill.c" "$S"/bindings/lua/vbill-*.rockspec "$tmp/rock/bindings/lua/"
  cjson_inc=$(pkg-config --variable=includedir libcjson 2>/dev/null || echo /usr/include)
  cjson_lib=$(pkg-config --variable=libdir libcjson 2>/dev/null || echo /usr/lib)
  if (cd "$tmp/rock" && env -u LD_PRELOAD luarocks --lua-version 5.4 make --tree "$tmp/rocks" \
        bindings/lua/vbill-*.rockspec LIBVBILL_DIR="$root$prefix" LIBVBILL_LIBDIR="$root$libdir" \
        CJSON_INCDIR="$cjson_inc" CJSON_LIBDIR="$cjson_lib") >"$tmp/rock.log" 2>&1; then
    so=$(find "$tmp/rocks" -name vbill.so | head -1)
    (cd "$tmp" && LUA_CPATH="$(dirname "$so")/?.so" "$LUA" "$tmp/consumer.lua" "$REC") >"$tmp/rock.out" 2>&1
    if grep -q "^$so $root$libdir/libvbill.so.1.* mobile_new_bundle 60960$" "$tmp/rock.out"; then ok; else
      bad "lua module built by luarocks:"; cat "$tmp/rock.out"; fi
  else
    bad "luarocks make of the rockspec failed:"; tail -20 "$tmp/rock.log"
  fi
else
  echo "note: no luarocks: the rockspec not built"
fi

# pip install --no-build-isolation (offline) from a copy of the sources (pip writes build/).
pip_py=
for p in "$PY" /usr/bin/python3; do
  if "$p" -c 'import setuptools, wheel, pip' 2>/dev/null; then pip_py=$p; break; fi
done
if [ -n "$pip_py" ]; then
  cp -r "$S/bindings/python" "$tmp/pysrc"
  chmod -R u+w "$tmp/pysrc"
  if "$pip_py" -m pip install -q --no-build-isolation --no-index --no-deps --no-warn-script-location \
       --prefix "$tmp/pip" "$tmp/pysrc" >"$tmp/pip.log" 2>&1; then
    site=$(dirname "$(find "$tmp/pip" -path '*/vbill/__init__.py' | head -1)")
    site=$(dirname "$site")
    (cd "$tmp" && PYTHONPATH="$site" "$pip_py" "$tmp/consumer.py" "$REC") >"$tmp/pip.out" 2>&1
    if grep -q "^$site/vbill/__init__.py $root$libdir/libvbill.so.1.* mobile_new_bundle 60960$" "$tmp/pip.out"; then ok; else
      bad "python after pip install:"; cat "$tmp/pip.out"; fi
  else
    bad "pip install --no-build-isolation failed:"; tail -20 "$tmp/pip.log"
  fi
else
  echo "note: no python3 with setuptools+wheel+pip: pip install not tried"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
