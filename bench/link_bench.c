/* link_bench.c: link verifications per second on one core (target >= 200,000/s), beside
 * the baseline of a bare HMAC-SHA256 over the same bytes through OpenSSL's one-shot EVP_Q_mac;
 * verifications that also look the revocation up in the SQLite store; full knowledge checks
 * per second against the SQLite store (right digits: counted and undone; wrong digits:
 * counted against link, subscriber, client and the alarm), and against Redis when
 * VBILL_BENCH_REDIS names a server (a redis:// URL).  Prints figures only.
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

/* Checks per second with the given digits (each check its own client address). */
static double check_rate(vbill_ctx *ctx, vbill_keys *keys, vbill_store *store, const char *tok,
                         const char *digits, double secs)
{
    long n = 0;
    double t0 = now_s(), t;
    char client[32];
    do {
        for (int i = 0; i < 100; i++) {
            snprintf(client, sizeof client, "10.%ld.%ld.%d", (n >> 16) & 255, (n >> 8) & 255, i);
            vbill_status st = vbill_auth_check(ctx, keys, store, tok, digits, client, 0, NULL);
            if (st != VBILL_OK && st != VBILL_ERR_AUTH_WRONG) {
                fprintf(stderr, "link_bench: check failed: %s\n", vbill_ctx_errmsg(ctx));
                exit(1);
            }
        }
        n += 100;
    } while ((t = now_s() - t0) < secs);
    return (double)n / t;
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
            for (int i = 0; i < 1000; i++)
                if (vbill_link_verify_store(ctx, keys, store, tok, 0, NULL) != VBILL_OK) {
                    fprintf(stderr, "link_bench: verify failed: %s\n", vbill_ctx_errmsg(ctx));
                    return 1;
                }
            n += 1000;
        } while ((t = now_s() - t0) < secs);
        printf("link verifications with the revocation looked up (SQLite): %.0f /s (%.2fx of "
               "the stateless verify)\n",
               (double)n / t, (double)n / t / verify_rate);
        double right = check_rate(ctx, keys, store, tok, "580314", secs);
        printf("knowledge checks (SQLite store, right digits): %.0f /s\n", right);
        if (vbill_store_set_limits(store, 100000, 900, 100000, 100000, 3600) ||
            vbill_store_set_subscriber_limit(store, 100000))
            return 1;
        printf("knowledge checks (SQLite store, wrong digits, wide limits): %.0f /s\n",
               check_rate(ctx, keys, store, tok, "000000", secs));
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
    const char *redis = getenv("VBILL_BENCH_REDIS");
    if (redis && *redis) {
        if (vbill_store_open_redis_url(ctx, redis, "vbill-bench:", &store) != VBILL_OK) {
            fprintf(stderr, "link_bench: %s\n", vbill_ctx_errmsg(ctx));
            return 1;
        }
        printf("knowledge checks (Redis store, right digits): %.0f /s\n",
               check_rate(ctx, keys, store, tok, "580314", secs));
        vbill_store_free(store);
    }
    vbill_free(tok);
    vbill_free(kj);
    vbill_keys_free(keys);
    vbill_ctx_free(ctx);
    return 0;
}
