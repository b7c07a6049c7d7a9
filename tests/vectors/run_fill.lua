-- Prints ctx:fill_json() of every record of a JSON Lines file, one per line, as `vbill fill`
-- does.  With --table the records are parsed first and passed as Lua tables.
local vbill = require("vbill")
local as_table = arg[1] == "--table"
local path = as_table and arg[2] or arg[1]
local ctx = assert(vbill.new())
local status, n = 0, 0
for line in io.lines(path) do
  n = n + 1
  if line:find("%S") then
    local record = line
    if as_table then record = assert(vbill.from_json(line)) end
    local out, err = ctx:fill_json(record, n)
    if out then
      io.write(out, "\n")
    else
      io.stderr:write("vbill: ", err, "\n")
      status = 3
    end
  end
end
ctx:close()
os.exit(status)
