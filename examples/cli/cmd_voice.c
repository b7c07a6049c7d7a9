/* cmd_voice.c: vbill narration (a bill's narration script) and vbill voice (speech). */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RECORD ((size_t)1 << 20)
#define MAX_TEXT ((size_t)64 << 10)

static int narration_usage(FILE *out, int code)
{
    fputs("usage: vbill narration RECORD.json [--template DIR]\n"
          "       vbill narration --default SCENARIO\n"
          "       vbill narration --check NARRATION.json\n\n"
          "Prints the narration script of a record's video bill as one JSON object:\n"
          "  {\"id\",\"scenario\",\"locale\",\"scenes\":[{\"scene\",\"start\",\"end\",\"personal\","
          "\"text\"}]}\n"
          "start and end are seconds of the template at normal speed; text is exactly the\n"
          "words spoken, amounts, dates and counts written out as words.  RECORD.json may be\n"
          "- for standard input.\n\n"
          "  --template DIR   use DIR/narration.json instead of the built-in narration of the\n"
          "                   record's scenario (a folder without one: the built-in)\n"
          "  --default SCEN   print the built-in narration of a scenario, in the\n"
          "                   narration.json format, to start a carrier's own from\n"
          "  --check FILE     check a narration.json (shape and every text's Mustache)\n\n"
          "Exit status: 0 printed, 1 failure, 2 usage error, unreadable input or malformed\n"
          "narration.json, 3 record rejected or matching no scenario.\n",
          out);
    return code;
}

static int narration_default(const char *scenario)
{
    vbill_ctx *ctx = cli_ctx();
    char *out = NULL;
    vbill_status st = vbill_narration_default(ctx, scenario, &out);
    int rc = EXIT_OK;
    if (st)
        rc = cli_fail(st == VBILL_ERR_NOT_FOUND ? EXIT_USAGE : EXIT_FAIL, "%s",
                      vbill_ctx_errmsg(ctx));
    else
        printf("%s\n", out);
    vbill_free(out);
    vbill_ctx_free(ctx);
    return rc;
}

static int narration_check(const char *path)
{
    size_t len = 0;
    char *json = cli_read_file(path, MAX_RECORD, &len);
    if (!json)
        return EXIT_USAGE;
    vbill_ctx *ctx = cli_ctx();
    vbill_status st = vbill_narration_check(ctx, json, len);
    int rc = EXIT_OK;
    if (st)
        rc = cli_fail(st == VBILL_ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE, "%s: %s", path,
                      vbill_ctx_errmsg(ctx));
    else
        printf("ok: %s\n", path);
    vbill_ctx_free(ctx);
    free(json);
    return rc;
}

/* The exit status of a failed narration call. */
static int narration_exit(vbill_status st)
{
    switch (st) {
    case VBILL_ERR_RECORD: /* a malformed record is one too; VBILL_ERR_JSON is narration.json's */
    case VBILL_ERR_OVERFLOW:
    case VBILL_ERR_NOT_TARGET:
        return EXIT_REJECTED;
    case VBILL_ERR_JSON:
    case VBILL_ERR_TEMPLATE:
    case VBILL_ERR_NOT_FOUND:
    case VBILL_ERR_IO:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

int cmd_narration(int argc, char **argv)
{
    const char *record = NULL, *tdir = NULL, *def = NULL, *check = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i])) {
            return narration_usage(stdout, EXIT_OK);
        } else if ((v = cli_opt(argc, argv, &i, "--template", &missing))) {
            tdir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--default", &missing))) {
            def = v;
        } else if ((v = cli_opt(argc, argv, &i, "--check", &missing))) {
            check = v;
        } else if (missing) {
            return cli_fail(EXIT_USAGE, "option '%s' needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            narration_usage(stderr, EXIT_USAGE);
            return cli_fail(EXIT_USAGE, "unknown option '%s'", argv[i]);
        } else if (record) {
            return cli_fail(EXIT_USAGE, "only one RECORD.json may be given");
        } else {
            record = argv[i];
        }
    }
    if ((def != NULL) + (check != NULL) + (record != NULL) != 1 || (tdir && !record))
        return cli_fail(EXIT_USAGE,
                        "give one of RECORD.json, --default SCENARIO or --check FILE (see vbill "
                        "narration --help)");
    if (def)
        return narration_default(def);
    if (check)
        return narration_check(check);
    size_t len = 0;
    char *json = cli_read_file(record, MAX_RECORD, &len);
    if (!json)
        return EXIT_USAGE;
    vbill_ctx *ctx = cli_ctx();
    char *out = NULL;
    vbill_status st = vbill_narration(ctx, json, len, tdir, &out);
    int rc = EXIT_OK;
    if (st)
        rc = cli_fail(narration_exit(st), "%s", vbill_ctx_errmsg(ctx));
    else if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
        rc = cli_fail(EXIT_FAIL, "cannot write the output");
    vbill_free(out);
    vbill_ctx_free(ctx);
    free(json);
    return rc;
}
