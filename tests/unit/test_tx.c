/*
** test_tx.c - the transaction engine (tx.c, ptm_tx_run): the decision at
** the threshold, retries until success_criteria, backoff and its jitter,
** the snapshot restored before each retry and before an alternative, dry
** run and disable.
**
** Transactions are written by hand as ptmcc would emit them: a frame, the
** primary, a mirror and an alternative as thunks, a success predicate and
** a descriptor.  The rules are a script that returns the probability the
** test wants; the mirror runs inline, on the test's thread, so what it
** does to the test's globals is visible here.  Backoff delays are observed
** by replacing ptmOs.nanosleep, the one sleep of the engine.  Criterion
** runs each test in its own process, so PTM_DISABLE and PTM_DRY_RUN (read
** once per process) are set before the first call.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

/* --- the transaction ---------------------------------------------------- */

struct frame {
    struct {
        int fail_first; /* attempts of the primary that fail before one succeeds */
    } arg;
    int ret;
    int err;
};

static int primaryRuns;    /* attempts of the primary */
static int altRuns;        /* runs of the alternative */
static int mirrorRuns;     /* runs of the mirror */
static int argsSeen[16];   /* arg.fail_first as each attempt found it */
static char region[8];     /* the `snapshot` region */
static char regionSeen[16][sizeof region]; /* the region as each attempt found it */
static char altRegionSeen[sizeof region];

/* The primary fails (ret -1, EAGAIN) while arg.fail_first counts down.  It
** dirties its frame and the snapshot region, as a failed attempt may: the
** next attempt must find both as they were on entry. */
static void primary(void *p)
{
    struct frame *fr = p;
    if (primaryRuns < 16) {
        argsSeen[primaryRuns] = fr->arg.fail_first;
        memcpy(regionSeen[primaryRuns], region, sizeof region);
    }
    primaryRuns++;
    memcpy(region, "dirty!!", sizeof region);
    if (primaryRuns <= fr->arg.fail_first) {
        fr->arg.fail_first = -99;
        fr->ret = -1;
        fr->err = EAGAIN;
        return;
    }
    fr->ret = 1;
    fr->err = 0;
}

static void alternative(void *p)
{
    struct frame *fr = p;
    altRuns++;
    memcpy(altRegionSeen, region, sizeof region);
    fr->ret = 2;
    fr->err = 0;
}

/* The mirror returns 7, and breaks the rules a real one keeps: it changes
** the snapshot region, which the engine must restore before the path that
** runs for the host. */
static void mirror(void *p)
{
    struct frame *fr = p;
    mirrorRuns++;
    memcpy(region, "mirror", 7);
    fr->ret = 7;
    fr->err = 0;
}

static int success(const void *p)
{
    return ((const struct frame *)p)->ret >= 0;
}

static unsigned snapshotRegions(void *frame, struct ptm_region *out, unsigned max)
{
    (void)frame;
    if (max > 0)
        out[0] = (struct ptm_region){region, sizeof region};
    return 1;
}

static const struct ptm_alt alts[] = {{"tx_alternative", alternative}};

static char rulesText[256];

/* A descriptor whose rules say probability p (< 0: no rules script, the
** default rules) and whose mirror runs inline. */
static struct ptm_tx_desc descWith(double p, double threshold)
{
    if (p >= 0)
        snprintf(rulesText, sizeof rulesText,
                 "return {analyze = function(m) return {probability = %.17g} end}", p);
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "tx.test",
        .function = "tx_primary",
        .file = "test_tx.c",
        .line = 1,
        .frame_size = sizeof(struct frame),
        .primary = primary,
        .mirror = mirror,
        .success = success,
        .alternatives = alts,
        .n_alternatives = 1,
        .failure_prediction_enabled = 1,
        .mirror_mode = PTM_MIRROR_INLINE,
        .threshold = threshold,
        .snapshot = snapshotRegions,
        .rules_name = p >= 0 ? "fixed.lua" : NULL,
        .rules_source = p >= 0 ? rulesText : NULL,
    };
}

static void resetRecords(void)
{
    primaryRuns = altRuns = mirrorRuns = 0;
    memset(argsSeen, 0, sizeof argsSeen);
    memset(regionSeen, 0, sizeof regionSeen);
    memset(altRegionSeen, 0, sizeof altRegionSeen);
    memcpy(region, "entry!!", sizeof region);
}

/* --- the injected sleep ------------------------------------------------- */

static uint64_t sleptUs[256];
static unsigned nSlept;

static int recordSleep(const struct timespec *req, struct timespec *rem)
{
    (void)rem;
    if (nSlept < 256)
        sleptUs[nSlept] = (uint64_t)req->tv_sec * 1000000u + (uint64_t)req->tv_nsec / 1000u;
    nSlept++;
    return 0;
}

static void setup(void)
{
    resetRecords();
    nSlept = 0;
    ptmOs.nanosleep = recordSleep;
}

static void teardown(void)
{
    ptmOsReset();
}

TestSuite(tx, .init = setup, .fini = teardown);

/* --- the decision at the threshold -------------------------------------- */

/* Runs one call with probability p against threshold t; returns what ran:
** 'p' the primary, 'a' the alternative. */
static char decide(double p, double t)
{
    resetRecords();
    struct ptm_tx_desc d = descWith(p, t);
    struct frame fr = {0};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1, "p %.17g t %.17g: %s", p, t, ptm_last_error());
    cr_assert_eq(mirrorRuns, 1, "the mirror ran once");
    cr_assert_eq(primaryRuns + altRuns, 1, "one path ran");
    cr_assert_eq(fr.ret, altRuns ? 2 : 1, "the frame holds the result of the path that ran");
    return altRuns ? 'a' : 'p';
}

Test(tx, diverts_at_and_above_the_threshold_only)
{
    /* The rules' probability is rounded to 9 decimals (pam.c): "just
    ** below" is 1e-9 below, and what rounds to the threshold is at it. */
    const double t = 0.5;
    cr_expect_eq(decide(0.499999999, t), 'p', "just below: the primary");
    cr_expect_eq(decide(0.5, t), 'a', "at: the alternative");
    cr_expect_eq(decide(0.500000001, t), 'a', "just above: the alternative");
    cr_expect_eq(decide(0.4999999999, t), 'a', "rounds to the threshold: at it");
    cr_expect_eq(decide(0.0, 0.0), 'a', "threshold 0 diverts every analysed call");
    cr_expect_eq(decide(1.0, 1.0), 'a');
    cr_expect_eq(decide(0.99, 1.0), 'p');

    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_expect_eq(st.transactions, 7);
    cr_expect_eq(st.mirrors, 7);
    cr_expect_eq(st.diversions, 5);
    cr_expect_eq(st.primaries, 2);
}

Test(tx, no_alternative_means_no_diversion)
{
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.alternatives = NULL;
    d.n_alternatives = 0;
    struct frame fr = {0};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(mirrorRuns, 1);
    cr_expect_eq(primaryRuns, 1);
    cr_expect_eq(altRuns, 0);
}

Test(tx, a_broken_rules_script_runs_the_primary)
{
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.rules_name = "broken.lua";
    d.rules_source = "return {analyze = function(m) error('no') end}";
    struct frame fr = {0};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(primaryRuns, 1);
    cr_expect_eq(altRuns, 0);
    cr_expect(strstr(ptm_last_error(), "rules failed") != NULL, "%s", ptm_last_error());
    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_expect_eq(st.rules_errors, 1);
}

/* --- retries until success_criteria ------------------------------------- */

Test(tx, retries_until_success_criteria_hold)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.retry_max = 5;
    struct frame fr = {.arg = {2}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1, "%s", ptm_last_error());
    cr_expect_eq(primaryRuns, 3, "two failures, then the success ends the retries");
    cr_expect_eq(fr.ret, 1);
    cr_expect_eq(nSlept, 2, "a backoff before each retry, none before the first attempt");
    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_expect_eq(st.attempts, 3);
    cr_expect_eq(st.failures, 0);
}

Test(tx, gives_up_after_retry_max)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.retry_max = 3;
    struct frame fr = {.arg = {100}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 4, "the first attempt and retry_max retries");
    cr_expect_eq(fr.ret, -1, "the last attempt's result");
    cr_expect_eq(fr.err, EAGAIN);
    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_expect_eq(st.attempts, 4);
    cr_expect_eq(st.failures, 1);
}

Test(tx, the_rules_set_the_retries)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.retry_max = 9;
    d.rules_name = "retries.lua";
    d.rules_source = "return {analyze = function(m) return {probability = 0, retries = 1} end}";
    struct frame fr = {.arg = {100}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 2, "the verdict's retries, not the descriptor's");
}

/* --- the snapshot, restored --------------------------------------------- */

Test(tx, each_retry_starts_from_the_snapshot)
{
    /* No mirror: this mirror dirties the region, and the first attempt
    ** finds what a mirror left (a real one leaves nothing: ptmcc proves an
    ** inline mirror's stores stay its own; a fork mirror's stay in its
    ** child). */
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 4;
    struct frame fr = {.arg = {3}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_assert_eq(primaryRuns, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(argsSeen[i], 3, "attempt %d found the frame's arguments as on entry", i);
        cr_expect_str_eq(regionSeen[i], "entry!!", "attempt %d found the region as on entry", i);
    }
}

Test(tx, the_alternative_starts_from_the_snapshot)
{
    struct ptm_tx_desc d = descWith(1.0, 0.5);
    struct frame fr = {.arg = {5}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_assert_eq(mirrorRuns, 1);
    cr_assert_eq(altRuns, 1);
    cr_expect_eq(primaryRuns, 0);
    cr_expect_str_eq(altRegionSeen, "entry!!", "the mirror's change to the region is undone");
    cr_expect_eq(fr.ret, 2);
}

/* --- backoff and jitter -------------------------------------------------- */

/* Runs calls whose primary always fails, retry_max retries each, and
** checks each delay against its bound; returns how many delays fell in the
** upper half of their bound and how many in the lower half. */
static void backoffRuns(struct ptm_tx_desc *d, unsigned calls, const uint64_t *bound,
                        unsigned *upper, unsigned *lower)
{
    *upper = *lower = 0;
    /* Many failing calls in a row: the process's retry budget (adjust.c)
    ** would stop their retries, and these tests count every one. */
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    for (unsigned k = 0; k < calls; k++) {
        nSlept = 0;
        resetRecords();
        struct frame fr = {.arg = {1000}};
        cr_assert_eq(ptm_tx_run(d, &fr), 0);
        cr_assert_eq(nSlept, d->retry_max, "one sleep before each retry");
        for (unsigned i = 0; i < d->retry_max; i++) {
            cr_assert_leq(sleptUs[i], bound[i], "call %u retry %u slept %llu us, bound %llu", k,
                          i, (unsigned long long)sleptUs[i], (unsigned long long)bound[i]);
            if (sleptUs[i] * 2 > bound[i])
                (*upper)++;
            else
                (*lower)++;
        }
    }
}

Test(tx, exponential_backoff_stays_under_its_doubling_bound_with_full_jitter)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 6;
    d.backoff = PTM_BACKOFF_EXPONENTIAL;
    d.backoff_base_us = 1000;
    d.backoff_cap_us = 10000;
    static const uint64_t bound[6] = {1000, 2000, 4000, 8000, 10000, 10000};
    unsigned upper, lower;
    backoffRuns(&d, 64, bound, &upper, &lower);
    /* Full jitter draws uniformly in [0, bound]: 384 draws all in one half
    ** has a chance of 2^-383. */
    cr_expect_gt(upper, 0, "no delay in the upper half of its bound: no jitter?");
    cr_expect_gt(lower, 0, "no delay in the lower half of its bound: no jitter?");
}

Test(tx, exponential_backoff_without_overflow_at_many_retries)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 70; /* base << n overflows past n = 63: the cap holds */
    d.backoff = PTM_BACKOFF_EXPONENTIAL;
    d.backoff_base_us = 3;
    d.backoff_cap_us = 500;
    uint64_t bound[70];
    for (unsigned i = 0; i < 70; i++)
        bound[i] = i < 8 && (3ull << i) < 500 ? 3ull << i : 500;
    unsigned upper, lower;
    backoffRuns(&d, 2, bound, &upper, &lower);
    cr_expect_gt(upper + lower, 0);
}

Test(tx, constant_backoff_sleeps_its_base)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 4;
    d.backoff = PTM_BACKOFF_CONSTANT;
    d.backoff_base_us = 2500;
    d.backoff_cap_us = 100;
    struct frame fr = {.arg = {1000}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_assert_eq(nSlept, 4);
    for (unsigned i = 0; i < 4; i++)
        cr_expect_eq(sleptUs[i], 2500, "retry %u", i);
}

Test(tx, no_backoff_retries_at_once)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 3;
    d.backoff = PTM_BACKOFF_NONE;
    d.backoff_base_us = 2500;
    d.backoff_cap_us = 9000;
    struct frame fr = {.arg = {1000}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns, 4);
    for (unsigned i = 0; i < nSlept && i < 256; i++)
        cr_expect_eq(sleptUs[i], 0, "retry %u", i);
}

static int sleepInterrupted(const struct timespec *req, struct timespec *rem)
{
    /* The first call is interrupted half way; the rest sleeps. */
    if (nSlept++ == 0) {
        *rem = (struct timespec){0, req->tv_nsec / 2};
        errno = EINTR;
        return -1;
    }
    sleptUs[0] = (uint64_t)req->tv_nsec / 1000u;
    return 0;
}

Test(tx, an_interrupted_backoff_sleeps_what_is_left)
{
    ptmOs.nanosleep = sleepInterrupted;
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror_mode = PTM_MIRROR_OFF;
    d.retry_max = 1;
    d.backoff = PTM_BACKOFF_CONSTANT;
    d.backoff_base_us = 800;
    struct frame fr = {.arg = {1}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(nSlept, 2);
    cr_expect_eq(sleptUs[0], 400);
}

/* --- disable ------------------------------------------------------------ */

Test(tx, failure_prediction_disabled_runs_no_mirror)
{
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.failure_prediction_enabled = 0;
    d.retry_max = 2;
    struct frame fr = {.arg = {1}};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(mirrorRuns, 0);
    cr_expect_eq(altRuns, 0, "no analysis, no diversion");
    cr_expect_eq(primaryRuns, 2, "the retries still apply");
    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_expect_eq(st.mirrors, 0);
}

Test(tx, ptm_disable_runs_the_primary_once)
{
    cr_assert_eq(setenv("PTM_DISABLE", "1", 1), 0);
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.retry_max = 5;
    struct frame fr = {.arg = {1}};
    cr_expect_eq(ptm_tx_run(&d, &fr), 0, "one failed attempt, no retry");
    cr_expect_eq(mirrorRuns, 0);
    cr_expect_eq(altRuns, 0);
    cr_expect_eq(primaryRuns, 1);
    cr_expect_eq(nSlept, 0);
    cr_expect_str_eq(region, "dirty!!", "nothing restored after a plain call");
}

Test(tx, ptm_disable_zero_is_not_disabled)
{
    cr_assert_eq(setenv("PTM_DISABLE", "0", 1), 0);
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    struct frame fr = {0};
    cr_assert_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(mirrorRuns, 1);
    cr_expect_eq(altRuns, 1);
}

/* --- dry run ------------------------------------------------------------- */

Test(tx, dry_run_runs_only_the_mirror_and_returns_its_result)
{
    cr_assert_eq(setenv("PTM_DRY_RUN", "1", 1), 0);
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.retry_max = 3;
    struct frame fr = {.arg = {1}};
    cr_expect_eq(ptm_tx_run(&d, &fr), 1, "the mirror's result meets success_criteria");
    cr_expect_eq(mirrorRuns, 1);
    cr_expect_eq(primaryRuns, 0);
    cr_expect_eq(altRuns, 0, "a diversion is only decided");
    cr_expect_eq(fr.ret, 7, "the mirror's result");
    cr_expect_eq(nSlept, 0);
    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_expect_eq(st.diversions, 0);
    cr_expect_eq(st.primaries, 0);
    cr_expect_eq(st.failures, 0);
}

Test(tx, dry_run_without_a_mirror_is_a_zero_failure)
{
    cr_assert_eq(setenv("PTM_DRY_RUN", "1", 1), 0);
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.mirror_mode = PTM_MIRROR_OFF;
    struct frame fr = {.arg = {1}, .ret = 33};
    cr_expect_eq(ptm_tx_run(&d, &fr), 0);
    cr_expect_eq(primaryRuns + altRuns + mirrorRuns, 0, "nothing ran");
    cr_expect_eq(fr.ret, 33, "the frame keeps what it held");
    cr_expect(strstr(ptm_last_error(), "dry run") != NULL, "%s", ptm_last_error());
}

/* --- the mirror's deadline (the mirror_deadline key) --------------------- */

/* A mirror that never ends by itself: its loop polls ptm_mirror_cancel, as
** ptmcc's clones do, and leaves when the watchdog asks. */
static void mirrorForever(void *p)
{
    (void)p;
    mirrorRuns++;
    for (;;)
        if (ptm_mirror_cancel)
            ptm_mirror_cancelled();
}

/* Runs one call whose mirror never ends; returns how long it took, in ms. */
static double hangingCall(uint64_t timeout_us, uint64_t mirror_deadline_us)
{
    struct ptm_tx_desc d = descWith(0.0, 0.5);
    d.mirror = mirrorForever;
    d.timeout_us = timeout_us;
    d.mirror_deadline_us = mirror_deadline_us;
    struct frame fr = {0};
    uint64_t t0 = ptmOsNowNs();
    cr_assert_eq(ptm_tx_run(&d, &fr), 1, "%s", ptm_last_error());
    double ms = (double)(ptmOsNowNs() - t0) / 1e6;
    cr_assert_eq(mirrorRuns, 1);
    cr_assert_eq(primaryRuns, 1, "a mirror that timed out is no reason to divert");
    struct ptm_stats st;
    ptm_stats_get(&st);
    cr_assert_eq(st.mirror_timeouts, 1);
    return ms;
}

Test(tx, mirror_deadline_ends_the_mirror_before_the_timeout, .timeout = 20)
{
    /* Without the key the mirror would run until the timeout, 30 s. */
    double ms = hangingCall(30000000, 40000);
    cr_expect_geq(ms, 40.0, "the mirror ran until its deadline");
    cr_expect_lt(ms, 5000.0, "%.0f ms: the timeout, not mirror_deadline, ended the mirror", ms);
}

Test(tx, without_mirror_deadline_the_timeout_is_the_deadline, .timeout = 20)
{
    double ms = hangingCall(60000, 0);
    cr_expect_geq(ms, 60.0);
    cr_expect_lt(ms, 5000.0);
}

Test(tx, ptm_mirror_deadline_ms_overrides_mirror_deadline, .timeout = 20)
{
    cr_assert_eq(setenv("PTM_MIRROR_DEADLINE_MS", "30", 1), 0);
    double ms = hangingCall(30000000, 30000000);
    cr_expect_geq(ms, 30.0);
    cr_expect_lt(ms, 5000.0, "%.0f ms: the variable did not win", ms);
}

/* --- what never reaches the engine --------------------------------------- */

Test(tx, another_abi_runs_the_primary)
{
    struct ptm_tx_desc d = descWith(1.0, 0.1);
    d.abi = PTM_ABI_VERSION + 1;
    struct frame fr = {0};
    cr_expect_eq(ptm_tx_run(&d, &fr), 1);
    cr_expect_eq(primaryRuns, 1);
    cr_expect_eq(mirrorRuns, 0);
    cr_expect(strstr(ptm_last_error(), "ABI") != NULL, "%s", ptm_last_error());
}
