/* cmd_records.c: vbill classify and vbill fill over JSON Lines, in constant memory. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (1u << 20) /* a record longer than 1 MiB is rejected, not buffered */

typedef vbill_status (*record_fn)(vbill_ctx *, const char *, size_t, long, char **);

/* Reads one line of at most MAX_LINE bytes into buf (MAX_LINE + 2 bytes), without the
 * newline.  Returns its length, -1 at end of input, or -2 for a line that was too long
 * (skipped to its end without buffering it). */
static long read_line(FILE *in, char *buf, bool *read_error)
{
    if (!fgets(buf, MAX_LINE + 2, in)) {
        if (ferror(in))
            *read_error = true;
        return -1;
    }
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    } else if (n > MAX_LINE) {
        int c;
        while ((c = getc_unlocked(in)) != EOF && c != '\n')
            ;
        if (c == EOF && ferror(in))
            *read_error = true;
        return -2;
    }
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return (long)n;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

static int usage(FILE *out, const char *cmd, int code)
{
    fprintf(out,
            "usage: vbill %s [--rules FILE] [FILE|-]\n\n"
            "Reads subscriber records (JSON Lines, one object per line) from FILE or standard\n"
            "input and writes one JSON object per valid record to standard output:\n"
            "  {\"id\", \"scenario\", \"age\", \"senior\", \"speed\", \"flags\"%s}\n"
            "Rejected records go to standard error, one line each naming the input line,\n"
            "the record, the field and the problem.\n\n"
            "  --rules FILE  classify with the carrier rule set in FILE instead of the built-in\n\n"
            "Exit status: 0 all records valid, 3 some rejected, 2 usage or unreadable input.\n",
            cmd,
            strcmp(cmd, "fill") == 0 ? ",\n   \"period\", \"amounts\", \"slots\" (rendered slot texts)"
                                     : "");
    return code;
}

static int run(int argc, char **argv, record_fn fn)
{
    const char *cmd = argv[0], *rules = NULL, *input = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i]))
            return usage(stdout, cmd, EXIT_OK);
        if ((v = cli_opt(argc, argv, &i, "--rules", &missing))) {
            rules = v;
        } else if (missing) {
            return cli_fail(EXIT_USAGE, "--rules needs a FILE");
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_fail(EXIT_USAGE, "unknown option '%s'", argv[i]);
            return usage(stderr, cmd, EXIT_USAGE);
        } else if (input) {
            return cli_fail(EXIT_USAGE, "only one input file may be given");
        } else {
            input = argv[i];
        }
    }
    vbill_ctx *ctx = cli_ctx();
    if (rules && vbill_ctx_load_rules(ctx, rules) != VBILL_OK) {
        int code = cli_fail(EXIT_USAGE, "%s", vbill_ctx_errmsg(ctx));
        vbill_ctx_free(ctx);
        return code;
    }
    FILE *in = !input || strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
    if (!in) {
        int code = cli_fail(EXIT_USAGE, "cannot open %s: %s", input, strerror(errno));
        vbill_ctx_free(ctx);
        return code;
    }
    /* Large stdio buffers: a million records are ~1 GB each way. */
    static char inbuf[1 << 18], outbuf[1 << 18];
    setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    char *buf = malloc(MAX_LINE + 2);
    if (!buf) {
        vbill_ctx_free(ctx);
        return cli_fail(EXIT_FAIL, "out of memory");
    }
    long lineno = 0, rejected = 0;
    bool read_error = false;
    long n;
    while ((n = read_line(in, buf, &read_error)) != -1) {
        lineno++;
        if (n == -2) {
            fprintf(stderr, "vbill: record at line %ld: (record): longer than %u bytes\n", lineno,
                    MAX_LINE);
            rejected++;
            continue;
        }
        if (blank(buf))
            continue;
        char *out = NULL;
        vbill_status st = fn(ctx, buf, (size_t)n, lineno, &out);
        if (st == VBILL_OK) {
            fputs(out, stdout);
            fputc('\n', stdout);
        } else {
            /* Record errors name the record and its line, the field and the problem; any
             * other failure (memory, a slot template) gets the line put in front. */
            const char *msg = vbill_ctx_errmsg(ctx);
            if (st == VBILL_ERR_RECORD || st == VBILL_ERR_OVERFLOW)
                fprintf(stderr, "vbill: %s\n", msg);
            else
                fprintf(stderr, "vbill: line %ld: %s\n", lineno, msg);
            rejected++;
        }
        vbill_free(out);
    }
    free(buf);
    if (in != stdin)
        fclose(in);
    vbill_ctx_free(ctx);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail(EXIT_USAGE, "cannot write the output: %s", strerror(errno));
    if (read_error)
        return cli_fail(EXIT_USAGE, "cannot read %s", input ? input : "standard input");
    return rejected ? EXIT_REJECTED : EXIT_OK;
}

int cmd_classify(int argc, char **argv) { return run(argc, argv, vbill_classify); }
int cmd_fill(int argc, char **argv) { return run(argc, argv, vbill_fill); }
