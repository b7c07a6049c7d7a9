/* hooks/sink_callback.h: the host's own sinks (sink_callback.c), bound to a function at run
 * time by vbill_hooks_set_callback.  Internal. */
#ifndef VB_HOOKS_SINK_CALLBACK_H
#define VB_HOOKS_SINK_CALLBACK_H

#include "hooks/sink.h"

extern const vb_sink_type vb_sink_callback;

/* Binds (or rebinds) the function of callback sink s; safe while s is being delivered to. */
void vb_sink_callback_bind(vb_sink *s, vbill_hook_fn fn, void *user);

#endif
