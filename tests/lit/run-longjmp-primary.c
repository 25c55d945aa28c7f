// A primary, or an alternative, that leaves by longjmp to a frame of the
// host: the jump goes on as in a plain build (same output), and each call
// it leaves still gets its trace record (left_by_longjmp, a failure) --
// nested ones innermost first.  What the call held is released (a frame
// larger than the engine's stack copy: the leak checker of the ASan build
// sees it), and later transactions on the thread work, inline mirrors
// included.
// RUN: %clang -I%ptm_include %s -o %t.plain
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: rm -f %t.trace && env PTM_DISABLE=1 PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s --check-prefix=DISABLED < %t.trace
// Retries and alternatives are PTM's own: a plain build has neither, so
// those calls are made only with PTM_ONLY set (the others jump themselves).
// RUN: rm -f %t.trace && env PTM_ONLY=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=RETRY
// RUN: FileCheck %s --check-prefix=RETRY-TRACE < %t.trace

#include <ptm.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf top;
static int tries;

/* Leaves by longjmp on its second attempt: its first fails the criteria. */
PTM_TRANSACTION(.mirror = off, .retry = 3, .success_criteria = return == 0)
int flaky(int x)
{
    if (++tries == 2)
        longjmp(top, x);
    return -1;
}

PTM_TRANSACTION(.mirror = fork)
int inner(int x)
{
    if (x > 0)
        longjmp(top, 100 + x);
    return 0;
}

/* Its primary calls another transaction, which leaves both. */
PTM_TRANSACTION(.mirror = off)
int outer(int x)
{
    return inner(x) + 1;
}

static int raise_alt(int x)
{
    longjmp(top, 200 + x);
}

/* The mirror fails validation: the call diverts, and the alternative jumps. */
PTM_TRANSACTION(.mirror = fork, .alternative_paths = { raise_alt })
int refused(int x)
{
    if (!ptm_validate(x < 0, "x must be negative"))
        return -1;
    return 0;
}

struct big {
    char bytes[6000];
};

PTM_TRANSACTION(.mirror = fork)
int big_frame(struct big b)
{
    if (b.bytes[0])
        longjmp(top, b.bytes[0]);
    return 0;
}

PTM_TRANSACTION(.mirror = inline)
int twice(int x)
{
    return 2 * x;
}

int main(void)
{
    volatile int step = 0;
    static struct big b;
    int code = setjmp(top);
    if (code)
        printf("step %d: jumped with %d\n", step, code);
    switch (step++) {
    case 0:
        if (getenv("PTM_ONLY"))
            flaky(7);
        longjmp(top, 7);
    case 1:
        outer(5);
        break;
    case 2:
        if (getenv("PTM_ONLY"))
            refused(3);
        longjmp(top, 203);
    case 3:
        memset(b.bytes, 9, sizeof b.bytes);
        big_frame(b);
        break;
    case 4:
        printf("twice(21) = %d, outer(0) = %d\n", twice(21), outer(0));
        return 0;
    }
    printf("not reached\n");
    return 1;
}

// CHECK:      step 1: jumped with 7
// CHECK-NEXT: step 2: jumped with 105
// CHECK-NEXT: step 3: jumped with 203
// CHECK-NEXT: step 4: jumped with 9
// CHECK-NEXT: twice(21) = 42, outer(0) = 1

// TRACE:      "transaction_id":"inner",{{.*}}"mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"decision":"primary","path":"inner","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"outer",{{.*}}"decision":"primary","path":"outer","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"big_frame",{{.*}}"mirror_status":"longjmp",{{.*}}"decision":"primary","path":"big_frame","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"twice",{{.*}}"mirror":"inline",{{.*}}"mirror_status":"returned",{{.*}}"outcome":"success","left_by_longjmp":false
// TRACE-NEXT: "transaction_id":"inner",{{.*}}"mirror_status":"returned",{{.*}}"outcome":"success","left_by_longjmp":false
// TRACE-NEXT: "transaction_id":"outer",{{.*}}"outcome":"success","left_by_longjmp":false
// TRACE-NOT: transaction_id

// DISABLED:      "transaction_id":"inner",{{.*}}"decision":"disabled",{{.*}}"left_by_longjmp":true
// DISABLED-NEXT: "transaction_id":"outer",{{.*}}"decision":"disabled",{{.*}}"left_by_longjmp":true

// RETRY:      step 1: jumped with 7
// RETRY-NEXT: step 2: jumped with 105
// RETRY-NEXT: step 3: jumped with 203
// RETRY-NEXT: step 4: jumped with 9
// RETRY-NEXT: twice(21) = 42, outer(0) = 1
// RETRY-TRACE:      "transaction_id":"flaky",{{.*}}"mirror":"off",{{.*}}"decision":"primary","path":"flaky","attempts":2,"outcome":"failure","left_by_longjmp":true
// RETRY-TRACE-NEXT: "transaction_id":"inner",{{.*}}"left_by_longjmp":true
// RETRY-TRACE-NEXT: "transaction_id":"outer",{{.*}}"left_by_longjmp":true
// RETRY-TRACE-NEXT: "transaction_id":"refused",{{.*}}"mirror_status":"returned",{{.*}}"validation":true,{{.*}}"decision":"divert","path":"raise_alt","attempts":1,"outcome":"failure","left_by_longjmp":true
// RETRY-TRACE-NEXT: "transaction_id":"big_frame",{{.*}}"left_by_longjmp":true
