#!/bin/sh
# tests/e2e/page/browser.sh: the customer's page in Debian's Chromium (playwright-core), at
# phone and desktop size, against the development server (or PAGE_BASE_URL: see env.sh).
# Screenshots of every step: $VBILL_BUILDDIR/tests/e2e/page/screenshots/.
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
[ $rc -ne 0 ] && [ -n "${PAGE_TMP:-}" ] && { echo "--- devserver stderr:"; tail -20 "$PAGE_TMP/dev.err"; }
exit $rc
