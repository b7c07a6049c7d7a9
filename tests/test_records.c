/*
 * test_records.c: records, classification and filling through the public API
 * (vbill_classify, vbill_fill, tu_fill_context, rule sets).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vbill.h"

static const char *const EXAMPLE = TU_SPEC_EXAMPLE;

static vbill_ctx *ctx;

static void setup(void) { ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK); }
static void teardown(void) { vbill_ctx_free(ctx); }

/* Runs fn on a record and parses the JSON result; NULL when the call failed. */
static cJSON *call(vbill_status (*fn)(vbill_ctx *, const char *, size_t, long, char **),
                   const char *rec, vbill_status *st)
{
    char *out = NULL;
    *st = fn(ctx, rec, strlen(rec), 7, &out);
    if (*st != VBILL_OK) {
        ck_assert_ptr_null(out);
        return NULL;
    }
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j != NULL, "result is not JSON: %s", out);
    vbill_free(out);
    return j;
}

static long long num(const cJSON *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *v = obj;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, ".")) {
        if (*tok >= '0' && *tok <= '9')
            v = cJSON_GetArrayItem(v, atoi(tok));
        else
            v = cJSON_GetObjectItemCaseSensitive(v, tok);
        ck_assert_msg(v != NULL, "no %s in result", path);
    }
    ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", path);
    return (long long)v->valuedouble;
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

/* Replaces the first occurrence of `from` in EXAMPLE-like text. */
static char *edit(const char *rec, const char *from, const char *to)
{
    const char *at = strstr(rec, from);
    ck_assert_msg(at != NULL, "'%s' not in record", from);
    size_t n = strlen(rec) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - rec), rec, to, at + strlen(from));
    return out;
}

START_TEST(worked_example)
{
    vbill_status st;
    cJSON *j = call(vbill_fill, EXAMPLE, &st);
    ck_assert_int_eq(st, VBILL_OK);
    ck_assert_str_eq(str(j, "scenario"), "mobile_new_bundle");
    ck_assert_int_eq(num(j, "age"), 68);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "senior")));
    ck_assert_double_eq_tol(cJSON_GetObjectItem(j, "speed")->valuedouble, 0.8, 1e-9);
    ck_assert_int_eq(num(j, "amounts.lines.0.prorated"), 36120);
    ck_assert_int_eq(num(j, "amounts.lines.1.prorated"), 23370);
    ck_assert_int_eq(num(j, "amounts.lines.0.days"), 17);
    ck_assert_int_eq(num(j, "amounts.bundle_prorated"), 6230);
    ck_assert_int_eq(num(j, "amounts.this_month"), 60960);
    ck_assert_int_eq(num(j, "amounts.next_month"), 139000);
    const cJSON *period = cJSON_GetObjectItem(j, "period");
    ck_assert_str_eq(str(period, "start"), "2026-11-14");
    ck_assert_str_eq(str(period, "end"), "2026-11-30");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "flags")), 0);
    const cJSON *slots = cJSON_GetObjectItem(j, "slots");
    ck_assert_str_eq(str(slots, "this_month"), "이번 달 청구 금액 60,960원");
    ck_assert_str_eq(str(slots, "period"), "이용 기간 11월 14일 ~ 11월 30일 (17일)");
    cJSON_Delete(j);
}
END_TEST

START_TEST(a_success_clears_the_message)
{
    /* every call on a context starts by clearing the message of the one before */
    char *out = NULL;
    ck_assert_int_eq(vbill_fill(ctx, "{}", 2, 1, &out), VBILL_ERR_RECORD);
    ck_assert_str_ne(vbill_ctx_errmsg(ctx), "");
    ck_assert_int_eq(vbill_classify(ctx, EXAMPLE, strlen(EXAMPLE), 1, &out), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_free(out);
    ck_assert_int_eq(vbill_ctx_set_rules(ctx, "[", 1), VBILL_ERR_JSON);
    ck_assert_int_eq(vbill_fill(ctx, EXAMPLE, strlen(EXAMPLE), 1, &out), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_free(out);
    ck_assert_int_eq(vbill_ctx_set_senior(ctx, -1, 0.8), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_default_slots(ctx, "home_new", "ko-KR", &out), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_free(out);
    ck_assert_int_eq(vbill_ctx_set_senior(ctx, -1, 0.8), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_ctx_set_rules(ctx, vbill_default_rules(), (size_t)-1), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
}
END_TEST

START_TEST(context_has_formatted_values_and_no_birth)
{
    char *out = NULL;
    ck_assert_int_eq(tu_fill_context(ctx, EXAMPLE, strlen(EXAMPLE), 1, &out), VBILL_OK);
    ck_assert_ptr_null(strstr(out, "1958"));
    ck_assert_ptr_null(strstr(out, "580314"));
    cJSON *j = cJSON_Parse(out);
    ck_assert_str_eq(str(j, "name_masked"), "김*수");
    ck_assert_str_eq(str(j, "period_text"), "11월 14일 ~ 11월 30일");
    ck_assert_str_eq(str(j, "this_month_text"), "60,960원");
    ck_assert_str_eq(str(j, "next_month_text"), "139,000원");
    ck_assert_str_eq(str(j, "payment_text"), "신한카드 ****1234 (매월 25일)");
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "birth"));
    cJSON_Delete(j);
    vbill_free(out);
}
END_TEST

START_TEST(english_and_japanese_formats)
{
    char *en = edit(EXAMPLE, "\"locale\":\"ko-KR\",\"currency\":\"KRW\"",
                    "\"locale\":\"en-US\",\"currency\":\"USD\"");
    char *en2 = edit(en, "\"name\":\"김민수\"", "\"name\":\"John Smith\"");
    char *out = NULL;
    ck_assert_int_eq(tu_fill_context(ctx, en2, strlen(en2), 1, &out), VBILL_OK);
    cJSON *j = cJSON_Parse(out);
    ck_assert_str_eq(str(j, "name_masked"), "J*** S****");
    ck_assert_str_eq(str(j, "period_text"), "Nov 14 – Nov 30");
    ck_assert_str_eq(str(j, "this_month_text"), "$609.60");
    ck_assert_str_eq(str(j, "next_month_text"), "$1,390.00");
    ck_assert_str_eq(str(j, "payment_text"), "Card ****1234 (25th of each month)");
    cJSON_Delete(j);
    vbill_free(out);
    char *enk = edit(EXAMPLE, "\"locale\":\"ko-KR\"", "\"locale\":\"en-US\"");
    ck_assert_int_eq(tu_fill_context(ctx, enk, strlen(enk), 1, &out), VBILL_OK);
    j = cJSON_Parse(out);
    ck_assert_str_eq(str(j, "this_month_text"), "KRW 60,960");
    cJSON_Delete(j);
    vbill_free(out);
    char *ja = edit(EXAMPLE, "\"locale\":\"ko-KR\",\"currency\":\"KRW\"",
                    "\"locale\":\"ja-JP\",\"currency\":\"JPY\"");
    ck_assert_int_eq(tu_fill_context(ctx, ja, strlen(ja), 1, &out), VBILL_OK);
    j = cJSON_Parse(out);
    ck_assert_str_eq(str(j, "this_month_text"), "60,960円");
    ck_assert_str_eq(str(j, "period_text"), "11月14日～11月30日");
    cJSON_Delete(j);
    vbill_free(out);
    free(en);
    free(en2);
    free(enk);
    free(ja);
}
END_TEST

START_TEST(rejections_name_record_and_field)
{
    static const struct {
        const char *from, *to, *field;
    } cases[] = {
        {"\"birth\":\"1958-03-14\"", "\"birth\":\"1958-02-29\"", "birth"},
        {"\"cycle_end\":\"2026-11-30\"", "\"cycle_end\":\"2026-12-02\"", "bill.cycle_end"},
        {"\"monthly_fee\":55000", "\"monthly_fee\":-1", "lines[1].monthly_fee"},
        {"\"amount\":13750", "\"amount\":60000", "lines[1].discounts"},
        {"\"event\":\"new\",\"start\":\"2026-11-14\",\"monthly_fee\":55000",
         "\"event\":\"new\",\"monthly_fee\":55000", "lines[1].start"},
        {"\"kind\":\"mobile\"", "\"kind\":\"fax\"", "lines[0].kind"},
        {"\"discount\":11000", "\"discount\":\"x\"", "bundle.discount"},
        {"\"method\":\"card\"", "\"method\":\"cash\"", "payment.method"},
        {"\"name\":\"김민수\"", "\"name\":\"김\\u0001수\"", "name"},
        {"\"locale\":\"ko-KR\"", "\"locale\":\"ko\"", "locale"},
        /* 65 bytes: the bill (bill.json) holds line ids of at most 64 */
        {"\"id\":\"L1\"", "\"id\":\"L1234567890123456789012345678901234567890123456789012345678901234\"",
         "lines[0].id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *rec = edit(EXAMPLE, cases[i].from, cases[i].to);
        vbill_status st;
        cJSON *j = call(vbill_fill, rec, &st);
        ck_assert_msg(j == NULL && st == VBILL_ERR_RECORD, "case %zu accepted", i);
        const char *msg = vbill_ctx_errmsg(ctx);
        ck_assert_msg(strstr(msg, "S-000123") != NULL, "no record id in '%s'", msg);
        ck_assert_msg(strstr(msg, cases[i].field) != NULL, "no field %s in '%s'", cases[i].field,
                      msg);
        free(rec);
    }
    /* Without a usable id the line number names the record. */
    vbill_status st;
    ck_assert_ptr_null(call(vbill_classify, "{\"id\":\"\"}", &st));
    ck_assert_int_eq(st, VBILL_ERR_RECORD);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "line 7"));
    ck_assert_ptr_null(call(vbill_classify, "{\"id\":\"A\",", &st));
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "line 7"));
    ck_assert_ptr_null(call(vbill_classify, "{\"id\":\"A\",\"name\":\"\xff\"}", &st));
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "UTF-8"));
}
END_TEST

START_TEST(age_on_leap_birthdays)
{
    /* A 29 February birthday counts from 1 March in common years. */
    static const struct {
        const char *birth, *issue;
        int age;
    } cases[] = {
        {"1966-02-28", "2026-02-28", 60}, {"1966-03-01", "2026-02-28", 59},
        {"1964-02-29", "2025-02-28", 60}, {"1964-02-29", "2025-03-01", 61},
        {"1964-02-29", "2024-02-29", 60}, {"1964-02-29", "2024-02-28", 59},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rec[512];
        snprintf(rec, sizeof rec,
                 "{\"id\":\"A\",\"name\":\"B\",\"birth\":\"%s\",\"bill\":{\"issue_date\":\"%s\","
                 "\"cycle_start\":\"2020-01-01\",\"cycle_end\":\"2020-01-31\"},\"lines\":[{"
                 "\"kind\":\"home\",\"event\":\"none\",\"monthly_fee\":1}]}",
                 cases[i].birth, cases[i].issue);
        vbill_status st;
        cJSON *j = call(vbill_classify, rec, &st);
        ck_assert_msg(j != NULL, "%s", vbill_ctx_errmsg(ctx));
        ck_assert_msg(num(j, "age") == cases[i].age, "born %s, on %s: age %lld, want %d",
                      cases[i].birth, cases[i].issue, num(j, "age"), cases[i].age);
        ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(j, "senior")), cases[i].age >= 60);
        cJSON_Delete(j);
    }
}
END_TEST

START_TEST(total_mismatch_flag)
{
    char *rec = edit(EXAMPLE, "\"total\":60960", "\"total\":60970");
    vbill_status st;
    cJSON *j = call(vbill_classify, rec, &st);
    const cJSON *flags = cJSON_GetObjectItem(j, "flags");
    ck_assert_int_eq(cJSON_GetArraySize(flags), 1);
    ck_assert_str_eq(cJSON_GetArrayItem(flags, 0)->valuestring, "total_mismatch");
    cJSON_Delete(j);
    free(rec);
}
END_TEST

START_TEST(huge_amounts_are_exact)
{
    /* 999,999,999,999 x 17 / 30 needs more than 53 bits on the way. */
    char *rec = edit(EXAMPLE, "\"monthly_fee\":85000", "\"monthly_fee\":999999999999");
    vbill_status st;
    cJSON *j = call(vbill_fill, rec, &st);
    ck_assert_msg(j, "%s", vbill_ctx_errmsg(ctx));
    char *txt = cJSON_PrintUnformatted(j);
    /* (999999999999 - 21250) * 17 / 30 = 566666654624.43 -> 566666654620 */
    ck_assert_msg(strstr(txt, "\"prorated\":566666654620") != NULL, "%s", txt);
    free(txt);
    cJSON_Delete(j);
    free(rec);
}
END_TEST

START_TEST(scenarios_and_custom_rules)
{
    vbill_status st;
    cJSON *j;
    /* The example with one line turned into a device change and no bundle. */
    char *a = edit(EXAMPLE, "\"event\":\"new\"", "\"event\":\"device_change\"");
    char *b = edit(a, ",\"bundle\":{\"name\":\"참 쉬운 가족 결합\",\"discount\":11000,\"start\":\"2026-11-14\"}", "");
    j = call(vbill_classify, b, &st);
    ck_assert_str_eq(str(j, "scenario"), "mobile_device_change");
    cJSON_Delete(j);
    /* A carrier's own rules: device changes first, senior at 65. */
    const char *rules = "{\"senior_age\": 65, \"rules\": [{\"scenario\": \"dc_first\", "
                        "\"when\": [\"m_dc == 1\", \"!bundled\"]}]}";
    ck_assert_int_eq(vbill_ctx_set_rules(ctx, rules, (size_t)-1), VBILL_OK);
    j = call(vbill_classify, b, &st);
    ck_assert_str_eq(str(j, "scenario"), "dc_first");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "senior")));
    cJSON_Delete(j);
    j = call(vbill_classify, EXAMPLE, &st);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "scenario")));
    cJSON_Delete(j);
    free(a);
    free(b);
}
END_TEST

START_TEST(malformed_rules_name_the_fault)
{
    static const struct {
        const char *json, *where;
    } cases[] = {
        {"{\"rules\": [", "line 1, column"},
        {"{\"rules\": 5}", "rules"},
        {"{\"rules\": [{\"scenario\": \"a\", \"when\": [\"m_new >= 2\", \"m_neww >= 1\"]}]}",
         "rules[0].when[1]: column 1: unknown count 'm_neww'"},
        {"{\"rules\": [{\"scenario\": \"a\", \"when\": []}, {\"scenario\": \"b\", \"when\": [\"h_new => 1\"]}]}",
         "rules[1].when[0]: column 7"},
        {"{\"rules\": [{\"scenario\": \"\", \"when\": []}]}", "rules[0].scenario"},
        {"{\"rules\": [{\"scenario\": \"a\", \"when\": [\"m_new >= x\"]}]}", "column 10"},
        {"{\"senior_speed\": 3, \"rules\": []}", "senior_speed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vbill_status st = vbill_ctx_set_rules(ctx, cases[i].json, (size_t)-1);
        ck_assert_msg(st == VBILL_ERR_RULES || st == VBILL_ERR_JSON, "case %zu accepted", i);
        ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), cases[i].where) != NULL,
                      "case %zu: '%s' lacks '%s'", i, vbill_ctx_errmsg(ctx), cases[i].where);
    }
    /* The previous (default) rules stay in force. */
    vbill_status st;
    cJSON *j = call(vbill_classify, EXAMPLE, &st);
    ck_assert_str_eq(str(j, "scenario"), "mobile_new_bundle");
    cJSON_Delete(j);
    /* The built-in rules are themselves a valid rule set. */
    ck_assert_int_eq(vbill_ctx_set_rules(ctx, vbill_default_rules(), (size_t)-1), VBILL_OK);
}
END_TEST

/* Numbers simdjson cannot hold, deep nesting, NUL escapes and JSON escapes in the output. */
START_TEST(json_edges)
{
    static const struct {
        const char *to, *words;
    } wide[] = {
        {"\"monthly_fee\":1e400", "must be an integer"},
        {"\"monthly_fee\":18446744073709551616", "out of range"},
        {"\"monthly_fee\":-1e30", "out of range"},
    };
    vbill_status st;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        char *rec = edit(EXAMPLE, "\"monthly_fee\":55000", wide[i].to);
        ck_assert_ptr_null(call(vbill_fill, rec, &st));
        const char *msg = vbill_ctx_errmsg(ctx);
        ck_assert_msg(st == VBILL_ERR_RECORD && strstr(msg, "lines[1].monthly_fee") &&
                          strstr(msg, wide[i].words),
                      "case %zu: '%s'", i, msg);
        free(rec);
    }
    /* Nesting: 100 levels in an unknown field pass, 600 are refused by name. */
    for (int depth = 100; depth <= 600; depth += 500) {
        size_t n = strlen(EXAMPLE) + 2 * (size_t)depth + 16;
        char *rec = malloc(n);
        int k = snprintf(rec, n, "%.*s,\"x\":", (int)strlen(EXAMPLE) - 1, EXAMPLE);
        for (int d = 0; d < depth; d++)
            rec[k++] = '[';
        for (int d = 0; d < depth; d++)
            rec[k++] = ']';
        snprintf(rec + k, n - (size_t)k, "}");
        cJSON *j = call(vbill_fill, rec, &st);
        if (depth == 100) {
            ck_assert_ptr_nonnull(j);
        } else {
            ck_assert_ptr_null(j);
            ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "nested more than 512"));
        }
        cJSON_Delete(j);
        free(rec);
    }
    /* A string holding an escaped NUL is refused by name (issue 14: "S-1\u0000../x" was
     * read as S-1). */
    char *rec = edit(EXAMPLE, "\"김민수\"", "\"김민수\\u0000xyz\"");
    cJSON *j = call(tu_fill_context, rec, &st);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(st, VBILL_ERR_RECORD);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "name: holds a NUL character"));
    free(rec);
    /* Quotes, backslashes and controls in a slot come out escaped and read back the same
     * (long enough to cross the eight-byte scan of the escaper). */
    rec = edit(EXAMPLE, "\"5G 라이트\"",
               "\"5G \\\"quoted\\\" \\\\ name\\twith tab and a long tail\"");
    j = call(vbill_fill, rec, &st);
    ck_assert_ptr_nonnull(j);
    const char *plan = str(cJSON_GetObjectItemCaseSensitive(j, "slots"), "plan");
    ck_assert_msg(strstr(plan, "5G \"quoted\" \\ name\twith tab and a long tail ") != NULL,
                  "plan: '%s'", plan);
    cJSON_Delete(j);
    free(rec);
}
END_TEST

/* vbill_fill builds only the computed values its slot templates name and renders every slot
 * into one buffer: each slot must equal the default template rendered over the full context. */
START_TEST(fill_slots_equal_full_context_rendering)
{
    /* The sample subscribers, then the binding vectors (empty slots among them). */
    const char *const files[] = {"examples/data/subscribers.jsonl", "tests/vectors/fill.jsonl"};
    char *data = tu_slurp(tu_src(files[_i]), NULL);
    int compared = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        vbill_status st;
        cJSON *filled = call(vbill_fill, line, &st);
        if (!filled)
            continue;
        char *context = NULL, *defaults = NULL;
        ck_assert_int_eq(tu_fill_context(ctx, line, strlen(line), 1, &context), VBILL_OK);
        cJSON *c = cJSON_Parse(context);
        const cJSON *scenario = cJSON_GetObjectItemCaseSensitive(c, "scenario");
        if (cJSON_IsString(scenario)) {
            ck_assert_int_eq(vbill_default_slots(ctx, scenario->valuestring, str(c, "locale"),
                                                 &defaults),
                             VBILL_OK);
            cJSON *tmpls = cJSON_Parse(defaults);
            const cJSON *slots = cJSON_GetObjectItemCaseSensitive(filled, "slots");
            const cJSON *t;
            int n = 0;
            cJSON_ArrayForEach(t, tmpls)
            {
                char *want = NULL;
                ck_assert_int_eq(vbill_mustache_render(ctx, t->valuestring, (size_t)-1, context,
                                                       NULL, &want, NULL),
                                 VBILL_OK);
                ck_assert_str_eq(str(slots, t->string), want);
                vbill_free(want);
                n++;
            }
            ck_assert_int_eq(n, cJSON_GetArraySize(slots));
            compared++;
            cJSON_Delete(tmpls);
        }
        vbill_free(defaults);
        cJSON_Delete(c);
        vbill_free(context);
        cJSON_Delete(filled);
    }
    ck_assert_int_ge(compared, 10);
    free(data);
}
END_TEST

START_TEST(status_names)
{
    ck_assert_ptr_nonnull(strstr(vbill_strerror(VBILL_ERR_RECORD), "VBILL_ERR_RECORD"));
    ck_assert_ptr_nonnull(strstr(vbill_strerror((vbill_status)999), "UNKNOWN"));
    ck_assert_str_eq(vbill_version(), PACKAGE_VERSION_STRING);
    vbill_ctx_free(NULL);
    vbill_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("records");
    TCase *tc = tcase_create("records");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, worked_example);
    tcase_add_test(tc, a_success_clears_the_message);
    tcase_add_test(tc, context_has_formatted_values_and_no_birth);
    tcase_add_test(tc, english_and_japanese_formats);
    tcase_add_test(tc, rejections_name_record_and_field);
    tcase_add_test(tc, age_on_leap_birthdays);
    tcase_add_test(tc, total_mismatch_flag);
    tcase_add_test(tc, huge_amounts_are_exact);
    tcase_add_test(tc, scenarios_and_custom_rules);
    tcase_add_test(tc, malformed_rules_name_the_fault);
    tcase_add_test(tc, json_edges);
    tcase_add_loop_test(tc, fill_slots_equal_full_context_rendering, 0, 2);
    tcase_add_test(tc, status_names);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
