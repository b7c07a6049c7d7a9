/* auth.c: signed links, the birth-date check, attempt limiting, sessions, SMS text.
 *
 * The design (also in include/vbill.h):
 *  - A link token is encrypted and authenticated with no server state: tag =
 *    HMAC-SHA256(mac_key, header | plaintext)[0..12]; ciphertext = AES-256-CTR(enc_key,
 *    IV = tag | 0^4, plaintext).  Verification decrypts, recomputes the tag and compares it
 *    with CRYPTO_memcmp before anything in the plaintext is trusted.
 *  - mac_key, enc_key and sess_key are derived from the key's secret with HMAC-SHA256 and
 *    distinct labels, so one secret never keys two algorithms.
 *  - The birth factor is a 6-byte HMAC under the key's pepper, bound to the key id, the
 *    subscriber and the cycle, inside the encrypted payload.
 *  - The limiter counts a failure before comparing (and undoes it on success), so racing
 *    requests can never make more than `hard` comparisons on one link.
 */
#include "config.h"
#include "auth.h"
#include "mustache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <iconv.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TAG_LEN 12
#define HDR_LEN 3 /* version, key id */
#define BIRTH_LEN 6
#define FIXED_PT 16 /* expiry 4, cycle 3, serial 2, birth 6, scenario code 1 */
#define MIN_PT (FIXED_PT + 1)
#define MAX_TOKEN_CHARS 400
#define LINK_VERSION 0x01
#define SESSION_VERSION 0x02
#define SESSION_LEN (HDR_LEN + TAG_LEN + 4 + 6 + 16)
#define MAX_KEYS 64

/* Scenario ids that fit in one byte of the token; others are carried as text. */
static const char *const SCENARIOS[] = {
    "mobile_new_home_new", "mobile_new_bundle", "mobile_device_change_home",
    "mobile_device_change", "home_new_mobile", "home_new", "home_recontract",
};

typedef struct vb_key {
    uint8_t kid[2];
    char kid_hex[5];
    uint8_t pepper[32];
    bool has_pepper;     /* false: kept apart and not loaded (vbill_keys_add_peppers) */
    EVP_MAC_CTX *mac;    /* keyed with mac_key */
    EVP_MAC_CTX *sess;   /* keyed with sess_key */
    EVP_MAC_CTX *birth;  /* keyed with the pepper; NULL without it */
    EVP_CIPHER_CTX *enc; /* AES-256-CTR keyed with enc_key, IV set per token */
} vb_key;

struct vbill_keys {
    vb_key *k;
    size_t n;
    size_t signing;
    int64_t session_ttl;
    char errmsg[256]; /* of calls on the keys without a context */
};

/* What a verified link token holds. */
typedef struct link_info {
    const vb_key *key;
    uint8_t tag[TAG_LEN];
    char link_hex[2 * TAG_LEN + 1];
    int64_t expiry;
    int64_t cycle_start; /* days since 1970-01-01 */
    int cycle_len;
    uint8_t birth[BIRTH_LEN];
    char scenario[64];
    char id[65];
} link_info;

/* ---- small helpers ------------------------------------------------------------------ */

static int64_t clock_now(int64_t now) { return now > 0 ? now : (int64_t)time(NULL); }

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url_encode(const uint8_t *p, size_t n)
{
    char *out = malloc(n / 3 * 4 + 5);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict base64url without padding: the unused low bits of the last character must be zero,
 * so exactly one text decodes to given bytes (a changed character is never accepted). */
static bool b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return false;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return false;
    *out_len = o;
    return true;
}

static bool mac_parts(EVP_MAC_CTX *tmpl, const void *const *parts, const size_t *lens, int n,
                      uint8_t out[32])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(tmpl);
    bool ok = c != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(c, parts[i], lens[i]) == 1;
    size_t olen = 0;
    ok = ok && EVP_MAC_final(c, out, &olen, 32) == 1 && olen == 32;
    EVP_MAC_CTX_free(c);
    return ok;
}

static EVP_MAC_CTX *mac_new(const uint8_t *key, size_t len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return NULL;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (c && EVP_MAC_init(c, key, len, params) != 1) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* CTR is its own inverse: one function encrypts and decrypts. */
static bool ctr_crypt(const vb_key *k, const uint8_t tag[TAG_LEN], const uint8_t *in, size_t n,
                      uint8_t *out)
{
    uint8_t iv[16] = {0};
    memcpy(iv, tag, TAG_LEN);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int olen = 0, flen = 0;
    bool ok = c && EVP_CIPHER_CTX_copy(c, k->enc) == 1 &&
              EVP_EncryptInit_ex2(c, NULL, NULL, iv, NULL) == 1 &&
              EVP_EncryptUpdate(c, out, &olen, in, (int)n) == 1 &&
              EVP_EncryptFinal_ex(c, out + olen, &flen) == 1 && (size_t)(olen + flen) == n;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void iso_time(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- keys -----------------------------------------------------------------------------
 *
 * A key file holds, per key, the signing secret and (unless it is kept apart) the pepper of
 * the birth-date hash:
 *   {"vbill_keys":1,"signing":"KID","keys":[{"kid","secret","pepper"?,"created"}]}
 * A pepper set, kept in another file or handed over by a secret manager, holds the peppers
 * a key file leaves out:
 *   {"vbill_peppers":1,"peppers":{"KID":"base64url of 32 bytes",...}}
 * Every buffer that holds key-file text is allocated once at its size and wiped before it
 * is freed (cJSON's copies of the strings too). */

static void key_clear(vb_key *k)
{
    EVP_MAC_CTX_free(k->mac);
    EVP_MAC_CTX_free(k->sess);
    EVP_MAC_CTX_free(k->birth);
    EVP_CIPHER_CTX_free(k->enc);
    OPENSSL_cleanse(k, sizeof *k);
}

VBILL_API void vbill_keys_free(vbill_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->n; i++)
        key_clear(&keys->k[i]);
    free(keys->k);
    OPENSSL_cleanse(keys, sizeof *keys);
    free(keys);
}

/* Wipes every string and member name of a parsed key file or pepper set. */
static void json_wipe(cJSON *j, int depth)
{
    for (cJSON *c = j ? j->child : NULL; c && depth < 2000; c = c->next) {
        if (c->string)
            OPENSSL_cleanse(c->string, strlen(c->string));
        if (cJSON_IsString(c) && c->valuestring)
            OPENSSL_cleanse(c->valuestring, strlen(c->valuestring));
        json_wipe(c, depth + 1);
    }
}

static void json_wipe_delete(cJSON *j)
{
    json_wipe(j, 0);
    cJSON_Delete(j);
}

/* Text holding secrets: one allocation at its final size (a realloc would leave a copy
 * behind in freed memory), wiped before it is freed. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_init(sbuf *b, size_t cap)
{
    b->p = malloc(cap);
    b->len = 0;
    b->cap = b->p ? cap : 0;
    b->failed = b->p == NULL;
    if (b->p)
        b->p[0] = '\0';
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed || b->len + n + 1 > b->cap) {
        b->failed = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON value that holds no secret (a date, an unknown member), printed by cJSON. */
static void sb_json(sbuf *b, const cJSON *v)
{
    char *t = vb_json_print(v);
    if (!t)
        b->failed = true;
    else
        sb_puts(b, t);
    free(t);
}

static void sb_free(sbuf *b)
{
    if (b->p)
        OPENSSL_cleanse(b->p, b->cap);
    free(b->p);
    b->p = NULL;
}

/* Reads a key file or pepper file.  Refused: a symlink (O_NOFOLLOW: whoever can change a
 * link can point the server at another key), anything but a regular file, a file owned by
 * another user, a file that group or others may read or write.  The message names the file
 * and the fix.  *out (wiped and freed by the caller) holds the text. */
static vbill_status read_secret_file(vbill_ctx *ctx, const char *what, const char *path,
                                     char **out, size_t *out_len, char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat sb;
    const char *problem = NULL;
    char why[160];
    if (fd < 0) {
        if (errno == ELOOP || errno == EMLINK)
            problem = "is a symlink: name the file itself (a link could be pointed at another "
                      "file)";
        else
            snprintf(why, sizeof why, "cannot open: %s", strerror(errno)), problem = why;
    } else if (fstat(fd, &sb) != 0) {
        snprintf(why, sizeof why, "cannot stat: %s", strerror(errno));
        problem = why;
    } else if (!S_ISREG(sb.st_mode)) {
        problem = "is not a regular file";
    } else if (sb.st_uid != geteuid()) {
        snprintf(why, sizeof why,
                 "is owned by uid %lu, not by the user running this (uid %lu): chown it",
                 (unsigned long)sb.st_uid, (unsigned long)geteuid());
        problem = why;
    } else if (sb.st_mode & 077) {
        snprintf(why, sizeof why,
                 "is mode %04o: group or others may read or write it; run chmod 600 %.60s%s",
                 (unsigned)(sb.st_mode & 07777), path, strlen(path) > 60 ? "..." : "");
        problem = why;
    } else if (sb.st_size > (1 << 20)) {
        problem = "is larger than 1 MiB";
    }
    if (problem) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "%s %s %s", what, path, problem);
        return vb_error(ctx, VBILL_ERR_KEY, "%s", err);
    }
    size_t size = (size_t)sb.st_size, got = 0;
    char *buf = malloc(size + 1);
    while (buf && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != size) {
        if (buf)
            OPENSSL_cleanse(buf, size);
        free(buf);
        snprintf(err, errlen, "%s %s: cannot read it whole", what, path);
        return vb_error(ctx, buf ? VBILL_ERR_KEY : VBILL_ERR_NOMEM, "%s", err);
    }
    buf[size] = '\0';
    *out = buf;
    *out_len = size;
    return VBILL_OK;
}

static bool derive(const uint8_t secret[32], const char *label, uint8_t out[32])
{
    size_t olen = 0;
    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, 32, (const unsigned char *)label,
                     strlen(label), out, 32, &olen) != NULL &&
           olen == 32;
}

static bool key_setup(vb_key *k, const uint8_t secret[32])
{
    uint8_t mk[32], ek[32], sk[32];
    bool ok = derive(secret, "vbill link mac v1", mk) && derive(secret, "vbill link enc v1", ek) &&
              derive(secret, "vbill session mac v1", sk);
    if (ok) {
        k->mac = mac_new(mk, 32);
        k->sess = mac_new(sk, 32);
        EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
        k->enc = EVP_CIPHER_CTX_new();
        ok = aes && k->enc && k->mac && k->sess &&
             EVP_EncryptInit_ex2(k->enc, aes, ek, NULL, NULL) == 1;
        EVP_CIPHER_free(aes);
    }
    OPENSSL_cleanse(mk, sizeof mk);
    OPENSSL_cleanse(ek, sizeof ek);
    OPENSSL_cleanse(sk, sizeof sk);
    return ok;
}

/* Gives key k its pepper (the key of the birth-date hash). */
static bool key_set_pepper(vb_key *k, const uint8_t pepper[32])
{
    memcpy(k->pepper, pepper, 32);
    EVP_MAC_CTX_free(k->birth);
    k->birth = mac_new(k->pepper, 32);
    k->has_pepper = k->birth != NULL;
    return k->has_pepper;
}

static bool parse_kid(const char *s, uint8_t kid[2])
{
    if (!s || strlen(s) != 4)
        return false;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            kid[i / 2] = (uint8_t)(v << 4);
        else
            kid[i / 2] |= (uint8_t)v;
    }
    return true;
}

static bool parse_secret(const cJSON *item, uint8_t out[32])
{
    size_t n = 0;
    return cJSON_IsString(item) &&
           b64url_decode(item->valuestring, strlen(item->valuestring), out, 32, &n) && n == 32;
}

static vbill_status keys_from_cjson(vbill_ctx *ctx, const cJSON *root, const char *what,
                                    vbill_keys **out)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "keys");
    const cJSON *signing = cJSON_GetObjectItemCaseSensitive(root, "signing");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(arr))
        return vb_error(ctx, VBILL_ERR_KEY, "%s: not a key file (no \"keys\" array)", what);
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > MAX_KEYS)
        return vb_error(ctx, VBILL_ERR_KEY, "%s: \"keys\" must hold 1 to %d keys", what, MAX_KEYS);
    if (!cJSON_IsString(signing))
        return vb_error(ctx, VBILL_ERR_KEY, "%s: \"signing\" (the signing key id) is missing",
                        what);
    vbill_keys *ks = calloc(1, sizeof *ks);
    if (!ks || !(ks->k = calloc((size_t)n, sizeof *ks->k))) {
        free(ks);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    ks->session_ttl = 1800;
    bool have_signing = false;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(e, "kid");
        const cJSON *pep = cJSON_GetObjectItemCaseSensitive(e, "pepper");
        vb_key *k = &ks->k[i];
        ks->n = (size_t)i + 1;
        uint8_t secret[32], pepper[32];
        const char *bad = NULL;
        if (!cJSON_IsString(kid) || !parse_kid(kid->valuestring, k->kid))
            bad = "kid (4 lowercase hex digits)";
        else if (!parse_secret(cJSON_GetObjectItemCaseSensitive(e, "secret"), secret))
            bad = "secret (32 bytes, base64url)";
        else if (pep && !parse_secret(pep, pepper)) /* absent: kept apart (a pepper set) */
            bad = "pepper (32 bytes, base64url)";
        if (bad) {
            vbill_keys_free(ks);
            OPENSSL_cleanse(secret, sizeof secret);
            OPENSSL_cleanse(pepper, sizeof pepper);
            return vb_error(ctx, VBILL_ERR_KEY, "%s: keys[%d].%s is missing or malformed", what,
                            i, bad);
        }
        hex(k->kid, 2, k->kid_hex);
        for (int j = 0; j < i; j++)
            if (memcmp(ks->k[j].kid, k->kid, 2) == 0) {
                vbill_keys_free(ks);
                OPENSSL_cleanse(secret, sizeof secret);
                OPENSSL_cleanse(pepper, sizeof pepper);
                return vb_error(ctx, VBILL_ERR_KEY, "%s: key id %s appears twice", what,
                                kid->valuestring);
            }
        bool ok = key_setup(k, secret) && (!pep || key_set_pepper(k, pepper));
        OPENSSL_cleanse(secret, sizeof secret);
        OPENSSL_cleanse(pepper, sizeof pepper);
        if (!ok) {
            vbill_keys_free(ks);
            return vb_error(ctx, VBILL_ERR_KEY, "%s: keys[%d]: cannot set up the key (OpenSSL)",
                            what, i);
        }
        if (strcmp(k->kid_hex, signing->valuestring) == 0) {
            ks->signing = (size_t)i;
            have_signing = true;
        }
    }
    if (!have_signing) {
        vbill_keys_free(ks);
        return vb_error(ctx, VBILL_ERR_KEY, "%s: the signing key id is not among the keys", what);
    }
    *out = ks;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_keys_from_json(vbill_ctx *ctx, const char *json, size_t len,
                                            vbill_keys **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no keys to return");
    *out = NULL;
    if (!json)
        return vb_error(ctx, VBILL_ERR_KEY, "no key file given");
    cJSON *root = vb_json_parse(json, len);
    if (!root)
        return vb_error(ctx, VBILL_ERR_KEY, "key set: not well-formed JSON");
    vbill_status st = keys_from_cjson(ctx, root, "key set", out);
    json_wipe_delete(root);
    return st;
}

VBILL_API vbill_status vbill_keys_load(vbill_ctx *ctx, const char *path, vbill_keys **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no keys to return");
    *out = NULL;
    if (!path || !*path)
        return vb_error(ctx, VBILL_ERR_KEY, "no key file given");
    char *text, err[512];
    size_t len;
    vbill_status st = read_secret_file(ctx, "key file", path, &text, &len, err, sizeof err);
    if (st)
        return st;
    cJSON *root = vb_json_parse(text, len);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!root)
        return vb_error(ctx, VBILL_ERR_KEY, "key file %s: not well-formed JSON", path);
    st = keys_from_cjson(ctx, root, path, out);
    json_wipe_delete(root);
    return st;
}

/* The peppers object of a pepper set, or NULL with err set. */
static const cJSON *pepper_map(const cJSON *root, char *err, size_t errlen, const char *what)
{
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "peppers");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(map)) {
        snprintf(err, errlen, "%s: not a pepper set (no \"peppers\" object)", what);
        return NULL;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, map)
    {
        uint8_t kid[2], pep[32];
        bool ok = parse_kid(e->string, kid) && parse_secret(e, pep);
        OPENSSL_cleanse(pep, sizeof pep);
        if (!ok) {
            snprintf(err, errlen,
                     "%s: peppers: each member must be a key id (4 lowercase hex digits) with "
                     "32 bytes of base64url",
                     what);
            return NULL;
        }
    }
    return map;
}

/* Gives the keys of `keys` that have none their pepper from a parsed pepper set. */
static vbill_status add_peppers(vbill_keys *keys, const cJSON *root, const char *what)
{
    char *err = keys->errmsg;
    size_t errlen = sizeof keys->errmsg;
    const cJSON *map = pepper_map(root, err, errlen, what);
    if (!map)
        return VBILL_ERR_KEY;
    uint8_t pep[32];
    /* First check everything, so that a refused set changes nothing. */
    size_t matched = 0;
    for (size_t i = 0; i < keys->n; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(map, keys->k[i].kid_hex);
        if (!e)
            continue;
        matched++;
        bool differs = keys->k[i].has_pepper && parse_secret(e, pep) &&
                       CRYPTO_memcmp(pep, keys->k[i].pepper, 32) != 0;
        OPENSSL_cleanse(pep, sizeof pep);
        if (differs) {
            snprintf(err, errlen, "%s: the pepper of key %s differs from the key file's", what,
                     keys->k[i].kid_hex);
            return VBILL_ERR_KEY;
        }
    }
    if (matched == 0) {
        snprintf(err, errlen, "%s holds no pepper for key %s (nor for any other key loaded)",
                 what, keys->k[keys->signing].kid_hex);
        return VBILL_ERR_KEY;
    }
    for (size_t i = 0; i < keys->n; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(map, keys->k[i].kid_hex);
        if (!e || keys->k[i].has_pepper)
            continue;
        bool ok = parse_secret(e, pep) && key_set_pepper(&keys->k[i], pep);
        OPENSSL_cleanse(pep, sizeof pep);
        if (!ok) {
            snprintf(err, errlen, "%s: key %s: cannot set up the pepper (OpenSSL)", what,
                     keys->k[i].kid_hex);
            return VBILL_ERR_KEY;
        }
    }
    return VBILL_OK;
}

VBILL_API vbill_status vbill_keys_add_peppers(vbill_keys *keys, const char *pepper_json,
                                              size_t len)
{
    if (!keys)
        return VBILL_ERR_ARG;
    keys->errmsg[0] = '\0';
    if (!pepper_json) {
        snprintf(keys->errmsg, sizeof keys->errmsg, "no pepper set given");
        return VBILL_ERR_ARG;
    }
    cJSON *root = vb_json_parse(pepper_json, len);
    if (!root) {
        snprintf(keys->errmsg, sizeof keys->errmsg, "pepper set: not well-formed JSON");
        return VBILL_ERR_KEY;
    }
    vbill_status st = add_peppers(keys, root, "pepper set");
    json_wipe_delete(root);
    return st;
}

VBILL_API vbill_status vbill_keys_load_peppers(vbill_keys *keys, const char *path)
{
    if (!keys)
        return VBILL_ERR_ARG;
    keys->errmsg[0] = '\0';
    if (!path || !*path) {
        snprintf(keys->errmsg, sizeof keys->errmsg, "no pepper file given");
        return VBILL_ERR_ARG;
    }
    char *text;
    size_t len;
    vbill_status st = read_secret_file(NULL, "pepper file", path, &text, &len, keys->errmsg,
                                       sizeof keys->errmsg);
    if (st)
        return st;
    cJSON *root = vb_json_parse(text, len);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!root) {
        snprintf(keys->errmsg, sizeof keys->errmsg, "pepper file %s: not well-formed JSON", path);
        return VBILL_ERR_KEY;
    }
    char what[300];
    snprintf(what, sizeof what, "pepper file %s", path);
    st = add_peppers(keys, root, what);
    json_wipe_delete(root);
    return st;
}

VBILL_API vbill_status vbill_keys_set_session_ttl(vbill_keys *keys, int64_t seconds)
{
    if (!keys)
        return VBILL_ERR_ARG;
    keys->errmsg[0] = '\0';
    if (seconds < 1 || seconds > 86400 * 31) {
        snprintf(keys->errmsg, sizeof keys->errmsg,
                 "session lifetime %lld s is out of range 1 s to 31 days", (long long)seconds);
        return VBILL_ERR_ARG;
    }
    keys->session_ttl = seconds;
    return VBILL_OK;
}

VBILL_API const char *vbill_keys_errmsg(const vbill_keys *keys)
{
    return keys ? keys->errmsg : "no keys";
}

/* One key entry of a key file written out: kid and secret (checked base64url, written as
 * they are), the pepper unless it goes elsewhere, and the other members as they were. */
static void put_key_entry(sbuf *b, const cJSON *e, bool with_pepper)
{
    sb_puts(b, "{");
    bool first = true;
    const cJSON *m;
    cJSON_ArrayForEach(m, e)
    {
        if (!m->string || (!with_pepper && strcmp(m->string, "pepper") == 0))
            continue;
        sb_puts(b, first ? "" : ",");
        first = false;
        cJSON *name = cJSON_CreateString(m->string);
        if (!name)
            b->failed = true;
        else
            sb_json(b, name);
        cJSON_Delete(name);
        sb_puts(b, ":");
        bool secret = strcmp(m->string, "secret") == 0 || strcmp(m->string, "pepper") == 0;
        if (secret && cJSON_IsString(m)) {
            sb_puts(b, "\"");
            sb_puts(b, m->valuestring); /* base64url: nothing to escape */
            sb_puts(b, "\"");
        } else {
            sb_json(b, m);
        }
    }
    sb_puts(b, "}");
}

VBILL_API vbill_status vbill_keys_generate(vbill_ctx *ctx, const char *existing_json,
                                           char **out_json)
{
    vb_clear_error(ctx);
    if (!out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "no key file to return");
    *out_json = NULL;
    cJSON *old = NULL;
    size_t cap = 1024;
    if (existing_json) {
        vbill_keys *check = NULL;
        vbill_status st = vbill_keys_from_json(ctx, existing_json, (size_t)-1, &check);
        vbill_keys_free(check);
        if (st)
            return st;
        old = vb_json_parse(existing_json, (size_t)-1);
        cap += 6 * strlen(existing_json); /* escaping at most sextuples a character */
    }
    uint8_t kid[2], secret[32], pepper[32];
    char kid_hex[5];
    for (int tries = 0;; tries++) {
        if (RAND_bytes(kid, 2) != 1 || tries > 100) {
            json_wipe_delete(old);
            return vb_error(ctx, VBILL_ERR_KEY, "no random key id (OpenSSL RAND_bytes)");
        }
        hex(kid, 2, kid_hex);
        bool dup = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(old, "keys"))
        {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "kid");
            dup = dup || (cJSON_IsString(k) && strcmp(k->valuestring, kid_hex) == 0);
        }
        if (!dup)
            break;
    }
    if (RAND_bytes(secret, 32) != 1 || RAND_bytes(pepper, 32) != 1) {
        json_wipe_delete(old);
        return vb_error(ctx, VBILL_ERR_KEY, "no random bytes for a key (OpenSSL RAND_bytes)");
    }
    char *s64 = b64url_encode(secret, 32), *p64 = b64url_encode(pepper, 32);
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(pepper, sizeof pepper);
    char created[21];
    iso_time((int64_t)time(NULL), created);
    sbuf b;
    sb_init(&b, cap);
    sb_puts(&b, "{\"vbill_keys\":1,\"signing\":\"");
    sb_puts(&b, kid_hex);
    sb_puts(&b, "\",\"keys\":[\n  {\"kid\":\"");
    sb_puts(&b, kid_hex);
    sb_puts(&b, "\",\"secret\":\"");
    sb_puts(&b, s64 ? s64 : "");
    sb_puts(&b, "\",\"pepper\":\"");
    sb_puts(&b, p64 ? p64 : "");
    sb_puts(&b, "\",\"created\":\"");
    sb_puts(&b, created);
    sb_puts(&b, "\"}");
    if (!s64 || !p64)
        b.failed = true;
    if (s64)
        OPENSSL_cleanse(s64, strlen(s64));
    if (p64)
        OPENSSL_cleanse(p64, strlen(p64));
    free(s64);
    free(p64);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(old, "keys"))
    {
        sb_puts(&b, ",\n  ");
        put_key_entry(&b, e, true);
    }
    json_wipe_delete(old);
    sb_puts(&b, "\n]}\n");
    if (b.failed) {
        sb_free(&b);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    *out_json = b.p;
    return VBILL_OK;
}

/* One member of a pepper set: "KID":"PEPPER" (both checked: hex and base64url). */
static void put_pepper(sbuf *b, bool *first, const char *kid, const char *pepper)
{
    sb_puts(b, *first ? "\n  \"" : ",\n  \"");
    *first = false;
    sb_puts(b, kid);
    sb_puts(b, "\":\"");
    sb_puts(b, pepper);
    sb_puts(b, "\"");
}

VBILL_API vbill_status vbill_keys_split(vbill_ctx *ctx, const char *key_json,
                                        const char *pepper_json, char **out_key_json,
                                        char **out_pepper_json)
{
    vb_clear_error(ctx);
    if (!out_key_json || !out_pepper_json)
        return vb_error(ctx, VBILL_ERR_ARG, "keys split: nothing to return");
    *out_key_json = *out_pepper_json = NULL;
    if (!key_json)
        return vb_error(ctx, VBILL_ERR_KEY, "keys split: no key file given");
    vbill_keys *check = NULL;
    vbill_status st = vbill_keys_from_json(ctx, key_json, (size_t)-1, &check);
    if (st)
        return st;
    cJSON *keys_root = vb_json_parse(key_json, (size_t)-1);
    cJSON *pep_root = pepper_json ? vb_json_parse(pepper_json, (size_t)-1) : NULL;
    char err[256] = "";
    const cJSON *old_map = NULL;
    if (pepper_json && (!pep_root || !(old_map = pepper_map(pep_root, err, sizeof err,
                                                            "pepper set")))) {
        st = vb_error(ctx, VBILL_ERR_KEY, "%s", pep_root ? err : "pepper set: not well-formed JSON");
    }
    size_t cap = 1024 + 6 * (strlen(key_json) + (pepper_json ? strlen(pepper_json) : 0));
    sbuf kb, pb;
    sb_init(&kb, cap);
    sb_init(&pb, cap);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(keys_root, "keys");
    bool first = true;
    sb_puts(&pb, "{\"vbill_peppers\":1,\"peppers\":{");
    /* the peppers of the key file, then those of the old set it does not hold */
    const cJSON *e, *walk = st ? NULL : arr;
    cJSON_ArrayForEach(e, walk)
    {
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(e, "kid");
        const cJSON *pep = cJSON_GetObjectItemCaseSensitive(e, "pepper");
        const cJSON *prev = cJSON_GetObjectItemCaseSensitive(old_map, kid->valuestring);
        if (pep && prev && strcmp(prev->valuestring, pep->valuestring) != 0) {
            st = vb_error(ctx, VBILL_ERR_KEY,
                          "keys split: key %s has another pepper in the pepper set",
                          kid->valuestring);
            break;
        }
        if (pep)
            put_pepper(&pb, &first, kid->valuestring, pep->valuestring);
    }
    walk = st ? NULL : old_map;
    cJSON_ArrayForEach(e, walk)
    {
        bool in_file = false;
        const cJSON *k;
        cJSON_ArrayForEach(k, arr)
        {
            const cJSON *kid = cJSON_GetObjectItemCaseSensitive(k, "kid");
            in_file = in_file || (strcmp(kid->valuestring, e->string) == 0 &&
                                  cJSON_GetObjectItemCaseSensitive(k, "pepper"));
        }
        if (!in_file)
            put_pepper(&pb, &first, e->string, e->valuestring);
    }
    sb_puts(&pb, "\n}}\n");
    /* the key file without its peppers; the other members as they were */
    sb_puts(&kb, "{");
    first = true;
    const cJSON *m;
    walk = st ? NULL : keys_root;
    cJSON_ArrayForEach(m, walk)
    {
        sb_puts(&kb, first ? "" : ",");
        first = false;
        cJSON *name = cJSON_CreateString(m->string);
        if (!name)
            kb.failed = true;
        else
            sb_json(&kb, name);
        cJSON_Delete(name);
        sb_puts(&kb, ":");
        if (m != arr) {
            sb_json(&kb, m);
            continue;
        }
        sb_puts(&kb, "[");
        cJSON_ArrayForEach(e, arr)
        {
            sb_puts(&kb, e == arr->child ? "\n  " : ",\n  ");
            put_key_entry(&kb, e, false);
        }
        sb_puts(&kb, "\n]");
    }
    sb_puts(&kb, "}\n");
    json_wipe_delete(keys_root);
    json_wipe_delete(pep_root);
    /* the split files load together, each key with the pepper it had (from the key file
     * or the old set) */
    if (!st && pepper_json && vbill_keys_add_peppers(check, pepper_json, (size_t)-1) != VBILL_OK)
        check->errmsg[0] = '\0'; /* an old set for none of these keys: nothing to carry */
    if (!st && (kb.failed || pb.failed))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    vbill_keys *back = NULL;
    if (!st && (st = vbill_keys_from_json(ctx, kb.p, kb.len, &back)) == VBILL_OK &&
        vbill_keys_add_peppers(back, pb.p, pb.len) != VBILL_OK)
        st = vb_error(ctx, VBILL_ERR_KEY, "keys split: %s", vbill_keys_errmsg(back));
    for (size_t i = 0; !st && i < back->n; i++)
        if (back->k[i].has_pepper != check->k[i].has_pepper ||
            (back->k[i].has_pepper && CRYPTO_memcmp(back->k[i].pepper, check->k[i].pepper, 32)))
            st = vb_error(ctx, VBILL_ERR_KEY, "keys split: key %s lost its pepper",
                          check->k[i].kid_hex);
    vbill_keys_free(back);
    vbill_keys_free(check);
    if (st) {
        sb_free(&kb);
        sb_free(&pb);
        return st;
    }
    *out_key_json = kb.p;
    *out_pepper_json = pb.p;
    return VBILL_OK;
}

static const vb_key *find_key(const vbill_keys *keys, const uint8_t kid[2])
{
    for (size_t i = 0; i < keys->n; i++)
        if (memcmp(keys->k[i].kid, kid, 2) == 0)
            return &keys->k[i];
    return NULL;
}

/* ---- links ---------------------------------------------------------------------------- */

static bool birth_hash(const vb_key *k, const char *id, int64_t cycle_start, const char digits[6],
                       uint8_t out[BIRTH_LEN])
{
    static const char label[] = "vbill-birth-v1";
    uint8_t idlen = (uint8_t)strlen(id), cyc[2] = {(uint8_t)(cycle_start >> 8),
                                                   (uint8_t)cycle_start};
    const void *parts[] = {label, k->kid, &idlen, id, cyc, digits};
    size_t lens[] = {sizeof label, 2, 1, idlen, 2, 6};
    uint8_t full[32];
    bool ok = mac_parts(k->birth, parts, lens, 6, full);
    memcpy(out, full, BIRTH_LEN);
    OPENSSL_cleanse(full, sizeof full);
    return ok;
}

static bool link_tag(const vb_key *k, const uint8_t *hdr, const uint8_t *pt, size_t n,
                     uint8_t tag[TAG_LEN])
{
    const void *parts[] = {hdr, pt};
    size_t lens[] = {HDR_LEN, n};
    uint8_t full[32];
    bool ok = mac_parts(k->mac, parts, lens, 2, full);
    memcpy(tag, full, TAG_LEN);
    return ok;
}

/* A new token for ident.  The birth-date check is ident's birth hashed with the signing key,
 * or, when keep_birth is given, that hash carried over from an old token of the same key. */
static vbill_status make_token(vbill_ctx *ctx, const vbill_keys *keys, const vb_identity *ident,
                               int64_t now, int64_t ttl, const uint8_t *avoid_tag,
                               const uint8_t *keep_birth, char **out)
{
    const vb_key *k = &keys->k[keys->signing];
    int64_t expiry;
    int64_t cs = vb_date_days(ident->cycle_start);
    int64_t clen = vb_date_days(ident->cycle_end) - cs;
    if (__builtin_add_overflow(now, ttl, &expiry) || expiry > UINT32_MAX)
        return vb_error(ctx, VBILL_ERR_ARG, "link for %s: expiry after 2106", ident->id);
    if (!keep_birth && !k->has_pepper)
        return vb_error(ctx, VBILL_ERR_KEY,
                        "link for %s: key %s has no pepper: load its pepper set "
                        "(vbill_keys_load_peppers, --pepper-file, VBILL_PEPPER)",
                        ident->id, k->kid_hex);
    if (cs < 0 || cs > 65535 || clen < 0 || clen > 255)
        return vb_error(ctx, VBILL_ERR_ARG, "link for %s: bill cycle outside 1970-2149",
                        ident->id);
    uint8_t pt[FIXED_PT + 2 + 64 + 64], hdr[HDR_LEN] = {LINK_VERSION, k->kid[0], k->kid[1]};
    size_t n = 0;
    put_u32(pt, (uint32_t)expiry);
    pt[4] = (uint8_t)(cs >> 8);
    pt[5] = (uint8_t)cs;
    pt[6] = (uint8_t)clen;
    bool ok = true;
    if (keep_birth) {
        memcpy(pt + 9, keep_birth, BIRTH_LEN);
    } else {
        char digits[7];
        int yy = ident->birth.y % 100, mm = ident->birth.m % 100, dd = ident->birth.d % 100;
        digits[0] = (char)('0' + yy / 10);
        digits[1] = (char)('0' + yy % 10);
        digits[2] = (char)('0' + mm / 10);
        digits[3] = (char)('0' + mm % 10);
        digits[4] = (char)('0' + dd / 10);
        digits[5] = (char)('0' + dd % 10);
        digits[6] = '\0';
        ok = birth_hash(k, ident->id, cs, digits, pt + 9);
        OPENSSL_cleanse(digits, sizeof digits);
    }
    if (!ok)
        return vb_error(ctx, VBILL_ERR_KEY, "link for %s: HMAC failed (OpenSSL)", ident->id);
    n = FIXED_PT - 1;
    uint8_t code = 0;
    for (size_t i = 0; i < VB_ARRAY_LEN(SCENARIOS); i++)
        if (strcmp(ident->scenario, SCENARIOS[i]) == 0)
            code = (uint8_t)(i + 1);
    size_t slen = strlen(ident->scenario);
    if (code == 0 && slen > 0) {
        pt[n++] = 0xFF;
        pt[n++] = (uint8_t)slen;
        memcpy(pt + n, ident->scenario, slen);
        n += slen;
    } else {
        pt[n++] = code;
    }
    size_t idlen = strlen(ident->id);
    memcpy(pt + n, ident->id, idlen);
    n += idlen;
    uint8_t raw[HDR_LEN + TAG_LEN + sizeof pt];
    for (int tries = 0; tries < 8; tries++) {
        if (RAND_bytes(pt + 7, 2) != 1)
            return vb_error(ctx, VBILL_ERR_KEY, "no random bytes (OpenSSL RAND_bytes)");
        uint8_t tag[TAG_LEN];
        if (!link_tag(k, hdr, pt, n, tag))
            return vb_error(ctx, VBILL_ERR_KEY, "link for %s: HMAC failed (OpenSSL)", ident->id);
        if (avoid_tag && memcmp(tag, avoid_tag, TAG_LEN) == 0)
            continue; /* a re-issued link must differ from the old one */
        memcpy(raw, hdr, HDR_LEN);
        memcpy(raw + HDR_LEN, tag, TAG_LEN);
        if (!ctr_crypt(k, tag, pt, n, raw + HDR_LEN + TAG_LEN))
            return vb_error(ctx, VBILL_ERR_KEY, "link for %s: encryption failed", ident->id);
        OPENSSL_cleanse(pt, sizeof pt);
        *out = b64url_encode(raw, HDR_LEN + TAG_LEN + n);
        return *out ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    return vb_error(ctx, VBILL_ERR_KEY, "link for %s: no distinct token", ident->id);
}

VBILL_API vbill_status vbill_link_issue(vbill_ctx *ctx, const vbill_keys *keys,
                                        const vbill_bill *bill, int64_t now, int64_t ttl_seconds,
                                        char **out_token)
{
    vb_clear_error(ctx);
    if (!out_token)
        return vb_error(ctx, VBILL_ERR_ARG, "no token to return");
    *out_token = NULL;
    if (!keys || !bill)
        return vb_error(ctx, VBILL_ERR_ARG, "link issue: keys and a bill are needed");
    if (ttl_seconds < 1)
        return vb_error(ctx, VBILL_ERR_ARG, "link issue: the lifetime must be at least 1 s");
    if (!bill->ident.has_birth)
        return vb_error(ctx, VBILL_ERR_UNSUPPORTED,
                        "link issue: bill '%s' was read from JSON and holds no birth date: "
                        "issue its link from the bill made from the record",
                        bill->ident.id);
    return make_token(ctx, keys, &bill->ident, clock_now(now), ttl_seconds, NULL, NULL,
                      out_token);
}

/* Parses and authenticates a link token; the expiry is checked when check_expiry. */
static vbill_status parse_link(vbill_ctx *ctx, const vbill_keys *keys, const char *token,
                               int64_t now, bool check_expiry, link_info *li)
{
    memset(li, 0, sizeof *li);
    if (!keys)
        return vb_error(ctx, VBILL_ERR_ARG, "no keys to verify the link with");
    if (!token)
        return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "no link token");
    size_t tlen = strnlen(token, MAX_TOKEN_CHARS + 1);
    uint8_t raw[MAX_TOKEN_CHARS], pt[MAX_TOKEN_CHARS];
    size_t n = 0;
    if (tlen > MAX_TOKEN_CHARS || !b64url_decode(token, tlen, raw, sizeof raw, &n))
        return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "link token: not base64url of a token");
    if (n < HDR_LEN + TAG_LEN + MIN_PT)
        return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "link token: too short (%zu bytes)", n);
    if (raw[0] != LINK_VERSION)
        return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "link token: unknown version %u",
                        raw[0]);
    const vb_key *k = find_key(keys, raw + 1);
    if (!k)
        return vb_error(ctx, VBILL_ERR_LINK_KEY, "link token: key id %02x%02x is not known",
                        raw[1], raw[2]);
    size_t ptlen = n - HDR_LEN - TAG_LEN;
    const uint8_t *tag = raw + HDR_LEN;
    uint8_t want[TAG_LEN];
    if (!ctr_crypt(k, tag, raw + HDR_LEN + TAG_LEN, ptlen, pt) || !link_tag(k, raw, pt, ptlen, want))
        return vb_error(ctx, VBILL_ERR_KEY, "link token: crypto failure (OpenSSL)");
    if (CRYPTO_memcmp(want, tag, TAG_LEN) != 0)
        return vb_error(ctx, VBILL_ERR_LINK_SIGNATURE,
                        "link token: signature does not match (altered or another key)");
    /* Authentic from here on; still checked, since a bug elsewhere must not become one here. */
    li->key = k;
    memcpy(li->tag, tag, TAG_LEN);
    hex(tag, TAG_LEN, li->link_hex);
    li->expiry = get_u32(pt);
    li->cycle_start = (int64_t)pt[4] << 8 | pt[5];
    li->cycle_len = pt[6];
    memcpy(li->birth, pt + 9, BIRTH_LEN);
    size_t p = FIXED_PT - 1;
    uint8_t code = pt[p++];
    if (code == 0xFF) {
        size_t sl = p < ptlen ? pt[p++] : 64;
        if (sl == 0 || sl > 63 || p + sl >= ptlen)
            return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "link token: bad scenario field");
        memcpy(li->scenario, pt + p, sl);
        p += sl;
    } else if (code > VB_ARRAY_LEN(SCENARIOS)) {
        return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "link token: bad scenario code");
    } else if (code > 0) {
        snprintf(li->scenario, sizeof li->scenario, "%s", SCENARIOS[code - 1]);
    }
    size_t idlen = ptlen - p;
    if (idlen < 1 || idlen > 64)
        return vb_error(ctx, VBILL_ERR_LINK_MALFORMED, "link token: bad subscriber field");
    memcpy(li->id, pt + p, idlen);
    li->id[idlen] = '\0';
    OPENSSL_cleanse(pt, sizeof pt);
    if (check_expiry && clock_now(now) >= li->expiry) {
        char when[21];
        iso_time(li->expiry, when);
        return vb_error(ctx, VBILL_ERR_LINK_EXPIRED, "link %s expired at %s", li->link_hex, when);
    }
    return VBILL_OK;
}

static char *link_info_json(const link_info *li)
{
    char cs[11], ce[11], when[21];
    vb_date_format(vb_date_from_days(li->cycle_start), cs);
    vb_date_format(vb_date_from_days(li->cycle_start + li->cycle_len), ce);
    iso_time(li->expiry, when);
    vb_buf b = {0};
    vb_buf_printf(&b, "{\"link\":\"%s\",\"kid\":\"%s\",\"subscriber\":", li->link_hex,
                  li->key->kid_hex);
    vb_buf_json_string(&b, li->id);
    vb_buf_printf(&b, ",\"cycle_start\":\"%s\",\"cycle_end\":\"%s\",\"scenario\":", cs, ce);
    if (li->scenario[0])
        vb_buf_json_string(&b, li->scenario);
    else
        vb_buf_puts(&b, "null");
    vb_buf_printf(&b, ",\"expires\":\"%s\",\"expires_unix\":%lld}", when, (long long)li->expiry);
    return vb_buf_take(&b);
}

VBILL_API vbill_status vbill_link_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                         const char *token, int64_t now, char **out_info_json)
{
    vb_clear_error(ctx);
    if (out_info_json)
        *out_info_json = NULL;
    link_info li;
    vbill_status st = parse_link(ctx, keys, token, now, true, &li);
    if (st)
        return st;
    if (out_info_json && !(*out_info_json = link_info_json(&li)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    return VBILL_OK;
}

/* ---- the knowledge check and the limiter ----------------------------------------------
 *
 * Store keys (no birth date, no subscriber id in clear):
 *   l:LINK:f  failed checks of a link        l:LINK:u  end of its cooling lock
 *   l:LINK:r  the link is revoked            s:SUB:f   failed checks of a subscriber's cycle
 *   c:CLIENT:f failures of a client (window) c:CLIENT:s its turn while slowed
 *   g:f       failures in the alarm window   g:t       failures ever
 * LINK is the tag of the token (hex), SUB and CLIENT truncated SHA-256 hashes. */

static void store_key(char *out, size_t n, const char *kind, const char *id, const char *what)
{
    snprintf(out, n, "%s:%s:%s", kind, id, what);
}

static void hash_id(const void *p, size_t n, char out[33])
{
    uint8_t d[32];
    unsigned int dl = 0;
    if (EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL) != 1)
        memset(d, 0, sizeof d);
    hex(d, 16, out);
}

/* The subscriber and cycle of a link, hashed. */
static void subscriber_id(const link_info *li, char out[33])
{
    char in[96];
    int n = snprintf(in, sizeof in, "vbill-sub-v1|%s|%lld", li->id, (long long)li->cycle_start);
    hash_id(in, (size_t)n, out);
}

/* Who the client is, for counting and for binding sessions: an IPv4 address as it is, an
 * IPv6 address by its /64, an IPv4-mapped IPv6 address as IPv4, other text as given.
 * False for NULL or "". */
static bool client_bucket(const char *client, char out[128])
{
    if (!client || !*client)
        return false;
    char addr[64];
    size_t n = strlen(client);
    if (n >= 2 && client[0] == '[' && client[n - 1] == ']' && n - 2 < sizeof addr) {
        memcpy(addr, client + 1, n - 2); /* [v6] as in a URL */
        addr[n - 2] = '\0';
    } else {
        snprintf(addr, sizeof addr, "%s", n < sizeof addr ? client : "");
    }
    struct in_addr a4;
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, addr, &a4) == 1 && inet_ntop(AF_INET, &a4, text, sizeof text)) {
        snprintf(out, 128, "4:%s", text);
    } else if (inet_pton(AF_INET6, addr, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            memcpy(&a4, a6.s6_addr + 12, 4);
            inet_ntop(AF_INET, &a4, text, sizeof text);
            snprintf(out, 128, "4:%s", text);
        } else {
            memset(a6.s6_addr + 8, 0, 8);
            inet_ntop(AF_INET6, &a6, text, sizeof text);
            snprintf(out, 128, "6:%s/64", text);
        }
    } else {
        snprintf(out, 128, "s:%.120s", client);
    }
    return true;
}

static void event_common(vb_buf *b, const char *type, const link_info *li)
{
    char cs[11];
    vb_date_format(vb_date_from_days(li->cycle_start), cs);
    vb_buf_printf(b, "{\"type\":\"%s\",\"link\":\"%s\",\"subscriber\":", type, li->link_hex);
    vb_buf_json_string(b, li->id);
    vb_buf_printf(b, ",\"cycle_start\":\"%s\",\"scenario\":", cs);
    if (li->scenario[0])
        vb_buf_json_string(b, li->scenario);
    else
        vb_buf_puts(b, "null");
}

static void lock_event(vbill_ctx *ctx, vbill_store *store, const link_info *li, bool subscriber,
                       bool hard, int64_t until, int64_t failures)
{
    vb_log(ctx, VBILL_LOG_WARN, "%s %s of subscriber %s locked %s after %lld failed checks",
           subscriber ? "bill cycle of link" : "link", li->link_hex, li->id,
           hard ? "for good" : "for a cooling period", (long long)failures);
    if (!store->lock_fn)
        return;
    vb_buf b = {0};
    event_common(&b, subscriber ? "subscriber_locked" : "link_locked", li);
    vb_buf_printf(&b, ",\"hard\":%s,\"until\":%lld,\"failures\":%lld}", hard ? "true" : "false",
                  (long long)until, (long long)failures);
    char *ev = vb_buf_take(&b);
    if (ev)
        store->lock_fn(store->lock_user, ev);
    free(ev);
}

/* A store operation failed: the message (with the store's own reason, when it gives one)
 * goes to the context of the call and to the store. */
static vbill_status store_fail(vbill_ctx *ctx, vbill_store *store, const char *what)
{
    const char *why = store->ops.errmsg ? store->ops.errmsg(store->impl) : NULL;
    snprintf(store->errmsg, sizeof store->errmsg, "state store: %s failed%s%.300s", what,
             why && *why ? ": " : "", why ? why : "");
    return vb_error(ctx, VBILL_ERR_STORE, "%s", store->errmsg);
}

/* The keyed hash that binds a session to its client's bucket (made on issue, checked on
 * verify: one function so the two cannot drift apart). */
static bool client_mac(const vb_key *k, const char *bucket, uint8_t full[32])
{
    static const char label[] = "client";
    const void *parts[] = {label, bucket};
    size_t lens[] = {sizeof label, strlen(bucket)};
    return mac_parts(k->sess, parts, lens, 2, full);
}

static vbill_status make_session(vbill_ctx *ctx, const vbill_keys *keys, const link_info *li,
                                 const char *bucket, int64_t now, char **out)
{
    const vb_key *k = li->key;
    int64_t exp = now + keys->session_ttl; /* now < 2^32, ttl at most 31 days */
    if (exp > li->expiry)
        exp = li->expiry; /* a session never outlives its link */
    uint8_t raw[SESSION_LEN], full[32];
    raw[0] = SESSION_VERSION;
    memcpy(raw + 1, k->kid, 2);
    memcpy(raw + HDR_LEN, li->tag, TAG_LEN);
    put_u32(raw + HDR_LEN + TAG_LEN, (uint32_t)exp);
    if (!client_mac(k, bucket, full))
        return vb_error(ctx, VBILL_ERR_KEY, "session: HMAC failed (OpenSSL)");
    memcpy(raw + HDR_LEN + TAG_LEN + 4, full, 6);
    const void *parts[] = {raw};
    size_t lens[] = {SESSION_LEN - 16};
    if (!mac_parts(k->sess, parts, lens, 1, full))
        return vb_error(ctx, VBILL_ERR_KEY, "session: HMAC failed (OpenSSL)");
    memcpy(raw + SESSION_LEN - 16, full, 16);
    *out = b64url_encode(raw, SESSION_LEN);
    return *out ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
}

/* Keeps digits only, ignoring the separators people type; false unless exactly six. */
static bool normalise_digits(const char *in, char out[7])
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '-' || *p == '.' || *p == '\t' || *p == '\n' || *p == '\r')
            continue;
        if (*p < '0' || *p > '9' || n >= 6)
            return false;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n == 6;
}

/* Is the link revoked in the store? */
static vbill_status revoked(vbill_ctx *ctx, vbill_store *store, const link_info *li,
                            int64_t now, bool *out)
{
    char kr[64];
    int64_t v = 0;
    store_key(kr, sizeof kr, "l", li->link_hex, "r");
    if (store->ops.get(store->impl, kr, now, &v))
        return store_fail(ctx, store, "reading the revocations");
    *out = v != 0;
    return VBILL_OK;
}

static vbill_status refuse_revoked(vbill_ctx *ctx, const link_info *li)
{
    return vb_error(ctx, VBILL_ERR_LINK_EXPIRED,
                    "link %s was revoked (re-issued, or revoked by the help desk)", li->link_hex);
}

/* Records the revocation; it outlives the link by a day (a revoked link never verifies
 * again: after that day its expiry refuses it). */
static vbill_status record_revocation(vbill_ctx *ctx, vbill_store *store, const link_info *li, int64_t now)
{
    char kr[64];
    store_key(kr, sizeof kr, "l", li->link_hex, "r");
    int64_t ttl = (li->expiry > now ? li->expiry - now : 0) + 86400;
    if (store->ops.set(store->impl, kr, 1, ttl, now))
        return store_fail(ctx, store, "recording the revocation");
    vb_log(ctx, VBILL_LOG_INFO, "link %s revoked", li->link_hex);
    return VBILL_OK;
}

VBILL_API vbill_status vbill_link_verify_store(vbill_ctx *ctx, const vbill_keys *keys,
                                               vbill_store *store, const char *token,
                                               int64_t now, char **out_info_json)
{
    vb_clear_error(ctx);
    if (out_info_json)
        *out_info_json = NULL;
    now = clock_now(now);
    link_info li;
    vbill_status st = parse_link(ctx, keys, token, now, true, &li);
    bool gone = false;
    if (!st && store && !(st = revoked(ctx, store, &li, now, &gone)) && gone)
        st = refuse_revoked(ctx, &li);
    if (!st && out_info_json && !(*out_info_json = link_info_json(&li)))
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    OPENSSL_cleanse(&li, sizeof li);
    return st;
}

VBILL_API vbill_status vbill_link_revoke(vbill_ctx *ctx, const vbill_keys *keys,
                                         vbill_store *store, const char *token)
{
    vb_clear_error(ctx);
    if (!store)
        return vb_error(ctx, VBILL_ERR_ARG, "link revoke: no store");
    link_info li;
    int64_t now = clock_now(0);
    vbill_status st = parse_link(ctx, keys, token, now, false, &li);
    if (!st)
        st = record_revocation(ctx, store, &li, now);
    OPENSSL_cleanse(&li, sizeof li);
    return st;
}

VBILL_API vbill_status vbill_link_reissue(vbill_ctx *ctx, const vbill_keys *keys,
                                          vbill_store *store, const char *old_token,
                                          const vbill_bill *bill, int64_t now,
                                          int64_t ttl_seconds, char **out_token)
{
    vb_clear_error(ctx);
    if (!out_token)
        return vb_error(ctx, VBILL_ERR_ARG, "no token to return");
    *out_token = NULL;
    if (!bill || ttl_seconds < 1)
        return vb_error(ctx, VBILL_ERR_ARG, "link reissue: a bill and a lifetime are needed");
    if (!store)
        return vb_error(ctx, VBILL_ERR_ARG,
                        "link reissue: a store is needed to revoke the old link");
    now = clock_now(now);
    link_info li;
    vbill_status st = parse_link(ctx, keys, old_token, now, false, &li);
    if (st)
        return st;
    const vb_identity *ident = &bill->ident;
    bool gone = false;
    if (strcmp(ident->id, li.id) != 0 || vb_date_days(ident->cycle_start) != li.cycle_start)
        st = vb_error(ctx, VBILL_ERR_ARG,
                      "link reissue: bill %s is not the subscriber and cycle of link %s",
                      ident->id, li.link_hex);
    /* Without the birth date the old token's keyed hash is carried over; it is keyed by the
     * key that signed it, so only while that key still signs. */
    else if (!ident->has_birth && li.key != &keys->k[keys->signing])
        st = vb_error(ctx, VBILL_ERR_UNSUPPORTED,
                      "link reissue: link %s was signed with an older key: re-issue it from the "
                      "bill made from the record",
                      li.link_hex);
    else if (!(st = revoked(ctx, store, &li, now, &gone)) && gone)
        st = vb_error(ctx, VBILL_ERR_LINK_EXPIRED,
                      "link reissue: link %s was revoked already: re-issue from the link that "
                      "replaced it",
                      li.link_hex);
    if (!st)
        st = make_token(ctx, keys, ident, now, ttl_seconds, li.tag,
                        ident->has_birth ? NULL : li.birth, out_token);
    if (!st && (st = record_revocation(ctx, store, &li, now)) != VBILL_OK) {
        free(*out_token); /* no new link unless the old one is revoked */
        *out_token = NULL;
    }
    OPENSSL_cleanse(&li, sizeof li);
    return st;
}

/* One check's counts, so that they can be undone together. */
typedef struct attempt {
    vbill_store *store;
    int64_t now;
    char id[17]; /* random: makes each operation's op_id unique (lost replies) */
    int ops;
    struct {
        const char *key;
        int64_t limit, ttl;
        bool done;
    } counted[4];
    int n;
} attempt;

static vbill_status count_op(attempt *a, const char *key, int64_t delta, int64_t limit,
                             int64_t ttl, int64_t *value, bool *applied)
{
    char op[32];
    snprintf(op, sizeof op, "%s:%d", a->id, a->ops++);
    return vb_store_add(a->store, key, delta, limit, ttl, a->now, op, value, applied);
}

/* Counts one more on key within limit; remembered for undo when it moved. */
static vbill_status count_up(attempt *a, const char *key, int64_t limit, int64_t ttl,
                             int64_t *value, bool *applied)
{
    vbill_status st = count_op(a, key, 1, limit, ttl, value, applied);
    if (!st && *applied && a->n < 4) {
        a->counted[a->n].key = key;
        a->counted[a->n].limit = limit;
        a->counted[a->n].ttl = ttl;
        a->counted[a->n++].done = true;
    }
    return st;
}

/* Undoes what the attempt counted (a success, or a refusal after counting); never below
 * zero, whatever an unlock did in between. */
static bool uncount(attempt *a)
{
    bool ok = true;
    for (int i = a->n - 1; i >= 0; i--) {
        int64_t v;
        bool applied;
        ok = count_op(a, a->counted[i].key, -1, a->counted[i].limit, a->counted[i].ttl, &v,
                      &applied) == VBILL_OK && ok;
    }
    a->n = 0;
    return ok;
}

static vbill_status locked_for_good(vbill_ctx *ctx, vbill_store *store, const link_info *li)
{
    store->counts.locked++;
    return vb_error(ctx, VBILL_ERR_AUTH_LOCKED,
                    "link %s is locked after %d failed checks: the carrier must re-issue it or "
                    "the help desk unlock it",
                    li->link_hex, store->hard);
}

static vbill_status subscriber_locked(vbill_ctx *ctx, vbill_store *store, const link_info *li)
{
    store->counts.locked++;
    return vb_error(ctx, VBILL_ERR_AUTH_LOCKED,
                    "link %s: the bill of subscriber %s for this cycle is locked after %d failed "
                    "checks over all its links: serve it another way",
                    li->link_hex, li->id, store->sub_max);
}

/* A failed check: the alarm's window and the total; the alarm fires once per window. */
static void count_failure(vbill_ctx *ctx, attempt *a)
{
    vbill_store *store = a->store;
    int64_t w = 0, t = 0;
    bool applied = false;
    store->counts.failed++;
    if (count_op(a, "g:f", 1, INT64_MAX, store->alarm_window, &w, &applied) || !applied ||
        count_op(a, "g:t", 1, INT64_MAX, 0, &t, &applied)) {
        vb_log(ctx, VBILL_LOG_WARN, "state store: the failure counters were not updated");
        return;
    }
    if (w != store->alarm_max)
        return;
    store->counts.alarms++;
    vb_log(ctx, VBILL_LOG_WARN,
           "auth.attack_suspected: %lld failed checks within %lld s over all links",
           (long long)w, (long long)store->alarm_window);
    if (!store->alarm_fn)
        return;
    char ev[200];
    snprintf(ev, sizeof ev,
             "{\"type\":\"auth.attack_suspected\",\"failures\":%lld,\"window_seconds\":%lld,"
             "\"at\":%lld}",
             (long long)w, (long long)store->alarm_window, (long long)a->now);
    store->alarm_fn(store->alarm_user, ev);
}

static int64_t min3(int64_t a, int64_t b, int64_t c)
{
    int64_t m = a < b ? a : b;
    return m < c ? m : c;
}

VBILL_API vbill_status vbill_link_attempts(vbill_ctx *ctx, const vbill_keys *keys,
                                           vbill_store *store, const char *token,
                                           int64_t now, char **out_json)
{
    vb_clear_error(ctx);
    if (out_json)
        *out_json = NULL;
    if (!store || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "link attempts: a store and an output are needed");
    now = clock_now(now);
    link_info li;
    vbill_status st = parse_link(ctx, keys, token, now, false, &li);
    if (st)
        return st;
    char kf[64], ku[64], kr[64], ks[64], sid[33];
    subscriber_id(&li, sid);
    store_key(kf, sizeof kf, "l", li.link_hex, "f");
    store_key(ku, sizeof ku, "l", li.link_hex, "u");
    store_key(kr, sizeof kr, "l", li.link_hex, "r");
    store_key(ks, sizeof ks, "s", sid, "f");
    int64_t f = 0, sf = 0, until = 0, gone = 0;
    void *im = store->impl;
    if (store->ops.get(im, kf, now, &f) || store->ops.get(im, ks, now, &sf) ||
        store->ops.get(im, ku, now, &until) || store->ops.get(im, kr, now, &gone))
        return store_fail(ctx, store, "reading the counters");
    bool for_good = gone || sf >= store->sub_max || f >= store->hard;
    bool cooling = !for_good && until > now;
    const char *state = gone              ? "revoked"
                        : sf >= store->sub_max ? "subscriber"
                        : f >= store->hard     ? "link"
                        : cooling              ? "cooling"
                                               : "open";
    int64_t left = for_good ? 0
                            : min3(store->soft - f % store->soft, store->hard - f,
                                   store->sub_max - sf);
    vb_buf b = {0};
    vb_buf_printf(&b, "{\"state\":\"%s\",\"tries_left\":%lld,\"locked_until\":%lld}", state,
                  (long long)(left > 0 ? left : 0), (long long)(cooling ? until : 0));
    if (!(*out_json = vb_buf_take(&b)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    return VBILL_OK;
}

VBILL_API vbill_status vbill_auth_check(vbill_ctx *ctx, const vbill_keys *keys,
                                        vbill_store *store, const char *token,
                                        const char *digits, const char *client, int64_t now,
                                        char **out_session)
{
    vb_clear_error(ctx);
    if (out_session)
        *out_session = NULL;
    char bucket[128];
    if (!store || !digits)
        return vb_error(ctx, VBILL_ERR_ARG, "auth check: a store and the digits are needed");
    if (!client_bucket(client, bucket))
        return vb_error(ctx, VBILL_ERR_ARG,
                        "auth check: the client's address is needed (as your proxy verified "
                        "it): NULL or \"\" would put every caller in one bucket");
    now = clock_now(now);
    link_info li;
    vbill_status st = parse_link(ctx, keys, token, now, true, &li);
    if (st)
        return st;
    if (!li.key->has_pepper)
        return vb_error(ctx, VBILL_ERR_KEY,
                        "link %s: key %s has no pepper: load its pepper set "
                        "(vbill_keys_load_peppers, --pepper-file, VBILL_PEPPER)",
                        li.link_hex, li.key->kid_hex);
    store->counts.checks++;
    char d[7];
    if (!normalise_digits(digits, d)) {
        OPENSSL_cleanse(d, sizeof d);
        return vb_error(ctx, VBILL_ERR_AUTH_WRONG,
                        "link %s: the birth date must be six digits (YYMMDD)", li.link_hex);
    }
    char kf[64], ku[64], kr[64], ks[64], kc[64], kcs[64], sid[33], cid[33];
    subscriber_id(&li, sid);
    hash_id(bucket, strlen(bucket), cid);
    store_key(kf, sizeof kf, "l", li.link_hex, "f");
    store_key(ku, sizeof ku, "l", li.link_hex, "u");
    store_key(kr, sizeof kr, "l", li.link_hex, "r");
    store_key(ks, sizeof ks, "s", sid, "f");
    store_key(kc, sizeof kc, "c", cid, "f");
    store_key(kcs, sizeof kcs, "c", cid, "s");
    void *im = store->impl;
    int64_t until = 0, gone = 0, cfails = 0;
    int64_t link_ttl = li.expiry - now + 86400; /* counters outlive the link a little */
    int64_t sub_ttl = link_ttl > 400 * 86400 ? link_ttl : 400 * 86400;
    /* The link's and the subscriber's failures are not read here: the bounded adds below
     * both enforce and report them. */
    if (store->ops.get(im, kr, now, &gone) || store->ops.get(im, ku, now, &until) ||
        store->ops.get(im, kc, now, &cfails)) {
        OPENSSL_cleanse(d, sizeof d);
        return store_fail(ctx, store, "reading the counters");
    }
    st = VBILL_OK;
    if (gone) {
        st = refuse_revoked(ctx, &li);
    } else if (until > now) {
        char when[21];
        iso_time(until, when);
        store->counts.locked++;
        st = vb_error(ctx, VBILL_ERR_AUTH_LOCKED, "link %s is locked until %s", li.link_hex,
                      when);
    }
    if (st) {
        OPENSSL_cleanse(d, sizeof d);
        return st;
    }
    attempt a = {.store = store, .now = now};
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        OPENSSL_cleanse(d, sizeof d);
        return vb_error(ctx, VBILL_ERR_KEY, "no random bytes (OpenSSL RAND_bytes)");
    }
    hex(rnd, sizeof rnd, a.id);
    /* A client over its limit is slowed: one check per `slow` seconds after its last
     * failure, its turn taken before anything is counted (and given back on success). */
    int64_t f = 0, sf = 0, c = 0, v = 0;
    bool applied = false;
    if (cfails >= store->client_max) {
        if ((st = count_up(&a, kcs, 1, store->slow, &v, &applied)))
            goto store_error;
        if (!applied) {
            OPENSSL_cleanse(d, sizeof d);
            store->counts.slowed++;
            return vb_error(ctx, VBILL_ERR_AUTH_LOCKED,
                            "link %s: this client made %d failed checks within %lld s and is "
                            "slowed to one check every %lld s: try again in %lld s",
                            li.link_hex, store->client_max, (long long)store->client_window,
                            (long long)store->slow, (long long)store->slow);
        }
    }
    /* Count the attempt before comparing, so concurrent checks can never make more than the
     * bounds allow; undone on success. */
    if ((st = count_up(&a, kf, store->hard, link_ttl, &f, &applied)))
        goto store_error;
    if (!applied) {
        OPENSSL_cleanse(d, sizeof d);
        uncount(&a);
        return locked_for_good(ctx, store, &li);
    }
    if ((st = count_up(&a, ks, store->sub_max, sub_ttl, &sf, &applied)))
        goto store_error;
    if (!applied) {
        OPENSSL_cleanse(d, sizeof d);
        uncount(&a);
        return subscriber_locked(ctx, store, &li);
    }
    uint8_t h[BIRTH_LEN];
    bool ok = birth_hash(li.key, li.id, li.cycle_start, d, h);
    OPENSSL_cleanse(d, sizeof d);
    bool match = ok && CRYPTO_memcmp(h, li.birth, BIRTH_LEN) == 0;
    OPENSSL_cleanse(h, sizeof h);
    if (match || !ok) {
        if (!uncount(&a))
            vb_log(ctx, VBILL_LOG_WARN, "link %s: could not undo the attempt count", li.link_hex);
        if (!ok)
            return vb_error(ctx, VBILL_ERR_KEY, "link %s: HMAC failed (OpenSSL)", li.link_hex);
        store->counts.passed++;
        vb_log(ctx, VBILL_LOG_INFO, "link %s: check passed", li.link_hex);
        return out_session ? make_session(ctx, keys, &li, bucket, now, out_session) : VBILL_OK;
    }
    /* The client's failures count after the comparison: they only slow the client (the
     * bounds above are what limits guessing), so a burst of concurrent checks may pass
     * client_max by a few.  At its limit a client waits `slow` seconds before its next
     * check. */
    if (count_op(&a, kc, 1, INT64_MAX, store->client_window, &c, &applied) ||
        (c >= store->client_max && store->ops.set(im, kcs, 1, store->slow, now)))
        return store_fail(ctx, store, "counting the client's failure");
    count_failure(ctx, &a);
    vb_log(ctx, VBILL_LOG_INFO, "link %s: failed check %lld of %d (subscriber: %lld of %d)",
           li.link_hex, (long long)f, store->hard, (long long)sf, store->sub_max);
    if (sf >= store->sub_max) {
        lock_event(ctx, store, &li, true, true, 0, sf);
        return vb_error(ctx, VBILL_ERR_AUTH_WRONG,
                        "link %s: wrong birth date; the subscriber's bill of this cycle is now "
                        "locked on every link",
                        li.link_hex);
    }
    if (f >= store->hard) {
        lock_event(ctx, store, &li, false, true, 0, f);
        return vb_error(ctx, VBILL_ERR_AUTH_WRONG,
                        "link %s: wrong birth date; the link is now locked until re-issued",
                        li.link_hex);
    }
    if (f % store->soft == 0) {
        int64_t lock_until = now + store->cooling; /* cooling is at most 366 days */
        if (store->ops.set(im, ku, lock_until, store->cooling, now))
            return store_fail(ctx, store, "locking the link");
        lock_event(ctx, store, &li, false, false, lock_until, f);
        char when[21];
        iso_time(lock_until, when);
        return vb_error(ctx, VBILL_ERR_AUTH_WRONG,
                        "link %s: wrong birth date; the link is locked until %s", li.link_hex,
                        when);
    }
    /* Before the next cooling lock, the hard lock or the subscriber's, whichever is first. */
    int64_t left = min3(store->soft - f % store->soft, store->hard - f, store->sub_max - sf);
    return vb_error(ctx, VBILL_ERR_AUTH_WRONG,
                    "link %s: wrong birth date; %lld more %s before the link is locked",
                    li.link_hex, (long long)left, left == 1 ? "try" : "tries");
store_error:
    OPENSSL_cleanse(d, sizeof d);
    st = store_fail(ctx, store, "counting the attempt");
    uncount(&a);
    return st;
}

VBILL_API vbill_status vbill_link_unlock(vbill_ctx *ctx, const vbill_keys *keys,
                                         vbill_store *store, const char *token)
{
    vb_clear_error(ctx);
    if (!store)
        return vb_error(ctx, VBILL_ERR_ARG, "link unlock: no store");
    link_info li;
    vbill_status st = parse_link(ctx, keys, token, 0, false, &li);
    if (st)
        return st;
    char kf[64], ku[64];
    store_key(kf, sizeof kf, "l", li.link_hex, "f");
    store_key(ku, sizeof ku, "l", li.link_hex, "u");
    /* The link's own counts only: the subscriber's failures and a revocation stay. */
    if (store->ops.del(store->impl, kf) || store->ops.del(store->impl, ku))
        return store_fail(ctx, store, "unlocking the link");
    vb_log(ctx, VBILL_LOG_INFO, "link %s unlocked", li.link_hex);
    return VBILL_OK;
}

VBILL_API vbill_status vbill_session_verify(vbill_ctx *ctx, const vbill_keys *keys,
                                            vbill_store *store, const char *session,
                                            const char *link_token, const char *client,
                                            int64_t now)
{
    vb_clear_error(ctx);
    if (!keys)
        return vb_error(ctx, VBILL_ERR_ARG, "no keys to verify the session with");
    char bucket[128];
    if (!client_bucket(client, bucket))
        return vb_error(ctx, VBILL_ERR_ARG, "session verify: the client's address is needed");
    now = clock_now(now);
    uint8_t raw[SESSION_LEN + 3], full[32];
    size_t n = 0;
    if (!session || strnlen(session, 100) >= 100 ||
        !b64url_decode(session, strlen(session), raw, sizeof raw, &n) || n != SESSION_LEN ||
        raw[0] != SESSION_VERSION)
        return vb_error(ctx, VBILL_ERR_SESSION, "session token: malformed");
    const vb_key *k = find_key(keys, raw + 1);
    if (!k)
        return vb_error(ctx, VBILL_ERR_SESSION, "session token: unknown key id");
    const void *parts[] = {raw};
    size_t lens[] = {SESSION_LEN - 16};
    if (!mac_parts(k->sess, parts, lens, 1, full))
        return vb_error(ctx, VBILL_ERR_KEY, "session: HMAC failed (OpenSSL)");
    if (CRYPTO_memcmp(full, raw + SESSION_LEN - 16, 16) != 0)
        return vb_error(ctx, VBILL_ERR_SESSION, "session token: signature does not match");
    link_info li;
    vbill_status st = parse_link(ctx, keys, link_token, now, true, &li);
    if (st)
        return st;
    if (CRYPTO_memcmp(li.tag, raw + HDR_LEN, TAG_LEN) != 0)
        return vb_error(ctx, VBILL_ERR_SESSION, "session token: made for another link");
    if (!client_mac(k, bucket, full))
        return vb_error(ctx, VBILL_ERR_KEY, "session: HMAC failed (OpenSSL)");
    if (CRYPTO_memcmp(full, raw + HDR_LEN + TAG_LEN + 4, 6) != 0)
        return vb_error(ctx, VBILL_ERR_SESSION, "session token: made for another client");
    if (now >= (int64_t)get_u32(raw + HDR_LEN + TAG_LEN))
        return vb_error(ctx, VBILL_ERR_LINK_EXPIRED, "session for link %s expired", li.link_hex);
    if (store) {
        char kf[64];
        int64_t fails = 0;
        bool gone = false;
        store_key(kf, sizeof kf, "l", li.link_hex, "f");
        if ((st = revoked(ctx, store, &li, now, &gone)))
            return st;
        if (gone)
            return vb_error(ctx, VBILL_ERR_SESSION, "session: link %s was revoked", li.link_hex);
        if (store->ops.get(store->impl, kf, now, &fails))
            return store_fail(ctx, store, "reading the counters");
        if (fails >= store->hard)
            return vb_error(ctx, VBILL_ERR_SESSION, "session: link %s is locked", li.link_hex);
    }
    return VBILL_OK;
}

/* ---- SMS text ------------------------------------------------------------------------- */

static const char KO_SHORT[] = "{{{name_masked}}}님 영상요금서 {{{url}}}";
static const char KO_LONG[] =
    "[영상 요금 안내] {{{name_masked}}} 고객님, 첫 요금을 영상으로 설명해 드립니다.\n"
    "이번 달 요금: {{{this_month_text}}}\n"
    "아래 링크를 누르고 생년월일 6자리를 입력해 주세요.\n{{{url}}}";
static const char JA_TEXT[] =
    "{{{name_masked}}}様 初回のご請求を動画でご案内します。今月のご請求: {{{this_month_text}}}\n"
    "リンクを開き、生年月日6桁を入力してください。\n{{{url}}}";
static const char EN_TEXT[] =
    "{{{name_masked}}}, your first bill explained in a short video. This month: "
    "{{{this_month_text}}}. Open the link and enter your birth date (YYMMDD):\n{{{url}}}";

VBILL_API vbill_status vbill_text_euckr_bytes(const char *text, size_t *out_bytes)
{
    if (!text || !out_bytes)
        return VBILL_ERR_ARG;
    iconv_t cd = iconv_open("EUC-KR", "UTF-8");
    size_t total = 0;
    vbill_status st = VBILL_OK;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                                    : (*p & 0xF8) == 0xF0 ? 4 : 0;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                n = 0;
        if (n == 0 || (n == 2 && *p < 0xC2)) {
            st = VBILL_ERR_ARG;
            break;
        }
        if (n == 1) {
            total += 1;
        } else if (cd == (iconv_t)-1) {
            total += 2;
        } else {
            char in[4], out[8];
            memcpy(in, p, n);
            char *ip = in, *op = out;
            size_t il = n, ol = sizeof out;
            iconv(cd, NULL, NULL, NULL, NULL);
            if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
                total += 2; /* not encodable: a gateway substitutes a 2-byte character */
            else
                total += sizeof out - ol;
        }
        p += n;
    }
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    *out_bytes = total;
    return st;
}

/* The built-in texts use only {{{key}}} of top-level strings; they are expanded here so the
 * SMS text does not depend on the full engine (custom templates go through mustache.c). */
static char *expand_builtin(vbill_ctx *ctx, const char *tmpl, const cJSON *data,
                            vbill_status *st)
{
    vb_buf b = {0};
    const char *p = tmpl;
    while (*p) {
        const char *open = strstr(p, "{{{");
        const char *close = open ? strstr(open, "}}}") : NULL;
        if (!open || !close) {
            vb_buf_puts(&b, p);
            break;
        }
        vb_buf_append(&b, p, (size_t)(open - p));
        char key[64];
        size_t kl = (size_t)(close - open - 3);
        if (kl < sizeof key) {
            memcpy(key, open + 3, kl);
            key[kl] = '\0';
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
            if (cJSON_IsString(v))
                vb_buf_puts(&b, v->valuestring);
        }
        p = close + 3;
    }
    char *out = vb_buf_take(&b);
    if (!out)
        *st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    return out;
}

static char *render_text(vbill_ctx *ctx, const char *name, const char *tmpl, const cJSON *data,
                         vbill_status *st)
{
    if (tmpl == KO_SHORT || tmpl == KO_LONG || tmpl == JA_TEXT || tmpl == EN_TEXT)
        return expand_builtin(ctx, tmpl, data, st);
    vb_mustache *m = vb_mustache_compile(ctx, name, tmpl, strlen(tmpl), st);
    if (!m)
        return NULL;
    size_t n = 0;
    char *out = vb_mustache_render(ctx, m, data, NULL, &n, st);
    vb_mustache_free(m);
    return out;
}

VBILL_API vbill_status vbill_message_build(vbill_ctx *ctx, const vbill_bill *bill,
                                           const char *url, const char *tmpl, char **out)
{
    vb_clear_error(ctx);
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "no message to return");
    *out = NULL;
    if (!bill || !url)
        return vb_error(ctx, VBILL_ERR_ARG, "message: a bill and a URL are needed");
    vbill_status st = VBILL_OK;
    cJSON *c = cJSON_Duplicate(bill->context, true);
    if (!c || !cJSON_AddStringToObject(c, "url", url)) {
        cJSON_Delete(c);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    const char *locale = bill->ident.locale;
    char *text = NULL;
    if (tmpl) {
        text = render_text(ctx, "message", tmpl, c, &st);
    } else if (strcmp(locale, "ja-JP") == 0) {
        text = render_text(ctx, "message (ja-JP)", JA_TEXT, c, &st);
    } else if (strcmp(locale, "en-US") == 0) {
        text = render_text(ctx, "message (en-US)", EN_TEXT, c, &st);
    } else {
        text = render_text(ctx, "message (short)", KO_SHORT, c, &st);
        size_t bytes = 0;
        if (text && (vbill_text_euckr_bytes(text, &bytes) != VBILL_OK || bytes > 90)) {
            free(text);
            text = render_text(ctx, "message (long)", KO_LONG, c, &st);
        }
    }
    cJSON_Delete(c);
    if (!text)
        return st ? st : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    *out = text;
    return VBILL_OK;
}
