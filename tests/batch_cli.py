#!/usr/bin/env python3
"""batch_cli.py: vbill batch from outside, as a carrier's scheduler runs it.

Records are the sample subscribers multiplied under fresh ids, with invalid ones and a
duplicate among them.  Checked: two shards side by side make every valid record's bill
exactly once (links across the shards' files, one folder each), every invalid record has its
reason once, a shard already running elsewhere answers 75, the Slurm and Kubernetes
variables pick the same shards as --shard, a run killed with SIGKILL midway and run again
finishes with no temporary file left, a changed record is made again and only it, no birth
date is anywhere in the store, `vbill batch status` adds up, events are queued after the
files, and stored mode writes playable HLS whose segments all exist.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

B = os.environ.get("VBILL_BUILDDIR", ".")
S = os.environ.get("VBILL_SRCDIR", ".")
VBILL = os.path.join(B, "examples", "vbill")
failures = []
checks = 0


def check(name, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        failures.append("%s: %s" % (name, detail))
        print("FAIL", name, detail[:2000])


def run(args, env=None, timeout=600):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([VBILL] + args, capture_output=True, env=e, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def make_records(path, n, rules):
    """n copies of the sample's valid records under fresh ids, plus invalid ones and a
    duplicate.  Returns (valid targets {id: record}, rejected lines {line}, births)."""
    sample = [json.loads(l) for l in open(os.path.join(S, "examples/data/subscribers.jsonl"),
                                          encoding="utf-8")
              if l.strip() and l.lstrip().startswith("{") and '"S-0' in l]
    lines, rejected, births = [], set(), set()
    targets = {}
    for i in range(n):
        r = json.loads(json.dumps(sample[i % len(sample)]))
        r["id"] = "B-%05d" % i
        lines.append(json.dumps(r, ensure_ascii=False))
        births.add(r["birth"])
    ctx_lines = list(lines)
    # invalid records among them, and the same subscriber twice
    bad = [
        '{"id":"X-1","name":"A","birth":"19580314","bill":{}}',
        '{not json',
        json.dumps({"id": "X-2"}),
        ctx_lines[3],
    ]
    for k, b in enumerate(bad):
        lines.insert(10 + 7 * k, b)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    out = subprocess.run([VBILL, "classify", "--rules", rules, path],
                         capture_output=True).stdout.decode()
    for l in out.splitlines():
        c = json.loads(l)
        if c["scenario"]:
            targets[c["id"]] = True
    for no, l in enumerate(lines, 1):
        if l in bad[:3]:
            rejected.add(no)
    rejected.add(lines.index(ctx_lines[3], lines.index(ctx_lines[3]) + 1) + 1)
    return targets, rejected, births


def store_files(store):
    out = []
    for root, dirs, files in os.walk(store):
        for f in files + dirs:
            out.append(os.path.join(root, f))
    return out


def no_temporaries(store):
    left = [p for p in store_files(store) if re.search(r"/\.(tmp|old)[.-]|\.tmp(-|$)", p)]
    return left


def birth_forms(births):
    forms = set()
    for b in births:
        y, m, d = b.split("-")
        forms |= {b, y + m + d, y[2:] + m + d}
    return forms


def grep_store(store, needles):
    found = []
    for p in store_files(store):
        if os.path.isfile(p) and not os.path.islink(p):
            data = open(p, "rb").read()
            for n in needles:
                if n.encode() in data:
                    found.append((p, n))
    return found


def links_of(store):
    ids = []
    for p in glob.glob(os.path.join(store, "*", "links*.jsonl")):
        for l in open(p, encoding="utf-8"):
            if l.strip():
                o = json.loads(l)
                check("link line has id, url, sms", set(o) == {"id", "url", "sms"}, l)
                ids.append(o["id"])
    return ids


def bills_of(store):
    ids = []
    for p in glob.glob(os.path.join(store, "[0-9]*-[0-9]*", "*", "bill.json")):
        ids.append(json.load(open(p, encoding="utf-8"))["id"])
    return ids


def status(store):
    rc, out, err = run(["batch", "status", "--store", store])
    check("status exits 0", rc == 0, err)
    return json.loads(out)


def adds_up(st, want_total):
    total = sum(c["total"] for c in st["cycles"].values())
    parts = sum(c["done"] + c["rejected"] + c["failed"] + c["not_target"]
                for c in st["cycles"].values())
    return total == want_total and parts == total, (total, parts, want_total)


def main():
    if not os.access(VBILL, os.X_OK):
        print("no %s: build first" % VBILL)
        return 99
    tmp = tempfile.mkdtemp(prefix="vbill-batch.")
    try:
        keys = os.path.join(tmp, "keys.json")
        rc, out, err = run(["keygen"])
        with open(keys, "w") as f:
            f.write(out)
        os.chmod(keys, 0o600)
        # One small template for every record (the built-in ones are two minutes of 720p
        # each: the page test and demo.sh make them; here they would be minutes of CPU that
        # check nothing this test is about).
        tdir = os.path.join(tmp, "templates", "any")
        os.makedirs(tdir)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                        "testsrc=size=320x240:rate=25:duration=6", "-f", "lavfi", "-i",
                        "sine=f=440:d=6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                        "yuv420p", "-c:a", "aac", "-shortest", "-y",
                        os.path.join(tdir, "base.mp4")], check=True)
        json.dump({"scenario": "any", "video": "base.mp4", "slots": [
            {"name": "total", "text": "{{{this_month_text}}}", "from": 1.0, "to": 2.0,
             "box": [10, 180, 300, 40], "size": 24, "color": "#FFFFFF"},
            {"name": "pay", "text": "{{{payment_text}}}", "from": 3.5, "to": 4.5,
             "box": [10, 20, 300, 40], "size": 16, "color": "#FFFF00"}]},
            open(os.path.join(tdir, "template.json"), "w"))
        rules = os.path.join(tmp, "rules.json")
        json.dump({"rules": [{"scenario": "any", "when": ["m_any >= 0"]}]}, open(rules, "w"))
        recs = os.path.join(tmp, "records.jsonl")
        targets, rejected, births = make_records(recs, 240, rules)
        nlines = sum(1 for l in open(recs, encoding="utf-8") if l.strip())
        base = ["--key-file", keys, "--progress", "json", "--templates",
                os.path.join(tmp, "templates"), "--rules", rules]

        # 1. usage
        rc, out, err = run(["batch", recs])
        check("no --store: exit 2", rc == 2, err)
        rc, out, err = run(["batch", recs, "--store", tmp + "/x", "--shard", "2/2"] + base)
        check("--shard 2/2: exit 2", rc == 2 and "0 <= I < N" in err, err)

        # 2. two shards side by side, on demand
        store = os.path.join(tmp, "s1")
        env = {"VBILL_PROGRESS_INTERVAL": "0.2"}
        ps = [subprocess.Popen([VBILL, "batch", recs, "--store", store, "--render", "on-demand",
                                "--shard", "%d/2" % i] + base, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(os.environ, **env))
              for i in range(2)]
        outs = [p.communicate(timeout=600) for p in ps]
        check("two shards: both exit 3 (some rejected)", [p.returncode for p in ps] == [3, 3],
              repr([p.returncode for p in ps]) + repr(outs))
        bills = bills_of(store)
        check("every valid target has exactly one bill", sorted(bills) == sorted(targets),
              "%d bills, %d targets" % (len(bills), len(targets)))
        links = links_of(store)
        check("every bill has exactly one link across the shards' links files",
              sorted(links) == sorted(targets), "%d links" % len(links))
        rej = []
        for p in glob.glob(os.path.join(store, "*", "rejected.jsonl")) + \
                glob.glob(os.path.join(store, "rejected.jsonl")):
            rej += [json.loads(l) for l in open(p, encoding="utf-8") if l.strip()]
        check("every invalid record has one reason", sorted(r["line"] for r in rej)
              == sorted(rejected), repr(rej))
        check("reasons name the field", all(":" in r["error"] for r in rej), repr(rej))
        st = status(store)
        ok, why = adds_up(st, nlines)
        check("status adds up over both shards", ok and st["complete"], repr(why) + repr(st))
        check("no temporary file left", not no_temporaries(store), repr(no_temporaries(store)))
        check("no birth date in the store", not grep_store(store, birth_forms(births)),
              repr(grep_store(store, birth_forms(births))[:5]))
        modes = {oct(os.stat(p).st_mode & 0o777) for p in glob.glob(store + "/*/*/link.json")}
        check("link files are private", modes == {"0o600"}, repr(modes))
        bj = json.load(open(glob.glob(store + "/*/*/bill.json")[0], encoding="utf-8"))
        check("bill.json is a serialised bill", bj.get("vbill_bill") == 1 and "context" in bj)
        # progress lines were printed as JSON
        lines = [l for l in outs[0][1].decode().splitlines() if l.startswith("{")]
        check("JSON progress lines", lines and json.loads(lines[-1])["state"] == "done",
              outs[0][1].decode()[-500:])

        # 3. a re-run does nothing new; the same links come back
        before = sorted(links_of(store))
        urls = {}
        for p in glob.glob(os.path.join(store, "*", "links*.jsonl")):
            for l in open(p, encoding="utf-8"):
                o = json.loads(l)
                urls[o["id"]] = o["url"]
        rc, out, err = run(["batch", recs, "--store", store, "--render", "on-demand",
                            "--shard", "0/2"] + base)
        prog = json.load(open(os.path.join(store, "_batch", "progress-0-of-2.json")))
        check("re-run: nothing made again", rc == 3 and prog["made"] == 0, repr(prog))
        urls2 = {}
        for p in glob.glob(os.path.join(store, "*", "links*.jsonl")):
            for l in open(p, encoding="utf-8"):
                o = json.loads(l)
                urls2[o["id"]] = o["url"]
        check("re-run: the same links", urls == urls2 and sorted(links_of(store)) == before)

        # 4. a changed record is made again, and only it
        lines = open(recs, encoding="utf-8").read().splitlines()
        changed = None
        for i, l in enumerate(lines):
            if l.startswith("{") and '"B-00007"' in l:
                r = json.loads(l)
                r["lines"][0]["monthly_fee"] += 1000
                lines[i] = json.dumps(r, ensure_ascii=False)
                changed = r["id"]
        recs2 = os.path.join(tmp, "records2.jsonl")
        open(recs2, "w", encoding="utf-8").write("\n".join(lines) + "\n")
        for i in range(2):
            run(["batch", recs2, "--store", store, "--render", "on-demand", "--shard",
                 "%d/2" % i] + base)
        made = sum(json.load(open(os.path.join(store, "_batch", "progress-%d-of-2.json" % i)))
                   ["made"] for i in range(2))
        check("changed record made again, alone", made == 1, "made %d" % made)
        urls3 = {}
        for p in glob.glob(os.path.join(store, "*", "links*.jsonl")):
            for l in open(p, encoding="utf-8"):
                o = json.loads(l)
                urls3[o["id"]] = o["url"]
        check("changed record has a new link, the others the same",
              urls3[changed] != urls[changed] and
              all(urls3[k] == urls[k] for k in urls if k != changed))

        # 5. a shard already running elsewhere: 75, nothing touched
        lock = os.path.join(store, "_batch", "shard-1-of-2.lock")
        holder = subprocess.Popen(["flock", lock, "sleep", "30"])
        time.sleep(0.5)
        rc, out, err = run(["batch", recs, "--store", store, "--render", "on-demand",
                            "--shard", "1/2"] + base)
        holder.kill()
        holder.wait()
        check("same shard twice at once: exit 75", rc == 75 and "another process" in err, err)

        # 6. the schedulers' variables pick the same shard as --shard
        for envs in ({"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10",
                      "SLURM_ARRAY_TASK_COUNT": "2"},
                     {"JOB_COMPLETION_INDEX": "1", "VBILL_SHARD_COUNT": "2"}):
            store2 = os.path.join(tmp, "env-" + list(envs)[0])
            rc, out, err = run(["batch", recs, "--store", store2, "--render", "on-demand"] + base,
                               env=envs)
            mine = sorted(bills_of(store2))
            shard1 = sorted(json.loads(l)["id"] for p in glob.glob(store + "/*/links-1-of-2.jsonl")
                            for l in open(p, encoding="utf-8"))
            check("%s picks shard 1 of 2" % list(envs)[0], rc == 3 and mine == shard1,
                  "%d vs %d" % (len(mine), len(shard1)))
        rc, out, err = run(["batch", recs, "--store", tmp + "/k", "--render", "on-demand"] + base,
                           env={"JOB_COMPLETION_INDEX": "0"})
        check("JOB_COMPLETION_INDEX without a count: exit 2", rc == 2, err)

        # 7. stored mode: killed midway, run again
        few = os.path.join(tmp, "few.jsonl")
        open(few, "w", encoding="utf-8").write("".join(
            l + "\n" for l in open(recs, encoding="utf-8").read().splitlines()[:40]))
        nfew = sum(1 for l in open(few, encoding="utf-8") if l.strip())
        store3 = os.path.join(tmp, "s3")
        args = ["batch", few, "--store", store3, "--jobs", "1", "--mp4"] + base
        p = subprocess.Popen([VBILL] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        journal = os.path.join(store3, "_batch", "journal-0-of-1.jsonl")
        deadline = time.time() + 300
        while time.time() < deadline and p.poll() is None:
            n = 0
            if os.path.exists(journal):
                n = sum(1 for l in open(journal) if '"done"' in l)
            if n >= 5:
                break
            time.sleep(0.05)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        check("the stored run was killed midway", killed, "it finished first")
        rc, out, err = run(args)
        check("re-run after SIGKILL finishes", rc in (0, 3), err[-2000:])
        bills = sorted(bills_of(store3))
        want = sorted(json.loads(l)["id"] for l in
                      subprocess.run([VBILL, "classify", "--rules", rules, few],
                                     capture_output=True).stdout.decode().splitlines()
                      if json.loads(l)["scenario"])
        dup = want.count  # ids are unique in the classify output's valid records
        check("after the kill: every bill exactly once", bills == sorted(set(want)),
              "%d vs %d" % (len(bills), len(set(want))))
        check("after the kill: no temporary file left", not no_temporaries(store3),
              repr(no_temporaries(store3)))
        st = status(store3)
        ok, why = adds_up(st, nfew)
        check("after the kill: status adds up", ok, repr(why))
        # every playlist names segments that exist (personal in the folder, shared in the
        # template's cache), and the MP4 is there
        prepared = glob.glob(os.path.join(store3, "templates", "any", ".vbill-prepared", "*"))
        check("one prepared template in the store", len(prepared) == 1, repr(prepared))
        bad = []
        for pl in glob.glob(os.path.join(store3, "*", "*", "index.m3u8")):
            d = os.path.dirname(pl)
            for l in open(pl):
                l = l.strip()
                if not l or l.startswith("#"):
                    continue
                if l.startswith("/s/"):
                    h, _, seg = l[3:].partition("/normal/")
                    f = os.path.join(prepared[0], "hls-normal", seg)
                    if not prepared[0].endswith(h) and not os.path.basename(prepared[0]).startswith(h):
                        bad.append(("hash", l))
                else:
                    f = os.path.join(d, l)
                if not os.path.exists(f):
                    bad.append(f)
            if not os.path.exists(os.path.join(d, "bill.mp4")):
                bad.append(os.path.join(d, "bill.mp4"))
        check("playlists' segments and the MP4s exist", not bad and bills, repr(bad[:5]))
        # the length of a bill is the template's
        def duration(f):
            return float(subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                                         "format=duration", "-of", "csv=p=0", f],
                                        capture_output=True, text=True).stdout)
        seniors = 0
        for one in glob.glob(os.path.join(store3, "*", "*", "bill.mp4")):
            d = os.path.dirname(one)
            bj = json.load(open(os.path.join(d, "bill.json")))
            slow = os.path.join(d, "bill-slow.mp4")
            ok = abs(duration(one) - 6.0) < 0.1
            if bj["senior"]:
                seniors += 1
                ok = ok and abs(duration(slow) - 6.0 / bj["speed"]) < 0.1
            else:
                ok = ok and not os.path.exists(slow)
            check("the MP4 lasts the template's length (a senior's slow one 1/speed)", ok, d)
        check("some seniors among the stored bills", seniors > 0)
        check("stored: no birth date in the store", not grep_store(store3, birth_forms(births)))
    finally:
        if not os.environ.get("VBILL_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    print("%d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
