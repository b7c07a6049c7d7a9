/*
 * slots.c: the default slot texts of each scenario, per locale.  They are Mustache over the
 * fill context (see vbill_fill_context) and use triple braces: slot texts are burnt into
 * video, not HTML, so nothing is escaped.
 */
#include "config.h"
#include "slots.h"

#include <string.h>

#define GREETING_KO "{{{name_masked}}} 고객님, 첫 요금을 안내해 드립니다"
#define PERIOD_KO "이용 기간 {{{period_text}}} ({{period_days}}일)"
#define THIS_KO "이번 달 청구 금액 {{{this_month_text}}}"
#define NEXT_KO "다음 달부터 월 {{{next_month_text}}} 예상"
#define PAY_KO "{{#has_payment}}납부 방법 {{{payment_text}}}{{/has_payment}}"
#define PLAN_ALL "{{#lines}}{{{product}}} {{{prorated_text}}}{{^last}} · {{/last}}{{/lines}}"
#define BUNDLE_KO "{{#bundle}}{{{name}}} 할인 -{{{prorated_text}}}{{/bundle}}"
#define DEVICE_KO "{{#lines}}{{#device}}{{{model}}} 할부 월 {{{installment_text}}} ({{months_left}}개월){{/device}}{{/lines}}"
#define BENEFITS_KO "{{#has_benefits}}혜택: {{{benefits_text}}}{{/has_benefits}}"

#define GREETING_EN "{{{name_masked}}}, here is your first bill"
#define PERIOD_EN "Service period {{{period_text}}} ({{period_days}} days)"
#define THIS_EN "This month: {{{this_month_text}}}"
#define NEXT_EN "From next month: {{{next_month_text}}} a month"
#define PAY_EN "{{#has_payment}}Paid by {{{payment_text}}}{{/has_payment}}"
#define BUNDLE_EN "{{#bundle}}{{{name}}} discount -{{{prorated_text}}}{{/bundle}}"
#define DEVICE_EN "{{#lines}}{{#device}}{{{model}}} installment {{{installment_text}}} a month ({{months_left}} months){{/device}}{{/lines}}"
#define BENEFITS_EN "{{#has_benefits}}Benefits: {{{benefits_text}}}{{/has_benefits}}"

#define GREETING_JA "{{{name_masked}}}様、初回のご請求のご案内です"
#define PERIOD_JA "ご利用期間 {{{period_text}}}（{{period_days}}日間）"
#define THIS_JA "今月のご請求額 {{{this_month_text}}}"
#define NEXT_JA "来月からの月額 {{{next_month_text}}}"
#define PAY_JA "{{#has_payment}}お支払い方法 {{{payment_text}}}{{/has_payment}}"
#define BUNDLE_JA "{{#bundle}}{{{name}}} 割引 -{{{prorated_text}}}{{/bundle}}"
#define DEVICE_JA "{{#lines}}{{#device}}{{{model}}} 分割 月{{{installment_text}}}（残り{{months_left}}回）{{/device}}{{/lines}}"
#define BENEFITS_JA "{{#has_benefits}}特典: {{{benefits_text}}}{{/has_benefits}}"

/* Which slots each scenario shows, in order; the texts come from the locale's table. */
enum { S_GREETING, S_PERIOD, S_THIS, S_PLAN, S_BUNDLE, S_DEVICE, S_BENEFITS, S_NEXT, S_PAY, S_N };
static const char *const slot_names[S_N] = {"greeting", "period",   "this_month",
                                            "plan",     "bundle",   "device",
                                            "benefits", "next_month", "payment"};
static const char *const texts[3][S_N] = {
    {GREETING_KO, PERIOD_KO, THIS_KO, PLAN_ALL, BUNDLE_KO, DEVICE_KO, BENEFITS_KO, NEXT_KO, PAY_KO},
    {GREETING_JA, PERIOD_JA, THIS_JA, PLAN_ALL, BUNDLE_JA, DEVICE_JA, BENEFITS_JA, NEXT_JA, PAY_JA},
    {GREETING_EN, PERIOD_EN, THIS_EN, PLAN_ALL, BUNDLE_EN, DEVICE_EN, BENEFITS_EN, NEXT_EN, PAY_EN},
};

static const struct {
    const char *scenario;
    int slots[8];
} scenario_slots[] = {
    {"mobile_new_home_new", {S_GREETING, S_PERIOD, S_THIS, S_PLAN, S_BUNDLE, S_NEXT, S_PAY, -1}},
    {"mobile_new_bundle", {S_GREETING, S_PERIOD, S_THIS, S_PLAN, S_BUNDLE, S_NEXT, S_PAY, -1}},
    {"mobile_device_change_home",
     {S_GREETING, S_PERIOD, S_THIS, S_DEVICE, S_BUNDLE, S_NEXT, S_PAY, -1}},
    {"mobile_device_change", {S_GREETING, S_PERIOD, S_THIS, S_DEVICE, S_PLAN, S_NEXT, S_PAY, -1}},
    {"home_new_mobile", {S_GREETING, S_PERIOD, S_THIS, S_PLAN, S_BUNDLE, S_NEXT, S_PAY, -1}},
    {"home_new", {S_GREETING, S_PERIOD, S_THIS, S_PLAN, S_BENEFITS, S_NEXT, S_PAY, -1}},
    {"home_recontract", {S_GREETING, S_PERIOD, S_THIS, S_PLAN, S_BENEFITS, S_NEXT, S_PAY, -1}},
};
/* A carrier's own scenario ids get the slots every bill has. */
static const int generic_slots[8] = {S_GREETING, S_PERIOD, S_THIS, S_NEXT, S_PAY, -1, -1, -1};

int vb_default_slots(const char *scenario, const char *locale, vb_slot_def out[VB_MAX_SLOTS])
{
    int li = locale && strcmp(locale, "ja-JP") == 0 ? 1 : locale && strcmp(locale, "en-US") == 0 ? 2 : 0;
    const int *which = generic_slots;
    for (size_t i = 0; i < sizeof scenario_slots / sizeof scenario_slots[0]; i++)
        if (scenario && strcmp(scenario, scenario_slots[i].scenario) == 0)
            which = scenario_slots[i].slots;
    int n = 0;
    for (int i = 0; i < 8 && which[i] >= 0 && n < VB_MAX_SLOTS; i++) {
        out[n].name = slot_names[which[i]];
        out[n].tmpl = texts[li][which[i]];
        n++;
    }
    return n;
}
