/*
 * vbill/hooks.h: events, the durable outbox, and the help-desk sinks.
 * Included by vbill.h; see vbill.h for the conventions every function follows.
 */
#ifndef VBILL_HOOKS_H
#define VBILL_HOOKS_H

#include "vbill/common.h"
#include "vbill/records.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Events and help-desk hooks.
 *
 * An event is a CloudEvents 1.0 JSON envelope:
 *   {"specversion":"1.0","id":"<UUIDv4>","source":"urn:vbill:<carrier>","type":"chat.requested",
 *    "time":"2026-12-05T01:02:03.456Z","subject":"<subscriber id>",
 *    "datacontenttype":"application/json","data":{...}}
 * Types: bill.generated, bill.link_sent, bill.viewed, auth.failed, auth.locked,
 * chat.requested, survey.answered, bill.flagged (any other "a.b" lowercase type is accepted
 * too).  survey.answered data must hold "score" (integer 1-5) and may hold "comment" (a
 * string of at most 2,000 bytes).  A member whose name contains "birth" is removed from the
 * data at any depth, so the birth date can never leave in an event; data nested deeper
 * than 64 levels is refused (VBILL_ERR_HOOK) rather than stored unchecked.
 *
 * vbill_hooks_emit writes the event durably to the outbox (SQLite, WAL,
 * synchronous=FULL) in STATE_DIR/outbox.sqlite before it returns, with one delivery row per
 * matching sink.  Deliveries are made by vbill_hooks_pump (driven by the host) or by a
 * worker thread (vbill_hooks_start).  Each delivery is claimed with a lease ("in flight"):
 * if the process dies, the delivery is retried once the lease has run out.  Delivery is at
 * least once: receivers de-duplicate by the event id (the webhook-id / Idempotency-Key
 * header).  A failed attempt is retried after an exponential backoff with jitter, or after
 * the time a 429/503 Retry-After asks for (seconds or HTTP date), but never later than the
 * event's deadline (default 24 h after the emit): a delivery that fails at or after it moves
 * to the dead-letter table, which can be listed and replayed.
 *
 * Retention: an event that is done with (delivered to every sink, or dead) is deleted,
 * with its still, "retention_days" (default 30) after its last delivery or death; the pump
 * does it at a handle's first pump and then at most hourly, vbill_hooks_purge on demand.
 * Events still to deliver are never purged.  Deleted rows are overwritten on disk
 * (SQLite secure_delete, then the write-ahead log is truncated).  The outbox files
 * (outbox.sqlite, -wal, -shm) are made 0600 whatever the umask, and tightened to 0600
 * when an older version left them readable by others; outbox.sqlite may not be a symlink.
 *
 * Configuration (JSON, all keys optional except "sinks"):
 *   {"source": "urn:vbill:acme", "deadline_s": 86400, "lease_ms": 60000,
 *    "retry_base_ms": 1000, "retry_max_ms": 3600000, "batch": 64, "sync": "full",
 *    "retention_days": 30,
 *    "sinks": [
 *      {"type":"webhook", "name":"hook", "url":"https://...", "secret":"whsec_<base64>",
 *       "events":["*"], "timeout_ms":2000},
 *      {"type":"zendesk", "url":"https://acme.zendesk.com", "email":"a@acme.com",
 *       "token":"...", "events":["chat.requested","auth.locked","bill.flagged"],
 *       "subject":"<mustache>", "comment":"<mustache>", "tags":["vbill","{{type}}"],
 *       "priority":"<mustache>", "custom_fields":[{"id":123,"value":"<mustache>"}],
 *       "timeout_ms":10000},
 *      {"type":"rt", "url":"https://rt.example", "token":"...", "queue":"General",
 *       "id_field":"vbill-event-id", "subject":..., "comment":..., "custom_fields":{...}},
 *      {"type":"callback", "name":"mine", "events":["bill.*"]} ]}
 * "sync": "full" (default) fsyncs every emit; "normal" survives a killed process but not a
 * power cut, and costs far less per emit.
 * Transport: a "url" must be https://, except (1) a webhook to this machine's loopback
 * (127.0.0.0/8, [::1], localhost: a local relay) and (2) any sink with "insecure": true,
 * meant for tests against receivers on loopback (a warning is logged).  Zendesk and RT
 * sinks send the desk's credentials, and every event carries personal data (masked name,
 * amounts, questions).  A webhook "secret" must decode to at least 24 bytes (Standard
 * Webhooks secrets are 24-64 random bytes).
 * "events" lists types, "prefix.*" patterns or "*" (the default for webhook and callback
 * sinks).  Mustache mappings render over the envelope ({{type}}, {{subject}}, {{id}},
 * {{data.question}}, {{data.amounts.this_month}}...); defaults are built in.  Webhook
 * requests carry the Standard Webhooks headers webhook-id (the event id),
 * webhook-timestamp and webhook-signature ("v1," + base64 HMAC-SHA256 over
 * "id.timestamp.body" keyed by the decoded whsec_ secret).  Zendesk tickets carry
 * external_id = event id and an Idempotency-Key header; a retried delivery first looks the
 * ticket up by external_id, so no second ticket is ever made.  RT tickets carry the event
 * id in the custom field id_field and are looked up by it likewise.  A still attached to an
 * event (vbill_hooks_emit_still) is uploaded to Zendesk (uploads API), attached to the RT
 * ticket, and sent to a webhook inside the event's data as "still": {"type": "image/jpeg",
 * "data_base64": "<the JPEG in base64>"} (the envelope the signature covers).  Secrets (secret, token) never appear in logs or messages; the library wipes
 * every copy it makes of them (the parsed configuration included) before freeing it, but
 * config_json is the caller's: wipe it once vbill_hooks_open has returned.
 *
 * Errors: calls on a vbill_hooks put their message in the handle (vbill_hooks_errmsg), never
 * in the context it was opened with; the worker thread and the lock hook use their own.
 *
 * Callbacks: a callback sink (and the logging callback) runs inside vbill_hooks_pump, or on
 * the worker thread.  From there, vbill_hooks_pump, _pending, _set_callback, _start, _stop,
 * _replay, _status, _dead and _purge called on the same vbill_hooks return VBILL_ERR_BUSY
 * at once
 * (they would wait for the pump that is running the callback, or for the worker to stop
 * itself), and vbill_hooks_free does nothing (it logs an error).  vbill_hooks_emit and
 * _emit_still are allowed: a callback may queue a follow-up event (it is delivered by a
 * later round of the pump), since emitting only writes the outbox and never waits for the
 * pump.  vbill_hooks_errmsg called inside the callback gives the message of such a call.
 * Other handles may be used freely from a callback.
 *
 * Thread safety: a vbill_hooks may be used by one thread at a time (besides its own worker);
 * several processes may share a state directory (SQLite arbitrates).
 */
typedef struct vbill_hooks vbill_hooks;

/* A host's own sink.  Called with the event type and the envelope JSON; returns 0 when the
 * event was handled, a positive number of seconds to retry after, or a negative number to
 * retry after the usual backoff.  Called from the thread that pumps. */
typedef int (*vbill_hook_fn)(void *user, const char *type, const char *event_json);

/* Opens (creating it if needed) the outbox in state_dir and reads the sink configuration
 * (config_json may be NULL: no sinks but callbacks).  A failure's message goes to ctx; the
 * handle copies ctx's logging callback and is independent of ctx afterwards.
 * VBILL_ERR_JSON / VBILL_ERR_HOOK for a malformed configuration (the message names the
 * sink and key), VBILL_ERR_STORE when the database cannot be opened. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_open(vbill_ctx *ctx, const char *state_dir,
                                        const char *config_json, vbill_hooks **out);
/* Stops the worker (if running) and closes.  Accepts NULL.  Queued events stay queued. */
VBILL_API void vbill_hooks_free(vbill_hooks *h);

/* The message of the last failed call on h ("" after a success). */
VBILL_API const char *vbill_hooks_errmsg(const vbill_hooks *h);

/* Registers (or replaces) the callback sink `name` for the event types in events_json (a
 * JSON array as in the configuration; NULL means all).  Register callbacks before emitting:
 * deliveries are decided when an event is emitted.  At most 16 callback sinks besides the
 * configured ones; safe to call while the worker runs. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_set_callback(vbill_hooks *h, const char *name,
                                                const char *events_json, vbill_hook_fn fn,
                                                void *user);

/* Queues one event durably and returns its id in *out_id (may be NULL; free with
 * vbill_free).  subject is the subscriber id (NULL: data's "subscriber_id" or "id").
 * data_json is a JSON object (NULL for {}).  VBILL_ERR_HOOK for an invalid type or data
 * (e.g. a survey score out of range), VBILL_ERR_STORE when it could not be written. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_emit(vbill_hooks *h, const char *type, const char *subject,
                                        const char *data_json, char **out_id);

/* A lock hook for vbill_store_set_lock_hook (pass the vbill_hooks as user): queues an
 * auth.locked event (subject = the subscriber; data: link, cycle_start, scenario, hard,
 * until, failures, priority "high" when hard).  Safe on any thread (own connection and
 * context); failures are logged, never raised:
 *   vbill_store_set_lock_hook(store, vbill_hooks_auth_locked, hooks); */
VBILL_API void vbill_hooks_auth_locked(void *hooks, const char *lock_json);

/* Same, with a JPEG still (jpeg_len bytes; e.g. from vbill_render_still) stored with the
 * event and attached to help-desk tickets.  jpeg may be NULL (no still). */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_emit_still(vbill_hooks *h, const char *type,
                                              const char *subject, const char *data_json,
                                              const unsigned char *jpeg, size_t jpeg_len,
                                              char **out_id);

/* The data an agent needs about a bill, as a JSON object: subscriber_id, scenario,
 * locale, period, amounts, name_masked, period_text, this_month_text, next_month_text,
 * payment_text, plus link (when non-NULL) and the members of extra_json (an object, may be
 * NULL).  Never the birth date.  *out_json is freed with vbill_free. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_event_data(vbill_ctx *ctx, const vbill_bill *bill,
                                              const char *link, const char *extra_json,
                                              char **out_json);

/* Delivers what is due now, for at most max_ms milliseconds (0: one batch).  *delivered
 * (may be NULL) receives the number of deliveries that succeeded.  Failures of single
 * deliveries are not errors of this call: they are rescheduled or dead-lettered. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_pump(vbill_hooks *h, unsigned max_ms, size_t *delivered);

/* Deliveries not yet done nor dead (*pending), and the Unix time in milliseconds of the
 * earliest one due (*next_due_ms, 0 when none).  Either pointer may be NULL. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_pending(vbill_hooks *h, size_t *pending,
                                           int64_t *next_due_ms);

/* Starts / stops the library's worker thread, which pumps whenever deliveries are due.
 * stop waits for the attempt in progress to finish. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_start(vbill_hooks *h);
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_stop(vbill_hooks *h);

/* Counts by state as JSON: {"events":N,"pending":N,"in_flight":N,"delivered":N,"dead":N,
 * "sinks":{"name":{"pending":N,...}}}. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_status(vbill_hooks *h, char **out_json);

/* The dead letters as a JSON array of {"id","type","subject","sink","attempts","error",
 * "created","died"} (times in RFC 3339). */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_dead(vbill_hooks *h, char **out_json);

/* Deletes now the events done with (delivered or dead everywhere) whose last delivery or
 * death is older than the retention period ("retention_days", default 30), with their
 * stills; *purged (may be NULL) receives how many events. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_purge(vbill_hooks *h, size_t *purged);

/* Moves the dead letters of event id (NULL: all of them) back to the outbox with a fresh
 * deadline.  *count (may be NULL) receives how many.  VBILL_ERR_NOT_FOUND when id has no
 * dead letter. */
VBILL_API VBILL_NODISCARD vbill_status vbill_hooks_replay(vbill_hooks *h, const char *id, size_t *count);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_HOOKS_H */
