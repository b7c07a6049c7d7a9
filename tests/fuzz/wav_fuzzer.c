/* wav_fuzzer.c: any bytes as a WAV file (a carrier's clip, or what espeak-ng wrote).  The
 * parser must never read outside the buffer; what it accepts must decode to PCM in [-1, 1]
 * at 48 kHz, about as long as the frames it found. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "voice/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    vb_wav w;
    const char *why = vb_wav_parse(buf, size, &w);
    if (!why) {
        size_t frame = (size_t)w.channels * (size_t)(w.bits / 8);
        if (w.data < buf || w.data + w.frames * frame > buf + size)
            abort();
        vbill_ctx *ctx;
        if (vbill_ctx_new(&ctx) != VBILL_OK)
            abort();
        float *pcm = NULL;
        size_t n = 0;
        if (vb_wav_to_pcm(ctx, "fuzz", &w, &pcm, &n) == VBILL_OK) {
            for (size_t i = 0; i < n; i++)
                if (!(pcm[i] >= -1.0f && pcm[i] <= 1.0f))
                    abort();
            double want = (double)w.frames * 48000 / w.rate;
            if (fabs((double)n - want) > 1)
                abort();
        }
        free(pcm);
        vbill_ctx_free(ctx);
    }
    free(buf);
    return 0;
}
