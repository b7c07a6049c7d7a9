/* job.c: one render job, a bill over a prepared template: the slot images, the prepared
 * input, and the re-encoder of one personal GOP run (decode, blend the slot texts in YUV,
 * encode with the prepare's settings).  render.c (MP4), segment.c (MPEG-TS segments) and
 * still.c (a JPEG of one frame) drive it. */
#include "config.h"
#include "video/job.h"
#include "mustache.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/opt.h>

/* ---- overlays: the slot images converted to YUV once per render -------------------- */

static void overlay_from_rgba(vb_overlay *o, const vb_text_image *img, bool bt709)
{
    double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114, kg = 1.0 - kr - kb;
    for (int y = 0; y < o->h; y++)
        for (int x = 0; x < o->w; x++) {
            const uint8_t *px = img->rgba + ((size_t)y * (size_t)img->w + (size_t)x) * 4;
            double r = px[0] / 255.0, g = px[1] / 255.0, b = px[2] / 255.0;
            double yy = kr * r + kg * g + kb * b;
            size_t i = (size_t)y * (size_t)o->w + (size_t)x;
            o->Y[i] = (uint8_t)lrint(16 + 219 * yy);
            o->U[i] = (uint8_t)lrint(128 + 224 * (b - yy) / (2 * (1 - kb)));
            o->V[i] = (uint8_t)lrint(128 + 224 * (r - yy) / (2 * (1 - kr)));
            o->A[i] = px[3];
        }
}

static void vb_overlays_free(vb_overlay *ov, int n)
{
    for (int i = 0; i < n; i++) {
        free(ov[i].Y);
        ov[i].Y = NULL;
    }
}

/* Straight alpha blend; chroma from the mean of the 2x2 luma samples it covers. */
static void blend(AVFrame *f, const vb_overlay *o)
{
    for (int y = 0; y < o->h; y++) {
        uint8_t *row = f->data[0] + (size_t)(o->y + y) * (size_t)f->linesize[0] + o->x;
        const uint8_t *oy = o->Y + (size_t)y * (size_t)o->w, *oa = o->A + (size_t)y * (size_t)o->w;
        for (int x = 0; x < o->w; x++) {
            unsigned a = oa[x];
            if (a)
                row[x] = (uint8_t)((row[x] * (255 - a) + oy[x] * a + 127) / 255);
        }
    }
    int cx0 = o->x / 2, cy0 = o->y / 2;
    int cx1 = (o->x + o->w + 1) / 2, cy1 = (o->y + o->h + 1) / 2;
    for (int cy = cy0; cy < cy1; cy++) {
        uint8_t *ru = f->data[1] + (size_t)cy * (size_t)f->linesize[1];
        uint8_t *rv = f->data[2] + (size_t)cy * (size_t)f->linesize[2];
        for (int cx = cx0; cx < cx1; cx++) {
            unsigned asum = 0, usum = 0, vsum = 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int lx = 2 * cx + dx - o->x, ly = 2 * cy + dy - o->y;
                    if (lx < 0 || ly < 0 || lx >= o->w || ly >= o->h)
                        continue;
                    size_t i = (size_t)ly * (size_t)o->w + (size_t)lx;
                    asum += o->A[i];
                    usum += o->U[i] * (unsigned)o->A[i];
                    vsum += o->V[i] * (unsigned)o->A[i];
                }
            if (!asum)
                continue;
            /* alpha of the chroma sample: mean over its 4 luma positions */
            unsigned a = (asum + 2) / 4;
            unsigned tu = (usum + asum / 2) / asum, tv = (vsum + asum / 2) / asum;
            ru[cx] = (uint8_t)((ru[cx] * (255 - a) + tu * a + 127) / 255);
            rv[cx] = (uint8_t)((rv[cx] * (255 - a) + tv * a + 127) / 255);
        }
    }
}

void vb_job_blend(const vb_job *j, AVFrame *f, int64_t frame)
{
    for (int i = 0; i < j->nov; i++)
        if (j->ov[i].Y && frame >= j->ov[i].f0 && frame < j->ov[i].f1)
            blend(f, &j->ov[i]);
}

/* ---- the bill: variant, slot images ------------------------------------------------ */

vbill_status vb_job_prepare(vbill_ctx *ctx, const vbill_template *t, const vbill_bill *bill,
                            double speed, vb_job *j)
{
    if (!t->prepared)
        return vb_error(ctx, VBILL_ERR_ARG,
                        "template '%s' is not prepared (vbill_template_prepare / vbill template "
                        "prepare)",
                        t->dir);
    const vb_identity *id = &bill->ident;
    if (!id->scenario[0])
        return vb_error(ctx, VBILL_ERR_NOT_TARGET, "bill '%s' matches no scenario: no video bill",
                        id->id);
    if (strcmp(id->scenario, t->scenario) != 0)
        return vb_error(ctx, VBILL_ERR_ARG,
                        "bill '%s' is scenario '%s' but template '%s' is for '%s'", id->id,
                        id->scenario, t->dir, t->scenario);
    double slow = av_q2d(t->slow_speed);
    if (speed == 0)
        j->variant = id->senior ? 1 : 0;
    else if (fabs(speed - 1.0) < 1e-6)
        j->variant = 0;
    else if (fabs(speed - slow) < 1e-3)
        j->variant = 1;
    else
        return vb_error(ctx, VBILL_ERR_ARG,
                        "speed %g is not prepared for template '%s' (1, %g or 0 for auto)", speed,
                        t->dir, slow);
    j->ftb = vb_job_frame_time(t, j->variant);
    snprintf(j->record_id, sizeof j->record_id, "%s", id->id);
    snprintf(j->locale, sizeof j->locale, "%s", id->locale);
    if (j->no_images)
        return VBILL_OK;
    const cJSON *c = bill->context;
    vbill_status s = VBILL_OK;
    vb_text_engine *eng = NULL;
    if (t->nslots > 0 && (s = vb_text_engine_new(ctx, &eng)))
        return s;
    bool bt709 = t->h >= 720;
    for (int i = 0; i < t->nslots && !s; i++) {
        const vb_slot *sl = &t->slots[i];
        size_t tl = 0;
        char *text = vb_mustache_render(ctx, sl->tmpl, c, NULL, &tl, &s);
        if (!text) {
            s = s ? s : VBILL_ERR_TEMPLATE;
            break;
        }
        char what[100];
        snprintf(what, sizeof what, "slot '%s'", sl->name);
        vb_text_image img = {0};
        s = vb_text_render(eng, ctx, what, text, &sl->style, sl->box[2], sl->box[3], &img);
        free(text);
        if (s)
            break;
        vb_overlay *o = &j->ov[i];
        /* the prepared frame may have lost an odd last row/column */
        o->x = sl->box[0];
        o->y = sl->box[1];
        o->w = sl->box[2] < t->w - o->x ? sl->box[2] : t->w - o->x;
        o->h = sl->box[3] < t->h - o->y ? sl->box[3] : t->h - o->y;
        o->f0 = sl->f0;
        o->f1 = sl->f1;
        if (o->w <= 0 || o->h <= 0 || img.w != sl->box[2] || img.h != sl->box[3]) {
            o->w = o->h = 0;
            vb_text_image_free(&img);
            continue;
        }
        size_t n = (size_t)o->w * (size_t)o->h;
        o->Y = malloc(n * 4);
        if (!o->Y) {
            vb_text_image_free(&img);
            s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
            break;
        }
        o->U = o->Y + n;
        o->V = o->U + n;
        o->A = o->V + n;
        overlay_from_rgba(o, &img, bt709);
        vb_text_image_free(&img);
    }
    j->nov = t->nslots;
    vb_text_engine_free(eng);
    return s;
}

/* ---- input ------------------------------------------------------------------------ */

vbill_status vb_job_media(vb_job *j, const char *what, int r)
{
    char eb[128];
    if (r == AVERROR(ENOSPC) || r == AVERROR(EFBIG) || r == AVERROR(EIO) ||
        r == AVERROR(EACCES) || r == AVERROR(EROFS) || r == AVERROR(ENOENT))
        return vb_error(j->ctx, VBILL_ERR_IO, "%s: %s", what, vb_averr(r, eb));
    return vb_error(j->ctx, VBILL_ERR_MEDIA, "%s: %s", what, vb_averr(r, eb));
}

vbill_status vb_job_open_input(vb_job *j)
{
    char *p = vb_path_join(j->t->cache_dir, j->variant ? "slow.mp4" : "normal.mp4");
    if (!p)
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    vbill_status s = vb_job_open_input_path(j, p);
    free(p);
    return s;
}

vbill_status vb_job_open_input_path(vb_job *j, const char *p)
{
    const vbill_template *t = j->t;
    char why[200];
    int r = vb_av_open_input(&j->in, p, why);
    if (r >= 0)
        r = avformat_find_stream_info(j->in, NULL);
    if (r < 0)
        return why[0] ? vb_error(j->ctx, VBILL_ERR_MEDIA, "%s: %s", p, why)
                      : vb_job_media(j, p, r);
    j->vi = j->ai = -1;
    for (unsigned i = 0; i < j->in->nb_streams; i++) {
        enum AVMediaType ty = j->in->streams[i]->codecpar->codec_type;
        if (ty == AVMEDIA_TYPE_VIDEO && j->vi < 0)
            j->vi = (int)i;
        else if (ty == AVMEDIA_TYPE_AUDIO && j->ai < 0)
            j->ai = (int)i;
    }
    if (j->vi < 0 || j->ai < 0)
        return vb_error(j->ctx, VBILL_ERR_MEDIA, "template '%s': prepared video is damaged",
                        t->dir);
    j->ftb = vb_job_frame_time(t, j->variant);
    j->pkt = av_packet_alloc();
    j->frm = av_frame_alloc();
    j->epkt = av_packet_alloc();
    if (!j->pkt || !j->frm || !j->epkt)
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    return VBILL_OK;
}

int64_t vb_job_frame_of(const vb_job *j, int64_t pts)
{
    return av_rescale_q_rnd(pts, j->in->streams[j->vi]->time_base, j->ftb,
                            AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

int vb_job_segment_of(const vb_job *j, int64_t frame)
{
    const vbill_template *t = j->t;
    int lo = 0, hi = t->nsegments - 1;
    if (frame < 0)
        return 0;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (t->segments[mid].f0 <= frame)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int vb_job_audio_segment(const vb_job *j, int64_t pts)
{
    if (pts == AV_NOPTS_VALUE)
        return -1;
    int64_t f = av_rescale_q_rnd(pts, j->in->streams[j->ai]->time_base, j->ftb, AV_ROUND_DOWN);
    return vb_job_segment_of(j, f);
}

/* ---- H.264 headers --------------------------------------------------------------- */

/* Finds NAL units of `type` in Annex B data; returns the first's bytes. */
static const uint8_t *annexb_find(const uint8_t *d, int n, int type, int *len)
{
    int i = 0;
    while (i + 3 <= n) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
            int s = i + 3, e = s;
            while (e + 3 <= n && !(d[e] == 0 && d[e + 1] == 0 && (d[e + 2] == 1 ||
                                                                    (d[e + 2] == 0 && e + 3 < n &&
                                                                     d[e + 3] == 1))))
                e++;
            if (e + 3 > n)
                e = n;
            if (s < n && (d[s] & 0x1f) == type) {
                *len = e - s;
                return d + s;
            }
            i = e;
        } else {
            i++;
        }
    }
    return NULL;
}

/* The first SPS and PPS of an avcC record. */
static bool avcc_params(const uint8_t *d, int n, const uint8_t **sps, int *sl, const uint8_t **pps,
                        int *pl)
{
    if (n < 7 || d[0] != 1)
        return false;
    int ns = d[5] & 0x1f, i = 6;
    if (ns < 1 || i + 2 > n)
        return false;
    *sl = (d[i] << 8) | d[i + 1];
    *sps = d + i + 2;
    i += 2 + *sl;
    for (int k = 1; k < ns && i + 2 <= n; k++)
        i += 2 + ((d[i] << 8) | d[i + 1]);
    if (i + 3 > n || (d[i] & 0xff) < 1)
        return false;
    i++;
    *pl = (d[i] << 8) | d[i + 1];
    *pps = d + i + 2;
    return i + 2 + *pl <= n;
}

static vbill_status vb_job_check_headers(vb_job *j, const AVCodecContext *enc)
{
    const AVCodecParameters *cp = j->in->streams[j->vi]->codecpar;
    const uint8_t *s1, *p1, *s2, *p2;
    int sl1, pl1, sl2 = 0, pl2 = 0;
    if (!avcc_params(cp->extradata, cp->extradata_size, &s1, &sl1, &p1, &pl1))
        return vb_error(j->ctx, VBILL_ERR_MEDIA, "template '%s': prepared video has no avcC",
                        j->t->dir);
    s2 = annexb_find(enc->extradata, enc->extradata_size, 7, &sl2);
    p2 = annexb_find(enc->extradata, enc->extradata_size, 8, &pl2);
    if (!s2 || !p2 || sl1 != sl2 || pl1 != pl2 || memcmp(s1, s2, (size_t)sl1) ||
        memcmp(p1, p2, (size_t)pl1))
        return vb_error(j->ctx, VBILL_ERR_MEDIA,
                        "template '%s': the re-encoder's SPS/PPS differ from the prepared "
                        "video's (prepared with another libx264?): prepare it again",
                        j->t->dir);
    return VBILL_OK;
}

/* Annex B packet from x264 -> 4-byte length prefixed NAL units, without parameter sets
 * (they are in the sample description) or access unit delimiters. */
static int annexb_to_avcc(const AVPacket *in, AVPacket *out)
{
    const uint8_t *d = in->data;
    int n = in->size, total = 0;
    for (int pass = 0; pass < 2; pass++) {
        int i = 0, w = 0;
        while (i + 3 <= n) {
            if (!(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) {
                i++;
                continue;
            }
            int s = i + 3, e = s;
            while (e + 3 <= n && !(d[e] == 0 && d[e + 1] == 0 &&
                                   (d[e + 2] == 1 || (d[e + 2] == 0 && e + 3 < n && d[e + 3] == 1))))
                e++;
            if (e + 3 > n)
                e = n;
            int t = s < n ? (d[s] & 0x1f) : 0;
            int len = e - s;
            if (t != 7 && t != 8 && t != 9 && len > 0) {
                if (pass == 1) {
                    out->data[w] = (uint8_t)(len >> 24);
                    out->data[w + 1] = (uint8_t)(len >> 16);
                    out->data[w + 2] = (uint8_t)(len >> 8);
                    out->data[w + 3] = (uint8_t)len;
                    memcpy(out->data + w + 4, d + s, (size_t)len);
                }
                w += 4 + len;
            }
            i = e;
        }
        if (pass == 0) {
            total = w;
            if (av_new_packet(out, total) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- the re-encoder of one personal segment --------------------------------------- */

static vbill_status reenc_emit(vb_job *j)
{
    for (;;) {
        int r = avcodec_receive_packet(j->enc, j->epkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return VBILL_OK;
        if (r < 0)
            return vb_job_media(j, "re-encoding", r);
        if ((j->still ? j->nout * j->step : j->nout) >= j->nin) {
            av_packet_unref(j->epkt);
            return vb_error(j->ctx, VBILL_ERR_MEDIA, "re-encoding: more frames out than in");
        }
        AVPacket *o = av_packet_alloc();
        if (!o || annexb_to_avcc(j->epkt, o) < 0) {
            av_packet_free(&o);
            av_packet_unref(j->epkt);
            return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
        }
        /* in a still segment output k stands for input frames [k*step, (k+1)*step) */
        int64_t first = j->still ? j->nout * j->step : j->nout;
        int64_t span = j->still ? (j->nin - first < j->step ? j->nin - first : j->step) : 1;
        const vb_ts *ts = &j->ts[first % j->tscap];
        o->pts = ts->pts;
        o->dts = ts->dts;
        o->duration = 0;
        for (int64_t k = 0; k < span; k++)
            o->duration += j->ts[(first + k) % j->tscap].dur;
        o->stream_index = j->vi;
        if (j->epkt->flags & AV_PKT_FLAG_KEY)
            o->flags |= AV_PKT_FLAG_KEY;
        j->nout++;
        av_packet_unref(j->epkt);
        vbill_status s = j->emit(j, o, j->emit_user);
        av_packet_free(&o);
        if (s)
            return s;
    }
}

static vbill_status reenc_frames(vb_job *j)
{
    for (;;) {
        int r = avcodec_receive_frame(j->dec, j->frm);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return VBILL_OK;
        if (r < 0)
            return vb_job_media(j, "decoding the prepared video", r);
        int64_t f = vb_job_frame_of(j, j->frm->best_effort_timestamp);
        if ((r = av_frame_make_writable(j->frm)) < 0) {
            av_frame_unref(j->frm);
            return vb_job_media(j, "frame", r);
        }
        vb_job_blend(j, j->frm, f);
        if (j->still) {
            /* the segment's one picture, with its text: encoded at the end */
            if (!j->still_frame->data[0])
                av_frame_move_ref(j->still_frame, j->frm);
            av_frame_unref(j->frm);
            continue;
        }
        j->frm->pts = j->nenc;
        j->frm->pict_type = j->nenc == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        j->frm->key_frame = j->nenc == 0;
        j->nenc++;
        r = avcodec_send_frame(j->enc, j->frm);
        av_frame_unref(j->frm);
        if (r < 0)
            return vb_job_media(j, "re-encoding", r);
        vbill_status s = reenc_emit(j);
        if (s)
            return s;
    }
}

vbill_status vb_reenc_begin(vb_job *j, int seg)
{
    const vb_segment *sg = &j->t->segments[seg];
    size_t need = (size_t)(sg->f1 - sg->f0) + 8;
    if (need > j->tscap) {
        vb_ts *n = realloc(j->ts, need * sizeof *n);
        if (!n)
            return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
        j->ts = n;
        j->tscap = need;
    }
    j->nin = j->nout = j->nenc = 0;
    j->cur = seg;
    /* A still segment is encoded from its first picture, a frame every half second, when
     * its texts stay the same through it (a text that starts or ends inside it would not). */
    j->still = sg->still;
    for (int i = 0; i < j->nov && j->still; i++) {
        const vb_overlay *o = &j->ov[i];
        bool touches = o->f0 < sg->f1 && o->f1 > sg->f0;
        if (touches && (o->f0 > sg->f0 || o->f1 < sg->f1))
            j->still = false;
    }
    j->step = (int64_t)(av_q2d(j->t->fps) / 2 + 0.5);
    if (j->step < 1)
        j->step = 1;
    if (j->still && !j->still_frame && !(j->still_frame = av_frame_alloc()))
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    if (j->still_frame)
        av_frame_unref(j->still_frame);
    const AVStream *st = j->in->streams[j->vi];
    const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
    j->dec = dc ? avcodec_alloc_context3(dc) : NULL;
    if (!j->dec)
        return vb_error(j->ctx, VBILL_ERR_MEDIA, "no H.264 decoder");
    avcodec_parameters_to_context(j->dec, st->codecpar);
    j->dec->pkt_timebase = st->time_base;
    j->dec->thread_count = 1;
    int r = avcodec_open2(j->dec, dc, NULL);
    if (r < 0)
        return vb_job_media(j, "opening the decoder", r);
    vbill_status s = vb_h264_encoder_open(j->ctx, j->t->w, j->t->h, j->t->fps, true, &j->enc);
    if (s)
        return s;
    if (!j->headers_checked) {
        if ((s = vb_job_check_headers(j, j->enc)))
            return s;
        j->headers_checked = true;
    }
    return VBILL_OK;
}

vbill_status vb_reenc_packet(vb_job *j, const AVPacket *pkt)
{
    if ((size_t)j->nin >= j->tscap)
        return vb_error(j->ctx, VBILL_ERR_MEDIA, "template '%s': a GOP is longer than planned",
                        j->t->dir);
    j->ts[j->nin % j->tscap] = (vb_ts){pkt->pts, pkt->dts, pkt->duration};
    j->nin++;
    if (j->still && j->still_frame->data[0])
        return VBILL_OK; /* the picture is in hand: the rest of the segment is the same */
    int r = avcodec_send_packet(j->dec, pkt);
    if (r < 0)
        return vb_job_media(j, "decoding the prepared video", r);
    return reenc_frames(j);
}

vbill_status vb_reenc_end(vb_job *j)
{
    vbill_status s = VBILL_OK;
    if (!j->dec)
        return VBILL_OK;
    int r = avcodec_send_packet(j->dec, NULL);
    if (r < 0 && r != AVERROR_EOF)
        s = vb_job_media(j, "decoding the prepared video", r);
    if (!s)
        s = reenc_frames(j);
    int64_t want = j->nin;
    if (!s && j->still) {
        /* the picture, once every step frames, each shown for its step (the last shorter) */
        if (!j->still_frame->data[0])
            s = vb_error(j->ctx, VBILL_ERR_MEDIA, "re-encoding segment %d: no picture", j->cur);
        want = (j->nin + j->step - 1) / j->step;
        for (int64_t k = 0; !s && k < want; k++) {
            r = av_frame_ref(j->frm, j->still_frame);
            if (r < 0) {
                s = vb_job_media(j, "frame", r);
                break;
            }
            j->frm->pts = k * j->step;
            j->frm->pict_type = k == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
            j->frm->key_frame = k == 0;
            r = avcodec_send_frame(j->enc, j->frm);
            av_frame_unref(j->frm);
            s = r < 0 ? vb_job_media(j, "re-encoding", r) : reenc_emit(j);
        }
        av_frame_unref(j->still_frame);
    }
    if (!s) {
        r = avcodec_send_frame(j->enc, NULL);
        s = r < 0 ? vb_job_media(j, "re-encoding", r) : reenc_emit(j);
    }
    if (!s && j->nout != want)
        s = vb_error(j->ctx, VBILL_ERR_MEDIA, "re-encoding segment %d: %lld frames in, %lld out",
                     j->cur, (long long)want, (long long)j->nout);
    avcodec_free_context(&j->dec);
    avcodec_free_context(&j->enc);
    j->cur = -1;
    return s;
}

void vb_job_free(vb_job *j)
{
    avcodec_free_context(&j->dec);
    avcodec_free_context(&j->enc);
    avformat_close_input(&j->in);
    av_packet_free(&j->pkt);
    av_packet_free(&j->epkt);
    av_frame_free(&j->frm);
    av_frame_free(&j->still_frame);
    free(j->ts);
    vb_overlays_free(j->ov, j->nov);
}
