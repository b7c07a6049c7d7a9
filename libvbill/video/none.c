/* none.c: the video calls of a library built without video (./configure --disable-video):
 * every one answers VBILL_ERR_UNSUPPORTED, so programs link against any build and ask
 * vbill_has("video") first. */
#include "config.h"
#include "internal.h"

#include <stdlib.h>

static vbill_status absent(vbill_ctx *ctx, const char *call)
{
    vb_clear_error(ctx);
    return vb_error(ctx, VBILL_ERR_UNSUPPORTED,
                    "%s: this libvbill was built without video (configure --disable-video)", call);
}

VBILL_API vbill_status vbill_template_open(vbill_ctx *ctx, const char *dir, vbill_template **out)
{
    (void)dir;
    if (out)
        *out = NULL;
    return absent(ctx, "vbill_template_open");
}

VBILL_API vbill_status vbill_template_prepare(vbill_template *t)
{
    (void)t;
    return VBILL_ERR_UNSUPPORTED;
}

VBILL_API const char *vbill_template_errmsg(const vbill_template *t)
{
    (void)t;
    return "this libvbill was built without video";
}

VBILL_API int vbill_template_is_prepared(const vbill_template *t)
{
    (void)t;
    return 0;
}

VBILL_API const char *vbill_template_scenario(const vbill_template *t)
{
    (void)t;
    return NULL;
}

VBILL_API char *vbill_template_info(const vbill_template *t)
{
    (void)t;
    return NULL;
}

VBILL_API void vbill_template_free(vbill_template *t) { (void)t; }

VBILL_API vbill_status vbill_render_mp4(vbill_ctx *ctx, const vbill_template *t,
                                        const vbill_bill *bill, double speed, const char *out_path)
{
    (void)t, (void)bill, (void)speed, (void)out_path;
    return absent(ctx, "vbill_render_mp4");
}

VBILL_API vbill_status vbill_render_hls(vbill_ctx *ctx, const vbill_template *t,
                                        const vbill_bill *bill, double speed, const char *out_dir,
                                        const char *shared_url)
{
    (void)t, (void)bill, (void)speed, (void)out_dir, (void)shared_url;
    return absent(ctx, "vbill_render_hls");
}

VBILL_API vbill_status vbill_render_playlist(vbill_ctx *ctx, const vbill_template *t,
                                             const vbill_bill *bill, double speed,
                                             const char *out_dir, const char *shared_url)
{
    (void)t, (void)bill, (void)speed, (void)out_dir, (void)shared_url;
    return absent(ctx, "vbill_render_playlist");
}

VBILL_API vbill_status vbill_render_segment(vbill_ctx *ctx, const vbill_template *t,
                                            const vbill_bill *bill, double speed, int segment,
                                            const char *out_path)
{
    (void)t, (void)bill, (void)speed, (void)segment, (void)out_path;
    return absent(ctx, "vbill_render_segment");
}

VBILL_API vbill_status vbill_ctx_set_segment_cache(vbill_ctx *ctx, const char *dir)
{
    (void)dir;
    return absent(ctx, "vbill_ctx_set_segment_cache");
}

VBILL_API void vbill_ctx_segment_cache_stats(const vbill_ctx *ctx, uint64_t *hits,
                                             uint64_t *misses)
{
    (void)ctx;
    if (hits)
        *hits = 0;
    if (misses)
        *misses = 0;
}

VBILL_API vbill_status vbill_render_still(vbill_ctx *ctx, const vbill_template *t,
                                          const vbill_bill *bill, double speed, double position_s,
                                          int max_width, unsigned char **jpeg, size_t *jpeg_len)
{
    (void)t, (void)bill, (void)speed, (void)position_s, (void)max_width;
    if (jpeg)
        *jpeg = NULL;
    if (jpeg_len)
        *jpeg_len = 0;
    return absent(ctx, "vbill_render_still");
}

VBILL_API vbill_status vbill_still_jpeg(vbill_ctx *ctx, const char *video_path,
                                        double position_s, int max_width, unsigned char **jpeg,
                                        size_t *jpeg_len)
{
    (void)video_path, (void)position_s, (void)max_width;
    if (jpeg)
        *jpeg = NULL;
    if (jpeg_len)
        *jpeg_len = 0;
    return absent(ctx, "vbill_still_jpeg");
}

VBILL_API vbill_status vbill_template_builtin_write(vbill_ctx *ctx, const char *scenario,
                                                   const char *dir)
{
    (void)scenario, (void)dir;
    return absent(ctx, "vbill_template_builtin_write");
}

VBILL_API const char *vbill_template_builtin_list(void) { return "[]"; }

VBILL_API vbill_status vbill_template_set_voice(vbill_template *t, const vbill_voice *voice)
{
    (void)t, (void)voice;
    return VBILL_ERR_UNSUPPORTED;
}

VBILL_API vbill_status vbill_template_builtin_make(vbill_ctx *ctx, const char *scenario,
                                                  const char *locale, const vbill_voice *voice,
                                                  const char *dir)
{
    (void)scenario, (void)locale, (void)voice, (void)dir;
    return absent(ctx, "vbill_template_builtin_make");
}
