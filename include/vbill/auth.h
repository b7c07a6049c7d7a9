/*
 * vbill/auth.h: signed links, the birth-date check, attempt limiting, sessions, SMS text.
 * Included by vbill.h; see vbill.h for the conventions every function follows.
 */
#ifndef VBILL_AUTH_H
#define VBILL_AUTH_H

#include "vbill/common.h"
#include "vbill/records.h"

#ifdef __cplusplus
extern "C" {
#endif

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
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_generate(vbill_ctx *ctx, const char *existing_json,
                                           char **out_json);

/* Loads keys from key-file JSON (len may be (size_t)-1 for a NUL-terminated string) or
 * from a file.  VBILL_ERR_KEY for a missing file or a malformed key set (the message names
 * the file and the field, never a secret). */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_from_json(vbill_ctx *ctx, const char *json, size_t len,
                                            vbill_keys **out);
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_load(vbill_ctx *ctx, const char *path, vbill_keys **out);
VBILL_API void vbill_keys_free(vbill_keys *keys);

/* Issues a link token for a bill made from a record (it holds the birth date), valid for
 * ttl_seconds (> 0) from now.  Each call makes a distinct token.  Errors:
 * VBILL_ERR_UNSUPPORTED for a bill read from JSON (no birth date), VBILL_ERR_ARG. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_issue(vbill_ctx *ctx, const vbill_keys *keys,
                                                        const vbill_bill *bill, int64_t now,
                                                        int64_t ttl_seconds, char **out_token);

/* Verifies a link token.  On success *out_info_json (may be NULL if not wanted) is
 *   {"link":"24 hex","kid","subscriber","cycle_start","cycle_end","scenario" (or null),
 *    "expires":"ISO time","expires_unix"}
 * which holds no personal data (no name, birth date or phone).  Errors:
 * VBILL_ERR_LINK_MALFORMED (not the token format: bad base64, wrong length or version),
 * VBILL_ERR_LINK_KEY (key id not among the keys), VBILL_ERR_LINK_SIGNATURE (altered,
 * truncated or signed with another key), VBILL_ERR_LINK_EXPIRED. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                         const char *token, int64_t now, char **out_info_json);

/* ---- attempt limiting: the state store ---- */

/* The state store of the attempt limiter.  Counters survive restarts and are shared by the
 * processes (SQLite) or servers (Redis) that use the same store.  A store handle may be
 * used by one thread at a time; open one per thread (they share the state). */
typedef struct vbill_store vbill_store;

/* Opens (creating if needed) the SQLite store: `path` is a directory (the file
 * "vbill-state.sqlite" in it) or a file name.  WAL mode, busy timeout: safe with several
 * processes on one machine. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_open_sqlite(vbill_ctx *ctx, const char *path,
                                               vbill_store **out);

/* Connects to a Redis server (hiredis); keys are prefixed with `prefix` (NULL: "vbill:").
 * Counters are atomic (a Lua script does INCRBY and EXPIRE together) and expire in Redis. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out);

/* A carrier's own store.  Each operation returns VBILL_OK or VBILL_ERR_STORE and must be
 * atomic with respect to the others on the same key across every process sharing the
 * store.  Counters that do not exist or have expired read as 0.  Times are Unix seconds. */
#define VBILL_STORE_OPS_VERSION 2
typedef struct vbill_store_ops {
    unsigned version; /* VBILL_STORE_OPS_VERSION (1: the members up to close only) */
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
    /* Version 2 on.  May be NULL.  The message of the last failed operation on impl (why
     * the server or database refused), copied into vbill_store_errmsg and into the message
     * of the call that failed; it must not hold a secret. */
    const char *(*errmsg)(void *impl);
} vbill_store_ops;

/* Wraps a custom store; the ops struct is copied; impl is closed by vbill_store_free. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_new_custom(vbill_ctx *ctx, const vbill_store_ops *ops,
                                              void *impl, vbill_store **out);
VBILL_API void vbill_store_free(vbill_store *store);

/* The message of the last failed operation on store ("" after a success): store calls
 * without a context (vbill_store_set_limits) and the operations made for vbill_auth_check
 * and vbill_link_unlock set it. */
VBILL_API const char *vbill_store_errmsg(const vbill_store *store);

/* Limits (defaults in brackets): after every `soft` [5] failed checks a link is locked for
 * `cooling_seconds` [900]; after `hard` [10] failed checks it is locked until re-issued;
 * a client address with `client_max` [30] failures within `client_window_seconds` [3600]
 * is refused on every link until the window ends.  VBILL_ERR_ARG for values < 1 or
 * soft > hard. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_set_limits(vbill_store *store, int soft,
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
VBILL_API VBILL_NODISCARD vbill_status vbill_auth_check(vbill_ctx *ctx, const vbill_keys *keys,
                                        vbill_store *store, const char *token,
                                        const char *digits, const char *client, int64_t now,
                                        char **out_session);

/* Clears the failure counters and locks of a link (for the help desk).  Re-issuing a link
 * (a new token) also starts with fresh counters. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_unlock(vbill_ctx *ctx, const vbill_keys *keys,
                                         vbill_store *store, const char *token);

/* Issues a new link for the subscriber of old_token (which must carry a valid signature;
 * it may be expired or locked), for the same bill, valid ttl_seconds from now.  The bill
 * must be the same subscriber and cycle (VBILL_ERR_ARG otherwise).  A bill read from JSON
 * can re-issue while old_token's key is still the signing key (the birth-date check is
 * carried over from the old token); otherwise it needs the bill made from the record
 * (VBILL_ERR_UNSUPPORTED). */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_reissue(vbill_ctx *ctx, const vbill_keys *keys,
                                                          const char *old_token,
                                                          const vbill_bill *bill, int64_t now,
                                                          int64_t ttl_seconds, char **out_token);

/* The message of the last failed call on keys without a context
 * (vbill_keys_set_session_ttl); "" after a success. */
VBILL_API const char *vbill_keys_errmsg(const vbill_keys *keys);

/* Session length given to new sessions (default 1800 s; 1 s to 31 days; a session never
 * outlives its link).  Changes the keys object: call it before sharing keys with threads. */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_set_session_ttl(vbill_keys *keys, int64_t seconds);

/* Verifies a session token for a link and a client (the same client string as the check).
 * Errors: VBILL_ERR_SESSION (malformed, altered, another link, another client, unknown
 * key), VBILL_ERR_LINK_EXPIRED (the session or the link expired), the link's errors.
 * When store is non-NULL a link locked for good also refuses its sessions. */
VBILL_API VBILL_NODISCARD vbill_status vbill_session_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                            vbill_store *store, const char *session,
                                            const char *link_token, const char *client,
                                            int64_t now);

/* ---- SMS text ---- */

/* Renders the SMS body for a bill and its link URL: the Mustache template (NULL = the
 * default of the bill's locale) over the bill's fill context plus {{url}}.  With the
 * default Korean template the short form is used when it fits in 90 bytes of EUC-KR (one
 * SMS), else the long form (LMS).  *out is freed with vbill_free. */
VBILL_API VBILL_NODISCARD vbill_status vbill_message_build(vbill_ctx *ctx, const vbill_bill *bill,
                                                           const char *url, const char *tmpl,
                                                           char **out);

/* The length of UTF-8 text in EUC-KR bytes (what a Korean SMS gateway counts); characters
 * EUC-KR cannot encode count 2 bytes.  VBILL_ERR_ARG for invalid UTF-8. */
VBILL_API VBILL_NODISCARD vbill_status vbill_text_euckr_bytes(const char *text, size_t *out_bytes);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_AUTH_H */
