/* link_bench.c: link verifications per second on one core (target >= 200,000/s), beside
 * the baseline of a bare HMAC-SHA256 over the same bytes through OpenSSL's one-shot EVP_Q_mac,
 * and full knowledge checks per second against the SQLite store.  Prints figures only.
 * Usage: bench/link_bench [SECONDS per measurement, default 2] */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vbill.h"

static const char REC[] =
    "{\"id\":\"S-000123\",\"name\":\"김민수\",\"birth\":\"1958-03-14\",\"locale\":\"ko-KR\","
    "\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\","
    "\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\","
    "\"product\":\"5G\",\"event\":\"new\",\"start\":\"2026-11-14\",\"monthly_fee\":85000},"
    "{\"id\":\"L2\",\"kind\":\"mobile\",\"product\":\"5G\",\"event\":\"new\","
    "\"start\":\"2026-11-14\",\"monthly_fee\":55000}],\"bundle\":{\"discount\":11000}}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    vbill_ctx *ctx = NULL;
    vbill_keys *keys = NULL;
    vbill_bill *bill = NULL;
    char *kj = NULL, *tok = NULL;
    if (vbill_ctx_new(&ctx) || vbill_keys_generate(ctx, NULL, &kj) ||
        vbill_keys_from_json(ctx, kj, (size_t)-1, &keys) ||
        vbill_bill_new(ctx, REC, sizeof REC - 1, 0, &bill) ||
        vbill_link_issue(ctx, keys, bill, 0, 86400, &tok)) {
        fprintf(stderr, "link_bench: setup failed: %s\n", vbill_ctx_errmsg(ctx));
        return 1;
    }
    printf("token: %zu characters\n", strlen(tok));

    long n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 1000; i++)
            if (vbill_link_verify(ctx, keys, tok, 0, NULL) != VBILL_OK) {
                fprintf(stderr, "link_bench: verify failed\n");
                return 1;
            }
        n += 1000;
    } while ((t = now_s() - t0) < secs);
    double verify_rate = (double)n / t;
    printf("link verifications: %.0f /s on one core (%.2f us each; target >= 200000/s)\n",
           verify_rate, 1e6 / verify_rate);

    /* Baseline: one HMAC-SHA256 of the token's length, the way a naive caller would do it. */
    unsigned char out[32], buf[64] = {0}, key[32] = {1};
    size_t olen;
    n = 0;
    t0 = now_s();
    do {
        for (int i = 0; i < 1000; i++)
            EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, buf, 39, out, 32, &olen);
        n += 1000;
    } while ((t = now_s() - t0) < secs);
    double base_rate = (double)n / t;
    printf("baseline one-shot EVP_Q_mac HMAC-SHA256: %.0f /s (verify is %.2fx of it)\n",
           base_rate, verify_rate / base_rate);

    char dir[] = "/tmp/link_bench-XXXXXX";
    vbill_store *store = NULL;
    if (mkdtemp(dir) && vbill_store_open_sqlite(ctx, dir, &store) == VBILL_OK) {
        n = 0;
        t0 = now_s();
        do {
            for (int i = 0; i < 100; i++)
                if (vbill_auth_check(ctx, keys, store, tok, "580314", "bench", 0, NULL)) {
                    fprintf(stderr, "link_bench: check failed: %s\n", vbill_ctx_errmsg(ctx));
                    return 1;
                }
            n += 100;
        } while ((t = now_s() - t0) < secs);
        printf("knowledge checks (SQLite store, right digits): %.0f /s\n", (double)n / t);
        vbill_store_free(store);
        char path[128];
        const char *files[] = {"vbill-state.sqlite", "vbill-state.sqlite-wal",
                               "vbill-state.sqlite-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    vbill_free(tok);
    vbill_free(kj);
    vbill_keys_free(keys);
    vbill_ctx_free(ctx);
    return 0;
}
