/*
 * vbill/mustache.h: the Mustache engine every text of the library is rendered with.
 * Included by vbill.h; see vbill.h for the conventions every function follows.
 */
#ifndef VBILL_MUSTACHE_H
#define VBILL_MUSTACHE_H

#include "vbill/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Renders a Mustache template (the specification's core modules: interpolation, sections,
 * inverted sections, comments, partials, set delimiters, and inheritance) over a JSON data
 * value.  partials_json is NULL or a JSON object {"name": "template", ...}; a partial not
 * found there is looked up as DIR/name.mustache in the directory set by
 * vbill_ctx_set_partials_dir() (a plain name: no '/', no leading '.'), and is otherwise
 * empty, as the specification says. */
VBILL_API VBILL_NODISCARD vbill_status vbill_mustache_render(vbill_ctx *ctx, const char *tmpl,
                                                             size_t tmpl_len,
                                                             const char *data_json,
                                                             const char *partials_json,
                                                             char **out, size_t *out_len);

/* Directory searched for partials by name (NULL to unset). */
VBILL_API VBILL_NODISCARD vbill_status vbill_ctx_set_partials_dir(vbill_ctx *ctx,
                                                                  const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* VBILL_MUSTACHE_H */
