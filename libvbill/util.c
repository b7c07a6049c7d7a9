/* util.c: growable buffers, atomic files, calendar dates and JSON helpers. */
#include "config.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

/* ---- buffer ---- */

void vb_buf_append_grow(vb_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void vb_buf_reserve(vb_buf *b, size_t cap)
{
    if (b->failed || b->cap >= cap)
        return;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    p[b->len] = '\0';
    b->data = p;
    b->cap = cap;
}

void vb_buf_printf(vb_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        vb_buf_append(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    vb_buf_append(b, big, (size_t)n);
    free(big);
}

char *vb_buf_take(vb_buf *b)
{
    char *s = NULL;
    if (!b->failed) {
        if (!b->data)
            vb_buf_append(b, "", 0);
        s = b->failed ? NULL : b->data;
    } else {
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    return s;
}

void vb_buf_free(vb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

const char *vb_int_text(int64_t v, char buf[VB_INT_TEXT], size_t *len)
{
    int pos = VB_INT_TEXT - 1;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    buf[pos] = '\0';
    do {
        buf[--pos] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    if (v < 0)
        buf[--pos] = '-';
    *len = (size_t)(VB_INT_TEXT - 1 - pos);
    return buf + pos;
}

void vb_buf_int(vb_buf *b, int64_t v)
{
    char buf[VB_INT_TEXT];
    size_t n;
    const char *s = vb_int_text(v, buf, &n);
    vb_buf_append(b, s, n);
}

/* Whether any of the eight bytes of w is below 0x20, '"' or '\\' (the classic SWAR tests
 * for a zero byte and for a byte below n). */
static inline bool needs_escape8(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t zero_quote = (quote - ones) & ~quote & highs;
    uint64_t zero_backslash = (backslash - ones) & ~backslash & highs;
    uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    return (zero_quote | zero_backslash | below_space) != 0;
}

void vb_buf_json_string(vb_buf *b, const char *s)
{
    vb_buf_append(b, "\"", 1);
    const char *run = s;
    size_t left = strlen(s);
    /* Most text needs no escape: skip it eight bytes at a time. */
    while (left >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        if (needs_escape8(w))
            break;
        s += 8;
        left -= 8;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        vb_buf_append(b, run, (size_t)(s - run));
        switch (c) {
        case '"': vb_buf_append(b, "\\\"", 2); break;
        case '\\': vb_buf_append(b, "\\\\", 2); break;
        case '\n': vb_buf_append(b, "\\n", 2); break;
        case '\r': vb_buf_append(b, "\\r", 2); break;
        case '\t': vb_buf_append(b, "\\t", 2); break;
        default: vb_buf_printf(b, "\\u%04x", c); break;
        }
        run = s + 1;
    }
    vb_buf_append(b, run, (size_t)(s - run));
    vb_buf_append(b, "\"", 1);
}

/* ---- files ---- */

static char *read_stream(FILE *f, size_t max, size_t *len)
{
    vb_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > max) {
            fclose(f);
            vb_buf_free(&b);
            errno = EFBIG;
            return NULL;
        }
        vb_buf_append(&b, chunk, n);
    }
    int err = ferror(f);
    fclose(f);
    if (err || b.failed) {
        vb_buf_free(&b);
        errno = err ? EIO : ENOMEM;
        return NULL;
    }
    if (len)
        *len = b.len;
    return vb_buf_take(&b);
}

char *vb_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    return f ? read_stream(f, max, len) : NULL;
}

char *vb_read_regular_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat sb;
    if (fd < 0)
        return NULL; /* ELOOP for a symbolic link */
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return NULL;
    }
    return read_stream(f, max, len);
}

char *vb_temp_path_for(const char *path)
{
    char *dup1 = strdup(path), *dup2 = strdup(path);
    char *out = NULL;
    if (dup1 && dup2) {
        const char *dir = dirname(dup1), *base = basename(dup2);
        size_t n = strlen(dir) + strlen(base) + 32;
        out = malloc(n);
        if (out)
            snprintf(out, n, "%s/.%s.tmp-XXXXXX", dir, base);
    }
    free(dup1);
    free(dup2);
    return out;
}

int vb_write_file_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = vb_temp_path_for(path);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    errno = e;
    return -1;
}

/* ---- dates ---- */

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool vb_date_parse(const char *s, vb_date *out)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return false;
    out->y = y;
    out->m = m;
    out->d = d;
    return true;
}

/* Howard Hinnant's days_from_civil. */
int64_t vb_date_days(vb_date d)
{
    int64_t y = d.y - (d.m <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (d.m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d.d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

vb_date vb_date_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    vb_date r = {(int)(y + (m <= 2)), (int)m, (int)d};
    return r;
}

void vb_date_format(vb_date d, char out[11])
{
    unsigned y = (unsigned)d.y % 10000u, m = (unsigned)d.m % 100u, dd = (unsigned)d.d % 100u;
    const unsigned digits[8] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10,
                                m / 10,   m % 10,       dd / 10,     dd % 10};
    static const int at[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    for (int i = 0; i < 8; i++)
        out[at[i]] = (char)('0' + digits[i]);
    out[4] = out[7] = '-';
    out[10] = '\0';
}

/* ---- JSON ---- */

cJSON *vb_json_parse(const char *text, size_t len)
{
    if (!text)
        return NULL;
    if (len == (size_t)-1)
        len = strlen(text);
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!v)
        return NULL;
    /* cJSON stops at the first value; anything but white space after it is an error. */
    while (end && end < text + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (end && end < text + len && *end != '\0') {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

cJSON *vb_json_int(int64_t v)
{
    /* Doubles hold integers exactly to 2^53, and cJSON prints them exactly up to 15 digits. */
    if (v > -INT64_C(1000000000000000) && v < INT64_C(1000000000000000))
        return cJSON_CreateNumber((double)v);
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    return cJSON_CreateRaw(s);
}

char *vb_json_print(const cJSON *v) { return cJSON_PrintUnformatted(v); }

/* ---- SQLite ----------------------------------------------------------------------- */

int vb_sqlite_setup(sqlite3 *db, const char *sql)
{
    int rc;
    for (int waited_ms = 0;; waited_ms += 5) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        int primary = rc & 0xff;
        if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) || waited_ms >= 10000)
            return rc;
        struct timespec pause = {0, 5 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* ---- UTF-8 ---- */

long vb_utf8_check(const unsigned char *s, size_t n, bool no_controls)
{
    long count = 0;
    for (size_t i = 0; i < n; count++) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (no_controls && (c < 0x20 || c == 0x7f))
                return -1;
            i++;
            continue;
        }
        int len;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return -1;
        }
        if (i + (size_t)len > n)
            return -1;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        if (no_controls && cp >= 0x80 && cp <= 0x9f)
            return -1;
        i += (size_t)len;
    }
    return count;
}

bool vb_valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    return ok;
}

bool vb_valid_scenario_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n >= 1 && n <= 63 && isalnum((unsigned char)s[0]);
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.';
    return ok;
}

/* ---- paths ----------------------------------------------------------------------- */

char *vb_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    size_t n = la;
    if (n == 0 || p[n - 1] != '/')
        p[n++] = '/';
    memcpy(p + n, b, lb + 1);
    return p;
}

int vb_mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    }
    int rc = mkdir(p, 0777);
    free(p);
    return (rc != 0 && errno != EEXIST) ? -1 : 0;
}

void vb_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *c = vb_path_join(path, e->d_name);
        if (!c)
            continue;
        struct stat st;
        if (lstat(c, &st) == 0 && S_ISDIR(st.st_mode))
            vb_rmtree(c);
        else
            unlink(c);
        free(c);
    }
    closedir(d);
    rmdir(path);
}

/* ---- time ------------------------------------------------------------------------ */

int64_t vb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vb_rfc3339_ms(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    vb_date d = vb_date_from_days(days);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", d.y, d.m, d.d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)(ms - secs * 1000));
}
