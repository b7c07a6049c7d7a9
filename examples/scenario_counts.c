/*
 * scenario_counts.c: classify and fill a JSON Lines file of subscribers and print a summary
 * table per scenario, then the rejected records with the reason.  A carrier's first program:
 *
 *   cc scenario_counts.c $(pkg-config --cflags --libs libvbill libcjson) -o scenario_counts
 *   ./scenario_counts subscribers.jsonl
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vbill.h>

#define MAX_SCENARIOS 64

struct row {
    char scenario[64];
    long count, seniors;
    long long this_month, next_month;
};

static struct row *row_for(struct row *rows, int *n, const char *scenario)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(rows[i].scenario, scenario) == 0)
            return &rows[i];
    if (*n == MAX_SCENARIOS)
        return NULL;
    struct row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    snprintf(r->scenario, sizeof r->scenario, "%s", scenario);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SUBSCRIBERS.jsonl\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    vbill_ctx *ctx;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        return 1;
    struct row rows[MAX_SCENARIOS];
    int nrows = 0;
    long lineno = 0, rejected = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    char **errors = NULL;
    while ((len = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (len <= 1)
            continue;
        char *out = NULL;
        if (vbill_fill(ctx, line, (size_t)len, lineno, &out) != VBILL_OK) {
            /* Keep the message: it names the record and its line, the field and the problem. */
            char **more = realloc(errors, (size_t)(rejected + 1) * sizeof *errors);
            if (!more || !(more[rejected] = strdup(vbill_ctx_errmsg(ctx))))
                return 1;
            errors = more;
            rejected++;
            continue;
        }
        cJSON *res = cJSON_Parse(out);
        const cJSON *sc = cJSON_GetObjectItem(res, "scenario");
        const cJSON *amounts = cJSON_GetObjectItem(res, "amounts");
        struct row *r = row_for(rows, &nrows, cJSON_IsString(sc) ? sc->valuestring : "(none)");
        if (r) {
            r->count++;
            r->seniors += cJSON_IsTrue(cJSON_GetObjectItem(res, "senior"));
            r->this_month += (long long)cJSON_GetObjectItem(amounts, "this_month")->valuedouble;
            r->next_month += (long long)cJSON_GetObjectItem(amounts, "next_month")->valuedouble;
        }
        cJSON_Delete(res);
        vbill_free(out);
    }
    free(line);
    fclose(in);

    long total = 0;
    printf("%-28s %8s %8s %16s %16s\n", "scenario", "records", "seniors", "this month (sum)",
           "next month (sum)");
    for (int i = 0; i < nrows; i++) {
        printf("%-28s %8ld %8ld %16lld %16lld\n", rows[i].scenario, rows[i].count,
               rows[i].seniors, rows[i].this_month, rows[i].next_month);
        total += rows[i].count;
    }
    printf("%-28s %8ld\n", "valid records", total);
    printf("%-28s %8ld\n", "rejected records", rejected);
    for (long i = 0; i < rejected; i++) {
        printf("  %s\n", errors[i]);
        free(errors[i]);
    }
    free(errors);
    vbill_ctx_free(ctx);
    return rejected ? 3 : 0;
}
