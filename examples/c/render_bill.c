/*
 * render_bill.c: render one subscriber's video bill (MP4) from a video template.
 *
 *   cc render_bill.c $(pkg-config --cflags --libs libvbill) -o render_bill
 *   ./render_bill TEMPLATE_DIR record.json bill.mp4
 *
 * A template is a directory with template.json and a base video; `vbill template builtin`
 * (or vbill_template_builtin_write) writes the built-in one of a scenario.  Preparing is slow
 * once and cached in TEMPLATE_DIR/.vbill-prepared/; a prepared template is immutable and can
 * be shared by any number of rendering threads, each with its own context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vbill.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20); /* a record is far below 1 MiB */
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s TEMPLATE_DIR RECORD.json OUT.mp4\n", argv[0]);
        return 2;
    }
    char *record = read_file(argv[2]);
    if (!record) {
        perror(argv[2]);
        return 2;
    }
    vbill_ctx *ctx;
    vbill_template *t = NULL;
    vbill_bill *bill = NULL;
    int rc = 1;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        return 1;
    /* The bill: the record validated, classified and filled once. */
    if (vbill_bill_new(ctx, record, strlen(record), 0, &bill) != VBILL_OK) {
        fprintf(stderr, "record: %s\n", vbill_ctx_errmsg(ctx));
        goto out;
    }
    if (vbill_template_open(ctx, argv[1], &t) != VBILL_OK) {
        fprintf(stderr, "template: %s\n", vbill_ctx_errmsg(ctx));
        goto out;
    }
    if (vbill_template_prepare(t) != VBILL_OK) { /* a no-op when already cached */
        fprintf(stderr, "template: %s\n", vbill_template_errmsg(t));
        goto out;
    }
    /* speed 0: automatic, the slow variant for seniors.  The file appears atomically. */
    vbill_status st = vbill_render_mp4(ctx, t, bill, 0, argv[3]);
    if (st == VBILL_ERR_NOT_TARGET) {
        printf("no video bill this cycle: %s\n", vbill_ctx_errmsg(ctx));
        rc = 0;
        goto out;
    }
    if (st != VBILL_OK) {
        fprintf(stderr, "render: %s\n", vbill_ctx_errmsg(ctx));
        goto out;
    }
    printf("rendered %s (scenario %s)\n", argv[3], vbill_template_scenario(t));
    rc = 0;
out:
    vbill_template_free(t);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    free(record);
    return rc;
}
