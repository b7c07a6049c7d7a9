/* cmd_text.c: vbill text, a Mustache template rendered over a JSON context. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TEMPLATE ((size_t)16 << 20)
#define MAX_DATA ((size_t)64 << 20)

static int usage(FILE *out, int code)
{
    fputs("usage: vbill text TEMPLATE --data JSON [--partials DIR]\n\n"
          "Renders the Mustache template in the file TEMPLATE over the JSON value in the file\n"
          "JSON (\"-\" reads it from standard input) and writes the result to standard output\n"
          "as is, with no newline added.  The core of the Mustache specification is supported:\n"
          "variables, sections, inverted sections, comments, partials, set delimiters, and\n"
          "template inheritance (blocks and parents).\n\n"
          "  --data JSON     the context: a JSON file, or - for standard input (required)\n"
          "  --partials DIR  {{> name}} loads DIR/name.mustache (default: the directory of\n"
          "                  TEMPLATE); a partial that does not exist renders as empty\n\n"
          "Exit status: 0 rendered, 1 malformed template or rendering failed, 2 usage error or\n"
          "unreadable input.\n",
          out);
    return code;
}

/* The directory part of path ("." when it has none); malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int cmd_text(int argc, char **argv)
{
    const char *tmpl_path = NULL, *data_path = NULL, *partials = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i]))
            return usage(stdout, EXIT_OK);
        if ((v = cli_opt(argc, argv, &i, "--data", &missing))) {
            data_path = v;
        } else if (missing) {
            return cli_fail(EXIT_USAGE, "--data needs a JSON file (or - for standard input)");
        } else if ((v = cli_opt(argc, argv, &i, "--partials", &missing))) {
            partials = v;
        } else if (missing) {
            return cli_fail(EXIT_USAGE, "--partials needs a directory");
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_fail(EXIT_USAGE, "unknown option '%s'", argv[i]);
            return usage(stderr, EXIT_USAGE);
        } else if (tmpl_path) {
            return cli_fail(EXIT_USAGE, "only one TEMPLATE may be given (see vbill text --help)");
        } else {
            tmpl_path = argv[i];
        }
    }
    if (!tmpl_path)
        return cli_fail(EXIT_USAGE, "no TEMPLATE given (see vbill text --help)");
    if (!data_path)
        return cli_fail(EXIT_USAGE, "no --data JSON given (see vbill text --help)");
    if (strcmp(tmpl_path, "-") == 0 && strcmp(data_path, "-") == 0)
        return cli_fail(EXIT_USAGE, "TEMPLATE and --data cannot both be standard input");

    size_t tlen = 0;
    char *tmpl = cli_read_file(tmpl_path, MAX_TEMPLATE, &tlen);
    if (!tmpl)
        return EXIT_USAGE;
    char *data = cli_read_file(data_path, MAX_DATA, NULL);
    if (!data) {
        free(tmpl);
        return EXIT_USAGE;
    }
    char *dir = NULL;
    if (!partials && strcmp(tmpl_path, "-") != 0)
        partials = dir = dir_of(tmpl_path);

    vbill_ctx *ctx = cli_ctx();
    int rc = EXIT_OK;
    char *out = NULL;
    size_t out_len = 0;
    vbill_status st = vbill_ctx_set_partials_dir(ctx, partials);
    if (st == VBILL_OK)
        st = vbill_mustache_render(ctx, tmpl, tlen, data, NULL, &out, &out_len);
    if (st == VBILL_ERR_JSON) {
        rc = cli_fail(EXIT_USAGE, "%s: %s", data_path, vbill_ctx_errmsg(ctx));
    } else if (st == VBILL_ERR_IO) {
        rc = cli_fail(EXIT_USAGE, "%s", vbill_ctx_errmsg(ctx));
    } else if (st != VBILL_OK) {
        rc = cli_fail(EXIT_FAIL, "%s: %s", tmpl_path, vbill_ctx_errmsg(ctx));
    } else if ((out_len && fwrite(out, 1, out_len, stdout) != out_len) || fflush(stdout) != 0) {
        rc = cli_fail(EXIT_FAIL, "cannot write the output");
    }
    vbill_free(out);
    vbill_ctx_free(ctx);
    free(dir);
    free(data);
    free(tmpl);
    return rc;
}
