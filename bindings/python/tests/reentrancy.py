"""A hooks callback that calls back into its own hooks handle (issue 14 item 12).

pump() from inside a callback sink must fail at once with BusyError (status VBILL_ERR_BUSY)
instead of waiting for itself; emitting from the callback stays allowed.  Run by
tests/bindings_reentrancy.sh under a timeout: a hang is a failure.  Exit 0 when it holds.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.environ.get("VBILL_PYTHONPATH",
                                  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import vbill  # noqa: E402

seen = []
with vbill.Context() as ctx, tempfile.TemporaryDirectory() as state:
    with ctx.open_hooks(state, {"sinks": [{"type": "callback", "name": "desk",
                                           "events": ["bill.viewed"]}]}) as hooks:
        def callback(etype, event):
            try:
                hooks.pump()
                seen.append(("pump returned", None, ""))
            except vbill.Error as e:
                seen.append((type(e).__name__, e.status, e.message))
            try:
                hooks.emit("survey.answered", {"score": 5}, subject="S-1")  # allowed
                seen.append(("emit", 0, ""))
            except vbill.Error as e:
                seen.append(("emit failed", e.status, e.message))
            return 0
        hooks.set_callback("desk", callback)
        hooks.emit("bill.viewed", subject="S-1")
        delivered = hooks.pump()

print("delivered %d; inside the callback: %s" % (delivered, seen))
pump = seen[0] if seen else None
good = (delivered == 1 and pump is not None and pump[0] == "BusyError"
        and pump[1] == vbill.Status.ERR_BUSY and pump[2] != ""
        and ("emit", 0, "") in seen)
print("ok" if good else "FAIL: want BusyError (status 24, with a message) from pump() inside "
      "the callback, and emit() allowed there")
sys.exit(0 if good else 1)
