/*
 * jdoc.h: a JSON value tree held in one arena, for the per-record hot path (records, fill
 * contexts, Mustache rendering).  simdjson parses (jparse.cc); the tree is plain C.  A
 * document holds one tree at a time: vb_jdoc_parse and vb_jdoc_reset drop the previous one
 * but keep the memory, so that a loop over records allocates nothing once warm.
 *
 * Strings and keys are NUL-terminated and also carry their length.  Objects keep their
 * members in order; a lookup finds the first member of that name (as cJSON does).
 */
#ifndef VB_JDOC_H
#define VB_JDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vb_jtype {
    VB_JNULL,
    VB_JFALSE,
    VB_JTRUE,
    VB_JNUMBER,
    VB_JSTRING,
    VB_JARRAY,
    VB_JOBJECT
} vb_jtype;

typedef struct vb_jval vb_jval;
struct vb_jval {
    uint8_t type;        /* vb_jtype */
    bool is_int;         /* a number held exactly in i (num holds it too, rounded) */
    uint32_t klen;
    const char *key;     /* the member's name inside an object, else NULL */
    vb_jval *next;       /* the next member or element */
    union {
        struct {         /* VB_JSTRING */
            const char *str;
            size_t len;
        };
        struct {         /* VB_JNUMBER */
            double num;
            int64_t i;
        };
        struct {         /* VB_JARRAY, VB_JOBJECT; NULL for the other types */
            vb_jval *child, *last;
            size_t count;
        };
    };
};

/* Open only for the inline allocation below; use the functions. */
typedef struct vb_jdoc {
    unsigned char *cur, *end;   /* the unused part of the newest block */
    struct vb_jblock *blocks;   /* the newest first; a reset keeps only the largest */
    void *parser;               /* simdjson's, made on the first parse (jparse.cc) */
    void (*parser_free)(void *);
} vb_jdoc;
#define VB_JALIGN 16

vb_jdoc *vb_jdoc_new(void);
void vb_jdoc_free(vb_jdoc *d);
/* Drops the tree (every value made from d becomes invalid) and keeps the memory. */
void vb_jdoc_reset(vb_jdoc *d);

/* Why a parse failed. */
typedef enum vb_jfault {
    VB_JOK,
    VB_JSYNTAX,   /* not well-formed JSON */
    VB_JBIGNUM,   /* a number simdjson cannot hold (past 64 bits or double range) */
    VB_JUTF8,     /* invalid UTF-8 */
    VB_JDEPTH,    /* nested deeper than VB_JMAX_DEPTH */
    VB_JNOMEM
} vb_jfault;
#define VB_JMAX_DEPTH 512

/* Parses len bytes of JSON (one value, white space around it allowed) into a new tree after
 * a reset.  On success *root is the tree.  (jparse.cc: simdjson) */
vb_jfault vb_jdoc_parse(vb_jdoc *d, const char *json, size_t len, vb_jval **root);

/* Arena memory: size bytes, VB_JALIGN-aligned; NULL on allocation failure.  The fast path is
 * inline: it runs for every value of every record. */
void *vb_jalloc_grow(vb_jdoc *d, size_t size);
static inline void *vb_jalloc(vb_jdoc *d, size_t size)
{
    size = (size + VB_JALIGN - 1) & ~(size_t)(VB_JALIGN - 1);
    if (!d->cur || (size_t)(d->end - d->cur) < size)
        return vb_jalloc_grow(d, size);
    void *p = d->cur;
    d->cur += size;
    return p;
}

/* Values owned by d.  NULL on allocation failure.  Strings are copied. */
static inline vb_jval *vb_jnew(vb_jdoc *d, vb_jtype type)
{
    vb_jval *v = (vb_jval *)vb_jalloc(d, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = (uint8_t)type;
    }
    return v;
}
vb_jval *vb_jstr(vb_jdoc *d, const char *s, size_t len);
vb_jval *vb_jint(vb_jdoc *d, int64_t v);
vb_jval *vb_jnum(vb_jdoc *d, double v);
vb_jval *vb_jbool(vb_jdoc *d, bool v);

/* Appends v to an object under key (not copied: a literal or a string owned by d), or to an
 * array (key NULL).  Returns false when parent or v is NULL (an earlier allocation failed).
 * Inline, so that the length of a literal key is known at compile time. */
static inline bool vb_jadd(vb_jval *parent, const char *key, vb_jval *v)
{
    if (!parent || !v)
        return false;
    v->key = key;
    v->klen = key ? (uint32_t)strlen(key) : 0;
    v->next = NULL;
    if (parent->last)
        parent->last->next = v;
    else
        parent->child = v;
    parent->last = v;
    parent->count++;
    return true;
}
/* Removes the members of obj whose names are in keys (NULL-terminated, at most 64). */
void vb_jdrop(vb_jval *obj, const char *const *keys);

/* obj[key] (the first such member), or NULL when obj is not an object or has none. */
vb_jval *vb_jget_n(const vb_jval *obj, const char *key, size_t klen);
static inline vb_jval *vb_jget(const vb_jval *obj, const char *key)
{
    return vb_jget_n(obj, key, strlen(key));
}

static inline bool vb_jis(const vb_jval *v, vb_jtype t) { return v && v->type == (uint8_t)t; }

/* Conversions for the parts of the library that keep cJSON: a deep copy each way. */
cJSON *vb_jto_cjson(const vb_jval *v);
vb_jval *vb_jfrom_cjson(vb_jdoc *d, const cJSON *v);

#ifdef __cplusplus
}
#endif

#endif
