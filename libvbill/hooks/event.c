/* event.c: events as CloudEvents 1.0 envelopes: type and data validation, the birth-date
 * filter, the envelope itself, and the data an agent needs about a bill
 * (vbill_hooks_event_data). */
#include "config.h"
#include "bill.h"
#include "hooks/event.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/rand.h>

#define MAX_BODY (1024 * 1024)
#define MAX_DEPTH 64 /* levels of objects and arrays in an event's data (itself the first) */

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
 * leaves in an event, whatever the host put in the data.  Returns how many, or -1 when
 * the data is nested deeper than MAX_DEPTH (refused: what is not looked at is not
 * stored).  v is at level depth. */
static int strip_birth(cJSON *v, int depth)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return 0;
    if (depth > MAX_DEPTH)
        return -1;
    int n = 0;
    cJSON *c = v->child;
    while (c) {
        cJSON *next = c->next;
        if (cJSON_IsObject(v) && c->string && ci_contains(c->string, "birth")) {
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            n++;
        } else {
            int k = strip_birth(c, depth + 1);
            if (k < 0)
                return -1;
            n += k;
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

void vb_event_clear(vb_event *ev)
{
    free(ev->body);
    memset(ev, 0, sizeof *ev);
}

vbill_status vb_event_build(vbill_ctx *ctx, const char *source, const char *type,
                            const char *subject, const char *data_json, vb_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (!type || !valid_type(type))
        return vb_error(ctx, VBILL_ERR_HOOK, "event type '%.64s' is not a dotted lowercase name "
                        "such as bill.viewed", type ? type : "(null)");
    cJSON *data = data_json ? vb_json_parse(data_json, (size_t)-1) : cJSON_CreateObject();
    if (!data)
        return vb_error(ctx, VBILL_ERR_JSON, "event %s: data is not well-formed JSON", type);
    vbill_status st = VBILL_OK;
    cJSON *env = NULL;
    if (!cJSON_IsObject(data)) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "event %s: data must be a JSON object", type);
        goto out;
    }
    int stripped = strip_birth(data, 1);
    if (stripped < 0) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "event %s: data is nested deeper than %d levels",
                      type, MAX_DEPTH);
        goto out;
    }
    if (stripped)
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
    snprintf(ev->subject, sizeof ev->subject, "%s", subject);
    char tm[32];
    uuid4(ev->id);
    ev->created_ms = vb_now_ms();
    vb_rfc3339_ms(ev->created_ms, tm);
    env = cJSON_CreateObject();
    if (!env || !cJSON_AddStringToObject(env, "specversion", "1.0") ||
        !cJSON_AddStringToObject(env, "id", ev->id) ||
        !cJSON_AddStringToObject(env, "source", source) ||
        !cJSON_AddStringToObject(env, "type", type) || !cJSON_AddStringToObject(env, "time", tm) ||
        !cJSON_AddStringToObject(env, "subject", ev->subject) ||
        !cJSON_AddStringToObject(env, "datacontenttype", "application/json")) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto out;
    }
    cJSON_AddItemToObject(env, "data", data);
    data = NULL;
    ev->body = vb_json_print(env);
    if (!ev->body) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto out;
    }
    if (strlen(ev->body) > MAX_BODY)
        st = vb_error(ctx, VBILL_ERR_HOOK, "event %s: larger than 1 MiB", type);
out:
    if (st)
        vb_event_clear(ev);
    cJSON_Delete(data);
    cJSON_Delete(env);
    return st;
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
    if (strip_birth(d, 1) < 0) {
        st = vb_error(ctx, VBILL_ERR_HOOK, "event data: extra is nested deeper than %d levels",
                      MAX_DEPTH);
        goto out;
    }
    if (!(*out_json = vb_json_print(d)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
out:
    cJSON_Delete(d);
    cJSON_Delete(extra);
    return st;
}
