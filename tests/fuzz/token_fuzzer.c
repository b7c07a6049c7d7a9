/* token_fuzzer.c: any bytes through the token parsers: link tokens (vbill_link_verify),
 * session tokens (vbill_session_verify) and key files (vbill_keys_from_json).  They must be
 * accepted or refused with a status, never crash, hang or leak; only the checked-in valid
 * token may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A test key (never used anywhere else) and a link and session made with it. */
static const char KEYS[] =
    "{\"vbill_keys\":1,\"signing\":\"bc8a\",\"keys\":[{\"kid\":\"bc8a\","
    "\"secret\":\"ivRff9D-QhcSIVbYW9ZX9WB-m5RX3lSc1jUv660Nmt4\","
    "\"pepper\":\"psWR2sxfcd01ASeVRpzb_s5Nffh2lbgZsptSvaZT0p4\"}]}";
static const char LINK[] = "AbyKm3O1iQRmkfurqVDgWQVfCoEFaqdtVLl1oPU1QzD6zu3mpp-k";
#define NOW 1795000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vbill_ctx *ctx;
    static vbill_keys *keys;
    if (!ctx && (vbill_ctx_new(&ctx) != VBILL_OK ||
                 vbill_keys_from_json(ctx, KEYS, (size_t)-1, &keys) != VBILL_OK ||
                 vbill_link_verify(ctx, keys, LINK, NOW, NULL) != VBILL_OK))
        abort();
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (size > 0 && s[0] == '{') {
        vbill_keys *k = NULL;
        vbill_status st = vbill_keys_from_json(ctx, s, size, &k);
        if ((st == VBILL_OK) != (k != NULL))
            abort();
        if (k) {
            st = vbill_link_verify(ctx, k, LINK, NOW, NULL); /* any answer but a crash */
            (void)st;
            vbill_keys_free(k);
        }
    } else {
        char *info = NULL;
        vbill_status st = vbill_link_verify(ctx, keys, s, NOW, &info);
        if (st == VBILL_OK) {
            /* Strict base64url: only the genuine token's exact text verifies. */
            if (!info || strcmp(s, LINK) != 0)
                abort();
        } else if (info || st < VBILL_ERR_LINK_MALFORMED || st > VBILL_ERR_LINK_KEY) {
            abort();
        }
        vbill_free(info);
        st = vbill_session_verify(ctx, keys, NULL, s, LINK, "fuzz", NOW);
        if (st != VBILL_OK && st != VBILL_ERR_SESSION && st != VBILL_ERR_LINK_EXPIRED)
            abort();
    }
    free(s);
    return 0;
}
