#!/usr/bin/env python3
"""make_month.py N SEED [SAMPLES]: N records of a month's run, JSON Lines on stdout.

A plausible mix for the render benches: each record is one of the valid sample records of
cycle 2026-11 (examples/data/subscribers.jsonl: the seven scenarios, their plans and
bundles), with a fresh id, name, phone and birth date; the day the change happened drawn
uniformly from the cycle's days (every line and the bundle that changed start that day);
the payment's bank or card, its day of the month and the account's last four digits drawn
from what carriers' customers use (a few banks and cards, days 5/10/15/20/25, random last
four).  bill.total is left out (the library computes it).  Plans, fees, discounts and
devices are the samples': a carrier's catalogue is a few dozen plans, not one per customer.
"""
import copy
import datetime
import json
import os
import random
import sys

SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = "민서지현수영준우도윤하은예진성훈재원태희"
PAYERS = [("card", "신한카드"), ("card", "KB국민카드"), ("card", "현대카드"), ("card", "삼성카드"),
          ("bank", "국민은행"), ("bank", "우리은행"), ("bank", "신한은행"), ("bank", "농협은행"),
          ("giro", None)]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    n, rnd = int(argv[1]), random.Random(int(argv[2]))
    src = argv[3] if len(argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "examples",
                                                      "data", "subscribers.jsonl")
    samples = []
    for line in open(src, encoding="utf-8"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if (isinstance(r, dict) and r.get("id", "").startswith("S-0") and
                r.get("bill", {}).get("cycle_start") == "2026-11-01"):
            samples.append(r)
    out = sys.stdout
    for i in range(n):
        r = copy.deepcopy(rnd.choice(samples))
        r["id"] = "M-%07d" % i
        r["name"] = rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN)
        r["phone"] = "010%08d" % rnd.randrange(10 ** 8)
        r["birth"] = (datetime.date(1940, 1, 1) +
                      datetime.timedelta(days=rnd.randrange(65 * 365))).isoformat()
        r["bill"].pop("total", None)
        day = "2026-11-%02d" % rnd.randint(1, 30)
        for ln in r["lines"]:
            if ln.get("event", "none") != "none":
                ln["start"] = day
        if isinstance(r.get("bundle"), dict):
            r["bundle"]["start"] = day
        method, inst = rnd.choice(PAYERS)
        if method == "giro":
            r["payment"] = {"method": "giro"}
        else:
            r["payment"] = {"method": method, "institution": inst,
                            "account_last4": "%04d" % rnd.randrange(10000),
                            "day": rnd.choice([5, 10, 15, 20, 25])}
        out.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv)
