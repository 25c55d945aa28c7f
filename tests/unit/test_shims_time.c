/*
** test_shims_time.c - the time family (runtime/shims/time.c): sleeps
** advance the mirror's virtual clock instead of sleeping, the clocks read
** real time plus that advance, and the ring carries the total.
*/
#include <criterion/criterion.h>
#include <sys/time.h>
#include <time.h>

#include "shims_test.h"

static uint64_t nowNs(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

Test(real, sleeps_and_clocks_are_the_real_calls)
{
    struct timespec req = {0, 20 * 1000000}, ts;
    struct timeval tv;
    uint64_t t0 = nowNs(CLOCK_MONOTONIC);
    time_t t;

    cr_assert_null(ptmMirrorCurrent);
    cr_assert_eq(ptm_shim_nanosleep(&req, NULL), 0);
    cr_assert_eq(ptm_shim_usleep(10000), 0);
    cr_assert_eq(ptm_shim_clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), 0);
    cr_assert_eq(ptm_shim_sleep(0), 0);
    cr_assert_geq(nowNs(CLOCK_MONOTONIC) - t0, 50 * 1000000u, "they slept");
    cr_assert_eq(ptm_shim_clock_gettime(CLOCK_REALTIME, &ts), 0);
    cr_assert_eq(ptm_shim_gettimeofday(&tv, NULL), 0);
    t = ptm_shim_time(NULL);
    cr_assert_leq(llabs((long long)t - (long long)ts.tv_sec), 1);
    cr_assert_leq(llabs((long long)tv.tv_sec - (long long)ts.tv_sec), 1);
}

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, sleeping_advances_a_virtual_clock)
{
    struct timespec req = {2, 500000000}, before, after, cpu0, cpu1;
    struct timeval tv;
    uint64_t t0 = nowNs(CLOCK_MONOTONIC);
    time_t real;

    cr_assert_eq(ptm_shim_clock_gettime(CLOCK_MONOTONIC, &before), 0);
    ptm_shim_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
    cr_assert_eq(ptm_shim_sleep(100), 0);
    cr_assert_eq(ptm_shim_usleep(250000), 0);
    cr_assert_eq(ptm_shim_nanosleep(&req, NULL), 0);
    cr_assert_lt(nowNs(CLOCK_MONOTONIC) - t0, 50 * 1000000u, "nothing slept");
    cr_assert_eq(mirror.virt_ns, 102750000000ull);
    cr_assert_eq(ring->virt_sleep_ns, 102750000000ull, "the ring carries the total");
    cr_assert_eq(countOf(PTM_CALL_sleep) + countOf(PTM_CALL_usleep) + countOf(PTM_CALL_nanosleep), 3);
    cr_assert_str_eq(lastOf(PTM_CALL_sleep)->detail, "100000000000ns");
    cr_assert_str_eq(lastOf(PTM_CALL_usleep)->detail, "250000000ns");
    cr_assert_not(lastOf(PTM_CALL_nanosleep)->flags & PTM_EVF_EFFECT);

    cr_assert_eq(ptm_shim_clock_gettime(CLOCK_MONOTONIC, &after), 0);
    cr_assert_geq(after.tv_sec - before.tv_sec, 102, "the mirror sees the time pass");
    cr_assert_lt(after.tv_sec - before.tv_sec, 104);
    real = time(NULL);
    cr_assert_geq(ptm_shim_time(NULL) - real, 102);
    cr_assert_eq(ptm_shim_gettimeofday(&tv, NULL), 0);
    cr_assert_geq(tv.tv_sec - real, 102);
    ptm_shim_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    cr_assert_lt(cpu1.tv_sec - cpu0.tv_sec, 2, "CPU time does not jump");
    cr_assert_eq(ptmRingCount(ring), 3, "reading a clock records nothing");
}

Test(mirror, clock_nanosleep_absolute_and_errors)
{
    struct timespec now, at;
    time_t t;

    clock_gettime(CLOCK_REALTIME, &now);
    at = (struct timespec){now.tv_sec + 60, now.tv_nsec};
    cr_assert_eq(ptm_shim_clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL), 0);
    cr_assert_geq(mirror.virt_ns, 59000000000ull);
    cr_assert_leq(mirror.virt_ns, 60000000000ull);
    t = ptm_shim_time(&t);
    cr_assert_geq(t, at.tv_sec - 1, "the mirror woke at its deadline");
    /* A deadline that has passed: no wait. */
    uint64_t v = mirror.virt_ns;
    cr_assert_eq(ptm_shim_clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &now, NULL), 0);
    cr_assert_eq(mirror.virt_ns, v);
    /* Errors, as the real calls give them. */
    cr_assert_eq(ptm_shim_clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, -1}, NULL),
                 EINVAL, "clock_nanosleep returns the error");
    cr_assert_eq(ptm_shim_clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &(struct timespec){1, 0}, NULL),
                 EINVAL);
    cr_assert_eq(ptm_shim_nanosleep(&(struct timespec){0, 1000000000}, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(lastOf(PTM_CALL_nanosleep)->err, EINVAL);
    cr_assert_eq(ptm_shim_nanosleep(NULL, NULL), -1);
    cr_assert_eq(errno, EFAULT);
    cr_assert_eq(mirror.virt_ns, v, "failed sleeps wait for nothing");
}

/* Fault injection: a clock that cannot be read. */
static int brokenClock(clockid_t clk, struct timespec *ts)
{
    (void)clk, (void)ts;
    errno = EINVAL;
    return -1;
}

Test(mirror, a_clock_fault_is_reported)
{
    struct timespec ts;

    ptmOs.clock_gettime = brokenClock;
    cr_assert_eq(ptm_shim_clock_gettime(CLOCK_MONOTONIC, &ts), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(ptm_shim_time(NULL), (time_t)-1);
    cr_assert_eq(ptm_shim_clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &(struct timespec){1, 0}, NULL),
                 EINVAL);
    ptmOsReset();
}

Test(mirror, the_virtual_clock_ends_with_the_mirror)
{
    cr_assert_eq(ptm_shim_sleep(5), 0);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(ring->virt_sleep_ns, 5000000000ull, "kept for the signals");
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(mirror.virt_ns, 0);
    cr_assert_eq(ring->virt_sleep_ns, 0, "a new mirror starts at 0");
    ptmRingReset(ring);
    cr_assert_eq(ring->virt_sleep_ns, 0);
}
