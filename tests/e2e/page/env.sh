# tests/e2e/page/env.sh: sourced by browser.sh, files.sh and bench/page_bench.sh.
#   page_need_node        exit 77 (skip) when node or npm is missing
#   page_need_chromium    exit 77 (skip) when Chromium is missing ($CHROMIUM, else /usr/bin/chromium)
#   page_npm              `npm ci` of the root package.json/package-lock.json into
#                         $B/tests/e2e/page/npm (once; under a lock); sets NODE_PATH
#   page_server           unless PAGE_BASE_URL is set: makes the bill store with the real
#                         `vbill batch` (tests/e2e/page/make_store.py, cached in the build
#                         dir), starts a webhook receiver (tests/servers/hookrecv.py) and the
#                         real `vbill serve` over a copy of the store with a hooks config
#                         whose webhook sink is that receiver, and exports PAGE_BASE_URL
#                         PAGE_FIXTURE PAGE_HOOKS_LOG PAGE_STORE PAGE_SERVE_LOG, and
#                         PAGE_OVERLAY_URL: a second server over the same store whose page
#                         config makes overlay mode the default
# To run the browser test against a server started otherwise, export those yourself
# (examples/page/README.md, "Testing").
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

page_wait_port() { # LOG: the port `vbill serve` says it listens on
    i=0
    while ! grep -q 'listening on .*(port [0-9]*)' "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && { echo "FAIL: vbill serve did not start"; cat "$1"; exit 1; }
        sleep 0.1
    done
    sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$1" | head -n 1
}

page_server() {
    [ -n "${PAGE_BASE_URL:-}" ] && return 0
    command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed for the test receiver"; exit 77; }
    "$B/examples/vbill" serve --help >/dev/null 2>&1 ||
        { echo "SKIP: vbill serve is not built (libmicrohttpd missing)"; exit 77; }
    PAGE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vbill-page.XXXXXX")
    trap page_cleanup EXIT INT TERM
    # The store: vbill batch over tests/e2e/page/records.jsonl (made once per build).
    (
        flock 9
        env VBILL_BUILDDIR="$B" VBILL_SRCDIR="$S" python3 "$S/tests/e2e/page/make_store.py" \
            "$PAGE_DIR/fixture" >/dev/null
    ) 9>"$PAGE_DIR/fixture.lock" || { echo "FAIL: make_store.py"; exit 1; }
    export PAGE_FIXTURE="$PAGE_DIR/fixture/fixture.json"
    # the server writes into its store (survey marks, on-demand segments): a copy per run
    cp -a "$PAGE_DIR/fixture/store" "$PAGE_TMP/store"
    secret="whsec_$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')"
    : > "$PAGE_TMP/hooks.log"
    python3 "$S/tests/servers/hookrecv.py" --kind webhook --mode ok --secret "$secret" \
        --port-file "$PAGE_TMP/hooks.port" --log "$PAGE_TMP/hooks.log" 2>"$PAGE_TMP/hooks.err" &
    PAGE_PIDS="$PAGE_PIDS $!"
    page_wait_file "$PAGE_TMP/hooks.port" "the webhook receiver"
    cat > "$PAGE_TMP/hooks.json" <<JSON
{"source": "urn:vbill:page-test", "retry_base_ms": 50, "retry_max_ms": 500, "sync": "normal",
 "sinks": [{"type": "webhook", "name": "desk", "url": "http://127.0.0.1:$(cat "$PAGE_TMP/hooks.port")/hook",
            "secret": "$secret", "events": ["*"], "timeout_ms": 5000}]}
JSON
    cat > "$PAGE_TMP/page.json" <<'JSON'
{"helpdesk": {"phone": "114", "hours": {"ko-KR": "평일 10:00-19:00", "ja-JP": "平日 10:00〜19:00",
                                        "en-US": "Weekdays 10:00-19:00 (KST)"}},
 "actions": [
  {"id": "pay_now", "label": {"ko-KR": "지금 납부하기", "ja-JP": "今すぐ支払う", "en-US": "Pay now"},
   "url": "https://carrier.example/pay"},
  {"id": "change_payment", "label": {"ko-KR": "납부 방법 바꾸기", "ja-JP": "支払い方法を変更", "en-US": "Change payment method"},
   "url": "https://carrier.example/payment"},
  {"id": "call_me", "label": {"ko-KR": "전화 상담 요청", "ja-JP": "電話で相談する", "en-US": "Call me back"},
   "url": "https://carrier.example/callback"}],
 "overlay_default": false}
JSON
    "$B/examples/vbill" serve --store "$PAGE_TMP/store" --listen 127.0.0.1:0 \
        --key-file "$PAGE_DIR/fixture/keys.json" --state "$PAGE_TMP/state" \
        --hooks "$PAGE_TMP/hooks.json" --page "$S/examples/page" --page-config "$PAGE_TMP/page.json" \
        --insecure-cookies --render-workers 2 --idle-timeout 60 2>"$PAGE_TMP/serve.log" &
    PAGE_PIDS="$PAGE_PIDS $!"
    port=$(page_wait_port "$PAGE_TMP/serve.log") || exit 1
    # a second server over the same store, for a carrier that makes overlay mode the default
    sed 's/"overlay_default": false/"overlay_default": true/' "$PAGE_TMP/page.json" > "$PAGE_TMP/page-overlay.json"
    "$B/examples/vbill" serve --store "$PAGE_TMP/store" --listen 127.0.0.1:0 \
        --key-file "$PAGE_DIR/fixture/keys.json" --state "$PAGE_TMP/state-overlay" \
        --hooks "$PAGE_TMP/hooks.json" --page "$S/examples/page" \
        --page-config "$PAGE_TMP/page-overlay.json" --insecure-cookies --render-workers 2 \
        --idle-timeout 60 2>"$PAGE_TMP/serve-overlay.log" &
    PAGE_PIDS="$PAGE_PIDS $!"
    oport=$(page_wait_port "$PAGE_TMP/serve-overlay.log") || exit 1
    export PAGE_BASE_URL="http://127.0.0.1:$port" PAGE_HOOKS_LOG="$PAGE_TMP/hooks.log"
    export PAGE_OVERLAY_URL="http://127.0.0.1:$oport"
    export PAGE_STORE="$PAGE_TMP/store" PAGE_SERVE_LOG="$PAGE_TMP/serve.log"
}
