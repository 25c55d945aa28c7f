/*
** test_inline.c - the inline executor: a mirror on the calling thread whose
** crashes and hangs become observations, never the host's.
**
** Mirrors here are written by hand as ptmcc would emit them: loops poll
** ptm_mirror_cancel where the test says so; the "stuck" mirror does not,
** as if it were blocked inside a library.
*/
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_test.h"
#include "ptm_int.h"

#define MS 1000000ULL

/* AddressSanitizer, as gcc and clang each announce it: its own SIGSEGV
** handler reports a host crash and exits 1 instead of dying by the signal. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(UNDER_ASAN)
#define DIES_OF_SEGV .exit_code = 1
#else
#define DIES_OF_SEGV .signal = SIGSEGV
#endif

struct frame {
    struct { int x; } arg;
    int ret;
    int err;
};

static struct ptmRing *ring;

static void setup(void)
{
    cr_assert_eq(ptmRingCreate(0, &ring), PTM_OK);
}

static void teardown(void)
{
    ptmRingDestroy(ring);
}

static int runMirror(void (*mirror)(void *), int x, uint64_t deadline, struct ptmMirrorRun *r)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = "inline.test", .function = "t",
        .frame_size = sizeof(struct frame), .mirror = mirror,
    };
    struct frame fr = {.arg = {x}};
    return ptmInlineRun(&d, &fr, deadline, ring, r);
}

/* --- mirrors ---------------------------------------------------------- */

static void mirrorDoubles(void *p)
{
    struct frame *fr = p;
    ptm_shim_fprintf(stderr, "mirror %d\n", fr->arg.x);
    fr->ret = 2 * fr->arg.x;
}

static void mirrorNull(void *p)
{
    (void)p;
    volatile int *nowhere = NULL;
    *nowhere = 1;
}

static void mirrorAborts(void *p)
{
    (void)p;
    abort();
}

/* UBSan would report the division itself and stop the test: the point is
** the hardware trap, SIGFPE. */
__attribute__((no_sanitize("undefined"))) static void mirrorDividesByZero(void *p)
{
    struct frame *fr = p;
    volatile int zero = 0;
    fr->ret = fr->arg.x / zero;
}

static volatile int depthLimit = 1 << 30; /* never reached: the stack ends first */

static int deep(int n)
{
    volatile char pad[4096];
    pad[0] = (char)n;
    return n < depthLimit ? deep(n + 1) + pad[0] : 0;
}

static void mirrorOverflows(void *p)
{
    struct frame *fr = p;
    fr->ret = deep(fr->arg.x);
}

static void mirrorLoopsPolling(void *p)
{
    (void)p;
    for (;;)
        if (ptm_mirror_cancel)
            ptm_mirror_cancelled();
}

static void mirrorStuck(void *p)
{
    (void)p;
    volatile int spin = 1;
    while (spin)
        ;
}

/* --- tests ------------------------------------------------------------ */

TestSuite(inl, .init = setup, .fini = teardown);

Test(inl, returns_with_frame_and_events)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorDoubles, 21, 0, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_RETURNED);
    cr_expect_eq(r.executor, PTM_EXEC_INLINE);
    cr_assert(r.frame_valid);
    cr_expect_eq(((struct frame *)ring->frame)->ret, 42);
    cr_assert_eq(ptmRingCount(ring), 1);
    cr_expect_eq(ring->ev[0].call, PTM_CALL_fprintf);
    cr_expect_eq(ring->ev[0].bytes, strlen("mirror 21\n"));
    cr_expect_null(ptmMirrorCurrent, "the mirror is over");
}

/* A frame larger than the ring's: kept on the heap, judged, freed by the
** caller. */
#define BIG (PTM_RING_FRAME_MAX + 64)

static void mirrorBig(void *p)
{
    unsigned char *b = p;
    b[BIG - 1] = (unsigned char)(b[0] + 1);
}

static int bigEndsWith5(const void *p)
{
    return ((const unsigned char *)p)[BIG - 1] == 5;
}

Test(inl, a_frame_larger_than_the_ring_is_kept_and_judged)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = "inline.big", .function = "t",
        .frame_size = BIG, .mirror = mirrorBig, .success = bigEndsWith5,
    };
    unsigned char *big = calloc(1, BIG);
    struct ptmMirrorRun r;

    cr_assert_not_null(big);
    big[0] = 4;
    cr_assert_eq(ptmInlineRun(&d, big, 0, ring, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert(r.frame_valid);
    cr_assert_not_null(r.frame_heap, "not in the ring: it stays small");
    cr_assert_eq(r.frame, r.frame_heap);
    cr_assert_eq(((unsigned char *)r.frame)[BIG - 1], 5);
    cr_assert_eq(r.verdict, PTM_VERDICT_MET);
    cr_assert_null(r.frame_lost);
    cr_assert_eq(big[BIG - 1], 0, "the caller's frame is untouched");
    ptmMirrorRunRelease(&r);
    cr_assert_null(r.frame);
    cr_assert_null(r.frame_heap);
    cr_assert_not(r.frame_valid);
    ptmMirrorRunRelease(&r);

    big[0] = 9;
    cr_assert_eq(ptmInlineRun(&d, big, 0, ring, &r), PTM_OK);
    cr_assert_eq(r.verdict, PTM_VERDICT_FAILED);
    ptmMirrorRunRelease(&r);

    /* A frame that fits is the ring's, and nothing is owned. */
    cr_assert_eq(runMirror(mirrorDoubles, 2, 0, &r), PTM_OK);
    cr_assert_eq(r.frame, (void *)ring->frame);
    cr_assert_null(r.frame_heap);
    cr_assert_eq(r.verdict, PTM_VERDICT_NONE, "no criteria");
    free(big);
}

Test(inl, crashes_are_observations)
{
    struct {
        void (*mirror)(void *);
        int signo;
    } cases[] = {{mirrorNull, SIGSEGV}, {mirrorAborts, SIGABRT},
                 {mirrorDividesByZero, SIGFPE}, {mirrorOverflows, SIGSEGV}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ptmMirrorRun r;
        cr_assert_eq(runMirror(cases[i].mirror, 1, 0, &r), PTM_OK);
        cr_expect_eq(r.status, PTM_MS_CRASHED, "case %zu", i);
        cr_expect_eq(r.signo, cases[i].signo, "case %zu: signal %d", i, r.signo);
        cr_expect_not(r.frame_valid);
        cr_expect_null(ptmMirrorCurrent);
    }
    /* The thread is fine afterwards. */
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorDoubles, 5, 0, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_RETURNED);
}

Test(inl, endless_loop_is_cancelled_at_the_deadline)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorLoopsPolling, 1, 50 * MS, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_TIMEOUT);
    cr_expect_geq(r.duration_ns, 50 * MS);
    cr_expect_lt(r.duration_ns, 50 * MS + 100 * MS, "took %llu ns",
                 (unsigned long long)r.duration_ns);
    cr_expect_eq(ptm_mirror_cancel, 0);
}

Test(inl, stuck_mirror_is_interrupted_after_the_grace_period)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorStuck, 1, 50 * MS, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_TIMEOUT);
    /* deadline 50 ms + grace 50 ms, plus the watchdog's tick; on a loaded
    ** machine, until the spinning mirror has had half a grace of CPU */
    cr_expect_geq(r.duration_ns, 100 * MS);
    cr_expect_lt(r.duration_ns, 1500 * MS, "took %llu ns", (unsigned long long)r.duration_ns);
    struct ptmMirrorRun again;
    cr_assert_eq(runMirror(mirrorDoubles, 2, 50 * MS, &again), PTM_OK);
    cr_expect_eq(again.status, PTM_MS_RETURNED, "no stale cancel");
}

/* A CPU clock that never moves: every thread looks as if it had no CPU
** since the watchdog asked it to stop, as on a machine too loaded to
** schedule it.  Other clocks pass through. */
static int (*realClockGettime)(clockid_t, struct timespec *);

static int frozenCpuClocks(clockid_t clk, struct timespec *ts)
{
    if (clk < 0) { /* a thread's or process's CPU clock */
        *ts = (struct timespec){1, 0};
        return 0;
    }
    return realClockGettime(clk, ts);
}

static uint64_t monoNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t spinNs; /* how long mirrorSpinsThenPolls spins without looking */

/* Spins like library code that checks for cancellation only now and then
** (SQLite's progress handler), then looks. */
static void mirrorSpinsThenPolls(void *p)
{
    (void)p;
    uint64_t until = monoNs() + spinNs;
    while (monoNs() < until)
        ;
    for (;;)
        if (ptm_mirror_cancel)
            ptm_mirror_cancelled();
}

/* A mirror that has had no CPU since the cancel is left to reach its
** cancellation point, not jumped out of the library it is in (whose locks
** that jump could leave held): here it stops by itself at 300 ms, past the
** 100 ms at which a mirror that did run would be signalled. */
/* runStarved: mirrorSpinsThenPolls spinning spin_ns under a 50 ms
** deadline, its CPU clock frozen; a timeout.  OUT: *r. */
static void runStarved(uint64_t spin_ns, struct ptmMirrorRun *r)
{
    realClockGettime = ptmOs.clock_gettime;
    ptmOs.clock_gettime = frozenCpuClocks;
    spinNs = spin_ns;
    int rc = runMirror(mirrorSpinsThenPolls, 1, 50 * MS, r);
    ptmOs.clock_gettime = realClockGettime;
    cr_assert_eq(rc, PTM_OK);
    cr_expect_eq(r->status, PTM_MS_TIMEOUT);
}

Test(inl, a_starved_mirror_is_left_to_reach_its_cancellation_point)
{
    struct ptmMirrorRun r;
    runStarved(300 * MS, &r);
    cr_expect_geq(r.duration_ns, 300 * MS, "signalled at %llu ns",
                  (unsigned long long)r.duration_ns);
}

/* ... but not for ever: past 30 graces (here 1.5 s) the last resort comes. */
Test(inl, a_starved_mirror_is_signalled_after_thirty_graces)
{
    struct ptmMirrorRun r;
    runStarved(20000 * MS, &r);
    cr_expect_geq(r.duration_ns, 1500 * MS);
    cr_expect_lt(r.duration_ns, 5000 * MS, "took %llu ns", (unsigned long long)r.duration_ns);
}

/* The watchdog's voluntary context switches (its wake-ups): the thread
** named ptm-watchdog among this process's tasks.  -1: none found. */
static long watchdogWakeups(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    long n = -1;
    cr_assert_not_null(d);
    while ((e = readdir(d)) && n < 0) {
        char path[300], line[256];
        int named = 0;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "Name:", 5) == 0)
                named = strstr(line, "ptm-watchdog") != NULL;
            if (named && strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
                n = atol(line + 24);
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Back-to-back mirrors do not wake the watchdog at every tick: it sleeps
** until the deadline (here 2 s), which every next mirror moves on. */
Test(inl, back_to_back_mirrors_let_the_watchdog_sleep)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorDoubles, 1, 2000 * MS, &r), PTM_OK);
    struct timespec pause = {0, 1000000};
    long before = -1;
    for (int i = 0; i < 1000 && before < 0; i++) { /* it names itself once it runs */
        nanosleep(&pause, NULL);
        before = watchdogWakeups();
    }
    cr_assert_geq(before, 0, "no ptm-watchdog thread");
    pause.tv_nsec = 20000000;
    nanosleep(&pause, NULL); /* its first look is over */
    before = watchdogWakeups();
    pause.tv_nsec = 1000000;
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(runMirror(mirrorDoubles, i, 2000 * MS, &r), PTM_OK);
        cr_assert_eq(r.status, PTM_MS_RETURNED);
        nanosleep(&pause, NULL);
    }
    long woke = watchdogWakeups() - before;
    /* 300 ms of mirrors: a 5 ms tick would be about 60 wake-ups. */
    cr_expect_leq(woke, 5, "the watchdog woke %ld times", woke);
}

/* A mirror whose deadline is shorter than every one before wakes the
** sleeping watchdog, and is cancelled on time. */
Test(inl, a_shorter_deadline_wakes_the_sleeping_watchdog)
{
    struct ptmMirrorRun r;
    for (int i = 0; i < 20; i++)
        cr_assert_eq(runMirror(mirrorDoubles, i, 10000 * MS, &r), PTM_OK);
    struct timespec pause = {0, 20000000};
    nanosleep(&pause, NULL); /* the watchdog is asleep for about 10 s now */
    cr_assert_eq(runMirror(mirrorLoopsPolling, 1, 50 * MS, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_TIMEOUT);
    cr_expect_lt(r.duration_ns, 50 * MS + 100 * MS, "took %llu ns",
                 (unsigned long long)r.duration_ns);
    /* And again, between two long ones. */
    cr_assert_eq(runMirror(mirrorDoubles, 1, 10000 * MS, &r), PTM_OK);
    cr_assert_eq(runMirror(mirrorLoopsPolling, 1, 30 * MS, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_TIMEOUT);
    cr_expect_lt(r.duration_ns, 30 * MS + 100 * MS, "took %llu ns",
                 (unsigned long long)r.duration_ns);
}

/* The host's own SIGSEGV handler still handles the host's crashes. */
static void hostHandler(int sig)
{
    (void)sig;
    _exit(42);
}

Test(inl, host_handler_installed_before_still_runs, .exit_code = 42)
{
    signal(SIGSEGV, hostHandler);
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorNull, 1, 0, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED);
    volatile int *nowhere = NULL;
    *nowhere = 2; /* the host's crash: its handler exits 42 */
}

Test(inl, host_handler_installed_later_is_chained, .exit_code = 42)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorDoubles, 1, 0, &r), PTM_OK);
    signal(SIGSEGV, hostHandler); /* replaces ours */
    struct timespec wait = {0, 150 * 1000000L};
    nanosleep(&wait, NULL);
    cr_assert_eq(runMirror(mirrorNull, 1, 0, &r), PTM_OK); /* ours are back */
    cr_assert_eq(r.status, PTM_MS_CRASHED);
    volatile int *nowhere = NULL;
    *nowhere = 3;
}

Test(inl, default_action_outside_a_mirror, DIES_OF_SEGV)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorNull, 1, 0, &r), PTM_OK);
    volatile int *nowhere = NULL;
    *nowhere = 4; /* no host handler: the process dies of SIGSEGV as usual */
}

/* Threads: each runs its own mirrors, some of which crash or hang. */
#define THREADS 8
#define RUNS 200

static void *threadRuns(void *arg)
{
    struct ptmRing *own = NULL;
    if (ptmRingCreate(0, &own) != PTM_OK)
        return (void *)1;
    long id = (long)arg, bad = 0;
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "inline.threads",
                            .function = "t", .frame_size = sizeof(struct frame)};
    for (int i = 0; i < RUNS; i++) {
        int kind = (int)((id + i) % 4);
        d.mirror = kind == 0 ? mirrorNull : kind == 1 ? mirrorDividesByZero : mirrorDoubles;
        struct frame fr = {.arg = {i}};
        struct ptmMirrorRun r;
        if (ptmInlineRun(&d, &fr, 500 * MS, own, &r) != PTM_OK)
            bad++;
        else if (kind < 2 ? r.status != PTM_MS_CRASHED
                          : r.status != PTM_MS_RETURNED || ((struct frame *)own->frame)->ret != 2 * i)
            bad++;
    }
    ptmRingDestroy(own);
    return (void *)bad;
}

Test(inl, threads_run_mirrors_side_by_side)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, threadRuns, (void *)i), 0);
    long bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    cr_expect_eq(bad, 0, "%ld runs misclassified", bad);
}

/* --- the host's signals never run on PTM's threads --------------------- */

static volatile sig_atomic_t onOtherThread;
static atomic_int flooding;

static void noteThread(int sig)
{
    (void)sig;
    if (gettid() != getpid())
        onOtherThread = 1;
}

/* A thread that blocks SIGUSR2 and sends it to the process, over and
** over: a process-directed signal goes to any thread that does not block
** it, so the moment the watchdog thread exists it is a candidate. */
static void *floodUsr2(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    while (atomic_load(&flooding))
        kill(getpid(), SIGUSR2);
    return NULL;
}

/* One process: floods SIGUSR2 while its first watched inline mirror starts
** the watchdog.  Exits 1 when the host's handler ran on another thread. */
static void watchdogUnderSignals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = noteThread;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    setup();
    pthread_t flood;
    atomic_store(&flooding, 1);
    if (pthread_create(&flood, NULL, floodUsr2, NULL) != 0)
        _exit(2);
    struct ptmMirrorRun r;
    for (int i = 0; i < 50; i++)
        runMirror(mirrorDoubles, i, 1000 * MS, &r);
    atomic_store(&flooding, 0);
    pthread_join(flood, NULL);
    _exit(onOtherThread ? 1 : 0);
}

/* The watchdog is born with every signal blocked: a host's handler (one
** that siglongjmps, say) run on it would carry PTM's thread into the
** host's frames while the host's own thread runs on. */
Test(inl, the_hosts_signals_never_run_on_the_watchdog)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            watchdogUnderSignals();
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st), "attempt %d: the child died (status %#x)", attempt, st);
        cr_assert_eq(WEXITSTATUS(st), 0, "attempt %d: the host's handler ran on a PTM thread",
                     attempt);
    }
}

/* A host's child of fork() has no watchdog thread: the parent's is not
** copied.  Its inline mirrors must still be stopped at their deadline
** (by a watchdog of its own), where an endless mirror would otherwise
** hang a child that the plain build runs. */
Test(inl, a_fork_child_gets_its_own_watchdog)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorDoubles, 5, 50 * MS, &r), PTM_OK); /* the parent's watchdog */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* Child */
        struct ptmMirrorRun cr;
        int ok = runMirror(mirrorLoopsPolling, 1, 50 * MS, &cr) == PTM_OK &&
                 cr.status == PTM_MS_TIMEOUT;
        _exit(ok ? 0 : 1);
    }
    /* Parent */
    int status;
    cr_assert(waitChild(pid, 10000, &status), "the child's endless mirror ran 10 s");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}

/* The host's own signal of the cancel signal's number (SIGRTMAX-3 by
** default: a timer of its own, sigqueue) reaches the host's handler, as
** in a plain build: before any mirror, while a mirror runs on the thread
** (the mirror is not ended by it), and after the executor put its handler
** back over one the host installed later.  The watchdog's own cancel of a
** stuck mirror never reaches the host's handler. */
static volatile sig_atomic_t hostCancelGot;

static void hostCancelHandler(int sig)
{
    (void)sig;
    hostCancelGot++;
}

static int sigBudget;

static void mirrorSignalsItself(void *p)
{
    (void)p;
    union sigval v = {.sival_int = 7};
    sigqueue(getpid(), SIGRTMAX - 3, v); /* the host's kind of signal */
    for (int i = 0; i < 1000 && !hostCancelGot; i++)
        sigBudget++;
}

Test(inl, the_hosts_own_signal_of_the_cancel_number_reaches_the_host)
{
    struct sigaction sa = {.sa_handler = hostCancelHandler};
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGRTMAX - 3, &sa, NULL), 0);
    struct ptmMirrorRun r;
    cr_assert_eq(runMirror(mirrorDoubles, 5, 50 * MS, &r), PTM_OK); /* ours over the host's */
    raise(SIGRTMAX - 3);
    cr_assert_eq(hostCancelGot, 1, "after our handler was installed over the host's");

    cr_assert_eq(runMirror(mirrorSignalsItself, 1, 500 * MS, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_RETURNED, "the host's signal does not end the mirror");
    cr_assert_eq(hostCancelGot, 2, "during a mirror");

    hostCancelGot = 0;
    cr_assert_eq(runMirror(mirrorStuck, 1, 50 * MS, &r), PTM_OK);
    cr_expect_eq(r.status, PTM_MS_TIMEOUT);
    cr_assert_eq(hostCancelGot, 0, "the watchdog's cancel went to the host's handler");

    /* The host installs its handler again, after ours; the executor's
    ** recheck puts ours back and keeps chaining to the host's. */
    cr_assert_eq(sigaction(SIGRTMAX - 3, &sa, NULL), 0);
    nanosleep(&(struct timespec){0, 150 * 1000000L}, NULL);
    cr_assert_eq(runMirror(mirrorDoubles, 5, 50 * MS, &r), PTM_OK);
    struct sigaction cur;
    cr_assert_eq(sigaction(SIGRTMAX - 3, NULL, &cur), 0);
    cr_expect_neq((void *)cur.sa_handler, (void *)hostCancelHandler, "ours is back on top");
    raise(SIGRTMAX - 3);
    cr_assert_eq(hostCancelGot, 1, "the host's handler, reinstalled, still gets its signal");
}
