// A transaction called from a signal handler that interrupted libptm's
// part of another call on the same thread (its history's lock held) waited
// on that lock for ever: the host hung, where a plain build goes on.  Now
// such a call runs only its primary, as a plain build's; calls made from
// handlers that interrupt the host's own code, and a primary's own nested
// calls, run as before.  (Before: the inline run hung in its first
// second, every time.)
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: timeout 60 %t | FileCheck %s
// RUN: env PTM_MIRROR=fork timeout 60 %t 300 20000 | FileCheck %s

#include <ptm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
int digits(int x)
{
    char b[16];
    return snprintf(b, sizeof b, "%d", x);
}

PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
int outer(int x)
{
    return digits(x) + 1;
}

static volatile sig_atomic_t in_handler, wrong;

static void on_alarm(int sig)
{
    (void)sig;
    if (digits(12345) != 5)
        wrong = 1;
    in_handler++;
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 300000;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    /* Every 50 us inline; a fork mirror takes a millisecond or more, and a
    ** handler that mirrors more often than that leaves no time to the
    ** code it interrupts. */
    long period_us = argc > 2 ? atol(argv[2]) : 50;
    struct itimerval every = {{0, period_us}, {0, period_us}};
    setitimer(ITIMER_REAL, &every, NULL);
    long bad = 0;
    for (long i = 0; i < calls; i++)
        if (outer((int)(i % 1000)) != digits((int)(i % 1000)) + 1)
            bad++;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("done: bad=%ld handler calls: %s wrong=%d\n", bad, in_handler > 0 ? "some" : "none", (int)wrong);
    return 0;
}

// CHECK: done: bad=0 handler calls: some wrong=0
