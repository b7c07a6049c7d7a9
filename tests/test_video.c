/*
 * test_video.c: templates, prepare, the splicing renderer and HLS, through the public API,
 * with real FFmpeg encodes and decodes of small generated videos.
 */
#define _GNU_SOURCE
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "testutil.h"
#include "vbill.h"

static char *tmp;              /* one directory for the whole run */
static char *rec_young, *rec_senior, *rec_other; /* sample subscribers */
static vbill_template *shared; /* the main template, prepared once */
static char shared_dir[512];

static char *sample_line(int n)
{
    size_t len;
    char *all = tu_slurp(tu_src("examples/data/subscribers.jsonl"), &len);
    char *p = all;
    for (int i = 1; i < n; i++)
        p = strchr(p, '\n') + 1;
    char *e = strchr(p, '\n');
    char *out = strndup(p, e ? (size_t)(e - p) : strlen(p));
    free(all);
    return out;
}

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "command failed: %s", cmd);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A template dir with base.mp4 made by the ffmpeg CLI from `input_args` and template.json. */
static void make_template(const char *dir, const char *ffargs, const char *json)
{
    char p[600];
    sh("mkdir -p '%s'", dir);
    sh("ffmpeg -nostdin -v error -y %s '%s/base.%s'", ffargs, dir,
       strstr(ffargs, "-f matroska") ? "mkv" : "mp4");
    snprintf(p, sizeof p, "%s/template.json", dir);
    write_text(p, json);
}

#define SLOTS2                                                                                     \
    "[{\"name\":\"period\",\"text\":\"{{period_text}}\",\"from\":1.0,\"to\":2.0,"                 \
    "\"box\":[10,180,300,40],\"size\":24,\"color\":\"#FFFFFF\",\"background\":\"#000000CC\"},"     \
    "{\"name\":\"amount\",\"text\":\"{{this_month_text}}\",\"from\":3.5,\"to\":4.5,"              \
    "\"box\":[20,20,200,40],\"size\":24,\"color\":\"#FFFF00\",\"background\":\"#20202080\"}]"

/* ---- a small frame reader ---------------------------------------------------------- */

typedef struct reader {
    AVFormatContext *fc;
    AVCodecContext *dec;
    int vi;
    AVPacket *pkt;
    AVFrame *frm;
    bool eof;
    int errors;
} reader;

static void reader_open(reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    ck_assert_int_ge(avformat_open_input(&r->fc, path, NULL, NULL), 0);
    ck_assert_int_ge(avformat_find_stream_info(r->fc, NULL), 0);
    r->vi = av_find_best_stream(r->fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    ck_assert_int_ge(r->vi, 0);
    const AVCodec *c = avcodec_find_decoder(r->fc->streams[r->vi]->codecpar->codec_id);
    r->dec = avcodec_alloc_context3(c);
    avcodec_parameters_to_context(r->dec, r->fc->streams[r->vi]->codecpar);
    r->dec->thread_count = 1;
    ck_assert_int_ge(avcodec_open2(r->dec, c, NULL), 0);
    r->pkt = av_packet_alloc();
    r->frm = av_frame_alloc();
}

/* Next decoded frame (owned by the reader) or NULL at the end. */
static AVFrame *reader_next(reader *r)
{
    for (;;) {
        av_frame_unref(r->frm);
        int e = avcodec_receive_frame(r->dec, r->frm);
        if (e == 0) {
            if (r->frm->decode_error_flags || (r->frm->flags & AV_FRAME_FLAG_CORRUPT))
                r->errors++;
            return r->frm;
        }
        if (e == AVERROR_EOF)
            return NULL;
        if (r->eof) {
            avcodec_send_packet(r->dec, NULL);
            continue;
        }
        if (av_read_frame(r->fc, r->pkt) < 0) {
            r->eof = true;
            avcodec_send_packet(r->dec, NULL);
            continue;
        }
        if (r->pkt->stream_index == r->vi) {
            if (r->pkt->flags & AV_PKT_FLAG_CORRUPT)
                r->errors++;
            if (avcodec_send_packet(r->dec, r->pkt) < 0)
                r->errors++;
        }
        av_packet_unref(r->pkt);
    }
}

static void reader_close(reader *r)
{
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fc);
    av_packet_free(&r->pkt);
    av_frame_free(&r->frm);
}

typedef struct stream_info {
    int nv;           /* video frames */
    double vdur;      /* video stream duration, s */
    bool has_aac;
    double adur;
    int keys[4096];   /* frame indexes of key packets */
    int nkeys;
} stream_info;

static void probe_file(const char *path, stream_info *si)
{
    memset(si, 0, sizeof *si);
    AVFormatContext *fc = NULL;
    ck_assert_int_ge(avformat_open_input(&fc, path, NULL, NULL), 0);
    ck_assert_int_ge(avformat_find_stream_info(fc, NULL), 0);
    AVPacket *p = av_packet_alloc();
    int64_t vend = 0, aend = 0;
    while (av_read_frame(fc, p) >= 0) {
        AVStream *st = fc->streams[p->stream_index];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            if ((p->flags & AV_PKT_FLAG_KEY) && si->nkeys < 4096)
                si->keys[si->nkeys++] = si->nv;
            si->nv++;
            if (p->pts + p->duration > vend)
                vend = p->pts + p->duration;
            si->vdur = (double)vend * av_q2d(st->time_base);
        } else if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
            si->has_aac = st->codecpar->codec_id == AV_CODEC_ID_AAC;
            if (p->pts + p->duration > aend)
                aend = p->pts + p->duration;
            si->adur = (double)aend * av_q2d(st->time_base);
        }
        av_packet_unref(p);
    }
    av_packet_free(&p);
    avformat_close_input(&fc);
}

static cJSON *info_of(const vbill_template *t)
{
    char *s = vbill_template_info(t);
    ck_assert_ptr_nonnull(s);
    cJSON *j = cJSON_Parse(s);
    vbill_free(s);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *cache_of(const vbill_template *t, const char *file)
{
    static char path[1024];
    cJSON *j = info_of(t);
    snprintf(path, sizeof path, "%s/%s", cJSON_GetObjectItem(j, "cache")->valuestring, file);
    cJSON_Delete(j);
    return path;
}

static bool is_personal(const vbill_template *t, int frame)
{
    cJSON *j = info_of(t), *sg;
    bool p = false;
    cJSON_ArrayForEach(sg, cJSON_GetObjectItem(j, "segments"))
    {
        int f0 = cJSON_GetArrayItem(sg, 0)->valueint, f1 = cJSON_GetArrayItem(sg, 1)->valueint;
        if (frame >= f0 && frame < f1)
            p = cJSON_IsTrue(cJSON_GetArrayItem(sg, 2));
    }
    cJSON_Delete(j);
    return p;
}

/* The render calls on the bill of a record (a record that makes no bill gives its error). */
static vbill_bill *bill_of(vbill_ctx *ctx, const char *rec, size_t len, vbill_status *st)
{
    vbill_bill *bill = NULL;
    *st = vbill_bill_new(ctx, rec, len, 0, &bill);
    return bill;
}

static vbill_status render_mp4_rec(vbill_ctx *ctx, const vbill_template *t, const char *rec,
                                   size_t len, double speed, const char *out)
{
    vbill_status st;
    vbill_bill *bill = bill_of(ctx, rec, len, &st);
    if (bill)
        st = vbill_render_mp4(ctx, t, bill, speed, out);
    vbill_bill_free(bill);
    return st;
}

static vbill_status render_hls_rec(vbill_ctx *ctx, const vbill_template *t, const char *rec,
                                   size_t len, double speed, const char *dir, const char *base)
{
    vbill_status st;
    vbill_bill *bill = bill_of(ctx, rec, len, &st);
    if (bill)
        st = vbill_render_hls(ctx, t, bill, speed, dir, base);
    vbill_bill_free(bill);
    return st;
}

static vbill_status render_segment_rec(vbill_ctx *ctx, const vbill_template *t, const char *rec,
                                       size_t len, double speed, int seg, const char *out)
{
    vbill_status st;
    vbill_bill *bill = bill_of(ctx, rec, len, &st);
    if (bill)
        st = vbill_render_segment(ctx, t, bill, speed, seg, out);
    vbill_bill_free(bill);
    return st;
}

static vbill_template *open_prepared(const char *dir)
{
    vbill_ctx *ctx;
    vbill_template *t = NULL;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    vbill_status st = vbill_template_open(ctx, dir, &t);
    ck_assert_msg(st == VBILL_OK, "open %s: %s", dir, vbill_ctx_errmsg(ctx));
    st = vbill_template_prepare(t);
    ck_assert_msg(st == VBILL_OK, "prepare %s: %s", dir, vbill_template_errmsg(t));
    vbill_ctx_free(ctx);
    return t;
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

/* ---- fixtures ------------------------------------------------------------------- */

static void setup(void)
{
    if (tmp)
        return;
    tmp = tu_tmpdir();
    rec_young = sample_line(1);  /* mobile_new_home_new, 38 */
    rec_senior = sample_line(2); /* mobile_new_home_new, 75 */
    rec_other = sample_line(4);  /* mobile_new_bundle */
    snprintf(shared_dir, sizeof shared_dir, "%s/main", tmp);
    make_template(shared_dir,
                  "-f lavfi -i testsrc2=s=320x240:r=25:d=6 -f lavfi -i sine=f=440:d=6 "
                  "-c:v libx264 -preset ultrafast -c:a aac -shortest",
                  "{\"scenario\":\"mobile_new_home_new\",\"video\":\"base.mp4\",\"slots\":" SLOTS2
                  "}");
    shared = open_prepared(shared_dir);
}

/* ---- prepare -------------------------------------------------------------------- */

START_TEST(prepare_shape)
{
    cJSON *j = info_of(shared);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "frames")->valueint, 150);
    cJSON *sl = cJSON_GetObjectItem(j, "slots");
    int f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(sl, 0), "frames"), 0)->valueint;
    int f1 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(sl, 0), "frames"), 1)->valueint;
    int g0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(sl, 1), "frames"), 0)->valueint;
    int g1 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(sl, 1), "frames"), 1)->valueint;
    ck_assert_int_eq(f0, 25);
    ck_assert_int_eq(f1, 50);
    ck_assert_int_eq(g0, 88); /* 3.5 s * 25 = 87.5: first frame starting inside */
    ck_assert_int_eq(g1, 113);
    cJSON_Delete(j);

    stream_info *n = calloc(1, sizeof *n), *s = calloc(1, sizeof *s);
    probe_file(cache_of(shared, "normal.mp4"), n);
    probe_file(cache_of(shared, "slow.mp4"), s);
    ck_assert_int_eq(n->nv, 150);
    ck_assert(n->has_aac);
    ck_assert_double_eq_tol(n->vdur, 6.0, 1e-6);
    ck_assert_double_eq_tol(n->adur, 6.0, 0.03);
    /* IDR at every window start and end; keyframes only where planned */
    int want[] = {25, 50, 88, 113};
    for (size_t w = 0; w < 4; w++) {
        bool found = false;
        for (int k = 0; k < n->nkeys; k++)
            found |= n->keys[k] == want[w];
        ck_assert_msg(found, "no keyframe at %d", want[w]);
    }
    for (int k = 0; k < n->nkeys; k++)
        ck_assert_msg(!(n->keys[k] > 25 && n->keys[k] < 50) && !(n->keys[k] > 88 && n->keys[k] < 113),
                      "keyframe %d inside a window", n->keys[k]);
    /* slow: same frames, shown 1/0.8 longer, audio stretched */
    ck_assert_int_eq(s->nv, 150);
    ck_assert_double_eq_tol(s->vdur, 6.0 / 0.8, 1e-6);
    ck_assert(s->has_aac);
    ck_assert_double_eq_tol(s->adur, 6.0 / 0.8, 0.05);
    ck_assert_int_eq(s->nkeys, n->nkeys);
    free(n);
    free(s);
}
END_TEST

START_TEST(prepare_cached)
{
    struct stat a, b;
    ck_assert_int_eq(stat(cache_of(shared, "meta.json"), &a), 0);
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    vbill_template *t = NULL;
    ck_assert_int_eq(vbill_template_open(ctx, shared_dir, &t), VBILL_OK);
    ck_assert_int_eq(vbill_template_is_prepared(t), 1); /* cache hit on open */
    ck_assert_int_eq(vbill_template_prepare(t), VBILL_OK);
    ck_assert_int_eq(stat(cache_of(t, "meta.json"), &b), 0);
    ck_assert(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
    /* only the cache directory itself: no temporary left over */
    char root[600];
    snprintf(root, sizeof root, "%s/.vbill-prepared", shared_dir);
    ck_assert_int_eq(count_files(root, ".tmp"), 0);
    vbill_template_free(t);
    vbill_ctx_free(ctx);
}
END_TEST

/* The overlay rendition: the normal-speed base whole, no text in the slot windows, every
 * segment beside its playlist (the shared ones hard links to hls-normal/'s). */
static void check_overlay(const vbill_template *t)
{
    char pl[1024];
    snprintf(pl, sizeof pl, "%s", cache_of(t, "hls-overlay/index.m3u8"));
    reader a, b;
    reader_open(&a, cache_of(t, "normal.mp4"));
    reader_open(&b, pl);
    AVFrame *fa, *fb;
    int n = 0;
    while ((fa = reader_next(&a))) {
        fb = reader_next(&b);
        ck_assert_msg(fb != NULL, "the overlay rendition has only %d frames", n);
        for (int pl_ = 0; pl_ < 3; pl_++) {
            int w = pl_ ? fa->width / 2 : fa->width, h = pl_ ? fa->height / 2 : fa->height;
            for (int y = 0; y < h; y++)
                ck_assert_msg(!memcmp(fa->data[pl_] + (size_t)y * fa->linesize[pl_],
                                      fb->data[pl_] + (size_t)y * fb->linesize[pl_], (size_t)w),
                              "overlay frame %d differs from the base (plane %d row %d)", n, pl_, y);
        }
        n++;
    }
    ck_assert_ptr_null(reader_next(&b));
    ck_assert_int_eq(a.errors + b.errors, 0);
    reader_close(&a);
    reader_close(&b);
    cJSON *j = info_of(t), *sg;
    ck_assert_int_eq(n, cJSON_GetObjectItem(j, "frames")->valueint);
    int k = 0, personal = 0;
    cJSON_ArrayForEach(sg, cJSON_GetObjectItem(j, "segments"))
    {
        char name[64], o[1100], s[1100];
        struct stat so, ss;
        snprintf(name, sizeof name, "hls-overlay/s%05d.ts", k);
        snprintf(o, sizeof o, "%s", cache_of(t, name));
        ck_assert_msg(stat(o, &so) == 0, "missing %s", o);
        snprintf(name, sizeof name, "hls-normal/s%05d.ts", k);
        snprintf(s, sizeof s, "%s", cache_of(t, name));
        if (cJSON_IsTrue(cJSON_GetArrayItem(sg, 2))) {
            personal++;
            ck_assert(stat(s, &ss) != 0); /* a window is never shared */
        } else {
            ck_assert(stat(s, &ss) == 0 && ss.st_ino == so.st_ino);
        }
        k++;
    }
    cJSON_Delete(j);
    ck_assert_int_eq(count_files(cache_of(t, "hls-overlay"), "s"), k);
    ck_assert_int_gt(personal, 0);
}

START_TEST(prepare_overlay)
{
    check_overlay(shared);
    /* a cache made before the rendition existed gets it at the next prepare, without being
     * prepared again */
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char other[600];
    snprintf(other, sizeof other, "%s/overlay-later", tmp);
    sh("cp -r '%s' '%s'", shared_dir, other);
    vbill_template *t = open_prepared(other);
    struct stat a, b;
    ck_assert_int_eq(stat(cache_of(t, "meta.json"), &a), 0);
    sh("rm -r '%s'", cache_of(t, "hls-overlay"));
    vbill_template_free(t);
    ck_assert_int_eq(vbill_template_open(ctx, other, &t), VBILL_OK);
    ck_assert_int_eq(vbill_template_is_prepared(t), 1);
    ck_assert_int_eq(vbill_template_prepare(t), VBILL_OK);
    ck_assert_str_eq(vbill_template_errmsg(t), "");
    ck_assert_int_eq(stat(cache_of(t, "meta.json"), &b), 0);
    ck_assert(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
    check_overlay(t);
    char root[1100];
    snprintf(root, sizeof root, "%s", cache_of(t, ".."));
    ck_assert_int_eq(count_files(root, ".tmp"), 0);
    ck_assert_int_eq(count_files(cache_of(t, ""), ".tmp"), 0);
    vbill_template_free(t);
    vbill_ctx_free(ctx);
}
END_TEST

/* ---- render --------------------------------------------------------------------- */

/* Compares out with the prepared video frame by frame: identical outside the slot
 * windows, different only inside the slot boxes within them, and not empty there. */
static void check_render(const vbill_template *t, const char *prepared, const char *out,
                         int nframes, const int (*boxes)[6], int nboxes)
{
    reader a, b;
    reader_open(&a, prepared);
    reader_open(&b, out);
    int f = 0;
    AVFrame *fa, *fb;
    int changed_inside = 0;
    long outside_n = 0, outside_sum = 0;
    while ((fa = reader_next(&a))) {
        fb = reader_next(&b);
        ck_assert_msg(fb != NULL, "output has only %d frames", f);
        ck_assert_int_eq(fa->width, fb->width);
        bool personal = is_personal(t, f);
        for (int pl = 0; pl < 3; pl++) {
            int w = pl ? fa->width / 2 : fa->width, h = pl ? fa->height / 2 : fa->height;
            int sc = pl ? 2 : 1;
            for (int y = 0; y < h; y++) {
                const uint8_t *ra = fa->data[pl] + (size_t)y * fa->linesize[pl];
                const uint8_t *rb = fb->data[pl] + (size_t)y * fb->linesize[pl];
                if (!personal) {
                    ck_assert_msg(!memcmp(ra, rb, (size_t)w), "frame %d plane %d row %d differs "
                                  "outside any window", f, pl, y);
                    continue;
                }
                if (pl)
                    continue;
                for (int x = 0; x < w; x++) {
                    bool inbox = false;
                    for (int k = 0; k < nboxes; k++) {
                        const int *bx = boxes[k];
                        if (f >= bx[4] && f < bx[5] && x >= bx[0] / sc - 2 &&
                            x < (bx[0] + bx[2]) / sc + 2 && y >= bx[1] / sc - 2 &&
                            y < (bx[1] + bx[3]) / sc + 2)
                            inbox = true;
                    }
                    int d = abs((int)ra[x] - (int)rb[x]);
                    if (inbox && d > 40)
                        changed_inside++;
                    /* re-encoding moves pixels a little; text moves them a lot */
                    if (!inbox) {
                        outside_n++;
                        outside_sum += d;
                    }
                }
            }
        }
        f++;
    }
    ck_assert_ptr_null(reader_next(&b));
    ck_assert_int_eq(f, nframes);
    /* outside the boxes a re-encoded frame stays what it was (mean error < 1.5 levels) */
    ck_assert_msg(outside_n == 0 || outside_sum < 1.5 * (double)outside_n,
                  "frames changed outside the boxes: mean %.2f", (double)outside_sum / (double)outside_n);
    ck_assert_int_eq(a.errors + b.errors, 0);
    ck_assert_msg(changed_inside > 1000, "the text boxes look empty (%d pixels)", changed_inside);
    reader_close(&a);
    reader_close(&b);
}

START_TEST(render_mp4_frames)
{
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char out[600];
    snprintf(out, sizeof out, "%s/young.mp4", tmp);
    vbill_status st = render_mp4_rec(ctx, shared, rec_young, (size_t)-1, 0, out);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    stream_info *si = calloc(1, sizeof *si);
    probe_file(out, si);
    ck_assert_int_eq(si->nv, 150);
    ck_assert_double_eq_tol(si->vdur, 6.0, 1e-6);
    ck_assert(si->has_aac);
    ck_assert_double_eq_tol(si->adur, 6.0, 0.03);
    free(si);
    int boxes[2][6] = {{10, 180, 300, 40, 25, 50}, {20, 20, 200, 40, 88, 113}};
    check_render(shared, cache_of(shared, "normal.mp4"), out, 150, boxes, 2);
    /* faststart: the moov box comes before mdat */
    size_t len;
    char *bytes = tu_slurp(out, &len);
    char *moov = memmem(bytes, len, "moov", 4), *mdat = memmem(bytes, len, "mdat", 4);
    ck_assert(moov && mdat && moov < mdat);
    free(bytes);
    vbill_ctx_free(ctx);
}
END_TEST

START_TEST(render_slow_auto)
{
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char out[600];
    snprintf(out, sizeof out, "%s/senior.mp4", tmp);
    vbill_status st = render_mp4_rec(ctx, shared, rec_senior, (size_t)-1, 0, out);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    stream_info *si = calloc(1, sizeof *si);
    probe_file(out, si);
    ck_assert_int_eq(si->nv, 150);
    ck_assert_double_eq_tol(si->vdur, 7.5, 1e-6);
    ck_assert_double_eq_tol(si->adur, 7.5, 0.05);
    free(si);
    int boxes[2][6] = {{10, 180, 300, 40, 25, 50}, {20, 20, 200, 40, 88, 113}};
    check_render(shared, cache_of(shared, "slow.mp4"), out, 150, boxes, 2);
    /* a speed that was not prepared, a record of another scenario: clear errors */
    ck_assert_int_eq(render_mp4_rec(ctx, shared, rec_senior, (size_t)-1, 0.5, out),
                     VBILL_ERR_ARG);
    ck_assert_int_eq(render_mp4_rec(ctx, shared, rec_other, (size_t)-1, 1.0, out),
                     VBILL_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "mobile_new_bundle"));
    st = render_mp4_rec(ctx, shared, "{\"id\":", (size_t)-1, 1.0, out);
    ck_assert(st == VBILL_ERR_JSON || st == VBILL_ERR_RECORD);
    vbill_ctx_free(ctx);
}
END_TEST

/* ---- HLS ------------------------------------------------------------------------ */

START_TEST(render_hls)
{
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char dir[600], pl[700];
    snprintf(dir, sizeof dir, "%s/hls-young", tmp);
    vbill_status st = render_hls_rec(ctx, shared, rec_young, (size_t)-1, 1.0, dir, NULL);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    snprintf(pl, sizeof pl, "%s/index.m3u8", dir);
    size_t len;
    char *m3u = tu_slurp(pl, &len);
    ck_assert(!strncmp(m3u, "#EXTM3U\n", 8));
    ck_assert_ptr_nonnull(strstr(m3u, "#EXT-X-ENDLIST"));
    ck_assert_ptr_null(strstr(m3u, "DISCONTINUITY"));
    /* every referenced file exists; personal ones are in dir, shared ones in the cache */
    int personal = 0, shared_n = 0;
    double total = 0;
    for (char *line = strtok(m3u, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "#EXTINF:", 8))
            total += atof(line + 8);
        if (line[0] == '#')
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, line);
        ck_assert_msg(access(p, R_OK) == 0, "missing %s", p);
        if (strchr(line, '/')) {
            shared_n++;
            ck_assert_ptr_nonnull(strstr(line, ".vbill-prepared/"));
        } else {
            personal++;
        }
    }
    free(m3u);
    ck_assert_int_eq(personal, 2);
    ck_assert_int_ge(shared_n, 3);
    ck_assert_int_eq(count_files(dir, "p"), 2);
    ck_assert_double_eq_tol(total, 6.0, 1e-3);
    /* the playlist plays back to back: every frame, continuous timestamps, no errors */
    reader r;
    reader_open(&r, pl);
    int n = 0;
    int64_t last = AV_NOPTS_VALUE, step = 0;
    AVFrame *f;
    while ((f = reader_next(&r))) {
        if (last != AV_NOPTS_VALUE) {
            if (!step)
                step = f->pts - last;
            ck_assert_msg(f->pts - last == step, "timestamp jump at frame %d", n);
        }
        last = f->pts;
        n++;
    }
    ck_assert_int_eq(n, 150);
    ck_assert_int_eq(r.errors, 0);
    reader_close(&r);
    /* on demand: one personal segment equals the one the playlist has */
    cJSON *j = info_of(shared), *sg;
    int idx = 0, first = -1;
    cJSON_ArrayForEach(sg, cJSON_GetObjectItem(j, "segments"))
    {
        if (first < 0 && cJSON_IsTrue(cJSON_GetArrayItem(sg, 2)))
            first = idx;
        idx++;
    }
    cJSON_Delete(j);
    char one[700], ref[700];
    snprintf(one, sizeof one, "%s/one.ts", tmp);
    snprintf(ref, sizeof ref, "%s/p%05d.ts", dir, first);
    st = render_segment_rec(ctx, shared, rec_young, (size_t)-1, 1.0, first, one);
    ck_assert_msg(st == VBILL_OK, "%s", vbill_ctx_errmsg(ctx));
    size_t l1, l2;
    char *b1 = tu_slurp(one, &l1), *b2 = tu_slurp(ref, &l2);
    ck_assert(l1 == l2 && !memcmp(b1, b2, l1));
    free(b1);
    free(b2);
    ck_assert_int_eq(render_segment_rec(ctx, shared, rec_young, (size_t)-1, 1.0, 0, one),
                     VBILL_ERR_NOT_FOUND);
    vbill_ctx_free(ctx);
}
END_TEST

/* The segment cache: a second bill with the same texts takes its personal segments from the
 * cache (the same bytes, hard links of one file); with the cache off nothing is counted, and
 * the bytes are those of an uncached render. */
static char *slurp_seg(const char *dir, const char *name, size_t *len, ino_t *ino)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    *ino = sb.st_ino;
    return tu_slurp(p, len);
}

static int personal_ts(const struct dirent *e)
{
    return e->d_name[0] == 'p' && strstr(e->d_name, ".ts");
}

START_TEST(segment_cache)
{
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char cache[600], plain[600], a[600], b[600];
    snprintf(cache, sizeof cache, "%s/segcache", tmp);
    snprintf(plain, sizeof plain, "%s/sc-plain", tmp);
    snprintf(a, sizeof a, "%s/sc-a", tmp);
    snprintf(b, sizeof b, "%s/sc-b", tmp);
    ck_assert_int_eq(vbill_ctx_set_segment_cache(ctx, ""), VBILL_ERR_ARG);
    uint64_t hits = 9, misses = 9;
    ck_assert_int_eq(render_hls_rec(ctx, shared, rec_young, (size_t)-1, 1.0, plain, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert(hits == 0 && misses == 0);
    ck_assert_int_eq(vbill_ctx_set_segment_cache(ctx, cache), VBILL_OK);
    ck_assert_int_eq(render_hls_rec(ctx, shared, rec_young, (size_t)-1, 1.0, a, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert(hits == 0 && misses == 2);
    ck_assert_int_eq(render_hls_rec(ctx, shared, rec_young, (size_t)-1, 1.0, b, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert(hits == 2 && misses == 2);
    struct dirent **names;
    ck_assert_int_eq(scandir(a, &names, personal_ts, alphasort), 2);
    for (int n = 0; n < 2; n++) {
        size_t l0, la, lb;
        ino_t i0, ia, ib;
        const char *nm = names[n]->d_name;
        char *s0 = slurp_seg(plain, nm, &l0, &i0), *sa = slurp_seg(a, nm, &la, &ia),
             *sb = slurp_seg(b, nm, &lb, &ib);
        ck_assert(l0 == la && la == lb && !memcmp(s0, sa, l0) && !memcmp(sa, sb, la));
        ck_assert(ia == ib && i0 != ia);
        free(s0);
        free(sa);
        free(sb);
        free(names[n]);
    }
    free(names);
    /* Another speed is another segment (the texts' frames differ): a miss, not a wrong hit. */
    ck_assert_int_eq(render_hls_rec(ctx, shared, rec_young, (size_t)-1, 0.8, b, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert(hits == 2 && misses > 2);
    /* Off again: rendered, not counted. */
    ck_assert_int_eq(vbill_ctx_set_segment_cache(ctx, NULL), VBILL_OK);
    uint64_t h2, m2;
    ck_assert_int_eq(render_hls_rec(ctx, shared, rec_young, (size_t)-1, 1.0, b, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &h2, &m2);
    ck_assert(h2 == hits && m2 == misses);
    vbill_ctx_free(ctx);
}
END_TEST

/* The segment cache with a voice (issue 18): two bills whose windows draw the same pixels
 * but whose spoken sentences differ get segments of their own (the key holds the samples of
 * the voice spliced into the segment); the first bill again takes its own from the cache. */
START_TEST(segment_cache_voice)
{
    char dir[600], p[700], cache[600], a[600], b[600], a2[600];
    snprintf(dir, sizeof dir, "%s/voiced", tmp);
    make_template(dir,
                  "-f lavfi -i testsrc2=s=320x240:r=25:d=6 -f lavfi -i sine=f=440:d=6 "
                  "-c:v libx264 -preset ultrafast -c:a aac -shortest",
                  "{\"scenario\":\"mobile_new_home_new\",\"video\":\"base.mp4\",\"slots\":["
                  "{\"name\":\"amount\",\"text\":\"Your bill\",\"from\":1.0,\"to\":4.5,"
                  "\"box\":[20,20,200,40],\"size\":24,\"color\":\"#FFFF00\"}]}");
    snprintf(p, sizeof p, "%s/narration.json", dir);
    write_text(p, "{\"scenario\":\"mobile_new_home_new\",\"scenes\":[{\"scene\":\"amount\","
                  "\"start\":1.0,\"end\":4.5,\"personal\":true,"
                  "\"text\":\"{{{this_month_spoken}}}\"}]}");
    vbill_template *t = open_prepared(dir);
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    snprintf(cache, sizeof cache, "%s/segcache-voice", tmp);
    snprintf(a, sizeof a, "%s/scv-a", tmp);
    snprintf(b, sizeof b, "%s/scv-b", tmp);
    snprintf(a2, sizeof a2, "%s/scv-a2", tmp);
    ck_assert_int_eq(vbill_ctx_set_segment_cache(ctx, cache), VBILL_OK);
    uint64_t hits, misses;
    /* the young and the senior customer: the same texts, amounts 7,700 won apart */
    ck_assert_int_eq(render_hls_rec(ctx, t, rec_young, (size_t)-1, 1.0, a, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert(hits == 0 && misses > 0);
    uint64_t n = misses;
    ck_assert_int_eq(render_hls_rec(ctx, t, rec_senior, (size_t)-1, 1.0, b, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert_msg(hits == 0 && misses == 2 * n, "hits %llu misses %llu of %llu segments",
                  (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)n);
    struct dirent **names;
    ck_assert_int_eq(scandir(a, &names, personal_ts, alphasort), (int)n);
    bool differ = false;
    for (uint64_t k = 0; k < n; k++) {
        size_t la, lb;
        ino_t ia, ib;
        char *sa = slurp_seg(a, names[k]->d_name, &la, &ia);
        char *sb = slurp_seg(b, names[k]->d_name, &lb, &ib);
        ck_assert(ia != ib);
        differ = differ || la != lb || memcmp(sa, sb, la) != 0;
        free(sa);
        free(sb);
        free(names[k]);
    }
    free(names);
    ck_assert_msg(differ, "two spoken sentences, the same segments");
    ck_assert_int_eq(render_hls_rec(ctx, t, rec_young, (size_t)-1, 1.0, a2, NULL), VBILL_OK);
    vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
    ck_assert(hits == n && misses == 2 * n);
    vbill_ctx_free(ctx);
    vbill_template_free(t);
}
END_TEST

/* ---- threads -------------------------------------------------------------------- */

typedef struct job { const char *rec; char out[600]; vbill_status st; } job;

static void *render_thread(void *arg)
{
    job *j = arg;
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    j->st = render_mp4_rec(ctx, shared, j->rec, (size_t)-1, 1.0, j->out);
    vbill_ctx_free(ctx);
    return NULL;
}

START_TEST(render_two_threads)
{
    job a = {.rec = rec_young}, b = {.rec = rec_young};
    snprintf(a.out, sizeof a.out, "%s/ta.mp4", tmp);
    snprintf(b.out, sizeof b.out, "%s/tb.mp4", tmp);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, render_thread, &a);
    pthread_create(&tb, NULL, render_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_int_eq(a.st, VBILL_OK);
    ck_assert_int_eq(b.st, VBILL_OK);
    int boxes[2][6] = {{10, 180, 300, 40, 25, 50}, {20, 20, 200, 40, 88, 113}};
    check_render(shared, cache_of(shared, "normal.mp4"), a.out, 150, boxes, 2);
    check_render(shared, cache_of(shared, "normal.mp4"), b.out, 150, boxes, 2);
}
END_TEST

/* ---- other shapes of base video ------------------------------------------------- */

static void shape(const char *name, const char *ffargs, int expect_frames, double dur)
{
    char dir[600], out[700];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"scenario\":\"mobile_new_home_new\",\"video\":\"base.%s\",\"slots\":"
             "[{\"name\":\"period\",\"text\":\"{{period_text}}\",\"from\":1.0,\"to\":2.0,"
             "\"box\":[10,90,150,40],\"size\":24,\"color\":\"#FFFFFF\",\"background\":\"#000000CC\"}]}",
             strstr(ffargs, "-f matroska") ? "mkv" : "mp4");
    make_template(dir, ffargs, json);
    vbill_template *t = open_prepared(dir);
    cJSON *j = info_of(t);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "frames")->valueint, expect_frames);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "width")->valueint % 2, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "height")->valueint % 2, 0);
    cJSON *fr = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "slots"), 0),
                                    "frames");
    int boxes[1][6] = {{10, 90, 150, 40, cJSON_GetArrayItem(fr, 0)->valueint,
                        cJSON_GetArrayItem(fr, 1)->valueint}};
    cJSON_Delete(j);
    stream_info *si = calloc(1, sizeof *si);
    probe_file(cache_of(t, "normal.mp4"), si);
    ck_assert(si->has_aac); /* a silent track when the base has none */
    ck_assert_double_eq_tol(si->adur, dur, 0.03);
    free(si);
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    vbill_status st = render_mp4_rec(ctx, t, rec_young, (size_t)-1, 1.0, out);
    ck_assert_msg(st == VBILL_OK, "%s: %s", name, vbill_ctx_errmsg(ctx));
    check_render(t, cache_of(t, "normal.mp4"), out, expect_frames, boxes, 1);
    vbill_ctx_free(ctx);
    vbill_template_free(t);
}

START_TEST(shape_odd_noaudio_bframes_2997)
{
    /* 29.97 fps, odd size, B-frames, no audio, Matroska */
    shape("odd", "-f lavfi -i testsrc2=s=241x161:r=30000/1001:d=3 -c:v libx264 -preset fast "
                 "-bf 3 -pix_fmt yuv444p -f matroska",
          90, 90 * 1001 / 30000.0);
}
END_TEST

START_TEST(shape_vfr_mpeg4)
{
    /* variable frame timing, another codec (MPEG-4 part 2) */
    shape("vfr", "-f lavfi -i testsrc2=s=176x144:r=20:d=3 -f lavfi -i sine=d=3 "
                 "-vf \"setpts='N/20/TB+if(mod(N,2),0.02/TB,0)'\" -fps_mode vfr -c:v mpeg4 "
                 "-c:a aac -shortest",
          60, 3.0);
}
END_TEST

START_TEST(shape_mkv_audio_longer)
{
    /* Matroska (no per-stream duration) whose audio runs 2 s past its video: the video's last
     * frame is held to the end, not refused as truncated */
    shape("alonger", "-f lavfi -i testsrc2=s=176x144:r=25:d=2 -f lavfi -i sine=d=4 "
                     "-c:v libx264 -preset ultrafast -c:a aac -f matroska",
          101, 4.04); /* the container's 4.02 s (the last AAC frame) rounds to 101 frames */
}
END_TEST

/* ---- malformed templates and media ---------------------------------------------- */

static void expect_reject(const char *json, vbill_status want, const char *needle)
{
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    snprintf(p, sizeof p, "%s/template.json", dir);
    write_text(p, json);
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    vbill_template *t = (vbill_template *)1;
    vbill_status st = vbill_template_open(ctx, dir, &t);
    ck_assert_msg(st == want, "%s: got %d (%s)", json, st, vbill_ctx_errmsg(ctx));
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), needle), "message '%s' lacks '%s'",
                  vbill_ctx_errmsg(ctx), needle);
    vbill_ctx_free(ctx);
}

#define HEAD "{\"scenario\":\"s\",\"video\":\"base.mp4\",\"slots\":["
#define SLOT(name, from, to, box, extra)                                                          \
    "{\"name\":\"" name "\",\"text\":\"x\",\"from\":" from ",\"to\":" to ",\"box\":" box          \
    ",\"size\":20,\"color\":\"#FFFFFF\"" extra "}"

START_TEST(malformed_templates)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    sh("mkdir -p '%s' && cp '%s/base.mp4' '%s/base.mp4'", dir, shared_dir, dir);
    expect_reject("{\"scenario\":\"s\",\"slots\":[]}", VBILL_ERR_TEMPLATE, "video");
    expect_reject("{\"scenario\":\"s\",\"video\":\"nope.mp4\",\"slots\":[]}", VBILL_ERR_TEMPLATE,
                  "nope.mp4");
    expect_reject(HEAD SLOT("wide", "1", "2", "[100,10,300,40]", "") "]}", VBILL_ERR_TEMPLATE,
                  "slot 'wide': box is outside the frame");
    expect_reject(HEAD SLOT("late", "5", "7", "[0,0,10,10]", "") "]}", VBILL_ERR_TEMPLATE,
                  "slot 'late': window goes beyond");
    expect_reject(HEAD SLOT("back", "3", "2", "[0,0,10,10]", "") "]}", VBILL_ERR_TEMPLATE,
                  "slot 'back'");
    expect_reject(HEAD SLOT("a", "1", "3", "[0,0,100,100]", "") "," SLOT("b", "2", "4",
                  "[50,50,100,100]", "") "]}", VBILL_ERR_TEMPLATE, "slot 'b' overlaps slot 'a'");
    expect_reject(HEAD SLOT("col", "1", "2", "[0,0,10,10]", ",\"background\":\"#12345\"") "]}",
                  VBILL_ERR_TEMPLATE, "slot 'col'");
    expect_reject(HEAD SLOT("al", "1", "2", "[0,0,10,10]", ",\"align\":\"middle\"") "]}",
                  VBILL_ERR_TEMPLATE, "slot 'al'");
    expect_reject(HEAD "{\"name\":\"mu\",\"text\":\"{{#a}}x\",\"from\":1,\"to\":2,\"box\":[0,0,9,9],"
                       "\"size\":20,\"color\":\"#FFFFFF\"}]}",
                  VBILL_ERR_TEMPLATE, "slot 'mu'");
    expect_reject("{\"scenario\":", VBILL_ERR_JSON, "template.json");
    /* same time, different places: allowed */
    char p[700];
    snprintf(p, sizeof p, "%s/template.json", dir);
    write_text(p, HEAD SLOT("a", "1", "3", "[0,0,100,100]", "") "," SLOT("b", "2", "4",
               "[150,50,100,100]", "") "]}");
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    vbill_template *t = NULL;
    ck_assert_int_eq(vbill_template_open(ctx, dir, &t), VBILL_OK);
    vbill_template_free(t);
    /* a base cut short before its index (moov at the end) and garbage are media errors */
    sh("head -c 20000 '%s/base.mp4' > '%s/base.mp4'", shared_dir, dir);
    t = NULL;
    ck_assert_int_eq(vbill_template_open(ctx, dir, &t), VBILL_ERR_MEDIA);
    sh("head -c 5000 /dev/urandom > '%s/base.mp4'", dir);
    ck_assert_int_eq(vbill_template_open(ctx, dir, &t), VBILL_ERR_MEDIA);
    /* cut in half with the index up front (faststart): it opens, but preparing it stops with
     * a media error that says so, and nothing is left in the cache */
    sh("ffmpeg -nostdin -v error -y -i '%s/base.mp4' -c copy -movflags +faststart '%s/fs.mp4' && "
       "head -c $(( $(stat -c %%s '%s/fs.mp4') / 2 )) '%s/fs.mp4' > '%s/base.mp4'",
       shared_dir, dir, dir, dir, dir);
    ck_assert_int_eq(vbill_template_open(ctx, dir, &t), VBILL_OK);
    ck_assert_int_eq(vbill_template_prepare(t), VBILL_ERR_MEDIA);
    ck_assert_msg(strstr(vbill_template_errmsg(t), "truncated"), "message: %s",
                  vbill_template_errmsg(t));
    vbill_template_free(t);
    char cache[700];
    snprintf(cache, sizeof cache, "%s/.vbill-prepared", dir);
    ck_assert_int_le(count_files(cache, ""), 2); /* absent (-1), or only "." and ".." */
    vbill_ctx_free(ctx);
}
END_TEST

/* ---- failures leave nothing behind ---------------------------------------------- */

START_TEST(no_partial_output)
{
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    char ro[600], out[700];
    snprintf(ro, sizeof ro, "%s/ro", tmp);
    mkdir(ro, 0555);
    snprintf(out, sizeof out, "%s/x.mp4", ro);
    if (geteuid() != 0) {
        ck_assert_int_eq(render_mp4_rec(ctx, shared, rec_young, (size_t)-1, 1.0, out),
                         VBILL_ERR_IO);
        ck_assert_int_eq(count_files(ro, ""), 2); /* . and .. */
    }
    snprintf(out, sizeof out, "%s/missing/dir/x.mp4", tmp);
    ck_assert_int_eq(render_mp4_rec(ctx, shared, rec_young, (size_t)-1, 1.0, out), VBILL_ERR_IO);
    /* a full disk: the child may write at most 100 kB */
    char full[600];
    snprintf(full, sizeof full, "%s/full", tmp);
    mkdir(full, 0755);
    snprintf(out, sizeof out, "%s/x.mp4", full);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {100000, 100000};
        setrlimit(RLIMIT_FSIZE, &rl);
        vbill_ctx *c2;
        ck_assert_int_eq(vbill_ctx_new(&c2), VBILL_OK);
        vbill_status st = render_mp4_rec(c2, shared, rec_young, (size_t)-1, 1.0, out);
        _exit(st == VBILL_ERR_IO ? 0 : st == VBILL_OK ? 1 : 2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    ck_assert_int_eq(count_files(full, ""), 2);
    vbill_ctx_free(ctx);
}
END_TEST

/* ---- a template may not pull other files into the video -------------------------- */

/* Runs the vbill command with args; its exit status, and its standard error in err. */
static int vbill_cli(const char *args, char *err, size_t errlen)
{
    const char *b = getenv("VBILL_BUILDDIR");
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "'%s/examples/vbill' %s 2>&1 >/dev/null", b ? b : ".", args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(err, 1, errlen - 1, p);
    err[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(untrusted_base_video)
{
    char base[600], secret[700];
    snprintf(base, sizeof base, "%s/untrusted", tmp);
    snprintf(secret, sizeof secret, "%s/secret.txt", base);
    sh("mkdir -p '%s' && for i in $(seq 1 200); do echo \"line $i: SECRET-7731 the customer "
       "database password\"; done > '%s'", base, secret);
    static const struct {
        const char *video;  /* template.json's "video" ("@" stands for the shared base) */
        const char *make;   /* shell run in the template folder (%s: the shared folder) */
        vbill_status want;
        const char *needle;
    } cases[] = {
        {"../secret.txt", "", VBILL_ERR_TEMPLATE, "must be the name of a file in the template"},
        {"@", "", VBILL_ERR_TEMPLATE, "must be the name of a file in the template"},
        {"sub/base.mp4", "mkdir sub && cp '%s/base.mp4' sub/", VBILL_ERR_TEMPLATE,
         "must be the name of a file in the template"},
        {"..", "", VBILL_ERR_TEMPLATE, "must be the name of a file in the template"},
        {"base.mp4", "ln -s '%s/base.mp4' base.mp4", VBILL_ERR_TEMPLATE,
         "symbolic link that leads outside the template folder"},
        {"base.mp4", "ln -s ../secret.txt base.mp4", VBILL_ERR_TEMPLATE,
         "leads outside the template folder"},
        {"base.mp4", "mkdir base.mp4", VBILL_ERR_TEMPLATE, "is not a regular file"},
        {"base.mp4", "cp ../secret.txt base.mp4", VBILL_ERR_MEDIA, "not a video file"},
        {"notes.txt", "cp ../secret.txt notes.txt", VBILL_ERR_MEDIA,
         "its format is 'tty'"},
        {"base.mp4", "printf '#EXTM3U\\n#EXT-X-TARGETDURATION:10\\n#EXTINF:6.0,\\n%s/base.mp4\\n"
         "#EXT-X-ENDLIST\\n' > base.mp4", VBILL_ERR_MEDIA, "its format is 'hls'"},
        {"base.mp4", "cp '%s/base.mp4' inner.mp4 && printf \"ffconcat version 1.0\\nfile "
         "'inner.mp4'\\n\" > base.mp4", VBILL_ERR_MEDIA, "its format is 'concat'"},
    };
    vbill_ctx *ctx;
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[700], p[800], json[1200], video[600], err[4096], args[900];
        snprintf(dir, sizeof dir, "%s/t%zu", base, i);
        sh("mkdir -p '%s'", dir);
        char make[1500];
        snprintf(make, sizeof make, cases[i].make, shared_dir);
        if (make[0])
            sh("cd '%s' && %s", dir, make);
        snprintf(video, sizeof video, "%s",
                 strcmp(cases[i].video, "@") ? cases[i].video : shared_dir);
        if (!strcmp(cases[i].video, "@"))
            strcat(video, "/base.mp4");
        snprintf(json, sizeof json, "{\"scenario\":\"s\",\"video\":\"%s\",\"slots\":[]}", video);
        snprintf(p, sizeof p, "%s/template.json", dir);
        write_text(p, json);
        vbill_template *t = (vbill_template *)1;
        vbill_status st = vbill_template_open(ctx, dir, &t);
        ck_assert_msg(st == cases[i].want, "case %zu (%s): status %d: %s", i, make, st,
                      vbill_ctx_errmsg(ctx));
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), cases[i].needle), "case %zu: '%s'", i,
                      vbill_ctx_errmsg(ctx));
        ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), "SECRET-7731"));
        /* the command line says the same and prepares nothing */
        static const char *const cmds[] = {"check", "prepare"};
        for (int c = 0; c < 2; c++) {
            snprintf(args, sizeof args, "template %s '%s'", cmds[c], dir);
            int rc = vbill_cli(args, err, sizeof err);
            ck_assert_msg(rc != 0 && strstr(err, cases[i].needle), "case %zu: vbill %s: exit "
                          "%d: %s", i, args, rc, err);
        }
        snprintf(p, sizeof p, "%s/.vbill-prepared", dir);
        ck_assert_int_eq(count_files(p, ""), -1);
    }
    /* a symbolic link that stays inside the folder is fine */
    char dir[700], p[800];
    snprintf(dir, sizeof dir, "%s/inside", base);
    sh("mkdir -p '%s' && cp '%s/base.mp4' '%s/real.mp4' && ln -s real.mp4 '%s/base.mp4'", dir,
       shared_dir, dir, dir);
    snprintf(p, sizeof p, "%s/template.json", dir);
    write_text(p, "{\"scenario\":\"s\",\"video\":\"base.mp4\",\"slots\":[]}");
    vbill_template *t = NULL;
    ck_assert_int_eq(vbill_template_open(ctx, dir, &t), VBILL_OK);
    /* the file swapped for a playlist after the check: prepare opens it the same way */
    sh("printf '#EXTM3U\\n#EXT-X-TARGETDURATION:10\\n#EXTINF:6.0,\\n%s/base.mp4\\n"
       "#EXT-X-ENDLIST\\n' > '%s/real.mp4'", shared_dir, dir);
    ck_assert_int_eq(vbill_template_prepare(t), VBILL_ERR_MEDIA);
    ck_assert_msg(strstr(vbill_template_errmsg(t), "its format is 'hls'"), "prepare: %s",
                  vbill_template_errmsg(t));
    vbill_template_free(t);
    snprintf(p, sizeof p, "%s/.vbill-prepared", dir);
    ck_assert_int_le(count_files(p, ""), 2);
    /* stills are read the same way */
    unsigned char *jpeg = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/real.mp4", dir);
    ck_assert_int_eq(vbill_still_jpeg(ctx, p, 1.0, 0, &jpeg, &len), VBILL_ERR_MEDIA);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "its format is 'hls'"));
    ck_assert_int_eq(vbill_still_jpeg(ctx, secret, 0.0, 0, &jpeg, &len), VBILL_ERR_MEDIA);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "its format is 'tty'"));
    ck_assert_ptr_null(jpeg);
    vbill_ctx_free(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("video");
    TCase *tc = tcase_create("video");
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, prepare_shape);
    tcase_add_test(tc, prepare_cached);
    tcase_add_test(tc, prepare_overlay);
    tcase_add_test(tc, render_mp4_frames);
    tcase_add_test(tc, render_slow_auto);
    tcase_add_test(tc, render_hls);
    tcase_add_test(tc, segment_cache);
    tcase_add_test(tc, segment_cache_voice);
    tcase_add_test(tc, render_two_threads);
    tcase_add_test(tc, shape_odd_noaudio_bframes_2997);
    tcase_add_test(tc, shape_vfr_mpeg4);
    tcase_add_test(tc, shape_mkv_audio_longer);
    tcase_add_test(tc, malformed_templates);
    tcase_add_test(tc, untrusted_base_video);
    tcase_add_test(tc, no_partial_output);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc = tu_run(suite());
    if (tmp && rc == 0)
        tu_rmtree(tmp);
    return rc;
}
