/*
 * test_store.c: the attempt limiter's state stores: SQLite across a restart and across
 * processes racing (fork), Redis against a real redis-server started on loopback, and a
 * custom store through vbill_store_new_custom.
 */
#define _GNU_SOURCE
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "vbill.h"

static const char *REC =
    "{\"id\":\"S-000777\",\"name\":\"박서준\",\"birth\":\"1961-12-30\",\"locale\":\"ko-KR\","
    "\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\","
    "\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\","
    "\"product\":\"5G\",\"event\":\"device_change\",\"start\":\"2026-11-10\","
    "\"monthly_fee\":50000}]}";
#define DIGITS "611230"
#define T0 1795000000LL

static vbill_ctx *ctx;
static vbill_keys *keys;
static char *tmpdir;

static void setup(void)
{
    char *kj = NULL;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    ck_assert_int_eq(vbill_keys_generate(ctx, NULL, &kj), VBILL_OK);
    ck_assert_int_eq(vbill_keys_from_json(ctx, kj, (size_t)-1, &keys), VBILL_OK);
    vbill_free(kj);
    tmpdir = tu_tmpdir();
}

static void teardown(void)
{
    vbill_keys_free(keys);
    vbill_ctx_free(ctx);
    tu_rmtree(tmpdir);
    free(tmpdir);
}

static char *issue(void)
{
    char *tok = NULL;
    vbill_bill *bill = tu_bill(ctx, REC);
    ck_assert_int_eq(vbill_link_issue(ctx, keys, bill, T0, 30 * 86400, &tok), VBILL_OK);
    vbill_bill_free(bill);
    return tok;
}

/* The link id of a token (the store's key). */
static void link_id(const char *tok, char out[64])
{
    char *info = NULL;
    ck_assert_int_eq(vbill_link_verify(ctx, keys, tok, T0, &info), VBILL_OK);
    cJSON *j = cJSON_Parse(info);
    snprintf(out, 64, "%s", cJSON_GetObjectItem(j, "link")->valuestring);
    cJSON_Delete(j);
    vbill_free(info);
}

static vbill_status check(vbill_store *s, const char *tok, const char *digits, int64_t now)
{
    return vbill_auth_check(ctx, keys, s, tok, digits, "198.51.100.1", now, NULL);
}

/* The limiter's contract, whatever the store. */
static void limiter_contract(vbill_store *s)
{
    char *tok = issue();
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(s, tok, DIGITS, T0), VBILL_OK);
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(s, tok, DIGITS, T0), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 901), VBILL_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(check(s, tok, "000000", T0 + 901), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 5000), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(vbill_link_unlock(ctx, keys, s, tok), VBILL_OK);
    /* The unlock clears the link, not the subscriber's ten failures of the cycle. */
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 5000), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(vbill_store_set_subscriber_limit(s, 11), VBILL_OK);
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 5000), VBILL_OK);
    ck_assert_int_eq(check(s, tok, "000000", T0 + 5000), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 5000), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(vbill_store_set_subscriber_limit(s, 10), VBILL_OK);
    vbill_free(tok);
}

/* ---- SQLite ---- */

START_TEST(sqlite_contract)
{
    vbill_store *s = NULL;
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &s), VBILL_OK);
    limiter_contract(s);
    vbill_store_free(s);
    /* A file name works as well as a directory. */
    char path[4096];
    snprintf(path, sizeof path, "%s/other.sqlite", tmpdir);
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, path, &s), VBILL_OK);
    limiter_contract(s);
    vbill_store_free(s);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* Unopenable. */
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, "/nonexistent/dir/x.sqlite", &s),
                     VBILL_ERR_STORE);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "/nonexistent/dir/x.sqlite"));
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, "", &s), VBILL_ERR_ARG);
}
END_TEST

START_TEST(sqlite_survives_restart)
{
    char *tok = issue();
    vbill_store *s = NULL;
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &s), VBILL_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    vbill_store_free(s);
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &s), VBILL_OK);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    vbill_store_free(s);
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &s), VBILL_OK);
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 10), VBILL_ERR_AUTH_LOCKED);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(check(s, tok, "000000", T0 + 1000), VBILL_ERR_AUTH_WRONG);
    vbill_store_free(s);
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &s), VBILL_OK);
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 86400), VBILL_ERR_AUTH_LOCKED);
    vbill_store_free(s);
    vbill_free(tok);
}
END_TEST

typedef vbill_status (*opener)(vbill_store **s, void *arg);

/* Forks n processes that each make `each` wrong checks of tok, one every 1,000 s of the
 * clock; returns the number of comparisons that were made (wrong answers) in all. */
static int race(opener open, void *arg, const char *tok, int n, int each)
{
    pid_t pids[16];
    for (int p = 0; p < n; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            vbill_store *s = NULL;
            if (open(&s, arg) != VBILL_OK)
                _exit(255);
            int wrong = 0;
            for (int i = 0; i < each; i++) {
                /* Each round after the cooling period, so only the hard limit stops them. */
                vbill_status st = check(s, tok, "000000", T0 + i * 1000);
                if (st == VBILL_ERR_AUTH_WRONG)
                    wrong++;
                else if (st != VBILL_ERR_AUTH_LOCKED)
                    _exit(254);
            }
            vbill_store_free(s);
            _exit(wrong);
        }
    }
    int total = 0;
    for (int p = 0; p < n; p++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_lt(WEXITSTATUS(status), 250);
        total += WEXITSTATUS(status);
    }
    return total;
}

static vbill_status open_sqlite(vbill_store **s, void *arg)
{
    vbill_status st = vbill_store_open_sqlite(NULL, arg, s);
    if (!st && getenv("VB_RACE_WIDE") &&
        !(st = vbill_store_set_limits(*s, 10000, 900, 10000, 10000, 3600)))
        st = vbill_store_set_subscriber_limit(*s, 10000);
    return st;
}

/* Eight processes opening a new state file at the same moment all get a store (SQLite can
 * answer "database is locked" to the WAL switch without waiting; the store retries). */
START_TEST(sqlite_concurrent_first_open)
{
    for (int round = 0; round < 60; round++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/first-%d", tmpdir, round);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        pid_t pids[8];
        for (int p = 0; p < 8; p++) {
            pids[p] = fork();
            ck_assert_int_ge(pids[p], 0);
            if (pids[p] == 0) {
                vbill_store *s = NULL;
                _exit(vbill_store_open_sqlite(NULL, dir, &s) == VBILL_OK ? 0 : 1);
            }
        }
        for (int p = 0; p < 8; p++) {
            int status = 0;
            ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "round %d: a process could not open the new store", round);
        }
    }
}
END_TEST

static int64_t sqlite_counter(const char *dir, const char *key)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vbill-state.sqlite", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT value FROM counters WHERE key = ?1", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

START_TEST(sqlite_processes_racing)
{
    /* Default limits: four processes, forty wrong tries, exactly ten comparisons. */
    char *tok = issue();
    ck_assert_int_eq(race(open_sqlite, tmpdir, tok, 4, 10), 10);
    vbill_free(tok);
    /* Wide limits: every failure of every process is counted, none lost. */
    tok = issue();
    char id[64], key[128];
    link_id(tok, id);
    setenv("VB_RACE_WIDE", "1", 1);
    ck_assert_int_eq(race(open_sqlite, tmpdir, tok, 4, 50), 200);
    unsetenv("VB_RACE_WIDE");
    snprintf(key, sizeof key, "l:%s:f", id);
    ck_assert_int_eq(sqlite_counter(tmpdir, key), 200);
    vbill_free(tok);
}
END_TEST

/* ---- Redis ---- */

static int connect_port(int port);
static int redis_fixed_port; /* > 0: redis_start_with uses it (a restart) */
static pid_t redis_pid;
static int redis_port;
static char *redis_dir;

static void redis_stop(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
    if (redis_dir) {
        tu_rmtree(redis_dir);
        free(redis_dir);
        redis_dir = NULL;
    }
}

/* Starts redis-server on 127.0.0.1 with a random port, no persistence, in a temporary
 * directory; fails the test when it cannot (redis-server is a test dependency). */
/* Starts redis-server on 127.0.0.1 with a random port, no persistence, in a temporary
 * directory, with `extra` arguments (NULL-terminated, may be NULL; "@TLS" is replaced by
 * the TLS arguments: the port is then a TLS port); fails the test when it cannot
 * (redis-server is a test dependency). */
static void redis_start_with(const char *const *extra)
{
    redis_dir = tu_tmpdir();
    atexit(redis_stop); /* a failed check exits this process: never leave the server behind */
    srand((unsigned)(time(NULL) ^ getpid()));
    for (int attempt = 0; attempt < 10; attempt++) {
        redis_port = redis_fixed_port > 0 ? redis_fixed_port : 20000 + rand() % 40000;
        char port[16];
        snprintf(port, sizeof port, "%d", redis_port);
        redis_pid = fork();
        ck_assert_int_ge(redis_pid, 0);
        if (redis_pid == 0) {
            if (!freopen("/dev/null", "w", stdout))
                _exit(126);
            /* copies: exec wants char *; the child execs or exits */
            const char *base[] = {"redis-server", "--port", port, "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", redis_dir};
            char *argv[64];
            int n = 0;
            for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
                argv[n++] = strdup(base[i]);
            for (int i = 0; extra && extra[i] && n < 60; i++) {
                if (strcmp(extra[i], "@TLS") == 0) {
                    argv[2] = strdup("0");
                    argv[n++] = strdup("--tls-port");
                    argv[n++] = strdup(port);
                } else {
                    argv[n++] = strdup(extra[i]);
                }
            }
            argv[n] = NULL;
            execvp("redis-server", argv);
            _exit(127);
        }
        for (int wait = 0; wait < 100; wait++) {
            int status;
            if (waitpid(redis_pid, &status, WNOHANG) == redis_pid) {
                ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127),
                              "redis-server is not installed (Debian package redis-server)");
                redis_pid = 0;
                break; /* the port was taken: try another */
            }
            int fd = connect_port(redis_port); /* TCP only: also right for a TLS port */
            if (fd >= 0) {
                close(fd);
                return;
            }
            usleep(50000);
        }
        if (redis_pid > 0) {
            kill(redis_pid, SIGKILL);
            waitpid(redis_pid, NULL, 0);
            redis_pid = 0;
        }
    }
    ck_abort_msg("could not start redis-server");
}

static void redis_start(void) { redis_start_with(NULL); }

static vbill_status open_redis(vbill_store **s, void *arg)
{
    (void)arg;
    vbill_status st = vbill_store_open_redis(NULL, "127.0.0.1", redis_port, "t:", s);
    if (!st && getenv("VB_RACE_WIDE") &&
        !(st = vbill_store_set_limits(*s, 10000, 900, 10000, 10000, 3600)))
        st = vbill_store_set_subscriber_limit(*s, 10000);
    return st;
}

static long long redis_int(const char *cmd, const char *key)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    ck_assert(c && !c->err);
    redisReply *r = redisCommand(c, "%s %s", cmd, key);
    ck_assert_ptr_nonnull(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                                  : -100;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

START_TEST(redis_store)
{
    redis_start();
    vbill_store *s = NULL;
    ck_assert_int_eq(open_redis(&s, NULL), VBILL_OK);
    limiter_contract(s);
    redis_int("FLUSHDB", "SYNC"); /* the subscriber's cycle starts afresh */
    /* Counters and locks carry their expiry in Redis. */
    char *tok = issue();
    char id[64], key[128];
    link_id(tok, id);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    snprintf(key, sizeof key, "t:l:%s:f", id);
    ck_assert_int_eq(redis_int("GET", key), 5);
    ck_assert_int_gt(redis_int("TTL", key), 0);
    snprintf(key, sizeof key, "t:l:%s:u", id);
    ck_assert_int_eq(redis_int("GET", key), T0 + 900);
    long long ttl = redis_int("TTL", key);
    ck_assert(ttl > 0 && ttl <= 900);
    vbill_store_free(s);
    redis_int("FLUSHDB", "SYNC");
    /* Several "servers" racing: exactly ten comparisons; and no failure lost. */
    vbill_free(tok);
    tok = issue();
    ck_assert_int_eq(race(open_redis, NULL, tok, 4, 10), 10);
    vbill_free(tok);
    tok = issue();
    link_id(tok, id);
    setenv("VB_RACE_WIDE", "1", 1);
    ck_assert_int_eq(race(open_redis, NULL, tok, 4, 50), 200);
    unsetenv("VB_RACE_WIDE");
    snprintf(key, sizeof key, "t:l:%s:f", id);
    ck_assert_int_eq(redis_int("GET", key), 200);
    vbill_free(tok);
    /* The server going away is a store error, not a pass. */
    tok = issue();
    ck_assert_int_eq(open_redis(&s, NULL), VBILL_OK);
    int port = redis_port;
    redis_stop();
    ck_assert_int_eq(check(s, tok, DIGITS, T0), VBILL_ERR_STORE);
    vbill_store_free(s);
    ck_assert_int_eq(vbill_store_open_redis(ctx, "127.0.0.1", port, NULL, &s), VBILL_ERR_STORE);
    ck_assert_ptr_null(s);
    vbill_free(tok);
}
END_TEST

/* ---- a custom store ---- */

typedef struct mem_entry {
    char key[128];
    int64_t value, expires;
} mem_entry;
typedef struct mem_store {
    mem_entry e[64];
    int n;
    int closed;
} mem_store;

static mem_entry *mem_find(mem_store *m, const char *key, int64_t now, bool create)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->e[i].key, key) == 0) {
            if (m->e[i].expires && m->e[i].expires <= now) {
                m->e[i].value = 0;
                m->e[i].expires = 0;
            }
            return &m->e[i];
        }
    if (!create || m->n == 64)
        return NULL;
    mem_entry *e = &m->e[m->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

static vbill_status mem_incr(void *impl, const char *key, int64_t delta, int64_t ttl,
                             int64_t now, int64_t *value)
{
    mem_entry *e = mem_find(impl, key, now, true);
    if (!e)
        return VBILL_ERR_STORE;
    if (e->value == 0 && e->expires == 0 && ttl > 0)
        e->expires = now + ttl;
    *value = e->value += delta;
    return VBILL_OK;
}
static vbill_status mem_get(void *impl, const char *key, int64_t now, int64_t *value)
{
    mem_entry *e = mem_find(impl, key, now, false);
    *value = e ? e->value : 0;
    return VBILL_OK;
}
static vbill_status mem_set(void *impl, const char *key, int64_t value, int64_t ttl, int64_t now)
{
    mem_entry *e = mem_find(impl, key, now, true);
    if (!e)
        return VBILL_ERR_STORE;
    e->value = value;
    e->expires = ttl > 0 ? now + ttl : 0;
    return VBILL_OK;
}
static vbill_status mem_del(void *impl, const char *key)
{
    mem_entry *e = mem_find(impl, key, 0, false);
    if (e) {
        e->value = 0;
        e->expires = 0;
    }
    return VBILL_OK;
}
static void mem_close(void *impl) { ((mem_store *)impl)->closed++; }

/* The bounded add (version 3); one process, so op_id needs no record. */
static vbill_status mem_add(void *impl, const char *key, int64_t delta, int64_t limit,
                            int64_t ttl, int64_t now, const char *op_id, int64_t *value,
                            int *applied)
{
    ck_assert_ptr_nonnull(op_id);
    mem_entry *e = mem_find(impl, key, now, true);
    if (!e)
        return VBILL_ERR_STORE;
    int64_t v = e->value + delta;
    *applied = v >= 0 && v <= limit;
    if (*applied) {
        if (e->value == 0 && e->expires == 0 && ttl > 0)
            e->expires = now + ttl;
        e->value = v;
    }
    *value = e->value;
    return VBILL_OK;
}

static const char *mem_errmsg(void *impl)
{
    return ((mem_store *)impl)->n >= 64 ? "mem store: no room for a new key" : "";
}

START_TEST(custom_store)
{
    static mem_store m;
    memset(&m, 0, sizeof m);
    /* Version 2 (no bounded add: emulated with incr), then version 3. */
    vbill_store_ops ops = {2, mem_incr, mem_get, mem_set, mem_del, mem_close, mem_errmsg, NULL};
    vbill_store *s = NULL;
    ck_assert_int_eq(vbill_store_new_custom(ctx, &ops, &m, &s), VBILL_OK);
    limiter_contract(s);
    vbill_store_free(s);
    ck_assert_int_eq(m.closed, 1);
    memset(&m, 0, sizeof m);
    ops.version = VBILL_STORE_OPS_VERSION;
    ops.add = mem_add;
    ck_assert_int_eq(vbill_store_new_custom(ctx, &ops, &m, &s), VBILL_OK);
    limiter_contract(s);
    vbill_store_free(s);
    ck_assert_int_eq(m.closed, 1);
    ops.version = 99;
    ck_assert_int_eq(vbill_store_new_custom(ctx, &ops, &m, &s), VBILL_ERR_ARG);
    ck_assert_ptr_null(s);
    /* A failing store refuses the check (never lets it through). */
    ops.version = VBILL_STORE_OPS_VERSION;
    memset(&m, 0, sizeof m);
    m.n = 64; /* full: every new key fails */
    ck_assert_int_eq(vbill_store_new_custom(ctx, &ops, &m, &s), VBILL_OK);
    char *tok = issue();
    ck_assert_int_eq(check(s, tok, DIGITS, T0), VBILL_ERR_STORE);
    /* The store's own reason reaches the call's message and the store's. */
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "mem store: no room for a new key"));
    ck_assert_ptr_nonnull(strstr(vbill_store_errmsg(s), "mem store: no room for a new key"));
    vbill_free(tok);
    vbill_store_free(s);
    /* A version 1 struct (no errmsg member) is still taken. */
    ops.version = 1;
    ck_assert_int_eq(vbill_store_new_custom(ctx, &ops, &m, &s), VBILL_OK);
    vbill_store_free(s);
    vbill_store_free(NULL);
}
END_TEST

/* ---- issue 14 ---- */

/* Item 4: an unlock landing between a check's count and its undo left the counter at -1,
 * and the link then took 11 wrong compares before its hard lock.  One thread checks the
 * right digits (count, compare, undo) while another unlocks, with a store each. */
typedef struct unlocker_arg {
    opener open;
    void *arg;
    const char *tok;
    volatile int stop;
    int rounds;
} unlocker_arg;

static void *unlocker(void *p)
{
    unlocker_arg *a = p;
    vbill_ctx *c = NULL;
    vbill_store *s = NULL;
    if (vbill_ctx_new(&c) != VBILL_OK || a->open(&s, a->arg) != VBILL_OK)
        return NULL;
    while (!a->stop) {
        if (vbill_link_unlock(c, keys, s, a->tok) == VBILL_OK)
            a->rounds++;
    }
    vbill_store_free(s);
    vbill_ctx_free(c);
    return NULL;
}

/* Runs the race for up to `seconds` (or until the counter is seen below zero) and returns
 * the number of wrong compares the link takes afterwards. */
static int unlock_race(opener open, void *arg, int64_t (*counter)(const char *key),
                       double seconds)
{
    char *tok = issue();
    char id[64], key[128];
    link_id(tok, id);
    snprintf(key, sizeof key, "l:%s:f", id);
    vbill_store *s = NULL;
    ck_assert_int_eq(open(&s, arg), VBILL_OK);
    unlocker_arg a = {open, arg, tok, 0, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, unlocker, &a), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t lowest = 0;
    long checks = 0;
    for (;; checks++) {
        ck_assert_int_eq(check(s, tok, DIGITS, T0), VBILL_OK);
        int64_t v = counter(key);
        if (v < lowest)
            lowest = v;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (lowest < 0 || (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
            break;
    }
    a.stop = 1;
    pthread_join(th, NULL);
    fprintf(stderr, "unlock race: %ld right checks against %d unlocks; lowest counter %lld\n",
            checks, a.rounds, (long long)lowest);
    ck_assert_int_gt(a.rounds, 0);
    ck_assert_int_ge(lowest, 0);
    int wrong = 0;
    for (int i = 0; i < 15; i++)
        wrong += check(s, tok, "000000", T0 + 1000 * (i + 1)) == VBILL_ERR_AUTH_WRONG;
    vbill_store_free(s);
    vbill_free(tok);
    return wrong;
}

/* The counter read straight from the state file, through one connection kept open (a
 * transient -1 lasts only until the next unlock). */
static sqlite3 *counter_db;
static int64_t sqlite_key(const char *key)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(counter_db, "SELECT value FROM counters WHERE key = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return v;
}

START_TEST(sqlite_unlock_racing_a_check)
{
    vbill_store *s = NULL;
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &s), VBILL_OK); /* makes the file */
    vbill_store_free(s);
    char path[4096];
    snprintf(path, sizeof path, "%s/vbill-state.sqlite", tmpdir);
    ck_assert_int_eq(sqlite3_open(path, &counter_db), SQLITE_OK);
    sqlite3_busy_timeout(counter_db, 5000);
    ck_assert_int_eq(unlock_race(open_sqlite, tmpdir, sqlite_key, 3.0), 10);
    sqlite3_close(counter_db);
}
END_TEST

/* A TCP proxy in front of redis-server that forwards everything but, once, drops the
 * connection instead of delivering the reply to the first EVAL: a lost reply.  Runs in a
 * child process; returns its port. */
static pid_t proxy_pid;
static void proxy_stop(void)
{
    if (proxy_pid > 0) {
        kill(proxy_pid, SIGKILL);
        waitpid(proxy_pid, NULL, 0);
        proxy_pid = 0;
    }
}

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int lost_reply_proxy(int target_port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 8), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    atexit(proxy_stop);
    proxy_pid = fork();
    ck_assert_int_ge(proxy_pid, 0);
    if (proxy_pid > 0) {
        close(ls);
        return ntohs(a.sin_port);
    }
    int dropped = 0;
    for (;;) { /* one connection at a time: the store's, then its reconnection */
        int c = accept(ls, NULL, NULL);
        int s = connect_port(target_port);
        if (c < 0 || s < 0)
            _exit(1);
        int armed = 0;
        char buf[65536];
        for (;;) {
            struct pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
            if (poll(p, 2, -1) < 0)
                _exit(1);
            if (p[0].revents) {
                ssize_t n = read(c, buf, sizeof buf);
                if (n <= 0)
                    break;
                if (!dropped && memmem(buf, (size_t)n, "EVAL", 4))
                    armed = 1;
                if (write(s, buf, (size_t)n) != n)
                    break;
            }
            if (p[1].revents) {
                ssize_t n = read(s, buf, sizeof buf);
                if (n <= 0)
                    break;
                if (armed && !dropped) {
                    dropped = 1; /* the server has counted; the client never hears of it */
                    break;
                }
                if (write(c, buf, (size_t)n) != n)
                    break;
            }
        }
        close(c);
        close(s);
    }
}

/* Item 6: a lost reply made the store send the counting script again: one attempt counted
 * twice. */
START_TEST(redis_lost_reply_counts_once)
{
    redis_start();
    int port = lost_reply_proxy(redis_port);
    vbill_store *s = NULL;
    ck_assert_int_eq(vbill_store_open_redis(ctx, "127.0.0.1", port, "lost:", &s), VBILL_OK);
    char *tok = issue();
    char id[64], key[128];
    link_id(tok, id);
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    snprintf(key, sizeof key, "lost:l:%s:f", id);
    ck_assert_int_eq(redis_int("GET", key), 1);
    vbill_store_free(s);
    proxy_stop();
    vbill_free(tok);
}
END_TEST

static int64_t redis_key(const char *key)
{
    char k[256];
    snprintf(k, sizeof k, "t:%s", key);
    long long v = redis_int("GET", k);
    return v == -100 ? 0 : v;
}

START_TEST(redis_unlock_racing_a_check)
{
    redis_start();
    ck_assert_int_eq(unlock_race(open_redis, NULL, redis_key, 3.0), 10);
}
END_TEST

/* ---- item 6: Redis URLs with a password, an ACL user, a database and TLS ---- */

/* Runs a shell command (openssl) in dir; fails the test when it fails. */
static void sh(const char *dir, const char *cmd)
{
    char full[4096];
    snprintf(full, sizeof full, "cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);
    ck_assert_msg(system(full) == 0, "failed: %s", cmd);
}

/* A throwaway CA, a server certificate for localhost and 127.0.0.1, a client certificate,
 * and another CA that signed nothing here. */
static void make_certs(const char *dir)
{
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "openssl req -x509 %s -keyout ca.key -out ca.crt -subj /CN=test-ca -days 2", ec);
    sh(dir, cmd);
    snprintf(cmd, sizeof cmd, "openssl req -x509 %s -keyout other.key -out other.crt -subj /CN=other-ca -days 2", ec);
    sh(dir, cmd);
    snprintf(cmd, sizeof cmd, "openssl req %s -keyout srv.key -out srv.csr -subj /CN=localhost", ec);
    sh(dir, cmd);
    sh(dir, "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >srv.ext && "
            "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt "
            "-days 2 -extfile srv.ext");
    snprintf(cmd, sizeof cmd, "openssl req %s -keyout cli.key -out cli.csr -subj /CN=viewer", ec);
    sh(dir, cmd);
    sh(dir, "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2");
}

static vbill_status open_url(const char *fmt, vbill_store **s)
{
    char url[2048];
    snprintf(url, sizeof url, fmt, redis_port, tmpdir, tmpdir, tmpdir);
    return vbill_store_open_redis_url(ctx, url, "u:", s);
}

/* The counter of tok's link in database db, read with hiredis (AUTH first). */
static long long counter_in_db(const char *password, int db, const char *tok)
{
    char id[64];
    link_id(tok, id);
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    ck_assert(c && !c->err);
    redisReply *r = redisCommand(c, "AUTH %s", password);
    ck_assert(r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = redisCommand(c, "SELECT %d", db);
    ck_assert(r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = redisCommand(c, "GET u:l:%s:f", id);
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

START_TEST(redis_url_password_user_db)
{
    const char *args[] = {"--requirepass", "p@ss w/rd", "--user", "viewer", "on", ">v1ewer-pw",
                          "~*", "&*", "+@all", NULL};
    redis_start_with(args);
    vbill_store *s = NULL;
    /* No password: refused by the server, said so. */
    ck_assert_int_eq(open_url("redis://127.0.0.1:%d", &s), VBILL_ERR_STORE);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "NOAUTH"));
    /* A wrong password: refused; the message never holds it. */
    ck_assert_int_eq(open_url("redis://:Zq9-not-it@127.0.0.1:%d", &s), VBILL_ERR_STORE);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "AUTH"));
    ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), "Zq9-not-it"));
    ck_assert_int_eq(open_url("redis://viewer:Zq9-not-it@127.0.0.1:%d", &s), VBILL_ERR_STORE);
    ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), "Zq9-not-it"));
    /* The default user's password (percent-encoded) and database 3. */
    ck_assert_int_eq(open_url("redis://:p%%40ss%%20w%%2Frd@127.0.0.1:%d/3", &s), VBILL_OK);
    char *tok = issue();
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(counter_in_db("p@ss w/rd", 3, tok), 1);
    ck_assert_int_eq(counter_in_db("p@ss w/rd", 0, tok), 0);
    vbill_store_free(s);
    /* An ACL user. */
    ck_assert_int_eq(open_url("redis://viewer:v1ewer-pw@localhost:%d/3", &s), VBILL_OK);
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(counter_in_db("p@ss w/rd", 3, tok), 2);
    /* The server restarts (its unsaved counts gone): the store connects again, with AUTH
     * and SELECT, on its next operation. */
    redis_fixed_port = redis_port;
    redis_stop();
    redis_start_with(args);
    redis_fixed_port = 0;
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(counter_in_db("p@ss w/rd", 3, tok), 1);
    vbill_free(tok);
    vbill_store_free(s);
}
END_TEST

START_TEST(redis_url_malformed)
{
    vbill_store *s = (vbill_store *)1;
    const char *bad[] = {
        "", "http://127.0.0.1:6379", "redis:/127.0.0.1", "redis://", "redis:///3",
        "redis://127.0.0.1:0", "redis://127.0.0.1:65536", "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/99999", "redis://127.0.0.1/3/4", "redis://127.0.0.1?cacert=/x",
        "rediss://127.0.0.1?bogus=1", "rediss://127.0.0.1?cacert=", "rediss://127.0.0.1?cert=/c",
        "redis://user@127.0.0.1", "redis://127.0.0.1#frag", "redis://[::1:6379",
        "redis://:topsecret@127.0.0.1:99999", "redis://u:topsecret@127.0.0.1/zz",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vbill_status st = vbill_store_open_redis_url(ctx, bad[i], NULL, &s);
        ck_assert_msg(st == VBILL_ERR_ARG, "%s: status %d (%s)", bad[i], st,
                      vbill_ctx_errmsg(ctx));
        ck_assert_ptr_null(s);
        ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), "topsecret"));
        ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "Redis URL"));
    }
    ck_assert_int_eq(vbill_store_open_redis_url(ctx, NULL, NULL, &s), VBILL_ERR_ARG);
    /* Nothing listens: a store error naming the server, not the password. */
    ck_assert_int_eq(vbill_store_open_redis_url(ctx, "redis://:topsecret@127.0.0.1:1/2", NULL, &s),
                     VBILL_ERR_STORE);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "redis://127.0.0.1:1"));
    ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), "topsecret"));
}
END_TEST

START_TEST(redis_url_tls)
{
    make_certs(tmpdir);
    char cert[4200], key[4200], ca[4200];
    snprintf(cert, sizeof cert, "%s/srv.crt", tmpdir);
    snprintf(key, sizeof key, "%s/srv.key", tmpdir);
    snprintf(ca, sizeof ca, "%s/ca.crt", tmpdir);
    const char *args[] = {"@TLS", "--tls-cert-file", cert, "--tls-key-file", key,
                          "--tls-ca-cert-file", ca, "--tls-auth-clients", "optional",
                          "--requirepass", "tls-pw", NULL};
    redis_start_with(args);
    vbill_store *s = NULL;
    /* Verified by name and by address; password and database over TLS. */
    ck_assert_int_eq(open_url("rediss://:tls-pw@localhost:%d/2?cacert=%s/ca.crt", &s), VBILL_OK);
    char *tok = issue();
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(s, tok, DIGITS, T0), VBILL_OK);
    vbill_store_free(s);
    ck_assert_int_eq(open_url("rediss://:tls-pw@127.0.0.1:%d/2?cacert=%s/ca.crt", &s), VBILL_OK);
    ck_assert_int_eq(check(s, tok, "000000", T0), VBILL_ERR_AUTH_WRONG);
    vbill_store_free(s);
    /* A client certificate. */
    ck_assert_int_eq(open_url("rediss://:tls-pw@localhost:%d?cacert=%s/ca.crt&cert=%s/cli.crt"
                              "&key=%s/cli.key",
                              &s),
                     VBILL_OK);
    vbill_store_free(s);
    /* Another CA, another name, the system's CAs, plain TCP: refused. */
    ck_assert_int_eq(open_url("rediss://:tls-pw@localhost:%d?cacert=%s/other.crt", &s),
                     VBILL_ERR_STORE);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "certificate"));
    ck_assert_int_eq(open_url("rediss://:tls-pw@127.0.0.1:%d?cacert=%s/ca.crt&sni=redis.example",
                              &s),
                     VBILL_ERR_STORE);
    ck_assert_int_eq(open_url("rediss://:tls-pw@localhost:%d", &s), VBILL_ERR_STORE);
    ck_assert_int_eq(open_url("redis://:tls-pw@localhost:%d", &s), VBILL_ERR_STORE);
    ck_assert_ptr_null(s);
    ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), "tls-pw"));
    ck_assert_int_eq(open_url("rediss://:tls-pw@localhost:%d?cacert=%s/nonexistent.crt", &s),
                     VBILL_ERR_STORE);
    vbill_free(tok);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("stores");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, NULL, redis_stop);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sqlite_contract);
    tcase_add_test(tc, sqlite_survives_restart);
    tcase_add_test(tc, sqlite_processes_racing);
    tcase_add_test(tc, sqlite_concurrent_first_open);
    tcase_add_test(tc, redis_store);
    tcase_add_test(tc, custom_store);
    tcase_add_test(tc, sqlite_unlock_racing_a_check);
    tcase_add_test(tc, redis_unlock_racing_a_check);
    tcase_add_test(tc, redis_lost_reply_counts_once);
    tcase_add_test(tc, redis_url_password_user_db);
    tcase_add_test(tc, redis_url_malformed);
    tcase_add_test(tc, redis_url_tls);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
