// A fork mirror's end is invisible to the host's signal handling: a server
// that reaps its workers in a SIGCHLD handler (installed without
// SA_RESTART) gets no signal per mirror, its waitpid(-1) never reaps PTM's
// child, and another thread blocked in read() is never interrupted.  Its
// own worker is still seen and reaped.
// RUN: %ptmcc %s -o %t -lpthread 2>/dev/null
// RUN: %t | FileCheck %s

#include <errno.h>
#include <pthread.h>
#include <ptm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static _Atomic int sigchlds, reaped, interrupted;
static int fds[2];

static void onChild(int sig)
{
    int saved = errno, st;
    (void)sig;
    sigchlds++;
    while (waitpid(-1, &st, WNOHANG) > 0)
        reaped++;
    errno = saved;
}

static void *reader(void *arg)
{
    char c;
    (void)arg;
    while (read(fds[0], &c, 1) < 0 && errno == EINTR)
        interrupted++;
    return NULL;
}

static int later(int x)
{
    return -x;
}

PTM_TRANSACTION(.mirror = fork, .alternative_paths = { later })
int work(int x)
{
    return x > 0 ? 0 : -1;
}

int main(void)
{
    struct sigaction sa;
    sigset_t chld;
    pthread_t t;
    int ok = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onChild; /* no SA_RESTART */
    sigaction(SIGCHLD, &sa, NULL);
    if (pipe(fds) != 0 || pthread_create(&t, NULL, reader, NULL) != 0)
        return 2;
    /* The reader is the thread that takes SIGCHLD. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);
    usleep(20000);
    for (int i = 1; i <= 20; i++)
        ok += work(i) == 0;
    usleep(20000);
    printf("calls %d sigchld %d reaped %d eintr %d\n", ok, sigchlds, reaped, interrupted);
    /* A worker of the host's own: seen, reaped. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    for (int i = 0; i < 2000 && reaped == 0; i++)
        usleep(1000);
    printf("own worker: reaped %d\n", reaped);
    if (write(fds[1], "x", 1) != 1)
        return 3;
    pthread_join(t, NULL);
    return 0;
}

// CHECK: calls 20 sigchld 0 reaped 0 eintr 0
// CHECK: own worker: reaped 1
