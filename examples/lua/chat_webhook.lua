-- chat_webhook.lua: answer a customer's question about their bill from the bill's own values,
-- or, when the library says to escalate, queue a chat.requested event for the help desk's
-- webhook and deliver it.
--
--   VBILL_WEBHOOK_SECRET=whsec_... lua5.4 chat_webhook.lua record.json "question" URL STATE_DIR
--
-- The event is written durably to STATE_DIR/outbox.sqlite before delivery: if the help desk
-- is down it is retried, even across restarts.
local vbill = require("vbill")

local record_path, question, url, state_dir = arg[1], arg[2], arg[3], arg[4]
if not state_dir then
  io.stderr:write("usage: lua5.4 chat_webhook.lua RECORD.json QUESTION WEBHOOK_URL STATE_DIR\n")
  os.exit(2)
end
local f = assert(io.open(record_path, "rb"))
local record = f:read("a")
f:close()

local ctx <close> = assert(vbill.new())
local bill <close> = assert(ctx:bill(record)) -- the record validated, classified and filled once
local answer = assert(ctx:chat_answer(bill, question))
if answer.answered then
  print(("answered (%s): %s"):format(answer.faq, answer.answer))
  os.exit(0, true)
end
print(("escalated (%s, priority %s): %s"):format(answer.reason, answer.priority, answer.reply))

local hooks <close> = assert(ctx:open_hooks(state_dir, {
  source = "urn:vbill:example",
  sinks = {{type = "webhook", name = "helpdesk", url = url,
            secret = assert(os.getenv("VBILL_WEBHOOK_SECRET")), events = {"chat.*"}}},
}))
local event_id = assert(hooks:emit(answer.event.type, answer.event.data))
-- A server would call hooks:start() once; a script pumps until delivered.
local deadline = os.time() + 10
while hooks:pending() > 0 and os.time() <= deadline do
  if hooks:pump(1000) == 0 then os.execute("sleep 0.1") end -- plain Lua has no sleep
end
if hooks:pending() > 0 then
  print(("event %s queued; the help desk did not answer yet"):format(event_id))
  os.exit(1, true)
end
print(("event %s delivered to the help desk"):format(event_id))
