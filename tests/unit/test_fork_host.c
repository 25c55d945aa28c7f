/*
 * test_fork_host.c - the fork executor as the host sees it: a mirror's end
 * must not reach the host's signal handling (no SIGCHLD, nothing for its
 * waitpid(-1) to reap, no EINTR in its other threads), PTM must survive a
 * host that reaps its children first, a lock another host thread holds
 * must not hang the mirror, and a mirror the sandbox kills (system(),
 * popen()) is a denial, not a crash.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "ptm_int.h"

/* AddressSanitizer: its fork stops its allocator (a fork costs tens of
** ms), and its leak check at exit() makes a clone() that the sandbox kills
** (SIGSYS blocked): there, a mirror's exit() is a denial. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define SECOND 1000000000ull
#define MS 1000000ull

struct frame {
    int in;
    int out;
};

static struct ptmRing *ring;

static void setup(void)
{
    cr_assert_eq(ptmRingCreate(64, &ring), PTM_OK);
}

static void teardown(void)
{
    ptmOsReset();
    ptmRingDestroy(ring);
}

TestSuite(fork_host, .init = setup, .fini = teardown, .timeout = 60);

/* Valgrind runs clone(CLONE_VM | CLONE_VFORK) as a fork: there, the caller
** forks the mirror itself, and the host sees its end (runtime/exec_fork.c). */
#define SKIP_UNDER_VALGRIND()                                                        \
    do {                                                                             \
        if (RUNNING_ON_VALGRIND)                                                     \
            cr_skip_test("under valgrind the mirror is the host's own child");       \
    } while (0)

static int run(ptm_thunk mirror, struct frame *fr, uint64_t deadline_ns, struct ptmMirrorRun *r)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION,
        .transaction_id = "test.fork_host",
        .function = "f",
        .file = __FILE__,
        .frame_size = sizeof *fr,
        .mirror = mirror,
        .mirror_mode = PTM_MIRROR_FORK,
    };
    return ptmForkRun(&d, fr, deadline_ns, ring, r);
}

static void mirrorDoubles(void *p)
{
    struct frame *f = p;
    f->out = f->in * 2;
}

static void mirrorSegfaults(void *p)
{
    (void)p;
    raise(SIGSEGV);
}

static void mirrorExits(void *p)
{
    (void)p;
    exit(3);
}

static void mirrorLoops(void *p)
{
    volatile int *spin = &((struct frame *)p)->out;
    for (;;)
        (*spin)++;
}

/* Runs one mirror of each ending and checks what PTM made of it. */
static void runEachEnding(int k)
{
    struct frame fr = {.in = k};
    struct ptmMirrorRun r;

    cr_assert_eq(run(mirrorDoubles, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s", ptmStatusName(r.status));
    cr_assert(r.frame_valid);
    cr_assert_eq(((struct frame *)ring->frame)->out, 2 * k);
    cr_assert_eq(run(mirrorSegfaults, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(r.signo, SIGSEGV);
    cr_assert_eq(run(mirrorExits, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    if (SANITIZED) {
        cr_assert_eq(r.status, PTM_MS_DENIED, "status %s", ptmStatusName(r.status));
        cr_assert_eq(r.signo, SIGSYS);
        return;
    }
    cr_assert_eq(r.status, PTM_MS_CRASHED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(r.exit_code, 3);
}

/* ------------------------------------------------------------- SIGCHLD */

static _Atomic int sigchlds;
static _Atomic int reaped;

static void countSigchld(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigchlds, 1);
}

/* A server's handler: reaps whatever child ended. */
static void reapAny(int sig)
{
    int saved = errno, st;
    (void)sig;
    atomic_fetch_add(&sigchlds, 1);
    while (waitpid(-1, &st, WNOHANG) > 0)
        atomic_fetch_add(&reaped, 1);
    errno = saved;
}

static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(sig, &sa, NULL), 0);
}

/* The handler works: a child of the host's own is seen and reaped. */
static void expectOwnChildSeen(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    for (int i = 0; i < 2000 && atomic_load(&reaped) == 0; i++)
        usleep(1000);
    cr_assert_geq(atomic_load(&sigchlds), 1, "the host's handler never ran");
    cr_assert_eq(atomic_load(&reaped), 1, "the host's own child was not reaped");
}

/* A mirror that tries to signal its parent and the host itself. */
static void mirrorSignalsHost(void *p)
{
    struct frame *f = p;
    f->out = (kill(getppid(), SIGCHLD) == 0) + (kill((pid_t)f->in, SIGCHLD) == 0) +
             (kill(0, SIGCHLD) == 0);
}

Test(fork_host, a_mirrors_end_sends_the_host_no_sigchld)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    SKIP_UNDER_VALGRIND();
    handle(SIGCHLD, countSigchld, SA_RESTART);
    for (int k = 0; k < 10; k++)
        runEachEnding(k);
    fr.in = getpid();
    cr_assert_eq(run(mirrorSignalsHost, &fr, 5 * SECOND, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_DENIED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(((struct frame *)ring->frame)->out, 0, "a kill() got through");
    cr_assert_eq(run(mirrorLoops, &fr, 50 * MS, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_TIMEOUT, "status %s", ptmStatusName(r.status));
    cr_assert_eq(atomic_load(&sigchlds), 0, "%d SIGCHLD from mirrors", atomic_load(&sigchlds));
    handle(SIGCHLD, reapAny, SA_RESTART);
    expectOwnChildSeen();
}

/* A thread that reaps any child, all the time, with and without blocking. */
static _Atomic int stopReaping;

static void *reapLoop(void *arg)
{
    int st;
    (void)arg;
    while (!atomic_load(&stopReaping)) {
        if (waitpid(-1, &st, WNOHANG) > 0)
            atomic_fetch_add(&reaped, 1);
        if (waitpid(-1, &st, 0) > 0) /* ECHILD at once: no child it may reap */
            atomic_fetch_add(&reaped, 1);
    }
    return NULL;
}

Test(fork_host, the_hosts_waitpid_any_never_reaps_a_mirror)
{
    pthread_t t;

    SKIP_UNDER_VALGRIND();
    handle(SIGCHLD, reapAny, SA_RESTART);
    cr_assert_eq(pthread_create(&t, NULL, reapLoop, NULL), 0);
    for (int k = 0; k < 30; k++)
        runEachEnding(k);
    atomic_store(&stopReaping, 1);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&reaped), 0, "the host reaped %d mirrors", atomic_load(&reaped));
    cr_assert_eq(atomic_load(&sigchlds), 0, "%d SIGCHLD from mirrors", atomic_load(&sigchlds));
}

/* A host that waits with __WALL reaps PTM's child (the helper) before
** PTM does: ptmOs.waitpid reaps any child first, so PTM always finds its
** own gone (ECHILD). */
static _Atomic int stolen;

static pid_t stealFirst(pid_t pid, int *st, int options)
{
    int other;
    if (waitpid(-1, &other, __WALL) > 0)
        atomic_fetch_add(&stolen, 1);
    return waitpid(pid, st, options);
}

Test(fork_host, a_host_that_reaps_every_child_first_still_gets_each_verdict)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;

    ptmOs.waitpid = stealFirst;
    for (int k = 0; k < 5; k++)
        runEachEnding(k);
    cr_assert_eq(run(mirrorLoops, &fr, 50 * MS, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_TIMEOUT, "status %s", ptmStatusName(r.status));
    cr_assert_geq(atomic_load(&stolen), 16, "the host reaped %d children", atomic_load(&stolen));
}

/* --------------------------------------------------------------- EINTR */

static int pipeFds[2];
static _Atomic int readerInterrupted, readerBlocked;
static ssize_t readerGot;

static void *blockingReader(void *arg)
{
    char c;
    ssize_t n;
    (void)arg;
    atomic_store(&readerBlocked, 1);
    while ((n = read(pipeFds[0], &c, 1)) < 0 && errno == EINTR)
        atomic_fetch_add(&readerInterrupted, 1);
    readerGot = n;
    return NULL;
}

Test(fork_host, a_blocking_read_in_another_thread_is_not_interrupted)
{
    sigset_t chld;
    pthread_t t;

    SKIP_UNDER_VALGRIND();
    /* No SA_RESTART: a SIGCHLD delivered to the reader ends its read(). */
    handle(SIGCHLD, countSigchld, 0);
    /* This thread never takes SIGCHLD: another thread of the host must. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    cr_assert_eq(pipe(pipeFds), 0);
    cr_assert_eq(pthread_create(&t, NULL, blockingReader, NULL), 0);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);
    while (!atomic_load(&readerBlocked))
        usleep(1000);
    usleep(20000);
    for (int k = 0; k < 10; k++)
        runEachEnding(k);
    cr_assert_eq(write(pipeFds[1], "x", 1), 1);
    pthread_join(t, NULL);
    pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
    cr_assert_eq(readerGot, 1);
    cr_assert_eq(atomic_load(&readerInterrupted), 0, "read() got EINTR %d times",
                 atomic_load(&readerInterrupted));
    cr_assert_eq(atomic_load(&sigchlds), 0, "%d SIGCHLD from mirrors", atomic_load(&sigchlds));
}

/* ---------------------------------------------- locks of other threads */

/* glibc's malloc_stats() holds each arena's lock while it prints that
** arena to stderr: with stderr a full pipe, the thread printing holds the
** main arena's lock until another thread drains the pipe.  A child cloned
** at that instant (rather than forked by glibc's fork(), which waits for
** the arena's lock) finds it held forever: its mallinfo2() (or any malloc
** that needs the arena) hangs until the deadline. */
static int statsPipe[2];
static _Atomic int drained;

static void *drainLater(void *arg)
{
    char buf[4096];
    (void)arg;
    usleep(300 * 1000);
    fcntl(statsPipe[0], F_SETFL, O_NONBLOCK);
    while (!atomic_load(&drained))
        if (read(statsPipe[0], buf, sizeof buf) <= 0)
            usleep(1000);
    return NULL;
}

static void *printMallocStats(void *arg)
{
    (void)arg;
    malloc_stats(); /* holds the main arena's lock while its write() blocks */
    return NULL;
}

static void mirrorMallocs(void *p)
{
    struct frame *f = p;
    struct mallinfo2 mi = mallinfo2(); /* takes every arena's lock */
    char *big = malloc(100000);
    (void)mi;
    f->out = big != NULL;
    free(big);
}

Test(fork_host, a_malloc_lock_held_by_a_host_thread_delays_the_fork_not_the_mirror)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    pthread_t a, b;
    char junk[4096] = {0};
    int saved = dup(2);

    /* Warm up: the filter's first build mallocs in this thread. */
    cr_assert_eq(run(mirrorMallocs, &fr, 3 * SECOND, &r), PTM_OK, "%s", r.error);
    cr_assert_eq(pipe(statsPipe), 0);
    fcntl(statsPipe[1], F_SETFL, O_NONBLOCK);
    while (write(statsPipe[1], junk, sizeof junk) > 0)
        ;
    while (write(statsPipe[1], junk, 1) > 0)
        ;
    fcntl(statsPipe[1], F_SETFL, 0);
    cr_assert_eq(pthread_create(&a, NULL, drainLater, NULL), 0);
    dup2(statsPipe[1], 2);
    cr_assert_eq(pthread_create(&b, NULL, printMallocStats, NULL), 0);
    usleep(100 * 1000); /* b is in malloc_stats(), in write(), with the arena's lock */
    cr_assert_eq(run(mirrorMallocs, &fr, 3 * SECOND, &r), PTM_OK, "%s", r.error);
    pthread_join(b, NULL);
    atomic_store(&drained, 1);
    pthread_join(a, NULL);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq(r.status, PTM_MS_RETURNED, "status %s", ptmStatusName(r.status));
    cr_assert_eq(((struct frame *)ring->frame)->out, 1);
    /* glibc's arena lock, that is: AddressSanitizer's allocator replaces
    ** malloc_stats() and the arenas, and the lock is not held there. */
    if (!SANITIZED)
        cr_assert_geq(r.duration_ns, 100 * MS, "the fork waited for the lock");
}

/* A host whose threads malloc, free what others allocated, and print, all
** the time, while mirrors that malloc and print are forked: none may hang. */
static _Atomic int churnStop;
static FILE *churnOut;
static void *_Atomic handoff;

static void *churn(void *arg)
{
    unsigned n = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&churnStop)) {
        void *p = malloc(1100 + n++ % 60000), *q;
        fprintf(churnOut, "%u %p\n", n, p);
        q = atomic_exchange(&handoff, p); /* freed by another thread than its own */
        free(q);
    }
    return NULL;
}

static void mirrorMallocsAndPrints(void *p)
{
    struct frame *f = p;
    void *a = malloc(1100 + (size_t)f->in * 97 % 60000), *b = malloc(200000);
    fprintf(churnOut, "mirror %d\n", f->in); /* a full buffer's write() is denied */
    f->out = a && b;
    free(a);
    free(b);
}

Test(fork_host, mirrors_of_a_host_churning_malloc_and_stdio_never_hang)
{
    struct ptmMirrorRun r;
    pthread_t t[4];
    unsigned i, hung = 0, wrong = 0;
    int n = RUNNING_ON_VALGRIND ? 5 : SANITIZED ? 20 : 150;

    churnOut = fopen("/dev/null", "w");
    cr_assert_not_null(churnOut);
    for (i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i), 0);
    for (int k = 0; k < n; k++) {
        struct frame fr = {.in = k};
        cr_assert_eq(run(mirrorMallocsAndPrints, &fr, 3 * SECOND, &r), PTM_OK, "%s", r.error);
        hung += r.status == PTM_MS_TIMEOUT;
        /* DENIED: the FILE's buffer was full, and its write() denied. */
        wrong += r.status != PTM_MS_TIMEOUT &&
                 ((r.status != PTM_MS_RETURNED && r.status != PTM_MS_DENIED) ||
                  ((struct frame *)ring->frame)->out != 1);
        if (r.status != PTM_MS_TIMEOUT && r.status != PTM_MS_RETURNED &&
            r.status != PTM_MS_DENIED)
            cr_log_warn("mirror %d: %s, signal %d: %s", k, ptmStatusName(r.status), r.signo,
                        r.error);
    }
    atomic_store(&churnStop, 1);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    fclose(churnOut);
    cr_assert_eq(hung, 0, "%u of %d mirrors hung until their deadline", hung, n);
    cr_assert_eq(wrong, 0, "%u of %d mirrors did not return their result", wrong, n);
}

/* ------------------------------------------------- killed by the sandbox */

/* glibc's system() and popen() block every signal around their clone():
** the filter's SIGSYS cannot be handled, and the kernel kills the child.
** The sandbox stopped the mirror: a denial, never a crash. */
static void expectKilledBySandbox(const struct ptmMirrorRun *r)
{
    uint32_t i, n = ptmRingCount(ring);
    int found = 0;

    if (RUNNING_ON_VALGRIND) { /* EPERM without a signal there */
        cr_assert_neq(r->status, PTM_MS_CRASHED);
        return;
    }
    cr_assert_eq(r->status, PTM_MS_DENIED, "status %s, signal %d", ptmStatusName(r->status),
                 r->signo);
    cr_assert_eq(r->signo, SIGSYS);
    cr_assert_geq(r->denied, 1);
    cr_assert_eq(r->verdict, PTM_VERDICT_NONE, "no result: no verdict");
    cr_assert_not(r->frame_valid);
    for (i = 0; i < n; i++)
        found += ring->ev[i].kind == PTM_EV_DENIED && strcmp(ring->ev[i].detail, "SIGSYS") == 0;
    cr_assert_eq(found, 1, "the kill is one denied event");
}

static void mirrorSystem(void *p)
{
    ((struct frame *)p)->out = system("true");
}

static void mirrorPopen(void *p)
{
    FILE *f = popen("echo hi", "r");
    ((struct frame *)p)->out = f ? pclose(f) : -1;
}

/* Any denied call made with every signal blocked, not only glibc's. */
static void mirrorWritesMasked(void *p)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    ((struct frame *)p)->out = (int)syscall(SYS_write, 2, "x", 1);
}

Test(fork_host, system_in_a_mirror_is_a_denial_not_a_crash)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    cr_assert_eq(run(mirrorSystem, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    expectKilledBySandbox(&r);
}

Test(fork_host, popen_in_a_mirror_is_a_denial_not_a_crash)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    cr_assert_eq(run(mirrorPopen, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    expectKilledBySandbox(&r);
}

Test(fork_host, a_denied_call_with_signals_blocked_is_a_denial_not_a_crash)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    cr_assert_eq(run(mirrorWritesMasked, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    expectKilledBySandbox(&r);
}

/* Its signals say so: a denial is no validation failure. */
Test(fork_host, a_kill_by_the_sandbox_predicts_no_failure)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    struct ptmSignals sig;
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "t", .frame_size = sizeof fr};

    cr_assert_eq(run(mirrorSystem, &fr, 5 * SECOND, &r), PTM_OK, "%s", r.error);
    ptmSignalsCompute(&d, &r, NULL, 0.0, &sig);
    cr_assert_eq(sig.validation, 0);
    cr_assert_eq(sig.contention, 0);
}

/* ------------------------------------- the calling thread's own signals */

/* While its mirror runs, the calling thread blocks every signal (the
** helper runs on its stack): a signal sent to it is delivered when the
** mirror ends, not lost; one sent to the process goes to another thread
** at once. */
static _Atomic int usr1Handled;
static _Atomic pid_t usr2Thread;
static pthread_t mainThread;

static void onUsr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&usr1Handled, 1);
}

static void onUsr2(int sig)
{
    (void)sig;
    atomic_store(&usr2Thread, (pid_t)syscall(SYS_gettid));
}

static void *signalLater(void *arg)
{
    (void)arg;
    usleep(100 * 1000);
    pthread_kill(mainThread, SIGUSR1);
    kill(getpid(), SIGUSR2);
    usleep(400 * 1000); /* a thread that can take SIGUSR2 */
    return NULL;
}

Test(fork_host, signals_during_a_mirror_are_delivered_not_lost)
{
    struct frame fr = {0};
    struct ptmMirrorRun r;
    pthread_t t;

    SKIP_UNDER_VALGRIND();
    handle(SIGUSR1, onUsr1, SA_RESTART);
    handle(SIGUSR2, onUsr2, SA_RESTART);
    mainThread = pthread_self();
    cr_assert_eq(pthread_create(&t, NULL, signalLater, NULL), 0);
    cr_assert_eq(run(mirrorLoops, &fr, 300 * MS, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_TIMEOUT, "status %s", ptmStatusName(r.status));
    cr_assert_eq(atomic_load(&usr1Handled), 1, "SIGUSR1 to the caller was lost");
    pthread_join(t, NULL);
    cr_assert_neq(atomic_load(&usr2Thread), 0, "SIGUSR2 to the process was lost");
    cr_assert_neq(atomic_load(&usr2Thread), getpid(), "the caller took SIGUSR2 during its mirror");
}
