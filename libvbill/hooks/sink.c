/* sink.c: what every sink shares: its common configuration keys, the event filter,
 * configuration helpers, base64, and HTTP through libcurl (one handle per sink, kept
 * alive; Retry-After honoured). */
#include "config.h"
#include "hooks/sink.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MAX_RESPONSE (1 << 20)

/* ---- the sink ---------------------------------------------------------------------- */

bool vb_json_string_array(const cJSON *v)
{
    const cJSON *x;
    bool ok = cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0;
    cJSON_ArrayForEach(x, v) ok = ok && cJSON_IsString(x);
    return ok;
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

/* Whether url's host is this machine's loopback (127.0.0.0/8, ::1, localhost). */
static bool loopback_url(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool lo = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        struct in_addr a4;
        struct in6_addr a6;
        size_t n = strlen(host);
        if (strcasecmp(host, "localhost") == 0) {
            lo = true;
        } else if (inet_pton(AF_INET, host, &a4) == 1) {
            lo = (ntohl(a4.s_addr) >> 24) == 127;
        } else if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
            host[n - 1] = '\0';
            lo = inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
    }
    curl_free(host);
    curl_url_cleanup(u);
    return lo;
}

/* Plain http:// carries the events (personal data) and the desk's credentials in the clear
 * on the network: only with "insecure": true, or to loopback for a sink without
 * credentials. */
static vbill_status check_transport(vb_sink *s, const vb_sink_type *t, vbill_ctx *ctx,
                                    const cJSON *o)
{
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(o, "insecure");
    if (ins && !cJSON_IsBool(ins))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"insecure\" must be "
                        "true or false", s->name);
    if (strncmp(s->url, "http://", 7) != 0)
        return VBILL_OK;
    if (cJSON_IsTrue(ins)) {
        vb_log(ctx, VBILL_LOG_WARN, "hooks config: sink '%s': plain http:// allowed by "
               "\"insecure\" (meant for tests on loopback)", s->name);
        return VBILL_OK;
    }
    if (t->credentials)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"url\" is plain "
                        "http:// and this sink sends credentials; use https:// (\"insecure\": "
                        "true allows it, for tests on loopback)", s->name);
    if (!loopback_url(s->url))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"url\" is plain "
                        "http:// to another machine and events carry personal data; use "
                        "https:// (\"insecure\": true allows it, for tests)", s->name);
    return VBILL_OK;
}

static vbill_status nomem(vbill_ctx *ctx)
{
    return vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
}

/* The type's private state and defaults; name already set. */
static vbill_status setup_common(vb_sink *s, const vb_sink_type *t, vbill_ctx *ctx)
{
    s->type = t;
    s->timeout_ms = t->timeout_ms;
    if (t->priv_size && !(s->priv = calloc(1, t->priv_size)))
        return nomem(ctx);
    if (t->events && !(s->events = cJSON_CreateStringArray(t->events, (int)t->nevents)))
        return nomem(ctx);
    return VBILL_OK;
}

vbill_status vb_sink_setup(vb_sink *s, const vb_sink_type *t, vbill_ctx *ctx, const cJSON *o,
                           size_t index)
{
    char dflt[80];
    snprintf(dflt, sizeof dflt, "sink %zu", index + 1);
    vbill_status st = vb_sink_cfg_str(ctx, o, "name", dflt, false, &s->name);
    if (st)
        return st;
    if (!s->name) {
        snprintf(dflt, sizeof dflt, "%.40s-%zu", t->name, index + 1);
        if (!(s->name = strdup(dflt)))
            return nomem(ctx);
    }
    if (!*s->name || strlen(s->name) > 64)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink name must be 1-64 characters");
    const char *n = s->name;
    if ((st = setup_common(s, t, ctx)))
        return st;
    if (t->has_url) {
        if ((st = vb_sink_cfg_str(ctx, o, "url", n, true, &s->url)))
            return st;
        if (!valid_url(s->url))
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"url\" must be an "
                            "http:// or https:// URL", n);
        size_t ul = strlen(s->url);
        if (t->base_url && ul && s->url[ul - 1] == '/')
            s->url[ul - 1] = '\0';
        if ((st = check_transport(s, t, ctx, o)))
            return st;
    }
    if (t->configure && (st = t->configure(s, ctx, o)))
        return st;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "events");
    if (ev) {
        if (!vb_json_string_array(ev))
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"events\" must be a "
                            "non-empty array of strings", n);
        cJSON_Delete(s->events);
        if (!(s->events = cJSON_Duplicate(ev, true)))
            return nomem(ctx);
    }
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "timeout_ms");
    if (to) {
        if (!cJSON_IsNumber(to) || to->valuedouble < 1 || to->valuedouble > 600000)
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"timeout_ms\" must "
                            "be 1-600000", n);
        s->timeout_ms = (long)to->valuedouble;
    }
    return VBILL_OK;
}

vbill_status vb_sink_setup_named(vb_sink *s, const vb_sink_type *t, vbill_ctx *ctx,
                                 const char *name)
{
    if (!(s->name = strdup(name)))
        return nomem(ctx);
    vbill_status st = setup_common(s, t, ctx);
    if (!st && t->configure)
        st = t->configure(s, ctx, NULL);
    return st;
}

void vb_sink_clear(vb_sink *s)
{
    if (s->type && s->type->clear)
        s->type->clear(s);
    if (s->priv) {
        OPENSSL_cleanse(s->priv, s->type->priv_size);
        free(s->priv);
    }
    free(s->name);
    free(s->url);
    cJSON_Delete(s->events);
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

bool vb_sink_wants(const vb_sink *s, const char *type)
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

/* ---- configuration helpers --------------------------------------------------------- */

vbill_status vb_sink_cfg_str(vbill_ctx *ctx, const cJSON *o, const char *key, const char *sname,
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
    return *out ? VBILL_OK : nomem(ctx);
}

void vb_json_wipe(cJSON *v)
{
    for (cJSON *c = v; c; c = c->next) {
        if (c->valuestring)
            OPENSSL_cleanse(c->valuestring, strlen(c->valuestring));
        if (c->child)
            vb_json_wipe(c->child);
    }
}

/* ---- base64 ------------------------------------------------------------------------ */

int vb_b64_decode(const char *in, unsigned char *out, size_t cap)
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

char *vb_b64_encode(const unsigned char *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

/* ---- HTTP -------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
    vb_http_resp *r = u;
    size_t len = size * n;
    if (r->body.len + len > MAX_RESPONSE) {
        r->too_big = true;
        return len; /* drop the rest; the status code is what matters */
    }
    vb_buf_append(&r->body, p, len);
    return len;
}

/* Retry-After: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
int64_t vb_retry_after(const char *v, int64_t now)
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
    vb_http_resp *r = u;
    size_t len = size * n;
    if (len > 12 && len < 200 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[200];
        memcpy(v, p + 12, len - 12);
        v[len - 12] = '\0';
        r->retry_at_ms = vb_retry_after(v, vb_now_ms());
    }
    return len;
}

bool vb_http_do(vb_sink *s, const char *method, const char *url, struct curl_slist *hdrs,
                const void *body, size_t body_len, vb_http_resp *r, char *err, size_t errlen)
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

void vb_http_failed(vb_claim *c, const vb_sink *s, const char *what, const vb_http_resp *r,
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

struct curl_slist *vb_http_header(struct curl_slist *l, bool *ok, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        OPENSSL_cleanse(line, sizeof line);
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

void vb_http_headers_free(struct curl_slist *l)
{
    for (struct curl_slist *x = l; x; x = x->next)
        OPENSSL_cleanse(x->data, strlen(x->data));
    curl_slist_free_all(l);
}
