/*
 * test_store.c: the attempt limiter's state stores: SQLite across a restart and across
 * processes racing (fork), Redis against a real redis-server started on loopback, and a
 * custom store through vbill_store_new_custom.
 */
#define _GNU_SOURCE
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    ck_assert_int_eq(check(s, tok, DIGITS, T0 + 5000), VBILL_OK);
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
    if (!st && getenv("VB_RACE_WIDE"))
        st = vbill_store_set_limits(*s, 10000, 900, 10000, 10000, 3600);
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
static void redis_start(void)
{
    redis_dir = tu_tmpdir();
    atexit(redis_stop); /* a failed check exits this process: never leave the server behind */
    srand((unsigned)(time(NULL) ^ getpid()));
    for (int attempt = 0; attempt < 10; attempt++) {
        redis_port = 20000 + rand() % 40000;
        char port[16];
        snprintf(port, sizeof port, "%d", redis_port);
        redis_pid = fork();
        ck_assert_int_ge(redis_pid, 0);
        if (redis_pid == 0) {
            if (!freopen("/dev/null", "w", stdout))
                _exit(126);
            execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", redis_dir, (char *)NULL);
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
            struct timeval tv = {1, 0};
            redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
            bool up = c && !c->err;
            if (c)
                redisFree(c);
            if (up)
                return;
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

static vbill_status open_redis(vbill_store **s, void *arg)
{
    (void)arg;
    vbill_status st = vbill_store_open_redis(NULL, "127.0.0.1", redis_port, "t:", s);
    if (!st && getenv("VB_RACE_WIDE"))
        st = vbill_store_set_limits(*s, 10000, 900, 10000, 10000, 3600);
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

static const char *mem_errmsg(void *impl)
{
    return ((mem_store *)impl)->n >= 64 ? "mem store: no room for a new key" : "";
}

START_TEST(custom_store)
{
    static mem_store m;
    memset(&m, 0, sizeof m);
    vbill_store_ops ops = {VBILL_STORE_OPS_VERSION, mem_incr, mem_get, mem_set, mem_del,
                           mem_close, mem_errmsg};
    vbill_store *s = NULL;
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
    suite_add_tcase(s, tc);
    return tu_run(s);
}
