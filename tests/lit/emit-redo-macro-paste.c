// '##' in a macro's body that the clone would rewrite (a separate file:
// a user macro's paste also makes every parameter check of the unit
// refuse, macro_args.c).  A pasted callee's member (CALL_NAMED's
// n##_fn), a callee followed by '##' rather than by its '(' (CALLV), and
// a name a paste forms (LOADR's prefix##gval) cannot be placed in the
// body: those clones are not instrumented, the functions that call through
// a pointer say why in their facts, and the unit still compiles.
// RUN: %ptmcc -fptm-mirror-all --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -c %s -o %t.o

#include <stddef.h>

static void *(*fp)(void *, void *, long);
static long gval;
struct ops { long (*add_fn)(long); };
#define CALLV(suffix) ((*fp)##suffix(NULL, NULL, 1))
#define LOADR(prefix) (prefix##gval + 1)
#define CALL_NAMED(o, n, v) ((*(o)->n##_fn)(v))

void *pasted(void)
{
    return CALLV();
}

long load_pasted(void)
{
    return LOADR();
}

long named(struct ops *o, long v)
{
    return CALL_NAMED(o, add, v);
}

// CHECK-NOT: #pragma push_macro("CALLV")
// CHECK-NOT: #pragma push_macro("LOADR")
// CHECK-NOT: #pragma push_macro("CALL_NAMED")
// CHECK-LABEL: const struct ptm_xfacts pasted__ptm_xfacts = {
// CHECK: .buffered = 0,
// CHECK-NEXT: .fork = "calls through a pointer where the write buffer cannot follow: calls through a pointer that a macro's body spells where ptmcc cannot wrap it at {{.*}}emit-redo-macro-paste.c:22:12",
// CHECK-NEXT: .indirect = 1,
// CHECK-LABEL: const struct ptm_xfacts load_pasted__ptm_xfacts = {
// CHECK: .buffered = 0,
// CHECK-LABEL: const struct ptm_xfacts named__ptm_xfacts = {
// CHECK: .buffered = 0,
// CHECK-NEXT: .fork = "calls through a pointer where the write buffer cannot follow: accesses memory inside a macro at {{.*}}emit-redo-macro-paste.c:32:12",
