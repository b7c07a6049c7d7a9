-- scenario_counts.lua: classify and fill a JSON Lines file of subscribers and print a summary
-- table per scenario, then the rejected records with the reason (the same report as
-- examples/scenario_counts.c).  A carrier's first program:
--
--   lua5.4 scenario_counts.lua subscribers.jsonl
--
-- Needs the vbill module (vbill.so on LUA_CPATH, e.g. /usr/local/lib/lua/5.4) and libvbill.
-- ctx:fill gives the numbers of a report; a program that goes on to render, link or answer
-- questions makes each record's bill once instead (ctx:bill(line, lineno)) and passes it on.
local vbill = require("vbill")

local path = arg[1]
if not path or arg[2] then
  io.stderr:write("usage: lua5.4 scenario_counts.lua SUBSCRIBERS.jsonl\n")
  os.exit(2)
end

local ctx = assert(vbill.new())
local order, rows, rejected = {}, {}, {}
local lineno = 0
for line in io.lines(path) do
  lineno = lineno + 1
  if line ~= "" then
    -- A failure of the library returns nil, message, code (misuse of the API raises).  The
    -- message names the record (or its line), the field and the problem.
    local result, message = ctx:fill(line, lineno)
    if not result then
      rejected[#rejected + 1] = message
    else
      local scenario = result.scenario or "(none)" -- a JSON null scenario reads as nil
      local row = rows[scenario]
      if not row then
        row = {count = 0, seniors = 0, this_month = 0, next_month = 0}
        rows[scenario] = row
        order[#order + 1] = scenario
      end
      row.count = row.count + 1
      if result.senior then row.seniors = row.seniors + 1 end
      row.this_month = row.this_month + result.amounts.this_month -- integers, never floats
      row.next_month = row.next_month + result.amounts.next_month
    end
  end
end
ctx:close()

print(("%-28s %8s %8s %16s %16s"):format("scenario", "records", "seniors", "this month (sum)",
                                         "next month (sum)"))
local total = 0
for _, scenario in ipairs(order) do
  local r = rows[scenario]
  print(("%-28s %8d %8d %16d %16d"):format(scenario, r.count, r.seniors, r.this_month,
                                           r.next_month))
  total = total + r.count
end
print(("%-28s %8d"):format("valid records", total))
print(("%-28s %8d"):format("rejected records", #rejected))
for _, message in ipairs(rejected) do print("  " .. message) end
os.exit(#rejected > 0 and 3 or 0)
