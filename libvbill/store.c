/* store.c: the attempt limiter's state store: the interface and the SQLite implementation.
 *
 * One table of counters (key, value, expires).  Every operation is a single SQL statement,
 * hence atomic across processes; WAL mode lets readers and one writer proceed together and
 * the busy timeout queues writers instead of failing.  The bounded add (the count before a
 * comparison and its undo) is a conditional UPDATE ... WHERE value + delta BETWEEN 0 AND
 * limit RETURNING value (or, for a counter not there yet, a conditional UPSERT): it never
 * passes the limit and never goes below zero, whatever runs between a check's count and its
 * undo. */
#include "config.h"
#include "auth.h"

#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

vbill_status vb_store_wrap(vbill_ctx *ctx, const vbill_store_ops *ops, void *impl,
                           vbill_store **out)
{
    vbill_store *s = calloc(1, sizeof *s);
    if (!s) {
        if (ops->close)
            ops->close(impl);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory for the store");
    }
    s->ops = *ops;
    s->impl = impl;
    s->soft = 5;
    s->hard = 10;
    s->cooling = 900;
    s->client_max = 30;
    s->client_window = 3600;
    s->sub_max = 10;
    s->slow = 10;
    s->alarm_max = 600;
    s->alarm_window = 600;
    *out = s;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_store_new_custom(vbill_ctx *ctx, const vbill_store_ops *ops,
                                              void *impl, vbill_store **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no store to return");
    *out = NULL;
    if (!ops || ops->version < 1 || ops->version > VBILL_STORE_OPS_VERSION || !ops->incr ||
        !ops->get || !ops->set || !ops->del)
        return vb_error(ctx, VBILL_ERR_ARG,
                        "store ops: version must be 1 to %d and incr, get, set, del must be set",
                        VBILL_STORE_OPS_VERSION);
    vbill_store_ops copy = {0};
    /* Copy only the members the caller's version has: never read past an older struct. */
    size_t n = ops->version >= 3   ? sizeof copy
               : ops->version == 2 ? offsetof(vbill_store_ops, add)
                                   : offsetof(vbill_store_ops, errmsg);
    memcpy(&copy, ops, n);
    return vb_store_wrap(ctx, &copy, impl, out);
}

VBILL_API void vbill_store_free(vbill_store *store)
{
    if (!store)
        return;
    if (store->ops.close)
        store->ops.close(store->impl);
    free(store);
}

/* Upper bounds keep every `now + x` far from overflow and every limit meaningful. */
#define MAX_SECONDS (366LL * 86400)
#define MAX_COUNT 100000

VBILL_API vbill_status vbill_store_set_limits(vbill_store *store, int soft,
                                              int64_t cooling_seconds, int hard, int client_max,
                                              int64_t client_window_seconds)
{
    if (!store)
        return VBILL_ERR_ARG;
    store->errmsg[0] = '\0';
    if (soft < 1 || hard < 1 || soft > hard || cooling_seconds < 1 || client_max < 1 ||
        client_window_seconds < 1 || hard > MAX_COUNT || client_max > MAX_COUNT ||
        cooling_seconds > MAX_SECONDS || client_window_seconds > MAX_SECONDS) {
        snprintf(store->errmsg, sizeof store->errmsg,
                 "limits: every value must be at least 1, soft (%d) at most hard (%d), counts "
                 "at most %d and times at most 366 days",
                 soft, hard, MAX_COUNT);
        return VBILL_ERR_ARG;
    }
    store->soft = soft;
    store->hard = hard;
    store->cooling = cooling_seconds;
    store->client_max = client_max;
    store->client_window = client_window_seconds;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_store_set_subscriber_limit(vbill_store *store, int max_failures)
{
    if (!store)
        return VBILL_ERR_ARG;
    store->errmsg[0] = '\0';
    if (max_failures < 1 || max_failures > MAX_COUNT) {
        snprintf(store->errmsg, sizeof store->errmsg,
                 "subscriber limit %d: must be 1 to %d failed checks", max_failures, MAX_COUNT);
        return VBILL_ERR_ARG;
    }
    store->sub_max = max_failures;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_store_set_slowdown(vbill_store *store, int64_t seconds)
{
    if (!store)
        return VBILL_ERR_ARG;
    store->errmsg[0] = '\0';
    if (seconds < 1 || seconds > 3600) {
        snprintf(store->errmsg, sizeof store->errmsg,
                 "slowdown %lld s: must be 1 s to 3600 s", (long long)seconds);
        return VBILL_ERR_ARG;
    }
    store->slow = seconds;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_store_set_alarm(vbill_store *store, int64_t max_failures,
                                             int64_t window_seconds, vbill_lock_fn fn, void *user)
{
    if (!store)
        return VBILL_ERR_ARG;
    store->errmsg[0] = '\0';
    if (max_failures < 1 || max_failures > INT64_C(1000000000) || window_seconds < 1 ||
        window_seconds > MAX_SECONDS) {
        snprintf(store->errmsg, sizeof store->errmsg,
                 "alarm: at least 1 failure (at most 10^9) within 1 s to 366 days");
        return VBILL_ERR_ARG;
    }
    store->alarm_max = max_failures;
    store->alarm_window = window_seconds;
    store->alarm_fn = fn;
    store->alarm_user = user;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_store_stats(vbill_store *store, int64_t now, char **out_json)
{
    if (!store || !out_json)
        return VBILL_ERR_ARG;
    *out_json = NULL;
    store->errmsg[0] = '\0';
    if (now <= 0)
        now = (int64_t)time(NULL);
    int64_t window = 0, total = 0;
    if (store->ops.get(store->impl, "g:f", now, &window) ||
        store->ops.get(store->impl, "g:t", now, &total)) {
        const char *why = store->ops.errmsg ? store->ops.errmsg(store->impl) : NULL;
        snprintf(store->errmsg, sizeof store->errmsg, "state store: reading the failure "
                 "counters failed%s%.300s", why && *why ? ": " : "", why ? why : "");
        return VBILL_ERR_STORE;
    }
    const vb_store_counts *c = &store->counts;
    vb_buf b = {0};
    vb_buf_printf(&b,
                  "{\"checks\":%lld,\"passed\":%lld,\"failed\":%lld,\"locked\":%lld,"
                  "\"slowed\":%lld,\"alarms\":%lld,\"failures_total\":%lld,"
                  "\"failures_window\":%lld,\"window_seconds\":%lld,\"alarm_failures\":%lld}",
                  (long long)c->checks, (long long)c->passed, (long long)c->failed,
                  (long long)c->locked, (long long)c->slowed, (long long)c->alarms,
                  (long long)total, (long long)window, (long long)store->alarm_window,
                  (long long)store->alarm_max);
    *out_json = vb_buf_take(&b);
    return *out_json ? VBILL_OK : VBILL_ERR_NOMEM;
}

vbill_status vb_store_add(vbill_store *s, const char *key, int64_t delta, int64_t limit,
                          int64_t ttl, int64_t now, const char *op_id, int64_t *value,
                          bool *applied)
{
    *applied = false;
    if (s->ops.add) {
        int a = 0;
        vbill_status st = s->ops.add(s->impl, key, delta, limit, ttl, now, op_id, value, &a);
        *applied = st == VBILL_OK && a;
        return st;
    }
    /* A version 1 or 2 store: increment, then undo what passed a bound. */
    int64_t v = 0;
    vbill_status st;
    if (delta < 0) {
        if ((st = s->ops.get(s->impl, key, now, &v)))
            return st;
        *value = v;
        if (v + delta < 0)
            return VBILL_OK;
    }
    if ((st = s->ops.incr(s->impl, key, delta, ttl, now, &v)))
        return st;
    if (v < 0 || v > limit) {
        *value = v - delta;
        return s->ops.incr(s->impl, key, -delta, ttl, now, &v);
    }
    *value = v;
    *applied = true;
    return VBILL_OK;
}

VBILL_API const char *vbill_store_errmsg(const vbill_store *store)
{
    return store ? store->errmsg : "no store";
}

VBILL_API void vbill_store_set_lock_hook(vbill_store *store, vbill_lock_fn fn, void *user)
{
    if (!store)
        return;
    store->lock_fn = fn;
    store->lock_user = user;
}

/* ---- SQLite ---------------------------------------------------------------------- */

typedef struct sq_store {
    sqlite3 *db;
    sqlite3_stmt *incr, *add, *add_live, *get, *set, *del, *purge;
    unsigned ops; /* purge expired rows now and then */
} sq_store;

static void sq_close(void *impl)
{
    sq_store *s = impl;
    if (!s)
        return;
    sqlite3_finalize(s->incr);
    sqlite3_finalize(s->add);
    sqlite3_finalize(s->add_live);
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->set);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->purge);
    sqlite3_close(s->db);
    free(s);
}

static int64_t sq_expiry(int64_t ttl, int64_t now) { return ttl > 0 ? now + ttl : 0; }

static vbill_status sq_step_done(sqlite3_stmt *st, int64_t *value)
{
    int rc = sqlite3_step(st);
    vbill_status r = VBILL_OK;
    if (rc == SQLITE_ROW) {
        if (value)
            *value = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        if (value)
            *value = 0;
    } else {
        r = VBILL_ERR_STORE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r;
}

static void sq_maybe_purge(sq_store *s, int64_t now)
{
    if ((++s->ops & 1023) != 0)
        return;
    sqlite3_bind_int64(s->purge, 1, now);
    (void)sq_step_done(s->purge, NULL);
}

static vbill_status sq_incr(void *impl, const char *key, int64_t delta, int64_t ttl,
                            int64_t now, int64_t *value)
{
    sq_store *s = impl;
    sq_maybe_purge(s, now);
    sqlite3_bind_text(s->incr, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->incr, 2, delta);
    sqlite3_bind_int64(s->incr, 3, sq_expiry(ttl, now));
    sqlite3_bind_int64(s->incr, 4, now);
    return sq_step_done(s->incr, value);
}

static vbill_status sq_get(void *impl, const char *key, int64_t now, int64_t *value);

/* Runs the bound add statement st; *applied when it changed a row. */
static vbill_status sq_add_step(sqlite3_stmt *st, const char *key, int64_t delta, int64_t limit,
                                int64_t ttl, int64_t now, int64_t *value, int *applied)
{
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, delta);
    sqlite3_bind_int64(st, 3, sq_expiry(ttl, now));
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, limit);
    int rc = sqlite3_step(st);
    *applied = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? VBILL_OK : VBILL_ERR_STORE;
}

/* The bounded add: each statement is atomic and keeps the bounds; the UPDATE (a live
 * counter, the common case: several times faster than the UPSERT) goes first, and only when
 * it changed nothing and delta >= 0 may the UPSERT create or restart the counter.
 * Nothing is ever applied twice: the UPSERT runs only when the UPDATE did not apply. */
static vbill_status sq_add(void *impl, const char *key, int64_t delta, int64_t limit,
                           int64_t ttl, int64_t now, const char *op_id, int64_t *value,
                           int *applied)
{
    (void)op_id; /* one process, no lost replies: nothing is sent twice */
    sq_store *s = impl;
    sq_maybe_purge(s, now);
    vbill_status st = sq_add_step(s->add_live, key, delta, limit, ttl, now, value, applied);
    if (!st && !*applied && delta >= 0)
        st = sq_add_step(s->add, key, delta, limit, ttl, now, value, applied);
    if (!st && !*applied) /* not applied: the value as it is, for the messages */
        st = sq_get(impl, key, now, value);
    return st;
}

static vbill_status sq_get(void *impl, const char *key, int64_t now, int64_t *value)
{
    sq_store *s = impl;
    sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->get, 2, now);
    return sq_step_done(s->get, value);
}

static vbill_status sq_set(void *impl, const char *key, int64_t value, int64_t ttl, int64_t now)
{
    sq_store *s = impl;
    sqlite3_bind_text(s->set, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->set, 2, value);
    sqlite3_bind_int64(s->set, 3, sq_expiry(ttl, now));
    return sq_step_done(s->set, NULL);
}

static vbill_status sq_del(void *impl, const char *key)
{
    sq_store *s = impl;
    sqlite3_bind_text(s->del, 1, key, -1, SQLITE_STATIC);
    return sq_step_done(s->del, NULL);
}

static const char *sq_errmsg(void *impl) { return sqlite3_errmsg(((sq_store *)impl)->db); }

static const vbill_store_ops sq_ops = {VBILL_STORE_OPS_VERSION, sq_incr, sq_get, sq_set, sq_del,
                                       sq_close, sq_errmsg, sq_add};

VBILL_API vbill_status vbill_store_open_sqlite(vbill_ctx *ctx, const char *path,
                                               vbill_store **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no store to return");
    *out = NULL;
    if (!path || !*path)
        return vb_error(ctx, VBILL_ERR_ARG, "no state directory or file given");
    struct stat sb;
    char *file;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        size_t n = strlen(path) + 32;
        file = malloc(n);
        if (file)
            snprintf(file, n, "%s/vbill-state.sqlite", path);
    } else {
        file = strdup(path);
    }
    if (!file)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    sq_store *s = calloc(1, sizeof *s);
    if (!s) {
        free(file);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    int rc = sqlite3_open_v2(file, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    const char *step = "open";
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(s->db, 10000);
        step = "set up";
        /* journal_mode=WAL is persistent; synchronous=NORMAL is durable enough in WAL mode
         * (a power cut may lose the last failures, never corrupt the file). */
        rc = vb_sqlite_setup(s->db,
                             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                             "CREATE TABLE IF NOT EXISTS counters(key TEXT PRIMARY KEY, "
                             "value INTEGER NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;");
    }
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        /* An expired row counts as absent: it restarts from delta with a new expiry. */
        {&s->incr, "INSERT INTO counters(key, value, expires) VALUES(?1, ?2, ?3) "
                   "ON CONFLICT(key) DO UPDATE SET "
                   "value = CASE WHEN expires != 0 AND expires <= ?4 THEN ?2 ELSE value + ?2 END, "
                   "expires = CASE WHEN expires != 0 AND expires <= ?4 THEN ?3 ELSE expires END "
                   "RETURNING value"},
        /* The bounded add (sq_add): a live counter within its bounds... */
        {&s->add_live, "UPDATE counters SET value = value + ?2 WHERE key = ?1 AND "
                       "(expires = 0 OR expires > ?4) AND value + ?2 BETWEEN 0 AND ?5 "
                       "RETURNING value"},
        /* ...else (delta >= 0) a new counter, or an expired one restarted, or a live one
         * that appeared meanwhile: within the bounds, all in one statement. */
        {&s->add, "INSERT INTO counters(key, value, expires) SELECT ?1, ?2, ?3 "
                  "WHERE ?2 BETWEEN 0 AND ?5 "
                  "ON CONFLICT(key) DO UPDATE SET "
                  "value = CASE WHEN expires != 0 AND expires <= ?4 THEN 0 ELSE value END + ?2, "
                  "expires = CASE WHEN expires != 0 AND expires <= ?4 THEN ?3 ELSE expires END "
                  "WHERE CASE WHEN expires != 0 AND expires <= ?4 THEN 0 ELSE value END + ?2 "
                  "BETWEEN 0 AND ?5 "
                  "RETURNING value"},
        {&s->get, "SELECT value FROM counters WHERE key = ?1 AND (expires = 0 OR expires > ?2)"},
        {&s->set, "INSERT OR REPLACE INTO counters(key, value, expires) VALUES(?1, ?2, ?3)"},
        {&s->del, "DELETE FROM counters WHERE key = ?1"},
        {&s->purge, "DELETE FROM counters WHERE expires != 0 AND expires <= ?1"},
    };
    for (size_t i = 0; rc == SQLITE_OK && i < VB_ARRAY_LEN(stmts); i++) {
        step = "prepare";
        rc = sqlite3_prepare_v3(s->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st,
                                NULL);
    }
    if (rc != SQLITE_OK) {
        vbill_status st = vb_error(ctx, VBILL_ERR_STORE, "state store %s: cannot %s: %s", file,
                                   step, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_close(s);
        free(file);
        return st;
    }
    free(file);
    return vb_store_wrap(ctx, &sq_ops, s, out);
}
