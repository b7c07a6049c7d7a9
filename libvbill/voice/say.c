/*
 * say.c: numbers, money, dates and periods as words (say.h).  The rules are those of the
 * languages (see say.h); the tables of tests/test_say.c and the independent reader
 * tests/say_model.py check them.
 */
#include "config.h"
#include "voice/say.h"

#include <string.h>

vb_lang vb_say_lang(const char *locale)
{
    if (locale && strcmp(locale, "ja-JP") == 0)
        return VB_LANG_JA;
    if (locale && strcmp(locale, "en-US") == 0)
        return VB_LANG_EN;
    return VB_LANG_KO;
}

static uint64_t magnitude(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

/* Whether the text appended since `from` ends with s. */
static bool tail_is(const vb_buf *b, size_t from, const char *s)
{
    size_t n = strlen(s);
    return !b->failed && b->len >= from + n && memcmp(b->data + b->len - n, s, n) == 0;
}

/* Replaces the last n bytes with s. */
static void tail_replace(vb_buf *b, size_t n, const char *s)
{
    if (b->failed)
        return;
    b->len -= n;
    b->data[b->len] = '\0';
    vb_buf_puts(b, s);
}

/* Replaces the ending `old` of the text appended since `from` with `with`; true if it did. */
static bool tail_swap(vb_buf *b, size_t from, const char *old, const char *with)
{
    if (!tail_is(b, from, old))
        return false;
    tail_replace(b, strlen(old), with);
    return true;
}

/* ---- Korean ------------------------------------------------------------------------ */

static const char *const KO_DIGIT[10] = {"", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"};

/* 1..9999: no 일 before 천, 백, 십. */
static void ko_group(vb_buf *b, unsigned g)
{
    static const char *const place[4] = {"천", "백", "십", ""};
    unsigned div = 1000;
    for (int p = 0; p < 4; p++, div /= 10) {
        unsigned d = g / div % 10;
        if (!d)
            continue;
        if (d != 1 || p == 3)
            vb_buf_puts(b, KO_DIGIT[d]);
        vb_buf_puts(b, place[p]);
    }
}

/* Groups of four digits with 경, 조, 억, 만, separated by spaces; a lone 1 before 만 is not
 * said (만 원, not 일만 원), but it is before 억 and 조 (일억 원). */
static void ko_cardinal(vb_buf *b, uint64_t v)
{
    static const char *const unit[5] = {"경", "조", "억", "만", ""};
    if (!v) {
        vb_buf_puts(b, "영");
        return;
    }
    uint64_t scale = UINT64_C(10000000000000000);
    bool first = true;
    for (int i = 0; i < 5; i++, scale /= 10000) {
        unsigned g = (unsigned)(v / scale % 10000);
        if (!g)
            continue;
        if (!first)
            vb_buf_puts(b, " ");
        first = false;
        if (!(g == 1 && i == 3))
            ko_group(b, g);
        vb_buf_puts(b, unit[i]);
    }
}

static void ko_number(vb_buf *b, int64_t v)
{
    if (v < 0)
        vb_buf_puts(b, "마이너스 ");
    ko_cardinal(b, magnitude(v));
}

static const char *const KO_MONTH[12] = {"일월", "이월", "삼월", "사월",  "오월",   "유월",
                                         "칠월", "팔월", "구월", "시월", "십일월", "십이월"};

/* Native Korean numerals as they stand before a counter (한, 두, 세, 네, 스무, 스물한...). */
static void ko_native(vb_buf *b, int64_t n)
{
    static const char *const ones[10] = {"",     "한",   "두",   "세",   "네",
                                         "다섯", "여섯", "일곱", "여덟", "아홉"};
    static const char *const tens[10] = {"",     "열",   "스물", "서른", "마흔",
                                         "쉰",   "예순", "일흔", "여든", "아흔"};
    if (n < 1 || n > 99) {
        ko_number(b, n);
        return;
    }
    int t = (int)n / 10, o = (int)n % 10;
    vb_buf_puts(b, t == 2 && o == 0 ? "스무" : tens[t]);
    vb_buf_puts(b, ones[o]);
}

/* ---- Japanese ---------------------------------------------------------------------- */

static const char *const JA_DIGIT[10] = {"",   "いち", "に",   "さん", "よん",
                                         "ご", "ろく", "なな", "はち", "きゅう"};

/* 1..9999 in kana.  before_unit: a myriad unit follows (千 alone before it is いっせん). */
static void ja_group(vb_buf *b, unsigned g, bool before_unit)
{
    unsigned th = g / 1000, hu = g / 100 % 10, te = g / 10 % 10, on = g % 10;
    if (th == 1)
        vb_buf_puts(b, before_unit && g == 1000 ? "いっせん" : "せん");
    else if (th == 3)
        vb_buf_puts(b, "さんぜん");
    else if (th == 8)
        vb_buf_puts(b, "はっせん");
    else if (th) {
        vb_buf_puts(b, JA_DIGIT[th]);
        vb_buf_puts(b, "せん");
    }
    if (hu == 1)
        vb_buf_puts(b, "ひゃく");
    else if (hu == 3)
        vb_buf_puts(b, "さんびゃく");
    else if (hu == 6)
        vb_buf_puts(b, "ろっぴゃく");
    else if (hu == 8)
        vb_buf_puts(b, "はっぴゃく");
    else if (hu) {
        vb_buf_puts(b, JA_DIGIT[hu]);
        vb_buf_puts(b, "ひゃく");
    }
    if (te) {
        if (te != 1)
            vb_buf_puts(b, JA_DIGIT[te]);
        vb_buf_puts(b, "じゅう");
    }
    vb_buf_puts(b, JA_DIGIT[on]);
}

/* The small tsu (促音) before a voiceless counter or unit: いち, はち, じゅう become いっ,
 * はっ, じゅっ before t/ch/s sounds (ちょう, セント); before k sounds (けい, かげつ) ろく and
 * ひゃく become ろっ, ひゃっ as well.  Only the last word since `from` changes. */
typedef enum { SOKUON_TS, SOKUON_K } sokuon_row;
static void ja_sokuon(vb_buf *b, size_t from, sokuon_row row)
{
    if (tail_swap(b, from, "いち", "いっ") || tail_swap(b, from, "はち", "はっ") ||
        tail_swap(b, from, "じゅう", "じゅっ"))
        return;
    if (row == SOKUON_K && !tail_swap(b, from, "ろく", "ろっ"))
        tail_swap(b, from, "ゃく", "ゃっ");
}

static void ja_cardinal(vb_buf *b, uint64_t v)
{
    static const char *const unit[5] = {"けい", "ちょう", "おく", "まん", ""};
    if (!v) {
        vb_buf_puts(b, "ゼロ");
        return;
    }
    uint64_t scale = UINT64_C(10000000000000000);
    for (int i = 0; i < 5; i++, scale /= 10000) {
        unsigned g = (unsigned)(v / scale % 10000);
        if (!g)
            continue;
        size_t at = b->len;
        ja_group(b, g, i < 4);
        if (i == 0)
            ja_sokuon(b, at, SOKUON_K);
        else if (i == 1)
            ja_sokuon(b, at, SOKUON_TS);
        vb_buf_puts(b, unit[i]);
    }
}

static void ja_number(vb_buf *b, int64_t v)
{
    if (v < 0)
        vb_buf_puts(b, "マイナス");
    ja_cardinal(b, magnitude(v));
}

static const char *const JA_MONTH[12] = {
    "いちがつ", "にがつ",   "さんがつ", "しがつ",   "ごがつ",         "ろくがつ",
    "しちがつ", "はちがつ", "くがつ",   "じゅうがつ", "じゅういちがつ", "じゅうにがつ"};

/* Days: the native readings up to 10 and for 20, よっか for a 4, しち and く for 7 and 9.
 * first: the word for 1 (ついたち for a date, いちにち for a count). */
static void ja_days_word(vb_buf *b, uint64_t n, const char *first)
{
    static const char *const native[11] = {"",     "",     "ふつか", "みっか", "よっか", "いつか",
                                           "むいか", "なのか", "ようか", "ここのか", "とおか"};
    if (n == 1) {
        vb_buf_puts(b, first);
        return;
    }
    if (n >= 2 && n <= 10) {
        vb_buf_puts(b, native[n]);
        return;
    }
    if (n == 20) {
        vb_buf_puts(b, "はつか");
        return;
    }
    size_t at = b->len;
    ja_cardinal(b, n);
    if (tail_swap(b, at, "よん", "よっか"))
        return;
    if (!tail_swap(b, at, "なな", "しち"))
        tail_swap(b, at, "きゅう", "く");
    vb_buf_puts(b, "にち");
}

static void ja_year(vb_buf *b, int64_t y)
{
    size_t at = b->len;
    ja_number(b, y);
    if (!tail_swap(b, at, "よん", "よ"))
        tail_swap(b, at, "なな", "しち");
    vb_buf_puts(b, "ねん");
}

/* ---- English ----------------------------------------------------------------------- */

static const char *const EN_ONES[20] = {
    "zero",    "one",     "two",       "three",    "four",     "five",    "six",
    "seven",   "eight",   "nine",      "ten",      "eleven",   "twelve",  "thirteen",
    "fourteen", "fifteen", "sixteen",  "seventeen", "eighteen", "nineteen"};
static const char *const EN_TENS[10] = {"",      "",      "twenty",  "thirty", "forty",
                                        "fifty", "sixty", "seventy", "eighty", "ninety"};

static void en_under100(vb_buf *b, unsigned n)
{
    if (n < 20) {
        vb_buf_puts(b, EN_ONES[n]);
        return;
    }
    vb_buf_puts(b, EN_TENS[n / 10]);
    if (n % 10) {
        vb_buf_puts(b, "-");
        vb_buf_puts(b, EN_ONES[n % 10]);
    }
}

static void en_under1000(vb_buf *b, unsigned n)
{
    if (n >= 100) {
        vb_buf_puts(b, EN_ONES[n / 100]);
        vb_buf_puts(b, " hundred");
        if (n % 100)
            vb_buf_puts(b, " ");
    }
    if (n % 100 || n < 100)
        en_under100(b, n % 100);
}

static void en_cardinal(vb_buf *b, uint64_t v)
{
    static const char *const scale_name[7] = {" quintillion", " quadrillion", " trillion",
                                              " billion",     " million",     " thousand", ""};
    if (!v) {
        vb_buf_puts(b, "zero");
        return;
    }
    uint64_t scale = UINT64_C(1000000000000000000);
    bool first = true;
    for (int i = 0; i < 7; i++, scale /= 1000) {
        unsigned g = (unsigned)(v / scale % 1000);
        if (!g)
            continue;
        if (!first)
            vb_buf_puts(b, " ");
        first = false;
        en_under1000(b, g);
        vb_buf_puts(b, scale_name[i]);
    }
}

static void en_number(vb_buf *b, int64_t v)
{
    if (v < 0)
        vb_buf_puts(b, "minus ");
    en_cardinal(b, magnitude(v));
}

void vb_say_ordinal_en(vb_buf *b, int64_t n)
{
    size_t at = b->len;
    en_number(b, n);
    static const char *const irregular[][2] = {{"one", "first"},   {"two", "second"},
                                               {"three", "third"}, {"five", "fifth"},
                                               {"eight", "eighth"}, {"nine", "ninth"},
                                               {"twelve", "twelfth"}};
    if (b->failed)
        return;
    /* The last word (after a space or a hyphen) takes the ordinal form. */
    size_t w = b->len;
    while (w > at && b->data[w - 1] != ' ' && b->data[w - 1] != '-')
        w--;
    for (size_t i = 0; i < VB_ARRAY_LEN(irregular); i++)
        if (strcmp(b->data + w, irregular[i][0]) == 0) {
            tail_replace(b, b->len - w, irregular[i][1]);
            return;
        }
    if (tail_swap(b, w, "y", "ieth"))
        return;
    vb_buf_puts(b, "th");
}

/* Years as people say them: 2026 twenty twenty-six, 2005 two thousand five, 1905 nineteen
 * oh five, 1900 nineteen hundred, 2000 two thousand. */
static void en_year(vb_buf *b, int64_t y)
{
    if (y < 1000 || y > 9999 || y % 1000 == 0 || (y / 100 % 10 == 0 && y % 100 < 10)) {
        en_number(b, y);
        return;
    }
    en_under100(b, (unsigned)(y / 100));
    unsigned lo = (unsigned)(y % 100);
    if (lo == 0) {
        vb_buf_puts(b, " hundred");
    } else if (lo < 10) {
        vb_buf_puts(b, " oh ");
        vb_buf_puts(b, EN_ONES[lo]);
    } else {
        vb_buf_puts(b, " ");
        en_under100(b, lo);
    }
}

static const char *const EN_MONTH[12] = {"January", "February", "March",     "April",
                                         "May",     "June",     "July",      "August",
                                         "September", "October", "November", "December"};

/* ---- the calls --------------------------------------------------------------------- */

void vb_say_number(vb_buf *b, int64_t v, vb_lang l)
{
    if (l == VB_LANG_JA)
        ja_number(b, v);
    else if (l == VB_LANG_EN)
        en_number(b, v);
    else
        ko_number(b, v);
}

typedef enum { CUR_KRW, CUR_JPY, CUR_USD } currency;

static currency currency_of(const char *c)
{
    if (c && strcmp(c, "JPY") == 0)
        return CUR_JPY;
    if (c && strcmp(c, "USD") == 0)
        return CUR_USD;
    return CUR_KRW;
}

static void money_ko(vb_buf *b, uint64_t mag, currency cur)
{
    if (cur != CUR_USD) {
        ko_cardinal(b, mag);
        vb_buf_puts(b, cur == CUR_JPY ? " 엔" : " 원");
        return;
    }
    uint64_t dollars = mag / 100, cents = mag % 100;
    if (dollars || !cents) {
        ko_cardinal(b, dollars);
        vb_buf_puts(b, " 달러");
    }
    if (cents) {
        vb_buf_puts(b, dollars ? " " : "");
        ko_cardinal(b, cents);
        vb_buf_puts(b, " 센트");
    }
}

static void money_ja(vb_buf *b, uint64_t mag, currency cur)
{
    size_t at = b->len;
    if (cur == CUR_JPY) {
        ja_cardinal(b, mag);
        tail_swap(b, at, "よん", "よ"); /* 4円 is よえん */
        vb_buf_puts(b, "えん");
        return;
    }
    if (cur == CUR_KRW) {
        ja_cardinal(b, mag);
        vb_buf_puts(b, "ウォン");
        return;
    }
    uint64_t dollars = mag / 100, cents = mag % 100;
    if (dollars || !cents) {
        ja_cardinal(b, dollars);
        vb_buf_puts(b, "ドル");
    }
    if (cents) {
        vb_buf_puts(b, dollars ? " " : "");
        at = b->len;
        ja_cardinal(b, cents);
        ja_sokuon(b, at, SOKUON_TS);
        vb_buf_puts(b, "セント");
    }
}

static void money_en(vb_buf *b, uint64_t mag, currency cur)
{
    if (cur != CUR_USD) {
        en_cardinal(b, mag);
        vb_buf_puts(b, cur == CUR_JPY ? " yen" : " won");
        return;
    }
    uint64_t dollars = mag / 100, cents = mag % 100;
    if (dollars || !cents) {
        en_cardinal(b, dollars);
        vb_buf_puts(b, dollars == 1 ? " dollar" : " dollars");
    }
    if (cents) {
        vb_buf_puts(b, dollars ? " and " : "");
        en_cardinal(b, cents);
        vb_buf_puts(b, cents == 1 ? " cent" : " cents");
    }
}

void vb_say_money(vb_buf *b, int64_t amount, const char *currency_code, vb_lang l,
                  unsigned flags)
{
    static const char *const minus[3] = {"마이너스 ", "マイナス", "minus "};
    static const char *const refund[3] = {"환급 ", "へんきん ", "a refund of "};
    if (amount < 0)
        vb_buf_puts(b, (flags & VB_SAY_REFUND) ? refund[l] : minus[l]);
    uint64_t mag = magnitude(amount);
    currency cur = currency_of(currency_code);
    if (l == VB_LANG_JA)
        money_ja(b, mag, cur);
    else if (l == VB_LANG_EN)
        money_en(b, mag, cur);
    else
        money_ko(b, mag, cur);
}

void vb_say_date(vb_buf *b, vb_date d, vb_lang l, unsigned flags)
{
    int m = d.m >= 1 && d.m <= 12 ? d.m - 1 : 0;
    bool year = flags & VB_SAY_YEAR;
    if (l == VB_LANG_EN) {
        vb_buf_puts(b, EN_MONTH[m]);
        vb_buf_puts(b, " ");
        vb_say_ordinal_en(b, d.d);
        if (year) {
            vb_buf_puts(b, ", ");
            en_year(b, d.y);
        }
    } else if (l == VB_LANG_JA) {
        if (year) {
            ja_year(b, d.y);
            vb_buf_puts(b, " ");
        }
        vb_buf_puts(b, JA_MONTH[m]);
        ja_days_word(b, magnitude(d.d), "ついたち");
    } else {
        if (year) {
            ko_number(b, d.y);
            vb_buf_puts(b, "년 ");
        }
        vb_buf_puts(b, KO_MONTH[m]);
        vb_buf_puts(b, " ");
        ko_number(b, d.d);
        vb_buf_puts(b, "일");
    }
}

void vb_say_period(vb_buf *b, vb_date from, vb_date to, vb_lang l, unsigned flags)
{
    if (l == VB_LANG_EN)
        vb_buf_puts(b, "from ");
    vb_say_date(b, from, l, flags);
    vb_buf_puts(b, l == VB_LANG_EN ? " to " : l == VB_LANG_JA ? "から " : "부터 ");
    vb_say_date(b, to, l, flags);
    vb_buf_puts(b, l == VB_LANG_EN ? "" : l == VB_LANG_JA ? "まで" : "까지");
}

void vb_say_days(vb_buf *b, int64_t n, vb_lang l)
{
    if (l == VB_LANG_EN) {
        en_number(b, n);
        vb_buf_puts(b, n == 1 ? " day" : " days");
    } else if (l == VB_LANG_JA) {
        if (n < 0)
            vb_buf_puts(b, "マイナス");
        ja_days_word(b, magnitude(n), "いちにち");
        vb_buf_puts(b, "かん");
    } else if (n == 1) {
        vb_buf_puts(b, "하루");
    } else {
        ko_number(b, n);
        vb_buf_puts(b, " 일");
    }
}

void vb_say_months(vb_buf *b, int64_t n, vb_lang l)
{
    if (l == VB_LANG_EN) {
        en_number(b, n);
        vb_buf_puts(b, n == 1 ? " month" : " months");
    } else if (l == VB_LANG_JA) {
        size_t at = b->len;
        ja_number(b, n);
        ja_sokuon(b, at, SOKUON_K);
        vb_buf_puts(b, "かげつ");
    } else {
        ko_number(b, n);
        vb_buf_puts(b, " 개월");
    }
}

void vb_say_day_of_month(vb_buf *b, int d, vb_lang l)
{
    if (l == VB_LANG_EN) {
        vb_buf_puts(b, "the ");
        vb_say_ordinal_en(b, d);
    } else if (l == VB_LANG_JA) {
        if (d < 0)
            vb_buf_puts(b, "マイナス");
        ja_days_word(b, magnitude(d), "ついたち");
    } else {
        ko_number(b, d);
        vb_buf_puts(b, "일");
    }
}

void vb_say_lines(vb_buf *b, int64_t n, vb_lang l)
{
    if (l == VB_LANG_EN) {
        en_number(b, n);
        vb_buf_puts(b, n == 1 ? " line" : " lines");
    } else if (l == VB_LANG_JA) {
        size_t at = b->len;
        ja_number(b, n);
        ja_sokuon(b, at, SOKUON_K);
        vb_buf_puts(b, "かいせん");
    } else {
        ko_native(b, n);
        vb_buf_puts(b, " 회선");
    }
}

void vb_say_count(vb_buf *b, int64_t n, vb_lang l)
{
    static const char *const tsu[11] = {"",     "ひとつ", "ふたつ", "みっつ",   "よっつ", "いつつ",
                                        "むっつ", "ななつ", "やっつ", "ここのつ", "とお"};
    if (l == VB_LANG_EN)
        en_number(b, n);
    else if (l == VB_LANG_JA && n >= 1 && n <= 10)
        vb_buf_puts(b, tsu[n]);
    else if (l == VB_LANG_JA)
        ja_number(b, n);
    else
        ko_native(b, n);
}

/* ---- the vocabulary a voice actor records ------------------------------------------- */

void vb_say_vocabulary(vb_lang l, void (*fn)(void *arg, const char *text), void *arg)
{
    static const char *const ko[] = {
        "영", "십", "백", "천", "만", "억", "조", "경", "마이너스", "환급", "원", "엔", "달러",
        "센트", "년", "부터", "까지", "하루", "개월", "회선", "열", "스무", "스물", "서른", "마흔",
        "쉰", "예순", "일흔", "여든", "아흔"};
    static const char *const ja[] = {
        "ゼロ", "マイナス", "へんきん", "じゅう", "ひゃく", "さんびゃく", "ろっぴゃく",
        "はっぴゃく", "せん", "いっせん", "さんぜん", "はっせん", "まん", "おく", "ちょう",
        "いっちょう", "はっちょう", "じゅっちょう", "けい", "いっけい", "ろっけい", "はっけい",
        "じゅっけい", "ひゃっけい", "さんびゃっけい", "ろっぴゃっけい", "はっぴゃっけい", "えん",
        "よえん", "ウォン", "ドル", "セント", "いっセント", "はっセント", "じゅっセント", "ついたち",
        "はつか", "にち", "しちにち", "くにち", "いちにち", "かん", "ねん", "よねん", "しちねん",
        "かげつ", "いっかげつ", "ろっかげつ", "はっかげつ", "じゅっかげつ", "ひゃっかげつ",
        "さんびゃっかげつ", "ろっぴゃっかげつ", "はっぴゃっかげつ", "かいせん", "いっかいせん",
        "ろっかいせん", "はっかいせん", "じゅっかいせん", "ひゃっかいせん", "から", "まで", "ひとつ",
        "ふたつ", "みっつ", "よっつ", "いつつ", "むっつ", "ななつ", "やっつ", "ここのつ", "とお",
        "ふつか", "みっか", "よっか", "いつか", "むいか", "なのか", "ようか", "ここのか",
        "とおか"};
    static const char *const en[] = {
        "hundred", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion",
        "minus", "a", "refund", "of", "dollar", "dollars", "cent", "cents", "won", "yen", "and",
        "oh", "from", "to", "day", "days", "month", "months", "line", "lines", "the", "first",
        "second", "third",
        "fifth", "eighth", "ninth", "twelfth", "hundredth", "thousandth", "millionth",
        "billionth", "trillionth", "quadrillionth", "quintillionth"};
    if (l == VB_LANG_KO) {
        for (int d = 1; d < 10; d++)
            fn(arg, KO_DIGIT[d]);
        for (size_t i = 0; i < VB_ARRAY_LEN(ko); i++)
            fn(arg, ko[i]);
        for (int m = 0; m < 12; m++)
            fn(arg, KO_MONTH[m]);
        static const char *const native[] = {"한", "두",   "세",   "네",   "다섯",
                                             "여섯", "일곱", "여덟", "아홉"};
        for (size_t i = 0; i < VB_ARRAY_LEN(native); i++)
            fn(arg, native[i]);
    } else if (l == VB_LANG_JA) {
        for (int d = 1; d < 10; d++)
            fn(arg, JA_DIGIT[d]);
        for (size_t i = 0; i < VB_ARRAY_LEN(ja); i++)
            fn(arg, ja[i]);
        for (int m = 0; m < 12; m++)
            fn(arg, JA_MONTH[m]);
    } else {
        char word[32];
        for (int i = 0; i < 20; i++) {
            fn(arg, EN_ONES[i]);
            if (i >= 4 && i != 5 && i != 8 && i != 9 && i != 12) {
                snprintf(word, sizeof word, "%sth", EN_ONES[i]);
                fn(arg, word); /* fourth, sixth, seventh, tenth, eleventh, thirteenth... */
            }
        }
        for (int t = 2; t < 10; t++) {
            fn(arg, EN_TENS[t]);
            snprintf(word, sizeof word, "%.*sieth", (int)strlen(EN_TENS[t]) - 1, EN_TENS[t]);
            fn(arg, word); /* twentieth... */
        }
        for (size_t i = 0; i < VB_ARRAY_LEN(en); i++)
            fn(arg, en[i]);
        for (int m = 0; m < 12; m++)
            fn(arg, EN_MONTH[m]);
    }
}

/* ---- characters ---------------------------------------------------------------------- */

size_t vb_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!n)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xe0) == 0xc0)
        len = 2, v = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, v = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* pauses in samples at 48 kHz (the voices' rate, wav.h) */
#define PAUSE_SHORT (48000 * 15 / 100)
#define PAUSE_LONG (48000 * 35 / 100)

size_t vb_say_pause(const char *s, size_t n, size_t *len)
{
    uint32_t cp;
    *len = vb_utf8_decode(s, n, &cp);
    if (!*len) {
        *len = 1;
        return 0;
    }
    switch (cp) {
    case ',': case ';': case ':': case 0x3001: /* 、 */ case 0xff0c: case 0xff1b: case 0xff1a:
        return PAUSE_SHORT;
    case '.': case '!': case '?': case 0x3002: /* 。 */ case 0xff01: case 0xff1f: case 0xff0e:
    case 0x2026: /* … */
        return PAUSE_LONG;
    default:
        return 0;
    }
}
