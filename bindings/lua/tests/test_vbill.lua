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
local newtok = ctx:link_reissue(keys, tok, bill, 3600, NOW + 5)
ok(type(newtok) == "string" and newtok ~= tok, "link reissued")
r, err, code = ctx:auth_check(keys, store, tok, "000000", "10.0.0.1", NOW)
ok(r == nil and code == vbill.ERR_AUTH_WRONG and not err:find("580314"), "wrong digits", err)
local session, aerr = ctx:auth_check(keys, store, newtok, "580314", "10.0.0.1", NOW)
ok(session, "right digits give a session", aerr)
ok(ctx:session_verify(keys, session, newtok, "10.0.0.1", nil, NOW), "session verified")
ok(ctx:session_verify(keys, session, newtok, "10.0.0.1", store, NOW), "session verified (store)")
r, err, code = ctx:session_verify(keys, session, newtok, "10.9.9.9", nil, NOW)
is(code, vbill.ERR_SESSION, "session for another client")
ok(store:set_limits(2, 60, 3), "set limits")
ok(clear(ctx) and ctx:errmsg() == "", "(context message cleared)")
r, err, code = store:set_limits(5, 60, 2)
ok(code == vbill.ERR_ARG and err ~= "" and err == store:errmsg() and ctx:errmsg() == "",
   "bad limits: the store's own message", err)
r, err, code = keys:set_session_ttl(0)
ok(code == vbill.ERR_ARG and err ~= "" and err == keys:errmsg() and ctx:errmsg() == "",
   "bad session ttl: the keys' own message", err)
ok(ctx:link_unlock(keys, store, tok), "unlock")
local sms, smerr = ctx:message_build(bill, "https://b.example/v/x")
ok(sms and sms:find("https://b.example/v/x", 1, true), "sms text", smerr)
is(vbill.text_euckr_bytes("가a"), 3, "euc-kr bytes")
if HAS_REDIS then
  r, err, code = ctx:open_redis_store("127.0.0.1", 1)
  ok(r == nil and code == vbill.ERR_STORE, "redis: unreachable server is ERR_STORE", err)
else
  r, err, code = ctx:open_redis_store("127.0.0.1", 1)
  ok(r == nil and code == vbill.ERR_UNSUPPORTED, "redis absent: ERR_UNSUPPORTED", err)
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
