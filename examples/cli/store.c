/* store.c: the bill store's names and file helpers (store.h documents the layout). */
#include "config.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool store_bill_dirname(const char *id, char *out, size_t size)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 64 || size < n + 2)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    snprintf(out, size, "%s%s", id[0] == '.' || id[0] == '_' ? "_" : "", id);
    return true;
}

bool store_valid_cycle(const char *c)
{
    return c && strlen(c) == 7 && c[4] == '-' && c[0] >= '0' && c[0] <= '9' && c[1] >= '0' &&
           c[1] <= '9' && c[2] >= '0' && c[2] <= '9' && c[3] >= '0' && c[3] <= '9' &&
           c[5] >= '0' && c[5] <= '1' && c[6] >= '0' && c[6] <= '9';
}

char *store_path(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

int store_mkdirs(const char *path, unsigned mode)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, mode);
    free(p);
    return rc != 0 && errno != EEXIST ? -1 : 0;
}

void store_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *c = store_path("%s/%s", path, e->d_name);
            if (c)
                store_rmtree(c);
            free(c);
        }
        closedir(d);
    }
    rmdir(path);
}

int store_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    /* A fixed temporary name beside the file: the writer owns the path (a shard's lock, a
     * template's lock), so a run killed mid-write leaves a name the next run overwrites. */
    const char *slash = strrchr(path, '/');
    char *tmp = slash ? store_path("%.*s/.%s.tmp", (int)(slash - path), path, slash + 1)
                      : store_path(".%s.tmp", path);
    if (!tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    int err = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!err && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err)
        unlink(tmp);
    free(tmp);
    errno = err;
    return err ? -1 : 0;
}

void store_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

char *store_shared_prefix(const char *base_url)
{
    const char *path = base_url;
    const char *scheme = strstr(base_url, "://");
    if (scheme) {
        path = strchr(scheme + 3, '/');
        if (!path)
            return store_path("%s/", base_url);
    }
    size_t n = strlen(base_url);
    size_t start = (size_t)(path - base_url);
    /* drop a trailing slash, then the last path component */
    while (n > start + 1 && base_url[n - 1] == '/')
        n--;
    while (n > start && base_url[n - 1] != '/')
        n--;
    if (n <= start)
        return store_path("%.*s/", (int)start, base_url);
    return store_path("%.*s", (int)n, base_url);
}
