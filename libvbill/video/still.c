/* still.c: a JPEG still of the frame a customer saw, so the agent sees the same picture:
 * from a video file, or rendered from the template and the bill (the prepared frame with the
 * bill's slot texts blended in, as the personal segment shows it).  Decoded with libavcodec,
 * encoded with the mjpeg encoder. */
#include "config.h"
#include "video/job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

static vbill_status encode_jpeg(vbill_ctx *ctx, const AVFrame *src, int max_width,
                                unsigned char **out, size_t *out_len)
{
    int w = src->width, hgt = src->height;
    if (w > max_width) {
        hgt = (int)((int64_t)hgt * max_width / w);
        w = max_width;
    }
    w &= ~1;
    hgt &= ~1;
    if (w < 2 || hgt < 2)
        return vb_error(ctx, VBILL_ERR_MEDIA, "still: frame too small");
    vbill_status st = VBILL_OK;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = NULL;
    if (!enc || !f || !pkt) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: no MJPEG encoder available");
        goto out;
    }
    enc->width = w;
    enc->height = hgt;
    /* plain 4:2:0 at full range: what JPEG means, without swscale's "deprecated format" */
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, 25};
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 4;
    enc->color_range = AVCOL_RANGE_JPEG;
    if (avcodec_open2(enc, codec, NULL) < 0) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: cannot open the MJPEG encoder");
        goto out;
    }
    f->format = AV_PIX_FMT_YUV420P;
    f->color_range = AVCOL_RANGE_JPEG;
    f->width = w;
    f->height = hgt;
    f->quality = enc->global_quality;
    f->pts = 0;
    if (av_frame_get_buffer(f, 0) < 0) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "still: out of memory");
        goto out;
    }
    enum AVPixelFormat sfmt = src->format;
    int src_full = src->color_range == AVCOL_RANGE_JPEG;
    /* the J formats are the same layouts at full range */
    if (sfmt == AV_PIX_FMT_YUVJ420P) { sfmt = AV_PIX_FMT_YUV420P; src_full = 1; }
    else if (sfmt == AV_PIX_FMT_YUVJ422P) { sfmt = AV_PIX_FMT_YUV422P; src_full = 1; }
    else if (sfmt == AV_PIX_FMT_YUVJ444P) { sfmt = AV_PIX_FMT_YUV444P; src_full = 1; }
    sws = sws_getContext(src->width, src->height, sfmt, w, hgt, AV_PIX_FMT_YUV420P,
                         SWS_BICUBIC, NULL, NULL, NULL);
    if (sws) {
        const int *coef = sws_getCoefficients(SWS_CS_ITU601);
        sws_setColorspaceDetails(sws, coef, src_full, coef, 1, 0, 1 << 16, 1 << 16);
    }
    if (!sws) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: cannot convert the frame");
        goto out;
    }
    sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, f->data,
              f->linesize);
    if (avcodec_send_frame(enc, f) < 0 || avcodec_send_frame(enc, NULL) < 0 ||
        avcodec_receive_packet(enc, pkt) < 0) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: JPEG encoding failed");
        goto out;
    }
    *out = malloc((size_t)pkt->size);
    if (!*out) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "still: out of memory");
        goto out;
    }
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *out_len = (size_t)pkt->size;
out:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);
    return st;
}

/* The frame on screen at position_s of the video file at path, into best (its time stamp in
 * *pts, in the stream time base *tb). */
static vbill_status grab_frame(vbill_ctx *ctx, const char *video_path, double position_s,
                               AVFrame *best, int64_t *best_pts, AVRational *tb)
{
    vbill_status st = VBILL_OK;
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    bool have = false;
    if (!pkt || !frame) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "still: out of memory");
        goto out;
    }
    char why[200];
    if (vb_av_open_input(&fmt, video_path, why) < 0 || avformat_find_stream_info(fmt, NULL) < 0) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: cannot read video %s%s%s", video_path,
                      why[0] ? ": " : "", why);
        goto out;
    }
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (si < 0 || !codec) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: %s has no decodable video stream", video_path);
        goto out;
    }
    AVStream *vs = fmt->streams[si];
    *tb = vs->time_base;
    dec = avcodec_alloc_context3(codec);
    if (!dec || avcodec_parameters_to_context(dec, vs->codecpar) < 0 ||
        avcodec_open2(dec, codec, NULL) < 0) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: cannot open the decoder for %s", video_path);
        goto out;
    }
    int64_t target = (int64_t)llround(position_s / av_q2d(vs->time_base));
    if (vs->start_time != AV_NOPTS_VALUE)
        target += vs->start_time;
    /* seek to the key frame before the position, then decode up to it */
    av_seek_frame(fmt, si, target, AVSEEK_FLAG_BACKWARD);
    bool eof = false, done = false;
    int guard = 0;
    while (!done && guard++ < 100000) {
        if (!eof) {
            int r = av_read_frame(fmt, pkt);
            if (r < 0) {
                eof = true;
                avcodec_send_packet(dec, NULL);
            } else {
                if (pkt->stream_index == si)
                    avcodec_send_packet(dec, pkt);
                av_packet_unref(pkt);
            }
        }
        for (;;) {
            int r = avcodec_receive_frame(dec, frame);
            if (r == AVERROR(EAGAIN))
                break;
            if (r < 0) {
                done = true;
                break;
            }
            int64_t pts = frame->best_effort_timestamp;
            if (have && pts != AV_NOPTS_VALUE && pts > target) {
                done = true; /* the previous frame is the one on screen at the position */
                av_frame_unref(frame);
                break;
            }
            av_frame_unref(best);
            av_frame_move_ref(best, frame);
            *best_pts = pts;
            have = true;
            if (pts != AV_NOPTS_VALUE && pts == target) {
                done = true;
                break;
            }
        }
        if (eof && !done) {
            if (avcodec_receive_frame(dec, frame) == AVERROR_EOF)
                break;
        }
    }
    if (!have)
        st = vb_error(ctx, VBILL_ERR_MEDIA, "still: no frame at %g s in %s", position_s,
                      video_path);
out:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return st;
}

static vbill_status check_args(vbill_ctx *ctx, double position_s, int *max_width,
                               unsigned char **jpeg, size_t *jpeg_len)
{
    if (!jpeg || !jpeg_len)
        return vb_error(ctx, VBILL_ERR_ARG, "still: NULL argument");
    *jpeg = NULL;
    *jpeg_len = 0;
    if (!isfinite(position_s) || position_s < 0 || position_s > 86400)
        return vb_error(ctx, VBILL_ERR_ARG, "still: position %g s is out of range", position_s);
    if (*max_width <= 0)
        *max_width = 640;
    if (*max_width > 4096)
        *max_width = 4096;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_still_jpeg(vbill_ctx *ctx, const char *video_path,
                                        double position_s, int max_width,
                                        unsigned char **jpeg, size_t *jpeg_len)
{
    vb_clear_error(ctx);
    vbill_status st = check_args(ctx, position_s, &max_width, jpeg, jpeg_len);
    if (st)
        return st;
    if (!video_path)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_still_jpeg: no video");
    AVFrame *best = av_frame_alloc();
    int64_t pts = 0;
    AVRational tb;
    if (!best)
        return vb_error(ctx, VBILL_ERR_NOMEM, "still: out of memory");
    st = grab_frame(ctx, video_path, position_s, best, &pts, &tb);
    if (!st)
        st = encode_jpeg(ctx, best, max_width, jpeg, jpeg_len);
    av_frame_free(&best);
    return st;
}

VBILL_API vbill_status vbill_render_still(vbill_ctx *ctx, const vbill_template *t,
                                          const vbill_bill *bill, double speed, double position_s,
                                          int max_width, unsigned char **jpeg, size_t *jpeg_len)
{
    vb_clear_error(ctx);
    vbill_status st = check_args(ctx, position_s, &max_width, jpeg, jpeg_len);
    if (st)
        return st;
    if (!ctx || !t || !bill)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_render_still: NULL argument");
    vb_job J = {.ctx = ctx, .t = t, .cur = -1}, *j = &J;
    AVFrame *best = av_frame_alloc();
    char *path = NULL;
    if (!best) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "still: out of memory");
        goto out;
    }
    if ((st = vb_job_prepare(ctx, t, bill, speed, j)))
        goto out;
    path = vb_path_join(t->cache_dir, j->variant ? "slow.mp4" : "normal.mp4");
    int64_t pts = 0;
    AVRational tb;
    if (!path) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = grab_frame(ctx, path, position_s, best, &pts, &tb)))
        goto out;
    int r = av_frame_make_writable(best);
    if (r < 0) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "still: out of memory");
        goto out;
    }
    int64_t f = av_rescale_q_rnd(pts, tb, j->ftb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
    vb_job_blend(j, best, f);
    st = encode_jpeg(ctx, best, max_width, jpeg, jpeg_len);
out:
    free(path);
    av_frame_free(&best);
    vb_job_free(j);
    return st;
}
