// A callee in another file that leaves by longjmp, to the host's setjmp,
// both files built with -fptm-mirror-all: the mirror reaches the other
// file's clone, the runtime resolves it inline (the clone's longjmp is the
// jump family's shim), and under both executors the jump ends the mirror
// as the observation "longjmp", never landing in the host's frames.  The
// primary then makes the same jump, as in a plain build, and every call
// keeps its trace record.  The output is a plain build's.
// RUN: %clang -I%ptm_include -I %inputs %s %inputs/xtu-jump.c -o %t.plain
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -I %inputs -c %inputs/xtu-jump.c -o %t.jump.o
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -I %inputs %s %t.jump.o -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: rm -f %t.trace && env PTM_MIRROR=fork PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s --check-prefix=FORK < %t.trace

#include <ptm.h>
#include <setjmp.h>
#include <stdio.h>

#include "xtu-jump.h"

static int fallback(int x)
{
    (void)x;
    return -100;
}

PTM_TRANSACTION(.alternative_paths = { fallback }, .success_criteria = return >= 0)
int parse(int x)
{
    return xtu_body(x);
}

static void run(int x)
{
    volatile int r = 0;
    int code = setjmp(xtu_on_error);
    if (code == 0) {
        r = parse(x);
        printf("parse(%d) = %d\n", x, r);
    } else {
        printf("parse(%d): error %d\n", x, code);
    }
}

int main(void)
{
    for (int i = 0; i < 2; i++) {
        run(3);
        run(-7);
    }
    struct ptm_stats st = {0};
    ptm_stats_get(&st);
    printf("diversions %llu\n", (unsigned long long)st.diversions);
    return 0;
}

// CHECK:      parse(3) = 6
// CHECK-NEXT: parse(-7): error 7
// CHECK-NEXT: parse(3) = 6
// CHECK-NEXT: parse(-7): error 7
// CHECK-NEXT: diversions 0

// TRACE-NOT: "decision":"divert"
// TRACE: "mirror":"inline","mirror_reason":"auto: the mirror's {{[0-9]+}} functions across files{{[^"]*}}","mirror_status":"returned",{{.*}}"decision":"primary","path":"parse","attempts":1,"outcome":"success","left_by_longjmp":false
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"longjmp",{{.*}}"mirror_result":"left by longjmp",{{.*}}"validation":false,{{.*}}"decision":"primary","path":"parse","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"returned",{{.*}}"left_by_longjmp":false
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"longjmp",{{.*}}"left_by_longjmp":true
// TRACE-NOT: "transaction_id"

// FORK-NOT: "decision":"divert"
// FORK: "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"decision":"primary","path":"parse","attempts":1,"outcome":"success","left_by_longjmp":false
// FORK: "mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"mirror_result":"left by longjmp",{{.*}}"decision":"primary","path":"parse","attempts":1,"outcome":"failure","left_by_longjmp":true
// FORK: "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"left_by_longjmp":false
// FORK: "mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"left_by_longjmp":true
// FORK-NOT: "transaction_id"
