/* template_fuzzer.c: any bytes as a template.json through vbill_template_open.  The base
 * video named in it does not exist, so everything up to the media probe (JSON, slots,
 * boxes, colours, Mustache, overlaps) is exercised; it must be rejected with a message,
 * never crash, hang or leak. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vbill_ctx *ctx;
    if (!ctx) {
        if (vbill_ctx_new(&ctx) != VBILL_OK)
            abort();
        snprintf(dir, sizeof dir, "/tmp/vbill-tfuzz-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/template.json", dir);
        atexit(cleanup);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    vbill_template *t = (vbill_template *)&t;
    vbill_status st = vbill_template_open(ctx, dir, &t);
    if (st == VBILL_OK)
        abort(); /* there is no base video: never accepted */
    if (t != NULL || vbill_ctx_errmsg(ctx)[0] == '\0')
        abort(); /* a failure returns nothing and says why */
    return 0;
}
