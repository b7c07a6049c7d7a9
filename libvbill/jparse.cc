/*
 * jparse.cc: JSON text -> the arena tree of jdoc.h, parsed by simdjson's DOM parser.
 *
 * The parser (and its padded input copy) is kept by the document and reused record after
 * record.  Strings and keys are not copied: they point into the parser's string buffer,
 * which stays valid until the next parse, as the tree does.  A key ends at its first NUL (an
 * escaped \u0000), as the library's C strings do; a string keeps its full length, so that a
 * string holding a NUL is seen (strlen(str) < len) and refused by record.c.  Built without
 * exceptions: the type is checked before each value_unsafe().
 */
#include "config.h"
#include "jdoc.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <simdjson.h>

namespace {

struct parser {
    simdjson::dom::parser dom;
    char *padded = nullptr;
    size_t cap = 0;
    ~parser() { std::free(padded); }
};

/* Copies one simdjson element (recursively) into the arena. */
vb_jval *convert(vb_jdoc *d, simdjson::dom::element e)
{
    using simdjson::dom::element_type;
    vb_jval *v;
    switch (e.type()) {
    case element_type::OBJECT: {
        v = vb_jnew(d, VB_JOBJECT);
        if (!v)
            return nullptr;
        simdjson::dom::object obj = e.get_object().value_unsafe();
        for (simdjson::dom::key_value_pair kv : obj) {
            vb_jval *m = convert(d, kv.value);
            if (!m)
                return nullptr;
            vb_jadd(v, nullptr, m);
            m->key = kv.key.data(); /* NUL-terminated in simdjson's string buffer */
            m->klen = (uint32_t)strnlen(m->key, kv.key.size());
        }
        return v;
    }
    case element_type::ARRAY: {
        v = vb_jnew(d, VB_JARRAY);
        if (!v)
            return nullptr;
        simdjson::dom::array arr = e.get_array().value_unsafe();
        for (simdjson::dom::element item : arr)
            if (!vb_jadd(v, nullptr, convert(d, item)))
                return nullptr;
        return v;
    }
    case element_type::STRING: {
        v = vb_jnew(d, VB_JSTRING);
        if (v) {
            std::string_view s = e.get_string().value_unsafe();
            v->str = s.data();
            v->len = s.size(); /* may hold a NUL: record.c refuses the record */
        }
        return v;
    }
    case element_type::INT64:
        return vb_jint(d, e.get_int64().value_unsafe());
    case element_type::UINT64:
        return vb_jnum(d, double(e.get_uint64().value_unsafe()));
    case element_type::DOUBLE:
        return vb_jnum(d, e.get_double().value_unsafe());
    case element_type::BOOL:
        return vb_jbool(d, e.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
        break;
    }
    return vb_jnew(d, VB_JNULL);
}

void *parser_new(void)
{
    parser *p = new (std::nothrow) parser;
    if (p && p->dom.allocate(4096, VB_JMAX_DEPTH) != simdjson::SUCCESS) {
        delete p;
        p = nullptr;
    }
    return p;
}

void parser_free(void *p) { delete static_cast<parser *>(p); }

vb_jfault parser_run(void *pp, vb_jdoc *d, const char *json, size_t len, vb_jval **root)
{
    parser *p = static_cast<parser *>(pp);
    /* simdjson reads up to SIMDJSON_PADDING bytes past the end: parse a padded copy. */
    if (len + simdjson::SIMDJSON_PADDING > p->cap) {
        size_t cap = (len + simdjson::SIMDJSON_PADDING) * 2;
        char *b = static_cast<char *>(std::realloc(p->padded, cap));
        if (!b)
            return VB_JNOMEM;
        p->padded = b;
        p->cap = cap;
    }
    std::memcpy(p->padded, json, len);
    std::memset(p->padded + len, 0, simdjson::SIMDJSON_PADDING);
    simdjson::dom::element doc;
    simdjson::error_code err = p->dom.parse(p->padded, len, false).get(doc);
    switch (err) {
    case simdjson::SUCCESS:
        break;
    case simdjson::UTF8_ERROR:
        return VB_JUTF8;
    case simdjson::MEMALLOC:
        return VB_JNOMEM;
    case simdjson::DEPTH_ERROR:
        return VB_JDEPTH;
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
        return VB_JBIGNUM;
    default:
        return VB_JSYNTAX;
    }
    *root = convert(d, doc);
    return *root ? VB_JOK : VB_JNOMEM;
}

} // namespace

extern "C" vb_jfault vb_jdoc_parse(vb_jdoc *d, const char *json, size_t len, vb_jval **root)
{
    *root = nullptr;
    vb_jdoc_reset(d);
    if (!d->parser) {
        if (!(d->parser = parser_new()))
            return VB_JNOMEM;
        d->parser_free = parser_free; /* jdoc.c frees what it cannot know */
    }
    return parser_run(d->parser, d, json, len, root);
}
