/*
 * say.h: numbers, amounts, dates and periods written out as the words a person says, for
 * ko-KR, ja-JP and en-US (say.c).  The narration script is made of these words, so a voice
 * (espeak-ng, or a carrier's recorded clips) never has to guess how to read a digit.
 *
 * Korean: Sino-Korean numerals grouped by four digits (만, 억, 조, 경), no 일 before
 * 십/백/천 nor before a lone 만 (만 원, 일억 원), groups separated by a space as Korean
 * spacing rules write numbers ("육만 구백육십 원").  Dates "이천이십육년 십일월 십사일" with
 * 유월 and 시월.
 *
 * Japanese: hiragana readings, not kanji numerals: espeak-ng reads kana but says every kanji
 * as "Chinese letter", and the script must be exactly what is spoken.  Numbers are one word
 * ("ろくまんきゅうひゃくろくじゅう") with the sound changes of 百 and 千 (さんびゃく,
 * ろっぴゃく, はっぴゃく, さんぜん, はっせん; 千 before a myriad unit is いっせん:
 * いっせんまん), of 兆 and 京 (いっちょう, はっちょう, じゅっちょう, ろっけい...) and of the
 * counters (よえん, いっセント, じゅっかげつ; dates ついたち, ふつか, じゅうよっか, はつか).
 * Phrases are separated by spaces (the way kana-only text is written).
 *
 * English: American usage without "and" inside numbers ("one hundred six"), hyphenated tens
 * ("twenty-one"), years as pairs ("twenty twenty-six", "two thousand five").
 *
 * Every function appends to a vb_buf and handles the whole int64_t range.
 */
#ifndef VB_SAY_H
#define VB_SAY_H

#include "internal.h"

typedef enum vb_lang { VB_LANG_KO = 0, VB_LANG_JA = 1, VB_LANG_EN = 2 } vb_lang;

/* "ja-JP" -> JA, "en-US" -> EN, anything else (the default locale ko-KR) -> KO. */
vb_lang vb_say_lang(const char *locale);

/* A cardinal number: ko "육만 구백육십", ja "ろくまんきゅうひゃくろくじゅう", en "sixty thousand
 * nine hundred sixty".  0: 영, ゼロ, zero.  Negative: 마이너스, マイナス, minus. */
void vb_say_number(vb_buf *b, int64_t v, vb_lang l);

/* Money in the currency's minor unit (KRW, JPY: 1 = one won/yen; USD: 1 = one cent;
 * another code or NULL is read as KRW):
 *   KRW ko "육만 구백육십 원", ja "ろくまんきゅうひゃくろくじゅうウォン", en "... won";
 *   JPY ko "... 엔", ja "ろくまんきゅうひゃくろくじゅうえん" (4 円 is よえん), en "... yen";
 *   USD ko "육백구 달러 육십 센트", ja "ろっぴゃくきゅうドル ろくじゅっセント",
 *       en "six hundred nine dollars and sixty cents" (a zero part is not said).
 * A negative amount is said with minus (마이너스, マイナス, minus), or with
 * VB_SAY_REFUND as a refund: ko "환급 삼천 원", ja "へんきん さんぜんえん", en "a refund of
 * three thousand won" (the flag changes nothing for amounts >= 0). */
#define VB_SAY_REFUND 1u
void vb_say_money(vb_buf *b, int64_t amount, const char *currency, vb_lang l, unsigned flags);

/* A calendar date: ko "십일월 십사일", ja "じゅういちがつじゅうよっか", en "November
 * fourteenth"; with VB_SAY_YEAR: ko "이천이십육년 십일월 십사일", ja "にせんにじゅうろくねん
 * じゅういちがつじゅうよっか", en "November fourteenth, twenty twenty-six". */
#define VB_SAY_YEAR 1u
void vb_say_date(vb_buf *b, vb_date d, vb_lang l, unsigned flags);

/* A period: ko "십일월 십사일부터 십일월 삼십일까지", ja "じゅういちがつじゅうよっかから
 * じゅういちがつさんじゅうにちまで", en "from November fourteenth to November thirtieth".
 * flags as vb_say_date. */
void vb_say_period(vb_buf *b, vb_date from, vb_date to, vb_lang l, unsigned flags);

/* A number of days: ko "십칠 일" (1: "하루"), ja "じゅうしちにちかん", en "seventeen days"
 * ("one day"). */
void vb_say_days(vb_buf *b, int64_t n, vb_lang l);

/* A number of months: ko "이십사 개월", ja "にじゅうよんかげつ" (いっかげつ, ろっかげつ,
 * じゅっかげつ), en "twenty-four months" ("one month"). */
void vb_say_months(vb_buf *b, int64_t n, vb_lang l);

/* A day of the month (a payment day): ko "이십오일", ja "にじゅうごにち" (1: ついたち),
 * en "the twenty-fifth". */
void vb_say_day_of_month(vb_buf *b, int d, vb_lang l);

/* A number of lines (회선, 回線): ko "세 회선" (native numerals), ja "さんかいせん"
 * (いっかいせん, ろっかいせん, じゅっかいせん), en "three lines" ("one line"). */
void vb_say_lines(vb_buf *b, int64_t n, vb_lang l);

/* A small count of things, as it goes before a counter: ko native numerals (한, 두, 세,
 * 스무, 스물한...; Sino-Korean from 100), ja ひとつ..とお (a plain number from 11), en the
 * cardinal. */
void vb_say_count(vb_buf *b, int64_t n, vb_lang l);

/* An English ordinal ("first", "twenty-first", "one hundredth"). */
void vb_say_ordinal_en(vb_buf *b, int64_t n);

/* Calls fn with every word or piece the functions above write in language l, such that the
 * words of any value are a run of them (spaces aside): what a voice actor records for
 * numbers, amounts and dates. */
void vb_say_vocabulary(vb_lang l, void (*fn)(void *arg, const char *text), void *arg);

/* The pause the character at s (n bytes left) makes between clips, in samples at 48 kHz
 * (0: none); *len is its length in bytes.  Commas and the like: a short pause; full stops, question
 * marks: a longer one. */
size_t vb_say_pause(const char *s, size_t n, size_t *len);

/* Decodes the well-formed UTF-8 character at s (n bytes left): its length, or 0 when it is
 * not well-formed (overlong, surrogate, past U+10FFFF, cut short). */
size_t vb_utf8_decode(const char *s, size_t n, uint32_t *cp);

#endif
