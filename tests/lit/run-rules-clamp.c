// Rules that ask for retries = 2147483647 (and a timeout of 1e15 ms) used
// to make a failing call retry for ever.  What the rules ask is clamped
// (retries to 10, timeout_ms to 60 s) and the clamp is in the trace.
// RUN: rm -rf %t.dir && mkdir -p %t.dir && cp %s %t.dir/t.c && cp %inputs/greedy.lua %t.dir/
// RUN: cd %t.dir && %ptmcc -Wall -Wextra -Werror t.c -o t
// RUN: cd %t.dir && env PTM_TRACE=t.trace timeout 20 ./t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.dir/t.trace
// RUN: %ptm_trace show %t.dir/t.trace | FileCheck %s --check-prefix=SHOW
// RUN: grep -o '"clamped":{[^}]*}' %t.dir/t.trace | FileCheck %s --check-prefix=TIMEOUT

#include <ptm.h>
#include <stdio.h>

static int calls;

static int later(int x)
{
    return x;
}

PTM_TRANSACTION(.alternative_paths = { later }, .rules = "greedy.lua",
                .success_criteria = return == 0, .retry = { .max = 1, .backoff = constant(1 ms) })
int work(int x)
{
    calls++;
    return x;
}

int main(void)
{
    int rc = work(1);
    printf("rc %d after %d attempts\n", rc, calls);
    return 0;
}

// CHECK: rc 1 after 11 attempts
// The keys come in the order the rules' table gives them.
// TRACE: "adjusted":{"retries":10,"timeout_ms":60000.0},"clamped":{
// TRACE-SAME: "retries":2147483647
// TRACE-SAME: "attempts":11,"outcome":"failure"
// TIMEOUT: "timeout_ms":1000000000000000
// SHOW: primary, retries 10, timeout 60000 ms,
// SHOW-SAME: rules asked retries 2147483647
