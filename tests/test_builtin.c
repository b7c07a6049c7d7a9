/* test_builtin.c: the built-in templates (vbill_template_builtin_write / _make), through the
 * public API.  tests/voice_render.py looks at their pictures and their voice. */
#include "vbill.h"
#include "testutil.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* SPEC.md's worked record: scenario mobile_new_bundle. */
static const char record[] =
    "{\"id\":\"S-000123\",\"name\":\"김민수\",\"birth\":\"1958-03-14\",\"phone\":\"01012345678\","
    "\"locale\":\"ko-KR\",\"currency\":\"KRW\",\"bill\":{\"issue_date\":\"2026-12-05\","
    "\"cycle_start\":\"2026-11-01\",\"cycle_end\":\"2026-11-30\",\"total\":60960,"
    "\"rounding_unit\":10,\"other_charges\":[{\"name\":\"USIM\",\"amount\":7700}]},"
    "\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\",\"product\":\"5G 프리미어\",\"event\":\"new\","
    "\"start\":\"2026-11-14\",\"monthly_fee\":85000,\"discounts\":[{\"name\":\"선택약정 25%\","
    "\"amount\":21250}],\"device\":{\"model\":\"Galaxy S26\",\"installment_monthly\":45000,"
    "\"months_left\":24}},{\"id\":\"L2\",\"kind\":\"mobile\",\"product\":\"5G 라이트\","
    "\"event\":\"new\",\"start\":\"2026-11-14\",\"monthly_fee\":55000,\"discounts\":[{\"name\":"
    "\"선택약정 25%\",\"amount\":13750}]}],\"bundle\":{\"name\":\"참 쉬운 가족 결합\","
    "\"discount\":11000,\"start\":\"2026-11-14\"},\"benefits\":[\"데이터 무제한\"],"
    "\"payment\":{\"method\":\"card\",\"institution\":\"신한카드\",\"account_last4\":\"1234\","
    "\"day\":25}}";

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

START_TEST(list_and_unknown)
{
    cJSON *list = cJSON_Parse(vbill_template_builtin_list());
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(cJSON_GetArraySize(list), 7);
    cJSON_Delete(list);

    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char *tmp = tu_tmpdir();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/none", tmp);
    ck_assert_int_eq(vbill_template_builtin_write(ctx, "no_such_scenario", dir),
                     VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "no_such_scenario"));
    struct stat sb;
    ck_assert_int_ne(stat(dir, &sb), 0); /* nothing created */
    ck_assert_int_eq(vbill_template_builtin_write(ctx, NULL, dir), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_template_builtin_write(ctx, "home_new", NULL), VBILL_ERR_ARG);
    /* An unwritable place: an IO error, no file left. */
    snprintf(dir, sizeof dir, "%s/file", tmp);
    FILE *f = fopen(dir, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/file/sub", tmp);
    ck_assert_int_eq(vbill_template_builtin_write(ctx, "home_new", dir), VBILL_ERR_IO);
    ck_assert_int_eq(count_entries(tmp), 1);
    tu_rmtree(tmp);
    free(tmp);
    vbill_ctx_free(ctx);
}
END_TEST

START_TEST(generates_a_valid_template)
{
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char *tmp = tu_tmpdir();
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/mobile_new_bundle", tmp);
    /* in Japanese, the fixed sentences said by the silent voice (cheap; espeak-ng's are
     * heard in tests/voice_render.py) */
    vbill_voice *silent = NULL;
    ck_assert_int_eq(vbill_voice_open_silent(ctx, &silent), VBILL_OK);
    ck_assert_int_eq(vbill_template_builtin_make(ctx, "mobile_new_bundle", "ja_JP", silent, dir),
                     VBILL_ERR_ARG);
    vbill_status st = vbill_template_builtin_make(ctx, "mobile_new_bundle", "ja-JP", silent, dir);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_voice_free(silent);
    /* base.mp4, template.json and narration.json, no temporaries */
    ck_assert_int_eq(count_entries(dir), 3);

    /* narration.json: the scenario's built-in narration, which the render speaks */
    snprintf(path, sizeof path, "%s/narration.json", dir);
    size_t nlen;
    char *ntext = tu_slurp(path, &nlen), *def = NULL;
    ck_assert_int_eq(vbill_narration_default(ctx, "mobile_new_bundle", &def), VBILL_OK);
    cJSON *got = cJSON_Parse(ntext), *want = cJSON_Parse(def);
    ck_assert(cJSON_Compare(got, want, 1));
    cJSON_Delete(got);
    cJSON_Delete(want);
    vbill_free(def);
    free(ntext);

    /* template.json: the scenario, the video, six slots of 4-8 s in order, boxes inside. */
    snprintf(path, sizeof path, "%s/template.json", dir);
    size_t len;
    char *text = tu_slurp(path, &len);
    cJSON *t = cJSON_Parse(text);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(cJSON_GetObjectItem(t, "scenario")->valuestring, "mobile_new_bundle");
    ck_assert_str_eq(cJSON_GetObjectItem(t, "video")->valuestring, "base.mp4");
    ck_assert_str_eq(cJSON_GetObjectItem(t, "locale")->valuestring, "ja-JP");
    cJSON *slots = cJSON_GetObjectItem(t, "slots");
    ck_assert_int_eq(cJSON_GetArraySize(slots), 6);
    char *fill = NULL;
    ck_assert_int_eq(tu_fill_context(ctx, record, (size_t)-1, 1, &fill), VBILL_OK);
    double prev_to = 0;
    for (int i = 0; i < 6; i++) {
        cJSON *s = cJSON_GetArrayItem(slots, i);
        double from = cJSON_GetObjectItem(s, "from")->valuedouble;
        double to = cJSON_GetObjectItem(s, "to")->valuedouble;
        ck_assert(from >= prev_to);
        ck_assert(to - from >= 4 && to - from <= 8);
        /* Japanese slot texts in a Japanese template */
        if (!strcmp(cJSON_GetObjectItem(s, "name")->valuestring, "period"))
            ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(s, "text")->valuestring, "日間"));
        ck_assert(to <= 120);
        prev_to = to;
        cJSON *box = cJSON_GetObjectItem(s, "box");
        int x = cJSON_GetArrayItem(box, 0)->valueint, y = cJSON_GetArrayItem(box, 1)->valueint;
        int w = cJSON_GetArrayItem(box, 2)->valueint, h = cJSON_GetArrayItem(box, 3)->valueint;
        ck_assert(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 1280 && y + h <= 720);
        /* Its text renders over the worked record's fill context to something. */
        const char *tmpl = cJSON_GetObjectItem(s, "text")->valuestring;
        char *out = NULL;
        size_t olen = 0;
        ck_assert_int_eq(vbill_mustache_render(ctx, tmpl, strlen(tmpl), fill, NULL, &out, &olen),
                         VBILL_OK);
        ck_assert_msg(olen > 0, "slot %d renders empty", i);
        vbill_free(out);
        /* the window leaves room for the longest personal sentence measured (6.5 s) */
        ck_assert_msg(fabs(to - from - 6.5) < 1e-9, "slot %d: %g to %g", i, from, to);
    }
    vbill_free(fill);
    cJSON_Delete(t);
    free(text);

    /* base.mp4: 1280x720 H.264 and AAC audio, 120 s. */
    snprintf(path, sizeof path, "%s/base.mp4", dir);
    AVFormatContext *fc = NULL;
    ck_assert_int_eq(avformat_open_input(&fc, path, NULL, NULL), 0);
    ck_assert_int_ge(avformat_find_stream_info(fc, NULL), 0);
    int v = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int a = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    ck_assert_int_ge(v, 0);
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(fc->streams[v]->codecpar->width, 1280);
    ck_assert_int_eq(fc->streams[v]->codecpar->height, 720);
    ck_assert_int_eq(fc->streams[v]->codecpar->codec_id, AV_CODEC_ID_H264);
    ck_assert_int_eq(fc->streams[a]->codecpar->codec_id, AV_CODEC_ID_AAC);
    double dur = (double)fc->duration / AV_TIME_BASE;
    ck_assert_msg(fabs(dur - 120.0) < 0.2, "duration %f", dur);
    avformat_close_input(&fc);

    /* The template opens (the engine's validation: slots, boxes, colours, Mustache). */
    vbill_template *tp = NULL;
    st = vbill_template_open(ctx, dir, &tp);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    ck_assert_str_eq(vbill_template_scenario(tp), "mobile_new_bundle");
    /* it speaks: its info names the voice (espeak-ng, or silent where it is missing) */
    char *info = vbill_template_info(tp);
    cJSON *ij = cJSON_Parse(info);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(ij, "voice")));
    cJSON_Delete(ij);
    vbill_free(info);
    vbill_template_free(tp);

    tu_rmtree(tmp);
    free(tmp);
    vbill_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("builtin");
    TCase *tc = tcase_create("builtin");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, list_and_unknown);
    tcase_add_test(tc, generates_a_valid_template);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
