/* bill_dump.c: prints the serialised bill (bill.json, as `vbill batch` stores it) of the
 * record on standard input, for tests/narration_cli.py, which reads `vbill narration` of a
 * bill.json without running a batch (a batch prepares the templates first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vbill.h"

int main(void)
{
    size_t cap = 1 << 20, len;
    char *buf = malloc(cap);
    if (!buf)
        return 1;
    len = fread(buf, 1, cap - 1, stdin);
    buf[len] = '\0';
    vbill_ctx *ctx;
    vbill_bill *bill = NULL;
    char *json = NULL;
    int rc = 0;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        return 1;
    if (vbill_bill_new(ctx, buf, len, 1, &bill) != VBILL_OK ||
        vbill_bill_to_json(ctx, bill, &json) != VBILL_OK) {
        fprintf(stderr, "bill_dump: %s\n", vbill_ctx_errmsg(ctx));
        rc = 1;
    } else {
        printf("%s\n", json);
    }
    vbill_free(json);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    free(buf);
    return rc;
}
