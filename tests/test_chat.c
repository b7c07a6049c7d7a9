/* test_chat.c: vbill_chat_answer: answers from the bill's own values, escalation, hours. */
#include "config.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "vbill.h"
#include "testutil.h"

static vbill_ctx *ctx;
static void setup(void) { ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK); }
static void teardown(void) { vbill_ctx_free(ctx); }

#define RECORD(LOCALE, CUR)                                                                       \
    "{\"id\":\"S-000123\",\"name\":\"Kim Minsu\",\"birth\":\"1958-03-14\",\"locale\":\"" LOCALE   \
    "\",\"currency\":\"" CUR "\",\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":"       \
    "\"2026-11-01\",\"cycle_end\":\"2026-11-30\",\"rounding_unit\":10,\"other_charges\":"        \
    "[{\"name\":\"USIM\",\"amount\":7700}]},\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\","      \
    "\"product\":\"5G\",\"event\":\"new\",\"start\":\"2026-11-14\",\"monthly_fee\":85000,"        \
    "\"discounts\":[{\"name\":\"d\",\"amount\":21250}],\"device\":{\"model\":\"S26\","            \
    "\"installment_monthly\":45000,\"months_left\":24}},{\"id\":\"L2\",\"kind\":\"mobile\","     \
    "\"product\":\"5G lite\",\"event\":\"new\",\"start\":\"2026-11-14\",\"monthly_fee\":55000,"  \
    "\"discounts\":[{\"name\":\"d\",\"amount\":13750}]}],\"bundle\":{\"name\":\"Family\","        \
    "\"discount\":11000,\"start\":\"2026-11-14\"},\"payment\":{\"method\":\"card\","              \
    "\"institution\":\"Shinhan\",\"account_last4\":\"1234\",\"day\":25}}"

/* 2026-12-07 (a Monday) 03:00 UTC = 12:00 in Seoul; 12:00 UTC = 21:00 in Seoul */
#define NOON_SEOUL 1796612400LL
#define NIGHT_SEOUL (NOON_SEOUL + 9 * 3600)

/* vbill_chat_answer on the bill of a record (or of a serialised bill). */
static vbill_status chat(const char *json, const char *q, const char *faq, double position,
                         int64_t now, char **out)
{
    vbill_bill *bill = NULL;
    vbill_status st = VBILL_OK;
    if (json && strstr(json, "\"vbill_bill\""))
        st = vbill_bill_from_json(ctx, json, (size_t)-1, &bill);
    else if (json)
        st = vbill_bill_new(ctx, json, (size_t)-1, 0, &bill);
    if (st == VBILL_OK)
        st = vbill_chat_answer(ctx, bill, q, faq, position, now, out);
    vbill_bill_free(bill);
    return st;
}

static cJSON *ask(const char *record, const char *q, const char *faq, int64_t now)
{
    char *out = NULL;
    vbill_status st = chat(record, q, faq, 42.5, now, &out);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    cJSON *j = cJSON_Parse(out);
    ck_assert_ptr_nonnull(j);
    ck_assert_ptr_null(strstr(out, "1958"));
    vbill_free(out);
    return j;
}

static const char *s(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    ck_assert_msg(cJSON_IsString(v), "no string %s", k);
    return v->valuestring;
}

START_TEST(korean_why_lower_explains_proration)
{
    cJSON *a = ask(RECORD("ko-KR", "KRW"), "왜 이번 달 요금이 다음 달보다 적어요?", NULL,
                   NOON_SEOUL);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "answered")));
    ck_assert_str_eq(s(a, "faq"), "prorated");
    const char *t = s(a, "answer");
    ck_assert_msg(strstr(t, "60,960원") && strstr(t, "139,000원") && strstr(t, "11월 14일") &&
                  strstr(t, "17일"), "%s", t);
    cJSON_Delete(a);
}
END_TEST

START_TEST(english_why_lower_explains_proration)
{
    cJSON *a = ask(RECORD("en-US", "USD"), "Why is this month lower than next month?", NULL,
                   NOON_SEOUL);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "answered")));
    const char *t = s(a, "answer");
    ck_assert_msg(strstr(t, "$609.60") && strstr(t, "$1,390.00") && strstr(t, "Nov 14") &&
                  strstr(t, "pro-rated"), "%s", t);
    cJSON_Delete(a);
    a = ask(RECORD("en-US", "USD"), "how do I pay?", NULL, NOON_SEOUL);
    ck_assert_str_eq(s(a, "faq"), "payment");
    ck_assert_ptr_nonnull(strstr(s(a, "answer"), "1234"));
    cJSON_Delete(a);
}
END_TEST

START_TEST(asking_for_a_person_escalates_by_hours)
{
    cJSON *a = ask(RECORD("ko-KR", "KRW"), "상담원 연결해 주세요", NULL, NOON_SEOUL);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(a, "answered")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "escalate")));
    ck_assert_str_eq(s(a, "reason"), "asked for a person");
    ck_assert_str_eq(s(a, "priority"), "high"); /* mobile_new_bundle */
    ck_assert_str_eq(s(a, "mode"), "chat");
    cJSON *ev = cJSON_GetObjectItem(a, "event");
    ck_assert_str_eq(s(ev, "type"), "chat.requested");
    cJSON *d = cJSON_GetObjectItem(ev, "data");
    ck_assert_str_eq(s(d, "subscriber_id"), "S-000123");
    ck_assert_str_eq(s(d, "question"), "상담원 연결해 주세요");
    ck_assert_double_eq(cJSON_GetObjectItem(d, "position")->valuedouble, 42.5);
    ck_assert_str_eq(s(d, "scenario"), "mobile_new_bundle");
    ck_assert_ptr_null(cJSON_GetObjectItem(d, "birth"));
    cJSON_Delete(a);
    a = ask(RECORD("ko-KR", "KRW"), "상담원 연결해 주세요", NULL, NIGHT_SEOUL);
    ck_assert_str_eq(s(a, "mode"), "callback");
    ck_assert_ptr_nonnull(strstr(s(a, "reply"), "10:00"));
    cJSON_Delete(a);
    /* the same instant is inside UTC hours */
    a = ask(RECORD("en-US", "USD"), "I want to talk to a person",
            "{\"hours\":{\"open\":\"09:00\",\"close\":\"18:00\",\"tz\":\"+00:00\"}}", NIGHT_SEOUL);
    ck_assert_str_eq(s(a, "mode"), "chat");
    cJSON_Delete(a);
}
END_TEST

START_TEST(unknown_questions_escalate_with_scenario_priority)
{
    cJSON *a = ask(RECORD("ko-KR", "KRW"), "로밍은 어떻게 해요?",
                   "{\"priority\":{\"mobile_new_bundle\":\"urgent\"}}", NIGHT_SEOUL);
    ck_assert_str_eq(s(a, "reason"), "no answer");
    ck_assert_str_eq(s(a, "priority"), "urgent");
    ck_assert_str_eq(s(a, "mode"), "callback");
    cJSON_Delete(a);
}
END_TEST

START_TEST(carrier_faq_comes_first)
{
    const char *faq = "{\"entries\":[{\"id\":\"roaming\",\"match\":[[\"로밍\"],[\"roaming\"]],"
                      "\"answer\":{\"ko-KR\":\"{{name_masked}}님, 로밍은 앱에서 신청하세요.\","
                      "\"en-US\":\"Roaming: use the app.\"}},"
                      "{\"id\":\"mine\",\"match\":[[\"다음 달\"]],\"answer\":\"custom {{next_month}}\"}]}";
    cJSON *a = ask(RECORD("ko-KR", "KRW"), "로밍 어떻게 해요", faq, NOON_SEOUL);
    ck_assert_str_eq(s(a, "faq"), "roaming");
    ck_assert_ptr_nonnull(strstr(s(a, "answer"), "로밍은 앱에서"));
    cJSON_Delete(a);
    a = ask(RECORD("ko-KR", "KRW"), "다음 달 요금은?", faq, NOON_SEOUL);
    ck_assert_str_eq(s(a, "answer"), "custom 139000");
    cJSON_Delete(a);
}
END_TEST

START_TEST(time_zones_and_errors)
{
    char *out = NULL;
    /* New York in December is UTC-5: 12:00 UTC is 07:00 there, before opening */
    cJSON *a = ask(RECORD("en-US", "USD"), "agent please",
                   "{\"hours\":{\"tz\":\"America/New_York\"}}", NIGHT_SEOUL);
    ck_assert_str_eq(s(a, "mode"), "callback");
    cJSON_Delete(a);
    a = ask(RECORD("en-US", "USD"), "agent please",
            "{\"hours\":{\"tz\":\"America/New_York\",\"open\":\"06:00\"}}", NIGHT_SEOUL);
    ck_assert_str_eq(s(a, "mode"), "chat");
    cJSON_Delete(a);
    ck_assert_int_eq(chat(RECORD("ko-KR", "KRW"), "agent",
                                       "{\"hours\":{\"tz\":\"Mars/Olympus\"}}", -1, 0, &out),
                     VBILL_ERR_JSON);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "Mars/Olympus"));
    ck_assert_int_eq(chat(RECORD("ko-KR", "KRW"), "agent",
                                       "{\"hours\":{\"tz\":\"../../etc/passwd\"}}", -1, 0, &out),
                     VBILL_ERR_JSON);
    ck_assert_int_eq(chat(RECORD("ko-KR", "KRW"), "agent",
                                       "{\"hours\":{\"open\":\"25:00\"}}", -1, 0, &out),
                     VBILL_ERR_JSON);
    ck_assert_int_eq(chat(RECORD("ko-KR", "KRW"), "q", "[", -1, 0, &out),
                     VBILL_ERR_JSON);
    ck_assert_int_eq(chat("{\"id\":\"x\"}", "q", NULL, -1, 0, &out),
                     VBILL_ERR_RECORD);
    ck_assert_int_eq(chat(NULL, "q", NULL, -1, 0, &out), VBILL_ERR_ARG);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(a_bill_read_back_answers_the_same)
{
    char *json = NULL;
    vbill_bill *bill = tu_bill(ctx, RECORD("ja-JP", "JPY"));
    ck_assert_int_eq(vbill_bill_to_json(ctx, bill, &json), VBILL_OK);
    vbill_bill_free(bill);
    cJSON *a = ask(json, "なぜ今月は来月より安いの？", NULL, NOON_SEOUL);
    cJSON *b = ask(RECORD("ja-JP", "JPY"), "なぜ今月は来月より安いの？", NULL, NOON_SEOUL);
    ck_assert_str_eq(s(a, "faq"), "prorated");
    ck_assert_ptr_nonnull(strstr(s(a, "answer"), "60,960円"));
    ck_assert_str_eq(s(a, "answer"), s(b, "answer"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    vbill_free(json);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("chat");
    TCase *tc = tcase_create("chat");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, korean_why_lower_explains_proration);
    tcase_add_test(tc, english_why_lower_explains_proration);
    tcase_add_test(tc, asking_for_a_person_escalates_by_hours);
    tcase_add_test(tc, unknown_questions_escalate_with_scenario_priority);
    tcase_add_test(tc, carrier_faq_comes_first);
    tcase_add_test(tc, time_zones_and_errors);
    tcase_add_test(tc, a_bill_read_back_answers_the_same);
    suite_add_tcase(su, tc);
    return tu_run(su);
}
