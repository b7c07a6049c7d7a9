/*
 * wav.c: the WAVE parser (hand-written and fuzzed: tests/fuzz/wav_fuzzer.c), conversion to
 * the voices' PCM through libswresample, and the writer.
 */
#include "config.h"
#include "voice/wav.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libswresample/swresample.h>

#define RESAMPLE_PAD 256 /* input samples: more than libswresample's filter holds back */

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The tail of the GUID of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT (the first two bytes are
 * the format tag). */
static const uint8_t GUID_TAIL[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                      0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

static const char *parse_fmt(const uint8_t *p, uint32_t size, vb_wav *w)
{
    if (size < 16)
        return "the fmt chunk is shorter than 16 bytes";
    int tag = u16(p);
    w->channels = u16(p + 2);
    uint32_t rate = u32(p + 4);
    int align = u16(p + 12);
    w->bits = u16(p + 14);
    if (tag == 0xFFFE) { /* WAVE_FORMAT_EXTENSIBLE: the real tag is in the sub-format */
        if (size < 40 || u16(p + 16) < 22)
            return "a WAVE_FORMAT_EXTENSIBLE fmt chunk shorter than 40 bytes";
        if (memcmp(p + 26, GUID_TAIL, sizeof GUID_TAIL) != 0)
            return "an unknown WAVE_FORMAT_EXTENSIBLE sub-format";
        tag = u16(p + 24);
        int valid = u16(p + 18);
        if (valid > w->bits)
            return "more valid bits than bits per sample";
    }
    if (tag != 1 && tag != 3)
        return "not PCM nor IEEE float (compressed WAV files are not read)";
    w->format = tag;
    if (w->channels < 1 || w->channels > 16)
        return "not 1 to 16 channels";
    if (rate < 1000 || rate > 384000)
        return "a sample rate outside 1,000-384,000 Hz";
    w->rate = (int)rate;
    bool ok = tag == 1 ? (w->bits == 8 || w->bits == 16 || w->bits == 24 || w->bits == 32)
                       : (w->bits == 32 || w->bits == 64);
    if (!ok)
        return "an unsupported sample size";
    if (align != w->channels * (w->bits / 8))
        return "a block size that does not match channels and sample size";
    return NULL;
}

const char *vb_wav_parse(const uint8_t *buf, size_t len, vb_wav *out)
{
    memset(out, 0, sizeof *out);
    if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0)
        return "not a RIFF WAVE file";
    bool have_fmt = false;
    size_t off = 12;
    while (len - off >= 8) {
        const uint8_t *h = buf + off;
        uint32_t size = u32(h + 4);
        size_t body = off + 8, avail = len - body;
        if (memcmp(h, "fmt ", 4) == 0) {
            if (have_fmt)
                return "two fmt chunks";
            if (size > avail)
                return "a truncated fmt chunk";
            const char *why = parse_fmt(buf + body, size, out);
            if (why)
                return why;
            have_fmt = true;
        } else if (memcmp(h, "data", 4) == 0) {
            if (!have_fmt)
                return "a data chunk before the fmt chunk";
            size_t bytes = size < avail ? size : avail; /* streamed: size is a placeholder */
            size_t frame = (size_t)out->channels * (size_t)(out->bits / 8);
            out->data = buf + body;
            out->frames = bytes / frame;
            return NULL;
        }
        /* Skip the chunk and its pad byte; stop when it runs past the end. */
        if (size > avail || avail - size < (size & 1u))
            break;
        off = body + size + (size & 1u);
    }
    return have_fmt ? "no data chunk" : "no fmt chunk";
}

static float sample(const vb_wav *w, const uint8_t *p)
{
    double v;
    switch (w->format == 3 ? 100 + w->bits : w->bits) {
    case 8: v = (p[0] - 128) / 128.0; break;
    case 16: v = (int16_t)u16(p) / 32768.0; break;
    case 24: {
        int32_t x = (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24);
        v = (x >> 8) / 8388608.0;
        break;
    }
    case 32: v = (int32_t)u32(p) / 2147483648.0; break;
    case 132: {
        uint32_t bits = u32(p);
        float f;
        memcpy(&f, &bits, sizeof f);
        v = f;
        break;
    }
    default: { /* 64-bit float */
        uint64_t bits = (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
        memcpy(&v, &bits, sizeof v);
        break;
    }
    }
    if (!isfinite(v))
        return 0;
    return (float)(v > 1 ? 1 : v < -1 ? -1 : v);
}

vbill_status vb_wav_to_pcm(vbill_ctx *ctx, const char *name, const vb_wav *w, float **pcm,
                           size_t *n)
{
    *pcm = NULL;
    *n = 0;
    if (!w->frames)
        return VBILL_OK;
    if (w->frames > (size_t)INT32_MAX / 8)
        return vb_error(ctx, VBILL_ERR_MEDIA, "%s: too long", name);
    /* Room for zeros after the sound when resampling (see below). */
    float *mono = calloc(w->frames + RESAMPLE_PAD, sizeof *mono);
    if (!mono)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    size_t bps = (size_t)w->bits / 8, frame = bps * (size_t)w->channels;
    for (size_t i = 0; i < w->frames; i++) {
        const uint8_t *f = w->data + i * frame;
        float sum = 0;
        for (int c = 0; c < w->channels; c++)
            sum += sample(w, f + (size_t)c * bps);
        mono[i] = sum / (float)w->channels;
    }
    if (w->rate == VB_VOICE_RATE) {
        *pcm = mono;
        *n = w->frames;
        return VBILL_OK;
    }
    /* Resample with libswresample (its default filter, mono float in and out).  It keeps
     * back the last input samples its filter has not passed over, even when flushed (an
     * input of 20 samples gives nothing at all): it is fed RESAMPLE_PAD zeros after the
     * sound, and the output cut to the input's length at 48 kHz. */
    size_t want = (size_t)(((uint64_t)w->frames * VB_VOICE_RATE + (uint64_t)w->rate / 2) /
                           (uint64_t)w->rate);
    SwrContext *swr = NULL;
    AVChannelLayout layout = AV_CHANNEL_LAYOUT_MONO;
    int r = swr_alloc_set_opts2(&swr, &layout, AV_SAMPLE_FMT_FLT, VB_VOICE_RATE, &layout,
                                AV_SAMPLE_FMT_FLT, w->rate, 0, NULL);
    if (r >= 0)
        r = swr_init(swr);
    int in_n = (int)(w->frames + RESAMPLE_PAD);
    int cap = r >= 0 ? swr_get_out_samples(swr, in_n) + 64 : 0;
    if (cap > 0 && (size_t)cap < want)
        cap = (int)want;
    float *out = r >= 0 && cap > 0 ? malloc((size_t)cap * sizeof *out) : NULL;
    int got = 0;
    if (out) {
        const uint8_t *in[1] = {(const uint8_t *)mono};
        uint8_t *o[1] = {(uint8_t *)out};
        r = swr_convert(swr, o, cap, in, in_n);
        if (r >= 0) {
            got = r;
            o[0] = (uint8_t *)(out + got);
            r = swr_convert(swr, o, cap - got, NULL, 0); /* flush */
            got += r > 0 ? r : 0;
        }
    }
    swr_free(&swr);
    free(mono);
    if (r < 0 || !out) {
        free(out);
        if (!out && r >= 0)
            return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        char why[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(r, why, sizeof why);
        return vb_error(ctx, VBILL_ERR_MEDIA, "%s: resampling to 48 kHz: %s", name, why);
    }
    if ((size_t)got < want)
        memset(out + got, 0, (want - (size_t)got) * sizeof *out);
    for (size_t i = 0; i < want; i++) /* the filter may ring past full scale */
        out[i] = out[i] > 1 ? 1 : out[i] < -1 ? -1 : out[i];
    *pcm = out;
    *n = want;
    return VBILL_OK;
}

vbill_status vb_wav_decode(vbill_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
                           float **pcm, size_t *n)
{
    vb_wav w;
    const char *why = vb_wav_parse(buf, len, &w);
    if (why) {
        *pcm = NULL;
        *n = 0;
        return vb_error(ctx, VBILL_ERR_MEDIA, "%s: %s", name, why);
    }
    return vb_wav_to_pcm(ctx, name, &w, pcm, n);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

uint8_t *vb_wav_encode(const float *pcm, size_t n, size_t *len)
{
    if (n > (UINT32_MAX - 44) / 2)
        return NULL;
    uint8_t *b = malloc(44 + 2 * n);
    if (!b)
        return NULL;
    memcpy(b, "RIFF", 4);
    put32(b + 4, (uint32_t)(36 + 2 * n));
    memcpy(b + 8, "WAVEfmt ", 8);
    put32(b + 16, 16);
    put16(b + 20, 1);  /* PCM */
    put16(b + 22, 1);  /* mono */
    put32(b + 24, VB_VOICE_RATE);
    put32(b + 28, VB_VOICE_RATE * 2);
    put16(b + 32, 2);
    put16(b + 34, 16);
    memcpy(b + 36, "data", 4);
    put32(b + 40, (uint32_t)(2 * n));
    for (size_t i = 0; i < n; i++) {
        float v = pcm[i];
        v = isfinite(v) ? (v > 1 ? 1 : v < -1 ? -1 : v) : 0;
        long s = lrintf(v * 32767.0f);
        put16(b + 44 + 2 * i, (unsigned)(s & 0xffff));
    }
    *len = 44 + 2 * n;
    return b;
}

VBILL_API vbill_status vbill_wav_write(vbill_ctx *ctx, const char *path, const float *pcm,
                                       size_t samples)
{
    if (!ctx || !path || (!pcm && samples))
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_wav_write: NULL argument");
    vb_clear_error(ctx);
    size_t len = 0;
    uint8_t *b = vb_wav_encode(pcm, samples, &len);
    if (!b)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory (or over 4 GiB of WAV)");
    int r = vb_write_file_atomic(path, b, len);
    int err = errno;
    free(b);
    if (r != 0)
        return vb_error(ctx, VBILL_ERR_IO, "cannot write %s: %s", path, strerror(err));
    return VBILL_OK;
}
