// What a dry run (PTM_DRY_RUN) returns.  Only the mirror ran: the call
// returns its result when it returned one, and says in the trace what it
// returned (dry_run_result) and which function would have run
// (would_run); `path` names none, since none ran.  A mirror that exited,
// crashed or timed out returned nothing: the call's result is zero, its
// outcome a failure, and ptm_last_error() says why.
// Not under AddressSanitizer: its leak check at exit makes system calls of
// its own, which the sandbox stops with SIGSYS.
// UNSUPPORTED: asan
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

static int later(int x)
{
    (void)x;
    return 5;
}

PTM_TRANSACTION(.mirror = fork, .alternative_paths = { later }, .success_criteria = return > 0)
int quit(int x)
{
    if (x > 0)
        exit(3);
    return 1;
}

PTM_TRANSACTION(.success_criteria = return > 0)
int twice(int x)
{
    return 2 * x;
}

int main(void)
{
    printf("quit %d: %s\n", quit(1), ptm_last_error());
    printf("twice %d\n", twice(21));
    printf("twice %d\n", twice(0));
    return 0;
}

// OUT: quit 0: ptm: quit: dry run: the mirror's result is not available (the mirror exited); the call's result is zero
// OUT: twice 42
// OUT: twice 0
// CHECK: "mirror_status":"crashed",{{.*}}"mirror_exit_code":3,{{.*}}"decision":"divert","path":null,"attempts":0,"outcome":"failure",{{.*}}"dry_run":true,"would_run":"later","dry_run_result":"none: the mirror exited"
// CHECK: "mirror_status":"returned",{{.*}}"path":null,{{.*}}"outcome":"success",{{.*}}"dry_run":true,"would_run":"twice","dry_run_result":"mirror"
// CHECK: "mirror_status":"returned",{{.*}}"path":null,{{.*}}"outcome":"failure",{{.*}}"dry_run":true,"would_run":"twice","dry_run_result":"mirror"
// SHOW: quit · mirror fork exited with 3
// SHOW: divert to later · failure after 0 attempts ({{.*}}) [dry run, no result: the mirror exited]
