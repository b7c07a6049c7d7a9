/* template.c: template.json parsing and validation, the base video probe, the cache key,
 * the keyframe/segment plan shared by prepare and render. */
#include "config.h"
#include "video/video.h"
#include "voice/narration.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/avutil.h>
#include <openssl/evp.h>

#define TEMPLATE_JSON_MAX (1u << 20)

const char *vb_averr(int err, char buf[128])
{
    av_strerror(err, buf, 128);
    return buf;
}

/* The demuxers a video may be read with (their names as FFmpeg lists them).  Not: hls,
 * concat, image2 and the other playlists (they open further files or URLs), tty, srt, ass
 * and the other text formats (they turn any text file into frames), nor the raw and
 * exotic ones nobody exports a bill video in. */
#define VB_FORMATS "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts"
#define VB_FORMATS_TEXT "MP4/MOV, Matroska/WebM or MPEG-TS"

int vb_av_open_input(AVFormatContext **fc, const char *path, char why[200])
{
    why[0] = '\0';
    AVDictionary *opt = NULL;
    AVIOContext *pb = NULL;
    const AVInputFormat *fmt = NULL;
    /* what the file is, from its first bytes (nothing else is opened to tell) */
    av_dict_set(&opt, "protocol_whitelist", "file", 0);
    int r = avio_open2(&pb, path, AVIO_FLAG_READ, NULL, &opt);
    av_dict_free(&opt);
    if (r < 0)
        return r;
    r = av_probe_input_buffer2(pb, &fmt, path, NULL, 0, 0);
    avio_closep(&pb);
    if (r < 0 || !fmt) {
        snprintf(why, 200, "not a video file (%s expected)", VB_FORMATS_TEXT);
        return r < 0 ? r : AVERROR_INVALIDDATA;
    }
    if (av_match_list(fmt->name, VB_FORMATS, ',') <= 0) {
        snprintf(why, 200, "its format is '%.40s' (%.60s), not %s", fmt->name,
                 fmt->long_name ? fmt->long_name : "?", VB_FORMATS_TEXT);
        return AVERROR(EPERM);
    }
    /* and the same limits for FFmpeg itself, for whatever the demuxer would open */
    av_dict_set(&opt, "protocol_whitelist", "file", 0);
    av_dict_set(&opt, "format_whitelist", VB_FORMATS, 0);
    av_dict_set(&opt, "enable_drefs", "0", 0); /* MOV external references: off (the default) */
    r = avformat_open_input(fc, path, fmt, &opt);
    av_dict_free(&opt);
    if (r == AVERROR_INVALIDDATA)
        snprintf(why, 200, "not a video file (%s expected)", VB_FORMATS_TEXT);
    return r;
}

/* ---- parsing ------------------------------------------------------------------------ */

static vbill_status slot_error(vbill_ctx *ctx, int i, const char *name, const char *fmt,
                               const char *detail)
{
    char what[160];
    if (name)
        snprintf(what, sizeof what, "slot '%.100s'", name);
    else
        snprintf(what, sizeof what, "slot %d", i + 1);
    return vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: %s: %s%s", what, fmt,
                    detail ? detail : "");
}

static bool json_int(const cJSON *v, int *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= -1e9 && d <= 1e9) || d != floor(d))
        return false;
    *out = (int)d;
    return true;
}

static vbill_status parse_slot(vbill_ctx *ctx, vbill_template *t, int i, const cJSON *js)
{
    vb_slot *s = &t->slots[i];
    if (!cJSON_IsObject(js))
        return slot_error(ctx, i, NULL, "not an object", NULL);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 64)
        return slot_error(ctx, i, NULL, "\"name\" must be a non-empty string (at most 64 bytes)",
                          NULL);
    const char *nm = name->valuestring;
    for (int j = 0; j < i; j++)
        if (!strcmp(t->slots[j].name, nm))
            return slot_error(ctx, i, nm, "duplicate slot name", NULL);
    if (!(s->name = strdup(nm)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");

    const cJSON *text = cJSON_GetObjectItemCaseSensitive(js, "text");
    if (!cJSON_IsString(text))
        return slot_error(ctx, i, nm, "\"text\" must be a string (a Mustache template)", NULL);
    if (!(s->text = strdup(text->valuestring)))
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    char what[100];
    snprintf(what, sizeof what, "slot '%s'", nm);
    vbill_status st = VBILL_OK;
    s->tmpl = vb_mustache_compile(ctx, what, s->text, strlen(s->text), &st);
    if (!s->tmpl) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vbill_ctx_errmsg(ctx));
        return slot_error(ctx, i, nm, "bad Mustache: ", msg);
    }

    const cJSON *from = cJSON_GetObjectItemCaseSensitive(js, "from");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(js, "to");
    if (!cJSON_IsNumber(from) || !cJSON_IsNumber(to) || !isfinite(from->valuedouble) ||
        !isfinite(to->valuedouble))
        return slot_error(ctx, i, nm, "\"from\" and \"to\" must be numbers of seconds", NULL);
    s->from = from->valuedouble;
    s->to = to->valuedouble;
    if (s->from < 0)
        return slot_error(ctx, i, nm, "\"from\" is negative", NULL);
    if (s->from >= s->to)
        return slot_error(ctx, i, nm, "\"from\" must be before \"to\"", NULL);

    const cJSON *box = cJSON_GetObjectItemCaseSensitive(js, "box");
    if (!cJSON_IsArray(box) || cJSON_GetArraySize(box) != 4)
        return slot_error(ctx, i, nm, "\"box\" must be [x, y, width, height]", NULL);
    for (int k = 0; k < 4; k++)
        if (!json_int(cJSON_GetArrayItem(box, k), &s->box[k]))
            return slot_error(ctx, i, nm, "\"box\" values must be integers", NULL);
    if (s->box[0] < 0 || s->box[1] < 0 || s->box[2] < 1 || s->box[3] < 1)
        return slot_error(ctx, i, nm, "\"box\" has a negative position or an empty size", NULL);

    const cJSON *size = cJSON_GetObjectItemCaseSensitive(js, "size");
    if (!json_int(size, &s->style.size) || s->style.size < 4 || s->style.size > 1000)
        return slot_error(ctx, i, nm, "\"size\" must be an integer of pixels from 4 to 1000",
                          NULL);
    const cJSON *minsz = cJSON_GetObjectItemCaseSensitive(js, "min_size");
    s->style.min_size = 0;
    if (minsz && (!json_int(minsz, &s->style.min_size) || s->style.min_size < 1 ||
                  s->style.min_size > s->style.size))
        return slot_error(ctx, i, nm, "\"min_size\" must be an integer from 1 to \"size\"", NULL);

    const cJSON *color = cJSON_GetObjectItemCaseSensitive(js, "color");
    if (!cJSON_IsString(color) || !vb_color_parse(color->valuestring, &s->style.color))
        return slot_error(ctx, i, nm, "\"color\" must be \"#RRGGBB\" or \"#RRGGBBAA\"", NULL);
    const cJSON *bg = cJSON_GetObjectItemCaseSensitive(js, "background");
    s->style.background = 0;
    if (bg && !cJSON_IsNull(bg) &&
        (!cJSON_IsString(bg) || !vb_color_parse(bg->valuestring, &s->style.background)))
        return slot_error(ctx, i, nm, "\"background\" must be \"#RRGGBB\" or \"#RRGGBBAA\"",
                          NULL);
    const cJSON *align = cJSON_GetObjectItemCaseSensitive(js, "align");
    s->style.align = VB_ALIGN_LEFT;
    if (align) {
        if (!cJSON_IsString(align))
            return slot_error(ctx, i, nm, "\"align\" must be left, center or right", NULL);
        if (!strcmp(align->valuestring, "left"))
            s->style.align = VB_ALIGN_LEFT;
        else if (!strcmp(align->valuestring, "center"))
            s->style.align = VB_ALIGN_CENTER;
        else if (!strcmp(align->valuestring, "right"))
            s->style.align = VB_ALIGN_RIGHT;
        else
            return slot_error(ctx, i, nm, "\"align\" must be left, center or right", NULL);
    }
    return VBILL_OK;
}

static bool overlap(const vb_slot *a, const vb_slot *b)
{
    bool time = a->from < b->to && b->from < a->to;
    bool space = a->box[0] < b->box[0] + b->box[2] && b->box[0] < a->box[0] + a->box[2] &&
                 a->box[1] < b->box[1] + b->box[3] && b->box[1] < a->box[1] + a->box[3];
    return time && space;
}

/* The base video named in template.json: a plain file name inside the template folder,
 * resolved (symbolic links included) and checked to stay inside it and to be a regular
 * file.  A template comes from a designer, not from the carrier's own staff: it must not
 * be able to make every customer's video show a file from elsewhere on the machine. */
static vbill_status resolve_video(vbill_ctx *ctx, vbill_template *t, const char *name)
{
    if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/') || strlen(name) > 255)
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: \"video\" must be the name of "
                        "a file in the template folder (no '/', no '..', not an absolute path): "
                        "'%.100s'", name);
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: \"video\" holds a control "
                            "character");
    char *joined = vb_path_join(t->dir, name);
    char *dir = realpath(t->dir, NULL);
    char *real = joined ? realpath(joined, NULL) : NULL;
    int e = errno;
    vbill_status st = VBILL_OK;
    struct stat sb;
    size_t dl = dir ? strlen(dir) : 0;
    if (!joined) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    } else if (!dir || !real) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: video '%s': %s", name,
                      strerror(dir ? e : errno));
    } else if (strncmp(real, dir, dl) != 0 || (dl > 1 && real[dl] != '/') ||
               (dl == 1 && real[1] == '\0')) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: video '%s' is a symbolic link that "
                      "leads outside the template folder", name);
    } else if (stat(real, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: video '%s' is not a regular file",
                      name);
    } else {
        t->video_path = real;
        real = NULL;
    }
    free(joined);
    free(dir);
    free(real);
    return st;
}

/* Parses and validates template.json against nothing but itself (no media). */
static vbill_status parse_json(vbill_ctx *ctx, vbill_template *t, const char *text, size_t len)
{
    cJSON *root = vb_json_parse(text, len);
    if (!root)
        return vb_error(ctx, VBILL_ERR_JSON, "template.json: not well-formed JSON");
    vbill_status st = VBILL_OK;
    if (!cJSON_IsObject(root)) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: not a JSON object");
        goto out;
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "scenario");
    if (!cJSON_IsString(sc) || !sc->valuestring[0] || strlen(sc->valuestring) > 63) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE,
                      "template.json: \"scenario\" must be a non-empty string");
        goto out;
    }
    const cJSON *video = cJSON_GetObjectItemCaseSensitive(root, "video");
    if (!cJSON_IsString(video) || !video->valuestring[0]) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE,
                      "template.json: missing \"video\" (the base video's file name)");
        goto out;
    }
    const cJSON *slots = cJSON_GetObjectItemCaseSensitive(root, "slots");
    if (!cJSON_IsArray(slots)) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: \"slots\" must be an array");
        goto out;
    }
    int n = cJSON_GetArraySize(slots);
    if (n > VB_MAX_SLOTS) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: more than %d slots", VB_MAX_SLOTS);
        goto out;
    }
    t->scenario = strdup(sc->valuestring);
    if (!t->scenario) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = resolve_video(ctx, t, video->valuestring)))
        goto out;
    for (int i = 0; i < n; i++) {
        t->nslots = i + 1;
        st = parse_slot(ctx, t, i, cJSON_GetArrayItem(slots, i));
        if (st)
            goto out;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (overlap(&t->slots[i], &t->slots[j])) {
                st = vb_error(ctx, VBILL_ERR_TEMPLATE,
                              "template.json: slot '%s' overlaps slot '%s' (same time, same place)",
                              t->slots[i].name, t->slots[j].name);
                goto out;
            }
out:
    cJSON_Delete(root);
    return st;
}

/* Size and duration of the base video; VBILL_ERR_MEDIA when it does not decode. */
static vbill_status probe(vbill_ctx *ctx, vbill_template *t)
{
    char eb[128], why[200];
    AVFormatContext *fc = NULL;
    if (access(t->video_path, R_OK) != 0)
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: video '%s': %s", t->video_path,
                        strerror(errno));
    int r = vb_av_open_input(&fc, t->video_path, why);
    if (r < 0)
        return vb_error(ctx, VBILL_ERR_MEDIA, "base video '%s': %s", t->video_path,
                        why[0] ? why : vb_averr(r, eb));
    vbill_status st = VBILL_OK;
    r = avformat_find_stream_info(fc, NULL);
    int vi = r < 0 ? r : av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vi < 0) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "base video '%s': no decodable video stream",
                      t->video_path);
        goto out;
    }
    AVStream *vs = fc->streams[vi];
    t->src_w = vs->codecpar->width;
    t->src_h = vs->codecpar->height;
    double dur = 0;
    if (vs->duration > 0)
        dur = (double)vs->duration * av_q2d(vs->time_base);
    if (dur <= 0 && fc->duration > 0)
        dur = (double)fc->duration / AV_TIME_BASE;
    t->src_duration = dur;
    if (t->src_w < 2 || t->src_h < 2 || t->src_w > 8192 || t->src_h > 8192) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "base video '%s': unusable frame size %dx%d",
                      t->video_path, t->src_w, t->src_h);
        goto out;
    }
    if (dur <= 0) {
        st = vb_error(ctx, VBILL_ERR_MEDIA, "base video '%s': unknown duration", t->video_path);
        goto out;
    }
out:
    avformat_close_input(&fc);
    return st;
}

static vbill_status check_media(vbill_ctx *ctx, vbill_template *t)
{
    for (int i = 0; i < t->nslots; i++) {
        vb_slot *s = &t->slots[i];
        if (s->box[0] + s->box[2] > t->src_w || s->box[1] + s->box[3] > t->src_h) {
            char d[96];
            snprintf(d, sizeof d, " (box [%d, %d, %d, %d], frame %dx%d)", s->box[0], s->box[1],
                     s->box[2], s->box[3], t->src_w, t->src_h);
            return slot_error(ctx, i, s->name, "box is outside the frame", d);
        }
        if (s->to > t->src_duration + 1e-3) {
            char d[96];
            snprintf(d, sizeof d, " (to %.3f s, video %.3f s)", s->to, t->src_duration);
            return slot_error(ctx, i, s->name, "window goes beyond the video's duration", d);
        }
    }
    return VBILL_OK;
}

/* ---- cache key ------------------------------------------------------------------- */

vbill_status vb_template_cache_key(vbill_ctx *ctx, vbill_template *t)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    vbill_status st = VBILL_OK;
    FILE *f = NULL;
    char extra[128];
    snprintf(extra, sizeof extra, "%s\nslow=%d/%d\n", VB_PREPARE_VERSION, t->slow_speed.num,
             t->slow_speed.den);
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, extra, strlen(extra)) ||
        !EVP_DigestUpdate(md, t->json_text, strlen(t->json_text))) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "SHA-256 failed");
        goto out;
    }
    f = fopen(t->video_path, "rb");
    if (!f) {
        st = vb_error(ctx, VBILL_ERR_IO, "base video '%s': %s", t->video_path, strerror(errno));
        goto out;
    }
    static const size_t chunk = 1 << 16;
    unsigned char *buf = malloc(chunk);
    if (!buf) {
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n;
    while ((n = fread(buf, 1, chunk, f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    free(buf);
    if (ferror(f)) {
        st = vb_error(ctx, VBILL_ERR_IO, "base video '%s': read error", t->video_path);
        goto out;
    }
    unsigned char dg[32];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, dg, &dl);
    for (int i = 0; i < 32; i++)
        snprintf(t->hash + 2 * i, 3, "%02x", dg[i]);
    char *pd = vb_path_join(t->dir, VB_PREPARED_DIR);
    free(t->cache_dir);
    t->cache_dir = pd ? vb_path_join(pd, t->hash) : NULL;
    free(pd);
    if (!t->cache_dir)
        st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
out:
    if (f)
        fclose(f);
    EVP_MD_CTX_free(md);
    return st;
}

/* ---- plan ------------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

vbill_status vb_template_plan(vbill_ctx *ctx, vbill_template *t, AVRational fps, int64_t nframes,
                              uint8_t **out_key, int64_t *out_nkeys)
{
    double r = av_q2d(fps);
    int64_t *must = malloc(sizeof(int64_t) * (size_t)(2 * t->nslots + 2));
    if (!must)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    int nm = 0;
    must[nm++] = 0;
    must[nm++] = nframes;
    for (int i = 0; i < t->nslots; i++) {
        vb_slot *s = &t->slots[i];
        /* frame k shows [k/r, (k+1)/r): the text is on the frames that start inside [from, to) */
        s->f0 = (int64_t)ceil(s->from * r - 1e-6);
        s->f1 = (int64_t)ceil(s->to * r - 1e-6);
        if (s->f1 > nframes)
            s->f1 = nframes;
        if (s->f0 >= s->f1) {
            free(must);
            return slot_error(ctx, i, s->name, "window holds no frame of the video", NULL);
        }
        must[nm++] = s->f0;
        must[nm++] = s->f1;
    }
    qsort(must, (size_t)nm, sizeof *must, cmp_i64);
    uint8_t *key = calloc((size_t)nframes + 1, 1);
    if (!key) {
        free(must);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    int64_t gop = (int64_t)llround(VB_GOP_SECONDS * r);
    if (gop < 1)
        gop = 1;
    for (int i = 0; i + 1 < nm; i++) {
        int64_t a = must[i], b = must[i + 1];
        if (b <= a)
            continue;
        int64_t parts = (b - a + gop - 1) / gop;
        for (int64_t p = 0; p < parts; p++)
            key[a + (b - a) * p / parts] = 1;
    }
    free(must);
    int64_t nk = 0;
    for (int64_t f = 0; f < nframes; f++)
        nk += key[f];
    free(t->segments);
    t->segments = calloc((size_t)nk, sizeof *t->segments);
    if (!t->segments) {
        free(key);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    int ns = 0;
    for (int64_t f = 0; f < nframes; f++) {
        if (!key[f])
            continue;
        int64_t e = f + 1;
        while (e < nframes && !key[e])
            e++;
        vb_segment *sg = &t->segments[ns++];
        sg->f0 = f;
        sg->f1 = e;
        for (int i = 0; i < t->nslots; i++)
            if (t->slots[i].f0 < e && f < t->slots[i].f1)
                sg->personal = true;
    }
    t->nsegments = ns;
    if (out_key)
        *out_key = key;
    else
        free(key);
    if (out_nkeys)
        *out_nkeys = nk;
    return VBILL_OK;
}

/* ---- meta ------------------------------------------------------------------------- */

vbill_status vb_template_load_meta(vbill_ctx *ctx, vbill_template *t)
{
    char *mp = vb_path_join(t->cache_dir, "meta.json");
    if (!mp)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    size_t len;
    char *txt = vb_read_file(mp, 1 << 20, &len);
    free(mp);
    if (!txt)
        return VBILL_ERR_NOT_FOUND; /* not prepared: no message, the caller decides */
    cJSON *m = vb_json_parse(txt, len);
    free(txt);
    vbill_status st = VBILL_OK;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
    const cJSON *fps = cJSON_GetObjectItemCaseSensitive(m, "fps");
    int fn = 0, fd = 0, w = 0, h = 0;
    double nf = 0;
    if (!m || !cJSON_IsString(ver) || strcmp(ver->valuestring, VB_PREPARE_VERSION) ||
        !cJSON_IsArray(fps) || !json_int(cJSON_GetArrayItem(fps, 0), &fn) ||
        !json_int(cJSON_GetArrayItem(fps, 1), &fd) || fn <= 0 || fd <= 0 ||
        !json_int(cJSON_GetObjectItemCaseSensitive(m, "width"), &w) ||
        !json_int(cJSON_GetObjectItemCaseSensitive(m, "height"), &h) || w <= 0 || h <= 0 ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "frames"))) {
        st = VBILL_ERR_NOT_FOUND;
        goto out;
    }
    nf = cJSON_GetObjectItemCaseSensitive(m, "frames")->valuedouble;
    if (nf < 1 || nf > 1e9) {
        st = VBILL_ERR_NOT_FOUND;
        goto out;
    }
    t->fps = (AVRational){fn, fd};
    t->w = w;
    t->h = h;
    t->nframes = (int64_t)nf;
    st = vb_template_plan(ctx, t, t->fps, t->nframes, NULL, NULL);
    /* the still segments prepare found: [f0, f1, personal, still] */
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(m, "segments");
    for (int i = 0; st == VBILL_OK && i < t->nsegments; i++) {
        const cJSON *sg = cJSON_GetArrayItem(segs, i);
        t->segments[i].still = cJSON_GetArraySize(sg) == 4 && t->segments[i].personal &&
                               cJSON_IsNumber(cJSON_GetArrayItem(sg, 3)) &&
                               cJSON_GetArrayItem(sg, 3)->valueint == 1 &&
                               (int64_t)cJSON_GetArrayItem(sg, 0)->valuedouble == t->segments[i].f0 &&
                               (int64_t)cJSON_GetArrayItem(sg, 1)->valuedouble == t->segments[i].f1;
    }
    if (st == VBILL_OK)
        t->prepared = true;
out:
    cJSON_Delete(m);
    return st;
}

/* ---- public ---------------------------------------------------------------------- */

/* FFmpeg prints to stderr by default; the library never prints.  VBILL_AV_LOG=1 keeps
 * FFmpeg's own messages for debugging. */
static void quiet_ffmpeg(void)
{
    const char *e = getenv("VBILL_AV_LOG");
    if (!e || !*e || !strcmp(e, "0"))
        av_log_set_level(AV_LOG_QUIET);
}

/* The template's own voice: the carrier's recorded clips when the folder has DIR/clips/ (a
 * folder, not a symbolic link; its clips are regular files: vb_clips), else espeak-ng when
 * installed, else none (the template stays silent). */
static vbill_status open_voice(vbill_ctx *ctx, vbill_template *t)
{
    char *p = vb_path_join(t->dir, VB_CLIPS_DIR);
    if (!p)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    struct stat sb;
    vbill_status st;
    bool have = lstat(p, &sb) == 0;
    if (!have && errno == ENOENT) {
        st = vbill_voice_open_default(ctx, &t->own_voice);
        if (st == VBILL_ERR_NOT_FOUND || st == VBILL_ERR_UNSUPPORTED)
            st = VBILL_OK; /* no voice at all: the template stays silent */
    } else if (!have) {
        st = vb_error(ctx, VBILL_ERR_IO, "template '%s': %s/: %s", t->dir, VB_CLIPS_DIR,
                      strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template '%s': %s/ must be a folder of recorded "
                      "clips inside the template folder (not a symbolic link)", t->dir,
                      VB_CLIPS_DIR);
    } else {
        st = vbill_voice_open_clips(ctx, p, &t->own_voice); /* its messages name the files */
    }
    free(p);
    return st;
}

/* DIR/narration.json, checked now: a render speaks its personal sentences in their windows
 * with the template's voice (open_voice's, until vbill_template_set_voice). */
static vbill_status load_narration(vbill_ctx *ctx, vbill_template *t)
{
    char *p = vb_path_join(t->dir, VB_NARRATION_FILE);
    if (!p)
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    struct stat sb;
    bool have = stat(p, &sb) == 0;
    free(p);
    if (!have)
        return VBILL_OK;
    vbill_status st = vb_narration_load(ctx, t->dir, &t->narration);
    if (!st)
        st = vb_narration_check(ctx, VB_NARRATION_FILE, t->narration);
    if (!st && !t->voice)
        st = open_voice(ctx, t);
    t->voice = t->own_voice;
    return st;
}

VBILL_API vbill_status vbill_template_set_voice(vbill_template *t, const vbill_voice *voice)
{
    if (!t)
        return VBILL_ERR_ARG;
    vb_clear_error(t->ctx);
    t->voice = voice ? voice : t->own_voice;
    return VBILL_OK;
}

VBILL_API vbill_status vbill_template_open(vbill_ctx *ctx, const char *dir, vbill_template **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_ffmpeg);
    vb_clear_error(ctx);
    if (!ctx || !dir || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "vbill_template_open: NULL argument");
    *out = NULL;
    vbill_template *t = calloc(1, sizeof *t);
    if (!t || !(t->dir = strdup(dir))) {
        free(t);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    if (vbill_ctx_new(&t->ctx) != VBILL_OK) {
        free(t->dir);
        free(t);
        return vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    }
    vbill_ctx_set_log(t->ctx, ctx->log_fn, ctx->log_user, ctx->log_level);
    t->slow_speed = av_d2q(ctx->senior_speed > 0 ? ctx->senior_speed : 0.8, 100);
    vbill_status st;
    char *jp = vb_path_join(dir, "template.json");
    size_t len = 0;
    t->json_text = jp ? vb_read_file(jp, TEMPLATE_JSON_MAX, &len) : NULL;
    if (!t->json_text) {
        st = vb_error(ctx, errno == EFBIG ? VBILL_ERR_TEMPLATE : VBILL_ERR_IO, "%s: %s",
                      jp ? jp : dir, errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
        free(jp);
        goto fail;
    }
    free(jp);
    if (strlen(t->json_text) != len) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "template.json: contains a NUL byte");
        goto fail;
    }
    if ((st = parse_json(ctx, t, t->json_text, len)))
        goto fail;
    if ((st = probe(ctx, t)))
        goto fail;
    if ((st = check_media(ctx, t)))
        goto fail;
    if ((st = vb_template_cache_key(ctx, t)))
        goto fail;
    st = vb_template_load_meta(ctx, t);
    if (st != VBILL_OK && st != VBILL_ERR_NOT_FOUND)
        goto fail;
    if ((st = load_narration(ctx, t)))
        goto fail;
    vb_clear_error(ctx);
    *out = t;
    return VBILL_OK;
fail:
    vbill_template_free(t);
    return st;
}

VBILL_API const char *vbill_template_scenario(const vbill_template *t)
{
    return t ? t->scenario : NULL;
}

VBILL_API int vbill_template_is_prepared(const vbill_template *t)
{
    return t && t->prepared;
}

VBILL_API char *vbill_template_info(const vbill_template *t)
{
    if (!t)
        return NULL;
    vb_buf b = {0};
    vb_buf_puts(&b, "{\"scenario\":");
    vb_buf_json_string(&b, t->scenario);
    vb_buf_printf(&b, ",\"prepared\":%s", t->prepared ? "true" : "false");
    vb_buf_puts(&b, ",\"voice\":");
    if (t->narration && t->voice)
        vb_buf_json_string(&b, vbill_voice_kind(t->voice));
    else
        vb_buf_puts(&b, "null");
    vb_buf_printf(&b, ",\"source\":{\"width\":%d,\"height\":%d,\"duration\":%.3f}", t->src_w,
                  t->src_h, t->src_duration);
    if (t->prepared) {
        vb_buf_printf(&b, ",\"cache\":");
        vb_buf_json_string(&b, t->cache_dir);
        vb_buf_printf(&b, ",\"width\":%d,\"height\":%d,\"fps\":[%d,%d],\"frames\":%lld,"
                          "\"slow_speed\":%.4g,\"segments\":[",
                      t->w, t->h, t->fps.num, t->fps.den, (long long)t->nframes,
                      av_q2d(t->slow_speed));
        for (int i = 0; i < t->nsegments; i++)
            vb_buf_printf(&b, "%s[%lld,%lld,%s,%s]", i ? "," : "", (long long)t->segments[i].f0,
                          (long long)t->segments[i].f1, t->segments[i].personal ? "true" : "false",
                          t->segments[i].still ? "true" : "false");
        vb_buf_puts(&b, "]");
    }
    vb_buf_puts(&b, ",\"slots\":[");
    for (int i = 0; i < t->nslots; i++) {
        const vb_slot *s = &t->slots[i];
        vb_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        vb_buf_json_string(&b, s->name);
        vb_buf_puts(&b, ",\"text\":");
        vb_buf_json_string(&b, s->text);
        vb_buf_printf(&b, ",\"from\":%.3f,\"to\":%.3f,\"box\":[%d,%d,%d,%d]", s->from, s->to,
                      s->box[0], s->box[1], s->box[2], s->box[3]);
        /* the drawing as the renderer does it (for a page that draws the text itself) */
        const vb_text_style *y = &s->style;
        int min = y->min_size > 0 ? y->min_size : ((y->size * 6 + 5) / 10 > 12 ? (y->size * 6 + 5) / 10 : 12);
        if (min > y->size)
            min = y->size;
        vb_buf_printf(&b, ",\"size\":%d,\"min_size\":%d,\"color\":\"#%08X\"", y->size, min,
                      (unsigned)y->color);
        if (y->background & 0xff)
            vb_buf_printf(&b, ",\"background\":\"#%08X\"", (unsigned)y->background);
        else
            vb_buf_puts(&b, ",\"background\":null");
        vb_buf_printf(&b, ",\"align\":\"%s\",\"font\":\"Noto Sans CJK KR\"",
                      y->align == VB_ALIGN_CENTER ? "center"
                      : y->align == VB_ALIGN_RIGHT ? "right" : "left");
        if (t->prepared)
            vb_buf_printf(&b, ",\"frames\":[%lld,%lld]", (long long)s->f0, (long long)s->f1);
        vb_buf_puts(&b, "}");
    }
    vb_buf_puts(&b, "]}");
    return vb_buf_take(&b);
}

VBILL_API void vbill_template_free(vbill_template *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nslots; i++) {
        free(t->slots[i].name);
        free(t->slots[i].text);
        vb_mustache_free(t->slots[i].tmpl);
    }
    free(t->dir);
    free(t->scenario);
    free(t->video_path);
    free(t->json_text);
    free(t->cache_dir);
    free(t->segments);
    cJSON_Delete(t->narration);
    vbill_voice_free(t->own_voice);
    vbill_ctx_free(t->ctx);
    free(t);
}

VBILL_API const char *vbill_template_errmsg(const vbill_template *t)
{
    return t ? vbill_ctx_errmsg(t->ctx) : "no template";
}
