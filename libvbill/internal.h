/*
 * internal.h: what the library's files share and do not export.  Every name here starts
 * with vb_ and is hidden (-fvisibility=hidden); only vbill_* in include/vbill.h is public.
 */
#ifndef VB_INTERNAL_H
#define VB_INTERNAL_H

#include "vbill.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define VB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define VB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- context ---------------------------------------------------------------------- */

struct vb_rules;
struct vb_mustache_cache;

struct vbill_ctx {
    char errmsg[1024];
    vbill_log_fn log_fn;
    void *log_user;
    vbill_log_level log_level;
    struct vb_rules *rules;           /* classify.c; never NULL */
    int senior_age;
    double senior_speed;
    char *partials_dir;
    struct vb_mustache_cache *tmpl_cache; /* fill.c: compiled default slot templates */
    struct vb_jdoc *jdoc_spare;       /* record.c: a parsed-record arena kept for reuse */
};

/* Records the message of a failure on ctx and returns status (so: return vb_error(...)).
 * ctx may be NULL. */
vbill_status vb_error(vbill_ctx *ctx, vbill_status status, const char *fmt, ...) VB_PRINTF(3, 4);
void vb_clear_error(vbill_ctx *ctx);
void vb_log(vbill_ctx *ctx, vbill_log_level level, const char *fmt, ...) VB_PRINTF(3, 4);

/* ---- growable buffer -------------------------------------------------------------- */

typedef struct vb_buf {
    char *data;     /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    bool failed;    /* an allocation failed; further appends are ignored */
} vb_buf;

/* Appends n bytes; grows the buffer out of line.  Inline: it runs for every piece of every
 * output. */
void vb_buf_append_grow(vb_buf *b, const char *s, size_t n);
static inline void vb_buf_append(vb_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap || b->failed) {
        vb_buf_append_grow(b, s, n);
        return;
    }
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void vb_buf_puts(vb_buf *b, const char *s) { vb_buf_append(b, s, strlen(s)); }
/* Makes room for cap bytes in all (one allocation instead of doubling up to it). */
void vb_buf_reserve(vb_buf *b, size_t cap);
void vb_buf_printf(vb_buf *b, const char *fmt, ...) VB_PRINTF(2, 3);
/* Hands the buffer's string to the caller (NULL if an allocation failed) and resets b. */
char *vb_buf_take(vb_buf *b);
void vb_buf_free(vb_buf *b);
/* Appends a decimal integer (no printf: output paths run per record). */
void vb_buf_int(vb_buf *b, int64_t v);
/* v in decimal, without printf (it runs several times per record): returns the text, which
 * lies somewhere in buf, and its length. */
#define VB_INT_TEXT 24
const char *vb_int_text(int64_t v, char buf[VB_INT_TEXT], size_t *len);
/* Appends s as a JSON string literal (quoted and escaped). */
void vb_buf_json_string(vb_buf *b, const char *s);

/* ---- files ------------------------------------------------------------------------ */

/* Reads a whole file of at most max bytes (NUL-terminated).  NULL with errno on failure;
 * EFBIG when it is larger than max. */
char *vb_read_file(const char *path, size_t max, size_t *len);
/* Writes data to path atomically: a temporary file in the same directory, fsync, rename.
 * On failure nothing is left behind and errno tells why. */
int vb_write_file_atomic(const char *path, const void *data, size_t len);
/* A temporary name beside path ("DIR/.NAME.tmp-XXXXXX"), for writers that stream; the
 * caller renames it over path when done or unlinks it on failure.  Returns a malloc'd
 * string, or NULL. */
char *vb_temp_path_for(const char *path);

/* ---- SQLite ----------------------------------------------------------------------- */

struct sqlite3;
/* Runs set-up SQL (journal mode, pragmas, CREATE ... IF NOT EXISTS: it must be safe to run
 * again) on a fresh connection.  When several processes open a new database at once, SQLite
 * can answer SQLITE_BUSY at once, without calling the busy handler; this retries for up to
 * ten seconds.  Returns the SQLite result code. */
int vb_sqlite_setup(struct sqlite3 *db, const char *sql);

/* ---- dates: days since 1970-01-01 in the proleptic Gregorian calendar --------------- */

typedef struct vb_date { int y, m, d; } vb_date;
/* Parses exactly "YYYY-MM-DD" of a real date (year 1..9999).  Returns false otherwise. */
bool vb_date_parse(const char *s, vb_date *out);
int64_t vb_date_days(vb_date d);
vb_date vb_date_from_days(int64_t days);
void vb_date_format(vb_date d, char out[11]);

/* ---- JSON helpers ------------------------------------------------------------------ */

/* Parses len bytes (or a NUL-terminated string when len == (size_t)-1) as JSON. */
cJSON *vb_json_parse(const char *text, size_t len);
/* An integer JSON number printed exactly (cJSON would print through a double). */
cJSON *vb_json_int(int64_t v);
/* Prints compactly; NULL on allocation failure. */
char *vb_json_print(const cJSON *v);

/* ---- records, filling (record.c, classify.c, fill.c) ---------------------------------
 * vb_context_build parses, validates, classifies and fills a record and returns the full
 * Mustache context object (see vbill_fill_context).  The scenario id is the context's
 * "scenario" member (null when none). */
cJSON *vb_context_build(vbill_ctx *ctx, const char *record_json, size_t len, long line,
                        vbill_status *status);

/* What other concerns (links, hooks, rendering) need to know of a record, validated as
 * vbill_fill validates it.  The birth date is here for the knowledge check only (auth.c):
 * it must never be logged, put in a message, a URL or stored in plain text. */
typedef struct vb_identity {
    char id[65];
    char scenario[64];   /* "" when the record matches no scenario */
    char locale[8];      /* ko-KR, ja-JP or en-US */
    char phone[32];      /* "" when absent */
    vb_date birth, issue_date, cycle_start, cycle_end;
    int age;
    bool senior;
    double speed;        /* 1.0, or the senior speed */
} vb_identity;
vbill_status vb_record_identity(vbill_ctx *ctx, const char *record_json, size_t len, long line,
                                vb_identity *out);

/* ---- Mustache (mustache.c) ---------------------------------------------------------- */

typedef struct vb_mustache vb_mustache;
/* Compiles a template once for many renders.  NULL on a malformed template, with the
 * message (naming the position) in ctx and *status set.  `name` (may be NULL) is put in
 * error messages, e.g. a slot name. */
vb_mustache *vb_mustache_compile(vbill_ctx *ctx, const char *name, const char *tmpl, size_t len,
                                 vbill_status *status);
/* Renders over data; partials is NULL or a cJSON object of name -> template string.  A
 * compiled template is immutable: renders from several threads are safe. */
char *vb_mustache_render(vbill_ctx *ctx, const vb_mustache *m, const cJSON *data,
                         const cJSON *partials, size_t *out_len, vbill_status *status);
/* Renders over an arena tree (jdoc.h), as the fill path holds its records, appending to out
 * (on failure out is as it was). */
struct vb_jval;
vbill_status vb_mustache_render_into(vbill_ctx *ctx, const vb_mustache *m,
                                     const struct vb_jval *data, const cJSON *partials,
                                     vb_buf *out);
void vb_mustache_free(vb_mustache *m);
/* Calls fn with every name part the template looks up ("a.b" gives "a" and "b").  Returns
 * false when it includes partials or parents, whose names it cannot see. */
bool vb_mustache_names(const vb_mustache *m, void (*fn)(void *arg, const char *name), void *arg);

#endif
