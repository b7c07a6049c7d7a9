/* sinks.c: the table of sink types, the one place that lists them (as libavformat's
 * allformats.c lists its muxers).  Each type is a const vb_sink_type in a file of its own.
 *
 * Adding a help desk: write libvbill/hooks/sink_NAME.c defining
 * `const vb_sink_type vb_sink_NAME` (its name, default events and timeout, and configure /
 * deliver / clear: see hooks/sink.h; ticketing desks reuse hooks/ticket.h), declare it and
 * add it to the table below, and list the file in mk/hooks.am and in the hooks chain of
 * tests/layers.py.  Nothing else names a sink type: tests/test_hooks_sinks.c builds this
 * file with a test-only type added through VB_SINKS_EXTRA and checks that the rest of the
 * library configures it, delivers to it and clears it unchanged. */
#include "config.h"
#include "hooks/sinks.h"

#include <string.h>

extern const vb_sink_type vb_sink_webhook;
extern const vb_sink_type vb_sink_zendesk;
extern const vb_sink_type vb_sink_rt;
extern const vb_sink_type vb_sink_callback;

static const vb_sink_type *const sink_types[] = {
    &vb_sink_webhook,
    &vb_sink_zendesk,
    &vb_sink_rt,
#ifdef VB_SINKS_EXTRA
    VB_SINKS_EXTRA
#endif
    &vb_sink_callback,
    NULL,
};

const vb_sink_type *vb_sink_type_find(const char *name)
{
    for (const vb_sink_type *const *t = sink_types; *t; t++)
        if (strcmp((*t)->name, name) == 0)
            return *t;
    return NULL;
}

void vb_sink_type_names(char *buf, size_t size)
{
    size_t n = VB_ARRAY_LEN(sink_types) - 1, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                         sink_types[i]->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}
