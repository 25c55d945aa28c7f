// A macro's BODY rewritten for the clone, under -fptm-mirror-all (the
// forms of Lua's lmem.c, lvm.c and ldo.c), and its hostile cases:
//   - a call through a pointer the body spells (callfrealloc): the
//     clone's redefinition sends the callee to ptm_clone_of, around the
//     buffer's load of the pointer; through another macro (GROW1) the
//     innermost body is the one redefined; a body with '#' keeps it;
//   - a macro redefined between two functions: each clone redefines the
//     definition its function uses; the primaries keep the macro as
//     written, and pop_macro restores it after each clone;
//   - a local the body declares and takes the address of (TWICE): the
//     redefinition registers it after its declaration (ptm_redo_local);
//     one in a for's first clause (FOR_TAKEN) cannot be: that clone is
//     not buffered;
//   - an array the body names handed to _longjmp (THROW, LUAI_THROW):
//     it decays into its view, which the reader only reads; a struct's
//     last member (THROW_TAIL: a struct hack's place) stays refused;
//   - a call through a pointer a system header's macro spells: not
//     redefined, the function needs fork (and says why).
// RUN: %ptmcc -fptm-mirror-all -isystem %inputs/macro-sys --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -fptm-mirror-all -isystem %inputs/macro-sys -Wall -Wextra -Werror -c %s -o %t.o

#include <call_sys.h>
#include <ptm.h>
#include <setjmp.h>
#include <string.h>

typedef struct Alloc {
    void *(*frealloc)(void *ud, void *p, long n);
    void *ud;
} Alloc;
struct rec { char key[4]; long n; };
struct str { long len; char contents[1]; };
struct catcher { jmp_buf b; int status; };
struct tail { int status; jmp_buf b; };

#define callfrealloc(g, p, n) ((*g->frealloc)(g->ud, p, n))
#define GROW1(g) callfrealloc(g, NULL, 1)
#define TWICE(v, out) { long t1; long *tp = &t1; *tp = (v) * 2; (out) = t1; }
#define FOR_TAKEN long i = 0, *ip = &i
#define KEY_IS(s, k) (memcmp((s)->key, (k), 4) == 0)
#define SAME_STR(s, k) (memcmp((s)->contents, (k), 4) == 0)
#define THROW(c) _longjmp((c)->b, 1)
#define THROW_TAIL(c) _longjmp((c)->b, 1)
#define CALL_TRACED(f, v) ((*f)(v) + (long)sizeof(#f))

void *grow(Alloc *g)
{
    void *a = callfrealloc(g, NULL, 1);
    void *b = GROW1(g);
    return a ? a : b;
}

#undef callfrealloc
#define callfrealloc(g, p, n) ((*g->frealloc)(g->ud, p, (n) + 1))
void *grow_again(Alloc *g)
{
    return callfrealloc(g, NULL, 2);
}



long twice(long v)
{
    long out;
    TWICE(v, out);
    return out;
}

long for_taken(void)
{
    long s = 0;
    for (FOR_TAKEN; i < 3; i++)
        s += *ip;
    return s;
}

int key_is(struct rec *r)
{
    return KEY_IS(r, "abcd");
}

int same_str(struct str *s)
{
    return SAME_STR(s, "abcd");
}

void throw_to(struct catcher *c)
{
    THROW(c);
}

void throw_tail(struct tail *c)
{
    THROW_TAIL(c);
}

long traced(long (*f)(long), long v)
{
    return CALL_TRACED(f, v);
}

long sys_call(long (*f)(long))
{
    return SYS_CALL1(f);
}


// The primaries as written.
// CHECK-LABEL: void *grow(Alloc *g)
// CHECK: void *a = callfrealloc(g, NULL, 1);
// CHECK-NEXT: void *b = GROW1(g);
// CHECK-LABEL: void *grow_again(Alloc *g)
// CHECK-NEXT: {
// CHECK-NEXT: return callfrealloc(g, NULL, 2);

// The clones, at the end of the file: each first restores the definition
// in force at its function, then redefines it for itself.
// CHECK-LABEL: /* The mirror clone of grow (
// CHECK-NEXT: #pragma push_macro("callfrealloc")
// CHECK-NEXT: #undef callfrealloc
// CHECK-NEXT: #define callfrealloc(g, p, n) ((*g->frealloc)(g->ud, p, n))
// CHECK-NEXT: #pragma push_macro("callfrealloc")
// CHECK-NEXT: #undef callfrealloc
// CHECK-NEXT: #define callfrealloc(g, p, n) ((__extension__({ __auto_type __ptm_fpm[[F:[0-9]+]] = ((*(*__extension__({ __auto_type __ptm_m[[L:[0-9]+]] = &(g->frealloc); (__typeof__(__ptm_m[[L]]))ptm_redo_ld(__ptm_m[[L]], sizeof *__ptm_m[[L]]); })))); (__typeof__(__ptm_fpm[[F]]))ptm_clone_of((void (*)(void))__ptm_fpm[[F]]); }))((*__extension__({ __auto_type __ptm_m{{[0-9]+}} = &(g->ud); {{.*}})), p, n))
// CHECK-NOT: #define GROW1
// CHECK: void *a = callfrealloc(g, NULL, 1);
// CHECK-NEXT: void *b = GROW1(g);
// CHECK: #pragma pop_macro("callfrealloc")
// CHECK-NEXT: #pragma pop_macro("callfrealloc")

// The definition grow_again uses is the last: nothing to restore.
// CHECK-LABEL: /* The mirror clone of grow_again (
// CHECK-NEXT: #pragma push_macro("callfrealloc")
// CHECK-NEXT: #undef callfrealloc
// CHECK: #define callfrealloc(g, p, n) ((__extension__({ __auto_type __ptm_fpm{{.*}}ptm_clone_of{{.*}}, p, (n) + 1))
// CHECK: return callfrealloc(g, NULL, 2);
// CHECK: #pragma pop_macro("callfrealloc")

// CHECK-LABEL: /* The mirror clone of twice (
// CHECK: #define TWICE(v, out) { long t1; ptm_redo_local(&t1, sizeof t1); long *tp = &t1; (*__extension__({ __auto_type __ptm_m[[T:[0-9]+]] = &(*tp); (__typeof__(__ptm_m[[T]]))ptm_redo_st(__ptm_m[[T]], sizeof *__ptm_m[[T]]); })) = (v) * 2; (out) = t1; }
// CHECK: #pragma pop_macro("TWICE")

// CHECK-LABEL: /* The mirror clone of for_taken (
// CHECK-NOT: push_macro
// CHECK: for (FOR_TAKEN; i < 3; i++)

// CHECK-LABEL: /* The mirror clone of throw_to (
// CHECK: #define THROW(c) _longjmp((*__extension__({ __auto_type __ptm_m[[J:[0-9]+]] = &((c)->b); (__typeof__(__ptm_m[[J]]))ptm_redo_ld(__ptm_m[[J]], sizeof *__ptm_m[[J]]); })), 1)

// CHECK-LABEL: /* The mirror clone of throw_tail (
// CHECK-NOT: #define THROW_TAIL
// CHECK-LABEL: /* The mirror clone of traced (
// CHECK: #define CALL_TRACED(f, v) ((__extension__({ __auto_type __ptm_fpm[[C:[0-9]+]] = ((*f)); (__typeof__(__ptm_fpm[[C]]))ptm_clone_of((void (*)(void))__ptm_fpm[[C]]); }))(v) + (long)sizeof(#f))
// CHECK-LABEL: /* The mirror clone of sys_call (
// CHECK-NOT: push_macro
// CHECK: return SYS_CALL1(f);

// CHECK-LABEL: const struct ptm_xfacts grow__ptm_xfacts = {
// CHECK: .buffered = 1,
// CHECK-NEXT: .indirect = 1,
// CHECK-LABEL: const struct ptm_xfacts twice__ptm_xfacts = {
// CHECK: .buffered = 1,
// CHECK-LABEL: const struct ptm_xfacts for_taken__ptm_xfacts = {
// CHECK: .buffered = 0,
// CHECK-LABEL: const struct ptm_xfacts throw_to__ptm_xfacts = {
// CHECK: .buffered = 1,
// CHECK-NOT: .fork
// CHECK-LABEL: const struct ptm_xfacts throw_tail__ptm_xfacts = {
// CHECK: .buffered = 0,
// CHECK-LABEL: const struct ptm_xfacts traced__ptm_xfacts = {
// CHECK: .buffered = 1,
// CHECK-NEXT: .indirect = 1,
// CHECK-LABEL: const struct ptm_xfacts sys_call__ptm_xfacts = {
// CHECK: .fork = "calls through a function pointer ({{.*}}emit-redo-macro-callee.c:104)",
