/* ticket.c: what Zendesk and Request Tracker share: the Mustache mappings from an event's
 * envelope to a ticket (subject, comment, priority, tags, custom fields), and the delivery
 * flow: look a retried ticket up by the event id before making it, then post the desk's
 * request with an Idempotency-Key. */
#include "config.h"
#include "hooks/ticket.h"
#include "mustache.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ----------------------------------------------------------------- */

const char *const vb_ticket_events[VB_TICKET_NEVENTS] = {"chat.requested", "auth.locked",
                                                         "bill.flagged"};

vbill_status vb_ticket_configure(vb_ticket_cfg *cfg, vbill_ctx *ctx, const cJSON *o,
                                 const char *n, bool cf_array)
{
    vbill_status st;
    if ((st = vb_sink_cfg_str(ctx, o, "subject", n, false, &cfg->subject)) ||
        (st = vb_sink_cfg_str(ctx, o, "comment", n, false, &cfg->comment)) ||
        (st = vb_sink_cfg_str(ctx, o, "priority", n, false, &cfg->priority)))
        return st;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tags");
    if (tags) {
        const cJSON *x;
        bool ok = cJSON_IsArray(tags);
        cJSON_ArrayForEach(x, tags) ok = ok && cJSON_IsString(x);
        if (!ok)
            return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"tags\" must be "
                            "an array of strings", n);
        if (!(cfg->tags = cJSON_Duplicate(tags, true)))
            return vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
    }
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(o, "custom_fields");
    if (cf) {
        const cJSON *x;
        bool ok;
        if (cf_array) {
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
                            "must be %s", n, cf_array
                            ? "an array of {\"id\": number, \"value\": string}"
                            : "an object of name -> string");
        if (!(cfg->custom_fields = cJSON_Duplicate(cf, true)))
            return vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
    }
    return VBILL_OK;
}

void vb_ticket_cfg_clear(vb_ticket_cfg *cfg)
{
    free(cfg->subject);
    free(cfg->comment);
    free(cfg->priority);
    cJSON_Delete(cfg->tags);
    cJSON_Delete(cfg->custom_fields);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- mappings ---------------------------------------------------------------------- */

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

static void ticket_free(vb_ticket *t)
{
    free(t->subject);
    free(t->comment);
    free(t->priority);
    cJSON_Delete(t->tags);
    cJSON_Delete(t->cf);
}

static bool ticket_build(vbill_ctx *ctx, const vb_ticket_cfg *cfg, bool cf_array,
                         const cJSON *env, vb_ticket *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->subject = render(ctx, cfg->subject ? cfg->subject : default_subject, env, err, errlen);
    if (!t->subject)
        return false;
    t->comment = render(ctx, cfg->comment ? cfg->comment : default_comment, env, err, errlen);
    if (!t->comment)
        return false;
    t->priority = cfg->priority ? render(ctx, cfg->priority, env, err, errlen)
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
    if (cfg->tags) {
        const cJSON *x;
        cJSON_ArrayForEach(x, cfg->tags)
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
    if (cfg->custom_fields) {
        t->cf = cf_array ? cJSON_CreateArray() : cJSON_CreateObject();
        if (!t->cf)
            return false;
        const cJSON *x;
        cJSON_ArrayForEach(x, cfg->custom_fields)
        {
            const char *tmpl = cf_array
                ? cJSON_GetObjectItemCaseSensitive(x, "value")->valuestring : x->valuestring;
            char *v = render(ctx, tmpl, env, err, errlen);
            if (!v)
                return false;
            if (cf_array) {
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

/* ---- delivery ---------------------------------------------------------------------- */

char *vb_ticket_escape(vb_sink *s, const char *str)
{
    if (!s->curl && !(s->curl = curl_easy_init()))
        return NULL;
    char *e = curl_easy_escape(s->curl, str, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

/* Has a previous attempt already made the ticket?  1 yes, 0 no, -1 could not tell. */
static int ticket_exists(vb_sink *s, vb_claim *c, struct curl_slist *auth,
                         const vb_ticket_desk *d)
{
    char *url = d->lookup_url(s, c->event_id);
    if (!url)
        return -1;
    vb_http_resp r;
    char err[CURL_ERROR_SIZE + 32];
    int found = -1;
    if (!vb_http_do(s, "GET", url, auth, NULL, 0, &r, err, sizeof err)) {
        vb_http_failed(c, s, "ticket lookup", NULL, err);
    } else if (r.code == 200) {
        cJSON *j = vb_json_parse(r.body.data, r.body.len);
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, d->found_array);
        const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(j, d->found_count);
        if (cJSON_IsArray(arr))
            found = cJSON_GetArraySize(arr) > 0;
        else if (cJSON_IsNumber(cnt))
            found = cnt->valuedouble > 0;
        else
            snprintf(c->error, sizeof c->error, "%s: ticket lookup: unexpected answer", s->name);
        cJSON_Delete(j);
    } else {
        vb_http_failed(c, s, "ticket lookup", &r, NULL);
    }
    vb_buf_free(&r.body);
    free(url);
    return found;
}

void vb_ticket_deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c, const vb_ticket_cfg *cfg,
                       const vb_ticket_desk *d)
{
    struct curl_slist *auth = NULL, *jh = NULL;
    bool ok = true;
    char *body = NULL, *url = NULL;
    cJSON *env = vb_json_parse(c->body, (size_t)-1), *req = NULL;
    vb_ticket t;
    memset(&t, 0, sizeof t);
    vb_http_resp r = {0};
    char err[CURL_ERROR_SIZE + 64];
    if (!env) {
        snprintf(c->error, sizeof c->error, "%s: stored event is not JSON", s->name);
        goto out;
    }
    auth = d->auth(s, &ok);
    auth = vb_http_header(auth, &ok, "Accept: application/json");
    if (!ok)
        goto nomem;
    /* A retry (or a claim after a crash) may follow a request that made the ticket but
     * whose answer was lost: look it up by the event id before making another. */
    if (c->attempts > 1) {
        int found = ticket_exists(s, c, auth, d);
        if (found < 0)
            goto out;
        if (found) {
            c->ok = true;
            goto out;
        }
    }
    if (!ticket_build(ctx, cfg, d->cf_array, env, &t, err, sizeof err)) {
        snprintf(c->error, sizeof c->error, "%.64s: %.180s", s->name,
                 err[0] ? err : "out of memory");
        goto out;
    }
    if (!d->request(s, c, &t, auth, &url, &req))
        goto out;
    if (!(body = vb_json_print(req)))
        goto nomem;
    for (struct curl_slist *x = auth; x; x = x->next)
        jh = vb_http_header(jh, &ok, "%s", x->data);
    jh = vb_http_header(jh, &ok, "Content-Type: application/json");
    jh = vb_http_header(jh, &ok, "Idempotency-Key: %s", c->event_id);
    jh = vb_http_header(jh, &ok, "Expect:");
    if (!ok)
        goto nomem;
    bool sent = vb_http_do(s, "POST", url, jh, body, strlen(body), &r, err, sizeof err);
    if (!sent)
        vb_http_failed(c, s, "create ticket", NULL, err);
    else if (r.code == 200 || r.code == 201)
        c->ok = true;
    else
        vb_http_failed(c, s, "create ticket", &r, NULL);
    goto out;
nomem:
    snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
out:
    vb_buf_free(&r.body);
    vb_http_headers_free(auth);
    vb_http_headers_free(jh);
    free(body);
    free(url);
    ticket_free(&t);
    cJSON_Delete(env);
    cJSON_Delete(req);
}
