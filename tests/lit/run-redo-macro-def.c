// Accesses that a macro's body spells itself (Lua's lobject.h/lstate.h
// style: val_(o), rawtt(o), setivalue, tointeger, G(L)->f, a body that
// bumps L->top, and a hostile SET_ALL that stores through a global
// pointer) keep the mirror inline: the instrumented clone redefines
// those macros, for itself only, with their accesses through the write
// buffer.  A dry run leaves the host's memory as it was (the global the
// pointer designates included); the mirror predicts from what it wrote.
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

typedef struct TV { union { long i; double n; } value_; int tt_; } TV;
typedef struct GS { int panic; TV slots[2]; } GS;
typedef struct LS { GS *l_G; int top; } LS;

#define val_(o) ((o)->value_)
#define rawtt(o) ((o)->tt_)
#define ivalue(o) (val_(o).i)
#define setivalue(obj, x) { TV *io = (obj); val_(io).i = (x); rawtt(io) = 3; }
#define tointeger(o, i) (rawtt(o) == 3 ? (*(i) = ivalue(o), 1) : 0)
#define G(L)	(L->l_G)
#define incr_top(L) {L->top++;}

static long host = 5;
static long *gp = &host;
#define SET_ALL(v) (*gp = (v))

static GS gs = {1, {{{7}, 3}, {{0}, 0}}};
static LS ls = {&gs, 0};

PTM_TRANSACTION(.transaction_id = "tv", .success_criteria = return == 0, .mirror = inline)
int tv(LS *L)
{
    long res = 0;
    int ok = tointeger(&G(L)->slots[0], &res);
    setivalue(&G(L)->slots[1], res + 1);
    G(L)->panic = G(L)->panic + 1;
    incr_top(L);
    SET_ALL(res * 10);
    return ok && rawtt(&gs.slots[1]) == 3 && ivalue(&gs.slots[1]) == 8 && *gp == 70 &&
                   G(L)->panic == 2 && L->top == 1
               ? 0
               : 1;
}

int main(void)
{
    int r = tv(&ls);
    printf("r %d slot %ld/%d panic %d top %d host %ld\n", r, gs.slots[1].value_.i, gs.slots[1].tt_,
           gs.panic, ls.top, host);
    return 0;
}

// DRY: r 0 slot 0/0 panic 1 top 0 host 5
// COUNT: 1
// REAL: r 0 slot 8/3 panic 2 top 1 host 70
