// Uses of macros that expand, through bodies that are each one whole use
// of the next, to one object (Lua's hvalue(o) -> check_exp(c, gco2t(...))
// -> (e), the cast and address-of base &((union GCUnion *)(p))->h), in
// plain code and inside another macro's argument (fasttm(L,
// hvalue(t)->metatable, e)), and a subscript a body spells
// ((g)->tmname[e]): each access goes through the write buffer, so the
// mirror runs inline, stores into its view (hvalue(t)->flags = 1), reads
// back what it stored, and leaves the host's memory as it was in a dry run.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>
#include <stddef.h>
typedef struct GCObject { int tt; } GCObject;
typedef struct Table { int tt; unsigned char flags; struct Table *metatable; } Table;
union GCUnion { GCObject gc; Table h; };
typedef union Value { GCObject *gc; } Value;
typedef struct TValue { Value value_; int tt_; } TValue;
typedef struct TString { int n; } TString;
typedef struct global_State { TString *tmname[4]; } global_State;
typedef struct lua_State { global_State *l_G; } lua_State;
#define check_exp(c,e)		(e)
#define cast(t, exp)	((t)(exp))
#define cast_u(o)	cast(union GCUnion *, (o))
#define gco2t(o)  check_exp((o)->tt == 5, &((cast_u(o))->h))
#define val_(o)		((o)->value_)
#define hvalue(o) check_exp(ttistable(o), gco2t(val_(o).gc))
#define ttistable(o) ((o)->tt_ == 5)
#define G(L)	(L->l_G)
TString *gettm(Table *t, int e, TString *n);
TString *gettm(Table *t, int e, TString *n) { (void)t; (void)e; return n; }
#define gfasttm(g,et,e) ((et) == NULL ? NULL : \
  ((et)->flags & (1u<<(e))) ? NULL : gettm(et, e, (g)->tmname[e]))
#define fasttm(l,et,e)	gfasttm(G(l), et, e)
PTM_TRANSACTION(.transaction_id = "hv", .success_criteria = return == 7, .mirror = inline)
int look(lua_State *L, TValue *t)
{
    Table *mt = hvalue(t)->metatable;
    hvalue(t)->flags = 1;
    TString *tm = fasttm(L, hvalue(t)->metatable, 1);
    return mt && tm && hvalue(t)->flags == 1 ? tm->n : 0;
}
int main(void)
{
    static TString s = {7};
    static global_State g = {{0, &s, 0, 0}};
    static lua_State L = {&g};
    static Table mt = {5, 0, 0}, t = {5, 0, &mt};
    static TValue v = {{(GCObject *)&t}, 5};
    int r = look(&L, &v);
    printf("r %d flags %d\n", r, t.flags);
    return 0;
}

// CHECK: #define hvalue(o) check_exp(ttistable(o), gco2t((*__extension__({ __auto_type __ptm_m[[V:[0-9]+]] = &(val_(o).gc); (__typeof__(__ptm_m[[V]]))ptm_redo_ld(__ptm_m[[V]], sizeof *__ptm_m[[V]]); }))))
// CHECK: #define gfasttm(g,et,e)
// CHECK: gettm(et, e, (*__extension__({ __auto_type __ptm_m[[T:[0-9]+]] = &((g)->tmname[e]); (__typeof__(__ptm_m[[T]]))ptm_redo_ld(__ptm_m[[T]], sizeof *__ptm_m[[T]]); }))))
// CHECK: Table *mt = (__extension__({ __auto_type __ptm_a[[A:[0-9]+]] = (hvalue(t)); (__typeof__(__ptm_a[[A]]))ptm_redo_ld(__ptm_a[[A]], sizeof *__ptm_a[[A]]); }))->metatable;
// CHECK: (__extension__({ __auto_type __ptm_a[[B:[0-9]+]] = (hvalue(t)); (__typeof__(__ptm_a[[B]]))ptm_redo_st(__ptm_a[[B]], sizeof *__ptm_a[[B]]); }))->flags = 1;
// CHECK: TString *tm = fasttm(L, (*__extension__({ __auto_type __ptm_a[[C:[0-9]+]] = &(hvalue(t)->metatable); (__typeof__(__ptm_a[[C]]))ptm_redo_ld(__ptm_a[[C]], sizeof *__ptm_a[[C]]); })), 1);

// DRY: r 7 flags 0
// COUNT: 1
// REAL: r 7 flags 1
