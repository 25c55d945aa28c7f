// A ptm_validate in a function the mirror reaches through a pointer (a
// dispatch table: the fork executor runs the original, not a clone) is
// still recorded: ptm.h's ptm_validate reports a failed check to the
// runtime, which records it when a mirror runs on the thread.  Outside a
// mirror it only returns its condition.
// RUN: %ptmcc -Wall -Wextra %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: grep -c '"kind":"validate","call":"ptm_validate","target":"x=-5"' %t.trace | FileCheck %s --check-prefix=ONE

#include <ptm.h>
#include <stdio.h>

static int check(int x)
{
    return ptm_validate(x > 0, "x=%d", x) ? 0 : -1;
}

static int (*const checker)(int) = check;

static int refuse(int x)
{
    (void)x;
    puts("diverted");
    return 1;
}

PTM_TRANSACTION(.alternative_paths = { refuse })
int tx(int x)
{
    return checker(x);
}

int main(void)
{
    printf("%d\n", tx(-5));
    printf("%d\n", tx(5));
    return 0;
}

// CHECK: diverted
// CHECK-NEXT: 1
// CHECK-NEXT: 0
// ONE: 1
