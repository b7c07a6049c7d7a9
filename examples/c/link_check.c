/*
 * link_check.c: issue a signed link for a subscriber, verify it, build the SMS, then run the
 * customer's birth-date check (a wrong try, then the right one), verify the session, and
 * re-issue the link as the help desk would (the old one is then revoked).
 *
 *   cc link_check.c $(pkg-config --cflags --libs libvbill) -o link_check
 *   ./link_check record.json 580314 /var/lib/vbill
 *
 * In production the key file is made once (`vbill keygen --out keys.json`: created 0600; a
 * key file that group or others may read, or a symlink, is refused) and shared by every
 * viewer server; vbill_keys_load() reads it, vbill_keys_load_peppers() the peppers when they
 * are kept apart (`vbill keygen --out keys.json --pepper-out peppers.json`).  Here a fresh
 * key set is generated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vbill.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20); /* a record is far below 1 MiB */
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static int fail(vbill_ctx *ctx, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, vbill_ctx_errmsg(ctx));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s RECORD.json DIGITS STATE_DIR\n", argv[0]);
        return 2;
    }
    char *record = read_file(argv[1]);
    if (!record) {
        perror(argv[1]);
        return 2;
    }
    vbill_ctx *ctx;
    vbill_keys *keys = NULL;
    vbill_store *store = NULL;
    vbill_bill *bill = NULL;
    char *keyfile = NULL, *token = NULL, *info = NULL, *sms = NULL, *session = NULL;
    char *new_token = NULL;
    int rc = 1;
    if (vbill_ctx_new(&ctx) != VBILL_OK)
        return 1;
    if (vbill_keys_generate(ctx, NULL, &keyfile) != VBILL_OK ||
        vbill_keys_from_json(ctx, keyfile, (size_t)-1, &keys) != VBILL_OK) {
        rc = fail(ctx, "keys");
        goto out;
    }
    /* The attempt counters live in a store shared by every process (SQLite here). */
    if (vbill_store_open_sqlite(ctx, argv[3], &store) != VBILL_OK) {
        rc = fail(ctx, "store");
        goto out;
    }
    /* The bill: the record validated, classified and filled once; every step below takes it. */
    if (vbill_bill_new(ctx, record, strlen(record), 0, &bill) != VBILL_OK) {
        rc = fail(ctx, "record");
        goto out;
    }
    /* A link valid for 7 days; now = 0 means the current time. */
    if (vbill_link_issue(ctx, keys, bill, 0, 7 * 86400, &token) != VBILL_OK) {
        rc = fail(ctx, "issue");
        goto out;
    }
    printf("link issued (%zu characters)\n", strlen(token));
    /* What a viewer server does first with a token from a URL (with its store, so that a
     * revoked link is refused): no personal data comes back. */
    if (vbill_link_verify_store(ctx, keys, store, token, 0, &info) != VBILL_OK) {
        rc = fail(ctx, "verify");
        goto out;
    }
    printf("verified: %s\n", info);
    char url[512];
    snprintf(url, sizeof url, "https://bill.example.com/v/%s", token);
    if (vbill_message_build(ctx, bill, url, NULL, &sms) != VBILL_OK) {
        rc = fail(ctx, "sms");
        goto out;
    }
    printf("sms: %s\n", sms);

    /* The customer types six digits; a wrong try is refused and counted.  The client is the
     * address the server saw (or its own proxy verified): required. */
    vbill_status st = vbill_auth_check(ctx, keys, store, token, "000000", "203.0.113.7", 0, NULL);
    printf("wrong digits refused: %s (%s)\n", st == VBILL_ERR_AUTH_WRONG ? "yes" : "NO",
           vbill_ctx_errmsg(ctx));
    if (vbill_auth_check(ctx, keys, store, token, argv[2], "203.0.113.7", 0, &session) !=
        VBILL_OK) {
        rc = fail(ctx, "check");
        goto out;
    }
    printf("check passed: session issued\n");
    if (vbill_session_verify(ctx, keys, store, session, token, "203.0.113.7", 0) != VBILL_OK) {
        rc = fail(ctx, "session");
        goto out;
    }
    printf("session verified\n");

    /* The help desk re-issues the link (a new phone, say): the old link and its sessions are
     * revoked in the store; the new one shares the subscriber's bound (no new guesses). */
    if (vbill_link_reissue(ctx, keys, store, token, bill, 0, 7 * 86400, &new_token) !=
        VBILL_OK) {
        rc = fail(ctx, "reissue");
        goto out;
    }
    st = vbill_link_verify_store(ctx, keys, store, token, 0, NULL);
    printf("old link revoked: %s (%s)\n", st == VBILL_ERR_LINK_EXPIRED ? "yes" : "NO",
           vbill_ctx_errmsg(ctx));
    st = vbill_session_verify(ctx, keys, store, session, token, "203.0.113.7", 0);
    printf("old session revoked: %s\n", st == VBILL_ERR_SESSION ? "yes" : "NO");
    if (vbill_link_verify_store(ctx, keys, store, new_token, 0, NULL) != VBILL_OK) {
        rc = fail(ctx, "new link");
        goto out;
    }
    printf("new link verified\n");
    rc = 0;
out:
    vbill_free(new_token);
    vbill_free(session);
    vbill_free(sms);
    vbill_free(info);
    vbill_free(token);
    vbill_free(keyfile);
    vbill_store_free(store);
    vbill_bill_free(bill);
    vbill_keys_free(keys);
    vbill_ctx_free(ctx);
    free(record);
    return rc;
}
