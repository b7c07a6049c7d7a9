/* prepare.c: normalises a template's base video once into its prepared form (see video.h):
 * constant frame rate H.264 with an IDR at every planned keyframe, AAC audio, the slow
 * variant and the shared HLS segments.  One pass over the input; packets are streamed, so
 * memory does not grow with the video's length. */
#include "config.h"
#include "video/encode.h"
#include "video/segment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#define AUDIO_RATE 48000

/* One output file: an MP4 being written. */
typedef struct mux {
    AVFormatContext *fc;
    AVStream *vs, *as;
} mux;

typedef struct prep {
    vbill_ctx *ctx;
    vbill_template *t;
    AVFormatContext *in;
    int vi, ai;
    AVCodecContext *vdec, *adec;
    AVFilterGraph *vgraph;
    AVFilterContext *vsrc, *vsink;
    AVFilterGraph *agraph[2];
    AVFilterContext *asrc[2], *asink[2];
    AVCodecContext *venc, *aenc[2];
    mux out[2];          /* normal, slow */
    AVRational fps;
    AVRational vtb[2];   /* video time base of each output before the muxer's own */
    int64_t nframes;     /* planned frame count */
    int64_t vcount;      /* frames given to the encoder */
    uint8_t *key;
    uint8_t *same;       /* per frame: the same picture as the frame before it */
    AVFrame *prev;       /* the frame before, to compare with */
    AVFrame *last;       /* last frame, repeated when the input is short */
    int64_t astart;      /* audio pts offset (input time base) */
    int64_t vstart;
    int64_t vend;        /* end of the last decoded frame (input time base) */
    double aend[2];      /* seconds of audio pulled per output */
    double ain_end;      /* end of the last audio packet read, in seconds from astart */
    AVPacket *pkt;
    AVFrame *frm;
    AVFrame *afrm;       /* filtered audio (frm is the decoded frame being fed) */
} prep;

static vbill_status mediaerr(prep *p, const char *what, int r)
{
    char eb[128];
    return vb_error(p->ctx, VBILL_ERR_MEDIA, "preparing '%s': %s: %s", p->t->video_path, what,
                    vb_averr(r, eb));
}

static vbill_status open_decoder(prep *p, int idx, AVCodecContext **out)
{
    AVStream *st = p->in->streams[idx];
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!dec)
        return vb_error(p->ctx, VBILL_ERR_MEDIA, "preparing '%s': no decoder for stream %d (%s)",
                        p->t->video_path, idx, avcodec_get_name(st->codecpar->codec_id));
    AVCodecContext *c = avcodec_alloc_context3(dec);
    if (!c)
        return vb_error(p->ctx, VBILL_ERR_NOMEM, "out of memory");
    int r = avcodec_parameters_to_context(c, st->codecpar);
    c->pkt_timebase = st->time_base;
    c->thread_count = 2;
    if (r >= 0)
        r = avcodec_open2(c, dec, NULL);
    if (r < 0) {
        avcodec_free_context(&c);
        return mediaerr(p, "cannot open decoder", r);
    }
    *out = c;
    return VBILL_OK;
}

static vbill_status build_graph(prep *p, AVFilterGraph **g, AVFilterContext **src,
                                AVFilterContext **sink, const char *srcname, const char *srcargs,
                                const char *sinkname, const char *chain)
{
    *g = avfilter_graph_alloc();
    if (!*g)
        return vb_error(p->ctx, VBILL_ERR_NOMEM, "out of memory");
    (*g)->nb_threads = 1;
    int r = avfilter_graph_create_filter(src, avfilter_get_by_name(srcname), "in", srcargs, NULL,
                                         *g);
    if (r >= 0)
        r = avfilter_graph_create_filter(sink, avfilter_get_by_name(sinkname), "out", NULL, NULL,
                                         *g);
    if (r < 0)
        return mediaerr(p, "filter graph", r);
    AVFilterInOut *outs = avfilter_inout_alloc(), *ins = avfilter_inout_alloc();
    if (!outs || !ins) {
        avfilter_inout_free(&outs);
        avfilter_inout_free(&ins);
        return vb_error(p->ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    outs->name = av_strdup("in");
    outs->filter_ctx = *src;
    ins->name = av_strdup("out");
    ins->filter_ctx = *sink;
    r = avfilter_graph_parse_ptr(*g, chain, &ins, &outs, NULL);
    avfilter_inout_free(&outs);
    avfilter_inout_free(&ins);
    if (r >= 0)
        r = avfilter_graph_config(*g, NULL);
    if (r < 0)
        return mediaerr(p, "filter graph", r);
    return VBILL_OK;
}

static vbill_status setup_video(prep *p)
{
    AVStream *st = p->in->streams[p->vi];
    vbill_status s = open_decoder(p, p->vi, &p->vdec);
    if (s)
        return s;
    char args[256], chain[256];
    AVRational sar = p->vdec->sample_aspect_ratio;
    snprintf(args, sizeof args,
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", p->vdec->width,
             p->vdec->height, p->vdec->pix_fmt, st->time_base.num, st->time_base.den,
             sar.num > 0 ? sar.num : 1, sar.den > 0 ? sar.den : 1);
    /* Odd sizes lose their last row/column (yuv420p needs even): slot boxes keep their
     * coordinates.  fps resamples variable frame rates to the constant planned one. */
    snprintf(chain, sizeof chain,
             "fps=fps=%d/%d:start_time=0,crop=%d:%d:0:0,format=yuv420p,setsar=1", p->fps.num,
             p->fps.den, p->t->w, p->t->h);
    return build_graph(p, &p->vgraph, &p->vsrc, &p->vsink, "buffer", args, "buffersink", chain);
}

/* The prepared audio is mono when the source is (or has no audio): a voice over a mono bed
 * re-encodes one channel per bill instead of two (voiceover.c); stereo otherwise. */
static int audio_channels(const prep *p)
{
    return p->ai >= 0 && p->adec && p->adec->ch_layout.nb_channels > 1 ? 2 : 1;
}

static const char *audio_layout(const prep *p)
{
    return audio_channels(p) == 2 ? "stereo" : "mono";
}

static vbill_status setup_audio(prep *p, int v)
{
    int64_t samples = av_rescale_q(p->nframes, av_inv_q(p->fps), (AVRational){1, AUDIO_RATE});
    double speed = v ? av_q2d(p->t->slow_speed) : 1.0;
    if (v)
        samples = (int64_t)llround((double)samples / speed);
    char chain[512], args[256];
    char tempo[64] = "";
    if (v) {
        /* atempo takes 0.5..2 per instance */
        double s = speed;
        int n = 0;
        while (s < 0.5 && n < 3) {
            n += snprintf(tempo + strlen(tempo), sizeof tempo - strlen(tempo), "atempo=0.5,") > 0;
            s /= 0.5;
        }
        snprintf(tempo + strlen(tempo), sizeof tempo - strlen(tempo), "atempo=%.6f,", s);
    }
    if (p->ai >= 0) {
        AVStream *st = p->in->streams[p->ai];
        char layout[64] = "";
        AVChannelLayout cl = {0}; /* av_channel_layout_copy uninits its target first */
        if (p->adec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&cl, p->adec->ch_layout.nb_channels);
        else
            av_channel_layout_copy(&cl, &p->adec->ch_layout);
        av_channel_layout_describe(&cl, layout, sizeof layout);
        av_channel_layout_uninit(&cl);
        snprintf(args, sizeof args, "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
                 st->time_base.num, st->time_base.den, p->adec->sample_rate,
                 av_get_sample_fmt_name(p->adec->sample_fmt), layout);
        snprintf(chain, sizeof chain,
                 "aresample=%d:async=1:first_pts=0,%sapad,atrim=end_sample=%lld,"
                 "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=%s",
                 AUDIO_RATE, tempo, (long long)samples, audio_layout(p));
        return build_graph(p, &p->agraph[v], &p->asrc[v], &p->asink[v], "abuffer", args,
                           "abuffersink", chain);
    }
    /* No audio: a silent mono track, so every output has the same shape. */
    snprintf(args, sizeof args, "r=%d:cl=mono", AUDIO_RATE);
    snprintf(chain, sizeof chain,
             "aformat=sample_fmts=fltp:channel_layouts=mono,atrim=end_sample=%lld",
             (long long)samples);
    return build_graph(p, &p->agraph[v], &p->asrc[v], &p->asink[v], "anullsrc", args,
                       "abuffersink", chain);
}

static vbill_status open_aac(prep *p, int v)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec)
        return vb_error(p->ctx, VBILL_ERR_MEDIA, "AAC encoder not available");
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c)
        return vb_error(p->ctx, VBILL_ERR_NOMEM, "out of memory");
    c->sample_rate = AUDIO_RATE;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&c->ch_layout, audio_channels(p));
    c->bit_rate = VB_AAC_RATE_PER_CHANNEL * audio_channels(p);
    c->time_base = (AVRational){1, AUDIO_RATE};
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int r = avcodec_open2(c, codec, NULL);
    if (r < 0) {
        avcodec_free_context(&c);
        return mediaerr(p, "cannot open the AAC encoder", r);
    }
    p->aenc[v] = c;
    av_buffersink_set_frame_size(p->asink[v], (unsigned)c->frame_size);
    return VBILL_OK;
}

static vbill_status open_mux(prep *p, int v, const char *path)
{
    mux *m = &p->out[v];
    int r = avformat_alloc_output_context2(&m->fc, NULL, "mp4", path);
    if (r < 0)
        return mediaerr(p, "cannot create MP4", r);
    m->vs = avformat_new_stream(m->fc, NULL);
    m->as = avformat_new_stream(m->fc, NULL);
    if (!m->vs || !m->as)
        return vb_error(p->ctx, VBILL_ERR_NOMEM, "out of memory");
    avcodec_parameters_from_context(m->vs->codecpar, p->venc);
    avcodec_parameters_from_context(m->as->codecpar, p->aenc[v]);
    m->vs->time_base = p->vtb[v];
    m->as->time_base = p->aenc[v]->time_base;
    AVRational rate = v ? av_mul_q(p->fps, p->t->slow_speed) : p->fps;
    m->vs->avg_frame_rate = rate;
    m->vs->r_frame_rate = rate;
    r = avio_open(&m->fc->pb, path, AVIO_FLAG_WRITE);
    if (r < 0)
        return vb_error(p->ctx, VBILL_ERR_IO, "cannot write '%s': %s", path,
                        vb_averr(r, (char[128]){0}));
    r = avformat_write_header(m->fc, NULL);
    if (r < 0)
        return mediaerr(p, "cannot write the MP4 header", r);
    return VBILL_OK;
}

static vbill_status write_pkt(prep *p, int v, AVStream *ost, AVPacket *pkt, AVRational tb)
{
    av_packet_rescale_ts(pkt, tb, ost->time_base);
    pkt->stream_index = ost->index;
    int r = av_interleaved_write_frame(p->out[v].fc, pkt);
    if (r < 0)
        return r == AVERROR(ENOSPC) || r == AVERROR(EFBIG) || r == AVERROR(EIO)
                   ? vb_error(p->ctx, VBILL_ERR_IO, "writing the prepared video: %s",
                              vb_averr(r, (char[128]){0}))
                   : mediaerr(p, "writing the prepared video", r);
    return VBILL_OK;
}

/* Encoded video goes to both outputs: the slow one gets the same packet with its
 * timestamps in a stretched time base (same numbers, longer ticks). */
static vbill_status drain_video(prep *p, bool flush)
{
    if (flush) {
        int r = avcodec_send_frame(p->venc, NULL);
        if (r < 0)
            return mediaerr(p, "video encoder", r);
    }
    for (;;) {
        int r = avcodec_receive_packet(p->venc, p->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return VBILL_OK;
        if (r < 0)
            return mediaerr(p, "video encoder", r);
        AVPacket *copy = av_packet_clone(p->pkt);
        if (!copy) {
            av_packet_unref(p->pkt);
            return vb_error(p->ctx, VBILL_ERR_NOMEM, "out of memory");
        }
        vbill_status s = write_pkt(p, 0, p->out[0].vs, p->pkt, p->vtb[0]);
        if (!s)
            s = write_pkt(p, 1, p->out[1].vs, copy, p->vtb[1]);
        av_packet_free(&copy);
        av_packet_unref(p->pkt);
        if (s)
            return s;
    }
}

/* The same picture: no sample differs by more than 4, and at most one in fifty differs at
 * all (a lossy base re-quantises a still picture at its own keyframes by a step or so, in a
 * percent of its samples: measured on the built-in bases before they kept their keyframes
 * out of the windows). */
static bool same_picture(const AVFrame *a, const AVFrame *b)
{
    size_t total = 0, differ = 0;
    for (int pl = 0; pl < 3; pl++) {
        int w = pl ? (a->width + 1) / 2 : a->width, h = pl ? (a->height + 1) / 2 : a->height;
        total += (size_t)w * (size_t)h;
        for (int y = 0; y < h; y++) {
            const uint8_t *ra = a->data[pl] + (size_t)y * (size_t)a->linesize[pl];
            const uint8_t *rb = b->data[pl] + (size_t)y * (size_t)b->linesize[pl];
            if (memcmp(ra, rb, (size_t)w) == 0)
                continue;
            for (int x = 0; x < w; x++) {
                int d = ra[x] - rb[x];
                if (d > 4 || d < -4)
                    return false;
                differ += d != 0;
            }
        }
    }
    return differ * 50 <= total;
}

static vbill_status encode_frame(prep *p, AVFrame *f)
{
    if (p->vcount >= p->nframes)
        return VBILL_OK;
    /* A still stretch of a slot window lets the renderer encode far fewer frames there. */
    if (p->same && p->prev && f->format == AV_PIX_FMT_YUV420P) {
        if (p->vcount > 0 && p->prev->data[0] && p->prev->width == f->width &&
            p->prev->height == f->height)
            p->same[p->vcount] = same_picture(p->prev, f);
        av_frame_unref(p->prev);
        if (av_frame_ref(p->prev, f) < 0)
            p->same[p->vcount] = 0;
    }
    f->pts = p->vcount;
    f->pict_type = p->key[p->vcount] ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    f->key_frame = p->key[p->vcount];
    p->vcount++;
    int r = avcodec_send_frame(p->venc, f);
    if (r < 0)
        return mediaerr(p, "video encoder", r);
    return drain_video(p, false);
}

static vbill_status pull_video(prep *p)
{
    for (;;) {
        int r = av_buffersink_get_frame(p->vsink, p->frm);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return VBILL_OK;
        if (r < 0)
            return mediaerr(p, "video filter", r);
        av_frame_unref(p->last);
        av_frame_ref(p->last, p->frm);
        vbill_status s = encode_frame(p, p->frm);
        av_frame_unref(p->frm);
        if (s)
            return s;
    }
}

/* Pulls filtered audio into the encoder.  `limit` (seconds of output) keeps a generated
 * silent track from running ahead of the video, so the muxer's queue stays small. */
static vbill_status drain_audio(prep *p, int v, bool flush, double limit)
{
    for (;;) {
        if (p->aend[v] > limit)
            return VBILL_OK;
        int r = av_buffersink_get_frame(p->asink[v], p->afrm);
        if (r == AVERROR(EAGAIN))
            return VBILL_OK;
        if (r == AVERROR_EOF) {
            if (!flush)
                return VBILL_OK;
            r = avcodec_send_frame(p->aenc[v], NULL);
            flush = false;
        } else if (r < 0) {
            return mediaerr(p, "audio filter", r);
        } else {
            if (p->afrm->pts != AV_NOPTS_VALUE)
                p->aend[v] = (double)(p->afrm->pts + p->afrm->nb_samples) *
                             av_q2d(av_buffersink_get_time_base(p->asink[v]));
            r = avcodec_send_frame(p->aenc[v], p->afrm);
            av_frame_unref(p->afrm);
        }
        if (r < 0 && r != AVERROR_EOF)
            return mediaerr(p, "audio encoder", r);
        for (;;) {
            r = avcodec_receive_packet(p->aenc[v], p->pkt);
            if (r == AVERROR(EAGAIN))
                break;
            if (r == AVERROR_EOF)
                return VBILL_OK;
            if (r < 0)
                return mediaerr(p, "audio encoder", r);
            vbill_status s = write_pkt(p, v, p->out[v].as, p->pkt, p->aenc[v]->time_base);
            av_packet_unref(p->pkt);
            if (s)
                return s;
        }
    }
}

static vbill_status feed_audio(prep *p, AVFrame *f)
{
    for (int v = 0; v < 2; v++) {
        int r = av_buffersrc_add_frame_flags(p->asrc[v], f, AV_BUFFERSRC_FLAG_KEEP_REF);
        if (r < 0)
            return mediaerr(p, "audio filter", r);
        vbill_status s = drain_audio(p, v, false, INFINITY);
        if (s)
            return s;
    }
    return VBILL_OK;
}

static vbill_status decode_packet(prep *p, AVCodecContext *dec, AVPacket *pkt, bool video)
{
    int r = avcodec_send_packet(dec, pkt);
    if (r < 0 && r != AVERROR_EOF) {
        /* a damaged packet: skip it, as players do; a wholly corrupt file fails below */
        if (r == AVERROR_INVALIDDATA)
            return VBILL_OK;
        return mediaerr(p, "decoding", r);
    }
    for (;;) {
        r = avcodec_receive_frame(dec, p->frm);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return VBILL_OK;
        if (r == AVERROR_INVALIDDATA)
            continue;
        if (r < 0)
            return mediaerr(p, "decoding", r);
        int64_t ts = p->frm->best_effort_timestamp;
        vbill_status s = VBILL_OK;
        if (video) {
            p->frm->pts = ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : ts - p->vstart;
            if (p->frm->pts != AV_NOPTS_VALUE && p->frm->pts + p->frm->pkt_duration > p->vend)
                p->vend = p->frm->pts + p->frm->pkt_duration;
            if (p->frm->width != p->vdec->width || p->frm->height != p->vdec->height ||
                p->frm->format != p->vdec->pix_fmt) {
                /* mid-stream size change: the graph was built for the first size */
                av_frame_unref(p->frm);
                continue;
            }
            r = av_buffersrc_add_frame_flags(p->vsrc, p->frm, 0);
            av_frame_unref(p->frm);
            if (r < 0)
                return mediaerr(p, "video filter", r);
            s = pull_video(p);
        } else {
            if (ts != AV_NOPTS_VALUE)
                p->frm->pts = ts - p->astart;
            s = feed_audio(p, p->frm);
            av_frame_unref(p->frm);
        }
        if (s)
            return s;
    }
}

static bool good_rate(AVRational r)
{
    return r.num > 0 && r.den > 0 && av_q2d(r) >= 1.0 && av_q2d(r) <= 240.0;
}

static vbill_status write_meta(prep *p, const char *dir)
{
    vbill_template *t = p->t;
    vb_buf b = {0};
    vb_buf_printf(&b, "{\"version\":\"%s\",\"fps\":[%d,%d],\"width\":%d,\"height\":%d,"
                      "\"frames\":%lld,\"slow\":[%d,%d],\"source\":",
                  VB_PREPARE_VERSION, p->fps.num, p->fps.den, t->w, t->h, (long long)p->nframes,
                  t->slow_speed.num, t->slow_speed.den);
    vb_buf_json_string(&b, t->video_path);
    vb_buf_puts(&b, ",\"segments\":[");
    for (int i = 0; i < t->nsegments; i++) {
        const vb_segment *sg = &t->segments[i];
        bool still = sg->personal && p->same && sg->f1 - sg->f0 > 1;
        for (int64_t f = sg->f0 + 1; still && f < sg->f1; f++)
            still = p->same[f] != 0;
        vb_buf_printf(&b, "%s[%lld,%lld,%d,%d]", i ? "," : "", (long long)sg->f0,
                      (long long)sg->f1, sg->personal, still);
    }
    vb_buf_puts(&b, "]}\n");
    char *txt = vb_buf_take(&b);
    char *path = vb_path_join(dir, "meta.json");
    int rc = (txt && path) ? vb_write_file_atomic(path, txt, strlen(txt)) : -1;
    int e = errno;
    free(txt);
    free(path);
    if (rc != 0)
        return vb_error(p->ctx, VBILL_ERR_IO, "writing meta.json in '%s': %s", dir, strerror(e));
    return VBILL_OK;
}

/* The overlay rendition of a prepared MP4 (normal speed) into out_dir: the shared segments
 * linked from shared_dir, the slot windows' own packets without text. */
static vbill_status overlay_rendition(vbill_ctx *ctx, const vbill_template *t, const char *mp4,
                                      const char *shared_dir, const char *out_dir)
{
    vb_job J = {.ctx = ctx, .t = t, .cur = -1, .copy = true}, *j = &J;
    vb_buf pl = {0};
    vbill_status s = vb_job_open_input_path(j, mp4);
    if (!s && vb_mkdirs(out_dir) != 0)
        s = vb_error(ctx, VBILL_ERR_IO, "cannot create '%s': %s", out_dir, strerror(errno));
    if (!s)
        vb_playlist_head(&pl, t, j->ftb);
    for (int k = 0; !s && k < t->nsegments; k++) {
        const vb_segment *sg = &t->segments[k];
        char name[32];
        snprintf(name, sizeof name, "s%05d.ts", k);
        char *to = vb_path_join(out_dir, name), *from = vb_path_join(shared_dir, name);
        if (!to || !from) {
            s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        } else if (sg->personal || link(from, to) != 0) {
            /* a slot window: the base's own packets, without text; a shared segment the file
             * system cannot link (another device, no hard links): the same packets again */
            s = vb_segment_write(j, k, to);
        }
        free(to);
        free(from);
        vb_buf_printf(&pl, "#EXTINF:%.6f,\n%s\n", (double)(sg->f1 - sg->f0) * av_q2d(j->ftb),
                      name);
    }
    vb_buf_puts(&pl, "#EXT-X-ENDLIST\n");
    if (!s && pl.failed)
        s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (!s) {
        char *pp = vb_path_join(out_dir, "index.m3u8");
        if (!pp || vb_write_file_atomic(pp, pl.data, pl.len) != 0)
            s = vb_error(ctx, VBILL_ERR_IO, "cannot write '%s/index.m3u8': %s", out_dir,
                         strerror(errno));
        free(pp);
    }
    vb_buf_free(&pl);
    vb_job_free(j);
    return s;
}

/* The overlay rendition into dir/hls-overlay (see video.h), from dir's normal.mp4 and
 * hls-normal/. */
static vbill_status write_overlay(vbill_ctx *ctx, const vbill_template *t, const char *dir)
{
    char *mp4 = vb_path_join(dir, "normal.mp4"), *shared = vb_path_join(dir, "hls-normal");
    char *out = vb_path_join(dir, "hls-overlay");
    vbill_status s = mp4 && shared && out ? overlay_rendition(ctx, t, mp4, shared, out)
                                          : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    free(mp4);
    free(shared);
    free(out);
    return s;
}

/* A cache prepared before the overlay rendition existed gets it once, beside its other
 * files (built under a temporary name beside the caches, where a killed run's leftovers are
 * found as prepare's are, then renamed): a stream copy, no encode.  A cache that cannot take
 * it (read-only) stays usable without it: the page plays the burned-in stream. */
static void add_overlay(vbill_ctx *ctx, vbill_template *t)
{
    char *pl = vb_path_join(t->cache_dir, "hls-overlay/index.m3u8");
    struct stat st;
    if (!pl || stat(pl, &st) == 0) {
        free(pl);
        return;
    }
    free(pl);
    char name[128];
    snprintf(name, sizeof name, "../.tmp-%.16s-overlay-XXXXXX", t->hash);
    char *tmp = vb_path_join(t->cache_dir, name);
    char *dst = vb_path_join(t->cache_dir, "hls-overlay");
    if (!tmp || !dst || !mkdtemp(tmp)) {
        if (tmp && dst)
            vb_log(ctx, VBILL_LOG_WARN, "template '%s': no overlay rendition: %s", t->dir,
                   strerror(errno));
        free(tmp);
        free(dst);
        return;
    }
    chmod(tmp, 0755);
    char *mp4 = vb_path_join(t->cache_dir, "normal.mp4");
    char *shared = vb_path_join(t->cache_dir, "hls-normal");
    vbill_status s = mp4 && shared ? overlay_rendition(ctx, t, mp4, shared, tmp)
                                   : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (s == VBILL_OK && rename(tmp, dst) != 0 && errno != ENOTEMPTY && errno != EEXIST)
        s = vb_error(ctx, VBILL_ERR_IO, "cannot rename '%s': %s", tmp, strerror(errno));
    if (s != VBILL_OK)
        vb_log(ctx, VBILL_LOG_WARN, "template '%s': no overlay rendition: %s", t->dir,
               vbill_ctx_errmsg(ctx));
    vb_rmtree(tmp); /* gone after the rename; another process's rendition won: ours goes */
    vb_clear_error(ctx);
    free(mp4);
    free(shared);
    free(tmp);
    free(dst);
}

static void prep_free(prep *p)
{
    for (int v = 0; v < 2; v++) {
        if (p->out[v].fc) {
            if (p->out[v].fc->pb)
                avio_closep(&p->out[v].fc->pb);
            avformat_free_context(p->out[v].fc);
        }
        avfilter_graph_free(&p->agraph[v]);
        avcodec_free_context(&p->aenc[v]);
    }
    avfilter_graph_free(&p->vgraph);
    avcodec_free_context(&p->venc);
    avcodec_free_context(&p->vdec);
    avcodec_free_context(&p->adec);
    avformat_close_input(&p->in);
    av_packet_free(&p->pkt);
    av_frame_free(&p->frm);
    av_frame_free(&p->afrm);
    av_frame_free(&p->last);
    free(p->key);
    free(p->same);
    av_frame_free(&p->prev);
}

vbill_status vb_prepare_run(vbill_ctx *ctx, vbill_template *t, const char *tmpdir)
{
    prep P = {.ctx = ctx, .t = t, .vi = -1, .ai = -1}, *p = &P;
    vbill_status s = VBILL_OK;
    char *np = NULL, *sp = NULL, *hn = NULL, *hs = NULL;
    char why[200];
    int r = vb_av_open_input(&p->in, t->video_path, why);
    if (r < 0) {
        s = why[0] ? vb_error(ctx, VBILL_ERR_MEDIA, "preparing '%s': %s", t->video_path, why)
                   : mediaerr(p, "cannot open", r);
        goto out;
    }
    if ((r = avformat_find_stream_info(p->in, NULL)) < 0) {
        s = mediaerr(p, "cannot read stream info", r);
        goto out;
    }
    p->vi = av_find_best_stream(p->in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (p->vi < 0) {
        s = vb_error(ctx, VBILL_ERR_MEDIA, "preparing '%s': no video stream", t->video_path);
        goto out;
    }
    p->ai = av_find_best_stream(p->in, AVMEDIA_TYPE_AUDIO, -1, p->vi, NULL, 0);
    if (p->ai < 0)
        p->ai = -1;
    AVStream *vst = p->in->streams[p->vi];
    p->fps = good_rate(vst->avg_frame_rate)  ? vst->avg_frame_rate
             : good_rate(vst->r_frame_rate) ? vst->r_frame_rate
                                            : (AVRational){25, 1};
    /* 29.97 stays 30000/1001; a VFR phone clip's average like 2997/100 is kept as is */
    av_reduce(&p->fps.num, &p->fps.den, p->fps.num, p->fps.den, 1 << 20);
    t->w = t->src_w & ~1;
    t->h = t->src_h & ~1;
    p->nframes = (int64_t)llround(t->src_duration * av_q2d(p->fps));
    if (p->nframes < 1)
        p->nframes = 1;
    int64_t nkeys = 0;
    p->same = calloc((size_t)(p->nframes > 0 ? p->nframes : 1), 1);
    p->prev = av_frame_alloc(); /* without them no segment is marked still: slower renders */
    if ((s = vb_template_plan(ctx, t, p->fps, p->nframes, &p->key, &nkeys)))
        goto out;
    p->vstart = vst->start_time == AV_NOPTS_VALUE ? 0 : vst->start_time;
    p->vtb[0] = av_inv_q(p->fps);
    p->vtb[1] = av_div_q(av_inv_q(p->fps), t->slow_speed);
    p->pkt = av_packet_alloc();
    p->frm = av_frame_alloc();
    p->last = av_frame_alloc();
    p->afrm = av_frame_alloc();
    if (!p->pkt || !p->frm || !p->last || !p->afrm) {
        s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((s = setup_video(p)))
        goto out;
    if (p->ai >= 0) {
        AVStream *ast = p->in->streams[p->ai];
        if (open_decoder(p, p->ai, &p->adec) != VBILL_OK) {
            vb_log(ctx, VBILL_LOG_WARN, "template '%s': audio not decodable, using silence",
                   t->dir);
            p->ai = -1;
        } else {
            /* audio keeps its offset to the video's first frame */
            p->astart = av_rescale_q(p->vstart, vst->time_base, ast->time_base);
        }
    }
    for (int v = 0; v < 2; v++)
        if ((s = setup_audio(p, v)) || (s = open_aac(p, v)))
            goto out;
    if ((s = vb_h264_encoder_open(ctx, t->w, t->h, p->fps, false, &p->venc)))
        goto out;
    np = vb_path_join(tmpdir, "normal.mp4");
    sp = vb_path_join(tmpdir, "slow.mp4");
    if (!np || !sp) {
        s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((s = open_mux(p, 0, np)) || (s = open_mux(p, 1, sp)))
        goto out;

    /* silent tracks are generated whole up front; they are small */
    for (;;) {
        r = av_read_frame(p->in, p->pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            s = mediaerr(p, "reading", r);
            goto out;
        }
        if (p->pkt->stream_index == p->vi)
            s = decode_packet(p, p->vdec, p->pkt, true);
        else if (p->pkt->stream_index == p->ai) {
            if (p->pkt->pts != AV_NOPTS_VALUE) {
                double end = (double)(p->pkt->pts + p->pkt->duration - p->astart) *
                             av_q2d(p->in->streams[p->ai]->time_base);
                if (end > p->ain_end)
                    p->ain_end = end;
            }
            s = decode_packet(p, p->adec, p->pkt, false);
        }
        av_packet_unref(p->pkt);
        if (s)
            goto out;
        if (p->ai < 0)
            for (int v = 0; v < 2; v++) {
                double now = (double)p->vcount / av_q2d(p->fps) / (v ? av_q2d(t->slow_speed) : 1.0);
                if ((s = drain_audio(p, v, false, now + 1.0)))
                    goto out;
            }
    }
    if ((s = decode_packet(p, p->vdec, NULL, true)))
        goto out;
    /* closing at the last frame's end (not its start) lets fps emit that frame too */
    if ((r = av_buffersrc_close(p->vsrc, p->vend, 0)) < 0) {
        s = mediaerr(p, "video filter", r);
        goto out;
    }
    if ((s = pull_video(p)))
        goto out;
    if (p->vcount == 0) {
        s = vb_error(ctx, VBILL_ERR_MEDIA, "preparing '%s': no video frame could be decoded",
                     t->video_path);
        goto out;
    }
    /* A video shorter than the planned duration holds its last frame up to the planned
     * count: a frame or two is common in real files, and a container without per-stream
     * durations (Matroska) may plan for an audio track that runs longer.  When the video and
     * the audio (if any) both stop more than a second early, the file is truncated or
     * damaged. */
    double planned = (double)p->nframes / av_q2d(p->fps);
    if ((double)(p->nframes - p->vcount) > av_q2d(p->fps) &&
        (p->ai < 0 || p->ain_end < planned - 1.0)) {
        s = vb_error(ctx, VBILL_ERR_MEDIA,
                     "preparing '%s': the video stops at %.3f s of its %.3f s: the file is "
                     "truncated or damaged",
                     t->video_path, (double)p->vcount / av_q2d(p->fps), planned);
        goto out;
    }
    if (p->vcount < p->nframes)
        vb_log(ctx, VBILL_LOG_WARN, "template '%s': video ends %lld frames early; last frame held",
               t->dir, (long long)(p->nframes - p->vcount));
    while (p->vcount < p->nframes) {
        AVFrame *f = av_frame_clone(p->last);
        if (!f) {
            s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
            goto out;
        }
        s = encode_frame(p, f);
        av_frame_free(&f);
        if (s)
            goto out;
    }
    if ((s = drain_video(p, true)))
        goto out;
    if (p->adec) {
        if ((s = decode_packet(p, p->adec, NULL, false)))
            goto out;
    }
    for (int v = 0; v < 2; v++) {
        if (p->ai >= 0 && (r = av_buffersrc_add_frame_flags(p->asrc[v], NULL, 0)) < 0) {
            s = mediaerr(p, "audio filter", r);
            goto out;
        }
        if ((s = drain_audio(p, v, true, INFINITY)))
            goto out;
    }
    for (int v = 0; v < 2; v++) {
        r = av_write_trailer(p->out[v].fc);
        if (r >= 0)
            r = avio_closep(&p->out[v].fc->pb);
        if (r < 0) {
            s = vb_error(ctx, VBILL_ERR_IO, "writing the prepared video: %s",
                         vb_averr(r, (char[128]){0}));
            goto out;
        }
    }
    t->fps = p->fps;
    t->nframes = p->nframes;
    hn = vb_path_join(tmpdir, "hls-normal");
    hs = vb_path_join(tmpdir, "hls-slow");
    if (!hn || !hs) {
        s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((s = vb_segment_write_shared(ctx, t, 0, np, hn)) || (s = vb_segment_write_shared(ctx, t, 1, sp, hs)))
        goto out;
    if ((s = write_overlay(ctx, t, tmpdir)))
        goto out;
    s = write_meta(p, tmpdir);
out:
    prep_free(p);
    free(np);
    free(sp);
    free(hn);
    free(hs);
    return s;
}

VBILL_API vbill_status vbill_template_prepare(vbill_template *t)
{
    if (!t)
        return VBILL_ERR_ARG;
    vbill_ctx *ctx = t->ctx; /* the template's own: its message, the opener's log callback */
    vb_clear_error(ctx);
    if (t->prepared) {
        add_overlay(ctx, t);
        return VBILL_OK;
    }
    char *root = vb_path_join(t->dir, VB_PREPARED_DIR);
    if (!root)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (vb_mkdirs(root) != 0) {
        vbill_status s = vb_error(ctx, VBILL_ERR_IO, "cannot create '%s': %s", root,
                                  strerror(errno));
        free(root);
        return s;
    }
    char name[128];
    snprintf(name, sizeof name, ".tmp-%.16s-XXXXXX", t->hash);
    char *tmp = vb_path_join(root, name);
    free(root);
    if (!tmp)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (!mkdtemp(tmp)) {
        vbill_status s = vb_error(ctx, VBILL_ERR_IO, "cannot create a directory beside '%s': %s",
                                  t->cache_dir, strerror(errno));
        free(tmp);
        return s;
    }
    chmod(tmp, 0755); /* mkdtemp makes 0700; the shared HLS segments are served from here */
    vb_log(ctx, VBILL_LOG_INFO, "preparing template '%s' into %s", t->dir, t->cache_dir);
    vbill_status s = vb_prepare_run(ctx, t, tmp);
    if (s == VBILL_OK && rename(tmp, t->cache_dir) != 0) {
        /* another process finished the same preparation first: theirs is as good */
        if (errno == ENOTEMPTY || errno == EEXIST) {
            vb_rmtree(tmp);
        } else {
            s = vb_error(ctx, VBILL_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, t->cache_dir,
                         strerror(errno));
        }
    }
    if (s != VBILL_OK) {
        vb_rmtree(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    s = vb_template_load_meta(ctx, t);
    if (s != VBILL_OK)
        return s == VBILL_ERR_NOT_FOUND
                   ? vb_error(ctx, VBILL_ERR_MEDIA, "template '%s': prepared data unreadable",
                              t->dir)
                   : s;
    return VBILL_OK;
}
