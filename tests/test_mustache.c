/* test_mustache.c: the Mustache engine against the official specification, plus its error
 * messages, limits, partials directory and thread safety.  Linked statically (see
 * mk/mustache.am) so the compile-once/render-many internal interface can be tested too. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "mustache.h"
#include "testutil.h"

static vbill_ctx *ctx;

static void setup(void) { ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK); }
static void teardown(void)
{
    vbill_ctx_free(ctx);
    ctx = NULL;
}

/* Runs every test of one specification module through vbill_mustache_render (data and
 * partials as JSON text) and fails naming each test that did not give the expected text. */
static void run_spec(const char *module)
{
    char rel[128];
    snprintf(rel, sizeof rel, "mustache/%s.json", module);
    size_t len;
    char *text = tu_slurp(tu_conformance(rel), &len);
    cJSON *suite = cJSON_ParseWithLength(text, len);
    free(text);
    ck_assert_msg(suite != NULL, "%s: not JSON", rel);
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(suite, "tests"), *t;
    ck_assert_msg(cJSON_GetArraySize(tests) > 0, "%s: no tests", rel);
    vb_buf failed = {0};
    int n = 0, nfail = 0;
    cJSON_ArrayForEach(t, tests) {
        const char *name = cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring;
        const char *tmpl = cJSON_GetObjectItemCaseSensitive(t, "template")->valuestring;
        const char *want = cJSON_GetObjectItemCaseSensitive(t, "expected")->valuestring;
        const cJSON *partials = cJSON_GetObjectItemCaseSensitive(t, "partials");
        char *data = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "data"));
        char *pjson = partials ? cJSON_PrintUnformatted(partials) : NULL;
        char *out = NULL;
        size_t out_len = 0;
        vbill_status st = vbill_mustache_render(ctx, tmpl, (size_t)-1, data, pjson, &out,
                                                &out_len);
        n++;
        if (st != VBILL_OK || !out || out_len != strlen(want) || memcmp(out, want, out_len)) {
            nfail++;
            vb_buf_printf(&failed, "\n  %s: got \"%s\" (%s), want \"%s\"", name,
                          out ? out : "", st ? vbill_ctx_errmsg(ctx) : "ok", want);
        }
        vbill_free(out);
        free(data);
        free(pjson);
    }
    cJSON_Delete(suite);
    ck_assert_msg(nfail == 0, "%s: %d of %d tests failed:%s", module, nfail, n,
                  failed.data ? failed.data : "");
    vb_buf_free(&failed);
}

START_TEST(spec_comments) { run_spec("comments"); }
END_TEST
START_TEST(spec_delimiters) { run_spec("delimiters"); }
END_TEST
START_TEST(spec_interpolation) { run_spec("interpolation"); }
END_TEST
START_TEST(spec_inverted) { run_spec("inverted"); }
END_TEST
START_TEST(spec_partials) { run_spec("partials"); }
END_TEST
START_TEST(spec_sections) { run_spec("sections"); }
END_TEST
START_TEST(spec_inheritance) { run_spec("~inheritance"); }
END_TEST

/* Renders and returns the text (caller frees); asserts success. */
static char *render_ok(const char *tmpl, const char *data, const char *partials)
{
    char *out = NULL;
    size_t n = 0;
    vbill_status st = vbill_mustache_render(ctx, tmpl, (size_t)-1, data, partials, &out, &n);
    ck_assert_msg(st == VBILL_OK, "%s: %s", tmpl, vbill_ctx_errmsg(ctx));
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

/* Asserts that rendering fails with status and a message containing each of `parts`. */
static void render_fails(const char *tmpl, const char *data, const char *partials,
                         vbill_status want, const char *part1, const char *part2)
{
    char *out = (char *)1;
    size_t n = 99;
    vbill_status st = vbill_mustache_render(ctx, tmpl, (size_t)-1, data, partials, &out, &n);
    ck_assert_msg(st == want, "%.60s: status %d (%s), want %d", tmpl, st,
                  vbill_ctx_errmsg(ctx), want);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(n, 0);
    const char *msg = vbill_ctx_errmsg(ctx);
    ck_assert_msg(strstr(msg, part1), "%.60s: message '%s' lacks '%s'", tmpl, msg, part1);
    if (part2)
        ck_assert_msg(strstr(msg, part2), "%.60s: message '%s' lacks '%s'", tmpl, msg, part2);
}

START_TEST(errors_name_the_position)
{
    render_fails("Hello {{#items}}x", "{}", NULL, VBILL_ERR_TEMPLATE,
                 "line 1, column 7: unclosed section 'items'", NULL);
    render_fails("a\nb {{name", "{}", NULL, VBILL_ERR_TEMPLATE, "line 2, column 3: unclosed tag",
                 NULL);
    render_fails("{{#a}}\n  {{/b}}", "{}", NULL, VBILL_ERR_TEMPLATE,
                 "line 2, column 3: closing tag 'b' does not match the open section 'a'", NULL);
    render_fails("x {{/a}}", "{}", NULL, VBILL_ERR_TEMPLATE,
                 "line 1, column 3: closing tag 'a' without an open section", NULL);
    render_fails("{{=<% =}}", "{}", NULL, VBILL_ERR_TEMPLATE, "line 1, column 1: bad delimiter",
                 NULL);
    render_fails("{{= a= b =}}", "{}", NULL, VBILL_ERR_TEMPLATE, "bad delimiter", NULL);
    render_fails("{{{x}}", "{}", NULL, VBILL_ERR_TEMPLATE, "unclosed tag", NULL);
    render_fails("{{}}", "{}", NULL, VBILL_ERR_TEMPLATE, "empty tag", NULL);
    render_fails("{{a..b}}", "{}", NULL, VBILL_ERR_TEMPLATE, "malformed name 'a..b'", NULL);
    /* columns count characters, not bytes */
    render_fails("요금 {{#x}}", "{}", NULL, VBILL_ERR_TEMPLATE, "line 1, column 4", NULL);
    /* an error inside a partial names the partial */
    render_fails("{{>p}}", "{}", "{\"p\": \"ok\\n{{#q}}\"}", VBILL_ERR_TEMPLATE,
                 "partial 'p': line 2, column 1: unclosed section 'q'", NULL);
    render_fails("{{x}}", "{\"x\": ", NULL, VBILL_ERR_JSON, "data", NULL);
    render_fails("{{x}}", "{}", "[1]", VBILL_ERR_JSON, "partials", NULL);
    render_fails("{{x}}", "{}", "{\"p\": 1}", VBILL_ERR_JSON, "'p' is not a string", NULL);

    /* the internal interface puts the template's name before the position */
    vbill_status st;
    vb_mustache *m = vb_mustache_compile(ctx, "slot 'period'", "Hello {{#items}}", 16, &st);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(st, VBILL_ERR_TEMPLATE);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx),
                     "slot 'period': line 1, column 7: unclosed section 'items'");
}
END_TEST

START_TEST(values)
{
    char *s = render_ok("{{a}}|{{b}}|{{c}}|{{d}}|{{e}}|{{f}}|{{g}}|{{h}}|{{&i}}",
                        "{\"a\": 100, \"b\": -0.1, \"c\": 1e21, \"d\": true, \"e\": false, "
                        "\"f\": null, \"g\": [1], \"h\": {\"x\": 1}, \"i\": \"<&>\\\"\"}",
                        NULL);
    ck_assert_str_eq(s, "100|-0.1|1e+21|true|false||||<&>\"");
    free(s);
    s = render_ok("{{#z}}zero {{/z}}{{#e}}empty{{/e}}{{^l}}no list{{/l}}{{#o}}obj{{/o}}",
                  "{\"z\": 0, \"e\": \"\", \"l\": [], \"o\": {}}", NULL);
    ck_assert_str_eq(s, "zero emptyno listobj");
    free(s);
    /* NUL bytes in the template pass through; the length says where the text ends */
    char *out = NULL;
    size_t n = 0;
    ck_assert_int_eq(vbill_mustache_render(ctx, "a\0{{x}}", 7, "{\"x\":\"b\"}", NULL, &out, &n),
                     VBILL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(out, "a\0b", 3);
    free(out);
    /* no data at all is an empty context */
    s = render_ok("[{{x}}]", NULL, NULL);
    ck_assert_str_eq(s, "[]");
    free(s);

    /* cJSON_Raw integers (how the library holds 64-bit amounts) print exactly */
    cJSON *data = cJSON_CreateObject();
    cJSON_AddItemToObject(data, "big", vb_json_int(INT64_MAX));
    cJSON_AddItemToObject(data, "zero", vb_json_int(0));
    vbill_status st;
    vb_mustache *m = vb_mustache_compile(ctx, NULL, "{{big}} {{#zero}}{{.}}{{/zero}}",
                                        strlen("{{big}} {{#zero}}{{.}}{{/zero}}"), &st);
    ck_assert_ptr_nonnull(m);
    size_t len;
    s = vb_mustache_render(ctx, m, data, NULL, &len, &st);
    ck_assert_str_eq(s, "9223372036854775807 0");
    free(s);
    vb_mustache_free(m);
    cJSON_Delete(data);
}
END_TEST

START_TEST(limits)
{
    /* a self-recursive partial over data that never ends stops at the depth limit */
    render_fails("{{>p}}", "{\"a\": true}", "{\"p\": \"x{{#a}}{{>p}}{{/a}}\"}",
                 VBILL_ERR_TEMPLATE, "partial 'p'", "nested more than 64 deep");
    /* recursion that ends is fine */
    char *s = render_ok("{{>p}}", "{\"a\": {\"a\": {\"a\": false}}}",
                        "{\"p\": \"x{{#a}}{{>p}}{{/a}}\"}");
    ck_assert_str_eq(s, "xxx");
    free(s);

    /* sections nested too deep in one template */
    vb_buf b = {0};
    for (int i = 0; i < 300; i++)
        vb_buf_puts(&b, "{{#a}}");
    render_fails(b.data, "{}", NULL, VBILL_ERR_TEMPLATE, "nested more than 256 deep", NULL);
    vb_buf_free(&b);

    /* output that would exceed 64 MiB, and work that would never end, both stop */
    vb_buf d = {0};
    vb_buf_puts(&d, "{\"s\": \"");
    for (int i = 0; i < 1000; i++)
        vb_buf_puts(&d, "0123456789");
    vb_buf_puts(&d, "\", \"l\": [");
    for (int i = 0; i < 1000; i++)
        vb_buf_puts(&d, i ? ",1" : "1");
    vb_buf_puts(&d, "]}");
    render_fails("{{#l}}{{#l}}{{#l}}{{s}}{{/l}}{{/l}}{{/l}}", d.data, NULL, VBILL_ERR_TEMPLATE,
                 "output larger than 64 MiB", NULL);
    render_fails("{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}", d.data, NULL,
                 VBILL_ERR_TEMPLATE, "steps", NULL);
    vb_buf_free(&d);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(partials_dir)
{
    char *dir = tu_tmpdir();
    write_file(dir, "greet.mustache", "Hi {{name}}!\n");
    write_file(dir, "bad.mustache", "{{#x}}");
    write_file(dir, ".hidden.mustache", "secret");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file(sub, "in.mustache", "inside");

    /* without a directory, unknown partials are empty */
    char *s = render_ok("[{{>greet}}]", "{\"name\": \"Kim\"}", NULL);
    ck_assert_str_eq(s, "[]");
    free(s);

    ck_assert_int_eq(vbill_ctx_set_partials_dir(ctx, dir), VBILL_OK);
    s = render_ok("  {{>greet}}\n[{{>missing}}]", "{\"name\": \"Kim\"}", NULL);
    ck_assert_str_eq(s, "  Hi Kim!\n[]");
    free(s);
    /* partials given as JSON come first */
    s = render_ok("{{>greet}}", "{\"name\": \"Kim\"}", "{\"greet\": \"Yo {{name}}\"}");
    ck_assert_str_eq(s, "Yo Kim");
    free(s);
    render_fails("{{>bad}}", "{}", NULL, VBILL_ERR_TEMPLATE, "partial 'bad': line 1, column 1",
                 "unclosed section 'x'");
    render_fails("{{>sub/in}}", "{}", NULL, VBILL_ERR_TEMPLATE, "partial 'sub/in'",
                 "not a valid partial name");
    render_fails("{{>../greet}}", "{}", NULL, VBILL_ERR_TEMPLATE, "not a valid partial name",
                 NULL);
    render_fails("{{>.hidden}}", "{}", NULL, VBILL_ERR_TEMPLATE, "not a valid partial name",
                 NULL);
    ck_assert_int_eq(vbill_ctx_set_partials_dir(ctx, NULL), VBILL_OK);
    s = render_ok("[{{>greet}}]", "{}", NULL);
    ck_assert_str_eq(s, "[]");
    free(s);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- one compiled template rendered by several threads at once ---- */

typedef struct job {
    const vb_mustache *m;
    cJSON *data;
    const char *want;
    int bad;
} job;

static void *render_many(void *arg)
{
    job *j = arg;
    vbill_ctx *c;
    if (vbill_ctx_new(&c) != VBILL_OK)
        return NULL;
    for (int i = 0; i < 2000; i++) {
        vbill_status st;
        size_t n;
        char *s = vb_mustache_render(c, j->m, j->data, NULL, &n, &st);
        if (!s || strcmp(s, j->want) != 0)
            j->bad++;
        free(s);
    }
    vbill_ctx_free(c);
    return NULL;
}

START_TEST(threads_share_a_template)
{
    static const char *tmpl = "{{name}}: {{#lines}}{{id}}={{amount}} {{/lines}}{{^none}}.{{/none}}";
    vbill_status st;
    vb_mustache *m = vb_mustache_compile(ctx, "t", tmpl, strlen(tmpl), &st);
    ck_assert_ptr_nonnull(m);
    job jobs[4];
    pthread_t th[4];
    char want[4][64];
    for (int i = 0; i < 4; i++) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"name\": \"t%d\", \"lines\": [{\"id\": \"a\", \"amount\": %d}, "
                 "{\"id\": \"b\", \"amount\": %d}]}", i, i * 10, i * 100);
        snprintf(want[i], sizeof want[i], "t%d: a=%d b=%d .", i, i * 10, i * 100);
        jobs[i] = (job){m, cJSON_Parse(json), want[i], 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, render_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(jobs[i].bad == 0, "thread %d: %d wrong renders", i, jobs[i].bad);
        cJSON_Delete(jobs[i].data);
    }
    vb_mustache_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mustache");
    /* The official specification is not part of the project: it lives beside it
     * (../shared/conformance, or $VBILL_CONFORMANCE).  Where it is absent (a clone elsewhere,
     * a release tarball) its cases are skipped, said here and by text_cli.py's SKIP. */
    if (access(tu_conformance("mustache/interpolation.json"), R_OK) == 0) {
        TCase *spec = tcase_create("spec");
        tcase_add_checked_fixture(spec, setup, teardown);
        tcase_add_test(spec, spec_comments);
        tcase_add_test(spec, spec_delimiters);
        tcase_add_test(spec, spec_interpolation);
        tcase_add_test(spec, spec_inverted);
        tcase_add_test(spec, spec_partials);
        tcase_add_test(spec, spec_sections);
        tcase_add_test(spec, spec_inheritance);
        suite_add_tcase(s, spec);
    } else {
        printf("SKIP: the Mustache specification's cases: %s not found (set "
               "VBILL_CONFORMANCE to the folder holding mustache/*.json)\n",
               tu_conformance("mustache"));
    }
    TCase *api = tcase_create("api");
    tcase_add_checked_fixture(api, setup, teardown);
    tcase_add_test(api, errors_name_the_position);
    tcase_add_test(api, values);
    tcase_add_test(api, limits);
    tcase_add_test(api, partials_dir);
    tcase_add_test(api, threads_share_a_template);
    suite_add_tcase(s, api);
    return tu_run(s);
}
