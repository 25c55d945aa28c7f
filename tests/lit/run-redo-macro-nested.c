// A mirror stores n->g through the write buffer, then reads it back
// through a macro that passes *n on to the macro whose body spells ->g
// (NEST_DEREF(n) -> NEST_FIELD(*n): *n->g).  Wrapping NEST_FIELD's p->g
// would read n->g in place (the host's old box, x = 1); the clone is not
// instrumented and the mirror forks, so it sees its own store (x = 2) and
// meets its success criterion, in a dry run as in a real one.  The chain
// of plain names (OUTER(n) -> GETF(x)) runs inline and reads its own
// store too.
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep '"transaction_id":"nest"' %t.trace | FileCheck %s --check-prefix=NEST
// RUN: grep '"transaction_id":"chain"' %t.trace | FileCheck %s --check-prefix=CHAIN
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

typedef struct Box { int x; } Box;
typedef struct M { Box *g; } M;
#define NEST_FIELD(p) p->g
#define NEST_DEREF(q) NEST_FIELD(*q)
#define GETF(p) p->g
#define OUTER(x) GETF(x)

static Box a = {1}, b = {2};
static M m1 = {&a}, m2 = {&a};

PTM_TRANSACTION(.transaction_id = "nest", .success_criteria = return == 2, .mirror = auto)
int nest(M *n)
{
    n->g = &b;
    return (NEST_DEREF(n)).x;
}

PTM_TRANSACTION(.transaction_id = "chain", .success_criteria = return == 2, .mirror = auto)
int chain(M *n)
{
    n->g = &b;
    return OUTER(n) == &b ? 2 : 0;
}

int main(void)
{
    int r1 = nest(&m1), r2 = chain(&m2);
    printf("nest %d %s chain %d %s\n", r1, m1.g == &b ? "b" : "a", r2, m2.g == &b ? "b" : "a");
    return 0;
}

// DRY: nest 2 a chain 2 a
// COUNT: 2
// NEST: "mirror":"fork"
// NEST-SAME: "mirror_reason":"nest: accesses memory inside a macro whose parameter
// CHAIN: "mirror":"inline"
// REAL: nest 2 b chain 2 b
