/* classify.h: classification of a parsed record with the context's rules (classify.c).
 * Internal. */
#ifndef VB_CLASSIFY_H
#define VB_CLASSIFY_H

#include "record.h"

/* Classifies a parsed record with the context's rules: scenario, age, senior, speed. */
void vb_classify_record(vbill_ctx *ctx, vb_record *r);

#endif
