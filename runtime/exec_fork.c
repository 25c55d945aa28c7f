/*
** exec_fork.c - the fork executor: a mirror in a copy-on-write child under
** a seccomp filter.
**
** fork() gives the mirror a snapshot of the whole process for the price of
** copying page tables.  The parent copies the frame into the ring first, so
** that the child runs the mirror on it in place.  The child
**   - arms its deadline: a POSIX timer that sends it SIGKILL, which nothing
**     in the mirror can block or (the filter sees to it) disarm,
**   - resets the crash signals to SIG_DFL (the host's SIGSEGV handler must
**     not run in the mirror) and disables core dumps,
**   - dies with its parent (PR_SET_PDEATHSIG),
**   - replaces its inherited descriptors by private ones: a regular file or
**     directory is reopened read-only at the same offset, anything else (a
**     pipe, a socket, a terminal) becomes /dev/null,
**   - makes every shared mapping but its ring read-only and seals it, so
**     that a store into memory the host shares with anyone is a crash
**     (SIGSEGV, an observation) instead of a write that escapes,
**   - moves to a process group of its own and enters a Landlock domain, so
**     that nothing reaches the host process (childConfine),
**   - attaches a seccomp filter that traps write-class system calls: the
**     SIGSYS handler records each as a PTM_EV_DENIED event in the ring and
**     makes the call return -EPERM, so the mirror walks on and the denial
**     is an observation,
**   - runs desc->mirror on the ring's frame, marks the ring returned, and
**     _exit()s (no atexit handlers, no stdio flush: the host's buffered
**     output is not doubled).
** All of that is fork_child.c (ptmForkChildRun); this file forks it, waits
** for it and reads what it left.
** The child is forked by a helper that shares the host's memory and ends
** with no exit signal (see "The helper" below), so that the host sees no
** SIGCHLD and no child of its own.  The parent only waits, and reads what
** happened from the exit status and the ring (a MAP_SHARED mapping, so
** the child's events are in the parent's pages).  Each step is stamped into ring->stamp_ns
** (bench/fork_bench.c prints the breakdown).
**
** The filter (its table, its BPF program, the Landlock ruleset) is built
** once per process by sandbox.c; the child patches its pid into its copy
** and attaches it with seccomp(2).  Attaching is the
** largest cost left: the kernel translates and JIT-compiles the program in
** every child, and frees it when the child exits (bench/README.md).
**
** Multi-threaded hosts: the child is a copy of one thread, and must never
** wait for a lock another host thread held at the fork.  What it touches:
** its stack, the ring, the BPF program (patched in place, in its own
** copy-on-write pages), malloc and stdio (glibc's fork takes the malloc
** arenas' and the stream list's locks around the fork and resets every
** FILE's lock in the child), and the shims, which take no lock of the host
** (they never lock a host FILE: fileno() does not lock).  A transaction
** called inside the mirror runs its mirror only, after a pthread_once that
** glibc restarts in a child.  libptm's own mutexes (history, rules, trace)
** are never taken in a child, so no pthread_atfork handler is needed for
** them; a shim whose mirror side takes a lock of its own (SQLite's static
** mutexes) registers it with ptmForkHoldAdd, and ptmForkRun holds it across
** its fork.  Anything else an unknown external function locks (glibc's
** tzset lock inside localtime(), a library's mutex) may hang the mirror:
** the deadline turns that into PTM_MS_TIMEOUT.
*/
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fork_int.h"

/* How many descriptors the next child's poll() looks at (fork_int.h):
** raised when a child reports a higher one open. */
static _Atomic unsigned fdPollBound = FD_POLL_MIN;

/* ------------------------------------------------------------------------
** Parent
*/

/* waitpid(pid, __WALL), retried on EINTR.  OUT: *status.  0 or an errno
** (ECHILD: someone else reaped it -- SIGCHLD ignored, or a host handler
** that waits for any child). */
static int parentReap(pid_t pid, int *status)
{
    while (ptmOs.waitpid(pid, status, __WALL) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* The number of descriptors open in this process, the size Linux 6.2 and
** later give /proc/self/fd; -1 when unknown (0 from older kernels is as
** good: no child's count will match it). */
static long parentFdCount(void)
{
    struct stat st;
    return ptmOs.stat("/proc/self/fd", &st) == 0 ? (long)st.st_size : -1;
}

/* Whether the mirror child was killed at its deadline: it is past, and
** the child died of SIGKILL (its timer's) or, with no status (lost), never
** returned. */
static int parentTimedOut(uint64_t deadline, const struct ptmRing *ring, int status, int lost)
{
    if (!deadline || ptmOsNowNs() < deadline)
        return 0;
    if (lost)
        return !atomic_load_explicit(&ring->returned, memory_order_acquire);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* The call of the event below: no system call has this number, so the
** event names none ("?"). */
#define SYSCALL_UNKNOWN 0x7fffu

/* A child the kernel killed with SIGSYS was denied a system call while it
** blocked SIGSYS: the kernel cannot run the handler (childSigsys) then,
** so it ends the child.  glibc's system(), popen() and posix_spawn() block
** every signal around their clone(), and so does any code that masks all
** signals before a call the filter denies.  The mirror was stopped by the
** sandbox, not by its own fault: a denial, whose system call is unknown,
** recorded in the ring as the handler would have. */
static void parentNoteKill(struct ptmRing *ring)
{
    struct ptmEvent *ev = ptmRingPush(ring);
    uint64_t start = ring->stamp_ns[PTM_STAMP_FILTER], end = ring->stamp_ns[PTM_STAMP_REAPED];

    if (!ev)
        return;
    ev->kind = PTM_EV_DENIED;
    ev->call = (uint16_t)(PTM_CALL_SYSCALL | SYSCALL_UNKNOWN);
    ev->err = EPERM;
    ev->result = -1;
    ev->t_ns = start && end > start ? end - start : 0;
    ptmCopyField(ev->target, sizeof ev->target,
                 "a system call made with SIGSYS blocked: the sandbox killed the mirror");
    ptmCopyField(ev->detail, sizeof ev->detail, "SIGSYS");
}

/* What the child's end says, into run. */
static void parentClassify(const struct ptm_tx_desc *desc, struct ptmRing *ring, int status,
                           int timed_out, int lost, struct ptmMirrorRun *run)
{
    int returned = atomic_load_explicit(&ring->returned, memory_order_acquire) != 0;
    int left = atomic_load_explicit(&ring->left, memory_order_acquire) != 0;
    int setup_err = atomic_load_explicit(&ring->setup_err, memory_order_relaxed);

    run->denied = atomic_load_explicit(&ring->denied, memory_order_relaxed);
    if (setup_err) {
        run->status = PTM_MS_FAILED;
        snprintf(run->error, sizeof run->error, "fork executor: sandbox setup: %s",
                 strerror(setup_err));
    } else if (timed_out && (lost || (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))) {
        run->status = PTM_MS_TIMEOUT;
        run->signo = SIGKILL;
    } else if (lost) {
        /* No status: the ring says whether the mirror finished. */
        run->status = returned ? (run->denied ? PTM_MS_DENIED : PTM_MS_RETURNED)
                      : left   ? PTM_MS_LONGJMP
                               : PTM_MS_CRASHED;
        run->exit_code = -1;
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        run->status = PTM_MS_DENIED; /* the sandbox ended it: inconclusive */
        run->signo = SIGSYS;
        run->denied++;
        parentNoteKill(ring);
    } else if (WIFSIGNALED(status)) {
        run->status = PTM_MS_CRASHED;
        run->signo = WTERMSIG(status);
    } else if (left && !returned) {
        run->status = PTM_MS_LONGJMP;
    } else if (!returned) {
        run->status = PTM_MS_CRASHED; /* it called exit() or _exit() */
        run->exit_code = WEXITSTATUS(status);
    } else {
        run->status = run->denied ? PTM_MS_DENIED : PTM_MS_RETURNED;
    }
    if (run->status == PTM_MS_LONGJMP)
        run->frame_lost = "left by longjmp";
    if (!returned || (run->status != PTM_MS_RETURNED && run->status != PTM_MS_DENIED))
        return;
    switch (atomic_load_explicit(&ring->verdict, memory_order_relaxed)) {
    case PTM_VERDICT_MET: run->verdict = PTM_VERDICT_MET; break;
    case PTM_VERDICT_FAILED: run->verdict = PTM_VERDICT_FAILED; break;
    default: break;               /* ptmRingCheck refused any other value */
    }
    /* The ring is a shared mapping, kept small: a larger frame was judged
    ** in the child and stays there. */
    _Static_assert(PTM_RING_FRAME_MAX == 16384, "frame_lost below names the size");
    if (desc->frame_size > PTM_RING_FRAME_MAX)
        run->frame_lost = "fork: the frame is larger than the ring's 16384 bytes: "
                          "judged in the child, not handed back";
    run->frame_valid = desc->frame_size <= PTM_RING_FRAME_MAX &&
                       ring->frame_len == desc->frame_size;
    if (run->frame_valid)
        run->frame = ring->frame;
}

/* run failed to run: its status and error.  Returns rc. */
static enum ptmRc runFailed(struct ptmMirrorRun *run, enum ptmRc rc, const char *what, int err)
{
    run->status = PTM_MS_FAILED;
    snprintf(run->error, sizeof run->error, "fork executor: %s: %s", what, strerror(err));
    return rc;
}

/* ------------------------------------------------------------------------
** Locks a mirror takes
*/

#define MAX_HOLDS 8

static struct {
    int (*hold)(void);
    void (*release)(void);
} holds[MAX_HOLDS];
static _Atomic unsigned nHolds;
static pthread_mutex_t holdsMu = PTHREAD_MUTEX_INITIALIZER;

/*
** ptmForkHoldAdd: registers a lock that code in a fork mirror takes (the
** SQLite shim's static mutexes): ptmForkRun calls hold() just before its
** fork and release(), in the parent and in the child, just after, so that
** the child never finds the lock held by a thread it does not have.
** hold() returns 1 when it took the lock and 0 when it gave up: it must not
** wait forever (the thread forking the mirror may hold the lock itself);
** release() follows a 1 only.  Holds are taken in the order they were
** added and released in reverse.  The host's own fork()s are left alone:
** this is not pthread_atfork.  Returns PTM_OK, PTM_EINVAL for a NULL
** function, or PTM_ENOMEM when MAX_HOLDS are registered.
*/
enum ptmRc ptmForkHoldAdd(int (*hold)(void), void (*release)(void))
{
    unsigned n;

    if (!hold || !release)
        return PTM_EINVAL;
    pthread_mutex_lock(&holdsMu);
    n = atomic_load_explicit(&nHolds, memory_order_relaxed);
    if (n < MAX_HOLDS) {
        holds[n].hold = hold;
        holds[n].release = release;
        atomic_store_explicit(&nHolds, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&holdsMu);
    return n < MAX_HOLDS ? PTM_OK : PTM_ENOMEM;
}

/* Takes the registered holds.  Returns a bit per hold taken. */
static unsigned forkHold(void)
{
    unsigned i, n = atomic_load_explicit(&nHolds, memory_order_acquire), held = 0;

    for (i = 0; i < n; i++)
        if (holds[i].hold())
            held |= 1u << i;
    return held;
}

/* Gives back what forkHold took, in reverse. */
static void forkRelease(unsigned held)
{
    unsigned i = MAX_HOLDS;

    while (i-- > 0)
        if (held & (1u << i))
            holds[i].release();
}

/* ------------------------------------------------------------------------
** The helper
**
** A child of fork() sends its parent SIGCHLD when it ends, and any
** waitpid(-1) of the host may reap it: a host's SIGCHLD handler would run
** once per mirror, interrupt other threads' system calls with EINTR, and
** reap the mirror before ptmForkRun does.  Only a child made by clone(2)
** with no exit signal is invisible to both (waitpid(-1) without __WALL
** skips it).  But a raw clone() is not fork(): glibc's fork() takes the
** malloc arenas' and stdio's locks in the parent and resets them in the
** child, runs the pthread_atfork handlers, and sets the child's thread id.
** A raw clone() child of a multi-threaded host inherits whatever lock
** another thread held at that instant, and dies waiting for it at its
** deadline, a timeout misread as a prediction (the malloc lock of a thread
** that is freeing, say).  So the mirror is forked by glibc's fork(), from
** a helper that clone() makes with no exit signal, CLONE_VM, CLONE_FILES
** and CLONE_VFORK: the helper shares the host's memory (the locks fork()
** takes are the host's, waited for properly) and its descriptor table
** (nothing to copy), and runs on the host
** thread's stack below the caller's frames while the host thread sleeps
** (CLONE_VFORK) until the helper ends, so nothing runs on that thread and
** that stack twice.  The helper blocks every signal, sets its own SIGCHLD
** (a copy: no CLONE_SIGHAND) to the default so that the mirror is neither
** reaped by the kernel nor seen by a host handler, forks the mirror, waits
** for it, writes its status into the caller's memory, and exits.  Its exit
** signals nobody; ptmForkRun reaps it with __WALL.  The mirror is the
** helper's child: the host never sees it.
**
** The mirror's parent is the helper, and the host is its grandparent:
** whatever denies the mirror a route to its parent (pidfd, /proc, signals)
** must deny it to both.
**
** Costs: one clone() with CLONE_VM (no page tables are copied) and one
** more wake-up per mirror (bench/fork_bench.c); and while the mirror runs,
** the calling thread runs no signal handler: it blocks every signal across
** the clone() (a process-directed signal goes to another thread, if any),
** and a signal sent to it waits for the mirror's end, at most its
** deadline.  Valgrind runs clone(CLONE_VM | CLONE_VFORK) as a fork(),
** with no shared memory, and knows no other CLONE_VM without threads:
** under valgrind the caller forks the mirror itself.
*/

/* What the helper and the caller share (CLONE_VM): the caller's memory. */
struct forkHelper {
    struct ptmForkChildArgs *child;
    pid_t host;                   /* the caller's process: the helper dies with it */
    int fork_err;                 /* errno of the fork, or of the helper's setup */
    int waited;                   /* 1: status holds the mirror's end */
    int status;                   /* the mirror child's wait status */
};

/* How far below the caller's frame the helper's stack starts: room for
** the frames of the caller and of glibc's clone() above it. */
#define HELPER_STACK_GAP 4096u

/* Forks the mirror child; in the child, runs it (no return).  0 or the
** errno of fork(). OUT: *pid. */
static int mirrorFork(struct ptmForkChildArgs *child, pid_t *pid)
{
    *pid = ptmOs.fork();
    if (*pid == 0) {
        /* Child */
        forkRelease(child->held);
        ptmForkChildRun(child);
    }
    return *pid < 0 ? errno : 0;
}

/* The helper (clone()'s entry): forks the mirror and reaps it into *h.
** Returns 0, its exit status, which nobody reads. */
static int forkHelperRun(void *arg)
{
    struct forkHelper *h = arg;
    struct kernelSigaction dfl = {0, 0, 0, 0};
    uint64_t all = ~0ull;
    pid_t pid;
    long r;

    /* All blocked, also glibc's internal signals, which the caller could
    ** not block: no host handler may run here, on the host's memory. */
    (void)SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all);
    if (FAILED(r = SYS4(SYS_rt_sigaction, SIGCHLD, &dfl, NULL, sizeof dfl.mask)) ||
        FAILED(r = SYS2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL))) {
        h->fork_err = (int)-r;
        return 0;
    }
    if (SYS0(SYS_getppid) != h->host) {
        h->fork_err = ESRCH;      /* the host died before PDEATHSIG was set */
        return 0;
    }
    h->child->parent = (pid_t)SYS0(SYS_getpid);
    if ((h->fork_err = mirrorFork(h->child, &pid)) != 0)
        return 0;
    while ((r = SYS4(SYS_wait4, pid, &h->status, __WALL, NULL)) == -EINTR)
        ;
    if (FAILED(r))
        (void)SYS2(SYS_kill, pid, SIGKILL); /* it dies with the helper (PDEATHSIG) */
    h->waited = !FAILED(r);
    return 0;
}

/* Caller: runs the helper and returns when it has ended.  Under valgrind,
** forks and reaps the mirror itself.  The calling thread's signals stay
** blocked until the helper (or, under valgrind, the mirror) is reaped: a
** handler that jumps away finds no child left behind.  OUT: *h (fork_err,
** waited, status).  0, or the errno of clone() or of the wait. */
static __attribute__((noinline)) int forkThroughHelper(struct forkHelper *h)
{
    uintptr_t top = ((uintptr_t)__builtin_frame_address(0) - HELPER_STACK_GAP) & ~(uintptr_t)63;
    sigset_t all, old;
    int err = 0, status;
    pid_t pid;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    memcpy(&h->child->mask, &old, sizeof h->child->mask);
    if (RUNNING_ON_VALGRIND) {
        if ((h->fork_err = mirrorFork(h->child, &pid)) == 0) {
            err = parentReap(pid, &h->status);
            h->waited = err == 0;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return h->fork_err || err == ECHILD ? 0 : err;
    }
    pid = clone(forkHelperRun, (void *)top,
                CLONE_VM | CLONE_FILES | CLONE_VFORK /* no exit signal */, h);
    err = pid < 0 ? errno : 0;
    /* ECHILD: the host reaped it (waitpid with __WALL); what it found is
    ** in *h all the same. */
    if (!err && (err = parentReap(pid, &status)) == ECHILD)
        err = 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/* Parent: forkThroughHelper, but a jump out of a signal handler of the
** host (its alarm, its SIGINT) that arrives while the mirror runs lands
** here instead, and the engine makes it once the call is recorded
** (ptmJumpPending).  The calling thread blocks its signals until the
** mirror and the helper are reaped, so such a jump finds nothing left
** running.  OUT: *h, as forkThroughHelper's, and *interrupted.  0 or an
** errno. */
static __attribute__((noinline)) int forkThroughHelperHere(struct forkHelper *h,
                                                           int *interrupted)
{
    sigjmp_buf back;
    struct ptmJumpScope scope = {.kind = PTM_SCOPE_MIRROR,
                                 .hi = (uintptr_t)__builtin_frame_address(0),
                                 .back = &back,
                                 .defers = 1};
    int err;

    *interrupted = 0;
    if (sigsetjmp(back, 0) != 0) {
        ptmJumpLeave(&scope);
        *interrupted = 1;
        return 0;
    }
    ptmJumpEnter(&scope);
    err = forkThroughHelper(h);
    ptmJumpLeave(&scope);
    return err;
}

/*
** ptmForkRun: runs desc->mirror on a copy of frame (desc->frame_size
** bytes) in a sandboxed fork child, recording into ring (from
** ptmRingCreate or ptmRingForThread; reset here), and reaps the child
** before deadline_ns (ns from now; 0: no deadline) or kills it then.  The
** copy is ring->frame itself when the frame fits; the locks registered
** with ptmForkHoldAdd are held across the fork.  The child is forked by a
** helper (see above): its end sends the host no SIGCHLD, and no
** waitpid(-1) of the host reaps it.
**
** OUT: *run, always filled: status (returned, crashed + signo or
** exit_code, timeout, denied (+ signo SIGSYS when the sandbox killed it),
** failed + error), denied, duration_ns, executor PTM_EXEC_FORK, ring,
** verdict (the child's on its result, whatever the frame's size), and
** frame_valid and frame (= ring->frame) when the ring holds the mirror's
** frame (it returned, and frame_size <= PTM_RING_FRAME_MAX; else
** frame_lost says why not).
** ring->stamp_ns: when each step ended (enum ptmForkStamp).
**
** Returns PTM_OK when the mirror ran (whatever it did), PTM_EINVAL for a
** bad argument, PTM_ERROR when it could not run (the seccomp filter could
** not be built, fork failed, the sandbox could not be set up, the wait
** failed); run->error says why.
*/
enum ptmRc ptmForkRun(const struct ptm_tx_desc *desc, const void *frame, uint64_t deadline_ns,
               struct ptmRing *ring, struct ptmMirrorRun *run)
{
    uint64_t t0 = ptmOsNowNs(), deadline;
    struct forkHelper helper;
    struct ptmForkChildArgs child;
    unsigned bound;
    int err, interrupted;
    const char *why;

    memset(run, 0, sizeof *run);
    run->executor = PTM_EXEC_FORK;
    run->ring = ring;
    if (!desc || !desc->mirror || !ring || (desc->frame_size && !frame))
        return runFailed(run, PTM_EINVAL, "bad argument", EINVAL);
    if ((err = ptmSandboxBuild(&why)) != 0)
        return runFailed(run, PTM_ERROR, why, err);

    ptmRingReset(ring);
    if (desc->frame_size && desc->frame_size <= PTM_RING_FRAME_MAX)
        memcpy(ring->frame, frame, desc->frame_size); /* the mirror's copy */
    deadline = deadline_ns ? t0 + deadline_ns : 0;
    /* A ring of ptmRingForThread is not inherited by fork(), but by this
    ** child it must be. */
    if ((err = ptmRingInherit(ring, 1)) != 0)
        return runFailed(run, PTM_ERROR, "ring: madvise", err);
    child = (struct ptmForkChildArgs){
        desc, frame, ring, getpid(), deadline, parentFdCount(), 0, 0,
        atomic_load_explicit(&fdPollBound, memory_order_relaxed)};
    helper = (struct forkHelper){&child, getpid(), 0, 0, 0};
    ring->stamp_ns[PTM_STAMP_FORK] = ptmOsNowNs();
    child.held = forkHold();
    err = forkThroughHelperHere(&helper, &interrupted);
    /* Parent */
    forkRelease(child.held);
    (void)ptmRingInherit(ring, 0);
    ring->stamp_ns[PTM_STAMP_REAPED] = ptmOsNowNs();
    run->duration_ns = ring->stamp_ns[PTM_STAMP_REAPED] - t0;
    if (err)
        return runFailed(run, PTM_ERROR, "fork helper", err);
    if (helper.fork_err)
        return runFailed(run, PTM_ERROR, "fork", helper.fork_err);
    /* A child that found a descriptor at or above the poll bound walked
    ** /proc/self/fd: the next children poll far enough. */
    bound = atomic_load_explicit(&fdPollBound, memory_order_relaxed);
    if (ring->fd_max >= (int32_t)bound && ring->fd_max < FD_POLL_MAX) {
        while (bound <= (unsigned)ring->fd_max)
            bound *= 2;
        atomic_store_explicit(&fdPollBound, bound < FD_POLL_MAX ? bound : FD_POLL_MAX,
                              memory_order_relaxed);
    }
    /* The child is gone: what it left in the ring is checked before
    ** anything reads it (a wild or hostile store there is no observation). */
    if ((why = ptmRingCheck(ring, desc->frame_size)) != NULL) {
        ptmRingReset(ring);
        snprintf(run->error, sizeof run->error,
                 "fork: the mirror wrote over its event ring (%s): no observation", why);
        run->status = PTM_MS_FAILED;
        return PTM_ERROR;
    }
    parentClassify(desc, ring, helper.status,
                   parentTimedOut(deadline, ring, helper.status, !helper.waited),
                   !helper.waited, run);
    if (interrupted) {
        run->status = PTM_MS_LONGJMP;
        run->signo = 0;
        run->frame_lost = "left by longjmp";
    }
    return run->status == PTM_MS_FAILED ? PTM_ERROR : PTM_OK;
}
