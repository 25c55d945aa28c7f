// A predicted timeout recovers.  The service answers slowly once (call 3):
// its latency makes every later call predict a timeout, and a diverted
// call measures nothing.  As a half-open circuit breaker, the 4th call
// diverted for a timeout alone runs the primary as a probe (trace "probe":
// true); it is fast again, so the history forgets the slow latency and the
// calls after it run the primary.  The threshold is 0.3: a predicted
// timeout alone diverts.
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s < %t.trace
// RUN: %ptm_trace show %t.trace | FileCheck %s --check-prefix=SHOW

#include <ptm.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int slow;

static int cached(int host)
{
    (void)host;
    return 2;
}

// The service: slow while `slow` is set, for the primary only (the fork
// mirror runs in another process and replays no latency here).  The
// timeout leaves a loaded machine's fork mirror (ASan) far below it.
PTM_TRANSACTION(.mirror = fork, .alternative_paths = { cached }, .timeout = 1 s, .threshold = 0.3,
                .success_criteria = return > 0)
int fetch(int host)
{
    if (slow && getpid() == host) {
        struct timespec ts = {3, 0};
        nanosleep(&ts, NULL);
    }
    return 1;
}

int main(void)
{
    for (int i = 0; i < 10; i++) {
        slow = i == 3;
        printf("%d:%d ", i, fetch(getpid()));
    }
    printf("\n");
    return 0;
}

// OUT: 0:1 1:1 2:1 3:1 4:2 5:2 6:2 7:1 8:1 9:1
// CHECK-COUNT-4: "decision":"primary","path":"fetch",{{.*}}"probe":false
// CHECK-COUNT-3: "reasons":["predicted timeout"{{.*}}"decision":"divert","path":"cached",{{.*}}"probe":false
// CHECK-NEXT: "reasons":["predicted timeout"{{.*}}"decision":"primary","path":"fetch",{{.*}}"outcome":"success",{{.*}}"probe":true
// CHECK-NEXT: "probability":0.0,{{.*}}"decision":"primary","path":"fetch",{{.*}}"probe":false
// CHECK-NEXT: "probability":0.0,{{.*}}"decision":"primary","path":"fetch",{{.*}}"probe":false
// SHOW: → primary (half-open probe)
