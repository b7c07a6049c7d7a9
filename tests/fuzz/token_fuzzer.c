/* token_fuzzer.c: any bytes through the token parsers: link tokens (vbill_link_verify),
 * session tokens (vbill_session_verify), key files (vbill_keys_from_json, vbill_keys_split)
 * and pepper sets (vbill_keys_add_peppers).  They must be accepted or refused with a
 * status, never crash, hang or leak; only the checked-in valid token may verify, and a key
 * file split in two loads back to keys that verify what it verified. */
#include <stdbool.h>
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
/* The same key without its pepper (kept apart). */
static const char BARE[] =
    "{\"vbill_keys\":1,\"signing\":\"bc8a\",\"keys\":[{\"kid\":\"bc8a\","
    "\"secret\":\"ivRff9D-QhcSIVbYW9ZX9WB-m5RX3lSc1jUv660Nmt4\"}]}";
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
            bool verified = vbill_link_verify(ctx, k, LINK, NOW, NULL) == VBILL_OK;
            vbill_keys_free(k);
            /* Split in two, loaded back: the same keys. */
            char *kj = NULL, *pj = NULL;
            if (vbill_keys_split(ctx, s, NULL, &kj, &pj) == VBILL_OK) {
                vbill_keys *back = NULL;
                if (vbill_keys_from_json(ctx, kj, (size_t)-1, &back) != VBILL_OK ||
                    (vbill_keys_add_peppers(back, pj, (size_t)-1) != VBILL_OK &&
                     !strstr(pj, "\"peppers\":{\n}")) || /* none to give back */
                    (vbill_link_verify(ctx, back, LINK, NOW, NULL) == VBILL_OK) != verified)
                    abort();
                vbill_keys_free(back);
            } else if (kj || pj) {
                abort();
            }
            vbill_free(kj);
            vbill_free(pj);
        }
        /* As a pepper set for the key kept apart. */
        vbill_keys *bare = NULL;
        if (vbill_keys_from_json(ctx, BARE, (size_t)-1, &bare) != VBILL_OK)
            abort();
        st = vbill_keys_add_peppers(bare, s, size);
        if (st != VBILL_OK && (st != VBILL_ERR_KEY || !*vbill_keys_errmsg(bare)))
            abort();
        vbill_keys_free(bare);
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
