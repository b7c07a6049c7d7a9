/* record_fuzzer.c: any bytes through the record parser, classification, filling and the bill;
 * they must be accepted or rejected, never crash, hang or leak.  What is accepted must come
 * out as a JSON object in valid UTF-8; the bill must carry no birth date and must read back
 * from its own serialisation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vbill.h"

static bool utf8_ok(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                         : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len)
            return false;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (unsigned k = 1; k < len; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[k] & 0x3f);
        }
        static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += len;
    }
    return true;
}

/* A JSON object in valid UTF-8; with no_birth, without a top-level "birth". */
static void check_output(const char *out, bool no_birth)
{
    if (!out || !utf8_ok((const unsigned char *)out))
        abort();
    cJSON *v = cJSON_Parse(out);
    if (!cJSON_IsObject(v) || (no_birth && cJSON_GetObjectItemCaseSensitive(v, "birth")))
        abort();
    cJSON_Delete(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vbill_ctx *ctx;
    if (!ctx && vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    char *out = NULL;
    const char *rec = (const char *)data;
    if (vbill_fill(ctx, rec, size, 1, &out) == VBILL_OK) {
        check_output(out, false);
        vbill_free(out);
        vbill_bill *b = NULL, *back = NULL;
        if (vbill_bill_new(ctx, rec, size, 1, &b) != VBILL_OK)
            abort(); /* what fill accepts, the bill must accept too */
        if (vbill_bill_context(ctx, b, &out) != VBILL_OK)
            abort();
        check_output(out, true);
        vbill_free(out);
        if (vbill_bill_to_json(ctx, b, &out) != VBILL_OK)
            abort();
        check_output(out, true);
        if (strstr(out, "\"birth\":") || vbill_bill_from_json(ctx, out, (size_t)-1, &back) != VBILL_OK)
            abort(); /* a bill always reads back from what it wrote */
        vbill_free(out);
        vbill_bill_free(back);
        vbill_bill_free(b);
    } else if (out || vbill_ctx_errmsg(ctx)[0] == '\0') {
        abort(); /* a failure always says why and returns nothing */
    }
    return 0;
}
