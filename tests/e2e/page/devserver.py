#!/usr/bin/env python3
"""devserver.py: a development stand-in for `vbill serve`, for the page's browser tests.

Implements the routes contract of examples/page/README.md over the fixture that
make_fixture.py wrote (standard library + this build's Python binding of libvbill), so the
page can be built and tested before the real server exists.  It is NOT the server: no
signed tokens (the fixture's tokens are fixed strings), attempts and sessions in memory.

    devserver.py --fixture DIR/fixture.json --page examples/page --port-file F
                 --events-log F [--state DIR] [--helpdesk-url URL --helpdesk-token T]

Listens on 127.0.0.1 (a free port, written to --port-file).  Every POST to B T/event and
B T/chat is appended to --events-log as one JSON object per line:
  {"route": "event"|"chat", "link": "<bill id>", "status": N, "body": {...}, "answer": {...}}
A chat escalation is queued through libvbill's hooks (a Zendesk sink at --helpdesk-url:
tests/servers/hookrecv.py --kind zendesk) with a still of the bill's MP4 at the position.
"""
import argparse
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

A = None
FIX = None
LINKS = {}
TEXTS = {}
TEMPLATES = {}
LOCK = threading.Lock()
SESSIONS = {}      # sid -> {"token", "csrf"}
FAILS = {}         # token -> wrong entries
SURVEYED = set()   # bill ids
SOFT_LIMIT = 5
COOLING_S = 900
VB = None          # the vbill Python module
CTX = None
HOOKS = None

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".json": "application/json",
         ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".mp4": "video/mp4",
         ".vtt": "text/vtt; charset=utf-8", ".txt": "text/plain; charset=utf-8",
         ".map": "application/json"}
TOKEN_RE = r"[A-Za-z0-9_-]{20,100}"


def script_json(obj):
    """JSON for a <script type="application/json"> element: nothing in it can end the
    element or start markup (<, >, & and the JS line separators escaped)."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def lang_of(locale):
    return locale.split("-")[0]


def render(name, ctx):
    return VB.mustache(TEMPLATES[name], ctx).encode("utf-8")


def page_data(link, sess_survey_done):
    tok = link["token"]
    b = A.base_url + tok
    bdir = os.path.join(FIX["dir"], "bills", link["id"])
    with open(os.path.join(bdir, "bill.json"), encoding="utf-8") as f:
        bj = json.load(f)
    loc = bj["locale"]
    return {
        "locale": loc, "senior": bj["senior"], "speed": bj["speed"],
        "video": {"hls": b + "/index.m3u8", "hls_slow": None,
                  "mp4": b + "/bill.mp4" if bj["mp4"] else None,
                  "captions": b + "/captions.vtt", "chapters": b + "/chapters.vtt",
                  "duration": bj["duration"], "width": bj["width"], "height": bj["height"]},
        "overlay": {"hls": "/s/%s/overlay/index.m3u8" % FIX["template_hash"],
                    "slots": bj["overlay_slots"]},
        "bill": bj["bill"],
        "actions": [{"id": a["id"], "label": a["label"].get(loc, a["label"]["en-US"]),
                     "url": a["url"]} for a in FIX["actions"]],
        "helpdesk": helpdesk(loc),
        "texts": TEXTS[loc],
        "survey_done": sess_survey_done,
    }


def helpdesk(locale):
    """The carrier's contact in the page's language (the fixture keeps hours per locale)."""
    h = dict(FIX["helpdesk"])
    if isinstance(h.get("hours"), dict):
        h["hours"] = h["hours"].get(locale) or next(iter(h["hours"].values()))
    return h


def log_post(entry):
    with LOCK:
        with open(A.events_log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vbill-devserver"

    def log_message(self, fmt, *args):
        if A.verbose:
            sys.stderr.write("devserver: " + (fmt % args) + "\n")

    # ---- answers -------------------------------------------------------------------------
    def send(self, status, body=b"", ctype="text/plain; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in headers:
            self.send_header(k, v)
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_file(self, path, cache=None):
        if not os.path.isfile(path):
            return self.send(404, b"not found")
        ext = os.path.splitext(path)[1]
        ctype = TYPES.get(ext, "application/octet-stream")
        size = os.path.getsize(path)
        headers = [("Accept-Ranges", "bytes")]
        if cache:
            headers.append(("Cache-Control", cache))
        else:
            headers.append(("Cache-Control", "private, no-cache"))
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng or "")
        with open(path, "rb") as f:
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    a = int(m.group(1))
                    b = int(m.group(2)) if m.group(2) else size - 1
                else:
                    a, b = max(0, size - int(m.group(2))), size - 1
                b = min(b, size - 1)
                if a > b or a >= size:
                    return self.send(416, b"", headers=[("Content-Range", "bytes */%d" % size)])
                f.seek(a)
                body = f.read(b - a + 1)
                headers.append(("Content-Range", "bytes %d-%d/%d" % (a, b, size)))
                return self.send(206, body, ctype, headers)
            return self.send(200, f.read(), ctype, headers)

    def session(self, token):
        raw = self.headers.get("Cookie", "")
        for part in raw.split(";"):
            k, _, v = part.strip().partition("=")
            if k == "vbs":
                s = SESSIONS.get(v)
                if s and s["token"] == token:
                    return s
        return None

    def check_page(self, status, link, extra, headers=()):
        loc = link["locale"] if link else A.default_locale
        ctx = {"lang": lang_of(loc), "locale": loc, "t": TEXTS[loc], "static": "/static",
               "action": A.base_url + link["token"] if link else "",
               "helpdesk": helpdesk(loc), "form": False}
        ctx.update(extra)
        self.send(status, render("check.html", ctx), TYPES[".html"],
                  list(headers) + [("Cache-Control", "no-store")])

    # ---- routes ----------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/healthz":
            return self.send(200, b"ok")
        if path.startswith("/static/"):
            rel = os.path.normpath(path[len("/static/"):])
            if rel.startswith("..") or os.path.isabs(rel):
                return self.send(404, b"not found")
            return self.send_file(os.path.join(A.page, "static", rel), "public, max-age=3600")
        m = re.fullmatch(r"/s/([0-9a-f]{64})/(normal|slow|overlay)/([A-Za-z0-9_.]+)", path)
        if m:
            if m.group(1) != FIX["template_hash"]:
                return self.send(404, b"not found")
            if m.group(2) == "overlay":
                f = os.path.join(FIX["dir"], "overlay", m.group(3))
            else:
                f = os.path.join(FIX["cache"], "hls-" + m.group(2), m.group(3))
            cache = "public, max-age=31536000, immutable" if f.endswith(".ts") else "public, max-age=3600"
            return self.send_file(f, cache)
        m = re.fullmatch(A.base_url + "(" + TOKEN_RE + ")(/.*)?", path)
        if not m:
            return self.send(404, b"not found")
        token, rest = m.group(1), m.group(2) or ""
        link = LINKS.get(token)
        if rest == "":
            if not link:
                return self.check_page(404, None, {"not_found": True})
            if link.get("expired"):
                return self.check_page(410, link, {"expired": True})
            if FAILS.get(token, 0) >= SOFT_LIMIT:
                return self.check_page(429, link, {"locked": True, "retry_minutes": COOLING_S // 60},
                                       [("Retry-After", str(COOLING_S))])
            return self.check_page(200, link, {"form": True})
        if not link or link.get("expired"):
            return self.send(404, b"not found")
        sess = self.session(token)
        if not sess:
            if rest == "/watch":
                return self.send(303, b"", headers=[("Location", A.base_url + token)])
            return self.send(403, b"forbidden")
        bdir = os.path.join(FIX["dir"], "bills", link["id"])
        if rest == "/watch":
            data = page_data(link, link["id"] in SURVEYED)
            ctx = dict(data)
            ctx.update({"lang": lang_of(data["locale"]), "t": data["texts"], "static": "/static",
                        "csrf_token": sess["csrf"], "page_data_json": script_json(data)})
            return self.send(200, render("watch.html", ctx), TYPES[".html"],
                             [("Cache-Control", "no-store")])
        if rest == "/bill.json":
            body = json.dumps(page_data(link, link["id"] in SURVEYED), ensure_ascii=False).encode()
            return self.send(200, body, "application/json", [("Cache-Control", "no-store")])
        if rest == "/index.m3u8":
            return self.send_file(os.path.join(bdir, "hls", "index.m3u8"))
        m = re.fullmatch(r"/(p\d{5}\.ts)", rest)
        if m:
            return self.send_file(os.path.join(bdir, "hls", m.group(1)))
        if rest in ("/bill.mp4", "/captions.vtt", "/chapters.vtt"):
            return self.send_file(os.path.join(bdir, rest[1:]))
        return self.send(404, b"not found")

    def read_body(self, limit):
        n = int(self.headers.get("Content-Length") or 0)
        if n > limit:
            self.rfile.read(n)
            return None
        return self.rfile.read(n)

    def do_POST(self):
        path = urlsplit(self.path).path
        m = re.fullmatch(A.base_url + "(" + TOKEN_RE + ")(/event|/chat)?", path)
        if not m:
            return self.send(404, b"not found")
        token, rest = m.group(1), m.group(2) or ""
        link = LINKS.get(token)
        if rest == "":
            body = self.read_body(1024)
            if not link:
                return self.check_page(404, None, {"not_found": True})
            if link.get("expired"):
                return self.check_page(410, link, {"expired": True})
            with LOCK:
                fails = FAILS.get(token, 0)
                if fails >= SOFT_LIMIT:
                    locked = True
                else:
                    locked = False
                    digits = parse_qs((body or b"").decode("utf-8", "replace")).get("digits", [""])[0]
                    ok = digits == link["digits"]
                    if not ok:
                        fails = FAILS[token] = fails + 1
            if locked or (not ok and fails >= SOFT_LIMIT):
                return self.check_page(429, link, {"locked": True, "retry_minutes": COOLING_S // 60},
                                       [("Retry-After", str(COOLING_S))])
            if not ok:
                left = SOFT_LIMIT - fails
                return self.check_page(401, link, {"form": True, "wrong": True, "tries_left": left},
                                       [("X-Tries-Left", str(left))])
            sid = secrets.token_urlsafe(32)
            with LOCK:
                FAILS.pop(token, None)
                SESSIONS[sid] = {"token": token, "csrf": secrets.token_urlsafe(24)}
            cookie = "vbs=%s; Path=%s%s/; HttpOnly; SameSite=Strict" % (sid, A.base_url, token)
            return self.send(303, b"", headers=[("Location", A.base_url + token + "/watch"),
                                                ("Set-Cookie", cookie), ("Cache-Control", "no-store")])
        body = self.read_body(4096)
        sess = self.session(token) if link else None
        if not sess:
            return self.send(403, b"no session")
        if self.headers.get("X-CSRF-Token") != sess["csrf"]:
            return self.send(403, b"bad csrf token")
        if body is None:
            return self.send(413, b"too large")
        try:
            req = json.loads(body)
            if not isinstance(req, dict):
                raise ValueError
        except ValueError:
            return self.send(400, b"not a JSON object")
        if rest == "/event":
            status = self.event(link, req)
            log_post({"route": "event", "link": link["id"], "status": status, "body": req})
            return self.send(status, b"" if status == 204 else b"refused")
        answer = self.chat(link, req)
        if answer is None:
            log_post({"route": "chat", "link": link["id"], "status": 400, "body": req})
            return self.send(400, b"bad question")
        log_post({"route": "chat", "link": link["id"], "status": 200, "body": req, "answer": answer})
        return self.send(200, json.dumps(answer, ensure_ascii=False).encode(), "application/json")

    def event(self, link, req):
        t = req.get("type")
        if t == "progress":
            ok = req.get("quartile") in (25, 50, 75, 100) and isinstance(req.get("position"), (int, float))
        elif t == "speed":
            ok = req.get("rate") in (0.8, 1, 1.25)
        elif t == "captions":
            ok = isinstance(req.get("on"), bool)
        elif t == "action":
            ok = req.get("id") in [a["id"] for a in FIX["actions"]]
        elif t == "survey":
            ok = (isinstance(req.get("score"), int) and 1 <= req["score"] <= 5 and
                  isinstance(req.get("comment", ""), str) and len(req.get("comment", "").encode()) <= 2000)
            if ok:
                with LOCK:
                    if link["id"] in SURVEYED:
                        return 409
                    SURVEYED.add(link["id"])
        else:
            ok = False
        return 204 if ok else 400

    def chat(self, link, req):
        q, pos = req.get("question"), req.get("position")
        if not isinstance(q, str) or not q.strip() or len(q) > 1000 or not isinstance(pos, (int, float)):
            return None
        bdir = os.path.join(FIX["dir"], "bills", link["id"])
        with open(os.path.join(bdir, "record.json"), encoding="utf-8") as f:
            record = json.load(f)
        with LOCK, CTX.bill(record) as bill:  # API 0.2: chat takes the bill
            a = CTX.chat_answer(bill, q, None, float(pos), 0)
        out = {"answered": bool(a.get("answered")), "answer": a.get("answer", ""),
               "escalate": bool(a.get("escalate")), "mode": a.get("mode", ""),
               "reply": a.get("reply", "")}
        if a.get("escalate") and HOOKS is not None:
            ev = a["event"]
            mp4 = os.path.join(bdir, "bill.mp4")
            with LOCK:
                if os.path.exists(mp4):
                    jpeg = CTX.still_jpeg(mp4, float(pos))
                    HOOKS.emit_still(ev["type"], link["id"], ev["data"], jpeg)
                else:
                    HOOKS.emit(ev["type"], ev["data"], subject=link["id"])
        return out


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a player that drops a connection mid-segment is normal


def main():
    global A, FIX, VB, CTX, HOOKS
    p = argparse.ArgumentParser()
    p.add_argument("--fixture", required=True)
    p.add_argument("--page", required=True, help="examples/page")
    p.add_argument("--port-file", required=True)
    p.add_argument("--events-log", required=True)
    p.add_argument("--state", help="hooks state dir (outbox)")
    p.add_argument("--helpdesk-url", help="a Zendesk-shaped help desk (hookrecv.py)")
    p.add_argument("--helpdesk-token", default="devserver-token")
    p.add_argument("--base-url", default="/v/")
    p.add_argument("--default-locale", default="ko-KR")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    A = p.parse_args()
    with open(A.fixture, encoding="utf-8") as f:
        FIX = json.load(f)
    FIX["dir"] = os.path.dirname(os.path.abspath(A.fixture))
    for l in FIX["links"]:
        LINKS[l["token"]] = l
    with open(os.path.join(A.page, "texts.json"), encoding="utf-8") as f:
        TEXTS.update(json.load(f))
    for name in ("check.html", "watch.html"):
        with open(os.path.join(A.page, name), encoding="utf-8") as f:
            TEMPLATES[name] = f.read()
    import vbill
    VB = vbill
    CTX = vbill.Context()
    if A.helpdesk_url:
        config = {"source": "urn:vbill:devserver", "retry_base_ms": 50, "retry_max_ms": 500,
                  "sync": "normal",
                  "sinks": [{"type": "zendesk", "name": "desk", "url": A.helpdesk_url,
                             "email": "agent@example.com", "token": A.helpdesk_token,
                             "events": ["chat.requested"], "timeout_ms": 3000,
                             "insecure": True}]}  # the stand-in help desk on loopback
        HOOKS = CTX.open_hooks(A.state, config)
        HOOKS.start()
    srv = Server(("127.0.0.1", A.port), H)
    with open(A.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(A.port_file + ".tmp", A.port_file)
    try:
        srv.serve_forever()
    finally:
        if HOOKS is not None:
            HOOKS.stop()


if __name__ == "__main__":
    main()
