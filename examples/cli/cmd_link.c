/* cmd_link.c: vbill keygen; vbill link issue|verify|check|unlock. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit codes of `vbill link check` / `verify` (issue 4). */
enum { EXIT_WRONG = 1, EXIT_LOCKED = 4, EXIT_LINK = 5 };

#define DEFAULT_BASE_URL "https://vbill.example/v/"

static const char KEYGEN_USAGE[] =
    "usage: vbill keygen --out FILE [--pepper-out FILE] [--rotate OLD_KEY_FILE]\n"
    "                    [--pepper-file OLD_PEPPER_FILE]\n"
    "       vbill keygen [--rotate OLD_KEY_FILE] > FILE   (or into a pipe)\n"
    "Makes a new key file (JSON: key id, secret, pepper).  --out FILE creates FILE with mode\n"
    "0600 and never replaces an existing file.  With --pepper-out, the peppers go to a second\n"
    "file of their own (load it with --pepper-file or VBILL_PEPPER_FILE, or hand its text to\n"
    "VBILL_PEPPER): a key file stolen without it reveals no birth date.  With --rotate, the\n"
    "keys of OLD_KEY_FILE are kept for verification and the new key signs new links;\n"
    "--pepper-file adds the old peppers kept apart to the new pepper file.\n"
    "On standard output the key file is refused when it would land in a file that group or\n"
    "others may read (a shell's `> FILE` under umask 022): use --out, or umask 077.\n";

static const char LINK_USAGE[] =
    "usage: vbill link issue RECORD.json [--ttl 30d] [--base-url URL] [--template FILE]\n"
    "       vbill link verify TOKEN|URL\n"
    "       vbill link check TOKEN|URL --client ADDR  (digits on stdin)\n"
    "       vbill link unlock TOKEN|URL\n"
    "       vbill link revoke TOKEN|URL\n"
    "       vbill link reissue TOKEN|URL RECORD.json|BILL.json [--ttl 30d] [--base-url URL]\n"
    "Options for all: --key-file FILE (or VBILL_KEY_FILE): the key file made by vbill keygen\n"
    "  (mode 0600, owned by you, not a symlink); --pepper-file FILE (or VBILL_PEPPER_FILE, or\n"
    "  the pepper set's text in VBILL_PEPPER): the peppers when they are kept apart;\n"
    "  --state DIR (or VBILL_STATE_DIR): where the attempt counters live (SQLite), or\n"
    "  --redis URL (or VBILL_REDIS_URL, which keeps a password off the command line):\n"
    "  redis[s]://[USER:PASSWORD@]HOST[:PORT][/DB][?cacert=FILE&...] (HOST:PORT is read as\n"
    "  redis://HOST:PORT).\n"
    "With VBILL_HOOKS_CONFIG set, check queues an auth.locked event (vbill hooks) when the\n"
    "link locks.\n"
    "issue prints the link URL on its first line (the token is its last path segment) and the\n"
    "SMS text after it; the base URL defaults to VBILL_BASE_URL or " DEFAULT_BASE_URL ".\n"
    "verify prints what the link binds (no personal data) or why it is refused; with a state\n"
    "(--state, VBILL_STATE_DIR of an existing directory, or --redis) a revoked link is refused.\n"
    "check reads the six birth-date digits (YYMMDD) from standard input and prints a session\n"
    "token when they match; --client is the customer's address (IPv6 counts by /64).\n"
    "unlock clears a link's failures and cooling lock (never the subscriber's failures of the\n"
    "cycle); revoke ends a link and its sessions; reissue prints a new link like issue and\n"
    "revokes the old one (the new link shares the subscriber's bound).\n"
    "Exit status: 0 accepted, 1 wrong digits, 2 usage, 3 invalid record, 4 locked,\n"
    "5 invalid, expired or revoked link.\n";

/* Creates path with mode 0600, never over an existing file, all or nothing: a temporary
 * file (mkstemp: 0600, O_EXCL) written and synced, then linked to its name (link() fails
 * when the name exists) and its directory synced. */
static int write_new_secret_file(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return cli_fail(-1, "out of memory");
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_fail(-1, "cannot create %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    bool ok = fchmod(fd, 0600) == 0;
    for (size_t done = 0; ok && done < len;) {
        ssize_t w = write(fd, data + done, len - done);
        ok = w > 0;
        done += w > 0 ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    int err = ok ? 0 : errno;
    if (ok && link(tmp, path) != 0) {
        err = errno;
        ok = false;
    }
    unlink(tmp);
    free(tmp);
    if (!ok)
        return cli_fail(-1, "cannot create %s: %s", path,
                        err == EEXIST ? "it exists (a key file is never replaced: remove it or "
                                        "choose another name)"
                                      : strerror(err));
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (dir) {
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    free(dir);
    return 0;
}

/* Standard output may take a key file when it is a terminal, a pipe or a file only its
 * owner may read or write. */
static bool stdout_private(void)
{
    struct stat sb;
    if (fstat(STDOUT_FILENO, &sb) != 0 || !S_ISREG(sb.st_mode))
        return true;
    return (sb.st_mode & 077) == 0;
}

/* A key or pepper file's text, read with read(2) into one buffer (wipe_free it). */
static char *read_secret_text(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (1 << 20) &&
        (buf = malloc((size_t)sb.st_size + 1)) != NULL) {
        while (got < (size_t)sb.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        buf[got] = '\0';
    }
    if (fd >= 0)
        close(fd);
    if (!buf)
        cli_fail(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
    return buf;
}

static void wipe_free(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    vbill_free(s);
}

int cmd_keygen(int argc, char **argv)
{
    const char *rotate = NULL, *out = NULL, *pepper_out = NULL, *pepper_in = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (cli_is_help(argv[i])) {
            fputs(KEYGEN_USAGE, stdout);
            return EXIT_OK;
        } else if ((v = cli_opt(argc, argv, &i, "--rotate", &missing))) {
            rotate = v;
        } else if (!missing && (v = cli_opt(argc, argv, &i, "--out", &missing))) {
            out = v;
        } else if (!missing && (v = cli_opt(argc, argv, &i, "--pepper-out", &missing))) {
            pepper_out = v;
        } else if (!missing && (v = cli_opt(argc, argv, &i, "--pepper-file", &missing))) {
            pepper_in = v;
        } else {
            if (missing)
                return cli_fail(EXIT_USAGE, "%s needs a value", argv[i]);
            return cli_fail(EXIT_USAGE, "keygen: unexpected argument %s (see --help)", argv[i]);
        }
    }
    if ((out && !*out) || (pepper_out && !*pepper_out))
        return cli_fail(EXIT_USAGE, "keygen: --out and --pepper-out need a file name");
    if (pepper_out && !out)
        return cli_fail(EXIT_USAGE, "keygen: --pepper-out needs --out (two secret files "
                                    "cannot share standard output)");
    if (pepper_in && !pepper_out)
        return cli_fail(EXIT_USAGE, "keygen: --pepper-file (the old peppers) goes with "
                                    "--pepper-out");
    if (out && pepper_out && strcmp(out, pepper_out) == 0)
        return cli_fail(EXIT_USAGE, "keygen: the pepper file must not be the key file");
    if (!out && !stdout_private())
        return cli_fail(EXIT_USAGE,
                        "keygen: standard output is a file that group or others may read: "
                        "nothing written (use --out FILE, created 0600, or run under umask 077)");
    vbill_ctx *ctx = cli_ctx();
    /* The old files pass the library's checks (mode, owner, no symlink) before their text
     * is read (without stdio, whose buffer would keep a copy). */
    char *old = NULL, *old_pepper = NULL;
    vbill_keys *check = NULL;
    if (rotate && vbill_keys_load(ctx, rotate, &check) != VBILL_OK) {
        cli_fail(EXIT_USAGE, "%s", vbill_ctx_errmsg(ctx));
        vbill_ctx_free(ctx);
        return EXIT_USAGE;
    }
    if (pepper_in && vbill_keys_load_peppers(check, pepper_in) != VBILL_OK) {
        cli_fail(EXIT_USAGE, "%s", vbill_keys_errmsg(check));
        vbill_keys_free(check);
        vbill_ctx_free(ctx);
        return EXIT_USAGE;
    }
    vbill_keys_free(check);
    if ((rotate && !(old = read_secret_text(rotate))) ||
        (pepper_in && !(old_pepper = read_secret_text(pepper_in)))) {
        wipe_free(old);
        vbill_ctx_free(ctx);
        return EXIT_USAGE;
    }
    char *json = NULL, *keyfile = NULL, *peppers = NULL;
    vbill_status st = vbill_keys_generate(ctx, old, &json);
    if (!st && pepper_out)
        st = vbill_keys_split(ctx, json, old_pepper, &keyfile, &peppers);
    wipe_free(old);
    wipe_free(old_pepper);
    int rc = EXIT_OK;
    if (st) {
        rc = cli_fail(st == VBILL_ERR_KEY ? EXIT_USAGE : EXIT_FAIL, "%s", vbill_ctx_errmsg(ctx));
    } else if (out) {
        const char *k = keyfile ? keyfile : json;
        if (write_new_secret_file(out, k, strlen(k)) != 0)
            rc = EXIT_USAGE;
        else if (pepper_out && write_new_secret_file(pepper_out, peppers, strlen(peppers)) != 0) {
            unlink(out); /* all or nothing */
            rc = EXIT_USAGE;
        }
    } else {
        fputs(json, stdout);
        if (fflush(stdout) != 0)
            rc = cli_fail(EXIT_FAIL, "cannot write the key file: %s", strerror(errno));
        else if (isatty(STDOUT_FILENO) == 0)
            fputs("vbill: key file written; keep it private (mode 0600)\n", stderr);
    }
    wipe_free(json);
    wipe_free(keyfile);
    wipe_free(peppers);
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
    const char *key_file, *pepper_file, *state, *ttl, *base_url, *client, *redis, *tmpl;
    const char *pos[2];
    int npos;
    bool state_given; /* --state on the command line (VBILL_STATE_DIR otherwise) */
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
            {"--template", &o->tmpl},     {"--pepper-file", &o->pepper_file},
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
        if (o->npos >= (strcmp(argv[1], "reissue") == 0 ? 2 : 1))
            return cli_fail(EXIT_USAGE, "link %s: unexpected argument %s (see --help)", argv[1],
                            argv[i]);
        o->pos[o->npos++] = argv[i];
    }
    if (!o->key_file)
        o->key_file = getenv("VBILL_KEY_FILE");
    o->state_given = o->state != NULL;
    /* VBILL_REDIS_URL keeps a password off the command line; --state overrides it */
    if (!o->redis && !o->state_given && getenv("VBILL_REDIS_URL") && *getenv("VBILL_REDIS_URL"))
        o->redis = getenv("VBILL_REDIS_URL");
    if (!o->state)
        o->state = getenv("VBILL_STATE_DIR");
    if (!o->base_url)
        o->base_url = getenv("VBILL_BASE_URL");
    if (!o->base_url || !*o->base_url)
        o->base_url = DEFAULT_BASE_URL;
    if (strcmp(argv[1], "check") == 0 && (!o->client || !*o->client))
        return cli_fail(EXIT_USAGE, "link check: --client ADDR is needed: the address the "
                                    "customer connects from, as your proxy verified it");
    bool reissue = strcmp(argv[1], "reissue") == 0;
    if (o->npos != (reissue ? 2 : 1))
        return cli_fail(EXIT_USAGE, "link %s: %s needed (see --help)", argv[1],
                        reissue ? "a token and a record file are"
                        : strcmp(argv[1], "issue") == 0 ? "one record file is"
                                                        : "one token is");
    if (!o->key_file || !*o->key_file)
        return cli_fail(EXIT_USAGE, "no key file: use --key-file FILE or set VBILL_KEY_FILE "
                                    "(make one with `vbill keygen > FILE`)");
    return -1;
}

static int open_store(vbill_ctx *ctx, const link_opts *o, vbill_store **store)
{
    vbill_status st;
    if (o->redis) {
        char url[1024];
        if (!cli_redis_url(o->redis, url, sizeof url))
            return EXIT_USAGE;
        st = vbill_store_open_redis_url(ctx, url, NULL, store);
        memset(url, 0, sizeof url);
        if (st == VBILL_ERR_ARG)
            return cli_fail(EXIT_USAGE, "--redis: %s", vbill_ctx_errmsg(ctx));
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

/* The link's URL, then its SMS text. */
static int print_link(vbill_ctx *ctx, const link_opts *o, const vbill_bill *bill,
                      const char *token)
{
    char *tmpl = NULL, *msg = NULL;
    if (o->tmpl && !(tmpl = cli_read_file(o->tmpl, 1 << 16, NULL)))
        return EXIT_USAGE;
    size_t bl = strlen(o->base_url);
    bool slash = bl > 0 && o->base_url[bl - 1] == '/';
    size_t n = bl + strlen(token) + 2;
    char *url = malloc(n);
    vbill_status st = url ? VBILL_OK : VBILL_ERR_NOMEM;
    if (url)
        snprintf(url, n, "%s%s%s", o->base_url, slash ? "" : "/", token);
    if (!st)
        st = vbill_message_build(ctx, bill, url, tmpl, &msg);
    int rc = EXIT_OK;
    if (st)
        rc = cli_fail(link_status_exit(st) == EXIT_LINK ? EXIT_FAIL : link_status_exit(st), "%s",
                      vbill_ctx_errmsg(ctx));
    else
        printf("%s\n%s\n", url, msg);
    vbill_free(msg);
    free(url);
    free(tmpl);
    return rc;
}

static int link_issue(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o)
{
    int64_t ttl = 30 * 86400;
    if (o->ttl && !parse_ttl(o->ttl, &ttl))
        return cli_fail(EXIT_USAGE, "--ttl: expected a lifetime like 30d, 12h, 90m, got %s",
                        o->ttl);
    bool reissue = o->npos == 2;
    vbill_status st;
    vbill_bill *bill = cli_bill(ctx, o->pos[reissue ? 1 : 0], &st);
    if (!bill)
        return st == VBILL_ERR_IO ? EXIT_USAGE
                                  : cli_fail(link_status_exit(st) == EXIT_LINK ? EXIT_FAIL
                                                                                : link_status_exit(st),
                                             "%s", vbill_ctx_errmsg(ctx));
    char *token = NULL;
    vbill_store *store = NULL;
    int rc = -1;
    if (reissue && (rc = open_store(ctx, o, &store)) >= 0) {
        vbill_bill_free(bill);
        return rc;
    }
    st = reissue ? vbill_link_reissue(ctx, keys, store, token_of(o->pos[0]), bill, 0, ttl, &token)
                 : vbill_link_issue(ctx, keys, bill, 0, ttl, &token);
    if (st)
        rc = cli_fail(reissue ? link_status_exit(st)
                      : link_status_exit(st) == EXIT_LINK ? EXIT_FAIL
                                                          : link_status_exit(st),
                      "%s", vbill_ctx_errmsg(ctx));
    else
        rc = print_link(ctx, o, bill, token);
    vbill_free(token);
    vbill_store_free(store);
    vbill_bill_free(bill);
    return rc;
}

static int link_verify(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o)
{
    /* The store is consulted when one is named (a state directory that exists: verifying
     * never creates one). */
    vbill_store *store = NULL;
    struct stat sb;
    if (o->redis || (o->state && *o->state && (o->state_given || stat(o->state, &sb) == 0))) {
        int rc = open_store(ctx, o, &store);
        if (rc >= 0)
            return rc;
    }
    char *info = NULL;
    vbill_status st = vbill_link_verify_store(ctx, keys, store, token_of(o->pos[0]), 0, &info);
    vbill_store_free(store);
    if (st)
        return cli_fail(link_status_exit(st), "refused: %s (%s)", vbill_ctx_errmsg(ctx),
                        vbill_strerror(st));
    printf("%s\n", info);
    vbill_free(info);
    return EXIT_OK;
}

static int link_check(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o)
{
    /* The link is verified before the store is even opened: a bad link costs nothing. */
    const char *token = token_of(o->pos[0]);
    vbill_status st = vbill_link_verify(ctx, keys, token, 0, NULL);
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
    st = vbill_auth_check(ctx, keys, store, token, digits, o->client, 0, &session);
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

/* unlock or revoke */
static int link_store_op(vbill_ctx *ctx, vbill_keys *keys, const link_opts *o, bool revoke)
{
    vbill_store *store = NULL;
    int rc = open_store(ctx, o, &store);
    if (rc >= 0)
        return rc;
    vbill_status st = revoke ? vbill_link_revoke(ctx, keys, store, token_of(o->pos[0]))
                             : vbill_link_unlock(ctx, keys, store, token_of(o->pos[0]));
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
    static const char *const subs[] = {"issue", "verify", "check", "unlock", "revoke", "reissue"};
    bool known = false;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        known = known || strcmp(sub, subs[i]) == 0;
    if (!known)
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
    vbill_ctx *ctx = cli_ctx();
    vbill_keys *keys = NULL;
    if (!(keys = cli_keys(ctx, o.key_file, o.pepper_file)))
        rc = EXIT_USAGE;
    else if (strcmp(sub, "issue") == 0 || strcmp(sub, "reissue") == 0)
        rc = link_issue(ctx, keys, &o);
    else if (strcmp(sub, "verify") == 0)
        rc = link_verify(ctx, keys, &o);
    else if (strcmp(sub, "check") == 0)
        rc = link_check(ctx, keys, &o);
    else
        rc = link_store_op(ctx, keys, &o, strcmp(sub, "revoke") == 0);
    vbill_keys_free(keys);
    vbill_ctx_free(ctx);
    return rc;
}
