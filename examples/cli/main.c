/* main.c: `vbill`, the command-line program over libvbill.  One subcommand per concern. */
#include "config.h"
#include "cli.h"

#include <string.h>

static const struct {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} commands[] = {
    {"classify", cmd_classify, "classify subscriber records (JSON Lines) into scenarios"},
    {"fill", cmd_fill, "classify and fill records: amounts, period, slot texts"},
    {"text", cmd_text, "render a Mustache template with a JSON context"},
    {"template", cmd_template, "prepare or check a video template"},
    {"render", cmd_render, "render a record's video bill (MP4 and/or HLS)"},
    {"keygen", cmd_keygen, "write a new link-signing key file to stdout"},
    {"link", cmd_link, "issue, verify and check signed links"},
    {"hooks", cmd_hooks, "queue, deliver and inspect help-desk events"},
    {"batch", cmd_batch, "make the month's video bills into the bill store (sharded, resumable)"},
    {"serve", cmd_serve, "answer the bills' links: check, watch page, video, events"},
    {"narration", cmd_narration, "print a bill's narration script (the words spoken)"},
    {"voice", cmd_voice, "speak a text or a record's narration (espeak-ng, recorded clips)"},
};

#ifndef VBILL_HAVE_SERVE
int cmd_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    return cli_fail(EXIT_USAGE, "serve: this vbill was built without libmicrohttpd "
                                "(Debian: libmicrohttpd-dev)");
}
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: vbill COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`vbill COMMAND --help` describes a command.  libvbill %s\n", vbill_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vbill %s\n", vbill_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    return cli_fail(EXIT_USAGE, "unknown command '%s' (try vbill --help)", argv[1]);
}
