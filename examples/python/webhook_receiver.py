#!/usr/bin/env python3
"""webhook_receiver.py: a tiny help-desk webhook receiver for trying the chat examples.  It
checks each request's Standard Webhooks signature (webhook-id, webhook-timestamp,
webhook-signature: "v1," + base64 HMAC-SHA256 of "id.timestamp.body" keyed by the decoded
whsec_ secret), de-duplicates by webhook-id (delivery is at least once), and prints one line
per event.

    python3 webhook_receiver.py whsec_... [PORT] [--count N] [--port-file FILE]
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("secret")
    ap.add_argument("port", nargs="?", type=int, default=0)
    ap.add_argument("--count", type=int, default=0, help="exit after N distinct events")
    ap.add_argument("--port-file", help="write the listening port here")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    key = base64.b64decode(args.secret[len("whsec_"):])
    seen = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            wid = self.headers.get("webhook-id", "")
            ts = self.headers.get("webhook-timestamp", "")
            signed = b"%s.%s.%s" % (wid.encode(), ts.encode(), body)
            want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            sigs = self.headers.get("webhook-signature", "").split()
            if not any(hmac.compare_digest(s, want) for s in sigs):
                self.send_response(401)
                self.end_headers()
                print("rejected a request with a bad signature", flush=True)
                return
            self.send_response(204)  # answer fast; work on the event afterwards
            self.end_headers()
            if wid in seen:
                return
            seen.add(wid)
            event = json.loads(body)
            data = event.get("data", {})
            print("event %s %s subject=%s priority=%s question=%s signature=ok"
                  % (wid, event["type"], event.get("subject"), data.get("priority"),
                     json.dumps(data.get("question"), ensure_ascii=False)), flush=True)

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    server.timeout = args.timeout
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    # Serve until N distinct events arrived, or (without --count) forever; either way never
    # longer than --timeout seconds without a new event, so a test can't hang on it.
    import time
    last = time.monotonic()
    while not args.count or len(seen) < args.count:
        before = len(seen)
        server.handle_request()
        if len(seen) != before:
            last = time.monotonic()
        elif time.monotonic() - last > args.timeout:
            print("timeout: %d of %d events" % (len(seen), args.count), flush=True)
            server.server_close()
            return 1
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
