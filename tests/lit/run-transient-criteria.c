// A mirror whose result fails success_criteria with errno EAGAIN (or
// another contention-class errno) predicts a transient failure:
// contention, which retries are for.  The call keeps its primary and
// retries it instead of diverting to the alternative; with ENOENT the same
// failure is a validation error and diverts.
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t 11 | FileCheck %s --check-prefix=OUT
// RUN: env PTM_TRACE=%t.trace %t 16 | FileCheck %s --check-prefix=OUT
// RUN: env PTM_TRACE=%t.trace %t 2 | FileCheck %s --check-prefix=LASTING
// RUN: FileCheck %s < %t.trace

#include <errno.h>
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

static int tries;

static int elsewhere(int err)
{
    (void)err;
    return 7;
}

// Busy on the first attempt (the mirror's view too), free on the next.
PTM_TRANSACTION(.mirror = fork, .alternative_paths = { elsewhere },
                .success_criteria = return >= 0, .retry = 3)
int take(int err)
{
    if (tries++ == 0) {
        errno = err;
        return -1;
    }
    return 1;
}

int main(int argc, char **argv)
{
    int err = argc > 1 ? atoi(argv[1]) : EAGAIN;
    printf("took %d\n", take(err));
    return 0;
}

// OUT: took 1
// LASTING: took 7
// CHECK: "signals":{"contention":true,"validation":false,{{.*}}"criteria_failed":true,"criteria_errno":"EAGAIN"{{[,}]}}{{.*}}"decision":"primary","path":"take","attempts":2,"outcome":"success"
// CHECK: "signals":{"contention":true,"validation":false,{{.*}}"criteria_failed":true,"criteria_errno":"EBUSY"{{[,}]}}{{.*}}"decision":"primary","path":"take","attempts":2,"outcome":"success"
// CHECK: "signals":{"contention":false,"validation":true,{{.*}}"criteria_failed":true,"criteria_errno":"ENOENT"{{[,}]}}{{.*}}"decision":"divert","path":"elsewhere"
