// A macro's body whose access is based on its parameter (NEST_FIELD(p): p->g)
// is redefined with p->g wrapped only when every use of it passes one
// plain name there, at every level of nesting: NEST_DEREF(n) passes *n on, which
// expands to *n->g, that is *(n->g), so the wrap would read n->g in place,
// past the write buffer.  Each such mirror forks and says why: a use in a
// body (NEST_DEREF), in the function's text ((TEXT_FIELD(*n)).x), and the name handed
// to another macro (APPLY(HANDED_FIELD, n)), where the arguments are not seen.  A
// chain of plain names (OUTER(n) -> GETF(x)) stays instrumented, as do an
// alias's uses (GETF_ALIAS) and a postfix argument (h->next: h->next->g is
// still the member g of h->next).
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>

typedef struct Box { int x; } Box;
typedef struct N { Box *g; struct N *next; } N;
#define APPLY(m, a) m(*a)

static Box b = {2};

// The parameter's value goes through a body that dereferences it.
#define NEST_FIELD(p) p->g
#define NEST_DEREF(q) NEST_FIELD(*q)
typedef struct M { Box *g; } M;

PTM_TRANSACTION(.transaction_id = "nest", .mirror = auto)
int nest(M *n)
{
    n->g = &b;
    return (NEST_DEREF(n)).x;
}

#define TEXT_FIELD(p) p->g
PTM_TRANSACTION(.transaction_id = "text", .mirror = auto)
int text(M *n)
{
    n->g = &b;
    return (TEXT_FIELD(*n)).x;
}

#define HANDED_FIELD(p) p->g
PTM_TRANSACTION(.transaction_id = "handed", .mirror = auto)
int handed(M *n)
{
    n->g = &b;
    return (APPLY(HANDED_FIELD, n)).x;
}

#define GETF(p) p->g
#define OUTER(x) GETF(x)
#define GETF_ALIAS GETF
#define VIA(h) GETF_ALIAS(h->next)
PTM_TRANSACTION(.transaction_id = "chain", .mirror = auto)
int chain(N *n)
{
    n->g = &b;
    return OUTER(n) == &b;
}

// CHECK-LABEL: /* The mirror clone of chain (
// CHECK: #pragma push_macro("GETF")
// CHECK-NEXT: #undef GETF
// CHECK-NEXT: #define GETF(p) (*__extension__({ __auto_type __ptm_m[[F:[0-9]+]] = &(p->g); (__typeof__(__ptm_m[[F]]))ptm_redo_ld(__ptm_m[[F]], sizeof *__ptm_m[[F]]); }))

// CHECK-LABEL: static const struct ptm_tx_desc nest__ptm_desc = {
// CHECK: .mirror_reason = "nest: accesses memory inside a macro whose parameter, the access's base, is not one name at every level of its use at {{.*}}emit-redo-macro-nested.c:31:13",
// CHECK-LABEL: static const struct ptm_tx_desc text__ptm_desc = {
// CHECK: .mirror_reason = "text: accesses memory inside a macro whose parameter, the access's base, is not one name at every level of its use at {{.*}}emit-redo-macro-nested.c:39:13",
// CHECK-LABEL: static const struct ptm_tx_desc handed__ptm_desc = {
// CHECK: .mirror_reason = "handed: accesses memory inside a macro whose parameter, the access's base, is not one name at every level of its use at {{.*}}emit-redo-macro-nested.c:47:13",
// CHECK-LABEL: static const struct ptm_tx_desc chain__ptm_desc = {
// CHECK: .inline_ok = 1,
// CHECK-NEXT: .redo = 1,
