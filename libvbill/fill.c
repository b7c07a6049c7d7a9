/*
 * fill.c: the personal values of a record (SPEC.md section 4) in exact 64-bit integer
 * arithmetic with overflow checked, the Mustache fill context, and the public classify /
 * fill calls with their JSON results.
 */
#include "config.h"
#include "format.h"
#include "mustache.h"
#include "fill.h"
#include "slots.h"

#include <stdlib.h>
#include <string.h>

/* ---- arithmetic ---- */

static vbill_status overflow(vbill_ctx *ctx, const vb_record *r, const char *what)
{
    char label[128];
    vb_record_label(r, label, sizeof label);
    return vb_error(ctx, VBILL_ERR_OVERFLOW, "%s: %s: the amount is too large to compute exactly",
                    label, what);
}

/* trunc(amount x days / cycle_days): rounded down, then down to a multiple of unit. */
static bool prorate(int64_t amount, int64_t days, int64_t cycle_days, int64_t unit, int64_t *out)
{
    int64_t product;
    if (__builtin_mul_overflow(amount, days, &product))
        return false;
    int64_t v = product / cycle_days;
    *out = v / unit * unit;
    return true;
}

vbill_status vb_fill_compute(vbill_ctx *ctx, vb_record *r)
{
    int64_t cstart = vb_date_days(r->cycle_start), cend = vb_date_days(r->cycle_end);
    r->cycle_days = cend - cstart + 1;
    int64_t sum_prorated = 0, sum_next = 0;
    int64_t period_from = -1;
    for (int i = 0; i < r->nlines; i++) {
        vb_line *l = &r->lines[i];
        l->net = l->monthly_fee - l->discount_sum; /* discounts <= fee: validated */
        int64_t from = cstart;
        if (l->event == VB_EV_NEW && vb_date_days(l->start) > cstart)
            from = vb_date_days(l->start);
        l->from = vb_date_from_days(from);
        l->days = from > cend ? 0 : cend - from + 1;
        if (!prorate(l->net, l->days, r->cycle_days, r->rounding_unit, &l->prorated))
            return overflow(ctx, r, "lines[].prorated");
        int64_t inst = l->has_device && l->months_left >= 1 ? l->installment : 0;
        if (__builtin_add_overflow(l->net, inst, &l->next_month) ||
            __builtin_add_overflow(sum_prorated, l->prorated, &sum_prorated) ||
            __builtin_add_overflow(sum_next, l->next_month, &sum_next))
            return overflow(ctx, r, "lines");
        if (l->event == VB_EV_NEW && l->days > 0 && (period_from < 0 || from < period_from))
            period_from = from;
    }
    r->bundle_days = r->bundle_prorated = 0;
    int64_t bundle_discount = 0;
    if (r->bundled) {
        int64_t bstart = vb_date_days(r->bundle_start);
        if (bstart < cstart)
            bstart = cstart;
        r->bundle_days = bstart > cend ? 0 : cend - bstart + 1;
        if (!prorate(r->bundle_discount, r->bundle_days, r->cycle_days, r->rounding_unit,
                     &r->bundle_prorated))
            return overflow(ctx, r, "bundle_prorated");
        bundle_discount = r->bundle_discount;
    }
    int64_t this_month, next_month;
    if (__builtin_sub_overflow(sum_prorated, r->bundle_prorated, &this_month) ||
        __builtin_add_overflow(this_month, r->other_sum, &this_month) ||
        __builtin_sub_overflow(sum_next, bundle_discount, &next_month))
        return overflow(ctx, r, "this_month");
    r->this_month = this_month < 0 ? 0 : this_month;
    r->next_month = next_month < 0 ? 0 : next_month;
    r->period_start = vb_date_from_days(period_from < 0 ? cstart : period_from);
    r->period_end = r->cycle_end;
    r->total_mismatch = r->has_total && r->total != r->this_month;
    return VBILL_OK;
}

/* ---- the Mustache context ---- */

/* The context is the record's own tree with the computed values added, in the record's
 * document.  Computed values replace whatever the record may have under their names: the
 * drop lists below always go (and with them the birth date); the computed values are put
 * when wanted.  The full context wants all of them; vbill_fill wants only the names its slot
 * templates look up (a name nobody looks up cannot change a rendering). */
#define FILL_KEYS(X)                                                                        \
    X(NET, "net") X(DAYS, "days") X(FROM, "from") X(PRORATED, "prorated")                 \
    X(NEXT_MONTH, "next_month") X(DISCOUNT_TOTAL, "discount_total")                        \
    X(MONTHLY_FEE_TEXT, "monthly_fee_text") X(NET_TEXT, "net_text")                        \
    X(PRORATED_TEXT, "prorated_text") X(NEXT_MONTH_TEXT, "next_month_text")                \
    X(DISCOUNT_TOTAL_TEXT, "discount_total_text") X(KIND_TEXT, "kind_text")                \
    X(FIRST, "first") X(LAST, "last") X(AMOUNT_TEXT, "amount_text")                        \
    X(INSTALLMENT_TEXT, "installment_text") X(LOCALE, "locale") X(CURRENCY, "currency")    \
    X(SCENARIO, "scenario") X(AGE, "age") X(SENIOR, "senior") X(SPEED, "speed")            \
    X(CYCLE_DAYS, "cycle_days") X(THIS_MONTH, "this_month")                                \
    X(BUNDLE_PRORATED, "bundle_prorated") X(THIS_MONTH_TEXT, "this_month_text")            \
    X(BUNDLE_PRORATED_TEXT, "bundle_prorated_text") X(PERIOD_DAYS, "period_days")          \
    X(FLAGS, "flags") X(PERIOD, "period") X(START, "start") X(END, "end")                  \
    X(PERIOD_TEXT, "period_text") X(ISSUE_DATE_TEXT, "issue_date_text")                    \
    X(NAME_MASKED, "name_masked") X(HAS_PAYMENT, "has_payment")                            \
    X(PAYMENT_TEXT, "payment_text") X(HAS_BENEFITS, "has_benefits")                        \
    X(BENEFITS_TEXT, "benefits_text") X(HAS_DEVICE, "has_device")                          \
    X(HAS_BUNDLE, "has_bundle") X(DISCOUNT_TEXT, "discount_text")                          \
    X(OTHER_TOTAL, "other_total") X(OTHER_TOTAL_TEXT, "other_total_text")                  \
    X(ROUNDING_UNIT, "rounding_unit")

#define KEY_ID(id, name) K_##id,
enum { FILL_KEYS(KEY_ID) K_COUNT };
#define KEY_NAME(id, name) name,
static const char *const key_names[] = {FILL_KEYS(KEY_NAME)};
_Static_assert(K_COUNT <= 64, "the wanted keys are a 64-bit mask");
#define WANT_ALL UINT64_MAX

typedef struct filler {
    vb_record *r;
    uint64_t want;
    vb_buf scratch;
} filler;

/* Adds obj[key k] = v (the put_* helpers check that k is wanted).  False on NOMEM. */
static bool put(vb_jval *obj, int k, vb_jval *v) { return vb_jadd(obj, key_names[k], v); }

static bool wanted(const filler *f, int k) { return (f->want >> k) & 1; }

static bool put_int(filler *f, vb_jval *obj, int k, int64_t v)
{
    return !wanted(f, k) || put(obj, k, vb_jint(f->r->doc, v));
}

static bool put_bool(filler *f, vb_jval *obj, int k, bool v)
{
    return !wanted(f, k) || put(obj, k, vb_jbool(f->r->doc, v));
}

static bool put_str(filler *f, vb_jval *obj, int k, const char *s)
{
    return !wanted(f, k) || put(obj, k, vb_jstr(f->r->doc, s, strlen(s)));
}

/* Puts the scratch buffer's text under key k and empties the buffer. */
static bool put_scratch(filler *f, vb_jval *obj, int k)
{
    vb_buf *b = &f->scratch;
    bool ok = !b->failed &&
              (!wanted(f, k) || put(obj, k, vb_jstr(f->r->doc, b->data ? b->data : "", b->len)));
    b->len = 0;
    return ok;
}

static bool put_money(filler *f, vb_jval *obj, int k, int64_t v)
{
    if (!wanted(f, k))
        return true;
    f->scratch.len = 0;
    vb_fmt_money(&f->scratch, v, f->r->currency, f->r->locale);
    return put_scratch(f, obj, k);
}

static bool put_date(filler *f, vb_jval *obj, int k, vb_date d)
{
    if (!wanted(f, k))
        return true;
    char s[11];
    vb_date_format(d, s);
    return put(obj, k, vb_jstr(f->r->doc, s, 10));
}

/* A validated integer member (record.c accepts 85000 and 85000.0 alike). */
static int64_t int_of(const vb_jval *v) { return v->is_int ? v->i : (int64_t)v->num; }

static const char *kind_text(vb_kind k, const char *locale)
{
    bool mobile = k == VB_KIND_MOBILE;
    if (strcmp(locale, "en-US") == 0)
        return mobile ? "Mobile" : "Home internet";
    if (strcmp(locale, "ja-JP") == 0)
        return mobile ? "携帯電話" : "インターネット";
    return mobile ? "휴대폰" : "인터넷";
}

static const char *const line_keys[] = {
    "net", "days", "from", "prorated", "next_month", "discount_total", "monthly_fee_text",
    "net_text", "prorated_text", "next_month_text", "discount_total_text", "kind_text", "first",
    "last", NULL};
static const char *const amount_keys[] = {"amount_text", NULL};
static const char *const device_keys[] = {"installment_text", NULL};

static bool add_charge_texts(filler *f, vb_jval *list)
{
    bool ok = true;
    for (vb_jval *item = vb_jis(list, VB_JARRAY) ? list->child : NULL; item && ok;
         item = item->next) {
        vb_jdrop(item, amount_keys);
        ok = put_money(f, item, K_AMOUNT_TEXT, int_of(vb_jget(item, "amount")));
    }
    return ok;
}

static bool add_line_values(filler *f, int i)
{
    vb_record *r = f->r;
    vb_line *l = &r->lines[i];
    vb_jval *o = l->json;
    vb_jdrop(o, line_keys);
    bool ok = put_int(f, o, K_NET, l->net) && put_int(f, o, K_DAYS, l->days) &&
              put_date(f, o, K_FROM, l->from) && put_int(f, o, K_PRORATED, l->prorated) &&
              put_int(f, o, K_NEXT_MONTH, l->next_month) &&
              put_int(f, o, K_DISCOUNT_TOTAL, l->discount_sum) &&
              put_money(f, o, K_MONTHLY_FEE_TEXT, l->monthly_fee) &&
              put_money(f, o, K_NET_TEXT, l->net) &&
              put_money(f, o, K_PRORATED_TEXT, l->prorated) &&
              put_money(f, o, K_NEXT_MONTH_TEXT, l->next_month) &&
              put_money(f, o, K_DISCOUNT_TOTAL_TEXT, l->discount_sum) &&
              put_str(f, o, K_KIND_TEXT, kind_text(l->kind, r->locale)) &&
              put_bool(f, o, K_FIRST, i == 0) && put_bool(f, o, K_LAST, i == r->nlines - 1);
    if (ok && !l->id) { /* always: the output names lines by id */
        char id[16];
        snprintf(id, sizeof id, "L%d", i + 1);
        vb_jval *v = vb_jstr(r->doc, id, strlen(id));
        ok = vb_jadd(o, "id", v);
        l->id = ok ? v->str : NULL;
    }
    vb_jval *dev = vb_jget(o, "device");
    if (ok && vb_jis(dev, VB_JOBJECT)) {
        vb_jdrop(dev, device_keys);
        ok = put_money(f, dev, K_INSTALLMENT_TEXT, l->installment);
    }
    return ok && add_charge_texts(f, vb_jget(o, "discounts"));
}

/* What the context adds at its top level, and in bundle and bill. */
static const char *const root_keys[] = {
    "birth", "locale", "currency", "scenario", "age", "senior", "speed", "cycle_days",
    "this_month", "next_month", "bundle_prorated", "this_month_text", "next_month_text",
    "bundle_prorated_text", "period_days", "flags", "period", "period_text", "issue_date_text",
    "name_masked", "payment_text", "has_payment", "has_benefits", "benefits_text", "has_device",
    "has_bundle", NULL};
static const char *const bundle_keys[] = {"days", "prorated", "discount_text", "prorated_text",
                                          "start", NULL};
static const char *const bill_keys[] = {"other_total", "other_total_text", "rounding_unit", NULL};

static const char *str_of(const vb_jval *v) { return vb_jis(v, VB_JSTRING) ? v->str : NULL; }

static bool add_root_values(filler *f)
{
    vb_record *r = f->r;
    vb_jval *root = r->root;
    vb_jdoc *d = r->doc;
    vb_buf *scratch = &f->scratch;
    /* The birth date never leaves the library: "birth" is among the dropped keys. */
    vb_jdrop(root, root_keys);
    bool ok = put_str(f, root, K_LOCALE, r->locale) && put_str(f, root, K_CURRENCY, r->currency) &&
              (!wanted(f, K_SCENARIO) ||
               put(root, K_SCENARIO, r->scenario ? vb_jstr(d, r->scenario, strlen(r->scenario))
                                                    : vb_jnew(d, VB_JNULL))) &&
              put_int(f, root, K_AGE, r->age) && put_bool(f, root, K_SENIOR, r->senior) &&
              (!wanted(f, K_SPEED) || put(root, K_SPEED, vb_jnum(d, r->speed))) &&
              put_int(f, root, K_CYCLE_DAYS, r->cycle_days) &&
              put_int(f, root, K_THIS_MONTH, r->this_month) &&
              put_int(f, root, K_NEXT_MONTH, r->next_month) &&
              put_int(f, root, K_BUNDLE_PRORATED, r->bundle_prorated) &&
              put_money(f, root, K_THIS_MONTH_TEXT, r->this_month) &&
              put_money(f, root, K_NEXT_MONTH_TEXT, r->next_month) &&
              put_money(f, root, K_BUNDLE_PRORATED_TEXT, r->bundle_prorated) &&
              put_int(f, root, K_PERIOD_DAYS,
                      vb_date_days(r->period_end) - vb_date_days(r->period_start) + 1);
    if (ok && wanted(f, K_FLAGS)) {
        vb_jval *flags = vb_jnew(d, VB_JARRAY);
        ok = put(root, K_FLAGS, flags);
        if (ok && r->total_mismatch)
            ok = vb_jadd(flags, NULL, vb_jstr(d, "total_mismatch", 14));
    }
    if (ok && wanted(f, K_PERIOD)) {
        vb_jval *period = vb_jnew(d, VB_JOBJECT);
        ok = put(root, K_PERIOD, period) && put_date(f, period, K_START, r->period_start) &&
             put_date(f, period, K_END, r->period_end);
    }
    scratch->len = 0;
    if (wanted(f, K_PERIOD_TEXT))
        vb_fmt_period(scratch, r->period_start, r->period_end, r->locale);
    ok = ok && put_scratch(f, root, K_PERIOD_TEXT);
    if (wanted(f, K_ISSUE_DATE_TEXT))
        vb_fmt_month_day(scratch, r->issue_date, r->locale);
    ok = ok && put_scratch(f, root, K_ISSUE_DATE_TEXT);
    if (wanted(f, K_NAME_MASKED))
        vb_fmt_name_masked(scratch, r->name, r->locale);
    ok = ok && put_scratch(f, root, K_NAME_MASKED);

    const vb_jval *pay = vb_jget(root, "payment");
    if (vb_jis(pay, VB_JOBJECT) && (wanted(f, K_HAS_PAYMENT) || wanted(f, K_PAYMENT_TEXT))) {
        const vb_jval *day = vb_jget(pay, "day");
        vb_fmt_payment(scratch, str_of(vb_jget(pay, "method")),
                       str_of(vb_jget(pay, "institution")), str_of(vb_jget(pay, "account_last4")),
                       vb_jis(day, VB_JNUMBER) ? (int)int_of(day) : 0, r->locale);
    }
    ok = ok && put_bool(f, root, K_HAS_PAYMENT, scratch->len > 0) &&
         put_scratch(f, root, K_PAYMENT_TEXT);

    const vb_jval *benefits = vb_jget(root, "benefits");
    for (const vb_jval *b = vb_jis(benefits, VB_JARRAY) ? benefits->child : NULL; b; b = b->next) {
        vb_buf_puts(scratch, scratch->len ? ", " : "");
        vb_buf_puts(scratch, b->str);
    }
    return ok && put_bool(f, root, K_HAS_BENEFITS, scratch->len > 0) &&
           put_scratch(f, root, K_BENEFITS_TEXT);
}

static vbill_status context_build(vbill_ctx *ctx, vb_record *r, uint64_t want)
{
    filler fs = {.r = r, .want = want}, *f = &fs;
    bool ok = add_root_values(f);
    bool has_device = false;
    for (int i = 0; i < r->nlines && ok; i++) {
        ok = add_line_values(f, i);
        has_device |= r->lines[i].has_device;
    }
    ok = ok && put_bool(f, r->root, K_HAS_DEVICE, has_device) &&
         put_bool(f, r->root, K_HAS_BUNDLE, r->bundled);

    vb_jval *bundle = vb_jget(r->root, "bundle");
    if (ok && vb_jis(bundle, VB_JOBJECT)) {
        vb_jdrop(bundle, bundle_keys);
        ok = put_int(f, bundle, K_DAYS, r->bundle_days) &&
             put_int(f, bundle, K_PRORATED, r->bundle_prorated) &&
             put_money(f, bundle, K_DISCOUNT_TEXT, r->bundle_discount) &&
             put_money(f, bundle, K_PRORATED_TEXT, r->bundle_prorated) &&
             put_date(f, bundle, K_START, r->bundle_start);
    }
    vb_jval *bill = vb_jget(r->root, "bill");
    vb_jdrop(bill, bill_keys);
    ok = ok && put_int(f, bill, K_OTHER_TOTAL, r->other_sum) &&
         put_money(f, bill, K_OTHER_TOTAL_TEXT, r->other_sum) &&
         put_int(f, bill, K_ROUNDING_UNIT, r->rounding_unit) &&
         add_charge_texts(f, vb_jget(bill, "other_charges"));
    vb_buf_free(&f->scratch);
    if (!ok)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory while filling a record");
    return VBILL_OK;
}

vbill_status vb_fill_context_build(vbill_ctx *ctx, vb_record *r)
{
    return context_build(ctx, r, WANT_ALL);
}

/* Adds to *want the computed keys named name (a vb_mustache_names callback). */
static void want_name(void *arg, const char *name)
{
    uint64_t *want = arg;
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(key_names[k], name) == 0)
            *want |= UINT64_C(1) << k;
}

/* ---- compiled default slot templates, per scenario and locale, kept on the context ---- */

typedef struct vb_slot_set {
    const char *scenario_key, *locale_key; /* the pointers last asked with (see slot_set) */
    char scenario[64];
    char locale[8];
    int n;
    vb_slot_def defs[VB_MAX_SLOTS];
    vb_mustache *compiled[VB_MAX_SLOTS];
    uint64_t want;           /* the computed keys the templates look up */
    struct vb_slot_set *next;
} vb_slot_set;

struct vb_mustache_cache {
    vb_slot_set *sets;
};

static void fill_cache_free(struct vb_mustache_cache *c)
{
    if (!c)
        return;
    for (vb_slot_set *s = c->sets, *next; s; s = next) {
        next = s->next;
        for (int i = 0; i < s->n; i++)
            vb_mustache_free(s->compiled[i]);
        free(s);
    }
    free(c);
}

static const vb_slot_set *slot_set(vbill_ctx *ctx, const char *scenario, const char *locale,
                                   vbill_status *st)
{
    if (!ctx->tmpl_cache) {
        if (!(ctx->tmpl_cache = calloc(1, sizeof *ctx->tmpl_cache))) {
            *st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
            return NULL;
        }
        ctx->tmpl_cache_free = fill_cache_free; /* context.c frees what it cannot know */
    }
    /* Records name their scenario and locale by pointers into the rule set and a static
     * table: find the set by those first (confirmed by the strings: a reloaded rule set may
     * reuse an address), and search by the strings only when none matches. */
    for (vb_slot_set *s = ctx->tmpl_cache->sets; s; s = s->next)
        if (s->scenario_key == scenario && s->locale_key == locale &&
            strcmp(s->scenario, scenario) == 0 && strcmp(s->locale, locale) == 0)
            return s;
    for (vb_slot_set *s = ctx->tmpl_cache->sets; s; s = s->next)
        if (strcmp(s->scenario, scenario) == 0 && strcmp(s->locale, locale) == 0) {
            s->scenario_key = scenario;
            s->locale_key = locale;
            return s;
        }
    vb_slot_set *s = calloc(1, sizeof *s);
    if (!s) {
        *st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(s->scenario, sizeof s->scenario, "%s", scenario);
    snprintf(s->locale, sizeof s->locale, "%s", locale);
    s->scenario_key = scenario;
    s->locale_key = locale;
    s->n = vb_default_slots(scenario, locale, s->defs);
    for (int i = 0; i < s->n; i++) {
        s->compiled[i] = vb_mustache_compile(ctx, s->defs[i].name, s->defs[i].tmpl,
                                             strlen(s->defs[i].tmpl), st);
        if (!s->compiled[i]) {
            for (int k = 0; k < i; k++)
                vb_mustache_free(s->compiled[k]);
            free(s);
            return NULL;
        }
        if (!vb_mustache_names(s->compiled[i], want_name, &s->want))
            s->want = WANT_ALL;
    }
    s->next = ctx->tmpl_cache->sets;
    ctx->tmpl_cache->sets = s;
    return s;
}

/* ---- public calls ---- */

vbill_status vb_record_process(vbill_ctx *ctx, const char *json, size_t len, long line,
                               vb_record *r)
{
    vbill_status st = vb_record_parse(ctx, json, len, line, r);
    if (st)
        return st;
    vb_classify_record(ctx, r);
    if ((st = vb_fill_compute(ctx, r)))
        vb_record_free(r);
    return st;
}

static void emit_classification(vb_buf *b, const vb_record *r)
{
    vb_buf_puts(b, "{\"id\":");
    vb_buf_json_string(b, r->id);
    vb_buf_puts(b, ",\"scenario\":");
    if (r->scenario)
        vb_buf_json_string(b, r->scenario);
    else
        vb_buf_puts(b, "null");
    vb_buf_puts(b, ",\"age\":");
    vb_buf_int(b, r->age);
    vb_buf_puts(b, r->senior ? ",\"senior\":true,\"speed\":" : ",\"senior\":false,\"speed\":");
    if (r->speed == 1.0)
        vb_buf_puts(b, "1");
    else
        vb_buf_printf(b, "%.15g", r->speed);
    vb_buf_puts(b, r->total_mismatch ? ",\"flags\":[\"total_mismatch\"]" : ",\"flags\":[]");
}

static vbill_status finish(vbill_ctx *ctx, vb_buf *b, char **out_json)
{
    *out_json = vb_buf_take(b);
    return *out_json ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
}

VBILL_API vbill_status vbill_classify(vbill_ctx *ctx, const char *record_json, size_t len,
                                      long line, char **out_json)
{
    vb_clear_error(ctx);
    if (!ctx || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_classify: NULL argument");
    *out_json = NULL;
    vb_record r;
    vbill_status st = vb_record_process(ctx, record_json, len, line, &r);
    if (st)
        return st;
    vb_buf b = {0};
    emit_classification(&b, &r);
    vb_buf_puts(&b, "}");
    vb_record_free(&r);
    return finish(ctx, &b, out_json);
}

VBILL_API vbill_status vbill_fill(vbill_ctx *ctx, const char *record_json, size_t len,
                                  long line, char **out_json)
{
    vb_clear_error(ctx);
    if (!ctx || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_fill: NULL argument");
    *out_json = NULL;
    vb_record r;
    vbill_status st = vb_record_process(ctx, record_json, len, line, &r);
    if (st)
        return st;
    vb_buf b = {0};
    vb_buf_reserve(&b, 2048); /* a three-line record's result, without regrowing */
    emit_classification(&b, &r);
    char start[11], end[11];
    vb_date_format(r.period_start, start);
    vb_date_format(r.period_end, end);
    vb_buf_puts(&b, ",\"period\":{\"start\":\"");
    vb_buf_append(&b, start, 10);
    vb_buf_puts(&b, "\",\"end\":\"");
    vb_buf_append(&b, end, 10);
    vb_buf_puts(&b, "\"},\"amounts\":{\"this_month\":");
    vb_buf_int(&b, r.this_month);
    vb_buf_puts(&b, ",\"next_month\":");
    vb_buf_int(&b, r.next_month);
    vb_buf_puts(&b, ",\"bundle_prorated\":");
    vb_buf_int(&b, r.bundle_prorated);
    vb_buf_puts(&b, ",\"lines\":[");
    for (int i = 0; i < r.nlines; i++) {
        const vb_line *l = &r.lines[i];
        vb_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        if (l->id) {
            vb_buf_json_string(&b, l->id);
        } else { /* lines without an id are named by position, as in the context */
            vb_buf_puts(&b, "\"L");
            vb_buf_int(&b, i + 1);
            vb_buf_puts(&b, "\"");
        }
        vb_buf_puts(&b, ",\"days\":");
        vb_buf_int(&b, l->days);
        vb_buf_puts(&b, ",\"prorated\":");
        vb_buf_int(&b, l->prorated);
        vb_buf_puts(&b, ",\"next_month\":");
        vb_buf_int(&b, l->next_month);
        vb_buf_puts(&b, "}");
    }
    vb_buf_puts(&b, "]},\"slots\":{");
    if (r.scenario) {
        const vb_slot_set *set = slot_set(ctx, r.scenario, r.locale, &st);
        if (set)
            st = context_build(ctx, &r, set->want);
        vb_buf text = {0}; /* one buffer for every slot's rendering */
        for (int i = 0; set && !st && i < set->n; i++) {
            /* Emptied and terminated: an empty slot must not show the previous one. */
            text.len = 0;
            vb_buf_append(&text, "", 0);
            st = vb_mustache_render_into(ctx, set->compiled[i], r.root, NULL, &text);
            if (!st) {
                vb_buf_puts(&b, i ? "," : "");
                vb_buf_json_string(&b, set->defs[i].name);
                vb_buf_puts(&b, ":");
                vb_buf_json_string(&b, text.data);
            }
        }
        vb_buf_free(&text);
    }
    vb_buf_puts(&b, "}}");
    vb_record_free(&r);
    if (st) {
        vb_buf_free(&b);
        return st;
    }
    return finish(ctx, &b, out_json);
}

VBILL_API vbill_status vbill_default_slots(vbill_ctx *ctx, const char *scenario,
                                           const char *locale, char **out_json)
{
    vb_clear_error(ctx);
    if (!ctx || !scenario || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_default_slots: NULL argument");
    vb_slot_def defs[VB_MAX_SLOTS];
    int n = vb_default_slots(scenario, locale ? locale : "ko-KR", defs);
    vb_buf b = {0};
    vb_buf_puts(&b, "{");
    for (int i = 0; i < n; i++) {
        vb_buf_puts(&b, i ? "," : "");
        vb_buf_json_string(&b, defs[i].name);
        vb_buf_puts(&b, ":");
        vb_buf_json_string(&b, defs[i].tmpl);
    }
    vb_buf_puts(&b, "}");
    return finish(ctx, &b, out_json);
}
