// resource_requirements applied for the primary's duration (broker.c): a
// process at niceness 5 runs a primary that asks for a CPU at niceness 0
// where it may (CAP_SYS_NICE), and gets its niceness back after it; where
// it may not, the trace says what was not granted, and why.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <ptm.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static int niceness(void)
{
    return getpriority(PRIO_PROCESS, 0);
}

static int in_primary = -99;

PTM_TRANSACTION(.resource_requirements = { .cpu = 1 }, .success_criteria = return == 0)
int work(int x)
{
    in_primary = niceness();
    return x;
}

int main(void)
{
    if (nice(5) == -1)
        return 1;
    printf("before: %d\n", niceness());
    int rc = work(0);
    printf("rc %d, in the primary: %s\n", rc, in_primary == 0 ? "0" : in_primary == 5 ? "5" : "?");
    printf("after: %d\n", niceness());
    return 0;
}

// CHECK: before: 5
// CHECK-NEXT: rc 0, in the primary: {{0|5}}
// CHECK-NEXT: after: 5
// TRACE: "resources":{"memory":null,"cpu":1,"granted":[
// TRACE-SAME: {{cpu: niceness 5 -> 0|niceness 5 kept}}
