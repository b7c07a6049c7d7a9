# tests/e2e/page/env.sh: sourced by browser.sh, files.sh and bench/page_bench.sh.
#   page_need_node        exit 77 (skip) when node or npm is missing
#   page_need_chromium    exit 77 (skip) when Chromium is missing ($CHROMIUM, else /usr/bin/chromium)
#   page_npm              `npm ci` of the root package.json/package-lock.json into
#                         $B/tests/e2e/page/npm (once; under a lock); sets NODE_PATH
#   page_server           unless PAGE_BASE_URL is set: builds the fixture (cached in the build
#                         dir), starts a fake help desk and tests/e2e/page/devserver.py, and
#                         exports PAGE_BASE_URL PAGE_FIXTURE PAGE_EVENTS_LOG PAGE_HELPDESK_LOG
# Everything specific to the development server is in page_server: to run the browser test
# against the real `vbill serve`, export PAGE_BASE_URL, PAGE_FIXTURE, PAGE_EVENTS_LOG and
# PAGE_HELPDESK_LOG yourself (examples/page/README.md, "Testing against vbill serve").
B=$(cd "${VBILL_BUILDDIR:-.}" && pwd)
S=$(cd "${VBILL_SRCDIR:-.}" && pwd)
PAGE_DIR="$B/tests/e2e/page"
PAGE_PIDS=""
mkdir -p "$PAGE_DIR"

page_cleanup() {
    for p in $PAGE_PIDS; do kill "$p" 2>/dev/null; done
    for p in $PAGE_PIDS; do wait "$p" 2>/dev/null; done
    [ -n "${PAGE_TMP:-}" ] && rm -rf "$PAGE_TMP"
    return 0
}

page_need_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
        { echo "SKIP: node and npm are needed for the page's tests (Debian: nodejs npm)"; exit 77; }
}

page_need_chromium() {
    CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
    [ -x "$CHROMIUM" ] ||
        { echo "SKIP: Chromium is needed for the page's browser tests (Debian: chromium; or set CHROMIUM)"; exit 77; }
    export CHROMIUM
}

page_npm() {
    NPM_DIR="$PAGE_DIR/npm"
    mkdir -p "$NPM_DIR"
    (
        flock 9
        if ! cmp -s "$S/package-lock.json" "$NPM_DIR/package-lock.json" || [ ! -d "$NPM_DIR/node_modules" ]; then
            rm -rf "$NPM_DIR/node_modules"
            cp "$S/package.json" "$S/package-lock.json" "$NPM_DIR/"
            (cd "$NPM_DIR" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) >&2 ||
                { echo "FAIL: npm ci of package-lock.json into $NPM_DIR" >&2; rm -f "$NPM_DIR/package-lock.json"; exit 1; }
        fi
    ) 9>"$PAGE_DIR/npm.lock" || exit 99
    export NODE_PATH="$NPM_DIR/node_modules"
}

page_wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && { echo "FAIL: $2 did not start"; cat "$PAGE_TMP"/*.err 2>/dev/null; exit 1; }
        sleep 0.1
    done
}

# python3 with this build's libvbill for the Python binding.  A sanitizer build needs its
# runtime preloaded into python (only there: node and Chromium must not get it).  It execs:
# call it in a subshell or in the background (then $! is python's own pid).
page_python() {
    lib="$B/libvbill/.libs/libvbill.so.1"
    asan=$(ldd "$lib" 2>/dev/null | awk '/libasan/ {print $3}')
    exec env ${asan:+LD_PRELOAD="$asan"} ${asan:+ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"} \
        VBILL_LIBRARY="$lib" VBILL_BUILDDIR="$B" VBILL_SRCDIR="$S" \
        PYTHONPATH="$S/bindings/python" PYTHONDONTWRITEBYTECODE=1 python3 "$@"
}

page_server() {
    [ -n "${PAGE_BASE_URL:-}" ] && return 0
    command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed for the development server"; exit 77; }
    command -v ffmpeg >/dev/null 2>&1 || { echo "SKIP: ffmpeg is needed for the page's fixture"; exit 77; }
    PAGE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vbill-page.XXXXXX")
    trap page_cleanup EXIT INT TERM
    # The fixture: the built-in template, its overlay stream and three bills (cached).
    (
        flock 9
        page_python "$S/tests/e2e/page/make_fixture.py" "$PAGE_DIR/fixture" >/dev/null
    ) 9>"$PAGE_DIR/fixture.lock" || { echo "FAIL: make_fixture.py"; exit 1; }
    export PAGE_FIXTURE="$PAGE_DIR/fixture/fixture.json"
    python3 "$S/tests/servers/hookrecv.py" --kind zendesk --mode ok --token devserver-token \
        --port-file "$PAGE_TMP/desk.port" --log "$PAGE_TMP/desk.log" 2>"$PAGE_TMP/desk.err" &
    PAGE_PIDS="$PAGE_PIDS $!"
    page_wait_file "$PAGE_TMP/desk.port" "the fake help desk"
    : > "$PAGE_TMP/events.jsonl"
    : > "$PAGE_TMP/desk.log"
    page_python "$S/tests/e2e/page/devserver.py" --fixture "$PAGE_FIXTURE" --page "$S/examples/page" \
        --port-file "$PAGE_TMP/dev.port" --events-log "$PAGE_TMP/events.jsonl" \
        --state "$PAGE_TMP/state" --helpdesk-url "http://127.0.0.1:$(cat "$PAGE_TMP/desk.port")" \
        2>"$PAGE_TMP/dev.err" &
    PAGE_PIDS="$PAGE_PIDS $!"
    page_wait_file "$PAGE_TMP/dev.port" "the development server"
    export PAGE_BASE_URL="http://127.0.0.1:$(cat "$PAGE_TMP/dev.port")"
    export PAGE_EVENTS_LOG="$PAGE_TMP/events.jsonl" PAGE_HELPDESK_LOG="$PAGE_TMP/desk.log"
}
