/* test_hooks.c: events, the outbox and the callback sink through the public API. */
#define _GNU_SOURCE 1
#include "config.h"
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "vbill.h"
#include "testutil.h"

static vbill_ctx *ctx;
static char *dir;

static void setup(void)
{
    ck_assert_int_eq(vbill_ctx_new(&ctx), VBILL_OK);
    dir = tu_tmpdir();
}

static void teardown(void)
{
    vbill_ctx_free(ctx);
    tu_rmtree(dir);
    free(dir);
}

/* A callback sink that records what it got and fails the first `fail` calls. */
typedef struct got {
    int calls, fail, retry_after;
    char last[8192];
    char types[64][32];
} got;

static int on_event(void *user, const char *type, const char *json)
{
    got *g = user;
    int n = g->calls++;
    if (n < 64)
        snprintf(g->types[n], sizeof g->types[n], "%s", type);
    snprintf(g->last, sizeof g->last, "%s", json);
    if (n < g->fail)
        return g->retry_after ? g->retry_after : -1;
    return 0;
}

/* base64 of 32 bytes: a webhook secret long enough */
#define KEY32 "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0="

static void pump_until_empty(vbill_hooks *h, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 10) {
        size_t pending = 1;
        ck_assert_int_eq(vbill_hooks_pump(h, 100, NULL), VBILL_OK);
        ck_assert_int_eq(vbill_hooks_pending(h, &pending, NULL), VBILL_OK);
        if (pending == 0)
            return;
        usleep(10000);
    }
}

static int64_t ms_of(const char *rfc3339)
{
    struct tm tm = {0};
    int ms = 0;
    const char *rest = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
    ck_assert_ptr_nonnull(rest);
    ck_assert_int_eq(sscanf(rest, ".%3dZ", &ms), 1);
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool has_key_anywhere(const cJSON *v, const char *needle)
{
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next) {
        if (c->string && strstr(c->string, needle))
            return true;
        if (has_key_anywhere(c, needle))
            return true;
    }
    return false;
}

START_TEST(envelope_is_cloudevents_without_birth)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"source\":\"urn:vbill:acme\",\"sinks\":[]}",
                                      &h), VBILL_OK);
    got g = {0};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "mine", NULL, on_event, &g), VBILL_OK);
    char *data = NULL, *id = NULL;
    vbill_bill *bill = tu_bill(ctx, TU_SPEC_EXAMPLE);
    ck_assert_int_eq(vbill_hooks_event_data(ctx, bill, "https://v.example/b/x",
                                            "{\"question\":\"why?\",\"position\":31.5,"
                                            "\"x\":{\"birth_date\":\"1958-03-14\"}}", &data),
                     VBILL_OK);
    vbill_bill_free(bill);
    ck_assert_ptr_null(strstr(data, "1958"));
    ck_assert_ptr_null(strstr(data, "01012345678"));
    ck_assert_int_eq(vbill_hooks_emit(h, "chat.requested", NULL, data, &id), VBILL_OK);
    vbill_free(data);
    ck_assert_uint_eq(strlen(id), 36);
    ck_assert_int_eq(id[14], '4'); /* UUIDv4 */
    pump_until_empty(h, 2000);
    ck_assert_int_eq(g.calls, 1);
    cJSON *e = cJSON_Parse(g.last);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(cJSON_GetObjectItem(e, "specversion")->valuestring, "1.0");
    ck_assert_str_eq(cJSON_GetObjectItem(e, "id")->valuestring, id);
    ck_assert_str_eq(cJSON_GetObjectItem(e, "source")->valuestring, "urn:vbill:acme");
    ck_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "chat.requested");
    ck_assert_str_eq(cJSON_GetObjectItem(e, "subject")->valuestring, "S-000123");
    ck_assert_str_eq(cJSON_GetObjectItem(e, "datacontenttype")->valuestring, "application/json");
    const char *t = cJSON_GetObjectItem(e, "time")->valuestring;
    ck_assert_uint_eq(strlen(t), 24);
    ck_assert_int_eq(t[10], 'T');
    ck_assert_int_eq(t[23], 'Z');
    cJSON *d = cJSON_GetObjectItem(e, "data");
    ck_assert_str_eq(cJSON_GetObjectItem(d, "scenario")->valuestring, "mobile_new_bundle");
    ck_assert_int_eq(cJSON_GetObjectItem(d, "this_month")->valueint, 60960);
    ck_assert_int_eq(cJSON_GetObjectItem(d, "next_month")->valueint, 139000);
    ck_assert_str_eq(cJSON_GetObjectItem(d, "link")->valuestring, "https://v.example/b/x");
    ck_assert_double_eq(cJSON_GetObjectItem(d, "position")->valuedouble, 31.5);
    ck_assert(!has_key_anywhere(e, "birth"));
    ck_assert_ptr_null(strstr(g.last, "1958"));
    cJSON_Delete(e);
    vbill_free(id);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(invalid_events_are_refused)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, NULL, &h), VBILL_OK);
    char *id = NULL;
    ck_assert_int_eq(vbill_hooks_emit(h, "Bill Viewed", "S-1", NULL, &id), VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.", "S-1", NULL, &id), VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", NULL, "{}", &id), VBILL_ERR_HOOK);
    /* The handle owns the message; the context it was opened with is left alone. */
    ck_assert_ptr_nonnull(strstr(vbill_hooks_errmsg(h), "subscriber id"));
    ck_assert_str_eq(vbill_ctx_errmsg(ctx), "");
    /* ... and a call that succeeds clears it. */
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", NULL, &id), VBILL_OK);
    ck_assert_str_eq(vbill_hooks_errmsg(h), "");
    vbill_free(id);
    id = NULL;
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S 1", NULL, &id), VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", "[1]", &id), VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", "{", &id), VBILL_ERR_JSON);
    ck_assert_int_eq(vbill_hooks_emit(h, "survey.answered", "S-1", "{\"score\":0}", &id),
                     VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "survey.answered", "S-1", "{\"score\":6}", &id),
                     VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "survey.answered", "S-1", "{\"score\":2.5}", &id),
                     VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "survey.answered", "S-1", "{\"score\":\"5\"}", &id),
                     VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "survey.answered", "S-1",
                                      "{\"score\":5,\"comment\":7}", &id), VBILL_ERR_HOOK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", "{\"position\":-1}", &id),
                     VBILL_ERR_HOOK);
    ck_assert_ptr_null(id);
    ck_assert_int_eq(vbill_hooks_emit(h, "survey.answered", "S-1",
                                      "{\"score\":5,\"comment\":\"좋아요\"}", &id), VBILL_OK);
    vbill_free(id);
    char *st = NULL;
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_ptr_nonnull(strstr(st, "\"events\":2"));
    vbill_free(st);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(config_errors_name_the_sink_and_hide_secrets)
{
    static const struct { const char *cfg; const char *want; } cases[] = {
        {"{", "not well-formed"},
        {"{}", "\"sinks\""},
        {"{\"sinks\":[{\"type\":\"fax\"}]}", "unknown type"},
        {"{\"sinks\":[{\"type\":\"webhook\",\"secret\":\"whsec_AAAA\"}]}", "\"url\""},
        {"{\"sinks\":[{\"type\":\"webhook\",\"url\":\"ftp://x\",\"secret\":\"whsec_AAAA\"}]}",
         "http://"},
        {"{\"sinks\":[{\"type\":\"webhook\",\"url\":\"https://x\",\"secret\":\"whsec_SeCrEt!!\"}]}",
         "base64"},
        {"{\"sinks\":[{\"type\":\"webhook\",\"url\":\"https://x\",\"secret\":\"whsec_" KEY32 "\","
         "\"timeout_ms\":0}]}", "timeout_ms"},
        {"{\"sinks\":[{\"type\":\"webhook\",\"url\":\"https://x\",\"secret\":\"whsec_" KEY32 "\","
         "\"events\":[]}]}", "events"},
        /* a webhook secret shorter than 24 bytes can be guessed (18 bytes here) */
        {"{\"sinks\":[{\"type\":\"webhook\",\"url\":\"https://x\",\"secret\":"
         "\"whsec_U2VDckV0U2VDckV0U2VDckV0\"}]}", "at least 24 random bytes"},
        /* plain http:// is refused where credentials go, and to other machines */
        {"{\"sinks\":[{\"type\":\"zendesk\",\"name\":\"zd\",\"url\":\"http://acme.zendesk.com\","
         "\"email\":\"a@b\",\"token\":\"tok-SECRET\"}]}", "'zd': \"url\" is plain http://"},
        {"{\"sinks\":[{\"type\":\"rt\",\"name\":\"rt\",\"url\":\"http://127.0.0.1:8080\","
         "\"token\":\"tok-SECRET\"}]}", "sends credentials"},
        {"{\"sinks\":[{\"type\":\"webhook\",\"name\":\"w\",\"url\":\"http://hooks.example.com/x\","
         "\"secret\":\"whsec_" KEY32 "\"}]}", "'w': \"url\" is plain http:// to another machine"},
        {"{\"sinks\":[{\"type\":\"webhook\",\"name\":\"w\",\"url\":\"http://127.0.0.1.example.com/\","
         "\"secret\":\"whsec_" KEY32 "\"}]}", "to another machine"},
        {"{\"sinks\":[{\"type\":\"rt\",\"name\":\"rt\",\"url\":\"http://127.0.0.1\","
         "\"token\":\"t\",\"insecure\":\"yes\"}]}", "\"insecure\" must be true or false"},
        {"{\"sinks\":[{\"type\":\"zendesk\",\"name\":\"zd\",\"url\":\"https://x\","
         "\"token\":\"tok-SECRET\"}]}", "'zd' needs \"email\""},
        {"{\"sinks\":[{\"type\":\"callback\",\"name\":\"a\"},{\"type\":\"callback\","
         "\"name\":\"a\"}]}", "two sinks"},
        {"{\"deadline_s\":-1,\"sinks\":[]}", "deadline_s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vbill_hooks *h = (vbill_hooks *)1;
        vbill_status st = vbill_hooks_open(ctx, dir, cases[i].cfg, &h);
        ck_assert_msg(st == VBILL_ERR_HOOK || st == VBILL_ERR_JSON, "case %zu: %d", i, st);
        ck_assert_ptr_null(h);
        const char *m = vbill_ctx_errmsg(ctx);
        ck_assert_msg(strstr(m, cases[i].want) != NULL, "case %zu: '%s'", i, m);
        ck_assert_ptr_null(strstr(m, "SeCrEt"));
        ck_assert_ptr_null(strstr(m, "SECRET"));
    }
}
END_TEST

START_TEST(plain_http_where_allowed)
{
    /* webhooks to this machine (a local relay) and anything with "insecure": true */
    static const char *const ok[] = {
        "{\"sinks\":[{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/h\",\"secret\":"
        "\"whsec_" KEY32 "\"},{\"type\":\"webhook\",\"url\":\"http://[::1]/h\",\"secret\":"
        "\"whsec_" KEY32 "\"},{\"type\":\"webhook\",\"url\":\"http://localhost/h\",\"secret\":"
        "\"whsec_" KEY32 "\"},{\"type\":\"webhook\",\"url\":\"https://hooks.example.com/h\","
        "\"secret\":\"whsec_" KEY32 "\"}]}",
        "{\"sinks\":[{\"type\":\"rt\",\"url\":\"http://127.0.0.1:8080\",\"token\":\"t\","
        "\"insecure\":true},{\"type\":\"zendesk\",\"url\":\"https://acme.zendesk.com\","
        "\"email\":\"a@b\",\"token\":\"t\"}]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        vbill_hooks *h = NULL;
        ck_assert_msg(vbill_hooks_open(ctx, dir, ok[i], &h) == VBILL_OK, "case %zu: %s", i,
                      vbill_ctx_errmsg(ctx));
        vbill_hooks_free(h);
    }
}
END_TEST

START_TEST(retry_after_is_capped_at_the_deadline)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"retry_base_ms\":1,\"deadline_ms\":1500,"
                                      "\"sinks\":[]}", &h), VBILL_OK);
    /* the receiver asks for an hour; the event's deadline is 1.5 s away */
    got g = {.fail = 1000, .retry_after = 3600};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_event, &g), VBILL_OK);
    int64_t before = wall_ms();
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.flagged", "S-1", NULL, NULL), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_pump(h, 0, NULL), VBILL_OK);
    ck_assert_int_eq(g.calls, 1);
    int64_t due = 0;
    size_t pending = 0;
    ck_assert_int_eq(vbill_hooks_pending(h, &pending, &due), VBILL_OK);
    ck_assert_uint_eq(pending, 1);
    ck_assert_msg(due <= wall_ms() + 1500 && due >= before + 1000,
                  "next attempt %lld ms after the emit, past the deadline",
                  (long long)(due - before));
    /* the last attempt at the deadline fails: a dead letter, not an hour in the outbox */
    pump_until_empty(h, 5000);
    char *dead = NULL;
    ck_assert_int_eq(vbill_hooks_dead(h, &dead), VBILL_OK);
    ck_assert_ptr_nonnull(strstr(dead, "\"attempts\":2"));
    vbill_free(dead);
    vbill_hooks_free(h);
}
END_TEST

/* Whether the bytes masked[i] ^ 0x5a (a secret kept masked, so that its plain text exists
 * only where the library put it) lie in the size bytes at p. */
static bool has_masked(const unsigned char *p, size_t size, const unsigned char *masked,
                       size_t n)
{
    for (const unsigned char *end = p + size; p + n <= end; p++) {
        size_t i = 0;
        while (i < n && (p[i] ^ 0x5a) == masked[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* cJSON's allocator while the configuration is parsed (the library and this test share
 * libcjson): every block freed is searched for the secrets first. */
enum { SECRET_LEN = 48 };
static unsigned char secrets[3][SECRET_LEN];
static int freed_with_secret;

static void checking_free(void *p)
{
    if (p)
        for (int k = 0; k < 3; k++)
            if (has_masked(p, malloc_usable_size(p), secrets[k], SECRET_LEN))
                freed_with_secret++;
    free(p);
}

/* ASan's shadow memory is too large to scan, so the scan below is left out there. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* Whether the masked bytes lie in a writable anonymous mapping of this process (heap,
 * thread arenas, mmap'd chunks, stacks). */
static bool left_in_memory(const unsigned char *masked, size_t n)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[600];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long a, b, off, inode;
        char perms[8], dev[16], path[400] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %399s", &a, &b, perms, &off, dev, &inode,
                   path) < 6 || perms[0] != 'r' || perms[1] != 'w' || inode != 0 ||
            b - a > (1ul << 30))
            continue;
        if (path[0] && strcmp(path, "[heap]") != 0 && strcmp(path, "[stack]") != 0 &&
            strncmp(path, "[anon", 5) != 0)
            continue;
        found = has_masked((const unsigned char *)a, b - a, masked, n);
    }
    fclose(f);
    return found;
}
#endif

START_TEST(config_secrets_are_wiped)
{
    /* three secrets of 48 characters, random per run, kept masked */
    FILE *r = fopen("/dev/urandom", "rb");
    ck_assert_ptr_nonnull(r);
    for (int k = 0; k < 3; k++) {
        unsigned char raw[SECRET_LEN];
        ck_assert_uint_eq(fread(raw, 1, SECRET_LEN, r), SECRET_LEN);
        for (int i = 0; i < SECRET_LEN; i++)
            secrets[k][i] = (unsigned char)("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789+/"[raw[i] % 64] ^ 0x5a);
    }
    fclose(r);
    char *cfg = malloc(4096);
    size_t n = (size_t)snprintf(cfg, 4096, "{\"sinks\":["
        "{\"type\":\"webhook\",\"url\":\"https://h.example.com\",\"secret\":\"whsec_%%s\"},"
        "{\"type\":\"zendesk\",\"url\":\"https://z.example.com\",\"email\":\"a@b\","
        "\"token\":\"%%s\"},{\"type\":\"rt\",\"url\":\"https://rt.example.com\","
        "\"token\":\"%%s\"}]}");
    /* unmask into the configuration text only */
    char *p = cfg;
    for (int k = 0; k < 3; k++) {
        char *at = strstr(p, "%s");
        memmove(at + SECRET_LEN, at + 2, n - (size_t)(at + 2 - cfg) + 1);
        n += SECRET_LEN - 2;
        for (int i = 0; i < SECRET_LEN; i++)
            at[i] = (char)(secrets[k][i] ^ 0x5a);
        p = at + SECRET_LEN;
    }
    cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = checking_free};
    cJSON_InitHooks(&hooks);
    freed_with_secret = 0;
    vbill_hooks *h = NULL;
    vbill_status st = vbill_hooks_open(ctx, dir, cfg, &h);
    explicit_bzero(cfg, n);
    free(cfg);
    vbill_hooks_free(h);
    cJSON_InitHooks(NULL);
    ck_assert_int_eq(st, VBILL_OK);
    /* the parsed configuration (cJSON's tree) was wiped before it was freed */
    ck_assert_msg(freed_with_secret == 0, "%d blocks holding a secret of the hooks "
                  "configuration were freed without being wiped", freed_with_secret);
#ifndef UNDER_ASAN
    /* and no copy is left anywhere; freed blocks lose their first bytes to the allocator:
     * look for the last 24 */
    for (int k = 0; k < 3; k++)
        ck_assert_msg(!left_in_memory(secrets[k] + SECRET_LEN - 24, 24),
                      "secret %d of the hooks configuration is still in memory after "
                      "vbill_hooks_free", k + 1);
#endif
}
END_TEST

/* ---- what the outbox keeps, and how openly ------------------------------------------ */

static unsigned mode_of(const char *dir_, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir_, name);
    struct stat sb;
    ck_assert_msg(stat(p, &sb) == 0, "%s: %s", p, strerror(errno));
    return sb.st_mode & 0777;
}

/* Whether a file of dir_ (the outbox and its -wal) holds the bytes. */
static bool in_files(const char *dir_, const void *bytes, size_t n)
{
    static const char *const names[] = {"outbox.sqlite", "outbox.sqlite-wal"};
    for (size_t i = 0; i < 2; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir_, names[i]);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        size_t cap = 1 << 20, len = 0, r;
        char *buf = malloc(cap);
        while ((r = fread(buf + len, 1, cap - len, f)) > 0)
            if ((len += r) == cap)
                buf = realloc(buf, cap *= 2);
        fclose(f);
        bool found = memmem(buf, len, bytes, n) != NULL;
        free(buf);
        if (found)
            return true;
    }
    return false;
}

START_TEST(state_files_are_private)
{
    char state[4200];
    snprintf(state, sizeof state, "%s/state", dir);
    ck_assert_int_eq(mkdir(state, 0755), 0); /* the folder exists already */
    mode_t old = umask(022);
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, state, NULL, &h), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", NULL, NULL), VBILL_OK);
    /* while the handle is open, the write-ahead log and its index exist */
    ck_assert_uint_eq(mode_of(state, "outbox.sqlite"), 0600);
    ck_assert_uint_eq(mode_of(state, "outbox.sqlite-wal"), 0600);
    ck_assert_uint_eq(mode_of(state, "outbox.sqlite-shm"), 0600);
    vbill_hooks_free(h);
    /* an outbox left readable by an older version is made private */
    char p[4300];
    snprintf(p, sizeof p, "%s/outbox.sqlite", state);
    ck_assert_int_eq(chmod(p, 0644), 0);
    ck_assert_int_eq(vbill_hooks_open(ctx, state, NULL, &h), VBILL_OK);
    ck_assert_uint_eq(mode_of(state, "outbox.sqlite"), 0600);
    vbill_hooks_free(h);
    /* and one reached through a symbolic link is refused */
    char other[4300];
    snprintf(other, sizeof other, "%s/elsewhere", dir);
    ck_assert_int_eq(rename(p, other), 0);
    ck_assert_int_eq(symlink(other, p), 0);
    ck_assert_int_eq(vbill_hooks_open(ctx, state, NULL, &h), VBILL_ERR_STORE);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "symbolic link"));
    umask(old);
}
END_TEST

/* Event data whose innermost object, holding a birth date, is at level `levels` (the data
 * object itself is level 1): {"subscriber_id":"S-1","x":{"x":...{"birth":...,"kept":1}}}. */
static char *nested(int levels)
{
    char *s = malloc((size_t)levels * 8 + 128), *p = s;
    p += sprintf(p, "{\"subscriber_id\":\"S-1\",\"x\":");
    for (int i = 2; i < levels; i++)
        p += sprintf(p, "{\"x\":");
    p += sprintf(p, "{\"birth\":\"1958-03-14\",\"kept\":1}");
    for (int i = 2; i < levels; i++)
        *p++ = '}';
    *p++ = '}';
    *p = '\0';
    return s;
}

START_TEST(data_nested_past_the_filter_is_refused)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[]}", &h), VBILL_OK);
    got g = {0};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_event, &g), VBILL_OK);
    /* 64 levels: the birth date is found and removed */
    char *d = nested(64);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", NULL, d, NULL), VBILL_OK);
    free(d);
    pump_until_empty(h, 3000);
    ck_assert_int_eq(g.calls, 1);
    ck_assert_ptr_null(strstr(g.last, "1958"));
    ck_assert_ptr_nonnull(strstr(g.last, "\"kept\":1"));
    /* 65 and 70 levels: refused, nothing stored */
    for (int levels = 65; levels <= 70; levels += 5) {
        char *id = NULL;
        d = nested(levels);
        ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", NULL, d, &id), VBILL_ERR_HOOK);
        free(d);
        ck_assert_ptr_null(id);
        ck_assert_ptr_nonnull(strstr(vbill_hooks_errmsg(h), "nested deeper than 64 levels"));
    }
    char *st = NULL;
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_ptr_nonnull(strstr(st, "\"events\":1,"));
    vbill_free(st);
    vbill_hooks_free(h);
    ck_assert(!in_files(dir, "1958-03-14", 10));
    /* the agent's data: extra nested too deep is refused too */
    vbill_bill *bill = tu_bill(ctx, TU_SPEC_EXAMPLE);
    char *out = NULL;
    d = nested(70);
    ck_assert_int_eq(vbill_hooks_event_data(ctx, bill, NULL, d, &out), VBILL_ERR_HOOK);
    ck_assert_ptr_null(out);
    free(d);
    vbill_bill_free(bill);
}
END_TEST

static int refuse(void *user, const char *type, const char *json)
{
    (void)user;
    (void)type;
    (void)json;
    return -1;
}

START_TEST(retention_purges_what_is_done)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"retention_days\":0}", &h), VBILL_ERR_HOOK);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "retention_days"));
    /* 0.00001 days = 864 ms; deliveries die after 300 ms */
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"retention_days\":0.00001,\"deadline_ms\":300,"
                                      "\"retry_base_ms\":5,\"retry_max_ms\":20,\"sinks\":[]}",
                                      &h), VBILL_OK);
    got g = {0};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "ok", "[\"bill.viewed\"]", on_event, &g),
                     VBILL_OK);
    ck_assert_int_eq(vbill_hooks_set_callback(h, "no", "[\"bill.flagged\"]", refuse, NULL),
                     VBILL_OK);
    /* a still with bytes of its own, and texts to look for in the files */
    unsigned char jpeg[300] = {0xFF, 0xD8, 0xFF, 0xE0};
    memcpy(jpeg + 100, "STILL-BYTES-4471-abcdefghijklmnop", 33);
    ck_assert_int_eq(vbill_hooks_emit_still(h, "bill.viewed", "S-1", "{\"q\":\"VIEWED-4471\"}",
                                            jpeg, sizeof jpeg, NULL), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.flagged", "S-2", "{\"q\":\"FLAGGED-4471\"}",
                                      NULL), VBILL_OK);
    pump_until_empty(h, 5000); /* one delivered, one dead */
    char *st = NULL;
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_ptr_nonnull(strstr(st, "\"delivered\":1,\"dead\":1"));
    vbill_free(st);
    /* one still to deliver: kept however old */
    ck_assert_int_eq(vbill_hooks_set_callback(h, "later", "[\"chat.*\"]", refuse, NULL),
                     VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "chat.requested", "S-3", NULL, NULL), VBILL_OK);
    ck_assert(in_files(dir, "STILL-BYTES-4471", 16));
    size_t n = 9;
    ck_assert_int_eq(vbill_hooks_purge(h, &n), VBILL_OK);
    ck_assert_uint_eq(n, 0); /* not yet */
    usleep(1000 * 1000);
    ck_assert_int_eq(vbill_hooks_purge(h, &n), VBILL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_msg(strstr(st, "\"events\":1,\"pending\":1,"), "status %s", st);
    vbill_free(st);
    /* gone from the files too, not only from the tables */
    ck_assert(!in_files(dir, "STILL-BYTES-4471", 16));
    ck_assert(!in_files(dir, "VIEWED-4471", 11));
    ck_assert(!in_files(dir, "FLAGGED-4471", 12));
    /* the pump purges by itself too (its first round, then every retention period here):
     * the chat event dies at its deadline in the first round below, the new one is
     * delivered, and a retention period later the pump takes both */
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-4", "{\"q\":\"AGAIN-4471\"}", NULL),
                     VBILL_OK);
    ck_assert_int_eq(vbill_hooks_pump(h, 0, NULL), VBILL_OK);
    usleep(1000 * 1000);
    ck_assert_int_eq(vbill_hooks_pump(h, 0, NULL), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_msg(strstr(st, "\"events\":0,"), "status %s", st);
    vbill_free(st);
    ck_assert(!in_files(dir, "AGAIN-4471", 10));
    vbill_hooks_free(h);
}
END_TEST

START_TEST(retries_then_delivers_and_filters_types)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"retry_base_ms\":5,\"retry_max_ms\":20,"
                                      "\"sinks\":[{\"type\":\"callback\",\"name\":\"bills\","
                                      "\"events\":[\"bill.*\"]}]}", &h), VBILL_OK);
    got g = {.fail = 2};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "bills", NULL, on_event, &g), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", "{\"watched\":0.5}", NULL),
                     VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "chat.requested", "S-1", "{}", NULL), VBILL_OK);
    pump_until_empty(h, 3000);
    ck_assert_int_eq(g.calls, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(g.types[i], "bill.viewed");
    char *st = NULL;
    ck_assert_int_eq(vbill_hooks_status(h, &st), VBILL_OK);
    ck_assert_ptr_nonnull(strstr(st, "\"events\":2"));
    ck_assert_ptr_nonnull(strstr(st, "\"delivered\":1"));
    ck_assert_ptr_nonnull(strstr(st, "\"pending\":0"));
    vbill_free(st);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(retry_after_is_honoured)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"retry_base_ms\":1,\"sinks\":[]}", &h),
                     VBILL_OK);
    got g = {.fail = 1, .retry_after = 2};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_event, &g), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", NULL, NULL), VBILL_OK);
    int64_t before = wall_ms();
    ck_assert_int_eq(vbill_hooks_pump(h, 0, NULL), VBILL_OK);
    ck_assert_int_eq(g.calls, 1);
    int64_t due = 0;
    size_t pending = 0;
    ck_assert_int_eq(vbill_hooks_pending(h, &pending, &due), VBILL_OK);
    ck_assert_uint_eq(pending, 1);
    /* the callback asked for 2 s: the next attempt is not scheduled sooner */
    ck_assert_msg(due >= before + 2000, "next attempt %lld ms after", (long long)(due - before));
    vbill_hooks_free(h);
}
END_TEST

START_TEST(deadline_dead_letters_and_replay)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"retry_base_ms\":5,\"retry_max_ms\":20,"
                                      "\"deadline_ms\":150,\"sinks\":[]}", &h), VBILL_OK);
    got g = {.fail = 1000};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_event, &g), VBILL_OK);
    char *id = NULL;
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.flagged", "S-1", "{}", &id), VBILL_OK);
    char *dead = NULL;
    pump_until_empty(h, 3000);
    ck_assert_int_ge(g.calls, 1);
    ck_assert_int_eq(vbill_hooks_dead(h, &dead), VBILL_OK);
    /* not before the deadline */
    cJSON *dl = cJSON_Parse(dead);
    ck_assert_int_eq(cJSON_GetArraySize(dl), 1);
    int64_t created = ms_of(cJSON_GetObjectItem(cJSON_GetArrayItem(dl, 0), "created")->valuestring);
    int64_t died = ms_of(cJSON_GetObjectItem(cJSON_GetArrayItem(dl, 0), "died")->valuestring);
    ck_assert_msg(died - created >= 150, "died after %lld ms", (long long)(died - created));
    cJSON_Delete(dl);
    ck_assert_ptr_nonnull(strstr(dead, id));
    ck_assert_ptr_nonnull(strstr(dead, "\"sink\":\"cb\""));
    ck_assert_ptr_nonnull(strstr(dead, "callback asked to retry"));
    vbill_free(dead);
    size_t n = 9;
    ck_assert_int_eq(vbill_hooks_replay(h, "no-such-id", &n), VBILL_ERR_NOT_FOUND);
    ck_assert_uint_eq(n, 0);
    g.fail = 0;
    g.calls = 0;
    ck_assert_int_eq(vbill_hooks_replay(h, id, &n), VBILL_OK);
    ck_assert_uint_eq(n, 1);
    pump_until_empty(h, 3000);
    ck_assert_int_eq(g.calls, 1);
    ck_assert_int_eq(vbill_hooks_dead(h, &dead), VBILL_OK);
    ck_assert_str_eq(dead, "[]");
    vbill_free(dead);
    vbill_free(id);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(outbox_survives_reopen)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[{\"type\":\"callback\","
                                      "\"name\":\"cb\"}]}", &h), VBILL_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(vbill_hooks_emit(h, "bill.generated", "S-1", NULL, NULL), VBILL_OK);
    vbill_hooks_free(h); /* no callback registered yet: nothing delivered */
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[{\"type\":\"callback\","
                                      "\"name\":\"cb\"}]}", &h), VBILL_OK);
    size_t pending = 0;
    ck_assert_int_eq(vbill_hooks_pending(h, &pending, NULL), VBILL_OK);
    ck_assert_uint_eq(pending, 5);
    got g = {0};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_event, &g), VBILL_OK);
    pump_until_empty(h, 3000);
    ck_assert_int_eq(g.calls, 5);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(worker_thread_delivers)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[]}", &h), VBILL_OK);
    got g = {0};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_event, &g), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_start(h), VBILL_OK);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(vbill_hooks_emit(h, "bill.link_sent", "S-1", NULL, NULL), VBILL_OK);
    for (int i = 0; i < 1000; i++) {
        size_t pending = 1;
        ck_assert_int_eq(vbill_hooks_pending(h, &pending, NULL), VBILL_OK);
        if (pending == 0)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(vbill_hooks_stop(h), VBILL_OK);
    ck_assert_int_eq(g.calls, 20);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(still_of_a_frame)
{
    char video[4096], cmd[8300];
    snprintf(video, sizeof video, "%s/v.mp4", dir);
    snprintf(cmd, sizeof cmd, "ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=25:"
             "duration=2 -c:v mpeg4 -y '%s' 2>/dev/null", video);
    if (system(cmd) != 0) {
        fprintf(stderr, "still_of_a_frame: no ffmpeg command to make a test video; "
                "checking only the error path\n");
    } else {
        unsigned char *jpeg = NULL;
        size_t len = 0;
        ck_assert_int_eq(vbill_still_jpeg(ctx, video, 1.2, 160, &jpeg, &len), VBILL_OK);
        ck_assert_uint_gt(len, 200);
        ck_assert(jpeg[0] == 0xff && jpeg[1] == 0xd8 && jpeg[len - 2] == 0xff &&
                  jpeg[len - 1] == 0xd9);
        vbill_free(jpeg);
        ck_assert_int_eq(vbill_still_jpeg(ctx, video, -1, 0, &jpeg, &len), VBILL_ERR_ARG);
        vbill_hooks *h = NULL;
        ck_assert_int_eq(vbill_hooks_open(ctx, dir, NULL, &h), VBILL_OK);
        char *id = NULL;
        ck_assert_int_eq(vbill_still_jpeg(ctx, video, 1.2, 0, &jpeg, &len), VBILL_OK);
        ck_assert_int_eq(vbill_hooks_emit_still(h, "chat.requested", "S-1",
                                                "{\"position\":1.2}", jpeg, len, &id),
                         VBILL_OK);
        vbill_free(id);
        /* what is not a JPEG is refused, and the handle says why */
        ck_assert_int_eq(vbill_hooks_emit_still(h, "chat.requested", "S-1", NULL,
                                                (const unsigned char *)"GIF89a", 6, &id),
                         VBILL_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(vbill_hooks_errmsg(h), "not a JPEG"));
        vbill_free(jpeg);
        vbill_hooks_free(h);
    }
    unsigned char *jpeg = NULL;
    size_t len = 0;
    snprintf(video, sizeof video, "%s/nothing.mp4", dir);
    ck_assert_int_eq(vbill_still_jpeg(ctx, video, 1, 0, &jpeg, &len), VBILL_ERR_MEDIA);
    ck_assert_ptr_nonnull(strstr(vbill_ctx_errmsg(ctx), "nothing.mp4"));
}
END_TEST

static void *lock_thread(void *h)
{
    vbill_hooks_auth_locked(h, "{\"type\":\"link_locked\",\"link\":\"ab12\",\"subscriber\":"
                               "\"S-000123\",\"cycle_start\":\"2026-11-01\",\"scenario\":"
                               "\"mobile_new_bundle\",\"hard\":true,\"until\":0,\"failures\":10}");
    return NULL;
}

START_TEST(auth_locked_from_the_lock_hook)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[]}", &h), VBILL_OK);
    got g = {0};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", "[\"auth.*\"]", on_event, &g), VBILL_OK);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, h), 0);
    pthread_join(t, NULL);
    vbill_hooks_auth_locked(h, "{\"broken"); /* logged, not raised */
    pump_until_empty(h, 3000);
    ck_assert_int_eq(g.calls, 1);
    ck_assert_str_eq(g.types[0], "auth.locked");
    cJSON *e = cJSON_Parse(g.last);
    ck_assert_str_eq(cJSON_GetObjectItem(e, "subject")->valuestring, "S-000123");
    cJSON *d = cJSON_GetObjectItem(e, "data");
    ck_assert_str_eq(cJSON_GetObjectItem(d, "priority")->valuestring, "high");
    ck_assert_int_eq(cJSON_GetObjectItem(d, "failures")->valueint, 10);
    cJSON_Delete(e);
    vbill_hooks_free(h);
}
END_TEST

/* ---- calling back into the hooks from a callback ------------------------------------ */

/* A callback sink that calls every function of its own handle. */
typedef struct reenter {
    vbill_hooks *h;
    int calls, followups;
    vbill_status pump, pending, set_cb, start, stop, replay, status, dead, emit;
    char *out;            /* must stay NULL: status/dead refused */
    char msg[512];
    char *id;
    volatile int done;    /* the worker's callback has run */
} reenter;

static int on_reenter(void *user, const char *type, const char *json)
{
    (void)json;
    reenter *r = user;
    if (strcmp(type, "bill.viewed") != 0) {
        r->followups++;
        return 0;
    }
    r->calls++;
    size_t n = 0;
    int64_t due = 0;
    r->pump = vbill_hooks_pump(r->h, 0, &n);
    snprintf(r->msg, sizeof r->msg, "%s", vbill_hooks_errmsg(r->h));
    r->pending = vbill_hooks_pending(r->h, &n, &due);
    r->set_cb = vbill_hooks_set_callback(r->h, "other", NULL, on_event, NULL);
    r->start = vbill_hooks_start(r->h);
    r->stop = vbill_hooks_stop(r->h);
    r->replay = vbill_hooks_replay(r->h, NULL, &n);
    r->status = vbill_hooks_status(r->h, &r->out);
    r->dead = vbill_hooks_dead(r->h, &r->out);
    vbill_hooks_free(r->h); /* refused: the handle stays usable */
    /* a follow-up event is allowed */
    r->emit = vbill_hooks_emit(r->h, "bill.flagged", "S-1", "{\"reason\":\"follow-up\"}",
                               &r->id);
    r->done = 1;
    return 0;
}

typedef struct pumped {
    vbill_hooks *h;
    vbill_status st;
} pumped;

static void *pump_thread(void *arg)
{
    pumped *p = arg;
    p->st = vbill_hooks_pump(p->h, 0, NULL);
    return NULL;
}

static void assert_refused(const reenter *r)
{
    ck_assert_int_eq(r->calls, 1);
    ck_assert_int_eq(r->pump, VBILL_ERR_BUSY);
    ck_assert_msg(strstr(r->msg, "vbill_hooks_pump: called from inside a callback"),
                  "message: %s", r->msg);
    ck_assert_int_eq(r->pending, VBILL_ERR_BUSY);
    ck_assert_int_eq(r->set_cb, VBILL_ERR_BUSY);
    ck_assert_int_eq(r->start, VBILL_ERR_BUSY);
    ck_assert_int_eq(r->stop, VBILL_ERR_BUSY);
    ck_assert_int_eq(r->replay, VBILL_ERR_BUSY);
    ck_assert_int_eq(r->status, VBILL_ERR_BUSY);
    ck_assert_int_eq(r->dead, VBILL_ERR_BUSY);
    ck_assert_ptr_null(r->out);
    ck_assert_int_eq(r->emit, VBILL_OK);
    ck_assert_ptr_nonnull(r->id);
}

START_TEST(callback_calling_its_own_pump_is_refused_not_hung)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[]}", &h), VBILL_OK);
    reenter r = {.h = h};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_reenter, &r), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", NULL, NULL), VBILL_OK);
    /* the pump runs on a thread of its own so that a hang fails here, not by the runner */
    pumped p = {.h = h, .st = -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, pump_thread, &p), 0);
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 10;
    if (pthread_timedjoin_np(t, NULL, &limit) != 0)
        ck_abort_msg("vbill_hooks_pump hung: its callback called back into the same handle");
    ck_assert_int_eq(p.st, VBILL_OK);
    ck_assert_str_eq(vbill_hooks_errmsg(h), "");
    assert_refused(&r);
    /* the handle was not freed; the follow-up is delivered by the next pump */
    pump_until_empty(h, 3000);
    ck_assert_int_eq(r.followups, 1);
    vbill_free(r.id);
    vbill_hooks_free(h);
}
END_TEST

START_TEST(worker_callback_calling_stop_is_refused_not_hung)
{
    vbill_hooks *h = NULL;
    ck_assert_int_eq(vbill_hooks_open(ctx, dir, "{\"sinks\":[]}", &h), VBILL_OK);
    reenter r = {.h = h};
    ck_assert_int_eq(vbill_hooks_set_callback(h, "cb", NULL, on_reenter, &r), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_start(h), VBILL_OK);
    ck_assert_int_eq(vbill_hooks_emit(h, "bill.viewed", "S-1", NULL, NULL), VBILL_OK);
    for (int i = 0; i < 1000 && !(r.done && r.followups == 1); i++)
        usleep(10000);
    ck_assert_msg(r.done, "the worker's callback did not return within 10 s (hung)");
    /* from the host's own thread, stop works (and joins the worker: r is settled) */
    ck_assert_int_eq(vbill_hooks_stop(h), VBILL_OK);
    ck_assert_str_eq(vbill_hooks_errmsg(h), "");
    assert_refused(&r);
    ck_assert_int_eq(r.followups, 1);
    vbill_free(r.id);
    vbill_hooks_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hooks");
    TCase *tc = tcase_create("hooks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, envelope_is_cloudevents_without_birth);
    tcase_add_test(tc, invalid_events_are_refused);
    tcase_add_test(tc, config_errors_name_the_sink_and_hide_secrets);
    tcase_add_test(tc, plain_http_where_allowed);
    tcase_add_test(tc, retry_after_is_capped_at_the_deadline);
    tcase_add_test(tc, config_secrets_are_wiped);
    tcase_add_test(tc, state_files_are_private);
    tcase_add_test(tc, data_nested_past_the_filter_is_refused);
    tcase_add_test(tc, retention_purges_what_is_done);
    tcase_add_test(tc, retries_then_delivers_and_filters_types);
    tcase_add_test(tc, retry_after_is_honoured);
    tcase_add_test(tc, deadline_dead_letters_and_replay);
    tcase_add_test(tc, outbox_survives_reopen);
    tcase_add_test(tc, worker_thread_delivers);
    tcase_add_test(tc, still_of_a_frame);
    tcase_add_test(tc, auth_locked_from_the_lock_hook);
    suite_add_tcase(s, tc);
    /* a hang fails within the runner's timeout too (CK_FORK=yes) */
    TCase *re = tcase_create("reentrance");
    tcase_add_checked_fixture(re, setup, teardown);
    tcase_set_timeout(re, 30);
    tcase_add_test(re, callback_calling_its_own_pump_is_refused_not_hung);
    tcase_add_test(re, worker_callback_calling_stop_is_refused_not_hung);
    suite_add_tcase(s, re);
    return tu_run(s);
}
