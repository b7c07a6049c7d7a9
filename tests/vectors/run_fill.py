#!/usr/bin/env python3
"""Prints ctx.fill_json() of every record of a JSON Lines file, one per line, as `vbill fill`
does.  With --dict the records are parsed first and passed as dicts."""
import json
import sys

import vbill

as_dict = "--dict" in sys.argv[1:]
path = [a for a in sys.argv[1:] if a != "--dict"][0]
status = 0
with vbill.Context() as ctx:
    for n, line in vbill.read_jsonl(path):
        try:
            record = json.loads(line) if as_dict else line
            sys.stdout.write(ctx.fill_json(record, n) + "\n")
        except vbill.Error as e:
            print("vbill: %s" % e, file=sys.stderr)
            status = 3
sys.exit(status)
