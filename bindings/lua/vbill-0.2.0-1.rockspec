-- LuaRocks spec of the vbill Lua module.  It builds bindings/lua/vbill.c against an installed
-- libvbill (and cJSON, which libvbill already needs):
--   luarocks make bindings/lua/vbill-0.1.0-1.rockspec LIBVBILL_DIR=/usr/local
-- (`make install` of libvbill also installs the module into $(libdir)/lua/5.4.)
rockspec_format = "3.0"
package = "vbill"
version = "0.1.0-1"
source = {
   url = "git+file:///work/main",
   tag = "v0.1.0",
}
description = {
   summary = "Lua binding of libvbill: personalised video bills for telecom carriers",
   detailed = [[
A thin C module over libvbill's C API: classify and fill subscriber records, render
Mustache slot texts, issue and verify signed links, run the birth-date check, queue
help-desk events and answer chat questions.  Records go in as Lua tables or JSON strings;
results come back as tables; errors follow the Lua convention nil, message, code.
]],
   license = "see the libvbill distribution",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
external_dependencies = {
   LIBVBILL = { header = "vbill.h", library = "vbill" },
   CJSON = { header = "cjson/cJSON.h", library = "cjson" },
}
build = {
   type = "builtin",
   modules = {
      vbill = {
         sources = { "bindings/lua/vbill.c" },
         libraries = { "vbill", "cjson" },
         incdirs = { "$(LIBVBILL_INCDIR)", "$(CJSON_INCDIR)/cjson" },
         libdirs = { "$(LIBVBILL_LIBDIR)", "$(CJSON_LIBDIR)" },
      },
   },
}
test = {
   type = "command",
   command = "lua5.4 bindings/lua/tests/test_vbill.lua",
}
