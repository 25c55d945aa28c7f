/*
** pam.c - the Predictive Analysis Module: Lua 5.4 rules, sandboxed.
**
** One lua_State per rules script, created on first use and kept for the
** life of the process.  Scripts are found by the text the descriptor embeds
** (desc->rules_source; NULL means lua-rules/default.lua, embedded in libptm
** as ptmDefaultRules), so descriptors from different translation units that
** embed the same script share a state.  PTM_RULES=path replaces every
** transaction's script with that file, read when first needed.
**
** Each state has a mutex: threads share a state, one analysis at a time.
** The list of states has its own mutex, held only to find or add an entry;
** a state is loaded under its own mutex, so a slow script does not hold up
** transactions that use another one.
**
** The sandbox:
**   - libraries: base (without dofile, loadfile, load, require,
**     collectgarbage, print, warn), string, table, math, utf8, an `os`
**     with only time, clock and date, and a small `ptm` table (below);
**   - text chunks only (no precompiled bytecode);
**   - memory: a lua_Alloc that refuses to grow the state beyond
**     PTM_PAM_MEMORY_CAP bytes, so a memory bomb is a Lua memory error;
**   - time: every load and every analyze() runs in a fresh coroutine with a
**     count and call hook (pam_budget.c); after PTM_PAM_BUDGET VM instructions, or
**     PTM_PAM_TIME_MS of wall-clock time (one instruction can be a long
**     library call: string.rep of megabytes), checked every 100
**     instructions, the hook yields out of the coroutine, which no pcall()
**     in the script can catch (where a yield is impossible, inside a C call
**     such as table.sort's comparator, it raises an error instead, and keeps
**     raising one every 1000 instructions; pcall and xpcall are wrapped to
**     re-raise it).  The clock is also read on every function call (a call
**     hook cannot yield: it raises), by the allocator (past the time, the
**     state does not grow) and by the library functions that loop inside
**     one C call, which pam_lib.c and pam_match.c replace with bounded ones
**     (ptmPamSpend).  The hook stays on while pending to-be-closed variables
**     are closed.  setmetatable refuses __gc, since Lua runs finalizers
**     with hooks off.  The rules run in the C locale (ptmPamAnalyze).
**
** Every failure is absorbed: the caller gets PTM_ERULES and a message, the
** host program never sees a Lua error or a panic.  All Lua API calls that
** can raise run inside lua_pcall (pamProtected*), so the stack is balanced
** on every path.  A script that fails to load stays failed (its error is
** returned on each call without reloading); a runtime error in analyze()
** leaves the state usable for the next call.
*/
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "pam_int.h"
#include "ptm_int.h"

#define PTM_PAM_RULES_FILE_MAX (1u << 20) /* PTM_RULES files larger are refused */

/* What libptm's Lua sees as stdin, stdout and stderr: its archive is
** compiled for programs and reaches those PC-relative, which a shared
** object cannot, so the prelink renames its references to these
** (runtime/CMakeLists.txt).  They are set before main, and before the
** constructors of default priority that could start a transaction. */
FILE *ptmLuaStdin, *ptmLuaStdout, *ptmLuaStderr;

__attribute__((constructor(101))) static void pamLuaStreamsInit(void)
{
    ptmLuaStdin = stdin;
    ptmLuaStdout = stdout;
    ptmLuaStderr = stderr;
}

struct pamState {
    struct ptmPamBudget budget;   /* first: lua_getextraspace points at both */
    struct pamState *next;
    char *src;                    /* the script's text (a copy) */
    char *name;                   /* for messages and traces */
    char *chunkname;              /* "@name" */
    int from_file;                /* src is read from name when loaded */
    pthread_mutex_t mu;           /* everything below */
    int loaded;                   /* pamStateLoad ran */
    int failed;                   /* ...and failed: error says why */
    char error[256];
    lua_State *L;
    int module_ref;               /* the table the script returned */
    unsigned when;                /* PAM_WHEN_* the script's result depends on;
                                     0: analyze() runs on every call */
    size_t mem_used;
    size_t mem_cap;
};
_Static_assert(offsetof(struct pamState, budget) == 0, "ptmPamBudgetOf reads a pamState");

/* rules.when: the signals a script's result depends on (signals.def's
** PTM_SIGNAL_WHEN rows, bit i for row i).  When none of them fired,
** analyze() would return 0 with no adjustment, so it is not run. */
static const char *const pamWhenNames[] = {
#define PTM_SIGNAL_WHEN(key, fired) #key,
#include "signals.def"
#undef PTM_SIGNAL_WHEN
};
#define PAM_N_WHEN (sizeof pamWhenNames / sizeof pamWhenNames[0])
/* "contention, validation, ...", for the error message. */
#define PTM_SIGNAL_WHEN(key, fired) ", " #key
static const char pamWhenList[] =
#include "signals.def"
    ;
#undef PTM_SIGNAL_WHEN

/* pamWhenFired: the bits of the PTM_SIGNAL_WHEN rows that fired in s. */
static unsigned pamWhenFired(const struct ptmSignals *s)
{
    unsigned fired = 0, bit = 1;
#define PTM_SIGNAL_WHEN(key, expr) \
    fired |= (expr) ? bit : 0;     \
    bit <<= 1;
#include "signals.def"
#undef PTM_SIGNAL_WHEN
    return fired;
}

static pthread_mutex_t pamListMu = PTHREAD_MUTEX_INITIALIZER;
static struct pamState *pamList;

static pthread_once_t pamEnvOnce = PTHREAD_ONCE_INIT;
static struct pamState *pamOverride; /* PTM_RULES, or NULL */
static char *pamOverridePath;

/*
** Forks.  A state's lock is held for a whole rules run (up to its time
** budget), so it is not held across fork(): every fork would wait for
** other threads' rules.  Instead a child of fork() looks at each lock it
** inherited: one that a thread of the parent held (that thread is not in
** the child) marks a state whose Lua run stopped half-way, so the child
** gets a fresh lock and loads that state anew at its next use (the old
** Lua state is left as it is: closing it could run into what the run
** left half-done).  A held list lock is made fresh the same way: the list
** is only ever prepended with states already built.  Registered before
** main, so before any thread can hold them.
*/
static void pamStateAtforkChild(struct pamState *st)
{
    if (!st)
        return;
    if (pthread_mutex_trylock(&st->mu) == 0) {
        pthread_mutex_unlock(&st->mu);
        return;
    }
    pthread_mutex_init(&st->mu, NULL);
    memset(&st->budget, 0, sizeof st->budget);
    st->loaded = 0;
    st->failed = 0;
    st->error[0] = 0;
    st->L = NULL;
    st->module_ref = 0;
    st->when = 0;
    st->mem_used = 0;
}

static void pamAtforkChild(void)
{
    if (pthread_mutex_trylock(&pamListMu) != 0)
        pthread_mutex_init(&pamListMu, NULL);
    else
        pthread_mutex_unlock(&pamListMu);
    for (struct pamState *st = pamList; st; st = st->next)
        pamStateAtforkChild(st);
    pamStateAtforkChild(pamOverride);
}

__attribute__((constructor)) static void pamAtforkInit(void)
{
    (void)pthread_atfork(NULL, NULL, pamAtforkChild);
}

/* --- small helpers ------------------------------------------------------ */

static void pamCopy(char *dst, size_t cap, const char *fmt, ...) PTM_PRINTF_LIKE(3, 4);
static void pamCopy(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n >= (int)cap && cap > 4)
        memcpy(dst + cap - 4, "...", 4);
}

static char *pamStrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* --- the allocator ----------------------------------------------------- */

/* A lua_Alloc that keeps the state under st->mem_cap bytes and, during a
** run, refuses to grow it once the run is out of time (a library call that
** builds a large result allocates as it goes).  Shrinking and freeing
** always succeed, as Lua requires. */
static void *pamAlloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct pamState *st = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        st->mem_used -= old;
        return NULL;
    }
    if (nsize > old && st->mem_used - old + nsize > st->mem_cap)
        return NULL;
    if (nsize > old && ptmPamBudgetRefuses(&st->budget))
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    st->mem_used = st->mem_used - old + nsize;
    return p;
}

static struct pamState *pamStateOf(lua_State *L)
{
    return *(struct pamState **)lua_getextraspace(L);
}

/* --- the `ptm` library for rule authors -------------------------------- */

/* ptm.errname(n): "EACCES" for 13, nil for 0 or an unknown value. */
static int pamLibErrname(lua_State *L)
{
    lua_Integer e = luaL_checkinteger(L, 1);
    const char *s = (e > 0 && e < 4096) ? strerrorname_np((int)e) : NULL;
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
    return 1;
}

/* ptm.errclass(n): "validation", "contention" or nil. */
static int pamLibErrclass(lua_State *L)
{
    lua_Integer e = luaL_checkinteger(L, 1);
    const char *s = (e > 0 && e < 4096) ? ptmErrnoClass((int)e) : NULL;
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
    return 1;
}

/* ptm.strerror(n): the C library's message for an errno value. */
static int pamLibStrerror(lua_State *L)
{
    lua_Integer e = luaL_checkinteger(L, 1);
    char buf[128];
    const char *s = strerror_r((int)(e >= 0 && e < 4096 ? e : 0), buf, sizeof buf);
    lua_pushstring(L, s);
    return 1;
}

/* ptm.errno(name): the errno value named name ("ENOSPC" -> 28; the aliases
** EWOULDBLOCK, EDEADLOCK, ENOTSUP too), nil for any other string: the
** inverse of ptm.errname, so that rules compare errnos by name whatever
** the architecture numbers them.  Constant time: at most 4095 names. */
static int pamLibErrno(lua_State *L)
{
    static const struct {
        const char *name;
        int value;
    } aliases[] = {{"EWOULDBLOCK", EWOULDBLOCK}, {"EDEADLOCK", EDEADLOCK}, {"ENOTSUP", ENOTSUP}};
    const char *name = luaL_checkstring(L, 1);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].name) == 0) {
            lua_pushinteger(L, aliases[i].value);
            return 1;
        }
    for (int e = 1; e < 4096; e++) {
        const char *s = strerrorname_np(e);
        if (s && strcmp(s, name) == 0) {
            lua_pushinteger(L, e);
            return 1;
        }
    }
    lua_pushnil(L);
    return 1;
}

static const luaL_Reg pamPtmLib[] = {
    {"errname", pamLibErrname},
    {"errclass", pamLibErrclass},
    {"strerror", pamLibStrerror},
    {"errno", pamLibErrno},
    {NULL, NULL},
};

/*
** pcall and xpcall, wrapped: once the budget is spent they re-raise the
** error they caught, so that a script cannot catch the budget's error and
** go on.  Yields pass through (lua_callk), as the budget's yield must.
*/
static int pamPcallK(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    if (pamStateOf(L)->budget.budget_hit && !lua_toboolean(L, 1)) {
        lua_settop(L, 2);
        return lua_error(L);
    }
    return lua_gettop(L);
}

static int pamPcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the real pcall or xpcall */
    lua_insert(L, 1);
    lua_callk(L, n, LUA_MULTRET, 0, pamPcallK);
    return pamPcallK(L, LUA_OK, 0);
}

/*
** setmetatable, wrapped: a metatable with __gc is refused.  Lua runs
** finalizers with hooks off, so a __gc could run forever beyond the budget;
** Lua marks objects for finalization only when setmetatable sees __gc, so
** checking here is enough.
*/
static int pamSetmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int t = lua_type(L, 2);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in rules");
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the real setmetatable */
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* Base functions replaced by the wrappers above (each gets the original
** as its upvalue). */
static const luaL_Reg pamBaseWrapped[] = {
    {"pcall", pamPcall},
    {"xpcall", pamPcall},
    {"setmetatable", pamSetmetatable},
    {NULL, NULL},
};

/* The os functions a script may use. */
static const char *const pamOsAllowed[] = {"time", "clock", "date", NULL};
/* Base functions removed: they reach files, compile code, print, or let a
** script disturb the memory accounting. */
static const char *const pamBaseRemoved[] = {
    "dofile", "loadfile", "load", "require", "collectgarbage", "print", "warn", NULL};

static const luaL_Reg pamLibs[] = {
    {LUA_GNAME, luaopen_base},
    {LUA_STRLIBNAME, luaopen_string},
    {LUA_TABLIBNAME, luaopen_table},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},
    {NULL, NULL},
};

/* Protected: opens the sandbox's libraries in a fresh state. */
static int pamProtectedOpen(lua_State *L)
{
    for (const luaL_Reg *lib = pamLibs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    for (const char *const *p = pamBaseRemoved; *p; p++) {
        lua_pushnil(L);
        lua_setglobal(L, *p);
    }
    for (const luaL_Reg *w = pamBaseWrapped; w->func; w++) {
        lua_getglobal(L, w->name);
        lua_pushcclosure(L, w->func, 1);
        lua_setglobal(L, w->name);
    }
    lua_pushcfunction(L, luaopen_os);
    lua_call(L, 0, 1);                        /* the full os table */
    lua_createtable(L, 0, 3);                 /* the sandbox's os */
    for (const char *const *p = pamOsAllowed; *p; p++) {
        lua_getfield(L, -2, *p);
        lua_setfield(L, -2, *p);
    }
    ptmPamOpenBounded(L);
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    luaL_newlib(L, pamPtmLib);
    luaL_setfuncs(L, ptmPamModelLib, 0);
    lua_pushstring(L, PTM_VERSION);
    lua_setfield(L, -2, "version");
    lua_setglobal(L, "ptm");
    return 0;
}

/* --- running Lua code under the budget --------------------------------- */

/*
** pamResume: runs the function below nargs arguments on T's stack to the
** end, under the instruction budget.  OUT: *nres, err (on failure).
** Returns 0 when it returned normally, else -1.  T is not reset here.
*/
static int pamResume(struct pamState *st, lua_State *L, lua_State *T, int nargs, int *nres,
                     const char *what, char *err, size_t cap)
{
    ptmPamBudgetStart(&st->budget, T);
    int rc = lua_resume(T, L, nargs, nres);
    st->budget.running = 0;
    /* The hook stays: closing T's pending to-be-closed variables
    ** (pamDropThread) runs script code too. */
    if (st->budget.budget_hit && st->budget.time_hit) {
        pamCopy(err, cap, "rules %s: %s: time budget of %d ms exceeded", st->name, what,
                PTM_PAM_TIME_MS);
        return -1;
    }
    if (st->budget.budget_hit) {
        pamCopy(err, cap, "rules %s: %s: instruction budget of %d exceeded", st->name, what,
                PTM_PAM_BUDGET);
        return -1;
    }
    if (rc == LUA_OK)
        return 0;
    if (rc == LUA_YIELD) {
        pamCopy(err, cap, "rules %s: %s: yielded", st->name, what);
        return -1;
    }
    if (rc == LUA_ERRMEM) {
        pamCopy(err, cap, "rules %s: %s: memory cap of %zu KiB exceeded (not enough memory)",
                st->name, what, st->mem_cap / 1024);
        return -1;
    }
    const char *msg = lua_type(T, -1) == LUA_TSTRING ? lua_tostring(T, -1) : NULL;
    if (msg)
        pamCopy(err, cap, "rules %s: %s: %s", st->name, what, msg);
    else
        pamCopy(err, cap, "rules %s: %s: error object is a %s value", st->name, what,
                luaL_typename(T, -1));
    return -1;
}

/* Closes the coroutine on the top of L (its to-be-closed variables) and
** pops it. */
static void pamDropThread(lua_State *L, lua_State *T)
{
#if LUA_VERSION_RELEASE_NUM >= 50406
    lua_closethread(T, L);
#else
    lua_resetthread(T);
#endif
    lua_pop(L, 1);
}

struct pamLoadCtx {
    struct pamState *st;
    char err[256];
    int failed;
};

/* pamReadWhen: the module's optional `when` list (module on top of L) into
** st->when.  Returns 0, or -1 with err set when it is malformed. */
static int pamReadWhen(lua_State *L, struct pamState *st, char *err, size_t cap)
{
    st->when = 0;
    lua_pushliteral(L, "when");
    int t = lua_rawget(L, -2);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TTABLE) {
        pamCopy(err, cap, "rules %s: load: when must be a list of signal names, not %s",
                st->name, lua_typename(L, t));
        lua_pop(L, 1);
        return -1;
    }
    lua_Unsigned n = lua_rawlen(L, -1);
    for (lua_Unsigned i = 1; i <= n; i++) {
        unsigned bit = 0;
        if (lua_rawgeti(L, -1, (lua_Integer)i) == LUA_TSTRING)
            for (size_t k = 0; k < PAM_N_WHEN; k++)
                if (strcmp(lua_tostring(L, -1), pamWhenNames[k]) == 0)
                    bit = 1u << k;
        lua_pop(L, 1);
        if (!bit) {
            pamCopy(err, cap, "rules %s: load: when[%llu] is not one of %s", st->name,
                    (unsigned long long)i, pamWhenList + 2);
            lua_pop(L, 1);
            return -1;
        }
        st->when |= bit;
    }
    lua_pop(L, 1);
    if (!st->when) {
        pamCopy(err, cap, "rules %s: load: when is empty; leave it out to run analyze "
                "on every call", st->name);
        return -1;
    }
    return 0;
}

/* pamQuiet: whether none of the signals st's script depends on fired, so
** that analyze() need not run. */
static int pamQuiet(const struct pamState *st, const struct ptmObservation *obs)
{
    const struct ptmSignals *s = obs->signals;
    if (!st->when || !s)
        return 0;
    /* An open circuit breaker has something to say even then.  The
    ** model alone does not: where no signal fired it only measures the
    ** primary's base failure rate, and a host whose calls often fail as a
    ** matter of course (a lookup that finds nothing, a Lua error) must not
    ** see them all diverted for it. */
    const struct ptmModelView *mv = obs->model;
    if (mv && mv->breaker > 0)
        return 0;
    return (pamWhenFired(s) & st->when) == 0;
}

/* Protected: compiles and runs the script, keeps the table it returns. */
static int pamProtectedLoad(lua_State *L)
{
    struct pamLoadCtx *c = lua_touserdata(L, 1);
    struct pamState *st = c->st;
    /* As lua(1) reads a file: past a UTF-8 BOM and a first line that
    ** starts with '#' (a shebang); its newline stays, lines keep numbers. */
    const char *text = st->src;
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    if (*text == '#')
        text += strcspn(text, "\n");
    int rc = luaL_loadbufferx(L, text, strlen(text), st->chunkname, "t");
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM)
            pamCopy(c->err, sizeof c->err, "rules %s: load: memory cap exceeded", st->name);
        else
            pamCopy(c->err, sizeof c->err, "rules %s: load: %s", st->name,
                    lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
        c->failed = 1;
        return 0;
    }
    lua_State *T = lua_newthread(L);
    lua_rotate(L, -2, 1);                     /* thread, chunk */
    lua_xmove(L, T, 1);
    int nres = 0;
    /* Once per script and process, and a failure is for good: in CPU time
    ** (pam_budget.c). */
    st->budget.by_cpu = 1;
    int loadRc = pamResume(st, L, T, 0, &nres, "load", c->err, sizeof c->err);
    st->budget.by_cpu = 0;
    if (loadRc != 0) {
        c->failed = 1;
        pamDropThread(L, T);
        return 0;
    }
    if (nres < 1 || lua_type(T, -nres) != LUA_TTABLE) {
        pamCopy(c->err, sizeof c->err,
                "rules %s: load: the script must return a table with a function analyze(m)",
                st->name);
        c->failed = 1;
        pamDropThread(L, T);
        return 0;
    }
    lua_pop(T, nres - 1);
    lua_xmove(T, L, 1);                       /* thread, module */
    lua_pushliteral(L, "analyze");
    int t_analyze = lua_rawget(L, -2);
    lua_pushliteral(L, "on_event");
    int t_on_event = lua_rawget(L, -3);
    lua_pop(L, 2);
    if (pamReadWhen(L, st, c->err, sizeof c->err) != 0) {
        c->failed = 1;
        lua_pop(L, 1);
        pamDropThread(L, T);
        return 0;
    }
    if (t_analyze != LUA_TFUNCTION) {
        pamCopy(c->err, sizeof c->err,
                "rules %s: load: the returned table has no function analyze(m) (analyze is %s)",
                st->name, lua_typename(L, t_analyze));
        c->failed = 1;
    } else if (t_on_event != LUA_TNIL && t_on_event != LUA_TFUNCTION) {
        pamCopy(c->err, sizeof c->err, "rules %s: load: on_event must be a function, not %s",
                st->name, lua_typename(L, t_on_event));
        c->failed = 1;
    }
    if (c->failed) {
        lua_pop(L, 1);
        pamDropThread(L, T);
        return 0;
    }
    st->module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    pamDropThread(L, T);
    return 0;
}

/* Reads a PTM_RULES file.  OUT: *text (malloc'd, NUL-terminated).
** Returns PTM_OK, PTM_EINVAL (not a regular file: a FIFO, a directory),
** PTM_ERROR (errno set) or PTM_ENOMEM. */
static enum ptmRc pamReadFile(const char *path, char **text)
{
    *text = NULL;
    /* Non-blocking: a FIFO named by mistake must not stall the host. */
    int fd = ptmOs.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd < 0)
        return PTM_ERROR;
    struct stat st;
    if (ptmOs.fstat(fd, &st) != 0) {
        int err = errno;
        ptmOs.close(fd);
        errno = err;
        return PTM_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        ptmOs.close(fd);
        return PTM_EINVAL;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf) {
        ptmOs.close(fd);
        return PTM_ENOMEM;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= PTM_PAM_RULES_FILE_MAX) {
                free(buf);
                ptmOs.close(fd);
                errno = EFBIG;
                return PTM_ERROR;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                ptmOs.close(fd);
                return PTM_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = ptmOs.read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            ptmOs.close(fd);
            errno = e;
            return PTM_ERROR;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    ptmOs.close(fd);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        errno = EINVAL; /* a NUL byte: not a text chunk */
        return PTM_ERROR;
    }
    *text = buf;
    return PTM_OK;
}

/*
** pamStateLoad: creates st's Lua state and runs its script.  st->mu held.
** On failure st->failed is set and st->error says why; the state is closed.
*/
static void pamStateLoad(struct pamState *st)
{
    st->loaded = 1;
    if (st->from_file) {
        char *text;
        enum ptmRc rc = pamReadFile(st->name, &text);
        if (rc != PTM_OK) {
            pamCopy(st->error, sizeof st->error, "rules %s (PTM_RULES): cannot read: %s",
                    st->name, rc == PTM_ENOMEM   ? "out of memory"
                              : rc == PTM_EINVAL ? "not a regular file"
                                                 : strerror(errno));
            st->failed = 1;
            return;
        }
        free(st->src);
        st->src = text;
    }
    st->mem_used = 0;
    st->mem_cap = PTM_PAM_MEMORY_CAP;
    lua_State *L = lua_newstate(pamAlloc, st);
    if (!L) {
        pamCopy(st->error, sizeof st->error, "rules %s: cannot create a Lua state", st->name);
        st->failed = 1;
        return;
    }
    *(struct pamState **)lua_getextraspace(L) = st;
    lua_pushcfunction(L, pamProtectedOpen);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        pamCopy(st->error, sizeof st->error, "rules %s: cannot open the libraries: %s",
                st->name, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
        lua_close(L);
        st->failed = 1;
        return;
    }
    struct pamLoadCtx c = {.st = st};
    lua_pushcfunction(L, pamProtectedLoad);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        if (!c.failed)
            pamCopy(c.err, sizeof c.err, "rules %s: load: %s", st->name,
                    lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "out of memory");
        c.failed = 1;
    }
    if (c.failed) {
        memcpy(st->error, c.err, sizeof st->error);
        lua_close(L);
        st->failed = 1;
        return;
    }
    st->L = L;
}

/* --- building m ---------------------------------------------------------- */

static void pamSetNum(lua_State *L, const char *k, double x)
{
    lua_pushnumber(L, x);
    lua_setfield(L, -2, k);
}

static void pamSetInt(lua_State *L, const char *k, lua_Integer x)
{
    lua_pushinteger(L, x);
    lua_setfield(L, -2, k);
}

static void pamSetStr(lua_State *L, const char *k, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, k);
}

static void pamSetBool(lua_State *L, const char *k, int b)
{
    lua_pushboolean(L, b);
    lua_setfield(L, -2, k);
}

/* Pushes one event as a table (the fields are documented in README.md). */
static void pamPushEvent(lua_State *L, const struct ptmEvent *ev)
{
    lua_createtable(L, 0, 12);
    pamSetStr(L, "kind", ptmEventKindName(ev->kind));
    pamSetStr(L, "call", ptmCallName(ev->call));
    if (ev->target[0])
        lua_pushlstring(L, ev->target, strnlen(ev->target, sizeof ev->target)),
            lua_setfield(L, -2, "target");
    if (ev->detail[0])
        lua_pushlstring(L, ev->detail, strnlen(ev->detail, sizeof ev->detail)),
            lua_setfield(L, -2, "detail");
    pamSetInt(L, "result", (lua_Integer)ev->result);
    pamSetInt(L, "errno", ev->err);
    if (ev->err) {
        pamSetStr(L, "errname", strerrorname_np(ev->err));
        pamSetStr(L, "class", ptmErrnoClass(ev->err));
    }
    pamSetInt(L, "bytes", (lua_Integer)ev->bytes);
    pamSetNum(L, "t_ms", (double)ev->t_ns / 1e6);
    pamSetNum(L, "dur_ms", (double)ev->dur_ns / 1e6);
}

/* Pushes the table m that analyze(m) receives. */
static void pamPushM(lua_State *L, const struct ptmObservation *obs)
{
    const struct ptm_tx_desc *d = obs->desc;
    const struct ptmMirrorRun *run = obs->run;
    const struct ptmRing *ring = run ? run->ring : NULL;

    lua_createtable(L, 0, 16);
    pamSetStr(L, "transaction_id", d->transaction_id);
    pamSetStr(L, "function", d->function);
    pamSetNum(L, "threshold", d->threshold);
    pamSetNum(L, "deviation_threshold", PTM_DEVIATION_THRESHOLD);
    pamSetInt(L, "retry_max", d->retry_max);
    if (d->timeout_us)
        pamSetNum(L, "timeout_ms", (double)d->timeout_us / 1000.0);
    pamSetStr(L, "rules", ptmPamRulesName(d));

    lua_createtable(L, (int)d->n_alternatives, 0);
    for (unsigned i = 0; i < d->n_alternatives; i++) {
        lua_pushstring(L, d->alternatives[i].name ? d->alternatives[i].name : "?");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "alternatives");

    if (run) {
        lua_createtable(L, 0, 8);
        pamSetStr(L, "executor", ptmExecutorName(run->executor));
        pamSetStr(L, "status", ptmStatusName(run->status));
        pamSetNum(L, "duration_ms", (double)run->duration_ns / 1e6);
        pamSetInt(L, "signal", run->signo);
        pamSetInt(L, "exit_code", run->exit_code);
        pamSetInt(L, "denied", run->denied);
        pamSetInt(L, "events_dropped", ring ? ptmRingDropped(ring) : 0);
        if (run->error[0])
            pamSetStr(L, "error", run->error);
        lua_setfield(L, -2, "mirror");
    }

    uint32_t n = ring ? ptmRingCount(ring) : 0;
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        pamPushEvent(L, &ring->ev[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "events");

    struct ptmSignals none = {.acceptable_timeout_ms = HUGE_VAL};
    const struct ptmSignals *s = obs->signals ? obs->signals : &none;
    lua_createtable(L, 0, PTM_N_SIGNALS);
    for (unsigned i = 0; i < PTM_N_SIGNALS; i++) {
        const struct ptmSignalInfo *si = &ptmSignalTable[i];
        double x = ptmSignalValue(s, i);
        switch (si->type) {
        case PTM_SIGNAL_FLAG: pamSetBool(L, si->name, x != 0); break;
        case PTM_SIGNAL_NUM: pamSetNum(L, si->name, x); break;
        case PTM_SIGNAL_COUNT:
        case PTM_SIGNAL_ERRNO: pamSetInt(L, si->name, (lua_Integer)x); break;
        }
    }
    lua_setfield(L, -2, "signals");

    if (run && run->verdict != PTM_VERDICT_NONE)
        pamSetBool(L, "mirror_success", run->verdict == PTM_VERDICT_MET);

    if (obs->retry) {
        /* A retry judged again: what the attempts so far showed. */
        const struct ptmRetryView *r = obs->retry;
        lua_createtable(L, 0, 8);
        pamSetInt(L, "attempts", r->attempts);
        pamSetInt(L, "retries_left", r->retries_left);
        pamSetNum(L, "last_ms", r->last_ms);
        pamSetNum(L, "elapsed_ms", r->elapsed_ms);
        pamSetBool(L, "overran", r->overran);
        pamSetBool(L, "same_failure", r->same_failure);
        pamSetInt(L, "errno", r->err);
        if (r->err)
            pamSetStr(L, "errname", strerrorname_np(r->err));
        lua_setfield(L, -2, "retry");
    }

    struct ptmHistoryView hnone = {0};
    const struct ptmHistoryView *h = obs->history ? obs->history : &hnone;
    lua_createtable(L, 0, 8);
    pamSetInt(L, "calls", (lua_Integer)h->calls);
    pamSetInt(L, "successes", (lua_Integer)h->successes);
    pamSetInt(L, "failures", (lua_Integer)h->failures);
    pamSetInt(L, "diversions", (lua_Integer)h->diversions);
    pamSetNum(L, "latency_mean_ms", h->latency_mean_us / 1000.0);
    pamSetNum(L, "latency_sd_ms", h->latency_sd_us / 1000.0);
    pamSetInt(L, "latency_n", (lua_Integer)h->latency_n);
    pamSetInt(L, "baseline_n", (lua_Integer)h->baseline_n);
    lua_setfield(L, -2, "history");

    if (obs->model) {
        ptmPamPushModel(L, obs->model);
        lua_setfield(L, -2, "model");
    }
}

/* --- reading analyze's result ------------------------------------------ */

struct pamCallCtx {
    struct pamState *st;
    const struct ptmObservation *obs;
    struct ptmVerdict *v;
    char err[256];
    int failed;
};

#define PAM_FAIL(c, ...)                                                   \
    do {                                                                   \
        char m_[200];                                                      \
        snprintf(m_, sizeof m_, __VA_ARGS__);                              \
        pamCopy((c)->err, sizeof (c)->err, "rules %s: analyze returned %s", \
                (c)->st->name, m_);                                        \
        (c)->failed = 1;                                                   \
        return;                                                            \
    } while (0)

/* Records that the rules asked key = asked, beyond its bounds. */
static void pamClamped(struct ptmVerdict *v, const char *key, double asked)
{
    if (v->n_clamped < PTM_PAM_MAX_CLAMPS) {
        v->clamped[v->n_clamped].key = key;
        v->clamped[v->n_clamped].asked = asked;
        v->n_clamped++;
    }
}

/* The most retries the rules may ask for a call of d. */
static double pamRetriesMax(const struct ptm_tx_desc *d)
{
    if (d->retry_max <= PTM_PAM_RETRIES_MAX)
        return PTM_PAM_RETRIES_MAX;
    return d->retry_max < INT32_MAX ? (double)d->retry_max : INT32_MAX;
}

/* The longest timeout_ms the rules may ask for a call of d. */
static double pamTimeoutMaxMs(const struct ptm_tx_desc *d)
{
    double own = (double)d->timeout_us / 1000.0;
    return own > PTM_PAM_TIMEOUT_MAX_MS ? own : PTM_PAM_TIMEOUT_MAX_MS;
}

/* pamMs: the number on the top of L as milliseconds for key, clamped to
** [0, PTM_PAM_TIMEOUT_MAX_MS] (recorded); a negative, NaN or non-number
** value fails c.  OUT: *us. */
static void pamBackoffMs(lua_State *L, struct pamCallCtx *c, const char *key, uint64_t *us)
{
    int vt = lua_type(L, -1);
    double ms = vt == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
    if (vt != LUA_TNUMBER)
        PAM_FAIL(c, "%s = %s, not a number >= 0", key, lua_typename(L, vt));
    if (!(ms >= 0))
        PAM_FAIL(c, "%s = %g, not a number >= 0", key, ms);
    if (ms > PTM_PAM_TIMEOUT_MAX_MS) {
        pamClamped(c->v, key, ms);
        ms = PTM_PAM_TIMEOUT_MAX_MS;
    }
    *us = (uint64_t)llround(ms * 1000.0);
}

/* pamReadBackoff: backoff = "none" | { kind = "none"|"constant"|
** "exponential", base_ms = n, cap_ms = n } on the top of L.  A key left
** out keeps the metadata's value; a cap below the base becomes the base. */
static void pamReadBackoff(lua_State *L, struct pamCallCtx *c)
{
    struct ptmVerdict *v = c->v;
    const struct ptm_tx_desc *d = c->obs->desc;
    v->backoff = d->backoff;
    v->backoff_base_us = d->backoff_base_us;
    v->backoff_cap_us = d->backoff_cap_us;
    int vt = lua_type(L, -1);
    if (vt == LUA_TSTRING && strcmp(lua_tostring(L, -1), "none") == 0) {
        v->backoff = PTM_BACKOFF_NONE;
        v->backoff_set = 1;
        return;
    }
    if (vt != LUA_TTABLE)
        PAM_FAIL(c, "backoff = %s, not \"none\" or a table { kind, base_ms, cap_ms }",
                 lua_typename(L, vt));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (strcmp(k, "kind") == 0) {
            const char *kind = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(kind, "none") == 0)
                v->backoff = PTM_BACKOFF_NONE;
            else if (strcmp(kind, "constant") == 0)
                v->backoff = PTM_BACKOFF_CONSTANT;
            else if (strcmp(kind, "exponential") == 0)
                v->backoff = PTM_BACKOFF_EXPONENTIAL;
            else
                PAM_FAIL(c, "backoff.kind = %.40s, not \"none\", \"constant\" or "
                         "\"exponential\"", lua_type(L, -1) == LUA_TSTRING ? kind
                                                                         : luaL_typename(L, -1));
        } else if (strcmp(k, "base_ms") == 0) {
            pamBackoffMs(L, c, "backoff.base_ms", &v->backoff_base_us);
        } else if (strcmp(k, "cap_ms") == 0) {
            pamBackoffMs(L, c, "backoff.cap_ms", &v->backoff_cap_us);
        } else {
            PAM_FAIL(c, "backoff with a key '%.40s'; keys are kind, base_ms, cap_ms",
                     lua_type(L, -2) == LUA_TSTRING ? k : luaL_typename(L, -2));
        }
        if (c->failed)
            return;
        lua_pop(L, 1);
    }
    if (v->backoff_cap_us < v->backoff_base_us)
        v->backoff_cap_us = v->backoff_base_us;
    v->backoff_set = 1;
}

/* pamReadResources: resources = { memory = bytes, cpu = n } on the top of
** L: what the primary needs, for the broker (broker.c).  memory is clamped
** to PTM_PAM_MEMORY_MAX, cpu (rounded up) to [1, PTM_PAM_CPU_MAX]; both
** recorded. */
static void pamReadResources(lua_State *L, struct pamCallCtx *c)
{
    struct ptmVerdict *v = c->v;
    int vt = lua_type(L, -1);
    if (vt != LUA_TTABLE)
        PAM_FAIL(c, "resources = %s, not a table { memory, cpu }", lua_typename(L, vt));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        int is_mem = strcmp(k, "memory") == 0, is_cpu = strcmp(k, "cpu") == 0;
        if (!is_mem && !is_cpu)
            PAM_FAIL(c, "resources with a key '%.40s'; keys are memory (bytes), cpu",
                     lua_type(L, -2) == LUA_TSTRING ? k : luaL_typename(L, -2));
        int t = lua_type(L, -1);
        double x = t == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
        if (t != LUA_TNUMBER)
            PAM_FAIL(c, "resources.%s = %s, not a number > 0", k, lua_typename(L, t));
        if (!(x > 0))
            PAM_FAIL(c, "resources.%s = %g, not a number > 0", k, x);
        if (is_mem) {
            if (x > (double)PTM_PAM_MEMORY_MAX) {
                pamClamped(v, "resources.memory", x);
                x = (double)PTM_PAM_MEMORY_MAX;
            }
            v->memory_bytes = (uint64_t)ceil(x);
        } else {
            if (x > PTM_PAM_CPU_MAX) {
                pamClamped(v, "resources.cpu", x);
                x = PTM_PAM_CPU_MAX;
            }
            v->cpus = (unsigned)ceil(x);
        }
        lua_pop(L, 1);
    }
}

/* Reads the value on the top of L into c->v.  Only raw accesses: no
** metamethod of the script runs here.  Adjustments beyond their bounds
** (pamRetriesMax, pamTimeoutMaxMs, a probability outside [0,1]) are
** clamped and recorded in v->clamped: retries = 2147483647 used to retry
** for ever. */
static void pamReadVerdict(lua_State *L, struct pamCallCtx *c)
{
    struct ptmVerdict *v = c->v;
    const struct ptm_tx_desc *d = c->obs->desc;
    int t = lua_type(L, -1);
    double p;

    if (t == LUA_TNUMBER) {
        p = lua_tonumber(L, -1);
    } else if (t == LUA_TTABLE) {
        int has_p = 0;
        p = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                PAM_FAIL(c, "a table with a %s key; keys are probability, reasons, divert, "
                         "retries, timeout_ms, backoff, resources", luaL_typename(L, -2));
            const char *k = lua_tostring(L, -2);
            int vt = lua_type(L, -1);
            if (strcmp(k, "probability") == 0) {
                if (vt != LUA_TNUMBER)
                    PAM_FAIL(c, "probability = %s, not a number", lua_typename(L, vt));
                p = lua_tonumber(L, -1);
                has_p = 1;
            } else if (strcmp(k, "reasons") == 0) {
                if (vt != LUA_TTABLE)
                    PAM_FAIL(c, "reasons = %s, not a table of strings", lua_typename(L, vt));
                lua_Unsigned len = lua_rawlen(L, -1);
                for (lua_Unsigned i = 1; i <= len; i++) {
                    if (lua_rawgeti(L, -1, (lua_Integer)i) != LUA_TSTRING)
                        PAM_FAIL(c, "reasons[%llu] = %s, not a string", (unsigned long long)i,
                                 luaL_typename(L, -1));
                    if (v->n_reasons < PTM_MAX_REASONS)
                        ptmCopyField(v->reasons[v->n_reasons++], sizeof v->reasons[0],
                                     lua_tostring(L, -1));
                    lua_pop(L, 1);
                }
            } else if (strcmp(k, "divert") == 0) {
                if (vt != LUA_TSTRING)
                    PAM_FAIL(c, "divert = %s, not an alternative's name", lua_typename(L, vt));
                const char *name = lua_tostring(L, -1);
                unsigned i;
                for (i = 0; i < d->n_alternatives; i++)
                    if (d->alternatives[i].name && strcmp(d->alternatives[i].name, name) == 0)
                        break;
                if (i == d->n_alternatives)
                    PAM_FAIL(c, "divert = \"%.80s\", which is not one of %s's %u alternatives",
                             name, d->function ? d->function : "the transaction",
                             d->n_alternatives);
                v->divert = (int)i;
            } else if (strcmp(k, "retries") == 0) {
                /* A whole number >= 0, of any size (math.huge too). */
                double r = vt == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
                if (!(r >= 0 && floor(r) == r) && vt == LUA_TNUMBER)
                    PAM_FAIL(c, "retries = %g, not an integer >= 0", r);
                if (!(r >= 0 && floor(r) == r))
                    PAM_FAIL(c, "retries = %s, not an integer >= 0", lua_typename(L, vt));
                double max = pamRetriesMax(d);
                if (r > max) {
                    pamClamped(v, "retries", r);
                    r = max;
                }
                v->retry_max = (int)r;
            } else if (strcmp(k, "timeout_ms") == 0) {
                double ms = vt == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
                if (!(ms > 0) && vt == LUA_TNUMBER)
                    PAM_FAIL(c, "timeout_ms = %g, not a number > 0", ms);
                if (!(ms > 0))
                    PAM_FAIL(c, "timeout_ms = %s, not a number > 0", lua_typename(L, vt));
                double max = pamTimeoutMaxMs(d);
                if (ms > max || ms < PTM_PAM_TIMEOUT_MIN_MS) {
                    pamClamped(v, "timeout_ms", ms);
                    ms = ms > max ? max : PTM_PAM_TIMEOUT_MIN_MS;
                }
                v->timeout_us = (int64_t)llround(ms * 1000.0);
            } else if (strcmp(k, "backoff") == 0) {
                pamReadBackoff(L, c);
                if (c->failed)
                    return;
            } else if (strcmp(k, "resources") == 0) {
                pamReadResources(L, c);
                if (c->failed)
                    return;
            } else {
                PAM_FAIL(c, "an unknown key '%.40s'; keys are probability, reasons, divert, "
                         "retries, timeout_ms, backoff, resources", k);
            }
            lua_pop(L, 1);
        }
        if (!has_p)
            PAM_FAIL(c, "a table without probability");
    } else {
        PAM_FAIL(c, "%s; expected a probability or a table", lua_typename(L, t));
    }

    if (!isfinite(p))
        PAM_FAIL(c, "probability %s; it must be a finite number", isnan(p) ? "nan" : "inf");
    if (p < 0 || p > 1) {
        pamClamped(v, "probability", p);
        p = p < 0 ? 0 : 1;
    }
    /* Drop binary rounding noise (0.2 + 0.4 = 0.6000000000000001) so that
    ** probabilities compare with thresholds as the rules' arithmetic reads. */
    v->probability = round(p * 1e9) / 1e9;
}

/* Protected: builds m, runs analyze(m) in a coroutine, reads its result. */
static int pamProtectedAnalyze(lua_State *L)
{
    struct pamCallCtx *c = lua_touserdata(L, 1);
    struct pamState *st = c->st;
    lua_settop(L, 0);

    lua_State *T = lua_newthread(L);          /* 1: thread */
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->module_ref);
    lua_pushliteral(L, "analyze");
    lua_rawget(L, -2);
    lua_remove(L, -2);                        /* 2: analyze */
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        pamCopy(c->err, sizeof c->err, "rules %s: analyze is no longer a function", st->name);
        c->failed = 1;
        lua_settop(L, 0);
        return 0;
    }
    pamPushM(L, c->obs);                      /* 3: m */
    lua_xmove(L, T, 2);
    int nres = 0;
    if (pamResume(st, L, T, 1, &nres, "analyze", c->err, sizeof c->err) != 0) {
        c->failed = 1;
        pamDropThread(L, T);
        return 0;
    }
    if (nres < 1) {
        pamCopy(c->err, sizeof c->err, "rules %s: analyze returned nothing", st->name);
        c->failed = 1;
        pamDropThread(L, T);
        return 0;
    }
    lua_pop(T, nres - 1);
    lua_xmove(T, L, 1);                       /* 2: the result */
    pamReadVerdict(L, c);
    lua_settop(L, 1);
    pamDropThread(L, T);
    return 0;
}

/* --- finding states -------------------------------------------------------- */

static struct pamState *pamStateNew(const char *src, const char *name, int from_file)
{
    struct pamState *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->src = pamStrdup(src ? src : "");
    st->name = pamStrdup(name);
    st->from_file = from_file;
    size_t n = strlen(name) + 2;
    st->chunkname = malloc(n);
    if (!st->src || !st->name || !st->chunkname) {
        free(st->src);
        free(st->name);
        free(st->chunkname);
        free(st);
        return NULL;
    }
    snprintf(st->chunkname, n, "@%s", name);
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

static void pamEnvInit(void)
{
    const char *p = getenv("PTM_RULES");
    if (!p || !*p)
        return;
    pamOverridePath = strdup(p);
    if (pamOverridePath)
        pamOverride = pamStateNew(NULL, pamOverridePath, 1);
}

/* The name of desc's own script, ignoring PTM_RULES. */
static const char *pamOwnName(const struct ptm_tx_desc *desc)
{
    if (!desc->rules_source)
        return "default";
    return desc->rules_name ? desc->rules_name : "rules";
}

/*
** ptmPamRulesName: the name of the script that analyzes desc's calls: the
** PTM_RULES path when set, else desc->rules_name, else "default".
** Returns a string valid for the life of the process (or of desc).
*/
const char *ptmPamRulesName(const struct ptm_tx_desc *desc)
{
    pthread_once(&pamEnvOnce, pamEnvInit);
    if (pamOverridePath)
        return pamOverridePath;
    return pamOwnName(desc);
}

/* The default rules' state: their text is libptm's own constant, so once
** found it is found again without comparing texts (scripts a descriptor
** embeds are compared, since a caller's buffer may be reused). */
static _Atomic(struct pamState *) pamDefault;

/* The state for desc, created when new (not loaded).  NULL: out of memory. */
static struct pamState *pamStateFor(const struct ptm_tx_desc *desc)
{
    pthread_once(&pamEnvOnce, pamEnvInit);
    if (pamOverridePath)
        return pamOverride;
    struct pamState *known = desc->rules_source ? NULL : atomic_load(&pamDefault);
    if (known)
        return known;

    const char *src = desc->rules_source ? desc->rules_source : ptmDefaultRules;
    const char *name = pamOwnName(desc);
    struct pamState *st;

    /* By text, not by pointer: a pointer can be reused for another text
    ** (a freed buffer, an unloaded library).  Scripts are small. */
    pthread_mutex_lock(&pamListMu);
    for (st = pamList; st; st = st->next)
        if (strcmp(st->name, name) == 0 && strcmp(st->src, src) == 0)
            break;
    if (!st) {
        st = pamStateNew(src, name, 0);
        if (st) {
            st->next = pamList;
            pamList = st;
        }
    }
    pthread_mutex_unlock(&pamListMu);
    if (st && !desc->rules_source)
        atomic_store(&pamDefault, st);
    return st;
}

/* pamStateFree: closes st's Lua state and frees it, unless another thread
** holds it.  Returns whether it was freed. */
static int pamStateFree(struct pamState *st)
{
    if (pthread_mutex_trylock(&st->mu) != 0)
        return 0;
    if (st->L)
        lua_close(st->L);
    free(st->src);
    free(st->name);
    free(st->chunkname);
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_destroy(&st->mu);
    free(st);
    return 1;
}

/* At exit, the Lua states go, so that leak checkers see a clean process.
** A state in use by a thread still running at exit is left alone: memory
** freed at exit is never worth a crash.  (Fork mirrors leave by _exit and
** never get here.) */
__attribute__((destructor)) static void pamAtExit(void)
{
    if (pthread_mutex_trylock(&pamListMu) != 0)
        return;
    atomic_store(&pamDefault, NULL);
    struct pamState **pp = &pamList;
    while (*pp) {
        struct pamState *st = *pp;
        struct pamState *next = st->next;
        if (pamStateFree(st))
            *pp = next;
        else
            pp = &st->next;
    }
    if (pamOverride && pamStateFree(pamOverride)) {
        pamOverride = NULL;
        free(pamOverridePath);
        pamOverridePath = NULL;
    }
    pthread_mutex_unlock(&pamListMu);
}

static void pamVerdictInit(struct ptmVerdict *v)
{
    memset(v, 0, sizeof *v);
    v->divert = -1;
    v->retry_max = -1;
    v->timeout_us = -1;
}

static enum ptmRc pamFail(struct ptmVerdict *v, const char *msg)
{
    pamVerdictInit(v);
    v->rules_error = 1;
    ptmCopyField(v->error, sizeof v->error, msg);
    return PTM_ERULES;
}

/* pamAnalyze: ptmPamAnalyze, in the C locale. */
static enum ptmRc pamAnalyze(const struct ptmObservation *obs, struct ptmVerdict *v)
{
    pamVerdictInit(v);
    if (!obs || !obs->desc) {
        v->rules_error = 1;
        ptmCopyField(v->error, sizeof v->error, "rules: no transaction to analyze");
        return PTM_EINVAL;
    }
    struct pamState *st = pamStateFor(obs->desc);
    if (!st) {
        v->rules_error = 1;
        ptmCopyField(v->error, sizeof v->error, "rules: out of memory");
        return PTM_ENOMEM;
    }

    pthread_mutex_lock(&st->mu);
    if (!st->loaded)
        pamStateLoad(st);
    if (st->failed) {
        enum ptmRc rc = pamFail(v, st->error);
        pthread_mutex_unlock(&st->mu);
        return rc;
    }

    if (pamQuiet(st, obs)) {
        pthread_mutex_unlock(&st->mu);
        return PTM_OK; /* probability 0, nothing adjusted */
    }

    struct pamCallCtx c = {.st = st, .obs = obs, .v = v};
    lua_State *L = st->L;
    int top = lua_gettop(L);
    lua_pushcfunction(L, pamProtectedAnalyze);
    lua_pushlightuserdata(L, &c);
    int prc = lua_pcall(L, 1, 0, 0);
    if (prc != LUA_OK && !c.failed) {
        if (prc == LUA_ERRMEM)
            pamCopy(c.err, sizeof c.err, "rules %s: analyze: memory cap of %zu KiB exceeded",
                    st->name, st->mem_cap / 1024);
        else
            pamCopy(c.err, sizeof c.err, "rules %s: analyze: %s", st->name,
                    lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
        c.failed = 1;
    }
    lua_settop(L, top);
    /* A stopped run leaves garbage, and Lua's emergency collections (on a
    ** refused allocation) do not run finalizers: the buffers of library
    ** calls it cut short would fill the state for good.  A full cycle
    ** frees them, so the next call starts clean. */
    if (c.failed)
        lua_gc(L, LUA_GCCOLLECT);
    enum ptmRc rc = c.failed ? pamFail(v, c.err) : PTM_OK;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static pthread_once_t pamLocaleOnce = PTHREAD_ONCE_INIT;
static locale_t pamCLocale; /* (locale_t)0 when newlocale failed */

static void pamLocaleInit(void)
{
    pamCLocale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/*
** ptmPamAnalyze: runs the rules' analyze(m) on one observation.
**
** obs: the transaction, its mirror run (or NULL), signals, history and the
**      mirror's own success (see README.md in lua-rules/ for m's fields).
** OUT: *v, always filled: probability in [0,1], reasons, and the rules'
**      adjustments (divert index, retry_max, timeout_us; -1 = unchanged).
** Returns PTM_OK; PTM_ERULES when the script could not be loaded, failed,
** ran out of its budget or memory, or returned something invalid (then
** v->rules_error = 1, v->error names the script and the problem, and the
** probability is 0 with no adjustments); PTM_ENOMEM (also with
** v->rules_error set) when no state could be allocated.
**
** The rules run in the "C" locale, whatever the host set with setlocale():
** numbers read and print with a '.', and comparing strings is strcmp, not
** a locale's strcoll, which is slow enough on long strings to hide inside
** one VM instruction.
*/
enum ptmRc ptmPamAnalyze(const struct ptmObservation *obs, struct ptmVerdict *v)
{
    pthread_once(&pamLocaleOnce, pamLocaleInit);
    locale_t saved = pamCLocale ? uselocale(pamCLocale) : (locale_t)0;
    enum ptmRc rc = pamAnalyze(obs, v);
    if (saved)
        uselocale(saved);
    return rc;
}
