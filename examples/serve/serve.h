/*
 * serve.h: vbill serve, the viewer.  It answers the links `vbill batch` made (the bill store,
 * examples/cli/store.h): the six-digit check, the watch page and its data, the personal HLS
 * (rendered on demand when the store holds only the bill), the shared template segments,
 * the page's events and questions, /healthz and /metrics.  The routes and the page's
 * template variables are documented in examples/page/README.md.
 *
 * Files: serve.c (options, the HTTP daemon, responses, files, metrics, draining),
 * viewer.c (the link routes: check, sessions, pages, page data, events, chat),
 * ondemand.c (templates, shared segments, the render pool, playlists and captions).
 */
#ifndef VBILL_SERVE_H
#define VBILL_SERVE_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vbill.h"

/* ---- metrics ---- */

typedef enum route {
    R_CHECK_GET, R_CHECK_POST, R_WATCH, R_DATA, R_PLAYLIST, R_SEGMENT, R_MP4, R_VTT,
    R_SHARED, R_STATIC, R_EVENT, R_CHAT, R_HEALTH, R_METRICS, R_OTHER, R_COUNT
} route;

#define N_STATUS 20
#define N_BUCKETS 11

typedef struct metrics {
    atomic_long requests[R_COUNT][N_STATUS];
    atomic_long latency[R_COUNT][N_BUCKETS + 1]; /* cumulative at print time */
    atomic_llong latency_us_sum[R_COUNT];
    atomic_long open_connections;
    atomic_long checks_ok, checks_wrong, checks_locked, checks_error;
    atomic_long renders_ok, renders_failed, renders_waited, render_queue, render_busy;
    atomic_long events_queued, events_refused;
} metrics;

/* ---- the server ---- */

typedef struct cidr {
    int family;
    unsigned char addr[16];
    int bits;
} cidr;

typedef struct static_file {
    char *name;           /* "page.css", "vendor/hls.light.min.js" */
    char *data;
    size_t len;
    char *gz;             /* the same gzipped (made once at start), or NULL */
    size_t gz_len;
    const char *type;
    char etag[40], gz_etag[44];
} static_file;

struct ondemand;

typedef struct server {
    /* options */
    const char *store, *listen, *base_url, *page_dir, *key_file, *pepper_file, *state_dir, *redis;
    char redis_url[1024];     /* --redis as a URL (HOST:PORT read as redis://HOST:PORT) */
    const char *hooks_file, *faq_file, *page_config_file;
    char *base_path;          /* the path part of base_url, "/v/" */
    char *shared_prefix;      /* URL prefix of the shared segments, "/s/" lives under it */
    char *shared_path;        /* its path part, "/s/" */
    bool insecure_cookies, quiet;
    cidr trusted[16];
    int ntrusted;
    int threads, render_workers;
    /* what it serves */
    vbill_keys *keys;
    vbill_hooks *hooks;
    pthread_mutex_t hooks_lock;
    char *faq_json;
    cJSON *page_config;       /* {"helpdesk","actions","overlay_default"} */
    cJSON *texts;             /* texts.json */
    char *check_html, *watch_html;
    static_file *statics;
    int nstatics;
    struct ondemand *od;
    struct MHD_Daemon *daemon;
    metrics m;
    atomic_bool draining;
} server;

/* What one request carries between the calls of the access handler. */
typedef struct request {
    double start;
    route r;
    int status;
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    /* a personal segment waiting for its render */
    struct render_job *waiting;
    int render_result;        /* 0 not yet, 1 done, -1 failed */
} request;

/* ---- serve.c ---- */

double sv_now(void);
/* Adds the security headers every response carries. */
void sv_security_headers(struct MHD_Response *r);
/* Queues a response from memory (copied) with its type and status; counts it. */
enum MHD_Result sv_reply(struct MHD_Connection *c, request *q, int status, const char *type,
                         const char *body, size_t len);
/* Same with extra headers: pairs of name, value, NULL-terminated. */
enum MHD_Result sv_reply_h(struct MHD_Connection *c, request *q, int status, const char *type,
                           const char *body, size_t len, const char *const *headers);
/* Serves a file (Range, ETag, If-None-Match); cache is the Cache-Control value. */
enum MHD_Result sv_file(struct MHD_Connection *c, request *q, const char *path,
                        const char *type, const char *cache);
/* The client's address as the limiter must see it: the socket's, or X-Forwarded-For's
 * rightmost address not in --trust-proxy when the socket's is. */
void sv_client(server *s, struct MHD_Connection *c, char *out, size_t size);
/* This thread's context and attempt store (one each per thread, made on first use). */
vbill_ctx *sv_ctx(void);
vbill_store *sv_store(server *s);
/* One log line (never a token, a name or a digit of a birth date). */
void sv_log(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- viewer.c ---- */

/* Handles B T[/...]: rest is what follows the token ("" for the check page). */
enum MHD_Result vw_link(server *s, struct MHD_Connection *c, request *q, const char *method,
                        const char *token, const char *rest);
/* Reads the page files (check.html, watch.html, texts.json, static/) and the page config. */
int vw_load_page(server *s, char *err, size_t errlen);

/* ---- ondemand.c ---- */

typedef struct bill_ref {
    char cycle[8];
    char dir[80];
    char *path;               /* STORE/<cycle>/<dir> */
    vbill_bill *bill;         /* the thread's cached bill, or one of its own when owned */
    bool owned;
} bill_ref;

struct ondemand *od_new(server *s, int workers);
void od_free(struct ondemand *od);
/* The prepared template of a bill (opened once); NULL with a message in err. */
vbill_template *od_template(server *s, const vbill_bill *bill, char *hash, char *err,
                            size_t errlen);
/* The playlist of a bill, written into its folder when missing.  0 or -1. */
int od_playlist(server *s, bill_ref *b, char *err, size_t errlen);
/* Serves or schedules personal segment k: returns 1 when the file is there now, 0 when the
 * request was suspended (it is resumed when the render ends), -1 on failure. */
int od_segment(server *s, struct MHD_Connection *c, request *q, bill_ref *b, int k,
               bool urgent);
/* Queues every personal segment of a bill in play order (when its playlist is asked for). */
void od_prefetch(server *s, const bill_ref *b);
/* The folder of a shared segment: STORE/templates/<name>/.vbill-prepared/<hash...>/hls-<v>/ for
 * "/s/HASH/<v>/...", or NULL. */
char *od_shared_dir(server *s, const char *hash16, const char *variant);
/* The captions or chapters of a bill as WebVTT (malloc'd). */
char *od_vtt(server *s, bill_ref *b, bool chapters);
/* The template facts the page needs: duration, size, overlay slots (rendered texts), hash. */
cJSON *od_page_video(server *s, bill_ref *b);

#endif
