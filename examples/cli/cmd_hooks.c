/* cmd_hooks.c: vbill hooks. */
#include "config.h"
#include "cli.h"

int cmd_hooks(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(EXIT_USAGE, "'hooks' is not built yet");
}

