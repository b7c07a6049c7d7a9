#!/usr/bin/env python3
"""hookrecv.py: flaky help-desk receivers for the hooks tests (Python standard library only).

  hookrecv.py --kind webhook|zendesk|rt --port-file F --log F [--secret whsec_...]
              [--mode ok|flaky|fail|hang] [--seed N] [--email E --token T]

Listens on 127.0.0.1 (a free port, written to --port-file).  Every request is appended to
--log as one JSON object per line:
  {"kind","path","status","id","sig_ok","problems":[...]}
and for a webhook also "subject" and "data" (the event's data; a still in it is logged as
{"bytes": N, "jpeg": true|false} in place of its base64 text).
webhook: verifies the Standard Webhooks signature independently (hmac/base64 of this
module); "flaky" answers, from a seeded random schedule: 200, 500, 429 + Retry-After in
seconds, 503 + Retry-After as an HTTP date, a hang past the client's timeout, or a
connection closed mid-response.  POST /_mode with body "ok" (etc.) switches the mode.
zendesk / rt: check the published request shapes (auth header, Idempotency-Key,
external_id, body fields), keep tickets, answer look-ups; in "flaky" mode the first
answer to each ticket creation is lost (the ticket is made, the connection closed), so the
client must look the ticket up before retrying.
"""
import argparse, base64, email.utils, hashlib, hmac, json, random, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

A = None
LOCK = threading.Lock()
STATE = {"mode": "ok", "n": 0, "tickets": {}, "uploads": {}, "lost": set(), "next_id": 1}
RNG = random.Random(0)


def log(entry):
    with LOCK:
        with open(A.log, "a") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def verify_webhook(headers, body):
    """Standard Webhooks, written from the specification (not from libvbill)."""
    problems = []
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts or not sigs:
        return False, ["missing webhook-* headers"]
    try:
        if abs(time.time() - int(ts)) > 300:
            problems.append("timestamp outside tolerance")
    except ValueError:
        return False, ["bad timestamp"]
    secret = A.secret
    if secret.startswith("whsec_"):
        secret = secret[6:]
    key = base64.b64decode(secret)
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                         hashlib.sha256).digest()).decode()
    ok = False
    for part in sigs.split(" "):
        ver, _, sig = part.partition(",")
        if ver == "v1" and hmac.compare_digest(sig, expected):
            ok = True
    if not ok:
        problems.append("signature mismatch")
    return ok and not problems, problems


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def answer(self, code, obj=None, headers=()):
        data = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def close_mid_response(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial")
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        problems = self.check_auth()
        if A.kind == "zendesk" and u.path == "/api/v2/tickets.json":
            ext = q.get("external_id", [""])[0]
            with LOCK:
                found = [t for t in STATE["tickets"].values() if t["external_id"] == ext]
            log({"kind": "lookup", "path": u.path, "status": 200, "id": ext, "problems": problems})
            return self.answer(200, {"tickets": found, "count": len(found),
                                     "next_page": None, "previous_page": None})
        if A.kind == "rt" and u.path == "/REST/2.0/tickets":
            query = q.get("query", [""])[0]
            # 'CF.{vbill-event-id}'='ID'
            ext = query.rpartition("=")[2].strip("'")
            with LOCK:
                found = [{"type": "ticket", "id": str(t["id"])} for t in STATE["tickets"].values()
                         if t["external_id"] == ext]
            if not query.startswith("'CF.{vbill-event-id}'="):
                problems.append("bad TicketSQL query " + query)
            log({"kind": "lookup", "path": u.path, "status": 200, "id": ext, "problems": problems})
            return self.answer(200, {"count": len(found), "total": len(found), "page": 1,
                                     "per_page": 20, "items": found})
        log({"kind": "unknown", "path": self.path, "status": 404, "problems": ["unexpected GET"]})
        self.answer(404, {"error": "not found"})

    def check_auth(self):
        got = self.headers.get("Authorization", "")
        if A.kind == "zendesk":
            want = "Basic " + base64.b64encode(f"{A.email}/token:{A.token}".encode()).decode()
        elif A.kind == "rt":
            want = "token " + A.token
        else:
            return []
        return [] if got == want else ["bad Authorization header"]

    def do_POST(self):
        u = urlparse(self.path)
        body = self.body()
        if u.path == "/_mode":
            STATE["mode"] = body.decode().strip()
            return self.answer(200, {"mode": STATE["mode"]})
        with LOCK:
            STATE["n"] += 1
        if A.kind == "webhook":
            return self.webhook(body)
        problems = self.check_auth()
        if A.kind == "zendesk" and u.path == "/api/v2/uploads.json":
            fn = parse_qs(u.query).get("filename", [""])[0]
            if not fn:
                problems.append("upload without filename")
            if self.headers.get("Content-Type") != "image/jpeg":
                problems.append("upload Content-Type is not image/jpeg")
            if not body.startswith(b"\xff\xd8\xff"):
                problems.append("upload is not a JPEG")
            tok = "tok%d" % len(STATE["uploads"])
            with LOCK:
                STATE["uploads"][tok] = len(body)
            log({"kind": "upload", "path": u.path, "status": 201, "bytes": len(body),
                 "problems": problems})
            return self.answer(201, {"upload": {"token": tok, "attachment": {"file_name": fn}}})
        if A.kind == "zendesk" and u.path == "/api/v2/tickets.json":
            return self.zendesk_ticket(body, problems)
        if A.kind == "rt" and u.path == "/REST/2.0/ticket":
            return self.rt_ticket(body, problems)
        log({"kind": "unknown", "path": self.path, "status": 404, "problems": ["unexpected POST"]})
        self.answer(404, {"error": "not found"})

    def webhook(self, body):
        ok, problems = verify_webhook(self.headers, body)
        try:
            ev = json.loads(body)
        except ValueError:
            ev, problems = {}, problems + ["body is not JSON"]
        for k in ("specversion", "id", "source", "type", "time", "subject", "data"):
            if k not in ev:
                problems.append("envelope lacks " + k)
        if ev.get("specversion") != "1.0":
            problems.append("specversion is not 1.0")
        if ev.get("id") != self.headers.get("webhook-id"):
            problems.append("webhook-id differs from the event id")
        if "birth" in body.decode("utf-8", "replace").lower():
            problems.append("birth in the event")
        mode = STATE["mode"]
        act = "ok"
        if mode == "flaky":
            with LOCK:
                act = RNG.choices(["ok", "500", "429", "503date", "hang", "close"],
                                  [50, 15, 10, 5, 5, 15])[0]
        elif mode == "fail":
            act = "500"
        elif mode != "ok":
            act = mode
        data = ev.get("data") if isinstance(ev.get("data"), dict) else {}
        if "still" in data:
            still = data["still"] if isinstance(data["still"], dict) else {}
            try:
                jpeg = base64.b64decode(still.get("data_base64", ""), validate=True)
            except (ValueError, TypeError):
                jpeg, problems = b"", problems + ["the still is not base64"]
            if still.get("type") != "image/jpeg":
                problems.append("the still's type is not image/jpeg")
            data = dict(data, still={"bytes": len(jpeg), "jpeg": jpeg[:3] == b"\xff\xd8\xff"})
        entry = {"kind": "webhook", "id": ev.get("id"), "type": ev.get("type"), "sig_ok": ok,
                 "problems": problems, "act": act, "subject": ev.get("subject"), "data": data}
        if act == "ok":
            entry["status"] = 200
            log(entry)
            return self.answer(200, {"ok": True})
        if act == "500":
            entry["status"] = 500
            log(entry)
            return self.answer(500, {"error": "boom"})
        if act == "429":
            entry["status"] = 429
            log(entry)
            return self.answer(429, {"error": "slow down"}, [("Retry-After", "1")])
        if act == "503date":
            entry["status"] = 503
            log(entry)
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return self.answer(503, {"error": "maintenance"}, [("Retry-After", when)])
        if act == "hang":
            entry["status"] = 0
            log(entry)
            time.sleep(A.hang)
            self.close_connection = True
            return
        entry["status"] = -1
        log(entry)
        self.close_mid_response()

    def zendesk_ticket(self, body, problems):
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            problems.append("Content-Type is not application/json")
        try:
            req = json.loads(body)
            t = req["ticket"]
        except (ValueError, KeyError, TypeError):
            log({"kind": "ticket", "status": 400, "problems": ["body is not {\"ticket\": {...}}"]})
            return self.answer(400, {"error": "RecordInvalid"})
        ext = t.get("external_id")
        if not isinstance(ext, str) or not ext:
            problems.append("no external_id")
        if self.headers.get("Idempotency-Key") != ext:
            problems.append("Idempotency-Key differs from external_id")
        if not isinstance(t.get("subject"), str) or not t["subject"]:
            problems.append("no subject")
        c = t.get("comment")
        if not isinstance(c, dict) or not isinstance(c.get("body"), str) or not c["body"]:
            problems.append("no comment.body")
        for tok in (c or {}).get("uploads", []):
            if tok not in STATE["uploads"]:
                problems.append("unknown upload token " + str(tok))
        if t.get("priority") not in (None, "urgent", "high", "normal", "low"):
            problems.append("bad priority")
        if not isinstance(t.get("tags", []), list):
            problems.append("tags is not a list")
        for cf in t.get("custom_fields", []):
            if not isinstance(cf, dict) or not isinstance(cf.get("id"), int) or "value" not in cf:
                problems.append("bad custom field")
        if "birth" in body.decode("utf-8", "replace").lower():
            problems.append("birth in the ticket")
        return self.store_ticket(ext, t, problems)

    def rt_ticket(self, body, problems):
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            problems.append("Content-Type is not application/json")
        try:
            t = json.loads(body)
        except ValueError:
            log({"kind": "ticket", "status": 400, "problems": ["body is not JSON"]})
            return self.answer(400, {"message": "bad JSON"})
        for k in ("Queue", "Subject", "Content"):
            if not isinstance(t.get(k), str) or not t[k]:
                problems.append("no " + k)
        cf = t.get("CustomFields", {})
        ext = cf.get("vbill-event-id") if isinstance(cf, dict) else None
        if not ext:
            problems.append("no CustomFields.vbill-event-id")
        for a in t.get("Attachments", []):
            try:
                if not base64.b64decode(a["FileContent"]).startswith(b"\xff\xd8\xff"):
                    problems.append("attachment is not a JPEG")
                if a.get("FileType") != "image/jpeg" or not a.get("FileName"):
                    problems.append("attachment lacks FileName/FileType")
            except (KeyError, ValueError, TypeError):
                problems.append("bad attachment")
        return self.store_ticket(ext, t, problems)

    def store_ticket(self, ext, t, problems):
        with LOCK:
            dup = ext in (x["external_id"] for x in STATE["tickets"].values())
            tid = STATE["next_id"]
            STATE["next_id"] += 1
            STATE["tickets"][tid] = {"id": tid, "external_id": ext, "has_upload":
                                     bool((t.get("comment") or {}).get("uploads") or
                                          t.get("Attachments"))}
            lose = STATE["mode"] == "flaky" and ext not in STATE["lost"]
            if lose:
                STATE["lost"].add(ext)
        if dup:
            problems.append("second ticket for external_id " + str(ext))
        log({"kind": "ticket", "status": 201, "id": ext, "problems": problems,
             "upload": STATE["tickets"][tid]["has_upload"], "lost_answer": lose})
        if lose:
            return self.close_mid_response()
        if A.kind == "rt":
            return self.answer(201, {"id": str(tid), "type": "ticket",
                                     "_url": "http://localhost/REST/2.0/ticket/%d" % tid})
        return self.answer(201, {"ticket": {"id": tid, "external_id": ext}})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out or close early are part of the test


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--kind", default="webhook", choices=["webhook", "zendesk", "rt"])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secret", default="")
    p.add_argument("--email", default="agent@example.com")
    p.add_argument("--token", default="")
    p.add_argument("--mode", default="ok")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hang", type=float, default=3.0)
    A = p.parse_args()
    STATE["mode"] = A.mode
    RNG.seed(A.seed)
    srv = Server(("127.0.0.1", 0), H)
    with open(A.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(A.port_file + ".tmp", A.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
