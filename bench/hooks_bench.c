/* hooks_bench.c: the outbox's cost per emit (durable: WAL, synchronous=FULL) and the events
 * per second delivered to a webhook receiver on loopback (libmicrohttpd, in this process),
 * with the obvious baseline side by side: a new connection per event (no keep-alive).
 *   bench/hooks_bench [EVENTS]   (default 5000)
 * Prints figures; not part of the test pass/fail. */
#include "config.h"
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vbill.h"

static atomic_long received;


static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    if (!*state) {
        *state = c; /* first call: headers only */
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    const char *close = cls ? "close" : NULL;
    static char ok[] = "{\"ok\":true}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof ok - 1, ok,
                                                             MHD_RESPMEM_PERSISTENT);
    if (close)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    atomic_fetch_add(&received, 1);
    return ret;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(const char *label, int n, bool keepalive, const char *sync, double *emit_us,
               double *rate)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                                            0, NULL, NULL, handler,
                                            keepalive ? NULL : (void *)1,
                                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                                            MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "hooks_bench: cannot start the receiver\n");
        return 1;
    }
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char dir[] = "/tmp/vbill-hooks-bench.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"batch\":256,\"sync\":\"%s\",\"sinks\":[{\"type\":\"webhook\",\"url\":"
             "\"http://127.0.0.1:%d/h\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
             "\"timeout_ms\":5000}]}", sync, port);
    vbill_ctx *ctx;
    vbill_hooks *h;
    if (vbill_ctx_new(&ctx) != VBILL_OK || vbill_hooks_open(ctx, dir, cfg, &h) != VBILL_OK) {
        fprintf(stderr, "hooks_bench: %s\n", vbill_ctx_errmsg(ctx));
        return 1;
    }
    atomic_store(&received, 0);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        char data[160];
        snprintf(data, sizeof data, "{\"subscriber_id\":\"S-%06d\",\"watched\":0.75,"
                 "\"scenario\":\"mobile_new_bundle\",\"this_month\":60960}", i);
        if (vbill_hooks_emit(h, "bill.viewed", NULL, data, NULL) != VBILL_OK) {
            fprintf(stderr, "hooks_bench: %s\n", vbill_hooks_errmsg(h));
            return 1;
        }
    }
    double t1 = now_s();
    size_t total = 0, pending = 1;
    while (pending) {
        size_t k = 0;
        if (vbill_hooks_pump(h, 1000, &k) != VBILL_OK ||
            vbill_hooks_pending(h, &pending, NULL) != VBILL_OK) {
            fprintf(stderr, "hooks_bench: %s\n", vbill_hooks_errmsg(h));
            return 1;
        }
        total += k;
    }
    double t2 = now_s();
    *emit_us = (t1 - t0) / n * 1e6;
    *rate = total / (t2 - t1);
    printf("%-26s %6d events: emit %7.1f us/event, delivered %8.0f events/s (%ld received)\n",
           label, n, *emit_us, *rate, atomic_load(&received));
    vbill_hooks_free(h);
    vbill_ctx_free(ctx);
    MHD_stop_daemon(d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    if (n < 1 || n > 10000000)
        n = 5000;
    double e1, r1, e2, r2, e3, r3;
    if (run("sync=full, keep-alive", n, true, "full", &e1, &r1) ||
        run("sync=normal, keep-alive", n, true, "normal", &e3, &r3) ||
        run("baseline: connection/event", n / 5 > 0 ? n / 5 : 1, false, "normal", &e2, &r2))
        return 1;
    printf("delivery: %.0f events/s (target >= 2000), %.1fx the connection-per-event "
           "baseline; emit %.0f us (full) vs %.0f us (normal)\n", r3, r3 / r2, e1, e3);
    return 0;
}
