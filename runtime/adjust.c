/*
** adjust.c - the rules' adjustments of one call, applied: what the code
** that runs can ask (ptm_prediction, ptm_timeout_ms), retries judged
** again, and the process's retry budget.
**
** The call that runs on a thread is a struct ptmCurrent, pushed by tx.c
** for the call's duration (a stack: a primary may call another
** transaction).  It holds the prediction behind the call, with the errno
** the primary is predicted to fail with, and the call's timeout.
**
** Retries judged again.  A retry spends another attempt on what the last
** one showed.  When the last attempt overran the call's timeout, or failed
** with the errno of the one before, the PAM is asked again (the rules'
** analyze(m), with m.retry saying what the attempts showed, and the
** predicted timeout raised to the last attempt's measured duration) before
** another attempt is spent:
**   - probability >= threshold: no more attempts; the call diverts to the
**     alternative the rules name (or the first), or, with none, returns the
**     failure it has;
**   - the result's retries = n: n more attempts at most (0: none), within
**     the bound the first judgment had (ptmRetryCap);
**   - else, after an attempt that overran the timeout, no more attempts:
**     the timeout is the call's budget, as a gRPC deadline covers its
**     retries, and an attempt that overran it shows that the next one will
**     too; a script that knows better returns retries.  Unless it failed
**     with a contention-class errno (EAGAIN, EBUSY, ...): a lock held a
**     while, whose holder may let go, and the next attempt may be quick;
**   - else (the same failure again, within the timeout) the retry goes on:
**     a transient failure is what retries are for.
**
** The retry budget caps retries across the process, as Envoy's retry
** budget and gRPC's retry throttling do: a retry is spent only while the
** retries of the last 10 to 20 seconds stay under min + ratio x the calls
** of the same time.  The default, ratio 0.2 and min 10, is Envoy's
** budget_percent 20%; PTM_RETRY_BUDGET="ratio,min" sets it ("off": no
** budget), read once per process.  A transaction's retry_budget key adds
** a budget of its own, over its id's calls and retries only, with the
** process's min: a retry is spent when both allow it (the key's is asked
** first, so a retry it refuses costs the process's nothing).  Its window
** lives in the id's state (sampling.c); PTM_RETRY_BUDGET=off leaves it.
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptm_int.h"

#define BUDGET_WINDOW_NS (10ULL * 1000000000ULL)
#define BUDGET_RATIO_DEFAULT 0.2
#define BUDGET_MIN_DEFAULT 10.0
#define BUDGET_RATIO_MAX 1000.0

/* ---------------------------------------------------------------------
** The call that runs on this thread
*/
static _Thread_local struct ptmCurrent *current;

/* The running calls' frames, beside the list: whether a call still runs
** is read here, never from the call, whose memory may be gone.  hi: the
** frame of ptmCurrentEnter, which the call's own code (a direct or deeper
** callee of ptm_tx_run, as ptmCurrentEnter is) runs below.  Deeper than
** RUNNING_MAX, none is dropped. */
#define RUNNING_MAX 64
static _Thread_local struct {
    struct ptmCurrent *cur;
    uintptr_t hi;
} running[RUNNING_MAX];
static _Thread_local unsigned runningN, runningOver;

/* liveCurrent: this thread's running call, seen from a frame at here.  A
** call whose frame is below here on the same stack was left unseen (a jump
** through libc's longjmp, docs/DESIGN.md §9; longjmp.c drops its scope
** too): its frame is gone, and it is dropped.  Not from a signal stack,
** which lies anywhere. */
static struct ptmCurrent *liveCurrent(uintptr_t here)
{
    unsigned n = runningN;
    stack_t ss;
    if (runningOver)
        return current;
    while (n > 0 && running[n - 1].hi < here && here - running[n - 1].hi < ((uintptr_t)64 << 20))
        n--;
    if (n < runningN && !(sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))) {
        runningN = n;
        current = n ? running[n - 1].cur : NULL;
    }
    return current;
}

/*
** ptmCurrentEnter: cur becomes this thread's running call, with timeout
** timeout_us (0: none) and no prediction yet.  ptmCurrentLeave(cur) ends
** it; a call left by longjmp leaves it too (tx.c's leftByLongjmp).
*/
void ptmCurrentEnter(struct ptmCurrent *cur, uint64_t timeout_us)
{
    memset(cur, 0, sizeof *cur);
    cur->timeout_us = timeout_us;
    uintptr_t hi = (uintptr_t)__builtin_frame_address(0);
    cur->outer = liveCurrent(hi + 1);
    current = cur;
    if (runningOver || runningN == RUNNING_MAX) {
        runningOver++;
    } else {
        running[runningN].cur = cur;
        running[runningN++].hi = hi;
    }
}

/*
** ptmCurrentLeave: the call cur ends; the call it was made from (if any)
** is the running one again.  Calls cur skipped (left by longjmp without
** their own leave) are dropped with it.
*/
void ptmCurrentLeave(struct ptmCurrent *cur)
{
    if (!cur)
        return;
    current = cur->outer;
    for (unsigned i = runningN; i-- > 0;)
        if (running[i].cur == cur) {
            runningN = i;
            runningOver = 0;
            return;
        }
    if (runningOver)
        runningOver--;
}

/*
** ptmCurrentPredict: the prediction the running call cur acts on: v's
** probability and reasons, the predicted errno err, and the alternative
** that runs (NULL: the primary).  v must outlive cur's use; v NULL or a
** failed verdict clears the prediction.
*/
void ptmCurrentPredict(struct ptmCurrent *cur, const struct ptmVerdict *v, int err,
                       const char *alternative)
{
    if (!v || v->rules_error) {
        cur->predicted = 0;
        return;
    }
    unsigned n = v->n_reasons < PTM_MAX_REASONS ? v->n_reasons : PTM_MAX_REASONS;
    for (unsigned i = 0; i < n; i++)
        cur->reasons[i] = v->reasons[i];
    cur->pred = (struct ptm_prediction){.probability = v->probability,
                                        .reasons = cur->reasons,
                                        .n_reasons = n,
                                        .predicted_errno = err,
                                        .alternative = alternative};
    cur->predicted = 1;
}

/* ptmCurrentTimeout: the running call cur's timeout changed (a retry judged
** again with the rules' timeout_ms). */
void ptmCurrentTimeout(struct ptmCurrent *cur, uint64_t timeout_us)
{
    cur->timeout_us = timeout_us;
}

/*
** ptm_prediction: see ptm.h.
*/
const struct ptm_prediction *ptm_prediction(void)
{
    const struct ptmCurrent *cur = liveCurrent((uintptr_t)__builtin_frame_address(0));
    return cur && cur->predicted ? &cur->pred : NULL;
}

/*
** ptm_timeout_ms: see ptm.h.
*/
long ptm_timeout_ms(void)
{
    const struct ptmCurrent *cur = liveCurrent((uintptr_t)__builtin_frame_address(0));
    if (!cur || !cur->timeout_us)
        return -1;
    return (long)((cur->timeout_us + 999) / 1000);
}

/*
** ptmPredictedErrno: the errno a mirror predicts for the primary: that of
** its first call with an effect that would fail (a write past
** RLIMIT_FSIZE: EFBIG), else the errno its result failed success_criteria
** with, else 0.  run or s may be NULL.
*/
int ptmPredictedErrno(const struct ptmMirrorRun *run, const struct ptmSignals *s)
{
    const struct ptmRing *ring = run && run->status != PTM_MS_FAILED ? run->ring : NULL;
    uint32_t n = ring ? ptmRingCount(ring) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct ptmEvent *ev = &ring->ev[i];
        if (ev->kind == PTM_EV_CALL && ev->err > 0 && (ev->flags & PTM_EVF_EFFECT))
            return ev->err;
    }
    return s && s->criteria_failed && s->criteria_errno > 0 ? s->criteria_errno : 0;
}

/* ---------------------------------------------------------------------
** The retry budget
*/
static struct {
    int off;
    double ratio, min;
    struct ptmRetryWindow w;
} budget = {.w = {.mu = PTHREAD_MUTEX_INITIALIZER}};
static pthread_once_t budgetOnce = PTHREAD_ONCE_INIT;

/* The process's retry budget: its lock is a leaf. */
PTM_HOLD_ACROSS_FORK(budget, &budget.w.mu)

/* budgetReadEnv: PTM_RETRY_BUDGET = "ratio[,min]" | "off"; anything else
** (a negative, NaN, huge or malformed value) keeps the default. */
static void budgetReadEnv(void)
{
    budget.ratio = BUDGET_RATIO_DEFAULT;
    budget.min = BUDGET_MIN_DEFAULT;
    const char *s = getenv("PTM_RETRY_BUDGET");
    if (!s || !*s)
        return;
    if (strcmp(s, "off") == 0) {
        budget.off = 1;
        return;
    }
    char *end;
    double ratio = strtod(s, &end), min = BUDGET_MIN_DEFAULT;
    if (end == s || !(ratio >= 0 && ratio <= BUDGET_RATIO_MAX))
        return;
    if (*end == ',') {
        const char *m = end + 1;
        min = strtod(m, &end);
        if (end == m || !(min >= 0 && min <= 1e9))
            return;
    }
    if (*end)
        return;
    budget.ratio = ratio;
    budget.min = min;
}

/* windowRoll: moves w's windows to epoch e's (w->mu held). */
static void windowRoll(struct ptmRetryWindow *w, uint64_t e)
{
    uint64_t cur = atomic_load_explicit(&w->epoch, memory_order_relaxed);
    if (e == cur)
        return;
    uint64_t calls0 = atomic_exchange_explicit(&w->calls0, 0, memory_order_relaxed);
    if (e == cur + 1) {
        w->calls1 = calls0;
        w->retries[1] = w->retries[0];
    } else {
        w->calls1 = w->retries[1] = 0;
    }
    w->retries[0] = 0;
    atomic_store_explicit(&w->epoch, e, memory_order_relaxed);
}

/*
** ptmRetryWindowCall: counts one call, made at now (ptmOsNowNs), in the
** budget window w.  Thread-safe; lock-free while the window stays (a call
** that races a roll may count in the next window: a call more or less).
*/
void ptmRetryWindowCall(struct ptmRetryWindow *w, uint64_t now)
{
    uint64_t e = now / BUDGET_WINDOW_NS;
    if (atomic_load_explicit(&w->epoch, memory_order_relaxed) == e) {
        atomic_fetch_add_explicit(&w->calls0, 1, memory_order_relaxed);
        return;
    }
    pthread_mutex_lock(&w->mu);
    windowRoll(w, e);
    atomic_fetch_add_explicit(&w->calls0, 1, memory_order_relaxed);
    pthread_mutex_unlock(&w->mu);
}

/*
** ptmRetryWindowTake: whether w's retries of the last 10 to 20 seconds
** stay under min + ratio x its calls of the same time with one more; when
** they do, the retry is counted.  Returns 1 (allowed) or 0.  Thread-safe.
*/
int ptmRetryWindowTake(struct ptmRetryWindow *w, double ratio, double min)
{
    pthread_mutex_lock(&w->mu);
    windowRoll(w, ptmOsNowNs() / BUDGET_WINDOW_NS);
    double calls = (double)(atomic_load_explicit(&w->calls0, memory_order_relaxed) + w->calls1);
    double spent = (double)(w->retries[0] + w->retries[1]);
    int ok = spent < min + ratio * calls;
    if (ok)
        w->retries[0]++;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/*
** ptmRetryBudgetMin: the retries any budget allows whatever its calls:
** PTM_RETRY_BUDGET's min (default 10), which a retry_budget key's budget
** shares.
*/
double ptmRetryBudgetMin(void)
{
    pthread_once(&budgetOnce, budgetReadEnv);
    return budget.min;
}

/*
** ptmRetryBudgetRatioOf: d's retry_budget ratio, brought into [0,
** BUDGET_RATIO_MAX] (a descriptor is trusted no more than the
** environment: NaN or negative is 0, huge is the bound); -1 when d has
** no retry_budget key.
*/
double ptmRetryBudgetRatioOf(const struct ptm_tx_desc *d)
{
    if (!d->retry_budget_set)
        return -1;
    double r = d->retry_budget;
    return !(r > 0) ? 0.0 : r > BUDGET_RATIO_MAX ? BUDGET_RATIO_MAX : r;
}

/*
** ptmRetryBudgetCall: counts one transaction call, made now, for the
** retry budget.  Thread-safe.
*/
void ptmRetryBudgetCall(void)
{
    ptmRetryBudgetCallAt(ptmOsNowNs());
}

/*
** ptmRetryBudgetCallAt: counts one transaction call, made at now
** (ptmOsNowNs: the caller has read the clock already), for the retry
** budget.  Thread-safe; lock-free but once per window.
*/
void ptmRetryBudgetCallAt(uint64_t now)
{
    pthread_once(&budgetOnce, budgetReadEnv);
    if (budget.off)
        return;
    ptmRetryWindowCall(&budget.w, now);
}

/*
** ptmRetryBudgetTake: whether the process's retry budget allows one more
** retry now; when it does, the retry is counted.  Returns 1 (allowed) or 0.
** Thread-safe.
*/
int ptmRetryBudgetTake(void)
{
    pthread_once(&budgetOnce, budgetReadEnv);
    if (budget.off)
        return 1;
    return ptmRetryWindowTake(&budget.w, budget.ratio, budget.min);
}

/*
** ptmRetryBudgetReset: forgets the budget's counts and reads
** PTM_RETRY_BUDGET again, for tests.  Not thread-safe with calls in flight.
*/
void ptmRetryBudgetReset(void)
{
    pthread_once(&budgetOnce, budgetReadEnv);
    pthread_mutex_lock(&budget.w.mu);
    budget.off = 0;
    budgetReadEnv();
    atomic_store(&budget.w.epoch, 0);
    atomic_store(&budget.w.calls0, 0);
    budget.w.calls1 = 0;
    memset(budget.w.retries, 0, sizeof budget.w.retries);
    pthread_mutex_unlock(&budget.w.mu);
}

/* ---------------------------------------------------------------------
** Retries judged again
*/

/*
** ptmRetryCap: the most retries a call of d may make, whatever its rules
** ask: PTM_PAM_RETRIES_MAX, or the metadata's retry.max when larger (the
** bound the rules' retries are clamped to, pam.c).
*/
unsigned ptmRetryCap(const struct ptm_tx_desc *d)
{
    return d->retry_max > PTM_PAM_RETRIES_MAX ? d->retry_max : PTM_PAM_RETRIES_MAX;
}

/* judgedNote: one more re-judgment in the report (the first
** PTM_MAX_REJUDGED are kept; all are counted). */
static void judgedNote(struct ptmRetryReport *rep, unsigned attempt, const char *why,
                       const struct ptmVerdict *v, const char *decision)
{
    if (rep->n_judged < PTM_MAX_REJUDGED) {
        struct ptmRejudged *j = &rep->judged[rep->n_judged];
        j->attempt = attempt;
        j->why = why;
        j->probability = v && !v->rules_error ? v->probability : NAN;
        j->decision = decision;
    }
    rep->n_judged++;
}

/* spend: the budgets decide a retry that the judgment allowed: the
** transaction's own (its retry_budget key), then the process's. */
static enum ptmRetryStep spend(const struct ptmRetryView *rv, struct ptmRetryReport *rep)
{
    if (rv->tx_window && !ptmRetryWindowTake(rv->tx_window, rv->tx_ratio, ptmRetryBudgetMin())) {
        rep->budget_denied = 1;
        rep->stopped = "the transaction's retry budget is spent (retry_budget)";
        return PTM_RETRY_STOP;
    }
    if (ptmRetryBudgetTake())
        return PTM_RETRY_GO_ON;
    rep->budget_denied = 1;
    rep->stopped = "the process's retry budget is spent (PTM_RETRY_BUDGET)";
    return PTM_RETRY_STOP;
}

/*
** ptmRetryJudge: the primary's attempt number rv->attempts failed; whether
** another attempt is spent (see the top of this file).
**
** first: the call's first observation (its desc, mirror run, signals,
**        history), or NULL when the call was not analysed (no mirror, the
**        rules failed): then only the budget decides.
** rv:    what the attempts showed.
** IN/OUT: *retry_max, the call's retries; the rules' retries = n set it to
**        rv->attempts - 1 + n, at most ptmRetryCap.
** OUT:   *v, the re-judgment's verdict, when the PAM was asked (its
**        timeout_ms and backoff apply to the next attempts: the caller's);
**        *asked, whether it was; rep: the re-judgment and why retries
**        stopped, for the trace.
** Returns PTM_RETRY_GO_ON (spend another attempt: counted in the budget),
** PTM_RETRY_STOP (return the last attempt's failure) or PTM_RETRY_DIVERT
** (run the alternative v->divert names, or the first).
*/
enum ptmRetryStep ptmRetryJudge(const struct ptmObservation *first,
                                const struct ptmRetryView *rv, unsigned *retry_max,
                                struct ptmVerdict *v, int *asked, struct ptmRetryReport *rep)
{
    *asked = 0;
    if (!first || !first->desc || !(rv->overran || rv->same_failure))
        return spend(rv, rep);
    const struct ptm_tx_desc *d = first->desc;
    const char *why = rv->overran ? "overran the timeout" : "failed the same way";

    /* The last attempt's duration is measured, not predicted: the next
    ** attempt is predicted to take as long. */
    struct ptmSignals s = {.acceptable_timeout_ms = HUGE_VAL};
    if (first->signals)
        s = *first->signals;
    if (isgreater(rv->last_ms, s.predicted_timeout_ms))
        s.predicted_timeout_ms = rv->last_ms;
    struct ptmObservation obs = *first;
    obs.signals = &s;
    obs.retry = rv;
    *asked = 1;
    if (ptmPamAnalyze(&obs, v) != PTM_OK) {
        /* The rules failed: retry as the metadata says, as without PTM. */
        judgedNote(rep, rv->attempts, why, v, "retry (rules failed)");
        return spend(rv, rep);
    }
    if (v->probability >= d->threshold) {
        int divert = d->n_alternatives > 0;
        judgedNote(rep, rv->attempts, why, v, divert ? "divert" : "stop");
        rep->stopped = divert ? "the rules predict the next attempt fails: diverted"
                              : "the rules predict the next attempt fails";
        return divert ? PTM_RETRY_DIVERT : PTM_RETRY_STOP;
    }
    if (v->retry_max >= 0) {
        unsigned cap = ptmRetryCap(d), done = rv->attempts - 1;
        unsigned want = (unsigned)v->retry_max > cap - (done < cap ? done : cap)
                            ? cap
                            : done + (unsigned)v->retry_max;
        *retry_max = want;
        if (want <= done) {
            judgedNote(rep, rv->attempts, why, v, "stop");
            rep->stopped = "the rules asked no more retries";
            return PTM_RETRY_STOP;
        }
        judgedNote(rep, rv->attempts, why, v, "retry");
        return spend(rv, rep);
    }
    if (rv->overran && ptmErrnoClassOf(rv->err) != PTM_ERRCLASS_CONTENTION) {
        judgedNote(rep, rv->attempts, why, v, "stop");
        rep->stopped = "an attempt overran the timeout: the next would too";
        return PTM_RETRY_STOP;
    }
    judgedNote(rep, rv->attempts, why, v, "retry");
    return spend(rv, rep);
}

/* ---------------------------------------------------------------------
** The call's timeout on the host's sockets
*/

/* sockLonger: whether the socket timeout tv waits longer than us (0: for
** ever). */
static int sockLonger(const struct timeval *tv, uint64_t us)
{
    if (tv->tv_sec == 0 && tv->tv_usec == 0)
        return 1;
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec > us;
}

/* sockShorten: opt (SO_RCVTIMEO, SO_SNDTIMEO) of fd at most us; the value
** it had in *saved.  Returns 1 when it was changed. */
static int sockShorten(int fd, int opt, uint64_t us, struct timeval *saved)
{
    socklen_t len = sizeof *saved;
    if (ptmOs.getsockopt(fd, SOL_SOCKET, opt, saved, &len) != 0 || len != sizeof *saved ||
        !sockLonger(saved, us))
        return 0;
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    return ptmOs.setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0;
}

/*
** ptmSocketTimeoutsApply: for the primary's duration, the host's sockets
** the mirror used (ring->sock_fds) wait at most timeout_us in a send or a
** receive: SO_SNDTIMEO and SO_RCVTIMEO are shortened to it where they are
** longer (or infinite), and kept where they are shorter.  A descriptor
** that is not a socket (the ring is untrusted) is left alone; at most
** PTM_SOCK_TIMEOUTS sockets are changed.  OUT: *st, what
** ptmSocketTimeoutsRestore puts back.  ring NULL or timeout_us 0: nothing.
** errno is kept.
*/
void ptmSocketTimeoutsApply(const struct ptmRing *ring, uint64_t timeout_us,
                            struct ptmSockTimeouts *st)
{
    st->n = 0;
    if (!ring || !timeout_us)
        return;
    int saved = errno;
    for (unsigned w = 0; w < PTM_RING_SOCK_FDS / 64; w++) {
        uint64_t bits = atomic_load_explicit(&ring->sock_fds[w], memory_order_relaxed);
        while (bits && st->n < PTM_SOCK_TIMEOUTS) {
            int fd = (int)(w * 64 + (unsigned)__builtin_ctzll(bits));
            bits &= bits - 1;
            int type;
            socklen_t len = sizeof type;
            if (ptmOs.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
                continue;
            struct ptmSockSaved *s = &st->s[st->n];
            s->fd = fd;
            s->rcv_set = sockShorten(fd, SO_RCVTIMEO, timeout_us, &s->rcv);
            s->snd_set = sockShorten(fd, SO_SNDTIMEO, timeout_us, &s->snd);
            if (s->rcv_set || s->snd_set)
                st->n++;
        }
    }
    errno = saved;
}

/*
** ptmSocketTimeoutsRestore: puts back the timeouts ptmSocketTimeoutsApply
** changed (a socket the primary closed meanwhile fails quietly: EBADF, or
** another socket now at that number, which is why only a descriptor that
** still is a socket is touched).  Safe to call twice.  errno is kept.
*/
void ptmSocketTimeoutsRestore(struct ptmSockTimeouts *st)
{
    int saved = errno;
    for (unsigned i = 0; i < st->n; i++) {
        struct ptmSockSaved *s = &st->s[i];
        if (s->rcv_set)
            ptmOs.setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &s->rcv, sizeof s->rcv);
        if (s->snd_set)
            ptmOs.setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &s->snd, sizeof s->snd);
    }
    st->n = 0;
    errno = saved;
}
