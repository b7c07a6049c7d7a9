-- render_bill.lua: render one subscriber's video bill (MP4) from a video template.
--
--   lua5.4 render_bill.lua TEMPLATE_DIR record.json bill.mp4
--
-- Preparing is slow once and cached in TEMPLATE_DIR/.vbill-prepared/.
local vbill = require("vbill")

local template_dir, record_path, out_path = arg[1], arg[2], arg[3]
if not out_path then
  io.stderr:write("usage: lua5.4 render_bill.lua TEMPLATE_DIR RECORD.json OUT.mp4\n")
  os.exit(2)
end
local f = assert(io.open(record_path, "rb"))
local record = f:read("a")
f:close()

local ctx <close> = assert(vbill.new())
local bill <close> = assert(ctx:bill(record)) -- the record validated, classified and filled once
local template <close> = assert(ctx:open_template(template_dir))
assert(template:prepare()) -- a no-op when already cached; errors carry the template's message
-- speed 0: the bill's own, the slow variant for seniors.  The file appears atomically.  A bill
-- read back with vbill.bill_from_json(ctx, text) renders the same way.
local done, message, code = ctx:render_mp4(template, bill, out_path, 0)
if code == vbill.ERR_NOT_TARGET then
  print("no video bill this cycle: " .. message)
elseif not done then
  io.stderr:write("render: ", message, "\n")
  os.exit(1, true)
else
  print(("rendered %s (scenario %s)"):format(out_path, template:scenario()))
end
