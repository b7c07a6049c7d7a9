/* context.c: the context object, status codes, error messages, version and logging.
 * The ground layer: it calls nothing above util and jdoc.  What higher layers keep on a
 * context (rules, compiled templates) they free through the function they stored with it. */
#include "config.h"
#include "internal.h"
#include "jdoc.h"

#include <stdlib.h>
#include <string.h>

VBILL_API const char *vbill_version(void) { return PACKAGE_VERSION; }

VBILL_API unsigned vbill_version_num(void) { return VBILL_VERSION_NUM; }

VBILL_API int vbill_has(const char *feature)
{
    static const char *const parts[] = {
        "records", "mustache", "auth", "hooks", "chat",
#ifdef VBILL_HAVE_VIDEO
        "video",
#endif
#ifdef VBILL_HAVE_REDIS
        "redis",
#endif
    };
    for (size_t i = 0; feature && i < VB_ARRAY_LEN(parts); i++)
        if (strcmp(parts[i], feature) == 0)
            return 1;
    return 0;
}

VBILL_API void vbill_free(void *ptr) { free(ptr); }

VBILL_API const char *vbill_strerror(vbill_status status)
{
    static const char *const names[] = {
        [VBILL_OK] = "VBILL_OK: success",
        [VBILL_ERR_ARG] = "VBILL_ERR_ARG: invalid argument",
        [VBILL_ERR_NOMEM] = "VBILL_ERR_NOMEM: out of memory",
        [VBILL_ERR_IO] = "VBILL_ERR_IO: input/output error",
        [VBILL_ERR_JSON] = "VBILL_ERR_JSON: malformed JSON",
        [VBILL_ERR_RECORD] = "VBILL_ERR_RECORD: invalid subscriber record",
        [VBILL_ERR_RULES] = "VBILL_ERR_RULES: malformed rule set",
        [VBILL_ERR_TEMPLATE] = "VBILL_ERR_TEMPLATE: malformed template",
        [VBILL_ERR_OVERFLOW] = "VBILL_ERR_OVERFLOW: amount out of range",
        [VBILL_ERR_MEDIA] = "VBILL_ERR_MEDIA: video could not be processed",
        [VBILL_ERR_FONT] = "VBILL_ERR_FONT: no usable font",
        [VBILL_ERR_NOT_TARGET] = "VBILL_ERR_NOT_TARGET: record matches no scenario",
        [VBILL_ERR_LINK_MALFORMED] = "VBILL_ERR_LINK_MALFORMED: malformed link token",
        [VBILL_ERR_LINK_SIGNATURE] = "VBILL_ERR_LINK_SIGNATURE: link token signature does not match",
        [VBILL_ERR_LINK_EXPIRED] = "VBILL_ERR_LINK_EXPIRED: link or session expired",
        [VBILL_ERR_LINK_KEY] = "VBILL_ERR_LINK_KEY: unknown signing key",
        [VBILL_ERR_AUTH_WRONG] = "VBILL_ERR_AUTH_WRONG: wrong birth-date digits",
        [VBILL_ERR_AUTH_LOCKED] = "VBILL_ERR_AUTH_LOCKED: link locked after failed checks",
        [VBILL_ERR_STORE] = "VBILL_ERR_STORE: state store failure",
        [VBILL_ERR_HOOK] = "VBILL_ERR_HOOK: event could not be queued or delivered",
        [VBILL_ERR_NOT_FOUND] = "VBILL_ERR_NOT_FOUND: not found",
        [VBILL_ERR_KEY] = "VBILL_ERR_KEY: missing or malformed key",
        [VBILL_ERR_SESSION] = "VBILL_ERR_SESSION: invalid session",
        [VBILL_ERR_UNSUPPORTED] = "VBILL_ERR_UNSUPPORTED: not supported by this build or object",
        [VBILL_ERR_BUSY] = "VBILL_ERR_BUSY: handle already in a call on this thread",
    };
    if ((unsigned)status < VB_ARRAY_LEN(names) && names[status])
        return names[status];
    return "VBILL_ERR_UNKNOWN: unknown status code";
}

VBILL_API vbill_status vbill_ctx_new(vbill_ctx **out)
{
    if (!out)
        return VBILL_ERR_ARG;
    *out = NULL;
    vbill_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return VBILL_ERR_NOMEM;
    ctx->log_level = VBILL_LOG_WARN;
    ctx->senior_age = 60;
    ctx->senior_speed = 0.8;
    *out = ctx;
    return VBILL_OK;
}

VBILL_API void vbill_ctx_free(vbill_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->rules_free)
        ctx->rules_free(ctx->rules);
    if (ctx->tmpl_cache_free)
        ctx->tmpl_cache_free(ctx->tmpl_cache);
    vb_jdoc_free(ctx->jdoc_spare);
    free(ctx->partials_dir);
    free(ctx->segment_cache);
    free(ctx);
}

VBILL_API const char *vbill_ctx_errmsg(const vbill_ctx *ctx)
{
    if (!ctx)
        return "no context";
    return ctx->errmsg;
}

VBILL_API void vbill_ctx_set_log(vbill_ctx *ctx, vbill_log_fn fn, void *user,
                                 vbill_log_level max_level)
{
    if (!ctx)
        return;
    ctx->log_fn = fn;
    ctx->log_user = user;
    ctx->log_level = max_level;
}

VBILL_API vbill_status vbill_ctx_set_senior(vbill_ctx *ctx, int age, double speed)
{
    vb_clear_error(ctx);
    if (!ctx)
        return VBILL_ERR_ARG;
    if (age < 0 || age > 200)
        return vb_error(ctx, VBILL_ERR_ARG, "senior age %d is out of range 0..200", age);
    if (!(speed >= 0.25 && speed <= 1.0))
        return vb_error(ctx, VBILL_ERR_ARG, "senior speed must be from 0.25 to 1.0");
    ctx->senior_age = age;
    ctx->senior_speed = speed;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_ctx_set_partials_dir(vbill_ctx *ctx, const char *dir)
{
    vb_clear_error(ctx);
    if (!ctx)
        return VBILL_ERR_ARG;
    char *copy = NULL;
    if (dir && !(copy = strdup(dir)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    free(ctx->partials_dir);
    ctx->partials_dir = copy;
    return VBILL_OK;
}

vbill_status vb_error(vbill_ctx *ctx, vbill_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    vb_log(ctx, VBILL_LOG_DEBUG, "%s", ctx->errmsg);
    return status;
}

void vb_clear_error(vbill_ctx *ctx)
{
    if (ctx)
        ctx->errmsg[0] = '\0';
}

void vb_log(vbill_ctx *ctx, vbill_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log_fn || level > ctx->log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_user, level, line);
}
