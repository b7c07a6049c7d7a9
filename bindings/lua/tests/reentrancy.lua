-- A hooks callback that calls back into its own hooks handle (issue 14 item 12).
--
-- hooks:pump() from inside a callback sink must return nil, message, vbill.ERR_BUSY at once
-- instead of waiting for itself; emitting from the callback stays allowed.  Run by
-- tests/bindings_reentrancy.sh under a timeout: a hang is a failure.  Exit 0 when it holds.
local vbill = require("vbill")

local state = os.tmpname()
os.remove(state)
local ctx <close> = assert(vbill.new())
local hooks = assert(ctx:open_hooks(state, {sinks = {{type = "callback", name = "desk",
                                                       events = {"bill.viewed"}}}}))
local got, msg, code, emitted
assert(hooks:set_callback("desk", function()
  got, msg, code = hooks:pump()
  emitted = hooks:emit("survey.answered", {score = 5}, "S-1")
  return 0
end))
assert(hooks:emit("bill.viewed", nil, "S-1"))
local delivered = hooks:pump()
hooks:close()
os.execute("rm -rf '" .. state .. "'")
print(("delivered %s; pump inside the callback: %s, %s, %s; emit inside: %s"):format(
  tostring(delivered), tostring(got), tostring(msg), tostring(code), tostring(emitted)))
local good = delivered == 1 and got == nil and code == vbill.ERR_BUSY and msg and msg ~= "" and
             type(emitted) == "string"
print(good and "ok" or "FAIL: want nil, message, vbill.ERR_BUSY (24) from hooks:pump() inside " ..
                      "the callback, and emit() allowed there")
os.exit(good and 0 or 1)
