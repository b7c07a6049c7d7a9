/*
 * voice.h: what the voice files share (voice.c: the vbill_voice handle and the silent
 * voice; espeak.c: the espeak-ng process; clips.c: recorded clips).  PCM is mono float at
 * VB_VOICE_RATE (wav.h).
 */
#ifndef VB_VOICE_H
#define VB_VOICE_H

#include "internal.h"
#include "voice/say.h"
#include "voice/wav.h"

#define VB_VOICE_MAX_TEXT ((size_t)64 << 10)

/* ---- espeak.c ---- */

/* Whether program (a path, or a name looked up in PATH) is an executable file; its path in
 * path. */
bool vb_program_find(const char *program, char *path, size_t size);

/* Runs program -v voice -s wpm --stdin --stdout with text on its standard input; *wav
 * (malloc'd) is what it wrote on standard output.  VBILL_ERR_NOT_FOUND when the program
 * cannot be run, VBILL_ERR_MEDIA when it fails, times out (killed) or writes nothing. */
vbill_status vb_espeak_run(vbill_ctx *ctx, const char *program, const char *voice, int wpm,
                           const char *text, int timeout_ms, uint8_t **wav, size_t *wav_len);

/* ---- clips.c ---- */

typedef struct vb_clips vb_clips;

vbill_status vb_clips_open(vbill_ctx *ctx, const char *dir, vb_clips **out);
void vb_clips_free(vb_clips *c);

/* The clips that spell text, joined (see vbill_voice_open_clips). */
vbill_status vb_clips_say(vbill_ctx *ctx, const vb_clips *c, vb_lang l, const char *text,
                          float **pcm, size_t *n);

/* The texts of the clips a text is cut into (for tests): fn is called per clip, with -1 and
 * the pause in samples for a pause. */
vbill_status vb_clips_tokens(vbill_ctx *ctx, const vb_clips *c, vb_lang l, const char *text,
                             void (*fn)(void *arg, const char *clip, size_t pause), void *arg);

/* Drops the silent ends of PCM (below -50 dBFS), keeping 10 ms around the sound; PCM
 * that is silent throughout is kept whole. */
void vb_pcm_trim(float *pcm, size_t *n);

/* Fades the first and last len samples of PCM in and out (a quarter sine), so that it
 * starts and ends without a click. */
void vb_pcm_fade_ends(float *pcm, size_t n, size_t len);


/* ---- voice.c ---- */

/* How long a voice would take to say text at rate 1 (an estimate from its syllables and
 * pauses), in seconds. */
double vb_voice_estimate(vb_lang l, const char *text);

/* Time-stretches PCM by rate (> 1: faster) with its pitch kept (libavfilter's atempo). */
vbill_status vb_pcm_tempo(vbill_ctx *ctx, const float *in, size_t n, double rate, float **out,
                          size_t *out_n);

/* Scales speech to the level the videos speak at (peak at -3 dBFS) over their soft bed. */
void vb_pcm_level(float *pcm, size_t n);
/* vbill_voice_say at the voice's rate times `rate` (the slow rendition: 0.8, pitch kept),
 * without touching the context's message on success. */
vbill_status vb_voice_say_at(vbill_ctx *ctx, const vbill_voice *v, const char *locale,
                             const char *text, double rate, float **pcm, size_t *samples);
#endif
