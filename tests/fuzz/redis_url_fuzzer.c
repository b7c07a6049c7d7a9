/* redis_url_fuzzer.c: any bytes through the Redis URL parser (vb_redis_url_parse, what
 * vbill_store_open_redis_url and `vbill ... --redis URL` read).  Linked against the static
 * library to reach the internal parser, so nothing connects anywhere.  It must accept or
 * refuse, never crash, hang or leak; what it accepts is a usable target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    vb_redis_url u;
    char err[256];
    err[0] = '\0';
    if (vb_redis_url_parse(s, &u, err, sizeof err)) {
        if (!u.host || !*u.host || u.port < 1 || u.port > 65535 || u.db < 0 || u.db > 65535)
            abort();
        if (!u.tls && (u.cacert || u.capath || u.cert || u.key || u.sni))
            abort();
        if ((u.cert == NULL) != (u.key == NULL) || (u.user && !u.password))
            abort();
        if (u.tls != (strncmp(s, "rediss://", 9) == 0))
            abort();
        vb_redis_url_free(&u);
    } else if (!err[0] || strlen(err) >= sizeof err || u.host || u.password) {
        abort(); /* refused: a message, and nothing left to free */
    }
    free(s);
    return 0;
}
