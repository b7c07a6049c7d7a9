/* cmd_link.c: vbill keygen link. */
#include "config.h"
#include "cli.h"

int cmd_keygen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(EXIT_USAGE, "'keygen' is not built yet");
}

int cmd_link(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(EXIT_USAGE, "'link' is not built yet");
}

