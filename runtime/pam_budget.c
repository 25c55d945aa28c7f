/*
** pam_budget.c - the budget of one run of a rules script: VM instructions
** (PTM_PAM_BUDGET) and time (PTM_PAM_TIME_MS; a load's in CPU time).
**
** pam.c starts a run with ptmPamBudgetStart, which sets the hook below on
** the thread that runs it; the bounded library functions (pam_lib.c,
** pam_match.c) count the work they do inside one call with ptmPamSpend.
** Both end a run that is out of budget the same way: a Lua error that the
** sandbox's pcall re-raises, or a yield out of the run's coroutine.  This
** file calls neither pam.c nor pam_lib.c: both call it.
*/
#include <stdint.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "pam_int.h"
#include "ptm_int.h"

/* How often the count hook looks at the budget, in VM instructions. */
#define PAM_HOOK_STEP 100

/*
** ptmPamBudgetOf: the budget of the run under way on L: lua_getextraspace
** holds a pointer to it (pam.c's state, which begins with its budget).
*/
struct ptmPamBudget *ptmPamBudgetOf(lua_State *L)
{
    return *(struct ptmPamBudget **)lua_getextraspace(L);
}

/* threadCpuNs: the CPU time of the calling thread, in ns; UINT64_MAX when
** it cannot be read. */
static uint64_t threadCpuNs(void)
{
    struct timespec ts;
    if (ptmOs.clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return UINT64_MAX;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Whether the run under way is past its time budget: PTM_PAM_TIME_MS of
** wall-clock time for analyze (the host's call waits for it).  A script's
** load counts the thread's CPU time instead, up to PTM_PAM_LOAD_WALL_MS of
** wall-clock time: a load that fails leaves the process without its rules
** for good, and on a loaded machine (or under valgrind) the default
** rules' load ran out of wall-clock time now and then (e2e.valgrind,
** "exit 1 instead of 3": "load: time budget of 50 ms exceeded").  A
** script cannot block (no I/O in the sandbox), so its CPU time is its
** cost.  The wall clock (the vDSO) is read first; the CPU clock, a system
** call, only past the budget. */
static int outOfTime(const struct ptmPamBudget *b)
{
    const uint64_t limit = (uint64_t)PTM_PAM_TIME_MS * 1000000u;
    uint64_t wall = ptmOsNowNs() - b->t0_ns;
    if (wall <= limit)
        return 0;
    if (!b->by_cpu || wall > (uint64_t)PTM_PAM_LOAD_WALL_MS * 1000000u)
        return 1;
    uint64_t cpu = b->cpu0_ns == UINT64_MAX ? UINT64_MAX : threadCpuNs();
    return cpu == UINT64_MAX || cpu - b->cpu0_ns > limit;
}

/* Marks the run's budget spent (the time budget when the instructions
** were not, so that the message names what ran out). */
static void spent(struct ptmPamBudget *b)
{
    if (!b->budget_hit)
        b->time_hit = b->steps < PTM_PAM_BUDGET;
    b->budget_hit = 1;
}

/* Stops the run: marks its budget spent and raises the budget's error,
** which the sandbox's pcall re-raises. */
static void stop(lua_State *L, struct ptmPamBudget *b)
{
    spent(b);
    luaL_error(L, "%s budget exceeded", b->time_hit ? "time" : "instruction");
}

/*
** The hook, on counts and calls.  Every PAM_HOOK_STEP instructions: whether
** the run has spent its instructions or its time; once it has, it stops the
** run.  On every call of a function, Lua's or C's, and those a library
** function makes itself (a metamethod, sort's comparator): whether the run
** is out of time, so that a long loop inside one C function that calls
** anything is stopped too.  Calls cannot yield: they raise the error.
*/
static void hook(lua_State *L, lua_Debug *ar)
{
    struct ptmPamBudget *b = ptmPamBudgetOf(L);
    if (ar->event != LUA_HOOKCOUNT) {
        if (b->budget_hit || outOfTime(b))
            stop(L, b);
        return;
    }
    if (!b->budget_hit) {
        b->steps += PAM_HOOK_STEP;
        if (b->steps < PTM_PAM_BUDGET && !outOfTime(b))
            return;
        spent(b);
    }
    /* keep firing if caught */
    lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKCALL, 1000);
    if (lua_isyieldable(L)) {
        lua_yield(L, 0); /* out of the coroutine, past any pcall */
        return;
    }
    stop(L, b);
}

/* ptmPamBudgetStart: see pam_int.h. */
void ptmPamBudgetStart(struct ptmPamBudget *b, lua_State *T)
{
    b->budget_hit = b->time_hit = 0;
    b->steps = 0;
    b->spent = 0;
    b->t0_ns = ptmOsNowNs();
    b->cpu0_ns = b->by_cpu ? threadCpuNs() : UINT64_MAX;
    lua_sethook(T, hook, LUA_MASKCOUNT | LUA_MASKCALL, PAM_HOOK_STEP);
    b->running = 1;
}

/* ptmPamBudgetRefuses: see pam_int.h. */
int ptmPamBudgetRefuses(struct ptmPamBudget *b)
{
    if (!b->running || (!b->budget_hit && !outOfTime(b)))
        return 0;
    spent(b);
    return 1;
}

/* ptmPamSpend: see pam_int.h. */
void ptmPamSpend(lua_State *L, size_t n)
{
    struct ptmPamBudget *b = ptmPamBudgetOf(L);
    b->spent += n;
    if (b->spent < PAM_SPEND_STEP)
        return;
    b->spent = 0;
    if (b->budget_hit || outOfTime(b))
        stop(L, b);
}
