/*
 * text.c: the text rasteriser.  libass shapes (HarfBuzz), draws (FreeType outlines) and falls
 * back between fonts (fontconfig); we only lay the text out: choose the size, choose the line
 * breaks, and composite libass's alpha masks into an RGBA image the size of the slot's box.
 *
 * Measuring: libass has no measuring call, so a candidate layout is rendered into a large
 * virtual frame (nothing is allocated for the frame itself, only glyph bitmaps) and the union
 * of the returned images is its ink box.  A layout whose ink touches the virtual frame's edge
 * may have been clipped and counts as not fitting, so nothing can be cut off unnoticed.
 */
#include "internal.h"
#include "video/text.h"

#include <ass/ass.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The primary font; fontconfig falls back per glyph (Symbola for emoji, DejaVu...). */
#define VB_TEXT_FAMILY "Noto Sans CJK KR"
/* libass sizes a font by its cell (winAscent + winDescent); style.size is the em size in
 * pixels (as FFmpeg drawtext and CSS mean it).  Noto Sans CJK's cell is 1.448 em. */
#define VB_TEXT_CELL 1.448
#define VB_TEXT_FRAME 8192         /* the virtual frame used to measure */
#define VB_TEXT_MAX_BYTES 2048     /* longer texts cannot fit any box of a video */
#define VB_TEXT_MAX_BOX 4096

struct vb_text_engine {
    ASS_Library *lib;
    ASS_Renderer *rend;
    ASS_Track *track;               /* of the last render; freed at the next */
    bool missing_glyph;             /* libass reported a glyph no font has */
    char missing_desc[64];
};

/* ---- colours ---------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool vb_color_parse(const char *s, uint32_t *out)
{
    if (!s || s[0] != '#')
        return false;
    size_t n = strlen(s + 1);
    if (n != 6 && n != 8)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(s[1 + i]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    if (n == 6)
        v = (v << 8) | 0xFF;
    if (out)
        *out = v;
    return true;
}

/* ---- engine ----------------------------------------------------------------------- */

static void ass_msg_cb(int level, const char *fmt, va_list va, void *data)
{
    vb_text_engine *e = data;
    if (level > 3 || !strstr(fmt, "fallback"))
        return;
    /* "failed to find any fallback with glyph 0x%X for font: (%s, %d, %d)" */
    char line[256];
    vsnprintf(line, sizeof line, fmt, va);
    if (strstr(line, "failed to find any fallback")) {
        const char *g = strstr(line, "glyph ");
        e->missing_glyph = true;
        snprintf(e->missing_desc, sizeof e->missing_desc, "%.*s", 20, g ? g + 6 : "?");
        char *sp = strchr(e->missing_desc, ' ');
        if (sp)
            *sp = '\0';
    }
}

/* A fontconfig configuration for libass: the system's, minus colour bitmap fonts (libass
 * draws outlines only, so a colour emoji font chosen as fallback would draw nothing; without
 * it fontconfig falls back to an outline emoji font such as Symbola). */
static const char fc_conf[] =
    "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig>\n"
    "  <include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>\n"
    "  <selectfont><rejectfont>\n"
    "    <pattern><patelt name=\"color\"><bool>true</bool></patelt></pattern>\n"
    "    <glob>*NotoColorEmoji*</glob>\n"
    "  </rejectfont></selectfont>\n</fontconfig>\n";

static vbill_status render_layout(vb_text_engine *e, const char *escaped, double em, vb_align al,
                                  ASS_Image **imgs, int box[4]);

vbill_status vb_text_engine_new(vbill_ctx *ctx, vb_text_engine **out)
{
    if (!out)
        return vb_error(ctx, VBILL_ERR_ARG, "text engine: no output pointer");
    *out = NULL;
    vb_text_engine *e = calloc(1, sizeof *e);
    if (!e)
        return vb_error(ctx, VBILL_ERR_NOMEM, "text engine: out of memory");
    e->lib = ass_library_init();
    if (!e->lib) {
        free(e);
        return vb_error(ctx, VBILL_ERR_NOMEM, "text engine: libass could not start");
    }
    ass_set_message_cb(e->lib, ass_msg_cb, e);
    e->rend = ass_renderer_init(e->lib);
    if (!e->rend) {
        vb_text_engine_free(e);
        return vb_error(ctx, VBILL_ERR_FONT, "text engine: libass renderer could not start "
                        "(FreeType failed)");
    }
    ass_set_frame_size(e->rend, VB_TEXT_FRAME, VB_TEXT_FRAME);
    ass_set_storage_size(e->rend, VB_TEXT_FRAME, VB_TEXT_FRAME);
    ass_set_hinting(e->rend, ASS_HINTING_NONE); /* widths scale with the size */
    ass_set_shaper(e->rend, ASS_SHAPING_COMPLEX);

    /* libass reads its fontconfig configuration from a file: write ours, let libass load it
     * (it does so inside ass_set_fonts), remove it. */
    const char *tmp = getenv("TMPDIR");
    char conf[512];
    snprintf(conf, sizeof conf, "%s/vbill-fonts-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(conf);
    bool have_conf = false;
    if (fd >= 0) {
        have_conf = write(fd, fc_conf, sizeof fc_conf - 1) == (ssize_t)(sizeof fc_conf - 1);
        close(fd);
        if (!have_conf)
            unlink(conf);
    }
    ass_set_fonts(e->rend, NULL, VB_TEXT_FAMILY, ASS_FONTPROVIDER_FONTCONFIG,
                  have_conf ? conf : NULL, 1);
    if (have_conf)
        unlink(conf);

    /* A font that draws Hangul and Latin must exist; the captions are Korean. */
    ASS_Image *imgs;
    int box[4];
    e->missing_glyph = false;
    vbill_status st = render_layout(e, "가A", 20, VB_ALIGN_LEFT, &imgs, box);
    if (st == VBILL_OK && (!imgs || e->missing_glyph))
        st = VBILL_ERR_FONT;
    if (st != VBILL_OK) {
        vb_text_engine_free(e);
        if (st == VBILL_ERR_NOMEM)
            return vb_error(ctx, st, "text engine: out of memory");
        return vb_error(ctx, VBILL_ERR_FONT, "text engine: no usable font: fontconfig found no "
                        "font that draws Hangul and Latin text (install Noto Sans CJK, Debian "
                        "package fonts-noto-cjk)");
    }
    *out = e;
    return VBILL_OK;
}

void vb_text_engine_free(vb_text_engine *e)
{
    if (!e)
        return;
    if (e->track)
        ass_free_track(e->track);
    if (e->rend)
        ass_renderer_done(e->rend);
    if (e->lib)
        ass_library_done(e->lib);
    free(e);
}

void vb_text_image_free(vb_text_image *img)
{
    if (!img)
        return;
    free(img->rgba);
    img->rgba = NULL;
    img->w = img->h = 0;
}

/* ---- UTF-8 and break classes -------------------------------------------------------- */

/* Decodes one UTF-8 sequence; returns its length (0 when malformed). */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static bool is_space(uint32_t c) { return c == ' ' || c == 0x3000 || c == '\t' || c == 0xA0; }

/* Characters that join the one before: combining marks, joiners, variation selectors, emoji
 * modifiers, Hangul jamo medials/finals. */
static bool is_attached(uint32_t c)
{
    return (c >= 0x0300 && c <= 0x036F) || c == 0x200D || c == 0x200C ||
           (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0x1F3FB && c <= 0x1F3FF) ||
           (c >= 0x1160 && c <= 0x11FF) || (c >= 0xE0100 && c <= 0xE01EF) ||
           (c >= 0x3099 && c <= 0x309A) || c == 0x20E3 || (c >= 0xE0020 && c <= 0xE007F);
}

/* Scripts written without spaces between words: a line may break between two characters. */
static bool is_ideographic(uint32_t c)
{
    return (c >= 0x2E80 && c <= 0x2FFF) || (c >= 0x3000 && c <= 0x303F) ||
           (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3100 && c <= 0x31FF) ||
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFFEF) ||
           (c >= 0x20000 && c <= 0x3FFFF) || (c >= 0x1F000 && c <= 0x1FAFF) ||
           (c >= 0x2600 && c <= 0x27BF);
}

/* Never at the start of a line (Japanese kinsoku, closing punctuation). */
static bool no_break_before(uint32_t c)
{
    static const uint32_t set[] = {
        0x3001, 0x3002, 0xFF0C, 0xFF0E, 0xFF09, 0x300D, 0x300F, 0x3011, 0x3015, 0xFF01,
        0xFF1F, 0x30FC, 0x30FB, 0x3005, 0x3041, 0x3043, 0x3045, 0x3047, 0x3049, 0x3063,
        0x3083, 0x3085, 0x3087, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9, 0x30C3, 0x30E3,
        0x30E5, 0x30E7, 0xFF1A, 0xFF1B, ',', '.', '!', '?', ')', ']', '}', ':', ';', '%',
        0x2019, 0x201D, 0x3009, 0x300B};
    for (size_t i = 0; i < VB_ARRAY_LEN(set); i++)
        if (set[i] == c)
            return true;
    return false;
}

/* Never at the end of a line (opening punctuation). */
static bool no_break_after(uint32_t c)
{
    static const uint32_t set[] = {0xFF08, 0x300C, 0x300E, 0x3010, 0x3014, '(', '[', '{',
                                   0x2018, 0x201C, 0x3008, 0x300A};
    for (size_t i = 0; i < VB_ARRAY_LEN(set); i++)
        if (set[i] == c)
            return true;
    return false;
}

/* ---- layout ----------------------------------------------------------------------- */

/* A run of bytes [start, end) of the normalised text that is never broken inside (unless it
 * alone is wider than the box: then it is split into characters). */
typedef struct unit { size_t start, end; } unit;

typedef struct layout {
    const char *text;   /* the normalised paragraph text */
    unit *u;
    size_t n, cap;
} layout;

static bool units_push(layout *l, size_t s, size_t e)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        unit *nu = realloc(l->u, nc * sizeof *nu);
        if (!nu)
            return false;
        l->u = nu;
        l->cap = nc;
    }
    l->u[l->n].start = s;
    l->u[l->n].end = e;
    l->n++;
    return true;
}

/* Splits [s, e) into break units: after spaces, and between ideographic characters. */
static bool split_units(layout *l, size_t s, size_t e, bool chars_only)
{
    const unsigned char *t = (const unsigned char *)l->text;
    size_t ustart = s, i = s;
    uint32_t prev = 0;
    bool have_prev = false, prev_space = false;
    while (i < e) {
        uint32_t c;
        size_t k = utf8_dec(t + i, e - i, &c);
        if (k == 0) { c = 0xFFFD; k = 1; }
        bool brk = false;
        if (have_prev && !is_attached(c) && !is_space(c)) {
            if (chars_only)
                brk = true;
            else if (prev_space)
                brk = true;
            else if ((is_ideographic(prev) || is_ideographic(c)) && !no_break_before(c) &&
                     !no_break_after(prev))
                brk = true;
        }
        if (brk && i > ustart) {
            if (!units_push(l, ustart, i))
                return false;
            ustart = i;
        }
        if (!is_attached(c)) {
            prev_space = is_space(c);
            prev = c;
        }
        have_prev = true;
        i += k;
    }
    if (e > ustart)
        return units_push(l, ustart, e);
    return true;
}

/* Appends text[s, e) escaped for an ASS event: braces and backslashes are taken literally. */
static void append_escaped(vb_buf *b, const char *text, size_t s, size_t e)
{
    for (size_t i = s; i < e; i++) {
        char c = text[i];
        if (c == '{' || c == '}') {
            vb_buf_append(b, "\\", 1);
            vb_buf_append(b, &c, 1);
        } else if (c == '\\') {
            /* "\N", "\n", "\h" would be commands: a word joiner (invisible) breaks them. */
            vb_buf_append(b, "\\\xE2\x81\xA0", 4);
        } else if (c == '\t') {
            vb_buf_append(b, " ", 1);
        } else {
            vb_buf_append(b, &c, 1);
        }
    }
}

/* Trims trailing spaces of a line [s, e). */
static size_t trim_end(const char *t, size_t s, size_t e)
{
    while (e > s) {
        if (t[e - 1] == ' ' || t[e - 1] == '\t') { e--; continue; }
        if (e - s >= 3 && (unsigned char)t[e - 3] == 0xE3 && (unsigned char)t[e - 2] == 0x80 &&
            (unsigned char)t[e - 1] == 0x80) { e -= 3; continue; } /* U+3000 */
        if (e - s >= 2 && (unsigned char)t[e - 2] == 0xC2 && (unsigned char)t[e - 1] == 0xA0) {
            e -= 2; continue;
        }
        break;
    }
    return e;
}

static size_t trim_start(const char *t, size_t s, size_t e)
{
    while (s < e && (t[s] == ' ' || t[s] == '\t'))
        s++;
    return s;
}

/* Renders one layout (ASS text, lines separated by \N) at em size `em`; *imgs is libass's
 * image list (valid until the next render), box the ink box (x0, y0, x1, y1; x1 <= x0 when no
 * ink).  VBILL_ERR_TEMPLATE when the ink may have been clipped by the virtual frame. */
static vbill_status render_layout(vb_text_engine *e, const char *escaped, double em, vb_align al,
                                  ASS_Image **imgs, int box[4])
{
    const int F = VB_TEXT_FRAME, M = 64;
    int an = al == VB_ALIGN_CENTER ? 8 : al == VB_ALIGN_RIGHT ? 9 : 7;
    int px = al == VB_ALIGN_CENTER ? F / 2 : al == VB_ALIGN_RIGHT ? F - M : M;
    double fs = em * VB_TEXT_CELL;
    vb_buf b = {0};
    vb_buf_printf(&b,
                  "[Script Info]\nScriptType: v4.00+\nPlayResX: %d\nPlayResY: %d\nWrapStyle: 2\n"
                  "ScaledBorderAndShadow: yes\nYCbCr Matrix: None\n\n[V4+ Styles]\n"
                  "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
                  "OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, "
                  "ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
                  "MarginR, MarginV, Encoding\n"
                  "Style: D,%s,%.3f,&H00FFFFFF,&H00FFFFFF,&H00000000,&H00000000,0,0,0,0,100,"
                  "100,0,0,1,0,0,%d,0,0,0,1\n\n[Events]\n"
                  "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, "
                  "Text\nDialogue: 0,0:00:00.00,0:00:10.00,D,,0,0,0,,{\\pos(%d,%d)}",
                  F, F, VB_TEXT_FAMILY, fs, an, px, M);
    vb_buf_puts(&b, escaped);
    vb_buf_puts(&b, "\n");
    if (b.failed)
        return vb_buf_free(&b), VBILL_ERR_NOMEM;
    if (e->track) {
        ass_free_track(e->track);
        e->track = NULL;
    }
    e->track = ass_read_memory(e->lib, b.data, b.len, NULL);
    vb_buf_free(&b);
    if (!e->track)
        return VBILL_ERR_NOMEM;
    int changed = 0;
    ASS_Image *im = ass_render_frame(e->rend, e->track, 1000, &changed);
    int x0 = F, y0 = F, x1 = 0, y1 = 0;
    for (ASS_Image *p = im; p; p = p->next) {
        if (p->w <= 0 || p->h <= 0)
            continue;
        /* The ink of this bitmap: skip empty rows/columns at its edges. */
        int bx0 = p->w, by0 = p->h, bx1 = -1, by1 = -1;
        for (int y = 0; y < p->h; y++) {
            const unsigned char *row = p->bitmap + (size_t)y * p->stride;
            for (int x = 0; x < p->w; x++) {
                if (row[x]) {
                    if (x < bx0) bx0 = x;
                    if (x > bx1) bx1 = x;
                    if (y < by0) by0 = y;
                    if (y > by1) by1 = y;
                }
            }
        }
        if (bx1 < 0)
            continue;
        if (p->dst_x + bx0 < x0) x0 = p->dst_x + bx0;
        if (p->dst_y + by0 < y0) y0 = p->dst_y + by0;
        if (p->dst_x + bx1 + 1 > x1) x1 = p->dst_x + bx1 + 1;
        if (p->dst_y + by1 + 1 > y1) y1 = p->dst_y + by1 + 1;
    }
    *imgs = im;
    box[0] = x0; box[1] = y0; box[2] = x1; box[3] = y1;
    if (x1 > x0 && (x0 <= 1 || y0 <= 1 || x1 >= F - 1 || y1 >= F - 1))
        return VBILL_ERR_TEMPLATE;
    return VBILL_OK;
}

typedef struct fit_ctx {
    vb_text_engine *e;
    layout *paras;      /* one per hard line */
    size_t npara;
    const char *text;
    vb_align align;
    int avail_w, avail_h;
    vb_buf out;         /* the chosen escaped layout */
} fit_ctx;

/* Ink width of text units [a, b) of a paragraph as one line at em; -1 when clipped. */
static vbill_status line_width(fit_ctx *f, const layout *l, size_t a, size_t b, double em,
                               int *w)
{
    size_t s = trim_start(l->text, l->u[a].start, l->u[b - 1].end);
    size_t e = trim_end(l->text, s, l->u[b - 1].end);
    vb_buf t = {0};
    append_escaped(&t, l->text, s, e);
    if (t.failed)
        return vb_buf_free(&t), VBILL_ERR_NOMEM;
    if (!t.data) {
        *w = 0;
        return VBILL_OK;
    }
    ASS_Image *im;
    int box[4];
    vbill_status st = render_layout(f->e, t.data, em, VB_ALIGN_LEFT, &im, box);
    vb_buf_free(&t);
    if (st == VBILL_ERR_TEMPLATE) {
        *w = -1;
        return VBILL_OK;
    }
    if (st != VBILL_OK)
        return st;
    *w = box[2] > box[0] ? box[2] - box[0] : 0;
    return VBILL_OK;
}

static bool fits_w(int w, int avail) { return w >= 0 && w <= avail; }

static vbill_status build_para(fit_ctx *f, layout *l, double em, bool wrap, bool *ok,
                               bool *first_linep);

/* Builds the layout at em: each paragraph on one line (wrap false) or greedily wrapped
 * (wrap true); *ok false when some line is too wide.  The escaped text is left in f->out. */
static vbill_status build_layout(fit_ctx *f, double em, bool wrap, bool *ok)
{
    vb_buf_free(&f->out);
    *ok = true;
    bool first_line = true;
    for (size_t p = 0; p < f->npara; p++) {
        /* A working copy: a word split into characters at this size stays whole at others. */
        layout work = {.text = f->paras[p].text, .n = f->paras[p].n, .cap = f->paras[p].n};
        if (work.n) {
            work.u = malloc(work.n * sizeof *work.u);
            if (!work.u)
                return VBILL_ERR_NOMEM;
            memcpy(work.u, f->paras[p].u, work.n * sizeof *work.u);
        }
        vbill_status st = build_para(f, &work, em, wrap, ok, &first_line);
        free(work.u);
        if (st != VBILL_OK || !*ok)
            return st;
    }
    if (f->out.failed)
        return VBILL_ERR_NOMEM;
    return VBILL_OK;
}

static vbill_status build_para(fit_ctx *f, layout *l, double em, bool wrap, bool *ok,
                               bool *first_linep)
{
    bool first_line = *first_linep;
    {
        size_t i = 0;
        if (l->n == 0) { /* an empty hard line keeps its place */
            if (!first_line)
                vb_buf_puts(&f->out, "\\N");
            vb_buf_puts(&f->out, "\xE2\x80\x8B"); /* zero width space: an empty line */
            *first_linep = false;
            return VBILL_OK;
        }
        while (i < l->n) {
            size_t best;
            if (!wrap) {
                best = l->n;
            } else {
                int w;
                vbill_status st = line_width(f, l, i, l->n, em, &w);
                if (st != VBILL_OK)
                    return st;
                if (fits_w(w, f->avail_w)) {
                    best = l->n;
                } else {
                    /* The largest k with units [i, i+k) fitting: widths grow with k. */
                    size_t lo = 0, hi = l->n - i; /* lo fits (0 trivially), hi does not */
                    while (hi - lo > 1) {
                        size_t mid = lo + (hi - lo) / 2;
                        st = line_width(f, l, i, i + mid, em, &w);
                        if (st != VBILL_OK)
                            return st;
                        if (fits_w(w, f->avail_w)) lo = mid; else hi = mid;
                    }
                    if (lo == 0) {
                        /* One unit wider than the box: split it into characters (once). */
                        unit u = l->u[i];
                        layout tmp = {.text = l->text};
                        if (!split_units(&tmp, u.start, u.end, true))
                            return free(tmp.u), VBILL_ERR_NOMEM;
                        if (tmp.n <= 1) {
                            free(tmp.u);
                            *ok = false;
                            return VBILL_OK;
                        }
                        size_t nn = l->n - 1 + tmp.n;
                        unit *nu = malloc(nn * sizeof *nu);
                        if (!nu)
                            return free(tmp.u), VBILL_ERR_NOMEM;
                        memcpy(nu, l->u, i * sizeof *nu);
                        memcpy(nu + i, tmp.u, tmp.n * sizeof *nu);
                        memcpy(nu + i + tmp.n, l->u + i + 1, (l->n - i - 1) * sizeof *nu);
                        free(tmp.u);
                        free(l->u);
                        l->u = nu;
                        l->n = l->cap = nn;
                        continue;
                    }
                    best = i + lo;
                }
            }
            size_t s = trim_start(l->text, l->u[i].start, l->u[best - 1].end);
            size_t e = trim_end(l->text, s, l->u[best - 1].end);
            if (!first_line)
                vb_buf_puts(&f->out, "\\N");
            if (e > s)
                append_escaped(&f->out, l->text, s, e);
            else
                vb_buf_puts(&f->out, "\xE2\x80\x8B");
            first_line = false;
            i = best;
        }
    }
    *first_linep = first_line;
    return VBILL_OK;
}

/* Does the whole layout at em fit?  Leaves libass's images of it in *imgs / box. */
static vbill_status try_size(fit_ctx *f, double em, bool wrap, bool *ok, ASS_Image **imgs,
                             int box[4])
{
    vbill_status st = build_layout(f, em, wrap, ok);
    if (st != VBILL_OK || !*ok)
        return st;
    st = render_layout(f->e, f->out.data ? f->out.data : "", em, f->align, imgs, box);
    if (st == VBILL_ERR_TEMPLATE) {
        *ok = false;
        return VBILL_OK;
    }
    if (st != VBILL_OK)
        return st;
    int w = box[2] > box[0] ? box[2] - box[0] : 0, h = box[3] > box[1] ? box[3] - box[1] : 0;
    *ok = w <= f->avail_w && h <= f->avail_h;
    return VBILL_OK;
}

/* The largest em in [lo, hi) that fits, where lo fits and hi does not (hi may be untested);
 * probe (when inside) is tried first, as a prediction.  *last is the em rendered last. */
static vbill_status largest(fit_ctx *f, bool wrap, int lo, int hi, int probe, int *chosen,
                            int *last, ASS_Image **imgs, int box[4])
{
    int probes = 0;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (probe > lo && probe < hi && probes < 2) {
            mid = probe;
            probes++;
        }
        bool ok;
        vbill_status st = try_size(f, mid, wrap, &ok, imgs, box);
        *last = mid;
        if (st != VBILL_OK)
            return st;
        if (ok) {
            lo = mid;
            probe = mid + 1;
        } else {
            hi = mid;
            probe = mid - 1;
        }
    }
    *chosen = lo;
    return VBILL_OK;
}

/* Composites libass's masks (ink box `box`) into out, placed by the alignment. */
static void composite(const vb_text_style *st, ASS_Image *imgs, const int box[4], int pad_x,
                      vb_text_image *out)
{
    int iw = box[2] - box[0], ih = box[3] - box[1];
    int dx, dy = (out->h - ih) / 2 - box[1];
    if (st->align == VB_ALIGN_CENTER)
        dx = (out->w - iw) / 2 - box[0];
    else if (st->align == VB_ALIGN_RIGHT)
        dx = out->w - pad_x - box[2];
    else
        dx = pad_x - box[0];
    uint32_t sr = st->color >> 24, sg = (st->color >> 16) & 0xFF, sb = (st->color >> 8) & 0xFF;
    uint32_t sa = st->color & 0xFF;
    for (ASS_Image *p = imgs; p; p = p->next) {
        for (int y = 0; y < p->h; y++) {
            int oy = p->dst_y + y + dy;
            if (oy < 0 || oy >= out->h)
                continue;
            const unsigned char *row = p->bitmap + (size_t)y * p->stride;
            for (int x = 0; x < p->w; x++) {
                int ox = p->dst_x + x + dx;
                if (!row[x] || ox < 0 || ox >= out->w)
                    continue;
                uint32_t a = (row[x] * sa + 127) / 255; /* source alpha */
                uint8_t *d = out->rgba + ((size_t)oy * out->w + ox) * 4;
                uint32_t da = d[3];
                /* Straight-alpha "over": out_a = a + da (1 - a). */
                uint32_t oa = a * 255 + da * (255 - a);     /* scaled by 255 */
                if (oa == 0)
                    continue;
                uint32_t wd = da * (255 - a);
                d[0] = (uint8_t)((sr * a * 255 + d[0] * wd + oa / 2) / oa);
                d[1] = (uint8_t)((sg * a * 255 + d[1] * wd + oa / 2) / oa);
                d[2] = (uint8_t)((sb * a * 255 + d[2] * wd + oa / 2) / oa);
                d[3] = (uint8_t)((oa + 127) / 255);
            }
        }
    }
}

vbill_status vb_text_render(vb_text_engine *e, vbill_ctx *ctx, const char *what, const char *utf8,
                            const vb_text_style *style, int box_w, int box_h, vb_text_image *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!what)
        what = "text";
    if (!e || !utf8 || !style || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "%s: missing argument to the text renderer", what);
    if (box_w <= 0 || box_h <= 0 || box_w > VB_TEXT_MAX_BOX || box_h > VB_TEXT_MAX_BOX)
        return vb_error(ctx, VBILL_ERR_ARG, "%s: box %dx%d is out of range (1..%d)", what, box_w,
                        box_h, VB_TEXT_MAX_BOX);
    if (style->size <= 0 || style->size > 1000 || style->min_size < 0 ||
        style->align < VB_ALIGN_LEFT || style->align > VB_ALIGN_RIGHT)
        return vb_error(ctx, VBILL_ERR_ARG, "%s: font size %d / minimum %d / alignment out of "
                        "range", what, style->size, style->min_size);
    size_t len = strlen(utf8);
    if (len > VB_TEXT_MAX_BYTES)
        return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: text does not fit in its box (%zu bytes, "
                        "at most %d)", what, len, VB_TEXT_MAX_BYTES);

    /* Normalise: valid UTF-8, no control characters but line breaks; CRLF/CR -> LF. */
    char *norm = malloc(len + 1);
    if (!norm)
        return vb_error(ctx, VBILL_ERR_NOMEM, "%s: out of memory", what);
    size_t n = 0;
    bool ink_expected = false;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t k = utf8_dec((const unsigned char *)utf8 + i, len - i, &c);
        if (k == 0) {
            free(norm);
            return vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: text is not valid UTF-8 (byte %zu)",
                            what, i);
        }
        if (c == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && utf8[i + 1] == '\n')
                i++;
        } else if (c == '\n' || c == '\t') {
            norm[n++] = (char)c;
        } else if (c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0x2028 || c == 0x2029) {
            if (c == 0x2028 || c == 0x2029)
                norm[n++] = '\n';
        } else {
            memcpy(norm + n, utf8 + i, k);
            n += k;
            if (!is_space(c) && !is_attached(c) && c != 0x200B && c != 0x2060 && c != 0xFEFF)
                ink_expected = true;
        }
        i += k;
    }
    norm[n] = '\0';

    out->w = box_w;
    out->h = box_h;
    out->rgba = malloc((size_t)box_w * box_h * 4);
    if (!out->rgba) {
        free(norm);
        return vb_error(ctx, VBILL_ERR_NOMEM, "%s: out of memory", what);
    }
    uint32_t bg = style->background;
    for (size_t i = 0; i < (size_t)box_w * box_h; i++) {
        uint8_t *d = out->rgba + i * 4;
        if (bg & 0xFF) {
            d[0] = bg >> 24; d[1] = (bg >> 16) & 0xFF; d[2] = (bg >> 8) & 0xFF; d[3] = bg & 0xFF;
        } else {
            d[0] = d[1] = d[2] = d[3] = 0;
        }
    }
    if (!ink_expected) { /* nothing to draw: the background alone */
        free(norm);
        return VBILL_OK;
    }

    /* Paragraphs (hard lines), each split into break units; leading/trailing blank lines are
     * dropped (they would only shrink the text). */
    fit_ctx f = {.e = e, .text = norm, .align = style->align};
    vbill_status st = VBILL_OK;
    size_t s0 = 0, e0 = n;
    while (s0 < e0 && (norm[s0] == '\n' || norm[s0] == ' ')) s0++;
    while (e0 > s0 && (norm[e0 - 1] == '\n' || norm[e0 - 1] == ' ')) e0--;
    size_t npara = 1;
    for (size_t i = s0; i < e0; i++)
        if (norm[i] == '\n')
            npara++;
    f.paras = calloc(npara, sizeof *f.paras);
    if (!f.paras) {
        st = VBILL_ERR_NOMEM;
        goto done;
    }
    for (size_t i = s0, p = 0; p < npara; p++) {
        size_t j = i;
        while (j < e0 && norm[j] != '\n') j++;
        f.paras[p].text = norm;
        size_t a = trim_start(norm, i, j), b = trim_end(norm, a, j);
        if (b > a && !split_units(&f.paras[p], a, b, false)) {
            st = VBILL_ERR_NOMEM;
            goto done;
        }
        f.npara++;
        i = j + 1;
    }

    /* Padding: a little air inside the box, never more than a quarter of it. */
    int pad_y = box_h / 10, pad_x = box_h / 6;
    if (pad_y > 12) pad_y = 12;
    if (pad_x > 16) pad_x = 16;
    if (pad_x > box_w / 8) pad_x = box_w / 8;
    f.avail_w = box_w - 2 * pad_x;
    f.avail_h = box_h - 2 * pad_y;

    int max_em = style->size;
    int min_em = style->min_size;
    if (min_em == 0) {
        min_em = (style->size * 6 + 5) / 10;
        if (min_em < 12) min_em = 12;
    }
    if (min_em > max_em) min_em = max_em;

    ASS_Image *imgs = NULL;
    int box[4] = {0};
    bool ok = false;
    int chosen = -1;
    e->missing_glyph = false;
    /* 1: one line (per hard line) at the largest size that fits.  Without hinting, widths
     * scale with the size, so the first measure predicts the size: usually 2-3 renders. */
    st = try_size(&f, max_em, false, &ok, &imgs, box);
    if (st != VBILL_OK)
        goto done;
    int last = max_em;
    bool wrap = false;
    if (ok) {
        chosen = max_em;
    } else {
        int w = box[2] - box[0], h = box[3] - box[1], g = min_em;
        if (w > 0 && h > 0) { /* (a clipped measure only over-predicts) */
            double k = (double)f.avail_w / w, kh = (double)f.avail_h / h;
            g = (int)(max_em * (k < kh ? k : kh));
        }
        if (g >= max_em) g = max_em - 1;
        if (g < min_em) g = min_em;
        st = try_size(&f, g, false, &ok, &imgs, box);
        last = g;
        if (st != VBILL_OK)
            goto done;
        if (ok) {
            st = largest(&f, false, g, max_em, g + 1, &chosen, &last, &imgs, box);
        } else if (g > min_em) {
            st = try_size(&f, min_em, false, &ok, &imgs, box);
            last = min_em;
            if (st == VBILL_OK && ok)
                st = largest(&f, false, min_em, g, g - 1, &chosen, &last, &imgs, box);
        }
        if (st != VBILL_OK)
            goto done;
        if (chosen < 0) { /* 2: wrapped, at the largest size whose lines fit */
            wrap = true;
            st = try_size(&f, min_em, true, &ok, &imgs, box);
            last = min_em;
            if (st == VBILL_OK && ok)
                st = largest(&f, true, min_em, max_em + 1, 0, &chosen, &last, &imgs, box);
            if (st != VBILL_OK)
                goto done;
        }
        if (chosen >= 0 && last != chosen) { /* the images of the choice */
            st = try_size(&f, chosen, wrap, &ok, &imgs, box);
            if (st != VBILL_OK)
                goto done;
            if (!ok)
                chosen = -1;
        }
    }
    if (chosen < 0) {
        st = vb_error(ctx, VBILL_ERR_TEMPLATE, "%s: text does not fit in its box (%dx%d, even "
                      "wrapped at the minimum size %d px)", what, box_w, box_h, min_em);
        goto done;
    }
    if (box[2] <= box[0]) {
        st = vb_error(ctx, VBILL_ERR_FONT, "%s: no font could draw the text (install Noto Sans "
                      "CJK: Debian fonts-noto-cjk)", what);
        goto done;
    }
    if (e->missing_glyph)
        vb_log(ctx, VBILL_LOG_WARN, "%s: no font has glyph %s; it is left out", what,
               e->missing_desc);
    composite(style, imgs, box, pad_x, out);
    vb_log(ctx, VBILL_LOG_DEBUG, "%s: %d px in a %dx%d box", what, chosen, box_w, box_h);

done:
    for (size_t p = 0; p < f.npara; p++)
        free(f.paras[p].u);
    free(f.paras);
    vb_buf_free(&f.out);
    free(norm);
    if (e->track) {
        ass_free_track(e->track);
        e->track = NULL;
    }
    if (st != VBILL_OK)
        vb_text_image_free(out);
    if (st == VBILL_ERR_NOMEM)
        return vb_error(ctx, st, "%s: out of memory", what);
    return st;
}
