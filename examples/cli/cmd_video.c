/* cmd_video.c: vbill template (prepare, check, info, builtin) and vbill render. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void template_usage(FILE *out)
{
    fprintf(out,
            "usage: vbill template prepare DIR   normalise the base video once (cached)\n"
            "       vbill template check DIR     validate template.json and the base video\n"
            "       vbill template info DIR      describe the template (JSON)\n"
            "       vbill template builtin SCENARIO DIR [--locale L]   write a built-in template\n"
            "                                    (ko-KR, ja-JP or en-US; its fixed sentences\n"
            "                                    spoken by espeak-ng when installed)\n");
}

int cmd_template(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        template_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "builtin")) {
        const char *locale = NULL, *pos[2] = {NULL, NULL};
        int npos = 0;
        for (int i = 2; i < argc; i++) {
            bool missing = false;
            const char *v = cli_opt(argc, argv, &i, "--locale", &missing);
            if (v)
                locale = v;
            else if (missing || (argv[i][0] == '-' && argv[i][1]) || npos == 2)
                return cli_fail(EXIT_USAGE, "usage: vbill template builtin SCENARIO DIR "
                                            "[--locale L]");
            else
                pos[npos++] = argv[i];
        }
        if (npos != 2)
            return cli_fail(EXIT_USAGE, "usage: vbill template builtin SCENARIO DIR [--locale L]");
        vbill_ctx *ctx = cli_ctx();
        vbill_status st = vbill_template_builtin_make(ctx, pos[0], locale, NULL, pos[1]);
        int rc = EXIT_OK;
        if (st)
            rc = cli_fail(st == VBILL_ERR_NOT_FOUND || st == VBILL_ERR_ARG ? EXIT_USAGE : EXIT_FAIL,
                          "%s", vbill_ctx_errmsg(ctx));
        else
            printf("%s\n", pos[1]);
        vbill_ctx_free(ctx);
        return rc;
    }
    if (strcmp(verb, "prepare") && strcmp(verb, "check") && strcmp(verb, "info")) {
        template_usage(stderr);
        return cli_fail(EXIT_USAGE, "unknown template command '%s'", verb);
    }
    if (argc != 3)
        return cli_fail(EXIT_USAGE, "usage: vbill template %s DIR", verb);
    vbill_ctx *ctx = cli_ctx();
    vbill_template *t = NULL;
    vbill_status st = vbill_template_open(ctx, argv[2], &t);
    int rc = EXIT_OK;
    if (st) {
        rc = cli_fail(st == VBILL_ERR_TEMPLATE || st == VBILL_ERR_JSON ? EXIT_USAGE : EXIT_FAIL,
                      "%s", vbill_ctx_errmsg(ctx));
        goto out;
    }
    if (!strcmp(verb, "prepare")) {
        bool was = vbill_template_is_prepared(t);
        st = vbill_template_prepare(t);
        if (st) {
            rc = cli_fail(EXIT_FAIL, "%s", vbill_template_errmsg(t));
            goto out;
        }
        fprintf(stderr, "vbill: %s\n", was ? "already prepared (cache hit)" : "prepared");
    }
    if (!strcmp(verb, "check")) {
        printf("ok: %s (%s)\n", argv[2], vbill_template_scenario(t));
    } else {
        char *info = vbill_template_info(t);
        if (info)
            printf("%s\n", info);
        vbill_free(info);
    }
out:
    vbill_template_free(t);
    vbill_ctx_free(ctx);
    return rc;
}

static void render_usage(FILE *out)
{
    fprintf(out,
            "usage: vbill render --template DIR RECORD.json [-o OUT.mp4] [--hls DIR]\n"
            "                    [--hls-base URL] [--segment N -o OUT.ts] [--speed 1|0.8|auto]\n"
            "Renders one record's video bill.  The template is prepared first if needed.\n"
            "  -o OUT.mp4      MP4 output (faststart)\n"
            "  --hls DIR       HLS output: DIR/index.m3u8 and the personal segments; the shared\n"
            "                  segments stay in the template's cache (--hls-base: their URL)\n"
            "  --segment N     render only personal segment N (see vbill template info) to -o\n"
            "  --speed S       1 (normal), the slow speed (e.g. 0.8), or auto (default: slow for\n"
            "                  seniors)\n");
}

int cmd_render(int argc, char **argv)
{
    const char *tdir = NULL, *out = NULL, *hls = NULL, *hls_base = NULL, *record = NULL;
    const char *speed_s = "auto", *seg_s = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i])) {
            render_usage(stdout);
            return EXIT_OK;
        } else if ((v = cli_opt(argc, argv, &i, "--template", &missing))) {
            tdir = v;
        } else if ((v = cli_opt(argc, argv, &i, "-o", &missing)) ||
                   (v = cli_opt(argc, argv, &i, "--output", &missing))) {
            out = v;
        } else if ((v = cli_opt(argc, argv, &i, "--hls", &missing))) {
            hls = v;
        } else if ((v = cli_opt(argc, argv, &i, "--hls-base", &missing))) {
            hls_base = v;
        } else if ((v = cli_opt(argc, argv, &i, "--speed", &missing))) {
            speed_s = v;
        } else if ((v = cli_opt(argc, argv, &i, "--segment", &missing))) {
            seg_s = v;
        } else if (missing) {
            return cli_fail(EXIT_USAGE, "option '%s' needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            render_usage(stderr);
            return cli_fail(EXIT_USAGE, "unknown option '%s'", argv[i]);
        } else if (!record) {
            record = argv[i];
        } else {
            return cli_fail(EXIT_USAGE, "more than one record file");
        }
    }
    if (!tdir || !record || (!out && !hls)) {
        render_usage(stderr);
        return cli_fail(EXIT_USAGE, "need --template DIR, RECORD.json and -o and/or --hls");
    }
    double speed;
    char *end = NULL;
    if (!strcmp(speed_s, "auto"))
        speed = 0;
    else if ((speed = strtod(speed_s, &end)), !end || *end || speed <= 0 || speed > 1)
        return cli_fail(EXIT_USAGE, "--speed must be 1, the slow speed (e.g. 0.8) or auto");
    int segment = -1;
    if (seg_s) {
        long n = strtol(seg_s, &end, 10);
        if (!*seg_s || *end || n < 0 || n > 1000000 || !out || hls)
            return cli_fail(EXIT_USAGE, "--segment N needs a number and -o OUT.ts (no --hls)");
        segment = (int)n;
    }
    vbill_ctx *ctx = cli_ctx();
    vbill_template *t = NULL;
    int rc = EXIT_OK;
    vbill_status st;
    vbill_bill *bill = cli_bill(ctx, record, &st);
    if (!bill) {
        rc = st == VBILL_ERR_IO ? EXIT_USAGE : cli_fail(EXIT_REJECTED, "%s", vbill_ctx_errmsg(ctx));
        goto done;
    }
    st = vbill_template_open(ctx, tdir, &t);
    if (!st && (st = vbill_template_prepare(t)))
        cli_fail(EXIT_FAIL, "%s", vbill_template_errmsg(t));
    else if (st)
        cli_fail(EXIT_FAIL, "%s", vbill_ctx_errmsg(ctx));
    if (st) {
        rc = st == VBILL_ERR_TEMPLATE || st == VBILL_ERR_JSON ? EXIT_USAGE : EXIT_FAIL;
        goto done;
    }
    if (segment >= 0)
        st = vbill_render_segment(ctx, t, bill, speed, segment, out);
    else if (out)
        st = vbill_render_mp4(ctx, t, bill, speed, out);
    if (!st && hls)
        st = vbill_render_hls(ctx, t, bill, speed, hls, hls_base);
    if (st)
        rc = cli_fail(st == VBILL_ERR_JSON || st == VBILL_ERR_RECORD || st == VBILL_ERR_ARG ||
                              st == VBILL_ERR_NOT_TARGET
                          ? EXIT_REJECTED
                          : EXIT_FAIL,
                      "%s", vbill_ctx_errmsg(ctx));
done:
    vbill_template_free(t);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    return rc;
}
