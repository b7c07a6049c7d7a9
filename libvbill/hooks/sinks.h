/* hooks/sinks.h: the table of sink types (sinks.c).  Internal. */
#ifndef VB_HOOKS_SINKS_H
#define VB_HOOKS_SINKS_H

#include "hooks/sink.h"

/* The sink type named name (the configuration's "type"), or NULL. */
const vb_sink_type *vb_sink_type_find(const char *name);
/* The names of every type for messages: "webhook, zendesk, rt or callback". */
void vb_sink_type_names(char *buf, size_t size);

#endif
