/*
 * voice.c: the vbill_voice handle (espeak-ng, recorded clips, the silent fallback), the
 * estimate of how long a text takes to say, tempo changes with the pitch kept (libavfilter's
 * atempo), and a whole script spoken on its timeline.
 */
#include "config.h"
#include "voice/voice.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>

#define ESPEAK_WPM 175          /* espeak-ng's own default rate */
#define DEFAULT_TIMEOUT_MS 20000
#define EDGE_FADE (VB_VOICE_RATE / 200)
/* espeak-ng's sentences kept per voice, the least recently used dropped first: a month's
 * bills say the same period, payment day or plan price again and again (about 20 sentences
 * of 4 s; a batch or a viewer holds a voice per template in use) */
#define SPEECH_CACHE_BYTES ((size_t)16 << 20)

typedef enum { V_ESPEAK, V_CLIPS, V_SILENT } voice_kind;

/* One sentence espeak-ng said: its voice, speed and text (key), the samples. */
typedef struct spoken {
    char *key;
    float *pcm;
    size_t n;
    uint64_t used;
} spoken;

/* The sentences a voice said lately (espeak-ng): any thread may say at once, hence the
 * lock.  Apart from the voice, whose options are fixed once it speaks. */
typedef struct memory {
    pthread_mutex_t lock;
    spoken *said;
    size_t nsaid, said_bytes;
    uint64_t tick;
} memory;

struct vbill_voice {
    voice_kind kind;
    double rate;
    int timeout_ms;
    char *program;   /* espeak-ng's path */
    vb_clips *clips;
    memory *mem;
};

static vbill_voice *voice_new(voice_kind kind)
{
    vbill_voice *v = calloc(1, sizeof *v);
    memory *m = calloc(1, sizeof *m);
    if (!v || !m || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(v);
        free(m);
        return NULL;
    }
    v->kind = kind;
    v->rate = 1.0;
    v->timeout_ms = DEFAULT_TIMEOUT_MS;
    v->mem = m;
    return v;
}

VBILL_API void vbill_voice_free(vbill_voice *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->mem->nsaid; i++) {
        free(v->mem->said[i].key);
        free(v->mem->said[i].pcm);
    }
    free(v->mem->said);
    pthread_mutex_destroy(&v->mem->lock);
    free(v->mem);
    free(v->program);
    vb_clips_free(v->clips);
    free(v);
}

VBILL_API vbill_status vbill_voice_open_espeak(vbill_ctx *ctx, const char *program,
                                               vbill_voice **out)
{
    if (!ctx || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_open_espeak: NULL argument");
    *out = NULL;
    vb_clear_error(ctx);
    const char *name = program && *program ? program : "espeak-ng";
    char path[4096];
    if (!vb_program_find(name, path, sizeof path))
        return vb_error(ctx, VBILL_ERR_NOT_FOUND,
                        "espeak-ng: '%s' is not an executable program%s: install Debian's "
                        "espeak-ng (apt-get install espeak-ng) or give the program's path",
                        name, strchr(name, '/') ? "" : " in PATH");
    vbill_voice *v = voice_new(V_ESPEAK);
    if (!v || !(v->program = strdup(path))) {
        vbill_voice_free(v);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    *out = v;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_voice_open_clips(vbill_ctx *ctx, const char *dir, vbill_voice **out)
{
    if (!ctx || !dir || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_open_clips: NULL argument");
    *out = NULL;
    vb_clear_error(ctx);
    vbill_voice *v = voice_new(V_CLIPS);
    if (!v)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    vbill_status st = vb_clips_open(ctx, dir, &v->clips);
    if (st)
        vbill_voice_free(v);
    else
        *out = v;
    return st;
}

VBILL_API vbill_status vbill_voice_open_silent(vbill_ctx *ctx, vbill_voice **out)
{
    if (!ctx || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_open_silent: NULL argument");
    *out = NULL;
    vb_clear_error(ctx);
    vb_log(ctx, VBILL_LOG_WARN,
           "voice: the silent fallback: narration is silence of the length of its speech");
    if (!(*out = voice_new(V_SILENT)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    return VBILL_OK;
}

VBILL_API vbill_status vbill_voice_open_default(vbill_ctx *ctx, vbill_voice **out)
{
    if (!ctx || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_open_default: NULL argument");
    vbill_status st = vbill_voice_open_espeak(ctx, NULL, out);
    if (st != VBILL_ERR_NOT_FOUND)
        return st;
    vb_log(ctx, VBILL_LOG_WARN, "%s; the voice is silent", vbill_ctx_errmsg(ctx));
    return vbill_voice_open_silent(ctx, out);
}

VBILL_API const char *vbill_voice_kind(const vbill_voice *v)
{
    if (!v)
        return "";
    return v->kind == V_ESPEAK ? "espeak-ng" : v->kind == V_CLIPS ? "clips" : "silent";
}

VBILL_API vbill_status vbill_voice_set_rate(vbill_voice *v, double rate)
{
    if (!v || !(rate >= 0.5 && rate <= 2.0))
        return VBILL_ERR_ARG;
    v->rate = rate;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_voice_set_timeout(vbill_voice *v, int ms)
{
    if (!v || ms < 100 || ms > 600000)
        return VBILL_ERR_ARG;
    v->timeout_ms = ms;
    return VBILL_OK;
}

/* ---- helpers ------------------------------------------------------------------------ */

/* Whether text is valid UTF-8 and holds anything to say (not only blanks and pauses). */
static bool check_text(const char *text, bool *speakable)
{
    *speakable = false;
    for (size_t i = 0, n = strlen(text); i < n;) {
        uint32_t cp;
        size_t k = vb_utf8_decode(text + i, n - i, &cp), plen;
        if (!k)
            return false;
        if (!vb_say_pause(text + i, n - i, &plen) && cp > ' ' && cp != 0x3000 && cp != 0xa0)
            *speakable = true;
        i += k;
    }
    return true;
}

/* Syllables (Korean), morae (Japanese) or vowel groups (English), and pauses. */
double vb_voice_estimate(vb_lang l, const char *text)
{
    /* Seconds per unit at espeak-ng's default rate, measured on the built-in narration
     * (bench/voice_bench.sh prints the measurement). */
    static const double per_unit[3] = {0.165, 0.105, 0.185};
    /* small kana (ゃ ゅ ょ ぁ...) join the mora before them */
    static const uint32_t small[] = {0x3041, 0x3043, 0x3045, 0x3047, 0x3049, 0x3083,
                                     0x3085, 0x3087, 0x308e, 0x30a1, 0x30a3, 0x30a5,
                                     0x30a7, 0x30a9, 0x30e3, 0x30e5, 0x30e7, 0x30ee};
    double units = 0, pauses = 0;
    bool in_vowels = false;
    for (size_t i = 0, n = strlen(text); i < n;) {
        uint32_t cp;
        size_t k = vb_utf8_decode(text + i, n - i, &cp), plen;
        if (!k) {
            i++;
            continue;
        }
        pauses += (double)vb_say_pause(text + i, n - i, &plen) / VB_VOICE_RATE;
        i += k;
        bool vowel = cp && cp < 0x80 && strchr("aeiouyAEIOUY", (int)cp) != NULL;
        if (cp >= 0xac00 && cp <= 0xd7a3) {
            units += 1; /* a Hangul syllable */
        } else if ((cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x30a1 && cp <= 0x30fc)) {
            bool is_small = false;
            for (size_t s = 0; s < VB_ARRAY_LEN(small); s++)
                is_small |= cp == small[s];
            units += is_small ? 0 : 1; /* a mora */
        } else if ((vowel && !in_vowels) || (cp >= '0' && cp <= '9')) {
            units += 1;
        }
        in_vowels = vowel;
    }
    return units * per_unit[l] + pauses;
}

vbill_status vb_pcm_tempo(vbill_ctx *ctx, const float *in, size_t n, double rate, float **out,
                          size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    AVFilterGraph *g = avfilter_graph_alloc();
    AVFilterContext *src = NULL, *sink = NULL, *tempo = NULL;
    AVFrame *f = av_frame_alloc();
    char args[128];
    snprintf(args, sizeof args, "time_base=1/%d:sample_rate=%d:sample_fmt=flt:channel_layout=mono",
             VB_VOICE_RATE, VB_VOICE_RATE);
    char tempo_args[32];
    snprintf(tempo_args, sizeof tempo_args, "tempo=%.6f", rate);
    int r = g && f ? 0 : AVERROR(ENOMEM);
    if (r >= 0)
        r = avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"), "in", args, NULL, g);
    if (r >= 0)
        r = avfilter_graph_create_filter(&tempo, avfilter_get_by_name("atempo"), "tempo",
                                         tempo_args, NULL, g);
    if (r >= 0)
        r = avfilter_graph_create_filter(&sink, avfilter_get_by_name("abuffersink"), "out", NULL,
                                         NULL, g);
    if (r >= 0) {
        static const enum AVSampleFormat fmts[] = {AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_NONE};
        r = av_opt_set_int_list(sink, "sample_fmts", fmts, AV_SAMPLE_FMT_NONE,
                                AV_OPT_SEARCH_CHILDREN);
    }
    if (r >= 0)
        r = avfilter_link(src, 0, tempo, 0);
    if (r >= 0)
        r = avfilter_link(tempo, 0, sink, 0);
    if (r >= 0)
        r = avfilter_graph_config(g, NULL);
    size_t cap = (size_t)((double)n / rate) + 8192, got = 0;
    float *o = r >= 0 ? malloc(cap * sizeof *o) : NULL;
    if (r >= 0 && !o)
        r = AVERROR(ENOMEM);
    for (size_t at = 0; r >= 0 && at <= n;) {
        if (at < n) {
            size_t k = n - at < 4096 ? n - at : 4096;
            f->format = AV_SAMPLE_FMT_FLT;
            f->sample_rate = VB_VOICE_RATE;
            f->nb_samples = (int)k;
            f->pts = (int64_t)at;
            av_channel_layout_default(&f->ch_layout, 1);
            if ((r = av_frame_get_buffer(f, 0)) < 0)
                break;
            memcpy(f->data[0], in + at, k * sizeof *in);
            r = av_buffersrc_add_frame(src, f); /* takes the frame's buffers */
            av_frame_unref(f);
            at += k;
        } else {
            r = av_buffersrc_add_frame(src, NULL); /* end of stream: flush */
            at++;
        }
        while (r >= 0) {
            int k = av_buffersink_get_frame(sink, f);
            if (k == AVERROR(EAGAIN) || k == AVERROR_EOF)
                break;
            if ((r = k) < 0)
                break;
            size_t m = (size_t)f->nb_samples;
            if (got + m > cap) {
                size_t ncap = (got + m) * 2;
                float *p = realloc(o, ncap * sizeof *p);
                if (!p) {
                    r = AVERROR(ENOMEM);
                    av_frame_unref(f);
                    break;
                }
                o = p;
                cap = ncap;
            }
            memcpy(o + got, f->data[0], m * sizeof *o);
            got += m;
            av_frame_unref(f);
        }
    }
    av_frame_free(&f);
    avfilter_graph_free(&g);
    if (r < 0) {
        free(o);
        if (r == AVERROR(ENOMEM))
            return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        char why[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(r, why, sizeof why);
        return vb_error(ctx, VBILL_ERR_MEDIA, "voice: changing the tempo: %s", why);
    }
    *out = o;
    *out_n = got;
    return VBILL_OK;
}

/* ---- speaking ----------------------------------------------------------------------- */

void vb_pcm_level(float *pcm, size_t n)
{
    float peak = 0;
    for (size_t i = 0; i < n; i++)
        peak = fabsf(pcm[i]) > peak ? fabsf(pcm[i]) : peak;
    if (peak < 1e-4f)
        return; /* silence (the silent voice) stays silence */
    float g = 0.707f / peak;
    for (size_t i = 0; i < n; i++)
        pcm[i] *= g;
}

/* A copy of the samples said for key, when they are kept. */
static bool recall(memory *v, const char *key, float **pcm, size_t *n)
{
    bool found = false;
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < v->nsaid && !found; i++) {
        spoken *s = &v->said[i];
        if (strcmp(s->key, key) != 0)
            continue;
        found = (*pcm = malloc(s->n * sizeof **pcm)) != NULL;
        if (found) {
            memcpy(*pcm, s->pcm, s->n * sizeof **pcm);
            *n = s->n;
            s->used = ++v->tick;
        }
    }
    pthread_mutex_unlock(&v->lock);
    return found;
}

/* Keeps a copy of what was said for key, dropping the least recently used beyond the
 * budget.  Out of memory, it is simply not kept. */
static void remember(memory *v, const char *key, const float *pcm, size_t n)
{
    size_t bytes = n * sizeof *pcm;
    if (bytes > SPEECH_CACHE_BYTES / 4)
        return;
    spoken e = {strdup(key), malloc(bytes ? bytes : 1), n, 0};
    if (!e.key || !e.pcm) {
        free(e.key);
        free(e.pcm);
        return;
    }
    memcpy(e.pcm, pcm, bytes);
    pthread_mutex_lock(&v->lock);
    while (v->nsaid && v->said_bytes + bytes > SPEECH_CACHE_BYTES) {
        size_t old = 0;
        for (size_t i = 1; i < v->nsaid; i++)
            old = v->said[i].used < v->said[old].used ? i : old;
        v->said_bytes -= v->said[old].n * sizeof *pcm;
        free(v->said[old].key);
        free(v->said[old].pcm);
        v->said[old] = v->said[--v->nsaid];
    }
    spoken *grown = realloc(v->said, (v->nsaid + 1) * sizeof *grown);
    if (grown) {
        v->said = grown;
        e.used = ++v->tick;
        v->said[v->nsaid++] = e;
        v->said_bytes += bytes;
        e.key = NULL;
        e.pcm = NULL;
    }
    pthread_mutex_unlock(&v->lock);
    free(e.key);
    free(e.pcm);
}

static vbill_status say_espeak(vbill_ctx *ctx, const vbill_voice *v, vb_lang l,
                               const char *text, double rate, float **pcm, size_t *n)
{
    static const char *const voices[3] = {"ko", "ja", "en-us"};
    uint8_t *wav = NULL;
    size_t len = 0;
    int wpm = (int)lround(ESPEAK_WPM * rate);
    size_t klen = strlen(text) + 32;
    char *key = malloc(klen);
    if (!key)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    snprintf(key, klen, "%s %d\n%s", voices[l], wpm, text);
    if (recall(v->mem, key, pcm, n)) {
        free(key);
        return VBILL_OK;
    }
    vbill_status st = vb_espeak_run(ctx, v->program, voices[l], wpm, text, v->timeout_ms, &wav,
                                    &len);
    if (!st)
        st = vb_wav_decode(ctx, "espeak-ng's output", wav, len, pcm, n);
    free(wav);
    if (!st && *n) {
        vb_pcm_trim(*pcm, n);
        vb_pcm_fade_ends(*pcm, *n, EDGE_FADE);
    }
    if (!st)
        remember(v->mem, key, *pcm, *n);
    free(key);
    return st;
}

vbill_status vb_voice_say_at(vbill_ctx *ctx, const vbill_voice *v, const char *locale,
                             const char *text, double rate, float **pcm, size_t *samples)
{
    *pcm = NULL;
    *samples = 0;
    if (strlen(text) > VB_VOICE_MAX_TEXT)
        return vb_error(ctx, VBILL_ERR_ARG, "a text to say is longer than 64 KiB");
    bool speakable;
    if (!check_text(text, &speakable))
        return vb_error(ctx, VBILL_ERR_ARG, "a text to say is not valid UTF-8");
    if (!speakable)
        return VBILL_OK;
    vb_lang l = vb_say_lang(locale);
    rate *= v->rate;
    if (v->kind == V_ESPEAK)
        return say_espeak(ctx, v, l, text, rate, pcm, samples);
    if (v->kind == V_SILENT) {
        size_t n = (size_t)(vb_voice_estimate(l, text) / rate * VB_VOICE_RATE);
        if (n && !(*pcm = calloc(n, sizeof **pcm)))
            return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        *samples = n;
        vb_log(ctx, VBILL_LOG_DEBUG, "silent voice: %.2f s of silence", (double)n / VB_VOICE_RATE);
        return VBILL_OK;
    }
    float *p;
    size_t n;
    vbill_status st = vb_clips_say(ctx, v->clips, l, text, &p, &n);
    if (st || fabs(rate - 1.0) < 1e-9 || !n) {
        *pcm = st ? NULL : p;
        *samples = st ? 0 : n;
        return st;
    }
    st = vb_pcm_tempo(ctx, p, n, rate, pcm, samples);
    free(p);
    return st;
}

VBILL_API vbill_status vbill_voice_say(vbill_ctx *ctx, const vbill_voice *v, const char *locale,
                                       const char *text, float **pcm, size_t *samples)
{
    vb_clear_error(ctx);
    if (pcm)
        *pcm = NULL;
    if (samples)
        *samples = 0;
    if (!ctx || !v || !text || !pcm || !samples)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_say: NULL argument");
    return vb_voice_say_at(ctx, v, locale, text, 1.0, pcm, samples);
}

VBILL_API vbill_status vbill_voice_narration(vbill_ctx *ctx, const vbill_voice *v,
                                             const char *script_json, vbill_scenes which,
                                             float **pcm, size_t *samples)
{
    if (!ctx || !v || !script_json || !pcm || !samples || which < VBILL_SCENES_ALL ||
        which > VBILL_SCENES_FIXED)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_narration: NULL argument");
    *pcm = NULL;
    *samples = 0;
    vb_clear_error(ctx);
    cJSON *j = vb_json_parse(script_json, (size_t)-1);
    const cJSON *scenes = cJSON_GetObjectItemCaseSensitive(j, "scenes");
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(j, "locale");
    if (!cJSON_IsArray(scenes)) {
        cJSON_Delete(j);
        return vb_error(ctx, VBILL_ERR_JSON, "a narration script: no \"scenes\" array");
    }
    const char *locale = cJSON_IsString(loc) ? loc->valuestring : NULL;
    float *out = NULL;
    size_t len = 0, cap = 0;
    vbill_status st = VBILL_OK;
    int i = 0;
    for (const cJSON *s = scenes->child; s && !st; s = s->next, i++) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(s, "text");
        const cJSON *start = cJSON_GetObjectItemCaseSensitive(s, "start");
        const cJSON *end = cJSON_GetObjectItemCaseSensitive(s, "end");
        if (!cJSON_IsString(text) || !cJSON_IsNumber(start) || !cJSON_IsNumber(end) ||
            !(start->valuedouble >= 0 && start->valuedouble <= end->valuedouble &&
              end->valuedouble <= 3600)) {
            st = vb_error(ctx, VBILL_ERR_JSON,
                          "a narration script: scenes[%d] needs text, start and end (0 to 3600 "
                          "s)",
                          i);
            break;
        }
        size_t at = (size_t)lround(start->valuedouble * VB_VOICE_RATE);
        size_t stop = (size_t)lround(end->valuedouble * VB_VOICE_RATE);
        bool personal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "personal"));
        bool wanted = which == VBILL_SCENES_ALL || personal == (which == VBILL_SCENES_PERSONAL);
        float *p = NULL;
        size_t n = 0;
        if (wanted && (st = vbill_voice_say(ctx, v, locale, text->valuestring, &p, &n)))
            break;
        if (at + n > stop)
            vb_log(ctx, VBILL_LOG_WARN,
                   "narration scenes[%d] (at %.1f s): the speech lasts %.2f s, its window %.2f s",
                   i, start->valuedouble, (double)n / VB_VOICE_RATE,
                   end->valuedouble - start->valuedouble);
        size_t need = at + n > stop ? at + n : stop;
        if (need > cap) {
            size_t ncap = need + need / 4;
            float *q = realloc(out, ncap * sizeof *q);
            if (!q) {
                free(p);
                st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
                break;
            }
            memset(q + cap, 0, (ncap - cap) * sizeof *q);
            out = q;
            cap = ncap;
        }
        for (size_t k = 0; k < n; k++) /* mixed: a long speech may run into the next one */
            out[at + k] += p[k];
        if (need > len)
            len = need;
        free(p);
    }
    cJSON_Delete(j);
    if (st) {
        free(out);
        return st;
    }
    for (size_t k = 0; k < len; k++)
        out[k] = out[k] > 1 ? 1 : out[k] < -1 ? -1 : out[k];
    *pcm = out;
    *samples = len;
    return VBILL_OK;
}
