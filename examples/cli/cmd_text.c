/* cmd_text.c: vbill text. */
#include "config.h"
#include "cli.h"

int cmd_text(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(EXIT_USAGE, "'text' is not built yet");
}

