/*
 * serve.c: `vbill serve`: options, the HTTP daemon (libmicrohttpd: epoll, a thread pool,
 * suspended connections for renders), responses with their security headers, files with
 * Range and ETag, the client's address, per-thread contexts and stores, /healthz, /metrics,
 * and draining on SIGTERM.
 */
#include "config.h"
#include "serve.h"
#include "headers.h"
#include "../cli/cli.h"
#include "../cli/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: vbill serve --store DIR --listen HOST:PORT [options]\n\n"
    "Answers the links of the bill store DIR (made by vbill batch): the six-digit check, the\n"
    "watch page, the customer's video (rendered on demand when the store holds only the\n"
    "bill), the page's events and questions, /healthz and /metrics.\n\n"
    "options:\n"
    "  --base-url URL          the links' prefix, as given to vbill batch (default /v/)\n"
    "  --key-file FILE         the link keys (default $VBILL_KEY_FILE)\n"
    "  --state DIR             the attempt counters in SQLite (default $VBILL_STATE_DIR)\n"
    "  --pepper-file FILE      the peppers, when kept apart from the keys (default\n"
    "                          $VBILL_PEPPER_FILE, else the text of $VBILL_PEPPER)\n"
    "  --redis URL             the attempt counters in Redis, redis[s]://[USER:PASSWORD@]HOST\n"
    "                          [:PORT][/DB][?cacert=FILE&...] or $VBILL_REDIS_URL (servers\n"
    "                          sharing one Redis share the tries left)\n"
    "  --hooks FILE            help-desk sinks for the page's events (vbill hooks); the outbox\n"
    "                          is in --state DIR (with --redis and no --state: the store's folder)\n"
    "  --faq FILE              the carrier's chat FAQ (see vbill_chat_answer)\n"
    "  --page-config FILE      {\"helpdesk\":{\"phone\",\"hours\"},\"actions\":[{\"id\",\"label\",\"url\"}],\n"
    "                          \"overlay_default\":false}\n"
    "  --page DIR              the page's files (default: the installed page)\n"
    "  --trust-proxy CIDR      take the client's address from X-Forwarded-For when the peer is\n"
    "                          in CIDR (repeatable; e.g. 10.0.0.0/8)\n"
    "  --insecure-cookies      session cookies without Secure (plain-HTTP demos only)\n"
    "  --threads N             HTTP threads (default: 2 x cores)\n"
    "  --render-workers N      on-demand renders at once (default: the cores)\n"
    "  --idle-timeout S        close a connection idle (or trickling its request) for S\n"
    "                          seconds (default 15)\n"
    "  --quiet                 no access log on standard error\n\n"
    "SIGTERM or SIGINT stops taking connections and lets open requests finish (10 s at most).\n";

/* ---- small things ---- */

double sv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sv_log(server *s, const char *fmt, ...)
{
    if (s->quiet)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "vbill serve: %s\n", line);
}

static pthread_key_t ctx_key, store_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static void free_ctx(void *p) { vbill_ctx_free(p); }
static void free_store(void *p) { vbill_store_free(p); }
static void make_keys(void)
{
    pthread_key_create(&ctx_key, free_ctx);
    pthread_key_create(&store_key, free_store);
}

vbill_ctx *sv_ctx(void)
{
    pthread_once(&keys_once, make_keys);
    vbill_ctx *ctx = pthread_getspecific(ctx_key);
    if (!ctx) {
        ctx = cli_ctx();
        pthread_setspecific(ctx_key, ctx);
    }
    return ctx;
}

vbill_store *sv_store(server *s)
{
    pthread_once(&keys_once, make_keys);
    vbill_store *st = pthread_getspecific(store_key);
    if (st)
        return st;
    vbill_ctx *ctx = sv_ctx();
    vbill_status rc;
    if (s->redis) {
        rc = vbill_store_open_redis_url(ctx, s->redis, NULL, &st);
    } else {
        rc = vbill_store_open_sqlite(ctx, s->state_dir, &st);
    }
    if (rc) {
        sv_log(s, "attempt store: %s", vbill_ctx_errmsg(ctx));
        return NULL;
    }
    /* a link locked on the page: an auth.locked event for the help desk */
    if (s->hooks)
        vbill_store_set_lock_hook(st, vbill_hooks_auth_locked, s->hooks);
    pthread_setspecific(store_key, st);
    return st;
}

/* ---- responses ---- */

/* libmicrohttpd takes response bodies as void *, and reads them only (PERSISTENT, COPY). */
static void *body_of(const void *p)
{
    union {
        const void *c;
        void *m;
    } u = {.c = p};
    return u.m;
}

static const int statuses[N_STATUS] = {200, 204, 206, 303, 304, 400, 401, 403, 404, 405,
                                       409, 410, 413, 416, 429, 431, 500, 503, 0, 0};

static int status_index(int code)
{
    for (int i = 0; i < N_STATUS - 2; i++)
        if (statuses[i] == code)
            return i;
    return N_STATUS - 1;
}

void sv_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data: blob:; media-src 'self' blob:; "
                            "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'self'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

static enum MHD_Result queue(struct MHD_Connection *c, request *q, int status,
                             struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    sv_security_headers(r);
    q->status = status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result sv_reply_h(struct MHD_Connection *c, request *q, int status, const char *type,
                           const char *body, size_t len, const char *const *headers)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body_of(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (const char *const *h = headers; h && h[0]; h += 2)
        MHD_add_response_header(r, h[0], h[1]);
    return queue(c, q, status, r);
}

enum MHD_Result sv_reply(struct MHD_Connection *c, request *q, int status, const char *type,
                         const char *body, size_t len)
{
    return sv_reply_h(c, q, status, type, body, len, NULL);
}

static enum MHD_Result plain(struct MHD_Connection *c, request *q, int status, const char *text)
{
    return sv_reply(c, q, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* "bytes=A-B", "bytes=A-", "bytes=-N": one range.  0 none, 1 a range, -1 unsatisfiable. */
static int parse_range(const char *h, off_t size, off_t *from, off_t *to)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0; /* none, or several: the whole file (RFC 9110 allows it) */
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        long long n = strtoll(p + 1, &end, 10);
        if (*end || n <= 0)
            return 0;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return size > 0 ? 1 : -1;
    }
    long long a = strtoll(p, &end, 10);
    if (end == p || *end != '-' || a < 0)
        return 0;
    long long b = size - 1;
    if (end[1]) {
        char *e2;
        b = strtoll(end + 1, &e2, 10);
        if (*e2 || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = b >= size ? size - 1 : b;
    return 1;
}

enum MHD_Result sv_file(struct MHD_Connection *c, request *q, const char *path,
                        const char *type, const char *cache)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return plain(c, q, 404, "not found\n");
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
        close(fd);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, body_of(""),
                                                                 MHD_RESPMEM_PERSISTENT);
        if (r) {
            MHD_add_response_header(r, "ETag", etag);
            MHD_add_response_header(r, "Cache-Control", cache);
        }
        return queue(c, q, 304, r);
    }
    off_t from = 0, to = st.st_size - 1;
    int range = parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"),
                            st.st_size, &from, &to);
    if (range < 0) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%lld", (long long)st.st_size);
        const char *h[] = {"Content-Range", cr, NULL};
        return sv_reply_h(c, q, 416, "text/plain", "", 0, h);
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(
        (uint64_t)(to - from + 1), fd, (uint64_t)from);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (range > 0) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)from, (long long)to,
                 (long long)st.st_size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    return queue(c, q, range > 0 ? 206 : 200, r);
}

/* ---- the client's address ---- */

static bool parse_cidr(const char *s, cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    } else {
        return false;
    }
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (*end || b < 0 || b > out->bits)
            return false;
        out->bits = (int)b;
    }
    return true;
}

static bool in_cidr(const cidr *c, int family, const unsigned char *a)
{
    if (c->family != family)
        return false;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return false;
    return rest == 0 || ((c->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

static bool trusted(server *s, const char *text)
{
    unsigned char a[16];
    int fam = inet_pton(AF_INET, text, a) == 1 ? AF_INET
              : inet_pton(AF_INET6, text, a) == 1 ? AF_INET6 : 0;
    for (int i = 0; fam && i < s->ntrusted; i++)
        if (in_cidr(&s->trusted[i], fam, a))
            return true;
    return false;
}

void sv_client(server *s, struct MHD_Connection *c, char *out, size_t size)
{
    snprintf(out, size, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof buf);
    snprintf(out, size, "%s", buf);
    if (!s->ntrusted || !trusted(s, buf))
        return;
    /* behind our own proxies: the rightmost address they did not add */
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff || strlen(xff) > 2048)
        return;
    char list[2049];
    snprintf(list, sizeof list, "%s", xff);
    for (;;) {
        char *comma = strrchr(list, ',');
        char *item = comma ? comma + 1 : list;
        while (*item == ' ')
            item++;
        char *e = item + strlen(item);
        while (e > item && e[-1] == ' ')
            *--e = '\0';
        unsigned char a[16];
        if (inet_pton(AF_INET, item, a) != 1 && inet_pton(AF_INET6, item, a) != 1)
            return; /* not an address: keep the last one we trust */
        snprintf(out, size, "%s", item);
        if (!trusted(s, item) || !comma)
            return;
        *comma = '\0';
    }
}

/* ---- /metrics ---- */

static const char *const route_names[R_COUNT] = {
    "check", "check_post", "watch", "data", "playlist", "segment", "mp4", "vtt",
    "shared", "static", "event", "chat", "healthz", "metrics", "other"};
static const double buckets[N_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,   1,    2.5,   5};

static enum MHD_Result metrics_page(server *s, struct MHD_Connection *c, request *q)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b)
        return MHD_NO;
#define OUT(...)                                                                           \
    do {                                                                                   \
        if (n < cap)                                                                       \
            n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__);                            \
    } while (0)
    metrics *m = &s->m;
    OUT("# HELP vbill_http_requests_total Requests answered, by route and status.\n"
        "# TYPE vbill_http_requests_total counter\n");
    for (int r = 0; r < R_COUNT; r++)
        for (int i = 0; i < N_STATUS; i++) {
            long v = atomic_load(&m->requests[r][i]);
            if (v)
                OUT("vbill_http_requests_total{route=\"%s\",status=\"%s%d\"} %ld\n",
                    route_names[r], statuses[i] ? "" : "other", statuses[i] ? statuses[i] : 0,
                    v);
        }
    OUT("# HELP vbill_http_request_duration_seconds Time to the response, by route.\n"
        "# TYPE vbill_http_request_duration_seconds histogram\n");
    for (int r = 0; r < R_COUNT; r++) {
        long total = atomic_load(&m->latency[r][N_BUCKETS]);
        if (!total)
            continue;
        long cum = 0;
        for (int i = 0; i < N_BUCKETS; i++) {
            cum += atomic_load(&m->latency[r][i]);
            OUT("vbill_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %ld\n",
                route_names[r], buckets[i], cum);
        }
        OUT("vbill_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %ld\n",
            route_names[r], total);
        OUT("vbill_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r],
            (double)atomic_load(&m->latency_us_sum[r]) / 1e6);
        OUT("vbill_http_request_duration_seconds_count{route=\"%s\"} %ld\n", route_names[r],
            total);
    }
    OUT("# HELP vbill_http_open_connections Connections open now.\n"
        "# TYPE vbill_http_open_connections gauge\n"
        "vbill_http_open_connections %ld\n", atomic_load(&m->open_connections));
    OUT("# HELP vbill_checks_total Birth-date checks, by result.\n"
        "# TYPE vbill_checks_total counter\n"
        "vbill_checks_total{result=\"ok\"} %ld\nvbill_checks_total{result=\"wrong\"} %ld\n"
        "vbill_checks_total{result=\"locked\"} %ld\nvbill_checks_total{result=\"error\"} %ld\n",
        atomic_load(&m->checks_ok), atomic_load(&m->checks_wrong),
        atomic_load(&m->checks_locked), atomic_load(&m->checks_error));
    OUT("# HELP vbill_check_failures_total Wrong birth-date entries.\n"
        "# TYPE vbill_check_failures_total counter\nvbill_check_failures_total %ld\n",
        atomic_load(&m->checks_wrong));
    OUT("# HELP vbill_locks_total Checks refused because the link was locked.\n"
        "# TYPE vbill_locks_total counter\nvbill_locks_total %ld\n",
        atomic_load(&m->checks_locked));
    OUT("# HELP vbill_renders_total On-demand segment renders, by result.\n"
        "# TYPE vbill_renders_total counter\n"
        "vbill_renders_total{result=\"ok\"} %ld\nvbill_renders_total{result=\"failed\"} %ld\n",
        atomic_load(&m->renders_ok), atomic_load(&m->renders_failed));
    OUT("# HELP vbill_render_waits_total Requests that waited for a render already under way.\n"
        "# TYPE vbill_render_waits_total counter\nvbill_render_waits_total %ld\n",
        atomic_load(&m->renders_waited));
    OUT("# HELP vbill_render_queue Renders waiting for a worker.\n"
        "# TYPE vbill_render_queue gauge\nvbill_render_queue %ld\n",
        atomic_load(&m->render_queue));
    OUT("# HELP vbill_render_busy Renders under way.\n"
        "# TYPE vbill_render_busy gauge\nvbill_render_busy %ld\n", atomic_load(&m->render_busy));
    OUT("# HELP vbill_events_total Page events, by result.\n"
        "# TYPE vbill_events_total counter\n"
        "vbill_events_total{result=\"queued\"} %ld\nvbill_events_total{result=\"refused\"} %ld\n",
        atomic_load(&m->events_queued), atomic_load(&m->events_refused));
#undef OUT
    enum MHD_Result rc = sv_reply(c, q, 200, "text/plain; version=0.0.4; charset=utf-8", b,
                                  n < cap ? n : cap - 1);
    free(b);
    return rc;
}

/* ---- dispatch ---- */

static bool token_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

static enum MHD_Result shared(server *s, struct MHD_Connection *c, request *q, const char *rest)
{
    /* HASH/VARIANT/FILE: sNNNNN.ts or index.m3u8 */
    char hash[32], variant[16], file[32];
    q->r = R_SHARED;
    if (sscanf(rest, "%31[0-9a-f]/%15[a-z]/%31[a-z0-9.]", hash, variant, file) != 3 ||
        strlen(hash) != 16 ||
        (strcmp(variant, "normal") != 0 && strcmp(variant, "slow") != 0 &&
         strcmp(variant, "overlay") != 0))
        return plain(c, q, 404, "not found\n");
    size_t prefix = strlen(hash) + strlen(variant) + 2;
    if (strcmp(rest + prefix, file) != 0)
        return plain(c, q, 404, "not found\n");
    bool ts = strlen(file) == 9 && file[0] == 's' && strspn(file + 1, "0123456789") == 5 &&
              strcmp(file + 6, ".ts") == 0;
    bool playlist = strcmp(file, "index.m3u8") == 0;
    if (!ts && !playlist)
        return plain(c, q, 404, "not found\n");
    char *dir = od_shared_dir(s, hash, variant);
    if (!dir)
        return plain(c, q, 404, "not found\n");
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    free(dir);
    return sv_file(c, q, path, ts ? "video/mp2t" : "application/vnd.apple.mpegurl",
                   "public, max-age=31536000, immutable");
}

static enum MHD_Result static_file_reply(server *s, struct MHD_Connection *c, request *q,
                                         const char *name)
{
    q->r = R_STATIC;
    for (int i = 0; i < s->nstatics; i++) {
        const static_file *f = &s->statics[i];
        if (strcmp(f->name, name) != 0)
            continue;
        /* the gzip copy where the browser takes it (each with its own ETag) */
        bool gz = f->gz && sv_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                    "Accept-Encoding"));
        const char *etag = gz ? f->gz_etag : f->etag;
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
        struct MHD_Response *r;
        int status = 200;
        if (inm && strstr(inm, etag)) {
            r = MHD_create_response_from_buffer(0, body_of(""), MHD_RESPMEM_PERSISTENT);
            status = 304;
        } else {
            r = MHD_create_response_from_buffer(gz ? f->gz_len : f->len, gz ? f->gz : f->data,
                                                MHD_RESPMEM_PERSISTENT);
            if (r) {
                MHD_add_response_header(r, "Content-Type", f->type);
                if (gz)
                    MHD_add_response_header(r, "Content-Encoding", "gzip");
            }
        }
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "public, max-age=3600");
        if (f->gz)
            MHD_add_response_header(r, "Vary", "Accept-Encoding");
        return queue(c, q, status, r);
    }
    return plain(c, q, 404, "not found\n");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    server *s = cls;
    request *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->start = sv_now();
        q->r = R_OTHER;
        *con_cls = q;
        return MHD_YES; /* the headers are in; the body (if any) comes next */
    }
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (*upload_size) {
        /* the page's posts are small: a form of six digits, a question, an event */
        if (q->body_len + *upload_size > 8192) {
            q->too_large = true;
        } else if (!q->too_large) {
            if (q->body_len + *upload_size + 1 > q->body_cap) {
                size_t cap = q->body_len + *upload_size + 1;
                char *nb = realloc(q->body, cap);
                if (!nb)
                    return MHD_NO;
                q->body = nb;
                q->body_cap = cap;
            }
            memcpy(q->body + q->body_len, upload, *upload_size);
            q->body_len += *upload_size;
            q->body[q->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_large)
        return plain(c, q, 413, "request body too large\n");
    if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        const char *h[] = {"Allow", "GET, HEAD, POST", NULL};
        return sv_reply_h(c, q, 405, "text/plain", "method not allowed\n", 19, h);
    }
    size_t bl = strlen(s->base_path), sl = strlen(s->shared_path);
    if (strcmp(url, "/healthz") == 0) {
        q->r = R_HEALTH;
        return atomic_load(&s->draining) ? plain(c, q, 503, "draining\n")
                                         : plain(c, q, 200, "ok\n");
    }
    if (strcmp(url, "/metrics") == 0) {
        q->r = R_METRICS;
        return metrics_page(s, c, q);
    }
    if (strncmp(url, "/static/", 8) == 0 && !post)
        return static_file_reply(s, c, q, url + 8);
    if (strncmp(url, s->shared_path, sl) == 0 && !post)
        return shared(s, c, q, url + sl);
    if (strncmp(url, s->base_path, bl) == 0) {
        const char *t = url + bl;
        size_t n = 0;
        while (token_char(t[n]))
            n++;
        if (n >= 20 && n <= 200 && (t[n] == '\0' || t[n] == '/')) {
            char token[201];
            memcpy(token, t, n);
            token[n] = '\0';
            return vw_link(s, c, q, method, token, t[n] == '/' ? t + n + 1 : "");
        }
    }
    return plain(c, q, 404, "not found\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c, (void)toe;
    server *s = cls;
    request *q = *con_cls;
    if (!q)
        return;
    double el = sv_now() - q->start;
    if (q->status) {
        atomic_fetch_add(&s->m.requests[q->r][status_index(q->status)], 1);
        int i = 0;
        while (i < N_BUCKETS && el > buckets[i])
            i++;
        if (i < N_BUCKETS)
            atomic_fetch_add(&s->m.latency[q->r][i], 1);
        atomic_fetch_add(&s->m.latency[q->r][N_BUCKETS], 1);
        atomic_fetch_add(&s->m.latency_us_sum[q->r], (long long)(el * 1e6));
    }
    free(q->body);
    free(q);
    *con_cls = NULL;
}

static void connection_notice(void *cls, struct MHD_Connection *c, void **socket_ctx,
                              enum MHD_ConnectionNotificationCode code)
{
    (void)c, (void)socket_ctx;
    server *s = cls;
    atomic_fetch_add(&s->m.open_connections, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

/* ---- the command ---- */

static int parse_listen(const char *l, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(l, ':');
    if (!colon)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res) != 0 || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static char *path_of(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *p = scheme ? strchr(scheme + 3, '/') : url;
    return strdup(p && *p ? p : "/");
}

int cmd_serve(int argc, char **argv)
{
    server S;
    memset(&S, 0, sizeof S);
    server *s = &S;
    const char *threads = NULL, *workers = NULL, *idle = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        struct {
            const char *name;
            const char **dst;
        } opts[] = {
            {"--store", &s->store},       {"--listen", &s->listen},
            {"--base-url", &s->base_url}, {"--key-file", &s->key_file},
            {"--pepper-file", &s->pepper_file},
            {"--state", &s->state_dir},   {"--redis", &s->redis},
            {"--hooks", &s->hooks_file},  {"--faq", &s->faq_file},
            {"--page", &s->page_dir},     {"--page-config", &s->page_config_file},
            {"--threads", &threads},      {"--render-workers", &workers},
            {"--idle-timeout", &idle},
        };
        if (cli_is_help(argv[i])) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--insecure-cookies") == 0) {
            s->insecure_cookies = true;
            continue;
        }
        if (strcmp(argv[i], "--quiet") == 0) {
            s->quiet = true;
            continue;
        }
        if ((v = cli_opt(argc, argv, &i, "--trust-proxy", &missing))) {
            if (s->ntrusted >= 16 || !parse_cidr(v, &s->trusted[s->ntrusted]))
                return cli_fail(EXIT_USAGE, "--trust-proxy: expected an address or CIDR (at "
                                            "most 16), got %s", v);
            s->ntrusted++;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched && !missing; k++)
            if ((v = cli_opt(argc, argv, &i, opts[k].name, &missing))) {
                *opts[k].dst = v;
                matched = true;
            }
        if (matched)
            continue;
        return cli_fail(EXIT_USAGE, missing ? "%s needs a value (see --help)"
                                            : "serve: unexpected %s (see --help)", argv[i]);
    }
    if (!s->store || !s->listen)
        return cli_fail(EXIT_USAGE, "serve: --store DIR and --listen HOST:PORT are needed");
    if (!s->base_url)
        s->base_url = getenv("VBILL_BASE_URL");
    if (!s->base_url || !*s->base_url)
        s->base_url = "/v/";
    if (!s->key_file)
        s->key_file = getenv("VBILL_KEY_FILE");
    if (!s->state_dir)
        s->state_dir = getenv("VBILL_STATE_DIR");
    if (!s->key_file || !*s->key_file)
        return cli_fail(EXIT_USAGE, "no key file: use --key-file FILE or set VBILL_KEY_FILE");
    if (!s->redis && (!s->state_dir || !*s->state_dir) && getenv("VBILL_REDIS_URL"))
        s->redis = getenv("VBILL_REDIS_URL");
    if (s->redis) {
        if (!cli_redis_url(s->redis, s->redis_url, sizeof s->redis_url))
            return EXIT_USAGE;
        s->redis = s->redis_url;
    }
    if (!s->redis && (!s->state_dir || !*s->state_dir))
        return cli_fail(EXIT_USAGE, "no attempt store: use --state DIR (or VBILL_STATE_DIR) or "
                                    "--redis URL (or VBILL_REDIS_URL)");
    if (!s->page_dir)
        s->page_dir = getenv("VBILL_PAGE_DIR");
    if (!s->page_dir)
        s->page_dir = VBILL_PAGE_DIR;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long nt = 2 * (ncpu > 0 ? ncpu : 1), nw = ncpu > 0 ? ncpu : 1;
    char *end;
    if (threads && ((nt = strtol(threads, &end, 10)) < 1 || nt > 256 || *end))
        return cli_fail(EXIT_USAGE, "--threads: 1 to 256");
    if (workers && ((nw = strtol(workers, &end, 10)) < 1 || nw > 64 || *end))
        return cli_fail(EXIT_USAGE, "--render-workers: 1 to 64");
    long ni = 15;
    if (idle && ((ni = strtol(idle, &end, 10)) < 1 || ni > 3600 || *end))
        return cli_fail(EXIT_USAGE, "--idle-timeout: 1 to 3600 seconds");
    s->threads = (int)nt;
    s->render_workers = (int)nw;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_listen(s->listen, &ss, &sslen) != 0)
        return cli_fail(EXIT_USAGE, "--listen: expected HOST:PORT, got %s", s->listen);
    s->base_path = path_of(s->base_url);
    s->shared_prefix = store_shared_prefix(s->base_url);
    char *sp = s->shared_prefix ? path_of(s->shared_prefix) : NULL;
    s->shared_path = sp ? store_path("%ss/", sp) : NULL;
    free(sp);
    if (!s->base_path || !s->shared_path || s->base_path[0] != '/' ||
        s->base_path[strlen(s->base_path) - 1] != '/')
        return cli_fail(EXIT_USAGE, "--base-url: its path must end with '/' (e.g. /v/)");

    vbill_ctx *ctx = sv_ctx();
    int rc = EXIT_OK;
    char err[1024];
    if (!(s->keys = cli_keys(ctx, s->key_file, s->pepper_file))) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (s->state_dir && store_mkdirs(s->state_dir, 0700) != 0) {
        rc = cli_fail(EXIT_USAGE, "cannot create %s: %s", s->state_dir, strerror(errno));
        goto out;
    }
    if (!sv_store(s)) {
        rc = cli_fail(EXIT_RETRY_LATER, "the attempt store cannot be opened");
        goto out;
    }
    if (vw_load_page(s, err, sizeof err) != 0) {
        rc = cli_fail(EXIT_USAGE, "%s", err);
        goto out;
    }
    if (s->faq_file && !(s->faq_json = cli_read_file(s->faq_file, 1 << 20, NULL))) {
        rc = EXIT_USAGE;
        goto out;
    }
    pthread_mutex_init(&s->hooks_lock, NULL);
    if (s->hooks_file) {
        char *cfg = cli_read_file(s->hooks_file, 1 << 20, NULL);
        const char *state = s->state_dir ? s->state_dir : s->store;
        if (!cfg || vbill_hooks_open(ctx, state, cfg, &s->hooks) != VBILL_OK ||
            vbill_hooks_start(s->hooks) != VBILL_OK) {
            rc = cli_fail(EXIT_USAGE, "--hooks: %s", s->hooks ? vbill_hooks_errmsg(s->hooks)
                                                              : vbill_ctx_errmsg(ctx));
            free(cfg);
            goto out;
        }
        free(cfg);
        /* this thread's store was opened before the hooks (the others open theirs later) */
        vbill_store_set_lock_hook(sv_store(s), vbill_hooks_auth_locked, s->hooks);
    }
    s->od = od_new(s, s->render_workers);
    if (!s->od) {
        rc = cli_fail(EXIT_FAIL, "out of memory");
        goto out;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread made from here on inherits it */
    signal(SIGPIPE, SIG_IGN);
    s->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, 0, NULL, NULL,
        handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)s->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ni, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32768, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        connection_notice, s, MHD_OPTION_END);
    if (!s->daemon) {
        rc = cli_fail(EXIT_USAGE, "cannot listen on %s: %s", s->listen, strerror(errno));
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "vbill serve: listening on %s (port %u), links %s, store %s\n", s->listen,
            di ? di->port : 0, s->base_url, s->store);
    int sig = 0;
    sigwait(&set, &sig);
    /* drain: no new connections; the open ones finish (10 s at most) */
    atomic_store(&s->draining, true);
    MHD_socket ls = MHD_quiesce_daemon(s->daemon);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    for (int i = 0; i < 100 && atomic_load(&s->m.open_connections) > 0; i++)
        usleep(100000);
    fprintf(stderr, "vbill serve: stopped by signal %d (%ld connections left open)\n", sig,
            atomic_load(&s->m.open_connections));
    MHD_stop_daemon(s->daemon);
out:
    od_free(s->od);
    if (s->hooks) {
        if (vbill_hooks_stop(s->hooks) != VBILL_OK)
            fprintf(stderr, "vbill serve: %s\n", vbill_hooks_errmsg(s->hooks));
        vbill_hooks_free(s->hooks);
    }
    vbill_keys_free(s->keys);
    for (int i = 0; i < s->nstatics; i++) {
        free(s->statics[i].name);
        free(s->statics[i].data);
        free(s->statics[i].gz);
    }
    free(s->statics);
    free(s->check_html);
    free(s->watch_html);
    cJSON_Delete(s->texts);
    cJSON_Delete(s->page_config);
    free(s->faq_json);
    free(s->base_path);
    free(s->shared_prefix);
    free(s->shared_path);
    return rc;
}
