#!/bin/sh
# tests/e2e/page/browser.sh: the customer's page in Debian's Chromium (playwright-core), at
# phone and desktop size, against the real `vbill serve` over a store made by the real
# `vbill batch`, its events delivered to a webhook receiver on loopback (env.sh; or
# PAGE_BASE_URL and the rest set by hand).  Screenshots of every step:
# $VBILL_BUILDDIR/tests/e2e/page/screenshots/ (PAGE_SCREENSHOTS).
set -u
. "${VBILL_SRCDIR:-.}/tests/e2e/page/env.sh"
page_need_node
page_need_chromium
page_npm
page_server
export PAGE_SCREENSHOTS="${PAGE_SCREENSHOTS:-$PAGE_DIR/screenshots}"
rm -rf "$PAGE_SCREENSHOTS"
mkdir -p "$PAGE_SCREENSHOTS"
# Chromium's profiles go into a directory of this run's own, removed whatever happens.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/vbill-page-run.XXXXXX")
TMPDIR="$run_tmp" node "$S/tests/e2e/page/page.test.js"
rc=$?
rm -rf "$run_tmp"
if [ $rc -ne 0 ] && [ -n "${PAGE_TMP:-}" ]; then
    echo "--- vbill serve (last lines):"; tail -30 "$PAGE_TMP/serve.log"
    echo "--- vbill serve, overlay by default (last lines):"; tail -15 "$PAGE_TMP/serve-overlay.log"
    echo "--- webhook receiver (last lines):"; tail -5 "$PAGE_TMP/hooks.log" | cut -c1-400
fi
echo "screenshots: $PAGE_SCREENSHOTS"
exit $rc
