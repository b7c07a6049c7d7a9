/* render.c: a bill's video as one MP4.  Only the GOPs of the prepared video that hold a slot
 * window go through the re-encoder (job.c); every other video packet is stream-copied, and
 * so is the audio but around the spoken personal sentences (voiceover.c).  The narration's
 * sentences go in a subtitle track (mov_text). */
#include "config.h"
#include "video/job.h"
#include "video/voiceover.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct mp4out {
    AVFormatContext *fc;
    const vb_job *j;
    /* captions: the script's sentences as a mov_text track (sst < 0: none) */
    AVCodecContext *senc;
    int sst;
    const cJSON *cue;      /* the next one to write */
} mp4out;

/* The style mov_text's encoder reads its defaults from (an ASS header, as FFmpeg's own
 * subtitle decoders make). */
static const char ASS_HEADER[] =
    "[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n"
    "[V4+ Styles]\r\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
    "OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
    "Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\r\n"
    "Style: Default,Noto Sans CJK KR,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,"
    "10,10,10,0\r\n\r\n[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, "
    "MarginR, MarginV, Effect, Text\r\n";

static vbill_status captions_open(vb_job *j, mp4out *m)
{
    m->sst = -1;
    const cJSON *script = vb_voiceover_script(j);
    if (!script || !script->child)
        return VBILL_OK;
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MOV_TEXT);
    if (!c)
        return VBILL_OK; /* an FFmpeg without it: the captions stay beside the video */
    m->senc = avcodec_alloc_context3(c);
    AVStream *st = avformat_new_stream(m->fc, NULL);
    if (!m->senc || !st)
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    m->senc->time_base = (AVRational){1, 1000};
    m->senc->subtitle_header = (uint8_t *)av_strdup(ASS_HEADER);
    m->senc->subtitle_header_size = (int)strlen(ASS_HEADER);
    int r = m->senc->subtitle_header ? avcodec_open2(m->senc, c, NULL) : AVERROR(ENOMEM);
    if (r >= 0)
        r = avcodec_parameters_from_context(st->codecpar, m->senc);
    if (r < 0)
        return vb_job_media(j, "the captions' encoder", r);
    st->time_base = (AVRational){1, 1000};
    st->disposition = AV_DISPOSITION_DEFAULT;
    static const char *const lang[][2] = {{"ko-KR", "kor"}, {"ja-JP", "jpn"}, {"en-US", "eng"}};
    for (size_t i = 0; i < VB_ARRAY_LEN(lang); i++)
        if (!strcmp(j->locale, lang[i][0]))
            av_dict_set(&st->metadata, "language", lang[i][1], 0);
    m->sst = st->index;
    m->cue = script->child;
    return VBILL_OK;
}

/* Writes the cues that start before `until` seconds (all of them: INFINITY). */
static vbill_status captions_until(vb_job *j, mp4out *m, double until)
{
    for (; m->sst >= 0 && m->cue; m->cue = m->cue->next) {
        double a = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m->cue, "start"));
        double z = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m->cue, "end"));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->cue, "text"));
        if (a > until)
            break;
        if (!text || !(z > a))
            continue;
        /* an ASS event's text: no override blocks, no escapes */
        vb_buf ev = {0};
        vb_buf_puts(&ev, "0,0,Default,,0,0,0,,");
        for (const char *p = text; *p; p++)
            vb_buf_append(&ev, *p == '{' ? "(" : *p == '}' ? ")" : *p == '\\' ? "/" : p, 1);
        if (ev.failed) {
            vb_buf_free(&ev);
            return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
        }
        AVSubtitleRect rect = {.type = SUBTITLE_ASS, .ass = ev.data}, *rects[1] = {&rect};
        AVSubtitle sub = {.num_rects = 1, .rects = rects, .end_display_time =
                                                             (uint32_t)llround((z - a) * 1000)};
        uint8_t buf[8192];
        int n = avcodec_encode_subtitle(m->senc, buf, sizeof buf, &sub);
        vb_buf_free(&ev);
        if (n < 0)
            return vb_job_media(j, "the captions' encoder", n);
        AVPacket *pkt = av_packet_alloc();
        if (!pkt || av_new_packet(pkt, n) < 0) {
            av_packet_free(&pkt);
            return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
        }
        memcpy(pkt->data, buf, (size_t)n);
        pkt->pts = pkt->dts = llround(a * 1000);
        pkt->duration = llround((z - a) * 1000);
        pkt->stream_index = m->sst;
        int r = av_interleaved_write_frame(m->fc, pkt);
        av_packet_free(&pkt);
        if (r < 0)
            return vb_job_media(j, "writing the captions", r);
    }
    return VBILL_OK;
}

static vbill_status mp4_write(vb_job *j, AVPacket *pkt, void *user)
{
    mp4out *m = user;
    AVStream *ist = j->in->streams[pkt->stream_index];
    if (m->sst >= 0 && pkt->dts != AV_NOPTS_VALUE) {
        vbill_status s = captions_until(j, m, (double)pkt->dts * av_q2d(ist->time_base));
        if (s)
            return s;
    }
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
    mp4out M = {.j = j, .sst = -1};
    char *tmp = NULL;
    int fd = -1;
    vbill_status s = vb_job_prepare(ctx, t, bill, speed, j);
    if (!s)
        s = vb_job_open_input(j);
    if (!s)
        s = vb_voiceover_prepare(j, bill);
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
    if ((s = captions_open(j, &M)))
        goto out;
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
        } else if ((s = vb_voiceover_apply(j, j->pkt))) {
            av_packet_unref(j->pkt);
            goto out;
        }
        s = mp4_write(j, j->pkt, &M);
        av_packet_unref(j->pkt);
        if (s)
            goto out;
    }
    if (j->cur >= 0 && (s = vb_reenc_end(j)))
        goto out;
    if ((s = captions_until(j, &M, INFINITY)))
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
    avcodec_free_context(&M.senc);
    if (M.fc) {
        if (M.fc->pb)
            avio_closep(&M.fc->pb);
        avformat_free_context(M.fc);
    }
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    vb_voiceover_free(j);
    vb_job_free(j);
    return s;
}
