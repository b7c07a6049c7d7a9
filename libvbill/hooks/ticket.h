/* hooks/ticket.h: what the ticketing help desks (sink_zendesk.c, sink_rt.c) share
 * (ticket.c): the Mustache mappings from an event to a ticket, priority and tags, and one
 * delivery flow that looks the ticket up before making it again.  Internal. */
#ifndef VB_HOOKS_TICKET_H
#define VB_HOOKS_TICKET_H

#include "hooks/sink.h"

/* The events a help desk takes unless configured otherwise. */
#define VB_TICKET_NEVENTS 3
extern const char *const vb_ticket_events[VB_TICKET_NEVENTS];

/* A desk's mappings as configured: "subject", "comment", "priority" (Mustache; NULL: the
 * built-in ones), "tags" (array of Mustache strings) and "custom_fields". */
typedef struct vb_ticket_cfg {
    char *subject, *comment, *priority;
    cJSON *tags;
    cJSON *custom_fields;
} vb_ticket_cfg;

/* Reads the mappings of sink sname from o.  custom_fields is [{"id": number, "value":
 * string}] when cf_array, else {"name": string}. */
vbill_status vb_ticket_configure(vb_ticket_cfg *cfg, vbill_ctx *ctx, const cJSON *o,
                                 const char *sname, bool cf_array);
void vb_ticket_cfg_clear(vb_ticket_cfg *cfg);

/* One event's ticket, rendered from the mappings over the envelope. */
typedef struct vb_ticket {
    char *subject;    /* one line */
    char *comment;
    char *priority;   /* urgent, high, normal or low (unless a mapping says otherwise) */
    cJSON *tags;      /* array of strings */
    cJSON *cf;        /* rendered custom fields in the configured shape, or NULL */
} vb_ticket;

/* What a help desk adds to the shared flow. */
typedef struct vb_ticket_desk {
    bool cf_array;                /* shape of custom_fields (as vb_ticket_configure) */
    const char *found_array;      /* the look-up answer: array of tickets found, */
    const char *found_count;      /* or their count */
    /* Authorization header line(s); *ok false when they cannot be made. */
    struct curl_slist *(*auth)(vb_sink *s, bool *ok);
    /* The URL that finds the ticket made for event_id; NULL when out of memory. */
    char *(*lookup_url)(vb_sink *s, const char *event_id);
    /* The creation request: *url and *req (may first send the event's still with the
     * auth headers).  false with c->error set. */
    bool (*request)(vb_sink *s, vb_claim *c, vb_ticket *t, struct curl_slist *auth, char **url,
                    cJSON **req);
} vb_ticket_desk;

/* One attempt to make the event's ticket: a retry first looks it up (so a lost answer
 * never makes a second ticket), then renders the mappings and posts the desk's request
 * with an Idempotency-Key. */
void vb_ticket_deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c, const vb_ticket_cfg *cfg,
                       const vb_ticket_desk *desk);

/* URL-escapes str with the sink's HTTP handle (malloc'd; NULL when out of memory). */
char *vb_ticket_escape(vb_sink *s, const char *str);

#endif
