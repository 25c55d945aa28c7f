// A host that forks while its other threads make calls: the child must be
// able to make calls of its own.  Every lock libptm takes on a call path
// (the history's, the PAM's, the metrics writer's, adaptive sampling's,
// the inline watchdog's, the store's) may be held by another thread at the
// moment of fork(); a child that inherits it held and then waits on it
// hangs, where the plain build's child runs.  Each child makes calls under
// both executors and adaptive sampling, with the metrics and history
// writers running, and must exit within 10 s.  The second run's rules read
// the time on every call (localtime, gmtime: glibc's tzset lock).
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t -lpthread
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PTM_METRICS=%t.d/m.prom PTM_HISTORY=%t.d/h.db PTM_TRACE=%t.d/trace %t | FileCheck %s
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: env PTM_RULES=%inputs/rules-date.lua PTM_HISTORY=%t.d/h.db PTM_TRACE=%t.d/trace %t | FileCheck %s
// CHECK: children=120 hung=0 failed=0

#include <ptm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

PTM_TRANSACTION(.transaction_id = "fork.inline", .success_criteria = return >= 0, .mirror = auto)
int inline_tx(int x)
{
    int a[4] = {x, x + 1, x + 2, x + 3};
    return a[x & 3];
}

PTM_TRANSACTION(.transaction_id = "fork.forked", .success_criteria = return >= 0, .mirror = fork)
int forked_tx(int x)
{
    return getpid() > 0 ? x : -1;
}

PTM_TRANSACTION(.transaction_id = "fork.adaptive", .success_criteria = return >= 0,
                .mirror_sampling = adaptive)
int adaptive_tx(int x)
{
    return x;
}

static atomic_int running = 1;

static void *caller(void *arg)
{
    int n = (int)(long)arg;
    while (atomic_load(&running)) {
        inline_tx(n);
        adaptive_tx(n);
        if ((n++ & 15) == 0)
            forked_tx(n);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, caller, (void *)i) != 0)
            return 2;
    int hung = 0, failed = 0, children = 0;
    for (int i = 0; i < 120; i++, children++) {
        pid_t pid = fork();
        if (pid == -1)
            return 3;
        if (pid == 0) {
            /* Child */
            int ok = inline_tx(i) >= 0 && adaptive_tx(i) >= 0 && forked_tx(i) >= 0 &&
                     inline_tx(i + 1) >= 0;
            _exit(ok ? 0 : 1);
        }
        /* Parent */
        int status = 0, waited = 0;
        while (waitpid(pid, &status, WNOHANG) == 0 && waited < 10000) {
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            waited++;
        }
        if (waited >= 10000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hung++;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
        }
    }
    atomic_store(&running, 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("children=%d hung=%d failed=%d\n", children, hung, failed);
    return 0;
}
