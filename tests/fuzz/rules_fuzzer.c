/* rules_fuzzer.c: any bytes as a carrier rule set; a rule set that loads must classify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char REC[] =
    "{\"id\":\"F\",\"name\":\"n\",\"birth\":\"1960-01-01\",\"bill\":{\"issue_date\":\"2026-12-05\","
    "\"cycle_start\":\"2026-11-01\",\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"kind\":\"mobile\","
    "\"event\":\"new\",\"start\":\"2026-11-10\",\"monthly_fee\":100},{\"kind\":\"home\","
    "\"event\":\"recontract\",\"start\":\"2026-11-01\",\"monthly_fee\":5}],\"bundle\":{\"discount\":1}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vbill_ctx *ctx;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    if (vbill_ctx_set_rules(ctx, (const char *)data, size) == VBILL_OK) {
        char *out = NULL;
        if (vbill_classify(ctx, REC, strlen(REC), 1, &out) != VBILL_OK)
            abort();
        vbill_free(out);
    } else if (vbill_ctx_errmsg(ctx)[0] == '\0') {
        abort();
    }
    vbill_ctx_free(ctx);
    return 0;
}
