// A fork mirror that calls system() or popen() is killed by the sandbox:
// glibc blocks every signal around its clone(), so the kernel cannot run
// the filter's SIGSYS handler and ends the child.  That is a denial, whose
// verdict is inconclusive, not a crash: with an alternative present and a
// healthy primary, the primary runs on every call, and the trace shows the
// denial.
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW

#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int skip(void)
{
    puts("diverted");
    return -1;
}

PTM_TRANSACTION(.mirror = fork, .alternative_paths = { skip })
int run_true(void)
{
    return system("true");
}

PTM_TRANSACTION(.mirror = fork, .alternative_paths = { skip })
int read_echo(void)
{
    char buf[16] = "";
    FILE *f = popen("echo hi", "r");
    if (!f)
        return -1;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    return pclose(f) == 0 && strcmp(buf, "hi\n") == 0 ? 0 : -1;
}

int main(void)
{
    for (int i = 0; i < 3; i++) {
        printf("system %d\n", run_true());
        printf("popen %d\n", read_echo());
    }
    return 0;
}

// CHECK-NOT: diverted
// CHECK: system 0
// CHECK-NEXT: popen 0
// CHECK-NEXT: system 0
// CHECK-NEXT: popen 0
// CHECK-NEXT: system 0
// CHECK-NEXT: popen 0
// CHECK-NOT: diverted

// Six records, each: the mirror denied (killed by SIGSYS, 31 on x86_64 and
// aarch64), one denied event, no validation, and the primary ran.
// TRACE-COUNT-6: "mirror_status":"denied",{{.*}}"mirror_signal":31,{{.*}}"kind":"denied",{{.*}}"detail":"SIGSYS",{{.*}}"validation":false,{{.*}}"decision":"primary",{{.*}}"outcome":"success"
// TRACE-NOT: crashed

// SHOW: run_true {{.*}} mirror fork killed by the sandbox (signal 31, SIGSYS) after
// SHOW: read_echo {{.*}} mirror fork killed by the sandbox (signal 31, SIGSYS) after
