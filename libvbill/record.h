/* record.h: the validated subscriber record (record.c) and what fill.c computes from it. */
#ifndef VB_RECORD_H
#define VB_RECORD_H
#include "internal.h"
#endif
