/*
** signals.c - the seed's four signals, computed from what a mirror observed.
**
** The seed's PAM asks four questions of the mirror: was there resource
** contention, was there a data validation error, will the primary time out,
** and does this run deviate from the expected behaviour.  This file answers
** the first three from the mirror's events and status (the fourth comes from
** history.c and is passed in), and classifies errno values for rules and
** traces.  The weights live in the rules (lua-rules/default.lua), not here.
*/
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ptm_int.h"

const struct ptmSignalInfo ptmSignalTable[PTM_N_SIGNALS] = {
#define PTM_SIGNAL(name, type, fires) \
    {#name, PTM_SIGNAL_##type, offsetof(struct ptmSignals, name), fires},
#include "signals.def"
#undef PTM_SIGNAL
};

/*
** ptmSignalValue: signal i of ptmSignalTable in s, as a double: a FLAG is
** 0 or 1, a COUNT or an ERRNO is exact.  0 for an i out of range.
*/
double ptmSignalValue(const struct ptmSignals *s, unsigned i)
{
    if (i >= PTM_N_SIGNALS)
        return 0.0;
    const char *p = (const char *)s + ptmSignalTable[i].offset;
    switch (ptmSignalTable[i].type) {
    case PTM_SIGNAL_FLAG: return *(const int *)p != 0;
    case PTM_SIGNAL_COUNT: return *(const unsigned *)p;
    case PTM_SIGNAL_NUM: return *(const double *)p;
    case PTM_SIGNAL_ERRNO: return *(const int *)p;
    }
    return 0.0;
}

/*
** ptmErrnoClass: the class of a predicted errno value.
**
** "validation": the request, as made, cannot succeed against the current
** state of the system, and repeating it unchanged will fail again.  These
** are the seed's "data validation errors", seen at the system boundary:
**   EINVAL, ERANGE, EDOM        - an argument or value out of its domain;
**   ENAMETOOLONG                - a malformed path;
**   EACCES, EPERM, EROFS        - the caller may not do this to that target;
**   ENOENT, ENOTDIR, EISDIR     - the target is not what the code assumed;
**   EEXIST                      - O_EXCL and friends: it is already there;
**   EBADF                       - a descriptor that is not open (for that);
**   ENOSPC, EFBIG, EDQUOT       - the data does not fit (free space, file
**                                 size limit, quota): a size check on the
**                                 data that the mirror can make in advance.
** "contention": another party holds something the call needs; the same
** request can succeed later, which is what retries are for:
**   EAGAIN/EWOULDBLOCK, EBUSY   - a resource is busy right now;
**   EDEADLK, ENOLCK             - lock conflicts and lock-table exhaustion;
**   ETXTBSY                     - a file is in use (being executed);
**   EINTR                       - the call was interrupted by a signal.
** Everything else (EIO, ENOMEM, ECONNREFUSED, ...) is NULL: an error the
** rules may still look at (m.signals.error_events, m.events), but one that
** neither of the seed's two detectors claims.
**
** Returns PTM_ERRCLASS_VALIDATION, PTM_ERRCLASS_CONTENTION, or
** PTM_ERRCLASS_NONE (also for 0).
*/
enum ptmErrClass ptmErrnoClassOf(int err)
{
    switch (err) {
    case EINVAL:
    case EACCES:
    case EPERM:
    case EROFS:
    case EEXIST:
    case ENOENT:
    case EBADF:
    case EISDIR:
    case ENOTDIR:
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
    case ENAMETOOLONG:
    case ERANGE:
    case EDOM:
        return PTM_ERRCLASS_VALIDATION;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EBUSY:
    case EDEADLK:
#if defined(EDEADLOCK) && EDEADLOCK != EDEADLK
    case EDEADLOCK:
#endif
    case ETXTBSY:
    case ENOLCK:
    case EINTR:
        return PTM_ERRCLASS_CONTENTION;
    default:
        return PTM_ERRCLASS_NONE;
    }
}

/*
** ptmErrnoClass: ptmErrnoClassOf(err) as rules and traces spell it:
** "validation", "contention", or NULL for PTM_ERRCLASS_NONE.
*/
const char *ptmErrnoClass(int err)
{
    switch (ptmErrnoClassOf(err)) {
    case PTM_ERRCLASS_VALIDATION: return "validation";
    case PTM_ERRCLASS_CONTENTION: return "contention";
    case PTM_ERRCLASS_NONE: break;
    }
    return NULL;
}

/*
** ptmEventKindName: the name of an event kind, as rules and traces spell
** it: "call", "validate", "denied", "missing_clone",
** "out_of_bounds"; "?" for anything else.
*/
const char *ptmEventKindName(unsigned kind)
{
    switch (kind) {
    case PTM_EV_CALL:
        return "call";
    case PTM_EV_VALIDATE:
        return "validate";
    case PTM_EV_DENIED:
        return "denied";
    case PTM_EV_MISSING_CLONE:
        return "missing_clone";
    case PTM_EV_OUT_OF_BOUNDS:
        return "out_of_bounds";
    default:
        return "?";
    }
}

/*
** ptmSignalsCompute: the signals of one mirror run.
**
** desc: the transaction (timeout_us gives the acceptable timeout).
** run:  the mirror run and its ring of events; NULL when no mirror ran, in
**       which case only history and the timeout contribute.
** hist: the transaction's history (latency statistics), or NULL.
** deviation: ptmHistoryDeviation() of run's ring, copied into the result.
** OUT: *sig, always filled.
**
** validation: a failed ptm_validate (a PTM_EV_VALIDATE event), a shim call
**   with an effect (PTM_EVF_EFFECT) whose predicted errno is in the
**   validation class and not one success_criteria accepts (errno ==
**   EEXIST), a crashed mirror (the code cannot complete on this input),
**   or a mirror result that fails success_criteria with no denied
**   syscall on the way, unless the errno it ended with (none: that of the
**   last shim call that failed) is in the contention class (criteria_errno) -- the last two unless the mirror went on past
**   something it had to pretend (an event marked PTM_EVF_PRETENDED, with
**   or without an errno): a lock another thread held, after which it may
**   have read that thread's half-made changes (the contention is the
**   prediction), or a receive with no recorded response or a read of
**   host input (a pipe, a terminal), after which it computed from data it
**   invented.  Its result or its crash then says
**   nothing of the primary's.
** pretended: the mirror went on past such an event: the rules may weigh
**   what it predicted (its contention, its timing) knowing that part of it
**   was made up.
** contention: a shim call with an effect whose predicted errno is in the
**   contention class, or a mirror result that fails success_criteria with
**   a contention-class errno (a transient failure: EAGAIN, EBUSY, ...).
** Errors of calls without an effect (a read-only fopen of a missing file)
**   are counted in error_events only: programs take such paths routinely.
** Only PTM_EV_CALL events are classified by errno: a PTM_EV_DENIED event
**   is seccomp refusing a write-class syscall that no shim simulates; its
**   EPERM says what the mirror may not do, not what the primary would meet.
**   It is counted in the mirror status (PTM_MS_DENIED), not here.
** predicted_timeout_ms: HUGE_VAL when the mirror timed out; else the larger
**   of the mirror's duration plus the time it would have slept (its virtual
**   clock) and, with at least 3 measured primary attempts, the history's
**   mean + 2 standard deviations -- unless a receive of the mirror was a
**   half-open probe of a peer whose last receive timed out
**   (PTM_EVF_HALF_OPEN).
** acceptable_timeout_ms: desc->timeout_us in ms, HUGE_VAL when 0 (none).
*/
/* acceptedErrno: whether success_criteria counts err as success (errno ==
** EEXIST): the mirror meeting it is no sign that the primary will fail. */
static int acceptedErrno(const struct ptm_tx_desc *desc, int err)
{
    for (unsigned i = 0; desc && desc->accepted_errnos && i < desc->n_accepted_errnos; i++)
        if (desc->accepted_errnos[i] == err)
            return 1;
    return 0;
}

void ptmSignalsCompute(const struct ptm_tx_desc *desc, const struct ptmMirrorRun *run,
                       const struct ptmHistoryView *hist, double deviation,
                       struct ptmSignals *sig)
{
    memset(sig, 0, sizeof *sig);
    sig->deviation = isfinite(deviation) ? deviation : 0.0;
    sig->acceptable_timeout_ms =
        (desc && desc->timeout_us) ? (double)desc->timeout_us / 1000.0 : HUGE_VAL;

    double predicted = 0.0;
    int racing = 0; /* the mirror went past something it pretended */
    int last_err = 0; /* the errno of the last shim call that failed */
    int half_open = 0; /* a receive probes a peer that timed out (net.c) */
    if (run) {
        const struct ptmRing *ring = run->ring;
        uint32_t n = ring ? ptmRingCount(ring) : 0;
        for (uint32_t i = 0; i < n; i++) {
            const struct ptmEvent *ev = &ring->ev[i];
            if (ev->kind == PTM_EV_VALIDATE) {
                sig->validation = 1;
                sig->validation_failures++;
                continue;
            }
            if (ev->kind != PTM_EV_CALL)
                continue;
            /* An unrecorded receive pretends without an errno. */
            racing |= (ev->flags & PTM_EVF_PRETENDED) != 0;
            half_open |= (ev->flags & PTM_EVF_HALF_OPEN) != 0;
            if (ev->err == 0)
                continue;
            last_err = ev->err;
            sig->error_events++;
            if (!(ev->flags & PTM_EVF_EFFECT) || acceptedErrno(desc, ev->err))
                continue;
            enum ptmErrClass cls = ptmErrnoClassOf(ev->err);
            if (cls == PTM_ERRCLASS_VALIDATION) {
                sig->validation = 1;
            } else if (cls == PTM_ERRCLASS_CONTENTION) {
                sig->contention = 1;
                sig->contention_events++;
            }
        }
        sig->pretended = racing;
        sig->half_open = half_open;
        if (run->status == PTM_MS_CRASHED && !racing)
            sig->validation = 1;
        /* A result that fails success_criteria is the mirror predicting the
        ** primary's failure outright, unless seccomp denied a call on the
        ** way: then the sandbox, not the data, may have caused it.  The
        ** errno it ended with says which failure: a contention-class one
        ** (EAGAIN, EBUSY, ...) is transient, and retries exist for it. */
        if (run->verdict == PTM_VERDICT_FAILED && run->denied == 0 && !racing) {
            int err = ring ? atomic_load_explicit(&ring->end_errno, memory_order_relaxed) : 0;
            /* A library that reports failures by result code (SQLite's
            ** SQLITE_BUSY) leaves errno alone: the last failed call is
            ** then the failure the mirror ended on. */
            if (err == 0)
                err = last_err;
            sig->criteria_failed = 1;
            sig->criteria_errno = err;
            if (ptmErrnoClassOf(err) == PTM_ERRCLASS_CONTENTION)
                sig->contention = 1;
            else
                sig->validation = 1;
        }
        /* The mirror does not sleep: the time-shims add what the primary
        ** would have slept to a virtual clock instead. */
        uint64_t slept = ring ? ring->virt_sleep_ns : 0;
        predicted = (double)(run->duration_ns + slept) / 1e6;
        if (run->status == PTM_MS_TIMEOUT)
            predicted = HUGE_VAL;
    }
    /* Not for a half-open probe: the latencies that the peer's timeout
    ** made long would veto the very call that finds out whether it
    ** recovered. */
    if (hist && hist->latency_n >= 3 && isfinite(predicted) && !half_open) {
        double h = (hist->latency_mean_us + 2.0 * hist->latency_sd_us) / 1000.0;
        if (h > predicted)
            predicted = h;
    }
    sig->predicted_timeout_ms = predicted;
}
