/* bench/window_texts.c: how often a personal window's texts repeat across a month's bills,
 * without rendering: the segment cache's hit rate projected to any number of records.
 * For each record, the texts of its scenario's template slots (TEMPLATES/<scenario>.<locale>/
 * or TEMPLATES/<scenario>/ template.json, as vbill template info lists them) are rendered
 * over the bill's fill context, exactly as the renderer renders them; a window is a hit when
 * an earlier bill of the run had the same text in the same slot of the same template.
 * Prints, per slot and in all, windows, distinct texts and the hit rate.
 *   usage: window_texts TEMPLATES RECORDS.jsonl */
#include <vbill.h>
#include "slurp.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot_count { char name[128]; long windows, distinct; } slot_count;

/* a set of 64-bit FNV-1a hashes (open addressing; 0 marks a free cell) */
static uint64_t *cells;
static size_t ncells, nused;

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int set_add(uint64_t h)
{
    if (!h)
        h = 1;
    if (2 * (nused + 1) > ncells) {
        size_t old = ncells;
        uint64_t *oc = cells;
        ncells = old ? old * 2 : 1 << 16;
        cells = calloc(ncells, sizeof *cells);
        if (!cells)
            exit(1);
        nused = 0;
        for (size_t i = 0; i < old; i++)
            if (oc[i])
                set_add(oc[i]);
        free(oc);
    }
    for (size_t i = h & (ncells - 1);; i = (i + 1) & (ncells - 1)) {
        if (cells[i] == h)
            return 0;
        if (!cells[i]) {
            cells[i] = h;
            nused++;
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: window_texts TEMPLATES RECORDS.jsonl\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "rb");
    vbill_ctx *ctx = NULL;
    if (!in || vbill_ctx_new(&ctx) != VBILL_OK) {
        fprintf(stderr, "window_texts: cannot read %s\n", argv[2]);
        return 1;
    }
    cJSON *tmpls = cJSON_CreateObject(); /* scenario -> template.json */
    slot_count counts[64];
    int ncounts = 0;
    long bills = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        vbill_bill *bill = NULL;
        char *fill = NULL;
        no++;
        if (vbill_bill_new(ctx, line, (size_t)len, no, &bill) != VBILL_OK ||
            !vbill_bill_scenario(bill) || vbill_bill_context(ctx, bill, &fill) != VBILL_OK) {
            vbill_bill_free(bill);
            continue;
        }
        /* the store names built-in templates SCENARIO.LOCALE, a carrier's SCENARIO */
        char sc[160];
        snprintf(sc, sizeof sc, "%s.%s", vbill_bill_scenario(bill), vbill_bill_locale(bill));
        cJSON *t = cJSON_GetObjectItemCaseSensitive(tmpls, sc);
        if (!t) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s/template.json", argv[1], sc);
            char *text = slurp(path);
            if (!text) {
                snprintf(path, sizeof path, "%s/%s/template.json", argv[1],
                         vbill_bill_scenario(bill));
                text = slurp(path);
            }
            t = text ? cJSON_Parse(text) : NULL;
            free(text);
            if (!t) {
                fprintf(stderr, "window_texts: cannot read %s\n", path);
                return 1;
            }
            cJSON_AddItemToObject(tmpls, sc, t);
        }
        bills++;
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(t, "slots"))
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
            const char *tm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "text"));
            char *out = NULL;
            size_t ol = 0;
            if (!name || !tm ||
                vbill_mustache_render(ctx, tm, strlen(tm), fill, NULL, &out, &ol) != VBILL_OK)
                continue;
            int k = 0;
            while (k < ncounts && strcmp(counts[k].name, name) != 0)
                k++;
            if (k == ncounts && ncounts < 64) {
                snprintf(counts[k].name, sizeof counts[k].name, "%s", name);
                counts[k].windows = counts[k].distinct = 0;
                ncounts++;
            }
            if (k < ncounts) {
                uint64_t h = fnv(1469598103934665603ULL, sc, strlen(sc) + 1);
                h = fnv(h, name, strlen(name) + 1);
                h = fnv(h, out, ol);
                counts[k].windows++;
                counts[k].distinct += set_add(h);
            }
            vbill_free(out);
        }
        vbill_free(fill);
        vbill_bill_free(bill);
    }
    long w = 0, d = 0;
    printf("%-12s %9s %9s %8s\n", "slot", "windows", "distinct", "hits");
    for (int k = 0; k < ncounts; k++) {
        printf("%-12s %9ld %9ld %7.1f%%\n", counts[k].name, counts[k].windows, counts[k].distinct,
               counts[k].windows ? 100.0 * (double)(counts[k].windows - counts[k].distinct) /
                                       (double)counts[k].windows
                                 : 0);
        w += counts[k].windows, d += counts[k].distinct;
    }
    printf("%-12s %9ld %9ld %7.1f%%   (%ld bills)\n", "all", w, d,
           w ? 100.0 * (double)(w - d) / (double)w : 0, bills);
    free(line);
    fclose(in);
    cJSON_Delete(tmpls);
    vbill_ctx_free(ctx);
    return 0;
}
