#!/usr/bin/env python3
"""A stand-in for `vbill batch`, for the harness self-test only (tests/e2e/slurm_harness.sh).

It proves the Slurm harness (tests/e2e/slurm_batch.sh) and the store checker before the real
`vbill batch` exists, and keeps proving that they can fail.  It follows the contract of
SPEC.md section 6 as the harness reads it, and nothing more: no video, no signed links.

  standin_vbill.py batch --help
  standin_vbill.py batch RECORDS --store DIR [--shard I/N] [--shard-count N] [other options]
  standin_vbill.py batch status --store DIR

Records are validated by the real `vbill fill` ($VBILL_BUILDDIR/examples/vbill).  Shard of a
record: crc32(id) mod N (line number when it has no id).  Store: DIR/<YYYY-MM>/<id>/bill.json,
DIR/<YYYY-MM>/links-<I>-of-<N>.jsonl, DIR/<YYYY-MM>/rejected-<I>-of-<N>.jsonl (records
without a readable cycle: DIR/rejected-<I>-of-<N>.jsonl), DIR/progress/shard-<I>-of-<N>.json.
Every file is written under a temporary name, synced and renamed; a run first removes its
shard's stale temporary files and skips bills already made from the same record.

Faults for the self-test (environment):
  STANDIN_DELAY=S           sleep S seconds per record (a slow render)
  STANDIN_RETRY=I:DIR       shard I exits 75 after half its records, once (marker in DIR)
  STANDIN_FAULT=NAME        a deliberately wrong store: duplicate (a bill in two cycles),
                            lose (one valid record without a bill), tmp (a temporary file
                            left), birth (a birth date in a bill), birth6 (a birth's YYMMDD in
                            an SMS), links (a links line twice),
                            reject (a rejected record missing), status (wrong total)
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import zlib

EX_USAGE, EX_REJECTED, EX_TEMPFAIL = 2, 3, 75
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def usage(msg):
    print("standin_vbill: " + msg, file=sys.stderr)
    sys.exit(EX_USAGE)


def atomic_write(path, data, tag):
    d, name = os.path.split(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, ".%s.tmp-%s-%d" % (name, tag, os.getpid()))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def parse_shard(opts):
    if "--shard" in opts:
        m = re.match(r"^(\d+)/(\d+)$", opts["--shard"])
        if not m or int(m.group(1)) >= int(m.group(2)):
            usage("--shard: expected I/N with 0 <= I < N")
        return int(m.group(1)), int(m.group(2))
    env = os.environ
    if env.get("SLURM_ARRAY_TASK_ID"):
        i = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        return i, int(env.get("SLURM_ARRAY_TASK_COUNT", "1"))
    if env.get("JOB_COMPLETION_INDEX"):
        n = opts.get("--shard-count") or env.get("VBILL_SHARD_COUNT")
        if not n:
            usage("JOB_COMPLETION_INDEX needs --shard-count or VBILL_SHARD_COUNT")
        return int(env["JOB_COMPLETION_INDEX"]), int(n)
    return 0, 1


def oracle(records, rules=None):
    """The real vbill fill: {id: fill} for valid records, {line: (id, error)} for rejected."""
    vbill = os.path.join(os.environ.get("VBILL_BUILDDIR", "."), "examples", "vbill")
    p = subprocess.run([vbill, "fill"] + (["--rules", rules] if rules else []) + [records],
                       capture_output=True, text=True)
    if p.returncode not in (0, 3):
        print("standin_vbill: vbill fill failed: " + p.stderr.strip(), file=sys.stderr)
        sys.exit(EX_TEMPFAIL)
    filled = {}
    for line in p.stdout.splitlines():
        d = json.loads(line)
        filled[d["id"]] = d
    rejected = {}
    for line in p.stderr.splitlines():
        m = re.match(r"^vbill: record (?:'([^']*)' \(line (\d+)\)|at line (\d+)): (.*)$", line)
        if m:
            rejected[int(m.group(2) or m.group(3))] = (m.group(1), m.group(4))
    return filled, rejected


def redact(text, rec):
    """Errors never carry a birth date, even an impossible one."""
    b = rec.get("birth") if isinstance(rec, dict) else None
    if isinstance(b, str) and b:
        text = text.replace(b, "<birth>")
    return re.sub(r"'\d{4}-\d{2}-\d{2}'", "'<date>'", text) if "birth" in text else text


def link(base, ident):
    tok = hmac.new(b"standin", ident.encode(), hashlib.sha256).digest()[:24]
    url = base + base64.urlsafe_b64encode(tok).decode().rstrip("=")
    return {"id": ident, "url": url, "sms": "[stand-in] Your video bill: " + url}


def batch(records, store, opts):
    shard, count = parse_shard(opts)
    tag = "%d-of-%d" % (shard, count)
    base = opts.get("--base-url", "/v/")
    delay = float(os.environ.get("STANDIN_DELAY", "0"))
    fault = os.environ.get("STANDIN_FAULT", "")
    retry = os.environ.get("STANDIN_RETRY", "")
    retry_now = False
    if retry:
        rshard, rdir = retry.split(":", 1)
        marker = os.path.join(rdir, "retried-%s" % rshard)
        retry_now = int(rshard) == shard and not os.path.exists(marker)
    os.makedirs(store, exist_ok=True)
    for root, dirs, files in os.walk(store):  # this shard's stale temporary files
        for f in files:
            if f.startswith(".") and ("-%s-" % tag) in f:
                os.unlink(os.path.join(root, f))
    filled, rejected = oracle(records, opts.get("--rules"))
    mine = []
    with open(records, "rb") as f:
        for no, raw in enumerate(f, 1):
            try:
                rec = json.loads(raw)
            except ValueError:
                rec = None
            ident = rec.get("id") if isinstance(rec, dict) and isinstance(rec.get("id"), str) else None
            key = ident if ident else "line:%d" % no
            if zlib.crc32(key.encode()) % count != shard:
                continue
            cs = rec.get("bill", {}).get("cycle_start") if isinstance(rec, dict) and isinstance(rec.get("bill"), dict) else None
            cycle = cs[:7] if isinstance(cs, str) and DATE.match(cs) else None
            mine.append((no, raw, rec, ident, cycle))
    links, rejects, totals, not_target = {}, {}, {}, {}
    for k, (no, raw, rec, ident, cycle) in enumerate(mine):
        if retry_now and k >= len(mine) // 2:
            open(marker, "w").close()
            print("standin_vbill: shard %s: retry later (injected)" % tag, file=sys.stderr)
            sys.exit(EX_TEMPFAIL)
        totals[cycle] = totals.get(cycle, 0) + 1
        if no in rejected or ident not in filled or cycle is None:
            rid, err = rejected.get(no, (ident, "rejected"))
            rejects.setdefault(cycle, []).append({"line": no, "id": rid, "error": redact(err, rec)})
            continue
        fill = filled[ident]
        if fill.get("scenario") is None:  # no scenario: counted, no bill, no reason
            not_target[cycle] = not_target.get(cycle, 0) + 1
            continue
        if fault == "lose" and k == 0:
            continue
        path = os.path.join(store, cycle, ident, "bill.json")
        src = hashlib.sha256(raw).hexdigest()
        try:
            with open(path) as f:
                same = json.load(f).get("source") == src
        except (OSError, ValueError):
            same = False
        if not same:
            if delay:
                time.sleep(delay)
            bill = {"id": ident, "cycle": cycle, "scenario": fill.get("scenario"),
                    "period": fill.get("period"), "amounts": fill.get("amounts"),
                    "slots": fill.get("slots"), "source": src}
            if fault == "birth" and k == 0:
                bill["birth"] = rec["birth"]
            atomic_write(path, json.dumps(bill, ensure_ascii=False).encode(), tag)
            if fault == "duplicate" and k == 0:
                atomic_write(os.path.join(store, "1999-01", ident, "bill.json"),
                             json.dumps(bill, ensure_ascii=False).encode(), tag)
            if fault == "tmp" and k == 0:
                open(os.path.join(store, cycle, ident, "bill.json.tmp"), "w").close()
        item = link(base, ident)
        if fault == "birth6" and k == 0:
            item["sms"] += " (code %s%s%s)" % (rec["birth"][2:4], rec["birth"][5:7], rec["birth"][8:10])
        links.setdefault(cycle, []).append(item)
    if fault == "links" and links:
        c = next(iter(links))
        links[c].append(links[c][0])
    if fault == "reject" and rejects:
        c = next(iter(rejects))
        rejects[c].pop()
    for cycle, items in links.items():
        data = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)
        atomic_write(os.path.join(store, cycle, "links-%s.jsonl" % tag), data.encode(), tag)
    for cycle, items in rejects.items():
        data = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)
        atomic_write(os.path.join(store, cycle or "", "rejected-%s.jsonl" % tag), data.encode(), tag)
    progress = {"shard": shard, "count": count,
                "totals": {c or "": n for c, n in totals.items()},
                "not_target": not_target}
    atomic_write(os.path.join(store, "progress", "shard-%s.json" % tag),
                 json.dumps(progress).encode(), tag)
    return EX_REJECTED if rejects else 0


def lines(path):
    with open(path) as f:
        return sum(1 for x in f if x.strip())


def status(store):
    cycles = {}
    for name in sorted(os.listdir(store)):
        d = os.path.join(store, name)
        if not (re.match(r"^\d{4}-\d{2}$", name) and os.path.isdir(d)):
            continue
        done = sum(1 for x in os.listdir(d) if os.path.isfile(os.path.join(d, x, "bill.json")))
        rej = sum(lines(os.path.join(d, x)) for x in os.listdir(d) if x.startswith("rejected"))
        cycles[name] = {"done": done, "rejected": rej, "failed": 0, "total": 0, "not_target": 0}
    loose = sum(lines(os.path.join(store, x)) for x in os.listdir(store) if x.startswith("rejected"))
    total_all = 0
    pdir = os.path.join(store, "progress")
    for f in sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []:
        with open(os.path.join(pdir, f)) as fh:
            prog = json.load(fh)
            for c, n in prog["totals"].items():
                total_all += n
                if c in cycles:
                    cycles[c]["total"] += n
            for c, n in prog.get("not_target", {}).items():
                if c in cycles:
                    cycles[c]["not_target"] += n
    if os.environ.get("STANDIN_FAULT") == "status" and cycles:
        cycles[next(iter(cycles))]["total"] += 1
    out = {"done": sum(c["done"] for c in cycles.values()),
           "rejected": sum(c["rejected"] for c in cycles.values()) + loose,
           "failed": 0, "total": total_all,
           "not_target": sum(c["not_target"] for c in cycles.values()), "cycles": cycles}
    print(json.dumps(out))
    return 0


def main(argv):
    if len(argv) < 2 or argv[1] != "batch":
        usage("only `batch` is stood in for")
    args = argv[2:]
    if not args or args[0] in ("--help", "-h"):
        print(__doc__)
        return 0
    sub = None
    if args[0] == "status":
        sub, args = "status", args[1:]
    opts, pos = {}, []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            if args[i] in ("--mp4",):
                opts[args[i]] = True
                i += 1
                continue
            if i + 1 >= len(args):
                usage(args[i] + " needs a value")
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if "--store" not in opts:
        usage("--store DIR is required")
    if sub == "status":
        return status(opts["--store"])
    if len(pos) != 1:
        usage("one RECORDS file expected")
    return batch(pos[0], opts["--store"], opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
