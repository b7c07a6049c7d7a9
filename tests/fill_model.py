#!/usr/bin/env python3
"""Differential test of `vbill fill` against an independent model of SPEC.md sections 2-4.

Generates random records (boundary dates, leap years, cycles not starting on the 1st, huge
amounts, every scenario), computes the expected classification and amounts here in plain
Python integers, and compares with the program's output.  Then feeds dozens of invalid
shapes mixed with valid records and checks that each invalid one is rejected alone (exit 3,
one stderr line naming its line number) while every valid one still comes out.
"""
import datetime as dt
import json
import os
import random
import subprocess
import sys

VBILL = os.path.join(os.environ.get("VBILL_BUILDDIR", "."), "examples", "vbill")
D = dt.date


def run(args, text):
    p = subprocess.run([VBILL] + args, input=text.encode(), capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# ---- the model ------------------------------------------------------------------------

def age_on(birth, on):
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def scenario(rec):
    lines = rec["lines"]
    cnt = lambda kind, ev: sum(1 for l in lines if l["kind"] == kind and (ev is None or l["event"] == ev))
    m_new, m_dc = cnt("mobile", "new"), cnt("mobile", "device_change")
    h_new, h_re = cnt("home", "new"), cnt("home", "recontract")
    m_any, h_any = cnt("mobile", None), cnt("home", None)
    b = "bundle" in rec
    if m_new >= 2 and h_new >= 1 and b: return "mobile_new_home_new"
    if m_new >= 2 and b: return "mobile_new_bundle"
    if m_dc >= 1 and h_any >= 1 and b: return "mobile_device_change_home"
    if m_dc >= 1: return "mobile_device_change"
    if h_new >= 1 and m_any >= 1 and b: return "home_new_mobile"
    if h_new >= 1: return "home_new"
    if h_re >= 1: return "home_recontract"
    return None


def model(rec):
    bill = rec["bill"]
    cs, ce = D.fromisoformat(bill["cycle_start"]), D.fromisoformat(bill["cycle_end"])
    cycle_days = (ce - cs).days + 1
    unit = bill.get("rounding_unit", 10 if rec.get("currency", "KRW") == "KRW" else 1)
    trunc = lambda x: x // unit * unit
    out_lines, sum_pr, sum_next, froms = [], 0, 0, []
    for i, l in enumerate(rec["lines"]):
        net = l["monthly_fee"] - sum(d["amount"] for d in l.get("discounts", []))
        frm = max(D.fromisoformat(l["start"]), cs) if l["event"] == "new" else cs
        days = 0 if frm > ce else (ce - frm).days + 1
        pr = trunc(net * days // cycle_days)
        dev = l.get("device")
        nxt = net + (dev.get("installment_monthly", 0) if dev and dev.get("months_left", 0) >= 1 else 0)
        out_lines.append({"id": l.get("id", "L%d" % (i + 1)), "days": days, "prorated": pr, "next_month": nxt})
        sum_pr += pr
        sum_next += nxt
        if l["event"] == "new" and days > 0:
            froms.append(frm)
    bp, bdisc = 0, 0
    if "bundle" in rec:
        bs = max(D.fromisoformat(rec["bundle"].get("start", bill["cycle_start"])), cs)
        bdays = 0 if bs > ce else (ce - bs).days + 1
        bp = trunc(rec["bundle"]["discount"] * bdays // cycle_days)
        bdisc = rec["bundle"]["discount"]
    other = sum(c["amount"] for c in bill.get("other_charges", []))
    this_month = max(0, sum_pr - bp + other)
    next_month = max(0, sum_next - bdisc)
    age = age_on(D.fromisoformat(rec["birth"]), D.fromisoformat(bill["issue_date"]))
    flags = ["total_mismatch"] if "total" in bill and bill["total"] != this_month else []
    return {
        "id": rec["id"], "scenario": scenario(rec), "age": age, "senior": age >= 60,
        "speed": 0.8 if age >= 60 else 1, "flags": flags,
        "period": {"start": (min(froms) if froms else cs).isoformat(), "end": ce.isoformat()},
        "amounts": {"this_month": this_month, "next_month": next_month, "bundle_prorated": bp,
                    "lines": out_lines},
    }


# ---- generator --------------------------------------------------------------------------

def rand_date(lo, hi):
    return lo + dt.timedelta(days=random.randint(0, (hi - lo).days))


def rand_record(n):
    cs = rand_date(D(1999, 1, 1), D(2031, 12, 31))
    if random.random() < 0.3:
        cs = D(random.choice([2024, 2028, 2100, 2000]), 2, random.choice([1, 28, 29]) if False else 1)
    ce = cs + dt.timedelta(days=random.choice([0, 1, 27, 28, 29, 30, 30, 30]))
    issue = ce + dt.timedelta(days=random.randint(0, 10))
    huge = random.random() < 0.1
    amt = lambda: random.randint(0, 10**12 - 1) if huge else random.choice([0, 1, 9, 10, 99, 1000, 33000, 55000, 85000, 123456])
    lines = []
    for i in range(random.choice([1, 1, 2, 2, 3, 4, 32 if random.random() < 0.05 else 2])):
        fee = amt()
        discs = []
        left = fee
        for _ in range(random.randint(0, 2)):
            a = random.randint(0, left)
            left -= a
            discs.append({"name": "d", "amount": a})
        ev = random.choice(["new", "new", "device_change", "recontract", "none"])
        l = {"id": "L%d" % (i + 1), "kind": random.choice(["mobile", "home"]), "event": ev,
             "monthly_fee": fee, "discounts": discs}
        if ev != "none" or random.random() < 0.5:
            l["start"] = rand_date(cs - dt.timedelta(days=40), ce + dt.timedelta(days=5)).isoformat()
        if random.random() < 0.3:
            l["device"] = {"model": "X", "installment_monthly": amt(), "months_left": random.choice([0, 1, 24])}
        if random.random() < 0.1:
            del l["id"]
        lines.append(l)
    # birthdays around the 60th birthday and on 29 February
    if random.random() < 0.3:
        birth = D(issue.year - 60, issue.month, min(issue.day, 28)) + dt.timedelta(days=random.randint(-2, 2))
    elif random.random() < 0.1:
        y = random.choice([1956, 1960, 1964, 1996])
        birth = D(y, 2, 29)
    else:
        birth = rand_date(D(1920, 1, 1), issue)
    if birth > issue:
        birth = issue
    rec = {"id": "R-%d" % n, "name": random.choice(["김민수", "John Smith", "山田太郎", "이"]),
           "birth": birth.isoformat(), "locale": random.choice(["ko-KR", "en-US", "ja-JP"]),
           "currency": random.choice(["KRW", "KRW", "JPY", "USD"]),
           "bill": {"issue_date": issue.isoformat(), "cycle_start": cs.isoformat(), "cycle_end": ce.isoformat()},
           "lines": lines}
    if random.random() < 0.5:
        rec["bill"]["rounding_unit"] = random.choice([1, 10, 100])
    if random.random() < 0.3:
        rec["bill"]["other_charges"] = [{"name": "USIM", "amount": amt()}]
    if random.random() < 0.6:
        rec["bundle"] = {"name": "b", "discount": amt()}
        if random.random() < 0.7:
            rec["bundle"]["start"] = rand_date(cs - dt.timedelta(days=10), ce + dt.timedelta(days=3)).isoformat()
    if random.random() < 0.3:
        rec["bill"]["total"] = model(rec)["amounts"]["this_month"] + random.choice([0, 0, 10])
    return rec


VALID = {"id": "V", "name": "김민수", "birth": "1980-01-01",
         "bill": {"issue_date": "2026-12-05", "cycle_start": "2026-11-01", "cycle_end": "2026-11-30"},
         "lines": [{"kind": "mobile", "event": "new", "start": "2026-11-14", "monthly_fee": 55000}]}


def invalid_shapes():
    """(description, JSON text) pairs, each breaking exactly one rule of SPEC.md section 2."""
    def mut(f):
        r = json.loads(json.dumps(VALID))
        f(r)
        return json.dumps(r, ensure_ascii=False)
    yield "not json", '{"id": "X1", '
    yield "array", "[1,2]"
    yield "id missing", mut(lambda r: r.pop("id"))
    yield "id empty", mut(lambda r: r.update(id=""))
    yield "id too long", mut(lambda r: r.update(id="a" * 65))
    yield "id bad char", mut(lambda r: r.update(id="a b"))
    yield "id number", mut(lambda r: r.update(id=7))
    yield "name missing", mut(lambda r: r.pop("name"))
    yield "name empty", mut(lambda r: r.update(name=""))
    yield "name 101 bytes", mut(lambda r: r.update(name="a" * 101))
    yield "name control", mut(lambda r: r.update(name="a\u0007b"))
    yield "name C1 control", mut(lambda r: r.update(name="a\u0085b"))
    yield "birth missing", mut(lambda r: r.pop("birth"))
    yield "birth not a date", mut(lambda r: r.update(birth="1980-13-01"))
    yield "birth 29 Feb common year", mut(lambda r: r.update(birth="1981-02-29"))
    yield "birth after issue", mut(lambda r: r.update(birth="2026-12-06"))
    yield "birth slashes", mut(lambda r: r.update(birth="1980/01/01"))
    yield "locale", mut(lambda r: r.update(locale="fr-FR"))
    yield "currency", mut(lambda r: r.update(currency="EUR"))
    yield "bill missing", mut(lambda r: r.pop("bill"))
    yield "issue_date missing", mut(lambda r: r["bill"].pop("issue_date"))
    yield "cycle_start bad", mut(lambda r: r["bill"].update(cycle_start="2026-11-31"))
    yield "cycle reversed", mut(lambda r: r["bill"].update(cycle_start="2026-12-01"))
    yield "cycle 32 days", mut(lambda r: r["bill"].update(cycle_end="2026-12-02"))
    yield "total not integer", mut(lambda r: r["bill"].update(total=1.5))
    yield "total string", mut(lambda r: r["bill"].update(total="100"))
    yield "rounding_unit zero", mut(lambda r: r["bill"].update(rounding_unit=0))
    yield "other charge negative", mut(lambda r: r["bill"].update(other_charges=[{"name": "x", "amount": -1}]))
    yield "lines missing", mut(lambda r: r.pop("lines"))
    yield "lines empty", mut(lambda r: r.update(lines=[]))
    yield "33 lines", mut(lambda r: r.update(lines=r["lines"] * 33))
    yield "kind", mut(lambda r: r["lines"][0].update(kind="tv"))
    yield "event", mut(lambda r: r["lines"][0].update(event="old"))
    yield "start missing", mut(lambda r: r["lines"][0].pop("start"))
    yield "start bad", mut(lambda r: r["lines"][0].update(start="2026-02-30"))
    yield "fee negative", mut(lambda r: r["lines"][0].update(monthly_fee=-1))
    yield "fee 10^12", mut(lambda r: r["lines"][0].update(monthly_fee=10**12))
    yield "fee float", mut(lambda r: r["lines"][0].update(monthly_fee=100.5))
    yield "fee missing", mut(lambda r: r["lines"][0].pop("monthly_fee"))
    yield "discount > fee", mut(lambda r: r["lines"][0].update(discounts=[{"name": "d", "amount": 30000}, {"name": "e", "amount": 30000}]))
    yield "discount negative", mut(lambda r: r["lines"][0].update(discounts=[{"name": "d", "amount": -5}]))
    yield "installment negative", mut(lambda r: r["lines"][0].update(device={"installment_monthly": -1, "months_left": 3}))
    yield "bundle discount negative", mut(lambda r: r.update(bundle={"name": "b", "discount": -1}))
    yield "bundle start bad", mut(lambda r: r.update(bundle={"name": "b", "discount": 1, "start": "x"}))
    yield "payment method", mut(lambda r: r.update(payment={"method": "cash"}))
    yield "line not object", mut(lambda r: r.update(lines=[5]))


def main():
    random.seed(int(os.environ.get("SEED", "20261123")))
    failures = 0
    checks = 0
    recs = [rand_record(i) for i in range(3000)]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n"
    rc, out, err = run(["fill"], text)
    got = [json.loads(l) for l in out.splitlines()]
    checks += 1
    if rc != 0 or len(got) != len(recs):
        print("FAIL: random valid records: exit %d, %d of %d out; stderr: %s" % (rc, len(got), len(recs), err[:2000]))
        failures += 1
    by_id = {g["id"]: g for g in got}
    for rec in recs:
        want = model(rec)
        g = by_id.get(rec["id"])
        if g is None:
            print("FAIL: %s: rejected or missing" % rec["id"])
            failures += 1
            continue
        checks += 1
        for key in want:
            if g.get(key) != want[key]:
                print("FAIL: %s: %s = %s, model says %s" % (rec["id"], key, json.dumps(g.get(key)), json.dumps(want[key])))
                failures += 1
                break
        if want["scenario"] is not None and not g.get("slots"):
            print("FAIL: %s: no slot texts for scenario %s" % (rec["id"], want["scenario"]))
            failures += 1

    # invalid shapes, each between two valid records
    shapes = list(invalid_shapes())
    lines, expect_bad = [], []
    for i, (desc, bad) in enumerate(shapes):
        ok = dict(VALID, id="OK-%d" % i)
        lines.append(json.dumps(ok, ensure_ascii=False))
        lines.append(bad)
        expect_bad.append((len(lines), desc))
    lines.append(json.dumps(dict(VALID, id="OK-last"), ensure_ascii=False))
    rc, out, err = run(["fill"], "\n".join(lines) + "\n")
    ids = [json.loads(l)["id"] for l in out.splitlines()]
    errs = err.splitlines()
    checks += 1
    if rc != 3:
        print("FAIL: invalid shapes: exit %d, want 3" % rc)
        failures += 1
    if ids != ["OK-%d" % i for i in range(len(shapes))] + ["OK-last"]:
        print("FAIL: valid records around the invalid ones: got %s" % ids)
        failures += 1
    if len(errs) != len(shapes):
        print("FAIL: %d stderr lines for %d invalid records:\n%s" % (len(errs), len(shapes), err))
        failures += 1
    for (lineno, desc), e in zip(expect_bad, errs):
        checks += 1
        if ("line %d" % lineno) not in e:
            print("FAIL: %s: stderr line does not name line %d: %s" % (desc, lineno, e))
            failures += 1
    print("%d passed, %d failed" % (checks - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
