/* chat.c: vbill_chat_answer.  A customer's question is answered from the bill's own values
 * (the fill context) through a carrier FAQ and built-in entries; a question nobody can
 * answer, or a request for a person, becomes a chat.requested escalation whose reply
 * depends on operator hours in the carrier's time zone. */
#include "config.h"
#include "bill.h"
#include "mustache.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time zones ------------------------------------------------------------------------ */

static bool parse_fixed_offset(const char *s, long *off)
{
    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || strcmp(s, "GMT") == 0 ||
        strcmp(s, "Etc/UTC") == 0) {
        *off = 0;
        return true;
    }
    if (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0)
        s += 3;
    if (*s != '+' && *s != '-')
        return false;
    int sign = *s == '-' ? -1 : 1;
    s++;
    int h = 0, m = 0, n = 0;
    while (isdigit((unsigned char)s[n]) && n < 2)
        h = h * 10 + (s[n++] - '0');
    if (n == 0)
        return false;
    s += n;
    if (*s == ':')
        s++;
    n = 0;
    while (isdigit((unsigned char)s[n]) && n < 2)
        m = m * 10 + (s[n++] - '0');
    if ((n != 0 && n != 2) || s[n] || h > 14 || m > 59)
        return false;
    *off = sign * (h * 3600L + m * 60L);
    return true;
}

static int64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* The offset at t from a TZif file (RFC 8536): the version 2+ 64-bit block when there is
 * one, else the version 1 block.  Times after the last transition keep its type (zoneinfo
 * files built "fat" list transitions to 2037). */
static bool tzif_offset(const unsigned char *d, size_t len, int64_t t, long *off)
{
    if (len < 44 || memcmp(d, "TZif", 4) != 0)
        return false;
    int tsize = 4;
    const unsigned char *h = d;
    for (int pass = 0; pass < 2; pass++) {
        if ((size_t)(h - d) + 44 > len)
            return false;
        int64_t isut = be(h + 20, 4), isstd = be(h + 24, 4), leap = be(h + 28, 4),
                timecnt = be(h + 32, 4), typecnt = be(h + 36, 4), charcnt = be(h + 40, 4);
        if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 || typecnt < 1 || charcnt < 0 ||
            timecnt > 100000 || typecnt > 256 || charcnt > 100000 || leap > 100000)
            return false;
        size_t body = (size_t)(timecnt * tsize + timecnt + typecnt * 6 + charcnt +
                               leap * (tsize + 4) + isstd + isut);
        const unsigned char *p = h + 44;
        if ((size_t)(p - d) + body > len)
            return false;
        if (pass == 0 && h[4] >= '2') {
            h = p + body; /* skip to the 64-bit block */
            tsize = 8;
            continue;
        }
        const unsigned char *times = p, *idx = p + timecnt * tsize, *types = idx + timecnt;
        int type = 0;
        /* before the first transition: the first standard-time type */
        for (int i = 0; i < typecnt; i++)
            if (!types[i * 6 + 4]) {
                type = i;
                break;
            }
        for (int64_t i = 0; i < timecnt; i++) {
            if (be(times + i * tsize, tsize) > t)
                break;
            type = idx[i];
        }
        if (type >= typecnt)
            return false;
        *off = (long)be(types + type * 6, 4);
        return true;
    }
    return false;
}

static bool tz_offset(const char *tz, int64_t t, long *offset)
{
    if (!tz || !*tz)
        return false;
    if (parse_fixed_offset(tz, offset))
        return true;
    /* an IANA name: letters, digits, / _ - +, no ".." */
    size_t n = strlen(tz);
    if (n > 64 || strstr(tz, "..") || tz[0] == '/')
        return false;
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
            return false;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    size_t len = 0;
    char *data = vb_read_file(path, 1 << 20, &len);
    if (data) {
        bool ok = tzif_offset((const unsigned char *)data, len, t, offset);
        free(data);
        if (ok)
            return true;
    }
    /* without a zoneinfo database: the carriers' zones that have no daylight saving */
    static const struct { const char *name; long off; } fixed[] = {
        {"Asia/Seoul", 9 * 3600}, {"Asia/Tokyo", 9 * 3600}, {"Asia/Shanghai", 8 * 3600},
        {"Asia/Taipei", 8 * 3600}, {"Asia/Singapore", 8 * 3600}, {"Asia/Kolkata", 19800}};
    for (size_t i = 0; i < VB_ARRAY_LEN(fixed); i++)
        if (strcmp(tz, fixed[i].name) == 0) {
            *offset = fixed[i].off;
            return true;
        }
    return false;
}

/* ---- matching ---------------------------------------------------------------------------- */

/* Lowercase ASCII, drop whitespace and common punctuation: "이번 달" matches "이번달",
 * "Next Month?" matches "next month". */
static char *normalise(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1), *q = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x80 && (isspace(c) || strchr("?!.,'\"~", c)))
            continue;
        *q++ = c < 0x80 ? (char)tolower(c) : (char)c;
    }
    *q = '\0';
    return o;
}

static bool contains_word(const char *nq, const char *word)
{
    char *w = normalise(word);
    bool r = w && *w && strstr(nq, w) != NULL;
    free(w);
    return r;
}

/* An entry's "match": a list of lists of words; one list whose words all occur matches. */
static bool entry_matches(const cJSON *match, const char *nq)
{
    const cJSON *alt;
    cJSON_ArrayForEach(alt, match)
    {
        if (cJSON_IsString(alt)) {
            if (contains_word(nq, alt->valuestring))
                return true;
            continue;
        }
        if (!cJSON_IsArray(alt) || cJSON_GetArraySize(alt) == 0)
            continue;
        bool all = true;
        const cJSON *w;
        cJSON_ArrayForEach(w, alt) all = all && cJSON_IsString(w) &&
                                         contains_word(nq, w->valuestring);
        if (all)
            return true;
    }
    return false;
}

static const char *const person_words[] = {"상담원", "상담사", "상담직원", "사람이랑", "사람과",
    "사람연결", "직원", "agent", "person", "human", "representative", "operator",
    "someone", "オペレーター", "担当者", "人と話"};

static const char builtin_faq[] =
    "{\"entries\":["
    "{\"id\":\"prorated\",\"match\":[[\"이번달\",\"다음달\"],[\"이번달\",\"적\"],[\"일할\"],"
    "[\"왜\",\"적\"],[\"this month\",\"next month\"],[\"why\",\"lower\"],[\"why\",\"less\"],"
    "[\"why\",\"cheaper\"],[\"prorat\"],[\"partial\",\"month\"],[\"今月\",\"来月\"],[\"日割\"],"
    "[\"今月\",\"安\"]],"
    "\"answer\":{"
    "\"ko-KR\":\"{{name_masked}}님, 이번 달 요금 {{this_month_text}}은 가입하신 날부터 청구 기간 "
    "끝까지({{period_text}}, {{period_days}}일)만 일할 계산한 금액이에요. 다음 달부터는 한 달 "
    "전체 요금이 청구되어 {{next_month_text}}이 예상됩니다.{{#has_device}} 단말 할부금은 다음 "
    "달부터 포함돼요.{{/has_device}}\","
    "\"en-US\":\"This month's bill ({{this_month_text}}) covers only {{period_text}} "
    "({{period_days}} days), from your start date to the end of the billing cycle, so the "
    "charges are pro-rated. From next month you pay for the whole month: about "
    "{{next_month_text}}.{{#has_device}} Device installments start next month.{{/has_device}}\","
    "\"ja-JP\":\"今月のご請求額 {{this_month_text}} は、ご利用開始日から締め日まで"
    "（{{period_text}}、{{period_days}}日間）の日割り計算です。来月からは1か月分の料金"
    "（{{next_month_text}}予定）となります。\"}},"
    "{\"id\":\"next_month\",\"match\":[\"다음달\",\"next month\",\"next bill\",\"来月\"],"
    "\"answer\":{\"ko-KR\":\"다음 달 예상 요금은 {{next_month_text}}입니다.\","
    "\"en-US\":\"Next month's bill should be about {{next_month_text}}.\","
    "\"ja-JP\":\"来月のご請求額は {{next_month_text}} の予定です。\"}},"
    "{\"id\":\"payment\",\"match\":[\"납부\",\"결제\",\"자동이체\",\"카드\",\"출금\",\"pay\","
    "\"card\",\"debit\",\"支払\",\"引き落とし\"],"
    "\"answer\":{\"ko-KR\":\"{{#has_payment}}납부 방법은 {{payment_text}}입니다."
    "{{/has_payment}}{{^has_payment}}등록된 납부 방법이 없어요. 지로로 납부하실 수 있어요."
    "{{/has_payment}}\",\"en-US\":\"{{#has_payment}}You pay by {{payment_text}}."
    "{{/has_payment}}{{^has_payment}}No payment method is registered yet.{{/has_payment}}\","
    "\"ja-JP\":\"{{#has_payment}}お支払い方法: {{payment_text}}{{/has_payment}}"
    "{{^has_payment}}お支払い方法は未登録です。{{/has_payment}}\"}},"
    "{\"id\":\"discount\",\"match\":[\"할인\",\"결합\",\"discount\",\"bundle\",\"割引\"],"
    "\"answer\":{\"ko-KR\":\"{{#has_bundle}}{{bundle.name}} 결합 할인은 월 "
    "{{bundle.discount_text}}이고, 이번 달에는 일할 계산된 {{bundle_prorated_text}}이 할인됐어요."
    "{{/has_bundle}}{{^has_bundle}}이번 청구서에는 결합 할인이 없어요.{{/has_bundle}}\","
    "\"en-US\":\"{{#has_bundle}}The {{bundle.name}} bundle saves {{bundle.discount_text}} a "
    "month; this month's pro-rated share is {{bundle_prorated_text}}.{{/has_bundle}}"
    "{{^has_bundle}}There is no bundle discount on this bill.{{/has_bundle}}\","
    "\"ja-JP\":\"{{#has_bundle}}{{bundle.name}}の割引は月{{bundle.discount_text}}、今月は"
    "日割りで{{bundle_prorated_text}}です。{{/has_bundle}}{{^has_bundle}}セット割引は"
    "ありません。{{/has_bundle}}\"}},"
    "{\"id\":\"period\",\"match\":[\"기간\",\"언제부터\",\"period\",\"which days\",\"期間\"],"
    "\"answer\":{\"ko-KR\":\"이번 청구 기간은 {{period_text}}({{period_days}}일)입니다.\","
    "\"en-US\":\"This bill covers {{period_text}} ({{period_days}} days).\","
    "\"ja-JP\":\"今回のご請求期間は{{period_text}}（{{period_days}}日間）です。\"}}]}";

static const char *pick_locale_text(const cJSON *answer, const char *locale)
{
    if (cJSON_IsString(answer))
        return answer->valuestring;
    if (!cJSON_IsObject(answer))
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(answer, locale);
    if (cJSON_IsString(v))
        return v->valuestring;
    const cJSON *x;
    cJSON_ArrayForEach(x, answer) /* "ko" for "ko-KR" */
    {
        if (cJSON_IsString(x) && x->string && strncmp(x->string, locale, 2) == 0)
            return x->valuestring;
    }
    v = cJSON_GetObjectItemCaseSensitive(answer, "en-US");
    if (cJSON_IsString(v))
        return v->valuestring;
    return answer->child && cJSON_IsString(answer->child) ? answer->child->valuestring : NULL;
}

static int parse_hhmm(const char *s)
{
    int h, m;
    char extra;
    if (!s || sscanf(s, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
        (h == 24 && m))
        return -1;
    return h * 60 + m;
}

static const char *const replies[][3] = {
    /* chat now, call-back, answered-by-FAQ-but-unknown */
    {"상담원을 연결해 드릴게요. 잠시만 기다려 주세요.",
     "지금은 상담 시간({{open}}~{{close}})이 아니에요. 문의를 접수했고, 상담 시간에 연락드릴게요.",
     "ko"},
    {"Connecting you to an agent now, please wait a moment.",
     "Our agents are available {{open}}-{{close}}. We have logged your question and will call "
     "you back during those hours.",
     "en"},
    {"オペレーターにおつなぎします。少々お待ちください。",
     "ただいま受付時間外です（{{open}}〜{{close}}）。お問い合わせを承りました。受付時間内に"
     "ご連絡いたします。",
     "ja"},
};

VBILL_API vbill_status vbill_chat_answer(vbill_ctx *ctx, const vbill_bill *bill,
                                         const char *question, const char *faq_json,
                                         double position_s, int64_t now, char **answer_json)
{
    vb_clear_error(ctx);
    if (!answer_json || !bill || !question)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_chat_answer: NULL argument");
    *answer_json = NULL;
    if (strlen(question) > 4000)
        return vb_error(ctx, VBILL_ERR_ARG, "chat: question longer than 4000 bytes");
    vbill_status st = VBILL_OK;
    const cJSON *c = bill->context;
    cJSON *faq = NULL, *builtin = NULL, *out = NULL;
    char *nq = NULL;
    if (faq_json) {
        faq = vb_json_parse(faq_json, (size_t)-1);
        if (!cJSON_IsObject(faq)) {
            st = vb_error(ctx, VBILL_ERR_JSON, "chat: the FAQ is not a JSON object");
            goto done;
        }
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(faq, "entries");
        if (e && !cJSON_IsArray(e)) {
            st = vb_error(ctx, VBILL_ERR_JSON, "chat: FAQ \"entries\" must be an array");
            goto done;
        }
    }
    builtin = vb_json_parse(builtin_faq, (size_t)-1);
    nq = normalise(question);
    out = cJSON_CreateObject();
    if (!builtin || !nq || !out) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "chat: out of memory");
        goto done;
    }
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(c, "locale");
    const char *locale = cJSON_IsString(loc) ? loc->valuestring : "ko-KR";

    bool wants_person = false;
    for (size_t i = 0; i < VB_ARRAY_LEN(person_words); i++)
        wants_person |= contains_word(nq, person_words[i]);

    /* 1. the FAQ: the carrier's entries first, then the built-in ones */
    const char *faq_id = NULL, *tmpl = NULL;
    const cJSON *use_builtin = cJSON_GetObjectItemCaseSensitive(faq, "builtin");
    const cJSON *lists[2] = {cJSON_GetObjectItemCaseSensitive(faq, "entries"),
                             cJSON_IsFalse(use_builtin) ? NULL
                                 : cJSON_GetObjectItemCaseSensitive(builtin, "entries")};
    for (int l = 0; l < 2 && !tmpl && !wants_person && *nq; l++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, lists[l])
        {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "match");
            if (!cJSON_IsArray(m) || !entry_matches(m, nq))
                continue;
            const char *t = pick_locale_text(cJSON_GetObjectItemCaseSensitive(e, "answer"), locale);
            if (!t)
                continue;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            faq_id = cJSON_IsString(id) ? id->valuestring : "faq";
            tmpl = t;
            break;
        }
    }
    if (tmpl) {
        vb_mustache *m = vb_mustache_compile(ctx, faq_id, tmpl, strlen(tmpl), &st);
        char *text = m ? vb_mustache_render(ctx, m, c, NULL, NULL, &st) : NULL;
        vb_mustache_free(m);
        if (!text)
            goto done;
        cJSON_AddBoolToObject(out, "answered", true);
        cJSON_AddStringToObject(out, "faq", faq_id);
        cJSON_AddStringToObject(out, "answer", text);
        free(text);
        goto print;
    }

    /* 2. escalate: priority by scenario, reply by operator hours */
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(c, "scenario");
    const char *scenario = cJSON_IsString(sc) ? sc->valuestring : "";
    const char *priority = NULL;
    const cJSON *pmap = cJSON_GetObjectItemCaseSensitive(faq, "priority");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(pmap, scenario);
    if (!cJSON_IsString(p))
        p = cJSON_GetObjectItemCaseSensitive(pmap, "*");
    if (cJSON_IsString(p))
        priority = p->valuestring;
    if (!priority) {
        /* bundles and several lines: more at stake and more to explain */
        static const char *const high[] = {"mobile_new_home_new", "mobile_new_bundle",
                                           "mobile_device_change_home", "home_new_mobile"};
        priority = "normal";
        for (size_t i = 0; i < VB_ARRAY_LEN(high); i++)
            if (strcmp(scenario, high[i]) == 0)
                priority = "high";
    }
    const cJSON *hours = cJSON_GetObjectItemCaseSensitive(faq, "hours");
    const cJSON *ho = cJSON_GetObjectItemCaseSensitive(hours, "open");
    const cJSON *hc = cJSON_GetObjectItemCaseSensitive(hours, "close");
    const cJSON *htz = cJSON_GetObjectItemCaseSensitive(hours, "tz");
    const cJSON *hdays = cJSON_GetObjectItemCaseSensitive(hours, "days");
    const char *open_s = cJSON_IsString(ho) ? ho->valuestring : "10:00";
    const char *close_s = cJSON_IsString(hc) ? hc->valuestring : "19:00";
    const char *tz = cJSON_IsString(htz) ? htz->valuestring : "Asia/Seoul";
    int open = parse_hhmm(open_s), close = parse_hhmm(close_s);
    if (open < 0 || close < 0) {
        st = vb_error(ctx, VBILL_ERR_JSON, "chat: FAQ hours must be \"HH:MM\" (open %s, close %s)",
                      open_s, close_s);
        goto done;
    }
    if (now == 0)
        now = (int64_t)time(NULL);
    long off;
    if (!tz_offset(tz, now, &off)) {
        st = vb_error(ctx, VBILL_ERR_JSON, "chat: unknown time zone '%.64s' (an IANA name such "
                      "as Asia/Seoul, or an offset such as +09:00)", tz);
        goto done;
    }
    int64_t local = now + off;
    int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int minute = (int)((local - day * 86400) / 60);
    int weekday = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    bool day_ok = true;
    if (cJSON_IsArray(hdays)) {
        day_ok = false;
        const cJSON *d;
        cJSON_ArrayForEach(d, hdays) day_ok |= cJSON_IsNumber(d) && d->valueint == weekday;
    }
    bool in_hours = day_ok && (open <= close ? minute >= open && minute < close
                                             : minute >= open || minute < close);
    const char *mode = in_hours ? "chat" : "callback";
    int li = strncmp(locale, "ko", 2) == 0 ? 0 : strncmp(locale, "ja", 2) == 0 ? 2 : 1;
    const cJSON *rmap = cJSON_GetObjectItemCaseSensitive(faq, "replies");
    const char *rt = pick_locale_text(cJSON_GetObjectItemCaseSensitive(rmap, mode), locale);
    if (!rt)
        rt = replies[li][in_hours ? 0 : 1];
    cJSON *rdata = cJSON_CreateObject();
    cJSON_AddStringToObject(rdata, "open", open_s);
    cJSON_AddStringToObject(rdata, "close", close_s);
    vb_mustache *m = vb_mustache_compile(ctx, "chat reply", rt, strlen(rt), &st);
    char *reply = m ? vb_mustache_render(ctx, m, rdata, NULL, NULL, &st) : NULL;
    vb_mustache_free(m);
    cJSON_Delete(rdata);
    if (!reply)
        goto done;
    cJSON_AddBoolToObject(out, "answered", false);
    cJSON_AddBoolToObject(out, "escalate", true);
    cJSON_AddStringToObject(out, "reason", wants_person ? "asked for a person" : "no answer");
    cJSON_AddStringToObject(out, "priority", priority);
    cJSON_AddStringToObject(out, "mode", mode);
    cJSON_AddStringToObject(out, "reply", reply);
    free(reply);
    cJSON *ev = cJSON_AddObjectToObject(out, "event");
    cJSON_AddStringToObject(ev, "type", "chat.requested");
    cJSON *data = cJSON_AddObjectToObject(ev, "data");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
    if (!cJSON_IsString(id))
        id = cJSON_GetObjectItemCaseSensitive(c, "subscriber_id");
    if (cJSON_IsString(id))
        cJSON_AddStringToObject(data, "subscriber_id", id->valuestring);
    cJSON_AddStringToObject(data, "question", question);
    if (position_s >= 0)
        cJSON_AddNumberToObject(data, "position", position_s);
    cJSON_AddStringToObject(data, "priority", priority);
    cJSON_AddStringToObject(data, "mode", mode);
    cJSON_AddStringToObject(data, "reason", wants_person ? "asked for a person" : "no answer");
    static const char *const keep[] = {"scenario", "locale", "period", "period_text",
        "name_masked", "this_month", "next_month", "this_month_text", "next_month_text",
        "payment_text", "flags", "link"};
    for (size_t i = 0; i < VB_ARRAY_LEN(keep); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, keep[i]);
        if (v)
            cJSON_AddItemToObject(data, keep[i], cJSON_Duplicate(v, true));
    }
print:
    if (!(*answer_json = vb_json_print(out)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "chat: out of memory");
done:
    free(nq);
    cJSON_Delete(faq);
    cJSON_Delete(builtin);
    cJSON_Delete(out);
    return st;
}
