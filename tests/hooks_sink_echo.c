/* hooks_sink_echo.c: a help desk that exists only in tests (tests/test_hooks_sinks.c): it
 * appends "TYPE ID" to the file its "path" key names, and holds a "token" it must wipe.
 * It is written the way a new help desk is: one file defining a vb_sink_type, using only
 * hooks/sink.h; the table entry is in tests/hooks_sinks_echo.c. */
#include "config.h"
#include "hooks/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many echo sinks were cleared, and whether each token was wiped before its free. */
int vb_test_echo_cleared;
int vb_test_echo_token_wiped;

typedef struct echo {
    char *path;
    char *token;
} echo;

static const char *const echo_events[] = {"bill.*"};

static vbill_status configure(vb_sink *s, vbill_ctx *ctx, const cJSON *o)
{
    echo *e = s->priv;
    vbill_status st;
    if ((st = vb_sink_cfg_str(ctx, o, "path", s->name, true, &e->path)) ||
        (st = vb_sink_cfg_str(ctx, o, "token", s->name, true, &e->token)))
        return st;
    if (strlen(e->token) < 8)
        return vb_error(ctx, VBILL_ERR_HOOK, "hooks config: sink '%s': \"token\" is too short",
                        s->name);
    return VBILL_OK;
}

static void deliver(vb_sink *s, vbill_ctx *ctx, vb_claim *c)
{
    (void)ctx;
    echo *e = s->priv;
    if (strstr(c->body, "\"fail\":true")) {
        snprintf(c->error, sizeof c->error, "%s: asked to fail", s->name);
        c->retry_at_ms = vb_now_ms() + 1;
        return;
    }
    FILE *f = fopen(e->path, "a");
    if (!f) {
        snprintf(c->error, sizeof c->error, "%s: cannot open its file", s->name);
        return;
    }
    fprintf(f, "%s %s %d\n", c->type, c->event_id, c->attempts);
    c->ok = fclose(f) == 0;
}

static void clear(vb_sink *s)
{
    echo *e = s->priv;
    vb_test_echo_cleared++;
    if (e->token) {
        memset(e->token, 0, strlen(e->token));
        vb_test_echo_token_wiped++;
    }
    free(e->token);
    free(e->path);
}

const vb_sink_type vb_sink_echo = {
    .name = "echo",
    .events = echo_events,
    .nevents = 1,
    .timeout_ms = 1000,
    .priv_size = sizeof(echo),
    .configure = configure,
    .deliver = deliver,
    .clear = clear,
};
