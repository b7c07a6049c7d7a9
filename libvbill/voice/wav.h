/*
 * wav.h: RIFF/WAVE in memory (wav.c): the parser for espeak-ng's output and a carrier's
 * clips, decoding to the voices' PCM (mono float at 48 kHz) and writing it back.
 */
#ifndef VB_WAV_H
#define VB_WAV_H

#include "internal.h"

#define VB_VOICE_RATE 48000

typedef struct vb_wav {
    int format;          /* 1: integer PCM, 3: IEEE float */
    int channels;        /* 1..16 */
    int rate;            /* samples per second, 1,000..384,000 */
    int bits;            /* 8 (unsigned), 16, 24, 32 for PCM; 32, 64 for float */
    const uint8_t *data; /* interleaved little-endian frames, inside the parsed buffer */
    size_t frames;
} vb_wav;

/* Parses a WAVE file: the RIFF header, a "fmt " chunk (PCM, IEEE float, or
 * WAVE_FORMAT_EXTENSIBLE of either) and the first "data" chunk after it; other chunks are
 * skipped.  A data chunk that claims more bytes than the buffer holds (a WAV streamed to a
 * pipe: espeak-ng writes 0x7ffff000) is taken as far as it goes, in whole frames.  Never
 * reads outside buf.  Returns NULL on success, else why it is not a WAV it can read
 * (static text). */
const char *vb_wav_parse(const uint8_t *buf, size_t len, vb_wav *out);

/* The frames of w as mono float at VB_VOICE_RATE: channels averaged, resampled with
 * libswresample, NaN and infinities made 0, clipped to [-1, 1].  *pcm is malloc'd (NULL
 * when *n is 0).  VBILL_ERR_NOMEM or VBILL_ERR_MEDIA (resampler), message naming `name`. */
vbill_status vb_wav_to_pcm(vbill_ctx *ctx, const char *name, const vb_wav *w, float **pcm,
                           size_t *n);

/* vb_wav_parse then vb_wav_to_pcm; VBILL_ERR_MEDIA names `name` and the fault. */
vbill_status vb_wav_decode(vbill_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
                           float **pcm, size_t *n);

/* A 16-bit mono WAV file of VB_VOICE_RATE PCM, in memory (malloc'd). */
uint8_t *vb_wav_encode(const float *pcm, size_t n, size_t *len);

#endif
