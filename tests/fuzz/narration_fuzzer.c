/* narration_fuzzer.c: any bytes as a carrier's narration.json.  One that does not check must
 * say why; one that checks must make a script (valid JSON, every scene with a text) for a
 * bill of its scenario, or refuse the bill by name, and its captions (WebVTT) a cue per
 * sentence at least one a scene, with nothing unescaped. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char REC[] =
    "{\"id\":\"F\",\"name\":\"n\",\"birth\":\"1960-01-01\",\"locale\":\"ja-JP\",\"currency\":\"JPY\","
    "\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\","
    "\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"kind\":\"mobile\",\"event\":\"new\","
    "\"start\":\"2026-11-10\",\"monthly_fee\":100,\"device\":{\"installment_monthly\":4,"
    "\"months_left\":6}},{\"kind\":\"mobile\",\"event\":\"new\",\"start\":\"2026-11-01\","
    "\"monthly_fee\":5}],\"bundle\":{\"discount\":1},\"payment\":{\"method\":\"card\",\"day\":1},"
    "\"benefits\":[\"a\"]}";

static char dir[] = "/tmp/vbill-narration-fuzz-XXXXXX";
static char file[sizeof dir + 16];

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!file[0]) {
        if (!mkdtemp(dir))
            abort();
        snprintf(file, sizeof file, "%s/narration.json", dir);
        atexit(cleanup);
    }
    vbill_ctx *ctx;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        abort();
    vbill_status st = vbill_narration_check(ctx, (const char *)data, size);
    if (st != VBILL_OK && vbill_ctx_errmsg(ctx)[0] == '\0')
        abort();
    if (st == VBILL_OK) {
        FILE *f = fopen(file, "wb");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
            abort();
        char *out = NULL;
        vbill_bill *bill = NULL;
        if (vbill_bill_new(ctx, REC, strlen(REC), 1, &bill) != VBILL_OK)
            abort();
        st = vbill_narration(ctx, bill, dir, &out);
        vbill_bill_free(bill);
        if (st == VBILL_OK) {
            cJSON *j = cJSON_Parse(out);
            const cJSON *scenes = cJSON_GetObjectItem(j, "scenes"), *s;
            if (!cJSON_IsArray(scenes))
                abort();
            cJSON_ArrayForEach(s, scenes)
            {
                const cJSON *t = cJSON_GetObjectItem(s, "text");
                if (!cJSON_IsString(t) || !t->valuestring[0])
                    abort();
            }
            int nscenes = cJSON_GetArraySize(scenes);
            cJSON_Delete(j);
            /* its captions: a cue per sentence, every text escaped, at least a cue a scene */
            char *vtt = NULL;
            if (vbill_narration_webvtt(ctx, out, 0.8, &vtt) != VBILL_OK ||
                strncmp(vtt, "WEBVTT\n", 7) != 0 || strchr(vtt, '<'))
                abort();
            int cues = 0;
            for (const char *p = strstr(vtt, " --> "); p; p = strstr(p + 5, " --> "))
                cues++;
            if (cues < nscenes)
                abort();
            vbill_free(vtt);
        } else if (st != VBILL_ERR_TEMPLATE || vbill_ctx_errmsg(ctx)[0] == '\0') {
            abort(); /* only another scenario's narration (or a render fault) may refuse */
        }
        vbill_free(out);
    }
    vbill_ctx_free(ctx);
    return 0;
}
