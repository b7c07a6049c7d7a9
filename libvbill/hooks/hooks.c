/* hooks.c: the hooks handle: configuration, emit, the pump (claims from the outbox,
 * delivery through each sink's type, retries with backoff), the worker thread, and
 * inspection.  Envelopes are event.c's; sinks are sink.c's and one file per type (the
 * table is sinks.c); the durable outbox is outbox.c's. */
#include "config.h"
#include "hooks/event.h"
#include "hooks/outbox.h"
#include "hooks/sink_callback.h"
#include "hooks/sinks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/rand.h>

struct vbill_hooks {
    vbill_ctx *ctx;       /* the handle's own: messages of calls on it (vbill_hooks_errmsg) */
    vbill_ctx *wctx;      /* the worker's own */
    vbill_ctx *actx;      /* vbill_hooks_auth_locked's own (it runs on other threads) */
    vb_outbox *aob;
    pthread_mutex_t alock;
    vb_outbox *ob;
    char *state_dir;
    char *source;
    int64_t deadline_ms, lease_ms, retry_base_ms, retry_max_ms;
    int64_t retention_ms;  /* events done with are purged this long after */
    int64_t purged_ms;     /* when the pump last purged (under pump_lock) */
    size_t batch;
    bool sync_full;
    vb_sink *sinks;
    size_t nsinks;
    size_t cap;           /* sinks never move: pumps keep pointers while callbacks are added */
    pthread_mutex_t pump_lock; /* one delivery loop at a time (curl handles are per sink) */
    pthread_mutex_t sinks_lock; /* the sink list, held briefly (emit must not wait for a pump) */
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    pthread_t worker;
    bool worker_running, worker_stop, woken;
};

/* ---- calls from inside a callback ------------------------------------------------------ */

/* The handle whose pump this thread is running (vbill_hooks_pump, or the worker thread
 * all its life), with the context and connection it pumps with.  A callback sink and the
 * log callback run inside it: a call on the same handle from there that pumps or waits for
 * the pump would wait for itself, so it is refused (VBILL_ERR_BUSY); emit is allowed and
 * goes through the pump's own context and connection. */
static _Thread_local struct in_pump {
    const vbill_hooks *h;
    vbill_ctx *ctx;
    vb_outbox *ob;
} in_pump;

/* The context a call on h reports into: the pump's when made from inside its callback
 * (on the worker, the handle's own context belongs to the host's thread). */
static vbill_ctx *call_ctx(vbill_hooks *h)
{
    return in_pump.h == h ? in_pump.ctx : h->ctx;
}

/* Starts a call on h that must not run inside h's own callbacks: clears the message, or
 * returns VBILL_ERR_BUSY with one. */
static vbill_status enter(vbill_hooks *h, const char *call)
{
    vbill_ctx *ctx = call_ctx(h);
    vb_clear_error(ctx);
    if (in_pump.h != h)
        return VBILL_OK;
    return vb_error(ctx, VBILL_ERR_BUSY, "%s: called from inside a callback of the same hooks "
                    "handle, where it would wait for itself; call it after the callback "
                    "returns", call);
}

static vb_sink *find_sink(vbill_hooks *h, const char *name)
{
    for (size_t i = 0; i < h->nsinks; i++)
        if (strcmp(h->sinks[i].name, name) == 0)
            return &h->sinks[i];
    return NULL;
}

static vbill_status parse_sink(vbill_hooks *h, const cJSON *o, size_t index, vb_sink *s)
{
    vbill_ctx *ctx = h->ctx;
    char dflt[32];
    snprintf(dflt, sizeof dflt, "sink %zu", index + 1);
    if (!cJSON_IsObject(o))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: %s is not an object", dflt);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(t))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: %s needs a \"type\"", dflt);
    const vb_sink_type *type = vb_sink_type_find(t->valuestring);
    if (!type) {
        char names[256];
        vb_sink_type_names(names, sizeof names);
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: %s: unknown type (%s)", dflt, names);
    }
    return vb_sink_setup(s, type, ctx, o, index);
}

static vbill_status cfg_num(vbill_ctx *ctx, const cJSON *root, const char *key, double lo,
                            double hi, int64_t scale, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v)
        return VBILL_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: \"%s\" must be a number from %g to %g",
                        key, lo, hi);
    *out = (int64_t)(v->valuedouble * (double)scale);
    return VBILL_OK;
}

static vbill_status parse_config(vbill_hooks *h, const char *json)
{
    vbill_ctx *ctx = h->ctx;
    cJSON *root = vb_json_parse(json, (size_t)-1);
    if (!root)
        return vb_error(ctx, VBILL_ERR_JSON, "hooks config: not well-formed JSON");
    vbill_status st = VBILL_OK;
    if (!cJSON_IsObject(root)) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "hooks config: must be a JSON object");
        goto out;
    }
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source");
    if (src) {
        if (!cJSON_IsString(src) || !*src->valuestring || strlen(src->valuestring) > 256) {
            st = vb_error(ctx, VBILL_ERR_HOOK, "hooks config: \"source\" must be a URI string");
            goto out;
        }
        free(h->source);
        if (!(h->source = strdup(src->valuestring))) {
            st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
            goto out;
        }
    }
    int64_t batch = (int64_t)h->batch;
    if ((st = cfg_num(ctx, root, "deadline_s", 0.001, 365 * 86400.0, 1000, &h->deadline_ms)) ||
        (st = cfg_num(ctx, root, "deadline_ms", 1, 365 * 86400e3, 1, &h->deadline_ms)) ||
        (st = cfg_num(ctx, root, "lease_ms", 100, 86400e3, 1, &h->lease_ms)) ||
        (st = cfg_num(ctx, root, "retry_base_ms", 1, 86400e3, 1, &h->retry_base_ms)) ||
        (st = cfg_num(ctx, root, "retry_max_ms", 1, 7 * 86400e3, 1, &h->retry_max_ms)) ||
        (st = cfg_num(ctx, root, "batch", 1, 1000, 1, &batch)) ||
        (st = cfg_num(ctx, root, "retention_days", 1e-6, 3650, 86400000, &h->retention_ms)))
        goto out;
    h->batch = (size_t)batch;
    const cJSON *sync = cJSON_GetObjectItemCaseSensitive(root, "sync");
    if (sync) {
        if (!cJSON_IsString(sync) || (strcmp(sync->valuestring, "full") != 0 &&
                                      strcmp(sync->valuestring, "normal") != 0)) {
            st = vb_error(ctx, VBILL_ERR_HOOK, "hooks config: \"sync\" must be \"full\" or "
                          "\"normal\"");
            goto out;
        }
        h->sync_full = strcmp(sync->valuestring, "full") == 0;
    }
    const cJSON *sinks = cJSON_GetObjectItemCaseSensitive(root, "sinks");
    if (!cJSON_IsArray(sinks)) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "hooks config: needs a \"sinks\" array");
        goto out;
    }
    int n = cJSON_GetArraySize(sinks);
    if (n > 64) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "hooks config: at most 64 sinks");
        goto out;
    }
    h->cap = (size_t)n + 16;
    h->sinks = calloc(h->cap, sizeof *h->sinks);
    if (!h->sinks) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
        goto out;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, sinks)
    {
        vb_sink *s = &h->sinks[h->nsinks];
        st = parse_sink(h, o, h->nsinks, s);
        h->nsinks++;
        if (st)
            goto out;
        for (size_t i = 0; i + 1 < h->nsinks; i++)
            if (strcmp(h->sinks[i].name, s->name) == 0) {
                st = vb_error(ctx, VBILL_ERR_HOOK, "hooks config: two sinks named '%s'", s->name);
                goto out;
            }
    }
out:
    vb_json_wipe(root); /* the tree holds the desks' tokens and the webhook secrets */
    cJSON_Delete(root);
    return st;
}

static void stop_worker(vbill_hooks *h);

/* ---- open / free ----------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

VBILL_API vbill_status vbill_hooks_open(vbill_ctx *ctx, const char *state_dir,
                                        const char *config_json, vbill_hooks **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_hooks_open: out is NULL");
    *out = NULL;
    if (!ctx)
        return VBILL_ERR_ARG;
    pthread_once(&curl_once, curl_init_once);
    vbill_hooks *h = calloc(1, sizeof *h);
    if (!h || vbill_ctx_new(&h->ctx) != VBILL_OK) {
        free(h);
        return vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
    }
    vbill_ctx_set_log(h->ctx, ctx->log_fn, ctx->log_user, ctx->log_level);
    h->deadline_ms = 24LL * 3600 * 1000;
    h->lease_ms = 60000;
    h->retry_base_ms = 1000;
    h->retry_max_ms = 3600 * 1000;
    h->batch = 64;
    h->sync_full = true;
    h->retention_ms = 30LL * 86400 * 1000;
    pthread_mutex_init(&h->pump_lock, NULL);
    pthread_mutex_init(&h->sinks_lock, NULL);
    pthread_mutex_init(&h->alock, NULL);
    pthread_mutex_init(&h->wake_lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    vbill_status st = VBILL_OK;
    h->source = strdup("urn:vbill");
    h->state_dir = state_dir ? strdup(state_dir) : NULL;
    if (!h->source || (state_dir && !h->state_dir)) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto fail;
    }
    if (config_json && (st = parse_config(h, config_json)))
        goto fail;
    if (!(h->ob = vb_outbox_open(h->ctx, state_dir, h->sync_full, &st)))
        goto fail;
    *out = h;
    return VBILL_OK;
fail:
    if (h->ctx->errmsg[0])
        vb_error(ctx, st, "%s", h->ctx->errmsg);
    vbill_hooks_free(h);
    return st;
}

VBILL_API void vbill_hooks_free(vbill_hooks *h)
{
    if (!h)
        return;
    if (in_pump.h == h) {
        vb_log(in_pump.ctx, VBILL_LOG_ERROR, "vbill_hooks_free: called from inside a callback "
               "of the same hooks handle; not freed");
        return;
    }
    stop_worker(h);
    for (size_t i = 0; i < h->nsinks; i++)
        vb_sink_clear(&h->sinks[i]);
    free(h->sinks);
    vb_outbox_close(h->ob);
    free(h->source);
    free(h->state_dir);
    pthread_mutex_destroy(&h->pump_lock);
    pthread_mutex_destroy(&h->sinks_lock);
    pthread_mutex_destroy(&h->alock);
    vb_outbox_close(h->aob);
    vbill_ctx_free(h->actx);
    vbill_ctx_free(h->ctx);
    pthread_mutex_destroy(&h->wake_lock);
    pthread_cond_destroy(&h->wake);
    free(h);
}

VBILL_API const char *vbill_hooks_errmsg(const vbill_hooks *h)
{
    if (!h)
        return "no hooks";
    return vbill_ctx_errmsg(in_pump.h == h ? in_pump.ctx : h->ctx);
}

VBILL_API vbill_status vbill_hooks_set_callback(vbill_hooks *h, const char *name,
                                                const char *events_json, vbill_hook_fn fn,
                                                void *user)
{
    if (!h)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_set_callback");
    if (st)
        return st;
    if (!name || !*name || strlen(name) > 64 || !fn)
        return vb_error(h->ctx, VBILL_ERR_ARG,
                        "vbill_hooks_set_callback: needs a name (1-64 characters) and a function");
    cJSON *events = NULL;
    if (events_json) {
        events = vb_json_parse(events_json, (size_t)-1);
        if (!vb_json_string_array(events)) {
            cJSON_Delete(events);
            return vb_error(h->ctx, VBILL_ERR_HOOK, "callback sink '%s': events must be a "
                            "non-empty JSON array of strings", name);
        }
    }
    pthread_mutex_lock(&h->sinks_lock);
    vb_sink *s = find_sink(h, name);
    if (s && s->type != &vb_sink_callback) {
        st = vb_error(h->ctx, VBILL_ERR_HOOK, "callback sink '%s': a %s sink has that name", name,
                      "configured");
        cJSON_Delete(events);
        goto out;
    }
    if (!s) {
        if (!h->sinks && (h->sinks = calloc(16, sizeof *h->sinks)))
            h->cap = 16;
        if (h->nsinks >= h->cap) {
            cJSON_Delete(events);
            st = vb_error(h->ctx, h->sinks ? VBILL_ERR_HOOK : VBILL_ERR_NOMEM,
                          "callback sink '%s': %s", name,
                          h->sinks ? "too many callback sinks (16)" : "out of memory");
            goto out;
        }
        s = &h->sinks[h->nsinks];
        memset(s, 0, sizeof *s);
        if ((st = vb_sink_setup_named(s, &vb_sink_callback, h->ctx, name))) {
            vb_sink_clear(s);
            cJSON_Delete(events);
            goto out;
        }
        h->nsinks++;
    }
    if (events_json) {
        cJSON_Delete(s->events);
        s->events = events;
    }
    vb_sink_callback_bind(s, fn, user);
out:
    pthread_mutex_unlock(&h->sinks_lock);
    return st;
}

/* ---- emit ------------------------------------------------------------------------------- */

static vbill_status emit_on(vbill_hooks *h, vbill_ctx *ctx, vb_outbox *ob, const char *type,
                            const char *subject, const char *data_json,
                            const unsigned char *att, size_t att_len, char **out_id)
{
    if (out_id)
        *out_id = NULL;
    vb_event ev;
    vbill_status st = vb_event_build(ctx, h->source, type, subject, data_json, &ev);
    if (st)
        return st;
    const char *names[66];
    size_t n = 0;
    pthread_mutex_lock(&h->sinks_lock);
    for (size_t i = 0; i < h->nsinks && n < 66; i++)
        if (vb_sink_wants(&h->sinks[i], type))
            names[n++] = h->sinks[i].name;
    pthread_mutex_unlock(&h->sinks_lock);
    /* names stay valid: sinks are never removed while the handle lives */
    st = vb_outbox_insert(ob, ctx, ev.id, type, ev.subject, ev.body, att, att_len,
                          ev.created_ms, ev.created_ms + h->deadline_ms, names, n);
    if (st)
        goto out;
    if (n == 0)
        vb_log(ctx, VBILL_LOG_INFO, "event %s (%s) queued but no sink takes it", ev.id, type);
    pthread_mutex_lock(&h->wake_lock);
    h->woken = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->wake_lock);
    if (out_id && !(*out_id = strdup(ev.id)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
out:
    vb_event_clear(&ev);
    return st;
}

/* From inside a callback, through the pumping thread's context and connection (the
 * connection is between transactions while a callback runs). */
static vbill_status emit(vbill_hooks *h, const char *type, const char *subject,
                         const char *data_json, const unsigned char *att, size_t att_len,
                         char **out_id)
{
    if (in_pump.h == h)
        return emit_on(h, in_pump.ctx, in_pump.ob, type, subject, data_json, att, att_len,
                       out_id);
    return emit_on(h, h->ctx, h->ob, type, subject, data_json, att, att_len, out_id);
}

VBILL_API void vbill_hooks_auth_locked(void *hooks, const char *lock_json)
{
    vbill_hooks *h = hooks;
    if (!h || !lock_json)
        return;
    pthread_mutex_lock(&h->alock);
    /* its own context and connection: this runs on the viewer's checking threads */
    vbill_status st = VBILL_OK;
    if (!h->actx && vbill_ctx_new(&h->actx) != VBILL_OK)
        goto out;
    vbill_ctx_set_log(h->actx, h->ctx->log_fn, h->ctx->log_user, h->ctx->log_level);
    if (!h->aob && !(h->aob = vb_outbox_open(h->actx, h->state_dir, h->sync_full, &st))) {
        vb_log(h->actx, VBILL_LOG_ERROR, "auth.locked not queued: %s", vbill_ctx_errmsg(h->actx));
        goto out;
    }
    cJSON *j = vb_json_parse(lock_json, (size_t)-1);
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(j, "subscriber");
    if (!cJSON_IsString(sub)) {
        vb_log(h->actx, VBILL_LOG_ERROR, "auth.locked not queued: the lock event names no "
               "subscriber");
        cJSON_Delete(j);
        goto out;
    }
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "subscriber_id", sub->valuestring);
    static const char *const keep[] = {"link", "cycle_start", "scenario", "hard", "until",
                                       "failures"};
    for (size_t i = 0; data && i < VB_ARRAY_LEN(keep); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keep[i]);
        if (v)
            cJSON_AddItemToObject(data, keep[i], cJSON_Duplicate(v, true));
    }
    const cJSON *hard = cJSON_GetObjectItemCaseSensitive(j, "hard");
    cJSON_AddStringToObject(data, "priority", cJSON_IsTrue(hard) ? "high" : "normal");
    cJSON_AddStringToObject(data, "reason", cJSON_IsTrue(hard)
                            ? "link locked after too many failed birth-date checks"
                            : "link locked for a while after failed birth-date checks");
    char *dj = data ? vb_json_print(data) : NULL;
    cJSON_Delete(data);
    char *id = NULL;
    if (!dj || emit_on(h, h->actx, h->aob, "auth.locked", sub->valuestring, dj, NULL, 0, &id))
        vb_log(h->actx, VBILL_LOG_ERROR, "auth.locked not queued: %s", vbill_ctx_errmsg(h->actx));
    else
        vb_log(h->actx, VBILL_LOG_INFO, "auth.locked queued as event %s", id);
    vbill_free(id);
    free(dj);
    cJSON_Delete(j);
out:
    pthread_mutex_unlock(&h->alock);
}

VBILL_API vbill_status vbill_hooks_emit(vbill_hooks *h, const char *type, const char *subject,
                                        const char *data_json, char **out_id)
{
    if (!h)
        return VBILL_ERR_ARG;
    vb_clear_error(call_ctx(h));
    return emit(h, type, subject, data_json, NULL, 0, out_id);
}

VBILL_API vbill_status vbill_hooks_emit_still(vbill_hooks *h, const char *type,
                                              const char *subject, const char *data_json,
                                              const unsigned char *jpeg, size_t jpeg_len,
                                              char **out_id)
{
    if (!h)
        return VBILL_ERR_ARG;
    vb_clear_error(call_ctx(h));
    if (jpeg && (jpeg_len < 4 || jpeg_len > 4 * 1024 * 1024 || jpeg[0] != 0xFF || jpeg[1] != 0xD8))
        return vb_error(call_ctx(h), VBILL_ERR_ARG, "event %s: the still is not a JPEG of at most "
                        "4 MiB", type ? type : "");
    return emit(h, type, subject, data_json, jpeg, jpeg ? jpeg_len : 0, out_id);
}

/* ---- the pump ---------------------------------------------------------------------------- */

static int64_t backoff(const vbill_hooks *h, int attempts)
{
    int64_t d = h->retry_base_ms;
    for (int i = 1; i < attempts && d < h->retry_max_ms; i++)
        d *= 2;
    if (d > h->retry_max_ms)
        d = h->retry_max_ms;
    /* "equal jitter": between half and all of the delay, so retries of many events that
     * failed together spread out */
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint32_t)rand();
    return d / 2 + (int64_t)((double)r / 4294967296.0 * (double)(d - d / 2 + 1));
}

static void deliver(vbill_hooks *h, vbill_ctx *ctx, vb_claim *c)
{
    pthread_mutex_lock(&h->sinks_lock);
    vb_sink *s = find_sink(h, c->sink);
    pthread_mutex_unlock(&h->sinks_lock);
    c->ok = false;
    c->retry_at_ms = 0;
    c->error[0] = '\0';
    if (!s) {
        snprintf(c->error, sizeof c->error, "sink '%s' is not configured", c->sink);
        return;
    }
    s->type->deliver(s, ctx, c);
    if (!c->ok && !c->error[0])
        snprintf(c->error, sizeof c->error, "%s: delivery failed", s->name);
}

/* Now and then (at a handle's first pump, then at most hourly) the pump purges what the
 * retention period has passed; a failure is logged, not raised. */
static void purge_now_and_then(vbill_hooks *h, vbill_ctx *ctx, vb_outbox *ob, int64_t now)
{
    int64_t every = h->retention_ms < 3600000 ? h->retention_ms : 3600000;
    if (h->purged_ms && now - h->purged_ms < every)
        return;
    h->purged_ms = now;
    size_t n = 0;
    if (vb_outbox_purge(ob, ctx, now - h->retention_ms, &n)) {
        vb_log(ctx, VBILL_LOG_ERROR, "hooks: purge: %s", vbill_ctx_errmsg(ctx));
        vb_clear_error(ctx);
    }
    else if (n)
        vb_log(ctx, VBILL_LOG_INFO, "hooks: purged %zu events past the retention period", n);
}

static vbill_status pump(vbill_hooks *h, vbill_ctx *ctx, vb_outbox *ob, unsigned max_ms,
                         size_t *delivered)
{
    int64_t start = vb_now_ms();
    purge_now_and_then(h, ctx, ob, start);
    size_t ok = 0;
    vbill_status st = VBILL_OK;
    for (;;) {
        vb_claim *c = NULL;
        size_t n = vb_outbox_claim(ob, ctx, vb_now_ms(), h->lease_ms, h->batch, &c, &st);
        if (st || n == 0)
            break;
        int64_t *next = calloc(n, sizeof *next);
        if (!next) {
            vb_claims_free(c, n);
            st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
            break;
        }
        int64_t leased = vb_now_ms();
        for (size_t i = 0; i < n; i++) {
            /* slow receivers: renew the lease of what is still to do, so no other pumper
             * takes those rows while this one is still at work */
            if (vb_now_ms() - leased > h->lease_ms / 2) {
                leased = vb_now_ms();
                vb_outbox_renew(ob, ctx, c + i, n - i, leased + h->lease_ms);
            }
            deliver(h, ctx, &c[i]);
            int64_t now = vb_now_ms();
            if (c[i].ok) {
                ok++;
                vb_log(ctx, VBILL_LOG_DEBUG, "hooks: event %s delivered to %s", c[i].event_id,
                       c[i].sink);
                continue;
            }
            int64_t t = now + backoff(h, c[i].attempts);
            if (c[i].retry_at_ms > t)
                t = c[i].retry_at_ms; /* the receiver asked for later: honour it, */
            if (t > c[i].deadline_ms)
                t = c[i].deadline_ms; /* but not past the deadline: one last attempt then */
            next[i] = t;
            vb_log(ctx, VBILL_LOG_INFO, "hooks: event %s attempt %d failed: %s", c[i].event_id,
                   c[i].attempts, c[i].error);
        }
        st = vb_outbox_settle(ob, ctx, c, next, n, vb_now_ms());
        free(next);
        vb_claims_free(c, n);
        if (st)
            break;
        if (n < h->batch || (unsigned)(vb_now_ms() - start) >= max_ms)
            break;
    }
    if (delivered)
        *delivered = ok;
    return st;
}

VBILL_API vbill_status vbill_hooks_pump(vbill_hooks *h, unsigned max_ms, size_t *delivered)
{
    if (delivered)
        *delivered = 0;
    if (!h)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_pump");
    if (st)
        return st;
    pthread_mutex_lock(&h->pump_lock);
    struct in_pump outer = in_pump; /* a callback of another handle may pump this one */
    in_pump = (struct in_pump){h, h->ctx, h->ob};
    st = pump(h, h->ctx, h->ob, max_ms, delivered);
    in_pump = outer;
    pthread_mutex_unlock(&h->pump_lock);
    if (!st)
        vb_clear_error(h->ctx); /* what a callback's own calls left is not this call's */
    return st;
}

VBILL_API vbill_status vbill_hooks_pending(vbill_hooks *h, size_t *pending, int64_t *next_due_ms)
{
    if (!h)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_pending");
    if (st)
        return st;
    size_t p = 0;
    int64_t n = 0;
    st = vb_outbox_pending(h->ob, h->ctx, &p, &n);
    if (pending)
        *pending = p;
    if (next_due_ms)
        *next_due_ms = p ? n : 0;
    return st;
}

/* ---- the worker thread ---------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    vbill_hooks *h = arg;
    vbill_status st = VBILL_OK;
    /* its own connection: SQLite handles are used by one thread at a time */
    vb_outbox *ob = vb_outbox_open(h->wctx, h->state_dir, h->sync_full, &st);
    if (!ob) {
        vb_log(h->wctx, VBILL_LOG_ERROR, "hooks worker: %s", vbill_ctx_errmsg(h->wctx));
        return NULL;
    }
    /* everything this thread runs for the host is a callback of h */
    in_pump = (struct in_pump){h, h->wctx, ob};
    for (;;) {
        pthread_mutex_lock(&h->wake_lock);
        bool stop = h->worker_stop;
        h->woken = false;
        pthread_mutex_unlock(&h->wake_lock);
        if (stop)
            break;
        pthread_mutex_lock(&h->pump_lock);
        size_t n = 0;
        st = pump(h, h->wctx, ob, 1000, &n);
        pthread_mutex_unlock(&h->pump_lock);
        if (st)
            vb_log(h->wctx, VBILL_LOG_ERROR, "hooks worker: %s", vbill_ctx_errmsg(h->wctx));
        size_t pending = 0;
        int64_t due = 0;
        vb_outbox_pending(ob, h->wctx, &pending, &due);
        int64_t now = vb_now_ms();
        int64_t wait = pending ? due - now : 1000;
        if (wait > 1000 || st)
            wait = 1000;
        if (wait <= 0 && n > 0)
            continue;
        if (wait <= 0)
            wait = 10;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + wait * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&h->wake_lock);
        while (!h->woken && !h->worker_stop)
            if (pthread_cond_timedwait(&h->wake, &h->wake_lock, &ts) != 0)
                break;
        pthread_mutex_unlock(&h->wake_lock);
    }
    vb_outbox_close(ob);
    return NULL;
}

VBILL_API vbill_status vbill_hooks_start(vbill_hooks *h)
{
    if (!h)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_start");
    if (st)
        return st;
    if (h->worker_running)
        return VBILL_OK;
    if (!h->state_dir)
        return vb_error(h->ctx, VBILL_ERR_ARG, "hooks: no state directory");
    if (!h->wctx && vbill_ctx_new(&h->wctx) != VBILL_OK)
        return vb_error(h->ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
    vbill_ctx_set_log(h->wctx, h->ctx->log_fn, h->ctx->log_user, h->ctx->log_level);
    h->worker_stop = false;
    if (pthread_create(&h->worker, NULL, worker_main, h) != 0)
        return vb_error(h->ctx, VBILL_ERR_HOOK, "hooks: cannot start the worker thread");
    h->worker_running = true;
    return VBILL_OK;
}

static void stop_worker(vbill_hooks *h)
{
    if (h->worker_running) {
        pthread_mutex_lock(&h->wake_lock);
        h->worker_stop = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->wake_lock);
        pthread_join(h->worker, NULL);
        h->worker_running = false;
    }
    vbill_ctx_free(h->wctx);
    h->wctx = NULL;
}

VBILL_API vbill_status vbill_hooks_stop(vbill_hooks *h)
{
    if (!h)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_stop");
    if (st)
        return st;
    stop_worker(h);
    return VBILL_OK;
}

/* ---- inspection ------------------------------------------------------------------------ */

VBILL_API vbill_status vbill_hooks_status(vbill_hooks *h, char **out_json)
{
    if (!h || !out_json)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_status");
    return st ? st : vb_outbox_status(h->ob, h->ctx, out_json);
}

VBILL_API vbill_status vbill_hooks_dead(vbill_hooks *h, char **out_json)
{
    if (!h || !out_json)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_dead");
    return st ? st : vb_outbox_dead(h->ob, h->ctx, out_json);
}

VBILL_API vbill_status vbill_hooks_purge(vbill_hooks *h, size_t *purged)
{
    if (purged)
        *purged = 0;
    if (!h)
        return VBILL_ERR_ARG;
    vbill_status st = enter(h, "vbill_hooks_purge");
    if (st)
        return st;
    size_t n = 0;
    st = vb_outbox_purge(h->ob, h->ctx, vb_now_ms() - h->retention_ms, &n);
    if (purged)
        *purged = n;
    return st;
}

VBILL_API vbill_status vbill_hooks_replay(vbill_hooks *h, const char *id, size_t *count)
{
    if (!h)
        return VBILL_ERR_ARG;
    if (count)
        *count = 0;
    vbill_status st = enter(h, "vbill_hooks_replay");
    if (st)
        return st;
    int64_t now = vb_now_ms();
    st = vb_outbox_replay(h->ob, h->ctx, id, now, now + h->deadline_ms, count);
    if (!st) {
        pthread_mutex_lock(&h->wake_lock);
        h->woken = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->wake_lock);
    }
    return st;
}
