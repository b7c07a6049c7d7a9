/*
 * bill.c: the bill, made once from a record (validate, classify, fill) or read back from its
 * serialisation (bill.json), and immutable afterwards.  vbill/records.h documents the schema.
 *
 * Both ways end in the same state: one cJSON document (the serialised bill) and the values
 * the later stages read taken from it, so that a bill read back renders, links and answers
 * exactly as the bill it was written from.
 */
#include "config.h"
#include "bill.h"
#include "fill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define MAX_BILL_BYTES (1u << 20)
#define MAX_DEPTH 64
#define AMOUNT_MAX INT64_C(1000000000000000) /* sums of 32 lines of < 10^12 stay below */

/* ---- keeping the birth date out ---- */

static bool name_has_birth(const char *s)
{
    for (; s && *s; s++)
        if (strncasecmp(s, "birth", 5) == 0)
            return true;
    return false;
}

/* The text forms a birth date is written in: 1958-03-14, 19580314, 1958.03.14, 1958/03/14. */
static bool text_has_date(const char *s, vb_date d)
{
    char forms[4][11];
    snprintf(forms[0], sizeof forms[0], "%04d-%02d-%02d", d.y, d.m, d.d);
    snprintf(forms[1], sizeof forms[1], "%04d%02d%02d", d.y, d.m, d.d);
    snprintf(forms[2], sizeof forms[2], "%04d.%02d.%02d", d.y, d.m, d.d);
    snprintf(forms[3], sizeof forms[3], "%04d/%02d/%02d", d.y, d.m, d.d);
    for (int i = 0; i < 4; i++)
        if (strstr(s, forms[i]))
            return true;
    return false;
}

/* Removes, at any depth, the members whose names contain "birth" (any case) and the values
 * that spell the birth date out: a record's unknown fields go into the context, and a bill
 * must not carry the birth date under any name.  Returns how many were removed. */
static int strip_birth(cJSON *v, vb_date birth, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    int removed = 0;
    for (cJSON *c = v->child, *next; c; c = next) {
        next = c->next;
        /* The subscriber id stays even when it spells the date (a carrier's numbering):
         * the bill is known by it, and it is in the bill's "id" anyway. */
        bool is_id = depth == 0 && c->string && strcmp(c->string, "id") == 0;
        bool bad = (cJSON_IsObject(v) && name_has_birth(c->string)) ||
                   (cJSON_IsString(c) && !is_id && text_has_date(c->valuestring, birth));
        if (bad) {
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            removed++;
        } else {
            removed += strip_birth(c, birth, depth + 1);
        }
    }
    return removed;
}

/* ---- from a record ---- */

static cJSON *date_pair(vb_date a, vb_date b, const char *ka, const char *kb)
{
    char s[11], e[11];
    vb_date_format(a, s);
    vb_date_format(b, e);
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddStringToObject(o, ka, s) || !cJSON_AddStringToObject(o, kb, e))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add(cJSON *o, const char *key, cJSON *v)
{
    if (!v)
        return false;
    if (!cJSON_AddItemToObject(o, key, v)) {
        cJSON_Delete(v);
        return false;
    }
    return true;
}

static cJSON *amounts_of(const vb_record *r)
{
    cJSON *a = cJSON_CreateObject(), *lines = cJSON_CreateArray();
    bool ok = a && lines && add(a, "this_month", vb_json_int(r->this_month)) &&
              add(a, "next_month", vb_json_int(r->next_month)) &&
              add(a, "bundle_prorated", vb_json_int(r->bundle_prorated));
    for (int i = 0; ok && i < r->nlines; i++) {
        const vb_line *l = &r->lines[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(lines, o) && cJSON_AddStringToObject(o, "id", l->id) &&
             add(o, "days", vb_json_int(l->days)) && add(o, "prorated", vb_json_int(l->prorated)) &&
             add(o, "next_month", vb_json_int(l->next_month));
    }
    if (ok && add(a, "lines", lines))
        return a;
    cJSON_Delete(a);
    return NULL;
}

/* The serialised bill of a filled record whose root is its fill context. */
static cJSON *doc_of(const vb_record *r, cJSON *context)
{
    cJSON *d = cJSON_CreateObject(), *flags = cJSON_CreateArray();
    const cJSON *masked = cJSON_GetObjectItemCaseSensitive(context, "name_masked");
    bool ok = d && flags && add(d, "vbill_bill", vb_json_int(VB_BILL_SCHEMA)) &&
              cJSON_AddStringToObject(d, "id", r->id) &&
              add(d, "scenario", r->scenario ? cJSON_CreateString(r->scenario) : cJSON_CreateNull()) &&
              cJSON_AddStringToObject(d, "locale", r->locale) &&
              cJSON_AddStringToObject(d, "currency", r->currency);
    cJSON *cycle = ok ? date_pair(r->cycle_start, r->cycle_end, "start", "end") : NULL;
    char issue[11];
    vb_date_format(r->issue_date, issue);
    ok = ok && cycle && add(d, "cycle", cycle) &&
         cJSON_AddStringToObject(cycle, "issue_date", issue) &&
         add(d, "period", date_pair(r->period_start, r->period_end, "start", "end")) &&
         cJSON_AddBoolToObject(d, "senior", r->senior) &&
         cJSON_AddNumberToObject(d, "speed", r->speed) && add(d, "flags", flags) &&
         (!r->total_mismatch || cJSON_AddItemToArray(flags, cJSON_CreateString("total_mismatch"))) &&
         add(d, "amounts", amounts_of(r)) &&
         cJSON_AddStringToObject(d, "name_masked", cJSON_IsString(masked) ? masked->valuestring : "");
    if (!ok) {
        if (!cycle || !cJSON_GetObjectItemCaseSensitive(d, "flags"))
            cJSON_Delete(flags);
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

/* Takes the values the later stages read from a checked document. */
static void take_values(vbill_bill *b)
{
    const cJSON *d = b->doc;
    vb_identity *id = &b->ident;
#define STR(o, k) cJSON_GetObjectItemCaseSensitive(o, k)->valuestring
    snprintf(id->id, sizeof id->id, "%s", STR(d, "id"));
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(d, "scenario");
    snprintf(id->scenario, sizeof id->scenario, "%s", cJSON_IsString(sc) ? sc->valuestring : "");
    snprintf(id->locale, sizeof id->locale, "%s", STR(d, "locale"));
    snprintf(id->currency, sizeof id->currency, "%s", STR(d, "currency"));
    const cJSON *cycle = cJSON_GetObjectItemCaseSensitive(d, "cycle");
    const cJSON *period = cJSON_GetObjectItemCaseSensitive(d, "period");
    vb_date_parse(STR(cycle, "start"), &id->cycle_start);
    vb_date_parse(STR(cycle, "end"), &id->cycle_end);
    vb_date_parse(STR(cycle, "issue_date"), &id->issue_date);
    vb_date_parse(STR(period, "start"), &id->period_start);
    vb_date_parse(STR(period, "end"), &id->period_end);
#undef STR
    id->senior = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "senior"));
    id->speed = cJSON_GetObjectItemCaseSensitive(d, "speed")->valuedouble;
    b->context = cJSON_GetObjectItemCaseSensitive(d, "context");
    const cJSON *phone = cJSON_GetObjectItemCaseSensitive(b->context, "phone");
    if (cJSON_IsString(phone) && strlen(phone->valuestring) < sizeof id->phone)
        snprintf(id->phone, sizeof id->phone, "%s", phone->valuestring);
    vb_date_format(id->cycle_start, b->cycle_start);
    snprintf(b->cycle, sizeof b->cycle, "%.7s", b->cycle_start);
}

VBILL_API vbill_status vbill_bill_new(vbill_ctx *ctx, const char *record_json, size_t len,
                                      long line, vbill_bill **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_new: no bill to return");
    *out = NULL;
    if (!ctx || !record_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_new: NULL argument");
    vb_record r;
    vbill_status st = vb_record_process(ctx, record_json, len, line, &r);
    if (st)
        return st;
    vb_date birth = r.birth;
    vbill_bill *b = calloc(1, sizeof *b);
    cJSON *context = NULL;
    if (!b || (st = vb_fill_context_build(ctx, &r)) || !(context = vb_jto_cjson(r.root)) ||
        !(b->doc = doc_of(&r, context))) {
        vb_record_free(&r);
        cJSON_Delete(context);
        free(b);
        OPENSSL_cleanse(&birth, sizeof birth);
        return st ? st : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    vb_record_free(&r);
    /* The age would narrow the birth date to two years: the bill keeps the senior flag. */
    cJSON_DeleteItemFromObjectCaseSensitive(context, "age");
    int removed = strip_birth(context, birth, 0);
    if (removed)
        vb_log(ctx, VBILL_LOG_WARN, "bill %s: %d field(s) holding the birth date left out",
               cJSON_GetObjectItemCaseSensitive(b->doc, "id")->valuestring, removed);
    cJSON_AddItemToObject(b->doc, "context", context);
    take_values(b);
    b->ident.has_birth = true;
    b->ident.birth = birth;
    OPENSSL_cleanse(&birth, sizeof birth);
    *out = b;
    return VBILL_OK;
}

/* ---- from bill.json ---- */

typedef struct checker {
    vbill_ctx *ctx;
    char label[96];   /* "bill 'S-1'" or "bill" */
} checker;

static vbill_status bad(const checker *k, const char *field, const char *fmt, ...) VB_PRINTF(3, 4);
static vbill_status bad(const checker *k, const char *field, const char *fmt, ...)
{
    char problem[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    return vb_error(k->ctx, VBILL_ERR_RECORD, "%s: %s: %s", k->label, field, problem);
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static vbill_status need_string(const checker *k, const cJSON *o, const char *key,
                                const char *field, size_t max)
{
    const cJSON *v = member(o, key);
    if (!cJSON_IsString(v))
        return bad(k, field, "required: a string");
    size_t n = strlen(v->valuestring);
    if (n > max)
        return bad(k, field, "longer than %zu bytes", max);
    return VBILL_OK;
}

static vbill_status need_date(const checker *k, const cJSON *o, const char *key,
                              const char *field, vb_date *out)
{
    const cJSON *v = member(o, key);
    if (!cJSON_IsString(v) || !vb_date_parse(v->valuestring, out))
        return bad(k, field, "required: a real date YYYY-MM-DD");
    return VBILL_OK;
}

static vbill_status need_int(const checker *k, const cJSON *o, const char *key,
                             const char *field, int64_t lo, int64_t hi)
{
    const cJSON *v = member(o, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return bad(k, field, "must be an integer from %lld to %lld", (long long)lo,
                   (long long)hi);
    return VBILL_OK;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* The first member named like "birth" below v, as a path into path (false when none). */
static bool find_birth(const cJSON *v, int depth, char *path, size_t size)
{
    if (depth > MAX_DEPTH)
        return false;
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        char here[128];
        if (cJSON_IsObject(v))
            snprintf(here, sizeof here, "%s%s%.40s", path, *path ? "." : "", c->string);
        else
            snprintf(here, sizeof here, "%s[%d]", path, i);
        if ((cJSON_IsObject(v) && name_has_birth(c->string)) ||
            find_birth(c, depth + 1, here, sizeof here)) {
            snprintf(path, size, "%s", here);
            return true;
        }
    }
    return false;
}

static int depth_of(const cJSON *v, int depth)
{
    int max = depth;
    for (const cJSON *c = v->child; c && max <= MAX_DEPTH; c = c->next) {
        int d = depth_of(c, depth + 1);
        if (d > max)
            max = d;
    }
    return max;
}

static vbill_status check_amounts(const checker *k, const cJSON *a)
{
    static const char *const totals[] = {"this_month", "next_month", "bundle_prorated"};
    vbill_status st;
    if (!cJSON_IsObject(a))
        return bad(k, "amounts", "required: an object");
    for (size_t i = 0; i < VB_ARRAY_LEN(totals); i++) {
        char field[64];
        snprintf(field, sizeof field, "amounts.%s", totals[i]);
        if ((st = need_int(k, a, totals[i], field, 0, AMOUNT_MAX - 1)))
            return st;
    }
    const cJSON *lines = member(a, "lines");
    int n = cJSON_GetArraySize(lines);
    if (!cJSON_IsArray(lines) || n < 1 || n > VB_MAX_LINES)
        return bad(k, "amounts.lines", "required: an array of 1 to %d lines", VB_MAX_LINES);
    int i = 0;
    for (const cJSON *l = lines->child; l; l = l->next, i++) {
        char field[64];
        snprintf(field, sizeof field, "amounts.lines[%d]", i);
        if (!cJSON_IsObject(l))
            return bad(k, field, "must be an object");
        snprintf(field, sizeof field, "amounts.lines[%d].id", i);
        if ((st = need_string(k, l, "id", field, 64)))
            return st;
        snprintf(field, sizeof field, "amounts.lines[%d].days", i);
        if ((st = need_int(k, l, "days", field, 0, 31)))
            return st;
        snprintf(field, sizeof field, "amounts.lines[%d].prorated", i);
        if ((st = need_int(k, l, "prorated", field, 0, AMOUNT_MAX - 1)))
            return st;
        snprintf(field, sizeof field, "amounts.lines[%d].next_month", i);
        if ((st = need_int(k, l, "next_month", field, 0, AMOUNT_MAX - 1)))
            return st;
    }
    return VBILL_OK;
}

static vbill_status check_doc(checker *k, const cJSON *d)
{
    static const char *const locales[] = {"ko-KR", "ja-JP", "en-US", NULL};
    static const char *const currencies[] = {"KRW", "JPY", "USD", NULL};
    vbill_status st;
    if (!cJSON_IsObject(d))
        return bad(k, "(bill)", "must be a JSON object");
    const cJSON *id = member(d, "id");
    if (cJSON_IsString(id) && vb_valid_id(id->valuestring))
        snprintf(k->label, sizeof k->label, "bill '%s'", id->valuestring);
    const cJSON *ver = member(d, "vbill_bill");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != floor(ver->valuedouble) ||
        ver->valuedouble < 1)
        return bad(k, "vbill_bill", "required: the schema version %d", VB_BILL_SCHEMA);
    if (ver->valuedouble > VB_BILL_SCHEMA)
        return bad(k, "vbill_bill", "schema version %.0f is newer than this library reads (%d)",
                   ver->valuedouble, VB_BILL_SCHEMA);
    if (!cJSON_IsString(id) || !vb_valid_id(id->valuestring))
        return bad(k, "id", "required: 1 to 64 characters of A-Z a-z 0-9 . _ -");
    const cJSON *sc = member(d, "scenario");
    if (!cJSON_IsNull(sc) && !(cJSON_IsString(sc) && vb_valid_scenario_id(sc->valuestring)))
        return bad(k, "scenario", "required: null or 1 to 63 characters of A-Z a-z 0-9 _ - . "
                   "starting with a letter or digit");
    const cJSON *loc = member(d, "locale"), *cur = member(d, "currency");
    if (!cJSON_IsString(loc) || !one_of(loc->valuestring, locales))
        return bad(k, "locale", "required: ko-KR, ja-JP or en-US");
    if (!cJSON_IsString(cur) || !one_of(cur->valuestring, currencies))
        return bad(k, "currency", "required: KRW, JPY or USD");
    const cJSON *cycle = member(d, "cycle"), *period = member(d, "period");
    vb_date cs, ce, issue, ps, pe;
    if (!cJSON_IsObject(cycle))
        return bad(k, "cycle", "required: an object");
    if ((st = need_date(k, cycle, "start", "cycle.start", &cs)) ||
        (st = need_date(k, cycle, "end", "cycle.end", &ce)) ||
        (st = need_date(k, cycle, "issue_date", "cycle.issue_date", &issue)))
        return st;
    int64_t cdays = vb_date_days(ce) - vb_date_days(cs) + 1;
    if (cdays < 1 || cdays > 31)
        return bad(k, "cycle", "must run 1 to 31 days from start to end");
    if (!cJSON_IsObject(period))
        return bad(k, "period", "required: an object");
    if ((st = need_date(k, period, "start", "period.start", &ps)) ||
        (st = need_date(k, period, "end", "period.end", &pe)))
        return st;
    if (vb_date_days(ps) < vb_date_days(cs) || vb_date_days(ps) > vb_date_days(pe) ||
        vb_date_days(pe) != vb_date_days(ce))
        return bad(k, "period", "must run from a day of the cycle to the cycle's end");
    if (!cJSON_IsBool(member(d, "senior")))
        return bad(k, "senior", "required: true or false");
    const cJSON *speed = member(d, "speed");
    if (!cJSON_IsNumber(speed) || !(speed->valuedouble >= 0.25 && speed->valuedouble <= 1.0))
        return bad(k, "speed", "required: a number from 0.25 to 1");
    const cJSON *flags = member(d, "flags");
    if (!cJSON_IsArray(flags) || cJSON_GetArraySize(flags) > 16)
        return bad(k, "flags", "required: an array of at most 16 strings");
    for (const cJSON *f = flags->child; f; f = f->next)
        if (!cJSON_IsString(f) || strlen(f->valuestring) > 64)
            return bad(k, "flags", "must hold only strings of at most 64 bytes");
    if ((st = check_amounts(k, member(d, "amounts"))) ||
        (st = need_string(k, d, "name_masked", "name_masked", 400)))
        return st;
    const cJSON *context = member(d, "context");
    if (!cJSON_IsObject(context))
        return bad(k, "context", "required: an object (the fill context)");
    const cJSON *cid = member(context, "id");
    if (!cJSON_IsString(cid) || strcmp(cid->valuestring, id->valuestring) != 0)
        return bad(k, "context.id", "must be the bill's id");
    char path[128] = "";
    if (find_birth(d, 0, path, sizeof path))
        return bad(k, path, "a bill never holds a birth date");
    return VBILL_OK;
}

VBILL_API vbill_status vbill_bill_from_json(vbill_ctx *ctx, const char *json, size_t len,
                                            vbill_bill **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_from_json: no bill to return");
    *out = NULL;
    if (!json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_from_json: no JSON given");
    if (len == (size_t)-1)
        len = strlen(json);
    checker k = {.ctx = ctx};
    snprintf(k.label, sizeof k.label, "bill");
    if (len > MAX_BILL_BYTES)
        return bad(&k, "(bill)", "larger than %u bytes", MAX_BILL_BYTES);
    if (vb_utf8_check((const unsigned char *)json, len, false) < 0)
        return bad(&k, "(bill)", "not valid UTF-8");
    cJSON *doc = vb_json_parse(json, len);
    if (!doc)
        return vb_error(ctx, VBILL_ERR_JSON, "bill: not well-formed JSON");
    vbill_status st = depth_of(doc, 0) > MAX_DEPTH
                          ? bad(&k, "(bill)", "nested more than %d levels deep", MAX_DEPTH)
                          : check_doc(&k, doc);
    vbill_bill *b = st ? NULL : calloc(1, sizeof *b);
    if (!b) {
        cJSON_Delete(doc);
        return st ? st : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    b->doc = doc;
    take_values(b);
    *out = b;
    return VBILL_OK;
}

/* ---- the rest ---- */

VBILL_API vbill_status vbill_bill_to_json(vbill_ctx *ctx, const vbill_bill *bill, char **out_json)
{
    vb_clear_error(ctx);
    if (!out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_to_json: no result to return");
    *out_json = NULL;
    if (!bill)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_to_json: no bill");
    *out_json = vb_json_print(bill->doc);
    return *out_json ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
}

VBILL_API vbill_status vbill_bill_context(vbill_ctx *ctx, const vbill_bill *bill, char **out_json)
{
    vb_clear_error(ctx);
    if (!out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_context: no result to return");
    *out_json = NULL;
    if (!bill)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_bill_context: no bill");
    *out_json = vb_json_print(bill->context);
    return *out_json ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
}

VBILL_API const char *vbill_bill_id(const vbill_bill *bill) { return bill ? bill->ident.id : NULL; }

VBILL_API const char *vbill_bill_scenario(const vbill_bill *bill)
{
    return bill && bill->ident.scenario[0] ? bill->ident.scenario : NULL;
}

VBILL_API const char *vbill_bill_locale(const vbill_bill *bill)
{
    return bill ? bill->ident.locale : NULL;
}

VBILL_API const char *vbill_bill_cycle_start(const vbill_bill *bill)
{
    return bill ? bill->cycle_start : NULL;
}

VBILL_API const char *vbill_bill_cycle(const vbill_bill *bill) { return bill ? bill->cycle : NULL; }

VBILL_API int vbill_bill_senior(const vbill_bill *bill) { return bill && bill->ident.senior; }

VBILL_API double vbill_bill_speed(const vbill_bill *bill) { return bill ? bill->ident.speed : 1.0; }

VBILL_API int vbill_bill_can_issue_link(const vbill_bill *bill)
{
    return bill && bill->ident.has_birth;
}

VBILL_API void vbill_bill_free(vbill_bill *bill)
{
    if (!bill)
        return;
    cJSON_Delete(bill->doc);
    OPENSSL_cleanse(bill, sizeof *bill);
    free(bill);
}
