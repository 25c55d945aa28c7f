/*
** pam_match.c - string.find, string.match, string.gmatch and string.gsub
** for the rules sandbox: Lua 5.4's pattern language, with a step count.
**
** Lua's own matcher runs a whole find or gsub inside one C call, where
** the instruction hook never fires: string.find(("a"):rep(50000),
** ".-.-.-.-b") backtracks for hours.  This matcher implements the same
** language (the Lua 5.4 manual, section 6.4.1: single-character classes,
** sets, the quantifiers * + - ?, captures and position captures, %1-%9,
** %b, %f, the anchors ^ and $) and the same four functions, and counts
** every step it takes (a subject byte tried against a class, a byte of a
** back-reference compared, a matcher call), so that ptmPamSpend stops it
** when the rules' time budget is spent.  Plain searches use memmem(),
** which is linear.  Recursion is bounded as Lua bounds it (200 nested
** matcher calls: "pattern too complex").
**
** Everything is on the C stack or the Lua stack, never malloc'd: an error
** (the budget's, a malformed pattern) may leave any function here by
** longjmp.
*/
#include <ctype.h>
#include <string.h>

#include <lauxlib.h>

#include "pam_int.h"

#define PM_MAXCAPTURES 32
#define PM_MAXDEPTH 200         /* nested matcher calls, as Lua's MAXCCALLS */
#define PM_UNFINISHED (-1)      /* a capture still open */
#define PM_POSITION (-2)        /* a position capture, () */
#define PM_ESC '%'
#define PM_SPECIALS "^$*+?.([%-"

struct pmState {
    lua_State *L;
    const char *src;            /* the subject */
    const char *src_end;
    const char *p_end;          /* the pattern's end */
    int depth;                  /* matcher calls left */
    int level;                  /* captures open or closed */
    size_t steps;               /* not yet given to ptmPamSpend */
    struct {
        const char *init;
        ptrdiff_t len;          /* or PM_UNFINISHED, PM_POSITION */
    } cap[PM_MAXCAPTURES];
};

static const char *pmDo(struct pmState *ms, const char *s, const char *p);

/* Counts n steps; hands them to ptmPamSpend in batches. */
static void pmStep(struct pmState *ms, size_t n)
{
    ms->steps += n;
    if (ms->steps >= PAM_SPEND_STEP) {
        size_t k = ms->steps;
        ms->steps = 0;
        ptmPamSpend(ms->L, k);
    }
}

/* Returns the end of the single-character class that starts at p. */
static const char *pmClassEnd(struct pmState *ms, const char *p)
{
    char c = *p++;
    if (c == PM_ESC) {
        if (p >= ms->p_end)
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c != '[')
        return p;
    if (p < ms->p_end && *p == '^')
        p++;
    /* The first character of a set is itself even when it is ']'. */
    do {
        if (p >= ms->p_end)
            luaL_error(ms->L, "malformed pattern (missing ']')");
        c = *p++;
        if (c == PM_ESC) {
            if (p >= ms->p_end)
                luaL_error(ms->L, "malformed pattern (missing ']')");
            p++;
        }
    } while (p >= ms->p_end || *p != ']');
    return p + 1;
}

/* Whether byte c is in the class %cl (a letter names a class, its upper
** case the complement; any other character stands for itself). */
static int pmClass(int c, int cl)
{
    int in;
    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    default: return cl == c;
    }
    in = in != 0;
    return isupper(cl) ? !in : in;
}

/* Whether byte c is in the set [ ... ] that starts at p and whose closing
** ']' is at close. */
static int pmSet(int c, const char *p, const char *close)
{
    int yes = 1;
    p++; /* the '[' */
    if (*p == '^') {
        yes = 0;
        p++;
    }
    while (p < close) {
        if (*p == PM_ESC) {
            if (pmClass(c, (unsigned char)p[1]))
                return yes;
            p += 2;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return yes;
            p += 3;
        } else {
            if ((unsigned char)*p == c)
                return yes;
            p++;
        }
    }
    return !yes;
}

/* Whether the subject byte at s matches the class [p, ep). */
static int pmSingle(struct pmState *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end)
        return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case PM_ESC: return pmClass(c, (unsigned char)p[1]);
    case '[': return pmSet(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

/* %bxy at p (pointing at x): the end of a balanced x...y run at s. */
static const char *pmBalance(struct pmState *ms, const char *s, const char *p)
{
    if (p + 1 >= ms->p_end)
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= ms->src_end || *s != p[0])
        return NULL;
    char open = p[0], close = p[1];
    int depth = 1;
    while (++s < ms->src_end) {
        pmStep(ms, 1);
        if (*s == close) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

/* The longest run of class [p, ep) at s, then backing off one byte at a
** time until the rest of the pattern (after ep's quantifier) matches. */
static const char *pmMax(struct pmState *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (pmSingle(ms, s + n, p, ep)) {
        pmStep(ms, 1);
        n++;
    }
    for (; n >= 0; n--) {
        const char *r = pmDo(ms, s + n, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

/* The shortest run of class [p, ep) at s after which the rest matches. */
static const char *pmMin(struct pmState *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = pmDo(ms, s, ep + 1);
        if (r)
            return r;
        if (!pmSingle(ms, s, p, ep))
            return NULL;
        pmStep(ms, 1);
        s++;
    }
}

/* Opens capture number ms->level at s (what: PM_UNFINISHED or
** PM_POSITION) and matches the rest, p. */
static const char *pmOpen(struct pmState *ms, const char *s, const char *p, ptrdiff_t what)
{
    if (ms->level >= PM_MAXCAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->cap[ms->level].init = s;
    ms->cap[ms->level].len = what;
    ms->level++;
    const char *r = pmDo(ms, s, p);
    if (!r)
        ms->level--;
    return r;
}

/* Closes the innermost open capture at s and matches the rest, p. */
static const char *pmClose(struct pmState *ms, const char *s, const char *p)
{
    int l = ms->level - 1;
    while (l >= 0 && ms->cap[l].len != PM_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(ms->L, "invalid pattern capture");
    ms->cap[l].len = s - ms->cap[l].init;
    const char *r = pmDo(ms, s, p);
    if (!r)
        ms->cap[l].len = PM_UNFINISHED;
    return r;
}

/* %1-%9 at s: the text of a closed capture again. */
static const char *pmBackref(struct pmState *ms, const char *s, int digit)
{
    int l = digit - '1';
    if (l < 0 || l >= ms->level || ms->cap[l].len == PM_UNFINISHED)
        luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    ptrdiff_t len = ms->cap[l].len;
    if (len < 0) /* a position capture has no text: Lua's never matches */
        return NULL;
    pmStep(ms, (size_t)len);
    if (ms->src_end - s >= len && memcmp(ms->cap[l].init, s, (size_t)len) == 0)
        return s + len;
    return NULL;
}

/* %f[set] at p (pointing at 'f'): OUT: *next, the pattern after it.
** Returns whether s is a frontier: the byte before it not in the set, the
** byte at it in the set (the subject's ends count as '\0'). */
static int pmFrontier(struct pmState *ms, const char *s, const char *p, const char **next)
{
    p++;
    if (p >= ms->p_end || *p != '[')
        luaL_error(ms->L, "missing '[' after '%%f' in pattern");
    const char *ep = pmClassEnd(ms, p);
    int before = s == ms->src ? 0 : (unsigned char)s[-1];
    int at = s < ms->src_end ? (unsigned char)*s : 0;
    *next = ep;
    return !pmSet(before, p, ep - 1) && pmSet(at, p, ep - 1);
}

/* pmDo: matches pattern [p, p_end) at s.  Returns the end of the match,
** or NULL.  Loops where the rest of the pattern is a tail; recurses (and
** counts depth) where it must backtrack. */
static const char *pmDo(struct pmState *ms, const char *s, const char *p)
{
    if (ms->depth-- == 0)
        luaL_error(ms->L, "pattern too complex");
    while (p < ms->p_end) {
        pmStep(ms, 1);
        if (*p == '(') {
            s = p + 1 < ms->p_end && p[1] == ')' ? pmOpen(ms, s, p + 2, PM_POSITION)
                                                  : pmOpen(ms, s, p + 1, PM_UNFINISHED);
            goto out;
        }
        if (*p == ')') {
            s = pmClose(ms, s, p + 1);
            goto out;
        }
        if (*p == '$' && p + 1 == ms->p_end) {
            s = s == ms->src_end ? s : NULL;
            goto out;
        }
        if (*p == PM_ESC && p + 1 < ms->p_end) {
            if (p[1] == 'b') {
                s = pmBalance(ms, s, p + 2);
                if (!s)
                    goto out;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                const char *next;
                if (!pmFrontier(ms, s, p + 1, &next)) {
                    s = NULL;
                    goto out;
                }
                p = next;
                continue;
            }
            if (isdigit((unsigned char)p[1])) {
                s = pmBackref(ms, s, (unsigned char)p[1]);
                if (!s)
                    goto out;
                p += 2;
                continue;
            }
        }
        /* A single-character class, maybe with a quantifier. */
        const char *ep = pmClassEnd(ms, p);
        char q = ep < ms->p_end ? *ep : '\0';
        if (!pmSingle(ms, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') {
                p = ep + 1; /* zero of them */
                continue;
            }
            s = NULL;
            goto out;
        }
        if (q == '?') {
            const char *r = pmDo(ms, s + 1, ep + 1);
            if (r) {
                s = r;
                goto out;
            }
            p = ep + 1;
            continue;
        }
        if (q == '+') {
            s = pmMax(ms, s + 1, p, ep);
            goto out;
        }
        if (q == '*') {
            s = pmMax(ms, s, p, ep);
            goto out;
        }
        if (q == '-') {
            s = pmMin(ms, s, p, ep);
            goto out;
        }
        s++;
        p = ep;
    }
out:
    ms->depth++;
    return s;
}

static void pmInit(struct pmState *ms, lua_State *L, const char *s, size_t ls, const char *p,
                   size_t lp)
{
    ms->L = L;
    ms->src = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
    ms->steps = 0;
    ms->level = 0;
    ms->depth = PM_MAXDEPTH;
}

/* Before each new attempt: no captures, full depth. */
static void pmReset(struct pmState *ms)
{
    ms->level = 0;
    ms->depth = PM_MAXDEPTH;
}

/* Pushes capture i of the match [s, e) (i = 0 with no captures: the
** whole match). */
static void pmPushCapture(struct pmState *ms, int i, const char *s, const char *e)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(ms->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = ms->cap[i].len;
    if (len == PM_UNFINISHED)
        luaL_error(ms->L, "unfinished capture");
    if (len == PM_POSITION)
        lua_pushinteger(ms->L, (ms->cap[i].init - ms->src) + 1);
    else
        lua_pushlstring(ms->L, ms->cap[i].init, (size_t)len);
}

/* Pushes every capture (the whole match [s, e) when there are none and s
** is not NULL).  Returns how many. */
static int pmPushCaptures(struct pmState *ms, const char *s, const char *e)
{
    int n = ms->level == 0 && s ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        pmPushCapture(ms, i, s, e);
    return n;
}

/* A 1-based start position, negative from the end, into 1..len+1 (or
** beyond, meaning no match). */
static size_t pmStart(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0)
        return 1;
    if (pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

/* Whether a pattern has no magic characters (then find searches plainly). */
static int pmPlain(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] && strchr(PM_SPECIALS, p[i]))
            return 0;
    return 1;
}

/* find and match. */
static int pmFindOrMatch(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = pmStart(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || pmPlain(p, lp))) {
        /* memmem is linear in the subject and the needle (two-way). */
        ptmPamSpend(L, (ls - (init - 1)) / 64 + lp / 64);
        const char *hit = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - (init - 1), p, lp);
        if (!hit) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (hit - s) + 1);
        lua_pushinteger(L, (lua_Integer)((hit - s) + (ptrdiff_t)lp));
        return 2;
    }
    struct pmState ms;
    int anchor = lp > 0 && *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    pmInit(&ms, L, s, ls, p, lp);
    const char *s1 = s + init - 1;
    do {
        pmReset(&ms);
        const char *e = pmDo(&ms, s1, p);
        if (e) {
            if (!find)
                return pmPushCaptures(&ms, s1, e);
            lua_pushinteger(L, (s1 - s) + 1);
            lua_pushinteger(L, e - s);
            return pmPushCaptures(&ms, NULL, NULL) + 2;
        }
    } while (s1++ < ms.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

/* string.find(s, pattern [, init [, plain]]) */
int ptmPamStrFind(lua_State *L)
{
    return pmFindOrMatch(L, 1);
}

/* string.match(s, pattern [, init]) */
int ptmPamStrMatch(lua_State *L)
{
    return pmFindOrMatch(L, 0);
}

/* gmatch's iterator.  Upvalues: the subject, the pattern, and a full
** userdata with where the next search starts and where the last match
** ended (an empty match right there is skipped, as Lua does). */
struct pmGmatch {
    size_t pos;
    ptrdiff_t last; /* -1: none yet */
};

static int pmGmatchNext(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    struct pmGmatch *g = lua_touserdata(L, lua_upvalueindex(3));
    struct pmState ms;
    pmInit(&ms, L, s, ls, p, lp);
    for (const char *s1 = s + g->pos; s1 <= ms.src_end; s1++) {
        pmReset(&ms);
        const char *e = pmDo(&ms, s1, p);
        if (e && e - s != g->last) {
            g->pos = (size_t)(e - s);
            g->last = e - s;
            return pmPushCaptures(&ms, s1, e);
        }
    }
    g->pos = ls + 1; /* exhausted: stays so */
    return 0;
}

/* string.gmatch(s, pattern [, init]) */
int ptmPamStrGmatch(lua_State *L)
{
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = pmStart(luaL_optinteger(L, 3, 1), ls) - 1; /* 0-based */
    if (init > ls)
        init = ls + 1; /* past the end: no match, not even an empty one */
    lua_settop(L, 2);
    struct pmGmatch *g = lua_newuserdatauv(L, sizeof *g, 0);
    g->pos = init;
    g->last = -1;
    lua_pushcclosure(L, pmGmatchNext, 3);
    return 1;
}

/* gsub's replacement string (argument 3) for the match [s, e): %0-%9 and
** %% expanded. */
static void pmAddString(struct pmState *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l);
    const char *end = r + l;
    while (r < end) {
        const char *pct = memchr(r, PM_ESC, (size_t)(end - r));
        if (!pct) {
            luaL_addlstring(b, r, (size_t)(end - r));
            pmStep(ms, (size_t)(end - r) / 16);
            return;
        }
        luaL_addlstring(b, r, (size_t)(pct - r));
        r = pct + 1;
        if (r < end && *r == PM_ESC) {
            luaL_addchar(b, PM_ESC);
        } else if (r < end && isdigit((unsigned char)*r)) {
            if (*r == '0') {
                luaL_addlstring(b, s, (size_t)(e - s));
            } else {
                pmPushCapture(ms, *r - '1', s, e);
                luaL_tolstring(L, -1, NULL); /* a position capture is a number */
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", PM_ESC);
        }
        pmStep(ms, 1);
        r++;
    }
}

/* Adds the replacement of the match [s, e) to b: the string, the table's
** value for the first capture, or what the function returns for the
** captures; false or nil keeps the match.  Returns whether it changed. */
static int pmAddReplacement(struct pmState *ms, luaL_Buffer *b, const char *s, const char *e,
                            int tr)
{
    lua_State *L = ms->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = pmPushCaptures(ms, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        pmPushCapture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        pmAddString(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

/* string.gsub(s, pattern, repl [, n]) */
int ptmPamStrGsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
                            tr == LUA_TTABLE,
                     3, "string/function/table");
    int anchor = lp > 0 && *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    struct pmState ms;
    pmInit(&ms, L, src, ls, p, lp);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *s = src, *last = NULL;
    lua_Integer n = 0;
    int changed = 0;
    while (n < max) {
        pmReset(&ms);
        const char *e = pmDo(&ms, s, p);
        if (e && e != last) {
            n++;
            changed |= pmAddReplacement(&ms, &b, s, e, tr);
            s = last = e;
        } else if (s < ms.src_end) {
            luaL_addchar(&b, *s++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, s, (size_t)(ms.src_end - s));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}
