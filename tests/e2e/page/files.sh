#!/bin/sh
# tests/e2e/page/files.sh: the page's files without a browser: the vendored hls.js equals
# the pinned npm package's file, texts.json and the templates agree, no inline script or
# style, every template variable documented (tests/e2e/page/files.test.js).
set -u
. "${VBILL_SRCDIR:-.}/tests/e2e/page/env.sh"
page_need_node
page_npm
exec node "$S/tests/e2e/page/files.test.js"
