/*
** child_test.h - waiting for a forked child that may hang (the tests of a
** child of fork() that must never wait for ever on a lock its parent's
** threads held).
*/
#ifndef CHILD_TEST_H
#define CHILD_TEST_H

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* waitChild: waits up to ms for pid, then kills it.  OUT: *status (its
** wait status).  Returns 1 when it ended by itself, 0 when it was killed. */
static inline int waitChild(pid_t pid, int ms, int *status)
{
    *status = 0;
    for (int waited = 0; waited < ms; waited++) {
        if (waitpid(pid, status, WNOHANG) != 0)
            return 1;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return 0;
}

#endif
