/* clips_fuzzer.c: any text said with recorded clips (the text cutter of clips.c: a carrier's
 * narration.json makes the texts).  The first byte chooses the locale, the rest is the text.
 * The clips: every text of the locale's clip list (vbill_voice_clip_list) as a short tone,
 * written once.  A text must be said (samples in [-1, 1]) or refused with a message, as a
 * piece no clip spells (VBILL_ERR_NOT_FOUND) or a text that is not UTF-8 (VBILL_ERR_ARG). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const LOCALES[3] = {"ko-KR", "ja-JP", "en-US"};
static char dir[] = "/tmp/vbill-clips-fuzz-XXXXXX";
static vbill_voice *voice;

static void cleanup(void)
{
    vbill_voice_free(voice);
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "clips_fuzzer: %s left behind\n", dir);
}

/* dir/LOCALE/TEXT.wav for every text of the locale's clip list: 10 ms of a tone each. */
static void write_clips(vbill_ctx *ctx)
{
    float tone[480];
    for (int i = 0; i < 480; i++)
        tone[i] = 0.5f * (float)sin(2 * 3.14159265358979 * 440 * i / 48000.0);
    for (int l = 0; l < 3; l++) {
        char *list = NULL, path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, LOCALES[l]);
        if (mkdir(path, 0700) != 0 || vbill_voice_clip_list(ctx, LOCALES[l], &list) != VBILL_OK)
            abort();
        cJSON *a = cJSON_Parse(list);
        const cJSON *e;
        cJSON_ArrayForEach(e, a)
        {
            snprintf(path, sizeof path, "%s/%s/%s.wav", dir, LOCALES[l], e->valuestring);
            if (vbill_wav_write(ctx, path, tone, 480) != VBILL_OK)
                abort();
        }
        cJSON_Delete(a);
        vbill_free(list);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vbill_ctx *ctx;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    if (!voice) {
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
        write_clips(ctx);
        if (vbill_voice_open_clips(ctx, dir, &voice) != VBILL_OK)
            abort();
    }
    if (size == 0) {
        vbill_ctx_free(ctx);
        return 0;
    }
    char *text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    float *pcm = NULL;
    size_t n = 0;
    vbill_status st = vbill_voice_say(ctx, voice, LOCALES[data[0] % 3], text, &pcm, &n);
    if (st == VBILL_OK) {
        for (size_t i = 0; i < n; i++)
            if (!(pcm[i] >= -1.0f && pcm[i] <= 1.0f))
                abort();
    } else if ((st != VBILL_ERR_NOT_FOUND && st != VBILL_ERR_ARG) ||
               vbill_ctx_errmsg(ctx)[0] == '\0' || pcm || n) {
        abort();
    }
    vbill_free(pcm);
    free(text);
    vbill_ctx_free(ctx);
    return 0;
}
