/*
 * vbill.h: the public interface of libvbill, personalised video bills for carriers.
 *
 * Data flows one way:
 *   record -> (validate, classify, fill) -> vbill_bill -> {video, voice, link + SMS, events,
 *   chat}
 * A bill is made once from a subscriber record and is immutable; every later stage takes it.
 *
 * The interface is split by concern; this header includes them all:
 *   vbill/version.h   VBILL_VERSION_NUM, VBILL_VERSION_AT_LEAST (the headers' version)
 *   vbill/common.h    status codes, vbill_has, memory, the context, logging
 *   vbill/records.h   rule sets, classify, fill, the bill (bill.json)
 *   vbill/mustache.h  the Mustache engine
 *   vbill/video.h     templates, prepare, render (MP4, HLS, segment, still), built-ins
 *   vbill/voice.h     narration scripts (the words spoken), voices (espeak-ng, clips)
 *   vbill/auth.h      keys, signed links, the birth-date check, attempt store, sessions, SMS
 *   vbill/hooks.h     events, the durable outbox, help-desk sinks
 *   vbill/chat.h      answers and escalation
 *
 * Conventions (the same for every function):
 *  - Every exported name starts with vbill_.  Types are opaque; objects are created by
 *    vbill_X_new / vbill_X_open and released by vbill_X_free, which accepts NULL.
 *  - Every fallible call returns a vbill_status (VBILL_OK is 0), marked VBILL_NODISCARD so
 *    that ignoring it is a compiler warning.  vbill_strerror() names a code.
 *  - One error model: every handle owns the message of the last failed call on it, cleared
 *    when a call on it starts (as sqlite3_errmsg does).  A call's message goes to the handle
 *    it is made on: its first argument.  Calls that take a context (vbill_ctx) first report
 *    there: vbill_ctx_errmsg().  Calls made on a template, keys, a store or hooks without a
 *    context report in that handle: vbill_template_errmsg(), vbill_keys_errmsg(),
 *    vbill_store_errmsg(), vbill_hooks_errmsg().  No call writes into a handle that another
 *    thread may be using: shared handles (a prepared template, keys, a bill) are only read.
 *    Messages name what failed (which record, which field, which file) and never hold a
 *    birth date, a secret or a key.
 *  - The library never prints: log lines go to the callback set with vbill_ctx_set_log().
 *  - Strings the library returns are NUL-terminated UTF-8 and are released with vbill_free().
 *    Structured results are JSON text, which keeps the ABI small and the bindings thin.
 *  - Options are set through functions, never through public struct layouts (the one
 *    exception, vbill_store_ops, carries a version field).
 *  - Thread safety: a vbill_ctx may be used by one thread at a time; distinct contexts are
 *    independent.  Bills, loaded keys and prepared templates are immutable and may be
 *    shared by any number of threads, each with its own context.
 *  - Money is always an integer in the currency's minor unit (int64_t); no floating point
 *    touches an amount.
 *  - The birth date never leaves the library: it is not in any result, message, log line or
 *    serialised bill.
 *  - Optional parts: a library built without a part (./configure --disable-video,
 *    --disable-redis) keeps every function; those of the missing part return
 *    VBILL_ERR_UNSUPPORTED, and vbill_has("video") tells a caller beforehand.
 */
#ifndef VBILL_H
#define VBILL_H

#include "vbill/version.h"
#include "vbill/common.h"
#include "vbill/records.h"
#include "vbill/mustache.h"
#include "vbill/video.h"
#include "vbill/voice.h"
#include "vbill/auth.h"
#include "vbill/hooks.h"
#include "vbill/chat.h"

#endif /* VBILL_H */
