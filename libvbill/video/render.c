/* render.c: a bill's video as one MP4.  Only the GOPs of the prepared video that hold a slot
 * window go through the re-encoder (job.c); every other video packet and all audio are
 * stream-copied. */
#include "config.h"
#include "video/job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct mp4out {
    AVFormatContext *fc;
    const vb_job *j;
} mp4out;

static vbill_status mp4_write(vb_job *j, AVPacket *pkt, void *user)
{
    mp4out *m = user;
    AVStream *ist = j->in->streams[pkt->stream_index];
    AVStream *ost = m->fc->streams[pkt->stream_index == j->vi ? 0 : 1];
    av_packet_rescale_ts(pkt, ist->time_base, ost->time_base);
    pkt->stream_index = ost->index;
    pkt->pos = -1;
    int r = av_interleaved_write_frame(m->fc, pkt);
    return r < 0 ? vb_job_media(j, "writing the video", r) : VBILL_OK;
}

VBILL_API vbill_status vbill_render_mp4(vbill_ctx *ctx, const vbill_template *t,
                                        const vbill_bill *bill, double speed,
                                        const char *out_path)
{
    vb_clear_error(ctx);
    if (!ctx || !t || !bill || !out_path)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_render_mp4: NULL argument");
    vb_job J = {.ctx = ctx, .t = t, .cur = -1}, *j = &J;
    mp4out M = {.j = j};
    char *tmp = NULL;
    int fd = -1;
    vbill_status s = vb_job_prepare(ctx, t, bill, speed, j);
    if (!s)
        s = vb_job_open_input(j);
    if (s)
        goto out;
    tmp = vb_temp_path_for(out_path);
    if (!tmp || (fd = mkstemp(tmp)) < 0) {
        s = tmp ? vb_error(ctx, VBILL_ERR_IO, "cannot write '%s': %s", out_path, strerror(errno))
                : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        free(tmp);
        tmp = NULL;
        goto out;
    }
    /* mkstemp makes 0600; a video bill is served, not secret on its own */
    fchmod(fd, 0644);
    close(fd);
    int r = avformat_alloc_output_context2(&M.fc, NULL, "mp4", tmp);
    if (r < 0) {
        s = vb_job_media(j, "MP4 muxer", r);
        goto out;
    }
    int order[2] = {j->vi, j->ai};
    for (int k = 0; k < 2; k++) {
        AVStream *ist = j->in->streams[order[k]], *ost = avformat_new_stream(M.fc, NULL);
        if (!ost) {
            s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
            goto out;
        }
        avcodec_parameters_copy(ost->codecpar, ist->codecpar);
        ost->time_base = ist->time_base;
        ost->avg_frame_rate = ist->avg_frame_rate;
        ost->r_frame_rate = ist->r_frame_rate;
        av_dict_copy(&ost->metadata, ist->metadata, 0);
    }
    if ((r = avio_open(&M.fc->pb, tmp, AVIO_FLAG_WRITE)) < 0) {
        s = vb_job_media(j, out_path, r);
        goto out;
    }
    AVDictionary *opt = NULL;
    av_dict_set(&opt, "movflags", "+faststart", 0);
    r = avformat_write_header(M.fc, &opt);
    av_dict_free(&opt);
    if (r < 0) {
        s = vb_job_media(j, out_path, r);
        goto out;
    }
    j->emit = mp4_write;
    j->emit_user = &M;
    for (;;) {
        r = av_read_frame(j->in, j->pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            s = vb_job_media(j, "reading the prepared video", r);
            goto out;
        }
        if (j->pkt->stream_index == j->vi) {
            int seg = vb_job_segment_of(j, vb_job_frame_of(j, j->pkt->pts));
            if (j->cur >= 0 && j->cur != seg && (s = vb_reenc_end(j)))
                goto out;
            if (t->segments[seg].personal) {
                if (j->cur != seg && (s = vb_reenc_begin(j, seg)))
                    goto out;
                /* the decoder takes its own reference: no copy needed */
                s = vb_reenc_packet(j, j->pkt);
                av_packet_unref(j->pkt);
                if (s)
                    goto out;
                continue;
            }
        } else if (j->pkt->stream_index != j->ai) {
            av_packet_unref(j->pkt);
            continue;
        }
        s = mp4_write(j, j->pkt, &M);
        av_packet_unref(j->pkt);
        if (s)
            goto out;
    }
    if (j->cur >= 0 && (s = vb_reenc_end(j)))
        goto out;
    r = av_write_trailer(M.fc);
    if (r >= 0)
        r = avio_closep(&M.fc->pb);
    if (r < 0) {
        s = vb_job_media(j, out_path, r);
        goto out;
    }
    if (rename(tmp, out_path) != 0) {
        s = vb_error(ctx, VBILL_ERR_IO, "cannot rename to '%s': %s", out_path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (M.fc) {
        if (M.fc->pb)
            avio_closep(&M.fc->pb);
        avformat_free_context(M.fc);
    }
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    vb_job_free(j);
    return s;
}
