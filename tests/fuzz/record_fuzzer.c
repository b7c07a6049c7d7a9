/* record_fuzzer.c: any bytes through the record parser, classification, filling and the
 * Mustache context; they must be accepted or rejected, never crash, hang or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vbill_ctx *ctx;
    if (!ctx && vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    char *out = NULL;
    const char *rec = (const char *)data;
    if (vbill_fill(ctx, rec, size, 1, &out) == VBILL_OK) {
        if (!out)
            abort();
        vbill_free(out);
        if (vbill_fill_context(ctx, rec, size, 1, &out) != VBILL_OK || !out)
            abort(); /* what fill accepts, the context must accept too */
        vbill_free(out);
    } else if (out || vbill_ctx_errmsg(ctx)[0] == '\0') {
        abort(); /* a failure always says why and returns nothing */
    }
    return 0;
}
