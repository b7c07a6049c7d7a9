/* hls.c: a bill's HLS stream: its playlist (shared segments by reference, personal ones by
 * name) and its personal segments (segment.c), all at once or one at a time on demand. */
#include "config.h"
#include "video/segment.h"
#include "video/voiceover.h"
#include "voice/narration.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Relative path from directory `from` to `to` (both must exist). */
static char *relpath(const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(to, b))
        return NULL;
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/')
            common = i;
        i++;
    }
    if (!a[i] && (b[i] == '/' || !b[i]))
        common = i;
    vb_buf out = {0};
    for (const char *p = a + common; *p; p++)
        if (*p == '/')
            vb_buf_puts(&out, "../");
    const char *rest = b + common;
    if (*rest == '/')
        rest++;
    vb_buf_puts(&out, rest);
    if (out.len == 0)
        vb_buf_puts(&out, ".");
    return vb_buf_take(&out);
}

/* The playlist of the job's variant; with write_personal, its personal segments too. */
static vbill_status render_hls(vb_job *j, const char *out_dir, const char *shared_url,
                               bool write_personal)
{
    vbill_ctx *ctx = j->ctx;
    const vbill_template *t = j->t;
    char *base = NULL, *shared_dir = NULL;
    vb_buf pl = {0};
    vbill_status s = VBILL_OK;
    if (vb_mkdirs(out_dir) != 0) {
        s = vb_error(ctx, VBILL_ERR_IO, "cannot create '%s': %s", out_dir, strerror(errno));
        goto out;
    }
    shared_dir = vb_path_join(t->cache_dir, j->variant ? "hls-slow" : "hls-normal");
    base = shared_url ? strdup(shared_url) : (shared_dir ? relpath(out_dir, shared_dir) : NULL);
    if (!base) {
        s = vb_error(ctx, VBILL_ERR_IO, "cannot resolve the shared segments of '%s'", t->dir);
        goto out;
    }
    vb_playlist_head(&pl, t, j->ftb);
    size_t bl = strlen(base);
    const char *sep = (bl && base[bl - 1] == '/') ? "" : "/";
    for (int k = 0; k < t->nsegments && !s; k++) {
        const vb_segment *sg = &t->segments[k];
        double d = (double)(sg->f1 - sg->f0) * av_q2d(j->ftb);
        vb_buf_printf(&pl, "#EXTINF:%.6f,\n", d);
        if (sg->personal) {
            char name[32];
            snprintf(name, sizeof name, "p%05d.ts", k);
            if (write_personal) {
                char *p = vb_path_join(out_dir, name);
                s = p ? vb_segment_write(j, k, p) : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
                free(p);
            }
            vb_buf_printf(&pl, "%s\n", name);
        } else {
            vb_buf_printf(&pl, "%s%ss%05d.ts\n", base, sep, k);
        }
    }
    vb_buf_puts(&pl, "#EXT-X-ENDLIST\n");
    if (s)
        goto out;
    if (pl.failed) {
        s = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    char *pp = vb_path_join(out_dir, "index.m3u8");
    if (!pp || vb_write_file_atomic(pp, pl.data, pl.len) != 0)
        s = vb_error(ctx, VBILL_ERR_IO, "cannot write '%s/index.m3u8': %s", out_dir,
                     strerror(errno));
    free(pp);
out:
    vb_buf_free(&pl);
    free(base);
    free(shared_dir);
    return s;
}

/* out_dir/captions.vtt: the narration script's sentences, timed for the job's variant, when
 * the template has a narration (its voice speaks them). */
static vbill_status write_captions(vb_job *j, const vbill_bill *bill, const char *out_dir)
{
    if (!j->t->narration)
        return VBILL_OK;
    vbill_status s = VBILL_OK;
    cJSON *script = vb_narration_build(j->ctx, bill->context, j->t->narration, &s);
    char *vtt = script ? vb_narration_webvtt(script, j->variant ? av_q2d(j->t->slow_speed) : 1.0)
                       : NULL;
    char *p = vb_path_join(out_dir, "captions.vtt");
    if (script && (!vtt || !p))
        s = vb_error(j->ctx, VBILL_ERR_NOMEM, "out of memory");
    else if (script && vb_write_file_atomic(p, vtt, strlen(vtt)) != 0)
        s = vb_error(j->ctx, VBILL_ERR_IO, "cannot write '%s': %s", p, strerror(errno));
    free(p);
    free(vtt);
    cJSON_Delete(script);
    return s;
}

VBILL_API vbill_status vbill_render_hls(vbill_ctx *ctx, const vbill_template *t,
                                        const vbill_bill *bill, double speed,
                                        const char *out_dir, const char *shared_url)
{
    vb_clear_error(ctx);
    if (!ctx || !t || !bill || !out_dir)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_render_hls: NULL argument");
    vb_job J = {.ctx = ctx, .t = t, .cur = -1}, *j = &J;
    vbill_status s = vb_job_prepare(ctx, t, bill, speed, j);
    if (!s)
        s = vb_job_open_input(j);
    if (!s)
        s = vb_voiceover_prepare(j, bill);
    if (!s)
        s = render_hls(j, out_dir, shared_url, true);
    if (!s)
        s = write_captions(j, bill, out_dir);
    vb_voiceover_free(j);
    vb_job_free(j);
    return s;
}

VBILL_API vbill_status vbill_render_playlist(vbill_ctx *ctx, const vbill_template *t,
                                             const vbill_bill *bill, double speed,
                                             const char *out_dir, const char *shared_url)
{
    vb_clear_error(ctx);
    if (!ctx || !t || !bill || !out_dir)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_render_playlist: NULL argument");
    /* Variant and frame timing only: no slot image is drawn and no input opened. */
    vb_job J = {.ctx = ctx, .t = t, .cur = -1, .no_images = true}, *j = &J;
    vbill_status s = vb_job_prepare(ctx, t, bill, speed, j);
    if (!s)
        s = render_hls(j, out_dir, shared_url, false);
    if (!s)
        s = write_captions(j, bill, out_dir);
    vb_job_free(j);
    return s;
}

VBILL_API vbill_status vbill_render_segment(vbill_ctx *ctx, const vbill_template *t,
                                            const vbill_bill *bill, double speed, int segment,
                                            const char *out_path)
{
    vb_clear_error(ctx);
    if (!ctx || !t || !bill || !out_path)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_render_segment: NULL argument");
    if (t->prepared && (segment < 0 || segment >= t->nsegments || !t->segments[segment].personal))
        return vb_error(ctx, VBILL_ERR_NOT_FOUND,
                        "template '%s': segment %d is not a personal segment", t->dir, segment);
    vb_job J = {.ctx = ctx, .t = t, .cur = -1}, *j = &J;
    vbill_status s = vb_job_prepare(ctx, t, bill, speed, j);
    if (!s)
        s = vb_job_open_input(j);
    if (!s)
        s = vb_voiceover_prepare(j, bill);
    if (!s)
        s = vb_segment_write(j, segment, out_path);
    vb_voiceover_free(j);
    vb_job_free(j);
    return s;
}
