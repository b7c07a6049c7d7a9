#!/usr/bin/env python3
"""serve_cli.py: vbill serve from outside, over HTTP on loopback, on stores made by vbill
batch: the contract of SPEC.md section 7 and the viewer issue, one customer's session
against another's files, hostile requests, X-Forwarded-For, draining on SIGTERM, and the
ten-tries bound across two servers sharing one Redis.
"""
import base64
import glob
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

B = os.environ.get("VBILL_BUILDDIR", ".")
S = os.environ.get("VBILL_SRCDIR", ".")
VBILL = os.path.join(B, "examples", "vbill")
PAGE = os.path.join(S, "examples", "page")
failures = []
checks = 0


def check(name, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        failures.append(name)
        print("FAIL", name, str(detail)[:1500])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, args, log):
        self.port = free_port()
        self.log = open(log, "w")
        self.p = subprocess.Popen([VBILL, "serve", "--listen", "127.0.0.1:%d" % self.port]
                                  + args, stderr=self.log, stdout=self.log)
        for _ in range(200):
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("vbill serve did not start: " + open(log).read()[-2000:])

    def request(self, method, path, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        h["_set-cookie"] = r.msg.get_all("Set-Cookie") or []
        c.close()
        return r.status, h, data

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post_form(self, path, digits, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, urllib.parse.urlencode({"digits": digits}), h)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
        self.log.close()


def digits_of(record):
    y, m, d = record["birth"].split("-")
    return y[2:] + m + d


def run(args):
    return subprocess.run([VBILL] + args, capture_output=True, text=True)


def setup(tmp):
    keys = os.path.join(tmp, "keys.json")
    with open(keys, "w") as f:
        f.write(run(["keygen"]).stdout)
    os.chmod(keys, 0o600)
    tdir = os.path.join(tmp, "templates", "any")
    os.makedirs(tdir)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=8", "-f", "lavfi", "-i",
                    "sine=f=440:d=8", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                    "yuv420p", "-c:a", "aac", "-shortest", "-y", os.path.join(tdir, "base.mp4")],
                   check=True)
    json.dump({"scenario": "any", "video": "base.mp4", "slots": [
        {"name": "this_month", "text": "{{{this_month_text}}}", "from": 1.0, "to": 2.0,
         "box": [10, 180, 300, 40], "size": 24, "color": "#FFFFFF"},
        {"name": "payment", "text": "{{{payment_text}}}", "from": 4.0, "to": 5.0,
         "box": [10, 20, 300, 40], "size": 16, "color": "#FFFF00"}]},
        open(os.path.join(tdir, "template.json"), "w"))
    rules = os.path.join(tmp, "rules.json")
    json.dump({"rules": [{"scenario": "any", "when": ["m_any >= 0"]}]}, open(rules, "w"))
    recs = [json.loads(l) for l in open(os.path.join(S, "examples/data/subscribers.jsonl"),
                                       encoding="utf-8") if '"S-0' in l]
    recs = recs[:12]
    path = os.path.join(tmp, "records.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return keys, rules, path, recs


def links(store):
    out = {}
    for p in glob.glob(os.path.join(store, "*", "links*.jsonl")):
        for l in open(p, encoding="utf-8"):
            o = json.loads(l)
            out[o["id"]] = urllib.parse.urlparse(o["url"]).path
    return out


def cookie_of(headers):
    for c in headers["_set-cookie"]:
        if c.startswith("vbs="):
            return c
    return None


def login(srv, url, digits, extra=None):
    st, h, _ = srv.post_form(url, digits, extra)
    c = cookie_of(h)
    return st, h, (c.split(";")[0] if c else None)


def main():
    if not os.access(VBILL, os.X_OK):
        print("no %s: build first" % VBILL)
        return 99
    if run(["serve", "--help"]).returncode != 0:
        print("SKIP: vbill serve is not built (libmicrohttpd missing)")
        return 77
    tmp = tempfile.mkdtemp(prefix="vbill-serve.")
    servers = []
    try:
        keys, rules, records, recs = setup(tmp)
        by_id = {r["id"]: r for r in recs}
        store_a = os.path.join(tmp, "stored")
        r = run(["batch", records, "--store", store_a, "--templates", tmp + "/templates",
                 "--rules", rules, "--key-file", keys, "--mp4", "--progress", "none",
                 "--jobs", "2"])
        check("batch (stored, --mp4)", r.returncode == 0, r.stderr)
        store_b = os.path.join(tmp, "ondemand")
        r = run(["batch", records, "--store", store_b, "--templates", tmp + "/templates",
                 "--rules", rules, "--key-file", keys, "--render", "on-demand",
                 "--progress", "none"])
        check("batch (on demand)", r.returncode == 0, r.stderr)
        la, lb = links(store_a), links(store_b)
        ids = sorted(la)
        a = Server(["--store", store_a, "--key-file", keys, "--state", tmp + "/state-a",
                    "--page", PAGE, "--trust-proxy", "127.0.0.1/32", "--idle-timeout", "2",
                    "--quiet"], tmp + "/a.log")
        servers.append(a)

        # ---- the check page: nothing personal ----
        sid = ids[0]
        url = la[sid]
        st, h, body = a.get(url)
        text = body.decode()
        rec = by_id[sid]
        check("GET link: 200 HTML", st == 200 and h["content-type"].startswith("text/html"), st)
        personal = [rec["name"], sid, rec["name"][0] + "*", "원", rec.get("phone", "")]
        check("check page: no name, amount or id", not any(p and p in text for p in personal),
              [p for p in personal if p and p in text])
        check("check page: a form posting digits", 'name="digits"' in text and
              'method="post"' in text)
        for name in ("content-security-policy", "x-content-type-options", "referrer-policy"):
            check("security header " + name, name in h, h)
        check("CSP without inline script", "script-src 'self'" in h.get(
            "content-security-policy", "") and "unsafe-inline" not in h.get(
            "content-security-policy", ""), h.get("content-security-policy"))
        check("frame-ancestors none", "frame-ancestors 'none'" in h.get(
            "content-security-policy", ""))

        # ---- links that do not verify, or expired ----
        bad = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
        check("altered link: 404", a.get(bad)[0] == 404)
        check("malformed token: 404", a.get("/v/@@@@")[0] == 404 and
              a.get("/v/" + "A" * 300)[0] == 404)
        rpath = os.path.join(tmp, "one.json")
        json.dump(rec, open(rpath, "w"), ensure_ascii=False)
        r = run(["link", "issue", rpath, "--ttl", "1s", "--key-file", keys, "--base-url", "/v/"])
        expired = urllib.parse.urlparse(r.stdout.splitlines()[0]).path
        time.sleep(2.1)
        st, h, body = a.get(expired)
        check("expired link: 410 page", st == 410 and b"<html" in body, st)
        check("expired link, POST: 410", a.post_form(expired, digits_of(rec))[0] == 410)
        st, h, body = a.get(expired, {"Accept-Language": "ja,en-US;q=0.9,ko;q=0.8"})
        check("expired link: the page in the browser's language (no bill to take it from)",
              st == 410 and b'<html lang="ja">' in body, body[:200])
        st, h, body = a.get(bad, {"Accept-Language": "fr-FR, en;q=0.5"})
        check("unknown link: the page in the browser's language", st == 404 and
              b'<html lang="en">' in body, body[:200])
        r = run(["link", "issue", rpath, "--key-file", keys, "--base-url", "/v/"])
        again = urllib.parse.urlparse(r.stdout.splitlines()[0]).path
        st1 = a.get(again)[0]
        r = run(["link", "revoke", again.rsplit("/", 1)[1], "--key-file", keys, "--state",
                 tmp + "/state-a"])
        st2, h, body = a.get(again)
        check("a revoked link: its check page is the kind 410 page, not the form",
              (st1, r.returncode, st2) == (200, 0, 410) and b'name="digits"' not in body,
              (st1, r.returncode, r.stderr, st2))

        # ---- wrong, right, locked ----
        st, h, body = a.post_form(url, "000000")
        check("wrong digits: 401 with the tries left", st == 401 and h.get("x-tries-left") == "4"
              and b"tries-left" in body, (st, h.get("x-tries-left")))
        st, h, cookie = login(a, url, digits_of(rec))
        full = cookie_of(h) or ""
        check("right digits: 303 to the watch page", st == 303 and h.get("location") == url + "/watch",
              (st, h.get("location")))
        check("session cookie: HttpOnly, SameSite=Strict, Secure, path-scoped",
              "HttpOnly" in full and "SameSite=Strict" in full and "Secure" in full and
              ("Path=%s/" % url) in full, full)
        lock_id = ids[1]
        seen = []
        for i in range(5):
            st, h, body = a.post_form(la[lock_id], "111111")
            seen.append((st, h.get("x-tries-left"), h.get("retry-after")))
        check("four wrong entries: 401 with 4, 3, 2, 1 tries left",
              [x[:2] for x in seen[:4]] == [(401, "4"), (401, "3"), (401, "2"), (401, "1")],
              seen)
        check("five wrong entries: locked, 429 with Retry-After the cooling period (15 min)",
              st == 429 and 0 < int(h.get("retry-after", "0")) <= 900 and
              b"<strong>15</strong>" in body, seen[-1])
        st, h, _ = a.post_form(la[lock_id], digits_of(by_id[lock_id]))
        check("locked: the right digits are refused too", st == 429, st)

        # ---- the watch page and the files ----
        hc = {"Cookie": cookie}
        st, h, body = a.get(url + "/watch", hc)
        page = body.decode()
        check("watch page with the session: 200, names the playlist and the MP4",
              st == 200 and "index.m3u8" in page and "bill.mp4" in page, st)
        csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page)
        check("watch page carries a CSRF token", csrf is not None)
        csrf = csrf.group(1) if csrf else ""
        st, h, _ = a.get(url + "/watch")
        check("watch page without the session: 303 back to the link", st == 303 and
              h.get("location") == url, (st, h.get("location")))
        st, h, data = a.get(url + "/bill.json", hc)
        pd = json.loads(data)
        fillr = json.loads(subprocess.run([VBILL, "fill", "--rules", rules, rpath],
                                          capture_output=True, text=True).stdout)
        check("page data: the written bill's amounts are the bill's",
              pd["bill"]["this_month_text"].replace(",", "").rstrip("원") ==
              str(fillr["amounts"]["this_month"]), (pd["bill"]["this_month_text"],
                                                     fillr["amounts"]["this_month"]))
        st, h, pl = a.get(url + "/index.m3u8", hc)
        check("playlist with the session", st == 200 and pl.startswith(b"#EXTM3U"), st)
        segs = [l for l in pl.decode().splitlines() if l and not l.startswith("#")]
        personal_segs = [s for s in segs if not s.startswith("/")]
        shared = [s for s in segs if s.startswith("/s/")]
        st, h, seg = a.get(url + "/" + personal_segs[0], hc)
        check("personal segment with the session: 200 MPEG-TS", st == 200 and seg[:1] == b"\x47",
              st)
        check("personal segment without a session: 401/403",
              a.get(url + "/" + personal_segs[0])[0] in (401, 403))
        other = la[ids[2]]
        st, h, cookie2 = login(a, other, digits_of(by_id[ids[2]]))
        for f in ("index.m3u8", personal_segs[0], "bill.mp4", "bill.json", "watch"):
            st = a.get(url + "/" + f, {"Cookie": cookie2})[0]
            check("another customer's session on %s: refused" % f, st in (303, 401, 403), st)
        st, h, _ = a.get(shared[0])
        check("shared segment: public, cacheable for a year, immutable",
              st == 200 and "public" in h.get("cache-control", "") and
              "immutable" in h.get("cache-control", "") and "max-age=31536000" in
              h.get("cache-control", ""), h.get("cache-control"))
        st, h, part = a.get(url + "/bill.mp4", dict(hc, Range="bytes=0-99"))
        check("MP4 honours Range: 206", st == 206 and len(part) == 100 and
              h.get("content-range", "").startswith("bytes 0-99/"), (st, h.get("content-range")))
        etag = h.get("etag")
        st, h, _ = a.get(url + "/bill.mp4", dict(hc, **{"If-None-Match": etag}))
        check("MP4 ETag: 304", st == 304, st)
        st, h, _ = a.get(shared[0], {"Range": "bytes=99999999-"})
        check("unsatisfiable range: 416", st == 416, st)
        st, h, vtt = a.get(url + "/captions.vtt", hc)
        check("captions: WebVTT", st == 200 and vtt.startswith(b"WEBVTT"), st)

        # ---- events and questions ----
        ev = {"Cookie": cookie, "Content-Type": "application/json"}
        st = a.request("POST", url + "/event", json.dumps({"type": "progress", "quartile": 25,
                                                           "position": 2.0}), ev)[0]
        check("event without the CSRF token: 403", st == 403, st)
        ev["X-CSRF-Token"] = csrf
        st = a.request("POST", url + "/event", json.dumps({"type": "progress", "quartile": 25,
                                                           "position": 2.0}), ev)[0]
        check("event with it: 204", st == 204, st)
        st = a.request("POST", url + "/event", json.dumps({"type": "survey", "score": 5}), ev)[0]
        st2 = a.request("POST", url + "/event", json.dumps({"type": "survey", "score": 1}), ev)[0]
        check("the survey once: 204 then 409", (st, st2) == (204, 409), (st, st2))
        st = a.request("POST", url + "/event", json.dumps({"type": "nope"}), ev)[0]
        check("unknown event: 400", st == 400, st)
        st = a.request("POST", url + "/event", "x" * 20000, ev)[0]
        check("oversized body: 413", st == 413, st)
        st, h, ans = a.request("POST", url + "/chat", json.dumps(
            {"question": "왜 이번 달 요금이 다음 달보다 적어요?", "position": 1.5}), ev)
        aj = json.loads(ans) if st == 200 else {}
        check("chat: answered from the bill", st == 200 and aj.get("answered") is True, (st, ans))
        st, h, ans = a.request("POST", url + "/chat", json.dumps(
            {"question": "상담원 연결해 주세요", "position": 1.5}), ev)
        aj = json.loads(ans) if st == 200 else {}
        check("chat: asking for a person escalates", st == 200 and aj.get("escalate") is True,
              (st, ans))

        # ---- the page's static files: gzipped where the browser takes it ----
        js = open(os.path.join(PAGE, "static", "watch.js"), "rb").read()
        st, h, plain_js = a.get("/static/watch.js")
        st2, h2, gz_js = a.get("/static/watch.js", {"Accept-Encoding": "gzip, deflate, br"})
        st3, h3, _ = a.get("/static/watch.js", {"Accept-Encoding": "gzip;q=0, *"})
        check("static files: gzip when accepted, the same bytes, their own ETag, Vary",
              st == 200 and plain_js == js and "content-encoding" not in h and
              st2 == 200 and h2.get("content-encoding") == "gzip" and
              gzip.decompress(gz_js) == js and len(gz_js) < len(js) / 2 and
              h2.get("etag") != h.get("etag") and h2.get("vary") == "Accept-Encoding" and
              "content-encoding" not in h3, (st, st2, h2.get("content-encoding"), h3))
        st, h, _ = a.get("/static/watch.js", {"Accept-Encoding": "gzip", "If-None-Match": h2["etag"]})
        check("static files: the gzip copy's ETag gives 304", st == 304, st)

        # ---- hostile requests ----
        st = a.request("DELETE", url)[0]
        check("a method it does not serve: 405", st == 405, st)
        for p in ("/static/../check.html", "/static/%2e%2e/check.html", "/s/../../etc/passwd",
                  url + "/../../etc/passwd", url + "/%2e%2e%2fbill.json", "/v/../_batch/"):
            st = a.get(p)[0]
            check("traversal %s: refused" % p, st in (400, 403, 404), st)
        big = {"X-Big": "a" * 40000}
        try:
            st = a.get("/healthz", big)[0]
        except (ConnectionError, http.client.HTTPException):
            st = -1
        check("oversized headers: refused", st in (-1, 413, 431), st)
        # slowloris: a connection that trickles its request is closed; others are served
        slow = socket.create_connection(("127.0.0.1", a.port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.time()
        check("served while a client trickles", a.get("/healthz")[0] == 200)
        slow.settimeout(10)
        try:
            closed = slow.recv(100) == b""
        except (socket.timeout, ConnectionError):
            closed = False
        check("the trickling connection is closed after the idle timeout",
              closed and time.time() - t0 < 8, time.time() - t0)
        slow.close()

        # ---- the client's address: X-Forwarded-For only from --trust-proxy ----
        xa = {"X-Forwarded-For": "203.0.113.5"}
        st, h, cx = login(a, la[ids[3]], digits_of(by_id[ids[3]]), xa)
        st1 = a.get(la[ids[3]] + "/index.m3u8", {"Cookie": cx, "X-Forwarded-For": "203.0.113.5"})[0]
        st2 = a.get(la[ids[3]] + "/index.m3u8", {"Cookie": cx, "X-Forwarded-For": "198.51.100.7"})[0]
        check("trusted proxy: the session is the forwarded client's", (st1, st2) == (200, 403),
              (st1, st2))

        # ---- /healthz, /metrics ----
        st, h, m = a.get("/metrics")
        mt = m.decode()
        check("/metrics: the Prometheus text format", st == 200 and
              "# TYPE vbill_http_requests_total counter" in mt and
              'vbill_http_request_duration_seconds_bucket{route="check"' in mt and
              "vbill_http_open_connections" in mt and "vbill_renders_total" in mt and
              "vbill_render_queue" in mt and "vbill_locks_total" in mt, mt[:500])

        # ---- a link locked on the page: an auth.locked event for the help desk ----
        recv_log, recv_port = tmp + "/hooks.log", tmp + "/hooks.port"
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        recv = subprocess.Popen([sys.executable, os.path.join(S, "tests", "servers", "hookrecv.py"),
                                 "--kind", "webhook", "--port-file", recv_port, "--log", recv_log,
                                 "--secret", secret], stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(recv_port) and open(recv_port).read().strip():
                    break
                time.sleep(0.05)
            with open(tmp + "/hooks.json", "w") as f:
                json.dump({"source": "urn:vbill:serve-test", "retry_base_ms": 50,
                           "retry_max_ms": 500, "sinks": [{
                               "type": "webhook", "name": "desk", "insecure": True,
                               "url": "http://127.0.0.1:%s/hook" % open(recv_port).read().strip(),
                               "secret": secret, "events": ["auth.locked"]}]}, f)
            hk = Server(["--store", store_a, "--key-file", keys, "--state", tmp + "/state-h",
                         "--page", PAGE, "--hooks", tmp + "/hooks.json", "--quiet"],
                        tmp + "/h.log")
            servers.append(hk)
            lid = ids[-1]
            wrong = "000101" if digits_of(by_id[lid]) != "000101" else "000102"
            sts = [hk.post_form(la[lid], wrong)[0] for _ in range(5)]
            got = []
            for _ in range(100):
                if os.path.exists(recv_log):
                    got = [json.loads(l) for l in open(recv_log) if l.strip()]
                if got:
                    break
                time.sleep(0.1)
            check("five wrong entries on the page: the last one locks (429)",
                  sts[-1] == 429 and all(x == 401 for x in sts[:-1]), sts)
            check("the lock reaches the help desk as auth.locked, subject the subscriber, "
                  "signed, without the digits",
                  len(got) == 1 and got[0].get("subject") == lid and got[0].get("sig_ok") and
                  digits_of(by_id[lid]) not in json.dumps(got), got)
        finally:
            recv.kill()
            recv.wait()

        # ---- on demand: first view renders once, whatever the number of requests ----
        redis = shutil.which("redis-server")
        if not redis:
            print("SKIP: redis-server missing: the two-server part")
        rport = free_port()
        rd = subprocess.Popen([redis, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL) if redis else None
        time.sleep(0.5)
        common = ["--store", store_b, "--key-file", keys, "--page", PAGE, "--insecure-cookies",
                  "--quiet"] + (["--redis", "127.0.0.1:%d" % rport] if redis else
                                ["--state", tmp + "/state-b"])
        b1 = Server(common + ["--render-workers", "1"], tmp + "/b1.log")
        servers.append(b1)
        b2 = Server(common, tmp + "/b2.log") if redis else None
        if b2:
            servers.append(b2)
        oid = ids[4]
        st, h, ck = login(b1, lb[oid], digits_of(by_id[oid]))
        check("on demand: check passes", st == 303, st)

        def renders_of(srv):  # done, under way or queued
            m = srv.get("/metrics")[2].decode()
            return sum(int(x) for x in re.findall(
                r'^(?:vbill_renders_total\{result="\w+"\}|vbill_render_queue|vbill_render_busy) (\d+)$',
                m, re.M))

        # overlay mode: the template's shared rendition and the slots; nothing rendered
        st, h, data = b1.get(lb[oid] + "/bill.json", {"Cookie": ck})
        ov = json.loads(data).get("overlay") if st == 200 else None
        check("page data: the overlay rendition and the slots with this bill's texts",
              ov and re.fullmatch(r"/s/[0-9a-f]{16}/overlay/index\.m3u8", ov["hls"]) and
              [s["name"] for s in ov["slots"]] == ["this_month", "payment"] and
              all(s["text"] and len(s["box"]) == 4 for s in ov["slots"]), ov)
        if ov:
            st, h, opl = b1.get(ov["hls"])
            osegs = [l for l in opl.decode().splitlines() if l and not l.startswith("#")]
            check("overlay playlist: public, immutable, every segment its own",
                  st == 200 and "immutable" in h.get("cache-control", "") and osegs and
                  all(re.fullmatch(r"s\d{5}\.ts", x) for x in osegs), (st, osegs))
            got = [b1.get(urllib.parse.urljoin(ov["hls"], x)) for x in osegs]
            check("overlay segments: served without a session, MPEG-TS",
                  all(g[0] == 200 and g[2][:1] == b"\x47" for g in got), [g[0] for g in got])
        check("on demand: a check and overlay mode render nothing", renders_of(b1) == 0,
              renders_of(b1))
        st, h, pl = b1.get(lb[oid] + "/index.m3u8", {"Cookie": ck})
        check("on demand: the playlist is made", st == 200 and pl.startswith(b"#EXTM3U"), st)
        psegs = [l for l in pl.decode().splitlines() if l and not l.startswith(("#", "/"))]
        results = []

        def fetch(name):
            results.append(b1.get(lb[oid] + "/" + name, {"Cookie": ck}))

        ths = [threading.Thread(target=fetch, args=(p,)) for p in psegs for _ in range(6)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        check("on demand: every request of a personal segment gets it",
              all(r[0] == 200 and r[2][:1] == b"\x47" for r in results),
              [r[0] for r in results])
        m = b1.get("/metrics")[2].decode()
        renders = int(re.search(r'vbill_renders_total\{result="ok"\} (\d+)', m).group(1))
        check("on demand: one render per segment, kept in the store", renders == len(psegs) and
              all(os.path.exists(os.path.join(store_b, by_id[oid]["bill"]["cycle_start"][:7],
                                              oid, p)) for p in psegs), (renders, len(psegs)))

        # ---- two servers, one Redis: ten tries in all ----
        if b2:
            tid = ids[5]
            codes = []
            for i in range(12):
                srv = (b1, b2)[i % 2]
                codes.append(srv.post_form(lb[tid], "%06d" % (100000 + i))[0])
                # wait out the soft lock's cooling period?  it is 15 min: the test counts on
                # the hard bound instead, so the soft lock may stop it earlier
            ok_digits = [srv.post_form(lb[tid], digits_of(by_id[tid]))[0] for srv in (b1, b2)]
            check("two servers share the tries: locked on both", ok_digits == [429, 429]
                  and codes.count(401) <= 10, (codes, ok_digits))
        if rd:
            rd.kill()

        # ---- SIGTERM drains: an open request finishes ----
        big_file = os.path.join(store_a, rec["bill"]["cycle_start"][:7], sid, "bill.mp4")
        done = {}

        def slow_download():
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
            c.request("GET", url + "/bill.mp4", headers=hc)
            r = c.getresponse()
            n = 0
            while True:
                chunk = r.read(4096)
                if not chunk:
                    break
                n += len(chunk)
                time.sleep(0.01)
            done["n"] = n
            done["status"] = r.status

        t = threading.Thread(target=slow_download)
        t.start()
        time.sleep(0.3)
        a.p.send_signal(signal.SIGTERM)
        t.join(timeout=30)
        rc = a.p.wait(timeout=20)
        check("SIGTERM: the open download finishes whole, then the server exits 0",
              done.get("status") == 200 and done.get("n") == os.path.getsize(big_file) and rc == 0,
              (done, rc))
        logs = "".join(open(tmp + "/%s.log" % n).read() for n in ("a", "b1") if
                       os.path.exists(tmp + "/%s.log" % n))
        check("no birth digits or tokens in the logs", not any(
            digits_of(r) in logs for r in recs) and not any(
            u.split("/")[-1] in logs for u in la.values()))
    finally:
        for s in servers:
            s.stop()
        if not os.environ.get("VBILL_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    print("%d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
