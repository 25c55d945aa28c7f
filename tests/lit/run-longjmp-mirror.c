// A callee that leaves by longjmp, to the host's setjmp (setjmp-based error
// handling), under both executors.  The mirror's jump must not land in the
// host: it ends the mirror, as the observation "longjmp" (left by longjmp),
// which is no failure to divert on.  The primary then makes the same jump,
// as in a plain build, and the call keeps its trace record.  The output is
// a plain build's, with -D_FORTIFY_SOURCE (longjmp is __longjmp_chk) too.
// RUN: %clang -I%ptm_include %s -o %t.plain
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW
// RUN: %ptmcc -O2 -D_FORTIFY_SOURCE=2 %s -o %t.fortify
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t.fortify > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// A dry run returns no result for a mirror that never returned, and says so.
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY

#include <ptm.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf on_error;

static void fail(int code)
{
    longjmp(on_error, code);
}

static int body(int x)
{
    if (x < 0)
        fail(-x);
    return x * 2;
}

static int fallback(int x)
{
    (void)x;
    return -100;
}

PTM_TRANSACTION(.mirror = inline, .alternative_paths = { fallback },
                .success_criteria = return >= 0)
int parse_inline(int x)
{
    return body(x);
}

PTM_TRANSACTION(.mirror = fork, .alternative_paths = { fallback },
                .success_criteria = return >= 0)
int parse_fork(int x)
{
    return body(x);
}

static void run(const char *name, int (*f)(int), int x)
{
    volatile int r = 0;
    int code = setjmp(on_error);
    if (code == 0) {
        r = f(x);
        printf("%s(%d) = %d\n", name, x, r);
    } else {
        printf("%s(%d): error %d\n", name, x, code);
    }
}

int main(void)
{
    for (int i = 0; i < 2; i++) {
        run("parse_inline", parse_inline, 3);
        run("parse_inline", parse_inline, -7);
        run("parse_fork", parse_fork, 4);
        run("parse_fork", parse_fork, -9);
    }
    struct ptm_stats st = {0};
    ptm_stats_get(&st);
    printf("diversions %llu\n", (unsigned long long)st.diversions);
    const char *e = ptm_last_error();
    if (e && strstr(e, "dry run"))
        printf("last error: %s\n", e);
    return 0;
}

// CHECK:      parse_inline(3) = 6
// CHECK-NEXT: parse_inline(-7): error 7
// CHECK-NEXT: parse_fork(4) = 8
// CHECK-NEXT: parse_fork(-9): error 9
// CHECK-NEXT: parse_inline(3) = 6
// CHECK-NEXT: parse_inline(-7): error 7
// CHECK-NEXT: parse_fork(4) = 8
// CHECK-NEXT: parse_fork(-9): error 9
// CHECK-NEXT: diversions 0

// TRACE-NOT: "decision":"divert"
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"returned",{{.*}}"decision":"primary","path":"parse_inline","attempts":1,"outcome":"success","left_by_longjmp":false
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"longjmp",{{.*}}"mirror_result":"left by longjmp",{{.*}}"validation":false,{{.*}}"decision":"primary","path":"parse_inline","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE: "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"decision":"primary","path":"parse_fork","attempts":1,"outcome":"success","left_by_longjmp":false
// TRACE: "mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"mirror_signal":null,{{.*}}"mirror_result":"left by longjmp",{{.*}}"validation":false,{{.*}}"decision":"primary","path":"parse_fork","attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"returned",{{.*}}"left_by_longjmp":false
// TRACE: "mirror":"inline",{{.*}}"mirror_status":"longjmp",{{.*}}"left_by_longjmp":true
// TRACE: "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"left_by_longjmp":false
// TRACE: "mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"left_by_longjmp":true
// TRACE-NOT: "decision":"divert"

// SHOW: parse_inline · mirror inline returned
// SHOW: parse_inline · mirror inline left by longjmp after
// SHOW-NEXT: saw: no I/O
// SHOW-NEXT: probability 0.00 < threshold → primary · failure after 1 attempt ({{.*}}), left by longjmp
// SHOW: parse_fork · mirror fork left by longjmp after

// DRY:      parse_inline(3) = 6
// DRY-NEXT: parse_inline(-7) = 0
// DRY-NEXT: parse_fork(4) = 8
// DRY-NEXT: parse_fork(-9) = 0
// DRY:      diversions 0
// DRY-NEXT: last error: ptm: parse_fork: dry run: the mirror's result is not available (left by longjmp)
