/*
 * mustache.c: the Mustache engine used for every slot text (the specification's core
 * modules: interpolation, sections, inverted sections, comments, partials, set delimiters;
 * and its optional inheritance module: blocks and parents).
 *
 * A template is compiled once into a flat array of nodes; a section's content is the run of
 * nodes up to its `end` index, so rendering walks arrays instead of re-parsing and allocates
 * nothing per node.  Standalone lines are resolved at compile time.  A compiled template is
 * never written during a render, so threads may share it.
 */
#include "config.h"
#include "mustache.h"
#include "jdoc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep hostile templates and data from blowing the stack or memory. */
#define VB_MU_MAX_NEST 256                  /* sections open at once in one template */
#define VB_MU_MAX_PARTIAL_DEPTH 64          /* partials within partials */
#define VB_MU_MAX_STACK 1024                /* context stack entries during a render */
#define VB_MU_MAX_OUTPUT ((size_t)64 << 20) /* bytes of output */
#define VB_MU_MAX_STEPS ((uint64_t)1 << 24) /* nodes visited in one render */
#define VB_MU_MAX_PARTIAL_FILE ((size_t)16 << 20)

enum {
    N_TEXT,     /* a = source offset, alen = length */
    N_VAR,      /* escaped {{name}} */
    N_RAW,      /* {{{name}}} and {{&name}} */
    N_SECTION,  /* {{#name}}: content is nodes (i, end) */
    N_INVERTED, /* {{^name}} */
    N_PARTIAL,  /* {{>name}} */
    N_BLOCK,    /* {{$name}}: default content is nodes (i, end); a/alen = intrinsic indent */
    N_PARENT,   /* {{<name}}: the blocks in (i, end) override the parent's */
};

typedef struct vb_node {
    uint8_t type;
    uint8_t bol;        /* starts a line: receives the indentation of a standalone partial */
    uint8_t close_bol;  /* sections: the closing tag starts a line */
    uint8_t standalone; /* partials and parents: the tag stood alone on its line */
    uint32_t nparts;    /* names: dotted parts; 0 for the implicit iterator "." */
    uint32_t name_len;  /* names: the length of the first part */
    size_t name;        /* offset in names: parts, each NUL-terminated */
    size_t a, alen;
    size_t end;         /* sections, blocks, parents: index just past the content */
    size_t tag;         /* sections, blocks, parents: source offset of the opening tag */
    size_t tag_end;     /* ... and just past it */
    size_t ind, indlen; /* the blanks before a tag that has nothing else before it on its
                           line: the indentation of standalone partials, parents, blocks */
    bool prefix;        /* nothing but blanks before the tag on its line */
} vb_node;

struct vb_mustache {
    char *src;
    size_t len;
    char *names;
    vb_node *nodes;
    size_t n;
};

bool vb_mustache_names(const vb_mustache *m, void (*fn)(void *arg, const char *name), void *arg)
{
    for (size_t i = 0; i < m->n; i++) {
        const vb_node *nd = &m->nodes[i];
        switch (nd->type) {
        case N_VAR:
        case N_RAW:
        case N_SECTION:
        case N_INVERTED: {
            /* "." has no parts, and a template of such names no name table */
            const char *part = nd->nparts ? m->names + nd->name : NULL;
            for (uint32_t k = 0; k < nd->nparts; k++, part += strlen(part) + 1)
                fn(arg, part);
            break;
        }
        case N_PARTIAL:
        case N_PARENT:
            return false; /* names out of sight */
        default:
            break;
        }
    }
    return true;
}

void vb_mustache_free(vb_mustache *m)
{
    if (!m)
        return;
    free(m->src);
    free(m->names);
    free(m->nodes);
    free(m);
}

/* ---- compiling ----------------------------------------------------------------------- */

typedef struct comp {
    vbill_ctx *ctx;
    const char *label;
    const char *src;
    size_t len;
    vb_node *nodes;
    size_t n, cap;
    vb_buf names;
    const char *otag, *ctag;
    size_t olen, clen;
    size_t open[VB_MU_MAX_NEST]; /* node indices of the open sections */
    size_t nopen;
    bool pending_bol;
    vbill_status st;
} comp;

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The 1-based line and column (in characters) of source offset pos. */
static void line_col(const char *s, size_t pos, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Records the first failure with the template's label and the tag's position. */
static void comp_fail(comp *c, size_t pos, const char *fmt, ...) VB_PRINTF(3, 4);
static void comp_fail(comp *c, size_t pos, const char *fmt, ...)
{
    if (c->st)
        return;
    size_t line, col;
    line_col(c->src, pos, &line, &col);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = vb_error(c->ctx, VBILL_ERR_TEMPLATE, "%s%sline %zu, column %zu: %s",
                     c->label ? c->label : "", c->label ? ": " : "", line, col, msg);
}

/* A name's length for "%.*s" in messages, cut short so a huge tag can't fill them. */
static int clip(size_t n) { return n > 64 ? 64 : (int)n; }

static vb_node *comp_node(comp *c, int type, bool bol)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        vb_node *p = realloc(c->nodes, cap * sizeof *p);
        if (!p) {
            if (!c->st)
                c->st = vb_error(c->ctx, VBILL_ERR_NOMEM, "out of memory");
            return NULL;
        }
        c->nodes = p;
        c->cap = cap;
    }
    vb_node *nd = &c->nodes[c->n++];
    memset(nd, 0, sizeof *nd);
    nd->type = (uint8_t)type;
    nd->bol = bol || c->pending_bol;
    c->pending_bol = false;
    return nd;
}

static bool at_bol(const comp *c, size_t pos) { return pos == 0 || c->src[pos - 1] == '\n'; }

static void comp_text(comp *c, size_t from, size_t to)
{
    if (to <= from)
        return;
    vb_node *nd = comp_node(c, N_TEXT, at_bol(c, from));
    if (nd) {
        nd->a = from;
        nd->alen = to - from;
    }
}

/* Stores a tag's name: dotted parts for lookups (split = true), or whole (partials). */
static bool comp_name(comp *c, vb_node *nd, size_t tag, const char *s, size_t n, bool split)
{
    if (n == 0) {
        comp_fail(c, tag, "empty tag");
        return false;
    }
    if (memchr(s, '\0', n)) {
        comp_fail(c, tag, "NUL byte in a tag name");
        return false;
    }
    nd->name = c->names.len;
    if (!split) {
        nd->nparts = 1;
        nd->name_len = (uint32_t)n;
        vb_buf_append(&c->names, s, n);
        vb_buf_append(&c->names, "", 1);
    } else if (n == 1 && s[0] == '.') {
        nd->nparts = 0;
    } else {
        size_t start = 0;
        nd->nparts = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && s[i] != '.')
                continue;
            if (i == start) {
                comp_fail(c, tag, "malformed name '%.*s'", clip(n), s);
                return false;
            }
            vb_buf_append(&c->names, s + start, i - start);
            vb_buf_append(&c->names, "", 1);
            if (nd->nparts == 0)
                nd->name_len = (uint32_t)(i - start);
            nd->nparts++;
            start = i + 1;
        }
    }
    if (c->names.failed) {
        if (!c->st)
            c->st = vb_error(c->ctx, VBILL_ERR_NOMEM, "out of memory");
        return false;
    }
    return true;
}

/* Finds `lead` (0 for none) immediately followed by the closing delimiter, from pos. */
static size_t find_close(const comp *c, size_t pos, char lead)
{
    size_t need = c->clen + (lead ? 1 : 0);
    while (pos + need <= c->len) {
        const char *p = memchr(c->src + pos, lead ? lead : c->ctag[0], c->len - pos - need + 1);
        if (!p)
            break;
        size_t at = (size_t)(p - c->src);
        if (memcmp(c->src + at + (lead ? 1 : 0), c->ctag, c->clen) == 0)
            return at;
        pos = at + 1;
    }
    return (size_t)-1;
}

/* Just past the line end (or at the end of the text) if only blanks follow pos on its line,
 * else (size_t)-1. */
static size_t line_end(const comp *c, size_t pos)
{
    size_t e = pos;
    while (e < c->len && (c->src[e] == ' ' || c->src[e] == '\t'))
        e++;
    if (e == c->len)
        return e;
    if (c->src[e] == '\n')
        return e + 1;
    if (c->src[e] == '\r' && e + 1 < c->len && c->src[e + 1] == '\n')
        return e + 2;
    return (size_t)-1;
}

/* Blocks and parents whose opening and closing tags share a line with nothing else on it
 * are standalone too (the specification's inheritance module): the blanks before them
 * become their indentation instead of text.  Returns true when nd was made standalone. */
static bool same_line_standalone(comp *c, size_t idx, size_t close_tag, size_t eol)
{
    vb_node *nd = &c->nodes[idx];
    if (!nd->prefix || nd->standalone || eol == (size_t)-1 || idx + 1 != c->n)
        return false;
    for (size_t k = nd->tag_end; k < close_tag; k++)
        if (c->src[k] != ' ' && c->src[k] != '\t')
            return false;
    if (nd->indlen && idx > 0) {
        vb_node *t = &c->nodes[idx - 1];
        if (t->type != N_TEXT || t->a + t->alen != nd->tag || t->alen < nd->indlen)
            return false;
        t->alen -= nd->indlen;
        if (t->alen == 0)
            t->bol = 0;
    }
    nd->standalone = 1;
    nd->bol = 0;
    return true;
}

static const char *find_open(const comp *c, size_t pos)
{
    if (pos >= c->len || c->len - pos < c->olen)
        return NULL;
    return memmem(c->src + pos, c->len - pos, c->otag, c->olen);
}

/* {{=<% %>=}}: body is the text between the two '='. */
static void comp_delims(comp *c, size_t tag, size_t body, size_t body_end)
{
    size_t i = body, e = body_end;
    while (i < e && is_ws(c->src[i]))
        i++;
    while (e > i && is_ws(c->src[e - 1]))
        e--;
    size_t o = i;
    while (i < e && !is_ws(c->src[i]))
        i++;
    size_t olen = i - o;
    while (i < e && is_ws(c->src[i]))
        i++;
    size_t cl = i, clen = e - i;
    bool ok = olen > 0 && clen > 0 && !memchr(c->src + o, '=', olen) &&
              !memchr(c->src + cl, '=', clen);
    for (size_t k = cl; ok && k < e; k++)
        if (is_ws(c->src[k]))
            ok = false;
    if (!ok) {
        comp_fail(c, tag, "bad delimiter change '%.*s' (want two delimiters without spaces "
                  "or '=', like {{=<%% %%>=}})", clip(body_end - body), c->src + body);
        return;
    }
    c->otag = c->src + o;
    c->olen = olen;
    c->ctag = c->src + cl;
    c->clen = clen;
}

static void comp_run(comp *c)
{
    size_t pos = 0, text = 0;
    while (!c->st) {
        const char *o = find_open(c, pos);
        if (!o) {
            comp_text(c, text, c->len);
            break;
        }
        size_t tag = (size_t)(o - c->src);
        size_t p = tag + c->olen;
        char sigil = p < c->len ? c->src[p] : '\0';
        char lead = 0;
        switch (sigil) {
        case '{': lead = '}'; p++; break;
        case '=': lead = '='; p++; break;
        case '&': case '!': case '#': case '^': case '/': case '>': case '$': case '<':
            p++;
            break;
        default: sigil = 0; break;
        }
        size_t close = find_close(c, p, lead);
        if (close == (size_t)-1) {
            comp_fail(c, tag, "unclosed tag '%.*s' (no closing delimiter)",
                      clip(c->len - tag < 16 ? c->len - tag : 16), c->src + tag);
            break;
        }
        size_t tag_end = close + (lead ? 1 : 0) + c->clen;
        size_t ns = p, ne = close; /* the trimmed name */
        while (ns < ne && is_ws(c->src[ns]))
            ns++;
        while (ne > ns && is_ws(c->src[ne - 1]))
            ne--;

        /* A standalone tag: only blanks around it on its line; the whole line goes. */
        bool standalone = false;
        size_t ls = tag, next = tag_end;
        size_t eol = line_end(c, tag_end);
        while (ls > text && (c->src[ls - 1] == ' ' || c->src[ls - 1] == '\t'))
            ls--;
        bool prefix = at_bol(c, ls);
        size_t ws = ls;
        /* Text in a parent tag is ignored, so a block there may be standalone after it. */
        bool in_parent = c->nopen && c->nodes[c->open[c->nopen - 1]].type == N_PARENT;
        bool ignored = sigil == '$' && in_parent;
        if (sigil == '/' && in_parent && eol != (size_t)-1) {
            /* ... and so may the parent's closing tag, when it opened on an earlier line */
            size_t lb = tag;
            while (lb > 0 && c->src[lb - 1] != '\n')
                lb--;
            ignored = c->nodes[c->open[c->nopen - 1]].tag_end <= lb;
        }
        if (sigil && sigil != '{' && sigil != '&' && (prefix || ignored) && eol != (size_t)-1) {
            standalone = true;
            next = eol;
        }
        if (!standalone)
            ls = tag;
        comp_text(c, text, ls);
        bool bol = !standalone && at_bol(c, tag);
        const char *name = c->src + ns;
        size_t nlen = ne - ns;

        switch (sigil) {
        case '!':
            c->pending_bol = c->pending_bol || bol;
            break;
        case '=':
            comp_delims(c, tag, p, close);
            c->pending_bol = c->pending_bol || bol;
            break;
        case '#': case '^': case '$': case '<': {
            if (c->nopen == VB_MU_MAX_NEST) {
                comp_fail(c, tag, "sections nested more than %d deep at '%.*s'", VB_MU_MAX_NEST,
                          clip(nlen), name);
                break;
            }
            int type = sigil == '#' ? N_SECTION : sigil == '^' ? N_INVERTED
                     : sigil == '$' ? N_BLOCK : N_PARENT;
            vb_node *nd = comp_node(c, type, bol);
            if (!nd || !comp_name(c, nd, tag, name, nlen, type == N_SECTION || type == N_INVERTED))
                break;
            nd->a = ns; /* for matching the closing tag */
            nd->alen = nlen;
            nd->standalone = standalone;
            nd->tag = tag;
            nd->tag_end = tag_end;
            nd->prefix = prefix;
            nd->ind = ws;
            nd->indlen = prefix ? tag - ws : 0;
            c->open[c->nopen++] = c->n - 1;
            break;
        }
        case '/': {
            if (c->nopen == 0) {
                comp_fail(c, tag, "closing tag '%.*s' without an open section", clip(nlen),
                          name);
                break;
            }
            vb_node *nd = &c->nodes[c->open[c->nopen - 1]];
            if (nd->alen != nlen || memcmp(c->src + nd->a, name, nlen) != 0) {
                comp_fail(c, tag, "closing tag '%.*s' does not match the open section '%.*s'",
                          clip(nlen), name, clip(nd->alen), c->src + nd->a);
                break;
            }
            c->nopen--;
            size_t idx = c->open[c->nopen];
            nd->close_bol = bol;
            if ((nd->type == N_BLOCK || nd->type == N_PARENT) &&
                same_line_standalone(c, idx, tag, eol) && nd->type == N_PARENT)
                next = eol; /* like a partial's, the line is the parent's */
            nd->end = c->n;
            if (nd->type == N_BLOCK) {
                /* The block's intrinsic indentation: that of its first line of content
                 * when it opens on a line of its own, or of the tag when it is empty. */
                nd->a = nd->alen = 0;
                if (nd->standalone && idx + 1 < c->n) {
                    const vb_node *t = &c->nodes[idx + 1];
                    if (t->type == N_TEXT && t->bol) {
                        nd->a = t->a;
                        while (nd->alen < t->alen &&
                               (c->src[t->a + nd->alen] == ' ' || c->src[t->a + nd->alen] == '\t'))
                            nd->alen++;
                    }
                } else if (nd->standalone) {
                    nd->a = nd->ind;
                    nd->alen = nd->indlen;
                }
            }
            break;
        }
        case '>': {
            vb_node *nd = comp_node(c, N_PARTIAL, bol);
            if (!nd || !comp_name(c, nd, tag, name, nlen, false))
                break;
            nd->standalone = standalone;
            nd->ind = ls;
            nd->indlen = standalone ? tag - ls : 0;
            break;
        }
        default: {
            vb_node *nd = comp_node(c, sigil ? N_RAW : N_VAR, bol);
            if (nd)
                comp_name(c, nd, tag, name, nlen, true);
            break;
        }
        }
        pos = text = next;
    }
    if (!c->st && c->nopen) {
        const vb_node *nd = &c->nodes[c->open[c->nopen - 1]];
        comp_fail(c, nd->tag, "unclosed section '%.*s'", clip(nd->alen), c->src + nd->a);
    }
}

vb_mustache *vb_mustache_compile(vbill_ctx *ctx, const char *name, const char *tmpl, size_t len,
                                 vbill_status *status)
{
    vbill_status dummy;
    if (!status)
        status = &dummy;
    if (!tmpl && len) {
        *status = vb_error(ctx, VBILL_ERR_ARG, "%s%sno template text", name ? name : "",
                           name ? ": " : "");
        return NULL;
    }
    vb_mustache *m = calloc(1, sizeof *m);
    comp *c = calloc(1, sizeof *c);
    if (!m || !c || !(m->src = malloc(len + 1))) {
        free(c);
        vb_mustache_free(m);
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (len)
        memcpy(m->src, tmpl, len);
    m->src[len] = '\0';
    m->len = len;
    c->ctx = ctx;
    c->label = name;
    c->src = m->src;
    c->len = len;
    c->otag = "{{";
    c->ctag = "}}";
    c->olen = c->clen = 2;
    comp_run(c);
    if (!c->st && c->names.failed)
        c->st = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    *status = c->st;
    if (c->st) {
        free(c->nodes);
        vb_buf_free(&c->names);
        free(c);
        vb_mustache_free(m);
        return NULL;
    }
    m->nodes = c->nodes;
    m->n = c->n;
    m->names = c->names.data; /* NULL when no tag has a name */
    free(c);
    return m;
}

/* ---- rendering ----------------------------------------------------------------------- */

typedef struct cached_partial {
    const char *name;
    vb_mustache *m; /* NULL: not found, renders as empty */
} cached_partial;

/* Block overrides in force: a chain from the innermost parent tag outwards. */
typedef struct overrides {
    const vb_mustache *m;       /* the template holding the parent tag */
    size_t from, to;            /* its content nodes */
    const struct overrides *outer;
} overrides;

typedef struct render {
    vbill_ctx *ctx;
    const cJSON *partials;
    vb_buf *out;               /* appended to from base on */
    size_t base;
    vb_buf indent;             /* the indentation in force is a tail of this */
    size_t sp;
    cached_partial *cache;
    size_t ncache, capcache;
    int pdepth;
    uint64_t steps;
    vbill_status st;
    const vb_jval **stack;     /* the context stack: stack0, or grown up to VB_MU_MAX_STACK */
    size_t cap;
    const vb_jval *stack0[32];
} render;

static void r_fail_nomem(render *r)
{
    if (!r->st)
        r->st = vb_error(r->ctx, VBILL_ERR_NOMEM, "out of memory");
}

static inline void r_put(render *r, const char *s, size_t n)
{
    if (r->out->len - r->base + n > VB_MU_MAX_OUTPUT) {
        if (!r->st)
            r->st = vb_error(r->ctx, VBILL_ERR_TEMPLATE,
                             "output larger than %zu MiB", VB_MU_MAX_OUTPUT >> 20);
        return;
    }
    vb_buf_append(r->out, s, n);
    if (r->out->failed)
        r_fail_nomem(r);
}

static void r_escaped(render *r, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *p = s;
        while (p < end && *p != '&' && *p != '"' && *p != '<' && *p != '>')
            p++;
        r_put(r, s, (size_t)(p - s));
        if (p == end)
            break;
        switch (*p) {
        case '&': r_put(r, "&amp;", 5); break;
        case '"': r_put(r, "&quot;", 6); break;
        case '<': r_put(r, "&lt;", 4); break;
        default: r_put(r, "&gt;", 4); break;
        }
        s = p + 1;
    }
}

/* What a run of nodes renders under: the indentation of the standalone partials, parents
 * and blocks around it (a tail of r->indent), and for a block's overriding content the
 * blanks to remove from its lines first (its indentation where it was written). */
typedef struct frame {
    size_t ind_off, ind_len;
    size_t dedent;
    const struct overrides *ov;
} frame;

static size_t blanks(const char *s, size_t n, size_t max)
{
    size_t k = 0;
    while (k < n && k < max && (s[k] == ' ' || s[k] == '\t'))
        k++;
    return k;
}

/* Template text; under indentation each line after a newline is indented. */
static void r_text(render *r, const char *s, size_t n, bool bol, const frame *f)
{
    if (!f->ind_len && !f->dedent) {
        r_put(r, s, n);
        return;
    }
    if (bol && f->dedent) {
        size_t k = blanks(s, n, f->dedent);
        s += k, n -= k;
    }
    const char *end = s + n, *nl;
    while ((nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        r_put(r, s, (size_t)(nl + 1 - s));
        s = nl + 1;
        if (s < end) {
            s += blanks(s, (size_t)(end - s), f->dedent);
            r_put(r, r->indent.data + f->ind_off, f->ind_len);
        }
    }
    r_put(r, s, (size_t)(end - s));
}

/* A number as the specification expects: integers without ".0", others shortest. */
static size_t format_number(double v, char *buf, size_t size)
{
    if (!isfinite(v))
        return (size_t)snprintf(buf, size, "%s", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
    if (v == floor(v) && fabs(v) < 9.007199254740992e15)
        return (size_t)snprintf(buf, size, "%lld", (long long)v);
    int n = snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v)
        n = snprintf(buf, size, "%.17g", v);
    return (size_t)n;
}

static void r_value(render *r, const vb_jval *v, bool escape)
{
    if (!v)
        return;
    const char *s = NULL;
    size_t n = 0;
    char num[64];
    switch (v->type) {
    case VB_JSTRING:
        s = v->str, n = v->len;
        break;
    case VB_JNUMBER:
        if (v->is_int) {
            s = vb_int_text(v->i, num, &n);
        } else {
            n = format_number(v->num, num, sizeof num);
            s = num;
        }
        break;
    case VB_JTRUE:
        s = "true", n = 4;
        break;
    case VB_JFALSE:
        s = "false", n = 5;
        break;
    default:
        break;
    }
    if (!s)
        return; /* null, objects and lists print nothing */
    if (escape)
        r_escaped(r, s, n);
    else
        r_put(r, s, n);
}

static const vb_jval *lookup(const render *r, const vb_mustache *m, const vb_node *nd)
{
    if (nd->nparts == 0)
        return r->sp ? r->stack[r->sp - 1] : NULL;
    const char *part = m->names + nd->name;
    size_t len = nd->name_len;
    const vb_jval *v = NULL;
    for (size_t k = r->sp; k-- > 0;)
        if ((v = vb_jget_n(r->stack[k], part, len)) != NULL)
            break;
    for (uint32_t i = 1; v && i < nd->nparts; i++) {
        part += len + 1;
        len = strlen(part);
        v = vb_jget_n(v, part, len);
    }
    return v;
}

static bool truthy(const vb_jval *v)
{
    if (!v || v->type == VB_JFALSE || v->type == VB_JNULL)
        return false;
    if (v->type == VB_JARRAY)
        return v->child != NULL;
    return true;
}

static bool r_push(render *r, const vb_jval *v)
{
    if (r->sp == VB_MU_MAX_STACK) {
        if (!r->st)
            r->st = vb_error(r->ctx, VBILL_ERR_TEMPLATE,
                             "sections nested more than %d deep while rendering",
                             VB_MU_MAX_STACK);
        return false;
    }
    if (r->sp == r->cap) {
        size_t cap = r->cap * 4 < VB_MU_MAX_STACK ? r->cap * 4 : VB_MU_MAX_STACK;
        const vb_jval **grown = malloc(cap * sizeof *grown);
        if (!grown) {
            r_fail_nomem(r);
            return false;
        }
        memcpy(grown, r->stack, r->sp * sizeof *grown);
        if (r->stack != r->stack0)
            free(r->stack);
        r->stack = grown;
        r->cap = cap;
    }
    r->stack[r->sp++] = v;
    return true;
}

static bool partial_name_ok(const char *name)
{
    return name[0] && name[0] != '.' && !strchr(name, '/') && !strchr(name, '\\');
}

/* The compiled partial `name` (NULL when there is none: it renders as empty). */
static const vb_mustache *get_partial(render *r, const char *name)
{
    for (size_t i = 0; i < r->ncache; i++)
        if (strcmp(r->cache[i].name, name) == 0)
            return r->cache[i].m;
    if (r->ncache == r->capcache) {
        size_t cap = r->capcache ? r->capcache * 2 : 8;
        cached_partial *p = realloc(r->cache, cap * sizeof *p);
        if (!p) {
            r_fail_nomem(r);
            return NULL;
        }
        r->cache = p;
        r->capcache = cap;
    }
    char label[128];
    snprintf(label, sizeof label, "partial '%.64s'", name);
    vb_mustache *m = NULL;
    vbill_status st = VBILL_OK;
    const cJSON *item = r->partials ? cJSON_GetObjectItemCaseSensitive(r->partials, name) : NULL;
    if (cJSON_IsString(item) && item->valuestring) {
        m = vb_mustache_compile(r->ctx, label, item->valuestring, strlen(item->valuestring), &st);
    } else if (r->ctx && r->ctx->partials_dir) {
        if (!partial_name_ok(name)) {
            r->st = vb_error(r->ctx, VBILL_ERR_TEMPLATE,
                             "%s: not a valid partial name (no '/', '\\' or leading '.')", label);
            return NULL;
        }
        vb_buf path = {0};
        vb_buf_printf(&path, "%s/%s.mustache", r->ctx->partials_dir, name);
        if (path.failed) {
            vb_buf_free(&path);
            r_fail_nomem(r);
            return NULL;
        }
        size_t len = 0;
        char *text = vb_read_file(path.data, VB_MU_MAX_PARTIAL_FILE, &len);
        if (text) {
            m = vb_mustache_compile(r->ctx, label, text, len, &st);
            free(text);
        } else if (errno != ENOENT && errno != ENOTDIR) {
            st = vb_error(r->ctx, errno == EFBIG ? VBILL_ERR_TEMPLATE : VBILL_ERR_IO,
                          "%s: cannot read %s: %s", label, path.data,
                          errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
        }
        vb_buf_free(&path);
    }
    if (st) {
        r->st = st;
        return NULL;
    }
    r->cache[r->ncache].name = name;
    r->cache[r->ncache].m = m;
    r->ncache++;
    return m;
}

static void r_nodes(render *r, const vb_mustache *m, size_t from, size_t to, const frame *f);

/* Counts work, so that nested sections over long lists can't run for hours. */
static bool r_step(render *r)
{
    if (++r->steps <= VB_MU_MAX_STEPS)
        return true;
    if (!r->st)
        r->st = vb_error(r->ctx, VBILL_ERR_TEMPLATE,
                         "rendering takes more than %llu steps (sections over long lists "
                         "nested too deep?)", (unsigned long long)VB_MU_MAX_STEPS);
    return false;
}

/* Makes the frame for content indented by `extra` more than f (appended to r->indent, which
 * the caller truncates back afterwards). */
static bool r_indent(render *r, const frame *f, const char *extra, size_t n, frame *out)
{
    out->ind_off = f->ind_off;
    out->ind_len = f->ind_len + n;
    if (n) {
        vb_buf_append(&r->indent, extra, n);
        if (r->indent.failed) {
            r_fail_nomem(r);
            return false;
        }
    }
    return true;
}

static bool r_enter(render *r, const char *what, const char *name)
{
    if (r->pdepth < VB_MU_MAX_PARTIAL_DEPTH) {
        r->pdepth++;
        return true;
    }
    if (!r->st)
        r->st = vb_error(r->ctx, VBILL_ERR_TEMPLATE,
                         "%s '%.64s': partials nested more than %d deep (recursion?)", what,
                         name, VB_MU_MAX_PARTIAL_DEPTH);
    return false;
}

/* {{>name}}, and {{<name}} with the blocks of its content overriding the partial's. */
static void r_partial(render *r, const vb_mustache *m, size_t i, const frame *f)
{
    const vb_node *nd = &m->nodes[i];
    const char *name = m->names + nd->name;
    if (!r_enter(r, nd->type == N_PARENT ? "parent" : "partial", name))
        return;
    const vb_mustache *p = get_partial(r, name);
    size_t saved = r->indent.len;
    frame in;
    overrides ov = {m, i + 1, nd->end, f->ov};
    /* A standalone tag's indentation adds to the one in force; any other tag has none. */
    if (p && (nd->standalone ? r_indent(r, f, m->src + nd->ind, nd->indlen, &in)
                             : (in = (frame){r->indent.len, 0, 0, NULL}, true))) {
        in.dedent = 0;
        in.ov = nd->type == N_PARENT ? &ov : f->ov;
        r_nodes(r, p, 0, p->n, &in);
    }
    r->indent.len = saved;
    r->pdepth--;
}

/* {{$name}}: the outermost override of the block in force, else its own content. */
static void r_block(render *r, const vb_mustache *m, size_t i, const frame *f)
{
    const vb_node *nd = &m->nodes[i];
    const char *name = m->names + nd->name;
    const overrides *found = NULL;
    size_t at = 0;
    for (const overrides *o = f->ov; o; o = o->outer) {
        for (size_t k = o->from; k < o->to; k++) {
            const vb_node *b = &o->m->nodes[k];
            if (b->type == N_BLOCK && strcmp(o->m->names + b->name, name) == 0) {
                found = o;
                at = k;
            }
            if (b->type >= N_SECTION && b->type != N_PARTIAL)
                k = b->end - 1; /* only the parent's own blocks count */
        }
    }
    if (!found) {
        r_nodes(r, m, i + 1, nd->end, f);
        return;
    }
    if (!r_enter(r, "block", name))
        return;
    /* The override loses its indentation where it was written and gets this block's,
     * which is relative to the block around it. */
    const vb_node *b = &found->m->nodes[at];
    size_t saved = r->indent.len;
    size_t cut = nd->alen < f->dedent ? nd->alen : f->dedent;
    frame in;
    if (r_indent(r, f, m->src + nd->a + cut, nd->alen - cut, &in)) {
        in.dedent = b->alen;
        in.ov = found->outer;
        r_nodes(r, found->m, at + 1, b->end, &in);
    }
    r->indent.len = saved;
    r->pdepth--;
}

static void r_nodes(render *r, const vb_mustache *m, size_t from, size_t to, const frame *f)
{
    for (size_t i = from; i < to && !r->st; i++) {
        const vb_node *nd = &m->nodes[i];
        if (!r_step(r))
            return;
        if (f->ind_len && nd->bol)
            r_put(r, r->indent.data + f->ind_off, f->ind_len);
        switch (nd->type) {
        case N_TEXT:
            r_text(r, m->src + nd->a, nd->alen, nd->bol, f);
            break;
        case N_VAR:
        case N_RAW:
            r_value(r, lookup(r, m, nd), nd->type == N_VAR);
            break;
        case N_SECTION:
        case N_INVERTED: {
            const vb_jval *v = lookup(r, m, nd);
            bool t = truthy(v);
            if (nd->type == N_INVERTED || !vb_jis(v, VB_JARRAY)) {
                if (t == (nd->type == N_SECTION)) {
                    bool pushed = nd->type == N_SECTION;
                    if (pushed && !r_push(r, v))
                        return;
                    r_nodes(r, m, i + 1, nd->end, f);
                    if (f->ind_len && nd->close_bol)
                        r_put(r, r->indent.data + f->ind_off, f->ind_len);
                    if (pushed)
                        r->sp--;
                }
            } else {
                for (const vb_jval *e = v->child; e && !r->st; e = e->next) {
                    /* an empty section body still costs a step per element */
                    if (!r_step(r) || !r_push(r, e))
                        return;
                    r_nodes(r, m, i + 1, nd->end, f);
                    if (f->ind_len && nd->close_bol)
                        r_put(r, r->indent.data + f->ind_off, f->ind_len);
                    r->sp--;
                }
            }
            i = nd->end - 1;
            break;
        }
        case N_PARTIAL:
            r_partial(r, m, i, f);
            break;
        case N_PARENT:
            r_partial(r, m, i, f);
            i = nd->end - 1;
            break;
        case N_BLOCK:
            r_block(r, m, i, f);
            i = nd->end - 1;
            break;
        }
    }
}

vbill_status vb_mustache_render_into(vbill_ctx *ctx, const vb_mustache *m, const vb_jval *data,
                                     const cJSON *partials, vb_buf *out)
{
    if (!m)
        return vb_error(ctx, VBILL_ERR_ARG, "no compiled template");
    render rs = {.ctx = ctx,
                 .partials = cJSON_IsObject(partials) ? partials : NULL,
                 .out = out,
                 .base = out->len},
           *r = &rs;
    r->stack = r->stack0;
    r->cap = sizeof r->stack0 / sizeof r->stack0[0];
    r->stack[r->sp++] = data;
    frame top = {0, 0, 0, NULL};
    r_nodes(r, m, 0, m->n, &top);
    if (out->failed)
        r_fail_nomem(r);
    if (r->st && out->data) { /* nothing of a failed render stays */
        out->len = r->base;
        out->data[out->len] = '\0';
    }
    vb_buf_free(&r->indent);
    for (size_t i = 0; i < r->ncache; i++)
        vb_mustache_free(r->cache[i].m);
    free(r->cache);
    if (r->stack != r->stack0)
        free(r->stack);
    return r->st;
}

char *vb_mustache_render(vbill_ctx *ctx, const vb_mustache *m, const cJSON *data,
                         const cJSON *partials, size_t *out_len, vbill_status *status)
{
    vbill_status dummy;
    if (!status)
        status = &dummy;
    if (out_len)
        *out_len = 0;
    /* The engine renders over the arena tree: cJSON data is copied into one first. */
    vb_jdoc *d = vb_jdoc_new();
    const vb_jval *tree = d && data ? vb_jfrom_cjson(d, data) : NULL;
    vb_buf b = {0};
    if (!d || (data && !tree))
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    else
        *status = vb_mustache_render_into(ctx, m, tree, partials, &b);
    vb_jdoc_free(d);
    if (*status) {
        vb_buf_free(&b);
        return NULL;
    }
    size_t len = b.len;
    char *out = vb_buf_take(&b);
    if (!out)
        *status = vb_error(ctx, VBILL_ERR_NOMEM, "out of memory");
    else if (out_len)
        *out_len = len;
    return out;
}

/* ---- the public entry point ---------------------------------------------------------- */

VBILL_API vbill_status vbill_mustache_render(vbill_ctx *ctx, const char *tmpl, size_t tmpl_len,
                                             const char *data_json, const char *partials_json,
                                             char **out, size_t *out_len)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!ctx)
        return VBILL_ERR_ARG;
    vb_clear_error(ctx);
    if (!tmpl || !out)
        return vb_error(ctx, VBILL_ERR_ARG, "mustache: %s is NULL", !tmpl ? "template" : "out");
    size_t len = tmpl_len == (size_t)-1 ? strlen(tmpl) : tmpl_len;
    cJSON *data = NULL, *partials = NULL;
    vbill_status st = VBILL_OK;
    if (data_json && !(data = vb_json_parse(data_json, (size_t)-1)))
        return vb_error(ctx, VBILL_ERR_JSON, "mustache data: malformed JSON");
    if (partials_json) {
        partials = vb_json_parse(partials_json, (size_t)-1);
        if (!cJSON_IsObject(partials)) {
            cJSON_Delete(data);
            cJSON_Delete(partials);
            return vb_error(ctx, VBILL_ERR_JSON,
                            "mustache partials: not a JSON object of name -> template");
        }
        const cJSON *p;
        cJSON_ArrayForEach(p, partials) {
            if (!cJSON_IsString(p)) {
                st = vb_error(ctx, VBILL_ERR_JSON, "mustache partials: '%.64s' is not a string",
                              p->string ? p->string : "");
                cJSON_Delete(data);
                cJSON_Delete(partials);
                return st;
            }
        }
    }
    vb_mustache *m = vb_mustache_compile(ctx, NULL, tmpl, len, &st);
    if (m) {
        size_t n = 0;
        *out = vb_mustache_render(ctx, m, data, partials, &n, &st);
        if (out_len)
            *out_len = n;
    }
    vb_mustache_free(m);
    cJSON_Delete(data);
    cJSON_Delete(partials);
    return st;
}
