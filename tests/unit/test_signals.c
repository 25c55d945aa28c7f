/*
** test_signals.c - signals.c (the seed's detectors) and history.c
** (latency statistics, the deviation baseline).
*/
#include <errno.h>
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

/* --- helpers ------------------------------------------------------------ */

static struct ptmRing *newRing(void)
{
    struct ptmRing *ring = NULL;
    cr_assert_eq(ptmRingCreate(64, &ring), PTM_OK);
    cr_assert_not_null(ring);
    return ring;
}

static struct ptmEvent *push(struct ptmRing *ring, enum ptmEventKind kind, unsigned call, int err)
{
    struct ptmEvent *ev = ptmRingPush(ring);
    cr_assert_not_null(ev);
    ev->kind = (uint16_t)kind;
    ev->call = (uint16_t)call;
    ev->err = err;
    ev->result = err ? -1 : 0;
    ev->flags = PTM_EVF_EFFECT; /* as a write-intent call records it */
    return ev;
}

static struct ptm_tx_desc descNamed(const char *id)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = id,
        .function = "fn",
        .threshold = 0.4,
    };
}

static struct ptmMirrorRun runOf(struct ptmRing *ring, enum ptmMirrorStatus status,
                                 uint64_t duration_ns)
{
    return (struct ptmMirrorRun){
        .status = status, .executor = PTM_EXEC_INLINE, .duration_ns = duration_ns, .ring = ring};
}

/* --- ptmErrnoClass ------------------------------------------------------ */

Test(errno_class, validation_class)
{
    const int v[] = {EINVAL, EACCES, EPERM, EROFS, EEXIST, ENOENT, EBADF, EISDIR,
                     ENOTDIR, ENOSPC, EFBIG, EDQUOT, ENAMETOOLONG, ERANGE, EDOM};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_expect_str_eq(ptmErrnoClass(v[i]), "validation", "errno %d", v[i]);
}

Test(errno_class, contention_class)
{
    const int c[] = {EAGAIN, EWOULDBLOCK, EBUSY, EDEADLK, ETXTBSY, ENOLCK, EINTR};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        cr_expect_str_eq(ptmErrnoClass(c[i]), "contention", "errno %d", c[i]);
}

Test(errno_class, others_unclassified)
{
    const int o[] = {0, EIO, ENOMEM, ECONNREFUSED, ETIMEDOUT, EPIPE, -1, 100000};
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        cr_expect_null(ptmErrnoClass(o[i]), "errno %d", o[i]);
}

Test(errno_class, event_kind_names)
{
    cr_expect_str_eq(ptmEventKindName(PTM_EV_CALL), "call");
    cr_expect_str_eq(ptmEventKindName(PTM_EV_VALIDATE), "validate");
    cr_expect_str_eq(ptmEventKindName(PTM_EV_DENIED), "denied");
    cr_expect_str_eq(ptmEventKindName(99), "?");
}

/* --- ptmSignalsCompute -------------------------------------------------- */

Test(signals, clean_mirror_has_no_signal)
{
    struct ptmRing *ring = newRing();
    push(ring, PTM_EV_CALL, PTM_CALL_fopen, 0);
    push(ring, PTM_EV_CALL, PTM_CALL_fprintf, 0);
    struct ptm_tx_desc d = descNamed("s.clean");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 420000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0.25, &s);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.validation, 0);
    cr_expect_float_eq(s.predicted_timeout_ms, 0.42, 1e-12);
    cr_expect(isinf(s.acceptable_timeout_ms) && s.acceptable_timeout_ms > 0);
    cr_expect_float_eq(s.deviation, 0.25, 1e-12);
    cr_expect_eq(s.error_events, 0);
    cr_expect_eq(s.contention_events, 0);
    cr_expect_eq(s.validation_failures, 0);
    ptmRingDestroy(ring);
}

Test(signals, validation_from_errno)
{
    struct ptmRing *ring = newRing();
    push(ring, PTM_EV_CALL, PTM_CALL_fopen, EACCES);
    struct ptm_tx_desc d = descNamed("s.v");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 1);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.error_events, 1);
    cr_expect_eq(s.validation_failures, 0, "only ptm_validate failures count here");
    ptmRingDestroy(ring);
}

/* An errno success_criteria accepts (errno == EEXIST) is counted, but is
** no validation signal; another errno still is. */
Test(signals, an_accepted_errno_is_not_validation)
{
    static const int accepted[] = {EEXIST};
    struct ptmRing *ring = newRing();
    push(ring, PTM_EV_CALL, PTM_CALL_mkdir, EEXIST);
    struct ptm_tx_desc d = descNamed("s.accepted");
    d.accepted_errnos = accepted;
    d.n_accepted_errnos = 1;
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.error_events, 1);
    push(ring, PTM_EV_CALL, PTM_CALL_mkdir, ENOTDIR);
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 1);
    ptmRingDestroy(ring);
}

Test(signals, validation_from_ptm_validate)
{
    struct ptmRing *ring = newRing();
    struct ptmEvent *ev = push(ring, PTM_EV_VALIDATE, PTM_CALL_ptm_validate, 0);
    strcpy(ev->target, "amount must be positive");
    push(ring, PTM_EV_VALIDATE, PTM_CALL_ptm_validate, 0);
    struct ptm_tx_desc d = descNamed("s.pv");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 1);
    cr_expect_eq(s.validation_failures, 2);
    cr_expect_eq(s.error_events, 0);
    ptmRingDestroy(ring);
}

Test(signals, validation_from_crash)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.crash");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_CRASHED, 1000);
    run.signo = 11;
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 1);
    cr_expect_eq(s.contention, 0);
    ptmRingDestroy(ring);
}

Test(signals, contention_from_errno)
{
    const int c[] = {EAGAIN, EBUSY, EDEADLK, ETXTBSY, ENOLCK, EINTR};
    struct ptmRing *ring = newRing();
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        push(ring, PTM_EV_CALL, PTM_CALL_open, c[i]);
    struct ptm_tx_desc d = descNamed("s.c");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.contention, 1);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.contention_events, 6);
    cr_expect_eq(s.error_events, 6);
    ptmRingDestroy(ring);
}

Test(signals, other_errors_only_counted)
{
    struct ptmRing *ring = newRing();
    push(ring, PTM_EV_CALL, PTM_CALL_write, EIO);
    struct ptm_tx_desc d = descNamed("s.eio");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.error_events, 1);
    ptmRingDestroy(ring);
}

Test(signals, read_side_errors_only_inform)
{
    /* fopen(path, "r") of a missing file: the program's normal path. */
    struct ptmRing *ring = newRing();
    push(ring, PTM_EV_CALL, PTM_CALL_fopen, ENOENT)->flags = 0;
    push(ring, PTM_EV_CALL, PTM_CALL_open, EAGAIN)->flags = 0;
    struct ptm_tx_desc d = descNamed("s.read");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.contention_events, 0);
    cr_expect_eq(s.error_events, 2);
    ptmRingDestroy(ring);
}

Test(signals, failed_criteria_is_validation_unless_denied)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.crit");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    run.verdict = PTM_VERDICT_FAILED;
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 1);
    cr_expect_eq(s.criteria_failed, 1);

    /* The sandbox refused a call: the failure may be its doing. */
    run.status = PTM_MS_DENIED;
    run.denied = 1;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.criteria_failed, 0);
    ptmRingDestroy(ring);
}

/* A result that fails success_criteria with a contention-class errno
** (EAGAIN: the resource was busy) is a transient failure: contention,
** which retries are for, not validation, which diverts.  Any other errno
** (or none) stays validation. */
Test(signals, failed_criteria_with_a_transient_errno_is_contention)
{
    static const int transient[] = {EAGAIN, EWOULDBLOCK, EBUSY, EDEADLK, ETXTBSY, ENOLCK, EINTR};
    static const int lasting[] = {0, ENOENT, EACCES, EINVAL, ENOSPC, EIO, ECONNREFUSED};
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.crit.errno");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    run.verdict = PTM_VERDICT_FAILED;
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
        atomic_store(&ring->end_errno, transient[i]);
        ptmSignalsCompute(&d, &run, NULL, 0, &s);
        cr_expect_eq(s.contention, 1, "errno %d", transient[i]);
        cr_expect_eq(s.validation, 0, "errno %d", transient[i]);
        cr_expect_eq(s.criteria_failed, 1);
        cr_expect_eq(s.criteria_errno, transient[i]);
    }
    for (size_t i = 0; i < sizeof lasting / sizeof lasting[0]; i++) {
        atomic_store(&ring->end_errno, lasting[i]);
        ptmSignalsCompute(&d, &run, NULL, 0, &s);
        cr_expect_eq(s.validation, 1, "errno %d", lasting[i]);
        cr_expect_eq(s.contention, 0, "errno %d", lasting[i]);
    }
    /* The errno of a result that met the criteria says nothing. */
    run.verdict = PTM_VERDICT_NONE;
    atomic_store(&ring->end_errno, EAGAIN);
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.criteria_errno, 0);
    ptmRingDestroy(ring);
}

/* A mirror whose calls report failure by result code, not errno (SQLite's
** SQLITE_BUSY), ends with errno 0: the last failed call's errno classes its
** failing result.  Its own errno, when it has one, still decides. */
Test(signals, failed_criteria_without_errno_takes_the_last_failed_call)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.crit.lastcall");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;
    run.verdict = PTM_VERDICT_FAILED;
    push(ring, PTM_EV_CALL, PTM_CALL_open, ENOENT)->flags = 0; /* no effect */
    push(ring, PTM_EV_CALL, PTM_CALL_open, EBUSY)->flags = 0;
    atomic_store(&ring->end_errno, 0);
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.contention, 1);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.criteria_errno, EBUSY);
    push(ring, PTM_EV_CALL, PTM_CALL_open, EINVAL)->flags = 0;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 1);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.criteria_errno, EINVAL);
    atomic_store(&ring->end_errno, EAGAIN);
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.contention, 1);
    cr_expect_eq(s.criteria_errno, EAGAIN);
    ptmRingDestroy(ring);
}

/* expectInconclusiveUntilReal: run, whose result fails the criteria, went
** past ev, marked pretended: neither its result nor a crash is evidence.
** Once ev is real (unmarked), the failing result is. */
static void expectInconclusiveUntilReal(const struct ptm_tx_desc *d, struct ptmMirrorRun *run,
                                        struct ptmEvent *ev)
{
    struct ptmSignals s;
    ptmSignalsCompute(d, run, NULL, 0, &s);
    cr_expect_eq(s.validation, 0, "the mirror's failure came from what it pretended");
    cr_expect_eq(s.criteria_failed, 0);
    run->status = PTM_MS_CRASHED;
    ptmSignalsCompute(d, run, NULL, 0, &s);
    cr_expect_eq(s.validation, 0);
    ev->flags &= ~PTM_EVF_PRETENDED;
    run->status = PTM_MS_RETURNED;
    ptmSignalsCompute(d, run, NULL, 0, &s);
    /* Evidence of the class of the last failed call (a lock found busy:
    ** contention), or validation. */
    cr_expect(s.validation || s.contention);
    cr_expect_eq(s.criteria_failed, 1);
}

Test(signals, past_a_held_lock_the_result_is_not_evidence)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.race");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmEvent *ev = push(ring, PTM_EV_CALL, PTM_CALL_pthread_mutex_lock, EBUSY);
    ev->flags |= PTM_EVF_EFFECT | PTM_EVF_PRETENDED;
    run.verdict = PTM_VERDICT_FAILED;
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    /* The mirror went on without the lock and may have read another
    ** thread's half-made change: the contention is the prediction. */
    cr_expect_eq(s.contention, 1);
    /* A lock it took, or none: the result counts. */
    expectInconclusiveUntilReal(&d, &run, ev);
    ptmRingDestroy(ring);
}

Test(signals, past_an_unrecorded_receive_the_result_is_not_evidence)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.recv");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmEvent *ev = push(ring, PTM_EV_CALL, PTM_CALL_recv, 0);
    ev->flags = PTM_EVF_PRETENDED;    /* no errno, no effect: an invented empty read */
    run.verdict = PTM_VERDICT_FAILED;
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.error_events, 0);
    /* A replayed response: the result counts. */
    expectInconclusiveUntilReal(&d, &run, ev);
    ptmRingDestroy(ring);
}

Test(signals, seccomp_denial_is_not_validation)
{
    struct ptmRing *ring = newRing();
    push(ring, PTM_EV_DENIED, PTM_CALL_SYSCALL | 1 /* write */, EPERM);
    struct ptm_tx_desc d = descNamed("s.denied");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_DENIED, 1000);
    run.denied = 1;
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.contention, 0);
    cr_expect_eq(s.error_events, 0);
    ptmRingDestroy(ring);
}

Test(signals, timeouts)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.t");
    d.timeout_us = 250000;
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 3500000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_float_eq(s.acceptable_timeout_ms, 250.0, 1e-12);
    cr_expect_float_eq(s.predicted_timeout_ms, 3.5, 1e-12);

    run.status = PTM_MS_TIMEOUT;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect(isinf(s.predicted_timeout_ms) && s.predicted_timeout_ms > 0);
    cr_expect(s.predicted_timeout_ms > s.acceptable_timeout_ms);
    ptmRingDestroy(ring);
}

Test(signals, timeout_prediction_uses_history)
{
    struct ptm_tx_desc d = descNamed("s.h");
    struct ptmMirrorRun run = runOf(NULL, PTM_MS_RETURNED, 1000000); /* 1 ms */
    struct ptmHistoryView h = {.latency_n = 3, .latency_mean_us = 2000, .latency_sd_us = 500};
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, &h, 0, &s);
    cr_expect_float_eq(s.predicted_timeout_ms, 3.0, 1e-12, "mean + 2 sd = 3 ms");

    h.latency_n = 2; /* too few samples: the mirror alone */
    ptmSignalsCompute(&d, &run, &h, 0, &s);
    cr_expect_float_eq(s.predicted_timeout_ms, 1.0, 1e-12);

    h = (struct ptmHistoryView){.latency_n = 10, .latency_mean_us = 100, .latency_sd_us = 10};
    ptmSignalsCompute(&d, &run, &h, 0, &s); /* the mirror is slower than history */
    cr_expect_float_eq(s.predicted_timeout_ms, 1.0, 1e-12);
}

Test(signals, a_half_open_probe_is_not_vetoed_by_history)
{
    struct ptm_tx_desc d = descNamed("s.half");
    struct ptmRing *ring = newRing();
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000000); /* 1 ms */
    struct ptmHistoryView h = {.latency_n = 9, .latency_mean_us = 9000, .latency_sd_us = 20000};
    struct ptmSignals s;

    push(ring, PTM_EV_CALL, PTM_CALL_recv, 0);
    ptmSignalsCompute(&d, &run, &h, 0, &s);
    cr_expect_float_eq(s.predicted_timeout_ms, 49.0, 1e-9, "the history's mean + 2 sd");
    cr_expect_not(s.half_open);
    /* The receive probed a peer whose last receive timed out: the
    ** latencies that timeout made long are not this call's prediction. */
    ring->ev[0].flags |= PTM_EVF_HALF_OPEN;
    ptmSignalsCompute(&d, &run, &h, 0, &s);
    cr_expect(s.half_open);
    cr_expect_float_eq(s.predicted_timeout_ms, 1.0, 1e-12, "the mirror's own");
    cr_expect_not(s.pretended, "a replayed answer, not an invented one");
    ptmRingDestroy(ring);
}

Test(signals, no_mirror)
{
    struct ptm_tx_desc d = descNamed("s.none");
    d.timeout_us = 1000;
    struct ptmSignals s;
    ptmSignalsCompute(&d, NULL, NULL, NAN, &s);
    cr_expect_eq(s.validation, 0);
    cr_expect_eq(s.contention, 0);
    cr_expect_float_eq(s.predicted_timeout_ms, 0.0, 1e-12);
    cr_expect_float_eq(s.acceptable_timeout_ms, 1.0, 1e-12);
    cr_expect_float_eq(s.deviation, 0.0, 1e-12, "a NaN deviation becomes 0");
}

/* --- history: latency ---------------------------------------------------- */

Test(history, same_id_same_history)
{
    struct ptm_tx_desc a = descNamed("h.same"), b = descNamed("h.same"), c = descNamed("h.other");
    struct ptmHistory *ha = ptmHistoryFor(&a);
    cr_assert_not_null(ha);
    cr_expect_eq(ptmHistoryFor(&b), ha);
    cr_expect_neq(ptmHistoryFor(&c), ha);
    cr_expect_eq(ptmHistoryFor(&a), ha);
}

Test(history, welford)
{
    struct ptm_tx_desc d = descNamed("h.welford");
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmHistoryView v;

    ptmHistoryGet(h, &v);
    cr_expect_eq(v.calls, 0);
    cr_expect_eq(v.latency_n, 0);
    cr_expect_float_eq(v.latency_sd_us, 0.0, 1e-12);

    const uint64_t first[] = {100};
    ptmHistoryRecord(h, 1, 0, first, 1, NULL);
    ptmHistoryGet(h, &v);
    cr_expect_float_eq(v.latency_mean_us, 100.0, 1e-9);
    cr_expect_float_eq(v.latency_sd_us, 0.0, 1e-12, "one sample has no spread");

    const uint64_t more[] = {200, 300};  /* one call with a retry */
    ptmHistoryRecord(h, 0, 0, more, 2, NULL);
    const uint64_t last[] = {400};
    ptmHistoryRecord(h, 1, 0, last, 1, NULL);
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.calls, 3);
    cr_expect_eq(v.successes, 2);
    cr_expect_eq(v.failures, 1);
    cr_expect_eq(v.diversions, 0);
    cr_expect_eq(v.latency_n, 4);
    cr_expect_float_eq(v.latency_mean_us, 250.0, 1e-9);
    /* sample variance of 100..400: (150^2 + 50^2 + 50^2 + 150^2) / 3 */
    cr_expect_float_eq(v.latency_sd_us, sqrt(50000.0 / 3.0), 1e-9);

    const uint64_t alt[] = {99999};
    ptmHistoryRecord(h, 1, 1, alt, 1, NULL); /* diverted: not a primary latency */
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.calls, 4);
    cr_expect_eq(v.diversions, 1);
    cr_expect_eq(v.latency_n, 4);
    cr_expect_float_eq(v.latency_mean_us, 250.0, 1e-9);
}

Test(history, welford_is_stable_for_large_values)
{
    struct ptm_tx_desc d = descNamed("h.stable");
    struct ptmHistory *h = ptmHistoryFor(&d);
    for (int i = 0; i < 1000; i++) {
        uint64_t x = 1000000000ull + (i % 2 ? 1 : 0) * 2; /* 1e9, 1e9+2, ... */
        ptmHistoryRecord(h, 1, 0, &x, 1, NULL);
    }
    struct ptmHistoryView v;
    ptmHistoryGet(h, &v);
    /* Aged: the mean follows the last samples (within 1/8 of a step). */
    cr_expect_float_eq(v.latency_mean_us, 1000000001.0, 0.2);
    cr_expect_float_eq(v.latency_sd_us, 1.0, 0.2);
}

/* Old latencies age: after one slow call among fast ones, enough fast
** calls bring mean + 2 sd back under the slow call's time; with equal
** weights for ever (Welford alone) it would stay far above it. */
Test(history, old_latencies_age)
{
    struct ptm_tx_desc d = descNamed("h.aging");
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmHistoryView v;
    const uint64_t fast = 10000, slow = 2000000; /* 10 ms, 2 s */
    for (int i = 0; i < 20; i++)
        ptmHistoryRecord(h, 1, 0, &fast, 1, NULL);
    ptmHistoryRecord(h, 1, 0, &slow, 1, NULL);
    ptmHistoryGet(h, &v);
    cr_expect_gt(v.latency_mean_us + 2 * v.latency_sd_us, 1000000, "the slow call counts");
    for (int i = 0; i < 40; i++)
        ptmHistoryRecord(h, 1, 0, &fast, 1, NULL);
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.latency_n, 61);
    cr_expect_lt(v.latency_mean_us + 2 * v.latency_sd_us, 150000, /* Welford: 553 ms */
                 "40 fast calls later: %.0f us", v.latency_mean_us + 2 * v.latency_sd_us);
}

/* The half-open probe: every 4th call diverted for a timeout alone runs
** the primary; a probe that failed makes the next one wait twice as long;
** one that recovered forgets the latencies and starts again. */
Test(history, timeout_diverts_are_probed_half_open)
{
    struct ptm_tx_desc d = descNamed("h.probe");
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmHistoryView v;
    int i, probes = 0;

    cr_expect_eq(ptmHistoryProbe(NULL), 0);
    for (i = 1; i <= 3; i++)
        cr_expect_eq(ptmHistoryProbe(h), 0, "call %d", i);
    cr_expect_eq(ptmHistoryProbe(h), 1, "the 4th is a probe");
    ptmHistoryProbeDone(h, 0); /* still slow */
    for (i = 1; i <= 7; i++)
        cr_expect_eq(ptmHistoryProbe(h), 0, "call %d after a failed probe", i);
    cr_expect_eq(ptmHistoryProbe(h), 1, "the 8th");
    ptmHistoryProbeDone(h, 0);
    for (i = 0; i < 100000; i++)
        probes += ptmHistoryProbe(h);
    cr_expect_geq(probes, 100000 / 256, "probes never stop: %d", probes);

    const uint64_t slow = 2000000;
    for (i = 0; i < 5; i++)
        ptmHistoryRecord(h, 1, 0, &slow, 1, NULL);
    while (!ptmHistoryProbe(h))
        ;
    ptmHistoryProbeDone(h, 1);
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.latency_n, 0, "the slow latencies are forgotten");
    for (i = 1; i <= 3; i++)
        cr_expect_eq(ptmHistoryProbe(h), 0);
    cr_expect_eq(ptmHistoryProbe(h), 1, "probes are as frequent as at first");

    /* A primary that runs (not diverted) closes the circuit: the count of
    ** timeout diverts starts again. */
    ptmHistoryProbe(h);
    ptmHistoryProbe(h);
    ptmHistoryRecord(h, 1, 0, &slow, 1, NULL);
    for (i = 1; i <= 3; i++)
        cr_expect_eq(ptmHistoryProbe(h), 0);
}

/* --- history: deviation -------------------------------------------------- */

/* A ring whose events have the signatures named by the letters of sigs:
** A = fopen ok, B = fprintf ok, C = fclose ok, D = fopen EACCES,
** E = open EAGAIN, V = a failed ptm_validate. */
static struct ptmRing *ringOf(const char *sigs)
{
    struct ptmRing *ring = newRing();
    for (const char *p = sigs; *p; p++) {
        switch (*p) {
        case 'A': push(ring, PTM_EV_CALL, PTM_CALL_fopen, 0); break;
        case 'B': push(ring, PTM_EV_CALL, PTM_CALL_fprintf, 0); break;
        case 'C': push(ring, PTM_EV_CALL, PTM_CALL_fclose, 0); break;
        case 'D': push(ring, PTM_EV_CALL, PTM_CALL_fopen, EACCES); break;
        case 'E': push(ring, PTM_EV_CALL, PTM_CALL_open, EAGAIN); break;
        case 'V': push(ring, PTM_EV_VALIDATE, PTM_CALL_ptm_validate, 0); break;
        default: cr_assert_fail("bad signature %c", *p);
        }
    }
    return ring;
}

static void learn(struct ptmHistory *h, const char *sigs, int success, int diverted)
{
    struct ptmRing *ring = ringOf(sigs);
    uint64_t us = 10;
    ptmHistoryRecord(h, success, diverted, &us, 1, ring);
    ptmRingDestroy(ring);
}

static double deviationOf(struct ptmHistory *h, const char *sigs)
{
    struct ptmRing *ring = ringOf(sigs);
    double d = ptmHistoryDeviation(h, ring);
    ptmRingDestroy(ring);
    return d;
}

Test(history, no_deviation_without_baseline)
{
    struct ptm_tx_desc d = descNamed("h.nobase");
    struct ptmHistory *h = ptmHistoryFor(&d);
    cr_expect_float_eq(deviationOf(h, "DE"), 0.0, 1e-12);
    learn(h, "AB", 1, 0);
    learn(h, "AB", 1, 0);
    cr_expect_float_eq(deviationOf(h, "DE"), 0.0, 1e-12, "2 baseline mirrors are not enough");
    learn(h, "AB", 0, 0); /* failed: not baseline */
    learn(h, "AB", 1, 1); /* diverted: not baseline */
    struct ptmHistoryView v;
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.baseline_n, 2);
    cr_expect_float_eq(deviationOf(h, "DE"), 0.0, 1e-12);
    cr_expect_float_eq(ptmHistoryDeviation(h, NULL), 0.0, 1e-12);
    cr_expect_float_eq(ptmHistoryDeviation(NULL, NULL), 0.0, 1e-12);
}

Test(history, jaccard_against_baseline)
{
    struct ptm_tx_desc d = descNamed("h.jaccard");
    struct ptmHistory *h = ptmHistoryFor(&d);
    learn(h, "ABB", 1, 0); /* duplicates count once */
    learn(h, "AB", 1, 0);
    learn(h, "ABC", 1, 0);
    learn(h, "AB", 1, 0);
    struct ptmHistoryView v;
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.baseline_n, 4);
    /* B = {A, B}: C appeared in 1 of 4 mirrors, below half. */
    cr_expect_float_eq(deviationOf(h, "AB"), 0.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, "BAAB"), 0.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, "A"), 0.5, 1e-12);
    cr_expect_float_eq(deviationOf(h, "ABC"), 1.0 - 2.0 / 3.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, "AD"), 1.0 - 1.0 / 3.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, "DEV"), 1.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, ""), 1.0, 1e-12, "nothing happened where A, B always do");

    /* C in 2 of 5: still out; in 3 of 6 (half): in. */
    learn(h, "ABC", 1, 0);
    cr_expect_float_eq(deviationOf(h, "ABC"), 1.0 - 2.0 / 3.0, 1e-12);
    learn(h, "ABC", 1, 0);
    cr_expect_float_eq(deviationOf(h, "ABC"), 0.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, "AB"), 1.0 - 2.0 / 3.0, 1e-12);
}

Test(history, errno_class_is_part_of_the_signature)
{
    struct ptm_tx_desc d = descNamed("h.class");
    struct ptmHistory *h = ptmHistoryFor(&d);
    for (int i = 0; i < 3; i++)
        learn(h, "A", 1, 0);
    cr_expect_float_eq(deviationOf(h, "A"), 0.0, 1e-12);
    cr_expect_float_eq(deviationOf(h, "D"), 1.0, 1e-12, "fopen failing is not fopen");
}

Test(history, signatures_are_bounded)
{
    struct ptm_tx_desc d = descNamed("h.bounded");
    struct ptmHistory *h = ptmHistoryFor(&d);
    /* 200 mirrors, each with A and one new denied-syscall signature. */
    for (unsigned i = 0; i < 200; i++) {
        struct ptmRing *ring = newRing();
        push(ring, PTM_EV_CALL, PTM_CALL_fopen, 0);
        push(ring, PTM_EV_DENIED, PTM_CALL_SYSCALL | i, EPERM);
        uint64_t us = 1;
        ptmHistoryRecord(h, 1, 0, &us, 1, ring);
        ptmRingDestroy(ring);
    }
    struct ptmHistoryView v;
    ptmHistoryGet(h, &v);
    cr_expect_eq(v.baseline_n, 200);
    cr_expect_float_eq(deviationOf(h, "A"), 0.0, 1e-12, "A survives; the rare ones are not in B");
    cr_expect_float_eq(deviationOf(h, "B"), 1.0, 1e-12);
}

Test(signals, virtual_sleep_counts_toward_the_predicted_duration)
{
    /* A mirror that "slept" 300 ms in 1 ms of real time predicts a primary
    ** that takes 301 ms: over a 250 ms timeout. */
    struct ptmRing *ring = newRing();
    ring->virt_sleep_ns = 300000000;
    struct ptm_tx_desc d = descNamed("s.sleep");
    d.timeout_us = 250000;
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000000);
    struct ptmSignals s;
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_float_eq(s.predicted_timeout_ms, 301.0, 1e-9);
    cr_expect_gt(s.predicted_timeout_ms, s.acceptable_timeout_ms);
    ptmRingDestroy(ring);
}

/* --- signals.def --------------------------------------------------------- */

/* The table's rows are struct ptmSignals's fields, in order, and
** ptmSignalValue reads each through its row. */
Test(signals_def, the_table_reads_every_field)
{
    struct ptmSignals s = {.contention = 1, .predicted_timeout_ms = 2.5,
                           .acceptable_timeout_ms = HUGE_VAL, .deviation = 0.25,
                           .validation_failures = 3, .error_events = 7,
                           .criteria_errno = EAGAIN};
    cr_assert_gt(PTM_N_SIGNALS, 0);
    for (unsigned i = 0; i < PTM_N_SIGNALS; i++) {
        cr_expect_not_null(ptmSignalTable[i].fires);
        if (i)
            cr_expect_gt(ptmSignalTable[i].offset, ptmSignalTable[i - 1].offset, "%s",
                         ptmSignalTable[i].name);
    }
    cr_expect_str_eq(ptmSignalTable[PTM_SIGNAL_I_contention].name, "contention");
    cr_expect_str_eq(ptmSignalTable[PTM_SIGNAL_I_criteria_errno].name, "criteria_errno");
    cr_expect_eq(ptmSignalTable[PTM_SIGNAL_I_criteria_errno].type, PTM_SIGNAL_ERRNO);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_contention), 1.0);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_validation), 0.0);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_predicted_timeout_ms), 2.5);
    cr_expect(isinf(ptmSignalValue(&s, PTM_SIGNAL_I_acceptable_timeout_ms)));
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_deviation), 0.25);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_validation_failures), 3.0);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_error_events), 7.0);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_criteria_errno), (double)EAGAIN);
    cr_expect_eq(ptmSignalValue(&s, PTM_N_SIGNALS), 0.0);
}

Test(signals_def, errno_classes_as_enums)
{
    cr_expect_eq(ptmErrnoClassOf(EINVAL), PTM_ERRCLASS_VALIDATION);
    cr_expect_eq(ptmErrnoClassOf(EBUSY), PTM_ERRCLASS_CONTENTION);
    cr_expect_eq(ptmErrnoClassOf(EIO), PTM_ERRCLASS_NONE);
    cr_expect_eq(ptmErrnoClassOf(0), PTM_ERRCLASS_NONE);
}

/* pretended: the mirror went on past an event it had to pretend. */
Test(signals, pretended_fires_past_a_pretended_event_only)
{
    struct ptmRing *ring = newRing();
    struct ptm_tx_desc d = descNamed("s.pretended");
    struct ptmMirrorRun run = runOf(ring, PTM_MS_RETURNED, 1000);
    struct ptmSignals s;

    push(ring, PTM_EV_CALL, PTM_CALL_open, 0);
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.pretended, 0, "nothing was pretended");
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_pretended), 0.0);

    struct ptmEvent *ev = push(ring, PTM_EV_CALL, PTM_CALL_recv, 0);
    ev->flags = PTM_EVF_PRETENDED; /* a receive with no recorded response */
    ptmSignalsCompute(&d, &run, NULL, 0, &s);
    cr_expect_eq(s.pretended, 1);
    cr_expect_eq(ptmSignalValue(&s, PTM_SIGNAL_I_pretended), 1.0);
    cr_expect_str_eq(ptmSignalTable[PTM_SIGNAL_I_pretended].name, "pretended");
    cr_expect_eq(ptmSignalTable[PTM_SIGNAL_I_pretended].type, PTM_SIGNAL_FLAG);

    ptmSignalsCompute(&d, NULL, NULL, 0, &s);
    cr_expect_eq(s.pretended, 0, "no mirror ran");
    ptmRingDestroy(ring);
}
