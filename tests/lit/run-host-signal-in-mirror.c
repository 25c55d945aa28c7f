// A signal handler of the host that calls a transaction while an inline
// mirror runs on its thread: the call ran as a nested mirror, so its
// effect went to the mirror's write buffer and was dropped (about half of
// the handler's counts were lost, where a plain build keeps them all).
// An inline mirror's clones call clones, never ptm_tx_run: such a call is
// the host's, and now runs its primary, as a plain build's.
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: timeout 60 %t | FileCheck %s

#include <ptm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

long counted;

PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
int count(int x)
{
    counted += x;
    return 0;
}

PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
int busy(int x)
{
    volatile long s = 0;
    for (int i = 0; i < 20000; i++)
        s += i ^ x;
    return (int)(s & 1);
}

static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
    (void)sig;
    count(1);
    handled++;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &every, NULL);
    for (int i = 0; i < 10000; i++)
        busy(i);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("handled: %s, counted all: %s\n", handled > 0 ? "some" : "none",
           handled == counted ? "yes" : "no");
    return 0;
}

// CHECK: handled: some, counted all: yes
