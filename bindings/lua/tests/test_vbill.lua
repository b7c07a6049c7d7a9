-- Tests of the vbill Lua module against a real libvbill, in TAP.  `make check` runs it via
-- tests/bindings_lua.sh with LUA_CPATH pointing at the build's module.
local vbill = require("vbill")

local srcdir = os.getenv("VBILL_SRCDIR") or "."
local planned, n, failed = 0, 0, 0

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

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local SPEC_TEXT = read(srcdir .. "/tests/vectors/spec_example.json")
local SPEC = assert(vbill.from_json(SPEC_TEXT))

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = setmetatable({}, getmetatable(t))
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

-- module
ok(vbill.version():match("^%d+%.%d+%.%d+"), "version")
ok(vbill.strerror(vbill.ERR_RECORD):match("^VBILL_ERR_RECORD"), "strerror")
is(vbill.status.ERR_AUTH_LOCKED, 17, "status table")
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
local r0, e0, c0 = vbill.to_json(cyc)
ok(r0 == nil and e0:match("nested") and c0 == vbill.ERR_ARG, "cycle refused", e0)
ok(vbill.to_json({f = print}) == nil, "function refused")
ok(vbill.from_json("{") == nil, "bad JSON refused")

-- classify
local ctx = vbill.new()
ok(tostring(ctx):match("^vbill.Context"), "tostring")
local r, err, code = ctx:classify(SPEC)
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

local noid = copy(SPEC)
noid.id = nil
r, err = ctx:classify(noid, 21)
ok(r == nil and err:find("line 21", 1, true), "no id names the line", err)
r, err, code = ctx:classify('{"id": "x",', 3)
ok(r == nil and err:find("JSON", 1, true) and type(code) == "number", "malformed JSON", err)
r, err, code = ctx:classify(42)
ok(r == nil and code == vbill.ERR_ARG, "wrong argument type", err)

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
is(code, vbill.ERR_ARG, "bad speed refused")

local lines = {}
ctx:set_log(function(level, msg) lines[#lines + 1] = msg end, vbill.LOG_DEBUG)
ctx:classify(bad)
local logged, leaked = false, false
for _, m in ipairs(lines) do
  if m:find("birth", 1, true) then logged = true end
  if m:find("1958", 1, true) then leaked = true end
end
ok(logged and not leaked, "log callback gets messages, never the birth date")
ctx:set_log(function() error("boom") end, vbill.LOG_DEBUG)
ok(ctx:classify(bad) == nil, "an erroring log function does not break the call")
ctx:set_log(nil)

local slots = ctx:default_slots("mobile_new_bundle", "ko-KR")
ok(type(slots) == "table" and next(slots) ~= nil, "default slots")
ctx:close()

-- fill (needs the Mustache engine)
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
  local fc = ctx:fill_context(SPEC)
  is(fc.name_masked, "김*수", "name masked")
  ok(not ctx:fill_context_json(SPEC):find("1958-03-14", 1, true), "no birth date in context")
end
local m, merr = vbill.mustache("Hi {{name}}{{#x}}!{{/x}}", {name = "<A>", x = true})
is(m, "Hi &lt;A&gt;!", "mustache", merr)
is(ctx:mustache("{{>p}}", {v = 1}, {p = "v={{v}}"}), "v=1", "mustache partials")
r, err, code = ctx:mustache("{{#open}}", {})
is(code, vbill.ERR_TEMPLATE, "mustache error")

-- signed links and the knowledge check
local NOW = 1796000000
local tmp = os.tmpname()
os.remove(tmp)
local keys = assert(ctx:keys_from_json(ctx:generate_keys()))
local store, serr = ctx:open_store(tmp)
ok(store, "open store", serr)
local tok = ctx:link_issue(keys, SPEC, 3600, NOW)
ok(type(tok) == "string" and #tok > 40, "link issued")
local info = ctx:link_verify(keys, tok, NOW + 1)
is(info and info.subscriber, "S-000123", "link verified")
r, err, code = ctx:link_verify(keys, tok, NOW + 7200)
is(code, vbill.ERR_LINK_EXPIRED, "expired link")
r, err, code = ctx:link_verify(keys, "garbage", NOW)
is(code, vbill.ERR_LINK_MALFORMED, "malformed link")
r, err, code = ctx:auth_check(keys, store, tok, "000000", "10.0.0.1", NOW)
ok(r == nil and code == vbill.ERR_AUTH_WRONG and not err:find("580314"), "wrong digits", err)
local session, aerr = ctx:auth_check(keys, store, tok, "580314", "10.0.0.1", NOW)
ok(session, "right digits give a session", aerr)
ok(ctx:session_verify(keys, session, tok, "10.0.0.1", nil, NOW), "session verified")
r, err, code = ctx:session_verify(keys, session, tok, "10.9.9.9", nil, NOW)
is(code, vbill.ERR_SESSION, "session for another client")
ok(store:set_limits(2, 60, 3), "set limits")
r, err, code = store:set_limits(5, 60, 2)
is(code, vbill.ERR_ARG, "bad limits")
local sms, smerr = ctx:message_build(SPEC, "https://b.example/v/x")
ok(sms and sms:find("https://b.example/v/x", 1, true), "sms text", smerr)
is(vbill.text_euckr_bytes("가a"), 3, "euc-kr bytes")
keys:close()
keys:close()
ok(not pcall(ctx.link_verify, ctx, keys, tok), "closed keys refused")
store:close()
os.execute("rm -rf '" .. tmp .. "'")

-- events and chat
local hdir = os.tmpname()
os.remove(hdir)
local hooks, herr = ctx:open_hooks(hdir, {retry_base_ms = 1, retry_max_ms = 2,
                                        sinks = {{type = "callback", name = "mine"}}})
if ok(hooks, "open hooks", herr) then
  local got = {}
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
  r, err, code = hooks:emit("survey.answered", {score = 9}, "S-1")
  is(code, vbill.ERR_HOOK, "bad survey score refused")
  r, err, code = hooks:start()
  is(code, vbill.ERR_ARG, "worker refused with Lua callbacks")
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
  ctx:close() -- deferred until the hooks handle closes
  ok(hooks:status(), "hooks still usable after ctx:close()")
  hooks:close()
  hooks:close()
  ctx = vbill.new()
end
os.execute("rm -rf '" .. hdir .. "'")
local answer = ctx:chat_answer(SPEC, "다음 달 요금은 얼마예요?", nil, -1, NOW)
ok(answer and answer.answered and answer.answer:find("139,000", 1, true), "chat answered")
answer = ctx:chat_answer(SPEC, "I want to talk to a person", nil, 12.5, NOW)
ok(answer and answer.escalate and answer.event.type == "chat.requested", "chat escalates")
local ed = ctx:event_data(SPEC, "abc", {k = 1})
ok(ed and ed.subscriber_id == "S-000123" and ed.link == "abc" and ed.k == 1, "event data")

-- video: a 3-second template made with the ffmpeg CLI (short: the CPU is shared)
if os.execute("command -v ffmpeg >/dev/null 2>&1") then
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
    r, err, code = ctx:render_mp4(t, SPEC, vdir .. "/early.mp4", 1.0)
    if not t:is_prepared() then is(code, vbill.ERR_ARG, "unprepared template refused") end
    ok(t:prepare(), "prepare")
    ok(t:is_prepared(), "prepared")
    local tinfo = t:info()
    is(#tinfo.slots, 2, "template info slots")
    ok(ctx:render_mp4(t, SPEC, vdir .. "/bill.mp4", 1.0), "render mp4")
    local mf = io.open(vdir .. "/bill.mp4", "rb")
    ok(mf and mf:read(8):sub(5, 8) == "ftyp", "an MP4 file")
    if mf then mf:close() end
    ok(ctx:render_hls(t, SPEC, vdir .. "/hls", 1.0), "render hls")
    ok(io.open(vdir .. "/hls/index.m3u8"), "playlist written")
    local personal
    for i, seg in ipairs(tinfo.segments) do
      if seg[3] and not personal then personal = i - 1 end
    end
    ok(personal and ctx:render_segment(t, SPEC, personal, vdir .. "/seg.ts", 1.0),
       "render one personal segment")
    local wrong = copy(SPEC)
    wrong.birth = "bad"
    r, err, code = ctx:render_mp4(t, wrong, vdir .. "/x.mp4")
    is(code, vbill.ERR_RECORD, "bad record refused by render")
    t:close()
    t:close()
  end
  os.execute("rm -rf '" .. vdir .. "'")
  local list = vbill.builtin_templates()
  ok(type(list) == "table" and #list == 7, "built-in templates listed")
end

-- lifetime: __gc and __close twice, use after close
do
  local c <close> = vbill.new()
  ok(c:classify(SPEC), "to-be-closed context works")
end
ctx:close()
ctx:close()
ok(not pcall(ctx.classify, ctx, SPEC), "use after close raises")
for _ = 1, 200 do vbill.new() end
collectgarbage()
collectgarbage()
ok(true, "garbage collection of contexts")

print("1.." .. n)
os.exit(failed == 0 and 0 or 1)
