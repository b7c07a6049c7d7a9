/* store_redis.c: the attempt limiter's state in Redis (hiredis), for carriers that run
 * several viewer servers behind a load balancer.  Counters are updated by a Lua script
 * (INCRBY and EXPIRE in one atomic step) and expire in Redis itself. */
#include "config.h"
#include "auth.h"

#ifdef VBILL_HAVE_REDIS
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd_store {
    redisContext *c;
    char prefix[64];
} rd_store;

/* KEYS[1] counter; ARGV[1] delta; ARGV[2] ttl seconds (0: none).  A fresh counter gets the
 * expiry; an existing one keeps its own. */
static const char INCR_LUA[] =
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "local t = tonumber(ARGV[2]) "
    "if t > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], t) end "
    "return v";

static void rd_close(void *impl)
{
    rd_store *s = impl;
    if (!s)
        return;
    if (s->c)
        redisFree(s->c);
    free(s);
}

static bool rd_key(rd_store *s, const char *key, char *out, size_t n)
{
    int w = snprintf(out, n, "%s%s", s->prefix, key);
    return w > 0 && (size_t)w < n;
}

/* Runs a command; reconnects once when the connection dropped (a Redis restart). */
static redisReply *rd_cmd(rd_store *s, int argc, const char **argv)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s->c->err && redisReconnect(s->c) != REDIS_OK)
            return NULL;
        redisReply *r = redisCommandArgv(s->c, argc, argv, NULL);
        if (r)
            return r;
    }
    return NULL;
}

static vbill_status rd_int_reply(redisReply *r, int64_t *value)
{
    vbill_status st = VBILL_OK;
    if (!r)
        return VBILL_ERR_STORE;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (value)
            *value = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
        if (value) {
            char *end;
            *value = strtoll(r->str, &end, 10);
            if (*end)
                st = VBILL_ERR_STORE;
        }
    } else if (r->type == REDIS_REPLY_NIL) {
        if (value)
            *value = 0;
    } else if (r->type == REDIS_REPLY_STATUS) {
        if (value)
            *value = 0;
    } else {
        st = VBILL_ERR_STORE;
    }
    freeReplyObject(r);
    return st;
}

static vbill_status rd_incr(void *impl, const char *key, int64_t delta, int64_t ttl,
                            int64_t now, int64_t *value)
{
    (void)now; /* Redis expires by its own clock */
    rd_store *s = impl;
    char k[512], d[24], t[24];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    snprintf(d, sizeof d, "%lld", (long long)delta);
    snprintf(t, sizeof t, "%lld", (long long)(ttl > 0 ? ttl : 0));
    const char *argv[] = {"EVAL", INCR_LUA, "1", k, d, t};
    return rd_int_reply(rd_cmd(s, 6, argv), value);
}

static vbill_status rd_get(void *impl, const char *key, int64_t now, int64_t *value)
{
    (void)now;
    rd_store *s = impl;
    char k[512];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    const char *argv[] = {"GET", k};
    return rd_int_reply(rd_cmd(s, 2, argv), value);
}

static vbill_status rd_set(void *impl, const char *key, int64_t value, int64_t ttl, int64_t now)
{
    (void)now;
    rd_store *s = impl;
    char k[512], v[24], t[24];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    snprintf(v, sizeof v, "%lld", (long long)value);
    snprintf(t, sizeof t, "%lld", (long long)ttl);
    const char *argv[] = {"SET", k, v, "EX", t};
    return rd_int_reply(rd_cmd(s, ttl > 0 ? 5 : 3, argv), NULL);
}

static vbill_status rd_del(void *impl, const char *key)
{
    rd_store *s = impl;
    char k[512];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    const char *argv[] = {"DEL", k};
    return rd_int_reply(rd_cmd(s, 2, argv), NULL);
}

static const char *rd_errmsg(void *impl)
{
    const rd_store *s = impl;
    return s->c && s->c->err ? s->c->errstr : "unexpected reply";
}

static const vbill_store_ops rd_ops = {VBILL_STORE_OPS_VERSION, rd_incr, rd_get, rd_set, rd_del,
                                       rd_close, rd_errmsg};

VBILL_API vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out)
{
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no store to return");
    *out = NULL;
    if (!host || !*host || port < 1 || port > 65535)
        return vb_error(ctx, VBILL_ERR_ARG, "Redis store: a host and a port 1-65535 are needed");
    if (!prefix)
        prefix = "vbill:";
    if (strlen(prefix) >= sizeof(((rd_store *)0)->prefix))
        return vb_error(ctx, VBILL_ERR_ARG, "Redis store: key prefix longer than 63 bytes");
    rd_store *s = calloc(1, sizeof *s);
    if (!s)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    struct timeval tv = {5, 0};
    s->c = redisConnectWithTimeout(host, port, tv);
    if (!s->c || s->c->err) {
        vbill_status st = vb_error(ctx, VBILL_ERR_STORE, "Redis store %s:%d: cannot connect: %s",
                                   host, port, s->c ? s->c->errstr : "out of memory");
        rd_close(s);
        return st;
    }
    redisSetTimeout(s->c, tv);
    const char *argv[] = {"PING"};
    redisReply *r = redisCommandArgv(s->c, 1, argv, NULL);
    bool ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING);
    if (r)
        freeReplyObject(r);
    if (!ok) {
        vbill_status st = vb_error(ctx, VBILL_ERR_STORE, "Redis store %s:%d: no answer to PING: %s",
                                   host, port, s->c->err ? s->c->errstr : "unexpected reply");
        rd_close(s);
        return st;
    }
    return vb_store_wrap(ctx, &rd_ops, s, out);
}

#else /* built with --disable-redis */

VBILL_API vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out)
{
    (void)host, (void)port, (void)prefix;
    vb_clear_error(ctx);
    if (out)
        *out = NULL;
    return vb_error(ctx, VBILL_ERR_UNSUPPORTED,
                    "Redis store: this libvbill was built without Redis (configure --disable-redis)");
}

#endif
