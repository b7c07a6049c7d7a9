/*
 * vbill.c: the Lua 5.4 binding of libvbill (module "vbill").
 *
 * A thin layer: every method is one C call.  Records, rule sets and data go in as Lua tables
 * (converted to JSON here with cJSON) or as JSON strings (passed through unchanged, so the
 * library judges them); structured results come back as Lua tables, or with the *_json
 * methods as the library's JSON text unchanged.  Failures return nil, message, code in the
 * Lua convention (code is the vbill_status number; vbill.status maps names to numbers).
 *
 * JSON mapping: objects and arrays become tables (marked with the metatables vbill.object /
 * vbill.array so they encode back the same way); JSON null is nil inside objects and
 * vbill.null inside arrays; an empty unmarked table encodes as {} (use vbill.array() for []);
 * integers stay integers.
 *
 * Handles (Context, Keys, Store, Hooks) are full userdata with named metatables; __gc and
 * __close release them and are safe to run twice.  A context may be used by one Lua state at a
 * time; Hooks keep their context alive.
 */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <vbill.h>

#define CTX_MT "vbill.Context"
#define KEYS_MT "vbill.Keys"
#define STORE_MT "vbill.Store"
#define HOOKS_MT "vbill.Hooks"
#define TEMPLATE_MT "vbill.Template"
#define BOX_MT "vbill.box"
#define OBJECT_MT "vbill.object"
#define ARRAY_MT "vbill.array"
#define MAX_DEPTH 200
#define MAX_ARGS 8 /* the most arguments of any method, self included */

/* Calls that later libvbill versions add are weak, so this module still loads against a
 * library without them and reports "not available" for those calls only. */
#pragma weak vbill_mustache_render
#pragma weak vbill_template_open
#pragma weak vbill_template_prepare
#pragma weak vbill_template_is_prepared
#pragma weak vbill_template_scenario
#pragma weak vbill_template_info
#pragma weak vbill_template_free
#pragma weak vbill_render_mp4
#pragma weak vbill_render_hls
#pragma weak vbill_render_segment
#pragma weak vbill_template_builtin_write
#pragma weak vbill_template_builtin_list
#pragma weak vbill_hooks_open
#pragma weak vbill_hooks_free
#pragma weak vbill_hooks_set_callback
#pragma weak vbill_hooks_emit
#pragma weak vbill_hooks_emit_still
#pragma weak vbill_hooks_event_data
#pragma weak vbill_hooks_pump
#pragma weak vbill_hooks_pending
#pragma weak vbill_hooks_start
#pragma weak vbill_hooks_stop
#pragma weak vbill_hooks_status
#pragma weak vbill_hooks_dead
#pragma weak vbill_hooks_replay
#pragma weak vbill_chat_answer
#pragma weak vbill_still_jpeg

typedef struct lctx {
    vbill_ctx *ctx;
    lua_State *L;  /* the state of the call in progress (for the log callback) */
    int log_ref;   /* registry reference of the log function, LUA_NOREF when none */
    int refs;      /* open Hooks that report on this context */
    int closed;    /* closed by the program; freed once refs reaches 0 */
} lctx;

typedef struct lkeys {
    vbill_keys *keys;
} lkeys;

typedef struct lstore {
    vbill_store *store;
} lstore;

typedef struct ltemplate {
    vbill_template *t;
} ltemplate;

typedef struct lhooks {
    vbill_hooks *h;
    lctx *owner;
    lua_State *L;
    int ncallbacks;
} lhooks;

/* A userdata owning a C allocation until it is handed over, so a Lua error (memory) while
 * converting a result never leaks it. */
typedef struct box {
    void *p;
    void (*release)(void *);
} box;

/* ---- helpers ---------------------------------------------------------------------------- */

static int box_gc(lua_State *L)
{
    box *b = luaL_checkudata(L, 1, BOX_MT);
    if (b->p && b->release)
        b->release(b->p);
    b->p = NULL;
    return 0;
}

static box *box_push(lua_State *L, void *p, void (*release)(void *))
{
    box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->p = NULL;
    b->release = NULL;
    luaL_setmetatable(L, BOX_MT);
    b->p = p;
    b->release = release;
    return b;
}

static void drop(box *b)
{
    if (b && b->p) {
        b->release(b->p);
        b->p = NULL;
    }
}

static void release_cjson(void *p)
{
    cJSON_Delete(p);
}

static int push_error(lua_State *L, vbill_status st, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg && *msg ? msg : vbill_strerror(st));
    lua_pushinteger(L, (lua_Integer)st);
    return 3;
}

static int ctx_error(lua_State *L, lctx *c, vbill_status st)
{
    return push_error(L, st, vbill_ctx_errmsg(c ? c->ctx : NULL));
}

static int unavailable(lua_State *L, const char *name)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s is not in the loaded libvbill %s", name, vbill_version());
    lua_pushinteger(L, VBILL_ERR_ARG);
    return 3;
}

#define REQUIRE(fn) \
    do { \
        if (!(fn)) \
            return unavailable(L, #fn); \
    } while (0)

/* ---- Lua value -> JSON ------------------------------------------------------------------ */

static int has_mt(lua_State *L, int idx, const char *name)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, name);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* Length n when the table is a sequence 1..n with no other keys, else -1. */
static lua_Integer array_length(lua_State *L, int idx)
{
    lua_Integer n = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max)
            max = k;
        n++;
    }
    return n == max ? n : -1;
}

/* Converts the value at idx; NULL with *err set on failure (never raises but for memory). */
static cJSON *to_json(lua_State *L, int idx, int depth, const char **err)
{
    idx = lua_absindex(L, idx);
    if (depth > MAX_DEPTH) {
        *err = "value nested too deeply (or a cycle)";
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return cJSON_CreateNull();
        *err = "cannot convert a userdata to JSON";
        return NULL;
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double d = lua_isinteger(L, idx) ? (double)lua_tointeger(L, idx) : lua_tonumber(L, idx);
        if (!isfinite(d)) {
            *err = "cannot convert NaN or infinity to JSON";
            return NULL;
        }
        return cJSON_CreateNumber(d);
    }
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE:
        break;
    default:
        *err = "cannot convert a function, thread or userdata to JSON";
        return NULL;
    }
    if (!lua_checkstack(L, 4)) {
        *err = "out of Lua stack";
        return NULL;
    }
    lua_Integer n = array_length(L, idx);
    int as_array = has_mt(L, idx, ARRAY_MT) || (n > 0 && !has_mt(L, idx, OBJECT_MT));
    cJSON *out;
    if (as_array) {
        if (n < 0) {
            *err = "a table marked as an array has keys other than 1..n";
            return NULL;
        }
        out = cJSON_CreateArray();
        for (lua_Integer i = 1; out && i <= n; i++) {
            lua_rawgeti(L, idx, i);
            cJSON *item = to_json(L, -1, depth + 1, err);
            lua_pop(L, 1);
            if (!item) {
                cJSON_Delete(out);
                return NULL;
            }
            cJSON_AddItemToArray(out, item);
        }
        return out;
    }
    out = cJSON_CreateObject();
    if (!out)
        return NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key;
        char num[32];
        if (lua_type(L, -2) == LUA_TSTRING) {
            key = lua_tostring(L, -2);
        } else if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
            snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -2));
            key = num;
        } else {
            lua_pop(L, 2);
            cJSON_Delete(out);
            *err = "a table key is not a string or an integer";
            return NULL;
        }
        cJSON *item = to_json(L, -1, depth + 1, err);
        if (!item) {
            lua_pop(L, 2);
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToObject(out, key, item);
        lua_pop(L, 1);
    }
    return out;
}

/* The JSON text for argument idx: a string is used as it is (not copied: *owned NULL); a
 * table is encoded (*owned is the box holding it: drop() it after the call).  NULL with
 * (nil, msg, code: 3 values) in *nret when the value cannot be converted.  When optional and
 * the argument is nil/none, returns NULL with *nret 0. */
static const char *arg_json(lua_State *L, int idx, int optional, box **owned, size_t *len,
                            int *nret)
{
    *owned = NULL;
    *nret = 0;
    /* Boxes and results go above the arguments: pad the stack so that an optional argument
     * read after this call is nil, not a box. */
    if (lua_gettop(L) < MAX_ARGS)
        lua_settop(L, MAX_ARGS);
    if (optional && lua_isnoneornil(L, idx))
        return NULL;
    if (lua_type(L, idx) == LUA_TSTRING)
        return lua_tolstring(L, idx, len);
    if (lua_type(L, idx) != LUA_TTABLE) {
        *nret = push_error(L, VBILL_ERR_ARG, lua_pushfstring(L, "bad argument #%d: a table or "
                                                             "a JSON string expected, got %s",
                                                             idx - 1, luaL_typename(L, idx)));
        return NULL;
    }
    const char *err = "out of memory";
    cJSON *j = to_json(L, idx, 0, &err);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        *nret = push_error(L, j ? VBILL_ERR_NOMEM : VBILL_ERR_ARG, err);
        return NULL;
    }
    /* Held in a box left on the stack (the GC cannot take it while in use) until the caller
     * drops it, so a Lua error cannot leak it. */
    *owned = box_push(L, text, free);
    *len = strlen(text);
    return text;
}

/* ---- JSON -> Lua value ------------------------------------------------------------------ */

static void push_json(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "JSON nested too deeply");
    if (cJSON_IsNull(j) || depth > MAX_DEPTH) {
        lua_pushlightuserdata(L, NULL);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        lua_Integer i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
        luaL_setmetatable(L, ARRAY_MT);
    } else if (cJSON_IsObject(j)) {
        lua_createtable(L, 0, cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) {
            if (cJSON_IsNull(c))
                continue; /* null members read as nil */
            push_json(L, c, depth + 1);
            lua_setfield(L, -2, c->string);
        }
        luaL_setmetatable(L, OBJECT_MT);
    } else {
        lua_pushnil(L);
    }
}

/* Pushes a library-owned JSON string as a table (or as the text when as_text) and frees it. */
static int push_result(lua_State *L, char *text, int as_text)
{
    box *b = box_push(L, text, vbill_free);
    if (as_text) {
        lua_pushstring(L, text ? text : "");
        return 1;
    }
    cJSON *j = cJSON_Parse(text ? text : "null");
    if (!j)
        return push_error(L, VBILL_ERR_JSON, "the library returned malformed JSON");
    box_push(L, j, release_cjson);
    push_json(L, j, 0);
    (void)b;
    return 1;
}

/* ---- module functions --------------------------------------------------------------------- */

static int l_version(lua_State *L)
{
    lua_pushstring(L, vbill_version());
    return 1;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, vbill_strerror((vbill_status)luaL_checkinteger(L, 1)));
    return 1;
}

/* vbill.default_rules() -> the built-in rule set as a table (vbill.default_rules_json is
 * the text). */
static int l_default_rules(lua_State *L)
{
    cJSON *j = cJSON_Parse(vbill_default_rules());
    if (!j)
        return push_error(L, VBILL_ERR_JSON, "the library returned malformed JSON");
    box_push(L, j, release_cjson);
    push_json(L, j, 0);
    return 1;
}

static int l_to_json(lua_State *L)
{
    luaL_checkany(L, 1);
    const char *err = "out of memory";
    cJSON *j = to_json(L, 1, 0, &err);
    if (!j)
        return push_error(L, VBILL_ERR_ARG, err);
    box_push(L, j, release_cjson);
    char *text = cJSON_PrintUnformatted(j);
    if (!text)
        return push_error(L, VBILL_ERR_NOMEM, "out of memory");
    box_push(L, text, free);
    lua_pushstring(L, text);
    return 1;
}

static int l_from_json(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    cJSON *j = cJSON_ParseWithLength(s, len);
    if (!j)
        return push_error(L, VBILL_ERR_JSON, "not well-formed JSON");
    box_push(L, j, release_cjson);
    push_json(L, j, 0);
    return 1;
}

static int l_euckr_bytes(lua_State *L)
{
    size_t n = 0;
    vbill_status st = vbill_text_euckr_bytes(luaL_checkstring(L, 1), &n);
    if (st != VBILL_OK)
        return push_error(L, st, "text is not valid UTF-8");
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int l_marker(lua_State *L, const char *mt)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    else
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, mt);
    return 1;
}

static int l_array(lua_State *L)
{
    return l_marker(L, ARRAY_MT);
}

static int l_object(lua_State *L)
{
    return l_marker(L, OBJECT_MT);
}

/* ---- Context ---------------------------------------------------------------------------- */

static lctx *check_ctx(lua_State *L, int idx)
{
    lctx *c = luaL_checkudata(L, idx, CTX_MT);
    if (!c->ctx || c->closed)
        luaL_error(L, "vbill: the context is closed");
    c->L = L;
    return c;
}

static void log_trampoline(void *user, vbill_log_level level, const char *message)
{
    lctx *c = user;
    lua_State *L = c->L;
    if (!L || c->log_ref == LUA_NOREF || !lua_checkstack(L, 4))
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->log_ref);
    lua_pushinteger(L, (lua_Integer)level);
    lua_pushstring(L, message);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        lua_pop(L, 1); /* an error in a log function must not unwind through the library */
}

static void ctx_release(lua_State *L, lctx *c)
{
    if (c->ctx && c->refs == 0) {
        vbill_ctx_free(c->ctx);
        c->ctx = NULL;
        if (c->log_ref != LUA_NOREF && L)
            luaL_unref(L, LUA_REGISTRYINDEX, c->log_ref);
        c->log_ref = LUA_NOREF;
    }
}

static int ctx_close(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    c->closed = 1;
    ctx_release(L, c);
    return 0;
}

static int ctx_set_rules(lua_State *L);

/* vbill.new([rules]) -> context (rules: a table or JSON text, as ctx:set_rules) */
static int l_new(lua_State *L)
{
    lua_settop(L, 1);
    lctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->log_ref = LUA_NOREF;
    luaL_setmetatable(L, CTX_MT);
    vbill_status st = vbill_ctx_new(&c->ctx);
    if (st != VBILL_OK)
        return push_error(L, st, "cannot create a context");
    if (!lua_isnoneornil(L, 1)) {
        lua_pushcfunction(L, ctx_set_rules);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, 1);
        lua_call(L, 2, 3);
        if (lua_isnil(L, -3))
            return 3;
        lua_pop(L, 3);
    }
    return 1;
}

static int ctx_errmsg(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    lua_pushstring(L, c->ctx ? vbill_ctx_errmsg(c->ctx) : "");
    return 1;
}

static int ok_or_error(lua_State *L, lctx *c, vbill_status st)
{
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    lua_pushboolean(L, 1);
    return 1;
}

static int ctx_set_rules(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 2, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_ctx_set_rules(c->ctx, json, len);
    drop(owned);
    return ok_or_error(L, c, st);
}

static int ctx_load_rules(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    return ok_or_error(L, c, vbill_ctx_load_rules(c->ctx, luaL_checkstring(L, 2)));
}

static int ctx_set_senior(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    return ok_or_error(L, c, vbill_ctx_set_senior(c->ctx, (int)luaL_checkinteger(L, 2),
                                                  luaL_checknumber(L, 3)));
}

static int ctx_set_partials_dir(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    return ok_or_error(L, c, vbill_ctx_set_partials_dir(c->ctx, luaL_optstring(L, 2, NULL)));
}

/* ctx:set_log(fn, level): fn(level, message) receives the log lines up to level (default
 * vbill.LOG_WARN); ctx:set_log(nil) removes it. */
static int ctx_set_log(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lua_Integer level = luaL_optinteger(L, 3, VBILL_LOG_WARN);
    if (c->log_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, c->log_ref);
    c->log_ref = LUA_NOREF;
    if (lua_isnoneornil(L, 2)) {
        vbill_ctx_set_log(c->ctx, NULL, NULL, VBILL_LOG_WARN);
    } else {
        luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_pushvalue(L, 2);
        c->log_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        vbill_ctx_set_log(c->ctx, log_trampoline, c, (vbill_log_level)level);
    }
    lua_pushboolean(L, 1);
    return 1;
}

typedef vbill_status (*record_fn)(vbill_ctx *, const char *, size_t, long, char **);

static int record_call(lua_State *L, record_fn fn, int as_text)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 2, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    long line = (long)luaL_optinteger(L, 3, 0);
    vbill_status st = fn(c->ctx, json, len, line, &out);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, as_text);
}

static int ctx_classify(lua_State *L) { return record_call(L, vbill_classify, 0); }
static int ctx_classify_json(lua_State *L) { return record_call(L, vbill_classify, 1); }
static int ctx_fill(lua_State *L) { return record_call(L, vbill_fill, 0); }
static int ctx_fill_json(lua_State *L) { return record_call(L, vbill_fill, 1); }
static int ctx_fill_context(lua_State *L) { return record_call(L, vbill_fill_context, 0); }
static int ctx_fill_context_json(lua_State *L) { return record_call(L, vbill_fill_context, 1); }

static int ctx_default_slots(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    char *out = NULL;
    vbill_status st = vbill_default_slots(c->ctx, luaL_checkstring(L, 2),
                                          luaL_optstring(L, 3, "ko-KR"), &out);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

static int mustache_on(lua_State *L, lctx *c, int base)
{
    REQUIRE(vbill_mustache_render);
    size_t tlen;
    const char *tmpl = luaL_checklstring(L, base, &tlen);
    box *owned_d;
    box *owned_p;
    char *out = NULL;
    size_t dlen = 0, plen = 0, olen = 0;
    int nret;
    const char *data = arg_json(L, base + 1, 0, &owned_d, &dlen, &nret);
    if (!data)
        return nret;
    const char *partials = arg_json(L, base + 2, 1, &owned_p, &plen, &nret);
    if (nret) {
        drop(owned_d);
        return nret;
    }
    vbill_status st = vbill_mustache_render(c->ctx, tmpl, tlen, data, partials, &out, &olen);
    drop(owned_d);
    drop(owned_p);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    box_push(L, out, vbill_free);
    lua_pushlstring(L, out ? out : "", olen);
    return 1;
}

static int ctx_mustache(lua_State *L)
{
    return mustache_on(L, check_ctx(L, 1), 2);
}

/* vbill.mustache(template, data [, partials]) with a one-off context. */
static int l_mustache(lua_State *L)
{
    lua_settop(L, 3);
    lctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->log_ref = LUA_NOREF;
    luaL_setmetatable(L, CTX_MT);
    vbill_status st = vbill_ctx_new(&c->ctx);
    if (st != VBILL_OK)
        return push_error(L, st, "cannot create a context");
    int n = mustache_on(L, c, 1);
    c->closed = 1;
    ctx_release(L, c);
    return n;
}

/* ---- Keys, Store: signed links and the knowledge check ---------------------------------- */

static lkeys *check_keys(lua_State *L, int idx)
{
    lkeys *k = luaL_checkudata(L, idx, KEYS_MT);
    if (!k->keys)
        luaL_error(L, "vbill: the keys are closed");
    return k;
}

static lstore *check_store(lua_State *L, int idx)
{
    lstore *s = luaL_checkudata(L, idx, STORE_MT);
    if (!s->store)
        luaL_error(L, "vbill: the store is closed");
    return s;
}

static int keys_close(lua_State *L)
{
    lkeys *k = luaL_checkudata(L, 1, KEYS_MT);
    vbill_keys_free(k->keys);
    k->keys = NULL;
    return 0;
}

static int store_close(lua_State *L)
{
    lstore *s = luaL_checkudata(L, 1, STORE_MT);
    vbill_store_free(s->store);
    s->store = NULL;
    return 0;
}

static int ctx_generate_keys(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *existing = arg_json(L, 2, 1, &owned, &len, &nret);
    if (nret)
        return nret;
    vbill_status st = vbill_keys_generate(c->ctx, existing, &out);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

static int ctx_keys(lua_State *L, int from_file)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = lua_newuserdatauv(L, sizeof *k, 0);
    int kidx = lua_gettop(L);
    k->keys = NULL;
    luaL_setmetatable(L, KEYS_MT);
    vbill_status st;
    if (from_file) {
        st = vbill_keys_load(c->ctx, luaL_checkstring(L, 2), &k->keys);
    } else {
        box *owned;
        size_t len = 0;
        int nret;
        const char *json = arg_json(L, 2, 0, &owned, &len, &nret);
        if (!json)
            return nret;
        st = vbill_keys_from_json(c->ctx, json, len, &k->keys);
        drop(owned);
    }
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    lua_pushvalue(L, kidx);
    return 1;
}

static int ctx_keys_from_json(lua_State *L) { return ctx_keys(L, 0); }
static int ctx_load_keys(lua_State *L) { return ctx_keys(L, 1); }

static int keys_set_session_ttl(lua_State *L)
{
    lkeys *k = check_keys(L, 1);
    vbill_status st = vbill_keys_set_session_ttl(k->keys, (int64_t)luaL_checkinteger(L, 2));
    if (st != VBILL_OK)
        return push_error(L, st, "session ttl out of range");
    lua_pushboolean(L, 1);
    return 1;
}

static int ctx_open_store(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *path = luaL_checkstring(L, 2);
    lstore *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->store = NULL;
    luaL_setmetatable(L, STORE_MT);
    vbill_status st = vbill_store_open_sqlite(c->ctx, path, &s->store);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

static int ctx_open_redis_store(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *host = luaL_optstring(L, 2, "127.0.0.1");
    int port = (int)luaL_optinteger(L, 3, 6379);
    const char *prefix = luaL_optstring(L, 4, NULL);
    lstore *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->store = NULL;
    luaL_setmetatable(L, STORE_MT);
    vbill_status st = vbill_store_open_redis(c->ctx, host, port, prefix, &s->store);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* store:set_limits(soft, cooling_seconds, hard, client_max, client_window_seconds) */
static int store_set_limits(lua_State *L)
{
    lstore *s = check_store(L, 1);
    vbill_status st = vbill_store_set_limits(
        s->store, (int)luaL_optinteger(L, 2, 5), (int64_t)luaL_optinteger(L, 3, 900),
        (int)luaL_optinteger(L, 4, 10), (int)luaL_optinteger(L, 5, 30),
        (int64_t)luaL_optinteger(L, 6, 3600));
    if (st != VBILL_OK)
        return push_error(L, st, "limits out of range (each >= 1, soft <= hard)");
    lua_pushboolean(L, 1);
    return 1;
}

/* ctx:link_issue(keys, record, ttl_seconds [, now]) -> token */
static int ctx_link_issue(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lua_Integer ttl = luaL_checkinteger(L, 4);
    lua_Integer now = luaL_optinteger(L, 5, 0);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 3, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_link_issue(c->ctx, k->keys, json, len, (int64_t)now,
                                       (int64_t)ttl, &out);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ctx:link_verify(keys, token [, now]) -> info table */
static int ctx_link_verify(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    char *out = NULL;
    vbill_status st = vbill_link_verify(c->ctx, k->keys, luaL_checkstring(L, 3),
                                        (int64_t)luaL_optinteger(L, 4, 0), &out);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:link_reissue(keys, old_token, record, ttl_seconds [, now]) -> token */
static int ctx_link_reissue(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    const char *old = luaL_checkstring(L, 3);
    lua_Integer ttl = luaL_checkinteger(L, 5);
    lua_Integer now = luaL_optinteger(L, 6, 0);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 4, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_link_reissue(c->ctx, k->keys, old, json, len, (int64_t)now,
                                         (int64_t)ttl, &out);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ctx:link_unlock(keys, store, token) -> true */
static int ctx_link_unlock(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = check_store(L, 3);
    return ok_or_error(L, c, vbill_link_unlock(c->ctx, k->keys, s->store,
                                               luaL_checkstring(L, 4)));
}

/* ctx:auth_check(keys, store, token, digits [, client [, now]]) -> session token */
static int ctx_auth_check(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = check_store(L, 3);
    char *out = NULL;
    vbill_status st = vbill_auth_check(c->ctx, k->keys, s->store, luaL_checkstring(L, 4),
                                       luaL_checkstring(L, 5), luaL_optstring(L, 6, ""),
                                       (int64_t)luaL_optinteger(L, 7, 0), &out);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ctx:session_verify(keys, session, link_token [, client [, store [, now]]]) -> true */
static int ctx_session_verify(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = lua_isnoneornil(L, 6) ? NULL : check_store(L, 6);
    return ok_or_error(L, c, vbill_session_verify(c->ctx, k->keys, s ? s->store : NULL,
                                                  luaL_checkstring(L, 3),
                                                  luaL_checkstring(L, 4),
                                                  luaL_optstring(L, 5, ""),
                                                  (int64_t)luaL_optinteger(L, 7, 0)));
}

/* ctx:message_build(record, url [, template]) -> SMS text */
static int ctx_message_build(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *url = luaL_checkstring(L, 3);
    const char *tmpl = luaL_optstring(L, 4, NULL);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 2, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_message_build(c->ctx, json, len, url, tmpl, &out);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ---- Templates: prepare and render -------------------------------------------------------- */

static ltemplate *check_template(lua_State *L, int idx)
{
    ltemplate *t = luaL_checkudata(L, idx, TEMPLATE_MT);
    if (!t->t)
        luaL_error(L, "vbill: the template is closed");
    return t;
}

static int template_close(lua_State *L)
{
    ltemplate *t = luaL_checkudata(L, 1, TEMPLATE_MT);
    if (t->t && vbill_template_free)
        vbill_template_free(t->t);
    t->t = NULL;
    return 0;
}

/* ctx:open_template(dir) -> template (keeps ctx alive: template:prepare() reports there) */
static int ctx_open_template(lua_State *L)
{
    REQUIRE(vbill_template_open);
    lctx *c = check_ctx(L, 1);
    const char *dir = luaL_checkstring(L, 2);
    ltemplate *t = lua_newuserdatauv(L, sizeof *t, 1);
    t->t = NULL;
    luaL_setmetatable(L, TEMPLATE_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    vbill_status st = vbill_template_open(c->ctx, dir, &t->t);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* template:prepare([ctx]) -> true: normalises the base video once (cached); idempotent. */
static int template_prepare(lua_State *L)
{
    ltemplate *t = check_template(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_getiuservalue(L, 1, 1);
    }
    lctx *c = check_ctx(L, 2);
    return ok_or_error(L, c, vbill_template_prepare(c->ctx, t->t));
}

static int template_is_prepared(lua_State *L)
{
    lua_pushboolean(L, vbill_template_is_prepared(check_template(L, 1)->t));
    return 1;
}

static int template_scenario(lua_State *L)
{
    lua_pushstring(L, vbill_template_scenario(check_template(L, 1)->t));
    return 1;
}

static int template_info(lua_State *L)
{
    char *out = vbill_template_info(check_template(L, 1)->t);
    if (!out)
        return push_error(L, VBILL_ERR_NOMEM, "out of memory");
    return push_result(L, out, 0);
}

/* ctx:render_mp4(template, record, out_path [, speed]) -> true (speed 0/nil: automatic) */
static int ctx_render_mp4(lua_State *L)
{
    REQUIRE(vbill_render_mp4);
    lctx *c = check_ctx(L, 1);
    ltemplate *t = check_template(L, 2);
    const char *out = luaL_checkstring(L, 4);
    double speed = luaL_optnumber(L, 5, 0.0);
    box *owned;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 3, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_render_mp4(c->ctx, t->t, json, len, speed, out);
    drop(owned);
    return ok_or_error(L, c, st);
}

/* ctx:render_hls(template, record, out_dir [, speed [, shared_url]]) -> true */
static int ctx_render_hls(lua_State *L)
{
    REQUIRE(vbill_render_hls);
    lctx *c = check_ctx(L, 1);
    ltemplate *t = check_template(L, 2);
    const char *out = luaL_checkstring(L, 4);
    double speed = luaL_optnumber(L, 5, 0.0);
    const char *shared = luaL_optstring(L, 6, NULL);
    box *owned;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 3, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_render_hls(c->ctx, t->t, json, len, speed, out, shared);
    drop(owned);
    return ok_or_error(L, c, st);
}

/* ctx:render_segment(template, record, segment, out_path [, speed]) -> true */
static int ctx_render_segment(lua_State *L)
{
    REQUIRE(vbill_render_segment);
    lctx *c = check_ctx(L, 1);
    ltemplate *t = check_template(L, 2);
    int segment = (int)luaL_checkinteger(L, 4);
    const char *out = luaL_checkstring(L, 5);
    double speed = luaL_optnumber(L, 6, 0.0);
    box *owned;
    size_t len = 0;
    int nret;
    const char *json = arg_json(L, 3, 0, &owned, &len, &nret);
    if (!json)
        return nret;
    vbill_status st = vbill_render_segment(c->ctx, t->t, json, len, speed, segment, out);
    drop(owned);
    return ok_or_error(L, c, st);
}

/* ctx:write_builtin_template(scenario, dir) -> true */
static int ctx_write_builtin_template(lua_State *L)
{
    REQUIRE(vbill_template_builtin_write);
    lctx *c = check_ctx(L, 1);
    return ok_or_error(L, c, vbill_template_builtin_write(c->ctx, luaL_checkstring(L, 2),
                                                          luaL_checkstring(L, 3)));
}

/* vbill.builtin_templates() -> { scenario ids } */
static int l_builtin_templates(lua_State *L)
{
    REQUIRE(vbill_template_builtin_list);
    cJSON *j = cJSON_Parse(vbill_template_builtin_list());
    if (!j)
        return push_error(L, VBILL_ERR_JSON, "the library returned malformed JSON");
    box_push(L, j, release_cjson);
    push_json(L, j, 0);
    return 1;
}

/* ---- Hooks: events, outbox, chat -------------------------------------------------------- */

static lhooks *check_hooks(lua_State *L, int idx)
{
    lhooks *h = luaL_checkudata(L, idx, HOOKS_MT);
    if (!h->h)
        luaL_error(L, "vbill: the hooks handle is closed");
    h->L = L;
    return h;
}

static int hooks_error(lua_State *L, lhooks *h, vbill_status st)
{
    return push_error(L, st, h->owner && h->owner->ctx ? vbill_ctx_errmsg(h->owner->ctx) : NULL);
}

static int hooks_close(lua_State *L)
{
    lhooks *h = luaL_checkudata(L, 1, HOOKS_MT);
    if (h->h) {
        vbill_hooks_free(h->h);
        h->h = NULL;
        /* Drop the callback functions kept in the registry. */
        if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushnil(L);
                lua_rawsetp(L, LUA_REGISTRYINDEX, lua_touserdata(L, -2));
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
        if (h->owner) {
            h->owner->refs--;
            if (h->owner->closed)
                ctx_release(L, h->owner);
        }
        h->owner = NULL;
    }
    return 0;
}

/* ctx:open_hooks(state_dir [, config]) -> hooks */
static int ctx_open_hooks(lua_State *L)
{
    REQUIRE(vbill_hooks_open);
    lctx *c = check_ctx(L, 1);
    const char *dir = luaL_checkstring(L, 2);
    box *owned;
    size_t len = 0;
    int nret;
    const char *config = arg_json(L, 3, 1, &owned, &len, &nret);
    if (nret)
        return nret;
    lhooks *h = lua_newuserdatauv(L, sizeof *h, 2);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, HOOKS_MT);
    lua_pushvalue(L, 1); /* the context lives as long as the handle */
    lua_setiuservalue(L, -2, 1);
    lua_newtable(L); /* callback functions by sink name */
    lua_setiuservalue(L, -2, 2);
    vbill_status st = vbill_hooks_open(c->ctx, dir, config, &h->h);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    h->owner = c;
    c->refs++;
    return 1;
}

typedef struct hook_cb {
    lhooks *h;
    char name[64];
} hook_cb;

static int hook_trampoline(void *user, const char *type, const char *event_json)
{
    hook_cb *cb = user;
    lua_State *L = cb->h->L;
    if (!L || !lua_checkstack(L, 6))
        return -1;
    /* The callbacks table is the hooks userdata's user value 2: find it through the registry
     * entry set up by set_callback. */
    lua_rawgetp(L, LUA_REGISTRYINDEX, cb);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    lua_pushstring(L, type);
    cJSON *j = cJSON_Parse(event_json);
    if (!j) {
        lua_pop(L, 2);
        return -1;
    }
    box_push(L, j, release_cjson);
    lua_insert(L, -3); /* box below the function */
    push_json(L, j, 0);
    int r = -1;
    if (lua_pcall(L, 2, 1, 0) == LUA_OK) {
        r = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1)
                                 : (lua_isnumber(L, -1) ? (int)lua_tonumber(L, -1)
                                                        : (lua_toboolean(L, -1) || lua_isnil(L, -1)
                                                               ? 0 : -1));
    }
    lua_pop(L, 2); /* result or error, box */
    return r;
}

/* hooks:set_callback(name, fn [, events]): fn(type, event) returns nil/0 when handled, a
 * positive number of seconds to retry after, or a negative number (or false) for the usual
 * backoff.  Callbacks run inside hooks:pump(); a handle with callbacks refuses start(). */
static int hooks_set_callback(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *name = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_argcheck(L, strlen(name) < sizeof((hook_cb *)0)->name, 2, "name too long");
    box *owned;
    size_t len = 0;
    int nret;
    const char *events = arg_json(L, 4, 1, &owned, &len, &nret);
    if (nret)
        return nret;
    /* The trampoline's state is a userdata kept in the callbacks table by name; the Lua
     * function is found by its address in the registry. */
    lua_getiuservalue(L, 1, 2);
    hook_cb *cb = lua_newuserdatauv(L, sizeof *cb, 0);
    cb->h = h;
    snprintf(cb->name, sizeof cb->name, "%s", name);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    lua_pushvalue(L, 3);
    lua_rawsetp(L, LUA_REGISTRYINDEX, cb);
    vbill_status st = vbill_hooks_set_callback(h->h, name, events, hook_trampoline, cb);
    drop(owned);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    h->ncallbacks++;
    lua_pushboolean(L, 1);
    return 1;
}

/* hooks:emit(type [, data [, subject]]) -> event id */
static int hooks_emit(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *type = luaL_checkstring(L, 2);
    const char *subject = luaL_optstring(L, 4, NULL);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *data = arg_json(L, 3, 1, &owned, &len, &nret);
    if (nret)
        return nret;
    vbill_status st = vbill_hooks_emit(h->h, type, subject, data, &out);
    drop(owned);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    return push_result(L, out, 1);
}

/* hooks:emit_still(type, video_path, position_s [, data [, subject]]) -> event id */
static int hooks_emit_still(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *type = luaL_checkstring(L, 2);
    const char *video = luaL_checkstring(L, 3);
    double pos = luaL_checknumber(L, 4);
    const char *subject = luaL_optstring(L, 6, NULL);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    int nret;
    const char *data = arg_json(L, 5, 1, &owned, &len, &nret);
    if (nret)
        return nret;
    vbill_status st = vbill_hooks_emit_still(h->h, type, subject, data, video, pos, &out);
    drop(owned);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    return push_result(L, out, 1);
}

static int hooks_pump(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    size_t n = 0;
    vbill_status st = vbill_hooks_pump(h->h, (unsigned)luaL_optinteger(L, 2, 0), &n);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int hooks_pending(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    size_t n = 0;
    int64_t due = 0;
    vbill_status st = vbill_hooks_pending(h->h, &n, &due);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    lua_pushinteger(L, (lua_Integer)n);
    lua_pushinteger(L, (lua_Integer)due);
    return 2;
}

static int hooks_start(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    if (h->ncallbacks)
        return push_error(L, VBILL_ERR_ARG, "a handle with Lua callback sinks must be pumped "
                                            "with hooks:pump(), not by the worker thread");
    vbill_status st = vbill_hooks_start(h->h);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    lua_pushboolean(L, 1);
    return 1;
}

static int hooks_stop(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    vbill_status st = vbill_hooks_stop(h->h);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    lua_pushboolean(L, 1);
    return 1;
}

static int hooks_json_call(lua_State *L, vbill_status (*fn)(vbill_hooks *, char **))
{
    lhooks *h = check_hooks(L, 1);
    char *out = NULL;
    vbill_status st = fn(h->h, &out);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    return push_result(L, out, 0);
}

static int hooks_status(lua_State *L)
{
    REQUIRE(vbill_hooks_status);
    return hooks_json_call(L, vbill_hooks_status);
}

static int hooks_dead(lua_State *L)
{
    REQUIRE(vbill_hooks_dead);
    return hooks_json_call(L, vbill_hooks_dead);
}

static int hooks_replay(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    size_t n = 0;
    vbill_status st = vbill_hooks_replay(h->h, luaL_optstring(L, 2, NULL), &n);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* ctx:event_data(record [, link [, extra]]) -> table */
static int ctx_event_data(lua_State *L)
{
    REQUIRE(vbill_hooks_event_data);
    lctx *c = check_ctx(L, 1);
    const char *link = luaL_optstring(L, 3, NULL);
    box *owned_r;
    box *owned_e;
    char *out = NULL;
    size_t len = 0, elen = 0;
    int nret;
    const char *rec = arg_json(L, 2, 0, &owned_r, &len, &nret);
    if (!rec)
        return nret;
    const char *extra = arg_json(L, 4, 1, &owned_e, &elen, &nret);
    if (nret) {
        drop(owned_r);
        return nret;
    }
    vbill_status st = vbill_hooks_event_data(c->ctx, rec, link, extra, &out);
    drop(owned_r);
    drop(owned_e);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:chat_answer(context_or_record, question [, faq [, position_s [, now]]]) -> table */
static int ctx_chat_answer(lua_State *L)
{
    REQUIRE(vbill_chat_answer);
    lctx *c = check_ctx(L, 1);
    const char *question = luaL_checkstring(L, 3);
    double pos = luaL_optnumber(L, 5, -1.0);
    lua_Integer now = luaL_optinteger(L, 6, 0);
    box *owned_c;
    box *owned_f;
    char *out = NULL;
    size_t len = 0, flen = 0;
    int nret;
    const char *context = arg_json(L, 2, 0, &owned_c, &len, &nret);
    if (!context)
        return nret;
    const char *faq = arg_json(L, 4, 1, &owned_f, &flen, &nret);
    if (nret) {
        drop(owned_c);
        return nret;
    }
    vbill_status st = vbill_chat_answer(c->ctx, context, question, faq, pos, (int64_t)now, &out);
    drop(owned_c);
    drop(owned_f);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:still_jpeg(video_path, position_s [, max_width]) -> JPEG bytes */
static int ctx_still_jpeg(lua_State *L)
{
    REQUIRE(vbill_still_jpeg);
    lctx *c = check_ctx(L, 1);
    unsigned char *jpeg = NULL;
    size_t n = 0;
    vbill_status st = vbill_still_jpeg(c->ctx, luaL_checkstring(L, 2), luaL_checknumber(L, 3),
                                       (int)luaL_optinteger(L, 4, 0), &jpeg, &n);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    box_push(L, jpeg, vbill_free);
    lua_pushlstring(L, (const char *)jpeg, n);
    return 1;
}

/* ---- registration ----------------------------------------------------------------------- */

static const luaL_Reg ctx_methods[] = {
    {"close", ctx_close},
    {"errmsg", ctx_errmsg},
    {"set_rules", ctx_set_rules},
    {"load_rules", ctx_load_rules},
    {"set_senior", ctx_set_senior},
    {"set_partials_dir", ctx_set_partials_dir},
    {"set_log", ctx_set_log},
    {"classify", ctx_classify},
    {"classify_json", ctx_classify_json},
    {"fill", ctx_fill},
    {"fill_json", ctx_fill_json},
    {"fill_context", ctx_fill_context},
    {"fill_context_json", ctx_fill_context_json},
    {"default_slots", ctx_default_slots},
    {"mustache", ctx_mustache},
    {"generate_keys", ctx_generate_keys},
    {"keys_from_json", ctx_keys_from_json},
    {"load_keys", ctx_load_keys},
    {"open_store", ctx_open_store},
    {"open_redis_store", ctx_open_redis_store},
    {"link_issue", ctx_link_issue},
    {"link_verify", ctx_link_verify},
    {"link_reissue", ctx_link_reissue},
    {"link_unlock", ctx_link_unlock},
    {"auth_check", ctx_auth_check},
    {"session_verify", ctx_session_verify},
    {"message_build", ctx_message_build},
    {"open_template", ctx_open_template},
    {"render_mp4", ctx_render_mp4},
    {"render_hls", ctx_render_hls},
    {"render_segment", ctx_render_segment},
    {"write_builtin_template", ctx_write_builtin_template},
    {"open_hooks", ctx_open_hooks},
    {"event_data", ctx_event_data},
    {"chat_answer", ctx_chat_answer},
    {"still_jpeg", ctx_still_jpeg},
    {NULL, NULL}};

static const luaL_Reg keys_methods[] = {
    {"close", keys_close}, {"set_session_ttl", keys_set_session_ttl}, {NULL, NULL}};

static const luaL_Reg store_methods[] = {
    {"close", store_close}, {"set_limits", store_set_limits}, {NULL, NULL}};

static const luaL_Reg template_methods[] = {
    {"close", template_close},       {"prepare", template_prepare},
    {"is_prepared", template_is_prepared}, {"scenario", template_scenario},
    {"info", template_info},         {NULL, NULL}};

static const luaL_Reg hooks_methods[] = {
    {"close", hooks_close},   {"set_callback", hooks_set_callback},
    {"emit", hooks_emit},     {"emit_still", hooks_emit_still},
    {"pump", hooks_pump},     {"pending", hooks_pending},
    {"start", hooks_start},   {"stop", hooks_stop},
    {"status", hooks_status}, {"dead", hooks_dead},
    {"replay", hooks_replay}, {NULL, NULL}};

static int generic_tostring(lua_State *L)
{
    lua_getfield(L, lua_upvalueindex(1), "__name");
    lua_pushfstring(L, "%s (%p)", lua_tostring(L, -1), lua_touserdata(L, 1));
    return 1;
}

static void new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, generic_tostring, 1);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

static const struct {
    const char *name;
    int value;
} statuses[] = {
    {"OK", VBILL_OK},
    {"ERR_ARG", VBILL_ERR_ARG},
    {"ERR_NOMEM", VBILL_ERR_NOMEM},
    {"ERR_IO", VBILL_ERR_IO},
    {"ERR_JSON", VBILL_ERR_JSON},
    {"ERR_RECORD", VBILL_ERR_RECORD},
    {"ERR_RULES", VBILL_ERR_RULES},
    {"ERR_TEMPLATE", VBILL_ERR_TEMPLATE},
    {"ERR_OVERFLOW", VBILL_ERR_OVERFLOW},
    {"ERR_MEDIA", VBILL_ERR_MEDIA},
    {"ERR_FONT", VBILL_ERR_FONT},
    {"ERR_NOT_TARGET", VBILL_ERR_NOT_TARGET},
    {"ERR_LINK_MALFORMED", VBILL_ERR_LINK_MALFORMED},
    {"ERR_LINK_SIGNATURE", VBILL_ERR_LINK_SIGNATURE},
    {"ERR_LINK_EXPIRED", VBILL_ERR_LINK_EXPIRED},
    {"ERR_LINK_KEY", VBILL_ERR_LINK_KEY},
    {"ERR_AUTH_WRONG", VBILL_ERR_AUTH_WRONG},
    {"ERR_AUTH_LOCKED", VBILL_ERR_AUTH_LOCKED},
    {"ERR_STORE", VBILL_ERR_STORE},
    {"ERR_HOOK", VBILL_ERR_HOOK},
    {"ERR_NOT_FOUND", VBILL_ERR_NOT_FOUND},
    {"ERR_KEY", VBILL_ERR_KEY},
    {"ERR_SESSION", VBILL_ERR_SESSION},
};

__attribute__((visibility("default"))) int luaopen_vbill(lua_State *L);

__attribute__((visibility("default"))) int luaopen_vbill(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"new", l_new},
        {"context", l_new},
        {"version", l_version},
        {"strerror", l_strerror},
        {"default_rules", l_default_rules},
        {"mustache", l_mustache},
        {"builtin_templates", l_builtin_templates},
        {"text_euckr_bytes", l_euckr_bytes},
        {"to_json", l_to_json},
        {"from_json", l_from_json},
        {"array", l_array},
        {"object", l_object},
        {NULL, NULL}};
    luaL_checkversion(L);
    new_type(L, CTX_MT, ctx_methods, ctx_close);
    new_type(L, KEYS_MT, keys_methods, keys_close);
    new_type(L, STORE_MT, store_methods, store_close);
    new_type(L, HOOKS_MT, hooks_methods, hooks_close);
    new_type(L, TEMPLATE_MT, template_methods, template_close);
    luaL_newmetatable(L, BOX_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, OBJECT_MT);
    lua_pop(L, 1);
    luaL_newmetatable(L, ARRAY_MT);
    lua_pop(L, 1);

    luaL_newlib(L, funcs);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, vbill_default_rules());
    lua_setfield(L, -2, "default_rules_json");
    lua_createtable(L, 0, (int)(sizeof statuses / sizeof statuses[0]));
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        lua_pushinteger(L, statuses[i].value);
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, statuses[i].name); /* vbill.ERR_RECORD == 5 */
        lua_setfield(L, -2, statuses[i].name); /* vbill.status.ERR_RECORD == 5 */
    }
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, VBILL_LOG_ERROR);
    lua_setfield(L, -2, "LOG_ERROR");
    lua_pushinteger(L, VBILL_LOG_WARN);
    lua_setfield(L, -2, "LOG_WARN");
    lua_pushinteger(L, VBILL_LOG_INFO);
    lua_setfield(L, -2, "LOG_INFO");
    lua_pushinteger(L, VBILL_LOG_DEBUG);
    lua_setfield(L, -2, "LOG_DEBUG");
    return 1;
}
