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
    /* classify.c: the context's own rule set (NULL: the built-in one) and how to free it */
    struct vb_rules *rules;
    void (*rules_free)(struct vb_rules *);
    int senior_age;
    double senior_speed;
    char *partials_dir;
    /* fill.c: compiled default slot templates and how to free them */
    struct vb_mustache_cache *tmpl_cache;
    void (*tmpl_cache_free)(struct vb_mustache_cache *);
    struct vb_jdoc *jdoc_spare;       /* record.c: a parsed-record arena kept for reuse */
    /* video/segment.c: the segment cache (vbill_ctx_set_segment_cache) and its counts */
    char *segment_cache;
    uint64_t segcache_hits, segcache_misses;
    bool segcache_warned;
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

/* ---- text ------------------------------------------------------------------------- */

/* Checks well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).  With
 * no_controls, also refuses C0 controls, DEL and C1 controls.  Returns the number of code
 * points, or -1. */
long vb_utf8_check(const unsigned char *s, size_t n, bool no_controls);
/* A subscriber id: 1 to 64 characters of A-Z a-z 0-9 . _ - (SPEC.md section 2). */
bool vb_valid_id(const char *id);
/* A scenario id: 1 to 63 characters of A-Z a-z 0-9 _ - . starting with a letter or digit
 * (it names a template folder: never "." or ".."). */
bool vb_valid_scenario_id(const char *s);

/* ---- files ------------------------------------------------------------------------ */

/* Reads a whole file of at most max bytes (NUL-terminated).  NULL with errno on failure;
 * EFBIG when it is larger than max. */
char *vb_read_file(const char *path, size_t max, size_t *len);
/* The same for a file a template brings (recorded clips): a regular file named directly,
 * never through a symbolic link (errno ELOOP) nor a device or FIFO (EINVAL), so a
 * template cannot read a file from elsewhere on the machine into every customer's video. */
char *vb_read_regular_file(const char *path, size_t max, size_t *len);
/* Writes data to path atomically: a temporary file in the same directory, fsync, rename.
 * On failure nothing is left behind and errno tells why. */
int vb_write_file_atomic(const char *path, const void *data, size_t len);
/* A temporary name beside path ("DIR/.NAME.tmp-XXXXXX"), for writers that stream; the
 * caller renames it over path when done or unlinks it on failure.  Returns a malloc'd
 * string, or NULL. */
char *vb_temp_path_for(const char *path);

/* ---- paths ------------------------------------------------------------------------ */

/* malloc'd "a/b" (NULL on allocation failure). */
char *vb_path_join(const char *a, const char *b);
/* mkdir -p. 0 or -1 with errno. */
int vb_mkdirs(const char *path);
/* rm -rf (best effort; never follows a symbolic link). */
void vb_rmtree(const char *path);

/* ---- time ------------------------------------------------------------------------- */

/* Unix time in milliseconds. */
int64_t vb_now_ms(void);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
void vb_rfc3339_ms(int64_t ms, char out[32]);

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

#endif
