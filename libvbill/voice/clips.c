/*
 * clips.c: a carrier's recorded clips as a voice, the way IVR systems say numbers
 * (FreeSWITCH's mod_say, Asterisk's say.c), but driven by the script's text instead of the
 * number: the text is cut into the fewest clips that spell it, and the clips are joined.
 *
 * A clip's key is its text normalised: ASCII letters lower-cased, white space and hyphens
 * dropped, Hangul jamo and kana with separate (han)dakuten composed (macOS writes file
 * names decomposed).  The text is normalised the same way, cut into phrases at the
 * characters that make pauses, and each phrase is cut by dynamic programming into the
 * fewest clips whose keys spell it; in English a clip must end where a word ends, so "six"
 * never stands for the start of "sixty".
 */
#include "config.h"
#include "voice/narration.h"
#include "voice/voice.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CLIP_FILE ((size_t)32 << 20)
#define MAX_TOTAL_SAMPLES ((size_t)VB_VOICE_RATE * 3600) /* an hour of clips per voice */
#define MAX_KEY 1024
#define TRIM_LEVEL 0.00316f               /* -50 dBFS */
#define TRIM_KEEP (VB_VOICE_RATE / 100)   /* 10 ms kept before and after the sound */
#define XFADE (VB_VOICE_RATE / 100)       /* 10 ms crossfades between clips */
#define EDGE_FADE (VB_VOICE_RATE / 200)   /* 5 ms fades at the ends of a phrase */

static const char *const LOCALES[3] = {"ko-KR", "ja-JP", "en-US"};

typedef struct clip {
    char *text;  /* as given (file name stem or clips.json key) */
    char *key;   /* normalised */
    size_t klen;
    float *pcm;
    size_t n;
} clip;

typedef struct clip_set {
    bool present;
    char *dir;
    clip *clips;
    size_t n, cap;
    int32_t *slots;  /* open addressing: clip index or -1 */
    size_t nslots;
    size_t maxkey;
} clip_set;

struct vb_clips {
    clip_set sets[3];
    size_t total;
};

/* ---- UTF-8 and normalisation -------------------------------------------------------- */


static void put_utf8(vb_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    vb_buf_append(b, u, n);
}

/* prev composed with the combining cp (Hangul jamo, kana dakuten), or 0. */
static uint32_t compose(uint32_t prev, uint32_t cp)
{
    if (prev >= 0x1100 && prev <= 0x1112 && cp >= 0x1161 && cp <= 0x1175) /* L + V */
        return 0xac00 + ((prev - 0x1100) * 21 + (cp - 0x1161)) * 28;
    if (prev >= 0xac00 && prev <= 0xd7a3 && (prev - 0xac00) % 28 == 0 && cp >= 0x11a8 &&
        cp <= 0x11c2) /* LV + T */
        return prev + (cp - 0x11a7);
    if (cp != 0x3099 && cp != 0x309a)
        return 0;
    uint32_t base = prev >= 0x30a0 && prev <= 0x30ff ? prev - 0x60 : prev; /* katakana */
    uint32_t off = prev - base, r = 0;
    if (cp == 0x3099) {
        if ((base >= 0x304b && base <= 0x3062 && base % 2 == 1) || base == 0x3064 ||
            base == 0x3066 || base == 0x3068 ||
            (base >= 0x306f && base <= 0x307b && (base - 0x306f) % 3 == 0))
            r = base + 1;
        else if (base == 0x3046)
            r = 0x3094; /* ゔ */
    } else if (base >= 0x306f && base <= 0x307b && (base - 0x306f) % 3 == 0) {
        r = base + 2;
    }
    if (r == 0x3094 && off)
        return 0x30f4; /* ヴ */
    return r ? r + off : 0;
}

typedef enum { CH_TEXT, CH_SPACE } char_class;

/* Pauses: what commas and full stops do between phrases. */

static char_class classify_char(uint32_t cp)
{
    switch (cp) {
    case ' ': case '\t': case '\n': case '\r': case '\f': case '\v': case 0xa0: case 0x3000:
    case '-': case 0x2010: case 0x2013: case 0x2014: case '"': case '(': case ')': case '[':
    case ']': case '{': case '}': case 0x300c: case 0x300d: case 0x300e: case 0x300f:
    case 0xff08: case 0xff09: case 0x30fb: case 0x201c: case 0x201d:
        return CH_SPACE;
    default:
        return CH_TEXT;
    }
}

/* A phrase of text, normalised: bytes, whether a word ends before each position, and where
 * each position came from in the original text. */
typedef struct phrase {
    vb_buf s;
    uint8_t *bound;   /* s.len + 1 entries */
    size_t *orig;     /* s.len + 1 entries */
    size_t cap;
} phrase;

static bool phrase_room(phrase *p, size_t need)
{
    if (need <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap * 2 : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *b = realloc(p->bound, cap);
    if (!b)
        return false;
    p->bound = b;
    size_t *o = realloc(p->orig, cap * sizeof *o);
    if (!o)
        return false;
    p->orig = o;
    p->cap = cap;
    return true;
}

static void phrase_free(phrase *p)
{
    vb_buf_free(&p->s);
    free(p->bound);
    free(p->orig);
}

/* Normalises text[*pos..] up to the next pause (or the end) into p; *pause is the pause
 * that ends it (0 at the end of the text).  False on invalid UTF-8 or allocation failure. */
static bool next_phrase(const char *text, size_t len, size_t *pos, phrase *p, size_t *pause,
                        bool *bad_utf8)
{
    p->s.len = 0;
    vb_buf_append(&p->s, "", 0);
    *pause = 0;
    if (p->s.failed || !phrase_room(p, 1))
        return false;
    p->orig[0] = *pos;
    uint32_t prev = 0;  /* the last character, while a combining mark may still join it */
    size_t prev_at = 0, end = len;
    bool space = false;
    while (*pos < len) {
        uint32_t cp;
        size_t n = vb_utf8_decode(text + *pos, len - *pos, &cp), plen;
        if (!n) {
            *bad_utf8 = true;
            return false;
        }
        size_t pz = vb_say_pause(text + *pos, len - *pos, &plen);
        if (pz) { /* a run of pause marks makes one pause, the longest */
            end = *pos;
            *pause = pz;
            *pos += n;
            while (*pos < len && (pz = vb_say_pause(text + *pos, len - *pos, &plen)) > 0) {
                *pause = pz > *pause ? pz : *pause;
                *pos += plen;
            }
            break;
        }
        size_t char_start = *pos;
        *pos += n;
        if (classify_char(cp) == CH_SPACE) {
            space = true;
            prev = 0;
            continue;
        }
        uint32_t c = prev && !space ? compose(prev, cp) : 0;
        size_t at = c ? prev_at : p->s.len;
        p->s.len = at; /* a composed character replaces the one it joins */
        cp = c ? c : cp;
        if (cp >= 'A' && cp <= 'Z')
            cp += 'a' - 'A';
        put_utf8(&p->s, cp);
        if (p->s.failed || !phrase_room(p, p->s.len + 1))
            return false;
        if (!c) {
            p->bound[at] = at == 0 || space;
            p->orig[at] = char_start;
        }
        for (size_t i = at + 1; i <= p->s.len; i++) {
            p->bound[i] = 0;
            p->orig[i] = *pos;
        }
        prev_at = at;
        prev = cp;
        space = false;
    }
    p->bound[p->s.len] = 1;
    p->orig[p->s.len] = end < *pos ? end : *pos;
    return true;
}

/* The key of a clip's text: the whole text normalised, pauses dropped. */
static char *make_key(const char *text, size_t *klen)
{
    phrase p = {0};
    vb_buf key = {0};
    size_t pos = 0, len = strlen(text), pause;
    bool bad = false;
    while (pos < len) {
        if (!next_phrase(text, len, &pos, &p, &pause, &bad)) {
            vb_buf_free(&key);
            phrase_free(&p);
            return NULL;
        }
        vb_buf_append(&key, p.s.data, p.s.len);
    }
    phrase_free(&p);
    vb_buf_append(&key, "", 0);
    *klen = key.len;
    return vb_buf_take(&key);
}

/* ---- the clip table ----------------------------------------------------------------- */

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

static int32_t lookup(const clip_set *set, const char *s, size_t n)
{
    if (!set->nslots)
        return -1;
    for (size_t i = hash(s, n) & (set->nslots - 1);; i = (i + 1) & (set->nslots - 1)) {
        int32_t k = set->slots[i];
        if (k < 0)
            return -1;
        if (set->clips[k].klen == n && memcmp(set->clips[k].key, s, n) == 0)
            return k;
    }
}

static bool rehash(clip_set *set)
{
    size_t nslots = 64;
    while (nslots < set->n * 2 + 2)
        nslots *= 2;
    int32_t *slots = malloc(nslots * sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < nslots; i++)
        slots[i] = -1;
    for (size_t k = 0; k < set->n; k++) {
        size_t i = hash(set->clips[k].key, set->clips[k].klen) & (nslots - 1);
        while (slots[i] >= 0)
            i = (i + 1) & (nslots - 1);
        slots[i] = (int32_t)k;
    }
    free(set->slots);
    set->slots = slots;
    set->nslots = nslots;
    return true;
}

void vb_pcm_trim(float *pcm, size_t *n)
{
    size_t a = 0, b = *n;
    while (a < *n && fabsf(pcm[a]) < TRIM_LEVEL)
        a++;
    if (a == *n)
        return; /* silence throughout: a recorded pause, kept whole */
    while (b > a && fabsf(pcm[b - 1]) < TRIM_LEVEL)
        b--;
    a = a > TRIM_KEEP ? a - TRIM_KEEP : 0;
    b = *n - b > TRIM_KEEP ? b + TRIM_KEEP : *n;
    memmove(pcm, pcm + a, (b - a) * sizeof *pcm);
    *n = b - a;
}

/* Why a clip or clips.json could not be read (vb_read_regular_file's errno). */
static const char *read_failure(int e)
{
    return e == EFBIG    ? "larger than 32 MiB"
           : e == ELOOP  ? "a symbolic link: clips are read from regular files only"
           : e == EINVAL ? "not a regular file"
                         : strerror(e);
}

/* Adds (or with replace, replaces) the clip for text from the WAV file path. */
static vbill_status add_clip(vbill_ctx *ctx, vb_clips *cs, clip_set *set, const char *text,
                             const char *path, bool replace)
{
    size_t klen = 0;
    char *key = make_key(text, &klen);
    if (!key)
        return vb_error(ctx, VBILL_ERR_ARG, "%s: the clip's text '%.60s' is not UTF-8", path,
                        text);
    if (klen == 0 || klen > MAX_KEY) {
        free(key);
        return vb_error(ctx, VBILL_ERR_ARG, "%s: the clip's text '%.60s' is %s", path, text,
                        klen ? "too long" : "empty");
    }
    int32_t old = lookup(set, key, klen);
    if (old >= 0 && !replace) {
        vb_log(ctx, VBILL_LOG_WARN, "%s: '%s' has a clip already (%s): ignored", path, text,
               set->clips[old].text);
        free(key);
        return VBILL_OK;
    }
    size_t len = 0;
    uint8_t *buf = (uint8_t *)vb_read_regular_file(path, MAX_CLIP_FILE, &len);
    if (!buf) {
        int e = errno;
        free(key);
        return vb_error(ctx, e == ENOENT ? VBILL_ERR_NOT_FOUND : VBILL_ERR_IO, "%s: %s", path,
                        read_failure(e));
    }
    clip c = {0};
    vbill_status st = vb_wav_decode(ctx, path, buf, len, &c.pcm, &c.n);
    free(buf);
    if (!st && c.n == 0)
        st = vb_error(ctx, VBILL_ERR_MEDIA, "%s: no sound in it", path);
    if (!st && cs->total + c.n > MAX_TOTAL_SAMPLES)
        st = vb_error(ctx, VBILL_ERR_MEDIA, "%s: the clips last more than an hour", path);
    if (st) {
        free(key);
        free(c.pcm);
        return st;
    }
    vb_pcm_trim(c.pcm, &c.n);
    c.key = key;
    c.klen = klen;
    c.text = strdup(text);
    cs->total += c.n;
    if (old >= 0) { /* clips.json names the clip for a text a file name gave */
        clip *o = &set->clips[old];
        cs->total -= o->n;
        free(o->pcm);
        free(o->text);
        free(o->key);
        *o = c;
        return o->text ? VBILL_OK : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        clip *p = realloc(set->clips, cap * sizeof *p);
        if (!p) {
            free(c.pcm);
            free(c.text);
            free(key);
            return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        }
        set->clips = p;
        set->cap = cap;
    }
    set->clips[set->n++] = c;
    if (klen > set->maxkey)
        set->maxkey = klen;
    bool grow = set->n * 2 + 2 > set->nslots; /* a rehash inserts every clip */
    if (!c.text || (grow && !rehash(set)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (!grow) {
        size_t i = hash(key, klen) & (set->nslots - 1);
        while (set->slots[i] >= 0)
            i = (i + 1) & (set->nslots - 1);
        set->slots[i] = (int32_t)(set->n - 1);
    }
    return VBILL_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_wav_name(const char *name, size_t *stem)
{
    size_t n = strlen(name);
    if (n <= 4 || name[0] == '.' || strcasecmp(name + n - 4, ".wav") != 0)
        return false;
    *stem = n - 4;
    return true;
}

/* DIR/LOCALE/clips.json: {"text": "file.wav", ...}, files inside the locale's folder. */
static vbill_status load_mapping(vbill_ctx *ctx, vb_clips *cs, clip_set *set)
{
    vb_buf path = {0};
    vb_buf_printf(&path, "%s/clips.json", set->dir);
    size_t len = 0;
    char *text = path.failed ? NULL : vb_read_regular_file(path.data, (size_t)4 << 20, &len);
    vbill_status st = VBILL_OK;
    if (!text) {
        if (errno != ENOENT)
            st = vb_error(ctx, VBILL_ERR_IO, "%s: %s", path.data ? path.data : "clips.json",
                          read_failure(errno));
        vb_buf_free(&path);
        return st;
    }
    cJSON *j = vb_json_parse(text, len);
    free(text);
    if (!cJSON_IsObject(j))
        st = vb_error(ctx, VBILL_ERR_JSON, "%s: not a JSON object of \"text\": \"file.wav\"",
                      path.data);
    for (const cJSON *m = j && !st ? j->child : NULL; m && !st; m = m->next) {
        const char *f = cJSON_IsString(m) ? m->valuestring : NULL;
        if (!f || !*f || f[0] == '/' || strstr(f, "..")) {
            st = vb_error(ctx, VBILL_ERR_JSON,
                          "%s: \"%.60s\": not the name of a file in the folder", path.data,
                          m->string);
            break;
        }
        vb_buf file = {0};
        vb_buf_printf(&file, "%s/%s", set->dir, f);
        st = file.failed ? vb_error(ctx, VBILL_ERR_NOMEM, "out of memory")
                         : add_clip(ctx, cs, set, m->string, file.data, true);
        vb_buf_free(&file);
    }
    cJSON_Delete(j);
    vb_buf_free(&path);
    return st;
}

static vbill_status load_set(vbill_ctx *ctx, vb_clips *cs, clip_set *set, const char *dir,
                             const char *locale)
{
    vb_buf d = {0};
    vb_buf_printf(&d, "%s/%s", dir, locale);
    if (d.failed)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    struct stat sb;
    if (lstat(d.data, &sb) != 0) {
        vb_buf_free(&d);
        return VBILL_OK; /* the locale is not recorded */
    }
    DIR *dh = S_ISDIR(sb.st_mode) ? opendir(d.data) : NULL;
    if (!dh) {
        vbill_status st = vb_error(ctx, VBILL_ERR_IO, "%s: %s", d.data,
                                   S_ISLNK(sb.st_mode) ? "a symbolic link: clips are read from "
                                                         "a folder inside the clips folder"
                                   : S_ISDIR(sb.st_mode) ? strerror(errno)
                                                         : "not a folder");
        vb_buf_free(&d);
        return st;
    }
    set->present = true;
    set->dir = vb_buf_take(&d);
    char **names = NULL;
    size_t n = 0, cap = 0;
    vbill_status st = VBILL_OK;
    struct dirent *e;
    while ((e = readdir(dh)) && !st) {
        size_t stem;
        if (!is_wav_name(e->d_name, &stem))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 128;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
                break;
            }
            names = p;
        }
        if (!(names[n++] = strdup(e->d_name)))
            st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    closedir(dh);
    if (!set->dir)
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (!st && n) /* in name order, so a duplicate text keeps the same clip every time */
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && !st; i++) {
        size_t stem = strlen(names[i]) - 4; /* less ".wav" (is_wav_name took it) */
        vb_buf path = {0}, text = {0};
        vb_buf_printf(&path, "%s/%s", set->dir, names[i]);
        vb_buf_append(&text, names[i], stem); /* the clip says its file name, less .wav */
        st = path.failed || text.failed ? vb_error(ctx, VBILL_ERR_NOMEM, "out of memory")
                                        : add_clip(ctx, cs, set, text.data, path.data, false);
        vb_buf_free(&path);
        vb_buf_free(&text);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!st)
        st = load_mapping(ctx, cs, set);
    if (!st && set->n == 0)
        st = vb_error(ctx, VBILL_ERR_NOT_FOUND, "%s: no clip (no .wav file)", set->dir);
    return st;
}

void vb_clips_free(vb_clips *c)
{
    if (!c)
        return;
    for (int l = 0; l < 3; l++) {
        clip_set *s = &c->sets[l];
        for (size_t i = 0; i < s->n; i++) {
            free(s->clips[i].pcm);
            free(s->clips[i].text);
            free(s->clips[i].key);
        }
        free(s->clips);
        free(s->slots);
        free(s->dir);
    }
    free(c);
}

vbill_status vb_clips_open(vbill_ctx *ctx, const char *dir, vb_clips **out)
{
    *out = NULL;
    vb_clips *c = calloc(1, sizeof *c);
    if (!c)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    vbill_status st = VBILL_OK;
    bool any = false;
    for (int l = 0; l < 3 && !st; l++) {
        st = load_set(ctx, c, &c->sets[l], dir, LOCALES[l]);
        any |= c->sets[l].present;
    }
    if (!st && !any)
        st = vb_error(ctx, VBILL_ERR_NOT_FOUND,
                      "%s: no clips: it needs a folder per locale (ko-KR, ja-JP, en-US) of WAV "
                      "files",
                      dir);
    if (st) {
        vb_clips_free(c);
        return st;
    }
    *out = c;
    return VBILL_OK;
}

/* ---- cutting a text into clips ------------------------------------------------------ */

typedef void (*emit_fn)(void *arg, const clip *c, size_t pause);

/* The fewest clips that spell the phrase, by dynamic programming over its positions. */
static vbill_status cut_phrase(vbill_ctx *ctx, const clip_set *set, vb_lang l, const phrase *p,
                               const char *text, emit_fn emit, void *arg)
{
    size_t n = p->s.len;
    if (!n)
        return VBILL_OK;
    int *best = malloc((n + 1) * sizeof *best);
    int32_t *pick = malloc((n + 1) * sizeof *pick);
    size_t *from = malloc((n + 1) * sizeof *from);
    if (!best || !pick || !from) {
        free(best);
        free(pick);
        free(from);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    const char *s = p->s.data;
    for (size_t i = 0; i <= n; i++)
        best[i] = INT_MAX;
    best[0] = 0;
    size_t reach = 0;
    for (size_t i = 0; i < n; i++) {
        if (best[i] == INT_MAX)
            continue;
        reach = i;
        for (size_t j = i + 1; j <= n && j - i <= set->maxkey; j++) {
            if (j < n && ((unsigned char)s[j] & 0xc0) == 0x80)
                continue; /* inside a character */
            if (l == VB_LANG_EN && !p->bound[j])
                continue; /* an English clip ends where a word ends */
            int32_t k = lookup(set, s + i, j - i);
            if (k >= 0 && best[i] + 1 < best[j]) {
                best[j] = best[i] + 1;
                pick[j] = k;
                from[j] = i;
            }
        }
    }
    vbill_status st = VBILL_OK;
    if (best[n] == INT_MAX) {
        size_t at = p->orig[reach];
        size_t end = p->orig[n];
        st = vb_error(ctx, VBILL_ERR_NOT_FOUND,
                      "clips voice %s: no clip (nor clips) for '%.*s' in \"%.*s\"", set->dir,
                      (int)(end - at > 60 ? 60 : end - at), text + at,
                      (int)(end - p->orig[0] > 120 ? 120 : end - p->orig[0]), text + p->orig[0]);
    } else {
        /* Walk back from the end, then emit in order. */
        size_t count = (size_t)best[n], k = count;
        int32_t *seq = malloc(count * sizeof *seq);
        if (!seq) {
            st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        } else {
            for (size_t j = n; j > 0; j = from[j])
                seq[--k] = pick[j];
            for (size_t i = 0; i < count; i++)
                emit(arg, &set->clips[seq[i]], 0);
            free(seq);
        }
    }
    free(best);
    free(pick);
    free(from);
    return st;
}

static vbill_status cut(vbill_ctx *ctx, const vb_clips *c, vb_lang l, const char *text,
                        emit_fn emit, void *arg)
{
    const clip_set *set = &c->sets[l];
    if (!set->present)
        return vb_error(ctx, VBILL_ERR_NOT_FOUND, "the clips voice has no %s folder",
                        LOCALES[l]);
    size_t len = strlen(text), pos = 0, pause = 0;
    if (len > VB_VOICE_MAX_TEXT)
        return vb_error(ctx, VBILL_ERR_ARG, "a text to say is longer than 64 KiB");
    phrase p = {0};
    vbill_status st = VBILL_OK;
    bool bad = false, any = false;
    while (pos < len && !st) {
        size_t before = pause;
        if (!next_phrase(text, len, &pos, &p, &pause, &bad)) {
            st = bad ? vb_error(ctx, VBILL_ERR_ARG, "a text to say is not UTF-8")
                     : vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
            break;
        }
        if (!p.s.len)
            continue;
        if (any && before)
            emit(arg, NULL, before);
        st = cut_phrase(ctx, set, l, &p, text, emit, arg);
        any = true;
    }
    phrase_free(&p);
    return st;
}

/* ---- joining ------------------------------------------------------------------------ */

typedef struct joiner {
    float *p;
    size_t n, cap;
    size_t phrase_start;  /* where the current phrase began */
    size_t last_len;      /* length of the last clip appended */
    bool failed;
} joiner;

static bool room(joiner *j, size_t more)
{
    if (j->failed)
        return false;
    if (j->n + more <= j->cap)
        return true;
    size_t cap = j->cap ? j->cap : 48000;
    while (cap < j->n + more)
        cap *= 2;
    float *p = realloc(j->p, cap * sizeof *p);
    if (!p) {
        j->failed = true;
        return false;
    }
    j->p = p;
    j->cap = cap;
    return true;
}

void vb_pcm_fade_ends(float *p, size_t n, size_t len)
{
    size_t f = len < n / 2 ? len : n / 2;
    for (size_t i = 0; i < f; i++) {
        float g = (float)sin(M_PI / 2 * ((double)i + 0.5) / (double)f);
        p[i] *= g;
        p[n - 1 - i] *= g;
    }
}

/* Ends the current phrase: fades its two ends (no click against silence). */
static void end_phrase(joiner *j)
{
    size_t len = j->n - j->phrase_start;
    if (!len || j->failed)
        return;
    vb_pcm_fade_ends(j->p + j->phrase_start, len, EDGE_FADE);
}

static void join_clip(void *arg, const clip *c, size_t pause)
{
    joiner *j = arg;
    if (!c) { /* a pause between phrases */
        end_phrase(j);
        if (room(j, pause)) {
            memset(j->p + j->n, 0, pause * sizeof *j->p);
            j->n += pause;
        }
        j->phrase_start = j->n;
        j->last_len = 0;
        return;
    }
    size_t x = 0;
    if (j->n > j->phrase_start) { /* an equal-power crossfade with the clip before */
        x = XFADE;
        if (x > j->last_len / 2)
            x = j->last_len / 2;
        if (x > c->n / 2)
            x = c->n / 2;
    }
    if (!room(j, c->n - x))
        return;
    float *tail = j->p + j->n - x;
    for (size_t i = 0; i < x; i++) {
        double t = M_PI / 2 * ((double)i + 0.5) / (double)x;
        tail[i] = (float)(tail[i] * cos(t) + c->pcm[i] * sin(t));
    }
    memcpy(j->p + j->n, c->pcm + x, (c->n - x) * sizeof *j->p);
    j->n += c->n - x;
    j->last_len = c->n;
}

vbill_status vb_clips_say(vbill_ctx *ctx, const vb_clips *c, vb_lang l, const char *text,
                          float **pcm, size_t *n)
{
    *pcm = NULL;
    *n = 0;
    joiner j = {0};
    vbill_status st = cut(ctx, c, l, text, join_clip, &j);
    end_phrase(&j);
    if (!st && j.failed)
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    if (st) {
        free(j.p);
        return st;
    }
    *pcm = j.p;
    *n = j.n;
    return VBILL_OK;
}

typedef struct token_cb {
    void (*fn)(void *arg, const char *clip, size_t pause);
    void *arg;
} token_cb;

static void emit_token(void *arg, const clip *c, size_t pause)
{
    token_cb *t = arg;
    t->fn(t->arg, c ? c->text : NULL, pause);
}

vbill_status vb_clips_tokens(vbill_ctx *ctx, const vb_clips *c, vb_lang l, const char *text,
                             void (*fn)(void *arg, const char *clip, size_t pause), void *arg)
{
    token_cb t = {fn, arg};
    return cut(ctx, c, l, text, emit_token, &t);
}

/* ---- the list of clips -------------------------------------------------------------- */

typedef struct listing {
    cJSON *array;
    vb_buf seen; /* the keys so far, each between newlines */
    bool failed;
} listing;

static void list_add(void *arg, const char *text)
{
    listing *li = arg;
    size_t klen = 0;
    char *key = make_key(text, &klen);
    vb_buf probe = {0};
    if (key && klen) {
        vb_buf_printf(&probe, "\n%s\n", key);
        if (!probe.failed && !li->seen.failed && !strstr(li->seen.data, probe.data)) {
            vb_buf_append(&li->seen, probe.data + 1, probe.len - 1);
            if (!cJSON_AddItemToArray(li->array, cJSON_CreateString(text)))
                li->failed = true;
        }
    }
    li->failed |= !key || probe.failed || li->seen.failed;
    vb_buf_free(&probe);
    free(key);
}

VBILL_API vbill_status vbill_voice_clip_list(vbill_ctx *ctx, const char *locale,
                                             char **out_json)
{
    if (!ctx || !out_json)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_voice_clip_list: NULL argument");
    *out_json = NULL;
    vb_clear_error(ctx);
    vb_lang l = vb_say_lang(locale);
    if (locale && strcmp(locale, LOCALES[l]) != 0)
        return vb_error(ctx, VBILL_ERR_ARG, "unknown locale '%.16s' (ko-KR, ja-JP or en-US)",
                        locale);
    listing li = {.array = cJSON_CreateArray()};
    vb_buf_puts(&li.seen, "\n");
    if (li.array) {
        vb_say_vocabulary(l, list_add, &li);
        vb_narration_vocabulary((int)l, list_add, &li);
    }
    vb_buf_free(&li.seen);
    if (!li.array || li.failed || !(*out_json = vb_json_print(li.array))) {
        cJSON_Delete(li.array);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(li.array);
    return VBILL_OK;
}
