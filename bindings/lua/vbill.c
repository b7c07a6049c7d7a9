/*
 * vbill.c: the Lua 5.4 binding of libvbill (module "vbill"), API 0.2.
 *
 * A thin layer: every method is one C call.  Records, rule sets and data go in as Lua tables
 * (converted to JSON here with cJSON) or as JSON strings (passed through unchanged, so the
 * library judges them); structured results come back as Lua tables, or with the *_json
 * methods as the library's JSON text unchanged.  A record is made into a bill once
 * (ctx:bill(record)); rendering, links, the SMS text, event data and chat take the bill.
 *
 * Errors follow one rule, in every function and method:
 *   - a failure of the operation (what libvbill reports: a record that breaks a rule or is
 *     not JSON, a wrong birth date, a locked link, a file that cannot be written, a part the
 *     library was built without) RETURNS nil, message, code.  code is the vbill_status
 *     number (vbill.ERR_RECORD, ...; vbill.status maps names to numbers) and message is the
 *     message of the handle the call was made on (the context for ctx: methods, the
 *     template for template:prepare(), the keys, the store or the hooks handle for their own
 *     methods).  vbill.from_json on text that is not JSON is such a failure (ERR_JSON).
 *   - misuse of the API RAISES a Lua error: a missing argument or one of the wrong type, a
 *     closed handle or one of another kind (keys where a store is expected, a template
 *     folder where a template is expected), a table that cannot be JSON (a function, a
 *     cycle, NaN, a string holding a NUL character), a NUL character in a string passed as
 *     C text, closing a handle from a callback inside a call that uses it, a Lua callback
 *     sink together with the worker thread.  Out of Lua memory raises, as in Lua itself.
 * A call that succeeds returns its result (a table, a string, a handle) or true.
 *
 * JSON mapping: objects and arrays become tables (marked with the metatables vbill.object /
 * vbill.array so they encode back the same way); JSON null is nil inside objects and
 * vbill.null inside arrays; an empty unmarked table encodes as {} (use vbill.array() for []);
 * integers stay integers.
 *
 * Handles (Context, Bill, Template, Keys, Store, Hooks) are full userdata with named
 * metatables; __gc and __close release them and are safe to run twice, and every method
 * checks the kind and the liveness of each handle it is given.  A Bill and a prepared
 * Template do not depend on the context that made them; Templates and Hooks keep that
 * context's log function (they copied its callback).  Callbacks (the log function, hooks
 * callback sinks, a store's lock hook and alarm function) run only on the thread of the Lua
 * state: a log line of the hooks worker thread is dropped, and a handle with Lua callback
 * sinks refuses the worker.  A store's callbacks run inside the check that fires them; a call
 * on that store from inside one returns nil, message, vbill.ERR_BUSY.
 *
 * Texts holding secrets that the library returns (ctx:generate_keys(), ctx:split_keys()) are
 * wiped in the library's memory once copied into Lua strings.
 */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <vbill.h>

#define CTX_MT "vbill.Context"
#define BILL_MT "vbill.Bill"
#define KEYS_MT "vbill.Keys"
#define STORE_MT "vbill.Store"
#define HOOKS_MT "vbill.Hooks"
#define TEMPLATE_MT "vbill.Template"
#define BOX_MT "vbill.box"
#define OBJECT_MT "vbill.object"
#define ARRAY_MT "vbill.array"
#define UTIL_KEY "vbill.utility_context"
#define STORES_KEY "vbill.stores" /* registry: weak table, lstore address -> its userdata */
#define MAX_DEPTH 200
#define MAX_ARGS 8 /* the most arguments of any method, self included */

/* Every handle counts the C calls in progress that use it (`busy`): closing it from a
 * callback inside such a call raises instead of freeing what the call still uses. */
typedef struct lctx {
    vbill_ctx *ctx;
    int busy;
    lua_State *L;     /* the state of the latest call (for the log callback) */
    pthread_t thread; /* its thread: log lines from other threads (the hooks worker) drop */
    int log_ref;      /* registry reference of the log function, LUA_NOREF when none */
} lctx;

typedef struct lbill {
    vbill_bill *b;
    int busy;
} lbill;

typedef struct lkeys {
    vbill_keys *keys;
    int busy;
} lkeys;

typedef struct lstore {
    vbill_store *store;
    int busy;
    lua_State *L;     /* the state of the latest call (its callbacks run on it) */
    pthread_t thread; /* its thread */
    int in_callback;  /* a lock hook or alarm function of this store is running */
} lstore;

typedef struct ltemplate {
    vbill_template *t;
    int busy;
    lctx *owner; /* the context it was opened with: its log callback (kept alive: uservalue 1) */
} ltemplate;

typedef struct lhooks {
    vbill_hooks *h;
    int busy;
    lctx *owner;      /* as for templates */
    lua_State *L;     /* the state pumping (callbacks run on it) */
    pthread_t thread;
    int ncallbacks;
    int worker;       /* the worker thread runs */
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

/* A failure of the library: nil, message, code. */
static int push_error(lua_State *L, vbill_status st, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg && *msg ? msg : vbill_strerror(st));
    lua_pushinteger(L, (lua_Integer)st);
    return 3;
}

/* Text for C (NUL-terminated): a string without a NUL character, else raises. */
static const char *check_text(lua_State *L, int idx)
{
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    if (strlen(s) != len)
        luaL_argerror(L, idx, "string holds a NUL character");
    return s;
}

static const char *opt_text(lua_State *L, int idx, const char *def)
{
    return lua_isnoneornil(L, idx) ? def : check_text(L, idx);
}

/* The handle of kind `mt` at idx, alive; raises naming the argument otherwise.  (A closed
 * handle has a NULL pointer in its first member.) */
static void *check_handle(lua_State *L, int idx, const char *mt)
{
    void *u = luaL_testudata(L, idx, mt);
    if (!u) {
        const char *got = luaL_typename(L, idx);
        if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
            got = lua_tostring(L, -1);
        luaL_argerror(L, idx, lua_pushfstring(L, "%s expected, got %s", mt, got));
    }
    if (!*(void **)u)
        luaL_argerror(L, idx, lua_pushfstring(L, "the %s is closed", mt));
    return u;
}

/* Closing a handle that a call in progress uses (from a callback inside that call). */
static void check_not_busy(lua_State *L, int busy, const char *what)
{
    if (busy)
        luaL_error(L, "vbill: cannot close the %s inside a call that uses it (close it after "
                      "the call returns)", what);
}

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
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (strlen(s) != len) {
            *err = "a string holds a NUL character (JSON text from Lua cannot carry one)";
            return NULL;
        }
        return cJSON_CreateString(s);
    }
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
            size_t klen;
            key = lua_tolstring(L, -2, &klen);
            if (strlen(key) != klen) {
                lua_pop(L, 2);
                cJSON_Delete(out);
                *err = "a table key holds a NUL character";
                return NULL;
            }
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


/* The JSON text for argument idx: a string is used as it is (not copied); when the C call
 * takes no length (`sized` 0) it must hold no NUL character.  A table is encoded (*owned is
 * the box holding the text: drop() it after the call).  Raises for any other type and for a
 * table that cannot be JSON.  When optional and the argument is nil/none, returns NULL. */
static const char *arg_json(lua_State *L, int idx, int optional, int sized, box **owned,
                            size_t *len)
{
    *owned = NULL;
    /* Boxes and results go above the arguments: pad the stack so that an optional argument
     * read after this call is nil, not a box. */
    if (lua_gettop(L) < MAX_ARGS)
        lua_settop(L, MAX_ARGS);
    if (optional && lua_isnil(L, idx))
        return NULL;
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!sized && strlen(s) != n)
            luaL_argerror(L, idx, "JSON text holds a NUL character");
        if (len)
            *len = n;
        return s;
    }
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_typeerror(L, idx, optional ? "table, JSON string or nil" : "table or JSON string");
    const char *err = NULL;
    cJSON *j = to_json(L, idx, 0, &err);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        if (err)
            luaL_argerror(L, idx, lua_pushfstring(L, "cannot be JSON: %s", err));
        luaL_error(L, "not enough memory");
    }
    /* Held in a box left on the stack (the GC cannot take it while in use) until the caller
     * drops it, so a Lua error cannot leak it. */
    *owned = box_push(L, text, free);
    if (len)
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

#define HOLD(x) ((x)->busy++)
#define UNHOLD(x) ((x)->busy--)

static int ok_or(lua_State *L, vbill_status st, const char *msg)
{
    if (st != VBILL_OK)
        return push_error(L, st, msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- Context ---------------------------------------------------------------------------- */

/* Runs in protected mode (lua_pcall): fn, level, message (light userdata). */
static int log_call(lua_State *L)
{
    const char *message = lua_touserdata(L, 3);
    lua_pop(L, 1);
    lua_pushstring(L, message);
    lua_call(L, 2, 0);
    return 0;
}

static void log_trampoline(void *user, vbill_log_level level, const char *message)
{
    lctx *c = user;
    lua_State *L = c->L;
    if (!L || c->log_ref == LUA_NOREF || !pthread_equal(c->thread, pthread_self()) ||
        !lua_checkstack(L, 5))
        return;
    /* Nothing that allocates (and so could raise) outside the protected call. */
    lua_pushcfunction(L, log_call);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->log_ref);
    lua_pushinteger(L, (lua_Integer)level);
    lua_pushlightuserdata(L, (void *)(uintptr_t)message);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK)
        lua_pop(L, 1); /* an error in a log function must not unwind through the library */
}

/* The calls of this Lua state on c (or on a template or hooks handle opened with it). */
static void ctx_enter(lua_State *L, lctx *c)
{
    c->L = L;
    c->thread = pthread_self();
}

static lctx *check_ctx(lua_State *L, int idx)
{
    lctx *c = check_handle(L, idx, CTX_MT);
    ctx_enter(L, c);
    return c;
}

static int ctx_error(lua_State *L, lctx *c, vbill_status st)
{
    return push_error(L, st, vbill_ctx_errmsg(c->ctx));
}

/* ctx:close() (and <close>): frees the C context.  The log function stays referenced while
 * templates and hooks handles opened with the context (which copied its log callback) keep
 * the userdata alive; __gc drops it. */
static int ctx_close(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    if (c->ctx) {
        check_not_busy(L, c->busy, "context");
        vbill_ctx_free(c->ctx);
        c->ctx = NULL;
    }
    return 0;
}

static int ctx_gc(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    ctx_close(L);
    if (c->log_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, c->log_ref);
    c->log_ref = LUA_NOREF;
    return 0;
}

/* Pushes a new context userdata; NULL (with nil, message, code pushed) on failure. */
static lctx *new_ctx(lua_State *L)
{
    lctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->log_ref = LUA_NOREF;
    luaL_setmetatable(L, CTX_MT);
    vbill_status st = vbill_ctx_new(&c->ctx);
    if (st != VBILL_OK) {
        push_error(L, st, "cannot create a context");
        return NULL;
    }
    return c;
}

/* The module's own context, for the calls that need one only for their message
 * (bill:to_json(), vbill.mustache()): one per Lua state, made by luaopen_vbill. */
static lctx *util_ctx(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, UTIL_KEY);
    lctx *c = luaL_testudata(L, -1, CTX_MT);
    lua_pop(L, 1);
    if (!c || !c->ctx)
        luaL_error(L, "vbill: the module's context is gone");
    ctx_enter(L, c);
    return c;
}

static int ctx_set_rules(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    size_t len = 0;
    const char *json = arg_json(L, 2, 0, 1, &owned, &len);
    HOLD(c);
    vbill_status st = vbill_ctx_set_rules(c->ctx, json, len);
    UNHOLD(c);
    drop(owned);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

/* vbill.new([rules]) -> context (rules: a table or JSON text, as ctx:set_rules) */
static int l_new(lua_State *L)
{
    lua_settop(L, 1);
    lctx *c = new_ctx(L);
    if (!c)
        return 3;
    if (!lua_isnil(L, 1)) {
        lua_pushcfunction(L, ctx_set_rules);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 1);
        lua_call(L, 2, 3);
        if (lua_isnil(L, -3)) {
            vbill_ctx_free(c->ctx);
            c->ctx = NULL;
            return 3;
        }
        lua_pop(L, 3);
    }
    return 1;
}

static int ctx_errmsg(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lua_pushstring(L, vbill_ctx_errmsg(c->ctx));
    return 1;
}

static int ctx_load_rules(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *path = check_text(L, 2);
    HOLD(c);
    vbill_status st = vbill_ctx_load_rules(c->ctx, path);
    UNHOLD(c);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

static int ctx_set_senior(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    int age = (int)luaL_checkinteger(L, 2);
    double speed = luaL_checknumber(L, 3);
    HOLD(c);
    vbill_status st = vbill_ctx_set_senior(c->ctx, age, speed);
    UNHOLD(c);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

static int ctx_set_partials_dir(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *dir = opt_text(L, 2, NULL);
    HOLD(c);
    vbill_status st = vbill_ctx_set_partials_dir(c->ctx, dir);
    UNHOLD(c);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

/* ctx:set_log(fn, level): fn(level, message) receives the log lines up to level (default
 * vbill.LOG_WARN); ctx:set_log(nil) removes it.  Templates and hooks handles opened later
 * keep the callback: it calls the context's log function of the moment, after ctx:close()
 * too. */
static int ctx_set_log(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lua_Integer level = luaL_optinteger(L, 3, VBILL_LOG_WARN);
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    if (c->log_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, c->log_ref);
    c->log_ref = LUA_NOREF;
    if (lua_isnoneornil(L, 2)) {
        vbill_ctx_set_log(c->ctx, NULL, NULL, VBILL_LOG_WARN);
    } else {
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
    long line = (long)luaL_optinteger(L, 3, 0);
    box *owned;
    char *out = NULL;
    size_t len = 0;
    const char *json = arg_json(L, 2, 0, 1, &owned, &len);
    HOLD(c);
    vbill_status st = fn(c->ctx, json, len, line, &out);
    UNHOLD(c);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, as_text);
}

static int ctx_classify(lua_State *L) { return record_call(L, vbill_classify, 0); }
static int ctx_classify_json(lua_State *L) { return record_call(L, vbill_classify, 1); }
static int ctx_fill(lua_State *L) { return record_call(L, vbill_fill, 0); }
static int ctx_fill_json(lua_State *L) { return record_call(L, vbill_fill, 1); }

static int ctx_default_slots(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *scenario = check_text(L, 2);
    const char *locale = opt_text(L, 3, "ko-KR");
    char *out = NULL;
    HOLD(c);
    vbill_status st = vbill_default_slots(c->ctx, scenario, locale, &out);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

static int mustache_on(lua_State *L, lctx *c, int base)
{
    size_t tlen;
    const char *tmpl = luaL_checklstring(L, base, &tlen);
    box *owned_d;
    box *owned_p;
    char *out = NULL;
    size_t olen = 0;
    const char *data = arg_json(L, base + 1, 0, 0, &owned_d, NULL);
    const char *partials = arg_json(L, base + 2, 1, 0, &owned_p, NULL);
    HOLD(c);
    vbill_status st = vbill_mustache_render(c->ctx, tmpl, tlen, data, partials, &out, &olen);
    UNHOLD(c);
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

/* vbill.mustache(template, data [, partials]) on the module's context. */
static int l_mustache(lua_State *L)
{
    return mustache_on(L, util_ctx(L), 1);
}

/* ---- Bill --------------------------------------------------------------------------------- */

static lbill *check_bill(lua_State *L, int idx)
{
    return check_handle(L, idx, BILL_MT);
}

static int bill_close(lua_State *L)
{
    lbill *b = luaL_checkudata(L, 1, BILL_MT);
    if (b->b) {
        check_not_busy(L, b->busy, "bill");
        vbill_bill_free(b->b);
        b->b = NULL;
    }
    return 0;
}

static lbill *push_bill(lua_State *L)
{
    lbill *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, BILL_MT);
    return b;
}

/* ctx:bill(record [, line]) -> bill: the record validated, classified and filled once. */
static int ctx_bill(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    long line = (long)luaL_optinteger(L, 3, 0);
    box *owned;
    size_t len = 0;
    const char *json = arg_json(L, 2, 0, 1, &owned, &len);
    lbill *b = push_bill(L);
    HOLD(c);
    vbill_status st = vbill_bill_new(c->ctx, json, len, line, &b->b);
    UNHOLD(c);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* vbill.bill_from_json(ctx, text) (also ctx:bill_from_json(text)) -> bill read from bill.json */
static int l_bill_from_json(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    size_t len = 0;
    const char *json = arg_json(L, 2, 0, 1, &owned, &len);
    lbill *b = push_bill(L);
    HOLD(c);
    vbill_status st = vbill_bill_from_json(c->ctx, json, len, &b->b);
    UNHOLD(c);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

static int bill_json_call(lua_State *L, vbill_status (*fn)(vbill_ctx *, const vbill_bill *,
                                                           char **), int as_text)
{
    lbill *b = check_bill(L, 1);
    lctx *u = util_ctx(L);
    char *out = NULL;
    HOLD(b);
    vbill_status st = fn(u->ctx, b->b, &out);
    UNHOLD(b);
    if (st != VBILL_OK)
        return ctx_error(L, u, st);
    return push_result(L, out, as_text);
}

static int bill_to_json(lua_State *L) { return bill_json_call(L, vbill_bill_to_json, 1); }
static int bill_context(lua_State *L) { return bill_json_call(L, vbill_bill_context, 0); }
static int bill_context_json(lua_State *L) { return bill_json_call(L, vbill_bill_context, 1); }

static int bill_id(lua_State *L)
{
    lua_pushstring(L, vbill_bill_id(check_bill(L, 1)->b));
    return 1;
}

static int bill_scenario(lua_State *L)
{
    lua_pushstring(L, vbill_bill_scenario(check_bill(L, 1)->b)); /* NULL: nil */
    return 1;
}

static int bill_locale(lua_State *L)
{
    lua_pushstring(L, vbill_bill_locale(check_bill(L, 1)->b));
    return 1;
}

static int bill_cycle(lua_State *L)
{
    lua_pushstring(L, vbill_bill_cycle(check_bill(L, 1)->b));
    return 1;
}

static int bill_cycle_start(lua_State *L)
{
    lua_pushstring(L, vbill_bill_cycle_start(check_bill(L, 1)->b));
    return 1;
}

static int bill_senior(lua_State *L)
{
    lua_pushboolean(L, vbill_bill_senior(check_bill(L, 1)->b));
    return 1;
}

static int bill_speed(lua_State *L)
{
    lua_pushnumber(L, vbill_bill_speed(check_bill(L, 1)->b));
    return 1;
}

static int bill_can_issue_link(lua_State *L)
{
    lua_pushboolean(L, vbill_bill_can_issue_link(check_bill(L, 1)->b));
    return 1;
}

static int bill_tostring(lua_State *L)
{
    lbill *b = luaL_checkudata(L, 1, BILL_MT);
    if (!b->b) {
        lua_pushstring(L, "vbill.Bill (closed)");
    } else {
        const char *scenario = vbill_bill_scenario(b->b);
        lua_pushfstring(L, "vbill.Bill (%s %s %s)", vbill_bill_id(b->b),
                        scenario ? scenario : "-", vbill_bill_cycle(b->b));
    }
    return 1;
}

/* ---- Templates: prepare and render -------------------------------------------------------- */

static ltemplate *check_template(lua_State *L, int idx)
{
    ltemplate *t = check_handle(L, idx, TEMPLATE_MT);
    if (t->owner)
        ctx_enter(L, t->owner); /* the template's log lines go to this state */
    return t;
}

static int template_close(lua_State *L)
{
    ltemplate *t = luaL_checkudata(L, 1, TEMPLATE_MT);
    if (t->t) {
        check_not_busy(L, t->busy, "template");
        vbill_template_free(t->t);
        t->t = NULL;
    }
    return 0;
}

/* ctx:open_template(dir) -> template.  It keeps ctx's senior speed and log callback. */
static int ctx_open_template(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *dir = check_text(L, 2);
    lua_settop(L, 2);
    ltemplate *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, TEMPLATE_MT);
    lua_pushvalue(L, 1); /* the context's log callback is the template's: keep it alive */
    lua_setiuservalue(L, -2, 1);
    t->owner = c;
    HOLD(c);
    vbill_status st = vbill_template_open(c->ctx, dir, &t->t);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* template:prepare() -> true: normalises the base video once (cached); idempotent.  Failures
 * carry the template's own message. */
static int template_prepare(lua_State *L)
{
    ltemplate *t = check_template(L, 1);
    HOLD(t);
    vbill_status st = vbill_template_prepare(t->t);
    UNHOLD(t);
    return ok_or(L, st, vbill_template_errmsg(t->t));
}

static int template_errmsg(lua_State *L)
{
    lua_pushstring(L, vbill_template_errmsg(check_template(L, 1)->t));
    return 1;
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

typedef struct render_args {
    lctx *c;
    ltemplate *t;
    lbill *b;
} render_args;

static render_args check_render(lua_State *L)
{
    render_args a;
    a.c = check_ctx(L, 1);
    a.t = check_template(L, 2);
    a.b = check_bill(L, 3);
    ctx_enter(L, a.c); /* the call's log lines go to the rendering context */
    return a;
}

static void render_hold(render_args *a, int d)
{
    a->c->busy += d;
    a->t->busy += d;
    a->b->busy += d;
}

/* ctx:render_mp4(template, bill, out_path [, speed]) -> true (speed 0/nil: the bill's own) */
static int ctx_render_mp4(lua_State *L)
{
    render_args a = check_render(L);
    const char *out = check_text(L, 4);
    double speed = luaL_optnumber(L, 5, 0.0);
    render_hold(&a, 1);
    vbill_status st = vbill_render_mp4(a.c->ctx, a.t->t, a.b->b, speed, out);
    render_hold(&a, -1);
    return ok_or(L, st, vbill_ctx_errmsg(a.c->ctx));
}

/* ctx:render_hls(template, bill, out_dir [, speed [, shared_url]]) -> true */
static int ctx_render_hls(lua_State *L)
{
    render_args a = check_render(L);
    const char *out = check_text(L, 4);
    double speed = luaL_optnumber(L, 5, 0.0);
    const char *shared = opt_text(L, 6, NULL);
    render_hold(&a, 1);
    vbill_status st = vbill_render_hls(a.c->ctx, a.t->t, a.b->b, speed, out, shared);
    render_hold(&a, -1);
    return ok_or(L, st, vbill_ctx_errmsg(a.c->ctx));
}

/* ctx:render_playlist(template, bill, out_dir [, speed [, shared_url]]) -> true */
static int ctx_render_playlist(lua_State *L)
{
    render_args a = check_render(L);
    const char *out = check_text(L, 4);
    double speed = luaL_optnumber(L, 5, 0.0);
    const char *shared = opt_text(L, 6, NULL);
    render_hold(&a, 1);
    vbill_status st = vbill_render_playlist(a.c->ctx, a.t->t, a.b->b, speed, out, shared);
    render_hold(&a, -1);
    return ok_or(L, st, vbill_ctx_errmsg(a.c->ctx));
}

/* ctx:render_segment(template, bill, segment, out_path [, speed]) -> true */
static int ctx_render_segment(lua_State *L)
{
    render_args a = check_render(L);
    int segment = (int)luaL_checkinteger(L, 4);
    const char *out = check_text(L, 5);
    double speed = luaL_optnumber(L, 6, 0.0);
    render_hold(&a, 1);
    vbill_status st = vbill_render_segment(a.c->ctx, a.t->t, a.b->b, speed, segment, out);
    render_hold(&a, -1);
    return ok_or(L, st, vbill_ctx_errmsg(a.c->ctx));
}

/* ctx:render_still(template, bill, position_s [, speed [, max_width]]) -> JPEG bytes */
static int ctx_render_still(lua_State *L)
{
    render_args a = check_render(L);
    double pos = luaL_checknumber(L, 4);
    double speed = luaL_optnumber(L, 5, 0.0);
    int max_width = (int)luaL_optinteger(L, 6, 0);
    unsigned char *jpeg = NULL;
    size_t n = 0;
    render_hold(&a, 1);
    vbill_status st = vbill_render_still(a.c->ctx, a.t->t, a.b->b, speed, pos, max_width,
                                         &jpeg, &n);
    render_hold(&a, -1);
    if (st != VBILL_OK)
        return ctx_error(L, a.c, st);
    box_push(L, jpeg, vbill_free);
    lua_pushlstring(L, (const char *)jpeg, n);
    return 1;
}

/* ctx:still_jpeg(video_path, position_s [, max_width]) -> JPEG bytes */
static int ctx_still_jpeg(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *path = check_text(L, 2);
    double pos = luaL_checknumber(L, 3);
    int max_width = (int)luaL_optinteger(L, 4, 0);
    unsigned char *jpeg = NULL;
    size_t n = 0;
    HOLD(c);
    vbill_status st = vbill_still_jpeg(c->ctx, path, pos, max_width, &jpeg, &n);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    box_push(L, jpeg, vbill_free);
    lua_pushlstring(L, (const char *)jpeg, n);
    return 1;
}

/* ctx:write_builtin_template(scenario, dir) -> true */
static int ctx_write_builtin_template(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *scenario = check_text(L, 2);
    const char *dir = check_text(L, 3);
    HOLD(c);
    vbill_status st = vbill_template_builtin_write(c->ctx, scenario, dir);
    UNHOLD(c);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

/* vbill.builtin_templates() -> { scenario ids } ({} without the video part) */
static int l_builtin_templates(lua_State *L)
{
    cJSON *j = cJSON_Parse(vbill_template_builtin_list());
    if (!j)
        return push_error(L, VBILL_ERR_JSON, "the library returned malformed JSON");
    box_push(L, j, release_cjson);
    push_json(L, j, 0);
    return 1;
}

/* ---- Keys, Store: signed links and the knowledge check ---------------------------------- */

static lkeys *check_keys(lua_State *L, int idx)
{
    return check_handle(L, idx, KEYS_MT);
}

/* The store at idx, alive.  Its lock hook and alarm run on the state and thread of the
 * call that uses it (not changed from inside one of its callbacks: see store_busy). */
static lstore *check_store(lua_State *L, int idx)
{
    lstore *s = check_handle(L, idx, STORE_MT);
    if (!s->in_callback) {
        s->L = L;
        s->thread = pthread_self();
    }
    return s;
}

/* A call that uses the store from inside one of its own callbacks (the library forbids it):
 * nil, message, vbill.ERR_BUSY, as hooks:pump() from inside a hooks callback. */
static int store_busy(lua_State *L)
{
    return push_error(L, VBILL_ERR_BUSY, "the store is in a call on this thread (its lock hook "
                                         "or alarm function called back into it)");
}

static int keys_close(lua_State *L)
{
    lkeys *k = luaL_checkudata(L, 1, KEYS_MT);
    if (k->keys) {
        check_not_busy(L, k->busy, "keys");
        vbill_keys_free(k->keys);
        k->keys = NULL;
    }
    return 0;
}

static int store_close(lua_State *L)
{
    lstore *s = luaL_checkudata(L, 1, STORE_MT);
    if (s->store) {
        check_not_busy(L, s->busy, "store");
        vbill_store_free(s->store);
        s->store = NULL;
    }
    return 0;
}

static void release_secret(void *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        vbill_free(p);
    }
}

/* Pushes library-owned text that holds secrets (a key file, a pepper set) as a string; the
 * library's copy is wiped and freed (also when pushing raises).  The Lua string cannot be
 * wiped: write it to its 0600 file and drop it. */
static void push_secret(lua_State *L, char *text)
{
    box *b = box_push(L, text, release_secret);
    lua_pushstring(L, text ? text : "");
    lua_remove(L, -2);
    drop(b);
}

/* ctx:generate_keys([existing]) -> key file text (secrets: write it to a new 0600 file) */
static int ctx_generate_keys(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    char *out = NULL;
    const char *existing = arg_json(L, 2, 1, 0, &owned, NULL);
    HOLD(c);
    vbill_status st = vbill_keys_generate(c->ctx, existing, &out);
    UNHOLD(c);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    push_secret(L, out);
    return 1;
}

/* ctx:split_keys(key_file [, peppers]) -> key file without its peppers, pepper set (both
 * text holding secrets: keep them apart) */
static int ctx_split_keys(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned_k, *owned_p;
    char *kout = NULL, *pout = NULL;
    const char *key = arg_json(L, 2, 0, 0, &owned_k, NULL);
    const char *peppers = arg_json(L, 3, 1, 0, &owned_p, NULL);
    HOLD(c);
    vbill_status st = vbill_keys_split(c->ctx, key, peppers, &kout, &pout);
    UNHOLD(c);
    drop(owned_k);
    drop(owned_p);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    /* Both held in boxes first: wiped and released even if a push raises. */
    box *bk = box_push(L, kout, release_secret);
    box *bp = box_push(L, pout, release_secret);
    lua_pushstring(L, kout ? kout : "");
    lua_pushstring(L, pout ? pout : "");
    drop(bk);
    drop(bp);
    return 2;
}

static lkeys *push_keys(lua_State *L)
{
    lkeys *k = lua_newuserdatauv(L, sizeof *k, 0);
    memset(k, 0, sizeof *k);
    luaL_setmetatable(L, KEYS_MT);
    return k;
}

/* ctx:keys_from_json(key_file_text_or_table) -> keys */
static int ctx_keys_from_json(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    box *owned;
    size_t len = 0;
    const char *json = arg_json(L, 2, 0, 1, &owned, &len);
    lkeys *k = push_keys(L);
    HOLD(c);
    vbill_status st = vbill_keys_from_json(c->ctx, json, len, &k->keys);
    UNHOLD(c);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* ctx:load_keys(path) -> keys */
static int ctx_load_keys(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *path = check_text(L, 2);
    lua_settop(L, 2);
    lkeys *k = push_keys(L);
    HOLD(c);
    vbill_status st = vbill_keys_load(c->ctx, path, &k->keys);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

static int keys_set_session_ttl(lua_State *L)
{
    lkeys *k = check_keys(L, 1);
    int64_t ttl = (int64_t)luaL_checkinteger(L, 2);
    HOLD(k);
    vbill_status st = vbill_keys_set_session_ttl(k->keys, ttl);
    UNHOLD(k);
    return ok_or(L, st, vbill_keys_errmsg(k->keys));
}

/* keys:add_peppers(pepper_set_text_or_table) -> true */
static int keys_add_peppers(lua_State *L)
{
    lkeys *k = check_keys(L, 1);
    box *owned;
    size_t len = 0;
    const char *json = arg_json(L, 2, 0, 1, &owned, &len);
    HOLD(k);
    vbill_status st = vbill_keys_add_peppers(k->keys, json, len);
    UNHOLD(k);
    drop(owned);
    return ok_or(L, st, vbill_keys_errmsg(k->keys));
}

/* keys:load_peppers(path) -> true */
static int keys_load_peppers(lua_State *L)
{
    lkeys *k = check_keys(L, 1);
    const char *path = check_text(L, 2);
    HOLD(k);
    vbill_status st = vbill_keys_load_peppers(k->keys, path);
    UNHOLD(k);
    return ok_or(L, st, vbill_keys_errmsg(k->keys));
}

static int keys_errmsg(lua_State *L)
{
    lua_pushstring(L, vbill_keys_errmsg(check_keys(L, 1)->keys));
    return 1;
}

/* A store userdata: user value 1 is its lock hook function, 2 its alarm function; it is
 * found from its address (the callbacks' user pointer) in the weak table STORES_KEY. */
static lstore *push_store(lua_State *L)
{
    lstore *s = lua_newuserdatauv(L, sizeof *s, 2);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, STORE_MT);
    lua_getfield(L, LUA_REGISTRYINDEX, STORES_KEY);
    lua_pushvalue(L, -2);
    lua_rawsetp(L, -2, s);
    lua_pop(L, 1);
    return s;
}

static int ctx_open_store(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *path = check_text(L, 2);
    lua_settop(L, 2);
    lstore *s = push_store(L);
    HOLD(c);
    vbill_status st = vbill_store_open_sqlite(c->ctx, path, &s->store);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* ctx:open_redis_store([host [, port [, prefix]]]) -> store (ERR_UNSUPPORTED without "redis") */
static int ctx_open_redis_store(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *host = opt_text(L, 2, "127.0.0.1");
    int port = (int)luaL_optinteger(L, 3, 6379);
    const char *prefix = opt_text(L, 4, NULL);
    lua_settop(L, 4);
    lstore *s = push_store(L);
    HOLD(c);
    vbill_status st = vbill_store_open_redis(c->ctx, host, port, prefix, &s->store);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* ctx:open_redis_url(url [, prefix]) -> store: redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 * (ERR_ARG for a malformed URL, ERR_STORE when unreachable or refused, ERR_UNSUPPORTED
 * without "redis") */
static int ctx_open_redis_url(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *url = check_text(L, 2);
    const char *prefix = opt_text(L, 3, NULL);
    lua_settop(L, 3);
    lstore *s = push_store(L);
    HOLD(c);
    vbill_status st = vbill_store_open_redis_url(c->ctx, url, prefix, &s->store);
    UNHOLD(c);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

/* An int argument in [lo, hi], else raises (the library's own ranges are narrower: it
 * answers nil, message, vbill.ERR_ARG for values inside these but out of its range). */
static int opt_int(lua_State *L, int idx, lua_Integer def)
{
    lua_Integer v = luaL_optinteger(L, idx, def);
    luaL_argcheck(L, v >= INT32_MIN && v <= INT32_MAX, idx, "out of the range of an int");
    return (int)v;
}

/* store:set_limits([soft [, cooling_seconds [, hard [, client_max [, client_window_seconds]]]]]) */
static int store_set_limits(lua_State *L)
{
    lstore *s = check_store(L, 1);
    int soft = opt_int(L, 2, 5);
    int64_t cooling = (int64_t)luaL_optinteger(L, 3, 900);
    int hard = opt_int(L, 4, 10);
    int client_max = opt_int(L, 5, 30);
    int64_t window = (int64_t)luaL_optinteger(L, 6, 3600);
    if (s->in_callback)
        return store_busy(L);
    HOLD(s);
    vbill_status st = vbill_store_set_limits(s->store, soft, cooling, hard, client_max, window);
    UNHOLD(s);
    return ok_or(L, st, vbill_store_errmsg(s->store));
}

/* store:set_subscriber_limit(max_failures) -> true */
static int store_set_subscriber_limit(lua_State *L)
{
    lstore *s = check_store(L, 1);
    luaL_checkinteger(L, 2);
    int n = opt_int(L, 2, 0);
    if (s->in_callback)
        return store_busy(L);
    HOLD(s);
    vbill_status st = vbill_store_set_subscriber_limit(s->store, n);
    UNHOLD(s);
    return ok_or(L, st, vbill_store_errmsg(s->store));
}

/* store:set_slowdown(seconds) -> true */
static int store_set_slowdown(lua_State *L)
{
    lstore *s = check_store(L, 1);
    int64_t seconds = (int64_t)luaL_checkinteger(L, 2);
    if (s->in_callback)
        return store_busy(L);
    HOLD(s);
    vbill_status st = vbill_store_set_slowdown(s->store, seconds);
    UNHOLD(s);
    return ok_or(L, st, vbill_store_errmsg(s->store));
}

/* Runs in protected mode (lua_pcall): store (light userdata), user value number, event
 * (light userdata: cJSON).  Calls the store's function with the event as a table. */
static int store_event_call(lua_State *L)
{
    void *s = lua_touserdata(L, 1);
    int which = (int)lua_tointeger(L, 2);
    const cJSON *event = lua_touserdata(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, STORES_KEY);
    if (lua_rawgetp(L, -1, s) != LUA_TUSERDATA || lua_getiuservalue(L, -1, which) != LUA_TFUNCTION)
        return 0;
    push_json(L, event, 0);
    lua_call(L, 1, 0);
    return 0;
}

/* The lock hook and the alarm: on the thread of the Lua state making the check only; an
 * error in the function is dropped (it must not unwind through the library). */
static void store_event(lstore *s, int which, const char *event_json)
{
    lua_State *L = s->L;
    if (!L || !pthread_equal(s->thread, pthread_self()) || !lua_checkstack(L, 8))
        return;
    cJSON *j = cJSON_Parse(event_json);
    if (!j)
        return;
    /* Nothing that allocates (and so could raise) outside the protected call. */
    lua_pushcfunction(L, store_event_call);
    lua_pushlightuserdata(L, s);
    lua_pushinteger(L, which);
    lua_pushlightuserdata(L, j);
    s->in_callback++;
    if (lua_pcall(L, 3, 0, 0) != LUA_OK)
        lua_pop(L, 1);
    s->in_callback--;
    cJSON_Delete(j);
}

static void lock_trampoline(void *user, const char *event_json)
{
    store_event(user, 1, event_json);
}

static void alarm_trampoline(void *user, const char *event_json)
{
    store_event(user, 2, event_json);
}

/* store:set_lock_hook(fn or nil) -> true.  fn(event) is called when a link becomes locked:
 * {type = "link_locked" or "subscriber_locked", link, subscriber, cycle_start, scenario,
 * hard, until, failures}, inside the check that locked it (ctx:auth_check with this store). */
static int store_set_lock_hook(lua_State *L)
{
    lstore *s = check_store(L, 1);
    int has_fn = !lua_isnoneornil(L, 2);
    if (has_fn)
        luaL_checktype(L, 2, LUA_TFUNCTION);
    if (s->in_callback)
        return store_busy(L);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, 1); /* the function (or nil) as the store's user value 1 */
    vbill_store_set_lock_hook(s->store, has_fn ? lock_trampoline : NULL, s);
    lua_pushboolean(L, 1);
    return 1;
}

/* store:set_alarm(max_failures, window_seconds [, fn]) -> true.  fn(event) (nil: counted in
 * store:stats() only) gets {type = "auth.attack_suspected", failures, window_seconds, at}
 * once per window in which the failed checks reach max_failures. */
static int store_set_alarm(lua_State *L)
{
    lstore *s = check_store(L, 1);
    int64_t max_failures = (int64_t)luaL_checkinteger(L, 2);
    int64_t window = (int64_t)luaL_checkinteger(L, 3);
    int has_fn = !lua_isnoneornil(L, 4);
    if (has_fn)
        luaL_checktype(L, 4, LUA_TFUNCTION);
    if (s->in_callback)
        return store_busy(L);
    HOLD(s);
    vbill_status st = vbill_store_set_alarm(s->store, max_failures, window,
                                            has_fn ? alarm_trampoline : NULL, s);
    UNHOLD(s);
    if (st != VBILL_OK)
        return push_error(L, st, vbill_store_errmsg(s->store));
    lua_settop(L, 4); /* the function (or nil) as the store's user value 2 */
    lua_setiuservalue(L, 1, 2);
    lua_pushboolean(L, 1);
    return 1;
}

/* store:stats([now]) -> {checks, passed, failed, locked, slowed, alarms, failures_total,
 * failures_window, window_seconds, alarm_failures} */
static int store_stats(lua_State *L)
{
    lstore *s = check_store(L, 1);
    lua_Integer now = luaL_optinteger(L, 2, 0);
    if (s->in_callback)
        return store_busy(L);
    char *out = NULL;
    HOLD(s);
    vbill_status st = vbill_store_stats(s->store, (int64_t)now, &out);
    UNHOLD(s);
    if (st != VBILL_OK)
        return push_error(L, st, vbill_store_errmsg(s->store));
    return push_result(L, out, 0);
}

static int store_errmsg(lua_State *L)
{
    lua_pushstring(L, vbill_store_errmsg(check_store(L, 1)->store));
    return 1;
}

/* ctx:link_issue(keys, bill, ttl_seconds [, now]) -> token */
static int ctx_link_issue(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lbill *b = check_bill(L, 3);
    lua_Integer ttl = luaL_checkinteger(L, 4);
    lua_Integer now = luaL_optinteger(L, 5, 0);
    char *out = NULL;
    HOLD(c), HOLD(k), HOLD(b);
    vbill_status st = vbill_link_issue(c->ctx, k->keys, b->b, (int64_t)now, (int64_t)ttl, &out);
    UNHOLD(c), UNHOLD(k), UNHOLD(b);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ctx:link_verify(keys, token [, now]) -> info table */
static int ctx_link_verify(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    const char *token = check_text(L, 3);
    lua_Integer now = luaL_optinteger(L, 4, 0);
    char *out = NULL;
    HOLD(c), HOLD(k);
    vbill_status st = vbill_link_verify(c->ctx, k->keys, token, (int64_t)now, &out);
    UNHOLD(c), UNHOLD(k);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:link_verify_store(keys, store, token [, now]) -> info table; a link revoked in store
 * (re-issued, or ctx:link_revoke) is nil, "... revoked ...", vbill.ERR_LINK_EXPIRED.  store
 * nil: the same as ctx:link_verify. */
static int ctx_link_verify_store(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = lua_isnoneornil(L, 3) ? NULL : check_store(L, 3);
    const char *token = check_text(L, 4);
    lua_Integer now = luaL_optinteger(L, 5, 0);
    if (s && s->in_callback)
        return store_busy(L);
    char *out = NULL;
    HOLD(c), HOLD(k);
    if (s)
        HOLD(s);
    vbill_status st = vbill_link_verify_store(c->ctx, k->keys, s ? s->store : NULL, token,
                                              (int64_t)now, &out);
    UNHOLD(c), UNHOLD(k);
    if (s)
        UNHOLD(s);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:link_attempts(keys, store, token [, now]) -> {state=, tries_left=, locked_until=}: where
 * a link stands, read from store without counting a try */
static int ctx_link_attempts(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = check_store(L, 3);
    const char *token = check_text(L, 4);
    lua_Integer now = luaL_optinteger(L, 5, 0);
    if (s->in_callback)
        return store_busy(L);
    char *out = NULL;
    HOLD(c), HOLD(k), HOLD(s);
    vbill_status st = vbill_link_attempts(c->ctx, k->keys, s->store, token, (int64_t)now, &out);
    UNHOLD(c), UNHOLD(k), UNHOLD(s);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:link_reissue(keys, store, old_token, bill, ttl_seconds [, now]) -> token; old_token and
 * its sessions are revoked in store */
static int ctx_link_reissue(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = check_store(L, 3);
    const char *old = check_text(L, 4);
    lbill *b = check_bill(L, 5);
    lua_Integer ttl = luaL_checkinteger(L, 6);
    lua_Integer now = luaL_optinteger(L, 7, 0);
    if (s->in_callback)
        return store_busy(L);
    char *out = NULL;
    HOLD(c), HOLD(k), HOLD(s), HOLD(b);
    vbill_status st = vbill_link_reissue(c->ctx, k->keys, s->store, old, b->b, (int64_t)now,
                                         (int64_t)ttl, &out);
    UNHOLD(c), UNHOLD(k), UNHOLD(s), UNHOLD(b);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ctx:link_unlock(keys, store, token) and ctx:link_revoke(keys, store, token) -> true */
typedef vbill_status (*link_store_fn)(vbill_ctx *, const vbill_keys *, vbill_store *,
                                      const char *);

static int link_store_call(lua_State *L, link_store_fn fn)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = check_store(L, 3);
    const char *token = check_text(L, 4);
    if (s->in_callback)
        return store_busy(L);
    HOLD(c), HOLD(k), HOLD(s);
    vbill_status st = fn(c->ctx, k->keys, s->store, token);
    UNHOLD(c), UNHOLD(k), UNHOLD(s);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

static int ctx_link_unlock(lua_State *L) { return link_store_call(L, vbill_link_unlock); }
static int ctx_link_revoke(lua_State *L) { return link_store_call(L, vbill_link_revoke); }

/* ctx:auth_check(keys, store, token, digits, client [, now]) -> session token.  client: the
 * customer's address as the server saw it or its own proxy verified it (nil raises, ""
 * returns nil, message, vbill.ERR_ARG). */
static int ctx_auth_check(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    lstore *s = check_store(L, 3);
    const char *token = check_text(L, 4);
    const char *digits = check_text(L, 5);
    const char *client = check_text(L, 6);
    lua_Integer now = luaL_optinteger(L, 7, 0);
    if (s->in_callback)
        return store_busy(L);
    char *out = NULL;
    HOLD(c), HOLD(k), HOLD(s);
    vbill_status st = vbill_auth_check(c->ctx, k->keys, s->store, token, digits, client,
                                       (int64_t)now, &out);
    UNHOLD(c), UNHOLD(k), UNHOLD(s);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ctx:session_verify(keys, session, link_token, client [, store [, now]]) -> true.  client:
 * the client of the check (nil raises).  With a store, a link revoked or locked for good
 * also refuses its sessions. */
static int ctx_session_verify(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lkeys *k = check_keys(L, 2);
    const char *session = check_text(L, 3);
    const char *link = check_text(L, 4);
    const char *client = check_text(L, 5);
    lstore *s = lua_isnoneornil(L, 6) ? NULL : check_store(L, 6);
    lua_Integer now = luaL_optinteger(L, 7, 0);
    if (s && s->in_callback)
        return store_busy(L);
    HOLD(c), HOLD(k);
    if (s)
        HOLD(s);
    vbill_status st = vbill_session_verify(c->ctx, k->keys, s ? s->store : NULL, session, link,
                                           client, (int64_t)now);
    UNHOLD(c), UNHOLD(k);
    if (s)
        UNHOLD(s);
    return ok_or(L, st, vbill_ctx_errmsg(c->ctx));
}

/* ctx:message_build(bill, url [, template]) -> SMS text */
static int ctx_message_build(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lbill *b = check_bill(L, 2);
    const char *url = check_text(L, 3);
    const char *tmpl = opt_text(L, 4, NULL);
    char *out = NULL;
    HOLD(c), HOLD(b);
    vbill_status st = vbill_message_build(c->ctx, b->b, url, tmpl, &out);
    UNHOLD(c), UNHOLD(b);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 1);
}

/* ---- Hooks: events, outbox, chat -------------------------------------------------------- */

static lhooks *check_hooks(lua_State *L, int idx)
{
    lhooks *h = check_handle(L, idx, HOOKS_MT);
    h->L = L;
    h->thread = pthread_self();
    if (h->owner)
        ctx_enter(L, h->owner);
    return h;
}

static int hooks_error(lua_State *L, lhooks *h, vbill_status st)
{
    return push_error(L, st, vbill_hooks_errmsg(h->h));
}

static int hooks_close(lua_State *L)
{
    lhooks *h = luaL_checkudata(L, 1, HOOKS_MT);
    if (h->h) {
        check_not_busy(L, h->busy, "hooks handle");
        vbill_hooks_free(h->h); /* stops the worker: no callback runs after this */
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
    }
    return 0;
}

/* ctx:open_hooks(state_dir [, config]) -> hooks.  The handle keeps ctx's log callback and is
 * otherwise independent of it: its failures carry its own message (hooks:errmsg()). */
static int ctx_open_hooks(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    const char *dir = check_text(L, 2);
    box *owned;
    const char *config = arg_json(L, 3, 1, 0, &owned, NULL);
    lhooks *h = lua_newuserdatauv(L, sizeof *h, 2);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, HOOKS_MT);
    lua_pushvalue(L, 1); /* the context's log callback is the handle's: keep it alive */
    lua_setiuservalue(L, -2, 1);
    lua_newtable(L); /* callback trampolines by sink name */
    lua_setiuservalue(L, -2, 2);
    h->owner = c;
    HOLD(c);
    vbill_status st = vbill_hooks_open(c->ctx, dir, config, &h->h);
    UNHOLD(c);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return 1;
}

static int hooks_errmsg(lua_State *L)
{
    lua_pushstring(L, vbill_hooks_errmsg(check_hooks(L, 1)->h));
    return 1;
}

/* The state of one callback sink: a userdata kept in the handle's callbacks table by name;
 * the Lua function is found in the registry by the userdata's address. */
typedef struct hook_cb {
    lhooks *h;
} hook_cb;

/* Runs in protected mode (lua_pcall): fn, type, event (light userdatas: C string, cJSON). */
static int hook_call(lua_State *L)
{
    const char *type = lua_touserdata(L, 2);
    const cJSON *event = lua_touserdata(L, 3);
    lua_settop(L, 1);
    lua_pushstring(L, type);
    push_json(L, event, 0);
    lua_call(L, 2, 1);
    return 1;
}

static int hook_trampoline(void *user, const char *type, const char *event_json)
{
    hook_cb *cb = user;
    lua_State *L = cb->h->L;
    /* Only on the thread of the Lua state (the worker is refused, but be sure). */
    if (!L || !pthread_equal(cb->h->thread, pthread_self()) || !lua_checkstack(L, 8))
        return -1;
    cJSON *j = cJSON_Parse(event_json);
    if (!j)
        return -1;
    /* Nothing that allocates (and so could raise) outside the protected call. */
    lua_pushcfunction(L, hook_call);
    lua_rawgetp(L, LUA_REGISTRYINDEX, cb);
    lua_pushlightuserdata(L, (void *)(uintptr_t)type);
    lua_pushlightuserdata(L, j);
    int r = -1;
    if (lua_pcall(L, 3, 1, 0) == LUA_OK) {
        if (lua_type(L, -1) == LUA_TNUMBER) {
            /* seconds to retry after, at most a year; a negative number or NaN: backoff */
            lua_Number d = lua_tonumber(L, -1);
            r = d > 0 ? (int)ceil(d < 31536000 ? d : 31536000) : (d == 0 ? 0 : -1);
        } else {
            r = lua_isnil(L, -1) || lua_toboolean(L, -1) ? 0 : -1;
        }
    }
    lua_pop(L, 1); /* result or error */
    cJSON_Delete(j);
    return r;
}

/* hooks:set_callback(name, fn [, events]): fn(type, event) returns nil/0/true when handled, a
 * positive number of seconds to retry after, or a negative number (or false) for the usual
 * backoff.  Callbacks run inside hooks:pump(), on this Lua state; a handle with callbacks
 * refuses the worker thread, and a running worker refuses callbacks. */
static int hooks_set_callback(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *name = check_text(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    box *owned;
    const char *events = arg_json(L, 4, 1, 0, &owned, NULL);
    if (h->worker)
        return luaL_error(L, "vbill: a Lua callback sink cannot run on the worker thread: "
                             "hooks:stop() it first");
    hook_cb *cb = lua_newuserdatauv(L, sizeof *cb, 0);
    int cbidx = lua_gettop(L);
    cb->h = h;
    lua_pushvalue(L, 3);
    lua_rawsetp(L, LUA_REGISTRYINDEX, cb);
    HOLD(h);
    vbill_status st = vbill_hooks_set_callback(h->h, name, events, hook_trampoline, cb);
    UNHOLD(h);
    drop(owned);
    if (st != VBILL_OK) {
        lua_pushnil(L);
        lua_rawsetp(L, LUA_REGISTRYINDEX, cb);
        return hooks_error(L, h, st);
    }
    /* callbacks[name] = cb; the sink it replaces is no longer called: drop its function. */
    lua_getiuservalue(L, 1, 2);
    if (lua_getfield(L, -1, name) == LUA_TUSERDATA) {
        lua_pushnil(L);
        lua_rawsetp(L, LUA_REGISTRYINDEX, lua_touserdata(L, -2));
    }
    lua_pop(L, 1);
    lua_pushvalue(L, cbidx);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    h->ncallbacks++;
    lua_pushboolean(L, 1);
    return 1;
}

/* hooks:emit(type [, data [, subject]]) -> event id */
static int hooks_emit(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *type = check_text(L, 2);
    const char *subject = opt_text(L, 4, NULL);
    box *owned;
    char *out = NULL;
    const char *data = arg_json(L, 3, 1, 0, &owned, NULL);
    HOLD(h);
    vbill_status st = vbill_hooks_emit(h->h, type, subject, data, &out);
    UNHOLD(h);
    drop(owned);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    return push_result(L, out, 1);
}

/* hooks:emit_still(type, subject, data, jpeg) -> event id.  subject, data and jpeg (the
 * JPEG bytes, e.g. from ctx:render_still) may be nil. */
static int hooks_emit_still(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *type = check_text(L, 2);
    const char *subject = opt_text(L, 3, NULL);
    size_t jlen = 0;
    const char *jpeg = lua_isnoneornil(L, 5) ? NULL : luaL_checklstring(L, 5, &jlen);
    box *owned;
    char *out = NULL;
    const char *data = arg_json(L, 4, 1, 0, &owned, NULL);
    HOLD(h);
    vbill_status st = vbill_hooks_emit_still(h->h, type, subject, data,
                                             (const unsigned char *)jpeg, jlen, &out);
    UNHOLD(h);
    drop(owned);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    return push_result(L, out, 1);
}

/* hooks:pump([max_ms]) -> deliveries made.  From inside one of the handle's own callbacks
 * it returns nil, message, vbill.ERR_BUSY. */
static int hooks_pump(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    lua_Integer max_ms = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, max_ms >= 0 && max_ms <= UINT32_MAX, 2, "milliseconds out of range");
    size_t n = 0;
    HOLD(h);
    vbill_status st = vbill_hooks_pump(h->h, (unsigned)max_ms, &n);
    UNHOLD(h);
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
    HOLD(h);
    vbill_status st = vbill_hooks_pending(h->h, &n, &due);
    UNHOLD(h);
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
        return luaL_error(L, "vbill: a handle with Lua callback sinks must be pumped with "
                             "hooks:pump(), not by the worker thread");
    HOLD(h);
    vbill_status st = vbill_hooks_start(h->h);
    UNHOLD(h);
    if (st == VBILL_OK)
        h->worker = 1;
    return st != VBILL_OK ? hooks_error(L, h, st) : ok_or(L, st, NULL);
}

static int hooks_stop(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    HOLD(h);
    vbill_status st = vbill_hooks_stop(h->h);
    UNHOLD(h);
    if (st == VBILL_OK)
        h->worker = 0;
    return st != VBILL_OK ? hooks_error(L, h, st) : ok_or(L, st, NULL);
}

static int hooks_json_call(lua_State *L, vbill_status (*fn)(vbill_hooks *, char **))
{
    lhooks *h = check_hooks(L, 1);
    char *out = NULL;
    HOLD(h);
    vbill_status st = fn(h->h, &out);
    UNHOLD(h);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    return push_result(L, out, 0);
}

static int hooks_status(lua_State *L) { return hooks_json_call(L, vbill_hooks_status); }
static int hooks_dead(lua_State *L) { return hooks_json_call(L, vbill_hooks_dead); }

static int hooks_replay(lua_State *L)
{
    lhooks *h = check_hooks(L, 1);
    const char *id = opt_text(L, 2, NULL);
    size_t n = 0;
    HOLD(h);
    vbill_status st = vbill_hooks_replay(h->h, id, &n);
    UNHOLD(h);
    if (st != VBILL_OK)
        return hooks_error(L, h, st);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* ctx:event_data(bill [, link [, extra]]) -> table */
static int ctx_event_data(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lbill *b = check_bill(L, 2);
    const char *link = opt_text(L, 3, NULL);
    box *owned;
    char *out = NULL;
    const char *extra = arg_json(L, 4, 1, 0, &owned, NULL);
    HOLD(c), HOLD(b);
    vbill_status st = vbill_hooks_event_data(c->ctx, b->b, link, extra, &out);
    UNHOLD(c), UNHOLD(b);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ctx:chat_answer(bill, question [, faq [, position_s [, now]]]) -> table */
static int ctx_chat_answer(lua_State *L)
{
    lctx *c = check_ctx(L, 1);
    lbill *b = check_bill(L, 2);
    const char *question = check_text(L, 3);
    double pos = luaL_optnumber(L, 5, -1.0);
    lua_Integer now = luaL_optinteger(L, 6, 0);
    box *owned;
    char *out = NULL;
    const char *faq = arg_json(L, 4, 1, 0, &owned, NULL);
    HOLD(c), HOLD(b);
    vbill_status st = vbill_chat_answer(c->ctx, b->b, question, faq, pos, (int64_t)now, &out);
    UNHOLD(c), UNHOLD(b);
    drop(owned);
    if (st != VBILL_OK)
        return ctx_error(L, c, st);
    return push_result(L, out, 0);
}

/* ---- module functions --------------------------------------------------------------------- */

static int l_version(lua_State *L)
{
    lua_pushstring(L, vbill_version());
    return 1;
}

static int l_version_num(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)vbill_version_num());
    return 1;
}

/* vbill.has(feature) -> boolean: whether the library was built with the part ("video",
 * "redis"; "records", "mustache", "auth", "hooks", "chat" are always there). */
static int l_has(lua_State *L)
{
    lua_pushboolean(L, vbill_has(check_text(L, 1)));
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

/* vbill.to_json(value) -> compact JSON text; raises for a value that cannot be JSON. */
static int l_to_json(lua_State *L)
{
    luaL_checkany(L, 1);
    const char *err = NULL;
    cJSON *j = to_json(L, 1, 0, &err);
    if (!j) {
        if (err)
            return luaL_argerror(L, 1, lua_pushfstring(L, "cannot be JSON: %s", err));
        return luaL_error(L, "not enough memory");
    }
    box_push(L, j, release_cjson);
    char *text = cJSON_PrintUnformatted(j);
    if (!text)
        return luaL_error(L, "not enough memory");
    box_push(L, text, free);
    lua_pushstring(L, text);
    return 1;
}

/* vbill.from_json(text) -> table (nil, message, vbill.ERR_JSON for text that is not JSON) */
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
    vbill_status st = vbill_text_euckr_bytes(check_text(L, 1), &n);
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
    {"bill", ctx_bill},
    {"bill_from_json", l_bill_from_json},
    {"default_slots", ctx_default_slots},
    {"mustache", ctx_mustache},
    {"generate_keys", ctx_generate_keys},
    {"keys_from_json", ctx_keys_from_json},
    {"split_keys", ctx_split_keys},
    {"load_keys", ctx_load_keys},
    {"open_store", ctx_open_store},
    {"open_redis_store", ctx_open_redis_store},
    {"open_redis_url", ctx_open_redis_url},
    {"link_issue", ctx_link_issue},
    {"link_verify", ctx_link_verify},
    {"link_verify_store", ctx_link_verify_store},
    {"link_attempts", ctx_link_attempts},
    {"link_reissue", ctx_link_reissue},
    {"link_unlock", ctx_link_unlock},
    {"link_revoke", ctx_link_revoke},
    {"auth_check", ctx_auth_check},
    {"session_verify", ctx_session_verify},
    {"message_build", ctx_message_build},
    {"open_template", ctx_open_template},
    {"render_mp4", ctx_render_mp4},
    {"render_hls", ctx_render_hls},
    {"render_playlist", ctx_render_playlist},
    {"render_segment", ctx_render_segment},
    {"render_still", ctx_render_still},
    {"still_jpeg", ctx_still_jpeg},
    {"write_builtin_template", ctx_write_builtin_template},
    {"open_hooks", ctx_open_hooks},
    {"event_data", ctx_event_data},
    {"chat_answer", ctx_chat_answer},
    {NULL, NULL}};

static const luaL_Reg bill_methods[] = {
    {"close", bill_close},
    {"to_json", bill_to_json},
    {"context", bill_context},
    {"context_json", bill_context_json},
    {"id", bill_id},
    {"scenario", bill_scenario},
    {"locale", bill_locale},
    {"cycle", bill_cycle},
    {"cycle_start", bill_cycle_start},
    {"senior", bill_senior},
    {"speed", bill_speed},
    {"can_issue_link", bill_can_issue_link},
    {NULL, NULL}};

static const luaL_Reg keys_methods[] = {
    {"close", keys_close},
    {"set_session_ttl", keys_set_session_ttl},
    {"add_peppers", keys_add_peppers},
    {"load_peppers", keys_load_peppers},
    {"errmsg", keys_errmsg},
    {NULL, NULL}};

static const luaL_Reg store_methods[] = {
    {"close", store_close},
    {"set_limits", store_set_limits},
    {"set_subscriber_limit", store_set_subscriber_limit},
    {"set_slowdown", store_set_slowdown},
    {"set_lock_hook", store_set_lock_hook},
    {"set_alarm", store_set_alarm},
    {"stats", store_stats},
    {"errmsg", store_errmsg},
    {NULL, NULL}};

static const luaL_Reg template_methods[] = {
    {"close", template_close},
    {"prepare", template_prepare},
    {"errmsg", template_errmsg},
    {"is_prepared", template_is_prepared},
    {"scenario", template_scenario},
    {"info", template_info},
    {NULL, NULL}};

static const luaL_Reg hooks_methods[] = {
    {"close", hooks_close},
    {"errmsg", hooks_errmsg},
    {"set_callback", hooks_set_callback},
    {"emit", hooks_emit},
    {"emit_still", hooks_emit_still},
    {"pump", hooks_pump},
    {"pending", hooks_pending},
    {"start", hooks_start},
    {"stop", hooks_stop},
    {"status", hooks_status},
    {"dead", hooks_dead},
    {"replay", hooks_replay},
    {NULL, NULL}};

static int generic_tostring(lua_State *L)
{
    void *u = lua_touserdata(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "__name");
    if (u && !*(void **)u)
        lua_pushfstring(L, "%s (closed)", lua_tostring(L, -1));
    else
        lua_pushfstring(L, "%s (%p)", lua_tostring(L, -1), u);
    return 1;
}

static void new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc,
                     lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    if (tostring) {
        lua_pushcfunction(L, tostring);
    } else {
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, generic_tostring, 1);
    }
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
    {"ERR_UNSUPPORTED", VBILL_ERR_UNSUPPORTED},
    {"ERR_BUSY", VBILL_ERR_BUSY},
};

__attribute__((visibility("default"))) int luaopen_vbill(lua_State *L);

__attribute__((visibility("default"))) int luaopen_vbill(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"new", l_new},
        {"context", l_new},
        {"bill_from_json", l_bill_from_json},
        {"version", l_version},
        {"version_num", l_version_num},
        {"has", l_has},
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
    new_type(L, CTX_MT, ctx_methods, ctx_close, NULL);
    luaL_getmetatable(L, CTX_MT);
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    new_type(L, BILL_MT, bill_methods, bill_close, bill_tostring);
    new_type(L, KEYS_MT, keys_methods, keys_close, NULL);
    new_type(L, STORE_MT, store_methods, store_close, NULL);
    new_type(L, HOOKS_MT, hooks_methods, hooks_close, NULL);
    new_type(L, TEMPLATE_MT, template_methods, template_close, NULL);
    luaL_newmetatable(L, BOX_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, OBJECT_MT);
    lua_pop(L, 1);
    luaL_newmetatable(L, ARRAY_MT);
    lua_pop(L, 1);
    /* STORES_KEY: weak values, so it never keeps a store alive; kept when the module is
     * loaded again in the same state (the stores already open stay in it). */
    if (lua_getfield(L, LUA_REGISTRYINDEX, STORES_KEY) != LUA_TTABLE) {
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "v");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, STORES_KEY);
    }
    lua_pop(L, 1);
    if (!new_ctx(L))
        return luaL_error(L, "vbill: %s", lua_tostring(L, -2));
    lua_setfield(L, LUA_REGISTRYINDEX, UTIL_KEY);

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
    lua_pushstring(L, VBILL_VERSION);
    lua_setfield(L, -2, "HEADERS_VERSION");
    return 1;
}
