/* voiceover.c: a bill's personal sentences spoken over the template's bed, in their windows
 * (see voiceover.h).  The bed is decoded from the prepared file itself, around each
 * sentence only; the AAC encoder runs with its fast coder, which halves the cost of the
 * re-encoded seconds (bench/voice_render.sh measures it). */
#include "config.h"
#include "video/voiceover.h"
#include "voice/narration.h"
#include "voice/voice.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#define RATE 48000
#define AFRAME 1024          /* samples per AAC frame */
#define GUARD (2 * AFRAME)   /* bed-only frames between a seam and the speech */
#define LEAD_IN 0.15         /* seconds of bed in a window before its sentence */
#define TAIL 0.10            /* and after it */
#define MAX_TEMPO 1.15       /* a sentence longer than its window is sped up, at most so */

typedef struct speech {
    int seg;                 /* the first segment of its run of personal segments */
    int64_t at;              /* first sample, in the variant's audio timeline */
    float *pcm;
    size_t n;
} speech;

struct vb_voiceover {
    int nsp;
    speech sp[VB_MAX_SLOTS];
    cJSON *captions;         /* vb_narration_cues: in seconds of the variant */
    /* the bed: the prepared file opened again, decoded around the speech */
    AVFormatContext *in;
    int ai;
    int nch;                 /* its channels: 1 or 2 */
    int64_t grid;            /* packet timestamps are grid + k * AFRAME */
    /* the replacement packets of one run of personal segments (seg: its first), pts r0,
     * r0 + AFRAME, ... < r1 */
    int seg;
    int64_t r0, r1;
    AVPacket **pk;
    int npk;
};

static int64_t align_down(int64_t v, int64_t grid)
{
    int64_t k = v - grid;
    return grid + (k >= 0 ? k / AFRAME : -((-k + AFRAME - 1) / AFRAME)) * AFRAME;
}

static int64_t align_up(int64_t v, int64_t grid) { return align_down(v + AFRAME - 1, grid); }

/* The first segment of the run of personal segments that holds segment k (a slot window
 * may span several segments; one run of re-encoded audio crosses them). */
static int group_of(const vb_job *j, int k)
{
    while (k > 0 && j->t->segments[k - 1].personal)
        k--;
    return k;
}

/* The samples [s0, s1) whose packets belong to the run of personal segments from segment g
 * (the audio_segment rule). */
static void group_samples(const vb_job *j, int g, int64_t grid, int64_t *s0, int64_t *s1)
{
    const vbill_template *t = j->t;
    int e = g;
    while (e + 1 < t->nsegments && t->segments[e + 1].personal)
        e++;
    AVRational sr = {1, RATE};
    *s0 = align_up(av_rescale_q_rnd(t->segments[g].f0, j->ftb, sr, AV_ROUND_UP), grid);
    *s1 = align_up(av_rescale_q_rnd(t->segments[e].f1, j->ftb, sr, AV_ROUND_UP), grid);
}

static void free_packets(struct vb_voiceover *vo)
{
    for (int i = 0; i < vo->npk; i++)
        av_packet_free(&vo->pk[i]);
    free(vo->pk);
    vo->pk = NULL;
    vo->npk = 0;
    vo->seg = -1;
}

void vb_voiceover_free(vb_job *j)
{
    struct vb_voiceover *vo = j->vo;
    if (!vo)
        return;
    for (int i = 0; i < vo->nsp; i++)
        free(vo->sp[i].pcm);
    free_packets(vo);
    cJSON_Delete(vo->captions);
    avformat_close_input(&vo->in);
    free(vo);
    j->vo = NULL;
}

const cJSON *vb_voiceover_script(const vb_job *j)
{
    return j->vo ? j->vo->captions : NULL;
}

/* The grid of the audio packets' timestamps, from the first packet of the prepared file. */
static vbill_status open_bed(vb_job *j, struct vb_voiceover *vo)
{
    char *p = vb_path_join(j->t->cache_dir, j->variant ? "slow.mp4" : "normal.mp4");
    char why[200];
    int r = p ? vb_av_open_input(&vo->in, p, why) : AVERROR(ENOMEM);
    free(p);
    if (r >= 0)
        r = avformat_find_stream_info(vo->in, NULL);
    if (r < 0)
        return vb_job_media(j, "the voice: opening the prepared audio", r);
    vo->ai = j->ai;
    AVStream *st = vo->in->streams[vo->ai];
    vo->nch = st->codecpar->ch_layout.nb_channels;
    if (st->time_base.num != 1 || st->time_base.den != RATE ||
        st->codecpar->codec_id != AV_CODEC_ID_AAC || vo->nch < 1 || vo->nch > 2)
        return vb_error(j->ctx, VBILL_ERR_MEDIA,
                        "template '%s': the prepared audio is not mono or stereo AAC at "
                        "48 kHz: prepare it again", j->t->dir);
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    vo->grid = 0;
    while ((r = av_read_frame(vo->in, pkt)) >= 0) {
        bool audio = pkt->stream_index == vo->ai && pkt->pts != AV_NOPTS_VALUE;
        if (audio)
            vo->grid = ((pkt->pts % AFRAME) + AFRAME) % AFRAME;
        av_packet_unref(pkt);
        if (audio)
            break;
    }
    av_packet_free(&pkt);
    return VBILL_OK;
}

/* One personal scene: its sentence spoken at the variant's speed, fitted into the window
 * and into its segment, leveled. */
static vbill_status speak_scene(vb_job *j, struct vb_voiceover *vo, const char *locale,
                                const cJSON *scene)
{
    const vbill_template *t = j->t;
    double sp = j->variant ? av_q2d(t->slow_speed) : 1.0;
    double start = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(scene, "start")) / sp;
    double end = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(scene, "end")) / sp;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(scene, "text");
    int64_t frame = (int64_t)floor(start / av_q2d(j->ftb) + 1e-6);
    int k = vb_job_segment_of(j, frame);
    if (t->segments[k].personal)
        k = group_of(j, k);
    if (!t->segments[k].personal || vo->nsp == VB_MAX_SLOTS || !cJSON_IsString(text)) {
        vb_log(j->ctx, VBILL_LOG_WARN,
               "template '%s': the personal sentence at %.2f s is not in a slot window: not "
               "spoken", t->dir, start);
        return VBILL_OK;
    }
    int64_t s0, s1;
    group_samples(j, k, vo->grid, &s0, &s1);
    double lo = fmax(start + LEAD_IN, (double)(s0 + GUARD + AFRAME) / RATE);
    double hi = fmin(end - TAIL, (double)(s1 - GUARD - AFRAME) / RATE);
    if (hi - lo < 0.5)
        return VBILL_OK; /* no room to say anything */
    float *pcm = NULL;
    size_t n = 0;
    vbill_status st = vb_voice_say_at(j->ctx, t->voice, locale, text->valuestring, sp, &pcm, &n);
    if (st || !n)
        return st;
    double len = (double)n / RATE, room = hi - lo;
    if (len > room) {
        double tempo = fmin(len / room, MAX_TEMPO);
        float *q = NULL;
        size_t m = 0;
        if ((st = vb_pcm_tempo(j->ctx, pcm, n, tempo, &q, &m))) {
            free(pcm);
            return st;
        }
        free(pcm);
        pcm = q;
        n = m;
        if ((double)n / RATE > room) {
            /* still too long even 1.15x faster: the window ends it, faded out */
            vb_log(j->ctx, VBILL_LOG_WARN,
                   "bill '%s': the sentence at %.2f s lasts %.2f s at %.2fx, its window %.2f s: "
                   "cut", j->record_id, start, len / tempo, tempo, room);
            n = (size_t)(room * RATE);
            vb_pcm_fade_ends(pcm, n, RATE / 50);
        }
    }
    vb_pcm_level(pcm, n);
    vo->sp[vo->nsp++] = (speech){k, (int64_t)llround(lo * RATE), pcm, n};
    return VBILL_OK;
}

vbill_status vb_voiceover_prepare(vb_job *j, const vbill_bill *bill)
{
    const vbill_template *t = j->t;
    if (!t->narration || !t->voice || j->vo)
        return VBILL_OK;
    struct vb_voiceover *vo = calloc(1, sizeof *vo);
    if (!vo)
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    vo->seg = -1;
    j->vo = vo;
    vbill_status st = VBILL_OK;
    cJSON *script = vb_narration_build(j->ctx, bill->context, t->narration, &st);
    if (!script)
        return st;
    double sp = j->variant ? av_q2d(t->slow_speed) : 1.0;
    const char *locale = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(script, "locale"));
    if (!(vo->captions = vb_narration_cues(script, sp)))
        st = vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    if (!st)
        st = open_bed(j, vo);
    const cJSON *sc;
    cJSON_ArrayForEach(sc, cJSON_GetObjectItemCaseSensitive(script, "scenes"))
    {
        if (st)
            break;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sc, "personal")))
            st = speak_scene(j, vo, locale, sc);
    }
    cJSON_Delete(script);
    return st;
}

/* The bed over [e0, e1) (planar, its channels, zero where the file has none), decoded from a little
 * before e0 so the decoder's first, overlap-less frame is not used. */
static vbill_status decode_bed(vb_job *j, struct vb_voiceover *vo, int64_t e0, int64_t e1,
                               float *bed[2])
{
    AVStream *st = vo->in->streams[vo->ai];
    const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *dec = dc ? avcodec_alloc_context3(dc) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    int r = dec && pkt && f ? 0 : AVERROR(ENOMEM);
    if (r >= 0)
        r = avcodec_parameters_to_context(dec, st->codecpar);
    if (r >= 0) {
        dec->pkt_timebase = st->time_base;
        r = avcodec_open2(dec, dc, NULL);
    }
    if (r >= 0)
        r = av_seek_frame(vo->in, vo->ai, e0 - 3 * AFRAME, AVSEEK_FLAG_BACKWARD);
    bool done = false;
    while (r >= 0 && !done) {
        r = av_read_frame(vo->in, pkt);
        if (r == AVERROR_EOF) {
            r = avcodec_send_packet(dec, NULL);
            done = true;
        } else if (r >= 0) {
            if (pkt->stream_index != vo->ai || pkt->pts < e0 - 3 * AFRAME) {
                av_packet_unref(pkt);
                continue;
            }
            done = pkt->pts >= e1 + AFRAME;
            r = avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        while (r >= 0) {
            int k = avcodec_receive_frame(dec, f);
            if (k == AVERROR(EAGAIN) || k == AVERROR_EOF)
                break;
            if ((r = k) < 0)
                break;
            int64_t at = f->pts;
            for (int c = 0; c < vo->nch && at != AV_NOPTS_VALUE; c++) {
                int ch = c < f->ch_layout.nb_channels ? c : 0;
                const float *src = (const float *)f->extended_data[ch];
                for (int i = 0; i < f->nb_samples; i++)
                    if (at + i >= e0 && at + i < e1)
                        bed[c][at + i - e0] = src[i];
            }
            av_frame_unref(f);
        }
    }
    avcodec_free_context(&dec);
    av_packet_free(&pkt);
    av_frame_free(&f);
    return r < 0 && r != AVERROR_EOF ? vb_job_media(j, "the voice: decoding the bed", r)
                                     : VBILL_OK;
}

/* Encodes bed[] (from sample e0) and keeps the packets of [r0, r1). */
static vbill_status encode_run(vb_job *j, struct vb_voiceover *vo, int64_t e0, int64_t e1,
                               float *bed[2])
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int cap = (int)((vo->r1 - vo->r0) / AFRAME) + 1;
    vo->pk = calloc((size_t)cap, sizeof *vo->pk);
    int r = enc && f && pkt && vo->pk ? 0 : AVERROR(ENOMEM);
    if (r >= 0) {
        enc->sample_rate = RATE;
        enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
        av_channel_layout_default(&enc->ch_layout, vo->nch);
        enc->bit_rate = VB_AAC_RATE_PER_CHANNEL * vo->nch;
        enc->time_base = (AVRational){1, RATE};
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        AVDictionary *opt = NULL;
        /* the fast coder without the costly tools: a sentence over a soft bed needs none */
        av_dict_set(&opt, "aac_coder", "fast", 0);
        av_dict_set(&opt, "aac_pns", "0", 0);
        av_dict_set(&opt, "aac_tns", "0", 0);
        av_dict_set(&opt, "aac_is", "0", 0);
        av_dict_set(&opt, "aac_ms", "0", 0);
        r = avcodec_open2(enc, codec, &opt);
        av_dict_free(&opt);
    }
    for (int64_t at = e0; r >= 0; at += AFRAME) {
        if (at < e1) {
            f->format = AV_SAMPLE_FMT_FLTP;
            f->sample_rate = RATE;
            f->nb_samples = AFRAME;
            av_channel_layout_default(&f->ch_layout, vo->nch);
            if ((r = av_frame_get_buffer(f, 0)) < 0)
                break;
            for (int c = 0; c < vo->nch; c++)
                memcpy(f->extended_data[c], bed[c] + (at - e0), AFRAME * sizeof(float));
            f->pts = at;
            r = avcodec_send_frame(enc, f);
            av_frame_unref(f);
        } else {
            r = avcodec_send_frame(enc, NULL);
        }
        while (r >= 0) {
            int k = avcodec_receive_packet(enc, pkt);
            if (k == AVERROR(EAGAIN))
                break;
            if (k == AVERROR_EOF) {
                r = AVERROR_EOF;
                break;
            }
            if ((r = k) < 0)
                break;
            if (pkt->pts >= vo->r0 && pkt->pts < vo->r1 && vo->npk < cap) {
                if (!(vo->pk[vo->npk] = av_packet_clone(pkt)))
                    r = AVERROR(ENOMEM);
                else
                    vo->npk++;
            }
            av_packet_unref(pkt);
        }
    }
    avcodec_free_context(&enc);
    av_frame_free(&f);
    av_packet_free(&pkt);
    if (r < 0 && r != AVERROR_EOF)
        return vb_job_media(j, "the voice: encoding", r);
    if (vo->npk != cap - 1)
        return vb_error(j->ctx, VBILL_ERR_MEDIA, "the voice: %d AAC frames re-encoded of %d",
                        vo->npk, cap - 1);
    return VBILL_OK;
}

/* The replacement packets of the run of personal segments from k: [r0, r1) around its
 * sentences.  The same for every segment of the run (a segment rendered on its own gets the
 * packets a whole render would). */
static vbill_status splice_group(vb_job *j, struct vb_voiceover *vo, int k)
{
    free_packets(vo);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < vo->nsp; i++)
        if (vo->sp[i].seg == k) {
            lo = vo->sp[i].at < lo ? vo->sp[i].at : lo;
            hi = vo->sp[i].at + (int64_t)vo->sp[i].n > hi ? vo->sp[i].at + (int64_t)vo->sp[i].n
                                                          : hi;
        }
    vo->seg = k;
    vo->r0 = vo->r1 = 0;
    if (lo > hi)
        return VBILL_OK;
    int64_t s0, s1;
    group_samples(j, k, vo->grid, &s0, &s1);
    vo->r0 = align_down(lo - GUARD, vo->grid);
    vo->r1 = align_up(hi + GUARD, vo->grid);
    vo->r0 = vo->r0 < s0 ? s0 : vo->r0;
    vo->r1 = vo->r1 > s1 ? s1 : vo->r1;
    int64_t e0 = vo->r0 - GUARD, e1 = vo->r1 + GUARD;
    size_t len = (size_t)(e1 - e0);
    float *bed[2] = {calloc(len, sizeof(float)), vo->nch > 1 ? calloc(len, sizeof(float)) : NULL};
    vbill_status st = bed[0] && (bed[1] || vo->nch == 1) ? decode_bed(j, vo, e0, e1, bed)
                                       : vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < vo->nsp && !st; i++) {
        const speech *s = &vo->sp[i];
        if (s->seg != k)
            continue;
        for (size_t q = 0; q < s->n; q++) {
            int64_t at = s->at + (int64_t)q - e0;
            if (at < 0 || at >= (int64_t)len)
                continue;
            for (int c = 0; c < vo->nch; c++) {
                float v = bed[c][at] + s->pcm[q];
                bed[c][at] = v > 1 ? 1 : v < -1 ? -1 : v;
            }
        }
    }
    if (!st)
        st = encode_run(j, vo, e0, e1, bed);
    free(bed[0]);
    free(bed[1]);
    if (st)
        free_packets(vo);
    return st;
}

bool vb_voiceover_digest(const vb_job *j, int k, EVP_MD_CTX *md)
{
    const struct vb_voiceover *vo = j->vo;
    if (!vo || !vo->nsp || k < 0 || k >= j->t->nsegments || !j->t->segments[k].personal)
        return true;
    int g = group_of(j, k);
    bool ok = true;
    for (int i = 0; ok && i < vo->nsp; i++) {
        const speech *s = &vo->sp[i];
        if (s->seg != g)
            continue;
        char head[96];
        snprintf(head, sizeof head, "voice %d %" PRId64 " %zu\n", g, s->at, s->n);
        ok = EVP_DigestUpdate(md, head, strlen(head)) &&
             EVP_DigestUpdate(md, s->pcm, s->n * sizeof *s->pcm);
    }
    return ok;
}

vbill_status vb_voiceover_apply(vb_job *j, AVPacket *pkt)
{
    struct vb_voiceover *vo = j->vo;
    if (!vo || !vo->nsp || pkt->stream_index != j->ai || pkt->pts == AV_NOPTS_VALUE)
        return VBILL_OK;
    int k = vb_job_audio_segment(j, pkt->pts);
    if (k < 0 || !j->t->segments[k].personal)
        return VBILL_OK;
    k = group_of(j, k);
    if (vo->seg != k) {
        vbill_status st = splice_group(j, vo, k);
        if (st)
            return st;
    }
    if (pkt->pts < vo->r0 || pkt->pts >= vo->r1)
        return VBILL_OK;
    const AVPacket *rep = vo->pk[(pkt->pts - vo->r0) / AFRAME];
    if (rep->pts != pkt->pts)
        return vb_error(j->ctx, VBILL_ERR_MEDIA, "the voice: AAC frame at %lld not re-encoded",
                        (long long)pkt->pts);
    AVPacket *n = av_packet_clone(rep);
    if (!n)
        return vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    n->pts = pkt->pts;
    n->dts = pkt->dts;
    n->duration = pkt->duration;
    n->stream_index = pkt->stream_index;
    n->flags = pkt->flags;
    n->pos = -1;
    av_packet_unref(pkt);
    av_packet_move_ref(pkt, n);
    av_packet_free(&n);
    return VBILL_OK;
}
