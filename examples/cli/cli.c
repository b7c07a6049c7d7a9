/* cli.c: helpers shared by the vbill subcommands. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("vbill: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

bool cli_is_help(const char *s) { return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0; }

char *cli_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_fail(EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= max) {
                cli_fail(EXIT_USAGE, "%s is larger than %zu bytes", path, max);
                free(buf);
                buf = NULL;
                break;
            }
            cap = cap * 2 > max ? max : cap * 2;
            char *p = realloc(buf, cap + 1);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                cli_fail(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

int cli_write_atomic(const char *path, const void *data, size_t len)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return cli_fail(-1, "out of memory");
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_fail(-1, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    ok = f && fflush(f) == 0 && ok && fsync(fd) == 0;
    if (f ? fclose(f) != 0 : close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) == 0) {
        free(tmp);
        return 0;
    }
    cli_fail(-1, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
}

const char *cli_opt(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static void log_stderr(void *user, vbill_log_level level, const char *msg)
{
    (void)user;
    fprintf(stderr, "vbill: %s%s\n", level == VBILL_LOG_ERROR ? "error: " : "", msg);
}

vbill_ctx *cli_ctx(void)
{
    vbill_ctx *ctx = NULL;
    if (vbill_ctx_new(&ctx) != VBILL_OK) {
        fputs("vbill: cannot create a context (out of memory)\n", stderr);
        exit(EXIT_FAIL);
    }
    vbill_ctx_set_log(ctx, log_stderr, NULL, VBILL_LOG_WARN);
    return ctx;
}

vbill_bill *cli_bill(vbill_ctx *ctx, const char *path, vbill_status *st)
{
    size_t len = 0;
    char *json = cli_read_file(path, 1 << 20, &len);
    if (!json) {
        *st = VBILL_ERR_IO;
        return NULL;
    }
    vbill_bill *bill = NULL;
    /* a serialised bill names its schema; anything else is a subscriber record */
    if (strstr(json, "\"vbill_bill\""))
        *st = vbill_bill_from_json(ctx, json, len, &bill);
    else
        *st = vbill_bill_new(ctx, json, len, 0, &bill);
    free(json);
    return bill;
}

vbill_keys *cli_keys(vbill_ctx *ctx, const char *key_file, const char *pepper_file)
{
    vbill_keys *keys = NULL;
    if (vbill_keys_load(ctx, key_file, &keys) != VBILL_OK) {
        cli_fail(EXIT_USAGE, "%s", vbill_ctx_errmsg(ctx));
        return NULL;
    }
    if (!pepper_file)
        pepper_file = getenv("VBILL_PEPPER_FILE");
    const char *text = getenv("VBILL_PEPPER");
    vbill_status st = VBILL_OK;
    if (pepper_file && *pepper_file)
        st = vbill_keys_load_peppers(keys, pepper_file);
    else if (text && *text)
        st = vbill_keys_add_peppers(keys, text, (size_t)-1);
    if (st) {
        cli_fail(EXIT_USAGE, "%s%s", pepper_file && *pepper_file ? "" : "VBILL_PEPPER: ",
                 vbill_keys_errmsg(keys));
        vbill_keys_free(keys);
        return NULL;
    }
    return keys;
}

const char *cli_redis_url(const char *arg, char *url, size_t size)
{
    if (!arg)
        arg = getenv("VBILL_REDIS_URL");
    if (!arg || !*arg)
        return NULL;
    if ((size_t)snprintf(url, size, "%s%s", strstr(arg, "://") ? "" : "redis://", arg) >= size) {
        cli_fail(EXIT_USAGE, "--redis: URL too long");
        return NULL;
    }
    return url;
}
