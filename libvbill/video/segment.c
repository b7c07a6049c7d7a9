/* segment.c: MPEG-TS segments, one per GOP run of the prepared video, cut by the same rule
 * everywhere (video by frame, audio by timestamp), so the shared segments (written once by
 * prepare) and a customer's personal ones (re-encoded) play back to back with continuous
 * timestamps and no discontinuity tag. */
#include "config.h"
#include "video/segment.h"
#include "video/voiceover.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

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

static vbill_status segment_encode(vb_job *j, int k, const char *path);

/* ---- the segment cache (vbill_ctx_set_segment_cache) ------------------------------- */

VBILL_API vbill_status vbill_ctx_set_segment_cache(vbill_ctx *ctx, const char *dir)
{
    vb_clear_error(ctx);
    if (!ctx)
        return VBILL_ERR_ARG;
    char *copy = NULL;
    if (dir && !*dir)
        return vb_error(ctx, VBILL_ERR_ARG, "the segment cache needs a directory");
    if (dir && !(copy = strdup(dir)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    free(ctx->segment_cache);
    ctx->segment_cache = copy;
    return VBILL_OK;
}

VBILL_API void vbill_ctx_segment_cache_stats(const vbill_ctx *ctx, uint64_t *hits,
                                             uint64_t *misses)
{
    if (hits)
        *hits = ctx ? ctx->segcache_hits : 0;
    if (misses)
        *misses = ctx ? ctx->segcache_misses : 0;
}

/* The cache file of personal segment k of the job: DIR/KK/KEY.ts, KEY the SHA-256 of
 * everything the segment's bytes depend on: the texts drawn and, when the template speaks,
 * the samples of the voice spliced into the segment's audio.  NULL when there is no cache
 * (or no memory). */
static char *cache_path(const vb_job *j, int k)
{
    const vb_segment *sg = &j->t->segments[k];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char head[256];
    snprintf(head, sizeof head, "vbill-segment-2\n%s\n%s %u\n%s\n%d %d %" PRId64 " %" PRId64 "\n",
             vbill_version(), LIBAVCODEC_IDENT, avcodec_version(), j->t->hash, j->variant, k,
             sg->f0, sg->f1);
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
              EVP_DigestUpdate(md, head, strlen(head));
    for (int i = 0; ok && i < j->nov; i++) {
        const vb_overlay *o = &j->ov[i];
        int64_t a = o->f0 > sg->f0 ? o->f0 : sg->f0, b = o->f1 < sg->f1 ? o->f1 : sg->f1;
        if (!o->Y || a >= b)
            continue;
        snprintf(head, sizeof head, "text %d %d %d %d %" PRId64 " %" PRId64 "\n", o->x, o->y,
                 o->w, o->h, a, b);
        ok = EVP_DigestUpdate(md, head, strlen(head)) &&
             EVP_DigestUpdate(md, o->Y, (size_t)o->w * (size_t)o->h * 4);
    }
    ok = ok && vb_voiceover_digest(j, k, md);
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    ok = ok && EVP_DigestFinal_ex(md, dg, &dl) && dl == 32;
    EVP_MD_CTX_free(md);
    if (!ok)
        return NULL;
    char hex[65];
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", dg[i]);
    vb_buf p = {0};
    vb_buf_printf(&p, "%s/%.2s/%s.ts", j->ctx->segment_cache, hex, hex);
    return vb_buf_take(&p);
}

/* Hard-links src to dst through a temporary name (dst appears whole or not at all). */
static bool link_as(const char *src, const char *dst)
{
    char *tmp = vb_temp_path_for(dst);
    int fd = tmp ? mkstemp(tmp) : -1;
    bool ok = false;
    if (fd >= 0) {
        close(fd);
        unlink(tmp); /* a free, unguessable name for link(2) */
        ok = link(src, tmp) == 0;
        if (ok && rename(tmp, dst) != 0) {
            unlink(tmp);
            ok = false;
        }
    }
    free(tmp);
    return ok;
}

/* Adds the rendered segment at path to the cache as cpath (best effort: a cache that
 * cannot be written only costs renders). */
static void cache_add(vb_job *j, const char *path, const char *cpath)
{
    char *dir = strdup(cpath);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    if ((!dir || vb_mkdirs(dir) != 0 || !link_as(path, cpath)) && !j->ctx->segcache_warned) {
        j->ctx->segcache_warned = true; /* once per context: the counts tell the rest */
        vb_log(j->ctx, VBILL_LOG_WARN, "segment cache: cannot add to '%s': %s",
               j->ctx->segment_cache, strerror(errno));
    }
    free(dir);
}

vbill_status vb_segment_write(vb_job *j, int k, const char *path)
{
    char *cpath = NULL;
    if (j->t->segments[k].personal && j->ctx->segment_cache && !j->no_images && !j->copy) {
        cpath = cache_path(j, k);
        if (cpath && link_as(cpath, path)) {
            j->ctx->segcache_hits++;
            free(cpath);
            return VBILL_OK;
        }
    }
    vbill_status s = segment_encode(j, k, path);
    if (cpath && !s) {
        j->ctx->segcache_misses++;
        cache_add(j, path, cpath);
    }
    free(cpath);
    return s;
}

static vbill_status segment_encode(vb_job *j, int k, const char *path)
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
            int a = vb_job_audio_segment(j, p->pts);
            if (a > k)
                adone = true;
            if (a != k) {
                av_packet_unref(p);
                continue;
            }
            if (sg->personal && (s = vb_voiceover_apply(j, p))) {
                av_packet_unref(p);
                goto out;
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

/* A VOD playlist's header: the longest segment of the template in whole seconds. */
void vb_playlist_head(vb_buf *pl, const vbill_template *t, AVRational ftb)
{
    double maxd = 0;
    for (int k = 0; k < t->nsegments; k++) {
        double d = (double)(t->segments[k].f1 - t->segments[k].f0) * av_q2d(ftb);
        if (d > maxd)
            maxd = d;
    }
    vb_buf_printf(pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n"
                      "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-INDEPENDENT-SEGMENTS\n",
                  (int)ceil(maxd - 1e-9));
}
