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
 * Flags: "total_mismatch" when bill.total differs from the computed this_month.
 * Errors: VBILL_ERR_RECORD for any record that breaks a rule, malformed JSON included (the
 * message names the record, its line, the field and the problem); VBILL_ERR_OVERFLOW when
 * an amount would overflow 64-bit arithmetic; VBILL_ERR_ARG, VBILL_ERR_NOMEM.
 * Thread safety: as the context (one thread at a time). */
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
 * {"slot name": "mustache text", ...}.  A scenario id that is not one of the seven built-in
 * ones (a carrier's own) gets the slots every bill has: greeting, period, this_month,
 * next_month, payment.  locale NULL means "ko-KR". */
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

/*
 * Video templates.  A template is a directory with template.json and a base video (any
 * file FFmpeg decodes: H.264, HEVC, VP9, ProRes..., any frame rate, with or without audio):
 *   { "scenario": "mobile_new_bundle", "video": "base.mp4",
 *     "slots": [ { "name": "period", "text": "{{period_text}}", "from": 10.0, "to": 14.0,
 *                  "box": [100, 480, 1080, 80], "size": 56, "color": "#FFFFFF",
 *                  "background": "#00000099", "align": "left", "min_size": 30 } ] }
 * text: Mustache over the record's fill context (vbill_fill_context); from/to: seconds of
 * the base video (the text is on the frames that start in [from, to)); box: x, y, width,
 * height in pixels of the base video; size/min_size: font pixels (the text shrinks down to
 * min_size, then wraps; it is never cut); colours #RRGGBB or #RRGGBBAA; background and
 * align (left|center|right, default left) and min_size are optional.  Two slots may share
 * a time or a place, not both.
 *
 * Preparing normalises the base video once into DIR/.vbill-prepared/<sha256>/ (the key
 * covers the base video's bytes, template.json, the slow speed and the settings version):
 * H.264 High yuv420p at a constant frame rate (the base's average rate; variable rates are
 * resampled), fixed x264 settings without B-frames, closed GOPs with an IDR at the start and
 * at the end of every slot window and about every 4 s elsewhere; AAC stereo 48 kHz (silent
 * when the base has none), trimmed to the video's length.  An odd width or height loses its
 * last column or row (4:2:0 needs even sizes; boxes keep their coordinates).  The slow
 * variant (the context's senior speed, default 0.8) has the same frames shown longer and
 * the audio time-stretched with its pitch kept.  The shared HLS segments are written too.
 *
 * Rendering burns a record's slot texts into the prepared video: only the GOPs holding a
 * slot window are decoded and re-encoded (with the prepare's encoder headers); every other
 * packet and all audio are copied.  Outputs have exactly the prepared frame count and
 * duration (duration / speed for the slow variant).
 *
 * Thread safety: a template is immutable once prepared; any number of threads may render
 * from one template at once, each with its own vbill_ctx.  Opening and preparing are not
 * thread-safe on the same template object.
 */
typedef struct vbill_template vbill_template;

/* Opens the template in `dir`: parses and validates template.json (VBILL_ERR_TEMPLATE with
 * a message naming the slot and the problem; VBILL_ERR_JSON), probes the base video
 * (VBILL_ERR_MEDIA when it does not decode) and hashes it.  When a prepared form for the
 * same content is already cached, the template is ready to render.  The slow variant's
 * speed is ctx's senior speed at this call.  *out is freed with vbill_template_free. */
VBILL_API vbill_status vbill_template_open(vbill_ctx *ctx, const char *dir,
                                           vbill_template **out);

/* Prepares the template (see above) unless already prepared: idempotent, and a re-run with
 * nothing changed only checks the cache.  The cache directory appears atomically.  Errors:
 * VBILL_ERR_MEDIA (undecodable base, encoder failure), VBILL_ERR_IO (cannot write DIR). */
VBILL_API vbill_status vbill_template_prepare(vbill_ctx *ctx, vbill_template *t);

/* 1 when the template is prepared (renders may start), else 0. */
VBILL_API int vbill_template_is_prepared(const vbill_template *t);

/* The scenario id the template is for (owned by t). */
VBILL_API const char *vbill_template_scenario(const vbill_template *t);

/* A JSON description: {"scenario","prepared","source":{width,height,duration}, and when
 * prepared "cache","width","height","fps":[num,den],"frames","slow_speed",
 * "segments":[[first frame, end frame, personal],...]}, "slots":[{name,from,to,box,
 * frames:[first,end]}]}.  Segment indexes are those of vbill_render_segment.  Free with
 * vbill_free; NULL on allocation failure. */
VBILL_API char *vbill_template_info(const vbill_template *t);

VBILL_API void vbill_template_free(vbill_template *t);

/* Renders a record's video bill to an MP4 file (faststart, H.264 + AAC), written under a
 * temporary name and renamed: on failure nothing is left at out_path.  speed: 1.0 for
 * normal, the template's slow speed (e.g. 0.8), or 0 for automatic (slow for seniors).
 * Errors: the record's (VBILL_ERR_JSON, VBILL_ERR_RECORD), VBILL_ERR_NOT_TARGET (no
 * scenario), VBILL_ERR_ARG (another scenario than the template's, unprepared template,
 * speed not prepared), VBILL_ERR_TEMPLATE (a slot text does not fit its box),
 * VBILL_ERR_FONT, VBILL_ERR_MEDIA, VBILL_ERR_IO. */
VBILL_API vbill_status vbill_render_mp4(vbill_ctx *ctx, const vbill_template *t,
                                        const char *record_json, size_t len, double speed,
                                        const char *out_path);

/* Renders a record's HLS stream into out_dir (created if needed): out_dir/index.m3u8 and
 * the personal MPEG-TS segments out_dir/pNNNNN.ts; the shared segments are the template's
 * (written once by prepare, in the cache's hls-normal/ or hls-slow/) and the playlist
 * refers to them by shared_url + "/sNNNNN.ts", or when shared_url is NULL by a relative
 * path from out_dir to the cache.  Timestamps are continuous (no discontinuity).  Errors as
 * vbill_render_mp4. */
VBILL_API vbill_status vbill_render_hls(vbill_ctx *ctx, const vbill_template *t,
                                        const char *record_json, size_t len, double speed,
                                        const char *out_dir, const char *shared_url);

/* Renders one personal segment (index from vbill_template_info, the same name pNNNNN.ts a
 * playlist of vbill_render_hls refers to) to out_path: the call a viewer makes to render
 * a bill on demand.  VBILL_ERR_NOT_FOUND when the segment is not personal. */
VBILL_API vbill_status vbill_render_segment(vbill_ctx *ctx, const vbill_template *t,
                                            const char *record_json, size_t len, double speed,
                                            int segment, const char *out_path);

/* @@VIDEO_TEXT@@ (built-in templates, text rendering options) */

/*
 * Built-in templates: one default video template per scenario of the built-in rule set,
 * generated by the library itself (no media is shipped).  Each is about two minutes of
 * 1280x720, 30 fps H.264 with AAC: scenes that explain the period, the pro-rated charges,
 * next month's bill, the plan and its benefits, the bundle and its discounts and the payment
 * method (the scenes that fit the scenario), with Korean captions burnt in, a soft audio bed,
 * and six slots (empty regions of the picture, 4-8 s each) whose Mustache texts are rendered
 * over the fill context (vbill_fill_context) and drawn by the renderer.
 *
 * Scenario ids: mobile_new_home_new, mobile_new_bundle, mobile_device_change_home,
 * mobile_device_change, home_new_mobile, home_new, home_recontract.
 */

/* Writes DIR/template.json and DIR/base.mp4 of the built-in template of `scenario`,
 * creating DIR (one level) when missing.  Both files appear atomically (temporary name,
 * then rename); existing ones are replaced.  Takes a few seconds of CPU.
 * Errors: VBILL_ERR_NOT_FOUND for an unknown scenario, VBILL_ERR_IO when DIR cannot be
 * created or written, VBILL_ERR_MEDIA when encoding fails, VBILL_ERR_FONT when no font draws
 * the captions.  Thread safety: distinct contexts may generate in parallel (into distinct
 * directories). */
VBILL_API vbill_status vbill_template_builtin_write(vbill_ctx *ctx, const char *scenario,
                                                   const char *dir);

/* The scenario ids that have a built-in template, as a JSON array of strings (static
 * storage, never NULL). */
VBILL_API const char *vbill_template_builtin_list(void);


/* @@AUTH@@ (signed links, knowledge check, attempt limiting, sessions, SMS text) */

/*
 * Signed links and the birth-date check.
 *
 * A link token is base64url (no padding) of 17 + N bytes, typically 50-60 characters:
 *   version (1) | key id (2) | tag (12) | AES-256-CTR ciphertext of the payload
 * The payload holds the expiry, the bill cycle, the scenario, a random serial, the
 * subscriber id and a 6-byte keyed hash of the birth digits.  The tag is HMAC-SHA256 (keyed
 * by a key derived from the key's secret) over the header and the plaintext, truncated to 96
 * bits, and is also the counter-mode IV (a synthetic-IV construction): the token is both
 * encrypted (nothing readable without the key file) and authenticated, and it needs no
 * shared state, so any number of viewer servers sharing the key file can verify it.
 *
 * The birth-date factor (the six digits YYMMDD) is kept only as
 *   HMAC-SHA256(pepper, "vbill-birth-v1" | key id | subscriber id | cycle | YYMMDD)[0..6]
 * inside the encrypted token; it is compared with CRYPTO_memcmp and never logged, put in a
 * message, a URL or a file.
 *
 * Guessing bound: a link accepts at most `hard` (default 10) failed checks in its lifetime,
 * counted in the store before each comparison, so concurrent requests cannot exceed it.  Of
 * about 36,500 plausible birth dates (100 years), an attacker opens a given link with
 * probability at most 10/36,500 (0.027%), whatever the number of client addresses used; a
 * forged or altered token is refused before any comparison (2^-96 per forgery attempt).
 *
 * `now` parameters below are Unix seconds; 0 means the current time (tests pass a fixed
 * clock to test expiry without sleeping).
 */

/* A set of keys: one signing key and any number of verification keys.  Immutable once
 * loaded: may be shared by any number of threads. */
typedef struct vbill_keys vbill_keys;

/* Makes a new key file (JSON) with a fresh random key id, secret and pepper:
 *   {"vbill_keys":1,"signing":"KID","keys":[{"kid":"KID","secret":"...","pepper":"...",
 *     "created":"YYYY-MM-DDTHH:MM:SSZ"}]}
 * When existing_json is non-NULL (a key file), its keys are kept for verification and the
 * new key becomes the signing key (key rotation).  *out_json is freed with vbill_free; it
 * holds secrets: write it to a file of mode 0600. */
VBILL_API vbill_status vbill_keys_generate(vbill_ctx *ctx, const char *existing_json,
                                           char **out_json);

/* Loads keys from key-file JSON (len may be (size_t)-1 for a NUL-terminated string) or
 * from a file.  VBILL_ERR_KEY for a missing file or a malformed key set (the message names
 * the file and the field, never a secret). */
VBILL_API vbill_status vbill_keys_from_json(vbill_ctx *ctx, const char *json, size_t len,
                                            vbill_keys **out);
VBILL_API vbill_status vbill_keys_load(vbill_ctx *ctx, const char *path, vbill_keys **out);
VBILL_API void vbill_keys_free(vbill_keys *keys);

/* Issues a link token for a subscriber record (validated as vbill_fill validates it),
 * valid for ttl_seconds (> 0) from now.  Each call makes a distinct token.  Errors: the
 * record's (VBILL_ERR_JSON, VBILL_ERR_RECORD), VBILL_ERR_ARG. */
VBILL_API vbill_status vbill_link_issue(vbill_ctx *ctx, const vbill_keys *keys,
                                        const char *record_json, size_t len, int64_t now,
                                        int64_t ttl_seconds, char **out_token);

/* Verifies a link token.  On success *out_info_json (may be NULL if not wanted) is
 *   {"link":"24 hex","kid","subscriber","cycle_start","cycle_end","scenario" (or null),
 *    "expires":"ISO time","expires_unix"}
 * which holds no personal data (no name, birth date or phone).  Errors:
 * VBILL_ERR_LINK_MALFORMED (not the token format: bad base64, wrong length or version),
 * VBILL_ERR_LINK_KEY (key id not among the keys), VBILL_ERR_LINK_SIGNATURE (altered,
 * truncated or signed with another key), VBILL_ERR_LINK_EXPIRED. */
VBILL_API vbill_status vbill_link_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                         const char *token, int64_t now, char **out_info_json);

/* ---- attempt limiting: the state store ---- */

/* The state store of the attempt limiter.  Counters survive restarts and are shared by the
 * processes (SQLite) or servers (Redis) that use the same store.  A store handle may be
 * used by one thread at a time; open one per thread (they share the state). */
typedef struct vbill_store vbill_store;

/* Opens (creating if needed) the SQLite store: `path` is a directory (the file
 * "vbill-state.sqlite" in it) or a file name.  WAL mode, busy timeout: safe with several
 * processes on one machine. */
VBILL_API vbill_status vbill_store_open_sqlite(vbill_ctx *ctx, const char *path,
                                               vbill_store **out);

/* Connects to a Redis server (hiredis); keys are prefixed with `prefix` (NULL: "vbill:").
 * Counters are atomic (a Lua script does INCRBY and EXPIRE together) and expire in Redis. */
VBILL_API vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out);

/* A carrier's own store.  Each operation returns VBILL_OK or VBILL_ERR_STORE and must be
 * atomic with respect to the others on the same key across every process sharing the
 * store.  Counters that do not exist or have expired read as 0.  Times are Unix seconds. */
#define VBILL_STORE_OPS_VERSION 1
typedef struct vbill_store_ops {
    unsigned version; /* VBILL_STORE_OPS_VERSION */
    /* Adds delta to counter key and gives the new value.  A new (or expired) counter starts
     * from 0 and, when ttl_seconds > 0, expires ttl_seconds after now. */
    vbill_status (*incr)(void *impl, const char *key, int64_t delta, int64_t ttl_seconds,
                         int64_t now, int64_t *value);
    /* Reads counter key (0 when absent or expired). */
    vbill_status (*get)(void *impl, const char *key, int64_t now, int64_t *value);
    /* Sets counter key to value, expiring ttl_seconds after now (0: never). */
    vbill_status (*set)(void *impl, const char *key, int64_t value, int64_t ttl_seconds,
                        int64_t now);
    /* Removes key (absent is not an error). */
    vbill_status (*del)(void *impl, const char *key);
    /* Releases impl (may be NULL). */
    void (*close)(void *impl);
} vbill_store_ops;

/* Wraps a custom store; the ops struct is copied; impl is closed by vbill_store_free. */
VBILL_API vbill_status vbill_store_new_custom(vbill_ctx *ctx, const vbill_store_ops *ops,
                                              void *impl, vbill_store **out);
VBILL_API void vbill_store_free(vbill_store *store);

/* Limits (defaults in brackets): after every `soft` [5] failed checks a link is locked for
 * `cooling_seconds` [900]; after `hard` [10] failed checks it is locked until re-issued;
 * a client address with `client_max` [30] failures within `client_window_seconds` [3600]
 * is refused on every link until the window ends.  VBILL_ERR_ARG for values < 1 or
 * soft > hard. */
VBILL_API vbill_status vbill_store_set_limits(vbill_store *store, int soft,
                                              int64_t cooling_seconds, int hard, int client_max,
                                              int64_t client_window_seconds);

/* Called when a link becomes locked, with a JSON event
 *   {"type":"link_locked","link","subscriber","cycle_start","scenario","hard":bool,
 *    "until" (Unix seconds, 0 when hard),"failures"}
 * (never the digits).  Called on the checking thread; must not call back into the store. */
typedef void (*vbill_lock_fn)(void *user, const char *event_json);
VBILL_API void vbill_store_set_lock_hook(vbill_store *store, vbill_lock_fn fn, void *user);

/* The knowledge check.  digits: the six digits YYMMDD typed by the customer (spaces, '-'
 * and '.' are ignored); client: the client's address (any string, e.g. an IP; NULL = "").
 * On success *out_session (may be NULL) is a session token and the link's pending count is
 * undone.  Errors: the link errors of vbill_link_verify; VBILL_ERR_AUTH_WRONG (wrong or
 * not six digits; the message says how many tries remain); VBILL_ERR_AUTH_LOCKED (the link
 * or the client is locked; the message says until when); VBILL_ERR_STORE. */
VBILL_API vbill_status vbill_auth_check(vbill_ctx *ctx, const vbill_keys *keys,
                                        vbill_store *store, const char *token,
                                        const char *digits, const char *client, int64_t now,
                                        char **out_session);

/* Clears the failure counters and locks of a link (for the help desk).  Re-issuing a link
 * (a new token) also starts with fresh counters. */
VBILL_API vbill_status vbill_link_unlock(vbill_ctx *ctx, const vbill_keys *keys,
                                         vbill_store *store, const char *token);

/* Issues a new link for the subscriber of old_token (which must carry a valid signature;
 * it may be expired or locked), for the same record, valid ttl_seconds from now.  The
 * record must be the same subscriber and cycle (VBILL_ERR_ARG otherwise). */
VBILL_API vbill_status vbill_link_reissue(vbill_ctx *ctx, const vbill_keys *keys,
                                          const char *old_token, const char *record_json,
                                          size_t len, int64_t now, int64_t ttl_seconds,
                                          char **out_token);

/* Session length given to new sessions (default 1800 s; 1 s to 31 days; a session never
 * outlives its link).  Changes the keys object: call it before sharing keys with threads. */
VBILL_API vbill_status vbill_keys_set_session_ttl(vbill_keys *keys, int64_t seconds);

/* Verifies a session token for a link and a client (the same client string as the check).
 * Errors: VBILL_ERR_SESSION (malformed, altered, another link, another client, unknown
 * key), VBILL_ERR_LINK_EXPIRED (the session or the link expired), the link's errors.
 * When store is non-NULL a link locked for good also refuses its sessions. */
VBILL_API vbill_status vbill_session_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                            vbill_store *store, const char *session,
                                            const char *link_token, const char *client,
                                            int64_t now);

/* ---- SMS text ---- */

/* Renders the SMS body for a record and its link URL: the Mustache template (NULL = the
 * default of the record's locale) over the record's fill context (vbill_fill_context) plus
 * {{url}}.  With the default Korean template the short form is used when it fits in 90
 * bytes of EUC-KR (one SMS), else the long form (LMS).  *out is freed with vbill_free. */
VBILL_API vbill_status vbill_message_build(vbill_ctx *ctx, const char *record_json, size_t len,
                                           const char *url, const char *tmpl, char **out);

/* The length of UTF-8 text in EUC-KR bytes (what a Korean SMS gateway counts); characters
 * EUC-KR cannot encode count 2 bytes.  VBILL_ERR_ARG for invalid UTF-8. */
VBILL_API vbill_status vbill_text_euckr_bytes(const char *text, size_t *out_bytes);


/* @@HOOKS@@ (events, outbox, sinks, chat) */

/*
 * Events and help-desk hooks.
 *
 * An event is a CloudEvents 1.0 JSON envelope:
 *   {"specversion":"1.0","id":"<UUIDv4>","source":"urn:vbill:<carrier>","type":"chat.requested",
 *    "time":"2026-12-05T01:02:03.456Z","subject":"<subscriber id>",
 *    "datacontenttype":"application/json","data":{...}}
 * Types: bill.generated, bill.link_sent, bill.viewed, auth.failed, auth.locked,
 * chat.requested, survey.answered, bill.flagged (any other "a.b" lowercase type is accepted
 * too).  survey.answered data must hold "score" (integer 1-5) and may hold "comment" (a
 * string of at most 2,000 bytes).  A member whose name contains "birth" is removed from the
 * data at any depth, so the birth date can never leave in an event.
 *
 * vbill_hooks_emit writes the event durably to the outbox (SQLite, WAL,
 * synchronous=FULL) in STATE_DIR/outbox.sqlite before it returns, with one delivery row per
 * matching sink.  Deliveries are made by vbill_hooks_pump (driven by the host) or by a
 * worker thread (vbill_hooks_start).  Each delivery is claimed with a lease ("in flight"):
 * if the process dies, the delivery is retried once the lease has run out.  Delivery is at
 * least once: receivers de-duplicate by the event id (the webhook-id / Idempotency-Key
 * header).  A failed attempt is retried after an exponential backoff with jitter, or after
 * the time a 429/503 Retry-After asks for (seconds or HTTP date).  A delivery that fails at
 * or after its deadline (default 24 h after the emit) moves to the dead-letter table, which
 * can be listed and replayed.
 *
 * Configuration (JSON, all keys optional except "sinks"):
 *   {"source": "urn:vbill:acme", "deadline_s": 86400, "lease_ms": 60000,
 *    "retry_base_ms": 1000, "retry_max_ms": 3600000, "batch": 64, "sync": "full",
 *    "sinks": [
 *      {"type":"webhook", "name":"hook", "url":"https://...", "secret":"whsec_<base64>",
 *       "events":["*"], "timeout_ms":2000},
 *      {"type":"zendesk", "url":"https://acme.zendesk.com", "email":"a@acme.com",
 *       "token":"...", "events":["chat.requested","auth.locked","bill.flagged"],
 *       "subject":"<mustache>", "comment":"<mustache>", "tags":["vbill","{{type}}"],
 *       "priority":"<mustache>", "custom_fields":[{"id":123,"value":"<mustache>"}],
 *       "timeout_ms":10000},
 *      {"type":"rt", "url":"https://rt.example", "token":"...", "queue":"General",
 *       "id_field":"vbill-event-id", "subject":..., "comment":..., "custom_fields":{...}},
 *      {"type":"callback", "name":"mine", "events":["bill.*"]} ]}
 * "sync": "full" (default) fsyncs every emit; "normal" survives a killed process but not a
 * power cut, and costs far less per emit.
 * "events" lists types, "prefix.*" patterns or "*" (the default for webhook and callback
 * sinks).  Mustache mappings render over the envelope ({{type}}, {{subject}}, {{id}},
 * {{data.question}}, {{data.amounts.this_month}}...); defaults are built in.  Webhook
 * requests carry the Standard Webhooks headers webhook-id (the event id),
 * webhook-timestamp and webhook-signature ("v1," + base64 HMAC-SHA256 over
 * "id.timestamp.body" keyed by the decoded whsec_ secret).  Zendesk tickets carry
 * external_id = event id and an Idempotency-Key header; a retried delivery first looks the
 * ticket up by external_id, so no second ticket is ever made.  RT tickets carry the event
 * id in the custom field id_field and are looked up by it likewise.  A still attached to an
 * event (vbill_hooks_emit_still) is uploaded to Zendesk (uploads API) or attached to the RT
 * ticket.  Secrets (secret, token) never appear in logs or messages.
 *
 * Thread safety: a vbill_hooks may be used by one thread at a time (besides its own worker);
 * several processes may share a state directory (SQLite arbitrates).
 */
typedef struct vbill_hooks vbill_hooks;

/* A host's own sink.  Called with the event type and the envelope JSON; returns 0 when the
 * event was handled, a positive number of seconds to retry after, or a negative number to
 * retry after the usual backoff.  Called from the thread that pumps. */
typedef int (*vbill_hook_fn)(void *user, const char *type, const char *event_json);

/* Opens (creating it if needed) the outbox in state_dir and reads the sink configuration
 * (config_json may be NULL: no sinks but callbacks).  ctx receives the error messages of
 * this call and of the calls on the handle that follow; it must outlive the handle.
 * VBILL_ERR_JSON / VBILL_ERR_HOOK for a malformed configuration (the message names the
 * sink and key), VBILL_ERR_STORE when the database cannot be opened. */
VBILL_API vbill_status vbill_hooks_open(vbill_ctx *ctx, const char *state_dir,
                                        const char *config_json, vbill_hooks **out);
/* Stops the worker (if running) and closes.  Accepts NULL.  Queued events stay queued. */
VBILL_API void vbill_hooks_free(vbill_hooks *h);

/* Registers (or replaces) the callback sink `name` for the event types in events_json (a
 * JSON array as in the configuration; NULL means all).  Register callbacks before emitting:
 * deliveries are decided when an event is emitted.  At most 16 callback sinks besides the
 * configured ones; safe to call while the worker runs. */
VBILL_API vbill_status vbill_hooks_set_callback(vbill_hooks *h, const char *name,
                                                const char *events_json, vbill_hook_fn fn,
                                                void *user);

/* Queues one event durably and returns its id in *out_id (may be NULL; free with
 * vbill_free).  subject is the subscriber id (NULL: data's "subscriber_id" or "id").
 * data_json is a JSON object (NULL for {}).  VBILL_ERR_HOOK for an invalid type or data
 * (e.g. a survey score out of range), VBILL_ERR_STORE when it could not be written. */
VBILL_API vbill_status vbill_hooks_emit(vbill_hooks *h, const char *type, const char *subject,
                                        const char *data_json, char **out_id);

/* A lock hook for vbill_store_set_lock_hook (pass the vbill_hooks as user): queues an
 * auth.locked event (subject = the subscriber; data: link, cycle_start, scenario, hard,
 * until, failures, priority "high" when hard).  Safe on any thread (own connection and
 * context); failures are logged, never raised:
 *   vbill_store_set_lock_hook(store, vbill_hooks_auth_locked, hooks); */
VBILL_API void vbill_hooks_auth_locked(void *hooks, const char *lock_json);

/* Same, with a JPEG still of the frame at position_s seconds of video_path (the customer's
 * own video) stored with the event and attached to help-desk tickets.  When the still
 * cannot be made the event is still queued, without it (a warning is logged). */
VBILL_API vbill_status vbill_hooks_emit_still(vbill_hooks *h, const char *type,
                                              const char *subject, const char *data_json,
                                              const char *video_path, double position_s,
                                              char **out_id);

/* The data an agent needs about a record, as a JSON object: subscriber_id, scenario,
 * locale, period, amounts, name_masked, period_text, this_month_text, next_month_text,
 * payment_text, plus link (when non-NULL) and the members of extra_json (an object, may be
 * NULL).  Never the birth date.  *out_json is freed with vbill_free. */
VBILL_API vbill_status vbill_hooks_event_data(vbill_ctx *ctx, const char *record_json,
                                              const char *link, const char *extra_json,
                                              char **out_json);

/* Delivers what is due now, for at most max_ms milliseconds (0: one batch).  *delivered
 * (may be NULL) receives the number of deliveries that succeeded.  Failures of single
 * deliveries are not errors of this call: they are rescheduled or dead-lettered. */
VBILL_API vbill_status vbill_hooks_pump(vbill_hooks *h, unsigned max_ms, size_t *delivered);

/* Deliveries not yet done nor dead (*pending), and the Unix time in milliseconds of the
 * earliest one due (*next_due_ms, 0 when none).  Either pointer may be NULL. */
VBILL_API vbill_status vbill_hooks_pending(vbill_hooks *h, size_t *pending,
                                           int64_t *next_due_ms);

/* Starts / stops the library's worker thread, which pumps whenever deliveries are due.
 * stop waits for the attempt in progress to finish. */
VBILL_API vbill_status vbill_hooks_start(vbill_hooks *h);
VBILL_API vbill_status vbill_hooks_stop(vbill_hooks *h);

/* Counts by state as JSON: {"events":N,"pending":N,"in_flight":N,"delivered":N,"dead":N,
 * "sinks":{"name":{"pending":N,...}}}. */
VBILL_API vbill_status vbill_hooks_status(vbill_hooks *h, char **out_json);

/* The dead letters as a JSON array of {"id","type","subject","sink","attempts","error",
 * "created","died"} (times in RFC 3339). */
VBILL_API vbill_status vbill_hooks_dead(vbill_hooks *h, char **out_json);

/* Moves the dead letters of event id (NULL: all of them) back to the outbox with a fresh
 * deadline.  *count (may be NULL) receives how many.  VBILL_ERR_NOT_FOUND when id has no
 * dead letter. */
VBILL_API vbill_status vbill_hooks_replay(vbill_hooks *h, const char *id, size_t *count);

/* A JPEG still (at most max_width pixels wide, 0 for 640) of the frame shown at position_s
 * seconds of a video file.  *jpeg is freed with vbill_free.  VBILL_ERR_MEDIA when the file
 * cannot be decoded or has no frame there. */
VBILL_API vbill_status vbill_still_jpeg(vbill_ctx *ctx, const char *video_path,
                                        double position_s, int max_width,
                                        unsigned char **jpeg, size_t *jpeg_len);

/*
 * Chat: answers a customer's question from the bill's own values and a carrier FAQ, or
 * says to escalate.  context_json is a fill context (vbill_fill_context) or a subscriber
 * record (its context is built).  faq_json (may be NULL: built-in entries only) is
 *   {"entries":[{"id":"prorated","match":[["lower","next month"],["적","다음 달"]],
 *                "answer":{"ko-KR":"<mustache>","en-US":"<mustache>"}}],
 *    "hours":{"open":"10:00","close":"19:00","tz":"Asia/Seoul","days":[1,2,3,4,5,6,0]},
 *    "priority":{"mobile_new_home_new":"high","*":"normal"}, "builtin":true}
 * An entry matches when every word of one of its "match" lists occurs in the question
 * (case-insensitive); carrier entries are tried before the built-in ones (which explain
 * the pro-rated first bill, next month's bill, the payment method and the period).  "tz"
 * is an IANA name (read from the system's zoneinfo) or a fixed offset such as "+09:00".
 * now is Unix seconds (0: the current time).  *answer_json is
 *   {"answered":true,"faq":"prorated","answer":"..."}  or
 *   {"answered":false,"escalate":true,"reason":"asked for a person"|"no answer",
 *    "priority":"high","mode":"chat"|"callback","reply":"...",
 *    "event":{"type":"chat.requested","data":{...}}}
 * where event.data is ready for vbill_hooks_emit (question, priority, mode, scenario,
 * amounts...).  position_s (< 0 when unknown) is the playback position, put in the data.
 */
VBILL_API vbill_status vbill_chat_answer(vbill_ctx *ctx, const char *context_json,
                                         const char *question, const char *faq_json,
                                         double position_s, int64_t now, char **answer_json);

/* @@VOICE@@ (narration scripts, voices) */

/*
 * Narration: the words a bill's video says, scene by scene, with the customer's amounts,
 * dates and counts written out as words ("육만 구백육십 원", "ろくまんきゅうひゃくろくじゅうえん",
 * "six hundred nine dollars and sixty cents"): the script is exactly what a voice speaks.
 * Korean follows myriad grouping (만, 억, 조) with no 일 before 십/백/천/만, months 유월 and
 * 시월; Japanese is written in kana (espeak-ng cannot read kanji) with the sound changes
 * (さんびゃく, ろっぴゃく, はっせん, いっせんまん, よえん, じゅうよっか...); English as
 * Americans say it ("November fourteenth", "twenty twenty-six").
 *
 * A script is JSON:
 *   {"id","scenario","locale","scenes":[{"scene","start","end","personal","text"}]}
 * start and end are seconds of the template at normal speed (the speech belongs in that
 * window; a slower rendition divides them by its speed); personal is true for the
 * sentences that say the customer's own values (spoken in the personal windows), false for
 * the fixed ones (the same for every customer of a scenario and locale).
 *
 * The texts are Mustache templates over the fill context (vbill_fill_context) plus these
 * spoken values, computed from the context's numbers and dates in the record's locale and
 * currency:
 *   this_month_spoken, next_month_spoken, bundle_prorated_spoken        money
 *   period_spoken ("11월 14일부터 11월 30일까지" in words), period_start_spoken,
 *   period_end_spoken, period_days_spoken ("십칠 일"), cycle_spoken, issue_date_spoken
 *   (with the year), payment_method_spoken, payment_day_spoken ("이십오일"; absent when
 *   the record has no payment day), benefits_count_spoken ("두 가지", "ふたつ", "two
 *   benefits"; absent without benefits), lines_count_spoken ("세 회선", "さんかいせん",
 *   "three lines") with lines_count, one_line and few_lines (at most two) to choose
 *   between saying each line's amount and pointing at the screen
 *   lines[]: monthly_fee_spoken, net_spoken, prorated_spoken, next_month_spoken,
 *     discount_total_spoken, days_spoken, from_spoken, start_spoken, kind_spoken;
 *     device.installment_spoken, device.months_left_spoken; discounts[].amount_spoken
 *   bundle: discount_spoken, prorated_spoken, days_spoken, start_spoken
 *   bill: other_total_spoken, other_charges[].amount_spoken
 * Use triple braces ({{{name}}}): double braces escape HTML, as the Mustache
 * specification says, which a voice would read out.
 *
 * The built-in narration of each of the seven built-in scenarios follows the built-in video
 * templates: an intro (0.5-9.5 s), per scene a fixed sentence (+0.5 to +4 s) and a personal
 * one in its window (+4 to +9 s), an outro (106.5-119.5 s).  It never says the record's free
 * texts (names, products, institutions, benefits): the screen shows them, and recorded
 * clips could not say them.
 *
 * A carrier replaces it with a narration.json in the template folder:
 *   {"scenario": "mobile_new_bundle",        optional; another scenario's bill is refused
 *    "scenes": [                             1 to 64, in order, not overlapping
 *      {"scene": "intro",                    optional name, at most 64 bytes
 *       "start": 0.5, "end": 9.5,            seconds, 0 <= start < end <= 3600
 *       "personal": false,                   optional; default: true when the text
 *                                            looks up any value
 *       "text": {"ko-KR": "...", "ja-JP": "...", "en-US": "..."}},
 *                                            or one string for every locale; a locale
 *                                            left out says nothing in that scene
 *      ...],
 *    "partials": {"name": "mustache text"}}  optional, for {{> name}}
 * Each text is at most 4,096 bytes.  A scene whose text renders empty (e.g. a device
 * sentence for a bill without a device) is left out of the script; runs of white space
 * become one space.
 */

/* The narration script of a record (validated and filled as vbill_fill does).
 * template_dir: a template folder whose narration.json replaces the built-in narration
 * (NULL, or a folder without one: the built-in narration of the record's scenario).
 * *out_json is freed with vbill_free.  Errors: the record's (VBILL_ERR_JSON,
 * VBILL_ERR_RECORD, VBILL_ERR_OVERFLOW), VBILL_ERR_NOT_TARGET (no scenario),
 * VBILL_ERR_NOT_FOUND (a carrier's scenario without a narration.json), VBILL_ERR_TEMPLATE
 * (a malformed narration.json: the message names the scene and the locale; or another
 * scenario's), VBILL_ERR_IO (narration.json unreadable). */
VBILL_API vbill_status vbill_narration(vbill_ctx *ctx, const char *record_json, size_t len,
                                       const char *template_dir, char **out_json);

/* The built-in narration of a scenario in the narration.json format, every locale, to
 * start a carrier's own from.  VBILL_ERR_NOT_FOUND for a scenario without one. */
VBILL_API vbill_status vbill_narration_default(vbill_ctx *ctx, const char *scenario,
                                               char **out_json);

/* Checks a narration.json (len may be (size_t)-1 for a NUL-terminated string): its shape
 * and every text's Mustache.  VBILL_ERR_JSON, VBILL_ERR_TEMPLATE. */
VBILL_API vbill_status vbill_narration_check(vbill_ctx *ctx, const char *narration_json,
                                             size_t len);

/*
 * Voices turn a script's text into speech: PCM, mono, 48,000 samples per second, 32-bit
 * float in [-1, 1] (what the AAC encoder of the video path takes, each channel alike).
 *
 *  - espeak-ng (Debian's espeak-ng, GPL: run as a separate program, never linked): one
 *    process per text, the text on its standard input, the WAV it writes on standard output
 *    read back, with a timeout (default 20 s); voices ko, ja, en-us by the locale.
 *  - recorded clips: a folder with one sub-folder per locale (ko-KR/, ja-JP/, en-US/) of
 *    WAV files (PCM 8-32 bit or float, any rate, mono or stereo), one per word, number piece
 *    or phrase; a clip's text is its file name without ".wav", or is given by the folder's
 *    clips.json ({"text": "file.wav", ...}).  A text is cut into the fewest clips that spell
 *    it (spaces are free; English words must end at a word boundary); commas and full stops
 *    become short pauses; clips are trimmed of their silent ends (below -50 dBFS, keeping
 *    10 ms) and joined with 10 ms equal-power crossfades, so there is no gap and no click.
 *    libvbill/voice/README.md lists the clips a voice actor records per locale, and
 *    vbill_voice_clip_list gives every text the built-in narration can need.
 *  - silent: the fallback when espeak-ng is missing: silence as long as the text would take
 *    to say (an estimate from its syllables), with a warning logged, so a video keeps its
 *    timing and its captions.
 *
 * Thread safety: a voice is immutable once its options are set; any number of threads may
 * call vbill_voice_say on it at once, each with its own context.
 */
#define VBILL_VOICE_SAMPLE_RATE 48000
typedef struct vbill_voice vbill_voice;

/* espeak-ng as a voice.  program: the executable (a path, or a name looked up in PATH);
 * NULL means "espeak-ng".  VBILL_ERR_NOT_FOUND with a clear message when it is not
 * installed (Debian: apt-get install espeak-ng). */
VBILL_API vbill_status vbill_voice_open_espeak(vbill_ctx *ctx, const char *program,
                                               vbill_voice **out);

/* A carrier's recorded clips in dir (see above); every WAV is read and checked now.
 * VBILL_ERR_NOT_FOUND when dir holds no locale folder with clips, VBILL_ERR_MEDIA for a WAV
 * that does not parse (the message names the file), VBILL_ERR_IO, VBILL_ERR_JSON. */
VBILL_API vbill_status vbill_voice_open_clips(vbill_ctx *ctx, const char *dir,
                                              vbill_voice **out);

/* The silent fallback voice (see above). */
VBILL_API vbill_status vbill_voice_open_silent(vbill_ctx *ctx, vbill_voice **out);

/* espeak-ng when it is installed, else the silent voice with a warning logged. */
VBILL_API vbill_status vbill_voice_open_default(vbill_ctx *ctx, vbill_voice **out);

/* "espeak-ng", "clips" or "silent". */
VBILL_API const char *vbill_voice_kind(const vbill_voice *v);

/* Speaking rate, 1.0 normal (espeak-ng: 175 words a minute), from 0.5 to 2.0.  Clips are
 * time-stretched with their pitch kept. */
VBILL_API vbill_status vbill_voice_set_rate(vbill_voice *v, double rate);

/* How long one espeak-ng run may take, in milliseconds (default 20,000; 100 to 600,000). */
VBILL_API vbill_status vbill_voice_set_timeout(vbill_voice *v, int ms);

/* Speaks text (UTF-8) in locale ("ko-KR", "ja-JP", "en-US"; NULL: ko-KR).  *pcm (freed
 * with vbill_free; NULL when *samples is 0) holds *samples samples at 48 kHz.  Errors:
 * VBILL_ERR_ARG (invalid UTF-8, text over 64 KiB), VBILL_ERR_NOT_FOUND (espeak-ng missing;
 * a clips voice without the locale, or with no clip for a piece of the text: the message
 * quotes it), VBILL_ERR_MEDIA (espeak-ng failed, timed out or wrote no WAV). */
VBILL_API vbill_status vbill_voice_say(vbill_ctx *ctx, const vbill_voice *v, const char *locale,
                                       const char *text, float **pcm, size_t *samples);

/* Speaks a script (vbill_narration's JSON) on its timeline: each scene's speech starts at
 * its start second; the result lasts until the last scene's end, or longer when the last
 * speech runs past it.  A speech longer than its scene's window is kept whole and a warning
 * is logged.  which: VBILL_SCENES_ALL, or only the personal scenes (the part that differs
 * per bill) or only the fixed ones (the same for every bill of a scenario and locale).
 * Errors as vbill_voice_say, VBILL_ERR_JSON for a malformed script. */
typedef enum vbill_scenes {
    VBILL_SCENES_ALL = 0,
    VBILL_SCENES_PERSONAL = 1,
    VBILL_SCENES_FIXED = 2
} vbill_scenes;
VBILL_API vbill_status vbill_voice_narration(vbill_ctx *ctx, const vbill_voice *v,
                                             const char *script_json, vbill_scenes which,
                                             float **pcm, size_t *samples);

/* The texts of the clips the built-in narration can need in a locale, as a JSON array of
 * strings (number pieces, units, month and day names, every fixed phrase).  A clips folder
 * with a WAV for each of them says every built-in script. */
VBILL_API vbill_status vbill_voice_clip_list(vbill_ctx *ctx, const char *locale,
                                             char **out_json);

VBILL_API void vbill_voice_free(vbill_voice *v);

/* Writes 48 kHz mono PCM (as the voices make it) to a 16-bit WAV file, atomically. */
VBILL_API vbill_status vbill_wav_write(vbill_ctx *ctx, const char *path, const float *pcm,
                                       size_t samples);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_H */
