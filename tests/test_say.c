/*
 * test_say.c: numbers, money, dates and periods read aloud (libvbill/voice/say.c), in
 * tables written from the languages' rules: Korean myriad grouping without 일 before
 * 십/백/천/만, 유월 and 시월; Japanese kana readings with the sound changes of 百, 千, 兆
 * and the counters; English as Americans say it.  The edges: 0, 10, 10,000, 100,000,000,
 * 1,000,001, the largest amount a record may hold (999,999,999,999), the largest sum of its
 * 32 lines, and the ends of int64_t.  tests/say_model.py reads the words back over thousands
 * of random values.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"
#include "internal.h"
#include "voice/say.h"

#define MAX_AMOUNT INT64_C(999999999999)
#define MAX_SUM (32 * MAX_AMOUNT) /* 31,999,999,999,968 */

typedef struct { int64_t v; const char *words; } num_case;
typedef struct { int64_t v; const char *cur; const char *words; } money_case;
typedef struct { const char *date; unsigned flags; const char *words; } date_case;

static void check_number(vb_lang l, const num_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vb_buf b = {0};
        vb_say_number(&b, c[i].v, l);
        ck_assert_msg(!b.failed, "allocation failed");
        ck_assert_msg(strcmp(b.data, c[i].words) == 0, "lang %d: %lld said '%s', expected '%s'",
                      (int)l, (long long)c[i].v, b.data, c[i].words);
        vb_buf_free(&b);
    }
}

static void check_money(vb_lang l, unsigned flags, const money_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vb_buf b = {0};
        vb_say_money(&b, c[i].v, c[i].cur, l, flags);
        ck_assert_msg(strcmp(b.data, c[i].words) == 0,
                      "lang %d: %lld %s said '%s', expected '%s'", (int)l, (long long)c[i].v,
                      c[i].cur, b.data, c[i].words);
        vb_buf_free(&b);
    }
}

static vb_date date_of(const char *s)
{
    vb_date d;
    ck_assert_msg(vb_date_parse(s, &d), "bad date %s in the table", s);
    return d;
}

static void check_date(vb_lang l, const date_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vb_buf b = {0};
        vb_say_date(&b, date_of(c[i].date), l, c[i].flags);
        ck_assert_msg(strcmp(b.data, c[i].words) == 0, "lang %d: %s said '%s', expected '%s'",
                      (int)l, c[i].date, b.data, c[i].words);
        vb_buf_free(&b);
    }
}

/* What fn(n) says in language l. */
static void expect_n(void (*fn)(vb_buf *, int64_t, vb_lang), vb_lang l, int64_t v,
                     const char *words)
{
    vb_buf b = {0};
    fn(&b, v, l);
    ck_assert_msg(strcmp(b.data, words) == 0, "lang %d: %lld said '%s', expected '%s'", (int)l,
                  (long long)v, b.data, words);
    vb_buf_free(&b);
}

static void day_of_month(vb_buf *b, int64_t v, vb_lang l) { vb_say_day_of_month(b, (int)v, l); }

static void expect_period(vb_lang l, const char *from, const char *to, unsigned flags,
                          const char *words)
{
    vb_buf b = {0};
    vb_say_period(&b, date_of(from), date_of(to), l, flags);
    ck_assert_msg(strcmp(b.data, words) == 0, "period said '%s', expected '%s'", b.data, words);
    vb_buf_free(&b);
}

/* ---- Korean ---- */

START_TEST(korean_numbers)
{
    static const num_case cases[] = {
        {0, "영"},
        {1, "일"},
        {10, "십"},
        {11, "십일"},
        {19, "십구"},
        {20, "이십"},
        {100, "백"},
        {101, "백일"},
        {110, "백십"},
        {111, "백십일"},
        {999, "구백구십구"},
        {1000, "천"},
        {1001, "천일"},
        {1010, "천십"},
        {2026, "이천이십육"},
        {9999, "구천구백구십구"},
        {10000, "만"},
        {10001, "만 일"},
        {10010, "만 십"},
        {11000, "만 천"},
        {12345, "만 이천삼백사십오"},
        {20000, "이만"},
        {60960, "육만 구백육십"},
        {100000, "십만"},
        {110000, "십일만"},
        {139000, "십삼만 구천"},
        {1000000, "백만"},
        {1000001, "백만 일"},
        {10000000, "천만"},
        {10010000, "천일만"},
        {100000000, "일억"},
        {100000001, "일억 일"},
        {100010000, "일억 만"},
        {123456789, "일억 이천삼백사십오만 육천칠백팔십구"},
        {MAX_AMOUNT, "구천구백구십구억 구천구백구십구만 구천구백구십구"},
        {INT64_C(1000000000000), "일조"},
        {MAX_SUM, "삼십일조 구천구백구십구억 구천구백구십구만 구천구백육십팔"},
        {INT64_C(10000000000000000), "일경"},
        {-3000, "마이너스 삼천"},
        {INT64_MAX, "구백이십이경 삼천삼백칠십이조 삼백육십팔억 오천사백칠십칠만 오천팔백칠"},
        {INT64_MIN,
         "마이너스 구백이십이경 삼천삼백칠십이조 삼백육십팔억 오천사백칠십칠만 오천팔백팔"},
    };
    check_number(VB_LANG_KO, cases, VB_ARRAY_LEN(cases));
}
END_TEST

START_TEST(korean_money)
{
    static const money_case cases[] = {
        {60960, "KRW", "육만 구백육십 원"},
        {0, "KRW", "영 원"},
        {10, "KRW", "십 원"},
        {10000, "KRW", "만 원"},
        {100000000, "KRW", "일억 원"},
        {1000001, "KRW", "백만 일 원"},
        {MAX_AMOUNT, "KRW", "구천구백구십구억 구천구백구십구만 구천구백구십구 원"},
        {-3000, "KRW", "마이너스 삼천 원"},
        {60960, "JPY", "육만 구백육십 엔"},
        {60960, "USD", "육백구 달러 육십 센트"},
        {100, "USD", "일 달러"},
        {5, "USD", "오 센트"},
        {0, "USD", "영 달러"},
        {101, "USD", "일 달러 일 센트"},
        {1000000, "USD", "만 달러"},
        {10000, NULL, "만 원"}, /* no currency: KRW, the default */
    };
    check_money(VB_LANG_KO, 0, cases, VB_ARRAY_LEN(cases));
    static const money_case refunds[] = {
        {-3000, "KRW", "환급 삼천 원"},
        {-150, "USD", "환급 일 달러 오십 센트"},
        {3000, "KRW", "삼천 원"},
    };
    check_money(VB_LANG_KO, VB_SAY_REFUND, refunds, VB_ARRAY_LEN(refunds));
}
END_TEST

START_TEST(korean_dates)
{
    static const date_case cases[] = {
        {"2026-11-14", 0, "십일월 십사일"},
        {"2026-11-14", VB_SAY_YEAR, "이천이십육년 십일월 십사일"},
        {"2026-06-10", 0, "유월 십일"},
        {"2026-10-01", 0, "시월 일일"},
        {"2027-01-31", 0, "일월 삼십일일"},
        {"2026-04-20", 0, "사월 이십일"},
        {"2000-02-29", VB_SAY_YEAR, "이천년 이월 이십구일"},
        {"1958-03-14", VB_SAY_YEAR, "천구백오십팔년 삼월 십사일"},
    };
    check_date(VB_LANG_KO, cases, VB_ARRAY_LEN(cases));
    expect_period(VB_LANG_KO, "2026-11-14", "2026-11-30", 0, "십일월 십사일부터 십일월 삼십일까지");
    expect_period(VB_LANG_KO, "2026-12-20", "2027-01-19", VB_SAY_YEAR,
                  "이천이십육년 십이월 이십일부터 이천이십칠년 일월 십구일까지");
    expect_n(vb_say_days, VB_LANG_KO, 17, "십칠 일");
    expect_n(vb_say_days, VB_LANG_KO, 1, "하루");
    expect_n(vb_say_days, VB_LANG_KO, 31, "삼십일 일");
    expect_n(vb_say_months, VB_LANG_KO, 24, "이십사 개월");
    expect_n(vb_say_months, VB_LANG_KO, 1, "일 개월");
    expect_n(day_of_month, VB_LANG_KO, 25, "이십오일");
    expect_n(day_of_month, VB_LANG_KO, 10, "십일");
}
END_TEST

START_TEST(korean_counts)
{
    static const struct { int64_t n; const char *w; } cases[] = {
        {1, "한"},      {2, "두"},     {3, "세"},     {4, "네"},           {5, "다섯"},
        {10, "열"},     {11, "열한"},  {20, "스무"},  {21, "스물한"},      {32, "서른두"},
        {99, "아흔아홉"}, {100, "백"}, {0, "영"},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++)
        expect_n(vb_say_count, VB_LANG_KO, cases[i].n, cases[i].w);
    expect_n(vb_say_lines, VB_LANG_KO, 1, "한 회선");
    expect_n(vb_say_lines, VB_LANG_KO, 3, "세 회선");
    expect_n(vb_say_lines, VB_LANG_KO, 32, "서른두 회선");
}
END_TEST

/* ---- Japanese ---- */

START_TEST(japanese_numbers)
{
    static const num_case cases[] = {
        {0, "ゼロ"},
        {1, "いち"},
        {4, "よん"},
        {7, "なな"},
        {9, "きゅう"},
        {10, "じゅう"},
        {11, "じゅういち"},
        {20, "にじゅう"},
        {100, "ひゃく"},
        {300, "さんびゃく"},
        {400, "よんひゃく"},
        {600, "ろっぴゃく"},
        {800, "はっぴゃく"},
        {1000, "せん"},
        {3000, "さんぜん"},
        {6000, "ろくせん"},
        {8000, "はっせん"},
        {1111, "せんひゃくじゅういち"},
        {10000, "いちまん"},
        {10001, "いちまんいち"},
        {100000, "じゅうまん"},
        {1000000, "ひゃくまん"},
        {1000001, "ひゃくまんいち"},
        {10000000, "いっせんまん"},
        {11000000, "せんひゃくまん"},
        {100000000, "いちおく"},
        {INT64_C(100000000000), "いっせんおく"},
        {60960, "ろくまんきゅうひゃくろくじゅう"},
        {139000, "じゅうさんまんきゅうせん"},
        {MAX_AMOUNT, "きゅうせんきゅうひゃくきゅうじゅうきゅうおく"
                     "きゅうせんきゅうひゃくきゅうじゅうきゅうまん"
                     "きゅうせんきゅうひゃくきゅうじゅうきゅう"},
        {INT64_C(1000000000000), "いっちょう"},
        {INT64_C(6000000000000), "ろくちょう"},
        {INT64_C(8000000000000), "はっちょう"},
        {INT64_C(10000000000000), "じゅっちょう"},
        {INT64_C(100000000000000), "ひゃくちょう"},
        {INT64_C(1000000000000000), "いっせんちょう"},
        {MAX_SUM, "さんじゅういっちょうきゅうせんきゅうひゃくきゅうじゅうきゅうおく"
                  "きゅうせんきゅうひゃくきゅうじゅうきゅうまんきゅうせんきゅうひゃくろくじゅうはち"},
        {INT64_C(10000000000000000), "いっけい"},
        {INT64_C(60000000000000000), "ろっけい"},
        {INT64_C(100000000000000000), "じゅっけい"},
        {INT64_C(1000000000000000000), "ひゃっけい"},
        {INT64_MAX, "きゅうひゃくにじゅうにけいさんぜんさんびゃくななじゅうにちょう"
                    "さんびゃくろくじゅうはちおくごせんよんひゃくななじゅうななまん"
                    "ごせんはっぴゃくなな"},
        {-3000, "マイナスさんぜん"},
    };
    check_number(VB_LANG_JA, cases, VB_ARRAY_LEN(cases));
}
END_TEST

START_TEST(japanese_money)
{
    static const money_case cases[] = {
        {60960, "JPY", "ろくまんきゅうひゃくろくじゅうえん"},
        {4, "JPY", "よえん"},
        {14, "JPY", "じゅうよえん"},
        {40, "JPY", "よんじゅうえん"},
        {104, "JPY", "ひゃくよえん"},
        {0, "JPY", "ゼロえん"},
        {10, "JPY", "じゅうえん"},
        {1000, "JPY", "せんえん"},
        {10000, "JPY", "いちまんえん"},
        {10000000, "JPY", "いっせんまんえん"},
        {100000000, "JPY", "いちおくえん"},
        {1000001, "JPY", "ひゃくまんいちえん"},
        {-3000, "JPY", "マイナスさんぜんえん"},
        {60960, "USD", "ろっぴゃくきゅうドル ろくじゅっセント"},
        {1, "USD", "いっセント"},
        {6, "USD", "ろくセント"},
        {8, "USD", "はっセント"},
        {10, "USD", "じゅっセント"},
        {11, "USD", "じゅういっセント"},
        {100, "USD", "いちドル"},
        {400, "USD", "よんドル"},
        {0, "USD", "ゼロドル"},
        {60960, "KRW", "ろくまんきゅうひゃくろくじゅうウォン"},
    };
    check_money(VB_LANG_JA, 0, cases, VB_ARRAY_LEN(cases));
    static const money_case refunds[] = {{-3000, "JPY", "へんきん さんぜんえん"}};
    check_money(VB_LANG_JA, VB_SAY_REFUND, refunds, VB_ARRAY_LEN(refunds));
}
END_TEST

START_TEST(japanese_dates)
{
    static const date_case cases[] = {
        {"2026-11-14", 0, "じゅういちがつじゅうよっか"},
        {"2026-04-01", 0, "しがつついたち"},
        {"2026-07-07", 0, "しちがつなのか"},
        {"2026-09-09", 0, "くがつここのか"},
        {"2026-11-20", 0, "じゅういちがつはつか"},
        {"2026-12-24", 0, "じゅうにがつにじゅうよっか"},
        {"2026-11-17", 0, "じゅういちがつじゅうしちにち"},
        {"2026-11-19", 0, "じゅういちがつじゅうくにち"},
        {"2026-11-30", 0, "じゅういちがつさんじゅうにち"},
        {"2026-05-31", 0, "ごがつさんじゅういちにち"},
        {"2026-06-02", 0, "ろくがつふつか"},
        {"2026-01-10", 0, "いちがつとおか"},
        {"2026-11-14", VB_SAY_YEAR, "にせんにじゅうろくねん じゅういちがつじゅうよっか"},
        {"2024-02-29", VB_SAY_YEAR, "にせんにじゅうよねん にがつにじゅうくにち"},
        {"2027-03-03", VB_SAY_YEAR, "にせんにじゅうしちねん さんがつみっか"},
    };
    check_date(VB_LANG_JA, cases, VB_ARRAY_LEN(cases));
    expect_period(VB_LANG_JA, "2026-11-14", "2026-11-30", 0,
                  "じゅういちがつじゅうよっかから じゅういちがつさんじゅうにちまで");
    expect_n(vb_say_days, VB_LANG_JA, 17, "じゅうしちにちかん");
    expect_n(vb_say_days, VB_LANG_JA, 1, "いちにちかん");
    expect_n(vb_say_days, VB_LANG_JA, 2, "ふつかかん");
    expect_n(vb_say_days, VB_LANG_JA, 14, "じゅうよっかかん");
    expect_n(vb_say_days, VB_LANG_JA, 20, "はつかかん");
    expect_n(vb_say_days, VB_LANG_JA, 30, "さんじゅうにちかん");
    expect_n(vb_say_months, VB_LANG_JA, 24, "にじゅうよんかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 1, "いっかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 6, "ろっかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 8, "はっかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 10, "じゅっかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 12, "じゅうにかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 36, "さんじゅうろっかげつ");
    expect_n(vb_say_months, VB_LANG_JA, 100, "ひゃっかげつ");
    expect_n(day_of_month, VB_LANG_JA, 25, "にじゅうごにち");
    expect_n(day_of_month, VB_LANG_JA, 1, "ついたち");
    expect_n(vb_say_lines, VB_LANG_JA, 1, "いっかいせん");
    expect_n(vb_say_lines, VB_LANG_JA, 3, "さんかいせん");
    expect_n(vb_say_lines, VB_LANG_JA, 6, "ろっかいせん");
    expect_n(vb_say_lines, VB_LANG_JA, 10, "じゅっかいせん");
    expect_n(vb_say_lines, VB_LANG_JA, 32, "さんじゅうにかいせん");
    expect_n(vb_say_count, VB_LANG_JA, 2, "ふたつ");
    expect_n(vb_say_count, VB_LANG_JA, 10, "とお");
    expect_n(vb_say_count, VB_LANG_JA, 12, "じゅうに");
}
END_TEST

/* ---- English ---- */

START_TEST(english_numbers)
{
    static const num_case cases[] = {
        {0, "zero"},
        {10, "ten"},
        {13, "thirteen"},
        {21, "twenty-one"},
        {40, "forty"},
        {100, "one hundred"},
        {106, "one hundred six"},
        {1000, "one thousand"},
        {10000, "ten thousand"},
        {60960, "sixty thousand nine hundred sixty"},
        {100000000, "one hundred million"},
        {1000001, "one million one"},
        {MAX_AMOUNT, "nine hundred ninety-nine billion nine hundred ninety-nine million "
                     "nine hundred ninety-nine thousand nine hundred ninety-nine"},
        {MAX_SUM, "thirty-one trillion nine hundred ninety-nine billion nine hundred "
                  "ninety-nine million nine hundred ninety-nine thousand nine hundred "
                  "sixty-eight"},
        {INT64_MAX, "nine quintillion two hundred twenty-three quadrillion three hundred "
                    "seventy-two trillion thirty-six billion eight hundred fifty-four million "
                    "seven hundred seventy-five thousand eight hundred seven"},
        {-5, "minus five"},
    };
    check_number(VB_LANG_EN, cases, VB_ARRAY_LEN(cases));
}
END_TEST

START_TEST(english_money)
{
    static const money_case cases[] = {
        {60960, "USD", "six hundred nine dollars and sixty cents"},
        {100, "USD", "one dollar"},
        {1, "USD", "one cent"},
        {0, "USD", "zero dollars"},
        {101, "USD", "one dollar and one cent"},
        {1000000, "USD", "ten thousand dollars"},
        {MAX_AMOUNT, "USD", "nine billion nine hundred ninety-nine million nine hundred "
                            "ninety-nine thousand nine hundred ninety-nine dollars and "
                            "ninety-nine cents"},
        {60960, "KRW", "sixty thousand nine hundred sixty won"},
        {1, "JPY", "one yen"},
        {-3000, "USD", "minus thirty dollars"},
    };
    check_money(VB_LANG_EN, 0, cases, VB_ARRAY_LEN(cases));
    static const money_case refunds[] = {{-3000, "USD", "a refund of thirty dollars"}};
    check_money(VB_LANG_EN, VB_SAY_REFUND, refunds, VB_ARRAY_LEN(refunds));
}
END_TEST

START_TEST(english_dates)
{
    static const date_case cases[] = {
        {"2026-11-14", 0, "November fourteenth"},
        {"2026-11-14", VB_SAY_YEAR, "November fourteenth, twenty twenty-six"},
        {"2026-11-01", 0, "November first"},
        {"2026-11-02", 0, "November second"},
        {"2026-11-03", 0, "November third"},
        {"2026-11-11", 0, "November eleventh"},
        {"2026-11-12", 0, "November twelfth"},
        {"2026-11-20", 0, "November twentieth"},
        {"2026-11-22", 0, "November twenty-second"},
        {"2026-11-30", 0, "November thirtieth"},
        {"2026-12-31", 0, "December thirty-first"},
        {"2000-01-05", VB_SAY_YEAR, "January fifth, two thousand"},
        {"2005-06-08", VB_SAY_YEAR, "June eighth, two thousand five"},
        {"2010-07-09", VB_SAY_YEAR, "July ninth, twenty ten"},
        {"1999-03-15", VB_SAY_YEAR, "March fifteenth, nineteen ninety-nine"},
        {"1905-03-15", VB_SAY_YEAR, "March fifteenth, nineteen oh five"},
        {"1900-03-15", VB_SAY_YEAR, "March fifteenth, nineteen hundred"},
        {"2100-03-15", VB_SAY_YEAR, "March fifteenth, twenty-one hundred"},
    };
    check_date(VB_LANG_EN, cases, VB_ARRAY_LEN(cases));
    expect_period(VB_LANG_EN, "2026-11-14", "2026-11-30", 0,
                  "from November fourteenth to November thirtieth");
    expect_n(vb_say_days, VB_LANG_EN, 17, "seventeen days");
    expect_n(vb_say_days, VB_LANG_EN, 1, "one day");
    expect_n(vb_say_months, VB_LANG_EN, 24, "twenty-four months");
    expect_n(vb_say_months, VB_LANG_EN, 1, "one month");
    expect_n(day_of_month, VB_LANG_EN, 25, "the twenty-fifth");
    expect_n(day_of_month, VB_LANG_EN, 1, "the first");
    expect_n(vb_say_lines, VB_LANG_EN, 1, "one line");
    expect_n(vb_say_lines, VB_LANG_EN, 32, "thirty-two lines");
    vb_buf b = {0};
    vb_say_ordinal_en(&b, 100);
    vb_buf_puts(&b, " ");
    vb_say_ordinal_en(&b, 1000001);
    vb_buf_puts(&b, " ");
    vb_say_ordinal_en(&b, 90);
    ck_assert_str_eq(b.data, "one hundredth one million first ninetieth");
    vb_buf_free(&b);
}
END_TEST

START_TEST(locales)
{
    ck_assert_int_eq(vb_say_lang("ko-KR"), VB_LANG_KO);
    ck_assert_int_eq(vb_say_lang("ja-JP"), VB_LANG_JA);
    ck_assert_int_eq(vb_say_lang("en-US"), VB_LANG_EN);
    ck_assert_int_eq(vb_say_lang(NULL), VB_LANG_KO);
    ck_assert_int_eq(vb_say_lang("fr-FR"), VB_LANG_KO);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("say");
    TCase *tc = tcase_create("say");
    tcase_add_test(tc, korean_numbers);
    tcase_add_test(tc, korean_money);
    tcase_add_test(tc, korean_dates);
    tcase_add_test(tc, korean_counts);
    tcase_add_test(tc, japanese_numbers);
    tcase_add_test(tc, japanese_money);
    tcase_add_test(tc, japanese_dates);
    tcase_add_test(tc, english_numbers);
    tcase_add_test(tc, english_money);
    tcase_add_test(tc, english_dates);
    tcase_add_test(tc, locales);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
