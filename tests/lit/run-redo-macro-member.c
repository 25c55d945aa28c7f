// Member accesses on a macro's use that stand for a pointer's value
// (Lua's ci_func(ci)->p->source, ci_func's body one parenthesized use of
// clLvalue): each pointer on the way is read through the write buffer and
// the string handed to strlen is its view, so the mirror reads back what
// it stored (ci_func(ci)->p->source = "xy") and runs inline; a dry run
// leaves the host's memory as it was.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>
#include <string.h>

typedef struct Proto { const char *source; } Proto;
typedef struct LClosure { int tt; Proto *p; } LClosure;
union GCUnion { LClosure l; };
typedef struct TValue { void *gc; int tt_; } TValue;
typedef struct CallInfo { TValue *func; } CallInfo;
#define check_exp(c,e)		(e)
#define cast_u(o)	((union GCUnion *)(o))
#define gco2lcl(o)  check_exp((o)->tt == 6, &((cast_u(o))->l))
#define clLvalue(o)	check_exp((o)->tt_ == 6, gco2lcl((o)->gc))
#define s2v(o) (o)
#define ci_func(ci) (clLvalue(s2v((ci)->func)))

static int calls;

PTM_TRANSACTION(.transaction_id = "cf", .success_criteria = return == 2, .mirror = inline)
int look(CallInfo *ci)
{
    calls++;
    ci_func(ci)->p->source = "xy";
    return (int)strlen(ci_func(ci)->p->source);
}

int main(void)
{
    static Proto p = {"abc"};
    static LClosure cl = {6, &p};
    static TValue f = {&cl, 6};
    static CallInfo ci = {&f};
    int r = look(&ci);
    printf("r %d calls %d source %s\n", r, calls, p.source);
    return 0;
}

// CHECK: #define ci_func(ci) (clLvalue(s2v((*__extension__({ __auto_type __ptm_m[[F:[0-9]+]] = &((ci)->func); (__typeof__(__ptm_m[[F]]))ptm_redo_ld(__ptm_m[[F]], sizeof *__ptm_m[[F]]); })))))
// CHECK: return (int)strlen((__extension__({ __auto_type __ptm_a[[S:[0-9]+]] = ((__extension__({ __auto_type __ptm_a{{[0-9]+}} = ((__extension__({ __auto_type __ptm_a{{[0-9]+}} = (ci_func(ci));
// CHECK-SAME: ->source); (__typeof__(__ptm_a[[S]]))ptm_redo_str(__ptm_a[[S]]); })));

// DRY: r 2 calls 0 source abc
// COUNT: 1
// REAL: r 2 calls 1 source xy
