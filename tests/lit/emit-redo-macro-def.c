// A macro whose body accesses memory (not only through its arguments)
// is redefined around the instrumented clone, for the clone only, with
// the body's accesses through the write buffer: a read through
// ptm_redo_ld, a range stored in some expansion through ptm_redo_st
// everywhere; a name the body spells (gp) nests inside the store through
// it; an access spelled across two bodies (val_(io).i in setivalue) is
// wrapped where it ends, around the inner use.  The primary keeps the macros as written.  A body range whose
// address some expansion takes (&cell(p)) would hand out the buffer's
// view: that mirror forks, and says why.  G(L)->f, a header-style macro's
// whole use before a member the function spells, is a view of the
// object the use points to.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>

typedef struct TV { union { long i; double n; } value_; int tt_; } TV;
typedef struct LS { TV *top; int n; } LS;
#define val_(o) ((o)->value_)
#define rawtt(o) ((o)->tt_)
#define setivalue(obj, x) { TV *io = (obj); val_(io).i = (x); rawtt(io) = 3; }
#define G(L)	(L->top)
#define incr_top(L) {L->n++;}

static long host;
static long *gp = &host;
#define SET_ALL(v) (*gp = (v))

struct cellbox { int v; };
#define cell(o) ((o)->v)
#define set_cell(o) (cell(o) = 1)

PTM_TRANSACTION(.transaction_id = "push", .mirror = auto)
int push(LS *L, long x)
{
    setivalue(L->top, x);
    incr_top(L);
    SET_ALL(x);
    return rawtt(G(L)) + (int)G(L)->tt_;
}

PTM_TRANSACTION(.transaction_id = "addr", .mirror = auto)
int addr(struct cellbox *p)
{
    set_cell(p);
    int *q = &cell(p);
    return *q;
}

// The primary as written.
// CHECK-LABEL: int push(LS *L, long x)
// CHECK: setivalue(L->top, x);
// CHECK-NEXT: incr_top(L);
// CHECK-NEXT: SET_ALL(x);

// CHECK-LABEL: /* The mirror clone of push (
// CHECK: #pragma push_macro("rawtt")
// CHECK-NEXT: #undef rawtt
// CHECK-NEXT: #define rawtt(o) ((*__extension__({ __auto_type __ptm_m[[T:[0-9]+]] = &((o)->tt_); (__typeof__(__ptm_m[[T]]))ptm_redo_st(__ptm_m[[T]], sizeof *__ptm_m[[T]]); })))
// CHECK: #define setivalue(obj, x) { TV *io = (obj); (*__extension__({ __auto_type __ptm_m[[V:[0-9]+]] = &(val_(io).i); (__typeof__(__ptm_m[[V]]))ptm_redo_st(__ptm_m[[V]], sizeof *__ptm_m[[V]]); })) = (x); rawtt(io) = 3; }
// CHECK: #define G(L)	((*__extension__({ __auto_type __ptm_m[[G:[0-9]+]] = &(L->top); (__typeof__(__ptm_m[[G]]))ptm_redo_ld(__ptm_m[[G]], sizeof *__ptm_m[[G]]); })))
// CHECK: #define incr_top(L) {(*__extension__({ __auto_type __ptm_m[[N:[0-9]+]] = &(L->n); (__typeof__(__ptm_m[[N]]))ptm_redo_st(__ptm_m[[N]], sizeof *__ptm_m[[N]]); }))++;}
// CHECK: #define SET_ALL(v) ((*__extension__({ __auto_type __ptm_m[[S:[0-9]+]] = &(*(*__extension__({ __auto_type __ptm_m[[P:[0-9]+]] = &(gp); (__typeof__(__ptm_m[[P]]))ptm_redo_ld(__ptm_m[[P]], sizeof *__ptm_m[[P]]); }))); (__typeof__(__ptm_m[[S]]))ptm_redo_st(__ptm_m[[S]], sizeof *__ptm_m[[S]]); })) = (v))
// CHECK: int push__ptm_mirror
// CHECK: setivalue((*__extension__({ __auto_type __ptm_a{{[0-9]+}} = &(L->top);
// CHECK: return rawtt(G(L)) + (int)(__extension__({ __auto_type __ptm_a[[B:[0-9]+]] = (G(L)); (__typeof__(__ptm_a[[B]]))ptm_redo_ld(__ptm_a[[B]], sizeof *__ptm_a[[B]]); }))->tt_;
// CHECK: #pragma pop_macro("SET_ALL")
// CHECK-NEXT: #pragma pop_macro("incr_top")
// CHECK-NEXT: #pragma pop_macro("G")
// CHECK-NEXT: #pragma pop_macro("setivalue")
// CHECK-NEXT: #pragma pop_macro("rawtt")

// CHECK-LABEL: static const struct ptm_tx_desc push__ptm_desc = {
// CHECK: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
// CHECK-LABEL: static const struct ptm_tx_desc addr__ptm_desc = {
// CHECK: .mirror_reason = "addr: takes the address of memory inside a macro at {{.*}}emit-redo-macro-def.c:45:5",
