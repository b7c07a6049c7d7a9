#!/usr/bin/env python3
"""make_records.py SAMPLES COPIES SEED: COPIES copies of the sample records, JSON Lines.

Each copy gets unique ids (the sample id + "-NN"); valid-looking records get a fresh birth
date (1940-2005, a day not ending in 0, so that its YYMMDD form never equals a bill amount
rounded to 10), and every second copy moves its dates one month back (2026-11 -> 2026-10, 2026-12
-> 2026-11), so that the run spans several cycles.  Invalid samples stay invalid (their
broken field is kept) and lines that are not JSON are copied as they are.
"""
import datetime
import json
import random
import re
import sys

DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
SHIFT = {"2026-11": "2026-10", "2026-12": "2026-11"}


def real_date(s):
    m = DATE.match(s) if isinstance(s, str) else None
    if not m:
        return False
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return True
    except ValueError:
        return False


def shift(v):
    if isinstance(v, dict):
        return {k: shift(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shift(x) for x in v]
    if isinstance(v, str) and real_date(v) and v[:7] in SHIFT:
        out = SHIFT[v[:7]] + v[7:]
        return out if real_date(out) else v
    return v


def main():
    samples, copies, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    with open(samples, encoding="utf-8") as f:
        lines = [x.rstrip("\n") for x in f if x.strip()]
    out = sys.stdout
    for k in range(copies):
        for raw in lines:
            try:
                rec = json.loads(raw)
            except ValueError:
                out.write(raw + "\n")
                continue
            if not isinstance(rec, dict):
                out.write(raw + "\n")
                continue
            if isinstance(rec.get("id"), str):
                rec["id"] = "%s-%02d" % (rec["id"], k)
            if real_date(rec.get("birth")):
                while True:
                    d = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(24000))
                    if d.year <= 2005 and d.day % 10:
                        break
                rec["birth"] = d.isoformat()
            if k % 2:
                rec = shift(rec)
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
