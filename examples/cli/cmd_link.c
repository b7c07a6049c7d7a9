/* cmd_link.c: vbill keygen; vbill link issue|verify|check|unlock. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit codes of `vbill link check` / `verify` (issue 4). */
enum { EXIT_WRONG = 1, EXIT_LOCKED = 4, EXIT_LINK = 5 };

#define DEFAULT_BASE_URL "https://vbill.example/v/"

static const char KEYGEN_USAGE[] =
    "usage: vbill keygen [--rotate OLD_KEY_FILE] > FILE\n"
    "Prints a new key file (JSON: key id, secret, pepper) on standard output.  With --rotate,\n"
    "the keys of OLD_KEY_FILE are kept for verification and the new key signs new links.\n"
    "The file holds secrets: keep it mode 0600 (e.g. run under `umask 077`).\n";

static const char LINK_USAGE[] =
    "usage: vbill link issue RECORD.json [--ttl 30d] [--base-url URL] [--template FILE]\n"
    "       vbill link verify TOKEN|URL\n"
    "       vbill link check TOKEN|URL [--client ADDR] [--redis HOST:PORT]  (digits on stdin)\n"
    "       vbill link unlock TOKEN|URL [--redis HOST:PORT]\n"
    "Options for all: --key-file FILE (or VBILL_KEY_FILE): the key file made by vbill keygen;\n"
    "  --state DIR (or VBILL_STATE_DIR): where the attempt counters live (SQLite);\n"
    "  --now UNIX_SECONDS: the clock (for tests).\n"
    "With VBILL_HOOKS_CONFIG set, check queues an auth.locked event (vbill hooks) when the\n"
    "link locks.\n"
    "issue prints the link URL on its first line (the token is its last path segment) and the\n"
    "SMS text after it; the base URL defaults to VBILL_BASE_URL or " DEFAULT_BASE_URL ".\n"
    "verify prints what the link binds (no personal data) or why it is refused.\n"
    "check reads the six birth-date digits (YYMMDD) from standard input and prints a session\n"
    "token when they match.\n"
    "Exit status: 0 accepted, 1 wrong digits, 2 usage, 3 invalid record, 4 locked,\n"
    "5 invalid or expired link.\n";

int cmd_keygen(int argc, char **argv)
{
    const char *rotate = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i])) {
            fputs(KEYGEN_USAGE, stdout);
            return EXIT_OK;
        } else if ((v = cli_opt(argc, argv, &i, "--rotate", &missing))) {
            rotate = v;
        } else {
            if (missing)
                return cli_fail(EXIT_USAGE, "%s needs a value", argv[i]);
            return cli_fail(EXIT_USAGE, "keygen: unexpected argument %s (see --help)", argv[i]);
        }
    }
    char *old = NULL;
    if (rotate && !(old = cli_read_file(rotate, 1 << 20, NULL)))
        return EXIT_USAGE;
    vbill_ctx *ctx = cli_ctx();
    char *json = NULL;
    vbill_status st = vbill_keys_generate(ctx, old, &json);
    free(old);
    int rc = EXIT_OK;
    if (st) {
        rc = cli_fail(st == VBILL_ERR_KEY ? EXIT_USAGE : EXIT_FAIL, "%s", vbill_ctx_errmsg(ctx));
    } else {
        fputs(json, stdout);
        if (fflush(stdout) != 0)
            rc = cli_fail(EXIT_FAIL, "cannot write the key file: %s", strerror(errno));
        else if (isatty(STDOUT_FILENO) == 0)
            fputs("vbill: key file written; keep it private (chmod 600)\n", stderr);
        memset(json, 0, strlen(json));
    }
    vbill_free(json);
    vbill_ctx_free(ctx);
    return rc;
}

/* "30d", "12h", "90m", "3600s" or plain seconds. */
static bool parse_ttl(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 1)
        return false;
    long long mul = 1;
    if (*end == 'd')
        mul = 86400;
    else if (*end == 'h')
        mul = 3600;
    else if (*end == 'm')
        mul = 60;
    else if (*end == 's')
        mul = 1;
    else if (*end != '\0')
        return false;
    if (*end && end[1])
        return false;
    if (v > 3650LL * 86400 / mul)
        return false;
    *out = v * mul;
    return true;
}

/* A token, or the last path segment of a link URL. */
static const char *token_of(const char *arg)
{
    const char *slash = strrchr(arg, '/');
    return slash ? slash + 1 : arg;
}

static int link_status_exit(vbill_status st)
{
    switch (st) {
    case VBILL_OK:
        return EXIT_OK;
    case VBILL_ERR_AUTH_WRONG:
        return EXIT_WRONG;
    case VBILL_ERR_AUTH_LOCKED:
        return EXIT_LOCKED;
    case VBILL_ERR_LINK_MALFORMED:
    case VBILL_ERR_LINK_SIGNATURE:
    case VBILL_ERR_LINK_EXPIRED:
    case VBILL_ERR_LINK_KEY:
        return EXIT_LINK;
    case VBILL_ERR_KEY:
    case VBILL_ERR_ARG:
        return EXIT_USAGE;
    case VBILL_ERR_JSON:
    case VBILL_ERR_RECORD:
    case VBILL_ERR_NOT_TARGET:
        return EXIT_REJECTED;
    default:
        return EXIT_FAIL;
    }
}

typedef struct link_opts {
    const char *key_file, *state, *ttl, *base_url, *client, *redis, *now, *tmpl;
    const char *pos[2];
    int npos;
} link_opts;

static int parse_link_args(int argc, char **argv, link_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        bool missing = false;
        const char *v;
        struct {
            const char *name;
            const char **dst;
        } opts[] = {
            {"--key-file", &o->key_file}, {"--state", &o->state},   {"--ttl", &o->ttl},
            {"--base-url", &o->base_url}, {"--client", &o->client}, {"--redis", &o->redis},
            {"--now", &o->now},           {"--template", &o->tmpl},
        };
        bool matched = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched && !missing; k++)
            if ((v = cli_opt(argc, argv, &i, opts[k].name, &missing))) {
                *opts[k].dst = v;
                matched = true;
            }
        if (matched)
            continue;
        if (missing)
            return cli_fail(EXIT_USAGE, "%s needs a value", argv[i]);
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_fail(EXIT_USAGE, "link: unknown option %s (see --help)", argv[i]);
        if (o->npos >= 1)
            return cli_fail(EXIT_USAGE, "link %s: unexpected argument %s (see --help)", argv[1],
                            argv[i]);
        o->pos[o->npos++] = argv[i];
    }
    if (!o->key_file)
        o->key_file = getenv("VBILL_KEY_FILE");
    if (!o->state)
        o->state = getenv("VBILL_STATE_DIR");
    if (!o->base_url)
        o->base_url = getenv("VBILL_BASE_URL");
    if (!o->base_url || !*o->base_url)
        o->base_url = DEFAULT_BASE_URL;
    if (!o->client)
        o->client = "cli";
    if (o->npos != 1)
        return cli_fail(EXIT_USAGE, "link %s: one %s is needed (see --help)", argv[1],
                        strcmp(argv[1], "issue") == 0 ? "record file" : "token");
    if (!o->key_file || !*o->key_file)
        return cli_fail(EXIT_USAGE, "no key file: use --key-file FILE or set VBILL_KEY_FILE "
                                    "(make one with `vbill keygen > FILE`)");
    return -1;
}

static int open_store(vbill_ctx *ctx, const link_opts *o, vbill_store **store)
{
    vbill_status st;
    if (o->redis) {
        char host[256];
        const char *colon = strrchr(o->redis, ':');
        int port = colon ? atoi(colon + 1) : 6379;
        size_t hl = colon ? (size_t)(colon - o->redis) : strlen(o->redis);
        if (hl == 0 || hl >= sizeof host || port < 1 || port > 65535)
            return cli_fail(EXIT_USAGE, "--redis: expected HOST:PORT, got %s", o->redis);
        memcpy(host, o->redis, hl);
        host[hl] = '\0';
        st = vbill_store_open_redis(ctx, host, port, NULL, store);
    } else {
        if (!o->state || !*o->state)
            return cli_fail(EXIT_USAGE, "no state directory: use --state DIR or set "
                                        "VBILL_STATE_DIR");
        if (mkdir(o->state, 0700) != 0 && errno != EEXIST)
            return cli_fail(EXIT_USAGE, "cannot create state directory %s: %s", o->state,
                            strerror(errno));
        st = vbill_store_open_sqlite(ctx, o->state, store);
    }
    if (st)
        return cli_fail(EXIT_FAIL, "%s", vbill_ctx_errmsg(ctx));
    return -1;
}

static int link_issue(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o, int64_t now)
{
    int64_t ttl = 30 * 86400;
    if (o->ttl && !parse_ttl(o->ttl, &ttl))
        return cli_fail(EXIT_USAGE, "--ttl: expected a lifetime like 30d, 12h, 90m, got %s",
                        o->ttl);
    vbill_status st;
    vbill_bill *bill = cli_bill(ctx, o->pos[0], &st);
    if (!bill)
        return st == VBILL_ERR_IO ? EXIT_USAGE
                                  : cli_fail(link_status_exit(st) == EXIT_LINK ? EXIT_FAIL
                                                                                : link_status_exit(st),
                                             "%s", vbill_ctx_errmsg(ctx));
    char *tmpl = NULL;
    if (o->tmpl && !(tmpl = cli_read_file(o->tmpl, 1 << 16, NULL))) {
        vbill_bill_free(bill);
        return EXIT_USAGE;
    }
    char *token = NULL, *url = NULL, *msg = NULL;
    st = vbill_link_issue(ctx, keys, bill, now, ttl, &token);
    int rc = EXIT_OK;
    if (!st) {
        size_t bl = strlen(o->base_url);
        bool slash = bl > 0 && o->base_url[bl - 1] == '/';
        size_t n = bl + strlen(token) + 2;
        url = malloc(n);
        if (!url)
            st = VBILL_ERR_NOMEM;
        else
            snprintf(url, n, "%s%s%s", o->base_url, slash ? "" : "/", token);
    }
    if (!st)
        st = vbill_message_build(ctx, bill, url, tmpl, &msg);
    if (st) {
        rc = cli_fail(link_status_exit(st) == EXIT_LINK ? EXIT_FAIL : link_status_exit(st), "%s",
                      vbill_ctx_errmsg(ctx));
    } else {
        printf("%s\n%s\n", url, msg);
    }
    vbill_free(token);
    vbill_free(msg);
    free(url);
    vbill_bill_free(bill);
    free(tmpl);
    return rc;
}

static int link_verify(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o, int64_t now)
{
    char *info = NULL;
    vbill_status st = vbill_link_verify(ctx, keys, token_of(o->pos[0]), now, &info);
    if (st)
        return cli_fail(link_status_exit(st), "refused: %s (%s)", vbill_ctx_errmsg(ctx),
                        vbill_strerror(st));
    printf("%s\n", info);
    vbill_free(info);
    return EXIT_OK;
}

static int link_check(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o, int64_t now)
{
    /* The link is verified before the store is even opened: a bad link costs nothing. */
    const char *token = token_of(o->pos[0]);
    vbill_status st = vbill_link_verify(ctx, keys, token, now, NULL);
    if (st)
        return cli_fail(link_status_exit(st), "refused: %s", vbill_ctx_errmsg(ctx));
    char digits[64] = {0};
    if (!fgets(digits, sizeof digits, stdin))
        return cli_fail(EXIT_USAGE, "check: no digits on standard input");
    vbill_store *store = NULL;
    int rc = open_store(ctx, o, &store);
    if (rc >= 0) {
        memset(digits, 0, sizeof digits);
        return rc;
    }
    /* With help-desk hooks configured (VBILL_HOOKS_CONFIG), a lock raises auth.locked in
     * the outbox of the state directory. */
    vbill_hooks *hooks = NULL;
    const char *hooks_file = getenv("VBILL_HOOKS_CONFIG");
    if (hooks_file && *hooks_file && o->state && *o->state) {
        char *config = cli_read_file(hooks_file, 1 << 20, NULL);
        if (config && vbill_hooks_open(ctx, o->state, config, &hooks) == VBILL_OK)
            vbill_store_set_lock_hook(store, vbill_hooks_auth_locked, hooks);
        else if (config)
            cli_fail(EXIT_FAIL, "warning: hooks not opened: %s", vbill_ctx_errmsg(ctx));
        free(config);
    }
    char *session = NULL;
    st = vbill_auth_check(ctx, keys, store, token, digits, o->client, now, &session);
    memset(digits, 0, sizeof digits);
    if (st) {
        rc = cli_fail(link_status_exit(st), "%s", vbill_ctx_errmsg(ctx));
    } else {
        printf("%s\n", session);
        rc = EXIT_OK;
    }
    vbill_free(session);
    vbill_store_free(store);
    vbill_hooks_free(hooks);
    return rc;
}

static int link_unlock(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o)
{
    vbill_store *store = NULL;
    int rc = open_store(ctx, o, &store);
    if (rc >= 0)
        return rc;
    vbill_status st = vbill_link_unlock(ctx, keys, store, token_of(o->pos[0]));
    vbill_store_free(store);
    if (st)
        return cli_fail(link_status_exit(st), "%s", vbill_ctx_errmsg(ctx));
    return EXIT_OK;
}

int cmd_link(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(LINK_USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "issue") && strcmp(sub, "verify") && strcmp(sub, "check") &&
        strcmp(sub, "unlock"))
        return cli_fail(EXIT_USAGE, "link: unknown subcommand %s (see --help)", sub);
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(LINK_USAGE, stdout);
            return EXIT_OK;
        }
    link_opts o;
    int rc = parse_link_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    int64_t now = 0;
    if (o.now) {
        char *end;
        now = strtoll(o.now, &end, 10);
        if (*end || now < 1)
            return cli_fail(EXIT_USAGE, "--now: expected Unix seconds, got %s", o.now);
    }
    vbill_ctx *ctx = cli_ctx();
    vbill_keys *keys = NULL;
    vbill_status st = vbill_keys_load(ctx, o.key_file, &keys);
    if (st) {
        rc = cli_fail(EXIT_USAGE, "%s", vbill_ctx_errmsg(ctx));
    } else if (strcmp(sub, "issue") == 0) {
        rc = link_issue(ctx, keys, &o, now);
    } else if (strcmp(sub, "verify") == 0) {
        rc = link_verify(ctx, keys, &o, now);
    } else if (strcmp(sub, "check") == 0) {
        rc = link_check(ctx, keys, &o, now);
    } else {
        rc = link_unlock(ctx, keys, &o);
    }
    vbill_keys_free(keys);
    vbill_ctx_free(ctx);
    return rc;
}
