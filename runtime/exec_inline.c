/*
** exec_inline.c - the inline executor: the mirror runs on the calling
** thread, with no fork, in microseconds.
**
** What makes running a mirror in the host's own process safe is ptmcc's
** part: it picks the inline executor only for mirrors whose stores stay in
** their own locals (or go through its write buffer), whose calls all reach
** shims or clones, and whose loops poll ptm_mirror_cancel.  This file adds
** containment, so that the host never dies or hangs because of its mirror:
**
**   - A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP) on a
**     thread that runs an inline mirror jumps back here and becomes the
**     observation PTM_MS_CRASHED, as in the fork executor.  On any other
**     thread, or outside a mirror, the host's own handler runs: ours chain
**     to the actions they replaced.  Handlers run on an alternate stack, so
**     a mirror that overflows its stack is caught too.
**   - An endless loop: a watchdog thread, started with the first inline
**     mirror, sets the mirror thread's ptm_mirror_cancel at the deadline.
**     Mirror clones poll it at loop back-edges and function entries, where
**     no lock is held, and leave through ptm_mirror_cancelled().  A mirror
**     still running after a grace period (stuck inside a library call) is
**     interrupted by a signal (PTM_INLINE_SIGNAL, default SIGRTMAX - 3):
**     the last resort, because a jump out of library code can leave that
**     library's locks held.
**
** Handlers are checked and reinstalled at most every 100 ms: a host that
** replaces them later would otherwise take the mirror's crashes.
*/
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"

#define SLOTS 1024                  /* threads running inline mirrors at once */
#define RECHECK_NS 100000000ULL     /* how often the handlers are verified */
#define WATCH_PERIOD_NS 5000000ULL  /* the watchdog's tick when a mirror runs */
#define GRACE_MIN_NS 50000000ULL    /* cooperative cancel, then this long at least */
#define IDLE_AFTER_NS 1000000000ULL /* no mirror for this long: the watchdog sleeps */
#define STARVED_MAX 30ULL           /* a starved mirror waits at most this many graces */

/* The program's jump functions (longjmp_api.c, in libptm_jump.a) come with
** any transaction: this reference brings them in ahead of libc's, so that a
** jump out of a mirror ends at its scope (longjmp.c). */
__attribute__((used)) static const volatile int *const jumpApi = &ptmJumpApi;

static const int crashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
#define N_CRASH ((int)(sizeof crashSignals / sizeof crashSignals[0]))

/* A thread that runs (or ran) inline mirrors. */
struct inlineThread {
    sigjmp_buf jmp;
    volatile sig_atomic_t active;    /* a mirror runs now; the handlers jump */
    volatile sig_atomic_t signo;     /* the signal that ended it, 0: none */
    volatile sig_atomic_t cancelled; /* the watchdog ended it */
    const char *volatile bailed;     /* it stopped itself (ptmMirrorBail): why */
    _Atomic uint64_t deadline;       /* absolute CLOCK_MONOTONIC ns; 0: idle */
    _Atomic uint64_t grace;          /* how long after the deadline to force */
    _Atomic int stage;               /* 0 running, 1 asked to stop, 2 signalled */
    uint64_t cpu_at_cancel;          /* its CPU time when asked to stop (watchdog's) */
    pid_t tid;                       /* for /proc/self/task/<tid>/stat */
    volatile int *cancel;            /* this thread's ptm_mirror_cancel */
    pthread_t thread;
    void *altstack;                  /* ours, to unmap at thread exit; NULL: none */
    size_t altstack_size;
    int slot;
};

static _Thread_local struct inlineThread *inlineSelf;

static struct {
    pthread_once_t once;
    int err;                         /* setup failed: the executor is off */
    int cancel_signal;
    struct sigaction old[65];        /* what our handlers replaced, by signal */
    _Atomic uint64_t checked_ns;     /* when the handlers were last verified */
    pthread_key_t key;               /* frees a thread's state at its exit */
    _Atomic(struct inlineThread *) slots[SLOTS];
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;      /* CLOCK_MONOTONIC once the watchdog runs */
    _Atomic int watch_running;
    int watch_stop;               /* the process is exiting */
    pthread_t watch_thread;
    _Atomic int watch_idle;       /* the watchdog waits until woken */
    _Atomic uint64_t last_start_ns; /* when the last watched mirror started */
    _Atomic int active_count;
    _Atomic uint64_t watch_next;  /* the watchdog sleeps until then; 0: it scans */
    _Atomic uint64_t min_span_ns; /* the shortest mirror deadline seen */
} inl = {.once = PTHREAD_ONCE_INIT,
         .watch_mu = PTHREAD_MUTEX_INITIALIZER,
         .watch_cv = PTHREAD_COND_INITIALIZER};

/* ------------------------------------------------------------------------
** Signals
*/

/*
** The watchdog's cancel signal carries this cookie (pthread_sigqueue), so
** that it is told apart from the same signal number sent by the host (its
** own timers, sigqueue, kill): the host's go to the host's handler, as in
** a plain build, even while a mirror runs on the thread; they were
** swallowed.
*/
static const int cancelCookie;

static int ourCancel(int sig, const siginfo_t *si)
{
    return sig == inl.cancel_signal && si && si->si_code == SI_QUEUE &&
           si->si_value.sival_ptr == (void *)&cancelCookie && si->si_pid == ptmOsPid();
}

/* chain: sig, on a thread that runs no inline mirror (or the host's own
** signal of the cancel signal's number), goes to what the host had
** installed, as if ours were not there. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *old = &inl.old[sig];
    if (sig == inl.cancel_signal) {
        /* A late signal of ours, after the mirror ended; another runtime's
        ** watchdog, for its mirror on this thread, goes to it; anything
        ** else is the host's. */
        if (ourCancel(sig, si))
            return;
        if ((old->sa_flags & SA_SIGINFO) && ptmPeerIsHandler(old->sa_sigaction)) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    }
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler == SIG_IGN && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE &&
        sig != SIGILL)
        return;
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* The default action: reinstate it; a fault recurs when the handler
    ** returns, a raised signal is raised again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0 || sig == SIGABRT || sig == SIGTRAP)
        raise(sig);
}

static void onSignal(int sig, siginfo_t *si, void *uc)
{
    struct inlineThread *t = inlineSelf;
    if (t && t->active && (sig != inl.cancel_signal || ourCancel(sig, si))) {
        t->active = 0;
        t->signo = sig;
        t->cancelled = sig == inl.cancel_signal;
        ptmJumpReal(t->jmp, 1);
    }
    chain(sig, si, uc);
}

static int installOne(int sig, int save)
{
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onSignal;
    /* SA_NODEFER: the signal stays unblocked, so the jump back needs no
    ** saved mask and sigsetjmp no system call. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, NULL, &cur) != 0)
        return errno;
    if (cur.sa_sigaction == onSignal && (cur.sa_flags & SA_SIGINFO))
        return 0;
    /* Another runtime's (peers.c), installed over ours: it chains to ours.
    ** Ours over it again would chain to it, and the two to each other for
    ** ever on a signal neither's mirror takes. */
    if (!save && (cur.sa_flags & SA_SIGINFO) && ptmPeerIsHandler(cur.sa_sigaction))
        return 0;
    inl.old[sig] = cur; /* the host's action, replaced since: chain to it */
    return sigaction(sig, &sa, NULL) == 0 ? 0 : errno;
}

/* installHandlers: ours on the crash signals and the cancel signal.  0 or
** an errno. */
static int installHandlers(int first)
{
    for (int i = 0; i < N_CRASH; i++) {
        int err = installOne(crashSignals[i], first);
        if (err)
            return err;
    }
    return installOne(inl.cancel_signal, first);
}

static void threadExit(void *p)
{
    struct inlineThread *t = p;
    /* Under the watchdog's lock: it may be looking at t. */
    pthread_mutex_lock(&inl.watch_mu);
    atomic_store(&inl.slots[t->slot], NULL);
    pthread_mutex_unlock(&inl.watch_mu);
    ptmRedoThreadExit();
    if (t->altstack) {
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
        munmap(t->altstack, t->altstack_size);
    }
    free(t);
}

/* How code below the executors (the write buffer, the bounds checks) stops
** this thread's inline mirror: ptmMirrorBail, ptmMirrorFault of event.c. */
static void inlineBail(const char *why);
static void inlineFault(int signo);
static const struct ptmMirrorExits inlineExits = {inlineBail, inlineFault};

/*
** Forks.  A child of the host's fork() is a copy of one thread: the
** watchdog is not in it, nor are the threads whose slots it watched.  The
** watchdog's lock is held across the fork (the watchdog lets it go while
** it sleeps, and holds it only to scan), so the child gets it consistent.
** In the child, only the forking thread's slot stays, with its new thread
** id; the others' states are left to leak (their threads do not exist,
** and freeing an alternate stack nobody uses buys nothing); and the
** watchdog counts as not running, so that the child's first mirror starts
** its own, on a condition variable made new (the parent's may count the
** parent's watchdog as a waiter, and destroying it would wait for ever).
** Without this a child's endless mirror ran past its deadline for ever.
*/
static void inlineAtforkPrepare(void)
{
    pthread_mutex_lock(&inl.watch_mu);
}

static void inlineAtforkParent(void)
{
    pthread_mutex_unlock(&inl.watch_mu);
}

static void inlineAtforkChild(void)
{
    struct inlineThread *me = inlineSelf;
    for (int i = 0; i < SLOTS; i++)
        if (!me || i != me->slot)
            atomic_store(&inl.slots[i], NULL);
    if (me)
        me->tid = (pid_t)syscall(SYS_gettid);
    inl.watch_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    atomic_store(&inl.watch_running, 0);
    atomic_store(&inl.watch_idle, 0);
    atomic_store(&inl.watch_next, 0);
    atomic_store(&inl.active_count, 0);
    pthread_mutex_unlock(&inl.watch_mu);
}

/* Registered before main: a handler registered by a thread while another
** forks is not run for that fork (glibc runs only those its prepare step
** saw). */
__attribute__((constructor)) static void inlineAtforkInit(void)
{
    (void)pthread_atfork(inlineAtforkPrepare, inlineAtforkParent, inlineAtforkChild);
}

static void setup(void)
{
    const char *s = getenv("PTM_INLINE_SIGNAL");
    ptmMirrorSetExits(&inlineExits);
    atomic_store(&ptmPeerSelf.on_signal, onSignal);
    inl.cancel_signal = s && *s ? atoi(s) : SIGRTMAX - 3;
    if (inl.cancel_signal <= 0 || inl.cancel_signal >= 65 || inl.cancel_signal == SIGKILL ||
        inl.cancel_signal == SIGSTOP) {
        inl.err = EINVAL;
        return;
    }
    if ((inl.err = pthread_key_create(&inl.key, threadExit)) != 0)
        return;
    inl.err = installHandlers(1);
    atomic_store(&inl.checked_ns, ptmOsNowNs());
}

/* ------------------------------------------------------------------------
** Threads and the watchdog
*/

/* self: this thread's state, created on first use with its slot and an
** alternate signal stack (unless the host gave the thread one).  NULL when
** out of memory or out of slots. */
static struct inlineThread *self(void)
{
    if (inlineSelf)
        return inlineSelf;
    struct inlineThread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->thread = pthread_self();
    t->tid = (pid_t)syscall(SYS_gettid);
    t->cancel = &ptm_mirror_cancel;
    t->slot = -1;
    for (int i = 0; i < SLOTS && t->slot < 0; i++) {
        struct inlineThread *none = NULL;
        if (atomic_compare_exchange_strong(&inl.slots[i], &none, t))
            t->slot = i;
    }
    if (t->slot < 0) {
        free(t);
        return NULL;
    }
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        long min = sysconf(_SC_SIGSTKSZ);
        t->altstack_size = (size_t)(min > 65536 ? min : 65536);
        t->altstack = mmap(NULL, t->altstack_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        stack_t ss = {.ss_sp = t->altstack, .ss_size = t->altstack_size};
        if (t->altstack == MAP_FAILED || sigaltstack(&ss, NULL) != 0) {
            if (t->altstack != MAP_FAILED)
                munmap(t->altstack, t->altstack_size);
            t->altstack = NULL;
        }
    }
    pthread_setspecific(inl.key, t);
    inlineSelf = t;
    return t;
}

/* threadCpuNs: the CPU time t's thread has used, in ns; 0 when the
** clock cannot be read (then every mirror looks as if it ran). */
static uint64_t threadCpuNs(const struct inlineThread *t)
{
    clockid_t clk;
    struct timespec ts;
    if (pthread_getcpuclockid(t->thread, &clk) != 0 || ptmOs.clock_gettime(clk, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* runnable: whether t's thread is running or waiting for a CPU (state R
** in /proc/self/task/<tid>/stat), as opposed to blocked in a call.  False
** when the file cannot be read. */
static int runnable(const struct inlineThread *t)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)t->tid);
    int fd = ptmOs.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ssize_t n = ptmOs.read(fd, buf, sizeof buf - 1);
    ptmOs.close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *paren = strrchr(buf, ')'); /* the name may hold spaces */
    return paren && paren[1] == ' ' && paren[2] == 'R';
}

/* starved: whether a mirror asked to stop `late` ns ago has not stopped
** only because it had no CPU to notice (a loaded machine): it used less
** than half the grace in CPU time since, and it waits for a CPU rather
** than in a call.  Such a mirror is left to reach its next cancellation
** point (SQLite's progress handler, a clone's loop) instead of being
** jumped out of library code that may hold locks -- up to STARVED_MAX
** graces, after which the last resort applies anyway.  A mirror stuck in
** a blocking call, or spinning inside a library, is not starved. */
static int starved(const struct inlineThread *t, uint64_t late, uint64_t grace)
{
    if (late >= STARVED_MAX * grace)
        return 0;
    uint64_t cpu = threadCpuNs(t);
    return cpu != 0 && cpu - t->cpu_at_cancel < grace / 2 && runnable(t);
}

/* watchOne: what the watchdog does about one running mirror at now.
** Returns when it wants to look again. */
static uint64_t watchOne(struct inlineThread *t, uint64_t now)
{
    uint64_t deadline = atomic_load(&t->deadline);
    if (!deadline)
        return UINT64_MAX;
    if (now < deadline)
        return deadline;
    int stage = atomic_load(&t->stage);
    if (stage == 0) {
        atomic_store(&t->stage, 1);
        t->cpu_at_cancel = threadCpuNs(t);
        *t->cancel = 1; /* polled by the clones' loops */
        return now + atomic_load(&t->grace);
    }
    uint64_t grace = atomic_load(&t->grace);
    if (stage == 1 && now >= deadline + grace && !starved(t, now - deadline, grace)) {
        atomic_store(&t->stage, 2);
        pthread_sigqueue(t->thread, inl.cancel_signal,
                         (union sigval){.sival_ptr = (void *)&cancelCookie});
    }
    return now + WATCH_PERIOD_NS;
}

/* The watchdog starts with every signal blocked (see watch): the host's
** handlers must never run on it.  It sleeps until the earliest deadline it
** knows of (never less than WATCH_PERIOD_NS), and with none armed, for the
** shortest mirror deadline seen so far: a mirror started meanwhile has a
** deadline at least that far off.  inl.watch_next says until when it
** sleeps (0 while it scans), so that only a mirror whose deadline comes
** sooner wakes it (watch): back-to-back mirrors cost it one look per
** deadline's length, not one per tick, and cost the mirror no system call. */
static void *watchdog(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ptm-watchdog"); /* for ps, top and tests */
    pthread_mutex_lock(&inl.watch_mu);
    while (!inl.watch_stop) {
        atomic_store(&inl.watch_next, 0);
        uint64_t now = ptmOsNowNs();
        if (atomic_load(&inl.active_count) == 0 &&
            now - atomic_load(&inl.last_start_ns) > IDLE_AFTER_NS) {
            /* Idle: announce it, then look once more, so that a mirror that
            ** started meanwhile either is seen here or sees watch_idle and
            ** wakes us (both sides use sequentially consistent atomics). */
            atomic_store(&inl.watch_idle, 1);
            atomic_store(&inl.watch_next, UINT64_MAX);
            if (atomic_load(&inl.active_count) == 0)
                pthread_cond_wait(&inl.watch_cv, &inl.watch_mu);
            atomic_store(&inl.watch_idle, 0);
            continue;
        }
        /* The lock is held while scanning: a thread that exits takes it
        ** before its state is freed. */
        uint64_t span = atomic_load(&inl.min_span_ns);
        uint64_t next = now + (span ? span : WATCH_PERIOD_NS);
        uint64_t idle_at = atomic_load(&inl.last_start_ns) + IDLE_AFTER_NS;
        if (atomic_load(&inl.active_count) == 0 && idle_at > now && idle_at < next)
            next = idle_at + 1;
        for (int i = 0; i < SLOTS; i++) {
            struct inlineThread *t = atomic_load(&inl.slots[i]);
            if (t) {
                uint64_t when = watchOne(t, now);
                if (when < next)
                    next = when;
            }
        }
        if (next < now + WATCH_PERIOD_NS)
            next = now + WATCH_PERIOD_NS;
        atomic_store(&inl.watch_next, next);
        struct timespec ts = {(time_t)(next / 1000000000ULL), (long)(next % 1000000000ULL)};
        pthread_cond_timedwait(&inl.watch_cv, &inl.watch_mu, &ts);
    }
    pthread_mutex_unlock(&inl.watch_mu);
    return NULL;
}

/* At exit the watchdog stops and is joined, so that the process ends
** with no thread of ours (and leak checkers see none). */
__attribute__((destructor)) static void stopWatchdog(void)
{
    pthread_mutex_lock(&inl.watch_mu);
    int running = inl.watch_running;
    inl.watch_stop = 1;
    pthread_cond_broadcast(&inl.watch_cv);
    pthread_mutex_unlock(&inl.watch_mu);
    if (running)
        pthread_join(inl.watch_thread, NULL);
}

/* watch: the watchdog knows a mirror started at t0 (and runs) with a
** deadline span_ns from then, at deadline.  A watchdog that sleeps past
** that deadline (or is scanning, and may have missed it) is woken;
** otherwise a mirror costs no system call here.  0 or an errno. */
static int watch(uint64_t t0, uint64_t span_ns, uint64_t deadline)
{
    atomic_fetch_add(&inl.active_count, 1);
    atomic_store(&inl.last_start_ns, t0);
    uint64_t span = atomic_load(&inl.min_span_ns);
    while ((span == 0 || span_ns < span) &&
           !atomic_compare_exchange_weak(&inl.min_span_ns, &span, span_ns))
        ;
    uint64_t next = atomic_load(&inl.watch_next);
    if (inl.watch_running && !atomic_load(&inl.watch_idle) && next != 0 && deadline >= next)
        return 0;
    /* Every signal is blocked while the lock is held: a host's handler
    ** that jumps away must not leave it locked (the exit would wait on it
    ** for ever).  A new thread also takes this mask, so a process-directed
    ** signal (the host's SIGALRM) can never run the host's handler on the
    ** watchdog, whose siglongjmp would carry that thread into the host's
    ** frames while the host's own thread still runs. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_mutex_lock(&inl.watch_mu);
    int err = 0;
    if (!inl.watch_running && !inl.watch_stop) {
        /* Its waits count on the monotonic clock, as deadlines do. */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_destroy(&inl.watch_cv);
        pthread_cond_init(&inl.watch_cv, &ca);
        pthread_condattr_destroy(&ca);
        err = pthread_create(&inl.watch_thread, NULL, watchdog, NULL);
        inl.watch_running = err == 0;
    }
    pthread_cond_signal(&inl.watch_cv);
    pthread_mutex_unlock(&inl.watch_mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/* ------------------------------------------------------------------------
** Running a mirror
*/

/*
** ptm_mirror_cancelled: called by a mirror clone that saw ptm_mirror_cancel
** set.  When the watchdog stopped this thread's inline mirror, it jumps
** back to the executor (the mirror ends as PTM_MS_TIMEOUT); a stale flag
** (left from a mirror that had already ended) is cleared and the call
** returns.
*/
PTM_API void ptm_mirror_cancelled(void)
{
    struct inlineThread *t = inlineSelf;
    ptm_mirror_cancel = 0;
    if (t && t->active && atomic_load(&t->stage) > 0) {
        t->active = 0;
        t->cancelled = 1;
        ptmJumpReal(t->jmp, 1);
    }
}

/* inlineBail: ptmMirrorBail's contract, for an inline mirror. */
static void inlineBail(const char *why)
{
    struct inlineThread *t = inlineSelf;
    if (t && t->active) {
        t->active = 0;
        t->bailed = why;
        ptmJumpReal(t->jmp, 1);
    }
}

/* inlineFault: ptmMirrorFault's contract, for an inline mirror. */
static void inlineFault(int signo)
{
    struct inlineThread *t = inlineSelf;
    if (t && t->active) {
        t->active = 0;
        t->signo = signo;
        siglongjmp(t->jmp, 1);
    }
}

/* recheckHandlers: every RECHECK_NS (now: ptmOsNowNs), the crash and
** cancel handlers are verified and put back if the host replaced them. */
static void recheckHandlers(uint64_t now)
{
    if (now - atomic_load(&inl.checked_ns) < RECHECK_NS)
        return;
    atomic_store(&inl.checked_ns, now);
    installHandlers(0);
}

/* keepFrame: hands back buf, the frame of a mirror that returned: in the
** ring when it fits (where the fork executor puts it too), else buf itself,
** which the run then owns -- the mirror ran on this thread, so its frame
** can be kept at any size without growing the ring's shared mapping.
** Then judges it against success_criteria, outside the mirror. */
static void keepFrame(const struct ptm_tx_desc *desc, struct ptmRing *ring,
                      unsigned char *buf, struct ptmMirrorRun *run)
{
    if (desc->frame_size <= PTM_RING_FRAME_MAX) {
        memcpy(ring->frame, buf, desc->frame_size);
        ring->frame_len = (uint32_t)desc->frame_size;
        run->frame = ring->frame;
    } else {
        run->frame = run->frame_heap = buf;
    }
    run->frame_valid = 1;
    if (desc->success)
        run->verdict = desc->success(run->frame) ? PTM_VERDICT_MET : PTM_VERDICT_FAILED;
}

/* classify: the run's status from how the mirror ended. */
static void classify(struct inlineThread *t, const struct ptm_tx_desc *desc,
                     struct ptmRing *ring, unsigned char *buf, int jumped,
                     struct ptmMirrorRun *run)
{
    if (!jumped && t->cancelled) {
        run->status = PTM_MS_TIMEOUT;
    } else if (!jumped) {
        keepFrame(desc, ring, buf, run);
        atomic_store(&ring->returned, 1);
        run->status = PTM_MS_RETURNED;
    } else if (jumped == PTM_JUMP_LEFT) {
        run->status = PTM_MS_LONGJMP;
        run->frame_lost = "left by longjmp";
    } else if (t->bailed) {
        run->status = PTM_MS_FAILED;
        run->bailed = t->bailed;
        ptmCopyField(run->error, sizeof run->error, t->bailed);
    } else if (t->cancelled) {
        run->status = PTM_MS_TIMEOUT;
    } else {
        run->status = PTM_MS_CRASHED;
        run->signo = t->signo;
    }
}

/*
** ptmInlineRun: runs desc->mirror on a copy of frame on this thread.
** deadline_ns is relative (0: none).  ring must come from ptmRingCreate.
** OUT: *run (always filled; PTM_MS_FAILED when the mirror could not run:
** run->error says why, and the caller may use the fork executor instead).
** A mirror that returned hands back its frame, of any size (run->frame:
** ring->frame, or a heap copy the caller frees with ptmMirrorRunRelease),
** judged against success_criteria (run->verdict).
** Returns PTM_OK when the mirror ran, else PTM_ERROR.
*/
enum ptmRc ptmInlineRun(const struct ptm_tx_desc *desc, const void *frame, uint64_t deadline_ns,
                        struct ptmRing *ring, struct ptmMirrorRun *run)
{
    memset(run, 0, sizeof *run);
    run->executor = PTM_EXEC_INLINE;
    run->ring = ring;
    pthread_once(&inl.once, setup);
    struct inlineThread *t = inl.err ? NULL : self();
    if (!t || t->active) {
        run->status = PTM_MS_FAILED;
        ptmCopyField(run->error, sizeof run->error,
                     inl.err ? strerror(inl.err)
                     : t ? "an inline mirror is already running on this thread"
                         : "no memory for the inline executor");
        return PTM_ERROR;
    }

    /* The mirror's frame lives on the heap: a stack overflow in the mirror
    ** must not take it with it, and frames can be large. */
    unsigned char *buf = malloc(desc->frame_size ? desc->frame_size : 1);
    if (!buf) {
        run->status = PTM_MS_FAILED;
        ptmCopyField(run->error, sizeof run->error, "no memory for the mirror's frame");
        return PTM_ERROR;
    }
    memcpy(buf, frame, desc->frame_size);
    int saved_errno = errno; /* the mirror may set it: it is this thread's */
    ptmRingReset(ring);
    struct ptmMirror m;
    ptmMirrorEnter(&m, ring);
    /* One clock read serves the mirror's start, the handlers' check and
    ** its deadline: each read costs as much as a small mirror's call. */
    uint64_t t0 = m.t0_ns;
    recheckHandlers(t0);
    ptm_mirror_cancel = 0;
    t->signo = 0;
    t->cancelled = 0;
    t->bailed = NULL;
    atomic_store(&t->stage, 0);
    atomic_store(&t->grace, deadline_ns > GRACE_MIN_NS ? deadline_ns : GRACE_MIN_NS);
    atomic_store(&t->deadline, deadline_ns ? t0 + deadline_ns : 0);
    /* volatile: read after the jump back */
    volatile int watched = deadline_ns != 0;
    if (watched && watch(t0, deadline_ns, t0 + deadline_ns) != 0) {
        atomic_store(&t->deadline, 0);
        atomic_fetch_sub(&inl.active_count, 1);
        watched = 0; /* no watchdog: the mirror runs unwatched */
    }

    /* Everything of this thread's stack below this frame is the mirror's;
    ** its other stores go to the write buffer (instrumented clones). */
    struct ptmRedo redo;
    ptmRedoBegin(&redo, __builtin_frame_address(0));
    const struct ptm_xstate *x = ptmXtuResolve(desc);
    redo.objects = x ? x->redo : desc->redo;
    /* A longjmp out of the mirror lands here too (longjmp.c); one that a
    ** signal handler of the host made is the host's, and goes on after. */
    struct ptmJumpScope scope = {.kind = PTM_SCOPE_MIRROR,
                                 .hi = (uintptr_t)__builtin_frame_address(0),
                                 .back = &t->jmp,
                                 .defers = 1};
    int jumped = sigsetjmp(t->jmp, 0);
    if (!jumped) {
        ptmJumpEnter(&scope);
        t->active = 1;
        desc->mirror(buf);
        atomic_store(&ring->end_errno, errno);
    }
    t->active = 0;
    ptmJumpLeave(&scope);
    ptmRedoEnd(&redo);

    atomic_store(&t->deadline, 0);
    if (watched)
        atomic_fetch_sub(&inl.active_count, 1);
    /* A mirror that returned after the deadline's cancel may have returned
    ** because of it (a library call it made stopped short: SQLite's
    ** SQLITE_INTERRUPT): a timeout, not its result. */
    if (!jumped && ptm_mirror_cancel)
        t->cancelled = 1;
    ptm_mirror_cancel = 0;
    run->duration_ns = ptmOsNowNs() - t0;
    ptmMirrorLeave(&m);
    classify(t, desc, ring, buf, jumped, run);
    run->denied = atomic_load(&ring->denied);
    if (run->frame_heap != buf)
        free(buf);
    errno = saved_errno;
    return PTM_OK;
}
