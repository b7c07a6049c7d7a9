/* outbox.c: the durable outbox (SQLite, WAL).  An event is committed to disk before
 * vbill_hooks_emit returns; each (event, sink) pair is a delivery row that moves
 * pending -> in flight (leased) -> delivered, or to the dead letters once its deadline has
 * passed.  An in-flight row whose lease ran out (its process died) is due again.  Events
 * done with (delivered or dead everywhere) are purged after the retention period; the
 * files are the owner's only (0600) and deleted rows are overwritten (secure_delete). */
#include "config.h"
#include "hooks/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

enum { ST_PENDING = 0, ST_INFLIGHT = 1, ST_DELIVERED = 2 };

struct vb_outbox {
    sqlite3 *db;
    char *path;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS events("
    " id TEXT PRIMARY KEY, type TEXT NOT NULL, subject TEXT, body TEXT NOT NULL,"
    " attachment BLOB, created_ms INTEGER NOT NULL);"
    /* next_ms: when a pending row is due, or when an in-flight row's lease runs out */
    "CREATE TABLE IF NOT EXISTS deliveries("
    " event_id TEXT NOT NULL, sink TEXT NOT NULL, state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,"
    " deadline_ms INTEGER NOT NULL, last_error TEXT, done_ms INTEGER,"
    " PRIMARY KEY(event_id, sink));"
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_ms);"
    "CREATE INDEX IF NOT EXISTS events_created ON events(created_ms);"
    "CREATE TABLE IF NOT EXISTS dead_letters("
    " event_id TEXT NOT NULL, sink TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " last_error TEXT, died_ms INTEGER NOT NULL, PRIMARY KEY(event_id, sink));";

static vbill_status db_fail(vb_outbox *ob, vbill_ctx *ctx, const char *what)
{
    return vb_error(ctx, VBILL_ERR_STORE, "outbox %s: %s: %s", ob->path, what,
                    sqlite3_errmsg(ob->db));
}

static int exec(vb_outbox *ob, const char *sql) { return sqlite3_exec(ob->db, sql, NULL, NULL, NULL); }

/* The outbox holds masked names, amounts, customers' questions and stills: its files are
 * the owner's only, whatever the umask and even when the folder already exists.  SQLite
 * makes the -wal and -shm files with the database file's mode, so the database is made
 * (empty) 0600 before SQLite opens it; files of an older version are tightened. */
static vbill_status private_files(vbill_ctx *ctx, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return vb_error(ctx, errno == ELOOP ? VBILL_ERR_STORE : VBILL_ERR_IO, "outbox %s: %s",
                        path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) && fchmod(fd, 0600) != 0) {
        int e = errno;
        close(fd);
        return vb_error(ctx, VBILL_ERR_IO, "outbox %s: is readable by others and cannot be made "
                        "private (%s)", path, strerror(e));
    }
    close(fd);
    static const char *const sfx[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < VB_ARRAY_LEN(sfx); i++) {
        vb_buf p = {0};
        vb_buf_printf(&p, "%s%s", path, sfx[i]);
        if (p.data && !p.failed && lstat(p.data, &sb) == 0 && S_ISREG(sb.st_mode) &&
            (sb.st_mode & 077))
            chmod(p.data, 0600);
        vb_buf_free(&p);
    }
    return VBILL_OK;
}

vb_outbox *vb_outbox_open(vbill_ctx *ctx, const char *state_dir, bool sync_full,
                          vbill_status *status)
{
    if (!state_dir || !*state_dir) {
        *status = vb_error(ctx, VBILL_ERR_ARG, "hooks: no state directory given");
        return NULL;
    }
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        *status = vb_error(ctx, VBILL_ERR_IO, "hooks: cannot create state directory %s: %s",
                           state_dir, strerror(errno));
        return NULL;
    }
    vb_outbox *ob = calloc(1, sizeof *ob);
    if (!ob) {
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        return NULL;
    }
    vb_buf p = {0};
    vb_buf_printf(&p, "%s/outbox.sqlite", state_dir);
    ob->path = vb_buf_take(&p);
    if (!ob->path) {
        free(ob);
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        return NULL;
    }
    if ((*status = private_files(ctx, ob->path))) {
        vb_outbox_close(ob);
        return NULL;
    }
    int rc = sqlite3_open_v2(ob->path, &ob->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        *status = vb_error(ctx, VBILL_ERR_STORE, "outbox %s: cannot open: %s", ob->path,
                           ob->db ? sqlite3_errmsg(ob->db) : "out of memory");
        vb_outbox_close(ob);
        return NULL;
    }
    sqlite3_busy_timeout(ob->db, 15000);
    /* FULL: a commit is on disk (WAL fsynced) before emit returns; a power cut loses
     * nothing that was acknowledged.  NORMAL (WAL): a killed process loses nothing, a power
     * cut may lose the last commits: the host chooses. */
    if (vb_sqlite_setup(ob->db, "PRAGMA journal_mode=WAL;") != SQLITE_OK ||
        vb_sqlite_setup(ob->db, "PRAGMA secure_delete=ON;") != SQLITE_OK ||
        vb_sqlite_setup(ob->db, sync_full ? "PRAGMA synchronous=FULL;"
                                          : "PRAGMA synchronous=NORMAL;") != SQLITE_OK ||
        vb_sqlite_setup(ob->db, schema) != SQLITE_OK) {
        *status = db_fail(ob, ctx, "cannot initialise");
        vb_outbox_close(ob);
        return NULL;
    }
    return ob;
}

void vb_outbox_close(vb_outbox *ob)
{
    if (!ob)
        return;
    sqlite3_close_v2(ob->db);
    free(ob->path);
    free(ob);
}

static vbill_status begin(vb_outbox *ob, vbill_ctx *ctx)
{
    /* IMMEDIATE takes the write lock now, so concurrent pumpers never claim the same row. */
    if (exec(ob, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_fail(ob, ctx, "cannot begin a transaction");
    return VBILL_OK;
}

static vbill_status commit(vb_outbox *ob, vbill_ctx *ctx)
{
    if (exec(ob, "COMMIT") != SQLITE_OK) {
        vbill_status st = db_fail(ob, ctx, "cannot commit");
        exec(ob, "ROLLBACK");
        return st;
    }
    return VBILL_OK;
}

static vbill_status rollback(vb_outbox *ob, vbill_ctx *ctx, const char *what)
{
    vbill_status st = db_fail(ob, ctx, what);
    exec(ob, "ROLLBACK");
    return st;
}

vbill_status vb_outbox_insert(vb_outbox *ob, vbill_ctx *ctx, const char *id, const char *type,
                              const char *subject, const char *body, const void *att,
                              size_t att_len, int64_t created_ms, int64_t deadline_ms,
                              const char *const *sinks, size_t nsinks)
{
    vbill_status st = begin(ob, ctx);
    if (st)
        return st;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(ob->db,
                           "INSERT INTO events(id,type,subject,body,attachment,created_ms)"
                           " VALUES(?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK)
        return rollback(ob, ctx, "cannot prepare");
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, body, -1, SQLITE_STATIC);
    if (att && att_len)
        sqlite3_bind_blob64(s, 5, att, att_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_int64(s, 6, created_ms);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return rollback(ob, ctx, "cannot write event");
    if (sqlite3_prepare_v2(ob->db,
                           "INSERT INTO deliveries(event_id,sink,state,next_ms,deadline_ms)"
                           " VALUES(?,?,0,?,?)", -1, &s, NULL) != SQLITE_OK)
        return rollback(ob, ctx, "cannot prepare");
    for (size_t i = 0; i < nsinks; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, sinks[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, created_ms);
        sqlite3_bind_int64(s, 4, deadline_ms);
        if (sqlite3_step(s) != SQLITE_DONE) {
            sqlite3_finalize(s);
            return rollback(ob, ctx, "cannot write delivery");
        }
    }
    sqlite3_finalize(s);
    return commit(ob, ctx);
}

static char *dup_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return strdup(t ? (const char *)t : "");
}

void vb_claims_free(vb_claim *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].event_id);
        free(c[i].sink);
        free(c[i].type);
        free(c[i].body);
        free(c[i].att);
    }
    free(c);
}

size_t vb_outbox_claim(vb_outbox *ob, vbill_ctx *ctx, int64_t now, int64_t lease_ms, size_t max,
                       vb_claim **out, vbill_status *status)
{
    *out = NULL;
    *status = VBILL_OK;
    if (max == 0)
        return 0;
    vb_claim *c = calloc(max, sizeof *c);
    if (!c) {
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        return 0;
    }
    if ((*status = begin(ob, ctx))) {
        free(c);
        return 0;
    }
    sqlite3_stmt *s = NULL, *u = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(ob->db,
                           "SELECT d.event_id, d.sink, e.type, e.body, e.attachment, d.attempts,"
                           " e.created_ms, d.deadline_ms FROM deliveries d JOIN events e"
                           " ON e.id = d.event_id WHERE d.state IN (0,1) AND d.next_ms <= ?"
                           " ORDER BY d.next_ms LIMIT ?", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ob->db,
                           "UPDATE deliveries SET state=1, attempts=attempts+1, next_ms=?"
                           " WHERE event_id=? AND sink=?", -1, &u, NULL) != SQLITE_OK) {
        *status = rollback(ob, ctx, "cannot prepare claim");
        goto out;
    }
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
        vb_claim *x = &c[n];
        x->event_id = dup_col(s, 0);
        x->sink = dup_col(s, 1);
        x->type = dup_col(s, 2);
        x->body = dup_col(s, 3);
        int alen = sqlite3_column_bytes(s, 4);
        if (alen > 0) {
            x->att = malloc((size_t)alen);
            if (x->att) {
                memcpy(x->att, sqlite3_column_blob(s, 4), (size_t)alen);
                x->att_len = (size_t)alen;
            }
        }
        x->attempts = sqlite3_column_int(s, 5) + 1;
        x->created_ms = sqlite3_column_int64(s, 6);
        x->deadline_ms = sqlite3_column_int64(s, 7);
        n++;
        if (!x->event_id || !x->sink || !x->type || !x->body || (alen > 0 && !x->att)) {
            *status = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
            break;
        }
    }
    if (!*status && rc != SQLITE_ROW && rc != SQLITE_DONE)
        *status = db_fail(ob, ctx, "cannot read due deliveries");
    sqlite3_finalize(s);
    s = NULL;
    for (size_t i = 0; i < n && !*status; i++) {
        sqlite3_reset(u);
        sqlite3_bind_int64(u, 1, now + lease_ms);
        sqlite3_bind_text(u, 2, c[i].event_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 3, c[i].sink, -1, SQLITE_STATIC);
        if (sqlite3_step(u) != SQLITE_DONE)
            *status = db_fail(ob, ctx, "cannot mark in flight");
    }
    if (*status) {
        exec(ob, "ROLLBACK");
    } else {
        *status = commit(ob, ctx);
    }
out:
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    if (*status) {
        vb_claims_free(c, n);
        return 0;
    }
    if (n == 0) {
        free(c);
        return 0;
    }
    *out = c;
    return n;
}

vbill_status vb_outbox_settle(vb_outbox *ob, vbill_ctx *ctx, vb_claim *c, const int64_t *next_ms,
                              size_t n, int64_t now)
{
    if (n == 0)
        return VBILL_OK;
    vbill_status st = begin(ob, ctx);
    if (st)
        return st;
    sqlite3_stmt *done = NULL, *retry = NULL, *dead = NULL, *del = NULL;
    if (sqlite3_prepare_v2(ob->db, "UPDATE deliveries SET state=2, done_ms=?, last_error=NULL"
                           " WHERE event_id=? AND sink=?", -1, &done, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ob->db, "UPDATE deliveries SET state=0, next_ms=?, last_error=?"
                           " WHERE event_id=? AND sink=? AND state=1", -1, &retry,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ob->db, "INSERT OR REPLACE INTO dead_letters(event_id,sink,attempts,"
                           "last_error,died_ms) VALUES(?,?,?,?,?)", -1, &dead, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ob->db, "DELETE FROM deliveries WHERE event_id=? AND sink=?", -1, &del,
                           NULL) != SQLITE_OK) {
        st = rollback(ob, ctx, "cannot prepare settle");
        goto out;
    }
    for (size_t i = 0; i < n && !st; i++) {
        vb_claim *x = &c[i];
        int rc;
        if (x->ok) {
            sqlite3_reset(done);
            sqlite3_bind_int64(done, 1, now);
            sqlite3_bind_text(done, 2, x->event_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(done, 3, x->sink, -1, SQLITE_STATIC);
            rc = sqlite3_step(done);
        } else if (now >= x->deadline_ms) {
            sqlite3_reset(dead);
            sqlite3_bind_text(dead, 1, x->event_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(dead, 2, x->sink, -1, SQLITE_STATIC);
            sqlite3_bind_int(dead, 3, x->attempts);
            sqlite3_bind_text(dead, 4, x->error, -1, SQLITE_STATIC);
            sqlite3_bind_int64(dead, 5, now);
            rc = sqlite3_step(dead);
            if (rc == SQLITE_DONE) {
                sqlite3_reset(del);
                sqlite3_bind_text(del, 1, x->event_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(del, 2, x->sink, -1, SQLITE_STATIC);
                rc = sqlite3_step(del);
            }
            vb_log(ctx, VBILL_LOG_WARN, "hooks: event %s to sink %s dead-lettered after %d "
                   "attempts: %s", x->event_id, x->sink, x->attempts, x->error);
        } else {
            sqlite3_reset(retry);
            sqlite3_bind_int64(retry, 1, next_ms[i]);
            sqlite3_bind_text(retry, 2, x->error, -1, SQLITE_STATIC);
            sqlite3_bind_text(retry, 3, x->event_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(retry, 4, x->sink, -1, SQLITE_STATIC);
            rc = sqlite3_step(retry);
        }
        if (rc != SQLITE_DONE)
            st = rollback(ob, ctx, "cannot record a delivery outcome");
    }
    if (!st)
        st = commit(ob, ctx);
out:
    sqlite3_finalize(done);
    sqlite3_finalize(retry);
    sqlite3_finalize(dead);
    sqlite3_finalize(del);
    return st;
}

void vb_outbox_renew(vb_outbox *ob, vbill_ctx *ctx, const vb_claim *c, size_t n, int64_t until_ms)
{
    if (n == 0 || begin(ob, ctx) != VBILL_OK)
        return;
    sqlite3_stmt *u = NULL;
    if (sqlite3_prepare_v2(ob->db, "UPDATE deliveries SET next_ms=? WHERE event_id=? AND sink=?"
                           " AND state=1", -1, &u, NULL) != SQLITE_OK) {
        rollback(ob, ctx, "cannot renew leases");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(u);
        sqlite3_bind_int64(u, 1, until_ms);
        sqlite3_bind_text(u, 2, c[i].event_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 3, c[i].sink, -1, SQLITE_STATIC);
        sqlite3_step(u);
    }
    sqlite3_finalize(u);
    commit(ob, ctx);
}

vbill_status vb_outbox_pending(vb_outbox *ob, vbill_ctx *ctx, size_t *pending, int64_t *next_due)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(ob->db, "SELECT count(*), min(next_ms) FROM deliveries"
                           " WHERE state IN (0,1)", -1, &s, NULL) != SQLITE_OK)
        return db_fail(ob, ctx, "cannot prepare");
    vbill_status st = VBILL_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        if (pending)
            *pending = (size_t)sqlite3_column_int64(s, 0);
        if (next_due)
            *next_due = sqlite3_column_int64(s, 1);
    } else {
        st = db_fail(ob, ctx, "cannot count deliveries");
    }
    sqlite3_finalize(s);
    return st;
}

static void add_count(cJSON *o, const char *key, int64_t v)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(o, key);
    int64_t base = old ? (int64_t)old->valuedouble : 0;
    if (old)
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, vb_json_int(base + v));
    else
        cJSON_AddItemToObject(o, key, vb_json_int(base + v));
}

vbill_status vb_outbox_status(vb_outbox *ob, vbill_ctx *ctx, char **out_json)
{
    *out_json = NULL;
    static const char *const names[] = {"pending", "in_flight", "delivered"};
    cJSON *root = cJSON_CreateObject(), *sinks = cJSON_CreateObject();
    sqlite3_stmt *s = NULL;
    vbill_status st = VBILL_OK;
    if (!root || !sinks) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
        goto out;
    }
    sqlite3_stmt *e = NULL;
    if (sqlite3_prepare_v2(ob->db, "SELECT count(*) FROM events", -1, &e, NULL) != SQLITE_OK ||
        sqlite3_step(e) != SQLITE_ROW) {
        sqlite3_finalize(e);
        st = db_fail(ob, ctx, "cannot count events");
        goto out;
    }
    add_count(root, "events", sqlite3_column_int64(e, 0));
    sqlite3_finalize(e);
    for (size_t i = 0; i < 3; i++)
        add_count(root, names[i], 0);
    add_count(root, "dead", 0);
    if (sqlite3_prepare_v2(ob->db, "SELECT sink, state, count(*) FROM deliveries GROUP BY 1,2"
                           " UNION ALL SELECT sink, 3, count(*) FROM dead_letters GROUP BY 1",
                           -1, &s, NULL) != SQLITE_OK) {
        st = db_fail(ob, ctx, "cannot prepare");
        goto out;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *sink = (const char *)sqlite3_column_text(s, 0);
        int state = sqlite3_column_int(s, 1);
        int64_t count = sqlite3_column_int64(s, 2);
        const char *key = state >= 0 && state < 3 ? names[state] : "dead";
        add_count(root, key, count);
        cJSON *so = cJSON_GetObjectItemCaseSensitive(sinks, sink ? sink : "");
        if (!so) {
            so = cJSON_AddObjectToObject(sinks, sink ? sink : "");
            for (size_t i = 0; so && i < 3; i++)
                add_count(so, names[i], 0);
            if (so)
                add_count(so, "dead", 0);
        }
        if (so)
            add_count(so, key, count);
    }
    if (rc != SQLITE_DONE) {
        st = db_fail(ob, ctx, "cannot count deliveries");
        goto out;
    }
    cJSON_AddItemToObject(root, "sinks", sinks);
    sinks = NULL;
    *out_json = vb_json_print(root);
    if (!*out_json)
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
out:
    sqlite3_finalize(s);
    cJSON_Delete(root);
    cJSON_Delete(sinks);
    return st;
}

vbill_status vb_outbox_dead(vb_outbox *ob, vbill_ctx *ctx, char **out_json)
{
    *out_json = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(ob->db, "SELECT x.event_id, e.type, e.subject, x.sink, x.attempts,"
                           " x.last_error, e.created_ms, x.died_ms FROM dead_letters x"
                           " JOIN events e ON e.id = x.event_id ORDER BY x.died_ms, x.event_id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_fail(ob, ctx, "cannot prepare");
    cJSON *arr = cJSON_CreateArray();
    vbill_status st = VBILL_OK;
    int rc;
    while (arr && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        const char *keys[] = {"id", "type", "subject", "sink"};
        for (int i = 0; i < 4; i++) {
            const char *t = (const char *)sqlite3_column_text(s, i);
            cJSON_AddStringToObject(o, keys[i], t ? t : "");
        }
        cJSON_AddItemToObject(o, "attempts", vb_json_int(sqlite3_column_int(s, 4)));
        const char *err = (const char *)sqlite3_column_text(s, 5);
        cJSON_AddStringToObject(o, "error", err ? err : "");
        char t[32];
        vb_rfc3339_ms(sqlite3_column_int64(s, 6), t);
        cJSON_AddStringToObject(o, "created", t);
        vb_rfc3339_ms(sqlite3_column_int64(s, 7), t);
        cJSON_AddStringToObject(o, "died", t);
    }
    sqlite3_finalize(s);
    *out_json = arr ? vb_json_print(arr) : NULL;
    cJSON_Delete(arr);
    if (!*out_json)
        st = vb_error(ctx, VBILL_ERR_NOMEM, "hooks: out of memory");
    return st;
}

vbill_status vb_outbox_replay(vb_outbox *ob, vbill_ctx *ctx, const char *id, int64_t now,
                              int64_t deadline_ms, size_t *count)
{
    if (count)
        *count = 0;
    vbill_status st = begin(ob, ctx);
    if (st)
        return st;
    sqlite3_stmt *ins = NULL, *del = NULL;
    const char *where = id ? " WHERE event_id = ?3" : "";
    vb_buf q = {0};
    vb_buf_printf(&q, "INSERT OR REPLACE INTO deliveries(event_id,sink,state,attempts,next_ms,"
                  "deadline_ms,last_error) SELECT event_id, sink, 0, 0, ?1, ?2, last_error"
                  " FROM dead_letters%s", where);
    vb_buf d = {0};
    vb_buf_printf(&d, "DELETE FROM dead_letters%s", id ? " WHERE event_id = ?1" : "");
    if (q.failed || d.failed ||
        sqlite3_prepare_v2(ob->db, q.data, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ob->db, d.data, -1, &del, NULL) != SQLITE_OK) {
        st = rollback(ob, ctx, "cannot prepare replay");
        goto out;
    }
    sqlite3_bind_int64(ins, 1, now);
    sqlite3_bind_int64(ins, 2, deadline_ms);
    if (id) {
        sqlite3_bind_text(ins, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(del, 1, id, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(ins) != SQLITE_DONE) {
        st = rollback(ob, ctx, "cannot replay");
        goto out;
    }
    int n = sqlite3_changes(ob->db);
    if (sqlite3_step(del) != SQLITE_DONE) {
        st = rollback(ob, ctx, "cannot replay");
        goto out;
    }
    if (id && n == 0) {
        exec(ob, "ROLLBACK");
        st = vb_error(ctx, VBILL_ERR_NOT_FOUND, "hooks: event %s has no dead letter", id);
        goto out;
    }
    st = commit(ob, ctx);
    if (!st && count)
        *count = (size_t)n;
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(del);
    vb_buf_free(&q);
    vb_buf_free(&d);
    return st;
}

vbill_status vb_outbox_purge(vb_outbox *ob, vbill_ctx *ctx, int64_t before_ms, size_t *count)
{
    *count = 0;
    /* An event goes once nothing is left to do for it and everything about it (its
     * creation, each delivery, each death) is older than before_ms.  In rounds, so that
     * the write lock is never held long. */
    static const char pick[] =
        "INSERT INTO temp.purge(id) SELECT e.id FROM events e WHERE e.created_ms < ?1"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id"
        "  AND (d.state IN (0,1) OR coalesce(d.done_ms, d.next_ms) >= ?1))"
        " AND NOT EXISTS (SELECT 1 FROM dead_letters x WHERE x.event_id = e.id"
        "  AND x.died_ms >= ?1)"
        " LIMIT 2000";
    static const char *const drop[] = {
        "DELETE FROM deliveries WHERE event_id IN (SELECT id FROM temp.purge)",
        "DELETE FROM dead_letters WHERE event_id IN (SELECT id FROM temp.purge)",
        "DELETE FROM events WHERE id IN (SELECT id FROM temp.purge)"};
    if (exec(ob, "CREATE TEMP TABLE IF NOT EXISTS purge(id TEXT PRIMARY KEY)") != SQLITE_OK)
        return db_fail(ob, ctx, "cannot prepare the purge");
    vbill_status st = VBILL_OK;
    for (;;) {
        if ((st = begin(ob, ctx)))
            return st;
        sqlite3_stmt *s = NULL;
        if (exec(ob, "DELETE FROM temp.purge") != SQLITE_OK ||
            sqlite3_prepare_v2(ob->db, pick, -1, &s, NULL) != SQLITE_OK) {
            sqlite3_finalize(s);
            return rollback(ob, ctx, "cannot purge");
        }
        sqlite3_bind_int64(s, 1, before_ms);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        int n = sqlite3_changes(ob->db);
        for (size_t i = 0; rc == SQLITE_DONE && i < VB_ARRAY_LEN(drop); i++)
            if (exec(ob, drop[i]) != SQLITE_OK)
                rc = SQLITE_ERROR;
        if (rc != SQLITE_DONE)
            return rollback(ob, ctx, "cannot purge");
        if ((st = commit(ob, ctx)))
            return st;
        *count += (size_t)n;
        if (n < 2000)
            break;
    }
    /* secure_delete zeroed the rows in the database; the old pages may still lie in the
     * write-ahead log: checkpoint it and truncate it (best effort: a reader in another
     * process may hold it, then the next checkpoint does) */
    if (*count)
        sqlite3_wal_checkpoint_v2(ob->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return VBILL_OK;
}
