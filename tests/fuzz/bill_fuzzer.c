/* bill_fuzzer.c: any bytes through vbill_bill_from_json (bill.json as the viewer reads it from
 * the store).  They must be accepted or refused, never crash, hang or leak; a refusal says why;
 * what is accepted writes itself back out as JSON that reads back to the same text, without a
 * member named "birth". */
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
    vbill_bill *b = NULL, *again = NULL;
    if (vbill_bill_from_json(ctx, (const char *)data, size, &b) != VBILL_OK) {
        if (b || vbill_ctx_errmsg(ctx)[0] == '\0')
            abort(); /* a failure always says why and returns nothing */
        return 0;
    }
    char *out = NULL, *out2 = NULL;
    if (vbill_bill_to_json(ctx, b, &out) != VBILL_OK || strstr(out, "\"birth\":") ||
        vbill_bill_from_json(ctx, out, (size_t)-1, &again) != VBILL_OK ||
        vbill_bill_to_json(ctx, again, &out2) != VBILL_OK || strcmp(out, out2) != 0)
        abort();
    if (vbill_bill_can_issue_link(b) || !vbill_bill_id(b) || !vbill_bill_cycle(b))
        abort();
    vbill_free(out);
    vbill_free(out2);
    vbill_bill_free(b);
    vbill_bill_free(again);
    return 0;
}
