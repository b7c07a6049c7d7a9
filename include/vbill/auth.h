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
 * Guessing bound.  Every check is counted in the store before the comparison, with an
 * atomic conditional add (never past the bound, never below zero), so concurrent requests
 * and help-desk unlocks cannot add a comparison.  A link accepts at most `hard` (default 10)
 * failed checks in its lifetime, and a subscriber at most `subscriber` (default 10) failed
 * checks per bill cycle over all its links (re-issued or not) and all unlocks.  Of about
 * 36,500 plausible birth dates (100 years), an attacker therefore opens a given customer's
 * bill of a cycle with probability at most 10/36,500 (0.027%) with the defaults (in general
 * subscriber-limit/36,500), whatever the number of links, unlocks and client addresses; a
 * forged or altered token is refused before any comparison (2^-96 per forgery attempt).
 * (The SQLite and Redis stores count atomically; a custom store of ops version 1 or 2 is
 * exact only without concurrency: see vbill_store_ops.add.)
 *
 * Revocation: re-issuing a link revokes the old one in the store (vbill_link_revoke does it
 * alone).  The store is consulted by vbill_auth_check, vbill_link_verify_store and
 * vbill_session_verify (when given a store): a revoked link and its sessions are refused.
 * vbill_link_verify takes no store and cannot see a revocation: it checks the signature and
 * the expiry only.  A server must therefore pass its store wherever it decides to serve.
 *
 * `now` parameters below are Unix seconds; 0 means the current time (tests pass a fixed
 * clock to test expiry without sleeping; the vbill command has no such switch).
 */

/* A set of keys: one signing key and any number of verification keys.  Immutable once
 * loaded (and given its peppers): may be shared by any number of threads. */
typedef struct vbill_keys vbill_keys;

/* The attempt store: counters, locks and revocations (see "attempt limiting" below). */
typedef struct vbill_store vbill_store;

/*
 * What a stolen key file gives away.  Each key has a secret (it encrypts and signs links
 * and sessions) and a pepper (the key of the birth-date hash inside each link).
 *  - Key file with its peppers, plus any link token (tokens sit in SMS and access logs):
 *    the token decrypts to the subscriber id and the 6-byte birth hash, and trying the
 *    ~36,500 plausible birth dates offline finds the customer's birth date in a fraction of
 *    a second.  It also forges links and sessions: every bill video can be watched.
 *  - Key file without the peppers (kept apart: vbill_keys_split, a pepper file or a secret
 *    manager): links and sessions can still be forged (every bill video can be watched), but
 *    no birth date can be found: the hash cannot be tested without the pepper.
 *  - Pepper set alone: nothing (the tokens cannot be decrypted without the secret).
 * So keep the peppers apart from the key file where the birth dates matter, and guard both
 * like a database password: files of mode 0600 owned by the user that runs vbill.
 */

/* Makes a new key file (JSON) with a fresh random key id, secret and pepper:
 *   {"vbill_keys":1,"signing":"KID","keys":[{"kid":"KID","secret":"...","pepper":"...",
 *     "created":"YYYY-MM-DDTHH:MM:SSZ"}]}
 * When existing_json is non-NULL (a key file, with or without its peppers), its keys are
 * kept for verification and the new key becomes the signing key (key rotation).
 * *out_json is freed with vbill_free; it holds secrets: write it to a new file of mode 0600
 * (vbill keygen --out FILE), then wipe it. */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_generate(vbill_ctx *ctx, const char *existing_json,
                                           char **out_json);

/* Moves the peppers out of a key file: *out_key_json is key_json without any "pepper", and
 * *out_pepper_json the pepper set
 *   {"vbill_peppers":1,"peppers":{"KID":"base64url of 32 bytes",...}}
 * holding them and those of pepper_json (an earlier pepper set, or NULL).  VBILL_ERR_KEY
 * when a key has another pepper in pepper_json.  Both are freed with vbill_free; both hold
 * secrets (write each to its own 0600 file, kept apart: another disk, a secret manager). */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_split(vbill_ctx *ctx, const char *key_json,
                                                        const char *pepper_json,
                                                        char **out_key_json,
                                                        char **out_pepper_json);

/* Loads keys from key-file JSON (len may be (size_t)-1 for a NUL-terminated string) or
 * from a file.  VBILL_ERR_KEY for a missing file or a malformed key set (the message names
 * the file and the field, never a secret).  vbill_keys_load refuses a file reached through
 * a symlink, a file that is not a regular file, a file owned by another user than the
 * process's effective user, and a file that group or others may read or write (the message
 * names the file and the fix: chmod 600 FILE).  The text read is wiped before it is freed.
 * A key without a pepper (kept apart) verifies links and sessions; issuing links and the
 * birth-date check need its pepper (vbill_keys_add_peppers / vbill_keys_load_peppers). */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_from_json(vbill_ctx *ctx, const char *json, size_t len,
                                            vbill_keys **out);
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_load(vbill_ctx *ctx, const char *path, vbill_keys **out);
VBILL_API void vbill_keys_free(vbill_keys *keys);

/* Gives the keys that have no pepper theirs from a pepper set (vbill_keys_split's format):
 * from JSON text (len may be (size_t)-1), e.g. an environment variable a secret manager
 * fills (the vbill command reads VBILL_PEPPER), or from a file, checked as
 * vbill_keys_load checks a key file.  Members for other key ids are ignored.  VBILL_ERR_KEY
 * (keys unchanged) for a malformed set, one whose pepper for a key differs from the key
 * file's, or one that holds no pepper for any of the keys; the message is in
 * vbill_keys_errmsg.  Changes the keys object: call it before sharing keys with threads. */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_add_peppers(vbill_keys *keys,
                                                              const char *pepper_json, size_t len);
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_load_peppers(vbill_keys *keys, const char *path);

/* Issues a link token for a bill made from a record (it holds the birth date), valid for
 * ttl_seconds (> 0) from now.  Each call makes a distinct token.  Errors:
 * VBILL_ERR_UNSUPPORTED for a bill read from JSON (no birth date), VBILL_ERR_ARG (also
 * when now + ttl_seconds overflows or falls after 2106), VBILL_ERR_KEY when the signing
 * key's pepper is kept apart and was not loaded. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_issue(vbill_ctx *ctx, const vbill_keys *keys,
                                                        const vbill_bill *bill, int64_t now,
                                                        int64_t ttl_seconds, char **out_token);

/* Verifies a link token.  On success *out_info_json (may be NULL if not wanted) is
 *   {"link":"24 hex","kid","subscriber","cycle_start","cycle_end","scenario" (or null),
 *    "expires":"ISO time","expires_unix"}
 * which holds no personal data (no name, birth date or phone).  Errors:
 * VBILL_ERR_LINK_MALFORMED (not the token format: bad base64, wrong length or version),
 * VBILL_ERR_LINK_KEY (key id not among the keys), VBILL_ERR_LINK_SIGNATURE (altered,
 * truncated or signed with another key), VBILL_ERR_LINK_EXPIRED.  Stateless: it checks
 * the signature and the expiry only and cannot see a revocation (vbill_link_verify_store). */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                         const char *token, int64_t now, char **out_info_json);

/* vbill_link_verify, and when store is non-NULL also VBILL_ERR_LINK_EXPIRED for a link
 * revoked in it (re-issued, or vbill_link_revoke; the message says "revoked").  What a
 * server calls before it shows a link's page. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_verify_store(vbill_ctx *ctx,
                                                               const vbill_keys *keys,
                                                               vbill_store *store,
                                                               const char *token, int64_t now,
                                                               char **out_info_json);

/* ---- attempt limiting: the state store ---- */

/* The state store of the attempt limiter (declared with vbill_keys above).  Counters survive
 * restarts and are shared by the processes (SQLite) or servers (Redis) that use the same
 * store.  A store handle may be used by one thread at a time; open one per thread (they
 * share the state). */

/* Opens (creating if needed) the SQLite store: `path` is a directory (the file
 * "vbill-state.sqlite" in it) or a file name.  WAL mode, busy timeout: safe with several
 * processes on one machine. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_open_sqlite(vbill_ctx *ctx, const char *path,
                                               vbill_store **out);

/* Connects to a Redis server (plain TCP, no password, database 0); keys are prefixed with
 * `prefix` (NULL: "vbill:").  The same as vbill_store_open_redis_url with
 * "redis://HOST:PORT". */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_open_redis(vbill_ctx *ctx, const char *host, int port,
                                              const char *prefix, vbill_store **out);

/* Connects to a Redis server named by a URL:
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]     plain TCP (port 6379)
 *   rediss://[[USER]:PASSWORD@]HOST[:PORT][/DB]    TLS 1.2 or later (port 6379)
 * HOST a name, an IPv4 address or [an IPv6 address]; USER and PASSWORD percent-encoded:
 * with USER, AUTH USER PASSWORD (a Redis 6 ACL user), without, AUTH PASSWORD; DB a number
 * 0-65535 (SELECT).  For rediss, options as query parameters: cacert=FILE (the CA that
 * signed the server's certificate; default: the system's CAs), capath=DIR, cert=FILE and
 * key=FILE (a client certificate, for tls-auth-clients), sni=NAME (the name the server's
 * certificate must carry; default HOST).  The server's certificate is always verified
 * (chain and name).  Keys are prefixed with `prefix` (NULL: "vbill:").  Counters change
 * only through a Lua script that bounds them and records each operation's unique id: when
 * a reply is lost and the command is sent again after a reconnection, an attempt is
 * counted once.  The connection is re-established (AUTH and SELECT again) once per
 * operation when it drops.  Errors: VBILL_ERR_ARG (a malformed URL: the message names the
 * part, never the password), VBILL_ERR_STORE (cannot connect, TLS or AUTH refused),
 * VBILL_ERR_UNSUPPORTED (built with --disable-redis). */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_open_redis_url(vbill_ctx *ctx, const char *url,
                                                                  const char *prefix,
                                                                  vbill_store **out);

/* A carrier's own store.  Each operation returns VBILL_OK or VBILL_ERR_STORE and must be
 * atomic with respect to the others on the same key across every process sharing the
 * store.  Counters that do not exist or have expired read as 0.  Times are Unix seconds. */
#define VBILL_STORE_OPS_VERSION 3
typedef struct vbill_store_ops {
    unsigned version; /* VBILL_STORE_OPS_VERSION (1: the members up to close; 2: up to
                       * errmsg; both still accepted) */
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
    /* Version 3 on.  May be NULL, but then the bounds are exact only without concurrency:
     * incr is used and an increment past a bound is undone (another process can see it for
     * a moment, and a decrement racing a del can leave -1).  The bounded add, atomically:
     * when the counter (0 when absent or expired) plus delta lies within [0, limit], stores
     * the sum (a new or expired counter expires ttl_seconds after now when ttl_seconds > 0;
     * an existing one keeps its expiry), gives it in *value and sets *applied to 1;
     * otherwise changes nothing, sets *applied to 0 and gives the counter as it is in
     * *value.  op_id (never NULL) is unique to this operation: a store that may send an
     * operation again after a lost reply must apply each op_id once and give the same
     * answer to its repetitions (record it with the counter, e.g. SET NX). */
    vbill_status (*add)(void *impl, const char *key, int64_t delta, int64_t limit,
                        int64_t ttl_seconds, int64_t now, const char *op_id, int64_t *value,
                        int *applied);
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
 * `cooling_seconds` [900]; after `hard` [10] failed checks it is locked until re-issued; a
 * client (see vbill_auth_check) with `client_max` [30] failures within
 * `client_window_seconds` [3600] is slowed until the window ends (vbill_store_set_slowdown:
 * it is never locked out, since a carrier's NAT puts many customers behind one address).
 * VBILL_ERR_ARG for values < 1, soft > hard, counts over 100,000 or times over 366 days. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_set_limits(vbill_store *store, int soft,
                                              int64_t cooling_seconds, int hard, int client_max,
                                              int64_t client_window_seconds);

/* The bound per subscriber and bill cycle [10]: the failed checks of all the links of a
 * subscriber's bill of one cycle, re-issued or not, before and after help-desk unlocks.
 * Reaching it locks every link of that bill for good (the carrier serves the bill another
 * way).  It is the guessing bound the carrier states: max_failures/36,500 per customer and
 * cycle.  VBILL_ERR_ARG outside 1 to 100,000. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_set_subscriber_limit(vbill_store *store,
                                                                        int max_failures);

/* A client over its limit may make one check every `seconds` [10] (1 to 3600); a check
 * that comes sooner is refused with VBILL_ERR_AUTH_LOCKED ("slowed ... try again in N s",
 * a viewer answers 429 with Retry-After) before any counting or comparison, and a check
 * that passes gives its turn back.  Customers behind a shared address are delayed, never
 * locked out; an attacker behind it still meets the link and subscriber bounds. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_set_slowdown(vbill_store *store, int64_t seconds);

/* Called when a link becomes locked, with a JSON event
 *   {"type":"link_locked"|"subscriber_locked","link","subscriber","cycle_start","scenario",
 *    "hard":bool,"until" (Unix seconds, 0 when hard),"failures"}
 * (never the digits); "subscriber_locked" when the subscriber bound is reached (every link
 * of that bill is then locked for good).  Called on the checking thread; must not call back
 * into the store. */
typedef void (*vbill_lock_fn)(void *user, const char *event_json);
VBILL_API void vbill_store_set_lock_hook(vbill_store *store, vbill_lock_fn fn, void *user);

/* The failure-rate alarm over every link and client sharing the store: when the failed
 * checks within `window_seconds` [600] (a window that starts at its first failure) reach
 * `max_failures` [600], fn (may be NULL: counted only) is called once for that window with
 *   {"type":"auth.attack_suspected","failures","window_seconds","at" (Unix seconds)}
 * on the checking thread (it must not call back into the store; queue a help-desk event or
 * page someone from it).  This, not a lock on a shared address, is the answer to a guesser
 * spread over many links.  VBILL_ERR_ARG outside 1 to 10^9 failures, 1 s to 366 days. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_set_alarm(vbill_store *store,
                                                             int64_t max_failures,
                                                             int64_t window_seconds,
                                                             vbill_lock_fn fn, void *user);

/* Figures for a metrics endpoint, as JSON (freed with vbill_free):
 *   {"checks","passed","failed","locked","slowed","alarms"   (by this handle since it was
 *     opened: add them up over a server's handles; Prometheus counters),
 *    "failures_total"   (every failed check ever recorded in the store, all servers),
 *    "failures_window","window_seconds","alarm_failures"     (the alarm's current window)}
 * now: 0 for the current time.  VBILL_ERR_STORE (vbill_store_errmsg) when the store cannot
 * be read. */
VBILL_API VBILL_NODISCARD vbill_status vbill_store_stats(vbill_store *store, int64_t now,
                                                         char **out_json);

/* The knowledge check.  digits: the six digits YYMMDD typed by the customer (spaces, '-'
 * and '.' are ignored).  client: the customer's address as the server saw it, or as its
 * trusted proxy verified it (the last X-Forwarded-For entry your own proxy added, never a
 * header the client controls): NULL or "" is VBILL_ERR_ARG.  IPv4 addresses count one by
 * one, IPv6 addresses by their /64 (one subscriber's network), an IPv4-mapped IPv6 address
 * as its IPv4 address; any other text counts as given (pass the address alone, not
 * "address:port").  The check is counted against the link, the subscriber's cycle and the
 * client before the comparison and undone on success.  On success *out_session (may be
 * NULL) is a session token.  Errors: the link errors of vbill_link_verify and
 * VBILL_ERR_LINK_EXPIRED for a revoked link; VBILL_ERR_AUTH_WRONG (wrong or not six
 * digits; the message says how many tries remain); VBILL_ERR_AUTH_LOCKED (the link, the
 * subscriber's cycle or the client is locked or slowed; the message says until when);
 * VBILL_ERR_KEY (the link's key has no pepper loaded); VBILL_ERR_STORE; VBILL_ERR_ARG. */
VBILL_API VBILL_NODISCARD vbill_status vbill_auth_check(vbill_ctx *ctx, const vbill_keys *keys,
                                        vbill_store *store, const char *token,
                                        const char *digits, const char *client, int64_t now,
                                        char **out_session);

/* Where a link stands, for the page after a wrong entry and for the help desk, as JSON
 * (freed with vbill_free): {"state": "open" | "cooling" (a cooling lock until
 * "locked_until", Unix seconds) | "link" (locked until re-issued or unlocked) |
 * "subscriber" (the subscriber's bill of this cycle is locked on every link) | "revoked",
 * "tries_left": wrong entries before the next lock of any kind (0 when locked for good)}.
 * The token's signature must verify; it may be expired.  Nothing is counted.  Errors: the
 * link errors of vbill_link_verify, VBILL_ERR_STORE, VBILL_ERR_ARG. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_attempts(vbill_ctx *ctx,
                                                           const vbill_keys *keys,
                                                           vbill_store *store, const char *token,
                                                           int64_t now, char **out_json);

/* For the help desk: clears a link's failure count and cooling lock, so that a customer
 * locked out for a while (or for good, after `hard` failures) may try again on that link.
 * It never gives back the subscriber's failures (the subscriber bound holds across
 * unlocks) and never un-revokes a link.  The token's signature must verify; it may be
 * expired. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_unlock(vbill_ctx *ctx, const vbill_keys *keys,
                                         vbill_store *store, const char *token);

/* Revokes a link and its sessions in the store (a phone reported lost, a link sent to the
 * wrong number): from then on vbill_auth_check, vbill_link_verify_store and
 * vbill_session_verify with that store refuse it (VBILL_ERR_LINK_EXPIRED, sessions
 * VBILL_ERR_SESSION).  The token's signature must verify; it may be expired. */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_revoke(vbill_ctx *ctx, const vbill_keys *keys,
                                                         vbill_store *store, const char *token);

/* Issues a new link for the subscriber of old_token (which must carry a valid signature;
 * it may be expired or locked, not revoked), for the same bill, valid ttl_seconds from now,
 * and revokes old_token and its sessions in store (required: VBILL_ERR_ARG when NULL).
 * The new link shares the subscriber's bound of the cycle: re-issuing gives no new
 * guesses.  The bill must be the same subscriber and cycle (VBILL_ERR_ARG otherwise).  A
 * bill read from JSON can re-issue while old_token's key is still the signing key (the
 * birth-date check is carried over from the old token); otherwise it needs the bill made
 * from the record (VBILL_ERR_UNSUPPORTED).  VBILL_ERR_LINK_EXPIRED when old_token was
 * revoked already (re-issue from the link that replaced it); VBILL_ERR_STORE when the
 * revocation cannot be recorded (then no new link is returned). */
VBILL_API VBILL_NODISCARD vbill_status vbill_link_reissue(vbill_ctx *ctx, const vbill_keys *keys,
                                                          vbill_store *store,
                                                          const char *old_token,
                                                          const vbill_bill *bill, int64_t now,
                                                          int64_t ttl_seconds, char **out_token);

/* The message of the last failed call on keys without a context
 * (vbill_keys_set_session_ttl, vbill_keys_add_peppers, vbill_keys_load_peppers); "" after a
 * success. */
VBILL_API const char *vbill_keys_errmsg(const vbill_keys *keys);

/* Session length given to new sessions (default 1800 s; 1 s to 31 days; a session never
 * outlives its link).  Changes the keys object: call it before sharing keys with threads. */
VBILL_API VBILL_NODISCARD vbill_status vbill_keys_set_session_ttl(vbill_keys *keys, int64_t seconds);

/* Verifies a session token for a link and a client (the same client as the check; an IPv6
 * client may move within its /64).  Errors: VBILL_ERR_SESSION (malformed, altered, another
 * link, another client, unknown key), VBILL_ERR_LINK_EXPIRED (the session or the link
 * expired), the link's errors, VBILL_ERR_ARG (no client).  When store is non-NULL a link
 * revoked or locked for good also refuses its sessions; without a store neither is seen
 * (a session then lives until it expires, at most the session lifetime). */
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
