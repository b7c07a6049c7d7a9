/* format.c: locale formatting of money, dates, names and payment methods. */
#include "config.h"
#include "format.h"

#include <string.h>

typedef enum { L_KO, L_JA, L_EN } vb_locale;

static vb_locale locale_of(const char *locale)
{
    if (locale && locale[0] == 'j' && strcmp(locale, "ja-JP") == 0)
        return L_JA;
    if (locale && locale[0] == 'e' && strcmp(locale, "en-US") == 0)
        return L_EN;
    return L_KO;
}

/* Appends v with thousands separators (hand-rolled: this runs several times per record). */
static void grouped(vb_buf *b, uint64_t v)
{
    char out[32];
    int pos = (int)sizeof out, digits = 0;
    do {
        if (digits && digits % 3 == 0)
            out[--pos] = ',';
        out[--pos] = (char)('0' + v % 10);
        v /= 10;
        digits++;
    } while (v);
    vb_buf_append(b, out + pos, sizeof out - (size_t)pos);
}

void vb_fmt_money(vb_buf *b, int64_t amount, const char *currency, const char *locale)
{
    vb_locale l = locale_of(locale);
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    if (amount < 0)
        vb_buf_append(b, "-", 1);
    if (currency && currency[0] == 'U' && strcmp(currency, "USD") == 0) {
        if (l == L_EN)
            vb_buf_append(b, "$", 1);
        grouped(b, mag / 100);
        char cents[3] = {'.', (char)('0' + mag % 100 / 10), (char)('0' + mag % 10)};
        vb_buf_append(b, cents, 3);
        if (l != L_EN)
            vb_buf_puts(b, l == L_KO ? "달러" : "ドル");
        return;
    }
    bool jpy = currency && currency[0] == 'J' && strcmp(currency, "JPY") == 0;
    if (l == L_EN)
        vb_buf_puts(b, jpy ? "JPY " : "KRW ");
    grouped(b, mag);
    if (l == L_KO)
        vb_buf_puts(b, jpy ? "엔" : "원");
    else if (l == L_JA)
        vb_buf_puts(b, jpy ? "円" : "ウォン");
}

void vb_fmt_month_day(vb_buf *b, vb_date d, const char *locale)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    vb_locale l = locale_of(locale);
    if (l == L_EN) {
        vb_buf_puts(b, months[(d.m - 1) % 12]);
        vb_buf_puts(b, " ");
        vb_buf_int(b, d.d);
        return;
    }
    vb_buf_int(b, d.m);
    vb_buf_puts(b, l == L_KO ? "월 " : "月");
    vb_buf_int(b, d.d);
    vb_buf_puts(b, l == L_KO ? "일" : "日");
}

void vb_fmt_period(vb_buf *b, vb_date from, vb_date to, const char *locale)
{
    vb_locale l = locale_of(locale);
    vb_fmt_month_day(b, from, locale);
    vb_buf_puts(b, l == L_KO ? " ~ " : l == L_JA ? "～" : " – ");
    vb_fmt_month_day(b, to, locale);
}

/* Length in bytes of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t u8len(unsigned char c)
{
    return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

void vb_fmt_name_masked(vb_buf *b, const char *name, const char *locale)
{
    size_t n = strlen(name);
    if (locale_of(locale) == L_EN || strchr(name, ' ')) {
        bool word_start = true;
        for (size_t i = 0; i < n;) {
            size_t k = u8len((unsigned char)name[i]);
            if (i + k > n)
                k = n - i;
            if (name[i] == ' ') {
                vb_buf_append(b, " ", 1);
                word_start = true;
            } else if (word_start) {
                vb_buf_append(b, name + i, k);
                word_start = false;
            } else {
                vb_buf_append(b, "*", 1);
            }
            i += k;
        }
        return;
    }
    /* Code point boundaries: keep the first and (from three on) the last. */
    size_t count = 0, first_end = 0, last_start = 0;
    for (size_t i = 0; i < n; count++) {
        size_t k = u8len((unsigned char)name[i]);
        if (count == 0)
            first_end = i + k;
        last_start = i;
        i += k;
    }
    if (count <= 1) {
        vb_buf_append(b, "*", 1);
        return;
    }
    vb_buf_append(b, name, first_end);
    size_t stars = count >= 3 ? count - 2 : 1;
    for (size_t i = 0; i < stars; i++)
        vb_buf_append(b, "*", 1);
    if (count >= 3)
        vb_buf_puts(b, name + last_start);
}

static const char *ordinal_suffix(int d)
{
    if (d % 100 >= 11 && d % 100 <= 13)
        return "th";
    switch (d % 10) {
    case 1: return "st";
    case 2: return "nd";
    case 3: return "rd";
    default: return "th";
    }
}

void vb_fmt_payment(vb_buf *b, const char *method, const char *institution, const char *last4,
                    int day, const char *locale)
{
    vb_locale l = locale_of(locale);
    bool card = method && strcmp(method, "card") == 0;
    bool bank = method && strcmp(method, "bank") == 0;
    bool giro = method && strcmp(method, "giro") == 0;
    size_t start = b->len;
    if (l == L_EN) {
        vb_buf_puts(b, card ? "Card" : bank ? "Bank account" : giro ? "Giro" : "");
        if (!method && institution)
            vb_buf_puts(b, institution);
    } else if (institution && *institution) {
        vb_buf_puts(b, institution);
    } else if (l == L_KO) {
        vb_buf_puts(b, card ? "카드" : bank ? "계좌이체" : giro ? "지로" : "");
    } else {
        vb_buf_puts(b, card ? "クレジットカード" : bank ? "口座振替" : giro ? "払込票" : "");
    }
    if (last4 && *last4 && !giro) {
        vb_buf_puts(b, b->len > start ? " ****" : "****");
        vb_buf_puts(b, last4);
    }
    if (day > 0) {
        const char *sep = b->len > start ? " " : "";
        if (l == L_JA) {
            vb_buf_puts(b, "（毎月");
        } else {
            vb_buf_puts(b, sep);
            vb_buf_puts(b, l == L_KO ? "(매월 " : "(");
        }
        vb_buf_int(b, day);
        if (l == L_EN) {
            vb_buf_puts(b, ordinal_suffix(day));
            vb_buf_puts(b, " of each month)");
        } else {
            vb_buf_puts(b, l == L_KO ? "일)" : "日）");
        }
    }
}
