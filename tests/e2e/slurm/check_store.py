#!/usr/bin/env python3
"""check_store.py: checks a bill store written by `vbill batch` against its records.

  check_store.py --records R.jsonl --store DIR --status STATUS.json --vbill PATH
                 [--render stored|on-demand]

What is checked (SPEC.md section 6, issue 15), each failure printed on its own line:
- the oracle is the real `vbill fill` on the records: the records it accepts with a scenario
  must each have exactly one bill, DIR/<YYYY-MM of bill.cycle_start>/<id>/bill.json (valid
  JSON; its "id", when present, is the folder's); records it rejects must have none and be
  listed exactly once in a rejected*.jsonl ({"line", "id", "error"}, in their cycle's folder or
  at the store's root); a valid record without a scenario has a bill or a rejected entry,
  exactly one of the two;
- per cycle, the links*.jsonl lines ({"id", "url", "sms"}, the sms naming the url) list every
  bill of the cycle exactly once, and nothing else;
- in stored mode, each bill folder has an index.m3u8 whose segments exist;
- no name anywhere in the store starts with '.' or contains '.tmp';
- no record's birth date is anywhere in the store, as YYYY-MM-DD, YYYYMMDD or YYMMDD (the
  digit forms as whole numbers);
- `vbill batch status` (STATUS.json): every object with done/rejected/failed/total has
  done + rejected == total and failed == 0; each cycle's object (under the cycle's key or with
  "cycle": the cycle) counts the cycle's bills and rejected lines; store-wide counts, when
  given at the top, count all bills, all rejected records and all records.
Prints one summary line and exits 0 when all hold, 1 otherwise.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

CYCLE = re.compile(r"^\d{4}-\d{2}$")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
problems = []


def problem(msg):
    problems.append(msg)


def oracle(vbill, records, rules=None):
    p = subprocess.run([vbill, "fill"] + (["--rules", rules] if rules else []) + [records],
                       capture_output=True, text=True)
    if p.returncode not in (0, 3):
        sys.exit("check_store: vbill fill failed (%d): %s" % (p.returncode, p.stderr))
    valid = {}
    for line in p.stdout.splitlines():
        d = json.loads(line)
        valid[d["id"]] = d.get("scenario")
    rejected = {}
    for line in p.stderr.splitlines():
        m = re.match(r"^vbill: record (?:'([^']*)' \(line (\d+)\)|at line (\d+)): ", line)
        if not m:
            sys.exit("check_store: unexpected vbill fill message: " + line)
        rejected[int(m.group(2) or m.group(3))] = m.group(1)
    return valid, rejected


def read_jsonl(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                problem("%s:%d: not JSON: %r" % (path, no, line[:80]))
    return out


def count_objects(node, key=None, parent=None, found=None):
    """Every dict with done/rejected/failed/total, with the key it was found under."""
    if found is None:
        found = []
    if isinstance(node, dict):
        if all(k in node for k in ("done", "rejected", "failed", "total")):
            found.append((key, node, parent))
        for k, v in node.items():
            count_objects(v, k, node, found)
    elif isinstance(node, list):
        for v in node:
            count_objects(v, key, node, found)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--vbill", required=True)
    ap.add_argument("--render", default="on-demand")
    ap.add_argument("--rules", help="the rule set the batch ran with")
    a = ap.parse_args()
    store = a.store.rstrip("/")

    valid, rejected_lines = oracle(a.vbill, a.records, a.rules)
    records, cycle_of, births = {}, {}, set()
    with open(a.records, "rb") as f:
        for no, raw in enumerate(f, 1):
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            b = rec.get("birth")
            if isinstance(b, str) and DATE.match(b):
                births.add(b)
            if no not in rejected_lines and isinstance(rec.get("id"), str):
                records[rec["id"]] = no
                cycle_of[rec["id"]] = rec["bill"]["cycle_start"][:7]
    total_records = len(records) + len(rejected_lines)

    # 1. Names: no temporary file anywhere.
    for root, dirs, files in os.walk(store):
        for n in dirs + files:
            # the store's own state files (.state, .announced, .vbill-prepared, locks) stay;
            # what a write in progress names (.tmp, a replaced folder's .old.) must not
            if ".tmp" in n or n.startswith(".old."):
                problem("temporary file left: " + os.path.relpath(os.path.join(root, n), store))

    # 2. Bills: DIR/<cycle>/<id>/bill.json.
    bills = collections.defaultdict(list)  # id -> [cycle]
    for cyc in sorted(os.listdir(store)):
        cdir = os.path.join(store, cyc)
        if not (CYCLE.match(cyc) and os.path.isdir(cdir)):
            continue
        for ident in sorted(os.listdir(cdir)):
            bpath = os.path.join(cdir, ident, "bill.json")
            if not os.path.isfile(bpath):
                continue
            bills[ident].append(cyc)
            try:
                with open(bpath, encoding="utf-8") as fh:
                    bill = json.load(fh)
                if isinstance(bill, dict) and "id" in bill and bill["id"] != ident:
                    problem("%s/%s/bill.json: id %r" % (cyc, ident, bill["id"]))
            except (ValueError, UnicodeDecodeError) as e:
                problem("%s/%s/bill.json: not JSON (%s)" % (cyc, ident, e))
            if a.render == "stored":
                pl = os.path.join(cdir, ident, "index.m3u8")
                if not os.path.isfile(pl):
                    problem("%s/%s: no index.m3u8 in stored mode" % (cyc, ident))
                else:
                    with open(pl, encoding="utf-8") as fh:
                        segs = [x.strip() for x in fh if x.strip() and not x.startswith("#")]
                    if not segs:
                        problem("%s/%s/index.m3u8 lists no segment" % (cyc, ident))
                    for s in segs:
                        if "://" in s:
                            continue
                        p = os.path.normpath(os.path.join(cdir, ident, s))
                        if not os.path.isfile(p):
                            problem("%s/%s/index.m3u8: segment %s missing" % (cyc, ident, s))
    for ident, cycles in bills.items():
        if len(cycles) > 1:
            problem("bill %s exists %d times (cycles %s)" % (ident, len(cycles), ", ".join(cycles)))
        if ident not in valid:
            problem("bill %s/%s for no valid record" % (cycles[0], ident))
        elif cycle_of.get(ident) not in cycles:
            problem("bill %s is in %s, its cycle is %s" % (ident, cycles[0], cycle_of.get(ident)))

    # 3. Rejected records: rejected*.jsonl in a cycle folder or at the root.
    rej_by_cycle = collections.Counter()
    seen_lines = collections.Counter()
    rejected_ids = set()
    for root, dirs, files in os.walk(store):
        rel = os.path.relpath(root, store)
        for n in sorted(files):
            if not (n.startswith("rejected") and n.endswith(".jsonl")):
                continue
            if rel != "." and not CYCLE.match(rel):
                problem("%s/%s: rejected records outside a cycle folder" % (rel, n))
            for item in read_jsonl(os.path.join(root, n)):
                if not isinstance(item, dict) or not {"line", "id", "error"} <= set(item):
                    problem("%s/%s: entry without line/id/error: %r" % (rel, n, item))
                    continue
                seen_lines[item["line"]] += 1
                if rel != ".":
                    rej_by_cycle[rel] += 1
                if not isinstance(item["error"], str) or not item["error"]:
                    problem("rejected line %s: empty error" % item["line"])
                ln = item["line"]
                if ln in rejected_lines:
                    if rejected_lines[ln] is not None and item["id"] != rejected_lines[ln]:
                        problem("rejected line %s: id %r, the record's is %r" % (ln, item["id"], rejected_lines[ln]))
                elif isinstance(item["id"], str) and item["id"] in valid and valid[item["id"]] is None:
                    rejected_ids.add(item["id"])  # no scenario: a reason instead of a bill
                else:
                    problem("line %s (%r) rejected, but vbill fill accepts it" % (ln, item["id"]))
    for ln, n in seen_lines.items():
        if n > 1:
            problem("rejected line %s listed %d times" % (ln, n))
    for ln, ident in sorted(rejected_lines.items()):
        if seen_lines[ln] == 0:
            problem("invalid record at line %d (%r) has no rejected entry" % (ln, ident))
        if ident in bills and ident not in valid:
            problem("invalid record %s has a bill" % ident)
    for ident, scen in sorted(valid.items()):
        have_bill, have_rej = ident in bills, ident in rejected_ids
        if scen is not None and not have_bill:
            problem("valid record %s (line %d) has no bill" % (ident, records.get(ident, 0)))
        if have_bill and have_rej:
            problem("record %s has both a bill and a rejected entry" % ident)
        if scen is None and have_bill:
            problem("record %s (no scenario) has a bill" % ident)

    # 4. Links: per cycle, links*.jsonl, one line per bill.
    for cyc in sorted(set(c for cs in bills.values() for c in cs) |
                      set(x for x in os.listdir(store) if CYCLE.match(x))):
        cdir = os.path.join(store, cyc)
        seen = collections.Counter()
        for n in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
            if not (n.startswith("links") and n.endswith(".jsonl")):
                continue
            for item in read_jsonl(os.path.join(cdir, n)):
                if not isinstance(item, dict) or not {"id", "url", "sms"} <= set(item):
                    problem("%s/%s: line without id/url/sms: %r" % (cyc, n, item))
                    continue
                seen[item["id"]] += 1
                if not item["url"] or item["url"] not in item["sms"]:
                    problem("%s/%s: %s: the sms does not carry the url" % (cyc, n, item["id"]))
        expect = set(i for i, cs in bills.items() if cyc in cs)
        for ident in sorted(expect):
            if seen[ident] != 1:
                problem("%s: bill %s has %d links lines" % (cyc, ident, seen[ident]))
        for ident in sorted(set(seen) - expect):
            problem("%s: links line for %s, which has no bill in this cycle" % (cyc, ident))

    # 5. Birth dates, in any form, anywhere.
    dashed, digits = sorted(b.encode() for b in births), set()
    for b in births:
        y, m, d = DATE.match(b).groups()
        digits |= {(y + m + d).encode(), (y[2:] + m + d).encode()}
    tokens = re.compile(rb"[0-9]+")
    for root, dirs, files in os.walk(store):
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as fh:
                data = fh.read()
            hit = next((b for b in dashed if b in data), None)
            hit = hit or next((t for t in tokens.findall(data) if t in digits), None)
            if hit:
                problem("birth date %s in %s" % (hit.decode(), os.path.relpath(p, store)))

    # 6. vbill batch status.
    try:
        with open(a.status, encoding="utf-8") as fh:
            st = json.load(fh)
    except (OSError, ValueError) as e:
        problem("status: not JSON (%s)" % e)
        st = None
    if st is not None:
        objs = count_objects(st)
        if not objs:
            problem("status: no object with done/rejected/failed/total")
        per_cycle = {}
        for key, o, parent in objs:
            # a valid record without a scenario is counted as not_target: no bill, no reason
            nt = o.get("not_target", 0)
            if o["done"] + o["rejected"] + nt != o["total"]:
                problem("status %s: done %s + rejected %s + not_target %s != total %s" % (key or "(top)", o["done"], o["rejected"], nt, o["total"]))
            if o["failed"] != 0:
                problem("status %s: failed %s" % (key or "(top)", o["failed"]))
            cyc = o.get("cycle") if isinstance(o.get("cycle"), str) else key
            if isinstance(cyc, str):
                per_cycle[cyc] = o
        cycles = sorted(set(c for cs in bills.values() for c in cs) | set(rej_by_cycle))
        for cyc in cycles:
            o = per_cycle.get(cyc)
            if o is None:
                problem("status: no counts for cycle %s" % cyc)
                continue
            nb = sum(1 for cs in bills.values() if cyc in cs)
            if o["done"] != nb:
                problem("status %s: done %s, the store has %d bills" % (cyc, o["done"], nb))
            if o["rejected"] != rej_by_cycle[cyc]:
                problem("status %s: rejected %s, the cycle lists %d" % (cyc, o["rejected"], rej_by_cycle[cyc]))
        nt_valid = sum(1 for s in valid.values() if s is None)
        nt_status = sum(o.get("not_target", 0) for o in per_cycle.values())
        if nt_status != nt_valid:
            problem("status: not_target %d, vbill fill gives %d records without a scenario" % (nt_status, nt_valid))
        if isinstance(st, dict) and all(k in st for k in ("done", "rejected", "total")):
            nrej = sum(seen_lines.values())
            if st["done"] != len(bills) or st["rejected"] != nrej or st["total"] != total_records:
                problem("status (top): done %s rejected %s total %s; the store has %d bills and %d "
                        "rejected of %d records" % (st["done"], st["rejected"], st["total"],
                                                     len(bills), nrej, total_records))

    if problems:
        for p in problems[:60]:
            print("FAIL: " + p)
        if len(problems) > 60:
            print("FAIL: ... and %d more" % (len(problems) - 60))
        return 1
    print("store ok: %d records, %d bills in %d cycles, %d rejected, no temporary file, no birth "
          "date; status adds up" % (total_records, len(bills), len(set(c for cs in bills.values() for c in cs)),
                                     sum(seen_lines.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
