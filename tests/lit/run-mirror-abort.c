// abort() in a mirror (Lua's luaD_throw with no error handler) has a shim:
// the mirror ends by SIGABRT, an observation ("crashed", with an event),
// under both executors, and the process goes on: the call diverts to its
// alternative, as after any end of the mirror before it returned.  The
// inline mirror keeps its buffered stores from the host (hits stays 0).
// A call whose mirror does not abort runs its primary.
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: grep '"transaction_id":"inl"' %t.trace | grep '"mirror":"inline"' | grep -c '"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":6' | FileCheck %s --check-prefix=ONE
// RUN: grep '"transaction_id":"frk"' %t.trace | grep '"mirror":"fork"' | grep -c '"mirror_status":"crashed","mirror_duration_us":[0-9]*,"mirror_signal":6' | FileCheck %s --check-prefix=ONE
// RUN: grep -c 'abort() called' %t.trace | FileCheck %s --check-prefix=TWO

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

static int hits;

static int later(int x)
{
    (void)x;
    return -1;
}

PTM_TRANSACTION(.transaction_id = "inl", .mirror = inline, .alternative_paths = { later })
int inl(int x)
{
    hits++;
    if (x > 0)
        abort();
    return 0;
}

PTM_TRANSACTION(.transaction_id = "frk", .mirror = fork, .alternative_paths = { later })
int frk(int x)
{
    if (x > 0)
        abort();
    return 0;
}

int main(void)
{
    int a = inl(1);
    printf("inl %d hits %d\n", a, hits);
    int b = frk(1);
    printf("frk %d\n", b);
    int c = inl(0);
    printf("inl %d hits %d\n", c, hits);
    return 0;
}

// CHECK: inl -1 hits 0
// CHECK: frk -1
// CHECK: inl 0 hits 1
// ONE: 1
// TWO: 2
