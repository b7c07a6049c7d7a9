/* auth.h: what auth.c, store.c and store_redis.c share (internal, hidden). */
#ifndef VB_AUTH_H
#define VB_AUTH_H

#include "bill.h"

struct vbill_store {
    vbill_store_ops ops;
    void *impl;
    int soft, hard, client_max;
    int64_t cooling, client_window;
    vbill_lock_fn lock_fn;
    void *lock_user;
    char errmsg[512]; /* of the last failed operation (vbill_store_errmsg) */
};

/* Makes a store around ops/impl with the default limits; closes impl on failure. */
vbill_status vb_store_wrap(vbill_ctx *ctx, const vbill_store_ops *ops, void *impl,
                           vbill_store **out);

#endif
