/* cmd_hooks.c: vbill hooks: queue events durably, deliver them, inspect the outbox. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(FILE *out, int code)
{
    fprintf(out,
        "usage: vbill hooks [--hooks FILE] [--state DIR] COMMAND [ARGS]\n\n"
        "Events for the carrier's help desk, kept in a durable outbox (STATE/outbox.sqlite)\n"
        "and delivered at least once to the sinks of the hooks configuration.\n\n"
        "commands:\n"
        "  emit TYPE [DATA.json|-]   queue one event durably and print its id\n"
        "       [--subject ID]       the subscriber id (default: data.subscriber_id or data.id)\n"
        "       [--record FILE]      fill the data from a subscriber record (scenario, period,\n"
        "                            amounts, texts; never the birth date); DATA adds members\n"
        "       [--link URL]         the link to the customer's video (with --record)\n"
        "       [--still VIDEO --position S]  attach a JPEG still of the frame at S seconds\n"
        "       [--jsonl]            DATA holds one event's data per line (JSON Lines): queue\n"
        "                            each, print one id per line\n"
        "  pump [--until-empty] [--timeout S]\n"
        "                            deliver what is due (with --until-empty: wait for retries\n"
        "                            until nothing is pending; at most S seconds, default 60)\n"
        "  status                    counts by state (JSON)\n"
        "  dead                      the dead letters, one JSON object per line\n"
        "  replay ID|--all           move dead letters back to the outbox\n"
        "  purge                     delete now the events delivered or dead longer ago than\n"
        "                            the configuration's retention_days (default 30; the\n"
        "                            pump also does it now and then); prints the count\n\n"
        "options:\n"
        "  --hooks FILE   sink configuration (JSON); default $VBILL_HOOKS_CONFIG\n"
        "  --state DIR    state directory holding the outbox; default $VBILL_STATE_DIR\n"
        "  -v, --verbose  log each delivery attempt on standard error\n\n"
        "Exit status: 0 success, 1 failure (or pump --until-empty timed out with events\n"
        "pending), 2 usage error or unreadable input, 20 (replay) no such dead letter.\n");
    return code;
}

static void log_verbose(void *user, vbill_log_level level, const char *msg)
{
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "vbill: %s: %s\n", names[level & 3], msg);
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail_hooks(const vbill_hooks *h, vbill_status st)
{
    const char *m = vbill_hooks_errmsg(h);
    return cli_fail(st == VBILL_ERR_ARG || st == VBILL_ERR_JSON ? EXIT_USAGE : EXIT_FAIL, "%s",
                    m && *m ? m : vbill_strerror(st));
}

int cmd_hooks(int argc, char **argv)
{
    const char *config = getenv("VBILL_HOOKS_CONFIG"), *state = getenv("VBILL_STATE_DIR");
    const char *subject = NULL, *record = NULL, *link = NULL, *still = NULL, *position = NULL;
    const char *timeout = NULL;
    bool until_empty = false, all = false, verbose = false, jsonl = false;
    const char *pos[4];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        const char *a = argv[i];
        if (cli_is_help(a))
            return usage(stdout, EXIT_OK);
        struct { const char *name; const char **dst; } opts[] = {
            {"--hooks", &config}, {"--state", &state}, {"--subject", &subject},
            {"--record", &record}, {"--link", &link}, {"--still", &still},
            {"--position", &position}, {"--timeout", &timeout}};
        bool matched = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++) {
            if ((v = cli_opt(argc, argv, &i, opts[k].name, &missing))) {
                *opts[k].dst = v;
                matched = true;
            } else if (missing) {
                return cli_fail(EXIT_USAGE, "%s needs a value", opts[k].name);
            }
        }
        if (matched)
            continue;
        if (strcmp(a, "--until-empty") == 0)
            until_empty = true;
        else if (strcmp(a, "--jsonl") == 0)
            jsonl = true;
        else if (strcmp(a, "--all") == 0)
            all = true;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            verbose = true;
        else if (a[0] == '-' && a[1] != '\0') {
            cli_fail(EXIT_USAGE, "unknown option '%s'", a);
            return usage(stderr, EXIT_USAGE);
        } else if (npos < 4)
            pos[npos++] = a;
        else
            return cli_fail(EXIT_USAGE, "too many arguments (try vbill hooks --help)");
    }
    if (npos == 0) {
        usage(stderr, EXIT_USAGE);
        return EXIT_USAGE;
    }
    const char *cmd = pos[0];
    static const char *const cmds[] = {"emit", "pump", "status", "dead", "replay", "purge"};
    bool known = false;
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        known |= strcmp(cmd, cmds[k]) == 0;
    if (!known)
        return cli_fail(EXIT_USAGE, "unknown hooks command '%s' (emit, pump, status, dead, "
                        "replay, purge)", cmd);
    int want = strcmp(cmd, "emit") == 0 ? 2 : strcmp(cmd, "replay") == 0 ? (all ? 1 : 2) : 1;
    if (strcmp(cmd, "emit") == 0 && (npos < 2 || npos > 3))
        return cli_fail(EXIT_USAGE, "usage: vbill hooks emit TYPE [DATA.json|-]");
    if (strcmp(cmd, "emit") != 0 && npos != want)
        return cli_fail(EXIT_USAGE, strcmp(cmd, "replay") == 0
                        ? "usage: vbill hooks replay ID|--all"
                        : "'hooks %s' takes no arguments", cmd);
    if (strcmp(cmd, "emit") == 0 && npos == 2 && !record)
        return cli_fail(EXIT_USAGE, "emit needs DATA.json (or --record FILE)");
    if (!state || !*state)
        return cli_fail(EXIT_USAGE, "no state directory: give --state DIR or set VBILL_STATE_DIR");
    if ((still != NULL) != (position != NULL))
        return cli_fail(EXIT_USAGE, "--still and --position go together");
    double position_s = 0, timeout_s = 60;
    if (position) {
        char *end;
        position_s = strtod(position, &end);
        if (*end || end == position || position_s < 0)
            return cli_fail(EXIT_USAGE, "--position must be seconds (a number >= 0)");
    }
    if (timeout) {
        char *end;
        timeout_s = strtod(timeout, &end);
        if (*end || end == timeout || !(timeout_s > 0 && timeout_s <= 86400))
            return cli_fail(EXIT_USAGE, "--timeout must be seconds (0 < S <= 86400)");
    }

    vbill_ctx *ctx = cli_ctx();
    if (verbose)
        vbill_ctx_set_log(ctx, log_verbose, NULL, VBILL_LOG_INFO);
    char *cfg = NULL;
    if (config && *config) {
        size_t len;
        cfg = cli_read_file(config, 1 << 20, &len);
        if (!cfg) {
            vbill_ctx_free(ctx);
            return EXIT_USAGE;
        }
    } else if (strcmp(cmd, "emit") == 0 || strcmp(cmd, "pump") == 0) {
        fprintf(stderr, "vbill: warning: no hooks configuration (--hooks or VBILL_HOOKS_CONFIG):"
                " no sinks\n");
    }
    vbill_hooks *h = NULL;
    vbill_status st = vbill_hooks_open(ctx, state, cfg, &h);
    if (cfg)
        explicit_bzero(cfg, strlen(cfg)); /* it holds the desks' tokens and webhook secrets */
    free(cfg);
    if (st) {
        int rc = cli_fail(st == VBILL_ERR_HOOK || st == VBILL_ERR_JSON ? EXIT_USAGE : EXIT_FAIL,
                          "%s", vbill_ctx_errmsg(ctx));
        vbill_ctx_free(ctx);
        return rc;
    }
    int rc = EXIT_OK;
    char *out = NULL;
    if (strcmp(cmd, "emit") == 0) {
        char *data = NULL, *filled = NULL;
        size_t len;
        if (npos == 3 && !(data = cli_read_file(pos[2], jsonl ? 64u << 20 : 1u << 20, &len))) {
            rc = EXIT_USAGE;
            goto done;
        }
        if (record) {
            vbill_bill *bill = cli_bill(ctx, record, &st);
            if (bill)
                st = vbill_hooks_event_data(ctx, bill, link, data, &filled);
            vbill_bill_free(bill);
            if (st) {
                free(data);
                rc = st == VBILL_ERR_IO ? EXIT_USAGE
                                        : cli_fail(EXIT_USAGE, "%s: %s", record,
                                                   vbill_ctx_errmsg(ctx));
                goto done;
            }
        }
        if (jsonl) {
            if (record || still || !data) {
                free(data);
                vbill_free(filled);
                rc = cli_fail(EXIT_USAGE, "--jsonl takes DATA only (no --record or --still)");
                goto done;
            }
            long line = 0;
            for (char *p = data, *nl; p && *p; p = nl ? nl + 1 : NULL) {
                nl = strchr(p, '\n');
                if (nl)
                    *nl = '\0';
                line++;
                if (strspn(p, " \t\r") == strlen(p))
                    continue;
                char *id = NULL;
                st = vbill_hooks_emit(h, pos[1], subject, p, &id);
                if (st) {
                    rc = cli_fail(EXIT_USAGE, "%s line %ld: %s", pos[2], line,
                                  vbill_hooks_errmsg(h));
                    continue;
                }
                printf("%s\n", id);
                vbill_free(id);
            }
            free(data);
            goto done;
        }
        const char *d = filled ? filled : data;
        unsigned char *jpeg = NULL;
        size_t jpeg_len = 0;
        if (still && vbill_still_jpeg(ctx, still, position_s, 0, &jpeg, &jpeg_len) != VBILL_OK)
            fprintf(stderr, "vbill: warning: no still attached: %s\n", vbill_ctx_errmsg(ctx));
        st = vbill_hooks_emit_still(h, pos[1], subject, d, jpeg, jpeg_len, &out);
        vbill_free(jpeg);
        free(data);
        vbill_free(filled);
        if (st) {
            rc = cli_fail(st == VBILL_ERR_STORE || st == VBILL_ERR_IO ? EXIT_FAIL : EXIT_USAGE,
                          "%s", vbill_hooks_errmsg(h));
            goto done;
        }
        printf("%s\n", out);
    } else if (strcmp(cmd, "pump") == 0) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        int64_t end = now_ms() + (int64_t)(timeout_s * 1000);
        size_t total = 0, pending = 0;
        for (;;) {
            size_t n = 0;
            int64_t left = end - now_ms();
            st = vbill_hooks_pump(h, left > 0 ? (unsigned)left : 1, &n);
            total += n;
            if (st) {
                rc = fail_hooks(h, st);
                goto done;
            }
            int64_t due = 0;
            if ((st = vbill_hooks_pending(h, &pending, &due))) {
                rc = fail_hooks(h, st);
                goto done;
            }
            if (!until_empty || pending == 0 || interrupted || now_ms() >= end)
                break;
            int64_t wait = due - now_ms();
            if (wait > end - now_ms())
                wait = end - now_ms();
            if (wait > 200)
                wait = 200; /* stay responsive to signals and replays */
            sleep_ms(wait);
        }
        printf("{\"delivered\":%zu,\"pending\":%zu}\n", total, pending);
        if (until_empty && pending > 0) {
            rc = cli_fail(EXIT_FAIL, "%zu deliveries still pending after %g s", pending,
                          timeout_s);
        }
    } else if (strcmp(cmd, "status") == 0) {
        if ((st = vbill_hooks_status(h, &out))) {
            rc = fail_hooks(h, st);
            goto done;
        }
        printf("%s\n", out);
    } else if (strcmp(cmd, "dead") == 0) {
        if ((st = vbill_hooks_dead(h, &out))) {
            rc = fail_hooks(h, st);
            goto done;
        }
        /* one dead letter per line: easy to grep and count */
        size_t depth = 0;
        bool in_str = false, esc = false;
        for (const char *p = out + 1; *p && p[1]; p++) {
            char c = *p;
            if (in_str) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"')
                    in_str = false;
            } else if (c == '"') {
                in_str = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                depth--;
            } else if (c == ',' && depth == 0) {
                putchar('\n');
                continue;
            }
            putchar(c);
        }
        if (strcmp(out, "[]") != 0)
            putchar('\n');
    } else if (strcmp(cmd, "purge") == 0) {
        size_t n = 0;
        if ((st = vbill_hooks_purge(h, &n))) {
            rc = fail_hooks(h, st);
            goto done;
        }
        printf("{\"purged\":%zu}\n", n);
    } else {
        size_t n = 0;
        st = vbill_hooks_replay(h, all ? NULL : pos[1], &n);
        if (st) {
            rc = st == VBILL_ERR_NOT_FOUND ? (cli_fail(20, "%s", vbill_hooks_errmsg(h)), 20)
                                           : fail_hooks(h, st);
            goto done;
        }
        printf("{\"replayed\":%zu}\n", n);
    }
done:
    vbill_free(out);
    vbill_hooks_free(h);
    vbill_ctx_free(ctx);
    return rc;
}
