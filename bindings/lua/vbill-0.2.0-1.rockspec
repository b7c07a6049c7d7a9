-- LuaRocks spec of the vbill Lua module (libvbill API 0.2).  It builds bindings/lua/vbill.c of
-- the libvbill release tarball against an installed libvbill.so.1 (and cJSON, which libvbill
-- already needs):
--   luarocks install vbill-0.2.0-1.rockspec LIBVBILL_DIR=/usr/local
-- or, from an unpacked release tree:
--   luarocks make bindings/lua/vbill-0.2.0-1.rockspec LIBVBILL_DIR=/usr/local
-- (`make install` of libvbill also installs the module into $(libdir)/lua/5.4.)
-- The source is the release tarball that `make dist` makes (libvbill-0.2.0.tar.gz), published
-- as the asset of the GitHub release v0.2.0; its top folder is libvbill-0.2.0.
rockspec_format = "3.0"
package = "vbill"
version = "0.2.0-1"
source = {
   url = "https://github.com/libvbill/libvbill/releases/download/v0.2.0/libvbill-0.2.0.tar.gz",
   dir = "libvbill-0.2.0",
}
description = {
   summary = "Lua binding of libvbill: personalised video bills for telecom carriers",
   detailed = [[
A thin C module over libvbill's C API: classify and fill subscriber records, make a bill
once from a record and render its video, issue and verify signed links, run the birth-date
check, build the SMS text, queue help-desk events and answer chat questions.  Records go in
as Lua tables or JSON strings; results come back as tables.  Failures of the library return
nil, message, code; misuse of the API (a wrong argument type, a closed handle) raises.
]],
   homepage = "https://github.com/libvbill/libvbill",
   license = "MIT",
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
         incdirs = { "$(LIBVBILL_INCDIR)", "$(CJSON_INCDIR)" },
         libdirs = { "$(LIBVBILL_LIBDIR)", "$(CJSON_LIBDIR)" },
      },
   },
}
test = {
   type = "command",
   command = "VBILL_SRCDIR=. lua5.4 bindings/lua/tests/test_vbill.lua",
}
