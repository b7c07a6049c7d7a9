#!/bin/sh
# scripts/vendor-page.sh: refreshes the customer's page's vendored hls.js from the pinned npm
# package (package.json / package-lock.json at the repository root).
#   scripts/vendor-page.sh [NODE_MODULES_DIR]     (default: ./node_modules, after `npm ci`)
# Copies dist/hls.light.min.js and its LICENSE, byte for byte, into
# examples/page/static/vendor/ and records the version; tests/e2e/page/vendor.sh checks that
# the committed copy still equals the pinned package's file.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
nm=${1:-$top/node_modules}
pkg="$nm/hls.js"
[ -f "$pkg/dist/hls.light.min.js" ] || { echo "vendor-page: $pkg/dist/hls.light.min.js missing (run npm ci first)" >&2; exit 1; }
want=$(node -p "require('$top/package-lock.json').packages['node_modules/hls.js'].version")
have=$(node -p "require('$pkg/package.json').version")
[ "$want" = "$have" ] || { echo "vendor-page: node_modules has hls.js $have, package-lock.json pins $want" >&2; exit 1; }
out="$top/examples/page/static/vendor"
mkdir -p "$out"
for f in dist/hls.light.min.js LICENSE; do
  dst="$out/$(basename "$f" | sed 's/^LICENSE$/hls.js.LICENSE/')"
  cp "$pkg/$f" "$dst.tmp" && mv "$dst.tmp" "$dst"
done
printf 'hls.js %s (npm), dist/hls.light.min.js and LICENSE, copied by scripts/vendor-page.sh\n' "$have" > "$out/VERSION.tmp"
mv "$out/VERSION.tmp" "$out/VERSION"
echo "vendor-page: hls.js $have -> $out"
