/* segment.c: MPEG-TS segments, one per GOP run of the prepared video, cut by the same rule
 * everywhere (video by frame, audio by timestamp), so the shared segments (written once by
 * prepare) and a customer's personal ones (re-encoded) play back to back with continuous
 * timestamps and no discontinuity tag. */
#include "config.h"
#include "video/segment.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static vbill_status ts_write(vb_job *j, AVPacket *pkt, void *user)
{
    AVFormatContext *fc = user;
    AVStream *ist = j->in->streams[pkt->stream_index];
    AVStream *ost = fc->streams[pkt->stream_index == j->vi ? 0 : 1];
    av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
    pkt->stream_index = ost->index;
    pkt->pos = -1;
    int r = av_interleaved_write_frame(fc, pkt);
    return r < 0 ? vb_job_media(j, "writing a segment", r) : VBILL_OK;
}

static int audio_segment(const vb_job *j, int64_t pts)
{
    if (pts == AV_NOPTS_VALUE)
        return -1;
    int64_t f = av_rescale_q_rnd(pts, j->in->streams[j->ai]->time_base, j->ftb, AV_ROUND_DOWN);
    return vb_job_segment_of(j, f);
}

vbill_status vb_segment_write(vb_job *j, int k, const char *path)
{
    const vb_segment *sg = &j->t->segments[k];
    AVStream *vst = j->in->streams[j->vi];
    AVFormatContext *fc = NULL;
    vbill_status s = VBILL_OK;
    char *tmp = vb_temp_path_for(path);
    int fd = tmp ? mkstemp(tmp) : -1;
    if (fd < 0) {
        s = tmp ? vb_error(j->ctx, VBILL_ERR_IO, "cannot write '%s': %s", path, strerror(errno))
                : vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
        free(tmp);
        return s;
    }
    fchmod(fd, 0644);
    close(fd);
    int r = avformat_alloc_output_context2(&fc, NULL, "mpegts", tmp);
    if (r < 0) {
        s = vb_job_media(j, "MPEG-TS muxer", r);
        goto out;
    }
    /* the same fixed offset in every segment keeps timestamps continuous across files */
    fc->max_delay = 700000;
    int order[2] = {j->vi, j->ai};
    for (int i = 0; i < 2; i++) {
        AVStream *o = avformat_new_stream(fc, NULL);
        if (!o) {
            s = vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
            goto out;
        }
        avcodec_parameters_copy(o->codecpar, j->in->streams[order[i]]->codecpar);
        o->codecpar->codec_tag = 0;
        o->time_base = j->in->streams[order[i]]->time_base;
    }
    /* Segments are muxed one by one (shared ones once, personal ones per customer), so
     * continuity counters restart in each file: the discontinuity indicator on each PID's
     * first packet says that is expected.  Timestamps stay continuous. */
    AVDictionary *opt = NULL;
    av_dict_set(&opt, "mpegts_flags", "+initial_discontinuity", 0);
    if ((r = avio_open(&fc->pb, tmp, AVIO_FLAG_WRITE)) < 0 ||
        (r = avformat_write_header(fc, &opt)) < 0) {
        av_dict_free(&opt);
        s = vb_job_media(j, path, r);
        goto out;
    }
    av_dict_free(&opt);
    int64_t seek_pts = av_rescale_q(sg->f0, j->ftb, vst->time_base);
    if ((r = av_seek_frame(j->in, j->vi, seek_pts, AVSEEK_FLAG_BACKWARD)) < 0) {
        s = vb_job_media(j, "seeking in the prepared video", r);
        goto out;
    }
    j->emit = ts_write;
    j->emit_user = fc;
    bool vdone = false, adone = false;
    while (!(vdone && adone)) {
        r = av_read_frame(j->in, j->pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            s = vb_job_media(j, "reading the prepared video", r);
            goto out;
        }
        AVPacket *p = j->pkt;
        if (p->stream_index == j->vi) {
            int64_t f = vb_job_frame_of(j, p->pts);
            if (f >= sg->f1)
                vdone = true;
            if (f < sg->f0 || f >= sg->f1) {
                av_packet_unref(p);
                continue;
            }
            if (sg->personal && !j->copy) {
                if (j->cur != k && (s = vb_reenc_begin(j, k)))
                    goto out;
                /* the decoder takes its own reference: no copy needed */
                s = vb_reenc_packet(j, p);
                av_packet_unref(p);
                if (s)
                    goto out;
                continue;
            }
        } else if (p->stream_index == j->ai) {
            int a = audio_segment(j, p->pts);
            if (a > k)
                adone = true;
            if (a != k) {
                av_packet_unref(p);
                continue;
            }
        } else {
            av_packet_unref(p);
            continue;
        }
        s = ts_write(j, p, fc);
        av_packet_unref(p);
        if (s)
            goto out;
    }
    if (j->cur >= 0 && (s = vb_reenc_end(j)))
        goto out;
    r = av_write_trailer(fc);
    if (r >= 0)
        r = avio_closep(&fc->pb);
    if (r < 0) {
        s = vb_job_media(j, path, r);
        goto out;
    }
    if (rename(tmp, path) != 0)
        s = vb_error(j->ctx, VBILL_ERR_IO, "cannot rename to '%s': %s", path, strerror(errno));
out:
    if (j->cur >= 0) {
        avcodec_free_context(&j->dec);
        avcodec_free_context(&j->enc);
        j->cur = -1;
    }
    if (fc) {
        if (fc->pb)
            avio_closep(&fc->pb);
        avformat_free_context(fc);
    }
    if (s)
        unlink(tmp);
    free(tmp);
    return s;
}

vbill_status vb_segment_write_shared(vbill_ctx *ctx, const vbill_template *t, int variant,
                                 const char *mp4, const char *outdir)
{
    vb_job J = {.ctx = ctx, .t = t, .variant = variant, .cur = -1}, *j = &J;
    vbill_status s = vb_job_open_input_path(j, mp4);
    if (!s && vb_mkdirs(outdir) != 0)
        s = vb_error(ctx, VBILL_ERR_IO, "cannot create '%s': %s", outdir, strerror(errno));
    for (int k = 0; !s && k < t->nsegments; k++) {
        if (t->segments[k].personal)
            continue;
        char name[32];
        snprintf(name, sizeof name, "s%05d.ts", k);
        char *p = vb_path_join(outdir, name);
        s = p ? vb_segment_write(j, k, p) : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        free(p);
    }
    vb_job_free(j);
    return s;
}
