/*
 * ondemand.c: what the viewer renders itself.  The templates of the store (opened once, shared
 * by the threads), the shared segments' folders, a bill's playlist, and its personal
 * segments rendered on demand by a bounded pool of workers: requests for a segment under way
 * wait for that one render (their connections are suspended, then resumed), the result is
 * kept in the bill's folder, and the first request of a bill's playlist queues the bill's
 * segments in play order so that the first window is ready before playback reaches it (not
 * the check: a page in overlay mode plays the template's shared rendition, and a bill only
 * watched that way is never rendered).
 */
#include "config.h"
#include "serve.h"
#include "../cli/cli.h"
#include "../cli/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct tmpl {
    char name[80];
    vbill_template *t;
    char hash[20];
    cJSON *info;
    struct tmpl *next;
} tmpl;

typedef struct waiter {
    struct MHD_Connection *c;
    request *q;
} waiter;

typedef struct render_job {
    char *out;                /* the segment file: STORE/<cycle>/<dir>/pNNNNN.ts */
    char *bill_path;
    int segment;
    bool running;
    waiter *w;
    int nw, capw;
    struct render_job *next;  /* in the queue */
    struct render_job *mnext; /* in the list of jobs under way or queued */
} render_job;

typedef struct ondemand {
    server *s;
    pthread_mutex_t lock;     /* templates, jobs, queue */
    pthread_cond_t work;
    tmpl *tmpls;
    render_job *head, *tail, *all;
    int queued, max_queued;
    bool stop;
    pthread_t *th;
    int nth;
    /* the shared segments' folders by template hash */
    cJSON *shared;            /* {"hash16": "/path/.vbill-prepared/hash"} */
    time_t scanned;
} ondemand;

/* ---- templates ---- */

static const char *info_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The store's template for a bill: templates/<scenario>.<locale>, else templates/<scenario>. */
static void template_name(server *s, const vbill_bill *bill, char *name, size_t size)
{
    const char *sc = vbill_bill_scenario(bill), *loc = vbill_bill_locale(bill);
    char *p = store_path("%s/%s/%s.%s/template.json", s->store, STORE_TEMPLATES, sc, loc);
    struct stat st;
    if (p && stat(p, &st) == 0)
        snprintf(name, size, "%s.%s", sc, loc);
    else
        snprintf(name, size, "%s", sc);
    free(p);
}

static tmpl *get_template(server *s, const vbill_bill *bill, char *err, size_t errlen)
{
    ondemand *od = s->od;
    char name[80];
    if (!vbill_bill_scenario(bill)) {
        snprintf(err, errlen, "no scenario: no video bill");
        return NULL;
    }
    template_name(s, bill, name, sizeof name);
    pthread_mutex_lock(&od->lock);
    tmpl *t;
    for (t = od->tmpls; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            break;
    if (!t) {
        /* opened under the lock: a template is opened once (prepared by vbill batch; a
         * template prepared here the first time takes as long as the batch's prepare) */
        vbill_ctx *ctx = sv_ctx();
        char *dir = store_path("%s/%s/%s", s->store, STORE_TEMPLATES, name);
        vbill_template *vt = NULL;
        if (!dir || vbill_template_open(ctx, dir, &vt) != VBILL_OK) {
            snprintf(err, errlen, "template %s: %s", name, vbill_ctx_errmsg(ctx));
        } else if (vbill_template_prepare(vt) != VBILL_OK) {
            snprintf(err, errlen, "template %s: %s", name, vbill_template_errmsg(vt));
            vbill_template_free(vt);
            vt = NULL;
        }
        free(dir);
        char *info = vt ? vbill_template_info(vt) : NULL;
        cJSON *ij = info ? cJSON_Parse(info) : NULL;
        vbill_free(info);
        const char *cache = info_str(ij, "cache");
        const char *slash = cache ? strrchr(cache, '/') : NULL;
        if (vt && slash && (t = calloc(1, sizeof *t))) {
            snprintf(t->name, sizeof t->name, "%s", name);
            snprintf(t->hash, sizeof t->hash, "%.16s", slash + 1);
            t->t = vt;
            t->info = ij;
            t->next = od->tmpls;
            od->tmpls = t;
        } else {
            if (vt && !slash)
                snprintf(err, errlen, "template %s: not prepared", name);
            vbill_template_free(vt);
            cJSON_Delete(ij);
        }
    }
    pthread_mutex_unlock(&od->lock);
    return t;
}

vbill_template *od_template(server *s, const vbill_bill *bill, char *hash, char *err,
                            size_t errlen)
{
    tmpl *t = get_template(s, bill, err, errlen);
    if (t && hash)
        snprintf(hash, 20, "%s", t->hash);
    return t ? t->t : NULL;
}

char *od_shared_dir(server *s, const char *hash16, const char *variant)
{
    ondemand *od = s->od;
    pthread_mutex_lock(&od->lock);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(od->shared, hash16);
    if (!p && time(NULL) - od->scanned >= 5) {
        /* a template prepared since the last look: scan the store's templates again */
        od->scanned = time(NULL);
        cJSON_Delete(od->shared);
        od->shared = cJSON_CreateObject();
        char *tdir = store_path("%s/%s", s->store, STORE_TEMPLATES);
        DIR *d = tdir ? opendir(tdir) : NULL;
        for (struct dirent *e; d && (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            char *pd = store_path("%s/%s/.vbill-prepared", tdir, e->d_name);
            DIR *d2 = pd ? opendir(pd) : NULL;
            for (struct dirent *f; d2 && (f = readdir(d2));) {
                if (strlen(f->d_name) != 64 || strspn(f->d_name, "0123456789abcdef") != 64)
                    continue;
                char h[17];
                snprintf(h, sizeof h, "%.16s", f->d_name);
                char *full = store_path("%s/%s", pd, f->d_name);
                if (full && !cJSON_GetObjectItemCaseSensitive(od->shared, h))
                    cJSON_AddStringToObject(od->shared, h, full);
                free(full);
            }
            if (d2)
                closedir(d2);
            free(pd);
        }
        if (d)
            closedir(d);
        free(tdir);
        p = cJSON_GetObjectItemCaseSensitive(od->shared, hash16);
    }
    char *out = cJSON_IsString(p) ? store_path("%s/hls-%s", p->valuestring, variant) : NULL;
    pthread_mutex_unlock(&od->lock);
    return out;
}

/* ---- playlists ---- */

int od_playlist(server *s, bill_ref *b, char *err, size_t errlen)
{
    char *pl = store_path("%s/index.m3u8", b->path);
    struct stat st;
    if (!pl || stat(pl, &st) == 0) {
        free(pl);
        return pl ? 0 : -1;
    }
    free(pl);
    tmpl *t = get_template(s, b->bill, err, errlen);
    if (!t)
        return -1;
    char *shared = store_path("%ss/%s/normal", s->shared_prefix, t->hash);
    vbill_ctx *ctx = sv_ctx();
    vbill_status rc = shared ? vbill_render_playlist(ctx, t->t, b->bill, 1.0, b->path, shared)
                             : VBILL_ERR_NOMEM;
    free(shared);
    if (rc)
        snprintf(err, errlen, "%s", vbill_ctx_errmsg(ctx));
    return rc ? -1 : 0;
}

/* ---- the render pool ---- */

static bool personal(const tmpl *t, int k)
{
    const cJSON *sg = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t->info, "segments"), k);
    return sg && cJSON_IsTrue(cJSON_GetArrayItem(sg, 2));
}

static render_job *find_job(ondemand *od, const char *out)
{
    for (render_job *j = od->all; j; j = j->mnext)
        if (strcmp(j->out, out) == 0)
            return j;
    return NULL;
}

static void job_free(render_job *j)
{
    free(j->out);
    free(j->bill_path);
    free(j->w);
    free(j);
}

/* Queues the render of segment k of a bill (od->lock held); urgent ones go first. */
static render_job *enqueue(ondemand *od, const char *bill_path, const char *out, int k,
                           bool urgent)
{
    render_job *j = find_job(od, out);
    if (j) {
        if (urgent && !j->running && od->head != j) {
            /* a player asks for it now: to the front */
            for (render_job **p = &od->head; *p; p = &(*p)->next)
                if (*p == j) {
                    *p = j->next;
                    if (od->tail == j) {
                        od->tail = NULL;
                        for (render_job *x = od->head; x; x = x->next)
                            od->tail = x;
                    }
                    break;
                }
            j->next = od->head;
            od->head = j;
            if (!od->tail)
                od->tail = j;
        }
        return j;
    }
    if (!urgent && od->queued >= od->max_queued)
        return NULL; /* prefetch is a favour: dropped when the pool is this far behind */
    j = calloc(1, sizeof *j);
    if (!j || !(j->out = strdup(out)) || !(j->bill_path = strdup(bill_path))) {
        if (j)
            job_free(j);
        return NULL;
    }
    j->segment = k;
    j->mnext = od->all;
    od->all = j;
    if (urgent) {
        j->next = od->head;
        od->head = j;
        if (!od->tail)
            od->tail = j;
    } else {
        if (od->tail)
            od->tail->next = j;
        else
            od->head = j;
        od->tail = j;
    }
    od->queued++;
    atomic_store(&od->s->m.render_queue, od->queued);
    pthread_cond_signal(&od->work);
    return j;
}

static int render_one(ondemand *od, render_job *j)
{
    server *s = od->s;
    vbill_ctx *ctx = sv_ctx();
    char *bj = store_path("%s/bill.json", j->bill_path);
    char *text = bj ? cli_read_file(bj, 1 << 20, NULL) : NULL;
    free(bj);
    vbill_bill *bill = NULL;
    int rc = -1;
    char err[512] = "";
    if (text && vbill_bill_from_json(ctx, text, (size_t)-1, &bill) == VBILL_OK) {
        tmpl *t = get_template(s, bill, err, sizeof err);
        /* the cycle's segment cache, shared with vbill batch: STORE/<cycle>/_cache */
        const char *slash = strrchr(j->bill_path, '/');
        char *cache = slash ? store_path("%.*s/_cache", (int)(slash - j->bill_path), j->bill_path)
                            : NULL;
        if (cache && vbill_ctx_set_segment_cache(ctx, cache) != VBILL_OK)
            sv_log(s, "segment cache: %s", vbill_ctx_errmsg(ctx));
        free(cache);
        if (t && vbill_render_segment(ctx, t->t, bill, 1.0, j->segment, j->out) == VBILL_OK)
            rc = 0;
        else if (t)
            snprintf(err, sizeof err, "%s", vbill_ctx_errmsg(ctx));
    } else {
        snprintf(err, sizeof err, "bill.json: %s", text ? vbill_ctx_errmsg(ctx) : "unreadable");
    }
    if (rc)
        sv_log(s, "render of segment %d failed: %s", j->segment, err);
    free(text);
    vbill_bill_free(bill);
    return rc;
}

static void *worker(void *arg)
{
    ondemand *od = arg;
    for (;;) {
        pthread_mutex_lock(&od->lock);
        while (!od->head && !od->stop)
            pthread_cond_wait(&od->work, &od->lock);
        if (od->stop) {
            pthread_mutex_unlock(&od->lock);
            break;
        }
        render_job *j = od->head;
        od->head = j->next;
        if (!od->head)
            od->tail = NULL;
        od->queued--;
        j->running = true;
        atomic_store(&od->s->m.render_queue, od->queued);
        atomic_fetch_add(&od->s->m.render_busy, 1);
        pthread_mutex_unlock(&od->lock);
        struct stat st;
        int rc = stat(j->out, &st) == 0 ? 0 : render_one(od, j);
        atomic_fetch_add(&od->s->m.render_busy, -1);
        atomic_fetch_add(rc ? &od->s->m.renders_failed : &od->s->m.renders_ok, 1);
        pthread_mutex_lock(&od->lock);
        for (render_job **p = &od->all; *p; p = &(*p)->mnext)
            if (*p == j) {
                *p = j->mnext;
                break;
            }
        for (int i = 0; i < j->nw; i++) {
            j->w[i].q->render_result = rc ? -1 : 1;
            j->w[i].q->waiting = NULL;
            MHD_resume_connection(j->w[i].c);
        }
        pthread_mutex_unlock(&od->lock);
        job_free(j);
    }
    return NULL;
}

int od_segment(server *s, struct MHD_Connection *c, request *q, bill_ref *b, int k, bool urgent)
{
    ondemand *od = s->od;
    if (q->render_result < 0)
        return -2;
    char err[512];
    tmpl *t = get_template(s, b->bill, err, sizeof err);
    if (!t || !personal(t, k))
        return -1;
    char *out = store_path("%s/p%05d.ts", b->path, k);
    struct stat st;
    if (!out || stat(out, &st) == 0) {
        free(out);
        return out ? 1 : -1;
    }
    pthread_mutex_lock(&od->lock);
    render_job *j = enqueue(od, b->path, out, k, urgent);
    int rc = -2;
    if (j && j->nw < 64) {
        if (j->nw == j->capw) {
            int cap = j->capw ? 2 * j->capw : 4;
            waiter *w = realloc(j->w, (size_t)cap * sizeof *w);
            if (w) {
                j->w = w;
                j->capw = cap;
            }
        }
        if (j->nw < j->capw) {
            if (j->nw > 0 || j->running)
                atomic_fetch_add(&s->m.renders_waited, 1);
            j->w[j->nw].c = c;
            j->w[j->nw].q = q;
            j->nw++;
            q->waiting = j;
            MHD_suspend_connection(c);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&od->lock);
    free(out);
    return rc;
}

void od_prefetch(server *s, const bill_ref *b)
{
    char err[512];
    if (!vbill_bill_scenario(b->bill))
        return;
    tmpl *t = get_template(s, b->bill, err, sizeof err);
    if (!t)
        return;
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t->info, "segments"));
    pthread_mutex_lock(&s->od->lock);
    for (int k = 0; k < n; k++) {
        if (!personal(t, k))
            continue;
        char *out = store_path("%s/p%05d.ts", b->path, k);
        struct stat st;
        if (out && stat(out, &st) != 0)
            enqueue(s->od, b->path, out, k, false);
        free(out);
    }
    pthread_mutex_unlock(&s->od->lock);
}

ondemand *od_new(server *s, int workers)
{
    ondemand *od = calloc(1, sizeof *od);
    if (!od)
        return NULL;
    od->s = s;
    od->max_queued = 4096;
    od->shared = cJSON_CreateObject();
    pthread_mutex_init(&od->lock, NULL);
    pthread_cond_init(&od->work, NULL);
    s->od = od;
    od->th = calloc((size_t)workers, sizeof *od->th);
    for (int i = 0; od->th && i < workers; i++)
        if (pthread_create(&od->th[i], NULL, worker, od) == 0)
            od->nth++;
    return od;
}

void od_free(ondemand *od)
{
    if (!od)
        return;
    pthread_mutex_lock(&od->lock);
    od->stop = true;
    pthread_cond_broadcast(&od->work);
    pthread_mutex_unlock(&od->lock);
    for (int i = 0; i < od->nth; i++)
        pthread_join(od->th[i], NULL);
    free(od->th);
    for (render_job *j = od->all, *n; j; j = n) {
        n = j->mnext;
        job_free(j);
    }
    for (tmpl *t = od->tmpls, *n; t; t = n) {
        n = t->next;
        vbill_template_free(t->t);
        cJSON_Delete(t->info);
        free(t);
    }
    cJSON_Delete(od->shared);
    free(od);
}

/* ---- what the page shows besides the video ---- */

static double duration_of(const cJSON *info)
{
    const cJSON *fps = cJSON_GetObjectItemCaseSensitive(info, "fps");
    double num = cJSON_GetNumberValue(cJSON_GetArrayItem(fps, 0));
    double den = cJSON_GetNumberValue(cJSON_GetArrayItem(fps, 1));
    double frames = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(info, "frames"));
    return num > 0 && den > 0 ? frames * den / num : 0;
}

/* The slot's text for this bill. */
static char *slot_text(const cJSON *slot, const char *context)
{
    const char *text = info_str(slot, "text");
    char *out = NULL;
    size_t n = 0;
    if (!text || vbill_mustache_render(sv_ctx(), text, (size_t)-1, context, NULL, &out, &n))
        return NULL;
    return out;
}

cJSON *od_page_video(server *s, bill_ref *b)
{
    cJSON *v = cJSON_CreateObject();
    char err[512];
    tmpl *t = vbill_bill_scenario(b->bill) ? get_template(s, b->bill, err, sizeof err) : NULL;
    if (!t)
        return v;
    cJSON_AddNumberToObject(v, "duration", duration_of(t->info));
    cJSON_AddNumberToObject(v, "width",
                            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t->info, "width")));
    cJSON_AddNumberToObject(v, "height",
                            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t->info, "height")));
    /* overlay mode: the template's base with blank slots, when prepare cut it */
    char *dir = od_shared_dir(s, t->hash, "overlay");
    char *pl = dir ? store_path("%s/index.m3u8", dir) : NULL;
    struct stat st;
    if (pl && stat(pl, &st) == 0) {
        char *context = NULL;
        if (vbill_bill_context(sv_ctx(), b->bill, &context) != VBILL_OK)
            context = NULL;
        cJSON *ov = cJSON_AddObjectToObject(v, "overlay");
        char *url = store_path("%ss/%s/overlay/index.m3u8", s->shared_prefix, t->hash);
        cJSON_AddStringToObject(ov, "hls", url ? url : "");
        free(url);
        cJSON *slots = cJSON_AddArrayToObject(ov, "slots");
        const cJSON *sl;
        cJSON_ArrayForEach(sl, cJSON_GetObjectItemCaseSensitive(t->info, "slots"))
        {
            char *text = context ? slot_text(sl, context) : NULL;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", info_str(sl, "name"));
            cJSON_AddStringToObject(o, "text", text ? text : "");
            static const char *const keep[] = {"from", "to", "box", "size", "min_size", "color",
                                               "background", "align", "font"};
            for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(sl, keep[i]);
                cJSON_AddItemToObject(o, keep[i], x ? cJSON_Duplicate(x, true) : cJSON_CreateNull());
            }
            cJSON_AddItemToArray(slots, o);
            vbill_free(text);
        }
        vbill_free(context);
    }
    free(pl);
    free(dir);
    return v;
}

static void vtt_time(char *out, size_t size, double t)
{
    long ms = (long)(t * 1000 + 0.5);
    snprintf(out, size, "%02ld:%02ld:%02ld.%03ld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
             ms % 1000);
}

/* Chapter names of the built-in slots, per locale. */
static const char *chapter_name(const char *slot, const char *locale)
{
    static const char *const names[][4] = {
        {"period", "이용 기간", "ご利用期間", "Service period"},
        {"this_month", "이번 달 청구 금액", "今月のご請求額", "This month"},
        {"plan", "가입 상품", "ご契約の商品", "Your services"},
        {"device", "기기 할부", "端末の分割払い", "Device installments"},
        {"bundle", "결합 할인", "セット割引", "Bundle discount"},
        {"benefits", "요금제 혜택", "プランの特典", "Benefits"},
        {"next_month", "다음 달 요금", "来月のご請求", "Next month"},
        {"payment", "납부 방법", "お支払い方法", "Payment"},
        {"greeting", "인사", "ごあいさつ", "Welcome"},
        {"intro", "인사", "ごあいさつ", "Welcome"},
        {"outro", "마무리", "おわりに", "The end"},
    };
    int li = !strcmp(locale, "ja-JP") ? 2 : !strcmp(locale, "en-US") ? 3 : 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i][0], slot))
            return names[i][li];
    return slot;
}

/* The captions of a template that speaks: the narration's sentences timed to the voice, as
 * batch stored them beside the playlist (captions.vtt), else made now from bill.json and the
 * template's narration.json (cheap: no speech is made).  NULL when the template is silent. */
static char *narration_vtt(server *s, bill_ref *b, const tmpl *t)
{
    char *p = store_path("%s/captions.vtt", b->path);
    size_t len = 0;
    struct stat st;
    char *vtt = p && stat(p, &st) == 0 ? cli_read_file(p, 1 << 20, &len) : NULL;
    free(p);
    if (vtt)
        return vtt;
    char *tdir = store_path("%s/%s/%s", s->store, STORE_TEMPLATES, t->name);
    char *np = tdir ? store_path("%s/narration.json", tdir) : NULL;
    char *script = NULL, *out = NULL;
    if (np && stat(np, &st) == 0 &&
        vbill_narration(sv_ctx(), b->bill, tdir, &script) == VBILL_OK &&
        vbill_narration_webvtt(sv_ctx(), script, 1.0, &out) == VBILL_OK)
        vtt = strdup(out);
    vbill_free(out);
    vbill_free(script);
    free(np);
    free(tdir);
    return vtt;
}

char *od_vtt(server *s, bill_ref *b, bool chapters)
{
    char err[512];
    tmpl *t = vbill_bill_scenario(b->bill) ? get_template(s, b->bill, err, sizeof err) : NULL;
    if (!t)
        return NULL;
    char *spoken = chapters ? NULL : narration_vtt(s, b, t);
    if (spoken)
        return spoken;
    const char *locale = vbill_bill_locale(b->bill);
    char *context = NULL;
    if (vbill_bill_context(sv_ctx(), b->bill, &context) != VBILL_OK)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    if (!out) {
        vbill_free(context);
        return NULL;
    }
    n += (size_t)snprintf(out, cap, "WEBVTT\n\n");
    const cJSON *slots = cJSON_GetObjectItemCaseSensitive(t->info, "slots"), *sl;
    double dur = duration_of(t->info), prev = 0;
    int cue = 0, count = cJSON_GetArraySize(slots);
    char a[32], z[32];
    if (chapters && count > 0) {
        /* one chapter a slot's scene: it starts a little before its text appears */
        double first = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(slots, 0), "from"));
        double lead = first >= 4 ? 4 : first / 2;
        if (first - lead > 0.5) {
            vtt_time(a, sizeof a, 0);
            vtt_time(z, sizeof z, first - lead);
            n += (size_t)snprintf(out + n, cap - n, "%d\n%s --> %s\n%s\n\n", ++cue, a, z,
                                  chapter_name("intro", locale));
            prev = first - lead;
        }
    }
    int i = 0;
    cJSON_ArrayForEach(sl, slots)
    {
        double from = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sl, "from"));
        double to = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sl, "to"));
        const char *name = info_str(sl, "name");
        if (chapters) {
            const cJSON *next = cJSON_GetArrayItem(slots, i + 1);
            double lead = from - prev >= 4 ? 4 : from - prev;
            double start = from - lead > prev ? from - lead : prev;
            double end = next ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(next, "from"))
                         : dur;
            if (next)
                end -= end - to >= 4 ? 4 : (end - to) / 2;
            if (end <= start)
                end = to;
            vtt_time(a, sizeof a, start);
            vtt_time(z, sizeof z, end);
            n += (size_t)snprintf(out + n, cap - n, "%d\n%s --> %s\n%s\n\n", ++cue, a, z,
                                  chapter_name(name ? name : "", locale));
            prev = end;
        } else {
            char *text = slot_text(sl, context);
            if (text && *text) {
                vtt_time(a, sizeof a, from);
                vtt_time(z, sizeof z, to);
                /* a cue's text never holds "-->" or a blank line */
                for (char *p = text; *p; p++)
                    if (*p == '\n' || *p == '\r')
                        *p = ' ';
                char *arrow;
                while ((arrow = strstr(text, "-->")))
                    arrow[2] = ' ';
                n += (size_t)snprintf(out + n, cap - n, "%d\n%s --> %s\n%s\n\n", ++cue, a, z,
                                      text);
            }
            vbill_free(text);
        }
        if (n >= cap)
            break;
        i++;
    }
    if (chapters && dur - prev > 0.5 && n < cap) {
        vtt_time(a, sizeof a, prev);
        vtt_time(z, sizeof z, dur);
        n += (size_t)snprintf(out + n, cap - n, "%d\n%s --> %s\n%s\n\n", ++cue, a, z,
                              chapter_name("outro", locale));
    }
    vbill_free(context);
    if (n >= cap)
        out[cap - 1] = '\0';
    return out;
}
