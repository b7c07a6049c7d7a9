/*
 * record.h: the validated subscriber record (record.c), its classification (classify.c) and
 * the values computed from it (fill.c).  Strings point into the parsed JSON tree `root`,
 * held by the record's document `doc` (borrowed from the context's spare, given back by
 * vb_record_free).
 */
#ifndef VB_RECORD_H
#define VB_RECORD_H

#include "internal.h"
#include "jdoc.h"

#define VB_MAX_LINES 32
#define VB_AMOUNT_LIMIT INT64_C(1000000000000) /* amounts are < 10^12 (SPEC.md section 2) */

typedef enum vb_kind { VB_KIND_MOBILE, VB_KIND_HOME } vb_kind;
typedef enum vb_event { VB_EV_NONE, VB_EV_NEW, VB_EV_DEVICE_CHANGE, VB_EV_RECONTRACT } vb_event;

typedef struct vb_line {
    vb_jval *json;           /* the line's object in root */
    const char *id;
    vb_kind kind;
    vb_event event;
    bool has_start;
    vb_date start;
    int64_t monthly_fee;
    int64_t discount_sum;
    bool has_device;
    int64_t installment;     /* device.installment_monthly, 0 without a device */
    int64_t months_left;
    /* computed by fill.c */
    int64_t net, days, prorated, next_month;
    vb_date from;
} vb_line;

typedef struct vb_record {
    vbill_ctx *ctx;
    vb_jdoc *doc;            /* holds root and every string below */
    vb_jval *root;           /* the parsed record */
    long line;               /* input line number, 0 when unknown */
    const char *id;
    const char *name;
    vb_date birth;
    const char *locale;      /* "ko-KR", "ja-JP" or "en-US" */
    const char *currency;    /* "KRW", "JPY" or "USD" */
    vb_date issue_date, cycle_start, cycle_end;
    bool has_total;
    int64_t total;
    int64_t rounding_unit;
    int64_t other_sum;
    int nlines;
    vb_line lines[VB_MAX_LINES];
    bool bundled;
    int64_t bundle_discount;
    vb_date bundle_start;
    /* computed by classify.c */
    const char *scenario;    /* NULL: no scenario matched; points into the rule set */
    int age;
    bool senior;
    double speed;
    /* computed by fill.c */
    int64_t cycle_days, bundle_days, bundle_prorated, this_month, next_month;
    vb_date period_start, period_end;
    bool total_mismatch;
} vb_record;

/* Parses and validates one record.  On failure the context's message names the record (id,
 * or line number), the field and the problem, and r holds nothing to free. */
vbill_status vb_record_parse(vbill_ctx *ctx, const char *json, size_t len, long line,
                             vb_record *r);
void vb_record_free(vb_record *r);

/* "record 'ID' (line N)", "record 'ID'" or "record at line N" (no usable id), for messages. */
void vb_record_label(const vb_record *r, char *buf, size_t size);

/* Full years from birth to on (a 29 February birthday counts from 1 March in common years). */
int vb_age_on(vb_date birth, vb_date on);

#endif
