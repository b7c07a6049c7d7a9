-- link_check.lua: make a subscriber's bill, issue its signed link, verify it, build the SMS,
-- then run the customer's birth-date check (a wrong try, then the right one), verify the
-- session, and re-issue the link as the help desk would (the old one is then revoked).
-- Failures return nil, message, code (assert() turns them into errors here).
--
--   lua5.4 link_check.lua record.json 580314 /var/lib/vbill
--
-- In production the key file is made once (`vbill keygen --out keys.json`: created 0600; a
-- key file that group or others may read, or a symlink, is refused) and shared by every
-- viewer server: ctx:load_keys("keys.json"), with keys:load_peppers("peppers.json") when the
-- peppers are kept apart (`vbill keygen --out keys.json --pepper-out peppers.json`).  Here a
-- fresh key set is generated.
local vbill = require("vbill")

local record_path, digits, state_dir = arg[1], arg[2], arg[3]
if not state_dir then
  io.stderr:write("usage: lua5.4 link_check.lua RECORD.json DIGITS STATE_DIR\n")
  os.exit(2)
end
local f = assert(io.open(record_path, "rb"))
local record = f:read("a")
f:close()

local ctx <close> = assert(vbill.new())
local keys <close> = assert(ctx:keys_from_json(assert(ctx:generate_keys())))
local store <close> = assert(ctx:open_store(state_dir)) -- attempt counters, shared
-- The bill: the record validated, classified and filled once; every step below takes it.  It
-- holds the birth date in memory only, to issue the link (bill:to_json() never carries it).
local bill <close> = assert(ctx:bill(record))

local token = assert(ctx:link_issue(keys, bill, 7 * 86400))
print(("link issued (%d characters)"):format(#token))
-- What a viewer server does first with a token from a URL (with its store, so that a revoked
-- link is refused): no personal data comes back.
local info = assert(ctx:link_verify_store(keys, store, token))
print(("verified: subscriber %s, scenario %s, expires %s"):format(info.subscriber,
                                                                  info.scenario, info.expires))
print("sms: " .. assert(ctx:message_build(bill, "https://bill.example.com/v/" .. token)))

-- The customer types six digits; a wrong try is refused and counted.  The client is the
-- address the server saw (or its own proxy verified): required.
local session, message, code = ctx:auth_check(keys, store, token, "000000", "203.0.113.7")
print(("wrong digits refused: %s (%s)"):format(code == vbill.ERR_AUTH_WRONG and "yes" or "NO",
                                               message))
session, message = ctx:auth_check(keys, store, token, digits, "203.0.113.7")
if not session then
  io.stderr:write("check: ", message, "\n")
  os.exit(1)
end
print("check passed: session issued")
assert(ctx:session_verify(keys, session, token, "203.0.113.7", store))
print("session verified")

-- The help desk re-issues the link (a new phone, say): the old link and its sessions are
-- revoked in the store; the new one shares the subscriber's bound (no new guesses).
local new_token = assert(ctx:link_reissue(keys, store, token, bill, 7 * 86400))
local _, why
_, message, code = ctx:link_verify_store(keys, store, token)
print(("old link revoked: %s (%s)"):format(code == vbill.ERR_LINK_EXPIRED and "yes" or "NO",
                                           message))
_, why, code = ctx:session_verify(keys, session, token, "203.0.113.7", store)
print(("old session revoked: %s"):format(code == vbill.ERR_SESSION and "yes" or "NO (" ..
                                         tostring(why) .. ")"))
assert(ctx:link_verify_store(keys, store, new_token))
print("new link verified")
