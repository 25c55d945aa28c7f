/*
** tx.c - the transaction engine: ptm_tx_run().
**
** One call: take the execution snapshot (a copy of the frame), run the mirror
** on a copy-on-write snapshot of the process, turn what it saw into signals,
** ask the rules for a failure probability, then divert to an alternative or
** run the primary with retries, each attempt starting from the snapshot.
** Whatever goes wrong inside PTM (no mirror, a broken rules script) ends in
** running the primary: the host program never fails because of PTM.
**
** Environment, read once per process:
**   PTM_DISABLE=1            run the primary once, as a plain build would
**   PTM_DRY_RUN=1            mirror and analyse, run nothing; the call returns
**                            the mirror's result (what-if mode)
**   PTM_MIRROR_DEADLINE_MS=n the mirror's deadline, over the metadata's
**                            (default: the mirror_deadline key, else the
**                            timeout key, else 1000 ms)
**   PTM_MIRROR=fork|inline|off  overrides the metadata's executor (inline
**                            only for mirrors ptmcc proved inline-safe)
**   PTM_MODE=observe         mirror, analyse and record the prediction (the
**                            trace's predicted), but run the primary once, as
**                            a plain build would: every call is a label for
**                            the model (history.c, model.c)
**   PTM_HISTORY=path|off     the persisted history (store.c)
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"

#define DEFAULT_DEADLINE_MS 1000
#define MAX_RECORDED_ATTEMPTS 64
#define STACK_SNAPSHOT 4096

/* Process-wide counters, in the order of struct ptm_stats. */
static struct {
    _Atomic uint64_t transactions, mirrors, mirror_crashes, mirror_timeouts, mirror_denials,
        diversions, primaries, attempts, failures, rules_errors;
} stats;

static struct {
    int disable;
    int dry_run;
    int observe;          /* PTM_MODE=observe */
    uint64_t deadline_ms; /* 0: not set */
    enum ptm_mirror_mode mirror; /* PTM_MIRROR=fork|inline|off; PTM_MIRROR_AUTO: not
                                    set, the metadata's mode */
} env;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
/* This module is pinned (ptmPeerPin) once it has run a transaction. */
static atomic_int pinned;

static _Thread_local uint64_t rng_state;

/* now_ns: ptmOsNowNs (CLOCK_MONOTONIC, ns), inlined: the clock is read
** twice on every call, and os.c's code would be one more page for the
** call's path to touch (docs/DESIGN.md, "Adaptive sampling"). */
static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void read_env(void)
{
    const char *s = getenv("PTM_DISABLE");
    env.disable = s && *s && strcmp(s, "0") != 0;
    s = getenv("PTM_DRY_RUN");
    env.dry_run = s && *s && strcmp(s, "0") != 0;
    s = getenv("PTM_MODE");
    env.observe = s && strcmp(s, "observe") == 0;
    s = getenv("PTM_MIRROR_DEADLINE_MS");
    env.deadline_ms = s && *s ? strtoull(s, NULL, 10) : 0;
    s = getenv("PTM_MIRROR");
    env.mirror = !s                         ? PTM_MIRROR_AUTO
                 : strcmp(s, "fork") == 0   ? PTM_MIRROR_FORK
                 : strcmp(s, "inline") == 0 ? PTM_MIRROR_INLINE
                 : strcmp(s, "off") == 0    ? PTM_MIRROR_OFF
                                            : PTM_MIRROR_AUTO;
}

void ptm_stats_get(struct ptm_stats *out)
{
    out->transactions = stats.transactions;
    out->mirrors = stats.mirrors;
    out->mirror_crashes = stats.mirror_crashes;
    out->mirror_timeouts = stats.mirror_timeouts;
    out->mirror_denials = stats.mirror_denials;
    out->diversions = stats.diversions;
    out->primaries = stats.primaries;
    out->attempts = stats.attempts;
    out->failures = stats.failures;
    out->rules_errors = stats.rules_errors;
}

/* ---------------------------------------------------------------------
** Backoff: full jitter (a uniform draw in [0, min(cap, base * 2^n)]), which
** spreads retries of many callers instead of synchronizing them.
*/
static uint64_t next_random(void)
{
    if (!rng_state) {
        if (getrandom(&rng_state, sizeof rng_state, GRND_NONBLOCK) != sizeof rng_state)
            rng_state = ptmOsNowNs() ^ (uint64_t)pthread_self();
        rng_state |= 1;
    }
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* The waits between a call's attempts: the metadata's retry.backoff, or
** the rules'. */
typedef struct Backoff {
    enum ptm_backoff_kind kind;
    uint64_t base_us, cap_us;
} Backoff;

/* backoff_us: how long to wait before retry number n (0-based). */
static uint64_t backoff_us(const Backoff *d, unsigned n)
{
    switch (d->kind) {
    case PTM_BACKOFF_CONSTANT:
        return d->base_us;
    case PTM_BACKOFF_EXPONENTIAL: {
        uint64_t ceiling = d->cap_us;
        if (n < 63 && d->base_us <= (ceiling >> n))
            ceiling = d->base_us << n;
        return ceiling ? next_random() % (ceiling + 1) : 0;
    }
    default:
        return 0;
    }
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (ptmOs.nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---------------------------------------------------------------------
** One call
*/
typedef struct Call {
    const struct ptm_tx_desc *desc;
    void *frame;
    unsigned char *snapshot;   /* the execution snapshot: the frame on entry */
    struct ptmHistory *history;
    int mirror_ran;            /* run holds an observation */
    const char *mirror_reason;
    int analysed;              /* verdict came from the rules (signals were computed) */
    int modelled;              /* model holds what the model said of the signals */
    enum ptmDecision predicted; /* what the prediction decided (observe mode) */
    unsigned attempts;
    struct ptm_region *regions; /* the `snapshot` regions, as on entry */
    unsigned nregions;
    unsigned char *saved;      /* their bytes, one after the other */
    int snapshot_owned;        /* snapshot was malloc'd */
    uint64_t t0;               /* when the call began */
    /* What runs now for the host (callHost), for a longjmp out of it. */
    enum ptmDecision decision;
    const char *path;
    uint64_t attempt_t0;
    uint64_t attempt_end;      /* when the last attempt ended (noteAttempt) */
    int left;                  /* it left by longjmp */
    /* The rules' adjustments, applied (adjust.c, broker.c). */
    uint64_t timeout_us;       /* the call's timeout: the rules', else the key's; 0: none */
    Backoff backoff;
    int last_err, prev_err;    /* the errno the last two attempts ended with */
    struct ptmCurrent cur;     /* ptm_prediction(), ptm_timeout_ms() */
    int cur_entered;
    int diverted_late;         /* a re-judgment diverted after attempts */
    /* Adaptive sampling, exploration, the id's retry budget (sampling.c). */
    struct ptmTxState *tx_state; /* NULL: the descriptor needs none */
    unsigned sampling_every;   /* adaptive: 1 call in this many is mirrored now */
    int sampled_out;           /* adaptive sampling left this call unmirrored */
    int explored;              /* a would-divert call runs the primary (exploration) */
    /* The large members, past call_head_end: call_init zeroes only what is
    ** read before it is written (kilobytes a cheap call must not clear).
    ** view, run, signals and model are written in full before they are
    ** read: view by ptmHistoryGet and run by the executors, on the path
    ** of a mirrored call only; signals and model by observe(); each read
    ** is behind mirror_ran, analysed or modelled. */
    char call_head_end[1];
    struct ptmHistoryView view;
    struct ptmMirrorRun run;
    struct ptmSignals signals;
    struct ptmModelView model; /* what the model said of the signals */
    struct ptmVerdict verdict;
    uint64_t attempt_us[MAX_RECORDED_ATTEMPTS]; /* [0, attempts) written */
    struct ptmRetryReport retry; /* retries judged again */
    struct ptmVerdict rejudged; /* the last re-judgment's verdict */
    struct ptmBrokerGrant grant; /* resources for the primary */
    struct ptmSockTimeouts socks; /* the rules' timeout on the host's sockets */
    struct ptmFamilyAdjust fam; /* the families' adjustments (SQLite's busy handling) */
} Call;

/* call_init: a call of d on frame, begun at t0: every member before
** call_head_end zeroed, and of the large ones what is read before it is
** written (the verdict's flags and "not set" adjustments, the first
** attempt's time, the retry report's counts, the grant's, the sockets'
** and the families' "nothing to restore"). */
PTM_HOT static void call_init(Call *c, const struct ptm_tx_desc *d, void *frame, uint64_t t0)
{
    memset(c, 0, offsetof(Call, call_head_end));
    c->desc = d;
    c->frame = frame;
    c->t0 = t0;
    c->timeout_us = d->timeout_us;
    c->backoff = (Backoff){d->backoff, d->backoff_base_us, d->backoff_cap_us};
    /* A diverted call counts as one attempt whose time is never measured
    ** (within_timeout reads it): 0. */
    c->attempt_us[0] = 0;
    c->verdict.rules_error = 0;
    c->verdict.n_reasons = 0;
    c->verdict.n_clamped = 0;
    c->verdict.probability = 0;
    c->verdict.divert = -1;
    c->verdict.retry_max = -1;
    c->verdict.timeout_us = -1;
    c->rejudged.rules_error = 1; /* no re-judgment yet: no prediction from it */
    c->rejudged.n_reasons = 0;
    c->rejudged.n_clamped = 0;
    c->rejudged.divert = -1;
    c->rejudged.retry_max = -1;
    c->rejudged.timeout_us = -1;
    c->retry.n_judged = 0;
    c->retry.stopped = NULL;
    c->retry.budget_denied = 0;
    c->grant.active = 0;
    c->socks.n = 0;
    memset(&c->fam, 0, sizeof c->fam);
}

/* history_of: the history of the call's id, kept in the id's state once
** found (a lookup under the histories' lock otherwise). */
PTM_HOT static struct ptmHistory *history_of(Call *c)
{
    struct ptmTxState *st = c->tx_state;
    struct ptmHistory *h = st ? atomic_load_explicit(&st->history, memory_order_acquire) : NULL;
    if (h)
        return h;
    h = ptmHistoryFor(c->desc);
    if (st && h)
        atomic_store_explicit(&st->history, h, memory_order_release);
    return h;
}

PTM_HOT static void restore(Call *c)
{
    memcpy(c->frame, c->snapshot, c->desc->frame_size);
}

/* save_regions: the execution snapshot's memory regions (the `snapshot`
** key), copied before the first attempt.  Without memory the call goes on
** without them, as it would without PTM. */
static void save_regions(Call *c)
{
    const struct ptm_tx_desc *d = c->desc;
    if (!d->snapshot)
        return;
    struct ptm_region probe[1];
    unsigned n = d->snapshot(c->snapshot, probe, 0);
    c->regions = n ? calloc(n, sizeof *c->regions) : NULL;
    if (!c->regions)
        return;
    d->snapshot(c->snapshot, c->regions, n);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!c->regions[i].addr || c->regions[i].size > SIZE_MAX - total)
            c->regions[i].size = 0;
        total += c->regions[i].size;
    }
    c->saved = malloc(total ? total : 1);
    if (!c->saved) {
        ptmSetLastError("ptm: %s: no memory for the snapshot regions (%zu bytes)",
                        d->transaction_id, total);
        free(c->regions);
        c->regions = NULL;
        return;
    }
    c->nregions = n;
    unsigned char *p = c->saved;
    for (unsigned i = 0; i < n; i++) {
        memcpy(p, c->regions[i].addr, c->regions[i].size);
        p += c->regions[i].size;
    }
}

/* restore_regions: the regions as they were on entry, before a retry or
** an alternative. */
static void restore_regions(Call *c)
{
    const unsigned char *p = c->saved;
    for (unsigned i = 0; i < c->nregions; i++) {
        memcpy(c->regions[i].addr, p, c->regions[i].size);
        p += c->regions[i].size;
    }
}

PTM_HOT static int judge(const struct ptm_tx_desc *d, const void *frame)
{
    return d->success ? d->success(frame) != 0 : 1;
}

static uint64_t mirror_deadline_ns(const struct ptm_tx_desc *d)
{
    if (env.deadline_ms)
        return env.deadline_ms * 1000000ULL;
    if (d->mirror_deadline_us)
        return d->mirror_deadline_us * 1000ULL;
    if (d->timeout_us)
        return d->timeout_us * 1000ULL;
    return DEFAULT_DEADLINE_MS * 1000000ULL;
}

/* What ptmcc proved about the mirror, with the clones of other files
** resolved (clones.c) when the mirror reaches any. */
typedef struct Proof {
    int inline_ok, redo;
    const char *reason; /* why not inline, or NULL */
    const char *inline_how; /* resolved across files: how it runs inline */
} Proof;

static Proof proof_of(const struct ptm_tx_desc *d)
{
    const struct ptm_xstate *x = ptmXtuResolve(d);
    if (!x)
        return (Proof){d->inline_ok, d->redo, d->mirror_reason, NULL};
    return (Proof){x->inline_ok, x->redo, x->inline_ok ? NULL : x->reason,
                   x->inline_ok ? x->reason : NULL};
}

/* choose_executor: the executor for this call and why.  PTM_EXEC_NONE: no
** mirror. */
static enum ptmExecutor choose_executor(const struct ptm_tx_desc *d, const char **reason)
{
    Proof pr = proof_of(d);
    if (!d->failure_prediction_enabled) {
        *reason = "failure_prediction_enabled = false";
        return PTM_EXEC_NONE;
    }
    if (env.mirror != PTM_MIRROR_AUTO) {
        /* PTM_MIRROR overrides the metadata, but inline only where ptmcc
        ** proved the mirror keeps its stores to itself. */
        if (env.mirror == PTM_MIRROR_OFF) {
            *reason = "PTM_MIRROR=off";
            return PTM_EXEC_NONE;
        }
        if (env.mirror == PTM_MIRROR_FORK || !pr.inline_ok) {
            *reason = env.mirror == PTM_MIRROR_FORK
                          ? "PTM_MIRROR=fork"
                          : "PTM_MIRROR=inline, but not proved inline-safe: fork";
            return PTM_EXEC_FORK;
        }
        *reason = "PTM_MIRROR=inline";
        return PTM_EXEC_INLINE;
    }
    switch (d->mirror_mode) {
    case PTM_MIRROR_OFF:
        *reason = "mirror = off";
        return PTM_EXEC_NONE;
    case PTM_MIRROR_FORK:
        *reason = "mirror = fork";
        return PTM_EXEC_FORK;
    case PTM_MIRROR_INLINE:
        /* ptmcc proved the transaction's own file (or refused `inline`);
        ** a clone of another file that needs fork is known only now:
        ** never inline unproved. */
        if (d->xfacts && !pr.inline_ok) {
            *reason = pr.reason ? pr.reason : "mirror = inline, but not proved: fork";
            return PTM_EXEC_FORK;
        }
        *reason = "mirror = inline";
        return PTM_EXEC_INLINE;
    default:
        if (pr.inline_ok) {
            *reason = pr.inline_how ? pr.inline_how : pr.redo ? "auto: the mirror calls only shims and clones, and its stores "
                                "outside its locals go to its write buffer"
                              : "auto: the mirror stores only into its locals and calls only "
                                "shims and clones";
            return PTM_EXEC_INLINE;
        }
        /* ptmcc found a call the mirror cannot keep to itself (an unknown
        ** external, a function pointer), or a store it cannot keep from the
        ** host's memory: only the fork executor contains those. */
        *reason = pr.reason ? pr.reason : "auto: fork";
        return PTM_EXEC_FORK;
    }
}

/* observe: runs the mirror and the rules.  Fills c->run, c->signals and
** c->verdict; leaves c->analysed 0 when there is nothing to go by. */
__attribute__((noinline)) static void observe(Call *c)
{
    const struct ptm_tx_desc *d = c->desc;
    enum ptmExecutor executor = choose_executor(d, &c->mirror_reason);
    if (executor == PTM_EXEC_NONE)
        return;
    struct ptmRing *ring = ptmRingForThread();
    if (!ring) {
        c->mirror_reason = "no event ring: mmap failed";
        ptmSetLastError("ptm: %s: cannot map the mirror's event ring", d->transaction_id);
        return;
    }
    stats.mirrors++;
    if (executor == PTM_EXEC_INLINE) {
        ptmInlineRun(d, c->snapshot, mirror_deadline_ns(d), ring, &c->run);
        if (c->run.status == PTM_MS_FAILED) {
            /* The mirror stopped itself (a library call would write host
            ** memory), or there is no inline executor here (setup failed,
            ** no signal to spare): the fork executor contains every mirror. */
            c->mirror_reason = c->run.bailed ? c->run.bailed : "inline executor unavailable; fork";
            ptmForkRun(d, c->snapshot, mirror_deadline_ns(d), ring, &c->run);
        }
    } else {
        ptmForkRun(d, c->snapshot, mirror_deadline_ns(d), ring, &c->run);
    }
    c->mirror_ran = 1;
    switch (c->run.status) {
    case PTM_MS_FAILED:
        ptmSetLastError("ptm: %s: mirror not run: %s", d->transaction_id, c->run.error);
        return;
    case PTM_MS_CRASHED: stats.mirror_crashes++; break;
    case PTM_MS_TIMEOUT: stats.mirror_timeouts++; break;
    case PTM_MS_DENIED: stats.mirror_denials++; break;
    default: break;
    }

    /* The executor judged the mirror's result where it lives (a fork
    ** child, for a frame of any size): no frame here is needed for it
    ** (c->run.verdict). */
    if (c->run.executor == PTM_EXEC_FORK)
        ptmNetCountForkReplays(ring); /* the child's count died with it */
    double deviation = c->history ? ptmHistoryDeviation(c->history, ring) : 0.0;
    ptmSignalsCompute(d, &c->run, &c->view, deviation, &c->signals);
    ptmHistoryModel(c->history, &c->signals, &c->model);
    c->modelled = 1;
    struct ptmObservation obs = {d, &c->run, &c->signals, &c->view, .model = &c->model};
    if (ptmPamAnalyze(&obs, &c->verdict) != PTM_OK) {
        stats.rules_errors++;
        ptmSetLastError("ptm: %s: rules failed, running the primary: %s", d->transaction_id,
                        c->verdict.error);
        return;
    }
    c->analysed = 1;
}

/* noteAttempt: one more attempt of the primary, begun at c->attempt_t0. */
PTM_HOT static void noteAttempt(Call *c)
{
    c->attempt_end = now_ns();
    uint64_t us = (c->attempt_end - c->attempt_t0) / 1000;
    if (c->attempts < MAX_RECORDED_ATTEMPTS)
        c->attempt_us[c->attempts] = us;
    c->attempts++;
    stats.attempts++;
}

/* What ended the call besides its decision, path and outcome, for the
** trace: an alternative's result against the primary's success_criteria,
** and what a dry run returned. */
typedef struct Ending {
    enum ptmMirrorVerdict alt_criteria; /* NONE: no alternative ran, or no criteria */
    const char *would_run;     /* dry run: the function that would have run */
    const char *dry_result;    /* dry run: what the call returned (ptmTxRecord) */
    int probe;                 /* the primary ran as a half-open probe */
} Ending;

static void finish(Call *c, enum ptmDecision decision, const char *path, int success,
                   int dry_run, uint64_t t0, const Ending *e);
static void release(Call *c);

/* restore_adjustments: puts back what the primary was given (resources,
** the sockets' timeouts, the families' adjustments); safe twice.  Each
** restore is called only when something was applied: a call that was
** given nothing (every unmirrored call) touches none of their code. */
PTM_HOT static void restore_adjustments(Call *c)
{
    if (c->grant.active)
        ptmBrokerRestore(&c->grant);
    if (c->socks.n)
        ptmSocketTimeoutsRestore(&c->socks);
    if (c->mirror_ran) /* the families adjust only after a mirror */
        ptmFamiliesPrimaryRestore(&c->fam);
}
static int within_timeout(const Call *c);

/* leftByLongjmp: the primary or the alternative that callHost ran left by
** longjmp, to a frame of the host (a Lua error, png_error): the call ends
** as it would in a plain build.  Before the jump goes on, its record is
** written (a failure: it never returned) and what it held is released,
** since ptm_tx_run's frame is abandoned. */
static void leftByLongjmp(void *ctx)
{
    Call *c = ctx;
    if (c->decision == PTM_DECISION_DIVERT && !c->diverted_late)
        c->attempts = 1;
    else if (c->decision != PTM_DECISION_DIVERT)
        noteAttempt(c);
    c->left = 1;
    restore_adjustments(c);
    finish(c, c->decision, c->path, 0, 0, c->t0, NULL);
    release(c);
}

/* callHost: fn (the primary, an alternative) on c's frame, for the host:
** a longjmp out of it ends the call (leftByLongjmp) and goes on. */
/*
** Whether this thread runs libptm's own part of a call (not its primary or
** alternative, which callHost runs with it cleared).  A transaction called
** while it is set comes from a signal handler that interrupted that part,
** which may hold one of the call's locks (the history's): the new call
** would wait on it for ever, so it runs as a plain build's call.
*/
static _Thread_local int inRuntime;

PTM_HOT static void callHost(Call *c, ptm_thunk fn)
{
    int was = inRuntime;
    inRuntime = 0;
    struct ptmJumpScope scope = {.kind = PTM_SCOPE_CALL,
                                 .hi = (uintptr_t)__builtin_frame_address(0),
                                 .unwind = leftByLongjmp,
                                 .ctx = c};
    /* An unmirrored call's first attempt starts as the call does: one
    ** clock read less on the path that sampling keeps cheap. */
    c->attempt_t0 = c->sampled_out && c->attempts == 0 ? c->t0 : now_ns();
    ptmJumpEnter(&scope);
    fn(c->frame);
    c->last_err = errno;
    ptmJumpLeave(&scope);
    inRuntime = was;
}

/* retry_view: what the attempts so far showed, for a re-judgment. */
static struct ptmRetryView retry_view(const Call *c, unsigned retry_max)
{
    unsigned last = c->attempts - 1;
    double last_ms = last < MAX_RECORDED_ATTEMPTS ? (double)c->attempt_us[last] / 1000.0 : 0;
    return (struct ptmRetryView){
        .attempts = c->attempts,
        .retries_left = retry_max > last ? retry_max - last : 0,
        .last_ms = last_ms,
        .elapsed_ms = (double)(ptmOsNowNs() - c->t0) / 1e6,
        .overran = c->timeout_us && last < MAX_RECORDED_ATTEMPTS &&
                   c->attempt_us[last] > c->timeout_us,
        .same_failure = c->attempts > 1 && c->last_err == c->prev_err,
        .err = c->last_err,
        .tx_window = c->tx_state && c->desc->retry_budget_set ? &c->tx_state->budget : NULL,
        .tx_ratio = ptmRetryBudgetRatioOf(c->desc),
    };
}

/* apply_timing: a judgment's timeout_ms and backoff apply to the call's
** attempts from now on (ptm_timeout_ms() says the new timeout). */
static void apply_timing(Call *c, const struct ptmVerdict *v)
{
    if (v->timeout_us >= 0) {
        c->timeout_us = (uint64_t)v->timeout_us;
        ptmCurrentTimeout(&c->cur, c->timeout_us);
    }
    if (v->backoff_set)
        c->backoff = (Backoff){v->backoff, v->backoff_base_us, v->backoff_cap_us};
}

/* retry_step: attempt c->attempts failed: whether another is spent
** (adjust.c: judged again, the budget).  A re-judgment's timeout_ms and
** backoff apply from the next attempt on. */
__attribute__((noinline)) static enum ptmRetryStep retry_step(Call *c, unsigned *retry_max)
{
    struct ptmObservation first = {
        .desc = c->desc,
        .run = c->mirror_ran ? &c->run : NULL,
        .signals = c->mirror_ran && c->run.status != PTM_MS_FAILED ? &c->signals : NULL,
        .history = &c->view,
        .model = c->modelled ? &c->model : NULL,
    };
    struct ptmRetryView rv = retry_view(c, *retry_max);
    int asked;
    enum ptmRetryStep step = ptmRetryJudge(c->analysed ? &first : NULL, &rv, retry_max,
                                           &c->rejudged, &asked, &c->retry);
    if (asked && !c->rejudged.rules_error)
        apply_timing(c, &c->rejudged);
    return step;
}

/* run_primary: the primary with retries, each from the snapshot.  Returns
** whether the last attempt met success_criteria; *divert: a retry judged
** again diverted the call instead (the caller runs the alternative). */
PTM_HOT static int run_primary(Call *c, unsigned retry_max, int *divert)
{
    const struct ptm_tx_desc *d = c->desc;
    int ok = 0;
    *divert = 0;
    for (unsigned n = 0; n <= retry_max; n++) {
        if (n > 0) {
            sleep_us(backoff_us(&c->backoff, n - 1));
            restore_regions(c);
        }
        restore(c);
        c->prev_err = c->last_err;
        callHost(c, d->primary);
        noteAttempt(c);
        ok = judge(d, c->frame);
        if (ok || n >= retry_max)
            break;
        enum ptmRetryStep step = retry_step(c, &retry_max);
        if (step != PTM_RETRY_GO_ON) {
            *divert = step == PTM_RETRY_DIVERT;
            break;
        }
    }
    return ok;
}


/* quiet_call: whether the call that ends saw and did nothing that keeps
** adaptive sampling's full mirroring armed (sampling.c): a mirror that
** returned with no signal and a probability under the threshold, or no
** mirror, and a primary that met success_criteria at its first attempt,
** within the timeout. */
PTM_HOT static int quiet_call(const Call *c, enum ptmDecision decision, int success, const Ending *e)
{
    if (!success || c->left || decision != PTM_DECISION_PRIMARY || c->attempts != 1 ||
        !within_timeout(c) || c->explored || (e && e->probe))
        return 0;
    if (!c->mirror_ran)
        return 1;
    if (c->run.status != PTM_MS_RETURNED || !c->analysed ||
        c->verdict.probability >= c->desc->threshold)
        return 0;
    return ptmModelCell(&c->signals) == 0 && !c->signals.criteria_failed;
}

PTM_HOT static void finish(Call *c, enum ptmDecision decision, const char *path, int success,
                   int dry_run, uint64_t t0, const Ending *e)
{
    if (!success && !dry_run)
        stats.failures++;
    int adaptive = c->desc->mirror_sampling == PTM_SAMPLING_ADAPTIVE;
    if (adaptive && !dry_run)
        ptmSamplingNote(c->tx_state, quiet_call(c, decision, success, e));
    int diverted = decision == PTM_DECISION_DIVERT;
    if (c->history && !dry_run) {
        unsigned n = c->attempts < MAX_RECORDED_ATTEMPTS ? c->attempts : MAX_RECORDED_ATTEMPTS;
        const struct ptmRing *ring = c->mirror_ran && c->run.status != PTM_MS_FAILED ? c->run.ring : NULL;
        /* A call diverted after attempts (a retry judged again) measured them. */
        int measured = !diverted || c->diverted_late;
        /* A label: the primary ran after a mirror that gave signals.  It
        ** failed when success_criteria failed or it overran the timeout
        ** (a call diverted after attempts: they failed). */
        int primary_ran = c->attempts > 0 && (decision != PTM_DECISION_DIVERT || c->diverted_late);
        int primary_failed = !success || !within_timeout(c) || c->diverted_late;
        struct ptmHistoryOutcome o = {
            .success = success,
            .diverted = diverted,
            .attempt_us = measured ? c->attempt_us : NULL,
            .n_attempts = measured ? n : 0,
            .ring = ring,
            .path = path,
            .primary_ran = primary_ran,
            .primary_failed = primary_failed,
            .labelled = primary_ran && c->modelled,
            .cell = c->modelled ? c->model.cell : 0,
        };
        ptmHistoryEnd(c->history, &o);
    }
    struct ptmTxRecord r = {
        .desc = c->desc,
        .run = c->mirror_ran ? &c->run : NULL,
        .signals = c->mirror_ran && c->run.status != PTM_MS_FAILED ? &c->signals : NULL,
        .verdict = c->analysed || c->verdict.rules_error ? &c->verdict : NULL,
        .decision = decision,
        .path = path,
        .attempts = c->attempts,
        .success = success,
        .dry_run = dry_run,
        .duration_ns = (c->sampled_out && c->attempt_end ? c->attempt_end : now_ns()) - t0,
        .mirror_reason = c->mirror_reason,
        .left = c->left,
        .alt_criteria = e ? e->alt_criteria : PTM_VERDICT_NONE,
        .would_run = e ? e->would_run : NULL,
        .dry_result = e ? e->dry_result : NULL,
        .probe = e ? e->probe : 0,
        .observe = env.observe && !dry_run && decision != PTM_DECISION_DISABLED,
        .predicted = c->predicted,
        .model = c->modelled ? &c->model : NULL,
        .history_store = ptmTraceWanted() ? ptmStoreState() : NULL, /* trace only */
        .timeout_us = c->timeout_us,
        .retry = c->retry.n_judged || c->retry.stopped ? &c->retry : NULL,
        .resources = c->grant.active ? &c->grant : NULL,
        .sampling = adaptive,
        .mirror_sampled = adaptive && !c->sampled_out,
        .sampling_every = c->sampling_every,
        .explored = c->explored,
    };
    ptmTraceWrite(&r);
    ptmMetricsRecord(&r);
}

/* release: frees what the call holds. */
PTM_HOT static void release(Call *c)
{
    if (c->cur_entered)
        ptmCurrentLeave(&c->cur);
    c->cur_entered = 0;
    if (c->mirror_ran) /* the executors' run holds nothing otherwise */
        ptmMirrorRunRelease(&c->run);
    free(c->regions);
    free(c->saved);
    if (c->snapshot_owned)
        free(c->snapshot);
}

/* timeout_only: whether the verdict rests on a predicted timeout alone:
** no contention, no validation error -- nothing this call's mirror saw
** fail, only a duration, which comes from the past (the history's
** latencies, a response time the mirror replayed). */
static int timeout_only(const Call *c)
{
    const struct ptmSignals *s = &c->signals;
    return c->analysed && c->mirror_ran && c->run.status != PTM_MS_FAILED && !s->contention &&
           !s->validation && isgreater(s->predicted_timeout_ms, s->acceptable_timeout_ms);
}

/* within_timeout: whether the primary's last attempt took no longer than
** the timeout key (none: any time is within). */
PTM_HOT static int within_timeout(const Call *c)
{
    unsigned last = c->attempts - 1;
    return !c->timeout_us || c->attempts == 0 || last >= MAX_RECORDED_ATTEMPTS ||
           c->attempt_us[last] <= c->timeout_us;
}

/*
** dry_run_result: what a dry run (PTM_DRY_RUN) returns.  Nothing ran but
** the mirror, so the call returns the mirror's result: its frame, copied
** into the caller's, when the mirror returned and handed it back.  That
** result was computed in the mirror's world: what it describes (a file
** written, memory changed, a pointer to the mirror's memory) did not
** happen, and a pointer result is cleared.  When there is no such result
** (the mirror crashed, exited, timed out, did not run, or kept a frame too
** large to hand back), the caller's frame keeps its arguments and a zero
** result, and the call is a failure.
** OUT: frame (the mirror's result, when there is one), *why: for the
** trace, "mirror", "mirror, pointer cleared" or "none: ..." (static).
** Returns the call's outcome: 1 when the mirror returned a result that
** meets success_criteria (or there are none), else 0.
*/
__attribute__((noinline)) static int dry_run_result(Call *c, void *frame, const char **why)
{
    const struct ptm_tx_desc *d = c->desc;
    if (!c->mirror_ran)
        *why = "none: no mirror ran";
    else if (c->run.status == PTM_MS_FAILED)
        *why = "none: the mirror failed";
    else if (c->run.status == PTM_MS_CRASHED)
        *why = c->run.signo ? "none: the mirror crashed" : "none: the mirror exited";
    else if (c->run.status == PTM_MS_TIMEOUT)
        *why = "none: the mirror timed out";
    else if (!c->run.frame_valid)
        *why = c->run.frame_lost ? "none: the mirror's frame was not handed back"
                                 : "none: the mirror returned no frame";
    else
        *why = NULL;
    if (*why) {
        /* Not a silent zero: the caller can ask (unless a cause was said
        ** already: the mirror could not run), the trace says it. */
        if (!ptm_last_error()[0])
            ptmSetLastError("ptm: %s: dry run: the mirror's result is not available (%s); "
                            "the call's result is zero",
                            d->transaction_id,
                            c->mirror_ran && c->run.frame_lost ? c->run.frame_lost : *why + 6);
        return 0;
    }
    memcpy(frame, c->run.frame, d->frame_size);
    *why = "mirror";
    if (d->drop_result) {
        /* What a pointer result points to was the mirror's, and is gone. */
        d->drop_result(frame);
        *why = "mirror, pointer cleared";
    }
    return c->run.verdict != PTM_VERDICT_FAILED;
}

/* in_mirror: a transaction called from inside a fork mirror (code the
** child runs unproved, a handler of the host) runs that transaction's
** mirror, and nothing else: the child's effects end with it. */
static int run_nested_mirror(const struct ptm_tx_desc *d, void *frame)
{
    d->mirror(frame);
    return judge(d, frame);
}

/* run_for_shim: a shim called this transaction's function on a mirror's
** behalf (ptmShimCalling): its primary runs once, as the library's code
** the shim meant to call; nothing is recorded. */
static int run_for_shim(const struct ptm_tx_desc *d, void *frame)
{
    d->primary(frame);
    return judge(d, frame);
}

/* run_in_peer_mirror: another runtime's mirror runs on this thread (this
** is its fork child, running this module's code as unknown code): to that
** mirror this transaction is plain code, and its primary runs once, as in
** a plain build, under that mirror's sandbox; nothing is recorded here. */
static int run_in_peer_mirror(const struct ptm_tx_desc *d, void *frame)
{
    d->primary(frame);
    return d->abi == PTM_ABI_VERSION ? judge(d, frame) : 1;
}

/* apply_verdict: the first judgment's timeout_ms and backoff apply to the
** call, and its prediction is what ptm_prediction() says in the primary. */
static void apply_verdict(Call *c)
{
    if (!c->analysed)
        return;
    apply_timing(c, &c->verdict);
    ptmCurrentPredict(&c->cur, &c->verdict, ptmPredictedErrno(&c->run, &c->signals), NULL);
}

/* run_alternative: alternative alt, from the snapshot; its outcome is that
** it returned.  ptm_prediction() tells it why: the last re-judgment's
** verdict and the last attempt's errno when attempts were made, else the
** first judgment and the mirror's predicted errno. */
__attribute__((noinline)) static int run_alternative(Call *c, unsigned alt, Ending *e)
{
    const struct ptm_tx_desc *d = c->desc;
    stats.diversions++;
    const char *name = d->alternatives[alt].name;
    if (c->attempts > 0)
        ptmCurrentPredict(&c->cur, &c->rejudged, c->last_err, name);
    else
        ptmCurrentPredict(&c->cur, &c->verdict, ptmPredictedErrno(&c->run, &c->signals), name);
    restore_regions(c);
    restore(c);
    unsigned made = c->attempts;
    callHost(c, d->alternatives[alt].call);
    c->attempts = made ? made : 1;
    /* success_criteria describes the primary's result: an alternative
    ** (a queue instead of a write, a cached answer) has results of its
    ** own meaning.  Its outcome is that it returned; what the primary's
    ** criteria say of its result is only reported. */
    if (d->success)
        e->alt_criteria = judge(d, c->frame) ? PTM_VERDICT_MET : PTM_VERDICT_FAILED;
    return 1;
}

/* tx_run: ptm_tx_run's call, with inRuntime set. */
PTM_HOT static int tx_run(const struct ptm_tx_desc *d, void *frame)
{
    pthread_once(&env_once, read_env);
    if (ptmShimCalling)
        return run_for_shim(d, frame);
    if (ptmMirrorCurrent)
        return run_nested_mirror(d, frame);
    if (ptmPeerInMirror())
        return run_in_peer_mirror(d, frame);
    if (!pinned && !atomic_exchange(&pinned, 1))
        ptmPeerPin(); /* threads, thread keys and atexit handlers point here now */
    uint64_t t0 = now_ns();
    stats.transactions++;
    ptmLastErrorClear();

    if (d->abi != PTM_ABI_VERSION) {
        /* The fields up to .primary keep their place in every ABI. */
        ptmSetLastError("ptm: %s: built for PTM ABI %u, this libptm is %u; running the primary",
                        d->transaction_id, d->abi, PTM_ABI_VERSION);
        d->primary(frame);
        return 1;
    }

    Call c;
    call_init(&c, d, frame, t0);
    unsigned char stack_copy[STACK_SNAPSHOT];
    c.snapshot = d->frame_size <= sizeof stack_copy ? stack_copy : malloc(d->frame_size);
    if (!c.snapshot) {
        ptmSetLastError("ptm: %s: no memory for the execution snapshot", d->transaction_id);
        d->primary(frame);
        return judge(d, frame);
    }
    c.snapshot_owned = c.snapshot != stack_copy;
    memcpy(c.snapshot, frame, d->frame_size);

    int success;
    if (env.disable) {
        c.mirror_reason = "PTM_DISABLE";
        c.decision = PTM_DECISION_DISABLED;
        c.path = d->function;
        stats.primaries++;
        int no_divert;
        success = run_primary(&c, 0, &no_divert);
        finish(&c, PTM_DECISION_DISABLED, d->function, success, 0, t0, NULL);
        goto out;
    }

    int adaptive = d->mirror_sampling == PTM_SAMPLING_ADAPTIVE;
    if (adaptive || d->retry_budget_set)
        c.tx_state = ptmTxStateFor(d);
    ptmRetryBudgetCallAt(t0);
    if (c.tx_state && d->retry_budget_set)
        ptmRetryWindowCall(&c.tx_state->budget, t0);
    ptmCurrentEnter(&c.cur, c.timeout_us);
    c.cur_entered = 1;
    save_regions(&c);
    c.history = history_of(&c);
    /* Adaptive sampling: a quiet transaction mirrors a share of its calls;
    ** one left unmirrored runs its primary as a plain call would (the
    ** metadata's retries and timeout), and its outcome still counts.  A
    ** dry run always mirrors: the mirror is all it runs. */
    c.sampling_every = 1;
    if (adaptive && !env.dry_run && !ptmSamplingMirror(c.tx_state, &c.sampling_every)) {
        c.sampled_out = 1;
        c.mirror_reason = ptmSamplingReason(c.sampling_every);
    } else {
        ptmHistoryGet(c.history, &c.view); /* zeroed when there is none */
        observe(&c);
    }
    if (c.mirror_ran && c.run.status == PTM_MS_LONGJMP && ptmJumpPending()) {
        /* A signal handler of the host jumped out of the call while its
        ** inline mirror ran: the jump is the host's, and goes on now that
        ** the mirror has ended, before the primary ever ran. */
        c.left = 1;
        finish(&c, PTM_DECISION_PRIMARY, d->function, 0, 0, t0, NULL);
        release(&c);
        inRuntime = 0; /* the jump goes on into the host's code */
        ptmJumpResume();
    }

    int divert = c.analysed && d->n_alternatives > 0 && c.verdict.probability >= d->threshold;
    /* A half-open probe: the timeout was predicted from the past alone. */
    int probe = divert && !env.dry_run && timeout_only(&c) && ptmHistoryProbe(c.history);
    if (probe)
        divert = 0;
    unsigned alt = c.verdict.divert >= 0 && (unsigned)c.verdict.divert < d->n_alternatives
                       ? (unsigned)c.verdict.divert
                       : 0;
    unsigned retry_max = c.analysed && c.verdict.retry_max >= 0 ? (unsigned)c.verdict.retry_max
                                                                : d->retry_max;
    c.predicted = divert ? PTM_DECISION_DIVERT : PTM_DECISION_PRIMARY;
    int observing = env.observe && !env.dry_run;
    /* Exploration (the key allows it, never otherwise): a share of the
    ** calls the rules would divert run the primary once, as a plain build
    ** would, for a label.  It lets a predicted failure happen, on purpose. */
    if (divert && !probe && !observing && !env.dry_run && ptmExplore(d)) {
        divert = 0;
        c.explored = 1;
    }
    int plain = observing || c.explored;
    if (plain) {
        /* Observe: the prediction is recorded, the primary runs once, as
        ** in a plain build (no retries, timeouts or resources of the
        ** rules), and its outcome labels the prediction. */
        divert = probe = 0;
        retry_max = 0;
    } else {
        apply_verdict(&c);
    }
    enum ptmDecision decision = divert ? PTM_DECISION_DIVERT : PTM_DECISION_PRIMARY;
    const char *path = divert ? d->alternatives[alt].name : d->function;
    c.decision = decision;
    c.path = path;

    if (env.dry_run) {
        Ending e = {.would_run = path};
        success = dry_run_result(&c, frame, &e.dry_result);
        finish(&c, decision, NULL, success, 1, t0, &e);
        goto out;
    }

    Ending e = {.probe = probe};
    if (divert) {
        success = run_alternative(&c, alt, &e);
    } else {
        stats.primaries++;
        uint64_t mem = c.analysed && c.verdict.memory_bytes ? c.verdict.memory_bytes
                                                            : d->memory_bytes;
        unsigned cpus = c.analysed && c.verdict.cpus ? c.verdict.cpus : d->cpus;
        if (!plain && (mem || cpus)) /* nothing asked: grant.active stays 0 */
            ptmBrokerApply(mem, cpus, &c.grant);
        /* The rules' timeout for this call, on the host's sockets its
        ** mirror used (the metadata's alone changes nothing of a plain
        ** program's sockets). */
        if (!plain && c.analysed && c.verdict.timeout_us > 0 &&
            c.run.status != PTM_MS_FAILED)
            ptmSocketTimeoutsApply(c.run.ring, c.timeout_us, &c.socks);
        /* The host's handles its mirror used, adjusted by their families
        ** for the primary (SQLite: a finer busy wait, bounded by the
        ** rules' timeout when they set one). */
        if (!observing && c.mirror_ran && c.run.status != PTM_MS_FAILED)
            ptmFamiliesPrimaryApply(c.run.ring,
                                    c.analysed && c.verdict.timeout_us > 0 ? c.timeout_us : 0,
                                    &c.fam);
        int late;
        success = run_primary(&c, retry_max, &late);
        restore_adjustments(&c);
        if (probe)
            ptmHistoryProbeDone(c.history, success && within_timeout(&c));
        else if (c.mirror_ran && c.run.status != PTM_MS_FAILED && c.signals.half_open &&
                 success && within_timeout(&c))
            ptmHistoryProbeDone(c.history, 1); /* a peer's half-open probe (net.c) */
        if (late) {
            /* A retry judged again found the next attempt doomed. */
            unsigned a = c.rejudged.divert >= 0 && (unsigned)c.rejudged.divert < d->n_alternatives
                             ? (unsigned)c.rejudged.divert
                             : 0;
            decision = PTM_DECISION_DIVERT;
            path = d->alternatives[a].name;
            c.decision = decision;
            c.path = path;
            c.diverted_late = 1;
            success = run_alternative(&c, a, &e);
        }
    }
    finish(&c, decision, path, success, 0, t0, &e);

out:
    release(&c);
    return success;
}

PTM_HOT int ptm_tx_run(const struct ptm_tx_desc *d, void *frame)
{
    /* An inline mirror's clones call clones, never this: a call made while
    ** one runs on this thread comes from the host's signal handler, whose
    ** call a plain build would make for real (as a nested mirror, its
    ** effect was dropped with the mirror's write buffer). */
    if (ptmRedoCurrent || (inRuntime && !ptmMirrorCurrent)) {
        d->primary(frame);
        return judge(d, frame);
    }
    int was = inRuntime;
    inRuntime = 1;
    int r = tx_run(d, frame);
    inRuntime = was;
    return r;
}
