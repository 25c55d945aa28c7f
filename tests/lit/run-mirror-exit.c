// A fork mirror that calls exit() ends without a signal: the trace keeps
// its exit code, and ptm-trace says it exited instead of calling it a
// crash.  The call diverts, as after any end of the mirror before it
// returned.  Not under AddressSanitizer: its leak check at exit makes
// system calls of its own, which the sandbox stops with SIGSYS.
// UNSUPPORTED: asan
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace not %t
// RUN: grep -o '"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":null,"mirror_exit_code":3' %t.trace | wc -l | FileCheck %s --check-prefix=ONE
// RUN: %ptm_trace show %t.trace | FileCheck %s

#include <ptm.h>
#include <stdlib.h>

static int later(int x)
{
    (void)x;
    return 1;
}

PTM_TRANSACTION(.mirror = fork, .alternative_paths = { later })
int quit(int x)
{
    if (x > 0)
        exit(3);
    return 0;
}

int main(void)
{
    return quit(1);
}

// ONE: 1
// CHECK: quit {{.*}} mirror fork exited with 3 after
