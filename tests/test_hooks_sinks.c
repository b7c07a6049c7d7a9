/* test_hooks_sinks.c: a help desk is one new file and one table entry.  This program links
 * the static library with a test-only sink type (tests/hooks_sink_echo.c) added to the
 * library's own table (tests/hooks_sinks_echo.c includes libvbill/hooks/sinks.c with one
 * more entry) and checks, through the public API only, that the unchanged rest of the
 * library configures it (its defaults, its own keys, the common keys), delivers to it,
 * retries it, counts it and clears it.  If any file but the table named the sink types
 * (a switch on the type, a list of names, a per-type default), this test would fail. */
#define _GNU_SOURCE 1
#include "config.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vbill.h"
#include "testutil.h"

extern int vb_test_echo_cleared, vb_test_echo_token_wiped;

static vbill_ctx *ctx;
static char *dir;
static char out[4200];

static void setup(void)
{
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    dir = tu_tmpdir();
    snprintf(out, sizeof out, "%s/echo.txt", dir);
    vb_test_echo_cleared = vb_test_echo_token_wiped = 0;
}

static void teardown(void)
{
    vbill_ctx_free(ctx);
    tu_rmtree(dir);
    free(dir);
}

static char *config(const char *extra)
{
    static char cfg[9000];
    snprintf(cfg, sizeof cfg, "{\"retry_base_ms\":1,\"retry_max_ms\":5,\"sinks\":[{\"type\":"
             "\"echo\",\"name\":\"e\",\"path\":\"%s\",\"token\":\"t0p-s3cret\"%s}]}", out, extra);
    return cfg;
}

START_TEST(the_new_type_is_configured_from_its_file)
{
    /* its own keys, checked by its configure, the message naming the sink by the default
     * name the common code gives ("<type>-<n>") */
    static const struct { const char *cfg, *want; } bad[] = {
        {"{\"sinks\":[{\"type\":\"echo\",\"token\":\"long enough\"}]}",
         "sink 'echo-1' needs \"path\""},
        {"{\"sinks\":[{\"type\":\"echo\",\"name\":\"x\",\"path\":\"/p\",\"token\":\"short\"}]}",
         "sink 'x': \"token\" is too short"},
        /* the keys every sink has, checked by the common code */
        {"{\"sinks\":[{\"type\":\"echo\",\"name\":\"x\",\"path\":\"/p\",\"token\":\"long enough\","
         "\"timeout_ms\":0}]}", "sink 'x': \"timeout_ms\""},
        {"{\"sinks\":[{\"type\":\"echo\",\"name\":\"x\",\"path\":\"/p\",\"token\":\"long enough\","
         "\"events\":[]}]}", "sink 'x': \"events\""},
        /* the list of types in messages comes from the table */
        {"{\"sinks\":[{\"type\":\"fax\"}]}", "unknown type (webhook, zendesk, rt, echo or callback)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vbill_hooks *h = (vbill_hooks *)1;
        ck_assert_int_eq(vbill_hooks_open(ctx, dir, bad[i].cfg, &h), VBILL_ERR_HOOK);
        ck_assert_ptr_null(h);
        ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), bad[i].want), "case %zu: '%s'", i,
                      vbill_ctx_errmsg(ctx));
    }
    /* a failed configuration clears the sinks it made, through the type's clear */
    ck_assert_int_eq(vb_test_echo_cleared, 4);
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, config(""), &h), VBILL_OK);
    vbill_hooks_free(h);
    ck_assert_int_eq(vb_test_echo_cleared, 5);
    ck_assert_int_eq(vb_test_echo_token_wiped, 4); /* every sink that had read its token */
}
END_TEST

START_TEST(the_new_type_is_delivered_to_with_its_defaults)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, config(""), &h), VBILL_OK);
    char *viewed = NULL, *chat = NULL, *flaky = NULL;
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", NULL, &viewed), VBILL_OK);
    /* not in the type's default events ("bill.*"): no delivery row for it */
    ck_assert_int_eq(vbill_hooks_emit(h, "chat.requested", "S-1", NULL, &chat), VBILL_OK);
    /* fails once, is retried by the pump like any sink */
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.flagged", "S-2", "{\"fail\":true}", &flaky),
                     VBILL_OK);
    size_t pending = 0;
    ck_assert_int_eq(vbill_hooks_pending(h, &pending, NULL), VBILL_OK);
    ck_assert_uint_eq(pending, 2);
    ck_assert_int_eq(vbill_hooks_pump(h, 0, NULL), VBILL_OK);
    char *st = NULL;
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_msg(strstr(st, "\"e\":{\"pending\":1,\"in_flight\":0,\"delivered\":1,\"dead\":0}"),
                  "status %s", st);
    vbill_free(st);
    size_t len = 0;
    char *got = tu_slurp(out, &len);
    char want[200];
    snprintf(want, sizeof want, "bill.viewed %s 1\n", viewed);
    ck_assert_str_eq(got, want);
    free(got);
    vbill_free(viewed);
    vbill_free(chat);
    vbill_free(flaky);
    vbill_hooks_free(h);

    /* "events" given in the configuration replaces the type's default */
    unlink(out);
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, config(",\"events\":[\"chat.*\"]"), &h), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "chat.requested", "S-3", NULL, &chat), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_pump(h, 0, NULL), VBILL_OK);
    got = tu_slurp(out, &len);
    snprintf(want, sizeof want, "chat.requested %s 1\n", chat);
    ck_assert_str_eq(got, want);
    free(got);
    vbill_free(chat);
    vbill_hooks_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hooks_sinks");
    TCase *tc = tcase_create("one file and one table entry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_new_type_is_configured_from_its_file);
    tcase_add_test(tc, the_new_type_is_delivered_to_with_its_defaults);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
