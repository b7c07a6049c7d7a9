/* auth.h: what auth.c, store.c and store_redis.c share (internal, hidden). */
#ifndef VB_AUTH_H
#define VB_AUTH_H

#include "bill.h"

/* Counts a handle keeps since it was opened (vbill_store_stats). */
typedef struct vb_store_counts {
    int64_t checks, passed, failed, locked, slowed, alarms;
} vb_store_counts;

struct vbill_store {
    vbill_store_ops ops;
    void *impl;
    int soft, hard, client_max, sub_max;
    int64_t cooling, client_window, slow;
    int64_t alarm_max, alarm_window;
    vbill_lock_fn lock_fn, alarm_fn;
    void *lock_user, *alarm_user;
    vb_store_counts counts;
    char errmsg[512]; /* of the last failed operation (vbill_store_errmsg) */
};

/* Makes a store around ops/impl with the default limits; closes impl on failure. */
vbill_status vb_store_wrap(vbill_ctx *ctx, const vbill_store_ops *ops, void *impl,
                           vbill_store **out);

/* The bounded, atomic add of the store (ops.add), or its emulation with incr/get for a
 * store of version 1 or 2 (exact without concurrency only).  *applied tells whether the
 * counter moved; op_id names the operation (see vbill_store_ops.add). */
vbill_status vb_store_add(vbill_store *s, const char *key, int64_t delta, int64_t limit,
                          int64_t ttl, int64_t now, const char *op_id, int64_t *value,
                          bool *applied);

/* A Redis URL taken apart (store_redis.c): redis[s]://[user[:password]@]host[:port][/db]
 * [?cacert=FILE&capath=DIR&cert=FILE&key=FILE&sni=NAME].  Strings are malloc'd
 * (vb_redis_url_free wipes the password).  On failure err names the problem (never the
 * password). */
typedef struct vb_redis_url {
    bool tls;
    char *host, *user, *password, *cacert, *capath, *cert, *key, *sni;
    int port, db;
} vb_redis_url;
bool vb_redis_url_parse(const char *url, vb_redis_url *out, char *err, size_t errlen);
void vb_redis_url_free(vb_redis_url *u);

#endif
