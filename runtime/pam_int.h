/*
** pam_int.h - what pam.c shares with the sandbox's bounded library
** (pam_lib.c, pam_match.c).  Only these files include Lua's headers.
*/
#ifndef PAM_INT_H
#define PAM_INT_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

/* pam_budget.c ----------------------------------------------------------
** The budget of one run of a rules script.  lua_getextraspace of the run's
** state holds a pointer to it.
*/
struct ptmPamBudget {
    int budget_hit;               /* the run spent its budget */
    int time_hit;                 /* ... the time budget, before the instructions */
    int running;                  /* a run is under way: the allocator watches the clock */
    uint64_t t0_ns;               /* when this run started */
    uint64_t cpu0_ns;             /* this thread's CPU time then; UINT64_MAX: unknown */
    int by_cpu;                   /* time is the thread's CPU time (a script's load) */
    unsigned long steps;          /* VM instructions it ran, in hook steps */
    size_t spent;                 /* library steps not yet checked (ptmPamSpend) */
};

/* ptmPamBudgetOf: the budget of the run on L. */
struct ptmPamBudget *ptmPamBudgetOf(lua_State *L);

/*
** ptmPamBudgetStart: starts a run on T: a fresh budget, and the hook that
** stops the run (a Lua error, or a yield out of T) once it has run
** PTM_PAM_BUDGET instructions or PTM_PAM_TIME_MS.  The caller clears
** b->running when the run ends.
*/
void ptmPamBudgetStart(struct ptmPamBudget *b, lua_State *T);

/*
** ptmPamBudgetRefuses: whether the run under way is out of its budget, for
** the allocator to refuse to grow the state (a library call that builds a
** large result allocates as it goes); marks the budget spent when it is.
** 0 when no run is under way.
*/
int ptmPamBudgetRefuses(struct ptmPamBudget *b);

/* How many steps of work a library call does between two looks at the
** clock (a step is a byte compared, copied or matched: tens of
** nanoseconds at most). */
#define PAM_SPEND_STEP 4096

/*
** ptmPamSpend: counts n steps of work done inside one library call of the
** running rules.  Every PAM_SPEND_STEP steps it reads the clock; once the
** run is past its time budget it raises the budget's error (a Lua error,
** re-raised by the sandbox's pcall, reported as the time budget).
** Never returns when it raises.
*/
void ptmPamSpend(lua_State *L, size_t n);

/* pam_lib.c ------------------------------------------------------------- */

/*
** ptmPamOpenBounded: replaces the library functions that can run long in
** one call (the pattern functions, string.rep, string.format,
** table.insert/remove/move/sort, os.date) with bounded ones.  The os table
** is the sandbox's, on the top of L.  Call from a protected function: it
** can raise a memory error.
*/
void ptmPamOpenBounded(lua_State *L);

/* ptm.beta, for the ptm table (pam.c adds it). */
extern const luaL_Reg ptmPamModelLib[];
struct ptmModelView;
/* ptmPamPushModel: pushes the table m.model for mv (pam_lib.c). */
void ptmPamPushModel(lua_State *L, const struct ptmModelView *mv);

/* pam_match.c: string.find, string.match, string.gmatch, string.gsub with
** Lua 5.4's pattern language, counting their steps with ptmPamSpend. */
int ptmPamStrFind(lua_State *L);
int ptmPamStrMatch(lua_State *L);
int ptmPamStrGmatch(lua_State *L);
int ptmPamStrGsub(lua_State *L);

#endif /* PAM_INT_H */
