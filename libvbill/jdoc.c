/*
 * jdoc.c: the arena JSON tree of jdoc.h: memory, building, lookups, cJSON conversions.
 */
#include "config.h"
#include "jdoc.h"
#include "internal.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct vb_jblock {
    struct vb_jblock *next;
    size_t size;
    alignas(VB_JALIGN) unsigned char data[];
};
typedef struct vb_jblock block;
_Static_assert(VB_JALIGN >= alignof(max_align_t), "arena alignment");

#define FIRST_BLOCK 16384

vb_jdoc *vb_jdoc_new(void) { return calloc(1, sizeof(vb_jdoc)); }

void vb_jdoc_free(vb_jdoc *d)
{
    if (!d)
        return;
    for (block *b = d->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    if (d->parser_free)
        d->parser_free(d->parser);
    free(d);
}

void vb_jdoc_reset(vb_jdoc *d)
{
    block *keep = d->blocks;
    for (block *b = d->blocks; b; b = b->next)
        if (b->size > keep->size)
            keep = b;
    for (block *b = d->blocks, *next; b; b = next) {
        next = b->next;
        if (b != keep)
            free(b);
    }
    d->blocks = keep;
    d->cur = d->end = NULL;
    if (keep) {
        keep->next = NULL;
        d->cur = keep->data;
        d->end = keep->data + keep->size;
    }
}

void *vb_jalloc_grow(vb_jdoc *d, size_t size)
{
    size_t want = d->blocks ? d->blocks->size * 2 : FIRST_BLOCK;
    while (want < size)
        want *= 2;
    block *nb = malloc(sizeof *nb + want);
    if (!nb)
        return NULL;
    nb->size = want;
    nb->next = d->blocks;
    d->blocks = nb;
    d->cur = nb->data + size;
    d->end = nb->data + want;
    return nb->data;
}

vb_jval *vb_jstr(vb_jdoc *d, const char *s, size_t len)
{
    vb_jval *v = vb_jnew(d, VB_JSTRING);
    char *copy = v ? vb_jalloc(d, len + 1) : NULL;
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->str = copy;
    v->len = len;
    return v;
}

vb_jval *vb_jint(vb_jdoc *d, int64_t i)
{
    vb_jval *v = vb_jnew(d, VB_JNUMBER);
    if (v) {
        v->is_int = true;
        v->i = i;
        v->num = (double)i;
    }
    return v;
}

vb_jval *vb_jnum(vb_jdoc *d, double num)
{
    vb_jval *v = vb_jnew(d, VB_JNUMBER);
    if (v)
        v->num = num;
    return v;
}

vb_jval *vb_jbool(vb_jdoc *d, bool b) { return vb_jnew(d, b ? VB_JTRUE : VB_JFALSE); }

void vb_jdrop(vb_jval *obj, const char *const *keys)
{
    if (!vb_jis(obj, VB_JOBJECT))
        return;
    /* Members whose name length no key has are kept without a comparison. */
    size_t lens[64], n = 0;
    uint64_t lengths = 0;
    for (; keys[n] && n < 64; n++) {
        lens[n] = strlen(keys[n]);
        lengths |= UINT64_C(1) << (lens[n] & 63);
    }
    vb_jval *prev = NULL;
    for (vb_jval *m = obj->child; m; m = m->next) {
        bool drop = false;
        if (lengths & (UINT64_C(1) << (m->klen & 63)))
            for (size_t k = 0; k < n && !drop; k++)
                drop = lens[k] == m->klen && memcmp(keys[k], m->key, m->klen) == 0;
        if (!drop) {
            prev = m;
            continue;
        }
        if (prev)
            prev->next = m->next;
        else
            obj->child = m->next;
        if (obj->last == m)
            obj->last = prev;
        obj->count--;
    }
}

vb_jval *vb_jget_n(const vb_jval *obj, const char *key, size_t klen)
{
    if (!obj || obj->type != VB_JOBJECT)
        return NULL;
    for (vb_jval *m = obj->child; m; m = m->next) {
        if (m->klen != klen)
            continue;
        /* Names are short: compared in line, without a call per candidate. */
        size_t i = 0;
        while (i < klen && m->key[i] == key[i])
            i++;
        if (i == klen)
            return m;
    }
    return NULL;
}

cJSON *vb_jto_cjson(const vb_jval *v)
{
    switch (v->type) {
    case VB_JNULL:
        return cJSON_CreateNull();
    case VB_JFALSE:
        return cJSON_CreateFalse();
    case VB_JTRUE:
        return cJSON_CreateTrue();
    case VB_JNUMBER:
        return v->is_int ? vb_json_int(v->i) : cJSON_CreateNumber(v->num);
    case VB_JSTRING:
        return cJSON_CreateString(v->str);
    case VB_JARRAY:
    case VB_JOBJECT:
        break;
    }
    bool obj = v->type == VB_JOBJECT;
    cJSON *out = obj ? cJSON_CreateObject() : cJSON_CreateArray();
    for (const vb_jval *m = v->child; m && out; m = m->next) {
        cJSON *c = vb_jto_cjson(m);
        if (!c || !(obj ? cJSON_AddItemToObject(out, m->key, c) : cJSON_AddItemToArray(out, c))) {
            cJSON_Delete(c);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

vb_jval *vb_jfrom_cjson(vb_jdoc *d, const cJSON *c)
{
    if (!c)
        return NULL;
    if (cJSON_IsString(c) || cJSON_IsRaw(c))
        return vb_jstr(d, c->valuestring ? c->valuestring : "",
                       c->valuestring ? strlen(c->valuestring) : 0);
    if (cJSON_IsNumber(c))
        return vb_jnum(d, c->valuedouble);
    if (cJSON_IsTrue(c) || cJSON_IsFalse(c))
        return vb_jbool(d, cJSON_IsTrue(c));
    if (!cJSON_IsArray(c) && !cJSON_IsObject(c))
        return vb_jnew(d, VB_JNULL);
    bool obj = cJSON_IsObject(c);
    vb_jval *out = vb_jnew(d, obj ? VB_JOBJECT : VB_JARRAY);
    for (const cJSON *m = c->child; m && out; m = m->next) {
        const char *key = NULL;
        if (obj) {
            size_t n = strlen(m->string ? m->string : "");
            char *k = vb_jalloc(d, n + 1);
            if (!k)
                return NULL;
            memcpy(k, m->string ? m->string : "", n + 1);
            key = k;
        }
        if (!vb_jadd(out, key, vb_jfrom_cjson(d, m)))
            return NULL;
    }
    return out;
}
