/* cmd_records.c */
#include "config.h"
#include "cli.h"
int cmd_classify(int argc, char **argv) { (void)argc; (void)argv; return 2; }
int cmd_fill(int argc, char **argv) { (void)argc; (void)argv; return 2; }
