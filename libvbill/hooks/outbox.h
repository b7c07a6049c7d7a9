/* hooks/outbox.h: the durable SQLite outbox (outbox.c).  Internal. */
#ifndef VB_HOOKS_OUTBOX_H
#define VB_HOOKS_OUTBOX_H

#include "internal.h"

/* ---- outbox.c: the durable SQLite outbox ------------------------------------------ */

typedef struct vb_outbox vb_outbox;

/* Opens STATE_DIR/outbox.sqlite (WAL, synchronous=FULL or NORMAL, secure_delete; its files
 * 0600), creating the directory (0700) and the tables when needed.  NULL with *status and
 * the message in ctx on failure. */
vb_outbox *vb_outbox_open(vbill_ctx *ctx, const char *state_dir, bool sync_full,
                          vbill_status *status);
void vb_outbox_close(vb_outbox *ob);

/* Writes an event and one delivery row per sink in one durable transaction. */
vbill_status vb_outbox_insert(vb_outbox *ob, vbill_ctx *ctx, const char *id, const char *type,
                              const char *subject, const char *body, const void *att,
                              size_t att_len, int64_t created_ms, int64_t deadline_ms,
                              const char *const *sinks, size_t nsinks);

/* One claimed delivery and, after the attempt, its outcome. */
typedef struct vb_claim {
    char *event_id, *sink, *type, *body;
    unsigned char *att;
    size_t att_len;
    int attempts;           /* including this one */
    int64_t created_ms, deadline_ms;
    /* set by the delivery */
    bool ok;
    int64_t retry_at_ms;    /* when !ok: the earliest next attempt (0: backoff decides) */
    char error[256];        /* when !ok: why (never holds a secret) */
} vb_claim;

/* Claims up to max due deliveries (pending and due, or in flight with an expired lease),
 * marking them in flight until now + lease_ms.  Returns how many (*out is malloc'd). */
size_t vb_outbox_claim(vb_outbox *ob, vbill_ctx *ctx, int64_t now, int64_t lease_ms, size_t max,
                       vb_claim **out, vbill_status *status);
/* Records the outcomes in one transaction: delivered; or rescheduled at next_ms[i]; or,
 * when the attempt failed at or after the deadline, moved to the dead letters. */
vbill_status vb_outbox_settle(vb_outbox *ob, vbill_ctx *ctx, vb_claim *c, const int64_t *next_ms,
                              size_t n, int64_t now);
void vb_claims_free(vb_claim *c, size_t n);
/* Extends the lease of claimed deliveries to until_ms (best effort). */
void vb_outbox_renew(vb_outbox *ob, vbill_ctx *ctx, const vb_claim *c, size_t n, int64_t until_ms);

vbill_status vb_outbox_pending(vb_outbox *ob, vbill_ctx *ctx, size_t *pending, int64_t *next_due);
vbill_status vb_outbox_status(vb_outbox *ob, vbill_ctx *ctx, char **out_json);
vbill_status vb_outbox_dead(vb_outbox *ob, vbill_ctx *ctx, char **out_json);
vbill_status vb_outbox_replay(vb_outbox *ob, vbill_ctx *ctx, const char *id, int64_t now,
                              int64_t deadline_ms, size_t *count);
/* Deletes the events with nothing left to do (every delivery done or dead) whose last
 * activity is older than before_ms, with their deliveries, dead letters and stills;
 * *count receives how many events. */
vbill_status vb_outbox_purge(vb_outbox *ob, vbill_ctx *ctx, int64_t before_ms, size_t *count);

#endif
