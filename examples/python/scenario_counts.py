#!/usr/bin/env python3
"""scenario_counts.py: classify and fill a JSON Lines file of subscribers and print a summary
table per scenario, then the rejected records with the reason (the same report as
examples/scenario_counts.c).  A carrier's first program:

    python3 scenario_counts.py subscribers.jsonl

Needs the vbill package (bindings/python) and libvbill.so.1 (or VBILL_LIBRARY=/path/to/it).
ctx.fill gives the numbers of a report; a program that goes on to render, link or answer
questions makes each record's bill once instead (ctx.bill(line, lineno)) and passes it on.
"""
import sys

import vbill


def main(path: str) -> int:
    rows = {}      # scenario -> [records, seniors, this month sum, next month sum]; keeps order
    rejected = []  # the library's messages: they name the record or line, the field, the problem
    with vbill.Context() as ctx:
        for lineno, line in vbill.read_jsonl(path):
            try:
                result = ctx.fill(line, lineno)   # line numbers make the messages precise
            except vbill.Error as e:              # RecordError (malformed JSON too), ...
                rejected.append(e.message)
                continue
            row = rows.setdefault(result["scenario"] or "(none)", [0, 0, 0, 0])
            row[0] += 1
            row[1] += result["senior"]
            row[2] += result["amounts"]["this_month"]  # integers: money never becomes a float
            row[3] += result["amounts"]["next_month"]

    print("%-28s %8s %8s %16s %16s" % ("scenario", "records", "seniors", "this month (sum)",
                                       "next month (sum)"))
    for scenario, (count, seniors, this_month, next_month) in rows.items():
        print("%-28s %8d %8d %16d %16d" % (scenario, count, seniors, this_month, next_month))
    print("%-28s %8d" % ("valid records", sum(r[0] for r in rows.values())))
    print("%-28s %8d" % ("rejected records", len(rejected)))
    for message in rejected:
        print("  " + message)
    return 3 if rejected else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: %s SUBSCRIBERS.jsonl" % sys.argv[0])
    sys.exit(main(sys.argv[1]))
