/* test_text.c: the text rasteriser (libvbill/video/text.c, linked in: its names are internal). */
#include "internal.h"
#include "video/text.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library's message helpers (context.c is not linked: it needs the whole library). */
vbill_status vb_error(vbill_ctx *c, vbill_status status, const char *fmt, ...)
{
    if (c) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
        va_end(ap);
    }
    return status;
}
void vb_clear_error(vbill_ctx *c)
{
    if (c)
        c->errmsg[0] = '\0';
}
void vb_log(vbill_ctx *c, vbill_log_level level, const char *fmt, ...)
{
    (void)c;
    (void)level;
    (void)fmt;
}

static vbill_ctx *ctx;
static vb_text_engine *eng;

static void setup(void)
{
    ctx = calloc(1, sizeof *ctx); /* the text code uses only the message fields */
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(vb_text_engine_new(ctx, &eng), VBILL_OK);
}

static void teardown(void)
{
    vb_text_engine_free(eng);
    free(ctx);
}

typedef struct ink {
    long count;              /* pixels with alpha > 0 (transparent background) */
    int x0, y0, x1, y1;      /* ink box, x1/y1 exclusive; x1 == 0 when no ink */
    int bands;               /* runs of rows with ink, separated by empty rows */
} ink;

static ink measure(const vb_text_image *im)
{
    ink k = {0, im->w, im->h, 0, 0, 0};
    bool prev_row = false;
    for (int y = 0; y < im->h; y++) {
        bool row = false;
        for (int x = 0; x < im->w; x++) {
            if (im->rgba[((size_t)y * im->w + x) * 4 + 3] > 16) {
                k.count++;
                row = true;
                if (x < k.x0) k.x0 = x;
                if (x + 1 > k.x1) k.x1 = x + 1;
                if (y < k.y0) k.y0 = y;
                if (y + 1 > k.y1) k.y1 = y + 1;
            }
        }
        if (row && !prev_row)
            k.bands++;
        prev_row = row;
    }
    return k;
}

static vbill_status render(const char *text, int size, vb_align al, uint32_t color, uint32_t bg,
                           int w, int h, vb_text_image *out)
{
    vb_text_style st = {.size = size, .color = color, .background = bg, .align = al};
    return vb_text_render(eng, ctx, "slot 'test'", text, &st, w, h, out);
}

static ink ink_of(const char *text, int size, vb_align al, int w, int h)
{
    vb_text_image im;
    vbill_status s = render(text, size, al, 0xFFFFFFFF, 0, w, h, &im);
    ck_assert_msg(s == VBILL_OK, "render '%s': %s", text, ctx->errmsg);
    ck_assert_int_eq(im.w, w);
    ck_assert_int_eq(im.h, h);
    ink k = measure(&im);
    vb_text_image_free(&im);
    return k;
}

START_TEST(colors)
{
    uint32_t c = 0;
    ck_assert(vb_color_parse("#FFFFFF", &c));
    ck_assert_uint_eq(c, 0xFFFFFFFFu);
    ck_assert(vb_color_parse("#00000099", &c));
    ck_assert_uint_eq(c, 0x00000099u);
    ck_assert(vb_color_parse("#a1B2c3", &c));
    ck_assert_uint_eq(c, 0xA1B2C3FFu);
    const char *bad[] = {"", "#", "FFFFFF", "#FFF", "#GGGGGG", "#1234567", "#123456789",
                         " #FFFFFF", "#FFFFFF ", "#12345", "red", "#-12345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!vb_color_parse(bad[i], &c), "accepted '%s'", bad[i]);
    ck_assert(!vb_color_parse(NULL, &c));
}
END_TEST

START_TEST(each_script_has_ink)
{
    const char *texts[] = {"가나다라 요금", "日本語のテキスト", "Hello World", "\xF0\x9F\x98\x80",
                           "\xF0\x9F\x8E\x89\xF0\x9F\x93\xB1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ink k = ink_of(texts[i], 48, VB_ALIGN_LEFT, 800, 80);
        ck_assert_msg(k.count > 100, "'%s' drew only %ld pixels", texts[i], k.count);
    }
}
END_TEST

START_TEST(mixed_line_with_emoji)
{
    const char *without = "김*수 님 11월 日本 Hello";
    const char *with = "김*수 님 11월 日本 Hello \xF0\x9F\x98\x80";
    ink a = ink_of(without, 40, VB_ALIGN_LEFT, 1000, 80);
    ink b = ink_of(with, 40, VB_ALIGN_LEFT, 1000, 80);
    ck_assert_int_eq(b.bands, 1);
    /* The emoji is drawn (not left out): the line gets wider and inkier. */
    ck_assert_int_gt(b.x1 - b.x0, a.x1 - a.x0 + 20);
    ck_assert_int_gt(b.count, a.count + 100);
}
END_TEST

/* Hangul is drawn with real glyphs, not tofu boxes (which would all look the same). */
START_TEST(hangul_not_tofu)
{
    vb_text_image a, b;
    ck_assert_int_eq(render("가", 60, VB_ALIGN_CENTER, 0xFFFFFFFF, 0, 120, 100, &a), VBILL_OK);
    ck_assert_int_eq(render("힣", 60, VB_ALIGN_CENTER, 0xFFFFFFFF, 0, 120, 100, &b), VBILL_OK);
    long ia = 0, diff = 0;
    for (size_t i = 0; i < (size_t)a.w * a.h; i++) {
        bool pa = a.rgba[i * 4 + 3] > 128, pb = b.rgba[i * 4 + 3] > 128;
        ia += pa;
        diff += pa != pb;
    }
    ck_assert_int_gt(ia, 100);
    ck_assert_msg(diff > ia / 3, "two syllables look alike (%ld of %ld pixels differ)", diff, ia);
    vb_text_image_free(&a);
    vb_text_image_free(&b);
    /* And a syllable is not a box: its ink box is not filled along the edges like tofu. */
    ink k = ink_of("가", 60, VB_ALIGN_CENTER, 120, 100);
    ck_assert_int_lt(k.count, (long)(k.x1 - k.x0) * (k.y1 - k.y0) * 6 / 10);
}
END_TEST

START_TEST(shrinks_then_wraps_then_fails)
{
    const char *s1 = "11월 14일 ~ 11월 30일";
    const char *s2 = "5G 프리미어 36,120원 · 5G 라이트 23,370원 · 인터넷 기가 22,000원 포함";
    const char *s3 = "이번 달 요금은 가입일부터 월말까지 일할 계산됩니다. 다음 달부터는 기본 요금 "
                     "139,000원이 청구되며, 결합 할인 11,000원이 포함되어 있습니다. 자세한 내용은 "
                     "고객센터로 문의해 주세요.";
    ink a = ink_of(s1, 56, VB_ALIGN_LEFT, 1080, 80);
    ink b = ink_of(s2, 56, VB_ALIGN_LEFT, 1080, 80);
    ck_assert_int_eq(a.bands, 1);
    ck_assert_int_eq(b.bands, 1);
    ck_assert_int_lt(b.y1 - b.y0, a.y1 - a.y0); /* smaller glyphs */
    ck_assert_int_le(b.x1, 1080);
    ck_assert_int_ge(b.x0, 0);
    /* Too long for one line even at the minimum size: wrapped into a taller box. */
    ink c = ink_of(s3, 56, VB_ALIGN_LEFT, 1080, 240);
    ck_assert_int_ge(c.bands, 2);
    ck_assert_int_gt(c.y0, 0);
    ck_assert_int_lt(c.y1, 240);
    /* Japanese has no spaces: it breaks between characters. */
    ink d = ink_of("ご利用料金は加入日から月末までの日割りで計算されます。来月からは基本料金が請求されます。",
                   48, VB_ALIGN_LEFT, 600, 200);
    ck_assert_int_ge(d.bands, 2);
    /* A word longer than the box is broken, never cut. */
    ink e = ink_of("가나다라마바사아자차카타파하가나다라마바사아자차카타파하", 40, VB_ALIGN_LEFT, 300,
                   200);
    ck_assert_int_ge(e.bands, 2);
    /* Absurd: an error naming the slot, no image. */
    vb_text_image im;
    ck_assert_int_eq(render(s3, 56, VB_ALIGN_LEFT, 0xFFFFFFFF, 0, 300, 40, &im),
                     VBILL_ERR_TEMPLATE);
    ck_assert_ptr_null(im.rgba);
    ck_assert_ptr_nonnull(strstr(ctx->errmsg, "slot 'test'"));
    ck_assert_ptr_nonnull(strstr(ctx->errmsg, "does not fit"));
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(render(big, 56, VB_ALIGN_LEFT, 0xFFFFFFFF, 0, 1280, 720, &im),
                     VBILL_ERR_TEMPLATE);
}
END_TEST

START_TEST(alignment)
{
    ink l = ink_of("가나다 ABC", 40, VB_ALIGN_LEFT, 1000, 80);
    ink c = ink_of("가나다 ABC", 40, VB_ALIGN_CENTER, 1000, 80);
    ink r = ink_of("가나다 ABC", 40, VB_ALIGN_RIGHT, 1000, 80);
    ck_assert_int_lt(l.x0, 40);
    ck_assert_int_gt(r.x1, 960);
    ck_assert_int_le(r.x1, 1000);
    int mid = (c.x0 + c.x1) / 2;
    ck_assert_int_gt(mid, 480);
    ck_assert_int_lt(mid, 520);
    ck_assert_int_eq(l.x1 - l.x0, r.x1 - r.x0);
    /* Vertically centred. */
    ck_assert_int_lt(abs(l.y0 - (80 - l.y1)), 6);
}
END_TEST

START_TEST(colors_and_background)
{
    vb_text_image im;
    ck_assert_int_eq(render("가나다 ABC", 40, VB_ALIGN_CENTER, 0xFF0000FF, 0x00FF0080, 600, 80,
                            &im), VBILL_OK);
    const uint8_t *p = im.rgba; /* a corner: the background alone */
    ck_assert_uint_eq(p[0], 0);
    ck_assert_uint_eq(p[1], 255);
    ck_assert_uint_eq(p[2], 0);
    ck_assert_uint_eq(p[3], 0x80);
    long red = 0, other = 0;
    for (size_t i = 0; i < (size_t)im.w * im.h; i++) {
        const uint8_t *d = im.rgba + i * 4;
        if (d[0] == 255 && d[1] == 0 && d[2] == 0 && d[3] == 255)
            red++;
        else if (!(d[0] == 0 && d[1] == 255 && d[2] == 0 && d[3] == 0x80) && d[1] > d[0] + 0 &&
                 d[0] == 0)
            other++;
    }
    ck_assert_int_gt(red, 100); /* solid text pixels in the text colour */
    ck_assert_int_eq(other, 0);
    vb_text_image_free(&im);
    /* Empty text: the background alone, no error. */
    ck_assert_int_eq(render("  ", 40, VB_ALIGN_LEFT, 0xFFFFFFFF, 0x000000FF, 50, 20, &im),
                     VBILL_OK);
    for (size_t i = 0; i < 50 * 20; i++)
        ck_assert_uint_eq(im.rgba[i * 4 + 3], 255);
    vb_text_image_free(&im);
}
END_TEST

START_TEST(bad_input)
{
    vb_text_image im;
    ck_assert_int_eq(render("x", 40, VB_ALIGN_LEFT, 0xFFFFFFFF, 0, 0, 80, &im), VBILL_ERR_ARG);
    ck_assert_int_eq(render("x", 0, VB_ALIGN_LEFT, 0xFFFFFFFF, 0, 100, 80, &im), VBILL_ERR_ARG);
    ck_assert_int_eq(render("x", 40, VB_ALIGN_LEFT, 0xFFFFFFFF, 0, 100000, 80, &im),
                     VBILL_ERR_ARG);
    ck_assert_int_eq(render("bad \xC3\x28 utf8", 40, VB_ALIGN_LEFT, 0xFFFFFFFF, 0, 400, 80, &im),
                     VBILL_ERR_TEMPLATE);
    ck_assert_ptr_nonnull(strstr(ctx->errmsg, "UTF-8"));
    vb_text_style st = {.size = 40, .color = 0xFFFFFFFF};
    ck_assert_int_eq(vb_text_render(eng, ctx, "x", NULL, &st, 10, 10, &im), VBILL_ERR_ARG);
    /* ASS markup in the text is drawn literally, on one line. */
    ink k = ink_of("{\\an5\\fs200}a\\Nb\\h{x}", 30, VB_ALIGN_LEFT, 800, 60);
    ck_assert_int_eq(k.bands, 1);
    ck_assert_int_gt(k.x1 - k.x0, 200);
    /* Control characters are dropped; a newline is a line break. */
    ink two = ink_of("첫째 줄\n둘째 줄", 30, VB_ALIGN_LEFT, 800, 120);
    ck_assert_int_eq(two.bands, 2);
    ink one = ink_of("한 줄\x01\x7f", 30, VB_ALIGN_LEFT, 800, 120);
    ck_assert_int_eq(one.bands, 1);
}
END_TEST

/* Writes a sample line to /tmp for people to look at (PAM: ffmpeg -i x.pam x.png). */
START_TEST(sample_image)
{
    vb_text_image im;
    ck_assert_int_eq(render("김*수 님, 이번 달 요금은 60,960원입니다 日本 Hello \xF0\x9F\x98\x80",
                            56, VB_ALIGN_LEFT, 0xFFFFFFFF, 0x203040FF, 1080, 80, &im), VBILL_OK);
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/vbill-text-sample.pam", dir && *dir ? dir : "/tmp");
    FILE *f = fopen(path, "wb");
    if (f) {
        fprintf(f, "P7\nWIDTH %d\nHEIGHT %d\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n",
                im.w, im.h);
        fwrite(im.rgba, 1, (size_t)im.w * im.h * 4, f);
        fclose(f);
    }
    vb_text_image_free(&im);
}
END_TEST

/* Two engines (one per thread in the renderer) are independent. */
START_TEST(two_engines)
{
    vb_text_engine *e2;
    ck_assert_int_eq(vb_text_engine_new(ctx, &e2), VBILL_OK);
    vb_text_style st = {.size = 40, .color = 0xFFFFFFFF};
    vb_text_image a, b;
    ck_assert_int_eq(vb_text_render(e2, ctx, "a", "같은 글", &st, 300, 60, &a), VBILL_OK);
    ck_assert_int_eq(vb_text_render(eng, ctx, "b", "같은 글", &st, 300, 60, &b), VBILL_OK);
    ck_assert_mem_eq(a.rgba, b.rgba, (size_t)300 * 60 * 4);
    vb_text_image_free(&a);
    vb_text_image_free(&b);
    vb_text_engine_free(e2);
    vb_text_engine_free(NULL);
    vb_text_image_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, colors);
    tcase_add_test(tc, each_script_has_ink);
    tcase_add_test(tc, mixed_line_with_emoji);
    tcase_add_test(tc, hangul_not_tofu);
    tcase_add_test(tc, shrinks_then_wraps_then_fails);
    tcase_add_test(tc, alignment);
    tcase_add_test(tc, colors_and_background);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, sample_image);
    tcase_add_test(tc, two_engines);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
