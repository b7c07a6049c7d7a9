/*
 * classify.c: rule sets and classification (SPEC.md section 3).
 *
 * The rules are data.  The built-in set is itself written in the rule-set JSON a carrier
 * would load, so both go through one parser.
 */
#include "config.h"
#include "classify.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 256
#define MAX_CONDS 32
#define MAX_RULES_BYTES (1u << 20)

enum { C_M_NEW, C_M_DC, C_H_NEW, C_H_RE, C_M_ANY, C_H_ANY, C_BUNDLED, C_COUNT };
static const char *const count_names[C_COUNT] = {"m_new", "m_dc",  "h_new",  "h_re",
                                                 "m_any", "h_any", "bundled"};

enum { OP_GE, OP_GT, OP_LE, OP_LT, OP_EQ, OP_NE };
static const char *const op_names[] = {">=", ">", "<=", "<", "==", "!="};

typedef struct vb_cond {
    int count, op;
    long value;
} vb_cond;

typedef struct vb_rule {
    char scenario[64];
    int ncond;
    vb_cond cond[MAX_CONDS];
} vb_rule;

struct vb_rules {
    int n;
    vb_rule *rules;
    bool has_senior_age, has_senior_speed;
    int senior_age;
    double senior_speed;
};

static void rules_free(struct vb_rules *r);

static const char default_rules_json[] =
    "{\n"
    "  \"senior_age\": 60,\n"
    "  \"senior_speed\": 0.8,\n"
    "  \"rules\": [\n"
    "    {\"scenario\": \"mobile_new_home_new\", \"when\": [\"m_new >= 2\", \"h_new >= 1\", \"bundled\"]},\n"
    "    {\"scenario\": \"mobile_new_bundle\", \"when\": [\"m_new >= 2\", \"bundled\"]},\n"
    "    {\"scenario\": \"mobile_device_change_home\", \"when\": [\"m_dc >= 1\", \"h_any >= 1\", \"bundled\"]},\n"
    "    {\"scenario\": \"mobile_device_change\", \"when\": [\"m_dc >= 1\"]},\n"
    "    {\"scenario\": \"home_new_mobile\", \"when\": [\"h_new >= 1\", \"m_any >= 1\", \"bundled\"]},\n"
    "    {\"scenario\": \"home_new\", \"when\": [\"h_new >= 1\"]},\n"
    "    {\"scenario\": \"home_recontract\", \"when\": [\"h_re >= 1\"]}\n"
    "  ]\n"
    "}\n";

VBILL_API const char *vbill_default_rules(void) { return default_rules_json; }

static void rules_free(struct vb_rules *r)
{
    if (r) {
        free(r->rules);
        free(r);
    }
}

/* Parses one condition such as "m_new >= 2", "bundled" or "!bundled". */
static bool parse_cond(const char *s, vb_cond *c, char *why, size_t whysize)
{
    const char *p = s;
    bool negate = false;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '!') {
        negate = true;
        p++;
        while (isspace((unsigned char)*p))
            p++;
    }
    const char *name = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t n = (size_t)(p - name);
    c->count = -1;
    for (int i = 0; i < C_COUNT; i++)
        if (strlen(count_names[i]) == n && strncmp(name, count_names[i], n) == 0)
            c->count = i;
    if (c->count < 0) {
        snprintf(why, whysize,
                 "column %d: unknown count '%.*s' (expected m_new, m_dc, h_new, h_re, m_any, "
                 "h_any or bundled)",
                 (int)(name - s) + 1, (int)(n > 32 ? 32 : n), name);
        return false;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0') {
        c->op = negate ? OP_EQ : OP_GE;
        c->value = negate ? 0 : 1;
        return true;
    }
    if (negate) {
        snprintf(why, whysize, "column %d: '!' takes a bare count, without a comparison",
                 (int)(p - s) + 1);
        return false;
    }
    c->op = -1;
    for (int i = 0; i < 6 && c->op < 0; i++) {
        size_t ol = strlen(op_names[i]);
        if (strncmp(p, op_names[i], ol) == 0) {
            c->op = i;
            p += ol;
        }
    }
    if (c->op < 0) {
        snprintf(why, whysize, "column %d: expected a comparison (>= > <= < == !=)",
                 (int)(p - s) + 1);
        return false;
    }
    while (isspace((unsigned char)*p))
        p++;
    const char *num = p;
    long v = 0;
    while (*p >= '0' && *p <= '9' && v < 1000)
        v = v * 10 + (*p++ - '0');
    if (p == num || (*p >= '0' && *p <= '9')) {
        snprintf(why, whysize, "column %d: expected a whole number from 0 to 999",
                 (int)(num - s) + 1);
        return false;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p) {
        snprintf(why, whysize, "column %d: unexpected '%c'", (int)(p - s) + 1, *p);
        return false;
    }
    c->value = v;
    return true;
}

static void json_error_position(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static struct vb_rules *rules_parse(vbill_ctx *ctx, const char *json, size_t len,
                                    vbill_status *status)
{
    if (len == (size_t)-1)
        len = strlen(json);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        int line, col;
        json_error_position(json, end ? end : json, &line, &col);
        *status = vb_error(ctx, VBILL_ERR_JSON, "rule set: line %d, column %d: malformed JSON",
                           line, col);
        return NULL;
    }
    struct vb_rules *rs = calloc(1, sizeof *rs);
    char why[256] = "";
    const char *where = "rule set";
    char wherebuf[64];
    if (!rs) {
        cJSON_Delete(root);
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(root, "senior_age");
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(root, "senior_speed");
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
    if (!cJSON_IsObject(root)) {
        snprintf(why, sizeof why, "must be a JSON object with a \"rules\" array");
        goto bad;
    }
    if (age) {
        where = "senior_age";
        if (!cJSON_IsNumber(age) || age->valuedouble != floor(age->valuedouble) ||
            age->valuedouble < 0 || age->valuedouble > 200) {
            snprintf(why, sizeof why, "must be a whole number from 0 to 200");
            goto bad;
        }
        rs->has_senior_age = true;
        rs->senior_age = (int)age->valuedouble;
    }
    if (speed) {
        where = "senior_speed";
        if (!cJSON_IsNumber(speed) || !(speed->valuedouble >= 0.25 && speed->valuedouble <= 1.0)) {
            snprintf(why, sizeof why, "must be a number from 0.25 to 1.0");
            goto bad;
        }
        rs->has_senior_speed = true;
        rs->senior_speed = speed->valuedouble;
    }
    where = "rules";
    if (!cJSON_IsArray(rules)) {
        snprintf(why, sizeof why, "required: an array of {\"scenario\", \"when\"} objects");
        goto bad;
    }
    int n = cJSON_GetArraySize(rules);
    if (n > MAX_RULES) {
        snprintf(why, sizeof why, "at most %d rules (it has %d)", MAX_RULES, n);
        goto bad;
    }
    rs->rules = calloc(n ? (size_t)n : 1, sizeof *rs->rules);
    if (!rs->rules) {
        snprintf(why, sizeof why, "out of memory");
        goto bad;
    }
    const cJSON *rule;
    cJSON_ArrayForEach(rule, rules)
    {
        vb_rule *r = &rs->rules[rs->n];
        snprintf(wherebuf, sizeof wherebuf, "rules[%d]", rs->n);
        where = wherebuf;
        if (!cJSON_IsObject(rule)) {
            snprintf(why, sizeof why, "must be an object");
            goto bad;
        }
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(rule, "scenario");
        const cJSON *when = cJSON_GetObjectItemCaseSensitive(rule, "when");
        if (!cJSON_IsString(sc) || !vb_valid_scenario_id(sc->valuestring)) {
            snprintf(wherebuf, sizeof wherebuf, "rules[%d].scenario", rs->n);
            snprintf(why, sizeof why, "required: 1 to 63 characters of A-Z a-z 0-9 _ - . "
                     "starting with a letter or digit");
            goto bad;
        }
        snprintf(r->scenario, sizeof r->scenario, "%s", sc->valuestring);
        if (!cJSON_IsArray(when) || cJSON_GetArraySize(when) > MAX_CONDS) {
            snprintf(wherebuf, sizeof wherebuf, "rules[%d].when", rs->n);
            snprintf(why, sizeof why, "required: an array of at most %d conditions", MAX_CONDS);
            goto bad;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, when)
        {
            snprintf(wherebuf, sizeof wherebuf, "rules[%d].when[%d]", rs->n, r->ncond);
            if (!cJSON_IsString(c)) {
                snprintf(why, sizeof why, "must be a string such as \"m_new >= 2\"");
                goto bad;
            }
            if (!parse_cond(c->valuestring, &r->cond[r->ncond], why, sizeof why))
                goto bad;
            r->ncond++;
        }
        rs->n++;
    }
    cJSON_Delete(root);
    return rs;
bad:
    *status = vb_error(ctx, VBILL_ERR_RULES, "rule set: %s: %s", where, why);
    cJSON_Delete(root);
    rules_free(rs);
    return NULL;
}

/* The built-in rules, parsed once for the process and never freed: a context without rules
 * of its own (ctx->rules NULL) uses them. */
static struct vb_rules *builtin_rules;
static void builtin_parse(void)
{
    vbill_status st;
    builtin_rules = rules_parse(NULL, default_rules_json, (size_t)-1, &st);
}

static const struct vb_rules *rules_of(const vbill_ctx *ctx)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (ctx->rules)
        return ctx->rules;
    pthread_once(&once, builtin_parse);
    return builtin_rules;
}

VBILL_API vbill_status vbill_ctx_set_rules(vbill_ctx *ctx, const char *json, size_t len)
{
    vb_clear_error(ctx);
    if (!ctx || !json)
        return vb_error(ctx, VBILL_ERR_ARG, "no rule set given");
    vbill_status st = VBILL_OK;
    struct vb_rules *rs = rules_parse(ctx, json, len, &st);
    if (!rs)
        return st;
    if (ctx->rules_free)
        ctx->rules_free(ctx->rules);
    ctx->rules = rs;
    ctx->rules_free = rules_free; /* context.c frees what it cannot know */
    if (rs->has_senior_age)
        ctx->senior_age = rs->senior_age;
    if (rs->has_senior_speed)
        ctx->senior_speed = rs->senior_speed;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_ctx_load_rules(vbill_ctx *ctx, const char *path)
{
    vb_clear_error(ctx);
    if (!ctx || !path)
        return vb_error(ctx, VBILL_ERR_ARG, "no rule file given");
    size_t len;
    char *text = vb_read_file(path, MAX_RULES_BYTES, &len);
    if (!text)
        return vb_error(ctx, VBILL_ERR_IO, "cannot read rule set %s", path);
    vbill_status st = vbill_ctx_set_rules(ctx, text, len);
    if (st) {
        char msg[sizeof ctx->errmsg];
        snprintf(msg, sizeof msg, "%s", ctx->errmsg);
        vb_error(ctx, st, "%s: %s", path, msg);
    }
    free(text);
    return st;
}

static bool cond_holds(const vb_cond *c, const long counts[C_COUNT])
{
    long v = counts[c->count];
    switch (c->op) {
    case OP_GE: return v >= c->value;
    case OP_GT: return v > c->value;
    case OP_LE: return v <= c->value;
    case OP_LT: return v < c->value;
    case OP_EQ: return v == c->value;
    default: return v != c->value;
    }
}

void vb_classify_record(vbill_ctx *ctx, vb_record *r)
{
    long counts[C_COUNT] = {0};
    for (int i = 0; i < r->nlines; i++) {
        const vb_line *l = &r->lines[i];
        if (l->kind == VB_KIND_MOBILE) {
            counts[C_M_ANY]++;
            counts[C_M_NEW] += l->event == VB_EV_NEW;
            counts[C_M_DC] += l->event == VB_EV_DEVICE_CHANGE;
        } else {
            counts[C_H_ANY]++;
            counts[C_H_NEW] += l->event == VB_EV_NEW;
            counts[C_H_RE] += l->event == VB_EV_RECONTRACT;
        }
    }
    counts[C_BUNDLED] = r->bundled;
    r->scenario = NULL;
    const struct vb_rules *rs = rules_of(ctx);
    for (int i = 0; rs && i < rs->n && !r->scenario; i++) {
        bool all = true;
        for (int k = 0; k < rs->rules[i].ncond && all; k++)
            all = cond_holds(&rs->rules[i].cond[k], counts);
        if (all)
            r->scenario = rs->rules[i].scenario;
    }
    r->age = vb_age_on(r->birth, r->issue_date);
    r->senior = r->age >= ctx->senior_age;
    r->speed = r->senior ? ctx->senior_speed : 1.0;
}
