/*
 * narration.c: the narration script of a bill.  A narration is a list of timed scenes, each
 * with a Mustache text per locale; the built-in ones follow the built-in video templates
 * (libvbill/video/builtin.c: an intro, six 16-second scenes whose personal window is at
 * +4..+10.5 s, an outro) and speak, per scene, its fixed sentence before the window and the
 * personal one in it.  Texts are rendered over the fill context plus the spoken forms of
 * its amounts, dates and counts (say.c), so the script holds words, never digits.
 *
 * The built-in texts say no free text of the record (names, products, institutions,
 * benefits): a voice actor's clips could not say them, and the screen shows them.
 * Japanese is written in kana (see say.h), phrases separated by spaces.
 */
#include "config.h"
#include "bill.h"
#include "jdoc.h"
#include "mustache.h"
#include "voice/narration.h"
#include "voice/say.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const LOCALES[3] = {"ko-KR", "ja-JP", "en-US"};

/* ---- the built-in narration --------------------------------------------------------- */

enum { SC_PERIOD, SC_THIS, SC_PLAN, SC_DEVICE, SC_BUNDLE, SC_BENEFITS, SC_NEXT, SC_PAY, SC_N };
static const char *const scene_names[SC_N] = {"period", "this_month", "plan",       "device",
                                              "bundle", "benefits",   "next_month", "payment"};

typedef struct scene_text {
    const char *fixed;     /* before the personal window: what the scene explains */
    const char *personal;  /* in the window: the customer's own values */
} scene_text;

static const scene_text texts[3][SC_N] = {
    { /* ko-KR */
        {"요금은 가입일부터 일할 계산됩니다.",
         "{{{period_spoken}}}, {{{period_days_spoken}}}입니다."},
        {"쓰신 날만큼만 청구됩니다.",
         "이번 달 청구 금액은 {{{this_month_spoken}}}입니다."},
        {"요금제마다 가입일부터 계산합니다.",
         "{{#few_lines}}{{#lines}}{{{kind_spoken}}} {{{prorated_spoken}}}{{^last}}, {{/last}}"
         "{{/lines}}입니다.{{/few_lines}}{{^few_lines}}{{{lines_count_spoken}}}의 금액을 화면에서 "
         "확인해 주세요.{{/few_lines}}"},
        {"기기 할부금은 다음 달부터 청구됩니다.",
         "{{#lines}}{{#device}}할부금은 매월 {{{installment_spoken}}}, {{{months_left_spoken}}} "
         "남았습니다. {{/device}}{{/lines}}"},
        {"결합 할인도 결합일부터 적용됩니다.",
         "{{#bundle}}이번 달 결합 할인은 {{{prorated_spoken}}}입니다.{{/bundle}}"},
        {"요금제로 받으시는 혜택입니다.",
         "{{#has_benefits}}혜택 {{{benefits_count_spoken}}}를 화면에서 확인해 주세요."
         "{{/has_benefits}}{{^has_benefits}}기본 혜택이 함께 제공됩니다.{{/has_benefits}}"},
        {"다음 달부터는 한 달 요금이 청구됩니다.",
         "다음 달 예상 금액은 {{{next_month_spoken}}}입니다."},
        {"매월 자동으로 납부됩니다.",
         "{{#has_payment}}납부 방법은 {{{payment_method_spoken}}}{{#payment_day_spoken}}, "
         "납부일은 매월 {{{.}}}{{/payment_day_spoken}}입니다.{{/has_payment}}"
         "{{^has_payment}}지로 또는 가상계좌로 납부해 주세요.{{/has_payment}}"},
    },
    { /* ja-JP: kana, phrases separated by spaces */
        {"りょうきんは ひわりで けいさん します。",
         "{{{period_spoken}}}、{{{period_days_spoken}}}です。"},
        {"ごりよう にっすうぶんを ごせいきゅう します。",
         "こんげつの ごせいきゅうがくは {{{this_month_spoken}}}です。"},
        {"プランごとに ひわりで けいさん します。",
         "{{#few_lines}}{{#lines}}{{{kind_spoken}}} {{{prorated_spoken}}}{{^last}}、{{/last}}"
         "{{/lines}}です。{{/few_lines}}{{^few_lines}}{{{lines_count_spoken}}}の きんがくを "
         "がめんで ごかくにん ください。{{/few_lines}}"},
        {"ぶんかつきんは らいげつから ごせいきゅう します。",
         "{{#lines}}{{#device}}ぶんかつきんは まいつき {{{installment_spoken}}}、"
         "のこりは {{{months_left_spoken}}}です。 {{/device}}{{/lines}}"},
        {"セットわりびきも ひわりで てきよう します。",
         "{{#bundle}}こんげつの セットわりびきは {{{prorated_spoken}}}です。{{/bundle}}"},
        {"プランの とくてんです。",
         "{{#has_benefits}}とくてんは {{{benefits_count_spoken}}}です。がめんで ごかくにん "
         "ください。{{/has_benefits}}{{^has_benefits}}きほんの とくてんが ついて います。"
         "{{/has_benefits}}"},
        {"らいげつからは ひとつきぶんの ごせいきゅうです。",
         "らいげつの ごせいきゅう よていがくは {{{next_month_spoken}}}です。"},
        {"まいつき じどうで おしはらい いただきます。",
         "{{#has_payment}}おしはらい ほうほうは {{{payment_method_spoken}}}"
         "{{#payment_day_spoken}}、おしはらいびは まいつき {{{.}}}{{/payment_day_spoken}}です。"
         "{{/has_payment}}{{^has_payment}}はらいこみひょうで おしはらい ください。"
         "{{/has_payment}}"},
    },
    { /* en-US */
        {"This month is charged from the day you joined.",
         "Service runs {{{period_spoken}}}: {{{period_days_spoken}}}."},
        {"You pay only for the days you used.",
         "This month's bill is {{{this_month_spoken}}}."},
        {"Each plan is charged from its start.",
         "{{#one_line}}This month: {{#lines}}{{{kind_spoken}}}, {{{prorated_spoken}}}{{/lines}}."
         "{{/one_line}}{{^one_line}}See the amounts of your {{{lines_count_spoken}}} on the "
         "screen.{{/one_line}}"},
        {"Phone installments start next month.",
         "{{#lines}}{{#device}}Installments: {{{installment_spoken}}} a month, for "
         "{{{months_left_spoken}}}. {{/device}}{{/lines}}"},
        {"Your bundle discount is prorated too.",
         "{{#bundle}}This month's bundle discount is {{{prorated_spoken}}}.{{/bundle}}"},
        {"These come with your plan.",
         "{{#has_benefits}}You get {{{benefits_count_spoken}}}, shown on the screen."
         "{{/has_benefits}}{{^has_benefits}}Standard benefits are included.{{/has_benefits}}"},
        {"From next month, you pay the full month.",
         "Next month's expected bill is {{{next_month_spoken}}}."},
        {"Your bill is paid automatically.",
         "{{#has_payment}}You pay by {{{payment_method_spoken}}}{{#payment_day_spoken}}, on "
         "{{{.}}} of each month{{/payment_day_spoken}}.{{/has_payment}}"
         "{{^has_payment}}Please pay by giro or bank transfer.{{/has_payment}}"},
    },
};

/* Words the spoken values put in (kind_spoken, payment_method_spoken). */
static const char *const kinds[3][2] = {
    {"휴대폰", "인터넷"}, {"けいたいでんわ", "インターネット"}, {"mobile line", "home internet"}};
static const char *const methods[3][4] = {
    {"카드", "계좌 이체", "지로", "등록하신 방법"},
    {"クレジットカード", "こうざふりかえ", "はらいこみひょう", "ごとうろくの ほうほう"},
    {"card", "bank transfer", "giro", "your registered method"}};
/* What follows the count of benefits (vb_say_count). */
static const char *const benefit_words[3][2] = {{" 가지", " 가지"}, {"", ""},
                                                {" benefit", " benefits"}};

static const char *const intro_open[3] = {"안녕하세요, 고객님. ", "こんにちは。",
                                          "Hello. "};
static const char *const intro_close[3] = {". 첫 요금을 안내해 드립니다.",
                                           "。はじめての ごせいきゅうを ごあんない します。",
                                           ". Here is your first bill, step by step."};
static const char *const outro[3] = {
    "궁금한 점이 있으시면 화면의 문의하기 버튼으로 언제든 물어보세요. 감사합니다.",
    ("ごふめいな てんが ございましたら、がめんの おといあわせボタンから いつでも おたずね "
     "ください。ありがとう ございました。"), /* one string: parenthesised for clang */
    "Any questions? Tap the Ask button on the screen at any time. Thank you."};

#define NSCENES 6
/* The scenes of each built-in template, as in libvbill/video/builtin.c. */
static const struct {
    const char *id;
    const char *subtitle[3];
    int scenes[NSCENES];
} builtins[] = {
    {"mobile_new_home_new",
     {"휴대폰과 인터넷을 새로 가입하고 결합하셨습니다",
      "けいたいでんわと インターネットを セットで ごけいやく いただきました",
      "You joined with new mobile lines and home internet, bundled together"},
     {SC_PERIOD, SC_THIS, SC_PLAN, SC_BUNDLE, SC_NEXT, SC_PAY}},
    {"mobile_new_bundle",
     {"휴대폰을 새로 가입하고 가족 결합을 하셨습니다",
      "けいたいでんわを かぞくの セットで ごけいやく いただきました",
      "You joined with new mobile lines on a family bundle"},
     {SC_PERIOD, SC_THIS, SC_PLAN, SC_BUNDLE, SC_NEXT, SC_PAY}},
    {"mobile_device_change_home",
     {"기기를 바꾸시고 인터넷과 결합하셨습니다",
      "たんまつを かえて いただき、インターネットと セットに なりました",
      "You changed your phone and bundled it with home internet"},
     {SC_PERIOD, SC_THIS, SC_DEVICE, SC_BUNDLE, SC_NEXT, SC_PAY}},
    {"mobile_device_change",
     {"휴대폰 기기를 바꾸셨습니다", "けいたいでんわの たんまつを かえて いただきました",
      "You changed your phone"},
     {SC_PERIOD, SC_THIS, SC_DEVICE, SC_PLAN, SC_NEXT, SC_PAY}},
    {"home_new_mobile",
     {"인터넷을 새로 가입하고 휴대폰과 결합하셨습니다",
      "インターネットを けいたいでんわと セットで ごけいやく いただきました",
      "You joined home internet, bundled with your mobile line"},
     {SC_PERIOD, SC_THIS, SC_PLAN, SC_BUNDLE, SC_NEXT, SC_PAY}},
    {"home_new",
     {"인터넷을 새로 가입하셨습니다", "インターネットを あたらしく ごけいやく いただきました",
      "You joined home internet"},
     {SC_PERIOD, SC_THIS, SC_PLAN, SC_BENEFITS, SC_NEXT, SC_PAY}},
    {"home_recontract",
     {"인터넷 약정을 다시 맺으셨습니다", "インターネットの ごけいやくを こうしん いただきました",
      "You renewed your home internet contract"},
     {SC_PERIOD, SC_THIS, SC_PLAN, SC_BENEFITS, SC_NEXT, SC_PAY}},
};

/* The built-in templates' timeline (seconds): an intro, six scenes of 16 s from 10 s whose
 * personal window is +4..+10.5 s, an outro to 120 s.  The fixed sentence ends where the window
 * starts; the personal one fills the window. */
#define INTRO_S 10.0
#define SCENE_S 16.0
#define WIN_FROM 4.0
#define WIN_TO 10.5
#define TOTAL_S 120.0
#define LEAD 0.5 /* silence before a scene's first sentence */

static bool add_scene(cJSON *scenes, const char *name, double start, double end, bool personal,
                      const char *const text[3])
{
    cJSON *s = cJSON_CreateObject(), *t = cJSON_CreateObject();
    bool ok = s && t && cJSON_AddItemToArray(scenes, s);
    if (!ok) {
        cJSON_Delete(s);
        cJSON_Delete(t);
        return false;
    }
    ok = cJSON_AddStringToObject(s, "scene", name) && cJSON_AddNumberToObject(s, "start", start) &&
         cJSON_AddNumberToObject(s, "end", end) && cJSON_AddBoolToObject(s, "personal", personal);
    if (!ok || !cJSON_AddItemToObject(s, "text", t)) {
        cJSON_Delete(t);
        return false;
    }
    for (int l = 0; l < 3; l++)
        if (!cJSON_AddStringToObject(t, LOCALES[l], text[l]))
            return false;
    return true;
}

cJSON *vb_narration_builtin(const char *scenario)
{
    size_t b = 0;
    while (b < VB_ARRAY_LEN(builtins) && (!scenario || strcmp(builtins[b].id, scenario) != 0))
        b++;
    if (b == VB_ARRAY_LEN(builtins))
        return NULL;
    cJSON *root = cJSON_CreateObject(), *scenes = cJSON_CreateArray();
    if (!root || !scenes || !cJSON_AddItemToObject(root, "scenes", scenes)) {
        cJSON_Delete(root);
        cJSON_Delete(scenes);
        return NULL;
    }
    bool ok = cJSON_AddStringToObject(root, "scenario", scenario) != NULL;
    vb_buf intro[3] = {{0}};
    const char *intro_text[3];
    for (int l = 0; l < 3; l++) {
        vb_buf_puts(&intro[l], intro_open[l]);
        vb_buf_puts(&intro[l], builtins[b].subtitle[l]);
        vb_buf_puts(&intro[l], intro_close[l]);
        ok = ok && !intro[l].failed;
        intro_text[l] = intro[l].data;
    }
    ok = ok && add_scene(scenes, "intro", LEAD, INTRO_S - LEAD, false, intro_text);
    for (int l = 0; l < 3; l++)
        vb_buf_free(&intro[l]);
    for (int k = 0; k < NSCENES && ok; k++) {
        int sc = builtins[b].scenes[k];
        double at = INTRO_S + k * SCENE_S;
        const char *fixed[3] = {texts[0][sc].fixed, texts[1][sc].fixed, texts[2][sc].fixed};
        const char *personal[3] = {texts[0][sc].personal, texts[1][sc].personal,
                                   texts[2][sc].personal};
        ok = add_scene(scenes, scene_names[sc], at + LEAD, at + WIN_FROM, false, fixed) &&
             add_scene(scenes, scene_names[sc], at + WIN_FROM, at + WIN_TO, true, personal);
    }
    double outro_at = INTRO_S + NSCENES * SCENE_S;
    ok = ok && add_scene(scenes, "outro", outro_at + LEAD, TOTAL_S - LEAD, false, outro);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* The literal text of a built-in template, cut at its tags and pauses, to fn. */
static void fragments(const char *t, void (*fn)(void *arg, const char *text), void *arg)
{
    vb_buf piece = {0};
    for (size_t i = 0, n = strlen(t); i <= n;) {
        size_t plen = 0;
        bool tag = i < n && t[i] == '{' && t[i + 1] == '{';
        bool cut = i == n || tag || vb_say_pause(t + i, n - i, &plen) > 0;
        if (!cut) {
            vb_buf_append(&piece, t + i, 1);
            i++;
            continue;
        }
        /* A piece is said as a whole when it is more than blanks. */
        size_t a = 0, b = piece.len;
        while (a < b && piece.data[a] == ' ')
            a++;
        while (b > a && piece.data[b - 1] == ' ')
            b--;
        if (b > a) {
            piece.data[b] = '\0';
            fn(arg, piece.data + a);
        }
        piece.len = 0;
        if (i == n)
            break;
        if (tag) {
            const char *close = strstr(t + i, "}}");
            i = close ? (size_t)(close - t) + 2 : n;
            while (i < n && t[i] == '}')
                i++;
        } else {
            i += plen;
        }
    }
    vb_buf_free(&piece);
}

void vb_narration_vocabulary(int l, void (*fn)(void *arg, const char *text), void *arg)
{
    if (l < 0 || l > 2)
        return;
    fragments(intro_open[l], fn, arg);
    fragments(intro_close[l], fn, arg);
    fragments(outro[l], fn, arg);
    for (size_t b = 0; b < VB_ARRAY_LEN(builtins); b++)
        fragments(builtins[b].subtitle[l], fn, arg);
    for (int sc = 0; sc < SC_N; sc++) {
        fragments(texts[l][sc].fixed, fn, arg);
        fragments(texts[l][sc].personal, fn, arg);
    }
    for (int k = 0; k < 2; k++) {
        fn(arg, kinds[l][k]);
        fragments(benefit_words[l][k], fn, arg);
    }
    for (int m = 0; m < 4; m++)
        fn(arg, methods[l][m]);
}

/* ---- the spoken values -------------------------------------------------------------- */

typedef struct speaker {
    vb_jdoc *d;
    vb_lang l;
    const char *currency;
    vb_buf b;
    bool ok;
} speaker;

/* An integer member (the context holds numbers as doubles: exact up to 2^53). */
static bool int_member(const vb_jval *o, const char *key, int64_t *out)
{
    const vb_jval *v = vb_jget(o, key);
    if (!vb_jis(v, VB_JNUMBER))
        return false;
    if (v->is_int) {
        *out = v->i;
        return true;
    }
    if (!(fabs(v->num) <= 9007199254740992.0) || v->num != floor(v->num))
        return false;
    *out = (int64_t)v->num;
    return true;
}

static bool date_member(const vb_jval *o, const char *key, vb_date *out)
{
    const vb_jval *v = vb_jget(o, key);
    return vb_jis(v, VB_JSTRING) && vb_date_parse(v->str, out);
}

/* Puts the words in s->b under key (a literal) and empties the buffer. */
static void put_words(speaker *s, vb_jval *obj, const char *key)
{
    if (s->b.failed || !vb_jadd(obj, key, vb_jstr(s->d, s->b.data ? s->b.data : "", s->b.len)))
        s->ok = false;
    s->b.len = 0;
    if (s->b.data)
        s->b.data[0] = '\0';
}

static void say_money_of(speaker *s, vb_jval *obj, const char *src, const char *key)
{
    int64_t v;
    if (!int_member(obj, src, &v))
        return;
    vb_say_money(&s->b, v, s->currency, s->l, 0);
    put_words(s, obj, key);
}

static void say_date_of(speaker *s, vb_jval *obj, const char *src, const char *key,
                        unsigned flags)
{
    vb_date d;
    if (!date_member(obj, src, &d))
        return;
    vb_say_date(&s->b, d, s->l, flags);
    put_words(s, obj, key);
}

static void say_days_of(speaker *s, vb_jval *obj, const char *src, const char *key)
{
    int64_t v;
    if (!int_member(obj, src, &v))
        return;
    vb_say_days(&s->b, v, s->l);
    put_words(s, obj, key);
}

static void put_literal(speaker *s, vb_jval *obj, const char *key, const char *words)
{
    vb_buf_puts(&s->b, words);
    put_words(s, obj, key);
}

static const char *const root_spoken[] = {
    "this_month_spoken", "next_month_spoken", "bundle_prorated_spoken", "period_spoken",
    "period_start_spoken", "period_end_spoken", "period_days_spoken", "cycle_spoken",
    "issue_date_spoken", "payment_day_spoken", "payment_method_spoken", "benefits_count_spoken",
    "lines_count_spoken", "lines_count", "one_line", "few_lines", NULL};
static const char *const line_spoken[] = {
    "monthly_fee_spoken", "net_spoken", "prorated_spoken", "next_month_spoken",
    "discount_total_spoken", "days_spoken", "from_spoken", "start_spoken", "kind_spoken", NULL};
static const char *const device_spoken[] = {"installment_spoken", "months_left_spoken", NULL};
static const char *const amount_spoken[] = {"amount_spoken", NULL};
static const char *const bundle_spoken[] = {"discount_spoken", "prorated_spoken", "days_spoken",
                                            "start_spoken", NULL};
static const char *const bill_spoken[] = {"other_total_spoken", NULL};

static void say_charges(speaker *s, vb_jval *list)
{
    for (vb_jval *c = vb_jis(list, VB_JARRAY) ? list->child : NULL; c; c = c->next)
        if (vb_jis(c, VB_JOBJECT)) {
            vb_jdrop(c, amount_spoken);
            say_money_of(s, c, "amount", "amount_spoken");
        }
}

static void say_line(speaker *s, vb_jval *line)
{
    vb_jdrop(line, line_spoken);
    say_money_of(s, line, "monthly_fee", "monthly_fee_spoken");
    say_money_of(s, line, "net", "net_spoken");
    say_money_of(s, line, "prorated", "prorated_spoken");
    say_money_of(s, line, "next_month", "next_month_spoken");
    say_money_of(s, line, "discount_total", "discount_total_spoken");
    say_days_of(s, line, "days", "days_spoken");
    say_date_of(s, line, "from", "from_spoken", 0);
    say_date_of(s, line, "start", "start_spoken", 0);
    const vb_jval *kind = vb_jget(line, "kind");
    if (vb_jis(kind, VB_JSTRING))
        put_literal(s, line, "kind_spoken", kinds[s->l][strcmp(kind->str, "home") == 0]);
    say_charges(s, vb_jget(line, "discounts"));
    vb_jval *dev = vb_jget(line, "device");
    if (vb_jis(dev, VB_JOBJECT)) {
        vb_jdrop(dev, device_spoken);
        say_money_of(s, dev, "installment_monthly", "installment_spoken");
        int64_t m;
        if (int_member(dev, "months_left", &m)) {
            vb_say_months(&s->b, m, s->l);
            put_words(s, dev, "months_left_spoken");
        }
    }
}

static void say_payment(speaker *s, vb_jval *root)
{
    const vb_jval *pay = vb_jget(root, "payment");
    if (!vb_jis(pay, VB_JOBJECT))
        return;
    const vb_jval *method = vb_jget(pay, "method");
    int m = 3;
    if (vb_jis(method, VB_JSTRING))
        m = strcmp(method->str, "card") == 0 ? 0
            : strcmp(method->str, "bank") == 0 ? 1
            : strcmp(method->str, "giro") == 0 ? 2
                                                : 3;
    put_literal(s, root, "payment_method_spoken", methods[s->l][m]);
    int64_t day;
    if (int_member(pay, "day", &day) && day >= 1 && day <= 31) {
        vb_say_day_of_month(&s->b, (int)day, s->l);
        put_words(s, root, "payment_day_spoken");
    }
}

bool vb_narration_add_spoken(vb_jdoc *d, vb_jval *root)
{
    if (!vb_jis(root, VB_JOBJECT))
        return false;
    const vb_jval *locale = vb_jget(root, "locale"), *currency = vb_jget(root, "currency");
    speaker sp = {.d = d,
                  .l = vb_say_lang(vb_jis(locale, VB_JSTRING) ? locale->str : NULL),
                  .currency = vb_jis(currency, VB_JSTRING) ? currency->str : NULL,
                  .ok = true},
            *s = &sp;
    vb_jdrop(root, root_spoken);
    say_money_of(s, root, "this_month", "this_month_spoken");
    say_money_of(s, root, "next_month", "next_month_spoken");
    say_money_of(s, root, "bundle_prorated", "bundle_prorated_spoken");
    vb_jval *period = vb_jget(root, "period");
    vb_date from, to;
    if (date_member(period, "start", &from) && date_member(period, "end", &to)) {
        vb_say_period(&s->b, from, to, s->l, 0);
        put_words(s, root, "period_spoken");
        vb_say_date(&s->b, from, s->l, 0);
        put_words(s, root, "period_start_spoken");
        vb_say_date(&s->b, to, s->l, 0);
        put_words(s, root, "period_end_spoken");
    }
    say_days_of(s, root, "period_days", "period_days_spoken");
    vb_jval *bill = vb_jget(root, "bill");
    if (vb_jis(bill, VB_JOBJECT)) {
        if (date_member(bill, "cycle_start", &from) && date_member(bill, "cycle_end", &to)) {
            vb_say_period(&s->b, from, to, s->l, 0);
            put_words(s, root, "cycle_spoken");
        }
        if (date_member(bill, "issue_date", &from)) {
            vb_say_date(&s->b, from, s->l, VB_SAY_YEAR);
            put_words(s, root, "issue_date_spoken");
        }
        vb_jdrop(bill, bill_spoken);
        say_money_of(s, bill, "other_total", "other_total_spoken");
        say_charges(s, vb_jget(bill, "other_charges"));
    }
    say_payment(s, root);
    const vb_jval *benefits = vb_jget(root, "benefits");
    if (vb_jis(benefits, VB_JARRAY) && benefits->count) {
        int64_t n = (int64_t)benefits->count;
        vb_say_count(&s->b, n, s->l);
        vb_buf_puts(&s->b, benefit_words[s->l][n != 1]);
        put_words(s, root, "benefits_count_spoken");
    }
    vb_jval *lines = vb_jget(root, "lines");
    if (vb_jis(lines, VB_JARRAY)) {
        int64_t n = (int64_t)lines->count;
        vb_say_lines(&s->b, n, s->l);
        put_words(s, root, "lines_count_spoken");
        if (!vb_jadd(root, "lines_count", vb_jint(d, n)) ||
            !vb_jadd(root, "one_line", vb_jbool(d, n == 1)) ||
            !vb_jadd(root, "few_lines", vb_jbool(d, n <= 2)))
            s->ok = false;
        for (vb_jval *l = lines->child; l; l = l->next)
            if (vb_jis(l, VB_JOBJECT))
                say_line(s, l);
    }
    vb_jval *bundle = vb_jget(root, "bundle");
    if (vb_jis(bundle, VB_JOBJECT)) {
        vb_jdrop(bundle, bundle_spoken);
        say_money_of(s, bundle, "discount", "discount_spoken");
        say_money_of(s, bundle, "prorated", "prorated_spoken");
        say_days_of(s, bundle, "days", "days_spoken");
        say_date_of(s, bundle, "start", "start_spoken", 0);
    }
    vb_buf_free(&s->b);
    return s->ok;
}

/* ---- narration.json ----------------------------------------------------------------- */

typedef struct nscene {
    const char *name;
    double start, end;
    int personal;      /* -1: not said (decided by the text) */
    const char *text;  /* for the bill's locale; NULL: nothing said in it */
} nscene;

typedef struct narration {
    const char *scenario;  /* NULL: any */
    const cJSON *partials;
    int n;
    nscene scenes[VB_NARRATION_MAX_SCENES];
} narration;

static int locale_index(const char *s)
{
    for (int l = 0; l < 3; l++)
        if (strcmp(s, LOCALES[l]) == 0)
            return l;
    return -1;
}

/* Checks the shape of a narration (every locale) and keeps the texts of `locale` (NULL:
 * none).  Errors name `name`, the scene and the member. */
static vbill_status parse(vbill_ctx *ctx, const char *name, const cJSON *j, const char *locale,
                          narration *out)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(j))
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: not a JSON object", name);
    const cJSON *scenario = cJSON_GetObjectItemCaseSensitive(j, "scenario");
    if (scenario && !cJSON_IsString(scenario))
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: scenario: not a string", name);
    out->scenario = scenario ? scenario->valuestring : NULL;
    const cJSON *partials = cJSON_GetObjectItemCaseSensitive(j, "partials");
    if (partials) {
        if (!cJSON_IsObject(partials))
            return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: partials: not an object", name);
        for (const cJSON *p = partials->child; p; p = p->next)
            if (!cJSON_IsString(p))
                return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: partials.%s: not a string", name,
                                p->string);
    }
    out->partials = partials;
    const cJSON *scenes = cJSON_GetObjectItemCaseSensitive(j, "scenes");
    if (!cJSON_IsArray(scenes))
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: scenes: missing or not an array", name);
    int n = cJSON_GetArraySize(scenes);
    if (n < 1 || n > VB_NARRATION_MAX_SCENES)
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: scenes: %d scenes (1 to %d allowed)", name,
                        n, VB_NARRATION_MAX_SCENES);
    double prev_end = 0;
    int i = 0;
    for (const cJSON *s = scenes->child; s; s = s->next, i++) {
        nscene *sc = &out->scenes[i];
        if (!cJSON_IsObject(s))
            return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: scenes[%d]: not an object", name, i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(s, "scene");
        if (nm && (!cJSON_IsString(nm) || strlen(nm->valuestring) > 64))
            return vb_error(ctx, VBILL_ERR_TEMPLATE,
                            "%s: scenes[%d].scene: not a string of at most 64 bytes", name, i);
        sc->name = nm ? nm->valuestring : NULL;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "start");
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "end");
        if (!cJSON_IsNumber(st) || !cJSON_IsNumber(en))
            return vb_error(ctx, VBILL_ERR_TEMPLATE,
                            "%s: scenes[%d]: start and end (seconds) are required numbers", name,
                            i);
        sc->start = st->valuedouble;
        sc->end = en->valuedouble;
        if (!(sc->start >= 0 && sc->start < sc->end && sc->end <= VB_NARRATION_MAX_SECONDS))
            return vb_error(ctx, VBILL_ERR_TEMPLATE,
                            "%s: scenes[%d]: start %g and end %g must satisfy 0 <= start < end "
                            "<= %g",
                            name, i, sc->start, sc->end, VB_NARRATION_MAX_SECONDS);
        if (sc->start < prev_end)
            return vb_error(ctx, VBILL_ERR_TEMPLATE,
                            "%s: scenes[%d]: starts at %g, before the previous scene ends (%g): "
                            "scenes are in order and do not overlap",
                            name, i, sc->start, prev_end);
        prev_end = sc->end;
        const cJSON *pers = cJSON_GetObjectItemCaseSensitive(s, "personal");
        if (pers && !cJSON_IsBool(pers))
            return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: scenes[%d].personal: not true or false",
                            name, i);
        sc->personal = pers ? cJSON_IsTrue(pers) : -1;
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(s, "text");
        if (cJSON_IsString(text)) {
            if (strlen(text->valuestring) > VB_NARRATION_MAX_TEXT)
                return vb_error(ctx, VBILL_ERR_TEMPLATE,
                                "%s: scenes[%d].text: longer than %d bytes", name, i,
                                VB_NARRATION_MAX_TEXT);
            sc->text = locale ? text->valuestring : NULL;
            continue;
        }
        if (!cJSON_IsObject(text))
            return vb_error(ctx, VBILL_ERR_TEMPLATE,
                            "%s: scenes[%d].text: missing, or not a string nor an object of "
                            "texts by locale",
                            name, i);
        for (const cJSON *t = text->child; t; t = t->next) {
            if (locale_index(t->string) < 0)
                return vb_error(ctx, VBILL_ERR_TEMPLATE,
                                "%s: scenes[%d].text: unknown locale '%.16s' (ko-KR, ja-JP or "
                                "en-US)",
                                name, i, t->string);
            if (!cJSON_IsString(t) || strlen(t->valuestring) > VB_NARRATION_MAX_TEXT)
                return vb_error(ctx, VBILL_ERR_TEMPLATE,
                                "%s: scenes[%d].text.%s: not a string of at most %d bytes", name,
                                i, t->string, VB_NARRATION_MAX_TEXT);
            if (locale && strcmp(t->string, locale) == 0)
                sc->text = t->valuestring;
        }
    }
    out->n = n;
    return VBILL_OK;
}

/* Compiles a scene's text; the message names the narration, the scene and the locale. */
static vb_mustache *compile(vbill_ctx *ctx, const char *name, int i, const char *locale,
                            const char *text, vbill_status *st)
{
    vb_mustache *m = vb_mustache_compile(ctx, NULL, text, strlen(text), st);
    if (!m) {
        char why[512];
        snprintf(why, sizeof why, "%s", vbill_ctx_errmsg(ctx));
        *st = vb_error(ctx, *st, "%s: scenes[%d].text.%s: %s", name, i, locale, why);
    }
    return m;
}

static void count_name(void *arg, const char *name)
{
    (void)name;
    ++*(int *)arg;
}

/* Appends text with every run of ASCII white space made one space, trimmed. */
static void append_collapsed(vb_buf *out, const char *s, size_t n)
{
    bool space = false;
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = out->len > start;
            continue;
        }
        if (space)
            vb_buf_append(out, " ", 1);
        space = false;
        vb_buf_append(out, &c, 1);
    }
}

vbill_status vb_narration_check(vbill_ctx *ctx, const char *name, const cJSON *j)
{
    narration nr;
    vbill_status st = parse(ctx, name, j, NULL, &nr);
    const cJSON *scenes = cJSON_GetObjectItemCaseSensitive(j, "scenes");
    int i = 0;
    for (const cJSON *s = st ? NULL : scenes->child; s && !st; s = s->next, i++) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(s, "text");
        for (int l = 0; l < 3 && !st; l++) {
            const cJSON *t = cJSON_IsString(text) ? text
                                                  : cJSON_GetObjectItemCaseSensitive(text,
                                                                                     LOCALES[l]);
            if (t)
                vb_mustache_free(compile(ctx, name, i, LOCALES[l], t->valuestring, &st));
        }
    }
    return st;
}

static cJSON *script_new(const vb_jval *root, const char *locale)
{
    cJSON *out = cJSON_CreateObject();
    const vb_jval *id = vb_jget(root, "id"), *scenario = vb_jget(root, "scenario");
    if (!out || !cJSON_AddStringToObject(out, "id", vb_jis(id, VB_JSTRING) ? id->str : "") ||
        !cJSON_AddStringToObject(out, "scenario",
                                 vb_jis(scenario, VB_JSTRING) ? scenario->str : "") ||
        !cJSON_AddStringToObject(out, "locale", locale) || !cJSON_AddArrayToObject(out, "scenes")) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static bool script_add(cJSON *out, const nscene *sc, bool personal, const char *text)
{
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(out, "scenes"), s)) {
        cJSON_Delete(s);
        return false;
    }
    return (!sc->name || cJSON_AddStringToObject(s, "scene", sc->name)) &&
           cJSON_AddNumberToObject(s, "start", sc->start) &&
           cJSON_AddNumberToObject(s, "end", sc->end) &&
           cJSON_AddBoolToObject(s, "personal", personal) &&
           cJSON_AddStringToObject(s, "text", text);
}

cJSON *vb_narration_build(vbill_ctx *ctx, const cJSON *fill_context, const cJSON *narration_json,
                          vbill_status *st)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(fill_context, "scenario");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(fill_context, "id");
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(fill_context, "locale");
    const char *idtext = cJSON_IsString(id) ? id->valuestring : "?";
    if (!cJSON_IsString(sc)) {
        *st = vb_error(ctx, VBILL_ERR_NOT_TARGET, "record '%s' matches no scenario: no narration",
                       idtext);
        return NULL;
    }
    const char *locale = cJSON_IsString(loc) && locale_index(loc->valuestring) >= 0
                             ? loc->valuestring
                             : LOCALES[0];
    cJSON *builtin = NULL;
    const char *name = "narration.json";
    if (!narration_json) {
        narration_json = builtin = vb_narration_builtin(sc->valuestring);
        name = "built-in narration";
        if (!builtin) {
            *st = vb_error(ctx, VBILL_ERR_NOT_FOUND,
                           "record '%s': scenario '%s' has no built-in narration: put a %s in "
                           "its template folder",
                           idtext, sc->valuestring, VB_NARRATION_FILE);
            return NULL;
        }
    }
    narration *nr = malloc(sizeof *nr);
    vb_jdoc *d = vb_jdoc_new();
    vb_jval *root = d ? vb_jfrom_cjson(d, fill_context) : NULL;
    cJSON *out = NULL;
    vb_buf text = {0}, scene = {0};
    if (!nr || !root || !vb_narration_add_spoken(d, root)) {
        *st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((*st = parse(ctx, name, narration_json, locale, nr)))
        goto done;
    if (nr->scenario && strcmp(nr->scenario, sc->valuestring) != 0) {
        *st = vb_error(ctx, VBILL_ERR_TEMPLATE,
                       "%s is for scenario '%s', record '%s' is scenario '%s'", name,
                       nr->scenario, idtext, sc->valuestring);
        goto done;
    }
    if (!(out = script_new(root, locale))) {
        *st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nr->n && !*st; i++) {
        const nscene *s = &nr->scenes[i];
        if (!s->text)
            continue;
        vb_mustache *m = compile(ctx, name, i, locale, s->text, st);
        if (!m)
            break;
        int names = 0;
        bool personal = s->personal >= 0 ? s->personal == 1
                                         : !vb_mustache_names(m, count_name, &names) || names > 0;
        text.len = 0;
        vb_buf_append(&text, "", 0);
        *st = vb_mustache_render_into(ctx, m, root, nr->partials, &text);
        vb_mustache_free(m);
        if (*st)
            break;
        scene.len = 0;
        vb_buf_append(&scene, "", 0);
        append_collapsed(&scene, text.data, text.len);
        if (text.failed || scene.failed ||
            (scene.len && !script_add(out, s, personal, scene.data)))
            *st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
done:
    if (*st) {
        cJSON_Delete(out);
        out = NULL;
    }
    vb_buf_free(&text);
    vb_buf_free(&scene);
    vb_jdoc_free(d);
    free(nr);
    cJSON_Delete(builtin);
    return out;
}

vbill_status vb_narration_load(vbill_ctx *ctx, const char *dir, cJSON **out)
{
    *out = NULL;
    vb_buf path = {0};
    vb_buf_printf(&path, "%s/%s", dir, VB_NARRATION_FILE);
    if (path.failed)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    size_t len = 0;
    char *text = vb_read_file(path.data, (size_t)1 << 20, &len);
    vbill_status st = VBILL_OK;
    if (!text && errno == ENOENT)
        vb_log(ctx, VBILL_LOG_INFO, "%s: none, the built-in narration is used", path.data);
    else if (!text)
        st = vb_error(ctx, VBILL_ERR_IO, "%s: %s", path.data,
                      errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    else if (!(*out = vb_json_parse(text, len)))
        st = vb_error(ctx, VBILL_ERR_JSON, "%s: not well-formed JSON", path.data);
    free(text);
    vb_buf_free(&path);
    return st;
}

/* ---- captions ------------------------------------------------------------------------- */

static void vtt_time(vb_buf *b, double t)
{
    long long ms = llround(t * 1000);
    vb_buf_printf(b, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
                  ms / 1000 % 60, ms % 1000);
}

/* Where the sentence that starts at text[*at] ends (after its full stop, question or
 * exclamation mark: ". " or "。"), spaces skipped; *at moves past it. */
static size_t next_sentence(const char *text, size_t *at)
{
    size_t i = *at, n = strlen(text);
    while (i < n) {
        unsigned char c = (unsigned char)text[i];
        if ((c == '.' || c == '?' || c == '!') && (i + 1 == n || text[i + 1] == ' ')) {
            i++;
            break;
        }
        /* 。 ？ ！ (U+3002, U+FF1F, U+FF01) end a Japanese sentence */
        if (!strncmp(text + i, "\xe3\x80\x82", 3) || !strncmp(text + i, "\xef\xbc\x9f", 3) ||
            !strncmp(text + i, "\xef\xbc\x81", 3)) {
            i += 3;
            break;
        }
        i++;
    }
    size_t end = i;
    while (i < n && text[i] == ' ')
        i++;
    *at = i;
    return end;
}

/* Letters of text[a, z): UTF-8 lead bytes that are not spaces (a sentence's share of its
 * scene's time). */
static size_t letters(const char *text, size_t a, size_t z)
{
    size_t k = 0;
    for (size_t i = a; i < z; i++)
        k += ((unsigned char)text[i] & 0xC0) != 0x80 && text[i] != ' ';
    return k;
}

cJSON *vb_narration_cues(const cJSON *script, double speed)
{
    cJSON *cues = cJSON_CreateArray();
    const cJSON *sc;
    cJSON_ArrayForEach(sc, cJSON_GetObjectItemCaseSensitive(script, "scenes"))
    {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sc, "text"));
        double a = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sc, "start"));
        double z = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sc, "end"));
        if (!cues || !text || !*text || !(a >= 0 && z > a))
            continue;
        size_t total = letters(text, 0, strlen(text)), done = 0, at = 0;
        while (cues && text[at]) {
            size_t from = at, to = next_sentence(text, &at), k = letters(text, from, to);
            double t0 = a + (z - a) * (double)done / (double)(total ? total : 1);
            done += k;
            double t1 = text[at] ? a + (z - a) * (double)done / (double)(total ? total : 1) : z;
            char *one = strndup(text + from, to - from);
            cJSON *c = cJSON_CreateObject();
            bool ok = one && c && cJSON_AddNumberToObject(c, "start", t0 / speed) &&
                      cJSON_AddNumberToObject(c, "end", t1 / speed) &&
                      cJSON_AddStringToObject(c, "text", one);
            if (!ok || !cJSON_AddItemToArray(cues, c)) {
                cJSON_Delete(c);
                cJSON_Delete(cues);
                cues = NULL;
            }
            free(one);
        }
    }
    return cues;
}

char *vb_narration_webvtt(const cJSON *script, double speed)
{
    cJSON *cues = vb_narration_cues(script, speed);
    vb_buf b = {0};
    vb_buf_puts(&b, "WEBVTT\n");
    int n = 0;
    const cJSON *cue;
    cJSON_ArrayForEach(cue, cues)
    {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cue, "text"));
        vb_buf_printf(&b, "\n%d\n", ++n);
        vtt_time(&b, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cue, "start")));
        vb_buf_puts(&b, " --> ");
        vtt_time(&b, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cue, "end")));
        vb_buf_puts(&b, "\n");
        /* cue text: the characters WebVTT reserves escaped, one line */
        for (const char *p = text; *p; p++) {
            if (*p == '&')
                vb_buf_puts(&b, "&amp;");
            else if (*p == '<')
                vb_buf_puts(&b, "&lt;");
            else if (*p == '>')
                vb_buf_puts(&b, "&gt;");
            else if (*p == '\n' || *p == '\r')
                vb_buf_puts(&b, " ");
            else
                vb_buf_append(&b, p, 1);
        }
        vb_buf_puts(&b, "\n");
    }
    if (!cues || b.failed) {
        cJSON_Delete(cues);
        vb_buf_free(&b);
        return NULL;
    }
    cJSON_Delete(cues);
    return vb_buf_take(&b);
}

/* ---- the public calls --------------------------------------------------------------- */

VBILL_API vbill_status vbill_narration(vbill_ctx *ctx, const vbill_bill *bill,
                                       const char *template_dir, char **out_json)
{
    vb_clear_error(ctx);
    if (out_json)
        *out_json = NULL;
    if (!ctx || !bill || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_narration: NULL argument");
    vbill_status st = VBILL_OK;
    cJSON *narr = NULL;
    if (template_dir)
        st = vb_narration_load(ctx, template_dir, &narr);
    cJSON *script = !st ? vb_narration_build(ctx, bill->context, narr, &st) : NULL;
    if (script && !(*out_json = vb_json_print(script)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    cJSON_Delete(script);
    cJSON_Delete(narr);
    return st;
}

VBILL_API vbill_status vbill_narration_default(vbill_ctx *ctx, const char *scenario,
                                               char **out_json)
{
    if (!ctx || !scenario || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_narration_default: NULL argument");
    *out_json = NULL;
    vb_clear_error(ctx);
    cJSON *j = vb_narration_builtin(scenario);
    if (!j)
        return vb_error(ctx, VBILL_ERR_NOT_FOUND, "scenario '%s' has no built-in narration",
                        scenario);
    *out_json = cJSON_Print(j);
    cJSON_Delete(j);
    return *out_json ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
}

VBILL_API vbill_status vbill_narration_check(vbill_ctx *ctx, const char *narration_json,
                                             size_t len)
{
    if (!ctx || !narration_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_narration_check: NULL argument");
    vb_clear_error(ctx);
    cJSON *j = vb_json_parse(narration_json, len);
    if (!j)
        return vb_error(ctx, VBILL_ERR_JSON, "narration.json: not well-formed JSON");
    vbill_status st = vb_narration_check(ctx, "narration.json", j);
    cJSON_Delete(j);
    return st;
}

VBILL_API vbill_status vbill_narration_webvtt(vbill_ctx *ctx, const char *script_json,
                                              double speed, char **out_vtt)
{
    vb_clear_error(ctx);
    if (out_vtt)
        *out_vtt = NULL;
    if (!ctx || !script_json || !out_vtt || !(speed >= 0.25 && speed <= 4))
        return vb_error(ctx, VBILL_ERR_ARG,
                        "vbill_narration_webvtt: NULL argument or speed outside 0.25..4");
    cJSON *j = vb_json_parse(script_json, (size_t)-1);
    if (!j || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "scenes"))) {
        cJSON_Delete(j);
        return vb_error(ctx, VBILL_ERR_JSON, "a narration script: no \"scenes\" array");
    }
    *out_vtt = vb_narration_webvtt(j, speed);
    cJSON_Delete(j);
    return *out_vtt ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
}
