/*
 * test_voice.c: the voices (libvbill/voice/): the WAV parser and writer; recorded clips
 * (a clips folder generated here: tones of known length, so the joined length, the joins
 * and the energy can be checked exactly: no gap, no click); the coverage of the documented
 * clip list over every sample bill; espeak-ng run as a program (real, and stand-ins that
 * fail, hang, write garbage or exit without reading); the silent fallback; a whole script
 * on its timeline.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "internal.h"
#include "voice/voice.h"

#define RATE VBILL_VOICE_SAMPLE_RATE

static vbill_ctx *ctx;

/* The built-in narration script of a record's bill. */
static vbill_status narrate(const char *record, char **out)
{
    vbill_bill *bill = NULL;
    vbill_status st = vbill_bill_new(ctx, record, strlen(record), 1, &bill);
    if (!st)
        st = vbill_narration(ctx, bill, NULL, out);
    vbill_bill_free(bill);
    return st;
}
static char *tmp;

static void setup(void)
{
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    tmp = tu_tmpdir();
}

static void teardown(void)
{
    vbill_ctx_free(ctx);
    tu_rmtree(tmp);
    free(tmp);
}

/* ---- helpers ---- */

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A tone of n samples at freq Hz, amplitude 0.5, starting at phase 0. */
static float *tone(size_t n, double freq)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(0.5 * sin(2 * M_PI * freq * (double)i / RATE));
    return p;
}

/* DIR/NAME.wav: a 16-bit 48 kHz tone of n samples. */
static void write_tone(const char *dir, const char *name, size_t n, double freq)
{
    float *p = tone(n, freq);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.wav", dir, name);
    ck_assert_int_eq(vbill_wav_write(ctx, path, p, n), VBILL_OK);
    free(p);
}

static char *subdir(const char *name)
{
    char *d = malloc(strlen(tmp) + strlen(name) + 2);
    sprintf(d, "%s/%s", tmp, name);
    mkdir(d, 0755);
    return d;
}

static double rms(const float *p, size_t from, size_t to)
{
    double s = 0;
    for (size_t i = from; i < to; i++)
        s += (double)p[i] * p[i];
    return to > from ? sqrt(s / (double)(to - from)) : 0;
}

/* The largest jump between neighbouring samples: a click detector. */
static double max_jump(const float *p, size_t n)
{
    double m = 0;
    for (size_t i = 1; i < n; i++)
        m = fmax(m, fabs((double)p[i] - p[i - 1]));
    return m;
}

typedef struct tokens {
    char text[2048];
    int count;
} tokens;

static void collect(void *arg, const char *clip, size_t pause)
{
    tokens *t = arg;
    char piece[256];
    if (clip)
        snprintf(piece, sizeof piece, "%s%s", t->count ? "|" : "", clip);
    else
        snprintf(piece, sizeof piece, "%s<%zu>", t->count ? "|" : "", pause);
    strncat(t->text, piece, sizeof t->text - strlen(t->text) - 1);
    t->count++;
}

/* ---- WAV ---- */

static size_t put_header(uint8_t *b, int tag, int ch, int rate, int bits, uint32_t data_size)
{
    memcpy(b, "RIFF\0\0\0\0WAVEfmt \x10\0\0\0", 20);
    int align = ch * bits / 8;
    uint8_t f[16] = {(uint8_t)tag, (uint8_t)(tag >> 8), (uint8_t)ch, 0, (uint8_t)rate,
                     (uint8_t)(rate >> 8), (uint8_t)(rate >> 16), 0, 0, 0, 0, 0,
                     (uint8_t)align, 0, (uint8_t)bits, 0};
    memcpy(b + 20, f, 16);
    memcpy(b + 36, "data", 4);
    b[40] = (uint8_t)data_size;
    b[41] = (uint8_t)(data_size >> 8);
    b[42] = (uint8_t)(data_size >> 16);
    b[43] = (uint8_t)(data_size >> 24);
    return 44;
}

START_TEST(wav_formats)
{
    uint8_t b[256];
    vb_wav w;
    /* 16-bit mono: 16384 is one half */
    size_t h = put_header(b, 1, 1, 48000, 16, 4);
    b[h] = 0x00, b[h + 1] = 0x40, b[h + 2] = 0x00, b[h + 3] = 0xc0;
    ck_assert_ptr_null(vb_wav_parse(b, h + 4, &w));
    ck_assert_int_eq(w.frames, 2);
    float *p;
    size_t n;
    ck_assert_int_eq(vb_wav_to_pcm(ctx, "t", &w, &p, &n), VBILL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_float_eq(p[0], 0.5f);
    ck_assert_float_eq(p[1], -0.5f);
    free(p);
    /* 8-bit unsigned stereo: channels averaged */
    h = put_header(b, 1, 2, 48000, 8, 2);
    b[h] = 192, b[h + 1] = 128;
    ck_assert_ptr_null(vb_wav_parse(b, h + 2, &w));
    ck_assert_int_eq(vb_wav_to_pcm(ctx, "t", &w, &p, &n), VBILL_OK);
    ck_assert_float_eq(p[0], 0.25f);
    free(p);
    /* 24-bit: -8388608 is -1 */
    h = put_header(b, 1, 1, 48000, 24, 3);
    b[h] = 0, b[h + 1] = 0, b[h + 2] = 0x80;
    ck_assert_ptr_null(vb_wav_parse(b, h + 3, &w));
    ck_assert_int_eq(vb_wav_to_pcm(ctx, "t", &w, &p, &n), VBILL_OK);
    ck_assert_float_eq(p[0], -1.0f);
    free(p);
    /* 32-bit float, with NaN made 0 and 3.0 clipped */
    h = put_header(b, 3, 1, 48000, 32, 12);
    float fv[3] = {0.25f, NAN, 3.0f};
    memcpy(b + h, fv, 12);
    ck_assert_ptr_null(vb_wav_parse(b, h + 12, &w));
    ck_assert_int_eq(vb_wav_to_pcm(ctx, "t", &w, &p, &n), VBILL_OK);
    ck_assert_float_eq(p[0], 0.25f);
    ck_assert_float_eq(p[1], 0.0f);
    ck_assert_float_eq(p[2], 1.0f);
    free(p);
    /* a stream's placeholder size (espeak-ng writes 0x7ffff000): as far as the data goes,
     * in whole frames */
    h = put_header(b, 1, 1, 22050, 16, 0x7ffff000u);
    memset(b + h, 0, 7);
    ck_assert_ptr_null(vb_wav_parse(b, h + 7, &w));
    ck_assert_int_eq(w.frames, 3);
    ck_assert_int_eq(w.rate, 22050);
}
END_TEST

START_TEST(wav_chunks_and_faults)
{
    uint8_t b[512];
    vb_wav w;
    /* WAVE_FORMAT_EXTENSIBLE (float), after an odd-sized LIST chunk with its pad byte */
    memcpy(b, "RIFF\0\0\0\0WAVELIST\x03\0\0\0abc\0fmt \x28\0\0\0", 32);
    uint8_t fmt[40] = {0xfe, 0xff, 1, 0, 0x80, 0xbb, 0, 0, 0, 0, 0, 0, 4, 0, 32, 0, 22, 0, 32, 0,
                       4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b,
                       0x71};
    memcpy(b + 32, fmt, 40);
    memcpy(b + 72, "data\x04\0\0\0", 8);
    float one = 1.0f;
    memcpy(b + 80, &one, 4);
    ck_assert_ptr_null(vb_wav_parse(b, 84, &w));
    ck_assert_int_eq(w.format, 3);
    ck_assert_int_eq(w.rate, 48000);
    ck_assert_int_eq(w.frames, 1);

    static const struct { int tag, ch, rate, bits; const char *why; } bad[] = {
        {2, 1, 48000, 16, "not PCM nor IEEE float"},
        {1, 0, 48000, 16, "channels"},
        {1, 1, 0, 16, "sample rate"},
        {1, 1, 48000, 12, "sample size"},
        {3, 1, 48000, 16, "sample size"},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(bad); i++) {
        size_t h = put_header(b, bad[i].tag, bad[i].ch, bad[i].rate, bad[i].bits, 0);
        const char *why = vb_wav_parse(b, h, &w);
        ck_assert_msg(why && strstr(why, bad[i].why), "case %zu: %s", i, why ? why : "accepted");
    }
    size_t h = put_header(b, 1, 1, 48000, 16, 0);
    b[32] = 3; /* block align that does not match */
    ck_assert_ptr_nonnull(strstr(vb_wav_parse(b, h, &w), "block size"));
    ck_assert_ptr_nonnull(strstr(vb_wav_parse(b, 10, &w), "not a RIFF"));
    ck_assert_ptr_nonnull(strstr(vb_wav_parse((const uint8_t *)"RIFF\0\0\0\0WAVE", 12, &w),
                                 "no fmt chunk"));
    memcpy(b, "RIFF\0\0\0\0WAVEdata\0\0\0\0", 20);
    ck_assert_ptr_nonnull(strstr(vb_wav_parse(b, 20, &w), "before the fmt"));
    h = put_header(b, 1, 1, 48000, 16, 0);
    memcpy(b + 36, "junk", 4);
    ck_assert_ptr_nonnull(strstr(vb_wav_parse(b, h, &w), "no data chunk"));
    memcpy(b, "RIFF\0\0\0\0WAVEfmt \x40\0\0\0", 20); /* fmt past the end */
    ck_assert_ptr_nonnull(strstr(vb_wav_parse(b, 30, &w), "truncated fmt"));
}
END_TEST

START_TEST(wav_write_and_resample)
{
    /* the writer's file reads back sample for sample (16-bit) */
    float *p = tone(4800, 440);
    char path[4096];
    snprintf(path, sizeof path, "%s/t.wav", tmp);
    ck_assert_int_eq(vbill_wav_write(ctx, path, p, 4800), VBILL_OK);
    size_t len;
    char *bytes = vb_read_file(path, 1 << 20, &len);
    ck_assert_uint_eq(len, 44 + 2 * 4800);
    float *back;
    size_t n;
    ck_assert_int_eq(vb_wav_decode(ctx, "t", (uint8_t *)bytes, len, &back, &n), VBILL_OK);
    ck_assert_uint_eq(n, 4800);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(back[i] - p[i]) < 1.0f / 16384, "sample %zu", i);
    free(back);
    free(bytes);
    free(p);
    ck_assert_int_eq(vbill_wav_write(ctx, "/nonexistent/dir/x.wav", NULL, 0), VBILL_ERR_IO);

    /* 16 kHz in, 48 kHz out: three times the samples, the tone's pitch kept (its zero
     * crossings per second) */
    uint8_t *w = malloc(44 + 2 * 16000);
    put_header(w, 1, 1, 16000, 16, 2 * 16000);
    for (int i = 0; i < 16000; i++) {
        int16_t s = (int16_t)lrint(16000 * sin(2 * M_PI * 500 * i / 16000.0));
        w[44 + 2 * i] = (uint8_t)s;
        w[45 + 2 * i] = (uint8_t)((uint16_t)s >> 8);
    }
    ck_assert_int_eq(vb_wav_decode(ctx, "t", w, 44 + 2 * 16000, &back, &n), VBILL_OK);
    ck_assert_msg(labs((long)n - 48000) <= 64, "%zu samples", n);
    int crossings = 0;
    for (size_t i = 1000; i < 47000; i++)
        crossings += (back[i - 1] < 0) != (back[i] < 0);
    ck_assert_msg(abs(crossings - 958) <= 6, "%d zero crossings in 46,000 samples", crossings);
    free(back);
    free(w);
}
END_TEST

/* ---- recorded clips ---- */

/* A ko-KR clips folder of tones: name, length in samples, frequency. */
static const struct { const char *name; size_t n; double f; } KO[] = {
    {"이번 달 청구 금액은", 48000, 300}, {"육", 9600, 420},  {"만", 7200, 510},
    {"구", 8400, 610},                   {"백", 6000, 330},  {"십", 5800, 470},
    {"육십", 12000, 690},                {"원", 9000, 380},  {"입니다", 14400, 560},
};

static char *make_ko_clips(void)
{
    char *d = subdir("clips");
    char *k = subdir("clips/ko-KR");
    for (size_t i = 0; i < VB_ARRAY_LEN(KO); i++)
        write_tone(k, KO[i].name, KO[i].n, KO[i].f);
    free(k);
    return d;
}

static size_t ko_len(const char *name)
{
    for (size_t i = 0; i < VB_ARRAY_LEN(KO); i++)
        if (!strcmp(KO[i].name, name))
            return KO[i].n;
    ck_abort_msg("no clip %s", name);
    return 0;
}

START_TEST(clips_cut_and_join)
{
    char *dir = make_ko_clips();
    vbill_voice *v;
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_OK);
    ck_assert_str_eq(vbill_voice_kind(v), "clips");
    const char *text = "이번 달 청구 금액은 육만 구백육십 원입니다.";
    float *p;
    size_t n;
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", text, &p, &n), VBILL_OK);
    /* length: the clips less one 10 ms crossfade per join */
    const char *seq[] = {"이번 달 청구 금액은", "육", "만", "구", "백", "육십", "원", "입니다"};
    size_t want = 0;
    for (size_t i = 0; i < VB_ARRAY_LEN(seq); i++)
        want += ko_len(seq[i]);
    want -= (VB_ARRAY_LEN(seq) - 1) * (RATE / 100);
    ck_assert_uint_eq(n, want);
    /* no click: tones of up to 690 Hz at 0.5 move at most 0.045 per sample; a butt join of
     * the same clips jumps by far more (checked below, so the detector can fail) */
    ck_assert_msg(max_jump(p, n) < 0.07, "a jump of %.3f", max_jump(p, n));
    size_t at = 0;
    for (size_t i = 0; i < VB_ARRAY_LEN(seq); i++) { /* energy in the middle of every clip */
        size_t len = ko_len(seq[i]);
        ck_assert_msg(rms(p, at + len / 4, at + 3 * len / 4) > 0.3, "clip %zu is quiet", i);
        at += len - RATE / 100;
    }
    float *butt = malloc(want * 2 * sizeof *butt);
    size_t bn = 0;
    for (size_t i = 0; i < VB_ARRAY_LEN(seq); i++)
        for (size_t k = 0; k < VB_ARRAY_LEN(KO); k++)
            if (!strcmp(KO[k].name, seq[i])) {
                float *q = tone(KO[k].n, KO[k].f);
                memcpy(butt + bn, q, KO[k].n * sizeof *q);
                bn += KO[k].n;
                free(q);
            }
    ck_assert_msg(max_jump(butt, bn) > 0.1, "the click detector sees no click in a butt join");
    free(butt);
    vbill_free(p);

    /* a comma and a full stop: a pause between phrases, faded edges, none at the end */
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", "육만 원, 구백 원.", &p, &n), VBILL_OK);
    size_t a = ko_len("육") + ko_len("만") + ko_len("원") - 2 * (RATE / 100);
    size_t b = ko_len("구") + ko_len("백") + ko_len("원") - 2 * (RATE / 100);
    ck_assert_uint_eq(n, a + RATE * 15 / 100 + b);
    ck_assert_msg(rms(p, a + 100, a + RATE * 15 / 100 - 100) < 1e-6, "the pause is not silent");
    ck_assert_msg(max_jump(p, n) < 0.07, "a click at a pause: %.3f", max_jump(p, n));
    ck_assert_msg(fabsf(p[0]) < 0.01 && fabsf(p[n - 1]) < 0.01, "edges not faded");
    vbill_free(p);

    /* a long text (64 KiB at most): 3,000 phrases and one of 20 KB */
    vb_buf lng = {0};
    for (int i = 0; i < 3000; i++)
        vb_buf_puts(&lng, "육만 원, ");
    for (int i = 0; i < 2000; i++)
        vb_buf_puts(&lng, "구백 원");
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", lng.data, &p, &n), VBILL_OK);
    ck_assert_uint_gt(n, (size_t)RATE * 60 * 10);
    vbill_free(p);
    vb_buf_free(&lng);

    /* a piece no clip spells: the message quotes it */
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", "육만 삼천 원", &p, &n),
                     VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "'삼천 원'"));
    ck_assert_ptr_null(p);
    /* a locale without a folder */
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ja-JP", "いち", &p, &n), VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "ja-JP"));
    /* invalid UTF-8; nothing to say */
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", "\xff", &p, &n), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", " , . ", &p, &n), VBILL_OK);
    ck_assert_uint_eq(n, 0);

    /* faster: the same clips time-stretched, pitch kept */
    ck_assert_int_eq(vbill_voice_set_rate(v, 1.5), VBILL_OK);
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", text, &p, &n), VBILL_OK);
    ck_assert_msg(fabs((double)n - want / 1.5) < want * 0.03, "%zu samples at 1.5x", n);
    vbill_free(p);
    ck_assert_int_eq(vbill_voice_set_rate(v, 3), VBILL_ERR_ARG);
    vbill_voice_free(v);
    free(dir);
}
END_TEST

START_TEST(clips_tokenizer)
{
    char *dir = subdir("tok");
    char *en = subdir("tok/en-US"), *ko = subdir("tok/ko-KR"), *ja = subdir("tok/ja-JP");
    const char *en_clips[] = {"six", "sixty", "hundred", "dollars", "and", "cents", "twenty",
                              "one", "This month's bill is"};
    for (size_t i = 0; i < VB_ARRAY_LEN(en_clips); i++)
        write_tone(en, en_clips[i], 2400, 440);
    write_tone(ko, "ᄀ\u1161", 2400, 440); /* 가 as macOS writes file names (NFD) */
    write_tone(ko, "a", 2400, 440);
    write_tone(ja, "は\u309a", 2400, 440); /* ぱ decomposed */
    write_tone(ja, "ん", 2400, 440);
    char map[4096];
    snprintf(map, sizeof map, "%s/clips.json", ja);
    write_bytes(map, "{\"だ\": \"ん.wav\"}", strlen("{\"だ\": \"ん.wav\"}"));
    vb_clips *c;
    ck_assert_int_eq(vb_clips_open(ctx, dir, &c), VBILL_OK);
    tokens t = {{0}, 0};
    ck_assert_int_eq(vb_clips_tokens(ctx, c, VB_LANG_EN, "This month's bill is six hundred "
                                                         "sixty-six dollars and twenty-one cents.",
                                     collect, &t),
                     VBILL_OK);
    ck_assert_str_eq(t.text, "This month's bill is|six|hundred|sixty|six|dollars|and|twenty|"
                             "one|cents");
    /* an English clip ends where a word ends: "six" is not the start of "sixteen" */
    ck_assert_int_eq(vb_clips_tokens(ctx, c, VB_LANG_EN, "six sixteen", collect, &t),
                     VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "'sixteen'"));
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(vb_clips_tokens(ctx, c, VB_LANG_KO, "가 가, A", collect, &t), VBILL_OK);
    ck_assert_str_eq(t.text, "ᄀ\u1161|ᄀ\u1161|<7200>|a");
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(vb_clips_tokens(ctx, c, VB_LANG_JA, "ぱん。だ", collect, &t), VBILL_OK);
    ck_assert_str_eq(t.text, "は\u309a|ん|<16800>|だ");
    vb_clips_free(c);
    free(en);
    free(ko);
    free(ja);
    free(dir);
}
END_TEST

START_TEST(clips_folder_faults)
{
    char *dir = subdir("faults");
    vbill_voice *v = NULL;
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "a folder per locale"));
    char *ko = subdir("faults/ko-KR");
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "no clip"));
    char path[4096];
    snprintf(path, sizeof path, "%s/broken.wav", ko);
    write_bytes(path, "RIFF....WAVEfmt ", strlen("RIFF....WAVEfmt "));
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_MEDIA);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "broken.wav"));
    unlink(path);
    write_tone(ko, "일", 2400, 440);
    snprintf(path, sizeof path, "%s/clips.json", ko);
    const char *escape = "{\"이\": \"../../etc/passwd\"}", *missing = "{\"이\": \"none.wav\"}";
    write_bytes(path, escape, strlen(escape));
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_JSON);
    write_bytes(path, missing, strlen(missing));
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "none.wav"));
    unlink(path);
    /* a clip that is a symbolic link (to a sound elsewhere), a FIFO, a locale folder that is
     * a link: refused, naming it */
    char target[4096], other[4096];
    snprintf(target, sizeof target, "%s/일.wav", ko);
    snprintf(path, sizeof path, "%s/이.wav", ko);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_IO);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "이.wav: a symbolic link"));
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_IO);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "이.wav: not a regular file"));
    unlink(path);
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_OK);
    vbill_voice_free(v);
    v = NULL;
    snprintf(other, sizeof other, "%s/en-US", dir);
    ck_assert_int_eq(symlink(ko, other), 0);
    ck_assert_int_eq(vbill_voice_open_clips(ctx, dir, &v), VBILL_ERR_IO);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "en-US: a symbolic link"));
    unlink(other);
    ck_assert_ptr_null(v);
    free(ko);
    free(dir);
}
END_TEST

/* Every text of the clip list of a locale, as a tone clip: then every built-in script of
 * every sample record, and random amounts and dates, must be spelt by them. */
static void write_list(const char *locale, const char *dir)
{
    char *list = NULL;
    ck_assert_int_eq(vbill_voice_clip_list(ctx, locale, &list), VBILL_OK);
    cJSON *a = cJSON_Parse(list);
    ck_assert(cJSON_IsArray(a) && cJSON_GetArraySize(a) > 40);
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        ck_assert_msg(!strchr(e->valuestring, '/') && strlen(e->valuestring) < 200,
                      "clip text '%s' cannot be a file name", e->valuestring);
        write_tone(dir, e->valuestring, 480, 440);
    }
    cJSON_Delete(a);
    vbill_free(list);
}

static void count_token(void *arg, const char *clip, size_t pause)
{
    (void)clip;
    (void)pause;
    ++*(int *)arg;
}

START_TEST(clip_list_covers_every_script)
{
    static const char *const locales[3] = {"ko-KR", "ja-JP", "en-US"};
    static const char *const currencies[3] = {"KRW", "JPY", "USD"};
    char *dir = subdir("list");
    for (int l = 0; l < 3; l++) {
        char *d = malloc(strlen(dir) + 8);
        sprintf(d, "%s/%s", dir, locales[l]);
        mkdir(d, 0755);
        write_list(locales[l], d);
        free(d);
    }
    vb_clips *c;
    ck_assert_int_eq(vb_clips_open(ctx, dir, &c), VBILL_OK);
    size_t len;
    char *data = tu_slurp(tu_src("examples/data/subscribers.jsonl"), &len);
    int scripts = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *rec = cJSON_Parse(line);
        for (int l = 0; rec && l < 3; l++) {
            cJSON_DeleteItemFromObject(rec, "locale");
            cJSON_DeleteItemFromObject(rec, "currency");
            cJSON_AddStringToObject(rec, "locale", locales[l]);
            cJSON_AddStringToObject(rec, "currency", currencies[(l + scripts) % 3]);
            char *r = cJSON_PrintUnformatted(rec), *out = NULL;
            if (narrate(r, &out) == VBILL_OK) {
                cJSON *s = cJSON_Parse(out);
                const cJSON *sc;
                cJSON_ArrayForEach(sc, cJSON_GetObjectItem(s, "scenes"))
                {
                    const char *text = cJSON_GetObjectItem(sc, "text")->valuestring;
                    int n = 0;
                    ck_assert_msg(vb_clips_tokens(ctx, c, (vb_lang)l, text, count_token, &n) ==
                                      VBILL_OK,
                                  "%s: %s", locales[l], vbill_ctx_errmsg(ctx));
                }
                cJSON_Delete(s);
                scripts++;
            }
            vbill_free(out);
            free(r);
        }
        cJSON_Delete(rec);
    }
    ck_assert_int_ge(scripts, 80);
    /* and any amount, date or count the say functions write */
    srand(7);
    for (int i = 0; i < 3000; i++) {
        vb_lang l = (vb_lang)(i % 3);
        vb_buf b = {0};
        int64_t v = ((int64_t)rand() << 31 | rand()) % INT64_C(1000000000000);
        vb_date d = vb_date_from_days(rand() % 100000);
        vb_say_money(&b, i % 7 ? v : -v, currencies[i / 3 % 3], l, i % 5 ? 0 : VB_SAY_REFUND);
        vb_buf_puts(&b, " ");
        vb_say_period(&b, d, vb_date_from_days(vb_date_days(d) + rand() % 40), l, VB_SAY_YEAR);
        vb_buf_puts(&b, " ");
        vb_say_days(&b, rand() % 400, l);
        vb_buf_puts(&b, " ");
        vb_say_months(&b, rand() % 1000, l);
        vb_buf_puts(&b, " ");
        vb_say_day_of_month(&b, 1 + rand() % 31, l);
        vb_buf_puts(&b, " ");
        vb_say_lines(&b, 1 + rand() % 40, l);
        vb_buf_puts(&b, " ");
        vb_say_number(&b, (int64_t)rand() * rand(), l);
        int n = 0;
        ck_assert_msg(vb_clips_tokens(ctx, c, l, b.data, count_token, &n) == VBILL_OK, "%s: %s",
                      b.data, vbill_ctx_errmsg(ctx));
        vb_buf_free(&b);
    }
    vb_clips_free(c);
    free(data);
    free(dir);
}
END_TEST

/* ---- espeak-ng ---- */

static const char *KO_TEXT = "이번 달 청구 금액은 육만 구백육십 원입니다.";

static vbill_voice *espeak(void)
{
    vbill_voice *v = NULL;
    vbill_status st = vbill_voice_open_espeak(ctx, NULL, &v);
    ck_assert_msg(st == VBILL_OK, "espeak-ng (Debian's espeak-ng, scripts/deps.sh): %s",
                  vbill_ctx_errmsg(ctx));
    ck_assert_str_eq(vbill_voice_kind(v), "espeak-ng");
    return v;
}

START_TEST(espeak_speaks)
{
    vbill_voice *v = espeak();
    static const struct { const char *locale, *text; } cases[] = {
        {"ko-KR", "이번 달 청구 금액은 육만 구백육십 원입니다."},
        {"ja-JP", "こんげつの ごせいきゅうがくは ろくまんきゅうひゃくろくじゅうえんです。"},
        {"en-US", "This month's bill is six hundred nine dollars and sixty cents."},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++) {
        float *p;
        size_t n;
        ck_assert_int_eq(vbill_voice_say(ctx, v, cases[i].locale, cases[i].text, &p, &n),
                         VBILL_OK);
        double secs = (double)n / RATE;
        ck_assert_msg(secs > 1.5 && secs < 8, "%s: %.2f s", cases[i].locale, secs);
        ck_assert_msg(rms(p, 0, n) > 0.02, "%s: no speech energy", cases[i].locale);
        /* speech all along: no stretch of a second without energy */
        for (size_t at = 0; at + RATE <= n; at += RATE / 2)
            ck_assert_msg(rms(p, at, at + RATE) > 0.005, "%s: silent at %.1f s",
                          cases[i].locale, (double)at / RATE);
        ck_assert_msg(fabsf(p[0]) < 0.02 && fabsf(p[n - 1]) < 0.02, "edges not faded");
        vbill_free(p);
        /* the estimate of the silent voice is within a third of espeak-ng's length */
        double est = vb_voice_estimate(vb_say_lang(cases[i].locale), cases[i].text);
        ck_assert_msg(fabs(est - secs) < secs / 3, "%s: estimate %.2f s, spoken %.2f s",
                      cases[i].locale, est, secs);
    }
    /* faster */
    float *p;
    size_t n1, n2;
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", KO_TEXT, &p, &n1), VBILL_OK);
    vbill_free(p);
    ck_assert_int_eq(vbill_voice_set_rate(v, 2.0), VBILL_OK);
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", KO_TEXT, &p, &n2), VBILL_OK);
    vbill_free(p);
    ck_assert_msg(n2 < n1 * 0.7, "rate 2: %zu samples, rate 1: %zu", n2, n1);
    vbill_voice_free(v);
}
END_TEST

/* An executable script standing in for espeak-ng. */
static char *fake_program(const char *name, const char *body)
{
    char *path = malloc(strlen(tmp) + strlen(name) + 2);
    sprintf(path, "%s/%s", tmp, name);
    char script[1024];
    snprintf(script, sizeof script, "#!/bin/sh\n%s\n", body);
    write_bytes(path, script, strlen(script));
    chmod(path, 0755);
    return path;
}

START_TEST(espeak_faults)
{
    vbill_voice *v = NULL;
    ck_assert_int_eq(vbill_voice_open_espeak(ctx, "/nonexistent/espeak-ng", &v),
                     VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "apt-get install espeak-ng"));
    ck_assert_int_eq(vbill_voice_open_espeak(ctx, "no-such-espeak-program", &v),
                     VBILL_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "in PATH"));
    ck_assert_ptr_null(v);

    static const struct { const char *name, *body, *why; vbill_status st; } cases[] = {
        {"fails", "echo 'Failed to read voice' >&2; exit 1", "status 1: Failed to read voice",
         VBILL_ERR_MEDIA},
        {"garbage", "cat >/dev/null; echo not a wav", "not a RIFF WAVE", VBILL_ERR_MEDIA},
        {"nothing", "exit 0", "wrote no WAV", VBILL_ERR_MEDIA},
        {"hangs", "exec sleep 30", "took longer than 300 ms", VBILL_ERR_MEDIA},
        {"killed", "kill -9 $$", "killed by signal 9", VBILL_ERR_MEDIA},
    };
    char big[60000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++) {
        char *prog = fake_program(cases[i].name, cases[i].body);
        ck_assert_int_eq(vbill_voice_open_espeak(ctx, prog, &v), VBILL_OK);
        ck_assert_int_eq(vbill_voice_set_timeout(v, 300), VBILL_OK);
        float *p = NULL;
        size_t n = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* a long text to a program that never reads it: no SIGPIPE, no hang */
        vbill_status st = vbill_voice_say(ctx, v, "ko-KR", big, &p, &n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert_msg(st == cases[i].st, "%s: status %d: %s", cases[i].name, st,
                      vbill_ctx_errmsg(ctx));
        ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), cases[i].why), "%s: %s", cases[i].name,
                      vbill_ctx_errmsg(ctx));
        ck_assert_msg(t1.tv_sec - t0.tv_sec < 5, "%s: took too long", cases[i].name);
        ck_assert_ptr_null(p);
        vbill_voice_free(v);
        free(prog);
    }
}
END_TEST

/* A sentence said again is recalled, not said by espeak-ng again: the same samples, one run
 * of the program (a wrapper counts them); another text or speed runs it again. */
START_TEST(espeak_recalls_a_sentence)
{
    char counter[512], body[1024];
    snprintf(counter, sizeof counter, "%s/espeak-runs", tmp);
    snprintf(body, sizeof body, "echo run >>'%s'; exec espeak-ng \"$@\"", counter);
    char *prog = fake_program("counting-espeak", body);
    vbill_voice *v = NULL;
    ck_assert_int_eq(vbill_voice_open_espeak(ctx, prog, &v), VBILL_OK);
    float *a, *b, *c;
    size_t na, nb, nc;
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", KO_TEXT, &a, &na), VBILL_OK);
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", KO_TEXT, &b, &nb), VBILL_OK);
    ck_assert_msg(na > RATE && na == nb && !memcmp(a, b, na * sizeof *a),
                  "recalled: %zu samples, said: %zu", nb, na);
    ck_assert_ptr_ne(a, b); /* each caller owns its copy */
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", "다음 달 예상 금액은 십삼만 구천 원입니다.",
                                     &c, &nc), VBILL_OK);
    vbill_free(c);
    ck_assert_int_eq(vbill_voice_set_rate(v, 1.5), VBILL_OK);
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", KO_TEXT, &c, &nc), VBILL_OK);
    ck_assert_msg(nc < na, "rate 1.5 recalled the rate 1 sentence");
    size_t len = 0;
    char *runs = vb_read_file(counter, 4096, &len);
    ck_assert_ptr_nonnull(runs);
    ck_assert_msg(len == 3 * strlen("run\n"), "espeak-ng ran %zu times, not 3",
                  len / strlen("run\n"));
    free(runs);
    vbill_free(a);
    vbill_free(b);
    vbill_free(c);
    vbill_voice_free(v);
    free(prog);
}
END_TEST

/* ---- the silent voice, the default voice, a script on its timeline ---- */

static int warnings;
static void count_warnings(void *user, vbill_log_level level, const char *msg)
{
    (void)user;
    (void)msg;
    warnings += level == VBILL_LOG_WARN;
}

START_TEST(silent_voice)
{
    vbill_ctx_set_log(ctx, count_warnings, NULL, VBILL_LOG_WARN);
    warnings = 0;
    vbill_voice *v;
    ck_assert_int_eq(vbill_voice_open_silent(ctx, &v), VBILL_OK);
    ck_assert_int_eq(warnings, 1);
    ck_assert_str_eq(vbill_voice_kind(v), "silent");
    float *p;
    size_t n;
    ck_assert_int_eq(vbill_voice_say(ctx, v, "ko-KR", KO_TEXT, &p, &n), VBILL_OK);
    ck_assert_msg(n > RATE * 2 && n < RATE * 6, "%zu samples", n);
    ck_assert(rms(p, 0, n) == 0);
    vbill_free(p);
    vbill_voice_free(v);
    /* the default voice: espeak-ng when installed, else silent with a warning */
    const char *path = getenv("PATH");
    char *saved = strdup(path ? path : "");
    setenv("PATH", "/nonexistent", 1);
    warnings = 0;
    ck_assert_int_eq(vbill_voice_open_default(ctx, &v), VBILL_OK);
    setenv("PATH", saved, 1);
    free(saved);
    ck_assert_str_eq(vbill_voice_kind(v), "silent");
    ck_assert_int_ge(warnings, 1);
    vbill_voice_free(v);
    ck_assert_int_eq(vbill_voice_open_default(ctx, &v), VBILL_OK);
    ck_assert_str_eq(vbill_voice_kind(v), "espeak-ng");
    vbill_voice_free(v);
}
END_TEST

START_TEST(script_on_its_timeline)
{
    char *script = NULL;
    ck_assert_int_eq(narrate(TU_SPEC_EXAMPLE, &script),
                     VBILL_OK);
    vbill_voice *v = espeak();
    float *p;
    size_t n;
    ck_assert_int_eq(vbill_voice_narration(ctx, v, script, VBILL_SCENES_ALL, &p, &n), VBILL_OK);
    ck_assert_msg(n >= (size_t)(119.5 * RATE) && n < 121 * RATE, "%.2f s", (double)n / RATE);
    /* speech where each scene speaks; the lead-in before the first one is silent */
    cJSON *s = cJSON_Parse(script);
    const cJSON *sc;
    cJSON_ArrayForEach(sc, cJSON_GetObjectItem(s, "scenes"))
    {
        double a = cJSON_GetObjectItem(sc, "start")->valuedouble;
        double b = cJSON_GetObjectItem(sc, "end")->valuedouble;
        double e = rms(p, (size_t)(a * RATE), (size_t)(b * RATE));
        ck_assert_msg(e > 0.02, "no speech in %.1f-%.1f s (rms %.4f)", a, b, e);
    }
    ck_assert(rms(p, 0, RATE * 4 / 10) < 1e-4);
    vbill_free(p);
    /* the personal scenes only: speech in their windows, silence in the fixed ones' */
    ck_assert_int_eq(vbill_voice_narration(ctx, v, script, VBILL_SCENES_PERSONAL, &p, &n),
                     VBILL_OK);
    int personal = 0;
    cJSON_ArrayForEach(sc, cJSON_GetObjectItem(s, "scenes"))
    {
        double a = cJSON_GetObjectItem(sc, "start")->valuedouble;
        double b = cJSON_GetObjectItem(sc, "end")->valuedouble;
        double e = rms(p, (size_t)(a * RATE), (size_t)(b * RATE));
        if (cJSON_IsTrue(cJSON_GetObjectItem(sc, "personal"))) {
            personal++;
            ck_assert_msg(e > 0.02, "no speech in the personal window %.1f-%.1f s", a, b);
        } else if (a > 1) { /* the intro's speech may not reach past 10 s: check the rest */
            ck_assert_msg(e < 1e-4, "speech in the fixed scene at %.1f s", a);
        }
    }
    ck_assert_int_eq(personal, 6);
    cJSON_Delete(s);
    vbill_free(p);
    ck_assert_int_eq(vbill_voice_narration(ctx, v, "{\"scenes\":3}", VBILL_SCENES_ALL, &p, &n),
                     VBILL_ERR_JSON);
    vbill_voice_free(v);
    vbill_free(script);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("voice");
    TCase *tc = tcase_create("voice");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wav_formats);
    tcase_add_test(tc, wav_chunks_and_faults);
    tcase_add_test(tc, wav_write_and_resample);
    tcase_add_test(tc, clips_cut_and_join);
    tcase_add_test(tc, clips_tokenizer);
    tcase_add_test(tc, clips_folder_faults);
    tcase_add_test(tc, clip_list_covers_every_script);
    tcase_add_test(tc, espeak_speaks);
    tcase_add_test(tc, espeak_faults);
    tcase_add_test(tc, espeak_recalls_a_sentence);
    tcase_add_test(tc, silent_voice);
    tcase_add_test(tc, script_on_its_timeline);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
