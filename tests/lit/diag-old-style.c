// K&R-style definitions (parameters declared after the list) are valid
// gnu11.  A mirror that calls one cannot have it cloned: ptmcc says why,
// and the fork executor runs it.  A transaction written that way is an
// error that says what to write instead.
// RUN: %ptmcc -std=gnu11 -Wno-deprecated-non-prototype %s -o %t 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: grep -o '"mirror_reason":"[^"]*"' %t.trace | FileCheck %s --check-prefix=TRACE
// RUN: not %ptmcc -std=gnu11 -Wno-deprecated-non-prototype -DTX -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=ERR

#include <ptm.h>
#include <stdio.h>

static int twice(x)
int x;
{
    return 2 * x;
}

PTM_TRANSACTION(.success_criteria = return >= 0)
int tx(int a)
{
    return twice(a);
}

#ifdef TX
PTM_TRANSACTION()
int count(n)
int n;
{
    return n;
}
#endif

int main(void)
{
    printf("%d\n", tx(4));
    return 0;
}

// WARN: diag-old-style.c:22:12: warning: the mirror of 'tx' forks: it reaches 'twice' via tx, and ptmcc cannot clone it (its definition is K&R-style)
// OUT: 8
// TRACE: "mirror_reason":"calls 'twice', defined K&R-style ({{.*}}diag-old-style.c:22)"
// ERR: diag-old-style.c:27:5: error: transaction 'count' is defined K&R-style; declare its parameters inside the parentheses: ptmcc writes its wrapper and clones from that list
