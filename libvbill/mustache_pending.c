/* TEMPORARY: weak placeholders until mustache.c lands; removed then. */
#include "config.h"
#include "internal.h"
__attribute__((weak)) vb_mustache *vb_mustache_compile(vbill_ctx *ctx, const char *name, const char *tmpl, size_t len, vbill_status *status)
{ (void)name; (void)tmpl; (void)len; *status = vb_error(ctx, VBILL_ERR_TEMPLATE, "mustache engine not built yet"); return NULL; }
__attribute__((weak)) char *vb_mustache_render(vbill_ctx *ctx, const vb_mustache *m, const cJSON *data, const cJSON *partials, size_t *out_len, vbill_status *status)
{ (void)m; (void)data; (void)partials; (void)out_len; *status = vb_error(ctx, VBILL_ERR_TEMPLATE, "mustache engine not built yet"); return NULL; }
__attribute__((weak)) void vb_mustache_free(vb_mustache *m) { (void)m; }
