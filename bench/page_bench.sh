#!/bin/sh
# bench/page_bench.sh: the customer's page on loopback in Debian's Chromium: the weight of the
# page before the video (gzipped, native HLS and hls.js paths) and the time to the first
# frame (performance marks of watch.js), median of RUNS (default 5) loads per path, and the
# requests to another origin.
# Prints figures, asserts nothing.  Against the real vbill serve over the test store
# (made by vbill batch into the build dir on first use), or PAGE_BASE_URL/PAGE_FIXTURE (see
# examples/page/README.md).
#   BUILDDIR=build/dev bench/page_bench.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export VBILL_SRCDIR="$top" VBILL_BUILDDIR="${BUILDDIR:-$top/build/dev}"
. "$top/tests/e2e/page/env.sh"
page_need_node
page_need_chromium
page_npm
page_server
node "$top/bench/page_bench.js"
