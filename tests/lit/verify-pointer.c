// A call through a pointer cannot be verified statically: a warning, with
// a note for each function of the pointer's type whose address is taken
// and which reaches raw I/O.  Inline assembly is a warning too.  A function handed to external code (qsort's
// comparison) is followed as if called: here it is this file's function,
// which the rewrite cloned, so it is clean and nothing is said.  Warnings
// alone leave the exit status 0 and the build going.
// RUN: %ptmcc --verify-mirror %s 2>&1 | FileCheck %s
// RUN: %ptmcc --verify-mirror -c %s -o %t.o 2>/dev/null

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*step_fn)(int);

static int double_it(int x) { return 2 * x; }

static int shout(int x)
{
    write(1, "!", 1);
    return x;
}

static int by_value(const void *a, const void *b)
{
    puts("compare");
    return *(const int *)a - *(const int *)b;
}

static step_fn steps[] = {double_it, shout};

static int apply(int i, int x)
{
    step_fn f = steps[i & 1];
    return f(x);
}

static void barrier(void) { __asm__ volatile("" ::: "memory"); }

PTM_TRANSACTION(.transaction_id = "calc")
int calc(int i, int x)
{
    int v[3] = {x, 1, 2};
    qsort(v, 3, sizeof *v, by_value);
    barrier();
    return apply(i, v[0]);
}

int main(void) { return calc(1, 2) == 0; }

// CHECK-NOT: by_value
// CHECK: verify-pointer.c:39:{{[0-9]+}}: warning: cannot verify the inline assembly in the mirror of 'calc' (calc__ptm_mirror -> barrier__ptm_mirror)
// CHECK: verify-pointer.c:36:12: warning: cannot verify the call through a pointer in the mirror of 'calc' (calc__ptm_mirror -> apply__ptm_mirror)
// CHECK-NEXT: {{^}}   36 |     return f(x);
// CHECK-NEXT: {{^}}      |            ^
// CHECK-NEXT: verify-pointer.c:21:5: note: 'shout', which the pointer may hold, reaches 'write' through shout -> write
// CHECK-NOT: double_it
// CHECK-NOT: error
