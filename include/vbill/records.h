/*
 * vbill/records.h: subscriber records, classification rules, filling, and the bill.
 * Included by vbill.h; see vbill.h for the conventions every function follows.
 *
 * A record is one subscriber JSON object (SPEC.md section 2).  `line` is the record's line
 * number in its input (1-based, 0 when unknown); error messages name the record by its id,
 * or by that line number when there is no usable id, then the field and the problem.  They
 * never quote a birth date.
 */
#ifndef VBILL_RECORDS_H
#define VBILL_RECORDS_H

#include "vbill/common.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * A scenario id is 1 to 63 characters of A-Z a-z 0-9 _ - . starting with a letter or digit
 * (it names a folder of templates).  senior_age and senior_speed are optional.
 * ------------------------------------------------------------------------------------- */

/* Replaces the context's rule set with the one in json (len bytes; len may be
 * (size_t)-1 for a NUL-terminated string).  On VBILL_ERR_RULES / VBILL_ERR_JSON the
 * message names the position of the fault and the context keeps its previous rules. */
VBILL_API VBILL_NODISCARD vbill_status vbill_ctx_set_rules(vbill_ctx *ctx, const char *json,
                                                           size_t len);

/* Same, reading the rule set from a file. */
VBILL_API VBILL_NODISCARD vbill_status vbill_ctx_load_rules(vbill_ctx *ctx, const char *path);

/* The built-in rule set, as JSON (static storage). */
VBILL_API const char *vbill_default_rules(void);

/* Age from which a customer is senior (default 60) and their playback speed (default 0.8,
 * from 0.25 to 1.0). */
VBILL_API VBILL_NODISCARD vbill_status vbill_ctx_set_senior(vbill_ctx *ctx, int age,
                                                            double speed);

/* ---------------------------------------------------------------------------------------
 * Records in, JSON out: the one-call conveniences of `vbill classify` and `vbill fill`
 * ------------------------------------------------------------------------------------- */

/* Validates and classifies one record.  On success *out_json is
 *   {"id","scenario" (string or null),"age","senior","speed","flags":[...]}
 * Flags: "total_mismatch" when bill.total differs from the computed this_month.
 * Errors: VBILL_ERR_RECORD for any record that breaks a rule, malformed JSON included (the
 * message names the record, its line, the field and the problem); VBILL_ERR_OVERFLOW when
 * an amount would overflow 64-bit arithmetic; VBILL_ERR_ARG, VBILL_ERR_NOMEM. */
VBILL_API VBILL_NODISCARD vbill_status vbill_classify(vbill_ctx *ctx, const char *record_json,
                                                      size_t len, long line, char **out_json);

/* Validates, classifies and fills one record.  On success *out_json is the classify
 * object plus "period":{"start","end"}, "amounts":{"this_month","next_month",
 * "bundle_prorated","lines":[{"id","days","prorated","next_month"}]} and "slots":{...}, the
 * slot texts of the record's scenario rendered in its locale ({} for no scenario). */
VBILL_API VBILL_NODISCARD vbill_status vbill_fill(vbill_ctx *ctx, const char *record_json,
                                                  size_t len, long line, char **out_json);

/* The default slot templates of a scenario in a locale, as a JSON object
 * {"slot name": "mustache text", ...}.  A scenario id that is not one of the seven built-in
 * ones (a carrier's own) gets the slots every bill has: greeting, period, this_month,
 * next_month, payment.  locale NULL means "ko-KR". */
VBILL_API VBILL_NODISCARD vbill_status vbill_default_slots(vbill_ctx *ctx, const char *scenario,
                                                           const char *locale, char **out_json);

/* ---------------------------------------------------------------------------------------
 * The bill
 *
 * A vbill_bill is made once from a record (validated, classified, filled) and is immutable:
 * any number of threads may use one bill at once.  Every later stage takes it: rendering
 * (vbill/video.h), links and SMS (vbill/auth.h), event data (vbill/hooks.h), chat
 * (vbill/chat.h).  It keeps what those stages need and nothing else.  The birth date is kept
 * only in memory, only in a bill made from a record, and only for issuing its link; it is
 * in no result, message or serialisation.
 *
 * The serialised bill (bill.json, what `vbill batch` stores and `vbill serve` reads) is a
 * JSON object, schema version 1:
 *   {"vbill_bill": 1,
 *    "id": "S-000123",                       the subscriber id (SPEC.md section 2 rule)
 *    "scenario": "mobile_new_bundle",        or null: no video bill this cycle
 *    "locale": "ko-KR", "currency": "KRW",
 *    "cycle": {"start": "2026-11-01", "end": "2026-11-30", "issue_date": "2026-12-05"},
 *    "period": {"start": "2026-11-14", "end": "2026-11-30"},
 *    "senior": true, "speed": 0.8,           the playback speed the bill is watched at
 *    "flags": ["total_mismatch"],            as vbill_classify
 *    "amounts": {"this_month": 60960, "next_month": 139000, "bundle_prorated": 6230,
 *                "lines": [{"id": "L1", "days": 17, "prorated": 36120, "next_month": 108750}]},
 *    "name_masked": "김*수",
 *    "context": {...}}                       the fill context (below): every template renders
 *                                            over it; the lines, bundle, payment, benefits
 *                                            and their formatted texts are in it
 * Money is in integer minor units.  The age is not stored (with the issue date it would
 * narrow the birth date to two years); only the senior flag and the speed.  A reader
 * refuses a newer schema version, and refuses any member named "birth" anywhere.
 *
 * The fill context: the record's fields (never the birth date), the computed values of
 * SPEC.md section 4 (cycle_days, period_start, period_end, period_days, this_month,
 * next_month, per line days/prorated/next_month/net, bundle days/prorated) and the locale's
 * formatted strings (name_masked, period_text, this_month_text, next_month_text,
 * payment_text, per line prorated_text/next_month_text/kind_text, bundle prorated_text,
 * benefits_text, has_payment/has_bundle/has_device/has_benefits, first/last markers).
 * ------------------------------------------------------------------------------------- */

typedef struct vbill_bill vbill_bill;

/* Makes the bill of one record (len may be (size_t)-1 for a NUL-terminated string).  A
 * record that matches no scenario still makes a bill (scenario NULL); rendering it says
 * VBILL_ERR_NOT_TARGET.  Errors: as vbill_fill. */
VBILL_API VBILL_NODISCARD vbill_status vbill_bill_new(vbill_ctx *ctx, const char *record_json,
                                                      size_t len, long line, vbill_bill **out);

/* Reads a serialised bill (bill.json).  It is checked like a record: VBILL_ERR_RECORD with
 * a message naming the bill and the field ("bill 'S-1': amounts.lines[0].days: must be an
 * integer from 0 to 31"), VBILL_ERR_JSON for text that is not JSON.  Such a bill can do
 * everything a bill made from its record can, except issue a first link
 * (VBILL_ERR_UNSUPPORTED): it holds no birth date. */
VBILL_API VBILL_NODISCARD vbill_status vbill_bill_from_json(vbill_ctx *ctx, const char *json,
                                                            size_t len, vbill_bill **out);

/* The serialised bill (schema above), compact JSON.  Free with vbill_free. */
VBILL_API VBILL_NODISCARD vbill_status vbill_bill_to_json(vbill_ctx *ctx, const vbill_bill *bill,
                                                          char **out_json);

/* The bill's fill context as JSON (the "context" member of the serialised bill). */
VBILL_API VBILL_NODISCARD vbill_status vbill_bill_context(vbill_ctx *ctx, const vbill_bill *bill,
                                                          char **out_json);

/* The subscriber id; the scenario id (NULL when none); the locale ("ko-KR", "ja-JP",
 * "en-US"); the cycle's first day "YYYY-MM-DD" and month "YYYY-MM" (the bill store's folder).
 * Owned by the bill; NULL for a NULL bill. */
VBILL_API const char *vbill_bill_id(const vbill_bill *bill);
VBILL_API const char *vbill_bill_scenario(const vbill_bill *bill);
VBILL_API const char *vbill_bill_locale(const vbill_bill *bill);
VBILL_API const char *vbill_bill_cycle_start(const vbill_bill *bill);
VBILL_API const char *vbill_bill_cycle(const vbill_bill *bill);
/* 1 for a senior customer; the playback speed for automatic renders (1.0 or the senior
 * speed); 1 when the bill holds the birth date (made from a record) and can issue a link. */
VBILL_API int vbill_bill_senior(const vbill_bill *bill);
VBILL_API double vbill_bill_speed(const vbill_bill *bill);
VBILL_API int vbill_bill_can_issue_link(const vbill_bill *bill);

/* Releases a bill (wiping the birth date it held).  Accepts NULL. */
VBILL_API void vbill_bill_free(vbill_bill *bill);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_RECORDS_H */
