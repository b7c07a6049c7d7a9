/*
 * vbill/common.h: status codes, the version, memory, optional parts, and the context.
 * Included by vbill.h; see vbill.h for the conventions every function follows.
 */
#ifndef VBILL_COMMON_H
#define VBILL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "vbill/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VBILL_BUILDING) && defined(__GNUC__)
#define VBILL_API __attribute__((visibility("default")))
#else
#define VBILL_API
#endif

/* Marks a call whose status must be looked at: ignoring it is a compiler warning. */
#if defined(__cplusplus) && __cplusplus >= 201703L
#define VBILL_NODISCARD [[nodiscard]]
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L
#define VBILL_NODISCARD [[nodiscard]]
#elif defined(__GNUC__)
#define VBILL_NODISCARD __attribute__((warn_unused_result))
#else
#define VBILL_NODISCARD
#endif

/* Stable codes: new ones are only ever appended. */
typedef enum vbill_status {
    VBILL_OK = 0,
    VBILL_ERR_ARG = 1,          /* a NULL or out-of-range argument from the caller */
    VBILL_ERR_NOMEM = 2,        /* out of memory */
    VBILL_ERR_IO = 3,           /* a file could not be read or written (disk full, permission) */
    VBILL_ERR_JSON = 4,         /* input is not well-formed JSON */
    VBILL_ERR_RECORD = 5,       /* a subscriber record (or a bill) breaks a rule */
    VBILL_ERR_RULES = 6,        /* a classification rule set is malformed */
    VBILL_ERR_TEMPLATE = 7,     /* a Mustache or video template is malformed */
    VBILL_ERR_OVERFLOW = 8,     /* an amount would overflow 64-bit arithmetic */
    VBILL_ERR_MEDIA = 9,        /* a video could not be decoded, encoded or muxed */
    VBILL_ERR_FONT = 10,        /* no usable font for a text */
    VBILL_ERR_NOT_TARGET = 11,  /* the bill matches no scenario: no video bill this cycle */
    VBILL_ERR_LINK_MALFORMED = 12, /* a link token is not of the token format */
    VBILL_ERR_LINK_SIGNATURE = 13, /* a link token was altered or signed with another key */
    VBILL_ERR_LINK_EXPIRED = 14,   /* a link or session has expired */
    VBILL_ERR_LINK_KEY = 15,       /* the token's key id is not among the verification keys */
    VBILL_ERR_AUTH_WRONG = 16,     /* the six digits did not match */
    VBILL_ERR_AUTH_LOCKED = 17,    /* too many failed checks: the link is locked */
    VBILL_ERR_STORE = 18,       /* the state store (SQLite, Redis, a custom one) failed */
    VBILL_ERR_HOOK = 19,        /* an event could not be queued or delivered */
    VBILL_ERR_NOT_FOUND = 20,   /* a named thing (event id, file, slot) does not exist */
    VBILL_ERR_KEY = 21,         /* a key file is missing, malformed or unsafe */
    VBILL_ERR_SESSION = 22,     /* a session token is invalid, replayed or for another link */
    VBILL_ERR_UNSUPPORTED = 23, /* the library was built without the part this call needs
                                 * (see vbill_has), or the object cannot do it (a bill read
                                 * from JSON cannot issue a link) */
    VBILL_ERR_BUSY = 24         /* the handle is already in a call on this thread (e.g. a
                                 * hooks callback calling back into its own hooks) */
} vbill_status;

/* The name and meaning of a status code, e.g. "VBILL_ERR_RECORD: invalid record".
 * Never NULL; static storage. */
VBILL_API const char *vbill_strerror(vbill_status status);

/* The version of the library the program runs with, e.g. "0.2.0", and as a number
 * (VBILL_VERSION_NUM's encoding).  Compare with VBILL_VERSION_NUM for the headers. */
VBILL_API const char *vbill_version(void);
VBILL_API unsigned vbill_version_num(void);

/* 1 when the library was built with the optional part `feature`, else 0:
 *   "video"  templates, rendering, stills, built-in templates (FFmpeg, libass);
 *   "redis"  the Redis attempt store (hiredis);
 *   "hooks", "auth", "records", "mustache", "chat"  always 1.
 * A call of a part the library was built without returns VBILL_ERR_UNSUPPORTED.  An
 * unknown name gives 0. */
VBILL_API int vbill_has(const char *feature);

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
VBILL_API VBILL_NODISCARD vbill_status vbill_ctx_new(vbill_ctx **out);
VBILL_API void vbill_ctx_free(vbill_ctx *ctx);

/* The message of the last failure of a call on ctx ("" when the last call succeeded: every
 * call that takes a context clears it first).  Valid until the next call on ctx.  Accepts
 * NULL (returns a generic message). */
VBILL_API const char *vbill_ctx_errmsg(const vbill_ctx *ctx);

/* Sets (or with fn == NULL, removes) the logging callback and the most verbose level passed
 * to it (default VBILL_LOG_WARN).  Handles opened with this context (hooks) copy the
 * callback when they are opened. */
VBILL_API void vbill_ctx_set_log(vbill_ctx *ctx, vbill_log_fn fn, void *user,
                                 vbill_log_level max_level);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_COMMON_H */
