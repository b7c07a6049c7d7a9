/* hooks_sinks_echo.c: the library's table of sink types (libvbill/hooks/sinks.c, compiled
 * as it is) with one more entry, the test-only echo sink: all that adding a help desk
 * takes besides its own file.  tests/test_hooks_sinks links this before the static
 * library, so the library's own hooks.c, event.c, sink.c and outbox.c use this table. */
#include "config.h"
#include "hooks/sink.h"

extern const vb_sink_type vb_sink_echo;
#define VB_SINKS_EXTRA &vb_sink_echo,
#include "hooks/sinks.c"
