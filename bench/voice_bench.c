/*
 * voice_bench.c: what narration adds to a bill, in CPU seconds (this process and the
 * espeak-ng processes it waits for), for the sample records in ko-KR, ja-JP and en-US,
 * side by side with the baseline the bill already pays (validate, classify, fill:
 * vbill_bill_new).  Also how long each kind of sentence lasts against its window, the
 * figures that decide between speeding a sentence up and widening its window, and how well
 * the silent voice's estimate matches espeak-ng.  Prints figures; never pass/fail.
 *
 * Usage: voice_bench [SUBSCRIBERS.jsonl]   (default examples/data/subscribers.jsonl)
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vbill.h"
#include "slurp.h"

static double cpu_now(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + self.ru_stime.tv_sec +
           self.ru_stime.tv_usec / 1e6 + kids.ru_utime.tv_sec + kids.ru_utime.tv_usec / 1e6 +
           kids.ru_stime.tv_sec + kids.ru_stime.tv_usec / 1e6;
}

typedef struct stat_acc {
    double sum, max;
    int n, over;
} stat_acc;

static void acc(stat_acc *a, double v, bool over)
{
    a->sum += v;
    a->max = v > a->max ? v : a->max;
    a->n++;
    a->over += over;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "examples/data/subscribers.jsonl";
    char *data = slurp(path);
    if (!data) {
        fprintf(stderr, "voice_bench: cannot read %s\n", path);
        return 2;
    }
    vbill_ctx *ctx;
    vbill_voice *voice;
    if (vbill_ctx_new(&ctx) || vbill_voice_open_espeak(ctx, NULL, &voice)) {
        fprintf(stderr, "voice_bench: %s\n", vbill_ctx_errmsg(ctx));
        return 1;
    }
    static const char *const locales[3] = {"ko-KR", "ja-JP", "en-US"};
    static const char *const currencies[3] = {"KRW", "JPY", "USD"};
    printf("voice benchmark: the sample records of %s in each locale; CPU = user + system of\n"
           "this process and of the espeak-ng processes it ran (espeak-ng at its default rate)\n\n",
           path);
    printf("%-6s %5s  %-12s %-12s %-14s %-14s %-10s\n", "locale", "bills", "bill (base)",
           "narration", "speak personal", "speak all", "per bill");
    /* per scene name and kind: the speech's length over its window */
    enum { MAXK = 64 };
    char kinds[MAXK][48];
    stat_acc fit[MAXK] = {{0}};
    int nk = 0;
    double est_ratio[3] = {0};
    int est_n[3] = {0};
    for (int l = 0; l < 3; l++) {
        double t_fill = 0, t_text = 0, t_personal = 0, t_all = 0;
        int bills = 0;
        char *copy = strdup(data);
        for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
            cJSON *rec = cJSON_Parse(line);
            if (!rec)
                continue;
            cJSON_DeleteItemFromObject(rec, "locale");
            cJSON_DeleteItemFromObject(rec, "currency");
            cJSON_AddStringToObject(rec, "locale", locales[l]);
            cJSON_AddStringToObject(rec, "currency", currencies[l]);
            char *r = cJSON_PrintUnformatted(rec), *script = NULL;
            cJSON_Delete(rec);
            size_t len = strlen(r);
            double t0 = cpu_now();
            vbill_bill *bill = NULL;
            vbill_status st = vbill_bill_new(ctx, r, len, 0, &bill);
            double t1 = cpu_now();
            if (!st)
                st = vbill_narration(ctx, bill, NULL, &script);
            vbill_bill_free(bill);
            double t2 = cpu_now();
            float *pcm = NULL;
            size_t n = 0;
            if (!st)
                st = vbill_voice_narration(ctx, voice, script, VBILL_SCENES_PERSONAL, &pcm, &n);
            vbill_free(pcm);
            double t3 = cpu_now();
            if (!st)
                st = vbill_voice_narration(ctx, voice, script, VBILL_SCENES_ALL, &pcm, &n);
            vbill_free(pcm);
            double t4 = cpu_now();
            if (!st) {
                bills++;
                t_fill += t1 - t0;
                t_text += t2 - t1;
                t_personal += t3 - t2;
                t_all += t4 - t3;
                /* each sentence against its window (not timed: measured once more) */
                cJSON *s = cJSON_Parse(script);
                const cJSON *sc;
                cJSON_ArrayForEach(sc, cJSON_GetObjectItem(s, "scenes"))
                {
                    const char *text = cJSON_GetObjectItem(sc, "text")->valuestring;
                    double win = cJSON_GetObjectItem(sc, "end")->valuedouble -
                                 cJSON_GetObjectItem(sc, "start")->valuedouble;
                    char kind[48];
                    snprintf(kind, sizeof kind, "%s %s%s", locales[l],
                             cJSON_GetObjectItem(sc, "scene")->valuestring,
                             cJSON_IsTrue(cJSON_GetObjectItem(sc, "personal")) ? "*" : "");
                    int k = 0;
                    while (k < nk && strcmp(kinds[k], kind))
                        k++;
                    if (k == nk && nk < MAXK)
                        snprintf(kinds[nk++], sizeof kinds[0], "%s", kind);
                    if (vbill_voice_say(ctx, voice, locales[l], text, &pcm, &n) == VBILL_OK &&
                        k < MAXK) {
                        double secs = (double)n / VBILL_VOICE_SAMPLE_RATE;
                        acc(&fit[k], secs / win, secs > win);
                        vbill_voice *silent;
                        vbill_ctx_set_log(ctx, NULL, NULL, VBILL_LOG_ERROR);
                        if (vbill_voice_open_silent(ctx, &silent) == VBILL_OK) {
                            float *q;
                            size_t m;
                            if (vbill_voice_say(ctx, silent, locales[l], text, &q, &m) == 0 &&
                                n) {
                                est_ratio[l] += (double)m / (double)n;
                                est_n[l]++;
                            }
                            vbill_free(q);
                            vbill_voice_free(silent);
                        }
                    }
                    vbill_free(pcm);
                }
                cJSON_Delete(s);
            }
            vbill_free(script);
            free(r);
        }
        free(copy);
        if (!bills)
            continue;
        printf("%-6s %5d  %8.4f s   %8.4f s   %8.4f s     %8.4f s     %.3f s\n", locales[l],
               bills, t_fill / bills, t_text / bills, t_personal / bills, t_all / bills,
               (t_text + t_personal) / bills);
    }
    printf("\nper bill = narration text + speaking its personal sentences (the fixed ones are\n"
           "spoken once per scenario and locale, in the base video); budget 0.5 CPU-s\n\n");
    printf("speech length / window at espeak-ng's rate (* = personal; over = sentences longer "
           "than their window):\n");
    for (int k = 0; k < nk; k++)
        printf("  %-26s mean %4.2f  max %4.2f  over %d of %d\n", kinds[k],
               fit[k].n ? fit[k].sum / fit[k].n : 0, fit[k].max, fit[k].over, fit[k].n);
    printf("\nsilent voice estimate / espeak-ng length:");
    for (int l = 0; l < 3; l++)
        printf("  %s %.2f", locales[l], est_n[l] ? est_ratio[l] / est_n[l] : 0);
    printf("\n");
    vbill_voice_free(voice);
    vbill_ctx_free(ctx);
    free(data);
    return 0;
}
