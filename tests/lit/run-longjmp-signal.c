// siglongjmp from a signal handler of the host, out of a transaction.
// - A callee raises the signal itself: its fork mirror's jump ends the
//   mirror (the child does not run the host on); the primary's jump goes
//   on, restoring the signal mask as in a plain build (the signal is
//   caught again on the next round), and the call keeps its record.
// - An alarm interrupts a call that would spin until it fires: while its
//   inline mirror runs, or while the engine waits for its fork mirror.
//   (A handler's jump while PTM's own code runs -- fork(), the rules --
//   is not covered.)
//   The jump is the host's, not the mirror's: it goes on once the mirror
//   has ended, the primary never runs, and the call keeps its record.
// The output is a plain build's.
// RUN: %clang -I%ptm_include %s -o %t.plain
// RUN: %t.plain > %t.expected
// RUN: %ptmcc -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: diff %t.expected %t.out
// RUN: FileCheck %s < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace

#include <ptm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static sigjmp_buf env;
static volatile sig_atomic_t alarmed;

static void on_signal(int sig)
{
    if (sig == SIGALRM)
        alarmed = 1;
    siglongjmp(env, sig);
}

PTM_TRANSACTION(.mirror = fork)
int poke(int x)
{
    if (x)
        raise(SIGUSR1);
    return x;
}

/* Spins until the alarm (a plain build's primary is stopped by it), or
** gives up after a few seconds. */
static long long spin(long long n)
{
    long long k = 0;
    while (k < n && !alarmed)
        k++;
    return k;
}

PTM_TRANSACTION(.mirror = inline, .timeout = 5 s)
long long spin_inline(long long n)
{
    return spin(n);
}

PTM_TRANSACTION(.mirror = fork, .timeout = 5 s)
long long spin_fork(long long n)
{
    return spin(n);
}

static void alarm_in(long ms)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = ms % 1000 * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);

    volatile int round = 0;
    int sig = sigsetjmp(env, 1);
    if (sig)
        printf("round %d: signal %s\n", round, sig == SIGUSR1 ? "SIGUSR1" : "SIGALRM");
    switch (round++) {
    case 0:
    case 1:
    case 2:
        printf("poke = %d\n", poke(1));
        break;
    case 3:
        alarmed = 0;
        alarm_in(50);
        printf("spin_inline gave up after %lld\n", spin_inline(4000000000LL));
        break;
    case 4:
        /* Late enough to find the engine waiting for the child, even under
        ** AddressSanitizer, whose fork() is slow. */
        alarmed = 0;
        alarm_in(1000);
        printf("spin_fork gave up after %lld\n", spin_fork(4000000000LL));
        break;
    case 5:
        alarmed = 0;
        printf("poke(0) = %d, spin_inline(3) = %lld\n", poke(0), spin_inline(3));
        return 0;
    }
    printf("not reached\n");
    return 1;
}

// CHECK:      round 1: signal SIGUSR1
// CHECK-NEXT: round 2: signal SIGUSR1
// CHECK-NEXT: round 3: signal SIGUSR1
// CHECK-NEXT: round 4: signal SIGALRM
// CHECK-NEXT: round 5: signal SIGALRM
// CHECK-NEXT: poke(0) = 0, spin_inline(3) = 3

// TRACE:      "transaction_id":"poke",{{.*}}"mirror_status":"longjmp",{{.*}}"decision":"primary",{{.*}}"attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"poke",{{.*}}"mirror_status":"longjmp",{{.*}}"attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"poke",{{.*}}"mirror_status":"longjmp",{{.*}}"attempts":1,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"spin_inline",{{.*}}"mirror":"inline",{{.*}}"mirror_status":"longjmp",{{.*}}"attempts":0,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"spin_fork",{{.*}}"mirror":"fork",{{.*}}"mirror_status":"longjmp",{{.*}}"attempts":0,"outcome":"failure","left_by_longjmp":true
// TRACE-NEXT: "transaction_id":"poke",{{.*}}"mirror_status":"returned",{{.*}}"outcome":"success","left_by_longjmp":false
// TRACE-NEXT: "transaction_id":"spin_inline",{{.*}}"mirror_status":"returned",{{.*}}"outcome":"success","left_by_longjmp":false
