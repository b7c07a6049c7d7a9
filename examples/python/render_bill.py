#!/usr/bin/env python3
"""render_bill.py: render one subscriber's video bill (MP4) from a video template.

    python3 render_bill.py TEMPLATE_DIR record.json bill.mp4

A template is a directory with template.json and a base video; ctx.write_builtin_template()
writes the built-in one of a scenario.  Preparing is slow once and cached in
TEMPLATE_DIR/.vbill-prepared/; a prepared template can be shared by rendering threads, each
with its own Context.
"""
import sys

import vbill


def main(template_dir: str, record_path: str, out_path: str) -> int:
    with open(record_path, encoding="utf-8") as f:
        record = f.read()
    with vbill.Context() as ctx, ctx.bill(record) as bill, \
            ctx.open_template(template_dir) as template:
        template.prepare()  # a no-op when already cached; errors carry the template's message
        try:
            # speed 0: the bill's own, the slow variant for seniors.  The file appears
            # atomically.  A bill read back with vbill.Bill.from_json renders the same way.
            ctx.render_mp4(template, bill, out_path, speed=0)
        except vbill.NotTargetError as e:
            print("no video bill this cycle: %s" % e)
            return 0
        print("rendered %s (scenario %s)" % (out_path, template.scenario))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: %s TEMPLATE_DIR RECORD.json OUT.mp4" % sys.argv[0])
    sys.exit(main(*sys.argv[1:]))
