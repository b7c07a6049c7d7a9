/* sink_callback.c: the host's own sink: a function called with the event's type and
 * envelope on the thread that pumps.  It returns 0 (handled), seconds to retry after (> 0)
 * or < 0 (retry after the usual backoff).  A sink configured as "callback" waits for its
 * function (vbill_hooks_set_callback); until then its deliveries fail and are retried. */
#include "config.h"
#include "hooks/sink_callback.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct callback {
    pthread_mutex_t lock; /* fn and user may be rebound while a pump delivers */
    vbill_hook_fn fn;
    void *user;
} callback;

static vbill_status configure(vb_sink *s, vbill_ctx *ctx, const cJSON *o)
{
    (void)o;
    callback *cb = s->priv;
    if (pthread_mutex_init(&cb->lock, NULL) != 0) {
        s->priv = NULL; /* nothing to destroy in clear */
        free(cb);
        return vb_error(ctx, VBILL_ERR_NOMEM, "hooks: cannot create a lock");
    }
    return VBILL_OK;
}

static void clear(vb_sink *s)
{
    callback *cb = s->priv;
    if (cb)
        pthread_mutex_destroy(&cb->lock);
}

void vb_sink_callback_bind(vb_sink *s, vbill_hook_fn fn, void *user)
{
    callback *cb = s->priv;
    pthread_mutex_lock(&cb->lock);
    cb->fn = fn;
    cb->user = user;
    pthread_mutex_unlock(&cb->lock);
}

static void deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c)
{
    (void)ctx;
    callback *cb = s->priv;
    pthread_mutex_lock(&cb->lock);
    vbill_hook_fn fn = cb->fn;
    void *user = cb->user;
    pthread_mutex_unlock(&cb->lock);
    if (!fn) {
        snprintf(c->error, sizeof c->error, "callback sink '%s' has no function registered",
                 s->name);
        return;
    }
    int rc = fn(user, c->type, c->body);
    if (rc == 0) {
        c->ok = true;
        return;
    }
    snprintf(c->error, sizeof c->error, "%s: callback asked to retry", s->name);
    if (rc > 0)
        c->retry_at_ms = vb_now_ms() + (int64_t)rc * 1000;
}

const vb_sink_type vb_sink_callback = {
    .name = "callback",
    .priv_size = sizeof(callback),
    .configure = configure,
    .deliver = deliver,
    .clear = clear,
};
