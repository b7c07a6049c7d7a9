-- Tests of the vbill Lua module against a real libvbill, in TAP.  `make check` runs it via
-- tests/bindings_lua.sh with LUA_CPATH pointing at the build's module.
--
-- The optional parts are asked of the library (vbill.has): the tests of a part it was built
-- without are skipped with a message; a part it says it has must work.  Misuse raises (a Lua
-- error, caught here with pcall); failures of the library return nil, message, code.
local vbill = require("vbill")

local srcdir = os.getenv("VBILL_SRCDIR") or "."
local n, failed = 0, 0

local function ok(cond, name, diag)
  n = n + 1
  if cond then
    print(("ok %d - %s"):format(n, name))
  else
    failed = failed + 1
    print(("not ok %d - %s"):format(n, name))
    if diag then print("# " .. tostring(diag):gsub("\n", "\n# ")) end
  end
  return cond
end

local function is(got, want, name)
  return ok(got == want, name, ("got %s, want %s"):format(tostring(got), tostring(want)))
end

local function skip(name, why)
  n = n + 1
  print(("ok %d - %s # SKIP %s"):format(n, name, why))
end

-- A misuse must raise a Lua error whose message matches `pattern`.
local function raises(pattern, name, f, ...)
  local fine, err = pcall(f, ...)
  return ok(not fine and tostring(err):find(pattern), name,
            fine and "did not raise" or ("raised: " .. tostring(err)))
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local SPEC_TEXT = read(srcdir .. "/tests/vectors/spec_example.json")
local SPEC = assert(vbill.from_json(SPEC_TEXT))

-- A call that clears the context's message (every call on a context does, per the header).
local function clear(c)
  local b = assert(c:bill(SPEC))
  b:close()
  return true
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = setmetatable({}, getmetatable(t))
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

local function copy_with(t, changes)
  local c = copy(t)
  for k, v in pairs(changes) do c[k] = v end
  return c
end

-- module
ok(vbill.version():match("^%d+%.%d+%.%d+"), "version")
local M, m, p = vbill.version():match("^(%d+)%.(%d+)%.(%d+)")
is(vbill.version_num(), (tonumber(M) << 16) | (tonumber(m) << 8) | tonumber(p), "version_num")
ok(vbill.version_num() >= 0x000200, "API 0.2 or later")
ok(vbill.strerror(vbill.ERR_RECORD):match("^VBILL_ERR_RECORD"), "strerror")
is(vbill.status.ERR_AUTH_LOCKED, 17, "status table")
is(vbill.ERR_UNSUPPORTED, 23, "ERR_UNSUPPORTED")
is(vbill.ERR_BUSY, 24, "ERR_BUSY")
for _, part in ipairs({"records", "mustache", "auth", "hooks", "chat"}) do
  is(vbill.has(part), true, "has " .. part)
end
is(vbill.has("no-such-part"), false, "has: unknown part")
raises("string expected", "has(nil) raises", vbill.has, nil)
local HAS_VIDEO, HAS_REDIS = vbill.has("video"), vbill.has("redis")
local rules = vbill.default_rules()
is(#rules.rules, 7, "default rules: seven scenarios")
is(rules.rules[1].scenario, "mobile_new_home_new", "default rules: first")
is(type(vbill.default_rules_json), "string", "default rules json")

-- JSON mapping
is(vbill.to_json({}), "{}", "empty table is an object")
is(vbill.to_json(vbill.array()), "[]", "vbill.array() is []")
is(vbill.to_json({1, 2, "x"}), '[1,2,"x"]', "sequence is an array")
is(vbill.to_json({a = vbill.null}), '{"a":null}', "vbill.null")
is(vbill.to_json(vbill.from_json('{"a":[]}')), '{"a":[]}', "empty array round-trips")
is(math.type(vbill.from_json("[139000]")[1]), "integer", "integers stay integers")
local cyc = {}
cyc.self = cyc
raises("nested", "a cycle cannot be JSON: raises", vbill.to_json, cyc)
raises("cannot be JSON", "a function cannot be JSON: raises", vbill.to_json, {f = print})
raises("NUL", "a string with a NUL cannot be JSON: raises", vbill.to_json, {id = "S-1\0../x"})
local r, err, code = vbill.from_json("{")
ok(r == nil and code == vbill.ERR_JSON and err, "text that is not JSON: nil, msg, ERR_JSON", err)

-- classify
local ctx = vbill.new()
ok(tostring(ctx):match("^vbill.Context"), "tostring")
r, err, code = ctx:classify(SPEC)
ok(r, "classify table", err)
if r then
  is(r.id, "S-000123", "classify id")
  is(r.scenario, "mobile_new_bundle", "classify scenario")
  is(r.age, 68, "classify age")
  is(r.senior, true, "classify senior")
  ok(math.abs(r.speed - 0.8) < 1e-9, "classify speed")
  is(#r.flags, 0, "classify flags")
end
is(ctx:classify_json(SPEC), ctx:classify_json(SPEC_TEXT:gsub("\n", "")), "table and text agree")

local bad = copy(SPEC)
bad.birth = "1970-02-30"
r, err, code = ctx:classify(bad, 6)
ok(r == nil, "bad record: nil")
is(code, vbill.ERR_RECORD, "bad record: code")
ok(err and err:find("S-000123", 1, true) and err:find("birth", 1, true), "bad record: message", err)
is(ctx:errmsg(), err, "errmsg")
ok(clear(ctx) and ctx:errmsg() == "", "errmsg cleared by the next call")

local noid = copy(SPEC)
noid.id = nil
r, err = ctx:classify(noid, 21)
ok(r == nil and err:find("line 21", 1, true), "no id names the line", err)
-- malformed JSON is a record failure (ERR_RECORD), not ERR_JSON, for classify, fill and bill
for _, method in ipairs({"classify", "fill", "bill"}) do
  r, err, code = ctx[method](ctx, '{"id": "x",', 3)
  ok(r == nil and code == vbill.ERR_RECORD and err:find("JSON", 1, true) and
     err:find("line 3", 1, true), "malformed JSON: " .. method .. " gives ERR_RECORD", err)
end
raises("table or JSON string expected", "wrong argument type raises", ctx.classify, ctx, 42)
raises("number expected", "wrong line type raises", ctx.classify, ctx, SPEC, "six")

-- rules and options
r, err, code = ctx:set_rules({rules = {{scenario = "x", when = {"nope"}}}})
ok(r == nil and code == vbill.ERR_RULES and err:find("rules[0].when[0]", 1, true),
   "bad rules: position", err)
is(ctx:classify(SPEC).scenario, "mobile_new_bundle", "previous rules kept")
ok(ctx:set_rules({rules = {{scenario = "everyone", when = vbill.array()}}}), "set rules")
is(ctx:classify(SPEC).scenario, "everyone", "custom rules apply")
local c2 = vbill.new('{"rules":[{"scenario":"home","when":["h_any"]}]}')
is(c2:classify(SPEC).scenario, nil, "no scenario is nil")
c2:close()
local c3, e3 = vbill.new({rules = {{scenario = "x", when = {"nope"}}}})
ok(c3 == nil and e3, "vbill.new with bad rules", e3)
ok(ctx:set_senior(70, 0.5), "set_senior")
is(ctx:classify(SPEC).senior, false, "senior age applies")
r, err, code = ctx:set_senior(60, 9)
ok(code == vbill.ERR_ARG and err == ctx:errmsg(), "bad speed refused with the ctx's message", err)

local lines = {}
ctx:set_log(function(level, msg) lines[#lines + 1] = msg end, vbill.LOG_DEBUG)
ctx:classify(bad)
local logged, leaked = false, false
for _, line in ipairs(lines) do
  if line:find("birth", 1, true) then logged = true end
  if line:find("1958", 1, true) then leaked = true end
end
ok(logged and not leaked, "log callback gets messages, never the birth date")
ctx:set_log(function() error("boom") end, vbill.LOG_DEBUG)
ok(ctx:classify(bad) == nil, "an erroring log function does not break the call")
-- closing the context from its own log callback, inside a call: refused, the call completes
local close_err
ctx:set_log(function() local fine, e = pcall(ctx.close, ctx); close_err = close_err or e end,
            vbill.LOG_DEBUG)
ok(ctx:classify(bad) == nil and ctx:classify(SPEC), "closing from the log callback: call completes")
ok(close_err and close_err:find("inside a call", 1, true), "closing inside a call raises", close_err)
ctx:set_log(nil)
raises("function expected", "set_log with a string raises", ctx.set_log, ctx, "print")

local slots = ctx:default_slots("mobile_new_bundle", "ko-KR")
ok(type(slots) == "table" and next(slots) ~= nil, "default slots")
ctx:close()

-- fill
ctx = vbill.new()
local f, ferr = ctx:fill(SPEC)
if ok(f, "fill", ferr) then
  is(f.amounts.lines[1].prorated, 36120, "L1 prorated")
  is(f.amounts.lines[2].prorated, 23370, "L2 prorated")
  is(f.amounts.bundle_prorated, 6230, "bundle prorated")
  is(f.amounts.this_month, 60960, "this month")
  is(f.amounts.next_month, 139000, "next month")
  is(f.period.start, "2026-11-14", "period start")
  ok(next(f.slots) ~= nil, "slots rendered")
end
local mu, merr = vbill.mustache("Hi {{name}}{{#x}}!{{/x}}", {name = "<A>", x = true})
is(mu, "Hi &lt;A&gt;!", "mustache", merr)
is(ctx:mustache("{{>p}}", {v = 1}, {p = "v={{v}}"}), "v=1", "mustache partials")
r, err, code = ctx:mustache("{{#open}}", {})
is(code, vbill.ERR_TEMPLATE, "mustache error")

-- the bill
local bill, berr = ctx:bill(SPEC)
ok(bill, "bill from a table", berr)
local bill2 = assert(ctx:bill(SPEC_TEXT, 1))
ok(same(vbill.from_json(bill:to_json()), vbill.from_json(bill2:to_json())),
   "bill from a table and from text agree")
bill2:close()
ok(tostring(bill):find("S-000123", 1, true), "bill tostring")
is(bill:id(), "S-000123", "bill id")
is(bill:scenario(), "mobile_new_bundle", "bill scenario")
is(bill:locale(), "ko-KR", "bill locale")
is(bill:cycle(), "2026-11", "bill cycle")
is(bill:cycle_start(), "2026-11-01", "bill cycle_start")
is(bill:senior(), true, "bill senior")
ok(math.abs(bill:speed() - 0.8) < 1e-9, "bill speed")
is(bill:can_issue_link(), true, "a bill from a record can issue a link")
local bctx = bill:context()
is(bctx.name_masked, "김*수", "bill context: name masked")
is(bctx.this_month_text, "60,960원", "bill context: formatted amount")
ok(not bill:context_json():find("1958", 1, true), "no birth date in the bill context")
local bjson = bill:to_json()
ok(not bjson:find("1958", 1, true) and not bjson:find("birth", 1, true),
   "no birth date in bill.json")
is(vbill.from_json(bjson).vbill_bill, 1, "bill.json schema version")
local back, backerr = vbill.bill_from_json(ctx, bjson)
ok(back, "bill read back from bill.json", backerr)
is(back:to_json(), bjson, "bill.json round-trips byte for byte")
is(back:can_issue_link(), false, "a bill read from JSON cannot issue a link")
local back2 = assert(ctx:bill_from_json(vbill.from_json(bjson)))
ok(same(vbill.from_json(back2:to_json()), vbill.from_json(bjson)),
   "ctx:bill_from_json with a table")
back2:close()
r, err, code = vbill.bill_from_json(ctx, "{not json")
is(code, vbill.ERR_JSON, "bill.json that is not JSON: ERR_JSON")
local doc = vbill.from_json(bjson)
doc.amounts.lines[1].days = "x"
r, err, code = vbill.bill_from_json(ctx, doc)
ok(r == nil and code == vbill.ERR_RECORD and err:find("amounts.lines[0].days", 1, true),
   "bad bill.json names the field", err)
r, err, code = ctx:bill(bad, 4)
ok(r == nil and code == vbill.ERR_RECORD, "bad record: no bill", err)
raises("vbill.Context expected", "bill_from_json without a context raises",
       vbill.bill_from_json, bjson)

-- signed links and the knowledge check
local NOW = 1796000000
local tmp = os.tmpname()
os.remove(tmp)
local keys = assert(ctx:keys_from_json(ctx:generate_keys()))
local store, serr = ctx:open_store(tmp)
ok(store, "open store", serr)
local tok = ctx:link_issue(keys, bill, 3600, NOW)
ok(type(tok) == "string" and #tok > 40, "link issued")
r, err, code = ctx:link_issue(keys, back, 3600, NOW)
ok(r == nil and code == vbill.ERR_UNSUPPORTED and err == ctx:errmsg(),
   "a bill from JSON cannot issue: ERR_UNSUPPORTED", err)
local info = ctx:link_verify(keys, tok, NOW + 1)
is(info and info.subscriber, "S-000123", "link verified")
r, err, code = ctx:link_verify(keys, tok, NOW + 7200)
is(code, vbill.ERR_LINK_EXPIRED, "expired link")
r, err, code = ctx:link_verify(keys, "garbage", NOW)
is(code, vbill.ERR_LINK_MALFORMED, "malformed link")
r, err, code = ctx:auth_check(keys, store, tok, "000000", "10.0.0.1", NOW)
ok(r == nil and code == vbill.ERR_AUTH_WRONG and not err:find("580314"), "wrong digits", err)
local oldsession, oerr = ctx:auth_check(keys, store, tok, "580314", "10.0.0.1", NOW)
ok(oldsession, "right digits give a session", oerr)
-- re-issuing revokes the old link and its sessions in the store
local newtok, rerr = ctx:link_reissue(keys, store, tok, bill, 3600, NOW + 5)
ok(type(newtok) == "string" and newtok ~= tok, "link reissued", rerr)
info, err = ctx:link_verify_store(keys, store, newtok, NOW + 6)
is(info and info.subscriber, "S-000123", "the new link verifies with the store")
ok(ctx:link_verify(keys, tok, NOW + 6), "the old link: the stateless verify cannot tell")
r, err, code = ctx:link_verify_store(keys, store, tok, NOW + 6)
ok(r == nil and code == vbill.ERR_LINK_EXPIRED and err:find("revoked") and err == ctx:errmsg(),
   "the old link is revoked in the store", err)
ok(ctx:link_verify_store(keys, nil, tok, NOW + 6), "link_verify_store without a store")
r, err, code = ctx:auth_check(keys, store, tok, "580314", "10.0.0.1", NOW + 6)
is(code, vbill.ERR_LINK_EXPIRED, "the old link is refused by the check")
r, err, code = ctx:session_verify(keys, oldsession, tok, "10.0.0.1", store, NOW + 6)
is(code, vbill.ERR_SESSION, "the old link's session is refused with the store")
ok(ctx:session_verify(keys, oldsession, tok, "10.0.0.1", nil, NOW + 6),
   "... and seen as valid without one (as the header says)")
r, err, code = ctx:link_reissue(keys, store, tok, bill, 3600, NOW + 7)
is(code, vbill.ERR_LINK_EXPIRED, "no re-issue from a revoked link")
local session, aerr = ctx:auth_check(keys, store, newtok, "580314", "10.0.0.1", NOW)
ok(session, "the new link passes the check", aerr)
ok(ctx:session_verify(keys, session, newtok, "10.0.0.1", nil, NOW), "session verified")
ok(ctx:session_verify(keys, session, newtok, "10.0.0.1", store, NOW), "session verified (store)")
r, err, code = ctx:session_verify(keys, session, newtok, "10.9.9.9", nil, NOW)
is(code, vbill.ERR_SESSION, "session for another client")
-- the client is required
raises("string expected", "auth_check without a client raises",
       ctx.auth_check, ctx, keys, store, newtok, "580314")
raises("string expected", "auth_check with a nil client raises",
       ctx.auth_check, ctx, keys, store, newtok, "580314", nil, NOW)
r, err, code = ctx:auth_check(keys, store, newtok, "580314", "", NOW)
ok(r == nil and code == vbill.ERR_ARG and err:find("client"), "an empty client: ERR_ARG", err)
raises("string expected", "session_verify with a nil client raises",
       ctx.session_verify, ctx, keys, session, newtok, nil, store, NOW)
r, err, code = ctx:session_verify(keys, session, newtok, "", store, NOW)
is(code, vbill.ERR_ARG, "session_verify with an empty client: ERR_ARG")
-- revocation alone
do
  local t = assert(ctx:link_issue(keys, bill, 3600, NOW))
  ok(ctx:link_verify_store(keys, store, t, NOW), "a fresh link verifies with the store")
  ok(ctx:link_revoke(keys, store, t), "link_revoke")
  r, err, code = ctx:link_verify_store(keys, store, t, NOW)
  ok(r == nil and code == vbill.ERR_LINK_EXPIRED and err:find("revoked"),
     "a revoked link: link_verify_store", err)
  r, err, code = ctx:auth_check(keys, store, t, "580314", "10.0.0.2", NOW)
  is(code, vbill.ERR_LINK_EXPIRED, "a revoked link: auth_check")
  ok(ctx:link_unlock(keys, store, t), "unlock a revoked link")
  r, err, code = ctx:auth_check(keys, store, t, "580314", "10.0.0.2", NOW)
  is(code, vbill.ERR_LINK_EXPIRED, "unlocking never un-revokes")
  r, err, code = ctx:link_revoke(keys, store, "garbage")
  is(code, vbill.ERR_LINK_MALFORMED, "link_revoke of garbage: ERR_LINK_MALFORMED")
  raises("vbill.Store expected", "link_revoke without a store raises",
         ctx.link_revoke, ctx, keys, nil, t)
end
ok(store:set_limits(2, 60, 3), "set limits")
ok(clear(ctx) and ctx:errmsg() == "", "(context message cleared)")
r, err, code = store:set_limits(5, 60, 2)
ok(code == vbill.ERR_ARG and err ~= "" and err == store:errmsg() and ctx:errmsg() == "",
   "bad limits: the store's own message", err)
r, err, code = store:set_limits(5, 60, 100001)
is(code, vbill.ERR_ARG, "limits are capped (100,000 failures)")
r, err, code = keys:set_session_ttl(0)
ok(code == vbill.ERR_ARG and err ~= "" and err == keys:errmsg() and ctx:errmsg() == "",
   "bad session ttl: the keys' own message", err)
ok(ctx:link_unlock(keys, store, tok), "unlock")
local sms, smerr = ctx:message_build(bill, "https://b.example/v/x")
ok(sms and sms:find("https://b.example/v/x", 1, true), "sms text", smerr)
is(vbill.text_euckr_bytes("가a"), 3, "euc-kr bytes")

-- a subscriber's bound over all the links of its bill, across unlocks and re-issues
do
  local dir = os.tmpname()
  os.remove(dir)
  local st = assert(ctx:open_store(dir))
  local events = {}
  ok(st:set_subscriber_limit(3), "set_subscriber_limit")
  ok(st:set_lock_hook(function(e) events[#events + 1] = e end), "set_lock_hook")
  local a = assert(ctx:link_issue(keys, bill, 3600, NOW))
  local b = assert(ctx:link_issue(keys, bill, 3600, NOW))
  local fails = 0
  for i, t in ipairs({a, a, b}) do
    r, err, code = ctx:auth_check(keys, st, t, "000000", "10.0.2." .. i, NOW)
    if code == vbill.ERR_AUTH_WRONG or code == vbill.ERR_AUTH_LOCKED then fails = fails + 1 end
  end
  is(fails, 3, "three wrong answers over two links")
  local sub
  for _, e in ipairs(events) do if e.type == "subscriber_locked" then sub = e end end
  ok(sub and sub.subscriber == "S-000123" and sub.hard == true,
     "the lock hook says subscriber_locked", vbill.to_json(events))
  r, err, code = ctx:auth_check(keys, st, b, "580314", "10.0.2.9", NOW)
  is(code, vbill.ERR_AUTH_LOCKED, "the other link is locked too")
  local att = assert(ctx:link_attempts(keys, st, b, NOW))
  ok(att.state == "subscriber" and att.tries_left == 0 and att.locked_until == 0,
     "link_attempts: locked by the subscriber's bound", vbill.to_json(att))
  raises("vbill.Store expected", "link_attempts without a store raises",
         ctx.link_attempts, ctx, keys, nil, b)
  ok(ctx:link_unlock(keys, st, a), "help-desk unlock")
  r, err, code = ctx:auth_check(keys, st, a, "580314", "10.0.2.9", NOW)
  is(code, vbill.ERR_AUTH_LOCKED, "an unlock gives no guess back")
  local c2 = assert(ctx:link_reissue(keys, st, b, bill, 3600, NOW))
  r, err, code = ctx:auth_check(keys, st, c2, "580314", "10.0.2.9", NOW)
  is(code, vbill.ERR_AUTH_LOCKED, "a re-issued link gives no guess back")
  local other = assert(ctx:bill(copy_with(SPEC, {id = "S-000124"})))
  local ot = assert(ctx:link_issue(keys, other, 3600, NOW))
  ok(ctx:auth_check(keys, st, ot, "580314", "10.0.2.9", NOW), "another subscriber is free")
  other:close()
  r, err, code = st:set_subscriber_limit(0)
  ok(code == vbill.ERR_ARG and err == st:errmsg(), "subscriber limit 0: ERR_ARG", err)
  raises("number expected", "set_subscriber_limit('three') raises", st.set_subscriber_limit, st,
         "three")
  raises("function expected", "set_lock_hook with a string raises", st.set_lock_hook, st, "x")
  -- a lock hook calling its own store: nil, msg, ERR_BUSY there; closing it there raises
  local inner = {}
  ok(st:set_lock_hook(function()
    inner[#inner + 1] = {st:stats()}
    inner[#inner + 1] = {pcall(st.close, st)}
  end), "set_lock_hook (re-entering)")
  ok(st:set_limits(1, 60, 2), "set limits 1/2")
  local x = assert(ctx:bill(copy_with(SPEC, {id = "S-000125"})))
  local xt = assert(ctx:link_issue(keys, x, 3600, NOW))
  x:close()
  ctx:auth_check(keys, st, xt, "000000", "10.0.2.20", NOW)
  ok(inner[1] and inner[1][1] == nil and inner[1][3] == vbill.ERR_BUSY,
     "the store from its lock hook: ERR_BUSY", inner[1] and inner[1][2])
  ok(inner[2] and inner[2][1] == false and tostring(inner[2][2]):find("inside a call"),
     "closing the store from its lock hook raises", inner[2] and inner[2][2])
  ok(st:stats(NOW), "the store works after its hook returned")
  ok(st:set_lock_hook(nil), "set_lock_hook(nil)")
  st:close()
  os.execute("rm -rf '" .. dir .. "'")
end

-- the slowdown, the alarm and the figures for metrics
do
  local dir = os.tmpname()
  os.remove(dir)
  local st = assert(ctx:open_store(dir))
  local s0 = assert(st:stats(NOW))
  ok(s0.checks == 0 and s0.failed == 0 and s0.failures_total == 0, "stats of a new store")
  local alarms = {}
  ok(st:set_limits(5, 900, 10, 2, 3600), "client_max 2")
  ok(st:set_slowdown(30), "set_slowdown")
  ok(st:set_alarm(3, 60, function(e) alarms[#alarms + 1] = e end), "set_alarm")
  local toks = {}
  for i = 1, 4 do
    local b = assert(ctx:bill(copy_with(SPEC, {id = ("S-%06d"):format(500 + i)})))
    toks[i] = assert(ctx:link_issue(keys, b, 3600, NOW))
    b:close()
  end
  for i = 1, 2 do
    r, err, code = ctx:auth_check(keys, st, toks[i], "000000", "192.0.2.200", NOW + i - 1)
    is(code, vbill.ERR_AUTH_WRONG, "wrong answer " .. i .. " from one address")
  end
  r, err, code = ctx:auth_check(keys, st, toks[3], "580314", "192.0.2.200", NOW + 10)
  ok(code == vbill.ERR_AUTH_LOCKED and err:find("try again in"), "the address is slowed", err)
  r, err, code = ctx:auth_check(keys, st, toks[3], "000000", "192.0.2.200", NOW + 31)
  is(code, vbill.ERR_AUTH_WRONG, "its turn after 30 s")
  is(#alarms, 1, "the alarm once for the window")
  ok(alarms[1] and alarms[1].type == "auth.attack_suspected" and alarms[1].failures == 3 and
     alarms[1].window_seconds == 60, "the alarm event", alarms[1] and vbill.to_json(alarms[1]))
  ok(ctx:auth_check(keys, st, toks[4], "580314", "198.51.100.1", NOW + 32), "a right answer")
  local s1 = assert(st:stats(NOW + 32))
  ok(s1.checks == 5 and s1.passed == 1 and s1.failed == 3 and s1.slowed == 1 and
     s1.alarms == 1 and s1.failures_total == 3 and s1.failures_window == 3,
     "the counters moved", vbill.to_json(s1))
  local again = assert(ctx:open_store(dir))
  local s2 = assert(again:stats(NOW + 32))
  ok(s2.checks == 0 and s2.failures_total == 3, "another handle: its own counters, the totals",
     vbill.to_json(s2))
  again:close()
  ok(st:set_alarm(1, 60), "an alarm without a function")
  ctx:auth_check(keys, st, toks[4], "000000", "198.51.100.1", NOW + 200)
  is(#alarms, 1, "no function called")
  is(st:stats(NOW + 200).alarms, 2, "but counted")
  for _, bad in ipairs({{"set_slowdown", 0}, {"set_slowdown", 3601}, {"set_alarm", 0, 60},
                        {"set_alarm", 5, 0}}) do
    r, err, code = st[bad[1]](st, bad[2], bad[3])
    ok(r == nil and code == vbill.ERR_ARG and err == st:errmsg(),
       ("%s(%s): ERR_ARG"):format(bad[1], bad[2]), err)
  end
  raises("function expected", "set_alarm with a string raises", st.set_alarm, st, 5, 60, "x")
  -- the alarm function calling its own store: nil, msg, ERR_BUSY
  local inner
  ok(st:set_alarm(1, 60, function() inner = {st:set_slowdown(5)} end), "set_alarm (re-entering)")
  ctx:auth_check(keys, st, toks[4], "000000", "198.51.100.2", NOW + 400)
  ok(inner and inner[1] == nil and inner[3] == vbill.ERR_BUSY, "the store from its alarm: ERR_BUSY",
     inner and inner[2])
  st:close()
  raises("closed", "stats of a closed store raises", st.stats, st)
  os.execute("rm -rf '" .. dir .. "'")
end

-- key files: private files only; the peppers kept apart
local function write(path, text, mode)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  assert(os.execute(("chmod %s '%s'"):format(mode, path)))
end
do
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 '" .. dir .. "'"))
  local key_text = ctx:generate_keys()
  local full = vbill.from_json(key_text).keys[1]
  write(dir .. "/keys.json", key_text, "600")
  local k = ctx:load_keys(dir .. "/keys.json")
  ok(k and ctx:link_issue(k, bill, 3600, NOW), "a 0600 key file loads and issues")
  if k then k:close() end
  write(dir .. "/open.json", key_text, "644")
  r, err, code = ctx:load_keys(dir .. "/open.json")
  ok(r == nil and code == vbill.ERR_KEY and err:find("chmod 600") and
     not err:find(full.secret, 1, true), "a 0644 key file is refused with the fix", err)
  os.execute(("ln -s '%s/keys.json' '%s/link.json'"):format(dir, dir))
  r, err, code = ctx:load_keys(dir .. "/link.json")
  ok(r == nil and code == vbill.ERR_KEY and err:find("symlink"), "a symlinked key file is refused",
     err)

  local key_json, pepper_json = ctx:split_keys(key_text)
  ok(type(key_json) == "string" and not key_json:find("pepper") and
     key_json:find(full.secret, 1, true), "split: the key file without its peppers")
  local pj = pepper_json and vbill.from_json(pepper_json)
  ok(pj and pj.vbill_peppers == 1 and pj.peppers[full.kid] == full.pepper and
     not pepper_json:find(full.secret, 1, true), "split: the pepper set", pepper_json)
  local whole = assert(ctx:keys_from_json(key_text))
  local bare = assert(ctx:keys_from_json(key_json))
  local t = assert(ctx:link_issue(whole, bill, 3600, NOW))
  local dir2 = os.tmpname()
  os.remove(dir2)
  local st = assert(ctx:open_store(dir2))
  local sess = assert(ctx:auth_check(whole, st, t, "580314", "10.0.0.1", NOW))
  ok(ctx:link_verify(bare, t, NOW), "without its pepper a key verifies links")
  ok(ctx:session_verify(bare, sess, t, "10.0.0.1", st, NOW), "... and sessions")
  r, err, code = ctx:link_issue(bare, bill, 3600, NOW)
  ok(r == nil and code == vbill.ERR_KEY and err:find("pepper"), "... but cannot issue", err)
  r, err, code = ctx:auth_check(bare, st, t, "580314", "10.0.0.1", NOW)
  is(code, vbill.ERR_KEY, "... nor check a birth date")
  is(st:stats(NOW).failed, 0, "(that check was not counted)")
  ok(clear(ctx) and ctx:errmsg() == "", "(context message cleared)")
  r, err, code = bare:add_peppers({vbill_peppers = 1, peppers = vbill.object()})
  ok(r == nil and code == vbill.ERR_KEY and err == bare:errmsg() and ctx:errmsg() == "" and
     not err:find(full.pepper, 1, true), "an empty pepper set: the keys' own message", err)
  local _, other_peppers = ctx:split_keys(ctx:generate_keys())
  r, err, code = bare:add_peppers(other_peppers)
  is(code, vbill.ERR_KEY, "a pepper set of other keys only")
  raises("table or JSON string", "add_peppers(nil) raises", bare.add_peppers, bare, nil)
  write(dir .. "/peppers.json", pepper_json, "644")
  r, err, code = bare:load_peppers(dir .. "/peppers.json")
  ok(r == nil and code == vbill.ERR_KEY and err:find("chmod 600") and err == bare:errmsg(),
     "a 0644 pepper file is refused", err)
  os.execute(("ln -s '%s/peppers.json' '%s/plink.json'"):format(dir, dir))
  os.execute(("chmod 600 '%s/peppers.json'"):format(dir))
  r, err, code = bare:load_peppers(dir .. "/plink.json")
  ok(r == nil and code == vbill.ERR_KEY and err:find("symlink"),
     "a symlinked pepper file is refused", err)
  ok(bare:load_peppers(dir .. "/peppers.json"), "a 0600 pepper file loads", bare:errmsg())
  local mine = ctx:link_issue(bare, bill, 3600, NOW)
  ok(mine and ctx:auth_check(bare, st, mine, "580314", "10.0.0.1", NOW) and
     ctx:auth_check(whole, st, mine, "580314", "10.0.0.1", NOW),
     "with its pepper it issues and checks, as the whole key file does")
  local op = vbill.from_json(other_peppers).peppers
  local conflict = {vbill_peppers = 1, peppers = {[full.kid] = op[next(op)]}}
  r, err, code = bare:add_peppers(conflict)
  ok(r == nil and code == vbill.ERR_KEY and err:find("differs"),
     "another pepper for a key is refused", err)
  r, err, code = ctx:split_keys(key_text, conflict)
  is(code, vbill.ERR_KEY, "split against a conflicting pepper set")
  local rk, rp = ctx:split_keys(ctx:generate_keys(key_json), pepper_json)
  local n_peppers = 0
  for _ in pairs(vbill.from_json(rp).peppers) do n_peppers = n_peppers + 1 end
  is(n_peppers, 2, "rotation with the peppers apart: both peppers in the new set")
  local rotated = assert(ctx:keys_from_json(rk))
  ok(rotated:add_peppers(rp) and ctx:auth_check(rotated, st, t, "580314", "10.0.0.1", NOW),
     "the rotated keys check an old link")
  raises("vbill.Keys expected, got vbill.Store", "a store where keys are expected (peppers)",
         bare.add_peppers, st, pepper_json)
  rotated:close()
  whole:close()
  bare:close()
  raises("closed", "load_peppers on closed keys raises", bare.load_peppers, bare, dir .. "/p")
  st:close()
  os.execute(("rm -rf '%s' '%s'"):format(dir, dir2))
end

-- Redis
if HAS_REDIS then
  r, err, code = ctx:open_redis_store("127.0.0.1", 1)
  ok(r == nil and code == vbill.ERR_STORE, "redis: unreachable server is ERR_STORE", err)
  r, err, code = ctx:open_redis_url("redis://:Zq9-not-it@127.0.0.1:1/2")
  ok(r == nil and code == vbill.ERR_STORE and not err:find("Zq9-not-it"),
     "redis URL: unreachable, the password not echoed", err)
  for _, url in ipairs({"http://127.0.0.1", "redis://:Zq9-not-it@127.0.0.1:6379/x", ""}) do
    r, err, code = ctx:open_redis_url(url)
    ok(r == nil and code == vbill.ERR_ARG and not err:find("Zq9-not-it"),
       "malformed redis URL " .. url, err)
  end
  raises("string expected", "open_redis_url(nil) raises", ctx.open_redis_url, ctx, nil)
  if os.execute("command -v redis-server >/dev/null 2>&1") then
    local rdir = os.tmpname()
    os.remove(rdir)
    assert(os.execute("mkdir -m 700 '" .. rdir .. "'"))
    local port, up
    math.randomseed(os.time())
    for _ = 1, 5 do -- a free port: another test may hold the first one tried
      port = 20000 + math.random(0, 39999)
      os.execute(("redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no " ..
                  "--dir '%s' --requirepass 'lua pw' --daemonize yes --pidfile '%s/pid' " ..
                  "--logfile '%s/log' >/dev/null 2>&1"):format(port, rdir, rdir, rdir))
      for _ = 1, 30 do
        local s = ctx:open_redis_url(("redis://:lua%%20pw@127.0.0.1:%d/3"):format(port))
        if s then s:close(); up = true; break end
        os.execute("sleep 0.1")
      end
      if up then break end
      os.execute(("[ -f '%s/pid' ] && kill $(cat '%s/pid') 2>/dev/null"):format(rdir, rdir))
    end
    if ok(up, "redis-server started on loopback") then
      local url = ("redis://:lua%%20pw@127.0.0.1:%d/3"):format(port)
      r, err, code = ctx:open_redis_url(("redis://127.0.0.1:%d/3"):format(port))
      ok(r == nil and code == vbill.ERR_STORE and err:find("NOAUTH"), "no password: NOAUTH", err)
      local a = assert(ctx:open_redis_url(url, "lua:"))
      local b = assert(ctx:open_redis_url(url, "lua:"))
      local odb = assert(ctx:open_redis_url(url:gsub("/3$", "/4"), "lua:"))
      local k2 = assert(ctx:keys_from_json(ctx:generate_keys()))
      local t = assert(ctx:link_issue(k2, bill, 3600, NOW))
      r, err, code = ctx:auth_check(k2, a, t, "000000", "10.0.0.1", NOW)
      is(code, vbill.ERR_AUTH_WRONG, "redis: a wrong answer")
      is(a:stats(NOW).failed, 1, "redis: counted by the handle")
      is(b:stats(NOW).failures_total, 1, "redis: seen by another handle on the same database")
      is(odb:stats(NOW).failures_total, 0, "redis: not in another database")
      local nt = assert(ctx:link_reissue(k2, a, t, bill, 3600, NOW))
      r, err, code = ctx:link_verify_store(k2, b, t, NOW)
      is(code, vbill.ERR_LINK_EXPIRED, "redis: a revocation through one handle seen by another")
      ok(ctx:auth_check(k2, b, nt, "580314", "10.0.0.1", NOW), "redis: the new link passes")
      a:close(); b:close(); odb:close(); k2:close()
    end
    os.execute(("[ -f '%s/pid' ] && kill $(cat '%s/pid') 2>/dev/null; sleep 0.2; rm -rf '%s'")
               :format(rdir, rdir, rdir))
  else
    skip("redis URL against a real server", "redis-server is not installed")
  end
else
  r, err, code = ctx:open_redis_store("127.0.0.1", 1)
  ok(r == nil and code == vbill.ERR_UNSUPPORTED, "redis absent: ERR_UNSUPPORTED", err)
  r, err, code = ctx:open_redis_url("redis://127.0.0.1:1")
  ok(r == nil and code == vbill.ERR_UNSUPPORTED, "redis absent: open_redis_url ERR_UNSUPPORTED",
     err)
  skip("redis store tests", "libvbill was built without the redis part")
end

-- misuse raises, whatever the handle: never a crash
local key_text = ctx:generate_keys()
raises("vbill.Keys expected", "key file text where keys are expected",
       ctx.link_issue, ctx, key_text, bill, 3600)
raises("vbill.Bill expected", "a record where a bill is expected",
       ctx.link_issue, ctx, keys, SPEC, 3600)
raises("vbill.Store expected, got vbill.Keys", "keys where a store is expected",
       ctx.auth_check, ctx, keys, keys, tok, "580314")
raises("vbill.Keys expected, got vbill.Store", "store and keys swapped",
       ctx.auth_check, ctx, store, keys, tok, "580314")
raises("vbill.Store expected, got vbill.Keys", "keys where a store is expected (verify_store)",
       ctx.link_verify_store, ctx, keys, keys, tok)
raises("vbill.Store expected, got string", "a path where a store is expected (revoke)",
       ctx.link_revoke, ctx, keys, tmp, tok)
raises("vbill.Store expected", "no store for a re-issue", ctx.link_reissue, ctx, keys, nil, tok,
       bill, 3600)
raises("string expected", "a table as a pepper file", keys.load_peppers, keys, {})
raises("table or JSON string", "nil as key file text (split)", ctx.split_keys, ctx, nil)
raises("number expected", "a word as a slowdown", store.set_slowdown, store, "ten")
raises("vbill.Template expected", "a template folder where a template is expected",
       ctx.render_mp4, ctx, "/tmp", bill, "/tmp/x.mp4")
raises("vbill.Context expected", "a bill where a context is expected",
       ctx.fill, bill, SPEC)
raises("string expected", "nil where text is expected", ctx.link_verify, ctx, keys, nil)
raises("string expected", "a table where text is expected", ctx.link_verify, ctx, keys, {})
raises("NUL", "a NUL character in C text", ctx.link_verify, ctx, keys, "abc\0def")
raises("NUL", "a NUL character in a record table", ctx.fill, ctx, {id = "S-1\0../x"})
keys:close()
keys:close()
raises("closed", "closed keys", ctx.link_verify, ctx, keys, tok)
store:close()
raises("closed", "closed store", ctx.link_unlock, ctx, keys, store, tok)
raises("closed", "closed store (verify_store)", ctx.link_verify_store, ctx, keys, store, tok)
back:close()
raises("closed", "closed bill", ctx.message_build, ctx, back, "https://x")
raises("closed", "closed bill's accessor", back.id, back)
os.execute("rm -rf '" .. tmp .. "'")

-- events and chat
local hdir = os.tmpname()
os.remove(hdir)
local hooks, herr = ctx:open_hooks(hdir, {retry_base_ms = 1, retry_max_ms = 2,
                                        sinks = {{type = "callback", name = "mine"}}})
if ok(hooks, "open hooks", herr) then
  local got = {}
  raises("function expected", "set_callback(name, nil) raises", hooks.set_callback, hooks,
         "mine", nil)
  ok(hooks:set_callback("mine", function(t, e) got[#got + 1] = {t, e} end), "set callback")
  local eid = hooks:emit("chat.requested", {question = "why?", birth = "1958-03-14"}, "S-000123")
  ok(type(eid) == "string" and #eid == 36, "emit gives an id", eid)
  is(hooks:pending(), 1, "pending")
  is(hooks:pump(), 1, "pump delivers")
  is(#got, 1, "callback called once")
  if got[1] then
    is(got[1][1], "chat.requested", "callback type")
    is(got[1][2].id, eid, "callback event id")
    is(got[1][2].data.birth, nil, "birth removed from data")
  end
  is(hooks:status().delivered, 1, "status")
  is(#hooks:dead(), 0, "no dead letters")
  ok(clear(ctx) and ctx:errmsg() == "", "(context message cleared)")
  r, err, code = hooks:emit("survey.answered", {score = 9}, "S-1")
  ok(code == vbill.ERR_HOOK and err ~= "" and err == hooks:errmsg() and ctx:errmsg() == "",
     "bad survey score: the hooks handle's own message", err)
  raises("worker", "the worker thread with Lua callbacks raises", hooks.start, hooks)
  -- a still travels with an event (NUL bytes included)
  local jpeg = "\255\216\255\224" .. ("\0"):rep(40) .. "\255\217"
  local sid = hooks:emit_still("chat.requested", "S-000123", {question = "still?"}, jpeg)
  ok(type(sid) == "string" and #sid == 36, "emit_still gives an id", sid)
  ok(hooks:emit_still("chat.requested", "S-000123", nil, nil), "emit_still without a still")
  got = {}
  is(hooks:pump(), 2, "stills delivered")
  -- a failing callback is retried
  local calls = 0
  hooks:set_callback("mine", function() calls = calls + 1; return calls == 1 and -1 or 0 end)
  hooks:emit("bill.viewed", nil, "S-1")
  hooks:pump()
  local deadline = os.time() + 10
  while hooks:pending() > 0 and os.time() < deadline do
    hooks:pump()
  end
  is(calls, 2, "failed delivery retried")
  -- closing the handle from its own callback is refused; the delivery is retried
  local cerr
  hooks:set_callback("mine", function() local fine, e = pcall(hooks.close, hooks); cerr = e
                                        return 0 end)
  hooks:emit("bill.viewed", nil, "S-1")
  hooks:pump()
  ok(cerr and cerr:find("inside a call", 1, true), "closing hooks inside its pump raises", cerr)
  ctx:close() -- the handle is independent of the context
  ok(hooks:status(), "hooks still usable after ctx:close()")
  hooks:emit("bill.viewed", nil, "S-2")
  is(hooks:pump(), 1, "hooks deliver after ctx:close()")
  hooks:close()
  -- a handle keeps the log callback of the context it was opened with, after ctx:close() and
  -- a garbage collection too
  local logged = {}
  ctx = vbill.new()
  ctx:set_log(function(_, msg) logged[#logged + 1] = msg end, vbill.LOG_DEBUG)
  hooks = assert(ctx:open_hooks(hdir, {sinks = {{type = "callback", name = "mine"}}}))
  hooks:set_callback("mine", function() return 0 end)
  ctx:close()
  ctx = nil
  collectgarbage()
  collectgarbage()
  hooks:emit("bill.viewed", nil, "S-3")
  is(hooks:pump(), 1, "a handle whose context is gone delivers")
  local delivered_logged = false
  for _, line in ipairs(logged) do
    if line:find("delivered", 1, true) then delivered_logged = true end
  end
  ok(delivered_logged, "its log lines still reach the context's log function", #logged)
  hooks:close()
  hooks:close()
  raises("closed", "closed hooks", hooks.pump, hooks)
  ctx = vbill.new()
end
os.execute("rm -rf '" .. hdir .. "'")
local answer = ctx:chat_answer(bill, "다음 달 요금은 얼마예요?", nil, -1, NOW)
ok(answer and answer.answered and answer.answer:find("139,000", 1, true), "chat answered")
answer = ctx:chat_answer(bill, "I want to talk to a person", nil, 12.5, NOW)
ok(answer and answer.escalate and answer.event.type == "chat.requested", "chat escalates")
local ed = ctx:event_data(bill, "abc", {k = 1})
ok(ed and ed.subscriber_id == "S-000123" and ed.link == "abc" and ed.k == 1, "event data")

-- video: a 3-second template made with the ffmpeg CLI (short: the CPU is shared)
if not HAS_VIDEO then
  r, err, code = ctx:open_template("/nonexistent")
  is(code, vbill.ERR_UNSUPPORTED, "video absent: open_template says ERR_UNSUPPORTED")
  is(#vbill.builtin_templates(), 0, "video absent: no built-in templates")
  skip("video tests", "libvbill was built without the video part")
elseif not os.execute("command -v ffmpeg >/dev/null 2>&1") then
  skip("video tests", "no ffmpeg CLI to make a test video")
else
  local vdir = os.tmpname()
  os.remove(vdir)
  assert(os.execute(("mkdir -p '%s/tpl' && ffmpeg -nostdin -v error -y -f lavfi -i " ..
    "testsrc2=s=320x240:r=25:d=3 -f lavfi -i sine=f=440:d=3 -c:v libx264 -preset ultrafast " ..
    "-c:a aac -shortest '%s/tpl/base.mp4'"):format(vdir, vdir)))
  local tf = assert(io.open(vdir .. "/tpl/template.json", "w"))
  tf:write(vbill.to_json({scenario = "mobile_new_bundle", video = "base.mp4", slots = {
    {name = "period", text = "{{period_text}}", from = 1.0, to = 2.0,
     box = {10, 180, 300, 40}, size = 24, color = "#FFFFFF"},
    {name = "amount", text = "{{this_month_text}}", from = 2.0, to = 2.8,
     box = {20, 20, 200, 40}, size = 24, color = "#FFFF00"}}}))
  tf:close()
  local t, terr = ctx:open_template(vdir .. "/tpl")
  if ok(t, "open template", terr) then
    is(t:scenario(), "mobile_new_bundle", "template scenario")
    r, err, code = ctx:render_mp4(t, bill, vdir .. "/early.mp4", 1.0)
    if not t:is_prepared() then is(code, vbill.ERR_ARG, "unprepared template refused") end
    ok(t:prepare(), "prepare")
    ok(t:is_prepared(), "prepared")
    is(t:errmsg(), "", "template message empty after a success")
    local tinfo = t:info()
    is(#tinfo.slots, 2, "template info slots")
    ok(ctx:render_mp4(t, bill, vdir .. "/bill.mp4", 1.0), "render mp4")
    local mf = io.open(vdir .. "/bill.mp4", "rb")
    ok(mf and mf:read(8):sub(5, 8) == "ftyp", "an MP4 file")
    if mf then mf:close() end
    ok(ctx:render_hls(t, bill, vdir .. "/hls", 1.0), "render hls")
    ok(io.open(vdir .. "/hls/index.m3u8"), "playlist written")
    ok(ctx:render_playlist(t, bill, vdir .. "/pl", 1.0), "render playlist only")
    ok(io.open(vdir .. "/pl/index.m3u8"), "playlist-only written")
    local personal
    for i, seg in ipairs(tinfo.segments) do
      if seg[3] and not personal then personal = i - 1 end
    end
    ok(personal and ctx:render_segment(t, bill, personal, vdir .. "/seg.ts", 1.0),
       "render one personal segment")
    local jpeg = ctx:render_still(t, bill, 1.5, 1.0, 160)
    ok(jpeg and jpeg:sub(1, 2) == "\255\216", "render still")
    local still2 = ctx:still_jpeg(vdir .. "/bill.mp4", 1.5, 160)
    ok(still2 and still2:sub(1, 2) == "\255\216", "still of a file")
    local fromjson = assert(vbill.bill_from_json(ctx, bill:to_json()))
    is(ctx:render_still(t, fromjson, 1.5, 1.0, 160), jpeg, "a bill from bill.json renders the same")
    fromjson:close()
    t:close()
    t:close()
    raises("closed", "closed template", ctx.render_mp4, ctx, t, bill, vdir .. "/y.mp4")
    -- a prepare failure carries the template's message, not the context's
    os.execute(("cp -r '%s/tpl' '%s/ro' && rm -rf '%s/ro/.vbill-prepared' && " ..
                "echo x > '%s/ro/.vbill-prepared'"):format(vdir, vdir, vdir, vdir))
    local t2 = assert(ctx:open_template(vdir .. "/ro"))
    ok(clear(ctx) and ctx:errmsg() == "", "(context message cleared)")
    r, err, code = t2:prepare()
    ok(r == nil and code == vbill.ERR_IO and err:find(".vbill-prepared", 1, true) and
       err == t2:errmsg() and ctx:errmsg() == "", "prepare failure: the template's message", err)
    t2:close()
  end
  os.execute("rm -rf '" .. vdir .. "'")
  local list = vbill.builtin_templates()
  ok(type(list) == "table" and #list == 7, "built-in templates listed")
end

-- lifetime: __gc and __close twice, use after close
do
  local c <close> = vbill.new()
  ok(c:classify(SPEC), "to-be-closed context works")
  local b <close> = assert(c:bill(SPEC))
  ok(b:id(), "to-be-closed bill works")
end
local keep = assert(ctx:bill(SPEC))
ctx:close()
ctx:close()
raises("closed", "use after close raises", ctx.classify, ctx, SPEC)
is(keep:id(), "S-000123", "a bill outlives the context that made it")
ok(keep:to_json(), "bill:to_json after its context closed")
keep:close()
bill:close()
bill:close()
for _ = 1, 200 do
  local c = vbill.new()
  c:bill(SPEC)
end
collectgarbage()
collectgarbage()
ok(true, "garbage collection of contexts and bills")

print("1.." .. n)
os.exit(failed == 0 and 0 or 1)
