/*
 * vbill/chat.h: answers to a customer's questions about their bill, and escalation.
 * Included by vbill.h; see vbill.h for the conventions every function follows.
 */
#ifndef VBILL_CHAT_H
#define VBILL_CHAT_H

#include "vbill/common.h"
#include "vbill/records.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Chat: answers a customer's question from the bill's own values and a carrier FAQ, or
 * says to escalate, for a bill (its fill context gives the values).  faq_json (may be NULL: built-in entries only) is
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
VBILL_API VBILL_NODISCARD vbill_status vbill_chat_answer(vbill_ctx *ctx, const vbill_bill *bill,
                                         const char *question, const char *faq_json,
                                         double position_s, int64_t now, char **answer_json);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_CHAT_H */
