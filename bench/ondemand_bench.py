#!/usr/bin/env python3
"""ondemand_bench.py: new viewers per minute that `vbill serve` sustains in on-demand mode with
no personal segment late for its play time (issue 16, item 4).  Figures, never pass/fail.

    BUILDDIR=build BENCH_STORE=build/odbench-store python3 bench/ondemand_bench.py \
        [--rates 72,144,216,288] [--arrivals 50] [--lead 10] [--records 400] [--render-workers N]

The store: `vbill batch RECORDS --render on-demand` on the built-in templates (generated and
prepared into the store once: about 500 CPU-s) from --records records of bench/make_month.py
(a realistic month: the seven scenarios, fresh names, days and payers; a few make no video
bill).  BENCH_STORE keeps it between runs (made there when missing); else a temporary one.

Per rate R (new viewers a minute): a fresh `vbill serve` on loopback over that store (its
default threads and render workers: the cores), with everything the last run rendered removed
(the bills' pNNNNN.ts and playlists, the cycle's segment cache: each rate starts cold), and the
templates opened by a warm-up (one bill per template: check and watch page, no playlist, so
nothing rendered; a long-running server has them open).  Then a viewer arrives every 60/R s for
--arrivals seconds, each on a bill of its own; it GETs the SMS link, POSTs its six digits (303
+ session cookie), GETs the watch page, captions, chapters and the playlist at once (no think
time: the playlist queues the bill's personal segments in play order), then plays like hls.js
from t = 0 at 1x on one keep-alive connection: segment k, personal or shared, is requested one
at a time at its play time minus --lead seconds (what the player buffers ahead).  Playback
starts when the first segment is in (that wait is the start-up); a personal segment whose
response completes after its play time is late, by that much (against the unstalled clock: a
stall's delay adds up).  A viewer stops after its last personal segment (--full-play: at the
end; the shared segments after it are files).

Printed per rate: viewers, personal segments, late ones and the worst lateness (or, none late,
the smallest margin), p50/p99 personal-segment response time, p50/max start-up, the server's
CPU seconds per viewer (utime + stime + children's of /proc/PID/stat from the first arrival to
the last viewer's end), the cores it used, renders, errors, the load average before and after;
then the highest rate tried with no late personal segment, and the ceiling the server's CPU per
viewer sets on the machine's cores.  Rates run in the order given and stop after the first
with a late segment (--all runs them all).  Default run: at most about 10 minutes.

Environment: BUILDDIR (examples/vbill; default .), BENCH_STORE, PAGE (default examples/page),
TMPDIR (the servers' state and logs, removed at the end).
"""
import argparse
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TICK = os.sysconf("SC_CLK_TCK")


def die(msg):
    sys.exit("ondemand_bench: " + msg)


def out(msg=""):
    print(msg, flush=True)


# ---- the store ----

def make_store(d, vbill, n, seed):
    os.makedirs(d, exist_ok=True)
    records = os.path.join(d, "records.jsonl")
    with open(records, "w", encoding="utf-8") as f:
        subprocess.run([sys.executable, os.path.join(SRC, "bench", "make_month.py"), str(n),
                        str(seed)], stdout=f, check=True)
    keys = os.path.join(d, "keys.json")
    if not os.path.exists(keys):
        subprocess.run([vbill, "keygen", "--out", keys], check=True, stdout=subprocess.DEVNULL)
    out("# making the store in %s: %d bills on demand, built-in templates (prepared once: "
        "minutes of CPU)" % (d, n))
    t0, c0 = time.monotonic(), os.times()
    r = subprocess.run([vbill, "batch", records, "--store", os.path.join(d, "store"),
                        "--render", "on-demand", "--key-file", keys, "--progress", "none"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    c1 = os.times()
    if r.returncode not in (0, 3):
        die("vbill batch failed (%d): %s" % (r.returncode,
                                              r.stderr.decode(errors="replace")[-2000:]))
    out("# store made in %.0f s wall, %.0f CPU-s" % (
        time.monotonic() - t0, c1.children_user + c1.children_system - c0.children_user -
        c0.children_system))
    bills = load_bills(d)
    # what vbill batch leaves in a bill's folder: everything else is the viewer's (cleaned)
    keep = set()
    for b in bills:
        keep.update(os.listdir(b["dir"]))
    cycles = sorted({os.path.dirname(b["dir"]) for b in bills})
    with open(os.path.join(d, "ready.json"), "w") as f:
        json.dump({"records": n, "seed": seed, "keep": sorted(keep),
                   "caches": {c: os.path.isdir(os.path.join(c, "_cache")) for c in cycles}}, f)


def load_bills(d):
    """The store's bills with their link path, digits, folder and template name."""
    births = {}
    for line in open(os.path.join(d, "records.jsonl"), encoding="utf-8"):
        r = json.loads(line)
        b = r["birth"]
        births[r["id"]] = b[2:4] + b[5:7] + b[8:10]
    store = os.path.join(d, "store")
    bills = []
    for cycle in sorted(os.listdir(store)):
        cdir = os.path.join(store, cycle)
        if cycle.startswith(("_", ".")) or cycle == "templates" or not os.path.isdir(cdir):
            continue
        for name in sorted(os.listdir(cdir)):
            if not (name.startswith("links") and name.endswith(".jsonl")):
                continue
            for line in open(os.path.join(cdir, name), encoding="utf-8"):
                ln = json.loads(line)
                if ln["id"] not in births:
                    continue
                bdir = os.path.join(cdir, ("_" if ln["id"][0] in "._" else "") + ln["id"])
                if not os.path.exists(os.path.join(bdir, "bill.json")):
                    continue
                with open(os.path.join(bdir, "bill.json"), encoding="utf-8") as f:
                    bj = json.load(f)
                sc, loc = bj.get("scenario"), bj.get("locale")
                if not sc:  # no video bill
                    continue
                tname = "%s.%s" % (sc, loc)
                if not os.path.exists(os.path.join(store, "templates", tname, "template.json")):
                    tname = sc
                bills.append({"id": ln["id"], "link": urllib.parse.urlparse(ln["url"]).path,
                              "digits": births[ln["id"]], "dir": bdir, "template": tname})
    return bills


def clean(d, bills, ready):
    """Removes what a viewer rendered: each rate starts with no segment made."""
    keep = set(ready["keep"])
    for b in bills:
        for name in os.listdir(b["dir"]):
            if name not in keep:
                p = os.path.join(b["dir"], name)
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    for cdir, had in ready["caches"].items():
        if not had:
            shutil.rmtree(os.path.join(cdir, "_cache"), ignore_errors=True)


# ---- the server ----

def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3): utime, stime, cutime, cstime are fields 14..17
    return sum(int(x) for x in fields[11:15]) / TICK


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, vbill, d, page, workers, tmp):
        self.port = free_port()
        self.state = tempfile.mkdtemp(prefix="state-", dir=tmp)
        self.log = open(os.path.join(tmp, "serve.log"), "ab")
        cmd = [vbill, "serve", "--store", os.path.join(d, "store"),
               "--listen", "127.0.0.1:%d" % self.port, "--key-file", os.path.join(d, "keys.json"),
               "--state", self.state, "--page", page, "--insecure-cookies", "--quiet"]
        if workers:
            cmd += ["--render-workers", str(workers)]
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(200):
            try:
                st, _h, _b = request(self.conn(), "GET", "/healthz")
                if st == 200:
                    return
            except OSError:
                pass
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        die("vbill serve did not start (see %s)" % self.log.name)

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def cpu(self):
        return cpu_of(self.p.pid)

    def metrics(self):
        _st, _h, body = request(self.conn(), "GET", "/metrics")
        m = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    m[k] = float(v)
                except ValueError:
                    pass
        return m

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def request(conn, method, path, body=None, headers=None):
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, r, data


# ---- a viewer ----

class Viewer(threading.Thread):
    def __init__(self, srv, bill, lead, full):
        super().__init__(daemon=True)
        self.srv, self.bill, self.lead, self.full = srv, bill, lead, full
        self.personal = []  # (response time s, lateness s: > 0 late)
        self.startup = None
        self.errors = []
        self.conn = srv.conn()

    def get(self, path, headers=None, method="GET", body=None):
        for attempt in (0, 1):
            try:
                return request(self.conn, method, path, body, headers)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = self.srv.conn()
                if attempt:
                    raise

    def run(self):
        try:
            self.play()
        except Exception as e:  # noqa: BLE001 (a viewer's failure is a figure)
            self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            self.conn.close()

    def play(self):
        link = self.bill["link"]
        st, _r, _b = self.get(link)
        if st != 200:
            self.errors.append("check page %d" % st)
        st, r, _b = self.get(link, method="POST", body="digits=" + self.bill["digits"])
        cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
        if st != 303 or not cookie:
            self.errors.append("check POST %d" % st)
            return
        h = {"Cookie": cookie}
        for sub in ("watch", "captions.vtt", "chapters.vtt"):
            st, _r, _b = self.get(link + "/" + sub, h)
            if st != 200:
                self.errors.append("%s %d" % (sub, st))
        st, _r, pl = self.get(link + "/index.m3u8", h)
        if st != 200:
            self.errors.append("playlist %d" % st)
            return
        t_pl = time.monotonic()
        segs, t = [], 0.0
        dur = None
        for line in pl.decode().splitlines():
            line = line.strip()
            if line.startswith("#EXTINF:"):
                dur = float(line[8:].split(",")[0])
            elif line and not line.startswith("#"):
                u = urllib.parse.urlparse(line)
                path = u.path if u.scheme or line.startswith("/") else link + "/" + line
                segs.append((t, path, not (u.scheme or line.startswith("/"))))
                t += dur or 0.0
        if not self.full:  # the shared segments after the last personal one change nothing
            while segs and not segs[-1][2]:
                segs.pop()
        p0 = None
        for k, (start, path, personal) in enumerate(segs):
            if p0 is not None:
                wait = p0 + start - self.lead - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            t_req = time.monotonic()
            st, _r, _b = self.get(path, h if personal else None)
            t_done = time.monotonic()
            if st != 200:
                self.errors.append("segment %s %d" % (os.path.basename(path), st))
            if p0 is None:  # the player starts when its first segment is in
                p0 = t_done
                self.startup = t_done - t_pl
            if personal:
                self.personal.append((t_done - t_req, t_done - (p0 + start)))


# ---- a rate ----

def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(math.ceil(p / 100.0 * len(xs))) - 1))]


def run_rate(rate, args, vbill, d, page, bills, ready, tmp):
    clean(d, bills, ready)
    srv = Server(vbill, d, page, args.render_workers, tmp)
    try:
        # the warm-up: one bill per template, check and watch page (the template is opened)
        warm, rest, seen = [], [], set()
        for b in bills:
            if b["template"] in seen:
                rest.append(b)
            else:
                seen.add(b["template"])
                warm.append(b)
        t0 = time.monotonic()
        for b in warm:
            c = srv.conn()
            st, r, _ = request(c, "POST", b["link"], "digits=" + b["digits"])
            cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
            st2, _r, _ = request(c, "GET", b["link"] + "/watch", headers={"Cookie": cookie})
            c.close()
            if st != 303 or st2 != 200:
                die("warm-up of %s: %d %d" % (b["template"], st, st2))
        warm_s = time.monotonic() - t0
        n = int(round(rate * args.arrivals / 60.0))
        if n > len(rest):
            die("%d viewers at %g/min need %d bills beyond the warm-up's, the store has %d: "
                "--records %d (with a new BENCH_STORE)" % (n, rate, n, len(rest),
                                                           n + len(warm) + 10))
        load0 = os.getloadavg()[0]
        cpu0 = srv.cpu()
        m0 = srv.metrics()
        viewers = []
        start = time.monotonic()
        for i in range(n):
            wait = start + i * 60.0 / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            v = Viewer(srv, rest[i], args.lead, args.full_play)
            v.start()
            viewers.append(v)
        for v in viewers:
            v.join()
        wall = time.monotonic() - start
        cpu = srv.cpu() - cpu0
        m1 = srv.metrics()
        load1 = os.getloadavg()[0]
    finally:
        srv.stop()
    pers = [p for v in viewers for p in v.personal]
    late = [x for _rt, x in pers if x > 0]
    resp = [rt for rt, _x in pers]
    ups = [v.startup for v in viewers if v.startup is not None]
    errs = [e for v in viewers for e in v.errors]
    renders = (m1.get('vbill_renders_total{result="ok"}', 0) -
               m0.get('vbill_renders_total{result="ok"}', 0))
    failed = (m1.get('vbill_renders_total{result="failed"}', 0) -
              m0.get('vbill_renders_total{result="failed"}', 0))
    worst = ("late %.2f s" % max(late)) if late else (
        "margin %.2f s" % -max(x for _rt, x in pers) if pers else "-")
    out("%6g/min  %3d viewers  %4d personal  %3d late  worst %-15s  resp p50 %.2f s  p99 %.2f s  "
        "start-up p50 %.2f s  max %.2f s  server %.1f CPU-s/viewer (%.0f CPU-s in %.0f s: %.2f "
        "cores)  renders %d (+%d failed)  errors %d  load %.1f-%.1f  warm-up %.1f s" % (
            rate, n, len(pers), len(late), worst, pct(resp, 50), pct(resp, 99), pct(ups, 50),
            max(ups) if ups else float("nan"), cpu / n if n else 0, cpu, wall,
            cpu / wall if wall else 0, renders, failed, len(errs), load0, load1, warm_s))
    for e in sorted(set(errs))[:5]:
        out("          error: %s (x%d)" % (e, errs.count(e)))
    return {"rate": rate, "late": len(late), "personal": len(pers), "errors": len(errs),
            "cpu": cpu / n if n else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="72,144,216,288",
                    help="new viewers a minute, comma-separated")
    ap.add_argument("--arrivals", type=float, default=50,
                    help="seconds of arrivals per rate (each viewer then plays its bill)")
    ap.add_argument("--lead", type=float, default=10,
                    help="a segment is requested this many seconds before its play time")
    ap.add_argument("--records", type=int, default=400, help="bills in a store made here")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--full-play", action="store_true",
                    help="play to the end (default: stop after the last personal segment)")
    ap.add_argument("--all", action="store_true",
                    help="try every rate (default: stop after the first with a late segment)")
    ap.add_argument("--render-workers", type=int, default=0,
                    help="vbill serve --render-workers (default: its own, the cores)")
    args = ap.parse_args()
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    build = os.path.abspath(os.environ.get("BUILDDIR", "."))
    vbill = os.path.join(build, "examples", "vbill")
    if not os.access(vbill, os.X_OK):
        die("no %s: set BUILDDIR" % vbill)
    page = os.environ.get("PAGE", os.path.join(SRC, "examples", "page"))
    tmp = tempfile.mkdtemp(prefix="ondemand_bench-")
    d = os.environ.get("BENCH_STORE") or os.path.join(tmp, "bench")
    d = os.path.abspath(d)
    try:
        out("# %s" % " ".join(
            ["BUILDDIR=%s" % os.environ.get("BUILDDIR", ".")] +
            (["BENCH_STORE=%s" % os.environ["BENCH_STORE"]]
             if os.environ.get("BENCH_STORE") else [])
            + ["python3"] + sys.argv))
        out("# %s, %d cores, load average %s" % (
            time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), os.cpu_count(),
            " ".join("%.2f" % x for x in os.getloadavg())))
        ready_path = os.path.join(d, "ready.json")
        if not os.path.exists(ready_path):
            make_store(d, vbill, args.records, args.seed)
        with open(ready_path) as f:
            ready = json.load(f)
        bills = load_bills(d)
        tmpls = sorted({b["template"] for b in bills})
        out("# store %s: %d bills, %d templates (%s); lead %g s, %g s of arrivals per rate" % (
            d, len(bills), len(tmpls), " ".join(tmpls), args.lead, args.arrivals))
        results = []
        for i, rate in enumerate(rates):
            results.append(run_rate(rate, args, vbill, d, page, bills, ready, tmp))
            if results[-1]["late"] and not args.all and i + 1 < len(rates):
                out("%6s      not tried (%g/min had late segments; --all tries them)" % (
                    ",".join("%g" % r for r in rates[i + 1:]), rate))
                break
        ok = [r["rate"] for r in results if r["late"] == 0 and r["personal"] > 0]
        out("highest rate tried with no personal segment late: %s" % (
            "%g new viewers/min" % max(ok) if ok else "none of %s" % args.rates))
        cpu = [r["cpu"] for r in results if r["cpu"] > 0]
        if cpu:
            c = sum(cpu) / len(cpu)
            out("server CPU per viewer (on-demand bill) %.2f CPU-s (mean of the rates): %d idle "
                "cores would render at most %.0f new viewers/min" % (
                    c, os.cpu_count(), os.cpu_count() * 60 / c))
    finally:
        # a BENCH_STORE stays, with what the last rate rendered (cleaned at the next run)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
