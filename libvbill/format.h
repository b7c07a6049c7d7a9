/* format.h: locale formatting of money, dates, masked names and payment methods
 * (SPEC.md section 4).  Locales: "ko-KR", "ja-JP", "en-US"; currencies "KRW", "JPY", "USD".
 * Each appends to a vb_buf. */
#ifndef VB_FORMAT_H
#define VB_FORMAT_H

#include "internal.h"

/* 60960 KRW: ko "60,960원", ja "60,960ウォン", en "KRW 60,960";
 * JPY: ko "60,960엔", ja "60,960円", en "JPY 60,960";
 * 60960 USD (cents): ko "609.60달러", ja "609.60ドル", en "$609.60".  Negative amounts get
 * a leading '-'. */
void vb_fmt_money(vb_buf *b, int64_t amount, const char *currency, const char *locale);
/* ko "11월 14일", ja "11月14日", en "Nov 14". */
void vb_fmt_month_day(vb_buf *b, vb_date d, const char *locale);
/* ko "11월 14일 ~ 11월 30일", ja "11月14日～11月30日", en "Nov 14 – Nov 30". */
void vb_fmt_period(vb_buf *b, vb_date from, vb_date to, const char *locale);
/* ko/ja "김민수" -> "김*수" (first and last kept); en-US, or any name with spaces, keeps the
 * first letter of each word: "John Smith" -> "J*** S****". */
void vb_fmt_name_masked(vb_buf *b, const char *name, const char *locale);
/* ko "신한카드 ****1234 (매월 25일)", en "Card ****1234 (25th of each month)",
 * ja "신한카드 ****1234（毎月25日）".  method is "card", "bank", "giro" or NULL;
 * institution/last4 may be NULL; day 0 = none. */
void vb_fmt_payment(vb_buf *b, const char *method, const char *institution, const char *last4,
                    int day, const char *locale);

#endif
