/*
** shims/time.c - time and sleep in a mirror: sleep usleep nanosleep
** clock_nanosleep time clock_gettime gettimeofday.
**
** Outside a mirror each shim is exactly the real call.  In a mirror nothing
** sleeps: a sleep advances the mirror's virtual clock by the time asked for
** (m->virt_ns) and returns at once, as the real call would after the wait
** (0, never interrupted).  The total -- sleeps, timed waits that time out
** (shims/lock.c), recorded network latencies (shims/net.c) -- is kept in
** ring->virt_sleep_ns, where the signals can add it to the mirror's own
** duration to predict how long the primary will take.  Each sleep is an
** event whose detail is the requested duration ("1500000000ns"), without
** PTM_EVF_EFFECT.
**
** The clocks, in a mirror, read the real time plus the virtual advance, so
** that a mirror that sleeps and then measures sees the time pass
** (CLOCK_REALTIME, CLOCK_MONOTONIC and the other wall clocks; CPU-time
** clocks are not advanced: sleeping uses no CPU).  Reading a clock records
** nothing: it has neither an effect nor a failure worth predicting, and a
** polling loop would otherwise fill the ring.
*/
#include <errno.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "shims_int.h"

#define NS 1000000000ULL

/*
** ptmTimeAdvance: advances mirror m's virtual clock by ns, and the ring's
** total of virtual waiting with it (saturating).
*/
void ptmTimeAdvance(struct ptmMirror *m, uint64_t ns)
{
    if (!m)
        return;
    m->virt_ns = m->virt_ns > UINT64_MAX - ns ? UINT64_MAX : m->virt_ns + ns;
    if (m->ring)
        m->ring->virt_sleep_ns = m->virt_ns;
}

/* Whether clk runs while a process sleeps (a CPU-time clock does not). */
static int wallClock(clockid_t clk)
{
    switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
    case CLOCK_TAI:
        return 1;
    default:
        return 0;
    }
}

/*
** ptmTimeNow: clk's time in mirror m: the real time plus m's virtual
** advance for a wall clock.  OUT: *ts.  0 or the errno of clock_gettime
** (EINVAL for an unknown clock).
*/
int ptmTimeNow(struct ptmMirror *m, clockid_t clk, struct timespec *ts)
{
    uint64_t ns;

    if (ptmOs.clock_gettime(clk, ts) != 0)
        return errno;
    if (!m || !m->virt_ns || !wallClock(clk))
        return 0;
    ns = (uint64_t)ts->tv_nsec + m->virt_ns % NS;
    ts->tv_sec += (time_t)(m->virt_ns / NS + ns / NS);
    ts->tv_nsec = (long)(ns % NS);
    return 0;
}

/* A sleep of ns in mirror m: advanced and recorded.  Returns 0. */
static void mirrorSleep(struct ptmMirror *m, enum ptmCall call, uint64_t t0, uint64_t ns, int err)
{
    struct ptmEvent *ev;

    if (!err)
        ptmTimeAdvance(m, ns);
    ev = ptmMirrorRecordCall(call, t0, "clock", err ? -1 : 0, err, 0);
    if (ev && !err)
        snprintf(ev->detail, sizeof ev->detail, "%lluns", (unsigned long long)ns);
}

/* A timespec as a duration in ns; EINVAL when it is not one. */
static int durationNs(const struct timespec *ts, uint64_t *ns)
{
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= (long)NS)
        return EINVAL;
    *ns = (uint64_t)ts->tv_sec > (UINT64_MAX - NS) / NS ? UINT64_MAX
                                                       : (uint64_t)ts->tv_sec * NS + (uint64_t)ts->tv_nsec;
    return 0;
}

/*
** ptm_shim_sleep: sleep(3).  In a mirror: the virtual clock advances by
** seconds; returns 0 at once.
*/
unsigned int ptm_shim_sleep(unsigned int seconds)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return sleep(seconds);
    mirrorSleep(m, PTM_CALL_sleep, ptmOsNowNs(), (uint64_t)seconds * NS, 0);
    return 0;
}

/*
** ptm_shim_usleep: usleep(3).  In a mirror: the virtual clock advances by
** usec microseconds; returns 0 at once.
*/
int ptm_shim_usleep(PTM_USECONDS_T usec)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return usleep(usec);
    mirrorSleep(m, PTM_CALL_usleep, ptmOsNowNs(), (uint64_t)usec * 1000u, 0);
    return 0;
}

/*
** ptm_shim_nanosleep: nanosleep(2).  In a mirror: EFAULT for a NULL
** request, EINVAL for a malformed one; else the virtual clock advances and
** 0 is returned at once (rem is not written: the sleep was not
** interrupted).
*/
int ptm_shim_nanosleep(const struct timespec *req, struct timespec *rem)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0, ns = 0;
    int err;

    if (!m)
        return nanosleep(req, rem);
    t0 = ptmOsNowNs();
    err = req ? durationNs(ptmRedoIn(req, sizeof *req), &ns) : EFAULT;
    mirrorSleep(m, PTM_CALL_nanosleep, t0, ns, err);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/*
** ptm_shim_clock_nanosleep: clock_nanosleep(2), which returns an error
** number rather than setting errno.  In a mirror: EINVAL for a malformed
** request or a CPU-time clock of this thread, EFAULT for NULL; with
** TIMER_ABSTIME the virtual clock advances to the deadline (not at all
** when it has passed).
*/
int ptm_shim_clock_nanosleep(PTM_CLOCKID_T clk, int flags, const struct timespec *req,
                             struct timespec *rem)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct timespec now;
    uint64_t t0, ns = 0, at, cur;
    int err;

    if (!m)
        return clock_nanosleep(clk, flags, req, rem);
    t0 = ptmOsNowNs();
    if (!req)
        err = EFAULT;
    else if (clk == CLOCK_THREAD_CPUTIME_ID)
        err = EINVAL;
    else if ((err = durationNs(ptmRedoIn(req, sizeof *req), &ns)) == 0 &&
             (flags & TIMER_ABSTIME)) {
        err = ptmTimeNow(m, clk, &now);
        if (!err) {
            at = ns;
            cur = (uint64_t)now.tv_sec * NS + (uint64_t)now.tv_nsec;
            ns = at > cur ? at - cur : 0;
        }
    }
    mirrorSleep(m, PTM_CALL_clock_nanosleep, t0, ns, err);
    return err;
}

/*
** ptm_shim_time: time(2).  In a mirror: the real time plus the virtual
** clock's advance.
*/
time_t ptm_shim_time(time_t *t)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct timespec ts;

    if (!m)
        return time(t);
    if (ptmTimeNow(m, CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    if (t)
        *(time_t *)ptmRedoOut(t, sizeof *t) = ts.tv_sec;
    return ts.tv_sec;
}

/*
** ptm_shim_clock_gettime: clock_gettime(2).  In a mirror: as ptmTimeNow
** (EINVAL for an unknown clock, EFAULT for NULL).
*/
int ptm_shim_clock_gettime(PTM_CLOCKID_T clk, struct timespec *ts)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    int err;

    if (!m)
        return clock_gettime(clk, ts);
    err = ts ? ptmTimeNow(m, clk, ptmRedoOut(ts, sizeof *ts)) : EFAULT;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/*
** ptm_shim_gettimeofday: gettimeofday(2).  In a mirror: the real time plus
** the virtual clock's advance; tz, obsolete, is passed to the real call.
*/
int ptm_shim_gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct timespec ts;

    if (!m || !tv)
        return gettimeofday(tv, tz);
    if (tz) {
        struct timeval real;
        if (gettimeofday(&real, tz) != 0)   /* tz, obsolete, as the kernel has it */
            return -1;
    }
    if (ptmTimeNow(m, CLOCK_REALTIME, &ts) != 0)
        return -1;
    tv = ptmRedoOut(tv, sizeof *tv);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
    return 0;
}
