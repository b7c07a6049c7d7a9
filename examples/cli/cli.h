/* cli.h: what the vbill command's subcommands share. */
#ifndef VBILL_CLI_H
#define VBILL_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "vbill.h"

/* Exit codes of the command-line contract (SPEC.md section 5 and the issues). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,     /* usage error or unreadable input */
    EXIT_REJECTED = 3,  /* some records were rejected */
    EXIT_RETRY_LATER = 75, /* EX_TEMPFAIL: try again later (disk full, store unreachable) */
};

/* Each subcommand: argv[0] is the subcommand's name. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cmd_classify(int argc, char **argv);
int cmd_fill(int argc, char **argv);
int cmd_text(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_hooks(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_narration(int argc, char **argv);
int cmd_voice(int argc, char **argv);

/* Prints "vbill: <message>" on stderr; returns code, for `return cli_fail(...)`. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when s is "-h" or "--help". */
bool cli_is_help(const char *s);
/* Reads a whole file ("-" for stdin) of at most max bytes; NULL and a message on failure. */
char *cli_read_file(const char *path, size_t max, size_t *len);
/* Writes a file atomically (temporary name, then rename); 0 or -1 with a message printed. */
int cli_write_atomic(const char *path, const void *data, size_t len);
/* The value of option `name` ("--rules") at argv[*i]: "--rules X" or "--rules=X".  Returns
 * NULL when argv[*i] is not that option; on "--rules" with nothing after it sets *missing. */
const char *cli_opt(int argc, char **argv, int *i, const char *name, bool *missing);
/* The bill of RECORD.json or BILL.json at path (a serialised bill is recognised by its
 * "vbill_bill" member).  NULL with *st set: VBILL_ERR_IO when the file cannot be read (a
 * message was printed), else the library's status with its message in ctx. */
vbill_bill *cli_bill(vbill_ctx *ctx, const char *path, vbill_status *st);
/* A vbill_ctx with the log sent to stderr (warnings and errors); exits 1 if it can't. */
vbill_ctx *cli_ctx(void);

/* The key file, then the peppers kept apart: pepper_file (NULL: $VBILL_PEPPER_FILE), else
 * the text of $VBILL_PEPPER (which a secret manager fills).  NULL after printing why. */
vbill_keys *cli_keys(vbill_ctx *ctx, const char *key_file, const char *pepper_file);

/* A --redis argument as a URL into url (HOST:PORT, the old form, is read as
 * redis://HOST:PORT); NULL arg: $VBILL_REDIS_URL (which keeps a password off the command
 * line).  Returns url, or NULL when there is none or it is too long (printed). */
const char *cli_redis_url(const char *arg, char *url, size_t size);

#endif
