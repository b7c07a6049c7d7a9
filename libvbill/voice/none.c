/* none.c: the voice calls of a library built without video (./configure --disable-video: no
 * FFmpeg to resample or time-stretch speech): each answers VBILL_ERR_UNSUPPORTED.  Narration
 * scripts (narration.c, say.c) need no FFmpeg and stay. */
#include "config.h"
#include "internal.h"

#include <stdlib.h>


static vbill_status absent(vbill_ctx *ctx, const char *call)
{
    vb_clear_error(ctx);
    return vb_error(ctx, VBILL_ERR_UNSUPPORTED,
                    "%s: this libvbill was built without video (configure --disable-video), "
                    "which voices need",
                    call);
}

VBILL_API vbill_status vbill_voice_open_espeak(vbill_ctx *ctx, const char *program,
                                               vbill_voice **out)
{
    (void)program;
    if (out)
        *out = NULL;
    return absent(ctx, "vbill_voice_open_espeak");
}

VBILL_API vbill_status vbill_voice_open_clips(vbill_ctx *ctx, const char *dir, vbill_voice **out)
{
    (void)dir;
    if (out)
        *out = NULL;
    return absent(ctx, "vbill_voice_open_clips");
}

VBILL_API vbill_status vbill_voice_open_silent(vbill_ctx *ctx, vbill_voice **out)
{
    if (out)
        *out = NULL;
    return absent(ctx, "vbill_voice_open_silent");
}

VBILL_API vbill_status vbill_voice_open_default(vbill_ctx *ctx, vbill_voice **out)
{
    if (out)
        *out = NULL;
    return absent(ctx, "vbill_voice_open_default");
}

VBILL_API const char *vbill_voice_kind(const vbill_voice *v)
{
    (void)v;
    return "";
}

VBILL_API vbill_status vbill_voice_set_rate(vbill_voice *v, double rate)
{
    (void)v, (void)rate;
    return VBILL_ERR_UNSUPPORTED;
}

VBILL_API vbill_status vbill_voice_set_timeout(vbill_voice *v, int ms)
{
    (void)v, (void)ms;
    return VBILL_ERR_UNSUPPORTED;
}

VBILL_API vbill_status vbill_voice_say(vbill_ctx *ctx, const vbill_voice *v, const char *locale,
                                       const char *text, float **pcm, size_t *samples)
{
    (void)v, (void)locale, (void)text;
    if (pcm)
        *pcm = NULL;
    if (samples)
        *samples = 0;
    return absent(ctx, "vbill_voice_say");
}

VBILL_API vbill_status vbill_voice_narration(vbill_ctx *ctx, const vbill_voice *v,
                                             const char *script_json, vbill_scenes which,
                                             float **pcm, size_t *samples)
{
    (void)v, (void)script_json, (void)which;
    if (pcm)
        *pcm = NULL;
    if (samples)
        *samples = 0;
    return absent(ctx, "vbill_voice_narration");
}

VBILL_API vbill_status vbill_voice_clip_list(vbill_ctx *ctx, const char *locale,
                                             char **out_json)
{
    (void)locale;
    if (out_json)
        *out_json = NULL;
    return absent(ctx, "vbill_voice_clip_list");
}

VBILL_API void vbill_voice_free(vbill_voice *v) { (void)v; }

VBILL_API vbill_status vbill_wav_write(vbill_ctx *ctx, const char *path, const float *pcm,
                                       size_t samples)
{
    (void)path, (void)pcm, (void)samples;
    return absent(ctx, "vbill_wav_write");
}
