/* hooks_config_fuzzer.c: any bytes as a hooks configuration, event data, or a chat FAQ and
 * question.  The first byte picks the target; the rest is the input.  Everything must be
 * accepted or refused with a message, never crash, hang or leak; no event ever carries a
 * member named like "birth". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vbill_ctx *ctx;
static vbill_hooks *hooks;
static vbill_bill *bill; /* the record below, for chat answers */
static char state[64];
static int seen;
static char *last; /* the last event delivered to the callback */

static int on_event(void *user, const char *type, const char *json)
{
    (void)user;
    (void)type;
    free(last);
    if (!(last = strdup(json)))
        abort();
    seen++;
    return 0;
}

static const char record[] =
    "{\"id\":\"S-1\",\"name\":\"Kim\",\"birth\":\"1958-03-14\",\"locale\":\"en-US\","
    "\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\","
    "\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"kind\":\"mobile\",\"event\":\"new\","
    "\"start\":\"2026-11-14\",\"monthly_fee\":55000}],\"bundle\":{\"discount\":1000}}";

/* Whether any member name at any depth contains "birth", in any case. */
static int names_birth(const cJSON *v)
{
    for (const cJSON *c = v->child; c; c = c->next) {
        if (c->string)
            for (const char *r = c->string; *r; r++)
                if (strncasecmp(r, "birth", 5) == 0)
                    return 1;
        if (names_birth(c))
            return 1;
    }
    return 0;
}

/* "1958" in a JSON text, other than as the tail of a \uXXXX escape (an input byte 0x11
 * followed by "958" is written "\u0011958"). */
static int has_year(const char *json)
{
    for (const char *p = json; (p = strstr(p, "1958")); p++) {
        size_t at = (size_t)(p - json);
        int escaped = 0;
        for (size_t back = 2; back <= 5 && back <= at; back++)
            if (json[at - back] == '\\' && json[at - back + 1] == 'u')
                escaped = 1;
        if (!escaped)
            return 1;
    }
    return 0;
}

static void cleanup(void)
{
    vbill_hooks_free(hooks);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    free(last);
    static const char *const files[] = {"outbox.sqlite", "outbox.sqlite-wal",
                                        "outbox.sqlite-shm"};
    char path[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", state, files[i]);
        unlink(path);
    }
    rmdir(state);
}

static void init(void)
{
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    snprintf(state, sizeof state, "/tmp/vbill-hooks-fuzz.%ld", (long)getpid());
    if (vbill_bill_new(ctx, record, sizeof record - 1, 1, &bill) != VBILL_OK)
        abort();
    if (vbill_hooks_open(ctx, state, "{\"sync\":\"normal\",\"sinks\":[]}", &hooks) != VBILL_OK ||
        vbill_hooks_set_callback(hooks, "cb", NULL, on_event, NULL) != VBILL_OK)
        abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx)
        init();
    if (size < 1 || size > 65536)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *out = NULL;
    switch (data[0] % 3) {
    case 0: { /* configuration: only parsed (no delivery to arbitrary URLs) */
        vbill_hooks *h = NULL;
        vbill_status st = vbill_hooks_open(ctx, state, text, &h);
        if (st == VBILL_OK) {
            if (!h)
                abort();
            vbill_hooks_free(h);
        } else if (h || vbill_ctx_errmsg(ctx)[0] == '\0') {
            abort();
        }
        break;
    }
    case 1: { /* event data, delivered to a callback */
        static const char *const types[] = {"bill.viewed", "survey.answered", "chat.requested"};
        char *id = NULL;
        int before = seen;
        vbill_status st = vbill_hooks_emit(hooks, types[size % 3], "S-1", text, &id);
        if (st == VBILL_OK) {
            if (!id)
                abort();
            vbill_free(id);
            if (vbill_hooks_pump(hooks, 0, NULL) != VBILL_OK || seen != before + 1)
                abort();
            /* no member named like "birth" may survive (names compared decoded) */
            cJSON *ev = cJSON_Parse(last);
            if (!ev || names_birth(ev))
                abort();
            cJSON_Delete(ev);
        } else if (id || vbill_hooks_errmsg(hooks)[0] == '\0') {
            abort();
        }
        break;
    }
    default: { /* a chat FAQ (up to the first NUL-free newline) and a question */
        char *nl = strchr(text, '\n');
        const char *q = "why is this month lower?";
        if (nl) {
            *nl = '\0';
            q = nl + 1;
        }
        vbill_status st = vbill_chat_answer(ctx, bill, q, text, 1.0, 1796612400, &out);
        if (st == VBILL_OK) {
            /* the birth year never appears unless the customer typed it */
            if (!out || (has_year(out) && !strstr(q, "1958") && !strstr(text, "1958")))
                abort();
        } else if (out || vbill_ctx_errmsg(ctx)[0] == '\0') {
            abort();
        }
        vbill_free(out);
        break;
    }
    }
    free(text);
    return 0;
}
