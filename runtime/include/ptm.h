/*
** ptm.h - Predictive Transaction Mirror, the public interface.
**
** Mark a function as a transaction:
**
**     #include <ptm.h>
**
**     PTM_TRANSACTION(.transaction_id = "ledger.append",
**                     .alternative_paths = { ledger_reject },
**                     .success_criteria = return == 0)
**     int ledger_append(const char *path, const char *account, long cents);
**
** and build with ptmcc.  Every call then runs a mirror of the function on a
** read-only snapshot first, scores its failure probability, and diverts to an
** alternative, adjusts retries, or runs the primary.
**
** Built by a plain compiler (no ptmcc), PTM_TRANSACTION expands to an
** attribute that is ignored, ptm_validate() returns its condition and nothing
** here needs libptm: the program is the plain program.
*/
#ifndef PTM_H
#define PTM_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define PTM_VERSION_MAJOR 0
#define PTM_VERSION_MINOR 3
#define PTM_VERSION "0.3"

#if defined(__GNUC__)
#define PTM_API __attribute__((visibility("default")))
#define PTM_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PTM_API
#define PTM_PRINTF_LIKE(fmt, args)
#endif

/*
** PTM_TRANSACTION(key = value, ...) marks the function declared next as a
** transaction.  The keys are documented in README.md ("The annotation").
** Under clang the arguments are carried, as text, by an annotate attribute
** that ptmcc reads; other compilers see nothing.
*/
#if defined(__clang__)
#define PTM_TRANSACTION(...) \
    __attribute__((annotate("ptm.transaction:" #__VA_ARGS__)))
#else
#define PTM_TRANSACTION(...)
#endif

/*
** PTM_MIRRORABLE marks a function that mirrors of other files may call: in
** its own file (built by ptmcc) it gets an externally visible mirror clone,
** name__ptm_mirror, and a mirror that calls it through a declaration
** carrying PTM_MIRRORABLE (in a header) calls that clone.  Put it on the
** declaration in the header, the definition, or both:
**
**     PTM_MIRRORABLE int audit(const char *who, long cents);
**
** When the defining file was not built by ptmcc the clone is missing; a
** mirror then calls the function itself, and the runtime records it.
*/
#if defined(__clang__)
#define PTM_MIRRORABLE __attribute__((annotate("ptm.mirrorable")))
#else
#define PTM_MIRRORABLE
#endif

/*
** PTM_MIRROR_OF(fn) declares the function that follows as a mirror's
** stand-in for fn: in every mirror that can see this declaration, a call
** of fn calls it instead, with the same arguments, so it must have fn's
** type.  It comes before PTM's own shims:
**
**     PTM_MIRROR_OF(send_mail) int send_mail_dry(const char *to, const char *body);
**
** A user shim runs in the mirror as written (ptmcc does not clone it): it
** must not write anything outside the process itself.
*/
#if defined(__clang__)
#define PTM_MIRROR_OF(fn) __attribute__((annotate("ptm.mirror_of:" #fn)))
#else
#define PTM_MIRROR_OF(fn)
#endif

/*
** ptm_stats: process-wide counters, read with ptm_stats_get().
*/
struct ptm_stats {
    uint64_t transactions;    /* calls of transaction wrappers */
    uint64_t mirrors;         /* mirrors started */
    uint64_t mirror_crashes;
    uint64_t mirror_timeouts;
    uint64_t mirror_denials;  /* mirrors in which seccomp denied a syscall */
    uint64_t diversions;      /* calls that ran an alternative path */
    uint64_t primaries;       /* calls that ran the primary */
    uint64_t attempts;        /* primary attempts, retries included */
    uint64_t failures;        /* calls whose final outcome failed success_criteria */
    uint64_t rules_errors;    /* rules scripts that failed; the call fell back */
};

/*
** ptm_prediction: why the code that runs now runs, read with
** ptm_prediction() inside a transaction's primary or alternative.
*/
struct ptm_prediction {
    double probability;         /* the rules' failure probability, in [0, 1] */
    const char *const *reasons; /* n_reasons strings: the rules' reasons */
    unsigned n_reasons;
    int predicted_errno;        /* the errno the primary is predicted to fail with
                                   (its mirror's, or the last attempt's when a retry
                                   was judged again); 0: none predicted */
    const char *alternative;    /* the alternative that runs (its C name); NULL in
                                   the primary */
};

#if defined(__PTMCC__) || defined(PTM_RUNTIME)

/*
** ptm_stats_get: copies the process-wide counters into *out.
** Thread-safe; the copy is not atomic across fields.
*/
PTM_API void ptm_stats_get(struct ptm_stats *out);

/*
** ptm_last_error: the last problem PTM absorbed on this thread (a rules
** error, a mirror that could not start), or "" when there was none.  The
** string is owned by the runtime and valid until the next transaction on
** this thread.
*/
PTM_API const char *ptm_last_error(void);

/*
** ptm_validate_failed: records a failed ptm_validate, with the message
** fmt formats from ap, when a mirror runs on this thread (a function the
** mirror reaches through a pointer, in a fork child); nothing otherwise.
*/
PTM_API void ptm_validate_failed(const char *fmt, va_list ap);

/*
** ptm_validate(cond, fmt, ...): a data check that the mirror can see.
**
** Returns cond (non-zero when the check passed) in every build.  In a
** mirror, a failed check is recorded, with the formatted message, as a
** validation signal for the Predictive Analysis Module (ptmcc sends the
** mirror clone's calls to the runtime; a function the mirror reaches
** through a pointer gets here).  Outside a mirror fmt is never formatted.
*/
static inline PTM_PRINTF_LIKE(2, 3) int ptm_validate(int cond, const char *fmt, ...)
{
    if (!cond) {
        va_list ap;
        va_start(ap, fmt);
        ptm_validate_failed(fmt, ap);
        va_end(ap);
    }
    return cond;
}

/*
** ptm_prediction: the prediction behind the transaction call that runs on
** this thread, while its primary or an alternative runs: an alternative
** can tell its caller why (p = ptm_prediction(), then, when p is not
** NULL, errno = p->predicted_errno: an EFBIG "File too large" the mirror
** predicted).  Returns NULL outside a transaction's primary or
** alternative, when no prediction was made (no mirror ran, the rules
** failed, PTM_DISABLE), and always in a plain build.  The struct and its
** strings are the runtime's, valid until the primary or alternative
** returns.  Errno itself is 0 when an alternative starts, as a plain
** call's.
*/
PTM_API const struct ptm_prediction *ptm_prediction(void);

/*
** ptm_timeout_ms: the timeout of the transaction call that runs on this
** thread (its primary, an alternative, its mirror), in milliseconds,
** rounded up: the rules' timeout_ms for this call, else the `timeout`
** key.  Returns -1 when the call has no timeout, or outside a call.
*/
PTM_API long ptm_timeout_ms(void);

/*
** ptm_metrics_write: prints this process's per-transaction metrics to f in
** the Prometheus text exposition format: the counters ptm_calls_total,
** ptm_mirrors_total, ptm_diversions_total, ptm_failures_total and
** ptm_retries_total, and the histograms ptm_mirror_latency_seconds and
** ptm_primary_latency_seconds, labelled by transaction_id.  Thread-safe.
** PTM_METRICS=path writes the same text to path (atomically, at exit and
** every PTM_METRICS_INTERVAL seconds).
** Returns 0, or -1 with errno set when f reported a write error.
*/
PTM_API int ptm_metrics_write(FILE *f);

#else /* a plain build: no runtime, so nothing to count */

static inline void ptm_stats_get(struct ptm_stats *out)
{
    *out = (struct ptm_stats){0};
}

static inline const char *ptm_last_error(void)
{
    return "";
}

static inline const struct ptm_prediction *ptm_prediction(void)
{
    return NULL;
}

static inline long ptm_timeout_ms(void)
{
    return -1;
}

static inline int ptm_metrics_write(FILE *f)
{
    (void)f;
    return 0;
}

/* ptm_validate(cond, fmt, ...): returns cond; fmt is never formatted. */
static inline PTM_PRINTF_LIKE(2, 3) int ptm_validate(int cond, const char *fmt, ...)
{
    (void)fmt;
    return cond;
}

#endif /* __PTMCC__ */

#endif /* PTM_H */
