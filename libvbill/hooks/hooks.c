/* hooks.c: events (CloudEvents 1.0 envelopes), sinks (webhook, Zendesk, RT, callback) and
 * their delivery from the outbox (outbox.c): the pump, retries, backoff, the worker. */
#include "config.h"
#include "bill.h"
#include "hooks/outbox.h"
#include "mustache.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define MAX_RESPONSE (1 << 20)

/* ---- sinks ------------------------------------------------------------------------------ */

typedef enum { SINK_WEBHOOK, SINK_ZENDESK, SINK_RT, SINK_CALLBACK } sink_type;

typedef struct sink {
    sink_type type;
    char *name;
    char *url;           /* base URL (webhook: the full URL) */
    unsigned char key[128];
    size_t key_len;      /* webhook signing key (decoded whsec_) */
    char *email, *token; /* zendesk: basic auth; rt: token */
    char *queue, *id_field;
    cJSON *events;       /* array of patterns; NULL = all */
    long timeout_ms;
    char *t_subject, *t_comment, *t_priority; /* Mustache mappings */
    cJSON *tags;         /* array of Mustache strings */
    cJSON *custom_fields; /* zendesk: [{"id","value"}]; rt: {"name": "tmpl"} */
    vbill_hook_fn fn;
    void *user;
    CURL *curl;          /* reused: keep-alive to the receiver */
} sink;

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
    size_t batch;
    bool sync_full;
    sink *sinks;
    size_t nsinks;
    size_t cap;           /* sinks never move: pumps keep pointers while callbacks are added */
    pthread_mutex_t pump_lock; /* one delivery loop at a time (curl handles are per sink) */
    pthread_mutex_t sinks_lock; /* the sink list, held briefly (emit must not wait for a pump) */
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    pthread_t worker;
    bool worker_running, worker_stop, woken;
};

static void sink_clear(sink *s)
{
    free(s->name);
    free(s->url);
    OPENSSL_cleanse(s->key, sizeof s->key);
    if (s->token)
        OPENSSL_cleanse(s->token, strlen(s->token));
    free(s->email);
    free(s->token);
    free(s->queue);
    free(s->id_field);
    cJSON_Delete(s->events);
    free(s->t_subject);
    free(s->t_comment);
    free(s->t_priority);
    cJSON_Delete(s->tags);
    cJSON_Delete(s->custom_fields);
    if (s->curl)
        curl_easy_cleanup(s->curl);
    memset(s, 0, sizeof *s);
}

static bool pattern_match(const char *pat, const char *type)
{
    if (strcmp(pat, "*") == 0 || strcmp(pat, type) == 0)
        return true;
    size_t n = strlen(pat);
    /* "bill.*" matches "bill.viewed" */
    return n >= 2 && pat[n - 1] == '*' && pat[n - 2] == '.' && strncmp(pat, type, n - 1) == 0;
}

static bool sink_wants(const sink *s, const char *type)
{
    if (!s->events)
        return true;
    const cJSON *p;
    cJSON_ArrayForEach(p, s->events)
    {
        if (cJSON_IsString(p) && pattern_match(p->valuestring, type))
            return true;
    }
    return false;
}

static sink *find_sink(vbill_hooks *h, const char *name)
{
    for (size_t i = 0; i < h->nsinks; i++)
        if (strcmp(h->sinks[i].name, name) == 0)
            return &h->sinks[i];
    return NULL;
}

static int b64_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 || n / 4 * 3 > cap)
        return -1;
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    if (n >= 1 && in[n - 1] == '=')
        len--;
    if (n >= 2 && in[n - 2] == '=')
        len--;
    return len;
}

static char *b64_encode(const unsigned char *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

static vbill_status cfg_str(vbill_ctx *ctx, const cJSON *o, const char *key, const char *sname,
                            bool required, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required)
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s' needs \"%s\"", sname,
                            key);
        return VBILL_OK;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) > 8192)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"%s\" must be a string",
                        sname, key);
    *out = strdup(v->valuestring);
    return *out ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
}

static bool valid_url(const char *u)
{
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

static const char *const default_ticket_events[] = {"chat.requested", "auth.locked",
                                                    "bill.flagged"};

static vbill_status parse_sink(vbill_hooks *h, const cJSON *o, size_t index, sink *s)
{
    vbill_ctx *ctx = h->ctx;
    char dflt[32];
    snprintf(dflt, sizeof dflt, "sink %zu", index + 1);
    if (!cJSON_IsObject(o))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: %s is not an object", dflt);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(t))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: %s needs a \"type\"", dflt);
    if (strcmp(t->valuestring, "webhook") == 0)
        s->type = SINK_WEBHOOK;
    else if (strcmp(t->valuestring, "zendesk") == 0)
        s->type = SINK_ZENDESK;
    else if (strcmp(t->valuestring, "rt") == 0)
        s->type = SINK_RT;
    else if (strcmp(t->valuestring, "callback") == 0)
        s->type = SINK_CALLBACK;
    else
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: %s: unknown type (webhook, zendesk, "
                        "rt or callback)", dflt);
    vbill_status st = cfg_str(ctx, o, "name", dflt, false, &s->name);
    if (st)
        return st;
    if (!s->name) {
        snprintf(dflt, sizeof dflt, "%s-%zu", t->valuestring, index + 1);
        if (!(s->name = strdup(dflt)))
            return vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
    }
    if (!*s->name || strlen(s->name) > 64)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink name must be 1-64 characters");
    const char *n = s->name;
    if (s->type != SINK_CALLBACK) {
        if ((st = cfg_str(ctx, o, "url", n, true, &s->url)))
            return st;
        if (!valid_url(s->url))
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"url\" must be an "
                            "http:// or https:// URL", n);
        size_t ul = strlen(s->url);
        if (s->type != SINK_WEBHOOK && ul && s->url[ul - 1] == '/')
            s->url[ul - 1] = '\0';
    }
    if (s->type == SINK_WEBHOOK) {
        char *secret = NULL;
        if ((st = cfg_str(ctx, o, "secret", n, true, &secret)))
            return st;
        const char *b = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
        int len = b64_decode(b, s->key, sizeof s->key);
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
        if (len < 1)
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"secret\" must be "
                            "whsec_ followed by base64 (at most 96 bytes)", n);
        s->key_len = (size_t)len;
    }
    if (s->type == SINK_ZENDESK) {
        if ((st = cfg_str(ctx, o, "email", n, true, &s->email)) ||
            (st = cfg_str(ctx, o, "token", n, true, &s->token)))
            return st;
    }
    if (s->type == SINK_RT) {
        if ((st = cfg_str(ctx, o, "token", n, true, &s->token)) ||
            (st = cfg_str(ctx, o, "queue", n, false, &s->queue)) ||
            (st = cfg_str(ctx, o, "id_field", n, false, &s->id_field)))
            return st;
        if ((!s->queue && !(s->queue = strdup("General"))) ||
            (!s->id_field && !(s->id_field = strdup("vbill-event-id"))))
            return vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
        if (strchr(s->id_field, '\'') || strchr(s->id_field, '}'))
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': bad \"id_field\"", n);
    }
    if (s->type == SINK_ZENDESK || s->type == SINK_RT) {
        if ((st = cfg_str(ctx, o, "subject", n, false, &s->t_subject)) ||
            (st = cfg_str(ctx, o, "comment", n, false, &s->t_comment)) ||
            (st = cfg_str(ctx, o, "priority", n, false, &s->t_priority)))
            return st;
        const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tags");
        if (tags) {
            const cJSON *x;
            bool ok = cJSON_IsArray(tags);
            cJSON_ArrayForEach(x, tags) ok = ok && cJSON_IsString(x);
            if (!ok)
                return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"tags\" must be "
                                "an array of strings", n);
            s->tags = cJSON_Duplicate(tags, true);
        }
        const cJSON *cf = cJSON_GetObjectItemCaseSensitive(o, "custom_fields");
        if (cf) {
            const cJSON *x;
            bool ok;
            if (s->type == SINK_ZENDESK) {
                ok = cJSON_IsArray(cf);
                cJSON_ArrayForEach(x, cf) ok =
                    ok && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, "id")) &&
                    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(x, "value"));
            } else {
                ok = cJSON_IsObject(cf);
                cJSON_ArrayForEach(x, cf) ok = ok && cJSON_IsString(x);
            }
            if (!ok)
                return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"custom_fields\" "
                                "must be %s", n, s->type == SINK_ZENDESK
                                ? "an array of {\"id\": number, \"value\": string}"
                                : "an object of name -> string");
            s->custom_fields = cJSON_Duplicate(cf, true);
        }
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "events");
    if (ev) {
        const cJSON *x;
        bool ok = cJSON_IsArray(ev) && cJSON_GetArraySize(ev) > 0;
        cJSON_ArrayForEach(x, ev) ok = ok && cJSON_IsString(x);
        if (!ok)
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"events\" must be a "
                            "non-empty array of strings", n);
        s->events = cJSON_Duplicate(ev, true);
    } else if (s->type == SINK_ZENDESK || s->type == SINK_RT) {
        s->events = cJSON_CreateStringArray(default_ticket_events, 3);
    }
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "timeout_ms");
    s->timeout_ms = s->type == SINK_WEBHOOK ? 2000 : 10000;
    if (to) {
        if (!cJSON_IsNumber(to) || to->valuedouble < 1 || to->valuedouble > 600000)
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"timeout_ms\" must "
                            "be 1-600000", n);
        s->timeout_ms = (long)to->valuedouble;
    }
    return VBILL_OK;
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
        (st = cfg_num(ctx, root, "batch", 1, 1000, 1, &batch)))
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
        sink *s = &h->sinks[h->nsinks];
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
    stop_worker(h);
    for (size_t i = 0; i < h->nsinks; i++)
        sink_clear(&h->sinks[i]);
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
    return h ? vbill_ctx_errmsg(h->ctx) : "no hooks";
}

VBILL_API vbill_status vbill_hooks_set_callback(vbill_hooks *h, const char *name,
                                                const char *events_json, vbill_hook_fn fn,
                                                void *user)
{
    if (!h)
        return VBILL_ERR_ARG;
    vb_clear_error(h->ctx);
    if (!name || !*name || strlen(name) > 64 || !fn)
        return vb_error(h->ctx, VBILL_ERR_ARG,
                        "vbill_hooks_set_callback: needs a name (1-64 characters) and a function");
    cJSON *events = NULL;
    if (events_json) {
        events = vb_json_parse(events_json, (size_t)-1);
        const cJSON *x;
        bool ok = cJSON_IsArray(events) && cJSON_GetArraySize(events) > 0;
        cJSON_ArrayForEach(x, events) ok = ok && cJSON_IsString(x);
        if (!ok) {
            cJSON_Delete(events);
            return vb_error(h->ctx, VBILL_ERR_HOOK, "callback sink '%s': events must be a "
                            "non-empty JSON array of strings", name);
        }
    }
    pthread_mutex_lock(&h->sinks_lock);
    vbill_status st = VBILL_OK;
    sink *s = find_sink(h, name);
    if (s && s->type != SINK_CALLBACK) {
        st = vb_error(h->ctx, VBILL_ERR_HOOK, "callback sink '%s': a %s sink has that name", name,
                      "configured");
        cJSON_Delete(events);
        goto out;
    }
    if (!s) {
        if (!h->sinks && (h->sinks = calloc(16, sizeof *h->sinks)))
            h->cap = 16;
        char *nm = h->nsinks < h->cap ? strdup(name) : NULL;
        if (!nm) {
            cJSON_Delete(events);
            st = vb_error(h->ctx, h->nsinks < h->cap ? VBILL_ERR_NOMEM : VBILL_ERR_HOOK,
                          "callback sink '%s': %s", name, h->nsinks < h->cap ? "out of memory"
                          : "too many callback sinks (16)");
            goto out;
        }
        s = &h->sinks[h->nsinks];
        memset(s, 0, sizeof *s);
        s->type = SINK_CALLBACK;
        s->name = nm;
        h->nsinks++;
    }
    if (events_json) {
        cJSON_Delete(s->events);
        s->events = events;
    }
    s->fn = fn;
    s->user = user;
out:
    pthread_mutex_unlock(&h->sinks_lock);
    return st;
}

/* ---- events ---------------------------------------------------------------------------- */

static void uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* RAND_bytes failing is near impossible; the time keeps ids distinct anyway. */
        int64_t t = vb_now_ms();
        memcpy(b, &t, sizeof t);
        for (int i = 8; i < 16; i++)
            b[i] = (unsigned char)rand();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    static const char hx[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hx[b[i] >> 4];
        *p++ = hx[b[i] & 15];
    }
    *p = '\0';
}

static bool valid_type(const char *t)
{
    /* lowercase dotted words: "bill.viewed", "com.acme.bill.disputed" */
    size_t n = strlen(t);
    if (n < 3 || n > 128 || !strchr(t, '.'))
        return false;
    bool word_start = true;
    for (const char *p = t; *p; p++) {
        if (*p == '.') {
            if (word_start)
                return false;
            word_start = true;
        } else if ((*p >= 'a' && *p <= 'z') ||
                   (((*p >= '0' && *p <= '9') || *p == '_' || *p == '-') && !word_start)) {
            word_start = false;
        } else {
            return false;
        }
    }
    return !word_start;
}

static bool ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* Removes every member whose name contains "birth", at any depth: the birth date never
 * leaves in an event, whatever the host put in the data. */
static int strip_birth(cJSON *v, int depth)
{
    if (depth > 64)
        return 0;
    int n = 0;
    cJSON *c = v->child;
    while (c) {
        cJSON *next = c->next;
        if (cJSON_IsObject(v) && c->string && ci_contains(c->string, "birth")) {
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            n++;
        } else {
            n += strip_birth(c, depth + 1);
        }
        c = next;
    }
    return n;
}

static vbill_status validate_data(vbill_ctx *ctx, const char *type, const cJSON *data)
{
    if (strcmp(type, "survey.answered") == 0) {
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(data, "score");
        if (!cJSON_IsNumber(score) || score->valuedouble != (double)(int)score->valuedouble ||
            score->valueint < 1 || score->valueint > 5)
            return vb_error(ctx, VBILL_ERR_HOOK, "event survey.answered: \"score\" must be an "
                            "integer from 1 to 5");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(data, "comment");
        if (c && !cJSON_IsNull(c) && (!cJSON_IsString(c) || strlen(c->valuestring) > 2000))
            return vb_error(ctx, VBILL_ERR_HOOK, "event survey.answered: \"comment\" must be a "
                            "string of at most 2000 bytes");
    }
    if (strcmp(type, "chat.requested") == 0) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(data, "question");
        if (q && (!cJSON_IsString(q) || strlen(q->valuestring) > 4000))
            return vb_error(ctx, VBILL_ERR_HOOK, "event chat.requested: \"question\" must be a "
                            "string of at most 4000 bytes");
    }
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(data, "position");
    if (pos && !cJSON_IsNull(pos) && (!cJSON_IsNumber(pos) || pos->valuedouble < 0))
        return vb_error(ctx, VBILL_ERR_HOOK, "event %s: \"position\" must be seconds (a "
                        "number >= 0)", type);
    return VBILL_OK;
}

static bool valid_subject(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    return true;
}

static vbill_status emit_on(vbill_hooks *h, vbill_ctx *ctx, vb_outbox *ob, const char *type,
                            const char *subject, const char *data_json,
                            const unsigned char *att, size_t att_len, char **out_id)
{
    if (out_id)
        *out_id = NULL;
    if (!type || !valid_type(type))
        return vb_error(ctx, VBILL_ERR_HOOK, "event type '%.64s' is not a dotted lowercase name "
                        "such as bill.viewed", type ? type : "(null)");
    cJSON *data = data_json ? vb_json_parse(data_json, (size_t)-1) : cJSON_CreateObject();
    if (!data)
        return vb_error(ctx, VBILL_ERR_JSON, "event %s: data is not well-formed JSON", type);
    vbill_status st = VBILL_OK;
    cJSON *env = NULL;
    char *body = NULL;
    if (!cJSON_IsObject(data)) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "event %s: data must be a JSON object", type);
        goto out;
    }
    if (strip_birth(data, 0))
        vb_log(ctx, VBILL_LOG_WARN, "event %s: removed birth-date members from the data", type);
    if ((st = validate_data(ctx, type, data)))
        goto out;
    if (!subject) {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(data, "subscriber_id");
        if (!cJSON_IsString(sid))
            sid = cJSON_GetObjectItemCaseSensitive(data, "id");
        subject = cJSON_IsString(sid) ? sid->valuestring : NULL;
    }
    if (!subject || !valid_subject(subject)) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "event %s: needs a subscriber id (1-64 characters of "
                      "A-Z a-z 0-9 . _ -) as subject or data.subscriber_id", type);
        goto out;
    }
    char id[37], tm[32];
    uuid4(id);
    int64_t now = vb_now_ms();
    vb_rfc3339_ms(now, tm);
    env = cJSON_CreateObject();
    if (!env || !cJSON_AddStringToObject(env, "specversion", "1.0") ||
        !cJSON_AddStringToObject(env, "id", id) ||
        !cJSON_AddStringToObject(env, "source", h->source) ||
        !cJSON_AddStringToObject(env, "type", type) || !cJSON_AddStringToObject(env, "time", tm) ||
        !cJSON_AddStringToObject(env, "subject", subject) ||
        !cJSON_AddStringToObject(env, "datacontenttype", "application/json")) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto out;
    }
    cJSON_AddItemToObject(env, "data", data);
    data = NULL;
    body = vb_json_print(env);
    if (!body) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto out;
    }
    if (strlen(body) > 1024 * 1024) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "event %s: larger than 1 MiB", type);
        goto out;
    }
    const char *names[66];
    size_t n = 0;
    pthread_mutex_lock(&h->sinks_lock);
    for (size_t i = 0; i < h->nsinks && n < 66; i++)
        if (sink_wants(&h->sinks[i], type))
            names[n++] = h->sinks[i].name;
    pthread_mutex_unlock(&h->sinks_lock);
    /* names stay valid: sinks are never removed while the handle lives */
    st = vb_outbox_insert(ob, ctx, id, type, subject, body, att, att_len, now,
                          now + h->deadline_ms, names, n);
    if (st)
        goto out;
    if (n == 0)
        vb_log(ctx, VBILL_LOG_INFO, "event %s (%s) queued but no sink takes it", id, type);
    pthread_mutex_lock(&h->wake_lock);
    h->woken = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->wake_lock);
    if (out_id && !(*out_id = strdup(id)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
out:
    cJSON_Delete(data);
    cJSON_Delete(env);
    free(body);
    return st;
}

static vbill_status emit(vbill_hooks *h, const char *type, const char *subject,
                         const char *data_json, const unsigned char *att, size_t att_len,
                         char **out_id)
{
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
    vb_clear_error(h->ctx);
    return emit(h, type, subject, data_json, NULL, 0, out_id);
}

VBILL_API vbill_status vbill_hooks_emit_still(vbill_hooks *h, const char *type,
                                              const char *subject, const char *data_json,
                                              const unsigned char *jpeg, size_t jpeg_len,
                                              char **out_id)
{
    if (!h)
        return VBILL_ERR_ARG;
    vb_clear_error(h->ctx);
    if (jpeg && (jpeg_len < 4 || jpeg_len > 4 * 1024 * 1024 || jpeg[0] != 0xFF || jpeg[1] != 0xD8))
        return vb_error(h->ctx, VBILL_ERR_ARG, "event %s: the still is not a JPEG of at most "
                        "4 MiB", type ? type : "");
    return emit(h, type, subject, data_json, jpeg, jpeg ? jpeg_len : 0, out_id);
}

VBILL_API vbill_status vbill_hooks_event_data(vbill_ctx *ctx, const vbill_bill *bill,
                                              const char *link, const char *extra_json,
                                              char **out_json)
{
    vb_clear_error(ctx);
    if (!out_json || !bill)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_hooks_event_data: NULL argument");
    *out_json = NULL;
    vbill_status st = VBILL_OK;
    const cJSON *c = bill->context;
    cJSON *d = cJSON_CreateObject();
    cJSON *extra = NULL;
    if (!d) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto out;
    }
    static const char *const keys[] = {"id", "scenario", "locale", "currency", "period",
        "period_text", "name_masked", "this_month", "next_month", "bundle_prorated",
        "this_month_text", "next_month_text", "payment_text", "flags", "senior"};
    for (size_t i = 0; i < VB_ARRAY_LEN(keys); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, keys[i]);
        if (v)
            cJSON_AddItemToObject(d, strcmp(keys[i], "id") == 0 ? "subscriber_id" : keys[i],
                                  cJSON_Duplicate(v, true));
    }
    /* Per line: what the agent needs to explain the amounts. */
    cJSON *lines = cJSON_AddArrayToObject(d, "lines");
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(c, "lines"))
    {
        cJSON *o = cJSON_CreateObject();
        static const char *const lk[] = {"id", "kind", "product", "event", "start", "days",
                                         "prorated", "next_month", "net"};
        for (size_t i = 0; o && i < VB_ARRAY_LEN(lk); i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, lk[i]);
            if (v)
                cJSON_AddItemToObject(o, lk[i], cJSON_Duplicate(v, true));
        }
        if (o)
            cJSON_AddItemToArray(lines, o);
    }
    if (link)
        cJSON_AddStringToObject(d, "link", link);
    if (extra_json) {
        extra = vb_json_parse(extra_json, (size_t)-1);
        if (!cJSON_IsObject(extra)) {
            st = vb_error(ctx, VBILL_ERR_JSON, "event data: extra must be a JSON object");
            goto out;
        }
        cJSON *x = extra->child;
        while (x) {
            cJSON *next = x->next;
            cJSON_DeleteItemFromObjectCaseSensitive(d, x->string);
            cJSON_AddItemToObject(d, x->string, cJSON_DetachItemViaPointer(extra, x));
            x = next;
        }
    }
    strip_birth(d, 0);
    if (!(*out_json = vb_json_print(d)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
out:
    cJSON_Delete(d);
    cJSON_Delete(extra);
    return st;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

typedef struct http_resp {
    long code;
    vb_buf body;
    int64_t retry_at_ms;
    bool too_big;
} http_resp;

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
    http_resp *r = u;
    size_t len = size * n;
    if (r->body.len + len > MAX_RESPONSE) {
        r->too_big = true;
        return len; /* drop the rest; the status code is what matters */
    }
    vb_buf_append(&r->body, p, len);
    return len;
}

/* Retry-After: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
static int64_t parse_retry_after(const char *v, int64_t now)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        errno = 0;
        long long s = strtoll(v, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end == '\0' && errno == 0 && s >= 0)
            return now + (s > 7 * 86400 ? 7 * 86400LL : s) * 1000;
        return 0;
    }
    char tmp[128];
    size_t n = strcspn(v, "\r\n");
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    time_t t = curl_getdate(tmp, NULL);
    if (t <= 0)
        return 0;
    int64_t ms = (int64_t)t * 1000;
    return ms > now + 7 * 86400000LL ? now + 7 * 86400000LL : (ms < now ? now : ms);
}

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
    http_resp *r = u;
    size_t len = size * n;
    if (len > 12 && len < 200 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[200];
        memcpy(v, p + 12, len - 12);
        v[len - 12] = '\0';
        r->retry_at_ms = parse_retry_after(v, vb_now_ms());
    }
    return len;
}

/* One request on the sink's handle (kept alive between requests).  Returns false with
 * err set when there was no HTTP response at all. */
static bool http_do(sink *s, const char *method, const char *url, struct curl_slist *hdrs,
                    const void *body, size_t body_len, http_resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!s->curl && !(s->curl = curl_easy_init())) {
        snprintf(err, errlen, "cannot create an HTTP handle");
        return false;
    }
    CURL *c = s->curl;
    curl_easy_reset(c);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libvbill/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
        return false;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    if (!r->body.data)
        vb_buf_append(&r->body, "", 0);
    return true;
}

/* Sets the claim's outcome from a response that is not a success. */
static void http_failed(vb_claim *c, const sink *s, const char *what, const http_resp *r,
                        const char *err)
{
    c->ok = false;
    if (err)
        snprintf(c->error, sizeof c->error, "%.64s: %.32s: %.150s", s->name, what, err);
    else
        snprintf(c->error, sizeof c->error, "%.64s: %.32s: HTTP %ld", s->name, what, r->code);
    if (r && (r->code == 429 || r->code == 503) && r->retry_at_ms)
        c->retry_at_ms = r->retry_at_ms;
}

static struct curl_slist *add_hdr(struct curl_slist *l, bool *ok, const char *fmt, ...)
    VB_PRINTF(3, 4);
static struct curl_slist *add_hdr(struct curl_slist *l, bool *ok, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        *ok = false;
        return l;
    }
    struct curl_slist *nl = curl_slist_append(l, line);
    OPENSSL_cleanse(line, sizeof line);
    if (!nl) {
        *ok = false;
        return l;
    }
    return nl;
}

/* ---- webhook (Standard Webhooks) -------------------------------------------------------- */

static void deliver_webhook(sink *s, vb_claim *c)
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)(vb_now_ms() / 1000));
    /* signature over "id.timestamp.body" */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t idl = strlen(c->event_id), tsl = strlen(ts), bl = strlen(c->body);
    char *msg = malloc(idl + tsl + bl + 3);
    if (!msg) {
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
        return;
    }
    memcpy(msg, c->event_id, idl);
    msg[idl] = '.';
    memcpy(msg + idl + 1, ts, tsl);
    msg[idl + 1 + tsl] = '.';
    memcpy(msg + idl + tsl + 2, c->body, bl);
    HMAC(EVP_sha256(), s->key, (int)s->key_len, (unsigned char *)msg, idl + tsl + bl + 2, mac,
         &maclen);
    free(msg);
    char *sig = b64_encode(mac, maclen);
    bool ok = sig != NULL;
    struct curl_slist *h = NULL;
    h = add_hdr(h, &ok, "Content-Type: application/json");
    h = add_hdr(h, &ok, "webhook-id: %s", c->event_id);
    h = add_hdr(h, &ok, "webhook-timestamp: %s", ts);
    h = add_hdr(h, &ok, "webhook-signature: v1,%s", sig ? sig : "");
    h = add_hdr(h, &ok, "ce-id: %s", c->event_id);
    h = add_hdr(h, &ok, "Expect:");
    free(sig);
    if (!ok) {
        curl_slist_free_all(h);
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
        return;
    }
    http_resp r;
    char err[CURL_ERROR_SIZE + 32];
    if (!http_do(s, "POST", s->url, h, c->body, bl, &r, err, sizeof err))
        http_failed(c, s, "POST", NULL, err);
    else if (r.code >= 200 && r.code < 300)
        c->ok = true;
    else
        http_failed(c, s, "POST", &r, NULL);
    vb_buf_free(&r.body);
    curl_slist_free_all(h);
}

/* ---- tickets (Zendesk, RT) ------------------------------------------------------------- */

static const char default_subject[] =
    "[vbill] {{type}} {{subject}}{{#data.scenario}} ({{data.scenario}}){{/data.scenario}}";
static const char default_comment[] =
    "Event: {{type}} ({{id}}) at {{time}}\n"
    "Subscriber: {{subject}}{{#data.name_masked}} ({{data.name_masked}}){{/data.name_masked}}\n"
    "{{#data.question}}Question: {{data.question}}\n{{/data.question}}"
    "{{#data.position}}Playback position: {{data.position}} s\n{{/data.position}}"
    "{{#data.reason}}Reason: {{data.reason}}\n{{/data.reason}}"
    "{{#data.scenario}}Scenario: {{data.scenario}}\n{{/data.scenario}}"
    "{{#data.period_text}}Period: {{data.period_text}}\n{{/data.period_text}}"
    "{{#data.this_month_text}}This month: {{data.this_month_text}}\n{{/data.this_month_text}}"
    "{{#data.next_month_text}}Next month: {{data.next_month_text}}\n{{/data.next_month_text}}"
    "{{#data.flags}}Flag: {{.}}\n{{/data.flags}}"
    "{{#data.mode}}Reply promised: {{data.mode}}\n{{/data.mode}}"
    "{{#data.link}}Video: {{data.link}}\n{{/data.link}}";

static char *render(vbill_ctx *ctx, const char *tmpl, const cJSON *data, char *err, size_t errlen)
{
    vbill_status st = VBILL_OK;
    vb_mustache *m = vb_mustache_compile(ctx, "ticket mapping", tmpl, strlen(tmpl), &st);
    if (!m) {
        snprintf(err, errlen, "ticket mapping: %s", vbill_ctx_errmsg(ctx));
        return NULL;
    }
    char *out = vb_mustache_render(ctx, m, data, NULL, NULL, &st);
    vb_mustache_free(m);
    if (!out)
        snprintf(err, errlen, "ticket mapping: %s", vbill_ctx_errmsg(ctx));
    return out;
}

static const char *priority_of(const cJSON *env)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(env, "data"),
                                                      "priority");
    static const char *const ok[] = {"urgent", "high", "normal", "low"};
    if (cJSON_IsString(p))
        for (size_t i = 0; i < 4; i++)
            if (strcmp(p->valuestring, ok[i]) == 0)
                return ok[i];
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(env, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "auth.locked") == 0)
        return "high";
    return "normal";
}

/* The ticket's fields rendered from the mappings: subject, comment, priority, tags. */
typedef struct ticket {
    char *subject, *comment, *priority;
    cJSON *tags;    /* array of strings */
    cJSON *cf;      /* rendered custom fields */
} ticket;

static void ticket_free(ticket *t)
{
    free(t->subject);
    free(t->comment);
    free(t->priority);
    cJSON_Delete(t->tags);
    cJSON_Delete(t->cf);
}

static bool ticket_build(vbill_ctx *ctx, const sink *s, const cJSON *env, ticket *t, char *err,
                         size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->subject = render(ctx, s->t_subject ? s->t_subject : default_subject, env, err, errlen);
    if (!t->subject)
        return false;
    t->comment = render(ctx, s->t_comment ? s->t_comment : default_comment, env, err, errlen);
    if (!t->comment)
        return false;
    t->priority = s->t_priority ? render(ctx, s->t_priority, env, err, errlen)
                                : strdup(priority_of(env));
    if (!t->priority)
        return false;
    /* Zendesk and RT subjects are one line */
    for (char *p = t->subject; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    t->tags = cJSON_CreateArray();
    if (!t->tags)
        return false;
    if (s->tags) {
        const cJSON *x;
        cJSON_ArrayForEach(x, s->tags)
        {
            char *v = render(ctx, x->valuestring, env, err, errlen);
            if (!v)
                return false;
            for (char *p = v; *p; p++)
                if (isspace((unsigned char)*p) || *p == ',')
                    *p = '_';
            if (*v)
                cJSON_AddItemToArray(t->tags, cJSON_CreateString(v));
            free(v);
        }
    } else {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(env, "type");
        char tag[160] = "vbill_";
        strncat(tag, cJSON_IsString(ty) ? ty->valuestring : "event", sizeof tag - 7);
        for (char *p = tag; *p; p++)
            if (*p == '.')
                *p = '_';
        cJSON_AddItemToArray(t->tags, cJSON_CreateString("vbill"));
        cJSON_AddItemToArray(t->tags, cJSON_CreateString(tag));
    }
    if (s->custom_fields) {
        t->cf = s->type == SINK_ZENDESK ? cJSON_CreateArray() : cJSON_CreateObject();
        if (!t->cf)
            return false;
        const cJSON *x;
        cJSON_ArrayForEach(x, s->custom_fields)
        {
            const char *tmpl = s->type == SINK_ZENDESK
                ? cJSON_GetObjectItemCaseSensitive(x, "value")->valuestring : x->valuestring;
            char *v = render(ctx, tmpl, env, err, errlen);
            if (!v)
                return false;
            if (s->type == SINK_ZENDESK) {
                cJSON *o = cJSON_CreateObject();
                if (o) {
                    cJSON_AddItemToObject(o, "id", vb_json_int((int64_t)
                        cJSON_GetObjectItemCaseSensitive(x, "id")->valuedouble));
                    cJSON_AddStringToObject(o, "value", v);
                    cJSON_AddItemToArray(t->cf, o);
                }
            } else {
                cJSON_AddStringToObject(t->cf, x->string, v);
            }
            free(v);
        }
    }
    return true;
}

static char *url_escape(CURL *c, const char *s)
{
    char *e = curl_easy_escape(c, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

/* Has a previous attempt already made the ticket?  1 yes, 0 no, -1 could not tell. */
static int ticket_exists(sink *s, vb_claim *c, struct curl_slist *auth)
{
    if (!s->curl && !(s->curl = curl_easy_init()))
        return -1;
    vb_buf u = {0};
    if (s->type == SINK_ZENDESK) {
        char *e = url_escape(s->curl, c->event_id);
        vb_buf_printf(&u, "%s/api/v2/tickets.json?external_id=%s", s->url, e ? e : "");
        free(e);
    } else {
        vb_buf q = {0};
        vb_buf_printf(&q, "'CF.{%s}'='%s'", s->id_field, c->event_id);
        char *e = q.data ? url_escape(s->curl, q.data) : NULL;
        vb_buf_printf(&u, "%s/REST/2.0/tickets?query=%s&fields=id", s->url, e ? e : "");
        free(e);
        vb_buf_free(&q);
    }
    if (u.failed) {
        vb_buf_free(&u);
        return -1;
    }
    http_resp r;
    char err[CURL_ERROR_SIZE + 32];
    int found = -1;
    if (!http_do(s, "GET", u.data, auth, NULL, 0, &r, err, sizeof err)) {
        http_failed(c, s, "ticket lookup", NULL, err);
    } else if (r.code == 200) {
        cJSON *j = vb_json_parse(r.body.data, r.body.len);
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, s->type == SINK_ZENDESK ? "tickets"
                                                                                       : "items");
        const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(j, s->type == SINK_ZENDESK ? "count"
                                                                                       : "total");
        if (cJSON_IsArray(arr))
            found = cJSON_GetArraySize(arr) > 0;
        else if (cJSON_IsNumber(cnt))
            found = cnt->valuedouble > 0;
        else
            snprintf(c->error, sizeof c->error, "%s: ticket lookup: unexpected answer", s->name);
        cJSON_Delete(j);
    } else {
        http_failed(c, s, "ticket lookup", &r, NULL);
    }
    vb_buf_free(&r.body);
    vb_buf_free(&u);
    return found;
}

static void deliver_ticket(vbill_ctx *ctx, sink *s, vb_claim *c)
{
    struct curl_slist *auth = NULL, *jh = NULL, *uh = NULL;
    bool ok = true;
    char *cred = NULL, *upload_token = NULL, *att64 = NULL, *body = NULL;
    cJSON *env = vb_json_parse(c->body, (size_t)-1), *req = NULL;
    ticket t;
    memset(&t, 0, sizeof t);
    http_resp r = {0};
    char err[CURL_ERROR_SIZE + 64];
    if (!env) {
        snprintf(c->error, sizeof c->error, "%s: stored event is not JSON", s->name);
        goto out;
    }
    if (s->type == SINK_ZENDESK) {
        vb_buf b = {0};
        vb_buf_printf(&b, "%s/token:%s", s->email, s->token);
        cred = b.data ? b64_encode((unsigned char *)b.data, b.len) : NULL;
        if (b.data)
            OPENSSL_cleanse(b.data, b.len);
        vb_buf_free(&b);
        auth = add_hdr(auth, &ok, "Authorization: Basic %s", cred ? cred : "");
    } else {
        auth = add_hdr(auth, &ok, "Authorization: token %s", s->token);
    }
    auth = add_hdr(auth, &ok, "Accept: application/json");
    if (!ok || !cred) {
        if (s->type == SINK_ZENDESK || !ok) {
            snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
            goto out;
        }
    }
    /* A retry (or a claim after a crash) may follow a request that made the ticket but
     * whose answer was lost: look it up by the event id before making another. */
    if (c->attempts > 1) {
        int found = ticket_exists(s, c, auth);
        if (found < 0)
            goto out;
        if (found) {
            c->ok = true;
            goto out;
        }
    }
    if (!ticket_build(ctx, s, env, &t, err, sizeof err)) {
        snprintf(c->error, sizeof c->error, "%.64s: %.180s", s->name, err[0] ? err : "out of memory");
        goto out;
    }
    if (c->att && s->type == SINK_ZENDESK) {
        vb_buf u = {0};
        vb_buf_printf(&u, "%s/api/v2/uploads.json?filename=still-%s.jpg", s->url, c->event_id);
        for (struct curl_slist *x = auth; x; x = x->next)
            uh = add_hdr(uh, &ok, "%s", x->data);
        uh = add_hdr(uh, &ok, "Content-Type: image/jpeg");
        uh = add_hdr(uh, &ok, "Expect:");
        if (!ok || u.failed) {
            vb_buf_free(&u);
            snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
            goto out;
        }
        bool sent = http_do(s, "POST", u.data, uh, c->att, c->att_len, &r, err, sizeof err);
        vb_buf_free(&u);
        if (!sent || (r.code != 200 && r.code != 201)) {
            http_failed(c, s, "upload", sent ? &r : NULL, sent ? NULL : err);
            goto out;
        }
        cJSON *j = vb_json_parse(r.body.data, r.body.len);
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "upload"), "token");
        if (cJSON_IsString(tok))
            upload_token = strdup(tok->valuestring);
        cJSON_Delete(j);
        vb_buf_free(&r.body);
        if (!upload_token) {
            snprintf(c->error, sizeof c->error, "%s: upload: no token in the answer", s->name);
            goto out;
        }
    }
    req = cJSON_CreateObject();
    cJSON *tk = req;
    if (!req)
        goto nomem;
    if (s->type == SINK_ZENDESK) {
        tk = cJSON_AddObjectToObject(req, "ticket");
        cJSON *cm = cJSON_CreateObject();
        if (!tk || !cm)
            goto nomem;
        cJSON_AddStringToObject(tk, "subject", t.subject);
        cJSON_AddStringToObject(cm, "body", t.comment);
        cJSON_AddBoolToObject(cm, "public", false);
        if (upload_token) {
            cJSON *ups = cJSON_AddArrayToObject(cm, "uploads");
            cJSON_AddItemToArray(ups, cJSON_CreateString(upload_token));
        }
        cJSON_AddItemToObject(tk, "comment", cm);
        cJSON_AddStringToObject(tk, "external_id", c->event_id);
        cJSON_AddStringToObject(tk, "priority", t.priority);
        cJSON_AddItemToObject(tk, "tags", t.tags);
        t.tags = NULL;
        if (t.cf) {
            cJSON_AddItemToObject(tk, "custom_fields", t.cf);
            t.cf = NULL;
        }
    } else {
        cJSON_AddStringToObject(req, "Queue", s->queue);
        cJSON_AddStringToObject(req, "Subject", t.subject);
        cJSON_AddStringToObject(req, "Content", t.comment);
        cJSON_AddStringToObject(req, "ContentType", "text/plain");
        static const struct { const char *name; int value; } pr[] = {
            {"urgent", 90}, {"high", 70}, {"normal", 50}, {"low", 20}};
        for (size_t i = 0; i < VB_ARRAY_LEN(pr); i++)
            if (strcmp(t.priority, pr[i].name) == 0)
                cJSON_AddItemToObject(req, "Priority", vb_json_int(pr[i].value));
        cJSON *cf = t.cf ? t.cf : cJSON_CreateObject();
        t.cf = NULL;
        if (!cf)
            goto nomem;
        cJSON_DeleteItemFromObjectCaseSensitive(cf, s->id_field);
        cJSON_AddStringToObject(cf, s->id_field, c->event_id);
        cJSON_AddItemToObject(req, "CustomFields", cf);
        if (c->att) {
            att64 = b64_encode(c->att, c->att_len);
            cJSON *arr = cJSON_AddArrayToObject(req, "Attachments");
            cJSON *a = cJSON_CreateObject();
            if (!att64 || !arr || !a)
                goto nomem;
            char fname[64];
            snprintf(fname, sizeof fname, "still-%s.jpg", c->event_id);
            cJSON_AddStringToObject(a, "FileName", fname);
            cJSON_AddStringToObject(a, "FileType", "image/jpeg");
            cJSON_AddStringToObject(a, "FileContent", att64);
            cJSON_AddItemToArray(arr, a);
        }
    }
    if (!(body = vb_json_print(req)))
        goto nomem;
    for (struct curl_slist *x = auth; x; x = x->next)
        jh = add_hdr(jh, &ok, "%s", x->data);
    jh = add_hdr(jh, &ok, "Content-Type: application/json");
    jh = add_hdr(jh, &ok, "Idempotency-Key: %s", c->event_id);
    jh = add_hdr(jh, &ok, "Expect:");
    if (!ok)
        goto nomem;
    vb_buf u = {0};
    vb_buf_printf(&u, s->type == SINK_ZENDESK ? "%s/api/v2/tickets.json" : "%s/REST/2.0/ticket",
                  s->url);
    if (u.failed)
        goto nomem;
    bool sent = http_do(s, "POST", u.data, jh, body, strlen(body), &r, err, sizeof err);
    vb_buf_free(&u);
    if (!sent)
        http_failed(c, s, "create ticket", NULL, err);
    else if (r.code == 200 || r.code == 201)
        c->ok = true;
    else
        http_failed(c, s, "create ticket", &r, NULL);
    goto out;
nomem:
    snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
out:
    vb_buf_free(&r.body);
    if (cred) {
        OPENSSL_cleanse(cred, strlen(cred));
        free(cred);
    }
    for (struct curl_slist *x = auth; x; x = x->next)
        OPENSSL_cleanse(x->data, strlen(x->data));
    for (struct curl_slist *x = jh; x; x = x->next)
        OPENSSL_cleanse(x->data, strlen(x->data));
    for (struct curl_slist *x = uh; x; x = x->next)
        OPENSSL_cleanse(x->data, strlen(x->data));
    curl_slist_free_all(auth);
    curl_slist_free_all(jh);
    curl_slist_free_all(uh);
    free(upload_token);
    free(att64);
    free(body);
    ticket_free(&t);
    cJSON_Delete(env);
    cJSON_Delete(req);
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
    sink *s = find_sink(h, c->sink);
    vbill_hook_fn fn = s ? s->fn : NULL;
    void *user = s ? s->user : NULL;
    pthread_mutex_unlock(&h->sinks_lock);
    c->ok = false;
    c->retry_at_ms = 0;
    c->error[0] = '\0';
    if (!s) {
        snprintf(c->error, sizeof c->error, "sink '%s' is not configured", c->sink);
        return;
    }
    switch (s->type) {
    case SINK_WEBHOOK:
        deliver_webhook(s, c);
        break;
    case SINK_ZENDESK:
    case SINK_RT:
        deliver_ticket(ctx, s, c);
        break;
    case SINK_CALLBACK:
        if (!fn) {
            snprintf(c->error, sizeof c->error, "callback sink '%s' has no function registered",
                     s->name);
            break;
        }
        int rc = fn(user, c->type, c->body);
        if (rc == 0) {
            c->ok = true;
        } else {
            snprintf(c->error, sizeof c->error, "%s: callback asked to retry", s->name);
            if (rc > 0)
                c->retry_at_ms = vb_now_ms() + (int64_t)rc * 1000;
        }
        break;
    }
    if (!c->ok && !c->error[0])
        snprintf(c->error, sizeof c->error, "%s: delivery failed", s->name);
}

static vbill_status pump(vbill_hooks *h, vbill_ctx *ctx, vb_outbox *ob, unsigned max_ms,
                         size_t *delivered)
{
    int64_t start = vb_now_ms();
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
            if (t > c[i].deadline_ms)
                t = c[i].deadline_ms; /* one last attempt at the deadline */
            if (c[i].retry_at_ms > t)
                t = c[i].retry_at_ms; /* the receiver asked for later: honour it */
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
    vb_clear_error(h->ctx);
    pthread_mutex_lock(&h->pump_lock);
    vbill_status st = pump(h, h->ctx, h->ob, max_ms, delivered);
    pthread_mutex_unlock(&h->pump_lock);
    return st;
}

VBILL_API vbill_status vbill_hooks_pending(vbill_hooks *h, size_t *pending, int64_t *next_due_ms)
{
    if (!h)
        return VBILL_ERR_ARG;
    vb_clear_error(h->ctx);
    size_t p = 0;
    int64_t n = 0;
    vbill_status st = vb_outbox_pending(h->ob, h->ctx, &p, &n);
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
        vb_log(h->ctx, VBILL_LOG_ERROR, "hooks worker: %s", vbill_ctx_errmsg(h->wctx));
        return NULL;
    }
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
    vb_clear_error(h->ctx);
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
    vb_clear_error(h->ctx);
    stop_worker(h);
    return VBILL_OK;
}

/* ---- inspection ------------------------------------------------------------------------ */

VBILL_API vbill_status vbill_hooks_status(vbill_hooks *h, char **out_json)
{
    if (!h || !out_json)
        return VBILL_ERR_ARG;
    vb_clear_error(h->ctx);
    return vb_outbox_status(h->ob, h->ctx, out_json);
}

VBILL_API vbill_status vbill_hooks_dead(vbill_hooks *h, char **out_json)
{
    if (!h || !out_json)
        return VBILL_ERR_ARG;
    vb_clear_error(h->ctx);
    return vb_outbox_dead(h->ob, h->ctx, out_json);
}

VBILL_API vbill_status vbill_hooks_replay(vbill_hooks *h, const char *id, size_t *count)
{
    if (!h)
        return VBILL_ERR_ARG;
    vb_clear_error(h->ctx);
    int64_t now = vb_now_ms();
    vbill_status st = vb_outbox_replay(h->ob, h->ctx, id, now, now + h->deadline_ms, count);
    if (!st) {
        pthread_mutex_lock(&h->wake_lock);
        h->woken = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->wake_lock);
    }
    return st;
}
