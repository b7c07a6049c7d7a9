/*
 * test_bill.c: the bill made once from a record, its serialisation (bill.json) and reading it
 * back, through the public API.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vbill.h"

static vbill_ctx *ctx;
static char logbuf[8192];

static void capture_log(void *user, vbill_log_level level, const char *msg)
{
    (void)user, (void)level;
    strncat(logbuf, msg, sizeof logbuf - strlen(logbuf) - 2);
    strcat(logbuf, "\n");
}

static void setup(void)
{
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    logbuf[0] = '\0';
    vbill_ctx_set_log(ctx, capture_log, NULL, VBILL_LOG_DEBUG);
}

static void teardown(void) { vbill_ctx_free(ctx); }

static char *to_json(const vbill_bill *b)
{
    char *out = NULL;
    ck_assert_int_eq(vbill_bill_to_json(ctx, b, &out), VBILL_OK);
    return out;
}

static long long num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", k);
    return (long long)v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsString(v), "%s is not a string", k);
    return v->valuestring;
}

START_TEST(made_from_the_spec_example)
{
    vbill_bill *b = tu_bill(ctx, TU_SPEC_EXAMPLE);
    ck_assert_str_eq(vbill_bill_id(b), "S-000123");
    ck_assert_str_eq(vbill_bill_scenario(b), "mobile_new_bundle");
    ck_assert_str_eq(vbill_bill_locale(b), "ko-KR");
    ck_assert_str_eq(vbill_bill_cycle(b), "2026-11");
    ck_assert_str_eq(vbill_bill_cycle_start(b), "2026-11-01");
    ck_assert_int_eq(vbill_bill_senior(b), 1);
    ck_assert_double_eq_tol(vbill_bill_speed(b), 0.8, 1e-9);
    ck_assert_int_eq(vbill_bill_can_issue_link(b), 1);
    char *json = to_json(b);
    ck_assert_ptr_null(strstr(json, "1958"));
    ck_assert_ptr_null(strstr(json, "580314"));
    cJSON *j = cJSON_Parse(json);
    ck_assert_int_eq(num(j, "vbill_bill"), 1);
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "age"));
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "context"), "age"));
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "context"), "birth"));
    ck_assert_str_eq(str(j, "name_masked"), "김*수");
    const cJSON *a = cJSON_GetObjectItem(j, "amounts");
    ck_assert_int_eq(num(a, "this_month"), 60960);
    ck_assert_int_eq(num(a, "next_month"), 139000);
    ck_assert_int_eq(num(a, "bundle_prorated"), 6230);
    const cJSON *lines = cJSON_GetObjectItem(a, "lines");
    ck_assert_int_eq(num(cJSON_GetArrayItem(lines, 0), "prorated"), 36120);
    ck_assert_int_eq(num(cJSON_GetArrayItem(lines, 1), "prorated"), 23370);
    ck_assert_int_eq(num(cJSON_GetArrayItem(lines, 0), "days"), 17);
    const cJSON *p = cJSON_GetObjectItem(j, "period");
    ck_assert_str_eq(str(p, "start"), "2026-11-14");
    ck_assert_str_eq(str(p, "end"), "2026-11-30");
    ck_assert_str_eq(str(cJSON_GetObjectItem(j, "cycle"), "issue_date"), "2026-12-05");
    cJSON_Delete(j);
    vbill_free(json);
    vbill_bill_free(b);
}
END_TEST

/* Renders every default slot of the bill's scenario over its context. */
static char *slots_of(const vbill_bill *b)
{
    char *slots = NULL, *context = NULL;
    ck_assert_int_eq(vbill_default_slots(ctx, vbill_bill_scenario(b), vbill_bill_locale(b),
                                         &slots), VBILL_OK);
    ck_assert_int_eq(vbill_bill_context(ctx, b, &context), VBILL_OK);
    cJSON *s = cJSON_Parse(slots), *x;
    size_t cap = 1 << 16, len = 0;
    char *all = calloc(1, cap);
    cJSON_ArrayForEach(x, s)
    {
        char *text = NULL;
        size_t n = 0;
        ck_assert_int_eq(vbill_mustache_render(ctx, x->valuestring, strlen(x->valuestring),
                                               context, NULL, &text, &n), VBILL_OK);
        len += (size_t)snprintf(all + len, cap - len, "%s=%s\n", x->string, text);
        vbill_free(text);
    }
    cJSON_Delete(s);
    vbill_free(slots);
    vbill_free(context);
    return all;
}

START_TEST(read_back_is_the_same_bill)
{
    size_t n = 0;
    char *data = tu_slurp(tu_src("examples/data/subscribers.jsonl"), &n);
    int bills = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        vbill_bill *b = NULL;
        if (vbill_bill_new(ctx, line, strlen(line), 0, &b) != VBILL_OK)
            continue; /* the sample's invalid records */
        bills++;
        char *json = to_json(b), *again = NULL;
        vbill_bill *r = NULL;
        ck_assert_msg(vbill_bill_from_json(ctx, json, (size_t)-1, &r) == VBILL_OK, "%s: %s",
                      vbill_bill_id(b), vbill_ctx_errmsg(ctx));
        again = to_json(r);
        ck_assert_str_eq(json, again);
        ck_assert_str_eq(vbill_bill_id(r), vbill_bill_id(b));
        ck_assert_str_eq(vbill_bill_cycle(r), vbill_bill_cycle(b));
        ck_assert_int_eq(vbill_bill_senior(r), vbill_bill_senior(b));
        ck_assert_int_eq(vbill_bill_can_issue_link(r), 0);
        if (vbill_bill_scenario(b)) {
            ck_assert_str_eq(vbill_bill_scenario(r), vbill_bill_scenario(b));
            char *s1 = slots_of(b), *s2 = slots_of(r);
            ck_assert_str_eq(s1, s2);
            free(s1);
            free(s2);
        } else {
            ck_assert_ptr_null(vbill_bill_scenario(r));
        }
        vbill_free(json);
        vbill_free(again);
        vbill_bill_free(b);
        vbill_bill_free(r);
    }
    ck_assert_int_ge(bills, 25);
    free(data);
}
END_TEST

/* Replaces the first `from` in text (malloc'd). */
static char *edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "no '%s' to replace", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

START_TEST(the_birth_date_stays_out_under_any_name)
{
    char *r1 = edit(TU_SPEC_EXAMPLE, "\"phone\":",
                    "\"birthday\":\"1958-03-14\",\"memo\":\"born 1958.03.14\",\"x\":{\"y\":"
                    "[{\"Customer_Birth\":\"19580314\"}],\"z\":\"19580314\"},\"phone\":");
    vbill_bill *b = tu_bill(ctx, r1);
    char *json = to_json(b);
    ck_assert_ptr_null(strstr(json, "1958"));
    ck_assert_ptr_null(strstr(json, "irth"));
    /* what was left out is said, without the value */
    ck_assert_ptr_nonnull(strstr(logbuf, "birth date left out"));
    ck_assert_ptr_null(strstr(logbuf, "1958"));
    /* the phone and the other fields are kept */
    ck_assert_ptr_nonnull(strstr(json, "01012345678"));
    vbill_free(json);
    vbill_bill_free(b);
    free(r1);
    /* A subscriber id that spells the date (a carrier's numbering) stays: the bill is known by
     * it, and the bill reads back from its JSON (found by record_fuzzer). */
    char *r2 = edit(TU_SPEC_EXAMPLE, "\"id\":\"S-000123\"", "\"id\":\"S-19580314\"");
    b = tu_bill(ctx, r2);
    json = to_json(b);
    vbill_bill *back = NULL;
    ck_assert_int_eq(vbill_bill_from_json(ctx, json, (size_t)-1, &back), VBILL_OK);
    ck_assert_str_eq(vbill_bill_id(back), "S-19580314");
    vbill_bill_free(back);
    vbill_free(json);
    vbill_bill_free(b);
    free(r2);
}
END_TEST

static const char *const CASES[][3] = {
    /* from, to, the field the message must name */
    {"\"vbill_bill\":1", "\"vbill_bill\":2", "newer than this library"},
    {"\"vbill_bill\":1", "\"vbill_bill\":\"1\"", "vbill_bill"},
    {"\"id\":\"S-000123\"", "\"id\":\"S 1\"", "id:"},
    {"\"locale\":\"ko-KR\"", "\"locale\":\"fr-FR\"", "locale:"},
    {"\"currency\":\"KRW\"", "\"currency\":\"EUR\"", "currency:"},
    {"\"start\":\"2026-11-01\"", "\"start\":\"2026-02-30\"", "cycle.start"},
    {"\"end\":\"2026-11-30\"", "\"end\":\"2026-12-30\"", "cycle:"},
    {"\"start\":\"2026-11-14\"", "\"start\":\"2026-10-14\"", "period:"},
    {"\"speed\":0.8", "\"speed\":2", "speed:"},
    {"\"senior\":true", "\"senior\":1", "senior:"},
    {"\"days\":17", "\"days\":40", "amounts.lines[0].days"},
    {"\"this_month\":60960", "\"this_month\":-1", "amounts.this_month"},
    {"\"this_month\":60960", "\"this_month\":1.5", "amounts.this_month"},
    {"\"scenario\":\"mobile_new_bundle\"", "\"scenario\":\"..\"", "scenario:"},
    {"\"context\":{\"id\":\"S-000123\"", "\"context\":{\"id\":\"S-000999\"", "context.id"},
    {"\"name_masked\":", "\"nested\":{\"a\":[{\"birth\":\"x\"}]},\"name_masked\":",
     "nested.a[0].birth: a bill never holds a birth date"},
    {"\"flags\":[]", "\"flags\":[1]", "flags:"},
};

START_TEST(read_back_checks_like_a_record)
{
    vbill_bill *b = tu_bill(ctx, TU_SPEC_EXAMPLE);
    char *json = to_json(b);
    vbill_bill_free(b);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char *bad = edit(json, CASES[i][0], CASES[i][1]);
        vbill_bill *r = (vbill_bill *)1;
        vbill_status st = vbill_bill_from_json(ctx, bad, (size_t)-1, &r);
        ck_assert_msg(st == VBILL_ERR_RECORD, "case %zu: status %d", i, st);
        ck_assert_ptr_null(r);
        const char *m = vbill_ctx_errmsg(ctx);
        ck_assert_msg(strstr(m, CASES[i][2]) != NULL, "case %zu: '%s'", i, m);
        ck_assert_msg(strncmp(m, "bill", 4) == 0, "case %zu: '%s'", i, m);
        free(bad);
    }
    /* not JSON, not UTF-8, too deep, too large, the wrong type */
    vbill_bill *r = NULL;
    ck_assert_int_eq(vbill_bill_from_json(ctx, "{\"vbill_bill\":", (size_t)-1, &r), VBILL_ERR_JSON);
    ck_assert_int_eq(vbill_bill_from_json(ctx, "{\"vbill_bill\":1,\"id\":\"\xff\"}", (size_t)-1,
                                          &r), VBILL_ERR_RECORD);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "UTF-8"));
    char deep[2048] = "";
    for (int i = 0; i < 200; i++)
        strcat(deep, "[");
    for (int i = 0; i < 200; i++)
        strcat(deep, "]");
    ck_assert_int_eq(vbill_bill_from_json(ctx, deep, (size_t)-1, &r), VBILL_ERR_RECORD);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "nested"));
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = '\0';
    ck_assert_int_eq(vbill_bill_from_json(ctx, huge, big, &r), VBILL_ERR_RECORD);
    free(huge);
    ck_assert_int_eq(vbill_bill_from_json(ctx, "[]", 2, &r), VBILL_ERR_RECORD);
    ck_assert_int_eq(vbill_bill_from_json(ctx, NULL, 0, &r), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_bill_from_json(ctx, "{}", 2, NULL), VBILL_ERR_ARG);
    /* a success clears the message */
    ck_assert_int_eq(vbill_bill_from_json(ctx, json, (size_t)-1, &r), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_bill_free(r);
    vbill_free(json);
}
END_TEST

START_TEST(a_record_that_makes_no_bill_says_why)
{
    vbill_bill *b = (vbill_bill *)1;
    ck_assert_int_eq(vbill_bill_new(ctx, "{\"id\":\"x\"}", (size_t)-1, 4, &b), VBILL_ERR_RECORD);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "record 'x' (line 4)"));
    /* a record of no scenario still makes a bill */
    char *none = edit(TU_SPEC_EXAMPLE, "\"event\":\"new\"", "\"event\":\"none\"");
    char *none2 = edit(none, "\"event\":\"new\"", "\"event\":\"none\"");
    b = tu_bill(ctx, none2);
    ck_assert_ptr_null(vbill_bill_scenario(b));
    vbill_bill_free(b);
    free(none);
    free(none2);
    ck_assert_ptr_null(vbill_bill_id(NULL));
    ck_assert_int_eq(vbill_bill_can_issue_link(NULL), 0);
    vbill_bill_free(NULL);
}
END_TEST

/* ---- one bill, many threads ---- */

typedef struct worker {
    const vbill_bill *bill;
    char *sms;
    int ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    vbill_ctx *c = NULL;
    if (vbill_ctx_new(&c) != VBILL_OK)
        return NULL;
    w->ok = 1;
    for (int i = 0; i < 200 && w->ok; i++) {
        char *sms = NULL, *context = NULL;
        if (vbill_message_build(c, w->bill, "https://b.example/v/x", NULL, &sms) != VBILL_OK ||
            vbill_bill_context(c, w->bill, &context) != VBILL_OK)
            w->ok = 0;
        if (w->sms && sms && strcmp(w->sms, sms) != 0)
            w->ok = 0;
        if (!w->sms)
            w->sms = sms;
        else
            vbill_free(sms);
        vbill_free(context);
    }
    vbill_ctx_free(c);
    return NULL;
}

START_TEST(one_bill_is_shared_by_threads)
{
    vbill_bill *b = tu_bill(ctx, TU_SPEC_EXAMPLE);
    pthread_t th[4];
    worker w[4];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 4; i++) {
        w[i].bill = b;
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(w[i].ok, 1);
        ck_assert_str_eq(w[i].sms, w[0].sms);
    }
    ck_assert_ptr_nonnull(strstr(w[0].sms, "https://b.example/v/x"));
    for (int i = 0; i < 4; i++)
        vbill_free(w[i].sms);
    vbill_bill_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bill");
    TCase *tc = tcase_create("bill");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, made_from_the_spec_example);
    tcase_add_test(tc, read_back_is_the_same_bill);
    tcase_add_test(tc, the_birth_date_stays_out_under_any_name);
    tcase_add_test(tc, read_back_checks_like_a_record);
    tcase_add_test(tc, a_record_that_makes_no_bill_says_why);
    tcase_add_test(tc, one_bill_is_shared_by_threads);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
