// A rules script whose analyze() makes one library call that runs for
// hours (a backtracking pattern, table.move over 2^40 slots, %q of a
// megabyte in a loop, table.insert under a lying __len) is stopped at the
// time budget: each call gets its rules_error in the trace and runs the
// primary, and the next call's rules run normally and divert.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cp %inputs/bomb.lua %t.dir/
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror t.c -o t
// RUN: cd %t.dir && env PTM_TRACE=t.trace timeout 20 ./t | FileCheck %s
// RUN: grep -o '"rules_error":"[^"]*"' %t.dir/t.trace | FileCheck %s --check-prefix=TRACE
// RUN: grep -c '"rules_error":null' %t.dir/t.trace | FileCheck %s --check-prefix=ONE

#include <ptm.h>
#include <stdio.h>

static int later(int x)
{
    printf("diverted %d\n", x);
    return 0;
}

PTM_TRANSACTION(.alternative_paths = { later }, .rules = "bomb.lua")
int work(int x)
{
    printf("primary %d\n", x);
    return x;
}

int main(void)
{
    for (int i = 1; i <= 5; i++)
        work(i);
    return 0;
}

// CHECK: primary 1
// CHECK-NEXT: primary 2
// CHECK-NEXT: primary 3
// CHECK-NEXT: primary 4
// CHECK-NEXT: diverted 5
// TRACE-COUNT-4: "rules_error":"rules bomb.lua: analyze: time budget of 50 ms exceeded"
// ONE: 1
