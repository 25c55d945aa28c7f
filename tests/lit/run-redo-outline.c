// The write buffer's ptm_redo_ld and ptm_redo_st are calls, not inline
// tests: each access of an instrumented clone calls the unit's one copy
// (ptm_gen.h), so that a project built with -fptm-mirror-all does not
// carry the test's 60 bytes at every access of every clone.  The clone
// of put (stores through a pointer, reads them back in a loop) calls them
// and reads none of the buffer's thread-locals itself.  In a dry run the
// mirror runs inline, reads back its own stores (the criteria check the
// sum), and leaves the host's table as it was.
// RUN: %ptmcc -fptm-mirror-all -std=gnu11 -O2 -Wall -Wextra -Werror -S %s -o - | FileCheck %s --check-prefix=ASM
// RUN: %ptmcc -fptm-mirror-all -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

struct table { int n; int cell[8]; };
static struct table table0 = {0, {0}};

/* put: fills the table through a pointer and sums it back: every access
** goes through the write buffer in the mirror.  Exported: its clone stays
** out of line. */
int put(struct table *t, int base);
int put(struct table *t, int base)
{
    int sum = 0;
    for (int i = 0; i < 8; i++)
        t->cell[i] = base + i;
    t->n = 8;
    for (int i = 0; i < t->n; i++)
        sum += t->cell[i];
    return sum;
}

PTM_TRANSACTION(.transaction_id = "outline", .success_criteria = return == 108, .mirror = inline)
int fill(struct table *t)
{
    return put(t, 10);
}

int main(void)
{
    int r = fill(&table0);
    printf("r %d n %d cell7 %d\n", r, table0.n, table0.cell[7]);
    return 0;
}

// ASM-LABEL: {{^}}put__ptm_mirror:
// ASM-NOT: ptm_redo_heap
// ASM-NOT: ptm_redo_mode
// ASM: call{{q?}} ptm_redo_st{{$}}
// ASM-NOT: ptm_redo_heap
// ASM-NOT: ptm_redo_mode
// ASM: call{{q?}} ptm_redo_ld{{$}}
// ASM-NOT: ptm_redo_heap
// ASM-NOT: ptm_redo_mode
// ASM: .size put__ptm_mirror,
// The helpers, once in the unit (static, not inline).
// ASM-DAG: {{^}}ptm_redo_ld:
// ASM-DAG: {{^}}ptm_redo_st:

// DRY: r 108 n 0 cell7 0
// COUNT: 1
// REAL: r 108 n 8 cell7 17
