/* bench/slot_texts.c: prints the slot texts of a template for a record, one per line, in
 * template order (what the renderer burns in), so the ffmpeg baseline draws the same text.
 * Built by bench/render_bench.sh.  Usage: slot_texts TEMPLATE.json RECORD.json */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vbill.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: slot_texts TEMPLATE.json RECORD.json\n");
        return 2;
    }
    char *tj = slurp(argv[1]), *rec = slurp(argv[2]);
    cJSON *t = tj ? cJSON_Parse(tj) : NULL;
    if (!t || !rec) {
        fprintf(stderr, "slot_texts: cannot read %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    vbill_ctx *ctx;
    vbill_bill *bill = NULL;
    char *fill = NULL;
    if (vbill_ctx_new(&ctx) != VBILL_OK || vbill_bill_new(ctx, rec, strlen(rec), 1, &bill) ||
        vbill_bill_context(ctx, bill, &fill) != VBILL_OK) {
        fprintf(stderr, "slot_texts: %s\n", vbill_ctx_errmsg(ctx));
        return 1;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(t, "slots"))
    {
        const char *tmpl = cJSON_GetStringValue(cJSON_GetObjectItem(s, "text"));
        char *out = NULL;
        size_t len = 0;
        if (!tmpl || vbill_mustache_render(ctx, tmpl, strlen(tmpl), fill, NULL, &out, &len)) {
            fprintf(stderr, "slot_texts: %s\n", vbill_ctx_errmsg(ctx));
            return 1;
        }
        for (size_t i = 0; i < len; i++)
            if (out[i] == '\n')
                out[i] = ' ';
        printf("%s\n", out);
        vbill_free(out);
    }
    vbill_free(fill);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    cJSON_Delete(t);
    free(tj);
    free(rec);
    return 0;
}
