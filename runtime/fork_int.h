/*
** fork_int.h - what the fork executor's parent side (exec_fork.c) and its
** child (fork_child.c) share: system calls without libc, the kernel's
** sigaction, what the parent hands its child, and whether valgrind runs
** the process (which cannot follow a seccomp filter or sealed memory).
** Only the fork executor's files (exec_fork.c, fork_child.c,
** fork_reopen.c, sandbox.c) include it.
*/
#ifndef FORK_INT_H
#define FORK_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "ptm_int.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* A system call without libc: the result, or -errno. */
static inline long childSys(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
#endif
}

#define SYS0(nr) childSys((nr), 0, 0, 0, 0, 0, 0)
#define SYS1(nr, a) childSys((nr), (long)(a), 0, 0, 0, 0, 0)
#define SYS2(nr, a, b) childSys((nr), (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(nr, a, b, c) childSys((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(nr, a, b, c, d) childSys((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SYS5(nr, a, b, c, d, e) \
    childSys((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define FAILED(r) ((unsigned long)(r) > -4096UL) /* -errno */

/* The kernel's struct sigaction (x86_64 and aarch64 share the layout). */
struct kernelSigaction {
    uintptr_t handler;
    unsigned long flags;
    uintptr_t restorer;
    uint64_t mask;
};

/* How many descriptors one poll() in the child looks at: the parent raises
** it when a child reports a higher one open (ring->fd_max), up to
** FD_POLL_MAX; beyond, the child walks /proc/self/fd. */
#define FD_POLL_MIN 64
#define FD_POLL_MAX 1024

/* What the parent hands its child (in the child's copy of its stack). */
struct ptmForkChildArgs {
    const struct ptm_tx_desc *desc;
    const void *frame;
    struct ptmRing *ring;
    pid_t parent;                 /* the child's parent: the helper, or the host */
    uint64_t deadline;            /* CLOCK_MONOTONIC ns; 0: none */
    long fd_count;                /* open descriptors just before the fork, or -1 */
    uint64_t mask;                /* the host thread's signal mask (signals 1-64) */
    unsigned held;                /* forkHold's locks, to release in the child */
    unsigned fd_bound;            /* how many descriptors its poll() looks at */
};

/*
** ptmForkChildRun: the fork child's whole life, after fork(): its deadline
** first (whatever follows is bounded by it), then the sandbox (signals,
** private descriptors, read-only shared memory, confinement, the seccomp
** filter), then a->desc->mirror on the ring's frame, its verdict on the
** result into ring->verdict, and _exit.  Never returns; a sandbox it could
** not set up ends it with ring->setup_err set.
*/
void ptmForkChildRun(const struct ptmForkChildArgs *a) __attribute__((noreturn));

struct stat;
/* ptmForkNoteReopen (fork_reopen.c): the child reopened fd, which the
** host has open with flags fl on file st, read-only. */
void ptmForkNoteReopen(int fd, int fl, const struct stat *st);

#endif /* FORK_INT_H */
