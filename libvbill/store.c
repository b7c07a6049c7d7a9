/* store.c: the attempt limiter's state store: the interface and the SQLite implementation.
 *
 * One table of counters (key, value, expires).  Every operation is a single SQL statement,
 * hence atomic across processes; WAL mode lets readers and one writer proceed together and
 * the busy timeout queues writers instead of failing. */
#include "config.h"
#include "auth.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    vbill_store_ops copy = *ops;
    if (copy.version < 2)
        copy.errmsg = NULL; /* not in a version 1 struct: never read past it */
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

VBILL_API vbill_status vbill_store_set_limits(vbill_store *store, int soft,
                                              int64_t cooling_seconds, int hard, int client_max,
                                              int64_t client_window_seconds)
{
    if (!store)
        return VBILL_ERR_ARG;
    store->errmsg[0] = '\0';
    if (soft < 1 || hard < 1 || soft > hard || cooling_seconds < 1 || client_max < 1 ||
        client_window_seconds < 1) {
        snprintf(store->errmsg, sizeof store->errmsg,
                 "limits: every value must be at least 1 and soft (%d) at most hard (%d)", soft,
                 hard);
        return VBILL_ERR_ARG;
    }
    store->soft = soft;
    store->hard = hard;
    store->cooling = cooling_seconds;
    store->client_max = client_max;
    store->client_window = client_window_seconds;
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
    sqlite3_stmt *incr, *get, *set, *del, *purge;
    unsigned ops; /* purge expired rows now and then */
} sq_store;

static void sq_close(void *impl)
{
    sq_store *s = impl;
    if (!s)
        return;
    sqlite3_finalize(s->incr);
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
                                       sq_close, sq_errmsg};

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
