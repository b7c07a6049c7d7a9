/* cmd_voice.c: vbill narration (a bill's narration script) and vbill voice (speech). */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RECORD ((size_t)1 << 20)
#define MAX_TEXT ((size_t)64 << 10)

static int narration_usage(FILE *out, int code)
{
    fputs("usage: vbill narration (RECORD.json | BILL.json) [--template DIR]\n"
          "       vbill narration --default SCENARIO\n"
          "       vbill narration --check NARRATION.json\n\n"
          "Prints the narration script of a bill's video as one JSON object:\n"
          "  {\"id\",\"scenario\",\"locale\",\"scenes\":[{\"scene\",\"start\",\"end\",\"personal\","
          "\"text\"}]}\n"
          "start and end are seconds of the template at normal speed; text is exactly the\n"
          "words spoken, amounts, dates and counts written out as words.  The input is a\n"
          "subscriber record or a bill.json written by vbill batch (- for standard input).\n\n"
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
    vbill_ctx *ctx = cli_ctx();
    vbill_status st;
    vbill_bill *bill = cli_bill(ctx, record, &st);
    char *out = NULL;
    int rc = EXIT_OK;
    if (!bill)
        rc = st == VBILL_ERR_IO ? EXIT_USAGE : cli_fail(narration_exit(st), "%s",
                                                        vbill_ctx_errmsg(ctx));
    else if ((st = vbill_narration(ctx, bill, tdir, &out)))
        rc = cli_fail(narration_exit(st), "%s", vbill_ctx_errmsg(ctx));
    else if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
        rc = cli_fail(EXIT_FAIL, "cannot write the output");
    vbill_free(out);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    return rc;
}

/* ---- vbill voice ------------------------------------------------------------------------ */

static int voice_usage(FILE *out, int code)
{
    fputs("usage: vbill voice say [VOICE] [--rate R] [--locale L] (TEXT | -) -o OUT.wav\n"
          "       vbill voice bill (RECORD.json | BILL.json) [--template DIR] [--personal] [VOICE] [--rate R]\n"
          "                        -o OUT.wav\n"
          "       vbill voice clips LOCALE\n\n"
          "say: speaks TEXT (- reads it from standard input) into a WAV file (48 kHz mono,\n"
          "16-bit).  bill: speaks a record's narration script (see vbill narration) on its\n"
          "timeline, each sentence at its start second (--personal: only the sentences that\n"
          "differ per bill).  clips: lists, one per line, the\n"
          "texts of the clips a voice actor records for the built-in narration of LOCALE\n"
          "(ko-KR, ja-JP, en-US): a clips folder holds LOCALE/TEXT.wav for each of them.\n\n"
          "VOICE is one of\n"
          "  --espeak PROGRAM  espeak-ng (a path or a name in PATH)\n"
          "  --clips DIR       recorded clips: DIR/ko-KR/*.wav, DIR/ja-JP/*.wav, DIR/en-US/*.wav\n"
          "  --silent          silence as long as the speech would be\n"
          "and by default espeak-ng when installed, else silence (with a warning).\n"
          "  --rate R          speaking rate, 0.5 to 2 (default 1)\n"
          "  --locale L        ko-KR (default), ja-JP or en-US\n\n"
          "Exit status: 0 written, 1 speech failed, 2 usage error, unreadable input or a\n"
          "voice that cannot be opened, 3 record rejected or matching no scenario.\n",
          out);
    return code;
}

typedef struct voice_opts {
    const char *espeak, *clips, *locale, *rate, *out, *tdir;
    bool silent, personal;
    const char *args[2];
    int nargs;
} voice_opts;

static int voice_parse(int argc, char **argv, voice_opts *o)
{
    for (int i = 2; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i]))
            return voice_usage(stdout, EXIT_OK) - 1; /* -1: done, exit 0 */
        else if ((v = cli_opt(argc, argv, &i, "--espeak", &missing)))
            o->espeak = v;
        else if ((v = cli_opt(argc, argv, &i, "--clips", &missing)))
            o->clips = v;
        else if ((v = cli_opt(argc, argv, &i, "--rate", &missing)))
            o->rate = v;
        else if ((v = cli_opt(argc, argv, &i, "--locale", &missing)))
            o->locale = v;
        else if ((v = cli_opt(argc, argv, &i, "--template", &missing)))
            o->tdir = v;
        else if ((v = cli_opt(argc, argv, &i, "-o", &missing)) ||
                 (v = cli_opt(argc, argv, &i, "--output", &missing)))
            o->out = v;
        else if (missing)
            return cli_fail(EXIT_USAGE, "option '%s' needs a value", argv[i]);
        else if (!strcmp(argv[i], "--silent"))
            o->silent = true;
        else if (!strcmp(argv[i], "--personal"))
            o->personal = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            voice_usage(stderr, EXIT_USAGE);
            return cli_fail(EXIT_USAGE, "unknown option '%s'", argv[i]);
        } else if (o->nargs == 2) {
            return cli_fail(EXIT_USAGE, "too many arguments (see vbill voice --help)");
        } else {
            o->args[o->nargs++] = argv[i];
        }
    }
    if ((o->espeak != NULL) + (o->clips != NULL) + o->silent > 1)
        return cli_fail(EXIT_USAGE, "give one voice: --espeak, --clips or --silent");
    return EXIT_OK;
}

static vbill_voice *voice_open(vbill_ctx *ctx, const voice_opts *o, int *rc)
{
    vbill_voice *v = NULL;
    vbill_status st = o->clips    ? vbill_voice_open_clips(ctx, o->clips, &v)
                      : o->silent ? vbill_voice_open_silent(ctx, &v)
                      : o->espeak ? vbill_voice_open_espeak(ctx, o->espeak, &v)
                                  : vbill_voice_open_default(ctx, &v);
    if (!st && o->rate) {
        char *end = NULL;
        double r = strtod(o->rate, &end);
        if (!end || *end || vbill_voice_set_rate(v, r) != VBILL_OK) {
            vbill_voice_free(v);
            *rc = cli_fail(EXIT_USAGE, "--rate must be a number from 0.5 to 2");
            return NULL;
        }
    }
    if (st)
        *rc = cli_fail(st == VBILL_ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE, "%s",
                       vbill_ctx_errmsg(ctx));
    return v;
}

static int voice_say(const voice_opts *o)
{
    if (o->nargs != 1 || !o->out)
        return cli_fail(EXIT_USAGE, "usage: vbill voice say [VOICE] (TEXT | -) -o OUT.wav");
    char *text = NULL;
    if (!strcmp(o->args[0], "-") && !(text = cli_read_file("-", MAX_TEXT, NULL)))
        return EXIT_USAGE;
    vbill_ctx *ctx = cli_ctx();
    int rc = EXIT_OK;
    vbill_voice *v = voice_open(ctx, o, &rc);
    float *pcm = NULL;
    size_t n = 0;
    if (v) {
        vbill_status st = vbill_voice_say(ctx, v, o->locale, text ? text : o->args[0], &pcm, &n);
        if (!st)
            st = vbill_wav_write(ctx, o->out, pcm, n);
        if (st)
            rc = cli_fail(st == VBILL_ERR_ARG ? EXIT_USAGE : EXIT_FAIL, "%s",
                          vbill_ctx_errmsg(ctx));
        else
            fprintf(stderr, "vbill: %s: %.2f s (%s)\n", o->out, (double)n / VBILL_VOICE_SAMPLE_RATE,
                    vbill_voice_kind(v));
    }
    vbill_free(pcm);
    vbill_voice_free(v);
    vbill_ctx_free(ctx);
    free(text);
    return rc;
}

static int voice_bill(const voice_opts *o)
{
    if (o->nargs != 1 || !o->out)
        return cli_fail(EXIT_USAGE, "usage: vbill voice bill RECORD.json [VOICE] -o OUT.wav");
    vbill_ctx *ctx = cli_ctx();
    int rc = EXIT_OK;
    char *script = NULL;
    float *pcm = NULL;
    size_t n = 0;
    vbill_status st;
    vbill_bill *bill = cli_bill(ctx, o->args[0], &st);
    if (!bill) {
        rc = st == VBILL_ERR_IO ? EXIT_USAGE
                                : cli_fail(narration_exit(st), "%s", vbill_ctx_errmsg(ctx));
        vbill_ctx_free(ctx);
        return rc;
    }
    st = vbill_narration(ctx, bill, o->tdir, &script);
    vbill_voice *v = NULL;
    if (st)
        rc = cli_fail(narration_exit(st), "%s", vbill_ctx_errmsg(ctx));
    else if ((v = voice_open(ctx, o, &rc))) {
        st = vbill_voice_narration(ctx, v, script,
                                   o->personal ? VBILL_SCENES_PERSONAL : VBILL_SCENES_ALL, &pcm,
                                   &n);
        if (!st)
            st = vbill_wav_write(ctx, o->out, pcm, n);
        if (st)
            rc = cli_fail(EXIT_FAIL, "%s", vbill_ctx_errmsg(ctx));
    }
    vbill_free(pcm);
    vbill_free(script);
    vbill_voice_free(v);
    vbill_bill_free(bill);
    vbill_ctx_free(ctx);
    return rc;
}

static int voice_clips(const voice_opts *o)
{
    if (o->nargs != 1)
        return cli_fail(EXIT_USAGE, "usage: vbill voice clips LOCALE");
    vbill_ctx *ctx = cli_ctx();
    char *list = NULL;
    int rc = EXIT_OK;
    vbill_status st = vbill_voice_clip_list(ctx, o->args[0], &list);
    if (st) {
        rc = cli_fail(st == VBILL_ERR_ARG ? EXIT_USAGE : EXIT_FAIL, "%s", vbill_ctx_errmsg(ctx));
    } else {
        /* One text per line: the JSON array's strings hold no newline nor quote. */
        for (const char *p = list; *p; p++) {
            if (*p == '"') {
                const char *q = strchr(p + 1, '"');
                if (!q)
                    break;
                printf("%.*s\n", (int)(q - p - 1), p + 1);
                p = q;
            }
        }
    }
    vbill_free(list);
    vbill_ctx_free(ctx);
    return rc;
}

int cmd_voice(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1]))
        return voice_usage(argc < 2 ? stderr : stdout, argc < 2 ? EXIT_USAGE : EXIT_OK);
    voice_opts o = {0};
    int rc = voice_parse(argc, argv, &o);
    if (rc == -1)
        return EXIT_OK;
    if (rc)
        return rc;
    if (!strcmp(argv[1], "say"))
        return voice_say(&o);
    if (!strcmp(argv[1], "bill"))
        return voice_bill(&o);
    if (!strcmp(argv[1], "clips"))
        return voice_clips(&o);
    voice_usage(stderr, EXIT_USAGE);
    return cli_fail(EXIT_USAGE, "unknown voice command '%s'", argv[1]);
}
