/* mustache.h: the Mustache engine (mustache.c), compiled once and rendered many times.
 * Internal: the public call is vbill_mustache_render (include/vbill/mustache.h). */
#ifndef VB_MUSTACHE_H
#define VB_MUSTACHE_H

#include "internal.h"

typedef struct vb_mustache vb_mustache;
/* Compiles a template once for many renders.  NULL on a malformed template, with the
 * message (naming the position) in ctx and *status set.  `name` (may be NULL) is put in
 * error messages, e.g. a slot name. */
vb_mustache *vb_mustache_compile(vbill_ctx *ctx, const char *name, const char *tmpl, size_t len,
                                 vbill_status *status);
/* Renders over data; partials is NULL or a cJSON object of name -> template string.  A
 * compiled template is immutable: renders from several threads are safe. */
char *vb_mustache_render(vbill_ctx *ctx, const vb_mustache *m, const cJSON *data,
                         const cJSON *partials, size_t *out_len, vbill_status *status);
/* Renders over an arena tree (jdoc.h), as the fill path holds its records, appending to out
 * (on failure out is as it was). */
struct vb_jval;
vbill_status vb_mustache_render_into(vbill_ctx *ctx, const vb_mustache *m,
                                     const struct vb_jval *data, const cJSON *partials,
                                     vb_buf *out);
void vb_mustache_free(vb_mustache *m);
/* Calls fn with every name part the template looks up ("a.b" gives "a" and "b").  Returns
 * false when it includes partials or parents, whose names it cannot see. */
bool vb_mustache_names(const vb_mustache *m, void (*fn)(void *arg, const char *name), void *arg);

#endif
