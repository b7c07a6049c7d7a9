/*
 * test_auth.c: signed links, the birth-date check, the limiter (through a SQLite store),
 * sessions, key rotation and the SMS text, through the public API.
 */
#define _GNU_SOURCE
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vbill.h"

/* SPEC.md's worked example: birth 1958-03-14, so the digits are 580314. */
static const char *const REC_A = TU_SPEC_EXAMPLE;
#define DIGITS_A "580314"

/* Another subscriber, born 1990-07-21. */
static const char *REC_B =
    "{\"id\":\"S-000999\",\"name\":\"이영희\",\"birth\":\"1990-07-21\",\"locale\":\"ko-KR\","
    "\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\","
    "\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\","
    "\"product\":\"5G\",\"event\":\"device_change\",\"start\":\"2026-11-10\","
    "\"monthly_fee\":50000}]}";
#define DIGITS_B "900721"

static const char *REC_EN =
    "{\"id\":\"U-1\",\"name\":\"John Smith\",\"birth\":\"1980-01-02\",\"locale\":\"en-US\","
    "\"currency\":\"USD\",\"bill\":{\"issue_date\":\"2026-12-05\",\"cycle_start\":\"2026-11-01\","
    "\"cycle_end\":\"2026-11-30\"},\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\","
    "\"product\":\"5G\",\"event\":\"device_change\",\"start\":\"2026-11-10\","
    "\"monthly_fee\":5000}]}";

#define T0 1795000000LL /* a fixed clock: 2026-11-18 */
#define TTL (30LL * 86400)

static vbill_ctx *ctx;
static vbill_keys *keys;
static char *keyjson;
static vbill_store *store;

/* The link calls on the bill of a record (a record that makes no bill gives its error). */
static vbill_status issue_rec(vbill_ctx *c, const vbill_keys *k, const char *rec, size_t len,
                              int64_t now, int64_t ttl, char **tok)
{
    vbill_bill *bill = NULL;
    *tok = NULL;
    vbill_status st = vbill_bill_new(c, rec, len, 0, &bill);
    if (st == VBILL_OK)
        st = vbill_link_issue(c, k, bill, now, ttl, tok);
    vbill_bill_free(bill);
    return st;
}

static vbill_status reissue_rec(vbill_ctx *c, const vbill_keys *k, const char *old,
                                const char *rec, size_t len, int64_t now, int64_t ttl, char **tok)
{
    vbill_bill *bill = NULL;
    *tok = NULL;
    vbill_status st = vbill_bill_new(c, rec, len, 0, &bill);
    if (st == VBILL_OK)
        st = vbill_link_reissue(c, k, store, old, bill, now, ttl, tok);
    vbill_bill_free(bill);
    return st;
}

static vbill_status message_rec(vbill_ctx *c, const char *rec, size_t len, const char *url,
                                const char *tmpl, char **out)
{
    vbill_bill *bill = NULL;
    *out = NULL;
    vbill_status st = vbill_bill_new(c, rec, len, 0, &bill);
    if (st == VBILL_OK)
        st = vbill_message_build(c, bill, url, tmpl, out);
    vbill_bill_free(bill);
    return st;
}
static char *tmpdir;

/* Everything the library logs, kept to search for the birth digits. */
static char logbuf[1 << 20];
static size_t loglen;
static void capture_log(void *user, vbill_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    size_t n = strlen(msg);
    if (loglen + n + 2 < sizeof logbuf) {
        memcpy(logbuf + loglen, msg, n);
        loglen += n;
        logbuf[loglen++] = '\n';
        logbuf[loglen] = '\0';
    }
}

/* Every error message, too. */
static char errbuf[1 << 18];
static size_t errlen;
static vbill_status note(vbill_status st)
{
    const char *m = vbill_ctx_errmsg(ctx);
    size_t n = strlen(m);
    if (st && errlen + n + 2 < sizeof errbuf) {
        memcpy(errbuf + errlen, m, n);
        errlen += n;
        errbuf[errlen++] = '\n';
        errbuf[errlen] = '\0';
    }
    return st;
}

static void setup(void)
{
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    vbill_ctx_set_log(ctx, capture_log, NULL, VBILL_LOG_DEBUG);
    ck_assert_int_eq(vbill_keys_generate(ctx, NULL, &keyjson), VBILL_OK);
    ck_assert_int_eq(vbill_keys_from_json(ctx, keyjson, (size_t)-1, &keys), VBILL_OK);
    tmpdir = tu_tmpdir();
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &store), VBILL_OK);
}

static void teardown(void)
{
    /* The factor never reaches a log line or an error message. */
    ck_assert_ptr_null(strstr(logbuf, DIGITS_A));
    ck_assert_ptr_null(strstr(logbuf, DIGITS_B));
    ck_assert_ptr_null(strstr(logbuf, "1958-03-14"));
    ck_assert_ptr_null(strstr(errbuf, DIGITS_A));
    ck_assert_ptr_null(strstr(errbuf, DIGITS_B));
    ck_assert_ptr_null(strstr(errbuf, "1958-03-14"));
    vbill_store_free(store);
    vbill_keys_free(keys);
    vbill_free(keyjson);
    vbill_ctx_free(ctx);
    tu_rmtree(tmpdir);
    free(tmpdir);
}

static char *issue(const vbill_keys *k, const char *rec, int64_t now)
{
    char *tok = NULL;
    ck_assert_int_eq(note(issue_rec(ctx, k, rec, strlen(rec), now, TTL, &tok)), VBILL_OK);
    ck_assert_ptr_nonnull(tok);
    return tok;
}

static vbill_status verify(const vbill_keys *k, const char *tok, int64_t now)
{
    char *info = (char *)1;
    vbill_status st = note(vbill_link_verify(ctx, k, tok, now, &info));
    if (st)
        ck_assert_ptr_null(info);
    vbill_free(info);
    return st;
}

static vbill_status check(const char *tok, const char *digits, const char *client, int64_t now,
                          char **session)
{
    return note(vbill_auth_check(ctx, keys, store, tok, digits, client, now, session));
}

/* ---- a strict base64url codec for the tests' own tampering ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64dec(const char *s, unsigned char *out)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s; s++) {
        const char *p = strchr(B64, *s);
        ck_assert_ptr_nonnull(p);
        acc = (acc << 6) | (unsigned)(p - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static void b64enc(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = B64[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = B64[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}


/* ---- authentic tokens with odd payloads: made here from the key file, the way auth.c does
 * (HMAC-SHA256 key derivation, tag over header and plaintext, AES-256-CTR with the tag as IV),
 * to reach the payload parser behind the signature check. ---- */

#include <openssl/evp.h>

static void derive(const unsigned char *secret, const char *label, unsigned char out[32])
{
    size_t n = 0;
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, 32,
                                    (const unsigned char *)label, strlen(label), out, 32, &n));
}

static char *craft(const unsigned char *pt, size_t n)
{
    cJSON *j = cJSON_Parse(keyjson);
    cJSON *k = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "keys"), 0);
    unsigned char secret[64], kid[8], mk[32], ek[32], full[32], raw[512], iv[16] = {0};
    ck_assert_uint_eq(b64dec(cJSON_GetObjectItem(k, "secret")->valuestring, secret), 32);
    const char *kh = cJSON_GetObjectItem(k, "kid")->valuestring;
    for (int i = 0; i < 2; i++) {
        unsigned v;
        sscanf(kh + 2 * i, "%2x", &v);
        kid[i] = (unsigned char)v;
    }
    cJSON_Delete(j);
    derive(secret, "vbill link mac v1", mk);
    derive(secret, "vbill link enc v1", ek);
    raw[0] = 1;
    raw[1] = kid[0];
    raw[2] = kid[1];
    unsigned char buf[512];
    memcpy(buf, raw, 3);
    memcpy(buf + 3, pt, n);
    size_t ol = 0;
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mk, 32, buf, 3 + n, full,
                                    32, &ol));
    memcpy(raw + 3, full, 12);
    memcpy(iv, full, 12);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    ck_assert_int_eq(EVP_EncryptInit_ex2(c, EVP_aes_256_ctr(), ek, iv, NULL), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, raw + 15, &l1, pt, (int)n), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(c, raw + 15 + l1, &l2), 1);
    EVP_CIPHER_CTX_free(c);
    char *out = malloc(800);
    b64enc(raw, 15 + n, out);
    return out;
}

START_TEST(authentic_odd_payloads)
{
    /* First: a crafted ordinary payload verifies, so the crafting is right. */
    unsigned char pt[300] = {0};
    pt[0] = 0x7f; /* expiry far ahead */
    pt[15] = 2;   /* mobile_new_bundle */
    memcpy(pt + 16, "S-1", 3);
    char *t = craft(pt, 19);
    ck_assert_int_eq(verify(keys, t, T0), VBILL_OK);
    free(t);
    /* Odd ones are refused as malformed, never crash or over-read. */
    struct {
        size_t n;
        unsigned char code, extra;
    } cases[] = {
        {16, 2, 0},      /* no subscriber id */
        {16 + 65, 2, 0}, /* an id longer than 64 */
        {17, 8, 0},      /* unknown scenario code */
        {17, 0xFF, 0},   /* text scenario without its length */
        {18, 0xFF, 1},   /* text scenario, nothing left for the id */
        {20, 0xFF, 0},   /* text scenario of length 0 */
        {200, 0xFF, 90}, /* text scenario longer than 63 */
        {19, 0xFF, 200}, /* length beyond the token */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(pt + 15, 'a', sizeof pt - 15);
        pt[15] = cases[i].code;
        if (cases[i].code == 0xFF && cases[i].n > 16)
            pt[16] = cases[i].extra;
        t = craft(pt, cases[i].n);
        ck_assert_msg(verify(keys, t, T0) == VBILL_ERR_LINK_MALFORMED, "case %zu", i);
        free(t);
    }
    /* A custom scenario id travels as text. */
    memset(pt + 15, 0, sizeof pt - 15);
    pt[15] = 0xFF;
    pt[16] = 5;
    memcpy(pt + 17, "promo", 5);
    memcpy(pt + 22, "S-2", 3);
    t = craft(pt, 25);
    char *info = NULL;
    ck_assert_int_eq(vbill_link_verify(ctx, keys, t, T0, &info), VBILL_OK);
    ck_assert_ptr_nonnull(strstr(info, "\"scenario\":\"promo\""));
    ck_assert_ptr_nonnull(strstr(info, "\"subscriber\":\"S-2\""));
    vbill_free(info);
    free(t);
}
END_TEST

/* ---- links ---- */

START_TEST(issue_and_verify)
{
    char *tok = issue(keys, REC_A, T0);
    /* URL-safe, short enough for an SMS, and nothing personal readable. */
    ck_assert_uint_eq(strspn(tok, B64), strlen(tok));
    ck_assert_uint_le(strlen(tok), 60);
    unsigned char raw[256];
    size_t n = b64dec(tok, raw);
    ck_assert_ptr_null(memmem(raw, n, "S-000123", 8));
    ck_assert_ptr_null(memmem(raw, n, "000123", 6));
    ck_assert_ptr_null(memmem(raw, n, "mobile", 6));
    ck_assert_ptr_null(strstr(tok, DIGITS_A));
    char *info = NULL;
    ck_assert_int_eq(vbill_link_verify(ctx, keys, tok, T0 + 10, &info), VBILL_OK);
    cJSON *j = cJSON_Parse(info);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "subscriber")->valuestring, "S-000123");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "scenario")->valuestring, "mobile_new_bundle");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "cycle_start")->valuestring, "2026-11-01");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "cycle_end")->valuestring, "2026-11-30");
    ck_assert_int_eq((long long)cJSON_GetObjectItem(j, "expires_unix")->valuedouble, T0 + TTL);
    ck_assert_ptr_null(strstr(info, "1958"));
    ck_assert_ptr_null(strstr(info, DIGITS_A));
    ck_assert_ptr_null(strstr(info, "김"));
    ck_assert_ptr_null(strstr(info, "01012345678"));
    cJSON_Delete(j);
    vbill_free(info);
    /* Each issue is a distinct token. */
    char *tok2 = issue(keys, REC_A, T0);
    ck_assert_str_ne(tok, tok2);
    vbill_free(tok);
    vbill_free(tok2);
}
END_TEST

START_TEST(expiry)
{
    char *tok = issue(keys, REC_A, T0);
    ck_assert_int_eq(verify(keys, tok, T0 + TTL - 1), VBILL_OK);
    ck_assert_int_eq(verify(keys, tok, T0 + TTL), VBILL_ERR_LINK_EXPIRED);
    ck_assert_int_eq(verify(keys, tok, T0 + TTL + 86400 * 365), VBILL_ERR_LINK_EXPIRED);
    ck_assert_int_eq(check(tok, DIGITS_A, "1.2.3.4", T0 + TTL, NULL), VBILL_ERR_LINK_EXPIRED);
    vbill_free(tok);
}
END_TEST

START_TEST(every_character_changed)
{
    char *tok = issue(keys, REC_A, T0);
    size_t n = strlen(tok);
    char *t = strdup(tok);
    for (size_t i = 0; i < n; i++) {
        for (const char *c = B64; *c; c++) {
            if (*c == tok[i])
                continue;
            t[i] = *c;
            vbill_status st = verify(keys, t, T0);
            ck_assert_msg(st == VBILL_ERR_LINK_SIGNATURE || st == VBILL_ERR_LINK_MALFORMED ||
                              st == VBILL_ERR_LINK_KEY,
                          "position %zu changed to %c: status %d", i, *c, st);
            /* The check refuses it too, before any counting. */
            if (i % 7 == 0 && *c == 'A')
                ck_assert_int_ne(check(t, DIGITS_A, "x", T0, NULL), VBILL_OK);
        }
        t[i] = tok[i];
    }
    free(t);
    vbill_free(tok);
}
END_TEST

START_TEST(every_bit_flipped)
{
    char *tok = issue(keys, REC_A, T0);
    unsigned char raw[256];
    size_t n = b64dec(tok, raw);
    char t[400];
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++) {
            raw[i] ^= (unsigned char)(1u << b);
            b64enc(raw, n, t);
            vbill_status st = verify(keys, t, T0);
            if (i == 0)
                ck_assert_int_eq(st, VBILL_ERR_LINK_MALFORMED); /* the version byte */
            else if (i < 3)
                ck_assert_int_eq(st, VBILL_ERR_LINK_KEY); /* the key id */
            else
                ck_assert_int_eq(st, VBILL_ERR_LINK_SIGNATURE);
            raw[i] ^= (unsigned char)(1u << b);
        }
    vbill_free(tok);
}
END_TEST

START_TEST(truncated_and_extended)
{
    char *tok = issue(keys, REC_A, T0);
    size_t n = strlen(tok);
    char t[400];
    for (size_t len = 0; len < n; len++) {
        memcpy(t, tok, len);
        t[len] = '\0';
        vbill_status st = verify(keys, t, T0);
        ck_assert_msg(st == VBILL_ERR_LINK_SIGNATURE || st == VBILL_ERR_LINK_MALFORMED,
                      "truncated to %zu: status %d", len, st);
    }
    for (const char *c = B64; *c; c++) {
        snprintf(t, sizeof t, "%s%c", tok, *c);
        ck_assert_int_ne(verify(keys, t, T0), VBILL_OK);
        snprintf(t, sizeof t, "%s%c%c", tok, *c, *c);
        ck_assert_int_ne(verify(keys, t, T0), VBILL_OK);
    }
    vbill_free(tok);
}
END_TEST

START_TEST(malformed)
{
    char *tok = issue(keys, REC_A, T0);
    const char *bad[] = {"", "=", "AAAA", "A", "!!!!", "AUkg4pPZd+pWarLBfDRb4gAoTmut8h6ZDBy1E6Vqxly",
                         "AUkg4pPZd/pWarLBfDRb4gAoTmut8h6ZDBy1E6Vqxly", " ", "\xff\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(verify(keys, bad[i], T0), VBILL_ERR_LINK_MALFORMED);
    ck_assert_int_eq(verify(keys, NULL, T0), VBILL_ERR_LINK_MALFORMED);
    char t[512];
    snprintf(t, sizeof t, "%s=", tok);
    ck_assert_int_eq(verify(keys, t, T0), VBILL_ERR_LINK_MALFORMED);
    snprintf(t, sizeof t, " %s", tok);
    ck_assert_int_eq(verify(keys, t, T0), VBILL_ERR_LINK_MALFORMED);
    char *huge = malloc(100001);
    memset(huge, 'A', 100000);
    huge[100000] = '\0';
    ck_assert_int_eq(verify(keys, huge, T0), VBILL_ERR_LINK_MALFORMED);
    free(huge);
    vbill_free(tok);
}
END_TEST

START_TEST(other_keys)
{
    char *other_json = NULL;
    vbill_keys *other = NULL;
    ck_assert_int_eq(vbill_keys_generate(ctx, NULL, &other_json), VBILL_OK);
    ck_assert_int_eq(vbill_keys_from_json(ctx, other_json, (size_t)-1, &other), VBILL_OK);
    char *tok = issue(other, REC_A, T0);
    /* Another key file: either its key id is unknown, or (same id) the signature fails. */
    vbill_status st = verify(keys, tok, T0);
    ck_assert(st == VBILL_ERR_LINK_KEY || st == VBILL_ERR_LINK_SIGNATURE);
    /* Re-signed with a different secret under our own key id: refused as altered. */
    cJSON *mine = cJSON_Parse(keyjson), *theirs = cJSON_Parse(other_json);
    cJSON *mk = cJSON_GetArrayItem(cJSON_GetObjectItem(mine, "keys"), 0);
    cJSON *tk = cJSON_GetArrayItem(cJSON_GetObjectItem(theirs, "keys"), 0);
    cJSON_ReplaceItemInObject(tk, "kid", cJSON_CreateString(cJSON_GetObjectItem(mk, "kid")->valuestring));
    cJSON_ReplaceItemInObject(theirs, "signing",
                              cJSON_CreateString(cJSON_GetObjectItem(mk, "kid")->valuestring));
    char *forged_json = cJSON_PrintUnformatted(theirs);
    vbill_keys *forger = NULL;
    ck_assert_int_eq(vbill_keys_from_json(ctx, forged_json, (size_t)-1, &forger), VBILL_OK);
    char *forged = issue(forger, REC_A, T0);
    ck_assert_int_eq(verify(keys, forged, T0), VBILL_ERR_LINK_SIGNATURE);
    ck_assert_int_eq(check(forged, DIGITS_A, "x", T0, NULL), VBILL_ERR_LINK_SIGNATURE);
    /* Same secret, different pepper: the token verifies with the forger's keys only. */
    ck_assert_int_eq(verify(forger, forged, T0), VBILL_OK);
    cJSON_Delete(mine);
    cJSON_Delete(theirs);
    free(forged_json);
    vbill_free(forged);
    vbill_keys_free(forger);
    vbill_free(tok);
    vbill_keys_free(other);
    vbill_free(other_json);
}
END_TEST

START_TEST(rotation)
{
    char *old_tok = issue(keys, REC_A, T0);
    char *rotated_json = NULL;
    vbill_keys *rotated = NULL;
    ck_assert_int_eq(vbill_keys_generate(ctx, keyjson, &rotated_json), VBILL_OK);
    ck_assert_int_eq(vbill_keys_from_json(ctx, rotated_json, (size_t)-1, &rotated), VBILL_OK);
    /* The old key still verifies; the new one signs. */
    ck_assert_int_eq(verify(rotated, old_tok, T0), VBILL_OK);
    char *new_tok = issue(rotated, REC_A, T0);
    ck_assert_int_eq(verify(rotated, new_tok, T0), VBILL_OK);
    ck_assert_int_eq(verify(keys, new_tok, T0), VBILL_ERR_LINK_KEY);
    char *s1 = NULL, *s2 = NULL;
    ck_assert_int_eq(note(vbill_auth_check(ctx, rotated, store, old_tok, DIGITS_A, "c", T0, &s1)),
                     VBILL_OK);
    ck_assert_int_eq(note(vbill_auth_check(ctx, rotated, store, new_tok, DIGITS_A, "c", T0, &s2)),
                     VBILL_OK);
    ck_assert_int_eq(note(vbill_session_verify(ctx, rotated, NULL, s1, old_tok, "c", T0)),
                     VBILL_OK);
    /* Retiring the old key (drop it from the file) retires its links. */
    cJSON *j = cJSON_Parse(rotated_json);
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(j, "keys"), 1);
    char *retired_json = cJSON_PrintUnformatted(j);
    vbill_keys *retired = NULL;
    ck_assert_int_eq(vbill_keys_from_json(ctx, retired_json, (size_t)-1, &retired), VBILL_OK);
    ck_assert_int_eq(verify(retired, old_tok, T0), VBILL_ERR_LINK_KEY);
    ck_assert_int_eq(verify(retired, new_tok, T0), VBILL_OK);
    vbill_keys_free(retired);
    free(retired_json);
    cJSON_Delete(j);
    vbill_free(s1);
    vbill_free(s2);
    vbill_free(old_tok);
    vbill_free(new_tok);
    vbill_keys_free(rotated);
    vbill_free(rotated_json);
}
END_TEST

START_TEST(bad_key_files)
{
    vbill_keys *k = (vbill_keys *)1;
    const char *bad[] = {
        "", "[]", "{}", "{\"keys\":[]}", "{\"signing\":\"abcd\",\"keys\":[]}",
        "{\"signing\":\"abcd\",\"keys\":[{\"kid\":\"abcd\",\"secret\":\"short\",\"pepper\":\"x\"}]}",
        "{\"signing\":\"ABCD\",\"keys\":[{\"kid\":\"ABCD\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(vbill_keys_from_json(ctx, bad[i], (size_t)-1, &k), VBILL_ERR_KEY);
        ck_assert_ptr_null(k);
    }
    /* A signing id not among the keys; a duplicated key id. */
    cJSON *j = cJSON_Parse(keyjson);
    cJSON_ReplaceItemInObject(j, "signing", cJSON_CreateString("ffff"));
    char *t = cJSON_PrintUnformatted(j);
    vbill_status st = vbill_keys_from_json(ctx, t, (size_t)-1, &k);
    ck_assert(st == VBILL_ERR_KEY || (st == VBILL_OK && (vbill_keys_free(k), 1)));
    free(t);
    cJSON *arr = cJSON_GetObjectItem(j, "keys");
    cJSON_AddItemToArray(arr, cJSON_Duplicate(cJSON_GetArrayItem(arr, 0), 1));
    cJSON_ReplaceItemInObject(j, "signing",
                              cJSON_CreateString(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "kid")->valuestring));
    t = cJSON_PrintUnformatted(j);
    ck_assert_int_eq(vbill_keys_from_json(ctx, t, (size_t)-1, &k), VBILL_ERR_KEY);
    /* The message names the problem but never the secret. */
    const char *secret = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "secret")->valuestring;
    ck_assert_ptr_null(strstr(vbill_ctx_errmsg(ctx), secret));
    free(t);
    cJSON_Delete(j);
    ck_assert_int_eq(vbill_keys_load(ctx, "/nonexistent/keys.json", &k), VBILL_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "/nonexistent/keys.json"));
}
END_TEST

/* ---- the knowledge check and the limiter ---- */

START_TEST(right_digits_and_separators)
{
    char *tok = issue(keys, REC_A, T0);
    char *s = NULL;
    ck_assert_int_eq(check(tok, DIGITS_A, "1.1.1.1", T0, &s), VBILL_OK);
    ck_assert_ptr_nonnull(s);
    vbill_free(s);
    ck_assert_int_eq(check(tok, "58-03-14\n", "1.1.1.1", T0, NULL), VBILL_OK);
    ck_assert_int_eq(check(tok, " 58 03 14 ", "1.1.1.1", T0, NULL), VBILL_OK);
    /* Not six digits: refused, and not counted as a guess. */
    ck_assert_int_eq(check(tok, "5803", "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, "5803145", "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, "19580314", "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, "58O314", "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, "", "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(check(tok, "abc", "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, DIGITS_A, "1.1.1.1", T0, NULL), VBILL_OK);
    /* Cross-subscriber: B's digits do not open A's link, and A's do not open B's. */
    char *tb = issue(keys, REC_B, T0);
    ck_assert_int_eq(check(tok, DIGITS_B, "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tb, DIGITS_A, "1.1.1.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tb, DIGITS_B, "1.1.1.1", T0, NULL), VBILL_OK);
    ck_assert_int_eq(check(tok, DIGITS_A, "1.1.1.1", T0, NULL), VBILL_OK);
    vbill_free(tb);
    vbill_free(tok);
}
END_TEST

static int lock_events, hard_events;
static char last_event[1024];
static void on_lock(void *user, const char *ev)
{
    (void)user;
    snprintf(last_event, sizeof last_event, "%s", ev);
    cJSON *j = cJSON_Parse(ev);
    ck_assert_ptr_nonnull(j);
    if (cJSON_IsTrue(cJSON_GetObjectItem(j, "hard")))
        hard_events++;
    else
        lock_events++;
    cJSON_Delete(j);
}

START_TEST(lock_after_five_hard_after_ten)
{
    lock_events = hard_events = 0;
    vbill_store_set_lock_hook(store, on_lock, NULL);
    char *tok = issue(keys, REC_A, T0);
    int64_t t = T0;
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(check(tok, "000101", "10.0.0.1", t, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(lock_events, 1);
    ck_assert_ptr_nonnull(strstr(last_event, "\"subscriber\":\"S-000123\""));
    ck_assert_ptr_null(strstr(last_event, DIGITS_A));
    /* Locked: even the right digits are refused, from any address. */
    ck_assert_int_eq(check(tok, DIGITS_A, "10.0.0.1", t, NULL), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(check(tok, DIGITS_A, "10.0.0.2", t + 899, NULL), VBILL_ERR_AUTH_LOCKED);
    /* After the cooling period, five more tries; then locked for good. */
    t += 900;
    for (int i = 6; i <= 10; i++)
        ck_assert_int_eq(check(tok, "000102", "10.0.0.3", t, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(hard_events, 1);
    for (int64_t later = t; later < t + 20 * 86400; later += 86400)
        ck_assert_int_eq(check(tok, DIGITS_A, "10.0.0.4", later, NULL), VBILL_ERR_AUTH_LOCKED);
    /* A re-issued link shares the subscriber's bound (ten, reached): it is locked too, and
     * the old one is revoked. */
    char *fresh = NULL;
    ck_assert_int_eq(note(reissue_rec(ctx, keys, tok, REC_A, strlen(REC_A), t, TTL, &fresh)),
                     VBILL_OK);
    ck_assert_str_ne(fresh, tok);
    ck_assert_int_eq(check(fresh, DIGITS_A, "10.0.0.4", t, NULL), VBILL_ERR_AUTH_LOCKED);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "over all its links"));
    ck_assert_int_eq(check(tok, DIGITS_A, "10.0.0.4", t, NULL), VBILL_ERR_LINK_EXPIRED);
    /* With a subscriber bound above the link's (a carrier's choice: 20/36,500), the
     * re-issued link lets the customer in. */
    ck_assert_int_eq(vbill_store_set_subscriber_limit(store, 20), VBILL_OK);
    ck_assert_int_eq(check(fresh, DIGITS_A, "10.0.0.4", t, NULL), VBILL_OK);
    /* Re-issue needs the same subscriber. */
    char *wrong = NULL;
    ck_assert_int_eq(note(reissue_rec(ctx, keys, tok, REC_B, strlen(REC_B), t, TTL, &wrong)),
                     VBILL_ERR_ARG);
    ck_assert_ptr_null(wrong);
    /* The help desk can unlock a locked link (not a revoked one). */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(check(fresh, "000103", "10.0.0.5", t + 1000, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(fresh, DIGITS_A, "10.0.0.5", t + 1001, NULL), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(note(vbill_link_unlock(ctx, keys, store, fresh)), VBILL_OK);
    ck_assert_int_eq(check(fresh, DIGITS_A, "10.0.0.5", t + 1001, NULL), VBILL_OK);
    ck_assert_int_eq(note(vbill_link_unlock(ctx, keys, store, tok)), VBILL_OK);
    ck_assert_int_eq(check(tok, DIGITS_A, "10.0.0.4", t, NULL), VBILL_ERR_LINK_EXPIRED);
    vbill_free(fresh);
    vbill_free(tok);
}
END_TEST

START_TEST(success_does_not_reset_the_bound)
{
    /* Successes by the customer never give a guesser more than 10 wrong tries in all. */
    char *tok = issue(keys, REC_A, T0);
    int wrong = 0;
    int64_t t = T0;
    for (int round = 0; round < 10; round++, t += 1000) {
        for (int i = 0; i < 3; i++)
            if (check(tok, "111111", "attacker", t, NULL) == VBILL_ERR_AUTH_WRONG)
                wrong++;
        (void)check(tok, DIGITS_A, "customer", t, NULL);
    }
    ck_assert_int_eq(wrong, 10);
    vbill_free(tok);
}
END_TEST

START_TEST(brute_force_from_many_addresses)
{
    /* Every plausible date from many addresses: at most 10 guesses are compared. */
    char *tok = issue(keys, REC_A, T0);
    int wrong = 0, ok = 0;
    int64_t t = T0;
    char digits[8], client[32];
    int n = 0;
    for (int y = 0; y < 100 && n < 3000; y++)
        for (int m = 1; m <= 12 && n < 3000; m++)
            for (int d = 1; d <= 28 && n < 3000; d += 3, n++) {
                snprintf(digits, sizeof digits, "%02d%02d%02d", y, m, d);
                snprintf(client, sizeof client, "203.0.113.%d", n % 250);
                vbill_status st = check(tok, digits, client, t, NULL);
                if (st == VBILL_ERR_AUTH_WRONG)
                    wrong++;
                else if (st == VBILL_OK)
                    ok++;
                else
                    ck_assert_int_eq(st, VBILL_ERR_AUTH_LOCKED);
                t += 60; /* an attacker waiting out every cooling period */
            }
    ck_assert_int_eq(ok, 0);
    ck_assert_int_eq(wrong, 10);
    vbill_free(tok);
}
END_TEST

START_TEST(client_limit)
{
    ck_assert_int_eq(vbill_store_set_limits(store, 5, 900, 10, 8, 3600), VBILL_OK);
    /* One address spraying many links is stopped across links. */
    char *links[4];
    int wrong = 0, locked = 0;
    for (int i = 0; i < 4; i++)
        links[i] = issue(keys, REC_A, T0);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++) {
            vbill_status st = check(links[i], "999999", "198.51.100.7", T0, NULL);
            wrong += st == VBILL_ERR_AUTH_WRONG;
            locked += st == VBILL_ERR_AUTH_LOCKED;
        }
    ck_assert_int_eq(wrong, 8);
    ck_assert_int_eq(locked, 8);
    /* Another address is not affected; the window ends. */
    ck_assert_int_eq(check(links[3], DIGITS_A, "198.51.100.8", T0, NULL), VBILL_OK);
    ck_assert_int_eq(check(links[3], DIGITS_A, "198.51.100.7", T0 + 3600, NULL), VBILL_OK);
    for (int i = 0; i < 4; i++)
        vbill_free(links[i]);
    ck_assert_int_eq(vbill_store_set_limits(store, 6, 900, 5, 8, 3600), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_store_set_limits(store, 0, 900, 5, 8, 3600), VBILL_ERR_ARG);
}
END_TEST

START_TEST(store_file_holds_no_factor)
{
    char *tok = issue(keys, REC_A, T0);
    for (int i = 0; i < 3; i++)
        (void)check(tok, "010101", "c", T0, NULL);
    ck_assert_int_eq(check(tok, DIGITS_A, "c", T0, NULL), VBILL_OK);
    vbill_store_free(store);
    store = NULL;
    const char *names[] = {"vbill-state.sqlite", "vbill-state.sqlite-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fclose(f);
        size_t n = 0;
        char *data = tu_slurp(path, &n);
        ck_assert_ptr_null(memmem(data, n, DIGITS_A, 6));
        ck_assert_ptr_null(memmem(data, n, "1958", 4));
        ck_assert_ptr_null(memmem(data, n, "S-000123", 8));
        free(data);
    }
    ck_assert_int_eq(vbill_store_open_sqlite(ctx, tmpdir, &store), VBILL_OK);
    vbill_free(tok);
}
END_TEST

/* ---- sessions ---- */

START_TEST(sessions)
{
    char *ta = issue(keys, REC_A, T0), *tb = issue(keys, REC_B, T0);
    char *sa = NULL, *sb = NULL;
    ck_assert_int_eq(check(ta, DIGITS_A, "192.0.2.1", T0, &sa), VBILL_OK);
    ck_assert_int_eq(check(tb, DIGITS_B, "192.0.2.1", T0, &sb), VBILL_OK);
    ck_assert_ptr_null(strstr(sa, DIGITS_A));
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sa, ta, "192.0.2.1", T0 + 1)),
                     VBILL_OK);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sa, ta, "192.0.2.1", T0 + 1799)),
                     VBILL_OK);
    /* Expired. */
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sa, ta, "192.0.2.1", T0 + 1800)),
                     VBILL_ERR_LINK_EXPIRED);
    /* Cross-link, another client. */
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sa, tb, "192.0.2.1", T0)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sb, ta, "192.0.2.1", T0)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sa, ta, "192.0.2.99", T0)),
                     VBILL_ERR_SESSION);
    /* Tampered: every character changed. */
    char *t = strdup(sa);
    for (size_t i = 0; t[i]; i++) {
        char orig = t[i];
        t[i] = orig == 'A' ? 'B' : 'A';
        ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, t, ta, "192.0.2.1", T0)),
                         VBILL_ERR_SESSION);
        t[i] = orig;
    }
    /* Truncated, empty, a link token used as a session. */
    t[strlen(t) - 1] = '\0';
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, t, ta, "192.0.2.1", T0)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, "", ta, "192.0.2.1", T0)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, NULL, ta, "192.0.2.1", T0)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, ta, ta, "192.0.2.1", T0)),
                     VBILL_ERR_SESSION);
    free(t);
    /* Another key file does not accept it. */
    char *oj = NULL;
    vbill_keys *other = NULL;
    ck_assert_int_eq(vbill_keys_generate(ctx, NULL, &oj), VBILL_OK);
    ck_assert_int_eq(vbill_keys_from_json(ctx, oj, (size_t)-1, &other), VBILL_OK);
    ck_assert_int_ne(note(vbill_session_verify(ctx, other, NULL, sa, ta, "192.0.2.1", T0)),
                     VBILL_OK);
    vbill_keys_free(other);
    vbill_free(oj);
    /* A session never outlives its link. */
    char *late = NULL;
    ck_assert_int_eq(check(ta, DIGITS_A, "192.0.2.1", T0 + TTL - 60, &late), VBILL_OK);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, late, ta, "192.0.2.1",
                                               T0 + TTL - 1)),
                     VBILL_OK);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, late, ta, "192.0.2.1", T0 + TTL)),
                     VBILL_ERR_LINK_EXPIRED);
    /* A link locked for good also ends its sessions (given the store). */
    for (int i = 0; i < 10; i++)
        (void)check(ta, "121212", "x", T0 + i * 1000, NULL);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sa, ta, "192.0.2.1", T0 + 10)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(vbill_keys_set_session_ttl(keys, 60), VBILL_OK);
    char *short_s = NULL;
    ck_assert_int_eq(check(tb, DIGITS_B, "c", T0, &short_s), VBILL_OK);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, NULL, short_s, tb, "c", T0 + 60)),
                     VBILL_ERR_LINK_EXPIRED);
    vbill_free(short_s);
    vbill_free(late);
    vbill_free(sa);
    vbill_free(sb);
    vbill_free(ta);
    vbill_free(tb);
}
END_TEST

/* ---- SMS text ---- */

START_TEST(sms_text)
{
    size_t n = 0;
    ck_assert_int_eq(vbill_text_euckr_bytes("가a나", &n), VBILL_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(vbill_text_euckr_bytes("\xff", &n), VBILL_ERR_ARG);
    char *tok = issue(keys, REC_A, T0);
    char url[256], *msg = NULL;
    /* A short base URL: one SMS (at most 90 bytes in EUC-KR). */
    snprintf(url, sizeof url, "https://kt.co/v/%s", tok);
    ck_assert_int_eq(note(message_rec(ctx, REC_A, strlen(REC_A), url, NULL, &msg)),
                     VBILL_OK);
    ck_assert_ptr_nonnull(strstr(msg, url));
    ck_assert_ptr_nonnull(strstr(msg, "김*수"));
    ck_assert_ptr_null(strstr(msg, "김민수"));
    ck_assert_ptr_null(strstr(msg, DIGITS_A));
    ck_assert_int_eq(vbill_text_euckr_bytes(msg, &n), VBILL_OK);
    ck_assert_uint_le(n, 90);
    vbill_free(msg);
    /* A long one: the long form (LMS), still with the URL and the amount. */
    snprintf(url, sizeof url, "https://video-bill.example-carrier.co.kr/view/%s", tok);
    ck_assert_int_eq(note(message_rec(ctx, REC_A, strlen(REC_A), url, NULL, &msg)),
                     VBILL_OK);
    ck_assert_ptr_nonnull(strstr(msg, url));
    ck_assert_ptr_nonnull(strstr(msg, "60,960원"));
    ck_assert_int_eq(vbill_text_euckr_bytes(msg, &n), VBILL_OK);
    ck_assert_uint_gt(n, 90);
    ck_assert_uint_le(n, 2000); /* an LMS holds 2,000 bytes */
    vbill_free(msg);
    /* English. */
    ck_assert_int_eq(note(message_rec(ctx, REC_EN, strlen(REC_EN), url, NULL, &msg)),
                     VBILL_OK);
    ck_assert_ptr_nonnull(strstr(msg, url));
    ck_assert_ptr_nonnull(strstr(msg, "J*** S***"));
    vbill_free(msg);
    /* A custom template goes through the Mustache engine. */
    vbill_status st = note(message_rec(ctx, REC_A, strlen(REC_A), url,
                                               "{{name_masked}}: {{{url}}}", &msg));
    if (st == VBILL_OK) {
        char want[400];
        snprintf(want, sizeof want, "김*수: %s", url);
        ck_assert_str_eq(msg, want);
        vbill_free(msg);
    } else {
        /* Only while mustache.c is a placeholder (another concern): say so. */
        ck_assert_int_eq(st, VBILL_ERR_TEMPLATE);
        fprintf(stderr, "note: custom SMS template not tested: %s\n", vbill_ctx_errmsg(ctx));
    }
    /* A bad record is refused with the record's error. */
    ck_assert_int_ne(note(message_rec(ctx, "{}", 2, url, NULL, &msg)), VBILL_OK);
    ck_assert_ptr_null(msg);
    vbill_free(tok);
}
END_TEST

START_TEST(bad_arguments)
{
    char *tok = NULL;
    ck_assert_int_eq(issue_rec(ctx, keys, REC_A, strlen(REC_A), T0, 0, &tok), VBILL_ERR_ARG);
    ck_assert_int_eq(issue_rec(ctx, NULL, REC_A, strlen(REC_A), T0, TTL, &tok),
                     VBILL_ERR_ARG);
    /* A bill read back from bill.json holds no birth date: it cannot issue a first link. */
    vbill_bill *bill = tu_bill(ctx, REC_A), *back = NULL;
    char *json = NULL;
    ck_assert_int_eq(vbill_bill_to_json(ctx, bill, &json), VBILL_OK);
    ck_assert_int_eq(vbill_bill_from_json(ctx, json, (size_t)-1, &back), VBILL_OK);
    ck_assert_int_eq(vbill_bill_can_issue_link(bill), 1);
    ck_assert_int_eq(vbill_bill_can_issue_link(back), 0);
    ck_assert_int_eq(vbill_link_issue(ctx, keys, back, T0, TTL, &tok), VBILL_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "no birth date"));
    /* ... but it can re-issue while the old link's key still signs: the check carries over */
    char *old = NULL, *fresh = NULL;
    ck_assert_int_eq(vbill_link_issue(ctx, keys, bill, T0, TTL, &old), VBILL_OK);
    ck_assert_int_eq(vbill_link_reissue(ctx, keys, store, old, back, T0, TTL, &fresh), VBILL_OK);
    ck_assert_str_ne(old, fresh);
    ck_assert_int_eq(vbill_auth_check(ctx, keys, store, fresh, "000000", "c", T0, NULL),
                     VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(vbill_auth_check(ctx, keys, store, fresh, DIGITS_A, "c", T0, NULL), VBILL_OK);
    vbill_free(old);
    vbill_free(fresh);
    vbill_free(json);
    vbill_bill_free(bill);
    vbill_bill_free(back);
    tok = NULL;
    vbill_status st = issue_rec(ctx, keys, "{", 1, T0, TTL, &tok);
    ck_assert(st == VBILL_ERR_JSON || st == VBILL_ERR_RECORD);
    ck_assert_int_eq(issue_rec(ctx, keys, "{\"id\":\"x\"}", 10, T0, TTL, &tok),
                     VBILL_ERR_RECORD);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(vbill_auth_check(ctx, keys, NULL, "x", "1", "c", T0, NULL), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_link_verify(ctx, NULL, "x", T0, NULL), VBILL_ERR_ARG);
}
END_TEST

/* ---- issue 14: hardening (each test failed on the build of 2a830f8) ---- */

/* Subscriber n's record (id S-7nnnnn, born 1970-01-01: digits 700101). */
#define DIGITS_N "700101"
static char *rec_n(int n)
{
    char *r = malloc(1024);
    snprintf(r, 1024,
             "{\"id\":\"S-7%05d\",\"name\":\"N\",\"birth\":\"1970-01-01\",\"bill\":{\"issue_date\":"
             "\"2026-12-05\",\"cycle_start\":\"2026-11-01\",\"cycle_end\":\"2026-11-30\"},"
             "\"lines\":[{\"id\":\"L1\",\"kind\":\"mobile\",\"product\":\"5G\",\"event\":"
             "\"device_change\",\"start\":\"2026-11-10\",\"monthly_fee\":50000}]}",
             n);
    return r;
}

/* Item 3: four links for one subscriber gave 40 compares.  The bound is per customer and
 * cycle: ten wrong compares in all, whatever the number of links and addresses. */
START_TEST(subscriber_bound_across_links)
{
    int wrong = 0;
    int64_t t = T0;
    char client[32];
    for (int l = 0; l < 4; l++) {
        char *tok = issue(keys, REC_A, T0);
        for (int i = 0; i < 12; i++, t += 1000) { /* past every cooling period */
            snprintf(client, sizeof client, "198.51.100.%d", l * 12 + i);
            vbill_status st = check(tok, "000000", client, t, NULL);
            ck_assert(st == VBILL_ERR_AUTH_WRONG || st == VBILL_ERR_AUTH_LOCKED);
            wrong += st == VBILL_ERR_AUTH_WRONG;
        }
        vbill_free(tok);
    }
    ck_assert_int_eq(wrong, 10);
    /* A fifth link: locked for the cycle, even with the right digits. */
    char *tok = issue(keys, REC_A, T0);
    ck_assert_int_eq(check(tok, DIGITS_A, "198.51.100.99", t, NULL), VBILL_ERR_AUTH_LOCKED);
    vbill_free(tok);
    /* Another subscriber is not affected. */
    char *tb = issue(keys, REC_B, T0);
    ck_assert_int_eq(check(tb, DIGITS_B, "198.51.100.99", t, NULL), VBILL_OK);
    vbill_free(tb);
}
END_TEST

/* Item 3: each help-desk unlock gave ten more guesses.  An unlock clears the link's
 * counters and cooling lock, never the subscriber's failures. */
START_TEST(unlock_keeps_the_subscriber_bound)
{
    char *tok = issue(keys, REC_A, T0);
    int wrong = 0;
    int64_t t = T0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 12; i++, t += 1000) {
            vbill_status st = check(tok, "000000", "192.0.2.10", t, NULL);
            wrong += st == VBILL_ERR_AUTH_WRONG;
        }
        ck_assert_int_eq(note(vbill_link_unlock(ctx, keys, store, tok)), VBILL_OK);
    }
    ck_assert_int_eq(wrong, 10);
    ck_assert_int_eq(check(tok, DIGITS_A, "192.0.2.10", t, NULL), VBILL_ERR_AUTH_LOCKED);
    vbill_free(tok);
}
END_TEST

/* What a viewer tells the customer after a wrong entry: the link's state and the tries left,
 * read from the store without counting a try. */
static void attempts_are(const char *tok, int64_t now, const char *state, int left, int64_t until)
{
    char *j = NULL;
    ck_assert_int_eq(note(vbill_link_attempts(ctx, keys, store, tok, now, &j)), VBILL_OK);
    char want[160];
    snprintf(want, sizeof want, "{\"state\":\"%s\",\"tries_left\":%d,\"locked_until\":%lld}",
             state, left, (long long)until);
    ck_assert_str_eq(j, want);
    vbill_free(j);
}

START_TEST(attempts_walk_to_the_lock)
{
    char *tok = issue(keys, REC_A, T0), *fresh = NULL;
    attempts_are(tok, T0, "open", 5, 0);
    for (int i = 1; i <= 4; i++) {
        ck_assert_int_eq(check(tok, "000101", "10.0.0.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
        attempts_are(tok, T0, "open", 5 - i, 0);
    }
    ck_assert_int_eq(check(tok, "000101", "10.0.0.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    attempts_are(tok, T0 + 1, "cooling", 5, T0 + 900);
    attempts_are(tok, T0 + 900, "open", 5, 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(check(tok, "000101", "10.0.0.1", T0 + 900, NULL), VBILL_ERR_AUTH_WRONG);
    attempts_are(tok, T0 + 86400, "subscriber", 0, 0);
    /* The link's own bound shows when the subscriber's is wider. */
    ck_assert_int_eq(vbill_store_set_subscriber_limit(store, 20), VBILL_OK);
    attempts_are(tok, T0 + 86400, "link", 0, 0);
    /* Reading counts nothing: still ten wrong tries, and the check says locked. */
    ck_assert_int_eq(check(tok, DIGITS_A, "10.0.0.2", T0 + 86400, NULL), VBILL_ERR_AUTH_LOCKED);
    /* A re-issue revokes the old link; the fresh one starts with what the subscriber has left. */
    ck_assert_int_eq(note(reissue_rec(ctx, keys, tok, REC_A, strlen(REC_A), T0 + 86400, TTL, &fresh)),
                     VBILL_OK);
    attempts_are(tok, T0 + 86400, "revoked", 0, 0);
    attempts_are(fresh, T0 + 86400, "open", 5, 0);
    /* Expiry does not hide the state (the page says "expired" itself); a forged link is refused. */
    attempts_are(fresh, T0 + 86400 + TTL + 1, "open", 5, 0);
    char *j = NULL;
    ck_assert_int_ne(vbill_link_attempts(ctx, keys, store, "v1.AAAA", T0, &j), VBILL_OK);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(vbill_link_attempts(ctx, keys, NULL, fresh, T0, &j), VBILL_ERR_ARG);
    vbill_free(fresh);
    vbill_free(tok);
}
END_TEST

/* A success leaves no message of an earlier failure (every ctx-taking call clears it). */
static void fail_once(void)
{
    char *j = NULL;
    ck_assert_int_ne(vbill_link_verify(ctx, keys, "garbage", T0, &j), VBILL_OK);
    ck_assert_str_ne(vbill_ctx_errmsg(ctx), "");
}

START_TEST(success_clears_the_message)
{
    char *tok = issue(keys, REC_A, T0), *info = NULL, *session = NULL, *kj = NULL;
    fail_once();
    ck_assert_int_eq(vbill_link_verify(ctx, keys, tok, T0, &info), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    fail_once();
    ck_assert_int_eq(vbill_auth_check(ctx, keys, store, tok, DIGITS_A, "10.1.0.1", T0, &session),
                     VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    fail_once();
    ck_assert_int_eq(vbill_session_verify(ctx, keys, store, session, tok, "10.1.0.1", T0 + 1),
                     VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    fail_once();
    ck_assert_int_eq(vbill_link_unlock(ctx, keys, store, tok), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    fail_once();
    ck_assert_int_eq(vbill_keys_generate(ctx, NULL, &kj), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_keys *k2 = NULL;
    fail_once();
    ck_assert_int_eq(vbill_keys_from_json(ctx, kj, strlen(kj), &k2), VBILL_OK);
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    vbill_keys_free(k2);
    vbill_free(kj);
    vbill_free(session);
    vbill_free(info);
    vbill_free(tok);
}
END_TEST

/* Item 3: after a re-issue the old link still verified and still passed the check. */
START_TEST(reissue_revokes_the_old_link)
{
    char *old = issue(keys, REC_A, T0), *s_old = NULL, *fresh = NULL;
    ck_assert_int_eq(check(old, DIGITS_A, "192.0.2.1", T0, &s_old), VBILL_OK);
    ck_assert_int_eq(note(reissue_rec(ctx, keys, old, REC_A, strlen(REC_A), T0 + 10, TTL, &fresh)),
                     VBILL_OK);
    /* The old link, its session: refused wherever the store is consulted. */
    ck_assert_int_ne(check(old, DIGITS_A, "192.0.2.1", T0 + 20, NULL), VBILL_OK);
    ck_assert_int_ne(note(vbill_session_verify(ctx, keys, store, s_old, old, "192.0.2.1", T0 + 20)),
                     VBILL_OK);
    /* The new one works. */
    ck_assert_int_eq(check(fresh, DIGITS_A, "192.0.2.1", T0 + 20, NULL), VBILL_OK);
    vbill_free(s_old);
    vbill_free(fresh);
    vbill_free(old);
}
END_TEST

/* Item 4: the tries left never exceed what the hard limit leaves; soft locks fall on every
 * multiple of soft from the first failure on. */
START_TEST(soft_lock_arithmetic)
{
    ck_assert_int_eq(vbill_store_set_limits(store, 4, 900, 10, 1000, 3600), VBILL_OK);
    ck_assert_int_eq(vbill_store_set_subscriber_limit(store, 100), VBILL_OK);
    char *tok = issue(keys, REC_A, T0);
    int64_t t = T0;
    const char *want[] = {NULL,        "3 more tr", "2 more tr", "1 more tr",
                          "locked until", "3 more tr", "2 more tr", "1 more tr",
                          "locked until", "1 more tr",  "until re-issued"};
    for (int f = 1; f <= 10; f++) {
        ck_assert_int_eq(check(tok, "000000", "192.0.2.1", t, NULL), VBILL_ERR_AUTH_WRONG);
        ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), want[f]), "failure %d: %s", f,
                      vbill_ctx_errmsg(ctx));
        if (f % 4 == 0)
            t += 900;
    }
    vbill_free(tok);
    /* soft 1: every failure cools the link. */
    ck_assert_int_eq(vbill_store_set_limits(store, 1, 60, 3, 1000, 3600), VBILL_OK);
    char *tb = issue(keys, REC_B, T0);
    ck_assert_int_eq(check(tb, "000000", "192.0.2.1", T0, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "locked until"));
    ck_assert_int_eq(check(tb, DIGITS_B, "192.0.2.1", T0 + 59, NULL), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(check(tb, DIGITS_B, "192.0.2.1", T0 + 60, NULL), VBILL_OK);
    vbill_free(tb);
    /* The subscriber's bound counts too: with 7 of it left, "1 more try" comes at the
     * sixth failure, and the seventh locks every link of the bill. */
    ck_assert_int_eq(vbill_store_set_limits(store, 5, 900, 10, 1000, 3600), VBILL_OK);
    ck_assert_int_eq(vbill_store_set_subscriber_limit(store, 7), VBILL_OK);
    char *rec = rec_n(1), *tn = issue(keys, rec, T0);
    const char *wantn[] = {NULL, "4 more tr", "3 more tr", "2 more tr", "1 more tr",
                           "locked until", "1 more tr", "on every link"};
    t = T0;
    for (int f = 1; f <= 7; f++, t += 1000) {
        ck_assert_int_eq(check(tn, "000000", "192.0.2.1", t, NULL), VBILL_ERR_AUTH_WRONG);
        ck_assert_msg(strstr(vbill_ctx_errmsg(ctx), wantn[f]), "failure %d: %s", f,
                      vbill_ctx_errmsg(ctx));
    }
    vbill_free(tn);
    free(rec);
}
END_TEST

/* Item 5: NULL and "" put every caller in one bucket: the client is explicit. */
START_TEST(client_is_required)
{
    char *tok = issue(keys, REC_A, T0);
    ck_assert_int_eq(check(tok, DIGITS_A, NULL, T0, NULL), VBILL_ERR_ARG);
    ck_assert_int_eq(check(tok, DIGITS_A, "", T0, NULL), VBILL_ERR_ARG);
    ck_assert_int_eq(check(tok, DIGITS_A, "192.0.2.1", T0, NULL), VBILL_OK);
    vbill_free(tok);
}
END_TEST

/* Item 5: IPv6 addresses count by /64, IPv4-mapped IPv6 as IPv4. */
START_TEST(client_buckets)
{
    ck_assert_int_eq(vbill_store_set_limits(store, 5, 900, 10, 8, 3600), VBILL_OK);
    int wrong = 0;
    char addr[64];
    for (int i = 0; i < 12; i++) {
        char *rec = rec_n(i), *tok = issue(keys, rec, T0);
        snprintf(addr, sizeof addr, "2001:db8:1:2:%x::%x", i, i + 1);
        wrong += check(tok, "000000", addr, T0, NULL) == VBILL_ERR_AUTH_WRONG;
        vbill_free(tok);
        free(rec);
    }
    ck_assert_int_eq(wrong, 8);
    /* Another /64 is another client. */
    char *rec = rec_n(100), *tok = issue(keys, rec, T0);
    ck_assert_int_eq(check(tok, DIGITS_N, "2001:db8:1:3::1", T0, NULL), VBILL_OK);
    vbill_free(tok);
    free(rec);
    /* ::ffff:a.b.c.d is a.b.c.d. */
    wrong = 0;
    for (int i = 0; i < 12; i++) {
        rec = rec_n(200 + i);
        tok = issue(keys, rec, T0);
        wrong += check(tok, "000000", i % 2 ? "::ffff:203.0.113.9" : "203.0.113.9", T0, NULL) ==
                 VBILL_ERR_AUTH_WRONG;
        vbill_free(tok);
        free(rec);
    }
    ck_assert_int_eq(wrong, 8);
}
END_TEST

/* Item 5: a shared address (a carrier's NAT) over the limit is slowed, never locked out
 * for everybody behind it for the rest of the window. */
START_TEST(shared_address_slowed_not_locked)
{
    ck_assert_int_eq(vbill_store_set_limits(store, 5, 900, 10, 8, 3600), VBILL_OK);
    for (int i = 0; i < 8; i++) {
        char *rec = rec_n(300 + i), *tok = issue(keys, rec, T0);
        ck_assert_int_eq(check(tok, "000000", "203.0.113.50", T0, NULL), VBILL_ERR_AUTH_WRONG);
        vbill_free(tok);
        free(rec);
    }
    char *rec = rec_n(400), *tok = issue(keys, rec, T0);
    /* At once: slowed. */
    ck_assert_int_eq(check(tok, DIGITS_N, "203.0.113.50", T0, NULL), VBILL_ERR_AUTH_LOCKED);
    /* A minute later, another customer behind the same address gets in. */
    ck_assert_int_eq(check(tok, DIGITS_N, "203.0.113.50", T0 + 60, NULL), VBILL_OK);
    vbill_free(tok);
    free(rec);
}
END_TEST

/* Item 9: now + ttl overflowed (signed overflow; a token with a wrapped expiry). */
START_TEST(expiry_overflow)
{
    char *tok = NULL;
    ck_assert_int_eq(note(issue_rec(ctx, keys, REC_A, strlen(REC_A), T0, INT64_MAX, &tok)),
                     VBILL_ERR_ARG);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(note(issue_rec(ctx, keys, REC_A, strlen(REC_A), INT64_MAX - 5, 10, &tok)),
                     VBILL_ERR_ARG);
    ck_assert_int_eq(note(issue_rec(ctx, keys, REC_A, strlen(REC_A), T0, INT64_MAX / 2, &tok)),
                     VBILL_ERR_ARG);
    char *old = issue(keys, REC_A, T0);
    ck_assert_int_eq(note(reissue_rec(ctx, keys, old, REC_A, strlen(REC_A), T0, INT64_MAX, &tok)),
                     VBILL_ERR_ARG);
    ck_assert_ptr_null(tok);
    vbill_free(old);
    /* The limits that feed `now + x` are bounded too. */
    ck_assert_int_eq(vbill_store_set_limits(store, 5, INT64_MAX, 10, 30, 3600), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_store_set_limits(store, 5, 900, 10, 30, INT64_MAX), VBILL_ERR_ARG);
}
END_TEST

/* Item 9: "S-1\u0000../x" was filled and linked as S-1.  A string with a NUL is refused,
 * naming the field. */
START_TEST(nul_in_record_strings)
{
    struct {
        const char *from, *to, *field;
    } cases[] = {
        {"\"S-000123\"", "\"S-1\\u0000../x\"", "id"},
        {"\"김민수\"", "\"김\\u0000민수\"", "name"},
        {"\"5G 프리미어\"", "\"5G\\u0000x\"", "lines[0].product"},
        {"\"신한카드\"", "\"\\u0000\"", "payment.institution"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(REC_A, cases[i].from);
        ck_assert_ptr_nonnull(at);
        char rec[4096];
        snprintf(rec, sizeof rec, "%.*s%s%s", (int)(at - REC_A), REC_A, cases[i].to,
                 at + strlen(cases[i].from));
        char *tok = NULL;
        vbill_status st = note(issue_rec(ctx, keys, rec, strlen(rec), T0, TTL, &tok));
        ck_assert_msg(st == VBILL_ERR_RECORD, "case %zu: status %d", i, st);
        ck_assert_ptr_null(tok);
        const char *m = vbill_ctx_errmsg(ctx);
        char want[64];
        snprintf(want, sizeof want, "%s:", cases[i].field);
        ck_assert_msg(strstr(m, want) && strstr(m, "NUL"), "case %zu: %s", i, m);
    }
}
END_TEST

/* Item 9: the key file's secrets were freed without being wiped (cJSON's copies of the
 * strings).  Every block cJSON frees is searched for the secret and the pepper. */
static char wipe_secret[64], wipe_pepper[64];
static int wipe_found;
static void *wipe_malloc(size_t n) { return malloc(n); }
static void wipe_free(void *p)
{
    if (p) {
        size_t n = malloc_usable_size(p);
        if (memmem(p, n, wipe_secret, strlen(wipe_secret)) ||
            memmem(p, n, wipe_pepper, strlen(wipe_pepper)))
            wipe_found++;
    }
    free(p);
}

START_TEST(key_buffers_wiped)
{
    cJSON *j = cJSON_Parse(keyjson);
    cJSON *k0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "keys"), 0);
    snprintf(wipe_secret, sizeof wipe_secret, "%s", cJSON_GetObjectItem(k0, "secret")->valuestring);
    snprintf(wipe_pepper, sizeof wipe_pepper, "%s", cJSON_GetObjectItem(k0, "pepper")->valuestring);
    cJSON_Delete(j);
    char path[4096];
    snprintf(path, sizeof path, "%s/keys.json", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, keyjson, strlen(keyjson)), (ssize_t)strlen(keyjson));
    close(fd);
    cJSON_Hooks hooks = {wipe_malloc, wipe_free};
    cJSON_InitHooks(&hooks);
    wipe_found = 0;
    vbill_keys *k = NULL;
    char *rotated = NULL;
    ck_assert_int_eq(vbill_keys_from_json(ctx, keyjson, (size_t)-1, &k), VBILL_OK);
    vbill_keys_free(k);
    ck_assert_int_eq(vbill_keys_load(ctx, path, &k), VBILL_OK);
    vbill_keys_free(k);
    ck_assert_int_eq(vbill_keys_generate(ctx, keyjson, &rotated), VBILL_OK);
    int found = wipe_found;
    cJSON_InitHooks(NULL);
    ck_assert_int_eq(found, 0);
    vbill_free(rotated);
}
END_TEST

/* Item 2: a key file readable by others, or reached through a symlink, was loaded. */
static vbill_status load_mode(const char *name, mode_t mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, keyjson, strlen(keyjson)), (ssize_t)strlen(keyjson));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    vbill_keys *k = (vbill_keys *)1;
    vbill_status st = note(vbill_keys_load(ctx, path, &k));
    ck_assert(st == VBILL_OK ? k != NULL : k == NULL);
    vbill_keys_free(k);
    return st;
}

START_TEST(key_file_permissions)
{
    ck_assert_int_eq(load_mode("ok.json", 0600), VBILL_OK);
    ck_assert_int_eq(load_mode("ro.json", 0400), VBILL_OK);
    mode_t bad[] = {0644, 0666, 0640, 0660, 0604, 0602, 0620};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(load_mode("open.json", bad[i]) == VBILL_ERR_KEY, "mode %o", bad[i]);
        const char *m = vbill_ctx_errmsg(ctx);
        ck_assert_msg(strstr(m, "open.json") && strstr(m, "chmod 600"), "%s", m);
    }
    /* Through a symlink: refused, even to a good file. */
    char target[4096], link[4096];
    snprintf(target, sizeof target, "%s/ok.json", tmpdir);
    snprintf(link, sizeof link, "%s/link.json", tmpdir);
    ck_assert_int_eq(symlink(target, link), 0);
    vbill_keys *k = NULL;
    ck_assert_int_eq(note(vbill_keys_load(ctx, link, &k)), VBILL_ERR_KEY);
    ck_assert_ptr_null(k);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "symlink"));
    /* Owned by another user (needs root to make one). */
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(target, 65534, 65534), 0);
        ck_assert_int_eq(note(vbill_keys_load(ctx, target, &k)), VBILL_ERR_KEY);
        ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "owned by"));
    } else {
        fprintf(stderr, "note: key file owned by another user: not tested (not root)\n");
    }
    /* Not a regular file. */
    ck_assert_int_eq(note(vbill_keys_load(ctx, tmpdir, &k)), VBILL_ERR_KEY);
}
END_TEST

/* Item 2: the pepper kept apart.  A key file without it verifies but cannot issue or check;
 * with the pepper set (text or file) it can; split files load back to the same keys. */
START_TEST(pepper_apart)
{
    char *kj = NULL, *pj = NULL;
    ck_assert_int_eq(note(vbill_keys_split(ctx, keyjson, NULL, &kj, &pj)), VBILL_OK);
    ck_assert_ptr_null(strstr(kj, "pepper"));
    ck_assert_ptr_nonnull(strstr(pj, "\"vbill_peppers\":1"));
    cJSON *j = cJSON_Parse(keyjson);
    cJSON *k0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "keys"), 0);
    const char *pep = cJSON_GetObjectItem(k0, "pepper")->valuestring;
    const char *sec = cJSON_GetObjectItem(k0, "secret")->valuestring;
    ck_assert_ptr_nonnull(strstr(pj, pep));
    ck_assert_ptr_null(strstr(pj, sec));
    ck_assert_ptr_nonnull(strstr(kj, sec));
    char *tok = issue(keys, REC_A, T0), *t2 = NULL;
    vbill_keys *bare = NULL;
    ck_assert_int_eq(vbill_keys_from_json(ctx, kj, (size_t)-1, &bare), VBILL_OK);
    /* Without the pepper: links verify, sessions too; no issue, no check. */
    ck_assert_int_eq(verify(bare, tok, T0), VBILL_OK);
    ck_assert_int_eq(note(issue_rec(ctx, bare, REC_A, strlen(REC_A), T0, TTL, &t2)), VBILL_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "no pepper"));
    ck_assert_int_eq(note(vbill_auth_check(ctx, bare, store, tok, DIGITS_A, "c", T0, NULL)),
                     VBILL_ERR_KEY);
    /* A wrong set, then the right one. */
    ck_assert_int_eq(vbill_keys_add_peppers(bare, "{\"vbill_peppers\":1,\"peppers\":{}}",
                                            (size_t)-1),
                     VBILL_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(vbill_keys_errmsg(bare), "no pepper for key"));
    ck_assert_int_eq(vbill_keys_add_peppers(bare, "{\"peppers\":[1]}", (size_t)-1), VBILL_ERR_KEY);
    ck_assert_int_eq(vbill_keys_add_peppers(bare, "not json", (size_t)-1), VBILL_ERR_KEY);
    ck_assert_int_eq(vbill_keys_add_peppers(bare, pj, (size_t)-1), VBILL_OK);
    ck_assert_int_eq(note(vbill_auth_check(ctx, bare, store, tok, DIGITS_A, "c", T0, NULL)),
                     VBILL_OK);
    char *mine = issue(bare, REC_A, T0);
    ck_assert_int_eq(check(mine, DIGITS_A, "c", T0, NULL), VBILL_OK); /* the same pepper */
    /* A set whose pepper differs from the one already loaded is refused. */
    char *other_json = NULL, *okj = NULL, *opj = NULL;
    ck_assert_int_eq(vbill_keys_generate(ctx, NULL, &other_json), VBILL_OK);
    ck_assert_int_eq(vbill_keys_split(ctx, other_json, NULL, &okj, &opj), VBILL_OK);
    cJSON *oj = cJSON_Parse(opj), *om = cJSON_GetObjectItem(oj, "peppers");
    char conflict[256];
    snprintf(conflict, sizeof conflict, "{\"vbill_peppers\":1,\"peppers\":{\"%s\":\"%s\"}}",
             cJSON_GetObjectItem(k0, "kid")->valuestring, om->child->valuestring);
    ck_assert_int_eq(vbill_keys_add_peppers(bare, conflict, (size_t)-1), VBILL_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(vbill_keys_errmsg(bare), "differs"));
    /* Rotation with the peppers apart: the old set carried into the new one. */
    char *rot = NULL, *rk = NULL, *rp = NULL;
    ck_assert_int_eq(note(vbill_keys_generate(ctx, kj, &rot)), VBILL_OK);
    ck_assert_int_eq(note(vbill_keys_split(ctx, rot, pj, &rk, &rp)), VBILL_OK);
    vbill_keys *rotated = NULL;
    ck_assert_int_eq(vbill_keys_from_json(ctx, rk, (size_t)-1, &rotated), VBILL_OK);
    ck_assert_int_eq(vbill_keys_add_peppers(rotated, rp, (size_t)-1), VBILL_OK);
    ck_assert_int_eq(note(vbill_auth_check(ctx, rotated, store, tok, DIGITS_A, "c", T0, NULL)),
                     VBILL_OK);
    char *newer = issue(rotated, REC_A, T0);
    ck_assert_int_eq(note(vbill_auth_check(ctx, rotated, store, newer, DIGITS_A, "c", T0, NULL)),
                     VBILL_OK);
    /* A split against a set that gives a key another pepper is refused. */
    char *bk = NULL, *bp = NULL;
    ck_assert_int_eq(note(vbill_keys_split(ctx, keyjson, conflict, &bk, &bp)), VBILL_ERR_KEY);
    ck_assert_ptr_null(bk);
    /* The pepper file is checked like the key file. */
    char path[4096];
    snprintf(path, sizeof path, "%s/peppers.json", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, pj, strlen(pj)), (ssize_t)strlen(pj));
    ck_assert_int_eq(fchmod(fd, 0644), 0);
    close(fd);
    vbill_keys *bare2 = NULL;
    ck_assert_int_eq(vbill_keys_from_json(ctx, kj, (size_t)-1, &bare2), VBILL_OK);
    ck_assert_int_eq(vbill_keys_load_peppers(bare2, path), VBILL_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(vbill_keys_errmsg(bare2), "chmod 600"));
    ck_assert_ptr_null(strstr(vbill_keys_errmsg(bare2), pep));
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(vbill_keys_load_peppers(bare2, path), VBILL_OK);
    ck_assert_int_eq(vbill_keys_load_peppers(bare2, "/nonexistent/p.json"), VBILL_ERR_KEY);
    vbill_keys_free(bare2);
    vbill_keys_free(rotated);
    vbill_free(newer);
    vbill_free(rot);
    vbill_free(rk);
    vbill_free(rp);
    cJSON_Delete(oj);
    vbill_free(other_json);
    vbill_free(okj);
    vbill_free(opj);
    vbill_free(mine);
    vbill_keys_free(bare);
    vbill_free(tok);
    cJSON_Delete(j);
    vbill_free(kj);
    vbill_free(pj);
}
END_TEST

/* Item 3: revocation, seen by the check, the store-aware verify and the sessions; the
 * stateless verify cannot see it (documented). */
START_TEST(revoke_and_sessions)
{
    char *tok = issue(keys, REC_A, T0), *sess = NULL;
    ck_assert_int_eq(check(tok, DIGITS_A, "2001:db8:5:6::1", T0, &sess), VBILL_OK);
    /* A session follows its client within the /64. */
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sess, tok, "2001:db8:5:6::99",
                                               T0 + 1)),
                     VBILL_OK);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sess, tok, "2001:db8:5:7::1",
                                               T0 + 1)),
                     VBILL_ERR_SESSION);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sess, tok, NULL, T0 + 1)),
                     VBILL_ERR_ARG);
    ck_assert_int_eq(note(vbill_link_verify_store(ctx, keys, store, tok, T0, NULL)), VBILL_OK);
    ck_assert_int_eq(note(vbill_link_revoke(ctx, keys, store, tok)), VBILL_OK);
    char *info = (char *)1;
    ck_assert_int_eq(note(vbill_link_verify_store(ctx, keys, store, tok, T0, &info)),
                     VBILL_ERR_LINK_EXPIRED);
    ck_assert_ptr_null(info);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "revoked"));
    ck_assert_int_eq(verify(keys, tok, T0), VBILL_OK); /* no store: the signature only */
    ck_assert_int_eq(note(vbill_link_verify_store(ctx, keys, NULL, tok, T0, NULL)), VBILL_OK);
    ck_assert_int_eq(check(tok, DIGITS_A, "2001:db8:5:6::1", T0, NULL), VBILL_ERR_LINK_EXPIRED);
    ck_assert_int_eq(note(vbill_session_verify(ctx, keys, store, sess, tok, "2001:db8:5:6::1",
                                               T0 + 1)),
                     VBILL_ERR_SESSION);
    /* No re-issue from a revoked link; none without a store. */
    char *fresh = NULL;
    ck_assert_int_eq(note(reissue_rec(ctx, keys, tok, REC_A, strlen(REC_A), T0, TTL, &fresh)),
                     VBILL_ERR_LINK_EXPIRED);
    ck_assert_ptr_null(fresh);
    char *t2 = issue(keys, REC_A, T0);
    vbill_bill *bill = tu_bill(ctx, REC_A);
    ck_assert_int_eq(vbill_link_reissue(ctx, keys, NULL, t2, bill, T0, TTL, &fresh), VBILL_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "store"));
    /* Unlocking never un-revokes. */
    ck_assert_int_eq(note(vbill_link_unlock(ctx, keys, store, tok)), VBILL_OK);
    ck_assert_int_eq(check(tok, DIGITS_A, "192.0.2.1", T0, NULL), VBILL_ERR_LINK_EXPIRED);
    ck_assert_int_eq(note(vbill_link_revoke(ctx, keys, NULL, t2)), VBILL_ERR_ARG);
    ck_assert_int_eq(note(vbill_link_revoke(ctx, keys, store, "garbage")),
                     VBILL_ERR_LINK_MALFORMED);
    vbill_bill_free(bill);
    vbill_free(t2);
    vbill_free(sess);
    vbill_free(tok);
}
END_TEST

/* Item 5: the failure-rate alarm (an event, once per window) and the figures for metrics. */
static int alarms;
static char last_alarm[256];
static void on_alarm(void *user, const char *ev)
{
    (void)user;
    alarms++;
    snprintf(last_alarm, sizeof last_alarm, "%s", ev);
}

START_TEST(attack_alarm_and_stats)
{
    alarms = 0;
    ck_assert_int_eq(vbill_store_set_alarm(store, 0, 60, on_alarm, NULL), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_store_set_alarm(store, 5, 60, on_alarm, NULL), VBILL_OK);
    for (int i = 0; i < 12; i++) {
        char *rec = rec_n(500 + i), *tok = issue(keys, rec, T0), client[32];
        snprintf(client, sizeof client, "198.18.%d.1", i);
        ck_assert_int_eq(check(tok, "000000", client, T0 + i, NULL), VBILL_ERR_AUTH_WRONG);
        if (i == 11)
            ck_assert_int_eq(check(tok, DIGITS_N, client, T0 + i, NULL), VBILL_OK);
        vbill_free(tok);
        free(rec);
    }
    ck_assert_int_eq(alarms, 1);
    cJSON *ev = cJSON_Parse(last_alarm);
    ck_assert_str_eq(cJSON_GetObjectItem(ev, "type")->valuestring, "auth.attack_suspected");
    ck_assert_int_eq(cJSON_GetObjectItem(ev, "failures")->valueint, 5);
    ck_assert_int_eq(cJSON_GetObjectItem(ev, "window_seconds")->valueint, 60);
    cJSON_Delete(ev);
    char *stats = NULL;
    ck_assert_int_eq(vbill_store_stats(store, T0 + 20, &stats), VBILL_OK);
    cJSON *j = cJSON_Parse(stats);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "checks")->valueint, 13);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "failed")->valueint, 12);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "passed")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "alarms")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "failures_total")->valueint, 12);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "failures_window")->valueint, 12);
    cJSON_Delete(j);
    vbill_free(stats);
    /* A new window: the alarm again after five more. */
    for (int i = 0; i < 5; i++) {
        char *rec = rec_n(600 + i), *tok = issue(keys, rec, T0);
        ck_assert_int_eq(check(tok, "000000", "198.18.100.1", T0 + 100, NULL),
                         VBILL_ERR_AUTH_WRONG);
        vbill_free(tok);
        free(rec);
    }
    ck_assert_int_eq(alarms, 2);
    ck_assert_int_eq(vbill_store_stats(store, T0 + 100, &stats), VBILL_OK);
    j = cJSON_Parse(stats);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "failures_total")->valueint, 17);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "failures_window")->valueint, 5);
    cJSON_Delete(j);
    vbill_free(stats);
    /* The settings are checked. */
    ck_assert_int_eq(vbill_store_set_slowdown(store, 0), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_store_set_slowdown(store, 3601), VBILL_ERR_ARG);
    ck_assert_int_eq(vbill_store_set_subscriber_limit(store, 0), VBILL_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vbill_store_errmsg(store), "subscriber limit"));
}
END_TEST

/* Item 5: the slowdown is one check per `slow` seconds after the client's last failure. */
START_TEST(slowdown_turns)
{
    ck_assert_int_eq(vbill_store_set_limits(store, 5, 900, 10, 3, 3600), VBILL_OK);
    ck_assert_int_eq(vbill_store_set_slowdown(store, 30), VBILL_OK);
    int64_t t = T0;
    for (int i = 0; i < 3; i++) {
        char *rec = rec_n(700 + i), *tok = issue(keys, rec, T0);
        ck_assert_int_eq(check(tok, "000000", "192.0.2.200", t, NULL), VBILL_ERR_AUTH_WRONG);
        vbill_free(tok);
        free(rec);
    }
    char *rec = rec_n(710), *tok = issue(keys, rec, T0);
    ck_assert_int_eq(check(tok, DIGITS_N, "192.0.2.200", t + 29, NULL), VBILL_ERR_AUTH_LOCKED);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "try again in 30 s"));
    /* Its turn: a wrong answer starts another wait; a right one gives the turn back. */
    ck_assert_int_eq(check(tok, "000000", "192.0.2.200", t + 30, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, DIGITS_N, "192.0.2.200", t + 59, NULL), VBILL_ERR_AUTH_LOCKED);
    ck_assert_int_eq(check(tok, DIGITS_N, "192.0.2.200", t + 60, NULL), VBILL_OK);
    ck_assert_int_eq(check(tok, DIGITS_N, "192.0.2.200", t + 60, NULL), VBILL_OK);
    /* The window ends. */
    ck_assert_int_eq(check(tok, "000000", "192.0.2.200", t + 4000, NULL), VBILL_ERR_AUTH_WRONG);
    ck_assert_int_eq(check(tok, "000000", "192.0.2.200", t + 4000, NULL), VBILL_ERR_AUTH_WRONG);
    vbill_free(tok);
    free(rec);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("links");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, issue_and_verify);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, every_character_changed);
    tcase_add_test(tc, every_bit_flipped);
    tcase_add_test(tc, truncated_and_extended);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, authentic_odd_payloads);
    tcase_add_test(tc, other_keys);
    tcase_add_test(tc, rotation);
    tcase_add_test(tc, bad_key_files);
    tcase_add_test(tc, right_digits_and_separators);
    tcase_add_test(tc, lock_after_five_hard_after_ten);
    tcase_add_test(tc, success_does_not_reset_the_bound);
    tcase_add_test(tc, brute_force_from_many_addresses);
    tcase_add_test(tc, client_limit);
    tcase_add_test(tc, store_file_holds_no_factor);
    tcase_add_test(tc, sessions);
    tcase_add_test(tc, sms_text);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, subscriber_bound_across_links);
    tcase_add_test(tc, unlock_keeps_the_subscriber_bound);
    tcase_add_test(tc, reissue_revokes_the_old_link);
    tcase_add_test(tc, soft_lock_arithmetic);
    tcase_add_test(tc, client_is_required);
    tcase_add_test(tc, client_buckets);
    tcase_add_test(tc, shared_address_slowed_not_locked);
    tcase_add_test(tc, expiry_overflow);
    tcase_add_test(tc, nul_in_record_strings);
    tcase_add_test(tc, key_buffers_wiped);
    tcase_add_test(tc, key_file_permissions);
    tcase_add_test(tc, pepper_apart);
    tcase_add_test(tc, revoke_and_sessions);
    tcase_add_test(tc, attack_alarm_and_stats);
    tcase_add_test(tc, slowdown_turns);
    tcase_add_test(tc, attempts_walk_to_the_lock);
    tcase_add_test(tc, success_clears_the_message);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
