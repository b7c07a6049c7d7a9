/* testutil.h: helpers the Check suites share. */
#ifndef VB_TESTUTIL_H
#define VB_TESTUTIL_H

#include <stddef.h>

#include "vbill.h"

/* SPEC.md's worked example record (scenario mobile_new_bundle, age 68 on 2026-12-05;
 * this month 60,960, next month 139,000; birth 1958-03-14, so the digits are 580314). */
extern const char TU_SPEC_EXAMPLE[];

/* $VBILL_SRCDIR/rel (or ./rel when unset); static buffer, valid until the next call. */
const char *tu_src(const char *rel);
/* $VBILL_CONFORMANCE/rel: the shared conformance suites beside the project. */
const char *tu_conformance(const char *rel);
/* Reads a whole file (aborts the test on failure); free() the result. */
char *tu_slurp(const char *path, size_t *len);
/* A fresh temporary directory under $TMPDIR; free() the result. */
char *tu_tmpdir(void);
/* Removes a directory tree (best effort). */
void tu_rmtree(const char *path);
/* The bill of a record (aborts the test with the library's message on failure). */
vbill_bill *tu_bill(vbill_ctx *ctx, const char *record_json);
/* The fill context of a record, as JSON (what vbill_fill_context gave before the bill):
 * vbill_bill_new + vbill_bill_context. */
vbill_status tu_fill_context(vbill_ctx *ctx, const char *record_json, size_t len, long line,
                             char **out_json);

/* Runs the suite with the Check runner and returns the process exit status. */
struct Suite;
int tu_run(struct Suite *s);

#endif
