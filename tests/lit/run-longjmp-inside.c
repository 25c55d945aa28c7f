// setjmp and longjmp within the mirror itself are legal, and must work
// untouched under both executors: the jump stays in the mirror, which
// returns as it would.  The jmp_buf is a local, a buffer of the caller's
// frame in the mirror, or a global (an instrumented inline mirror's setjmp
// writes its write buffer's copy, which the jump then reads); the jump is
// longjmp, _longjmp, or siglongjmp (a saved mask restored).  The dry run
// returns the mirrors' own results.
// RUN: %clang -I%ptm_include %s -o %t.plain
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: rm -f %t.trace && env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// The host's global jmp_buf is not what the inline mirror's setjmp wrote.
// RUN: env PTM_DRY_RUN=1 CHECK_ENV=1 %t | FileCheck %s --check-prefix=ENV
// RUN: %ptmcc -O2 -D_FORTIFY_SOURCE=2 %s -o %t.fortify
// RUN: env PTM_DRY_RUN=1 %t.fortify > %t.out
// RUN: diff %t.expected %t.out

#include <ptm.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf global_env;

static int deep(jmp_buf env, int depth, int kind)
{
    if (depth == 0) {
        if (kind == 1)
            _longjmp(env, 40);
        longjmp(env, 41);
    }
    return deep(env, depth - 1, kind) + 1;
}

static int local_jump(int x)
{
    jmp_buf env;
    int r = setjmp(env);
    if (r)
        return r + x;
    return deep(env, 5, x & 1);
}

static int global_jump(int x)
{
    int r = setjmp(global_env);
    if (r)
        return r * 2 + x;
    return deep(global_env, 3, 0);
}

static int sig_jump(int x)
{
    sigjmp_buf env;
    int r = sigsetjmp(env, 1);
    if (r)
        return r - x;
    siglongjmp(env, 50);
}

PTM_TRANSACTION(.mirror = inline)
int jumps_inline(int x)
{
    return local_jump(x) + global_jump(x) + sig_jump(x);
}

PTM_TRANSACTION(.mirror = fork)
int jumps_fork(int x)
{
    return local_jump(x) + global_jump(x) + sig_jump(x);
}

int main(void)
{
    static jmp_buf before;
    memset(global_env, 0x5a, sizeof global_env);
    memcpy(before, global_env, sizeof before);
    for (int x = 1; x <= 2; x++)
        printf("jumps_inline(%d) = %d, jumps_fork(%d) = %d\n", x, jumps_inline(x), x,
               jumps_fork(x));
    if (getenv("CHECK_ENV"))
        printf("global_env %s\n",
               memcmp(before, global_env, sizeof before) ? "changed" : "unchanged");
    return 0;
}

// CHECK: jumps_inline(1) = 173, jumps_fork(1) = 173
// CHECK: jumps_inline(2) = 175, jumps_fork(2) = 175

// TRACE:      "mirror":"inline",{{.*}}"mirror_status":"returned",{{.*}}"mirror_result":"kept",{{.*}}"outcome":"success","left_by_longjmp":false,{{.*}}"dry_run":true
// TRACE-NEXT: "mirror":"fork",{{.*}}"mirror_status":"returned",{{.*}}"mirror_result":"kept",{{.*}}"outcome":"success","left_by_longjmp":false,{{.*}}"dry_run":true
// TRACE-NEXT: "mirror":"inline",{{.*}}"mirror_status":"returned",
// TRACE-NEXT: "mirror":"fork",{{.*}}"mirror_status":"returned",

// ENV: global_env unchanged
