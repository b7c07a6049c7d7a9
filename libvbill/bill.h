/*
 * bill.h: the bill (bill.c), what every layer above records takes.  Internal.
 *
 * A vbill_bill holds one JSON document, the serialised bill (vbill/records.h documents its
 * schema), and the few values the later stages read, taken from it once.  It is never
 * changed after it is made, so threads share it without locks.
 */
#ifndef VB_BILL_H
#define VB_BILL_H

#include "internal.h"

/* What other concerns (links, hooks, rendering) need to know of a bill.  The birth date is
 * here for the knowledge check only (auth.c), and only in a bill made from a record: it
 * must never be logged, put in a message, a URL or stored in plain text. */
typedef struct vb_identity {
    char id[65];
    char scenario[64];   /* "" when the bill matches no scenario */
    char locale[8];      /* ko-KR, ja-JP or en-US */
    char currency[4];
    char phone[32];      /* "" when absent */
    bool has_birth;
    vb_date birth, issue_date, cycle_start, cycle_end, period_start, period_end;
    bool senior;
    double speed;        /* 1.0, or the senior speed */
} vb_identity;

struct vbill_bill {
    vb_identity ident;
    char cycle_start[11]; /* "YYYY-MM-DD" */
    char cycle[8];        /* "YYYY-MM" */
    cJSON *doc;           /* the serialised bill */
    const cJSON *context; /* its "context" member: the fill context */
};

/* The schema version this library writes and reads. */
#define VB_BILL_SCHEMA 1

#endif
