/* sink_webhook.c: the envelope POSTed as JSON, signed the Standard Webhooks way
 * (webhook-id, webhook-timestamp, webhook-signature: "v1," + base64 HMAC-SHA256 over
 * "id.timestamp.body" keyed by the decoded whsec_ secret).  An event's still travels in
 * its data as {"still": {"type": "image/jpeg", "data_base64": "..."}}. */
#include "config.h"
#include "hooks/sink.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MIN_KEY 24

typedef struct webhook {
    unsigned char key[128];
    size_t key_len;
} webhook;

static vbill_status configure(vb_sink *s, vbill_ctx *ctx, const cJSON *o)
{
    webhook *w = s->priv;
    char *secret = NULL;
    vbill_status st = vb_sink_cfg_str(ctx, o, "secret", s->name, true, &secret);
    if (st)
        return st;
    const char *b = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    int len = vb_b64_decode(b, w->key, sizeof w->key);
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    if (len < 1)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"secret\" must be "
                        "whsec_ followed by base64 (at most 96 bytes)", s->name);
    /* Standard Webhooks secrets are 24 to 64 random bytes; a short one can be guessed */
    if (len < MIN_KEY)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"secret\" is %d bytes; "
                        "it must be at least %d random bytes (whsec_ + base64)", s->name, len,
                        MIN_KEY);
    w->key_len = (size_t)len;
    return VBILL_OK;
}

/* The envelope with the still in its data (added at delivery: the outbox keeps the JPEG
 * apart, and other sinks attach it their own way).  NULL on allocation failure. */
static char *with_still(const vb_claim *c)
{
    cJSON *env = vb_json_parse(c->body, strlen(c->body));
    cJSON *data = cJSON_GetObjectItemCaseSensitive(env, "data");
    if (env && !cJSON_IsObject(data)) {
        cJSON_DeleteItemFromObjectCaseSensitive(env, "data");
        data = cJSON_AddObjectToObject(env, "data");
    }
    char *b64 = vb_b64_encode(c->att, c->att_len), *out = NULL;
    cJSON *still = data && b64 ? cJSON_CreateObject() : NULL;
    if (still && cJSON_AddStringToObject(still, "type", "image/jpeg") &&
        cJSON_AddStringToObject(still, "data_base64", b64)) {
        cJSON_DeleteItemFromObjectCaseSensitive(data, "still");
        cJSON_AddItemToObject(data, "still", still);
        out = vb_json_print(env);
    } else {
        cJSON_Delete(still);
    }
    free(b64);
    cJSON_Delete(env);
    return out;
}

static void deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c)
{
    (void)ctx;
    const webhook *w = s->priv;
    char *own = c->att && c->att_len ? with_still(c) : NULL;
    if (c->att && c->att_len && !own) {
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
        return;
    }
    const char *body = own ? own : c->body;
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)(vb_now_ms() / 1000));
    /* signature over "id.timestamp.body" */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t idl = strlen(c->event_id), tsl = strlen(ts), bl = strlen(body);
    char *msg = malloc(idl + tsl + bl + 3);
    if (!msg) {
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
        free(own);
        return;
    }
    memcpy(msg, c->event_id, idl);
    msg[idl] = '.';
    memcpy(msg + idl + 1, ts, tsl);
    msg[idl + 1 + tsl] = '.';
    memcpy(msg + idl + tsl + 2, body, bl);
    HMAC(EVP_sha256(), w->key, (int)w->key_len, (unsigned char *)msg, idl + tsl + bl + 2, mac,
         &maclen);
    free(msg);
    char *sig = vb_b64_encode(mac, maclen);
    bool ok = sig != NULL;
    struct curl_slist *h = NULL;
    h = vb_http_header(h, &ok, "Content-Type: application/json");
    h = vb_http_header(h, &ok, "webhook-id: %s", c->event_id);
    h = vb_http_header(h, &ok, "webhook-timestamp: %s", ts);
    h = vb_http_header(h, &ok, "webhook-signature: v1,%s", sig ? sig : "");
    h = vb_http_header(h, &ok, "ce-id: %s", c->event_id);
    h = vb_http_header(h, &ok, "Expect:");
    free(sig);
    if (!ok) {
        curl_slist_free_all(h);
        snprintf(c->error, sizeof c->error, "%s: out of memory", s->name);
        free(own);
        return;
    }
    vb_http_resp r;
    char err[CURL_ERROR_SIZE + 32];
    if (!vb_http_do(s, "POST", s->url, h, body, bl, &r, err, sizeof err))
        vb_http_failed(c, s, "POST", NULL, err);
    else if (r.code >= 200 && r.code < 300)
        c->ok = true;
    else
        vb_http_failed(c, s, "POST", &r, NULL);
    vb_buf_free(&r.body);
    curl_slist_free_all(h);
    free(own);
}

/* The key is in s->priv, which vb_sink_clear wipes. */
const vb_sink_type vb_sink_webhook = {
    .name = "webhook",
    .timeout_ms = 2000,
    .has_url = true,
    .priv_size = sizeof(webhook),
    .configure = configure,
    .deliver = deliver,
};
