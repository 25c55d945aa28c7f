// A macro's body that stores into its argument keeps the mirror inline:
// the argument is rewritten into the write buffer's copy of the object,
// an lvalue the body reads and writes (BUMP, INC, PRE, SET, a comma
// expression that stores and reads back).  A macro that expands to a
// subscript of a designator (HIT(i) -> st.hits[i]) is rewritten around
// its invocation.  A dry run leaves host memory as it was; the mirror
// predicts from what it wrote.
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s --check-prefix=REAL %} %}

#include <ptm.h>
#include <stdio.h>

struct stats { int n; int hits[4]; };
static struct stats st, other;
#define BUMP(x) ((x) += 1)
#define INC(x) ((x)++)
#define PRE(x) (++(x))
#define HIT(i) st.hits[i]
#define SET(x, v) ((x) = (v))
#define SWAP_IN(x, v) ((x) = (v), (x))

PTM_TRANSACTION(.transaction_id = "bump", .success_criteria = return == 0, .mirror = inline)
int bump(struct stats *s, int k)
{
    BUMP(s->n);
    INC(st.n);
    PRE(st.n);
    HIT(k)++;
    SET(s->hits[k + 1], 7);
    int got = SWAP_IN(s->hits[0], 5);
    return s->n == 1 && st.n == 2 && st.hits[k] == 1 && s->hits[k + 1] == 7 && got == 5 ? 0 : 1;
}

int main(void)
{
    int r = bump(&other, 1);
    printf("r %d n %d/%d hits %d %d %d\n", r, other.n, st.n, st.hits[1], other.hits[2], other.hits[0]);
    return 0;
}

// DRY: r 0 n 0/0 hits 0 0 0
// COUNT: 1
// REAL: r 0 n 1/2 hits 1 7 5
