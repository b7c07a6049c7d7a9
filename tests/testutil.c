/* testutil.c: helpers the Check suites share. */
#define _GNU_SOURCE
#include "testutil.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char TU_SPEC_EXAMPLE[] =
    "{\"id\":\"S-000123\",\"name\":\"김민수\",\"birth\":\"1958-03-14\",\"phone\":\"01012345678\","
    "\"locale\":\"ko-KR\",\"currency\":\"KRW\",\"bill\":{\"issue_date\":\"2026-12-05\","
    "\"cycle_start\":\"2026-11-01\",\"cycle_end\":\"2026-11-30\",\"total\":60960,"
    "\"rounding_unit\":10,\"other_charges\":[{\"name\":\"USIM\",\"amount\":7700}]},"
    "\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\",\"product\":\"5G 프리미어\",\"event\":\"new\","
    "\"start\":\"2026-11-14\",\"monthly_fee\":85000,\"discounts\":[{\"name\":\"선택약정 25%\","
    "\"amount\":21250}],\"device\":{\"model\":\"Galaxy S26\",\"installment_monthly\":45000,"
    "\"months_left\":24}},{\"id\":\"L2\",\"kind\":\"mobile\",\"product\":\"5G 라이트\","
    "\"event\":\"new\",\"start\":\"2026-11-14\",\"monthly_fee\":55000,\"discounts\":"
    "[{\"name\":\"선택약정 25%\",\"amount\":13750}]}],\"bundle\":{\"name\":\"참 쉬운 가족 결합\","
    "\"discount\":11000,\"start\":\"2026-11-14\"},\"benefits\":[\"데이터 무제한\"],"
    "\"payment\":{\"method\":\"card\",\"institution\":\"신한카드\",\"account_last4\":\"1234\","
    "\"day\":25}}";

static char pathbuf[4096];

const char *tu_src(const char *rel)
{
    const char *d = getenv("VBILL_SRCDIR");
    snprintf(pathbuf, sizeof pathbuf, "%s/%s", d && *d ? d : ".", rel);
    return pathbuf;
}

const char *tu_conformance(const char *rel)
{
    const char *d = getenv("VBILL_CONFORMANCE");
    if (d && *d) {
        snprintf(pathbuf, sizeof pathbuf, "%s/%s", d, rel);
    } else {
        const char *s = getenv("VBILL_SRCDIR");
        snprintf(pathbuf, sizeof pathbuf, "%s/../shared/conformance/%s", s && *s ? s : ".", rel);
    }
    return pathbuf;
}

char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

char *tu_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/vbill-test-XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed");
    return strdup(d);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void tu_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

vbill_bill *tu_bill(vbill_ctx *ctx, const char *record_json)
{
    vbill_bill *bill = NULL;
    vbill_status st = vbill_bill_new(ctx, record_json, (size_t)-1, 0, &bill);
    ck_assert_msg(st == VBILL_OK, "vbill_bill_new: %s", vbill_ctx_errmsg(ctx));
    return bill;
}

vbill_status tu_fill_context(vbill_ctx *ctx, const char *record_json, size_t len, long line,
                             char **out_json)
{
    vbill_bill *bill = NULL;
    *out_json = NULL;
    vbill_status st = vbill_bill_new(ctx, record_json, len, line, &bill);
    if (st == VBILL_OK)
        st = vbill_bill_context(ctx, bill, out_json);
    vbill_bill_free(bill);
    return st;
}
