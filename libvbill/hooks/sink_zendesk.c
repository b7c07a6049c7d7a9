/* sink_zendesk.c: Zendesk Support tickets (API v2): basic auth with an API token,
 * external_id = the event id (looked up before a retry), the still through the uploads
 * API. */
#include "config.h"
#include "hooks/ticket.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

typedef struct zendesk {
    vb_ticket_cfg map;
    char *email, *token;
} zendesk;

static vbill_status configure(vb_sink *s, vbill_ctx *ctx, const cJSON *o)
{
    zendesk *z = s->priv;
    vbill_status st;
    if ((st = vb_sink_cfg_str(ctx, o, "email", s->name, true, &z->email)) ||
        (st = vb_sink_cfg_str(ctx, o, "token", s->name, true, &z->token)))
        return st;
    return vb_ticket_configure(&z->map, ctx, o, s->name, true);
}

static void clear(vb_sink *s)
{
    zendesk *z = s->priv;
    if (!z)
        return;
    if (z->token)
        OPENSSL_cleanse(z->token, strlen(z->token));
    free(z->token);
    free(z->email);
    vb_ticket_cfg_clear(&z->map);
}

static struct curl_slist *auth(vb_sink *s, bool *ok)
{
    const zendesk *z = s->priv;
    vb_buf b = {0};
    vb_buf_printf(&b, "%s/token:%s", z->email, z->token);
    char *cred = b.data && !b.failed ? vb_b64_encode((unsigned char *)b.data, b.len) : NULL;
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    vb_buf_free(&b);
    if (!cred) {
        *ok = false;
        return NULL;
    }
    struct curl_slist *h = vb_http_header(NULL, ok, "Authorization: Basic %s", cred);
    OPENSSL_cleanse(cred, strlen(cred));
    free(cred);
    return h;
}

static char *lookup_url(vb_sink *s, const char *event_id)
{
    char *e = vb_ticket_escape(s, event_id);
    if (!e)
        return NULL;
    vb_buf u = {0};
    vb_buf_printf(&u, "%s/api/v2/tickets.json?external_id=%s", s->url, e);
    free(e);
    return vb_buf_take(&u);
}

/* Uploads the still; its token in *token. */
static bool upload(vb_sink *s, vb_claim *c, struct curl_slist *auth, char **token)
{
    struct curl_slist *uh = NULL;
    bool ok = true, done = false;
    vb_buf u = {0};
    vb_http_resp r = {0};
    char err[CURL_ERROR_SIZE + 64];
    vb_buf_printf(&u, "%s/api/v2/uploads.json?filename=still-%s.jpg", s->url, c->event_id);
    for (struct curl_slist *x = auth; x; x = x->next)
        uh = vb_http_header(uh, &ok, "%s", x->data);
    uh = vb_http_header(uh, &ok, "Content-Type: image/jpeg");
    uh = vb_http_header(uh, &ok, "Expect:");
    if (!ok || u.failed) {
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
        goto out;
    }
    bool sent = vb_http_do(s, "POST", u.data, uh, c->att, c->att_len, &r, err, sizeof err);
    if (!sent || (r.code != 200 && r.code != 201)) {
        vb_http_failed(c, s, "upload", sent ? &r : NULL, sent ? NULL : err);
        goto out;
    }
    cJSON *j = vb_json_parse(r.body.data, r.body.len);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "upload"), "token");
    if (cJSON_IsString(tok))
        *token = strdup(tok->valuestring);
    cJSON_Delete(j);
    if (!*token)
        snprintf(c->error, sizeof c->error, "%s: upload: no token in the answer", s->name);
    done = *token != NULL;
out:
    vb_buf_free(&r.body);
    vb_buf_free(&u);
    vb_http_headers_free(uh);
    return done;
}

static bool request(vb_sink *s, vb_claim *c, vb_ticket *t, struct curl_slist *auth, char **url,
                    cJSON **req)
{
    char *upload_token = NULL;
    if (c->att && !upload(s, c, auth, &upload_token))
        return false;
    bool ok = false;
    cJSON *tk, *cm = NULL;
    vb_buf u = {0};
    if (!(*req = cJSON_CreateObject()) || !(tk = cJSON_AddObjectToObject(*req, "ticket")) ||
        !(cm = cJSON_CreateObject()))
        goto out;
    cJSON_AddStringToObject(tk, "subject", t->subject);
    cJSON_AddStringToObject(cm, "body", t->comment);
    cJSON_AddBoolToObject(cm, "public", false);
    if (upload_token) {
        cJSON *ups = cJSON_AddArrayToObject(cm, "uploads");
        cJSON_AddItemToArray(ups, cJSON_CreateString(upload_token));
    }
    cJSON_AddItemToObject(tk, "comment", cm);
    cm = NULL;
    cJSON_AddStringToObject(tk, "external_id", c->event_id);
    cJSON_AddStringToObject(tk, "priority", t->priority);
    cJSON_AddItemToObject(tk, "tags", t->tags);
    t->tags = NULL;
    if (t->cf) {
        cJSON_AddItemToObject(tk, "custom_fields", t->cf);
        t->cf = NULL;
    }
    vb_buf_printf(&u, "%s/api/v2/tickets.json", s->url);
    ok = !u.failed && (*url = vb_buf_take(&u)) != NULL;
out:
    if (!ok)
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
    vb_buf_free(&u);
    cJSON_Delete(cm);
    free(upload_token);
    return ok;
}

static const vb_ticket_desk desk = {
    .cf_array = true,
    .found_array = "tickets",
    .found_count = "count",
    .auth = auth,
    .lookup_url = lookup_url,
    .request = request,
};

static void deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c)
{
    const zendesk *z = s->priv;
    vb_ticket_deliver(s, ctx, c, &z->map, &desk);
}

const vb_sink_type vb_sink_zendesk = {
    .name = "zendesk",
    .events = vb_ticket_events,
    .nevents = VB_TICKET_NEVENTS,
    .timeout_ms = 10000,
    .has_url = true,
    .base_url = true,
    .credentials = true,
    .priv_size = sizeof(zendesk),
    .configure = configure,
    .deliver = deliver,
    .clear = clear,
};
