/*
 * viewer.c: the routes under a link (B T): the check page and the six digits, the session,
 * the watch page and its data, the personal files, the page's events and questions.
 * Nothing personal is sent before the check; the session cookie is scoped to the link.
 */
#include "config.h"
#include "serve.h"
#include "headers.h"
#include "../cli/cli.h"
#include "../cli/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <zlib.h>

#define SESSION_COOKIE "vbs"

/* ---- the page files ---- */

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".woff2"))
        return "font/woff2";
    return "text/plain; charset=utf-8";
}

/* A gzip copy of a static file (level 9, once at start: the page's CSS and scripts are what
 * a phone loads before the video), kept when it is smaller. */
static void gzip_static(static_file *f)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    uLong cap = deflateBound(&z, (uLong)f->len);
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)f->data;
    z.avail_in = (uInt)f->len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (out && deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < f->len) {
        f->gz = (char *)out;
        f->gz_len = z.total_out;
        out = NULL;
        size_t n = strlen(f->etag);
        snprintf(f->gz_etag, sizeof f->gz_etag, "%.*s-gz\"", (int)(n > 1 ? n - 1 : 0), f->etag);
    }
    free(out);
    deflateEnd(&z);
}

/* Reads static/ (and one level of subfolders) into memory: a fixed list of names, so no
 * request path ever reaches the file system. */
static int load_statics(server *s, const char *dir, const char *prefix, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        if (e->d_name[0] == '.')
            continue;
        char *p = store_path("%s/%s", dir, e->d_name);
        struct stat st;
        if (!p || lstat(p, &st) != 0) {
            free(p);
            continue;
        }
        if (S_ISDIR(st.st_mode) && !*prefix) {
            char *sub = store_path("%s/", e->d_name);
            rc = sub ? load_statics(s, p, sub, err, errlen) : -1;
            free(sub);
        } else if (S_ISREG(st.st_mode) && st.st_size < (8 << 20)) {
            static_file *n = realloc(s->statics, (size_t)(s->nstatics + 1) * sizeof *n);
            if (!n) {
                rc = -1;
            } else {
                s->statics = n;
                static_file *f = &s->statics[s->nstatics];
                memset(f, 0, sizeof *f);
                f->name = store_path("%s%s", prefix, e->d_name);
                f->data = cli_read_file(p, 8 << 20, &f->len);
                f->type = type_of(e->d_name);
                if (!f->name || !f->data) {
                    snprintf(err, errlen, "cannot read %s", p);
                    free(f->name);
                    free(f->data);
                    rc = -1;
                } else {
                    unsigned char md[32];
                    unsigned int ml = 0;
                    EVP_Digest(f->data, f->len, md, &ml, EVP_sha256(), NULL);
                    snprintf(f->etag, sizeof f->etag, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"",
                             md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
                    gzip_static(f); /* files here are under 8 MiB: one deflate call */
                    s->nstatics++;
                }
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

static bool valid_action(const cJSON *a)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(a, "url");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(a, "label");
    if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) > 32 ||
        strspn(id->valuestring, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(id->valuestring))
        return false;
    if (!cJSON_IsString(url) || strlen(url->valuestring) > 2000 ||
        strncmp(url->valuestring, "https://", 8) != 0 ||
        strpbrk(url->valuestring, " \"'<>\\\t\r\n"))
        return false;
    if (cJSON_IsString(label))
        return strlen(label->valuestring) <= 200;
    if (!cJSON_IsObject(label))
        return false;
    const cJSON *l;
    cJSON_ArrayForEach(l, label) if (!cJSON_IsString(l) || strlen(l->valuestring) > 200) return false;
    return true;
}

int vw_load_page(server *s, char *err, size_t errlen)
{
    char *p1 = store_path("%s/check.html", s->page_dir), *p2 = store_path("%s/watch.html",
                                                                          s->page_dir);
    char *p3 = store_path("%s/texts.json", s->page_dir), *p4 = store_path("%s/static",
                                                                          s->page_dir);
    char *texts = NULL;
    int rc = -1;
    if (!p1 || !p2 || !p3 || !p4)
        goto out;
    s->check_html = cli_read_file(p1, 1 << 20, NULL);
    s->watch_html = cli_read_file(p2, 1 << 20, NULL);
    texts = cli_read_file(p3, 1 << 20, NULL);
    s->texts = texts ? cJSON_Parse(texts) : NULL;
    if (!s->check_html || !s->watch_html || !cJSON_IsObject(s->texts)) {
        snprintf(err, errlen, "the page files in %s are missing or broken (check.html, "
                 "watch.html, texts.json): give --page DIR", s->page_dir);
        goto out;
    }
    if (load_statics(s, p4, "", err, errlen) != 0)
        goto out;
    if (s->page_config_file) {
        char *text = cli_read_file(s->page_config_file, 1 << 20, NULL);
        s->page_config = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (!cJSON_IsObject(s->page_config)) {
            snprintf(err, errlen, "%s: not a JSON object", s->page_config_file);
            goto out;
        }
        const cJSON *a, *acts = cJSON_GetObjectItemCaseSensitive(s->page_config, "actions");
        int i = 0;
        if (acts && !cJSON_IsArray(acts)) {
            snprintf(err, errlen, "%s: \"actions\" must be an array", s->page_config_file);
            goto out;
        }
        cJSON_ArrayForEach(a, acts) {
            if (!valid_action(a) || i >= 16) {
                snprintf(err, errlen, "%s: actions[%d]: needs \"id\" (a-z 0-9 _, 1-32), an "
                         "https:// \"url\" and a \"label\" (text, or text per locale); at most 16",
                         s->page_config_file, i);
                goto out;
            }
            i++;
        }
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(s->page_config, "helpdesk");
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(h, "phone");
        if (h && (!cJSON_IsString(ph) || strlen(ph->valuestring) > 32 ||
                  strspn(ph->valuestring, "0123456789+-() ") != strlen(ph->valuestring))) {
            snprintf(err, errlen, "%s: helpdesk.phone: digits, + - ( ) and spaces only",
                     s->page_config_file);
            goto out;
        }
    } else {
        s->page_config = cJSON_Parse("{\"helpdesk\":{\"phone\":\"114\"},\"actions\":[]}");
    }
    rc = 0;
out:
    free(texts);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    return rc;
}

/* ---- helpers ---- */

static const char *lang_of(const char *locale)
{
    return !strcmp(locale, "ja-JP") ? "ja" : !strcmp(locale, "en-US") ? "en" : "ko";
}

/* A value of the page config in a locale: text, or {"ko-KR": text, ...}. */
static const char *localised(const cJSON *v, const char *locale)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(v, locale);
    if (!cJSON_IsString(l))
        l = cJSON_GetObjectItemCaseSensitive(v, "en-US");
    if (!cJSON_IsString(l))
        l = v ? v->child : NULL;
    return cJSON_IsString(l) ? l->valuestring : NULL;
}

static cJSON *helpdesk_of(server *s, const char *locale)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(s->page_config, "helpdesk");
    cJSON *o = cJSON_CreateObject();
    const char *phone = localised(cJSON_GetObjectItemCaseSensitive(h, "phone"), locale);
    const char *hours = localised(cJSON_GetObjectItemCaseSensitive(h, "hours"), locale);
    cJSON_AddStringToObject(o, "phone", phone ? phone : "114");
    if (hours)
        cJSON_AddStringToObject(o, "hours", hours);
    return o;
}

static cJSON *texts_of(server *s, const char *locale)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s->texts, locale);
    if (!t)
        t = cJSON_GetObjectItemCaseSensitive(s->texts, "ko-KR");
    return cJSON_Duplicate(t, true);
}

static enum MHD_Result render_page(server *s, struct MHD_Connection *c, request *q, int status,
                                   const char *tmpl, cJSON *data, const char *const *headers)
{
    vbill_ctx *ctx = sv_ctx();
    char *json = cJSON_PrintUnformatted(data);
    char *out = NULL;
    size_t len = 0;
    vbill_status st = json ? vbill_mustache_render(ctx, tmpl, (size_t)-1, json, NULL, &out, &len)
                           : VBILL_ERR_NOMEM;
    free(json);
    cJSON_Delete(data);
    if (st) {
        sv_log(s, "page: %s", vbill_ctx_errmsg(ctx));
        return sv_reply(c, q, 500, "text/plain", "page error\n", 11);
    }
    enum MHD_Result rc = sv_reply_h(c, q, status, "text/html; charset=utf-8", out, len, headers);
    vbill_free(out);
    return rc;
}

typedef enum { P_FORM, P_LOCKED, P_EXPIRED, P_NOT_FOUND } page_kind;

static enum MHD_Result check_page(server *s, struct MHD_Connection *c, request *q, int status,
                                  page_kind kind, const char *locale, const char *action,
                                  int tries_left, long retry_s, const char *const *headers)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "lang", lang_of(locale));
    cJSON_AddStringToObject(d, "locale", locale);
    cJSON_AddItemToObject(d, "t", texts_of(s, locale));
    cJSON_AddStringToObject(d, "static", "/static");
    cJSON_AddStringToObject(d, "action", action ? action : "");
    cJSON_AddBoolToObject(d, "form", kind == P_FORM);
    cJSON_AddBoolToObject(d, "wrong", kind == P_FORM && tries_left >= 0);
    if (tries_left >= 0)
        cJSON_AddNumberToObject(d, "tries_left", tries_left);
    cJSON_AddBoolToObject(d, "locked", kind == P_LOCKED);
    if (kind == P_LOCKED && retry_s > 0)
        cJSON_AddNumberToObject(d, "retry_minutes", (double)((retry_s + 59) / 60));
    cJSON_AddBoolToObject(d, "expired", kind == P_EXPIRED);
    cJSON_AddBoolToObject(d, "not_found", kind == P_NOT_FOUND);
    cJSON *h = helpdesk_of(s, locale);
    cJSON_AddItemToObject(d, "helpdesk", h);
    return render_page(s, c, q, status, s->check_html, d, headers);
}

/* The session's CSRF token: a hash of the session (secret), so it proves the page was read
 * with the cookie. */
static void csrf_of(const char *session, char out[33])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, "vbill-csrf-v1:", 14);
    EVP_DigestUpdate(m, session, strlen(session));
    EVP_DigestFinal_ex(m, md, &n);
    EVP_MD_CTX_free(m);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Bills read from bill.json, kept per HTTP thread: every request of a link (the check page,
 * each segment) needs its bill, and reading and checking bill.json every time was most of a
 * request's CPU.  A bill is immutable; a file changed since (another inode, size or mtime: a
 * re-run of vbill batch renames a new folder into place) is read again. */
#define BILL_CACHE 32
typedef struct cached_bill {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    vbill_bill *bill;
} cached_bill;
typedef struct bill_cache {
    int next;
    cached_bill e[BILL_CACHE];
} bill_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
    bill_cache *c = p;
    for (int i = 0; i < BILL_CACHE; i++) {
        free(c->e[i].path);
        vbill_bill_free(c->e[i].bill);
    }
    free(c);
}

static void cache_make(void) { pthread_key_create(&cache_key, cache_free); }

static bill_cache *thread_cache(void)
{
    pthread_once(&cache_once, cache_make);
    bill_cache *c = pthread_getspecific(cache_key);
    if (!c && (c = calloc(1, sizeof *c)) && pthread_setspecific(cache_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static bool same_file(const cached_bill *e, const char *path, const struct stat *st)
{
    return e->path && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           strcmp(e->path, path) == 0;
}

/* The bill in file bj (cached or read now); NULL when unreadable or not a bill.  *owned: the
 * caller frees it (no cache for this thread). */
static vbill_bill *bill_at(server *s, const char *bj, bool *owned)
{
    *owned = false;
    struct stat st;
    int fd = open(bj, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size >= (1 << 20)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    bill_cache *c = thread_cache();
    for (int i = 0; c && i < BILL_CACHE; i++)
        if (same_file(&c->e[i], bj, &st)) {
            close(fd);
            return c->e[i].bill;
        }
    char *text = malloc((size_t)st.st_size + 1);
    ssize_t len = text ? read(fd, text, (size_t)st.st_size) : -1;
    close(fd);
    vbill_bill *bill = NULL;
    if (len == st.st_size) {
        text[len] = '\0';
        vbill_ctx *ctx = sv_ctx();
        if (vbill_bill_from_json(ctx, text, (size_t)len, &bill) != VBILL_OK)
            sv_log(s, "%s: %s", bj, vbill_ctx_errmsg(ctx));
    }
    free(text);
    char *path = bill && c ? strdup(bj) : NULL;
    if (!path) {
        *owned = bill != NULL;
        return bill;
    }
    cached_bill *e = &c->e[c->next];
    c->next = (c->next + 1) % BILL_CACHE;
    free(e->path);
    vbill_bill_free(e->bill);
    *e = (cached_bill){.path = path, .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
                       .mtime = st.st_mtim, .bill = bill};
    return bill;
}

/* Reads the bill of a verified link: STORE/<cycle>/<dir>/bill.json. */
static int load_bill(server *s, const char *info_json, bill_ref *b, char *link_hex)
{
    memset(b, 0, sizeof *b);
    cJSON *info = cJSON_Parse(info_json);
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(info, "subscriber");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(info, "cycle_start");
    const cJSON *lk = cJSON_GetObjectItemCaseSensitive(info, "link");
    int rc = -1;
    if (cJSON_IsString(lk))
        snprintf(link_hex, 32, "%.24s", lk->valuestring);
    if (cJSON_IsString(sub) && cJSON_IsString(cs) &&
        store_bill_dirname(sub->valuestring, b->dir, sizeof b->dir)) {
        snprintf(b->cycle, sizeof b->cycle, "%.7s", cs->valuestring);
        b->path = store_path("%s/%s/%s", s->store, b->cycle, b->dir);
        char *bj = b->path ? store_path("%s/bill.json", b->path) : NULL;
        b->bill = bj ? bill_at(s, bj, &b->owned) : NULL;
        if (b->bill && strcmp(vbill_bill_id(b->bill), sub->valuestring) == 0)
            rc = 0;
        free(bj);
    }
    cJSON_Delete(info);
    return rc;
}

static void bill_ref_free(bill_ref *b)
{
    if (b->owned)
        vbill_bill_free(b->bill);
    free(b->path);
}

static const char *cookie_path(server *s, const char *token, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s/", s->base_path, token);
    return buf;
}

/* ---- the check ---- */

static bool digits_from_form(const char *body, char out[64])
{
    out[0] = '\0';
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 7 && strncmp(p, "digits=", 7) == 0) {
            size_t o = 0;
            for (size_t i = 7; i < n && o < 63; i++) {
                char ch = p[i];
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
                           isxdigit((unsigned char)p[i + 2])) {
                    char hx[3] = {p[i + 1], p[i + 2], 0};
                    ch = (char)strtol(hx, NULL, 16);
                    i += 2;
                }
                out[o++] = ch;
            }
            out[o] = '\0';
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static enum MHD_Result check_post(server *s, struct MHD_Connection *c, request *q,
                                  const char *token, const bill_ref *b)
{
    q->r = R_CHECK_POST;
    const char *locale = vbill_bill_locale(b->bill);
    char action[512], digits[64];
    snprintf(action, sizeof action, "%s%s", s->base_path, token);
    if (!digits_from_form(q->body, digits))
        digits[0] = '\0';
    char client[64];
    sv_client(s, c, client, sizeof client);
    vbill_ctx *ctx = sv_ctx();
    vbill_store *store = sv_store(s);
    char *session = NULL;
    vbill_status st = store ? vbill_auth_check(ctx, s->keys, store, token, digits, client, 0,
                                               &session)
                            : VBILL_ERR_STORE;
    OPENSSL_cleanse(digits, sizeof digits);
    if (q->body)
        OPENSSL_cleanse(q->body, q->body_len);
    if (st == VBILL_OK) {
        atomic_fetch_add(&s->m.checks_ok, 1);
        char where[600], cookie[1024], cp[520];
        snprintf(where, sizeof where, "%s%s/watch", s->base_path, token);
        snprintf(cookie, sizeof cookie, "%s=%s; Path=%s; HttpOnly; SameSite=Strict%s; Max-Age=1800",
                 SESSION_COOKIE, session, cookie_path(s, token, cp, sizeof cp),
                 s->insecure_cookies ? "" : "; Secure");
        vbill_free(session);
        const char *h[] = {"Location", where, "Set-Cookie", cookie, NULL};
        return sv_reply_h(c, q, 303, "text/plain", "", 0, h);
    }
    const char *m = vbill_ctx_errmsg(ctx);
    if (st == VBILL_ERR_LINK_EXPIRED)
        return check_page(s, c, q, 410, P_EXPIRED, locale, action, -1, 0, NULL);
    /* where the link stands now: tries left, or locked and until when */
    int tries = -1;
    long until = 0;
    bool locked = false;
    char *att = NULL;
    if ((st == VBILL_ERR_AUTH_WRONG || st == VBILL_ERR_AUTH_LOCKED) &&
        vbill_link_attempts(ctx, s->keys, store, token, 0, &att) == VBILL_OK) {
        cJSON *a = cJSON_Parse(att);
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "state"));
        tries = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "tries_left"));
        until = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "locked_until"));
        locked = !state || strcmp(state, "open") != 0;
        cJSON_Delete(a);
        vbill_free(att);
    }
    long retry = until > time(NULL) ? until - (long)time(NULL) : 0;
    if (st == VBILL_ERR_AUTH_LOCKED || locked) {
        if (st == VBILL_ERR_AUTH_WRONG)
            atomic_fetch_add(&s->m.checks_wrong, 1);
        else
            atomic_fetch_add(&s->m.checks_locked, 1);
        /* an open link refused: this address is slowed to one check per 10 s (the store's
         * default); a link locked for good: a day, and the page names the help desk */
        char ra[32];
        snprintf(ra, sizeof ra, "%ld", retry > 0 ? retry : locked ? 86400 : 10);
        const char *h[] = {"Retry-After", ra, NULL};
        return check_page(s, c, q, 429, P_LOCKED, locale, action, -1, retry, h);
    }
    if (st == VBILL_ERR_AUTH_WRONG) {
        atomic_fetch_add(&s->m.checks_wrong, 1);
        char tl[16];
        snprintf(tl, sizeof tl, "%d", tries < 0 ? 0 : tries);
        const char *h[] = {"X-Tries-Left", tl, NULL};
        return check_page(s, c, q, 401, P_FORM, locale, action, tries < 0 ? 0 : tries, 0, h);
    }
    atomic_fetch_add(&s->m.checks_error, 1);
    sv_log(s, "check: %s", m);
    return sv_reply(c, q, 503, "text/plain", "try again later\n", 16);
}

/* ---- the page data ---- */

static const char *ctx_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *written_bill(const cJSON *cx)
{
    cJSON *b = cJSON_CreateObject();
    static const char *const keys[] = {"name_masked", "period_text", "this_month_text",
                                       "next_month_text"};
    for (size_t i = 0; i < 4; i++)
        add_str_or_null(b, keys[i], ctx_str(cx, keys[i]));
    const cJSON *hp = cJSON_GetObjectItemCaseSensitive(cx, "has_payment");
    add_str_or_null(b, "payment_text", cJSON_IsTrue(hp) ? ctx_str(cx, "payment_text") : NULL);
    cJSON *lines = cJSON_AddArrayToObject(b, "lines");
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(cx, "lines"))
    {
        cJSON *o = cJSON_CreateObject();
        static const char *const lk[] = {"id", "product", "kind_text", "prorated_text",
                                         "next_month_text"};
        for (size_t i = 0; i < 5; i++)
            add_str_or_null(o, lk[i], ctx_str(l, lk[i]));
        cJSON_AddItemToArray(lines, o);
    }
    const cJSON *bu = cJSON_GetObjectItemCaseSensitive(cx, "bundle");
    if (cJSON_IsObject(bu)) {
        cJSON *o = cJSON_AddObjectToObject(b, "bundle");
        add_str_or_null(o, "name", ctx_str(bu, "name"));
        add_str_or_null(o, "prorated_text", ctx_str(bu, "prorated_text"));
        add_str_or_null(o, "discount_text", ctx_str(bu, "discount_text"));
    } else {
        cJSON_AddNullToObject(b, "bundle");
    }
    cJSON *oc = cJSON_AddArrayToObject(b, "other_charges");
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cx,
                                                                                       "bill"),
                                                           "other_charges"))
    {
        cJSON *o = cJSON_CreateObject();
        add_str_or_null(o, "name", ctx_str(x, "name"));
        add_str_or_null(o, "amount_text", ctx_str(x, "amount_text"));
        cJSON_AddItemToArray(oc, o);
    }
    return b;
}

static cJSON *page_data(server *s, bill_ref *b, const char *token)
{
    vbill_ctx *ctx = sv_ctx();
    const char *locale = vbill_bill_locale(b->bill);
    char *cj = NULL;
    cJSON *cx = vbill_bill_context(ctx, b->bill, &cj) == VBILL_OK ? cJSON_Parse(cj) : NULL;
    vbill_free(cj);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "locale", locale);
    cJSON_AddBoolToObject(d, "senior", vbill_bill_senior(b->bill));
    cJSON_AddNumberToObject(d, "speed", vbill_bill_speed(b->bill));
    cJSON *video = od_page_video(s, b);
    cJSON *v = cJSON_AddObjectToObject(d, "video");
    char url[600];
    snprintf(url, sizeof url, "%s%s/index.m3u8", s->base_path, token);
    cJSON_AddStringToObject(v, "hls", url);
    cJSON_AddNullToObject(v, "hls_slow");
    char *mp4 = store_path("%s/bill.mp4", b->path);
    struct stat st;
    if (mp4 && stat(mp4, &st) == 0) {
        snprintf(url, sizeof url, "%s%s/bill.mp4", s->base_path, token);
        cJSON_AddStringToObject(v, "mp4", url);
    } else {
        cJSON_AddNullToObject(v, "mp4");
    }
    free(mp4);
    snprintf(url, sizeof url, "%s%s/captions.vtt", s->base_path, token);
    cJSON_AddStringToObject(v, "captions", url);
    snprintf(url, sizeof url, "%s%s/chapters.vtt", s->base_path, token);
    cJSON_AddStringToObject(v, "chapters", url);
    const cJSON *x;
    static const char *const vk[] = {"duration", "width", "height"};
    for (size_t i = 0; i < 3; i++)
        if ((x = cJSON_GetObjectItemCaseSensitive(video, vk[i])))
            cJSON_AddItemToObject(v, vk[i], cJSON_Duplicate(x, true));
    cJSON *ov = cJSON_DetachItemFromObjectCaseSensitive(video, "overlay");
    if (ov) {
        const cJSON *od = cJSON_GetObjectItemCaseSensitive(s->page_config, "overlay_default");
        cJSON_AddBoolToObject(ov, "default", cJSON_IsTrue(od));
        cJSON_AddItemToObject(d, "overlay", ov);
    } else {
        cJSON_AddNullToObject(d, "overlay");
    }
    cJSON_Delete(video);
    cJSON_AddItemToObject(d, "bill", cx ? written_bill(cx) : cJSON_CreateObject());
    cJSON *acts = cJSON_AddArrayToObject(d, "actions");
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s->page_config, "actions"))
    {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "id", ctx_str(x, "id"));
        const char *label = localised(cJSON_GetObjectItemCaseSensitive(x, "label"), locale);
        cJSON_AddStringToObject(a, "label", label ? label : ctx_str(x, "id"));
        cJSON_AddStringToObject(a, "url", ctx_str(x, "url"));
        cJSON_AddItemToArray(acts, a);
    }
    cJSON_AddItemToObject(d, "helpdesk", helpdesk_of(s, locale));
    cJSON_AddItemToObject(d, "texts", texts_of(s, locale));
    char *sv = store_path("%s/.survey", b->path);
    cJSON_AddBoolToObject(d, "survey_done", sv && stat(sv, &st) == 0);
    free(sv);
    cJSON_Delete(cx);
    return d;
}

/* JSON safe inside <script>: nothing in a bill can end the element. */
static char *script_safe(const char *json)
{
    size_t n = 0;
    for (const char *p = json; *p; p++)
        n += (*p == '<' || *p == '>' || *p == '&') ? 6 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)json; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&') {
            o += sprintf(o, "\\u%04x", *p);
        } else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
            o += sprintf(o, "\\u%04x", p[2] == 0xA8 ? 0x2028 : 0x2029);
            p += 2;
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

/* ---- events and questions ---- */

static vbill_status emit(server *s, const bill_ref *b, const char *type, const char *token,
                         cJSON *extra, const unsigned char *jpeg, size_t jpeg_len)
{
    if (!s->hooks) {
        cJSON_Delete(extra);
        return VBILL_OK; /* no help desk configured: the event is taken and not sent */
    }
    vbill_ctx *ctx = sv_ctx();
    char *ex = cJSON_PrintUnformatted(extra), *data = NULL, url[600];
    cJSON_Delete(extra);
    snprintf(url, sizeof url, "%s%s", s->base_url, token);
    vbill_status st = ex ? vbill_hooks_event_data(ctx, b->bill, url, ex, &data) : VBILL_ERR_NOMEM;
    free(ex);
    if (!st) {
        pthread_mutex_lock(&s->hooks_lock);
        st = vbill_hooks_emit_still(s->hooks, type, vbill_bill_id(b->bill), data, jpeg, jpeg_len,
                                    NULL);
        if (st)
            sv_log(s, "event %s: %s", type, vbill_hooks_errmsg(s->hooks));
        pthread_mutex_unlock(&s->hooks_lock);
    }
    vbill_free(data);
    return st;
}

static const cJSON *action_of(server *s, const char *id)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(s->page_config, "actions"))
    {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (cJSON_IsString(x) && id && strcmp(x->valuestring, id) == 0)
            return a;
    }
    return NULL;
}

static enum MHD_Result event_post(server *s, struct MHD_Connection *c, request *q,
                                  const bill_ref *b, const char *token)
{
    q->r = R_EVENT;
    cJSON *e = q->body ? cJSON_Parse(q->body) : NULL;
    const char *type = ctx_str(e, "type");
    cJSON *extra = cJSON_CreateObject();
    const char *ev = NULL;
    int status = 400;
    const cJSON *v;
    if (!cJSON_IsObject(e) || !type || q->body_len > 4096) {
        ;
    } else if (!strcmp(type, "progress")) {
        v = cJSON_GetObjectItemCaseSensitive(e, "quartile");
        const cJSON *pos = cJSON_GetObjectItemCaseSensitive(e, "position");
        if (cJSON_IsNumber(v) && (v->valueint == 25 || v->valueint == 50 || v->valueint == 75 ||
                                  v->valueint == 100) &&
            v->valuedouble == v->valueint && cJSON_IsNumber(pos) && pos->valuedouble >= 0 &&
            pos->valuedouble < 86400) {
            cJSON_AddNumberToObject(extra, "quartile", v->valueint);
            cJSON_AddNumberToObject(extra, "position", pos->valuedouble);
            ev = "bill.viewed";
        }
    } else if (!strcmp(type, "speed")) {
        v = cJSON_GetObjectItemCaseSensitive(e, "rate");
        if (cJSON_IsNumber(v) && (fabs(v->valuedouble - 0.8) < 1e-9 || v->valuedouble == 1 ||
                                  fabs(v->valuedouble - 1.25) < 1e-9)) {
            cJSON_AddNumberToObject(extra, "rate", v->valuedouble);
            ev = "bill.speed_changed";
        }
    } else if (!strcmp(type, "captions")) {
        v = cJSON_GetObjectItemCaseSensitive(e, "on");
        if (cJSON_IsBool(v)) {
            cJSON_AddBoolToObject(extra, "captions", cJSON_IsTrue(v));
            ev = "bill.captions_changed";
        }
    } else if (!strcmp(type, "action")) {
        const cJSON *a = action_of(s, ctx_str(e, "id"));
        if (a) {
            cJSON_AddStringToObject(extra, "action", ctx_str(a, "id"));
            cJSON_AddStringToObject(extra, "url", ctx_str(a, "url"));
            ev = "bill.action";
        }
    } else if (!strcmp(type, "survey")) {
        v = cJSON_GetObjectItemCaseSensitive(e, "score");
        const cJSON *cm = cJSON_GetObjectItemCaseSensitive(e, "comment");
        if (cJSON_IsNumber(v) && v->valuedouble == v->valueint && v->valueint >= 1 &&
            v->valueint <= 5 && (!cm || cJSON_IsNull(cm) ||
                                 (cJSON_IsString(cm) && strlen(cm->valuestring) <= 2000))) {
            cJSON_AddNumberToObject(extra, "score", v->valueint);
            if (cJSON_IsString(cm) && *cm->valuestring)
                cJSON_AddStringToObject(extra, "comment", cm->valuestring);
            ev = "survey.answered";
            /* once per bill: the first answer wins */
            char *mark = store_path("%s/.survey", b->path);
            int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
            free(mark);
            if (fd < 0) {
                ev = NULL;
                status = 409;
            } else {
                close(fd);
            }
        }
    }
    if (ev) {
        vbill_status st = emit(s, b, ev, token, extra, NULL, 0);
        extra = NULL;
        status = st ? 503 : 204;
    }
    cJSON_Delete(extra);
    cJSON_Delete(e);
    atomic_fetch_add(status == 204 ? &s->m.events_queued : &s->m.events_refused, 1);
    return status == 204 ? sv_reply(c, q, 204, NULL, "", 0)
                         : sv_reply(c, q, status, "text/plain",
                                    status == 409 ? "already answered\n" : "refused\n",
                                    status == 409 ? 17 : 8);
}

static enum MHD_Result chat_post(server *s, struct MHD_Connection *c, request *q,
                                 const bill_ref *b, const char *token)
{
    q->r = R_CHAT;
    cJSON *e = q->body ? cJSON_Parse(q->body) : NULL;
    const char *question = ctx_str(e, "question");
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(e, "position");
    if (!question || !*question || strlen(question) > 2000 || !cJSON_IsNumber(pos) ||
        pos->valuedouble < 0 || pos->valuedouble > 86400) {
        cJSON_Delete(e);
        return sv_reply(c, q, 400, "text/plain", "needs a question and a position\n", 32);
    }
    vbill_ctx *ctx = sv_ctx();
    char *answer = NULL;
    vbill_status st = vbill_chat_answer(ctx, b->bill, question, s->faq_json, pos->valuedouble,
                                        0, &answer);
    if (st) {
        sv_log(s, "chat: %s", vbill_ctx_errmsg(ctx));
        cJSON_Delete(e);
        return sv_reply(c, q, 503, "text/plain", "try again later\n", 16);
    }
    cJSON *a = cJSON_Parse(answer);
    vbill_free(answer);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddBoolToObject(out, "answered", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "answered")));
    add_str_or_null(out, "answer", ctx_str(a, "answer"));
    bool esc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "escalate"));
    cJSON_AddBoolToObject(out, "escalate", esc);
    add_str_or_null(out, "mode", ctx_str(a, "mode"));
    add_str_or_null(out, "reply", ctx_str(a, "reply"));
    if (esc) {
        /* the agent's ticket carries the frame the customer was looking at */
        cJSON *event = cJSON_GetObjectItemCaseSensitive(a, "event");
        cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(event, "data");
        unsigned char *jpeg = NULL;
        size_t jl = 0;
        char err[256], hash[32];
        vbill_template *t = vbill_bill_scenario(b->bill)
                                ? od_template(s, b->bill, hash, err, sizeof err) : NULL;
        if (t && vbill_render_still(ctx, t, b->bill, 1.0, pos->valuedouble, 640, &jpeg, &jl))
            sv_log(s, "still: %s", vbill_ctx_errmsg(ctx));
        emit(s, b, ctx_str(event, "type") ? ctx_str(event, "type") : "chat.requested", token,
             data ? data : cJSON_CreateObject(), jpeg, jl);
        vbill_free(jpeg);
    }
    char *js = cJSON_PrintUnformatted(out);
    enum MHD_Result rc = sv_reply(c, q, 200, "application/json; charset=utf-8", js,
                                  js ? strlen(js) : 0);
    free(js);
    cJSON_Delete(out);
    cJSON_Delete(a);
    cJSON_Delete(e);
    return rc;
}

/* ---- the routes ---- */

static bool segment_name(const char *rest, int *k)
{
    if (strlen(rest) != 9 || rest[0] != 'p' || strspn(rest + 1, "0123456789") != 5 ||
        strcmp(rest + 6, ".ts") != 0)
        return false;
    *k = atoi(rest + 1);
    return true;
}

enum MHD_Result vw_link(server *s, struct MHD_Connection *c, request *q, const char *method,
                        const char *token, const char *rest)
{
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool page = !*rest || !strcmp(rest, "watch");
    q->r = !*rest ? (post ? R_CHECK_POST : R_CHECK_GET) : R_OTHER;
    vbill_ctx *ctx = sv_ctx();
    char *info = NULL, action[512], link_hex[32] = "";
    snprintf(action, sizeof action, "%s%s", s->base_path, token);
    /* the check page and the check ask the store too: a re-issued or revoked link is over
     * (everything after the check needs a session, which the store verifies) */
    vbill_store *vstore = *rest ? NULL : sv_store(s);
    vbill_status st = *rest ? vbill_link_verify(ctx, s->keys, token, 0, &info)
                      : vstore ? vbill_link_verify_store(ctx, s->keys, vstore, token, 0, &info)
                               : VBILL_ERR_STORE;
    /* no bill to take the language from: the browser's */
    const char *guess = sv_page_locale(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                   "Accept-Language"));
    if (st == VBILL_ERR_LINK_EXPIRED)
        return page ? check_page(s, c, q, 410, P_EXPIRED, guess, action, -1, 0, NULL)
                    : sv_reply(c, q, 410, "text/plain", "link expired\n", 13);
    bill_ref b;
    if (st || load_bill(s, info, &b, link_hex) != 0) {
        vbill_free(info);
        if (!st)
            bill_ref_free(&b);
        if (st == VBILL_ERR_STORE)
            return sv_reply(c, q, 503, "text/plain", "try again later\n", 16);
        return page ? check_page(s, c, q, 404, P_NOT_FOUND, guess, NULL, -1, 0, NULL)
                    : sv_reply(c, q, 404, "text/plain", "not found\n", 10);
    }
    vbill_free(info);
    enum MHD_Result rc;
    if (!*rest) {
        if (post)
            rc = check_post(s, c, q, token, &b);
        else
            rc = check_page(s, c, q, 200, P_FORM, vbill_bill_locale(b.bill), action, -1, 0,
                            NULL);
        goto out;
    }
    /* everything below answers only to the session of this link */
    const char *session = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
    char client[64];
    sv_client(s, c, client, sizeof client);
    vbill_store *store = sv_store(s);
    bool ok = session && store &&
              vbill_session_verify(ctx, s->keys, store, session, token, client, 0) == VBILL_OK;
    int k = -1;
    if (!strcmp(rest, "watch")) {
        q->r = R_WATCH;
        if (!ok) {
            const char *h[] = {"Location", action, NULL};
            rc = sv_reply_h(c, q, 303, "text/plain", "", 0, h);
            goto out;
        }
    }
    if (!ok) {
        rc = sv_reply(c, q, 403, "text/plain", "no session for this link\n", 25);
        goto out;
    }
    if (post && (!strcmp(rest, "event") || !strcmp(rest, "chat"))) {
        char csrf[33];
        csrf_of(session, csrf);
        const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!got || strlen(got) != 32 || CRYPTO_memcmp(got, csrf, 32) != 0) {
            q->r = !strcmp(rest, "event") ? R_EVENT : R_CHAT;
            rc = sv_reply(c, q, 403, "text/plain", "bad csrf token\n", 15);
        } else {
            rc = !strcmp(rest, "event") ? event_post(s, c, q, &b, token)
                                        : chat_post(s, c, q, &b, token);
        }
        goto out;
    }
    if (post) {
        const char *h[] = {"Allow", "GET, HEAD", NULL};
        rc = sv_reply_h(c, q, 405, "text/plain", "method not allowed\n", 19, h);
        goto out;
    }
    if (!strcmp(rest, "watch") || !strcmp(rest, "bill.json")) {
        cJSON *d = page_data(s, &b, token);
        if (!strcmp(rest, "bill.json")) {
            q->r = R_DATA;
            char *js = cJSON_PrintUnformatted(d);
            rc = sv_reply(c, q, 200, "application/json; charset=utf-8", js, js ? strlen(js) : 0);
            free(js);
            cJSON_Delete(d);
            goto out;
        }
        char csrf[33];
        csrf_of(session, csrf);
        char *js = cJSON_PrintUnformatted(d);
        char *safe = js ? script_safe(js) : NULL;
        free(js);
        const char *locale = vbill_bill_locale(b.bill);
        cJSON_AddStringToObject(d, "lang", lang_of(locale));
        cJSON_AddItemToObject(d, "t", texts_of(s, locale));
        cJSON_AddStringToObject(d, "static", "/static");
        cJSON_AddStringToObject(d, "csrf_token", csrf);
        cJSON_AddStringToObject(d, "page_data_json", safe ? safe : "null");
        free(safe);
        rc = render_page(s, c, q, 200, s->watch_html, d, NULL);
        goto out;
    }
    char path[4300], err[512];
    if (!strcmp(rest, "index.m3u8")) {
        q->r = R_PLAYLIST;
        if (od_playlist(s, &b, err, sizeof err) != 0) {
            sv_log(s, "playlist of link %s: %s", link_hex, err);
            rc = sv_reply(c, q, 503, "text/plain", "try again later\n", 16);
        } else {
            /* the burned-in stream is wanted: its personal segments are rendered in play
             * order from now on (a page in overlay mode never asks for this playlist, so a
             * bill only watched that way costs no render) */
            od_prefetch(s, &b);
            snprintf(path, sizeof path, "%s/index.m3u8", b.path);
            rc = sv_file(c, q, path, "application/vnd.apple.mpegurl", "private, no-cache");
        }
    } else if (segment_name(rest, &k)) {
        q->r = R_SEGMENT;
        int got = od_segment(s, c, q, &b, k, true);
        if (got > 0) {
            snprintf(path, sizeof path, "%s/%s", b.path, rest);
            rc = sv_file(c, q, path, "video/mp2t", "private, max-age=86400");
        } else if (got == 0) {
            rc = MHD_YES; /* suspended: answered when the render ends */
        } else {
            rc = sv_reply(c, q, 404, "text/plain", "not found\n", 10);
        }
    } else if (!strcmp(rest, "bill.mp4")) {
        q->r = R_MP4;
        snprintf(path, sizeof path, "%s/bill.mp4", b.path);
        rc = sv_file(c, q, path, "video/mp4", "private, max-age=86400");
    } else if (!strcmp(rest, "captions.vtt") || !strcmp(rest, "chapters.vtt")) {
        q->r = R_VTT;
        char *vtt = od_vtt(s, &b, rest[1] == 'h');
        rc = vtt ? sv_reply(c, q, 200, "text/vtt; charset=utf-8", vtt, strlen(vtt))
                 : sv_reply(c, q, 404, "text/plain", "not found\n", 10);
        free(vtt);
    } else {
        rc = sv_reply(c, q, 404, "text/plain", "not found\n", 10);
    }
out:
    if (q->status)
        sv_log(s, "%s %s link=%.12s %d %.1f ms", method, *rest ? rest : "(check)",
               link_hex[0] ? link_hex : "-", q->status, (sv_now() - q->start) * 1000);
    bill_ref_free(&b);
    return rc;
}
