/*
 * record.c: subscriber records (SPEC.md section 2): JSON in, validated struct out.
 *
 * Every rule failure names the record, the field (as a JSON path such as
 * "lines[1].discounts[0].amount") and the problem.  JSON null counts as absent for optional
 * fields.  Unknown fields are ignored.
 */
#include "config.h"
#include "record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORD_BYTES (1u << 20)

void vb_record_label(const vb_record *r, char *buf, size_t size)
{
    if (r->id && r->line > 0)
        snprintf(buf, size, "record '%s' (line %ld)", r->id, r->line);
    else if (r->id)
        snprintf(buf, size, "record '%s'", r->id);
    else if (r->line > 0)
        snprintf(buf, size, "record at line %ld", r->line);
    else
        snprintf(buf, size, "record");
}

/* Records a rule failure: "<record>: <prefix>.<field>: <problem>".  Paths are put together
 * only here, on failure, to keep the valid path free of formatting. */
static vbill_status fail(vbill_ctx *ctx, const vb_record *r, const char *prefix,
                         const char *field, const char *fmt, ...) VB_PRINTF(5, 6);
static vbill_status fail(vbill_ctx *ctx, const vb_record *r, const char *prefix,
                         const char *field, const char *fmt, ...)
{
    char label[128], problem[512];
    vb_record_label(r, label, sizeof label);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    return vb_error(ctx, VBILL_ERR_RECORD, "%s: %s%s%s: %s", label, prefix ? prefix : "",
                    prefix && *field ? "." : "", field, problem);
}

/* "prefix.key[i]" (or "key[i]") into out, without printf: this runs for every line and
 * every charge of every record. */
static void index_path(char *out, size_t size, const char *prefix, const char *key, int i)
{
    char digits[12];
    int n = (int)sizeof digits;
    do {
        digits[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0 && n > 0);
    size_t len = 0;
    const char *parts[] = {prefix, prefix ? "." : NULL, key, "["};
    for (size_t k = 0; k < 4; k++)
        for (const char *c = parts[k]; c && *c && len + 1 < size; c++)
            out[len++] = *c;
    for (int k = n; k < (int)sizeof digits && len + 1 < size; k++)
        out[len++] = digits[k];
    if (len + 1 < size)
        out[len++] = ']';
    out[len] = '\0';
}

/* ---- field readers ---- */

static const char *type_name(const vb_jval *v)
{
    switch (v->type) {
    case VB_JSTRING:
        return "a string";
    case VB_JNUMBER:
        return "a number";
    case VB_JFALSE:
    case VB_JTRUE:
        return "a boolean";
    case VB_JARRAY:
        return "an array";
    case VB_JOBJECT:
        return "an object";
    case VB_JNULL:
        break;
    }
    return "null";
}

static bool absent(const vb_jval *v) { return v == NULL || v->type == VB_JNULL; }

/* An optional or required string member; *out NULL when absent and optional. */
static vbill_status get_string(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                               const char *prefix, const char *key, bool required,
                               const char **out)
{
    const vb_jval *v = vb_jget(obj, key);
    *out = NULL;
    if (absent(v))
        return required ? fail(ctx, r, prefix, key, "required") : VBILL_OK;
    if (!vb_jis(v, VB_JSTRING))
        return fail(ctx, r, prefix, key, "must be a string, not %s", type_name(v));
    *out = v->str;
    return VBILL_OK;
}

static vbill_status get_date(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                             const char *prefix, const char *key, bool required, bool *present,
                             vb_date *out)
{
    const char *s;
    vbill_status st = get_string(ctx, r, obj, prefix, key, required, &s);
    if (st)
        return st;
    if (present)
        *present = s != NULL;
    if (s && !vb_date_parse(s, out))
        return fail(ctx, r, prefix, key, "'%.40s' is not a real date of the form YYYY-MM-DD", s);
    return VBILL_OK;
}

/* An integer member in [min, max]. */
static vbill_status get_int(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                            const char *prefix, const char *key, bool required, int64_t min,
                            int64_t max, bool *present, int64_t *out)
{
    const vb_jval *v = vb_jget(obj, key);
    if (present)
        *present = false;
    if (absent(v))
        return required ? fail(ctx, r, prefix, key, "required") : VBILL_OK;
    if (!vb_jis(v, VB_JNUMBER))
        return fail(ctx, r, prefix, key, "must be an integer, not %s", type_name(v));
    if (v->is_int) {
        if (v->i < min || v->i > max)
            return fail(ctx, r, prefix, key, "%lld is out of range (%lld to %lld)",
                        (long long)v->i, (long long)min, (long long)max);
        *out = v->i;
    } else { /* written with a fraction or exponent (85000.0, 1e3), or past int64 */
        double d = v->num;
        if (!isfinite(d) || d != floor(d))
            return fail(ctx, r, prefix, key, "must be an integer");
        if (d < (double)min || d > (double)max)
            return fail(ctx, r, prefix, key, "%.17g is out of range (%lld to %lld)", d,
                        (long long)min, (long long)max);
        *out = (int64_t)d;
    }
    if (present)
        *present = true;
    return VBILL_OK;
}

static vbill_status get_object(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                               const char *prefix, const char *key, bool required,
                               const vb_jval **out)
{
    const vb_jval *v = vb_jget(obj, key);
    *out = NULL;
    if (absent(v))
        return required ? fail(ctx, r, prefix, key, "required") : VBILL_OK;
    if (!vb_jis(v, VB_JOBJECT))
        return fail(ctx, r, prefix, key, "must be an object, not %s", type_name(v));
    *out = v;
    return VBILL_OK;
}

static vbill_status get_array(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                              const char *prefix, const char *key, bool required,
                              const vb_jval **out)
{
    const vb_jval *v = vb_jget(obj, key);
    *out = NULL;
    if (absent(v))
        return required ? fail(ctx, r, prefix, key, "required") : VBILL_OK;
    if (!vb_jis(v, VB_JARRAY))
        return fail(ctx, r, prefix, key, "must be an array, not %s", type_name(v));
    *out = v;
    return VBILL_OK;
}

/* A string member that must be one of `allowed` (NULL-terminated); *index gets its position,
 * or def when absent and optional. */
static vbill_status get_enum(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                             const char *prefix, const char *key, bool required,
                             const char *const *allowed, int def, int *index)
{
    const char *s;
    vbill_status st = get_string(ctx, r, obj, prefix, key, required, &s);
    if (st)
        return st;
    *index = def;
    if (!s)
        return VBILL_OK;
    for (int i = 0; allowed[i]; i++)
        if (strcmp(s, allowed[i]) == 0) {
            *index = i;
            return VBILL_OK;
        }
    char list[160] = "";
    for (int i = 0; allowed[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, allowed[i], sizeof list - strlen(list) - 1);
    }
    return fail(ctx, r, prefix, key, "'%.40s' is not one of %s", s, list);
}

/* A list of {"name", "amount"} items at prefix.key; sums the amounts into *sum. */
static vbill_status get_charges(vbill_ctx *ctx, const vb_record *r, const vb_jval *obj,
                                const char *prefix, const char *key, int64_t *sum)
{
    const vb_jval *arr;
    vbill_status st = get_array(ctx, r, obj, prefix, key, false, &arr);
    *sum = 0;
    if (st || !arr)
        return st;
    int i = 0;
    const vb_jval *item;
    for (item = arr->child; item; item = item->next) {
        const char *name;
        int64_t amount;
        /* Checked without a path first; a failure is checked again with the item's path
         * ("lines[1].discounts[0]") so that the message names it. */
        if (!vb_jis(item, VB_JOBJECT) || get_string(ctx, r, item, NULL, "name", false, &name) ||
            get_int(ctx, r, item, NULL, "amount", true, 0, VB_AMOUNT_LIMIT - 1, NULL, &amount)) {
            char p[96];
            index_path(p, sizeof p, prefix, key, i);
            if (!vb_jis(item, VB_JOBJECT))
                return fail(ctx, r, NULL, p, "must be an object, not %s", type_name(item));
            if ((st = get_string(ctx, r, item, p, "name", false, &name)))
                return st;
            return get_int(ctx, r, item, p, "amount", true, 0, VB_AMOUNT_LIMIT - 1, NULL,
                           &amount);
        }
        if (__builtin_add_overflow(*sum, amount, sum))
            return fail(ctx, r, prefix, key, "the amounts overflow");
        i++;
    }
    return VBILL_OK;
}

/* ---- the record ---- */

static vbill_status parse_id_and_name(vbill_ctx *ctx, vb_record *r)
{
    const vb_jval *v = vb_jget(r->root, "id");
    if (absent(v))
        return fail(ctx, r, NULL, "id", "required");
    if (!vb_jis(v, VB_JSTRING))
        return fail(ctx, r, NULL, "id", "must be a string, not %s", type_name(v));
    const char *id = v->str;
    if (!vb_valid_id(id))
        return fail(ctx, r, NULL, "id", "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    r->id = id;

    vbill_status st = get_string(ctx, r, r->root, NULL, "name", true, &r->name);
    if (st)
        return st;
    size_t n = strlen(r->name);
    if (n < 1 || n > 100)
        return fail(ctx, r, NULL, "name", "must be 1 to 100 bytes of UTF-8 (it has %zu)", n);
    if (vb_utf8_check((const unsigned char *)r->name, n, true) < 0)
        return fail(ctx, r, NULL, "name", "must be valid UTF-8 without control characters");
    return VBILL_OK;
}

static vbill_status parse_bill(vbill_ctx *ctx, vb_record *r)
{
    static const char *const locales[] = {"ko-KR", "ja-JP", "en-US", NULL};
    static const char *const currencies[] = {"KRW", "JPY", "USD", NULL};
    int li, ci;
    vbill_status st;
    if ((st = get_enum(ctx, r, r->root, NULL, "locale", false, locales, 0, &li)) ||
        (st = get_enum(ctx, r, r->root, NULL, "currency", false, currencies, 0, &ci)))
        return st;
    r->locale = locales[li];
    r->currency = currencies[ci];

    const vb_jval *bill;
    if ((st = get_object(ctx, r, r->root, NULL, "bill", true, &bill)) ||
        (st = get_date(ctx, r, bill, "bill", "issue_date", true, NULL,
                       &r->issue_date)) ||
        (st = get_date(ctx, r, bill, "bill", "cycle_start", true, NULL,
                       &r->cycle_start)) ||
        (st = get_date(ctx, r, bill, "bill", "cycle_end", true, NULL,
                       &r->cycle_end)))
        return st;
    int64_t start = vb_date_days(r->cycle_start), end = vb_date_days(r->cycle_end);
    if (start > end)
        return fail(ctx, r, "bill", "cycle_end", "is before bill.cycle_start");
    if (end - start + 1 > 31)
        return fail(ctx, r, "bill", "cycle_end", "the cycle is %lld days; at most 31 allowed",
                    (long long)(end - start + 1));

    /* The birth date is never echoed, in whole or in part: the message names the field and
     * the rule only (a "19580314" written without dashes is still the customer's date). */
    const char *birth;
    if ((st = get_string(ctx, r, r->root, NULL, "birth", true, &birth)))
        return st;
    if (!vb_date_parse(birth, &r->birth))
        return fail(ctx, r, NULL, "birth", "is not a real date of the form YYYY-MM-DD");
    if (vb_date_days(r->birth) > vb_date_days(r->issue_date))
        return fail(ctx, r, NULL, "birth", "is after bill.issue_date");

    if ((st = get_int(ctx, r, bill, "bill", "total", false, 0, INT64_C(1000000000000000),
                      &r->has_total, &r->total)))
        return st;
    r->rounding_unit = strcmp(r->currency, "KRW") == 0 ? 10 : 1;
    if ((st = get_int(ctx, r, bill, "bill", "rounding_unit", false, 1,
                      INT64_C(1000000000), NULL, &r->rounding_unit)))
        return st;
    return get_charges(ctx, r, bill, "bill", "other_charges", &r->other_sum);
}

static vbill_status parse_line(vbill_ctx *ctx, vb_record *r, int i, vb_jval *obj)
{
    static const char *const kinds[] = {"mobile", "home", NULL};
    static const char *const events[] = {"none", "new", "device_change", "recontract", NULL};
    vb_line *l = &r->lines[i];
    char p[32];
    index_path(p, sizeof p, NULL, "lines", i);
    if (!vb_jis(obj, VB_JOBJECT))
        return fail(ctx, r, NULL, p, "must be an object, not %s", type_name(obj));
    l->json = obj;
    int kind, event;
    vbill_status st;
    if ((st = get_string(ctx, r, obj, p, "id", false, &l->id)) ||
        (st = get_enum(ctx, r, obj, p, "kind", true, kinds, 0, &kind)) ||
        (st = get_enum(ctx, r, obj, p, "event", true, events, 0, &event)))
        return st;
    if (l->id && vb_utf8_check((const unsigned char *)l->id, strlen(l->id), true) < 0)
        return fail(ctx, r, p, "id", "must be valid UTF-8 without control characters");
    if (l->id && strlen(l->id) > 64) /* the bill's limit (bill.json) */
        return fail(ctx, r, p, "id", "must be at most 64 bytes (it has %zu)", strlen(l->id));
    l->kind = kind == 0 ? VB_KIND_MOBILE : VB_KIND_HOME;
    l->event = (vb_event)event;
    if ((st = get_date(ctx, r, obj, p, "start", l->event != VB_EV_NONE, &l->has_start,
                       &l->start)))
        return st;
    if (l->event != VB_EV_NONE && !l->has_start)
        return fail(ctx, r, p, "start", "required when event is not none");
    if ((st = get_int(ctx, r, obj, p, "monthly_fee", true, 0, VB_AMOUNT_LIMIT - 1, NULL,
                      &l->monthly_fee)) ||
        (st = get_charges(ctx, r, obj, p, "discounts", &l->discount_sum)))
        return st;
    if (l->discount_sum > l->monthly_fee)
        return fail(ctx, r, p, "discounts", "the discounts (%lld) exceed the monthly fee (%lld)",
                    (long long)l->discount_sum, (long long)l->monthly_fee);

    const vb_jval *dev;
    if ((st = get_object(ctx, r, obj, p, "device", false, &dev)))
        return st;
    l->has_device = dev != NULL;
    l->installment = l->months_left = 0;
    if (dev) {
        char pd[48];
        memcpy(pd, p, strlen(p));
        memcpy(pd + strlen(p), ".device", 8);
        if ((st = get_int(ctx, r, dev, pd, "installment_monthly", false, 0,
                          VB_AMOUNT_LIMIT - 1, NULL, &l->installment)) ||
            (st = get_int(ctx, r, dev, pd, "months_left", false, 0, 1200, NULL,
                          &l->months_left)))
            return st;
    }
    return VBILL_OK;
}

static vbill_status parse_lines(vbill_ctx *ctx, vb_record *r)
{
    const vb_jval *arr;
    vbill_status st = get_array(ctx, r, r->root, NULL, "lines", true, &arr);
    if (st)
        return st;
    int n = (int)arr->count; /* a record is at most 1 MiB */
    if (n < 1 || n > VB_MAX_LINES)
        return fail(ctx, r, NULL, "lines", "must have 1 to %d lines (it has %d)", VB_MAX_LINES, n);
    r->nlines = n;
    int i = 0;
    for (vb_jval *item = arr->child; item; item = item->next) {
        if ((st = parse_line(ctx, r, i, item)))
            return st;
        i++;
    }
    return VBILL_OK;
}

static vbill_status parse_rest(vbill_ctx *ctx, vb_record *r)
{
    const vb_jval *bundle, *payment, *benefits;
    vbill_status st;
    if ((st = get_object(ctx, r, r->root, NULL, "bundle", false, &bundle)))
        return st;
    r->bundled = bundle != NULL;
    r->bundle_start = r->cycle_start;
    if (bundle) {
        const char *name;
        if ((st = get_string(ctx, r, bundle, "bundle", "name", false, &name)) ||
            (st = get_int(ctx, r, bundle, "bundle", "discount", true, 0,
                          VB_AMOUNT_LIMIT - 1, NULL, &r->bundle_discount)) ||
            (st = get_date(ctx, r, bundle, "bundle", "start", false, NULL,
                           &r->bundle_start)))
            return st;
    }
    if ((st = get_object(ctx, r, r->root, NULL, "payment", false, &payment)))
        return st;
    if (payment) {
        static const char *const methods[] = {"card", "bank", "giro", NULL};
        int m;
        const char *s;
        int64_t day;
        if ((st = get_enum(ctx, r, payment, "payment", "method", false, methods, 0, &m)) ||
            (st = get_string(ctx, r, payment, "payment", "institution", false, &s)) ||
            (st = get_string(ctx, r, payment, "payment", "account_last4", false,
                             &s)) ||
            (st = get_int(ctx, r, payment, "payment", "day", false, 1, 31, NULL, &day)))
            return st;
        if (s && (strlen(s) > 8 || vb_utf8_check((const unsigned char *)s, strlen(s), true) < 0))
            return fail(ctx, r, "payment", "account_last4", "must be at most 8 plain characters");
    }
    if ((st = get_array(ctx, r, r->root, NULL, "benefits", false, &benefits)))
        return st;
    if (benefits) {
        int i = 0;
        const vb_jval *b;
        for (b = benefits->child; b; b = b->next) {
            if (!vb_jis(b, VB_JSTRING)) {
                char p[32];
                index_path(p, sizeof p, NULL, "benefits", i);
                return fail(ctx, r, NULL, p, "must be a string, not %s", type_name(b));
            }
            i++;
        }
    }
    const char *phone;
    return get_string(ctx, r, r->root, NULL, "phone", false, &phone);
}

/* A string holding a NUL ("S-1\u0000../x") would be read as its part before the NUL by
 * every C string function after this one: such a record is refused, naming the string.
 * jparse keeps each string's full length, so a string whose strlen is shorter holds a NUL.
 * Only records whose text holds the escape at all are walked. */
static bool find_nul(const vb_jval *v, char *path, size_t size, size_t len, int depth)
{
    if (vb_jis(v, VB_JSTRING))
        return strlen(v->str) != v->len;
    if (depth > VB_JMAX_DEPTH || !(vb_jis(v, VB_JOBJECT) || vb_jis(v, VB_JARRAY)))
        return false;
    int i = 0;
    for (const vb_jval *c = v->child; c; c = c->next, i++) {
        if (vb_jis(v, VB_JOBJECT))
            snprintf(path + len, size - len, "%s%s", len ? "." : "", c->key);
        else
            snprintf(path + len, size - len, "[%d]", i);
        if (find_nul(c, path, size, strlen(path), depth + 1))
            return true;
        path[len] = '\0';
    }
    return false;
}

/* True when the JSON text (already well-formed) escapes a NUL in a string or a name. */
static bool text_escapes_nul(const char *json, size_t len)
{
    if (!memmem(json, len, "\\u0000", 6))
        return false;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (json[i] == '"') {
            in_string = !in_string;
        } else if (in_string && json[i] == '\\') {
            if (i + 5 < len && memcmp(json + i + 1, "u0000", 5) == 0)
                return true;
            i++; /* the escaped character */
        }
    }
    return false;
}

static vbill_status refuse_nul(vbill_ctx *ctx, vb_record *r, const char *json, size_t len)
{
    if (!text_escapes_nul(json, len))
        return VBILL_OK;
    char path[256] = "";
    if (find_nul(r->root, path, sizeof path, 0, 0))
        return fail(ctx, r, NULL, path, "holds a NUL character (\\u0000)");
    return fail(ctx, r, NULL, "(record)", "a member name or string holds a NUL character (\\u0000)");
}

/* A number past 64 bits or past double range (18446744073709551616, 1e400) stops simdjson.
 * cJSON reads it as a double (or infinity), so that the field's check can name the field and
 * the problem; only such records take this path. */
static vb_jfault parse_wide_numbers(vb_record *r, const char *json, size_t len)
{
    if (vb_utf8_check((const unsigned char *)json, len, false) < 0) /* cJSON does not check */
        return VB_JUTF8;
    cJSON *c = vb_json_parse(json, len);
    if (!c)
        return VB_JSYNTAX;
    vb_jdoc_reset(r->doc);
    r->root = vb_jfrom_cjson(r->doc, c);
    cJSON_Delete(c);
    return r->root ? VB_JOK : VB_JNOMEM;
}

vbill_status vb_record_parse(vbill_ctx *ctx, const char *json, size_t len, long line,
                             vb_record *r)
{
    memset(r, 0, sizeof *r);
    r->line = line;
    if (!json)
        return vb_error(ctx, VBILL_ERR_ARG, "no record given");
    if (len == (size_t)-1)
        len = strlen(json);
    if (len > MAX_RECORD_BYTES)
        return fail(ctx, r, NULL, "(record)", "larger than %u bytes", MAX_RECORD_BYTES);
    /* The context's spare document when it has one: a loop over records reuses one arena
     * and one parser.  simdjson refuses invalid UTF-8 anywhere in the record (every string
     * ends up in outputs and videos). */
    r->ctx = ctx;
    r->doc = ctx && ctx->jdoc_spare ? ctx->jdoc_spare : vb_jdoc_new();
    if (ctx)
        ctx->jdoc_spare = NULL;
    if (!r->doc)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    vb_jfault fault = vb_jdoc_parse(r->doc, json, len, &r->root);
    if (fault == VB_JBIGNUM)
        fault = parse_wide_numbers(r, json, len);
    vbill_status st;
    if (fault) {
        if (fault == VB_JNOMEM)
            st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        else if (fault == VB_JUTF8 || vb_utf8_check((const unsigned char *)json, len, false) < 0)
            st = fail(ctx, r, NULL, "(record)", "not valid UTF-8");
        else if (fault == VB_JDEPTH)
            st = fail(ctx, r, NULL, "(record)", "nested more than %d levels deep", VB_JMAX_DEPTH);
        else
            st = fail(ctx, r, NULL, "(record)", "not well-formed JSON");
        vb_record_free(r);
        return st;
    }
    if (!vb_jis(r->root, VB_JOBJECT))
        st = fail(ctx, r, NULL, "(record)", "must be a JSON object, not %s", type_name(r->root));
    else if (!(st = refuse_nul(ctx, r, json, len)) && !(st = parse_id_and_name(ctx, r)) && !(st = parse_bill(ctx, r)) &&
             !(st = parse_lines(ctx, r)))
        st = parse_rest(ctx, r);
    if (st) /* the message keeps the id; the tree goes */
        vb_record_free(r);
    return st;
}

void vb_record_free(vb_record *r)
{
    if (!r || !r->doc)
        return;
    if (r->ctx && !r->ctx->jdoc_spare) {
        vb_jdoc_reset(r->doc);
        r->ctx->jdoc_spare = r->doc;
    } else {
        vb_jdoc_free(r->doc);
    }
    r->doc = NULL;
    r->root = NULL;
    r->id = r->name = NULL;
}

int vb_age_on(vb_date birth, vb_date on)
{
    int age = on.y - birth.y;
    if (on.m < birth.m || (on.m == birth.m && on.d < birth.d))
        age--;
    return age;
}
