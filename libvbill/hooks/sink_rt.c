/* sink_rt.c: Request Tracker tickets (REST2): token auth, the event id in a custom field
 * (id_field, looked up with TicketSQL before a retry), the still as an attachment. */
#include "config.h"
#include "hooks/ticket.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

typedef struct rt {
    vb_ticket_cfg map;
    char *token, *queue, *id_field;
} rt;

static vbill_status configure(vb_sink *s, vbill_ctx *ctx, const cJSON *o)
{
    rt *r = s->priv;
    const char *n = s->name;
    vbill_status st;
    if ((st = vb_sink_cfg_str(ctx, o, "token", n, true, &r->token)) ||
        (st = vb_sink_cfg_str(ctx, o, "queue", n, false, &r->queue)) ||
        (st = vb_sink_cfg_str(ctx, o, "id_field", n, false, &r->id_field)))
        return st;
    if ((!r->queue && !(r->queue = strdup("General"))) ||
        (!r->id_field && !(r->id_field = strdup("vbill-event-id"))))
        return vb_error(ctx, VBILL_ERR_NOMEM, "hooks config: out of memory");
    /* it goes into a TicketSQL query between 'CF.{' and '}' */
    if (strchr(r->id_field, '\'') || strchr(r->id_field, '}'))
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': bad \"id_field\"", n);
    return vb_ticket_configure(&r->map, ctx, o, n, false);
}

static void clear(vb_sink *s)
{
    rt *r = s->priv;
    if (!r)
        return;
    if (r->token)
        OPENSSL_cleanse(r->token, strlen(r->token));
    free(r->token);
    free(r->queue);
    free(r->id_field);
    vb_ticket_cfg_clear(&r->map);
}

static struct curl_slist *auth(vb_sink *s, bool *ok)
{
    const rt *r = s->priv;
    return vb_http_header(NULL, ok, "Authorization: token %s", r->token);
}

static char *lookup_url(vb_sink *s, const char *event_id)
{
    const rt *r = s->priv;
    vb_buf q = {0};
    vb_buf_printf(&q, "'CF.{%s}'='%s'", r->id_field, event_id);
    char *e = q.failed ? NULL : vb_ticket_escape(s, q.data);
    vb_buf_free(&q);
    if (!e)
        return NULL;
    vb_buf u = {0};
    vb_buf_printf(&u, "%s/REST/2.0/tickets?query=%s&fields=id", s->url, e);
    free(e);
    return vb_buf_take(&u);
}

static bool request(vb_sink *s, vb_claim *c, vb_ticket *t, struct curl_slist *auth, char **url,
                    cJSON **req)
{
    (void)auth;
    const rt *r = s->priv;
    bool ok = false;
    char *att64 = NULL;
    vb_buf u = {0};
    if (!(*req = cJSON_CreateObject()))
        goto out;
    cJSON_AddStringToObject(*req, "Queue", r->queue);
    cJSON_AddStringToObject(*req, "Subject", t->subject);
    cJSON_AddStringToObject(*req, "Content", t->comment);
    cJSON_AddStringToObject(*req, "ContentType", "text/plain");
    static const struct { const char *name; int value; } pr[] = {
        {"urgent", 90}, {"high", 70}, {"normal", 50}, {"low", 20}};
    for (size_t i = 0; i < VB_ARRAY_LEN(pr); i++)
        if (strcmp(t->priority, pr[i].name) == 0)
            cJSON_AddItemToObject(*req, "Priority", vb_json_int(pr[i].value));
    cJSON *cf = t->cf ? t->cf : cJSON_CreateObject();
    t->cf = NULL;
    if (!cf)
        goto out;
    cJSON_DeleteItemFromObjectCaseSensitive(cf, r->id_field);
    cJSON_AddStringToObject(cf, r->id_field, c->event_id);
    cJSON_AddItemToObject(*req, "CustomFields", cf);
    if (c->att) {
        att64 = vb_b64_encode(c->att, c->att_len);
        cJSON *arr = cJSON_AddArrayToObject(*req, "Attachments");
        cJSON *a = cJSON_CreateObject();
        if (!att64 || !arr || !a) {
            cJSON_Delete(a);
            goto out;
        }
        char fname[64];
        snprintf(fname, sizeof fname, "still-%s.jpg", c->event_id);
        cJSON_AddStringToObject(a, "FileName", fname);
        cJSON_AddStringToObject(a, "FileType", "image/jpeg");
        cJSON_AddStringToObject(a, "FileContent", att64);
        cJSON_AddItemToArray(arr, a);
    }
    vb_buf_printf(&u, "%s/REST/2.0/ticket", s->url);
    ok = !u.failed && (*url = vb_buf_take(&u)) != NULL;
out:
    if (!ok)
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
    vb_buf_free(&u);
    free(att64);
    return ok;
}

static const vb_ticket_desk desk = {
    .cf_array = false,
    .found_array = "items",
    .found_count = "total",
    .auth = auth,
    .lookup_url = lookup_url,
    .request = request,
};

static void deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c)
{
    const rt *r = s->priv;
    vb_ticket_deliver(s, ctx, c, &r->map, &desk);
}

const vb_sink_type vb_sink_rt = {
    .name = "rt",
    .events = vb_ticket_events,
    .nevents = VB_TICKET_NEVENTS,
    .timeout_ms = 10000,
    .has_url = true,
    .base_url = true,
    .credentials = true,
    .priv_size = sizeof(rt),
    .configure = configure,
    .deliver = deliver,
    .clear = clear,
};
