/*
 * cmd_batch.c: vbill batch, the month's run.  Streams a JSON Lines file of subscriber records
 * (memory flat whatever its size), turns each record of this shard into a bill and writes the
 * bill store (store.h): bill.json, the link and its SMS, and in stored mode the personal HLS
 * segments (and with --mp4 the MP4); per cycle the links and the rejected records; per shard
 * a journal and the progress.  A re-run does only what is missing or changed; two processes
 * given the same shard never run it at once (a lock: the second one exits 75).
 *
 * Threads: the main thread reads and checks records and hands the bills to --jobs workers
 * through a bounded queue; each worker renders with its own context and one encoder thread.
 */
#include "config.h"
#include "cli.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE (1u << 20)
#define MAX_CYCLES 64

static const char USAGE[] =
    "usage: vbill batch RECORDS.jsonl --store DIR [options]\n"
    "       vbill batch status --store DIR\n\n"
    "Makes the month's video bills: every valid record of this shard becomes a bill in the\n"
    "bill store DIR (one folder per cycle YYYY-MM and subscriber: bill.json, its link, and in\n"
    "stored mode the personal HLS segments), with per cycle links.jsonl ({id,url,sms}) and\n"
    "rejected.jsonl ({line,id,error}).  A re-run does only what is missing or changed.\n\n"
    "options:\n"
    "  --store DIR             the bill store (created when missing)\n"
    "  --templates DIR         one template folder per scenario (DIR/<scenario>/template.json,\n"
    "                          or DIR/<scenario>.<locale>/ for the bills of a locale; with a\n"
    "                          narration.json it speaks); default: the built-in templates, one\n"
    "                          per scenario and locale, generated and prepared into the store\n"
    "                          once\n"
    "  --render stored|on-demand   stored (default): render the HLS now; on-demand: only the\n"
    "                          bill and its link (the viewer renders at the first view); the\n"
    "                          templates are prepared into the store either way\n"
    "  --mp4                   also store the MP4 (bill.mp4; for seniors also bill-slow.mp4 at\n"
    "                          their speed, pitch kept, to download)\n"
    "  --no-segment-cache      encode every bill's windows (default: a window whose texts\n"
    "                          another bill of the cycle had is linked from CYCLE/_cache)\n"
    "  --base-url URL          the links' prefix (default /v/, on the viewer's host)\n"
    "  --key-file FILE         the link keys (default $VBILL_KEY_FILE)\n"
    "  --pepper-file FILE      the peppers, when kept apart from the keys (default\n"
    "                          $VBILL_PEPPER_FILE, else the text of $VBILL_PEPPER)\n"
    "  --ttl 30d               the links' lifetime (d, h, m, s)\n"
    "  --rules FILE            a carrier rule set instead of the built-in scenarios\n"
    "  --shard I/N             this process makes shard I of N (0 <= I < N), by subscriber id;\n"
    "                          default: $SLURM_ARRAY_TASK_ID - $SLURM_ARRAY_TASK_MIN of\n"
    "                          $SLURM_ARRAY_TASK_COUNT, else $JOB_COMPLETION_INDEX of\n"
    "                          --shard-count / $VBILL_SHARD_COUNT, else 0/1\n"
    "  --shard-count N         the N of a Kubernetes Indexed Job\n"
    "  --jobs N                bills rendered at once (default: the cores)\n"
    "  --hooks FILE            queue a bill.generated event per bill (vbill hooks); the outbox\n"
    "                          is in --state DIR (default $VBILL_STATE_DIR, else DIR/_batch/outbox)\n"
    "  --progress bar|json|none    default: a bar on a terminal, else a JSON line every 5 s\n"
    "                              (the progress file in _batch/ is kept fresh whatever it is)\n\n"
    "Exit status: 0 done; 3 done, some records rejected; 75 retry later (disk full, the shard\n"
    "is running elsewhere, stopped by a signal); 1 some bills failed; 2 usage.\n";

/* ---- options and shared state ---- */

/* ---- the ids seen in this run: a duplicate is rejected, not made twice ---- */

/* An open-addressing set of 64-bit keys (at most 32 bytes a record of the input). */
typedef struct idset {
    uint64_t *slot;
    size_t cap, n;
} idset;

static uint64_t fnv64(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = a; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *s = b; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

/* Adds key; false when it was there already (or on allocation failure: then everything is
 * taken as new, as before the set). */
static bool idset_add(idset *s, uint64_t key)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        uint64_t *n = calloc(cap, sizeof *n);
        if (!n)
            return true;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                for (size_t j = s->slot[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!n[j]) {
                        n[j] = s->slot[i];
                        break;
                    }
        free(s->slot);
        s->slot = n;
        s->cap = cap;
    }
    for (size_t j = key & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == key)
            return false;
        if (!s->slot[j]) {
            s->slot[j] = key;
            s->n++;
            return true;
        }
    }
}

typedef struct cyc {
    char name[8];
    long total, done, rejected, failed, not_target;
    FILE *links, *rejects;       /* this run's temporary files, renamed at the end */
    char *links_tmp, *links_path, *rej_tmp, *rej_path;
} cyc;

typedef struct tmpl_entry {
    char name[80];
    vbill_template *t;
    char *shared;                /* URL prefix of its shared segments */
    char hash[20];
    int state;                   /* 0 being made ready (wait on ready), 1 ready, -1 failed */
    pthread_cond_t ready;
    char error[512];
    struct tmpl_entry *next;
} tmpl_entry;

typedef struct job {
    vbill_bill *bill;
    long line;
    char hash[65];
    char dir[80];
    int cyc;
    struct job *next;
} job;

typedef struct batch {
    /* options */
    const char *input, *store, *templates, *base_url, *key_file, *pepper_file, *rules,
        *hooks_file, *state;
    bool stored, mp4, no_segment_cache;
    int64_t ttl;
    int shard, shards, jobs;
    int progress;                /* 0 none, 1 bar, 2 json */
    double interval;
    /* resources */
    vbill_keys *keys;
    vbill_hooks *hooks;
    pthread_mutex_t hooks_lock;
    char *shared_prefix;
    /* templates */
    pthread_mutex_t tmpl_lock;
    tmpl_entry *tmpls;
    /* the queue */
    pthread_mutex_t lock;
    pthread_cond_t has_work, has_room;
    job *head, *tail;
    int queued, capacity;
    bool closing;
    /* counts (under lock) */
    cyc cycles[MAX_CYCLES];
    int ncycles;
    long made, seen_total;
    uint64_t seg_hits, seg_misses; /* the workers' segment caches */
    double started, last_progress;
    idset seen;                  /* cycle/id of every record read (reader only) */
    bool retry_later;            /* stop: disk full, out of memory, interrupted */
    char retry_why[256];
    FILE *journal;
} batch;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The shard of a subscriber: stable across runs, machines and shard workers (FNV-1a). */
static int shard_of(const char *key, int shards)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (int)(h % (uint64_t)shards);
}

static bool parse_ttl(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    long long mul = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
    if (errno || end == s || v < 1 || (*end && (strchr("dhms", *end) == NULL || end[1])) ||
        v > 3650LL * 86400 / mul)
        return false;
    *out = v * mul;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ---- cycles ---- */

static int cycle_index(batch *b, const char *name)
{
    for (int i = 0; i < b->ncycles; i++)
        if (strcmp(b->cycles[i].name, name) == 0)
            return i;
    if (b->ncycles >= MAX_CYCLES)
        return -1;
    cyc *c = &b->cycles[b->ncycles];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return b->ncycles++;
}

/* Opens the cycle's temporary links and rejected files (deterministic names: the shard lock
 * makes them this process's own; a killed run's leftovers are truncated here). */
static int cycle_open(batch *b, int i)
{
    cyc *c = &b->cycles[i];
    if (c->rejects)
        return 0;
    /* records whose cycle cannot be read are listed at the store's root */
    bool real = store_valid_cycle(c->name);
    char *dir = real ? store_path("%s/%s", b->store, c->name) : strdup(b->store);
    if (!dir || store_mkdirs(dir, 0755) != 0) {
        free(dir);
        return -1;
    }
    if (real) {
        if (b->shards == 1)
            c->links_path = store_path("%s/links.jsonl", dir);
        else
            c->links_path = store_path("%s/links-%d-of-%d.jsonl", dir, b->shard, b->shards);
        c->links_tmp = store_path("%s/.links-%d-of-%d.tmp", dir, b->shard, b->shards);
    }
    c->rej_path = store_path("%s/rejected.jsonl", dir);
    c->rej_tmp = store_path("%s/.rejected-%d-of-%d.tmp", dir, b->shard, b->shards);
    free(dir);
    if ((real && (!c->links_path || !c->links_tmp)) || !c->rej_path || !c->rej_tmp)
        return -1;
    int fd1 = real ? open(c->links_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
    int fd2 = open(c->rej_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    c->links = fd1 >= 0 ? fdopen(fd1, "w") : NULL;
    c->rejects = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
    if ((real && !c->links) || !c->rejects) {
        if (c->links)
            fclose(c->links);
        else if (fd1 >= 0)
            close(fd1);
        if (c->rejects)
            fclose(c->rejects);
        else if (fd2 >= 0)
            close(fd2);
        c->links = c->rejects = NULL;
        return -1;
    }
    return 0;
}

/* Renames the cycle files into place (only after a complete pass). */
static int cycle_finish(cyc *c, bool complete)
{
    int rc = 0;
    FILE *fs[2] = {c->links, c->rejects};
    const char *tmp[2] = {c->links_tmp, c->rej_tmp}, *path[2] = {c->links_path, c->rej_path};
    for (int k = 0; k < 2; k++) {
        if (!fs[k])
            continue;
        bool ok = fflush(fs[k]) == 0 && fsync(fileno(fs[k])) == 0;
        ok = fclose(fs[k]) == 0 && ok;
        if (complete && ok && rename(tmp[k], path[k]) == 0)
            continue;
        if (complete)
            rc = -1;
        unlink(tmp[k]);
    }
    c->links = c->rejects = NULL;
    free(c->links_tmp);
    free(c->links_path);
    free(c->rej_tmp);
    free(c->rej_path);
    c->links_tmp = c->links_path = c->rej_tmp = c->rej_path = NULL;
    return rc;
}

/* ---- templates ---- */

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    char *tmp = store_path("%s.tmp-XXXXXX", to);
    int fd = tmp ? mkstemp(tmp) : -1;
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    char buf[65536];
    size_t n;
    bool ok = out != NULL;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in) && fflush(out) == 0 && fsync(fd) == 0;
    fclose(in);
    if (out)
        ok = fclose(out) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    if (ok)
        ok = chmod(tmp, 0644) == 0 && rename(tmp, to) == 0;
    if (!ok && tmp)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

static bool same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    char x[65536], y[65536];
    while (same) {
        la = fread(x, 1, sizeof x, fa);
        lb = fread(y, 1, sizeof y, fb);
        if (la != lb || memcmp(x, y, la) != 0)
            same = false;
        if (la == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* The files of one folder of recorded clips (clips/LOCALE: WAV files and clips.json)
 * copied into the store's copy when they differ, and the store's files the carrier no
 * longer has removed.  Symbolic links are not followed (the library refuses them). */
static int sync_clip_folder(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    int rc = d ? store_mkdirs(dst, 0755) : -1;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        struct stat sb;
        char *sf = store_path("%s/%s", src, e->d_name), *df = store_path("%s/%s", dst, e->d_name);
        if (!sf || !df)
            rc = -1;
        else if (e->d_name[0] != '.' && lstat(sf, &sb) == 0 && S_ISREG(sb.st_mode) &&
                 !same_file(sf, df))
            rc = copy_file(sf, df);
        free(sf);
        free(df);
    }
    if (d)
        closedir(d);
    d = rc == 0 ? opendir(dst) : NULL;
    while (d && rc == 0 && (e = readdir(d))) {
        struct stat sb;
        char *sf = store_path("%s/%s", src, e->d_name), *df = store_path("%s/%s", dst, e->d_name);
        if (!sf || !df)
            rc = -1;
        else if (e->d_name[0] != '.' && lstat(sf, &sb) != 0 && errno == ENOENT)
            rc = unlink(df);
        free(sf);
        free(df);
    }
    if (d)
        closedir(d);
    return rc;
}

/* A store's folder of clips the carrier's template no longer has: its files, then it. */
static int remove_clip_folder(const char *dir)
{
    DIR *d = opendir(dir);
    int rc = d ? 0 : -1;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        char *f = e->d_name[0] == '.' ? NULL : store_path("%s/%s", dir, e->d_name);
        if (f && unlink(f) != 0 && errno != ENOENT)
            rc = -1;
        free(f);
    }
    if (d)
        closedir(d);
    return rc == 0 ? rmdir(dir) : rc;
}

/* A template's clips/ folder (its recorded voice), per locale, mirrored into the store; the
 * store's removed when the carrier's template has none. */
static int sync_clips(const char *src, const char *dst)
{
    static const char *const locales[] = {"ko-KR", "ja-JP", "en-US"};
    char *sc = store_path("%s/clips", src), *dc = store_path("%s/clips", dst);
    struct stat sb;
    int rc = sc && dc ? 0 : -1;
    bool have = rc == 0 && lstat(sc, &sb) == 0;
    if (have && !S_ISDIR(sb.st_mode)) { /* a symbolic link (the library refuses it too) */
        errno = ELOOP;
        rc = -1;
    }
    for (size_t i = 0; i < sizeof locales / sizeof *locales && rc == 0; i++) {
        char *sd = store_path("%s/clips/%s", src, locales[i]);
        char *dd = store_path("%s/clips/%s", dst, locales[i]);
        if (!sd || !dd)
            rc = -1;
        else if (have && lstat(sd, &sb) == 0)
            rc = S_ISDIR(sb.st_mode) ? sync_clip_folder(sd, dd) : (errno = ELOOP, -1);
        else if (lstat(dd, &sb) == 0)
            rc = remove_clip_folder(dd);
        free(sd);
        free(dd);
    }
    if (rc == 0 && !have)
        (void)rmdir(dc); /* empty by now, or never made */
    free(sc);
    free(dc);
    return rc;
}

/* Copies a carrier's template folder (template.json and the base video it names, a plain
 * file name, narration.json and the recorded clips) into the store, when it differs. */
static int import_template(const char *src, const char *dst, char *err, size_t errlen)
{
    char *sj = store_path("%s/template.json", src), *dj = store_path("%s/template.json", dst);
    size_t len = 0;
    char *text = sj ? cli_read_file(sj, 1 << 20, &len) : NULL;
    cJSON *t = text ? cJSON_Parse(text) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "video");
    int rc = -1;
    if (!cJSON_IsString(v) || !*v->valuestring || strchr(v->valuestring, '/') ||
        v->valuestring[0] == '.') {
        snprintf(err, errlen, "%s: \"video\" must name a file in the template folder", sj);
        goto out;
    }
    char *sv = store_path("%s/%s", src, v->valuestring), *dv = store_path("%s/%s", dst,
                                                                          v->valuestring);
    /* narration.json: the voice of the template's personal windows, when the carrier has one */
    char *sn = store_path("%s/narration.json", src), *dn = store_path("%s/narration.json", dst);
    struct stat nst;
    bool narr = sn && stat(sn, &nst) == 0;
    if (store_mkdirs(dst, 0755) == 0 && sv && dv && sn && dn &&
        (same_file(sv, dv) || copy_file(sv, dv) == 0) &&
        (narr ? same_file(sn, dn) || copy_file(sn, dn) == 0 : unlink(dn) == 0 || errno == ENOENT) &&
        sync_clips(src, dst) == 0 && (same_file(sj, dj) || copy_file(sj, dj) == 0))
        rc = 0;
    else
        snprintf(err, errlen, "cannot copy the template %s into %s: %s", src, dst,
                 strerror(errno));
    free(sv);
    free(dv);
    free(sn);
    free(dn);
out:
    cJSON_Delete(t);
    free(text);
    free(sj);
    free(dj);
    return rc;
}

/* The prepared template for a bill, made ready once per process (and once per store: a file
 * lock keeps other shards from generating or preparing the same one at once). */
static tmpl_entry *template_for(batch *b, vbill_ctx *ctx, const vbill_bill *bill)
{
    const char *scenario = vbill_bill_scenario(bill), *locale = vbill_bill_locale(bill);
    char name[80], src[4096] = "";
    /* the built-in templates exist per locale (captions, voice and slot texts in its language) */
    snprintf(name, sizeof name, "%s.%s", scenario, locale);
    if (b->templates) {
        snprintf(name, sizeof name, "%s", scenario);
        struct stat st;
        snprintf(src, sizeof src, "%s/%s.%s", b->templates, scenario, locale);
        if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(name, sizeof name, "%s.%s", scenario, locale);
        else
            snprintf(src, sizeof src, "%s/%s", b->templates, scenario);
    }
    /* one entry per template: the first worker to need it makes it ready, the others wait
     * for that one (workers of other templates go on) */
    pthread_mutex_lock(&b->tmpl_lock);
    tmpl_entry *e;
    for (e = b->tmpls; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            break;
    if (e) {
        while (e->state == 0)
            pthread_cond_wait(&e->ready, &b->tmpl_lock);
        pthread_mutex_unlock(&b->tmpl_lock);
        return e;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&b->tmpl_lock);
        return NULL;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    pthread_cond_init(&e->ready, NULL);
    e->next = b->tmpls;
    b->tmpls = e;
    pthread_mutex_unlock(&b->tmpl_lock);
    int state = -1;
    char *dir = store_path("%s/%s/%s", b->store, STORE_TEMPLATES, name);
    char *lockp = store_path("%s/%s/.%s.lock", b->store, STORE_TEMPLATES, name);
    int lk = -1;
    if (!dir || !lockp || store_mkdirs(dir, 0755) != 0 ||
        (lk = open(lockp, O_RDWR | O_CREAT, 0644)) < 0 || flock(lk, LOCK_EX) != 0) {
        snprintf(e->error, sizeof e->error, "template %s: cannot use %s: %s", name,
                 dir ? dir : "the store", strerror(errno));
        goto out;
    }
    char *tj = store_path("%s/template.json", dir);
    struct stat st;
    bool have = tj && stat(tj, &st) == 0;
    free(tj);
    if (b->templates) {
        if (import_template(src, dir, e->error, sizeof e->error) != 0)
            goto out;
    } else if (!have) {
        vbill_status s = vbill_template_builtin_make(ctx, scenario, locale, NULL, dir);
        if (s) {
            snprintf(e->error, sizeof e->error, "built-in template %s: %s", name,
                     vbill_ctx_errmsg(ctx));
            goto out;
        }
    }
    /* a run killed while preparing left its temporary folder: no one else prepares now */
    char *prep = store_path("%s/.vbill-prepared", dir);
    DIR *pd = prep ? opendir(prep) : NULL;
    for (struct dirent *de; pd && (de = readdir(pd));) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        char *p = store_path("%s/%s", prep, de->d_name);
        if (p)
            store_rmtree(p);
        free(p);
    }
    if (pd)
        closedir(pd);
    free(prep);
    vbill_status s = vbill_template_open(ctx, dir, &e->t);
    if (s) {
        snprintf(e->error, sizeof e->error, "template %s: %s", name, vbill_ctx_errmsg(ctx));
        goto out;
    }
    if ((s = vbill_template_prepare(e->t))) {
        snprintf(e->error, sizeof e->error, "template %s: %s", name,
                 vbill_template_errmsg(e->t));
        goto out;
    }
    char *info = vbill_template_info(e->t);
    cJSON *j = info ? cJSON_Parse(info) : NULL;
    const cJSON *cache = cJSON_GetObjectItemCaseSensitive(j, "cache");
    const char *slash = cJSON_IsString(cache) ? strrchr(cache->valuestring, '/') : NULL;
    if (slash)
        snprintf(e->hash, sizeof e->hash, "%.16s", slash + 1);
    cJSON_Delete(j);
    vbill_free(info);
    e->shared = store_path("%ss/%s/normal", b->shared_prefix, e->hash);
    if (!slash || !e->shared) {
        snprintf(e->error, sizeof e->error, "template %s: no prepared cache", name);
        goto out;
    }
    state = 1;
out:
    if (lk >= 0)
        close(lk);
    free(dir);
    free(lockp);
    pthread_mutex_lock(&b->tmpl_lock);
    e->state = state;
    pthread_cond_broadcast(&e->ready);
    pthread_mutex_unlock(&b->tmpl_lock);
    return e;
}

/* ---- one bill ---- */

/* captions-slow.vtt: a senior's captions timed for the slow rendition, beside captions.vtt
 * (which vbill_render_hls writes at normal speed), when the template speaks. */
static vbill_status slow_captions(batch *b, vbill_ctx *ctx, const tmpl_entry *t,
                                  const vbill_bill *bill, const char *dir)
{
    char *tdir = store_path("%s/%s/%s", b->store, STORE_TEMPLATES, t->name);
    char *np = tdir ? store_path("%s/narration.json", tdir) : NULL;
    char *out = store_path("%s/captions-slow.vtt", dir);
    struct stat sb;
    char *script = NULL, *vtt = NULL;
    vbill_status st = !tdir || !np || !out ? VBILL_ERR_NOMEM : VBILL_OK;
    if (!st && stat(np, &sb) == 0) {
        st = vbill_narration(ctx, bill, tdir, &script);
        if (!st)
            st = vbill_narration_webvtt(ctx, script, vbill_bill_speed(bill), &vtt);
        if (!st && store_write_file(out, vtt, strlen(vtt), 0644) != 0)
            st = VBILL_ERR_IO;
    }
    vbill_free(script);
    vbill_free(vtt);
    free(tdir);
    free(np);
    free(out);
    return st;
}

typedef enum { R_DONE, R_FAILED, R_RETRY } result;

static bool retry_errno(int e) { return e == ENOSPC || e == EDQUOT || e == EIO || e == ENOMEM; }

/* Writes the link file and its line for links.jsonl. */
static char *link_line(const vbill_bill *bill, const char *url, const char *sms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", vbill_bill_id(bill));
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "sms", sms);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* The state file: what made the folder.  A folder whose state does not match what this run
 * would make is made again. */
static char *state_text(const batch *b, const char *hash, const tmpl_entry *t)
{
    return store_path("{\"record_sha256\":\"%s\",\"render\":\"%s\",\"mp4\":%s,\"template\":\"%s\"}",
                      hash, b->stored ? "stored" : "on-demand", b->mp4 ? "true" : "false",
                      t ? t->hash : "");
}

static result make_bill(batch *b, vbill_ctx *ctx, job *jb, char *why, size_t whylen,
                        char **link_out)
{
    const vbill_bill *bill = jb->bill;
    const cyc *c = &b->cycles[jb->cyc];
    char *cdir = store_path("%s/%s", b->store, c->name);
    char *tmp = store_path("%s/.tmp.%s", cdir, jb->dir);
    char *final = store_path("%s/%s", cdir, jb->dir);
    char *token = NULL, *url = NULL, *sms = NULL, *json = NULL, *line = NULL, *state = NULL;
    tmpl_entry *t = NULL;
    result r = R_FAILED;
    vbill_status st;
    if (!cdir || !tmp || !final) {
        snprintf(why, whylen, "out of memory");
        r = R_RETRY;
        goto out;
    }
    store_rmtree(tmp);
    if (store_mkdirs(tmp, 0755) != 0) {
        snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(errno));
        r = retry_errno(errno) ? R_RETRY : R_FAILED;
        goto out;
    }
    /* on demand too: the viewer renders from the store's prepared template */
    t = template_for(b, ctx, bill);
    if (!t || t->state != 1) {
        snprintf(why, whylen, "%s", t ? t->error : "out of memory");
        goto out;
    }
    /* the link and its SMS */
    if ((st = vbill_bill_to_json(ctx, bill, &json)) ||
        (st = vbill_link_issue(ctx, b->keys, bill, 0, b->ttl, &token))) {
        snprintf(why, whylen, "%s", vbill_ctx_errmsg(ctx));
        r = st == VBILL_ERR_NOMEM ? R_RETRY : R_FAILED;
        goto out;
    }
    size_t bl = strlen(b->base_url);
    url = store_path("%s%s%s", b->base_url, bl && b->base_url[bl - 1] == '/' ? "" : "/", token);
    if (!url || (st = vbill_message_build(ctx, bill, url, NULL, &sms))) {
        snprintf(why, whylen, "%s", url ? vbill_ctx_errmsg(ctx) : "out of memory");
        goto out;
    }
    line = link_line(bill, url, sms);
    char *p1 = store_path("%s/bill.json", tmp), *p2 = store_path("%s/link.json", tmp);
    int w = p1 && p2 && line && store_write_file(p1, json, strlen(json), 0644) == 0 &&
                    store_write_file(p2, line, strlen(line), 0600) == 0
                ? 0
                : -1;
    int werr = errno;
    free(p1);
    free(p2);
    if (w != 0) {
        snprintf(why, whylen, "cannot write into %s: %s", tmp, strerror(werr));
        r = retry_errno(werr) ? R_RETRY : R_FAILED;
        goto out;
    }
    /* the video at normal speed (the page slows it down with the pitch kept, on one
     * timeline for captions and chapters); a senior's slow MP4 besides, to download */
    if (b->stored) {
        /* windows whose texts another bill of the cycle already had are linked, not encoded */
        char *cache = b->no_segment_cache ? NULL : store_path("%s/_cache", cdir);
        st = vbill_ctx_set_segment_cache(ctx, cache);
        free(cache);
        if (!st)
            st = vbill_render_hls(ctx, t->t, bill, 1.0, tmp, t->shared);
        if (!st && b->mp4) {
            char *mp = store_path("%s/bill.mp4", tmp);
            st = mp ? vbill_render_mp4(ctx, t->t, bill, 1.0, mp) : VBILL_ERR_NOMEM;
            free(mp);
        }
        if (!st && b->mp4 && vbill_bill_senior(bill)) {
            char *mp = store_path("%s/bill-slow.mp4", tmp);
            st = mp ? vbill_render_mp4(ctx, t->t, bill, 0, mp) : VBILL_ERR_NOMEM;
            free(mp);
        }
        if (!st && vbill_bill_senior(bill))
            st = slow_captions(b, ctx, t, bill, tmp);
        if (st) {
            const char *m = vbill_ctx_errmsg(ctx);
            snprintf(why, whylen, "%s", m);
            /* a text that does not fit its box fails the bill: the template's box is too small
             * for the carrier's data, which the carrier fixes in the template */
            r = st == VBILL_ERR_NOMEM || (st == VBILL_ERR_IO && (strstr(m, "space") ||
                                                                strstr(m, "quota")))
                    ? R_RETRY
                    : R_FAILED;
            goto out;
        }
    }
    state = state_text(b, jb->hash, t);
    char *sp = store_path("%s/.state", tmp);
    w = sp && state ? store_write_file(sp, state, strlen(state), 0644) : -1;
    werr = errno;
    free(sp);
    if (w != 0) {
        snprintf(why, whylen, "cannot write into %s: %s", tmp, strerror(werr));
        r = retry_errno(werr) ? R_RETRY : R_FAILED;
        goto out;
    }
    store_sync_dir(tmp);
    /* into place: the old folder (a changed record's) goes aside, then away */
    char *old = store_path("%s/.old.%s", cdir, jb->dir);
    if (old) {
        store_rmtree(old);
        if (rename(final, old) != 0 && errno != ENOENT) {
            snprintf(why, whylen, "cannot replace %s: %s", final, strerror(errno));
            free(old);
            goto out;
        }
    }
    if (rename(tmp, final) != 0) {
        snprintf(why, whylen, "cannot rename %s: %s", tmp, strerror(errno));
        r = retry_errno(errno) ? R_RETRY : R_FAILED;
        free(old);
        goto out;
    }
    store_sync_dir(cdir);
    if (old)
        store_rmtree(old);
    free(old);
    *link_out = line;
    line = NULL;
    r = R_DONE;
out:
    if (r != R_DONE && tmp)
        store_rmtree(tmp);
    vbill_free(token);
    vbill_free(sms);
    vbill_free(json);
    free(url);
    free(line);
    free(state);
    free(cdir);
    free(tmp);
    free(final);
    return r;
}

/* bill.generated, once the files are in place (at least once: a run killed before the mark
 * announces it again). */
static void announce(batch *b, vbill_ctx *ctx, const vbill_bill *bill, const char *dir,
                     const char *link_json)
{
    if (!b->hooks)
        return;
    char *mark = store_path("%s/.announced", dir);
    struct stat st;
    if (!mark || stat(mark, &st) == 0) {
        free(mark);
        return;
    }
    cJSON *l = cJSON_Parse(link_json);
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(l, "url");
    char *extra = store_path("{\"render\":\"%s\",\"mp4\":%s}", b->stored ? "stored" : "on-demand",
                             b->mp4 ? "true" : "false");
    char *data = NULL, *id = NULL;
    vbill_status s = vbill_hooks_event_data(ctx, bill, cJSON_IsString(url) ? url->valuestring
                                                                           : NULL, extra, &data);
    if (!s) {
        pthread_mutex_lock(&b->hooks_lock);
        s = vbill_hooks_emit(b->hooks, "bill.generated", vbill_bill_id(bill), data, &id);
        if (s)
            fprintf(stderr, "vbill: bill %s: bill.generated not queued: %s\n",
                    vbill_bill_id(bill), vbill_hooks_errmsg(b->hooks));
        pthread_mutex_unlock(&b->hooks_lock);
    } else {
        fprintf(stderr, "vbill: bill %s: %s\n", vbill_bill_id(bill), vbill_ctx_errmsg(ctx));
    }
    if (!s)
        store_write_file(mark, id, strlen(id), 0644);
    vbill_free(id);
    vbill_free(data);
    free(extra);
    free(mark);
    cJSON_Delete(l);
}

/* ---- counting, journal, progress ---- */

static void journal(batch *b, long line, const char *id, const char *cycle, const char *state,
                    const char *hash)
{
    if (!b->journal)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", (double)line);
    if (id)
        cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "cycle", cycle);
    cJSON_AddStringToObject(o, "state", state);
    if (hash)
        cJSON_AddStringToObject(o, "record_sha256", hash);
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        fprintf(b->journal, "%s\n", s);
    free(s);
    cJSON_Delete(o);
}

/* Counts an outcome (b->lock held). */
static void count(batch *b, int ci, result r)
{
    cyc *c = &b->cycles[ci];
    if (r == R_DONE)
        c->done++;
    else if (r == R_FAILED)
        c->failed++;
}

static char *progress_json(batch *b, const char *state)
{
    cJSON *o = cJSON_CreateObject(), *cs = cJSON_CreateObject();
    long done = 0, total = 0, rej = 0, fail = 0, nt = 0;
    for (int i = 0; i < b->ncycles; i++) {
        const cyc *c = &b->cycles[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "total", (double)c->total);
        cJSON_AddNumberToObject(x, "done", (double)c->done);
        cJSON_AddNumberToObject(x, "rejected", (double)c->rejected);
        cJSON_AddNumberToObject(x, "failed", (double)c->failed);
        cJSON_AddNumberToObject(x, "not_target", (double)c->not_target);
        cJSON_AddItemToObject(cs, c->name, x);
        done += c->done, total += c->total, rej += c->rejected, fail += c->failed;
        nt += c->not_target;
    }
    double el = now_s() - b->started, cpu = cpu_s();
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddNumberToObject(o, "shard", b->shard);
    cJSON_AddNumberToObject(o, "shards", b->shards);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddNumberToObject(o, "updated", (double)time(NULL));
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "done", (double)done);
    cJSON_AddNumberToObject(o, "rejected", (double)rej);
    cJSON_AddNumberToObject(o, "failed", (double)fail);
    cJSON_AddNumberToObject(o, "not_target", (double)nt);
    cJSON_AddNumberToObject(o, "made", (double)b->made);
    cJSON_AddNumberToObject(o, "elapsed_s", (double)(long)(el * 10) / 10);
    cJSON_AddNumberToObject(o, "rate", el > 0 ? (double)(long)((done + rej + fail + nt) / el * 10) / 10 : 0);
    cJSON_AddNumberToObject(o, "cpu_s_per_bill", b->made ? (double)(long)(cpu / (double)b->made * 1000) / 1000 : 0);
    if (b->stored && !b->no_segment_cache) {
        cJSON *sc = cJSON_AddObjectToObject(o, "segment_cache");
        cJSON_AddNumberToObject(sc, "hits", (double)b->seg_hits);
        cJSON_AddNumberToObject(sc, "misses", (double)b->seg_misses);
    }
    cJSON_AddItemToObject(o, "cycles", cs);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void progress(batch *b, const char *state, bool final)
{
    pthread_mutex_lock(&b->lock);
    char *s = progress_json(b, state);
    long done = 0, total = 0, rej = 0, fail = 0, nt = 0;
    for (int i = 0; i < b->ncycles; i++) {
        done += b->cycles[i].done, total += b->cycles[i].total;
        rej += b->cycles[i].rejected, fail += b->cycles[i].failed;
        nt += b->cycles[i].not_target;
    }
    long est = b->seen_total > total ? b->seen_total : total;
    pthread_mutex_unlock(&b->lock);
    if (!s)
        return;
    char *p = store_path("%s/%s/progress-%d-of-%d.json", b->store, STORE_BATCH, b->shard,
                         b->shards);
    if (p)
        store_write_file(p, s, strlen(s), 0644);
    free(p);
    if (b->progress == 2) {
        fprintf(stderr, "%s\n", s);
    } else if (b->progress == 1) {
        long handled = done + rej + fail + nt;
        double el = now_s() - b->started, rate = el > 0 ? handled / el : 0;
        double frac = est > 0 ? (double)handled / (double)est : 0;
        int width = 30, filled = (int)(frac * width);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[width] = '\0';
        long eta = rate > 0 ? (long)((double)(est - handled) / rate) : 0;
        fprintf(stderr, "\r[%s] %ld/%ld %5.1f%% %6.1f/s ETA %ldm%02lds rejected %ld failed %ld%s",
                bar, handled, est, frac * 100, rate, eta / 60, eta % 60, rej, fail,
                final ? "\n" : "");
    }
    free(s);
}

/* ---- the workers ---- */

static void *worker(void *arg)
{
    batch *b = arg;
    vbill_ctx *ctx = cli_ctx();
    uint64_t hits0 = 0, misses0 = 0;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        while (!b->head && !b->closing)
            pthread_cond_wait(&b->has_work, &b->lock);
        job *j = b->head;
        if (!j) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        b->head = j->next;
        if (!b->head)
            b->tail = NULL;
        b->queued--;
        bool skip = b->retry_later;
        pthread_cond_signal(&b->has_room);
        pthread_mutex_unlock(&b->lock);
        char why[1024] = "";
        char *link = NULL;
        result r = skip ? R_RETRY : make_bill(b, ctx, j, why, sizeof why, &link);
        const cyc *c = &b->cycles[j->cyc];
        uint64_t hits, misses;
        vbill_ctx_segment_cache_stats(ctx, &hits, &misses);
        if (r == R_DONE) {
            char *dir = store_path("%s/%s/%s", b->store, c->name, j->dir);
            if (dir)
                announce(b, ctx, j->bill, dir, link);
            free(dir);
        }
        pthread_mutex_lock(&b->lock);
        b->seg_hits += hits - hits0, b->seg_misses += misses - misses0;
        hits0 = hits, misses0 = misses;
        if (r == R_RETRY) {
            if (!b->retry_later && !skip) {
                b->retry_later = true;
                snprintf(b->retry_why, sizeof b->retry_why, "%s", why);
            }
        } else {
            count(b, j->cyc, r);
            if (r == R_DONE) {
                b->made++;
                fprintf(b->cycles[j->cyc].links, "%s\n", link);
            } else {
                fprintf(stderr, "vbill: line %ld: bill %s failed: %s\n", j->line,
                        vbill_bill_id(j->bill), why);
            }
            journal(b, j->line, vbill_bill_id(j->bill), c->name, r == R_DONE ? "done" : "failed",
                    j->hash);
        }
        pthread_mutex_unlock(&b->lock);
        free(link);
        vbill_bill_free(j->bill);
        free(j);
    }
    vbill_ctx_free(ctx);
    return NULL;
}

static void enqueue(batch *b, job *j)
{
    pthread_mutex_lock(&b->lock);
    while (b->queued >= b->capacity) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&b->has_room, &b->lock, &ts);
        if (b->queued >= b->capacity && now_s() - b->last_progress >= b->interval) {
            b->last_progress = now_s();
            pthread_mutex_unlock(&b->lock);
            progress(b, "running", false);
            pthread_mutex_lock(&b->lock);
        }
    }
    j->next = NULL;
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    b->queued++;
    pthread_cond_signal(&b->has_work);
    pthread_mutex_unlock(&b->lock);
}

/* ---- the reader ---- */

static long read_line(FILE *in, char *buf, bool *too_long)
{
    *too_long = false;
    if (!fgets(buf, MAX_LINE + 2, in))
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    } else if (n > MAX_LINE) {
        int c;
        while ((c = getc_unlocked(in)) != EOF && c != '\n')
            ;
        *too_long = true;
        return 0;
    }
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return (long)n;
}

/* The id and cycle of a record that makes no bill, as far as they can be read. */
static void rejected_keys(const char *line, char *id, size_t idlen, char *cycle)
{
    id[0] = '\0';
    snprintf(cycle, 8, "unknown");
    cJSON *j = cJSON_Parse(line);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "id");
    char dir[80];
    if (cJSON_IsString(v) && store_bill_dirname(v->valuestring, dir, sizeof dir))
        snprintf(id, idlen, "%s", v->valuestring);
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "bill"),
                                                       "cycle_start");
    if (cJSON_IsString(cs) && strlen(cs->valuestring) == 10) {
        char c[8];
        snprintf(c, sizeof c, "%.7s", cs->valuestring);
        if (store_valid_cycle(c))
            snprintf(cycle, 8, "%s", c);
    }
    cJSON_Delete(j);
}

/* The record is done already: the folder's state says so and its link is there. */
static char *already_done(batch *b, const char *cycle, const char *dir, const char *hash)
{
    char *sp = store_path("%s/%s/%s/.state", b->store, cycle, dir);
    char *lp = store_path("%s/%s/%s/link.json", b->store, cycle, dir);
    char *state = NULL, *link = NULL;
    FILE *f = sp ? fopen(sp, "rb") : NULL;
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    if (n > 0) {
        cJSON *s = cJSON_Parse(buf);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(s, "record_sha256");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "render");
        bool mp4 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "mp4"));
        /* the same record, made in a mode that holds at least what is asked now */
        if (cJSON_IsString(h) && strcmp(h->valuestring, hash) == 0 && cJSON_IsString(r) &&
            (!b->stored || strcmp(r->valuestring, "stored") == 0) && (!b->mp4 || mp4))
            state = buf;
        cJSON_Delete(s);
    }
    if (state && lp) {
        FILE *l = fopen(lp, "rb");
        if (l) {
            char lb[8192];
            size_t m = fread(lb, 1, sizeof lb - 1, l);
            fclose(l);
            lb[m] = '\0';
            if (m > 0)
                link = strdup(lb);
        }
    }
    free(sp);
    free(lp);
    return link;
}

static int run_batch(batch *b)
{
    FILE *in = strcmp(b->input, "-") == 0 ? stdin : fopen(b->input, "rb");
    if (!in)
        return cli_fail(EXIT_USAGE, "cannot open %s: %s", b->input, strerror(errno));
    /* a first pass counts the lines, for the progress's estimate */
    if (in != stdin) {
        long lines = 0;
        char chunk[1 << 16];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
            for (size_t i = 0; i < n; i++)
                lines += chunk[i] == '\n';
        rewind(in);
        b->seen_total = lines / b->shards;
    }
    vbill_ctx *ctx = cli_ctx();
    if (b->rules && vbill_ctx_load_rules(ctx, b->rules) != VBILL_OK) {
        int rc = cli_fail(EXIT_USAGE, "%s", vbill_ctx_errmsg(ctx));
        vbill_ctx_free(ctx);
        if (in != stdin)
            fclose(in);
        return rc;
    }
    pthread_t *th = calloc((size_t)b->jobs, sizeof *th);
    for (int i = 0; th && i < b->jobs; i++)
        pthread_create(&th[i], NULL, worker, b);
    char *buf = malloc(MAX_LINE + 2);
    long lineno = 0;
    b->last_progress = now_s();
    bool read_error = false;
    while (buf && !stop_signal) {
        bool too_long;
        long n = read_line(in, buf, &too_long);
        if (n < 0) {
            read_error = ferror(in) != 0;
            break;
        }
        lineno++;
        if (!too_long && strspn(buf, " \t") == (size_t)n)
            continue;
        pthread_mutex_lock(&b->lock);
        bool stopping = b->retry_later;
        pthread_mutex_unlock(&b->lock);
        if (stopping)
            break;
        vbill_bill *bill = NULL;
        char hash[65], id[80], cycle[8], dir[80];
        vbill_status st = too_long ? VBILL_ERR_RECORD
                                   : vbill_bill_new(ctx, buf, (size_t)n, lineno, &bill);
        if (st) {
            char why[1024];
            if (too_long) {
                snprintf(why, sizeof why, "record at line %ld: (record): longer than %u bytes",
                         lineno, MAX_LINE);
                id[0] = '\0';
                snprintf(cycle, sizeof cycle, "unknown");
            } else {
                snprintf(why, sizeof why, "%s", vbill_ctx_errmsg(ctx));
                rejected_keys(buf, id, sizeof id, cycle);
            }
            char key[32];
            snprintf(key, sizeof key, "line %ld", lineno);
            bool mine = shard_of(id[0] ? id : key, b->shards) == b->shard;
            pthread_mutex_lock(&b->lock);
            int ci = cycle_index(b, cycle);
            if (ci >= 0 && cycle_open(b, ci) == 0) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "line", (double)lineno);
                if (id[0])
                    cJSON_AddStringToObject(o, "id", id);
                else
                    cJSON_AddNullToObject(o, "id");
                cJSON_AddStringToObject(o, "error", why);
                char *s = cJSON_PrintUnformatted(o);
                if (s) /* every shard writes the cycle's whole list: it is the same */
                    fprintf(b->cycles[ci].rejects, "%s\n", s);
                free(s);
                cJSON_Delete(o);
                if (mine) {
                    b->cycles[ci].total++;
                    b->cycles[ci].rejected++;
                    journal(b, lineno, id[0] ? id : NULL, cycle, "rejected", NULL);
                    fprintf(stderr, "vbill: line %ld: %s\n", lineno, why);
                }
            }
            pthread_mutex_unlock(&b->lock);
            continue;
        }
        sha256_hex(buf, (size_t)n, hash);
        snprintf(cycle, sizeof cycle, "%s", vbill_bill_cycle(bill));
        store_bill_dirname(vbill_bill_id(bill), dir, sizeof dir);
        bool mine = shard_of(vbill_bill_id(bill), b->shards) == b->shard;
        if (!idset_add(&b->seen, fnv64(cycle, vbill_bill_id(bill)))) {
            /* the same subscriber twice in one cycle: the first record makes the bill; every
             * shard lists the duplicate (rejected.jsonl is the same from each), its own counts */
            pthread_mutex_lock(&b->lock);
            int ci = cycle_index(b, cycle);
            if (ci >= 0 && cycle_open(b, ci) == 0) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "line", (double)lineno);
                cJSON_AddStringToObject(o, "id", vbill_bill_id(bill));
                cJSON_AddStringToObject(o, "error", "id: the same subscriber and cycle as an "
                                                    "earlier record (duplicate)");
                char *js = cJSON_PrintUnformatted(o);
                if (js)
                    fprintf(b->cycles[ci].rejects, "%s\n", js);
                free(js);
                cJSON_Delete(o);
                if (mine) {
                    b->cycles[ci].total++;
                    b->cycles[ci].rejected++;
                    journal(b, lineno, vbill_bill_id(bill), cycle, "rejected", hash);
                    fprintf(stderr, "vbill: line %ld: record '%s': id: a duplicate of an earlier "
                                    "record of cycle %s\n", lineno, vbill_bill_id(bill), cycle);
                }
            }
            pthread_mutex_unlock(&b->lock);
            vbill_bill_free(bill);
            continue;
        }
        if (!mine) {
            vbill_bill_free(bill);
            continue;
        }
        pthread_mutex_lock(&b->lock);
        int ci = cycle_index(b, cycle);
        bool ok = ci >= 0 && cycle_open(b, ci) == 0;
        if (ok)
            b->cycles[ci].total++;
        if (ok && !vbill_bill_scenario(bill)) {
            b->cycles[ci].not_target++;
            journal(b, lineno, vbill_bill_id(bill), cycle, "not_target", hash);
        }
        pthread_mutex_unlock(&b->lock);
        if (!ok) {
            pthread_mutex_lock(&b->lock);
            b->retry_later = true;
            snprintf(b->retry_why, sizeof b->retry_why, "cannot write the cycle files of %s: %s",
                     cycle, strerror(errno));
            pthread_mutex_unlock(&b->lock);
            vbill_bill_free(bill);
            break;
        }
        if (!vbill_bill_scenario(bill)) {
            vbill_bill_free(bill);
            continue;
        }
        char *link = already_done(b, cycle, dir, hash);
        if (link) {
            char *bdir = store_path("%s/%s/%s", b->store, cycle, dir);
            if (bdir)
                announce(b, ctx, bill, bdir, link);
            free(bdir);
            pthread_mutex_lock(&b->lock);
            b->cycles[ci].done++;
            fprintf(b->cycles[ci].links, "%s%s", link,
                    link[strlen(link) - 1] == '\n' ? "" : "\n");
            journal(b, lineno, vbill_bill_id(bill), cycle, "done", hash);
            pthread_mutex_unlock(&b->lock);
            free(link);
            vbill_bill_free(bill);
        } else {
            job *j = calloc(1, sizeof *j);
            if (!j) {
                vbill_bill_free(bill);
                break;
            }
            j->bill = bill;
            j->line = lineno;
            j->cyc = ci;
            memcpy(j->hash, hash, sizeof hash);
            snprintf(j->dir, sizeof j->dir, "%s", dir);
            enqueue(b, j);
        }
        if (now_s() - b->last_progress >= b->interval) {
            b->last_progress = now_s();
            progress(b, "running", false);
        }
    }
    free(buf);
    pthread_mutex_lock(&b->lock);
    b->closing = true;
    pthread_cond_broadcast(&b->has_work);
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; th && i < b->jobs; i++)
        pthread_join(th[i], NULL);
    free(th);
    if (in != stdin)
        fclose(in);
    vbill_ctx_free(ctx);
    if (read_error)
        return cli_fail(EXIT_USAGE, "cannot read %s: %s", b->input, strerror(errno));
    if (stop_signal && !b->retry_later) {
        b->retry_later = true;
        snprintf(b->retry_why, sizeof b->retry_why, "stopped by signal %d",
                 (int)stop_signal);
    }
    return -1;
}

/* ---- status ---- */

static int batch_status(const char *store)
{
    char *dir = store_path("%s/%s", store, STORE_BATCH);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        int rc = cli_fail(EXIT_USAGE, "%s: no batch has run in this store (%s)", store,
                          strerror(errno));
        free(dir);
        return rc;
    }
    /* the newest shard count wins: a store re-sharded keeps the old files aside */
    cJSON *files = cJSON_CreateArray();
    double newest = 0;
    int shards = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "progress-", 9) != 0 || !strstr(e->d_name, ".json"))
            continue;
        char *p = store_path("%s/%s", dir, e->d_name);
        char *text = p ? cli_read_file(p, 1 << 20, NULL) : NULL;
        cJSON *j = text ? cJSON_Parse(text) : NULL;
        free(text);
        free(p);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            continue;
        }
        double up = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "updated"));
        if (up > newest) {
            newest = up;
            shards = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "shards"));
        }
        cJSON_AddItemToArray(files, j);
    }
    closedir(d);
    free(dir);
    cJSON *out = cJSON_CreateObject(), *cycles = cJSON_CreateObject(), *sh = cJSON_CreateArray();
    static const char *const keys[] = {"total", "done", "rejected", "failed", "not_target"};
    const cJSON *f;
    bool all_done = true;
    int seen = 0;
    cJSON_ArrayForEach(f, files)
    {
        if ((int)cJSON_GetNumberValue(cJSON_GetObjectItem(f, "shards")) != shards)
            continue;
        seen++;
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(f, "state"));
        all_done = all_done && state && strcmp(state, "done") == 0;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "shard", cJSON_GetNumberValue(cJSON_GetObjectItem(f, "shard")));
        cJSON_AddStringToObject(s, "state", state ? state : "?");
        cJSON_AddNumberToObject(s, "done", cJSON_GetNumberValue(cJSON_GetObjectItem(f, "done")));
        cJSON_AddNumberToObject(s, "cpu_s_per_bill",
                                cJSON_GetNumberValue(cJSON_GetObjectItem(f, "cpu_s_per_bill")));
        cJSON_AddItemToArray(sh, s);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(f, "cycles"))
        {
            cJSON *sum = cJSON_GetObjectItem(cycles, c->string);
            if (!sum) {
                sum = cJSON_AddObjectToObject(cycles, c->string);
                for (size_t k = 0; k < 5; k++)
                    cJSON_AddNumberToObject(sum, keys[k], 0);
            }
            for (size_t k = 0; k < 5; k++) {
                cJSON *t = cJSON_GetObjectItem(sum, keys[k]);
                cJSON_SetNumberValue(t, t->valuedouble +
                                            cJSON_GetNumberValue(cJSON_GetObjectItem(c, keys[k])));
            }
        }
    }
    cJSON_AddNumberToObject(out, "shards", shards);
    cJSON_AddNumberToObject(out, "shards_reporting", seen);
    cJSON_AddBoolToObject(out, "complete", all_done && seen == shards && shards > 0);
    cJSON_AddItemToObject(out, "cycles", cycles);
    cJSON_AddItemToObject(out, "shard_states", sh);
    char *s = cJSON_Print(out);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(out);
    cJSON_Delete(files);
    return EXIT_OK;
}

/* ---- the command ---- */

static int resolve_shard(batch *b, const char *shard, const char *count)
{
    long i = 0, n = 1;
    if (shard) {
        char *slash = strchr(shard, '/');
        char a[32];
        snprintf(a, sizeof a, "%.*s", slash ? (int)(slash - shard) : 0, shard);
        if (!slash || !parse_int(a, 0, 100000, &i) || !parse_int(slash + 1, 1, 100000, &n) ||
            i >= n)
            return cli_fail(EXIT_USAGE, "--shard: expected I/N with 0 <= I < N, got %s", shard);
    } else if (getenv("SLURM_ARRAY_TASK_ID") && getenv("SLURM_ARRAY_TASK_COUNT")) {
        long id, min = 0;
        if (!parse_int(getenv("SLURM_ARRAY_TASK_ID"), 0, 10000000, &id) ||
            (getenv("SLURM_ARRAY_TASK_MIN") &&
             !parse_int(getenv("SLURM_ARRAY_TASK_MIN"), 0, 10000000, &min)) ||
            !parse_int(getenv("SLURM_ARRAY_TASK_COUNT"), 1, 100000, &n) || id - min < 0 ||
            id - min >= n)
            return cli_fail(EXIT_USAGE, "the Slurm array variables do not give a shard "
                                        "(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN must be "
                                        "below SLURM_ARRAY_TASK_COUNT; array steps are not "
                                        "supported)");
        i = id - min;
    } else if (getenv("JOB_COMPLETION_INDEX")) {
        const char *c = count ? count : getenv("VBILL_SHARD_COUNT");
        if (!parse_int(getenv("JOB_COMPLETION_INDEX"), 0, 100000, &i) || !c ||
            !parse_int(c, 1, 100000, &n) || i >= n)
            return cli_fail(EXIT_USAGE, "JOB_COMPLETION_INDEX needs the shard count: "
                                        "--shard-count N or VBILL_SHARD_COUNT (the Job's "
                                        "completions), with the index below it");
    }
    b->shard = (int)i;
    b->shards = (int)n;
    return -1;
}

int cmd_batch(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "status") == 0) {
        const char *store = NULL;
        for (int i = 2; i < argc; i++) {
            bool missing = false;
            const char *v;
            if (cli_is_help(argv[i])) {
                fputs(USAGE, stdout);
                return EXIT_OK;
            } else if ((v = cli_opt(argc, argv, &i, "--store", &missing))) {
                store = v;
            } else {
                return cli_fail(EXIT_USAGE, "batch status: unexpected %s (see --help)", argv[i]);
            }
        }
        if (!store)
            return cli_fail(EXIT_USAGE, "batch status: --store DIR is needed");
        return batch_status(store);
    }
    batch B;
    memset(&B, 0, sizeof B);
    batch *b = &B;
    const char *render = "stored", *ttl = "30d", *shard = NULL, *count = NULL, *jobs = NULL;
    const char *prog = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        struct {
            const char *name;
            const char **dst;
        } opts[] = {
            {"--store", &b->store},       {"--templates", &b->templates},
            {"--render", &render},        {"--base-url", &b->base_url},
            {"--key-file", &b->key_file}, {"--pepper-file", &b->pepper_file}, {"--ttl", &ttl},
            {"--rules", &b->rules},       {"--shard", &shard},
            {"--shard-count", &count},    {"--jobs", &jobs},
            {"--hooks", &b->hooks_file},  {"--state", &b->state},
            {"--progress", &prog},
        };
        if (cli_is_help(argv[i])) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--mp4") == 0) {
            b->mp4 = true;
            continue;
        }
        if (strcmp(argv[i], "--no-segment-cache") == 0) {
            b->no_segment_cache = true;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched && !missing; k++)
            if ((v = cli_opt(argc, argv, &i, opts[k].name, &missing))) {
                *opts[k].dst = v;
                matched = true;
            }
        if (matched)
            continue;
        if (missing)
            return cli_fail(EXIT_USAGE, "%s needs a value (see --help)", argv[i]);
        if (argv[i][0] == '-' && argv[i][1])
            return cli_fail(EXIT_USAGE, "batch: unknown option %s (see --help)", argv[i]);
        if (b->input)
            return cli_fail(EXIT_USAGE, "batch: one records file only (got %s)", argv[i]);
        b->input = argv[i];
    }
    if (!b->input || !b->store)
        return cli_fail(EXIT_USAGE, "batch: RECORDS.jsonl and --store DIR are needed (see "
                                    "--help)");
    if (strcmp(render, "stored") != 0 && strcmp(render, "on-demand") != 0)
        return cli_fail(EXIT_USAGE, "--render: stored or on-demand, not %s", render);
    b->stored = strcmp(render, "stored") == 0;
    if (b->mp4 && !b->stored)
        return cli_fail(EXIT_USAGE, "--mp4 needs --render stored");
    if (!parse_ttl(ttl, &b->ttl))
        return cli_fail(EXIT_USAGE, "--ttl: expected a lifetime like 30d, 12h, 90m, got %s",
                        ttl);
    int rc = resolve_shard(b, shard, count);
    if (rc >= 0)
        return rc;
    long nj = sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs && !parse_int(jobs, 1, 256, &nj))
        return cli_fail(EXIT_USAGE, "--jobs: a number from 1 to 256, not %s", jobs);
    b->jobs = nj > 0 ? (int)nj : 1;
    b->capacity = 2 * b->jobs;
    if (!b->base_url)
        b->base_url = getenv("VBILL_BASE_URL");
    if (!b->base_url || !*b->base_url)
        b->base_url = "/v/";
    if (!b->key_file)
        b->key_file = getenv("VBILL_KEY_FILE");
    if (!b->key_file || !*b->key_file)
        return cli_fail(EXIT_USAGE, "no key file: use --key-file FILE or set VBILL_KEY_FILE "
                                    "(make one with `vbill keygen`)");
    bool tty = isatty(STDERR_FILENO);
    b->progress = prog ? (strcmp(prog, "bar") == 0 ? 1 : strcmp(prog, "json") == 0 ? 2 : 0)
                       : (tty ? 1 : 2);
    if (prog && b->progress == 0 && strcmp(prog, "none") != 0)
        return cli_fail(EXIT_USAGE, "--progress: bar, json or none");
    const char *iv = getenv("VBILL_PROGRESS_INTERVAL");
    b->interval = iv && atof(iv) > 0 ? atof(iv) : (b->progress == 1 ? 0.5 : 5.0);
    if (b->templates) {
        struct stat st;
        if (stat(b->templates, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_fail(EXIT_USAGE, "--templates: %s is not a folder", b->templates);
    }

    /* the store and this shard's lock */
    char *bdir = store_path("%s/%s", b->store, STORE_BATCH);
    char *lockp = store_path("%s/shard-%d-of-%d.lock", bdir ? bdir : "", b->shard, b->shards);
    if (!bdir || !lockp || store_mkdirs(bdir, 0755) != 0) {
        rc = cli_fail(retry_errno(errno) ? EXIT_RETRY_LATER : EXIT_USAGE, "cannot use the store %s: %s",
                      b->store, strerror(errno));
        free(bdir);
        free(lockp);
        return rc;
    }
    int lk = open(lockp, O_RDWR | O_CREAT, 0644);
    if (lk < 0 || flock(lk, LOCK_EX | LOCK_NB) != 0) {
        rc = cli_fail(EXIT_RETRY_LATER, "shard %d/%d of %s is being made by another process: try "
                                  "again later", b->shard, b->shards, b->store);
        if (lk >= 0)
            close(lk);
        free(bdir);
        free(lockp);
        return rc;
    }
    char *jp = store_path("%s/journal-%d-of-%d.jsonl", bdir, b->shard, b->shards);
    b->journal = jp ? fopen(jp, "a") : NULL;
    free(jp);
    free(bdir);
    free(lockp);

    vbill_ctx *ctx = cli_ctx();
    rc = EXIT_OK;
    if (!(b->keys = cli_keys(ctx, b->key_file, b->pepper_file))) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (b->hooks_file) {
        char *cfg = cli_read_file(b->hooks_file, 1 << 20, NULL);
        char *state = b->state ? strdup(b->state)
                      : getenv("VBILL_STATE_DIR") ? strdup(getenv("VBILL_STATE_DIR"))
                                                  : store_path("%s/%s/outbox", b->store,
                                                               STORE_BATCH);
        vbill_status st = cfg && state && store_mkdirs(state, 0700) == 0
                              ? vbill_hooks_open(ctx, state, cfg, &b->hooks)
                              : VBILL_ERR_IO;
        free(cfg);
        free(state);
        if (st || vbill_hooks_start(b->hooks) != VBILL_OK) {
            rc = cli_fail(EXIT_USAGE, "--hooks: %s", st ? vbill_ctx_errmsg(ctx)
                                                        : vbill_hooks_errmsg(b->hooks));
            goto done;
        }
    }
    b->shared_prefix = store_shared_prefix(b->base_url);
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->tmpl_lock, NULL);
    pthread_mutex_init(&b->hooks_lock, NULL);
    pthread_cond_init(&b->has_work, NULL);
    pthread_cond_init(&b->has_room, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    b->started = now_s();
    if (b->journal)
        fprintf(b->journal, "{\"run\":\"started\",\"pid\":%ld,\"time\":%ld,\"shard\":\"%d/%d\"}\n",
                (long)getpid(), (long)time(NULL), b->shard, b->shards);
    rc = run_batch(b);
    bool complete = rc < 0 && !b->retry_later;
    for (int i = 0; i < b->ncycles; i++)
        if (cycle_finish(&b->cycles[i], complete) != 0 && complete) {
            b->retry_later = true;
            snprintf(b->retry_why, sizeof b->retry_why, "cannot write the links of %s: %s",
                     b->cycles[i].name, strerror(errno));
            complete = false;
        }
    progress(b, complete ? "done" : "interrupted", true);
    if (b->journal) {
        fflush(b->journal);
        fsync(fileno(b->journal));
    }
    if (rc >= 0)
        goto done;
    long rej = 0, fail = 0;
    for (int i = 0; i < b->ncycles; i++)
        rej += b->cycles[i].rejected, fail += b->cycles[i].failed;
    if (b->retry_later)
        rc = cli_fail(EXIT_RETRY_LATER, "stopped, retry later: %s", b->retry_why);
    else if (fail)
        rc = cli_fail(EXIT_FAIL, "%ld bill(s) failed (see above)", fail);
    else
        rc = rej ? EXIT_REJECTED : EXIT_OK;
done:
    if (b->hooks) {
        if (vbill_hooks_stop(b->hooks) != VBILL_OK)
            fprintf(stderr, "vbill: %s\n", vbill_hooks_errmsg(b->hooks));
        vbill_hooks_free(b->hooks);
    }
    for (tmpl_entry *e = b->tmpls, *n; e; e = n) {
        n = e->next;
        vbill_template_free(e->t);
        free(e->shared);
        pthread_cond_destroy(&e->ready);
        free(e);
    }
    free(b->shared_prefix);
    free(b->seen.slot);
    vbill_keys_free(b->keys);
    vbill_ctx_free(ctx);
    if (b->journal)
        fclose(b->journal);
    close(lk);
    return rc;
}
