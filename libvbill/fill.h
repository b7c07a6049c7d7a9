/* fill.h: the personal values of a classified record and its fill context (fill.c).
 * Internal. */
#ifndef VB_FILL_H
#define VB_FILL_H

#include "classify.h"

/* Computes the pro-rated values (SPEC.md section 4).  VBILL_ERR_OVERFLOW names the record
 * when an amount would overflow. */
vbill_status vb_fill_compute(vbill_ctx *ctx, vb_record *r);

/* Turns r->root into the Mustache context in place (adds computed and formatted values,
 * removes the birth date).  Afterwards r->root is the context. */
vbill_status vb_fill_context_build(vbill_ctx *ctx, vb_record *r);

/* Runs parse + classify + fill on one input (fill.c). */
vbill_status vb_record_process(vbill_ctx *ctx, const char *json, size_t len, long line,
                               vb_record *r);

#endif
