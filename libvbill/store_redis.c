/* store_redis.c: the attempt limiter's state in Redis, for carriers that run several viewer
 * servers behind a load balancer.
 *
 * Debian 12's hiredis (0.14) has no TLS, so the connection is ours (a socket, with OpenSSL
 * on it for rediss://) and hiredis does what it is good at: formatting commands
 * (redisFormatCommandArgv) and parsing replies (redisReader).  libcurl's URL API takes the
 * redis[s]:// URL apart.  Counters change through one Lua script (the bounded add) that
 * records each operation's id with its answer, so that a command sent again after a lost
 * reply is answered, not applied, a second time. */
#include "config.h"
#include "auth.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Takes a Redis URL apart (also built with --disable-redis: the fuzzer and the messages
 * need it either way). */
static char *dup_part(CURLU *h, CURLUPart part, unsigned flags)
{
    char *v = NULL, *out = NULL;
    if (curl_url_get(h, part, &v, flags) == CURLUE_OK && v)
        out = strdup(v);
    if (v) {
        if (part == CURLUPART_PASSWORD)
            memset(v, 0, strlen(v));
        curl_free(v);
    }
    return out;
}

void vb_redis_url_free(vb_redis_url *u)
{
    if (!u)
        return;
    if (u->password)
        OPENSSL_cleanse(u->password, strlen(u->password));
    free(u->host);
    free(u->user);
    free(u->password);
    free(u->cacert);
    free(u->capath);
    free(u->cert);
    free(u->key);
    free(u->sni);
    memset(u, 0, sizeof *u);
}

/* One query parameter into its member; false for an unknown one. */
static bool url_option(vb_redis_url *u, const char *name, size_t nlen, char *value)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"cacert", offsetof(vb_redis_url, cacert)}, {"capath", offsetof(vb_redis_url, capath)},
        {"cert", offsetof(vb_redis_url, cert)},     {"key", offsetof(vb_redis_url, key)},
        {"sni", offsetof(vb_redis_url, sni)},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(opts); i++)
        if (strlen(opts[i].name) == nlen && memcmp(opts[i].name, name, nlen) == 0) {
            char **slot = (char **)((char *)u + opts[i].off);
            free(*slot);
            *slot = value;
            return true;
        }
    return false;
}

bool vb_redis_url_parse(const char *url, vb_redis_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !*url) {
        snprintf(err, errlen, "no Redis URL given");
        return false;
    }
    const char *sep = strstr(url, "://");
    bool tls = strncmp(url, "rediss://", 9) == 0;
    if (!sep || !(tls || strncmp(url, "redis://", 8) == 0)) {
        snprintf(err, errlen, "Redis URL: must start with redis:// or rediss://");
        return false;
    }
    if (sep[3] == '/' || sep[3] == '\0') {
        snprintf(err, errlen, "Redis URL: no host");
        return false;
    }
    if (strchr(url, '#')) {
        snprintf(err, errlen, "Redis URL: a fragment (#) has no meaning here");
        return false;
    }
    CURLU *h = curl_url();
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    CURLUcode rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    bool ok = rc == CURLUE_OK;
    if (!ok)
        /* curl's message names the part, never the text */
        snprintf(err, errlen, "Redis URL: %s", curl_url_strerror(rc));
    u->tls = tls;
    char *port = NULL, *path = NULL, *query = NULL;
    if (ok) {
        u->host = dup_part(h, CURLUPART_HOST, 0);
        u->user = dup_part(h, CURLUPART_USER, CURLU_URLDECODE);
        u->password = dup_part(h, CURLUPART_PASSWORD, CURLU_URLDECODE);
        port = dup_part(h, CURLUPART_PORT, 0);
        path = dup_part(h, CURLUPART_PATH, 0);
        query = dup_part(h, CURLUPART_QUERY, 0);
    }
    curl_url_cleanup(h);
    if (ok && u->host && u->host[0] == '[') { /* [v6] */
        size_t n = strlen(u->host);
        memmove(u->host, u->host + 1, n - 1);
        u->host[n - 2] = '\0';
    }
    if (ok && (!u->host || !*u->host)) {
        snprintf(err, errlen, "Redis URL: no host");
        ok = false;
    }
    if (ok && u->user && !*u->user) { /* redis://:password@host */
        free(u->user);
        u->user = NULL;
    }
    if (ok && u->user && !u->password) {
        snprintf(err, errlen, "Redis URL: a user needs a password (redis://USER:PASSWORD@...)");
        ok = false;
    }
    if (ok && port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (*end || p < 1 || p > 65535) {
            snprintf(err, errlen, "Redis URL: port must be 1 to 65535");
            ok = false;
        }
        u->port = (int)p;
    }
    if (ok && path && strcmp(path, "/") != 0) {
        char *end;
        errno = 0;
        long db = strtol(path + 1, &end, 10);
        if (path[1] < '0' || path[1] > '9' || *end || errno || db > 65535) {
            snprintf(err, errlen, "Redis URL: the path must be a database number (/0 to /65535)");
            ok = false;
        }
        u->db = (int)db;
    }
    for (char *q = query, *next; ok && q && *q; q = next) {
        next = strchr(q, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(q, '=');
        size_t nlen = eq ? (size_t)(eq - q) : strlen(q);
        int vlen = 0;
        char *raw = eq ? curl_easy_unescape(NULL, eq + 1, 0, &vlen) : NULL;
        char *value = raw && (size_t)vlen == strlen(raw) && vlen > 0 ? strdup(raw) : NULL;
        curl_free(raw);
        if (!value) {
            snprintf(err, errlen, "Redis URL: parameter %.*s needs a value", (int)(nlen > 20 ? 20 : nlen), q);
            ok = false;
        } else if (!url_option(u, q, nlen, value)) {
            free(value);
            snprintf(err, errlen,
                     "Redis URL: unknown parameter %.*s (cacert, capath, cert, key, sni)",
                     (int)(nlen > 20 ? 20 : nlen), q);
            ok = false;
        }
    }
    if (ok && !u->tls && (u->cacert || u->capath || u->cert || u->key || u->sni)) {
        snprintf(err, errlen, "Redis URL: TLS parameters need rediss://");
        ok = false;
    }
    if (ok && (!u->cert) != (!u->key)) {
        snprintf(err, errlen, "Redis URL: a client certificate needs both cert and key");
        ok = false;
    }
    free(port);
    free(path);
    free(query);
    if (!ok)
        vb_redis_url_free(u);
    return ok;
}

#ifdef VBILL_HAVE_REDIS
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 5000

typedef struct rd_store {
    vb_redis_url url;
    SSL_CTX *tls;
    int fd;
    SSL *ssl;
    redisReader *reader;
    char prefix[64];
    char err[256]; /* why the last operation failed (never a password) */
} rd_store;

/* The bounded add (vbill_store_ops.add).  KEYS[1] the counter, KEYS[2] the operation's
 * record; ARGV delta, limit, ttl.  An operation seen before gives its recorded answer. */
static const char ADD_LUA[] =
    "local done = redis.call('GET', KEYS[2]) "
    "if done then "
    "  local a, v = string.match(done, '^(%d):(-?%d+)$') "
    "  return {tonumber(a), tonumber(v)} "
    "end "
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "local n = cur + tonumber(ARGV[1]) "
    "local a = 0 "
    "if n >= 0 and n <= tonumber(ARGV[2]) then "
    "  a = 1 "
    "  local ttl = tonumber(ARGV[3]) "
    "  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[1], n, 'KEEPTTL') "
    "  elseif ttl > 0 then redis.call('SET', KEYS[1], n, 'EX', ttl) "
    "  else redis.call('SET', KEYS[1], n) end "
    "else n = cur end "
    "redis.call('SET', KEYS[2], a .. ':' .. string.format('%d', n), 'EX', 600) "
    "return {a, n}";

/* KEYS[1] counter; ARGV[1] delta; ARGV[2] ttl seconds (0: none).  A fresh counter gets the
 * expiry; an existing one keeps its own.  (vbill_store_ops.incr, for callers of the ops.) */
static const char INCR_LUA[] =
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "local t = tonumber(ARGV[2]) "
    "if t > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], t) end "
    "return v";

static void rd_disconnect(rd_store *s)
{
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->reader) {
        redisReaderFree(s->reader);
        s->reader = NULL;
    }
}

static void rd_close(void *impl)
{
    rd_store *s = impl;
    if (!s)
        return;
    rd_disconnect(s);
    SSL_CTX_free(s->tls);
    vb_redis_url_free(&s->url);
    free(s);
}

static bool rd_fail(rd_store *s, const char *what, const char *why)
{
    snprintf(s->err, sizeof s->err, "%s: %s", what, why);
    return false;
}

static bool tls_fail(rd_store *s, const char *what)
{
    char why[160];
    unsigned long e = ERR_get_error();
    if (s->ssl && SSL_get_verify_result(s->ssl) != X509_V_OK)
        snprintf(why, sizeof why, "certificate not trusted: %s",
                 X509_verify_cert_error_string(SSL_get_verify_result(s->ssl)));
    else if (e)
        ERR_error_string_n(e, why, sizeof why);
    else
        snprintf(why, sizeof why, "%s", errno ? strerror(errno) : "connection closed");
    ERR_clear_error();
    return rd_fail(s, what, why);
}

/* A TCP connection with a connect timeout; reads and writes time out too. */
static bool tcp_connect(rd_store *s)
{
    char port[8];
    snprintf(port, sizeof port, "%d", s->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(s->url.host, port, &hints, &res);
    if (rc != 0)
        return rd_fail(s, "cannot resolve the host", gai_strerror(rc));
    const char *why = "no address";
    for (struct addrinfo *ai = res; ai && s->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        if (fd < 0)
            continue;
        int err = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                struct pollfd p = {fd, POLLOUT, 0};
                socklen_t len = sizeof err;
                err = poll(&p, 1, TIMEOUT_MS) == 1 &&
                              getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
                          ? err
                          : ETIMEDOUT;
            }
        }
        if (err) {
            why = strerror(err);
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        struct timeval tv = {TIMEOUT_MS / 1000, 0};
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        s->fd = fd;
    }
    freeaddrinfo(res);
    return s->fd >= 0 || rd_fail(s, "cannot connect", why);
}

static bool tls_connect(rd_store *s)
{
    /* not const: SSL_set_tlsext_host_name is a macro that casts it to void * */
    char *name = s->url.sni ? s->url.sni : s->url.host;
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    s->ssl = SSL_new(s->tls);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
        return tls_fail(s, "TLS");
    /* The certificate must name the host (or the sni parameter): chain and name checked. */
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), name) != 1
              : SSL_set_tlsext_host_name(s->ssl, name) != 1 || SSL_set1_host(s->ssl, name) != 1)
        return tls_fail(s, "TLS");
    errno = 0;
    if (SSL_connect(s->ssl) != 1)
        return tls_fail(s, "TLS handshake failed");
    return true;
}

/* Writes all of buf.  Plain TCP uses send(MSG_NOSIGNAL).  OpenSSL writes with write(2),
 * so for TLS SIGPIPE is blocked on this thread meanwhile (a closed peer is an error to
 * report, not a signal that kills the server) and a SIGPIPE it raised is taken back;
 * nothing process-wide is changed. */
static bool rd_write(rd_store *s, const char *buf, size_t n)
{
    bool ok = true;
    size_t done = 0;
    if (!s->ssl) {
        while (ok && done < n) {
            ssize_t w = send(s->fd, buf + done, n - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0 || rd_fail(s, "write failed", strerror(w < 0 ? errno : EPIPE));
            done += w > 0 ? (size_t)w : 0;
        }
        return ok;
    }
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    while (ok && done < n) {
        errno = 0;
        int w = SSL_write(s->ssl, buf + done, (int)(n - done));
        ok = w > 0 || tls_fail(s, "TLS write failed");
        done += w > 0 ? (size_t)w : 0;
    }
    if (!was_pending) {
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* One command, one reply (NULL on an I/O failure: the connection is then closed). */
static redisReply *rd_roundtrip(rd_store *s, int argc, const char **argv)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    if (len < 0) {
        rd_fail(s, "command", "out of memory");
        return NULL;
    }
    bool ok = rd_write(s, cmd, (size_t)len);
    redisFreeCommand(cmd);
    void *reply = NULL;
    while (ok && !reply) {
        if (redisReaderGetReply(s->reader, &reply) != REDIS_OK) {
            ok = rd_fail(s, "reply", "not the Redis protocol");
            break;
        }
        if (reply)
            break;
        char buf[16384];
        errno = 0;
        int n;
        if (s->ssl) {
            n = SSL_read(s->ssl, buf, sizeof buf);
            if (n <= 0)
                ok = tls_fail(s, "TLS read failed");
        } else {
            n = (int)recv(s->fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                ok = rd_fail(s, "read failed",
                             n == 0 ? "connection closed"
                             : errno == EAGAIN ? "no reply within 5 s"
                                               : strerror(errno));
        }
        if (ok && redisReaderFeed(s->reader, buf, (size_t)n) != REDIS_OK)
            ok = rd_fail(s, "reply", "out of memory");
    }
    if (!ok) {
        if (reply)
            freeReplyObject(reply);
        rd_disconnect(s);
        return NULL;
    }
    return reply;
}

/* A reply that is an error: its text, for the message (a Redis error never holds the
 * password). */
static bool rd_check_reply(rd_store *s, redisReply *r, const char *what)
{
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r && !ok)
        rd_fail(s, what, r->str);
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Connects, authenticates, selects the database and checks the server answers. */
static bool rd_connect(rd_store *s)
{
    rd_disconnect(s);
    s->reader = redisReaderCreate();
    if (!s->reader)
        return rd_fail(s, "connect", "out of memory");
    if (!tcp_connect(s) || (s->url.tls && !tls_connect(s))) {
        rd_disconnect(s);
        return false;
    }
    bool ok = true;
    if (s->url.password) {
        const char *auth[] = {"AUTH", s->url.user, s->url.password};
        const char **argv = s->url.user ? auth : (const char *[]){"AUTH", s->url.password};
        ok = rd_check_reply(s, rd_roundtrip(s, s->url.user ? 3 : 2, argv), "AUTH refused");
    }
    if (ok && s->url.db) {
        char db[8];
        snprintf(db, sizeof db, "%d", s->url.db);
        const char *argv[] = {"SELECT", db};
        ok = rd_check_reply(s, rd_roundtrip(s, 2, argv), "SELECT refused");
    }
    if (ok) {
        const char *argv[] = {"PING"};
        ok = rd_check_reply(s, rd_roundtrip(s, 1, argv), "no answer to PING");
    }
    if (!ok)
        rd_disconnect(s);
    return ok;
}

/* Runs a command; connects again once when the connection dropped (a Redis restart, a
 * lost reply).  A command may so be sent twice: every one that changes a counter is
 * idempotent (ADD_LUA's operation id; SET and DEL are). */
static redisReply *rd_cmd(rd_store *s, int argc, const char **argv)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s->fd < 0 && !rd_connect(s))
            return NULL;
        redisReply *r = rd_roundtrip(s, argc, argv);
        if (r)
            return r;
    }
    return NULL;
}

static bool rd_key(rd_store *s, const char *key, char *out, size_t n)
{
    int w = snprintf(out, n, "%s%s", s->prefix, key);
    return w > 0 && (size_t)w < n;
}

static vbill_status rd_int_reply(rd_store *s, redisReply *r, int64_t *value)
{
    vbill_status st = VBILL_OK;
    if (!r)
        return VBILL_ERR_STORE;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (value)
            *value = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
        if (value) {
            char *end;
            *value = strtoll(r->str, &end, 10);
            if (*end)
                st = VBILL_ERR_STORE;
        }
    } else if (r->type == REDIS_REPLY_NIL || r->type == REDIS_REPLY_STATUS) {
        if (value)
            *value = 0;
    } else {
        if (r->type == REDIS_REPLY_ERROR)
            rd_fail(s, "Redis refused", r->str);
        st = VBILL_ERR_STORE;
    }
    freeReplyObject(r);
    return st;
}

static vbill_status rd_add(void *impl, const char *key, int64_t delta, int64_t limit, int64_t ttl,
                           int64_t now, const char *op_id, int64_t *value, int *applied)
{
    (void)now; /* Redis expires by its own clock */
    rd_store *s = impl;
    char k[512], op[512], d[24], l[24], t[24];
    if (!rd_key(s, key, k, sizeof k) || snprintf(op, sizeof op, "%sop:%s", s->prefix, op_id) >=
                                            (int)sizeof op)
        return VBILL_ERR_STORE;
    snprintf(d, sizeof d, "%lld", (long long)delta);
    snprintf(l, sizeof l, "%lld", (long long)limit);
    snprintf(t, sizeof t, "%lld", (long long)(ttl > 0 ? ttl : 0));
    const char *argv[] = {"EVAL", ADD_LUA, "2", k, op, d, l, t};
    redisReply *r = rd_cmd(s, 8, argv);
    vbill_status st = VBILL_ERR_STORE;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        *applied = r->element[0]->integer == 1;
        *value = r->element[1]->integer;
        st = VBILL_OK;
    } else if (r) {
        rd_fail(s, "the counting script", r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
    }
    if (r)
        freeReplyObject(r);
    return st;
}

static vbill_status rd_incr(void *impl, const char *key, int64_t delta, int64_t ttl,
                            int64_t now, int64_t *value)
{
    (void)now;
    rd_store *s = impl;
    char k[512], d[24], t[24];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    snprintf(d, sizeof d, "%lld", (long long)delta);
    snprintf(t, sizeof t, "%lld", (long long)(ttl > 0 ? ttl : 0));
    const char *argv[] = {"EVAL", INCR_LUA, "1", k, d, t};
    return rd_int_reply(s, rd_cmd(s, 6, argv), value);
}

static vbill_status rd_get(void *impl, const char *key, int64_t now, int64_t *value)
{
    (void)now;
    rd_store *s = impl;
    char k[512];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    const char *argv[] = {"GET", k};
    return rd_int_reply(s, rd_cmd(s, 2, argv), value);
}

static vbill_status rd_set(void *impl, const char *key, int64_t value, int64_t ttl, int64_t now)
{
    (void)now;
    rd_store *s = impl;
    char k[512], v[24], t[24];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    snprintf(v, sizeof v, "%lld", (long long)value);
    snprintf(t, sizeof t, "%lld", (long long)ttl);
    const char *argv[] = {"SET", k, v, "EX", t};
    return rd_int_reply(s, rd_cmd(s, ttl > 0 ? 5 : 3, argv), NULL);
}

static vbill_status rd_del(void *impl, const char *key)
{
    rd_store *s = impl;
    char k[512];
    if (!rd_key(s, key, k, sizeof k))
        return VBILL_ERR_STORE;
    const char *argv[] = {"DEL", k};
    return rd_int_reply(s, rd_cmd(s, 2, argv), NULL);
}

static const char *rd_errmsg(void *impl) { return ((const rd_store *)impl)->err; }

static const vbill_store_ops rd_ops = {VBILL_STORE_OPS_VERSION, rd_incr, rd_get, rd_set, rd_del,
                                       rd_close, rd_errmsg, rd_add};

static SSL_CTX *tls_context(rd_store *s)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    bool ok = c && SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1;
    if (ok) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        ok = s->url.cacert || s->url.capath
                 ? SSL_CTX_load_verify_locations(c, s->url.cacert, s->url.capath) == 1
                 : SSL_CTX_set_default_verify_paths(c) == 1;
        if (!ok)
            tls_fail(s, "cannot load the CA certificates (cacert, capath)");
    }
    if (ok && s->url.cert &&
        (SSL_CTX_use_certificate_chain_file(c, s->url.cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(c, s->url.key, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(c) != 1)) {
        tls_fail(s, "cannot load the client certificate (cert, key)");
        ok = false;
    }
    if (!ok) {
        if (!c)
            rd_fail(s, "TLS", "out of memory");
        SSL_CTX_free(c);
        c = NULL;
    }
    return c;
}

VBILL_API vbill_status vbill_store_open_redis_url(vbill_ctx *ctx, const char *url,
                                                  const char *prefix, vbill_store **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no store to return");
    *out = NULL;
    if (!prefix)
        prefix = "vbill:";
    if (strlen(prefix) >= sizeof(((rd_store *)0)->prefix))
        return vb_error(ctx, VBILL_ERR_ARG, "Redis store: key prefix longer than 63 bytes");
    rd_store *s = calloc(1, sizeof *s);
    if (!s)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    s->fd = -1;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    if (!vb_redis_url_parse(url, &s->url, s->err, sizeof s->err)) {
        vbill_status st = vb_error(ctx, VBILL_ERR_ARG, "%s", s->err);
        rd_close(s);
        return st;
    }
    if ((s->url.tls && !(s->tls = tls_context(s))) || !rd_connect(s)) {
        bool v6 = strchr(s->url.host, ':') != NULL;
        vbill_status st = vb_error(ctx, VBILL_ERR_STORE, "Redis store %s%s%s%s:%d: %s",
                                   s->url.tls ? "rediss://" : "redis://", v6 ? "[" : "",
                                   s->url.host, v6 ? "]" : "", s->url.port, s->err);
        rd_close(s);
        return st;
    }
    return vb_store_wrap(ctx, &rd_ops, s, out);
}

VBILL_API vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out)
{
    vb_clear_error(ctx);
    if (out)
        *out = NULL;
    if (!host || !*host || port < 1 || port > 65535)
        return vb_error(ctx, VBILL_ERR_ARG, "Redis store: a host and a port 1-65535 are needed");
    char url[320];
    bool v6 = strchr(host, ':') != NULL;
    if (snprintf(url, sizeof url, "redis://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "",
                 port) >= (int)sizeof url)
        return vb_error(ctx, VBILL_ERR_ARG, "Redis store: host name too long");
    return vbill_store_open_redis_url(ctx, url, prefix, out);
}

#else /* built with --disable-redis */

static vbill_status no_redis(vbill_ctx *ctx, vbill_store **out)
{
    vb_clear_error(ctx);
    if (out)
        *out = NULL;
    return vb_error(ctx, VBILL_ERR_UNSUPPORTED,
                    "Redis store: this libvbill was built without Redis (configure --disable-redis)");
}

VBILL_API vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out)
{
    (void)host, (void)port, (void)prefix;
    return no_redis(ctx, out);
}

VBILL_API vbill_status vbill_store_open_redis_url(vbill_ctx *ctx, const char *url,
                                                  const char *prefix, vbill_store **out)
{
    (void)url, (void)prefix;
    return no_redis(ctx, out);
}

#endif
