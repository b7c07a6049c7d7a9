/* cmd_video.c: vbill template render. */
#include "config.h"
#include "cli.h"

int cmd_template(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(EXIT_USAGE, "'template' is not built yet");
}

int cmd_render(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(EXIT_USAGE, "'render' is not built yet");
}

