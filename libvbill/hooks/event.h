/* hooks/event.h: events as CloudEvents 1.0 envelopes (event.c): type and data checks, the
 * birth-date filter, the envelope.  Internal. */
#ifndef VB_HOOKS_EVENT_H
#define VB_HOOKS_EVENT_H

#include "internal.h"

typedef struct vb_event {
    char id[37];          /* UUIDv4 */
    char subject[65];     /* the subscriber id */
    int64_t created_ms;
    char *body;           /* the envelope, JSON (malloc'd) */
} vb_event;

/* Checks type and data (a JSON object; NULL for {}), removes every member named like
 * "birth", takes the subject from data when subject is NULL, and makes the envelope.
 * VBILL_ERR_HOOK / VBILL_ERR_JSON with a message naming the type and the problem. */
vbill_status vb_event_build(vbill_ctx *ctx, const char *source, const char *type,
                            const char *subject, const char *data_json, vb_event *ev);
void vb_event_clear(vb_event *ev);

#endif
