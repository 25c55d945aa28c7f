/*
** pam_lib.c - the rules sandbox's library functions that could run long in
** one call, replaced or wrapped so that each call stays within the rules'
** time budget.
**
** The instruction hook (pam.c) fires between VM instructions and on every
** function call, Lua or C, including metamethods that a library function
** calls.  What it cannot see is a single C call that loops by itself.  Each
** function of the libraries the sandbox opens is listed in
** lua-rules/README.md ("The sandbox") with how it is bounded; the ones that
** need help are here:
**   string.find/match/gmatch/gsub  pam_match.c: a matcher that counts steps
**   string.rep                     linear in its result, which the memory cap
**                                  bounds; rep("", huge) returns at once
**   string.format                  run in groups of PAM_FORMAT_GROUP
**                                  conversions, the clock read between them;
**                                  %q of a string quoted here, counting bytes
**   table.insert/remove/move       a step per element moved (a fake __len or
**                                  a range of 2^40 no longer loops for ever)
**   table.sort                     without a comparator, sorts with a C one, so
**                                  that every comparison is a hooked call
**   os.date                        a format of at most PAM_DATE_FORMAT_MAX bytes;
**                                  never across a fork() (below)
*/
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#include "pam_int.h"
#include "ptm_int.h"

#define PAM_FORMAT_GROUP 32        /* conversions per call of the real format */
#define PAM_DATE_FORMAT_MAX 256    /* bytes */

/* --- string.rep ---------------------------------------------------------- */

/* string.rep(s, n [, sep]): the result is built by doubling what is already
** written, so its cost is its length, and nothing is done for an empty
** result, however large n. */
static int libRep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || (l == 0 && lsep == 0)) {
        lua_pushliteral(L, "");
        return 1;
    }
    /* As Lua's: no string longer than its largest integer. */
    const size_t max = (size_t)LUA_MAXINTEGER < SIZE_MAX ? (size_t)LUA_MAXINTEGER : SIZE_MAX;
    size_t unit = l + lsep;
    if (unit < l || unit > max || (lua_Unsigned)(n - 1) > (max - l) / unit)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)(n - 1) * unit + l;
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, total); /* past the memory cap: a memory error */
    size_t w = l < total ? l : total;
    memcpy(p, s, w);
    if (w < total) {
        size_t k = lsep < total - w ? lsep : total - w;
        memcpy(p + w, sep, k);
        w += k;
    }
    /* p[0, w) is a whole number of periods (s sep): copy it after itself. */
    while (w < total) {
        size_t k = w < total - w ? w : total - w;
        memcpy(p + w, p, k);
        w += k;
        ptmPamSpend(L, k / 64);
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

/* --- string.format ------------------------------------------------------- */

/* %q of a string: the text in double quotes, readable back by Lua, as
** Lua 5.4 writes it; a step per byte. */
static void libQuote(lua_State *L, luaL_Buffer *b, int arg)
{
    size_t len;
    const char *s = lua_tolstring(L, arg, &len);
    luaL_addchar(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\n') {
            luaL_addchar(b, '\\');
            luaL_addchar(b, (char)c);
        } else if (iscntrl(c)) {
            /* \ddd in full when a digit follows, so it reads back as one. */
            int full = i + 1 < len && isdigit((unsigned char)s[i + 1]);
            luaL_addchar(b, '\\');
            if (full || c >= 100)
                luaL_addchar(b, (char)('0' + c / 100));
            if (full || c >= 10)
                luaL_addchar(b, (char)('0' + c / 10 % 10));
            luaL_addchar(b, (char)('0' + c % 10));
        } else {
            luaL_addchar(b, (char)c);
        }
        if ((i & 4095) == 4095)
            ptmPamSpend(L, 4096);
    }
    luaL_addchar(b, '"');
}

/* Runs the real string.format (upvalue 1) on fmt[0, len) and the
** arguments first..last, and adds its result to b. */
static void libFormatGroup(lua_State *L, luaL_Buffer *b, const char *fmt, size_t len, int first,
                           int last)
{
    if (len == 0)
        return;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushlstring(L, fmt, len);
    for (int i = first; i <= last; i++)
        lua_pushvalue(L, i);
    lua_call(L, last >= first ? last - first + 2 : 1, 1);
    luaL_addvalue(b);
    ptmPamSpend(L, len / 16 + PAM_FORMAT_GROUP);
}

/* string.format(fmt, ...): the real one, a group of conversions at a time
** (a format of a million "%d" was one long call); "%q" of a string is
** quoted here, a step per byte.  A format with fewer than
** PAM_FORMAT_GROUP conversions and no %q is one call of the real one, with
** its messages as they are. */
static int libFormat(lua_State *L)
{
    size_t lf;
    const char *f = luaL_checklstring(L, 1, &lf);
    const char *end = f + lf, *group = f;
    int top = lua_gettop(L);
    int arg = 1, first = 2, n = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *p = f; p < end;) {
        if (*p != '%') {
            p++;
            continue;
        }
        if (p + 1 < end && p[1] == '%') {
            p += 2;
            continue;
        }
        const char *q = p + 1;
        while (q < end && *q && strchr("-+ #0123456789.", *q))
            q++;
        if (q >= end)
            break; /* malformed: the real format says so */
        arg++;
        if (*q == 'q' && q == p + 1 && lua_type(L, arg) == LUA_TSTRING) {
            libFormatGroup(L, &b, group, (size_t)(p - group), first, arg - 1 < top ? arg - 1 : top);
            libQuote(L, &b, arg);
            group = q + 1;
            first = arg + 1;
            n = 0;
        } else if (++n == PAM_FORMAT_GROUP) {
            libFormatGroup(L, &b, group, (size_t)(q + 1 - group), first, arg < top ? arg : top);
            group = q + 1;
            first = arg + 1;
            n = 0;
        }
        p = q + 1;
    }
    libFormatGroup(L, &b, group, (size_t)(end - group), first, top);
    luaL_pushresult(&b);
    return 1;
}

/* --- table ----------------------------------------------------------------- */

#define TAB_R 1 /* read: __index */
#define TAB_W 2 /* write: __newindex */
#define TAB_L 4 /* length: __len */

/* Whether the metatable on the top of L has field name; pops nothing. */
static int libHasField(lua_State *L, const char *name)
{
    int t = lua_getfield(L, -1, name);
    lua_pop(L, 1);
    return t != LUA_TNIL;
}

/* Argument arg must be a table, or act as one for what it needs (its
** metatable has __index, __newindex, __len as `need` says). */
static void libCheckTable(lua_State *L, int arg, int need)
{
    if (lua_type(L, arg) == LUA_TTABLE)
        return;
    if (lua_getmetatable(L, arg)) {
        int ok = (!(need & TAB_R) || libHasField(L, "__index")) &&
                 (!(need & TAB_W) || libHasField(L, "__newindex")) &&
                 (!(need & TAB_L) || libHasField(L, "__len"));
        lua_pop(L, 1);
        if (ok)
            return;
    }
    luaL_checktype(L, arg, LUA_TTABLE);
}

/* table.insert(list, [pos,] value) */
static int libInsert(lua_State *L)
{
    libCheckTable(L, 1, TAB_R | TAB_W | TAB_L);
    lua_Integer e = (lua_Integer)((lua_Unsigned)luaL_len(L, 1) + 1u); /* first empty */
    lua_Integer pos;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        for (lua_Integer i = e; i > pos; i--) {
            ptmPamSpend(L, 1);
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

/* table.remove(list [, pos]) */
static int libRemove(lua_State *L)
{
    libCheckTable(L, 1, TAB_R | TAB_W | TAB_L);
    lua_Integer size = luaL_len(L, 1);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        ptmPamSpend(L, 1);
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

/* table.move(a1, f, e, t [, a2]) */
static int libMove(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    libCheckTable(L, 1, TAB_R);
    libCheckTable(L, tt, TAB_W);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        /* Backwards when the ranges overlap with the destination after the
        ** source, in the same table. */
        int forward = t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ));
        for (lua_Integer i = 0; i < n; i++) {
            lua_Integer k = forward ? i : n - 1 - i;
            ptmPamSpend(L, 1);
            lua_geti(L, 1, f + k);
            lua_seti(L, tt, t + k);
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

/* The default order, as a function: sort calls it, and the hook sees the
** call.  Lua's sort compared without calls, out of the hook's sight. */
static int libLess(lua_State *L)
{
    lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
    return 1;
}

/* table.sort(list [, comp]): the real one (upvalue 1), with libLess for a
** missing comparator. */
static int libSort(lua_State *L)
{
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_pushcfunction(L, libLess);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

/* --- os.date ------------------------------------------------------------- */

/*
** The real os.date runs localtime_r/gmtime_r, which take glibc's tzset
** lock; fork() does not reset it.  A host that forks while a rules script
** on another thread is inside os.date would give its child that lock held,
** and the child's own first call would hang in its rules.  dateMu is held
** by every os.date of the rules and, through pthread_atfork, across every
** fork(), so no rules script is inside localtime when the process forks.
*/
static pthread_mutex_t dateMu = PTHREAD_MUTEX_INITIALIZER;
PTM_HOLD_ACROSS_FORK(date, &dateMu)

/* os.date([format [, time]]): the real one (upvalue 1), for formats of at
** most PAM_DATE_FORMAT_MAX bytes (it runs strftime once per conversion),
** under dateMu.  Its errors (a bad conversion, a time out of range) are
** raised again after the lock is let go. */
static int libDate(lua_State *L)
{
    size_t len = 0;
    if (lua_type(L, 1) == LUA_TSTRING)
        lua_tolstring(L, 1, &len);
    if (len > PAM_DATE_FORMAT_MAX)
        return luaL_argerror(L, 1, "format too long for rules (more than 256 bytes)");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    pthread_mutex_lock(&dateMu);
    int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    pthread_mutex_unlock(&dateMu);
    if (rc != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* --- installing them ----------------------------------------------------- */

static const luaL_Reg libString[] = {
    {"find", ptmPamStrFind},   {"match", ptmPamStrMatch}, {"gmatch", ptmPamStrGmatch},
    {"gsub", ptmPamStrGsub},   {"rep", libRep},           {NULL, NULL},
};

static const luaL_Reg libTable[] = {
    {"insert", libInsert},
    {"remove", libRemove},
    {"move", libMove},
    {NULL, NULL},
};

/* Replaces t.name (t on the top of L) with f closed over the old t.name. */
static void libWrap(lua_State *L, const char *name, lua_CFunction f)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

/*
** ptmPamOpenBounded: see pam_int.h.  The string table is also the strings'
** metatable's __index, so s:find() gets the bounded one too.
*/
void ptmPamOpenBounded(lua_State *L)
{
    lua_getfield(L, -1, "date"); /* the sandbox's os table is on the top */
    lua_pushcclosure(L, libDate, 1);
    lua_setfield(L, -2, "date");

    lua_getglobal(L, "string");
    luaL_setfuncs(L, libString, 0);
    libWrap(L, "format", libFormat);
    lua_pop(L, 1);

    lua_getglobal(L, "table");
    luaL_setfuncs(L, libTable, 0);
    libWrap(L, "sort", libSort);
    lua_pop(L, 1);
}

/* --- the model, for rule authors (m.model, ptm.beta) -------------------- */

/*
** ptm.beta(prior, weight, n, failures): the posterior mean of a failure
** rate whose prior mean is prior (in [0,1]) worth weight pseudo-outcomes
** (> 0), after n labelled outcomes of which failures failed
** (0 <= failures <= n): (weight * prior + failures) / (weight + n), the
** model's own update (model.c), for rules that keep evidence of their own.
** Constant time.
*/
static int libBeta(lua_State *L)
{
    lua_Number prior = luaL_checknumber(L, 1);
    lua_Number weight = luaL_checknumber(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    lua_Integer f = luaL_checkinteger(L, 4);
    luaL_argcheck(L, prior >= 0 && prior <= 1, 1, "prior must be in [0, 1]");
    luaL_argcheck(L, weight > 0 && weight < 1e12, 2, "weight must be positive");
    luaL_argcheck(L, n >= 0, 3, "n must be >= 0");
    luaL_argcheck(L, f >= 0 && f <= n, 4, "failures must be in [0, n]");
    lua_pushnumber(L, (weight * prior + (lua_Number)f) / (weight + (lua_Number)n));
    return 1;
}

const luaL_Reg ptmPamModelLib[] = {
    {"beta", libBeta},
    {NULL, NULL},
};

static void libSetNum(lua_State *L, const char *k, lua_Number x)
{
    lua_pushnumber(L, x);
    lua_setfield(L, -2, k);
}

static void libSetInt(lua_State *L, const char *k, uint64_t x)
{
    lua_pushinteger(L, x > (uint64_t)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)x);
    lua_setfield(L, -2, k);
}

/*
** ptmPamPushModel: pushes m.model, the model's estimate for this
** observation and its evidence: probability (the posterior of the
** observation's cell), seed (the seed's fixed-weight sum for its
** pattern), n and failures (labelled outcomes of the pattern), cell_n and
** cell_failures (of the cell), outcomes (all cells of the id), enough
** (n >= min_outcomes), min_outcomes, cell, breaker (the circuit
** breaker's probability, 0 when closed) and streak (real primary
** failures in a row).  Call from a protected function.
*/
void ptmPamPushModel(lua_State *L, const struct ptmModelView *mv)
{
    lua_createtable(L, 0, 12);
    libSetNum(L, "probability", mv->probability);
    libSetNum(L, "seed", mv->seed);
    libSetInt(L, "n", mv->n);
    libSetInt(L, "failures", mv->failures);
    libSetInt(L, "cell_n", mv->cell_n);
    libSetInt(L, "cell_failures", mv->cell_failures);
    libSetInt(L, "outcomes", mv->outcomes);
    lua_pushboolean(L, mv->enough);
    lua_setfield(L, -2, "enough");
    libSetInt(L, "min_outcomes", PTM_MODEL_MIN_OUTCOMES);
    libSetInt(L, "cell", mv->cell);
    libSetNum(L, "breaker", mv->breaker);
    libSetInt(L, "streak", mv->streak);
}
