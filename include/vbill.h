/*
 * vbill.h: the public interface of libvbill, personalised video bills for carriers.
 *
 * Data flows one way: record -> classify -> fill -> (mustache) -> render -> link -> hooks.
 *
 * Conventions (the same for every function below):
 *  - Every exported name starts with vbill_.  Types are opaque; objects are created by
 *    vbill_X_new / vbill_X_open and released by vbill_X_free, which accepts NULL.
 *  - Every fallible call returns a vbill_status; VBILL_OK is 0.  vbill_strerror() names a
 *    code; vbill_ctx_errmsg() gives the specific message of the last failure on a context
 *    (which record, which field, what is wrong).  The library never prints: messages go to
 *    the logging callback set with vbill_ctx_set_log().
 *  - Strings the library returns are NUL-terminated UTF-8 and are released with vbill_free().
 *    Structured results are JSON text, which keeps the ABI small and the bindings thin.
 *  - Options are set through functions, never through public struct layouts.
 *  - Thread safety: a vbill_ctx may be used by one thread at a time; distinct contexts are
 *    independent.  Prepared templates (vbill_template) are immutable once prepared and may
 *    be shared by any number of threads, each rendering with its own context.
 *  - Money is always an integer in the currency's minor unit (int64_t); no floating point
 *    touches an amount.
 *  - The birth date never leaves the library: it is not in any result, message or log line.
 */
#ifndef VBILL_H
#define VBILL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VBILL_BUILDING) && defined(__GNUC__)
#define VBILL_API __attribute__((visibility("default")))
#else
#define VBILL_API
#endif

/* ---------------------------------------------------------------------------------------
 * Status codes, version, memory
 * ------------------------------------------------------------------------------------- */

/* Stable codes: new ones are only ever appended. */
typedef enum vbill_status {
    VBILL_OK = 0,
    VBILL_ERR_ARG = 1,          /* a NULL or out-of-range argument from the caller */
    VBILL_ERR_NOMEM = 2,        /* out of memory */
    VBILL_ERR_IO = 3,           /* a file could not be read or written (disk full, permission) */
    VBILL_ERR_JSON = 4,         /* input is not well-formed JSON */
    VBILL_ERR_RECORD = 5,       /* a subscriber record breaks a rule of the specification */
    VBILL_ERR_RULES = 6,        /* a classification rule set is malformed */
    VBILL_ERR_TEMPLATE = 7,     /* a Mustache or video template is malformed */
    VBILL_ERR_OVERFLOW = 8,     /* an amount would overflow 64-bit arithmetic */
    VBILL_ERR_MEDIA = 9,        /* a video could not be decoded, encoded or muxed */
    VBILL_ERR_FONT = 10,        /* no usable font for a text */
    VBILL_ERR_NOT_TARGET = 11,  /* the record matches no scenario: no video bill this cycle */
    VBILL_ERR_LINK_MALFORMED = 12, /* a link token is not of the token format */
    VBILL_ERR_LINK_SIGNATURE = 13, /* a link token was altered or signed with another key */
    VBILL_ERR_LINK_EXPIRED = 14,   /* a link or session has expired */
    VBILL_ERR_LINK_KEY = 15,       /* the token's key id is not among the verification keys */
    VBILL_ERR_AUTH_WRONG = 16,     /* the six digits did not match */
    VBILL_ERR_AUTH_LOCKED = 17,    /* too many failed checks: the link is locked */
    VBILL_ERR_STORE = 18,       /* the state store (SQLite, Redis) failed */
    VBILL_ERR_HOOK = 19,        /* an event could not be queued or delivered */
    VBILL_ERR_NOT_FOUND = 20,   /* a named thing (event id, file, slot) does not exist */
    VBILL_ERR_KEY = 21,         /* a key file is missing or malformed */
    VBILL_ERR_SESSION = 22      /* a session token is invalid, replayed or for another link */
} vbill_status;

/* The name and meaning of a status code, e.g. "VBILL_ERR_RECORD: invalid record".
 * Never NULL; static storage. */
VBILL_API const char *vbill_strerror(vbill_status status);

/* The library version, e.g. "0.1.0". */
VBILL_API const char *vbill_version(void);

/* Releases any string or buffer returned by the library.  Accepts NULL. */
VBILL_API void vbill_free(void *ptr);

/* ---------------------------------------------------------------------------------------
 * Context: error messages, logging, options
 * ------------------------------------------------------------------------------------- */

typedef struct vbill_ctx vbill_ctx;

typedef enum vbill_log_level {
    VBILL_LOG_ERROR = 0,
    VBILL_LOG_WARN = 1,
    VBILL_LOG_INFO = 2,
    VBILL_LOG_DEBUG = 3
} vbill_log_level;

/* Receives the library's log lines (UTF-8, no trailing newline).  Log lines never hold a
 * birth date, a secret or a key. */
typedef void (*vbill_log_fn)(void *user, vbill_log_level level, const char *message);

/* Creates a context with the built-in rule set and defaults.  *out is NULL on failure. */
VBILL_API vbill_status vbill_ctx_new(vbill_ctx **out);
VBILL_API void vbill_ctx_free(vbill_ctx *ctx);

/* The message of the last failure on ctx ("" when there was none).  Valid until the next
 * call on ctx.  Accepts NULL (returns a generic message). */
VBILL_API const char *vbill_ctx_errmsg(const vbill_ctx *ctx);

/* Sets (or with fn == NULL, removes) the logging callback and the most verbose level passed
 * to it (default VBILL_LOG_WARN). */
VBILL_API void vbill_ctx_set_log(vbill_ctx *ctx, vbill_log_fn fn, void *user,
                                 vbill_log_level max_level);

/* ---------------------------------------------------------------------------------------
 * Classification rules
 *
 * A rule set is JSON:
 *   { "senior_age": 60, "senior_speed": 0.8,
 *     "rules": [ { "scenario": "mobile_new_home_new",
 *                  "when": ["m_new >= 2", "h_new >= 1", "bundled"] }, ... ] }
 * Counts: m_new, m_dc, h_new, h_re, m_any, h_any, bundled (0 or 1).  Comparisons: >= > <= <
 * == !=.  A bare count means "count >= 1"; "!count" means "count == 0".  Every condition of
 * a rule must hold; the first rule that holds names the scenario; none means no scenario.
 * senior_age and senior_speed are optional.
 * ------------------------------------------------------------------------------------- */

/* Replaces the context's rule set with the one in json (len bytes; len may be
 * (size_t)-1 for a NUL-terminated string).  On VBILL_ERR_RULES / VBILL_ERR_JSON the
 * message names the position of the fault and the context keeps its previous rules. */
VBILL_API vbill_status vbill_ctx_set_rules(vbill_ctx *ctx, const char *json, size_t len);

/* Same, reading the rule set from a file. */
VBILL_API vbill_status vbill_ctx_load_rules(vbill_ctx *ctx, const char *path);

/* The built-in rule set, as JSON (static storage). */
VBILL_API const char *vbill_default_rules(void);

/* Age from which a customer is senior (default 60) and their playback speed (default 0.8,
 * from 0.25 to 1.0). */
VBILL_API vbill_status vbill_ctx_set_senior(vbill_ctx *ctx, int age, double speed);

/* ---------------------------------------------------------------------------------------
 * Records: classify and fill
 *
 * A record is one subscriber JSON object (SPEC.md section 2).  `line` is the record's line
 * number in its input (1-based, 0 when unknown); error messages name the record by its id,
 * or by that line number when there is no usable id.
 * ------------------------------------------------------------------------------------- */

/* Validates and classifies one record.  On success *out_json is
 *   {"id","scenario" (string or null),"age","senior","speed","flags":[...]}
 * Flags: "total_mismatch" when bill.total differs from the computed this_month. */
VBILL_API vbill_status vbill_classify(vbill_ctx *ctx, const char *record_json, size_t len,
                                      long line, char **out_json);

/* Validates, classifies and fills one record.  On success *out_json is the classify
 * object plus "period":{"start","end"}, "amounts":{"this_month","next_month",
 * "bundle_prorated","lines":[{"id","days","prorated","next_month"}]} and "slots":{...}, the
 * slot texts of the record's scenario rendered in its locale ({} for no scenario). */
VBILL_API vbill_status vbill_fill(vbill_ctx *ctx, const char *record_json, size_t len,
                                  long line, char **out_json);

/* The full Mustache context of one record, as JSON: the record's fields (never the birth
 * date), the computed values and the preformatted locale strings (name_masked,
 * period_text, this_month_text, next_month_text, payment_text, ...).  Templates of any
 * kind (slot texts, SMS, tickets) are rendered over this object. */
VBILL_API vbill_status vbill_fill_context(vbill_ctx *ctx, const char *record_json, size_t len,
                                          long line, char **out_json);

/* The default slot templates of a scenario in a locale, as a JSON object
 * {"slot name": "mustache text", ...}; *out_json is NULL-free "{}" for unknown scenarios. */
VBILL_API vbill_status vbill_default_slots(vbill_ctx *ctx, const char *scenario,
                                           const char *locale, char **out_json);

/* ---------------------------------------------------------------------------------------
 * Mustache
 * ------------------------------------------------------------------------------------- */

/* Renders a Mustache template (the specification's core modules: interpolation, sections,
 * inverted sections, comments, partials, set delimiters) over a JSON data value.
 * partials_json is NULL or a JSON object {"name": "template", ...}; a partial not found there
 * is looked up as DIR/name.mustache in the directory set by vbill_ctx_set_partials_dir(),
 * and is otherwise empty, as the specification says. */
VBILL_API vbill_status vbill_mustache_render(vbill_ctx *ctx, const char *tmpl, size_t tmpl_len,
                                             const char *data_json, const char *partials_json,
                                             char **out, size_t *out_len);

/* Directory searched for partials by name (NULL to unset). */
VBILL_API vbill_status vbill_ctx_set_partials_dir(vbill_ctx *ctx, const char *dir);

/* @@VIDEO@@ (video templates, prepare, render, HLS) */

/* @@VIDEO_TEXT@@ (built-in templates, text rendering options) */

/* @@AUTH@@ (signed links, knowledge check, attempt limiting, sessions, SMS text) */

/* @@HOOKS@@ (events, outbox, sinks, chat) */

#ifdef __cplusplus
}
#endif
#endif /* VBILL_H */
