/* hooks/sink.h: what every help-desk sink shares (sink.c): the sink, the sink type (a const
 * struct of functions, one per file: sink_webhook.c, sink_zendesk.c, sink_rt.c,
 * sink_callback.c; the table of them is sinks.c), configuration helpers and HTTP.
 * Internal. */
#ifndef VB_HOOKS_SINK_H
#define VB_HOOKS_SINK_H

#include "internal.h"
#include "hooks/outbox.h"

#include <curl/curl.h>

typedef struct vb_sink vb_sink;

/* A kind of sink.  Each is one `const vb_sink_type vb_sink_NAME` in its own file and one
 * entry of the table in sinks.c; nothing else in the library names it. */
typedef struct vb_sink_type {
    const char *name;               /* the configuration's "type" */
    const char *const *events;      /* default "events" patterns (NULL: every event) */
    size_t nevents;
    long timeout_ms;                /* default "timeout_ms" */
    bool has_url;                   /* "url" is required and checked */
    bool base_url;                  /* "url" is a base: a trailing '/' is dropped */
    bool credentials;               /* sends the carrier's credentials (never plain http://) */
    size_t priv_size;               /* bytes of the type's own state (zeroed), in s->priv */
    /* Reads the type's own keys of the sink's configuration object o (NULL for a sink
     * made at run time, such as a callback).  Messages name the sink. */
    vbill_status (*configure)(vb_sink *s, vbill_ctx *ctx, const cJSON *o);
    /* One attempt: sets c->ok, or c->error and maybe c->retry_at_ms.  ctx takes logs. */
    void (*deliver)(vb_sink *s, vbill_ctx *ctx, vb_claim *c);
    /* Wipes the type's secrets and frees what configure allocated (s->priv itself is
     * wiped and freed by vb_sink_clear).  May be NULL. */
    void (*clear)(vb_sink *s);
} vb_sink_type;

struct vb_sink {
    const vb_sink_type *type;
    char *name;
    char *url;                      /* has_url types only */
    cJSON *events;                  /* array of patterns; NULL = all */
    long timeout_ms;
    CURL *curl;                     /* reused between requests: keep-alive */
    void *priv;                     /* type->priv_size bytes */
};

/* Sets s up as a sink of type t: the keys every sink has ("name", "url", "insecure",
 * "events", "timeout_ms") and then t->configure for its own.  A plain http:// "url" is
 * refused unless "insecure": true, except for a sink without credentials (a webhook) to
 * this machine's loopback address.  index (from 0) names the sink in
 * messages until its name is known.  On failure s still holds what was set (clear it). */
vbill_status vb_sink_setup(vb_sink *s, const vb_sink_type *t, vbill_ctx *ctx, const cJSON *o,
                           size_t index);
/* A sink made at run time (no configuration object) named name. */
vbill_status vb_sink_setup_named(vb_sink *s, const vb_sink_type *t, vbill_ctx *ctx,
                                 const char *name);
/* Wipes and frees everything the sink holds, and zeroes it. */
void vb_sink_clear(vb_sink *s);
/* Whether the sink takes events of this type ("*", exact, or "prefix.*"). */
bool vb_sink_wants(const vb_sink *s, const char *type);
/* A non-empty array of strings (for "events"). */
bool vb_json_string_array(const cJSON *v);

/* ---- configuration helpers (messages name the sink) ---- */

/* A string member copied into *out; absent is an error only when required. */
vbill_status vb_sink_cfg_str(vbill_ctx *ctx, const cJSON *o, const char *key, const char *sname,
                             bool required, char **out);

/* Wipes every string of a configuration tree (before cJSON_Delete). */
void vb_json_wipe(cJSON *v);

/* ---- base64 ---- */

/* Decoded length, or -1 when in is not base64 or longer than cap bytes decoded. */
int vb_b64_decode(const char *in, unsigned char *out, size_t cap);
char *vb_b64_encode(const unsigned char *in, size_t n);

/* ---- HTTP (libcurl) ---- */

typedef struct vb_http_resp {
    long code;
    vb_buf body;
    int64_t retry_at_ms;   /* from a Retry-After header, 0 when none */
    bool too_big;
} vb_http_resp;

/* One request on the sink's handle.  Returns false with err set when there was no HTTP
 * response at all.  method is "GET" or "POST". */
bool vb_http_do(vb_sink *s, const char *method, const char *url, struct curl_slist *hdrs,
                const void *body, size_t body_len, vb_http_resp *r, char *err, size_t errlen);
/* Sets the claim's outcome from a failed request: a transport error (err) or a response
 * that is not a success (r); a 429/503 Retry-After becomes the claim's retry time. */
void vb_http_failed(vb_claim *c, const vb_sink *s, const char *what, const vb_http_resp *r,
                    const char *err);
/* Appends a formatted header line; *ok turns false on overflow or out of memory.  The
 * formatting buffer is wiped (header lines may carry credentials). */
struct curl_slist *vb_http_header(struct curl_slist *l, bool *ok, const char *fmt, ...)
    VB_PRINTF(3, 4);
/* Wipes every line, then frees the list. */
void vb_http_headers_free(struct curl_slist *l);
/* Retry-After (delta-seconds or an HTTP date) as Unix ms, at most 7 days ahead; 0 when
 * unreadable. */
int64_t vb_retry_after(const char *value, int64_t now);

#endif
