/*
** test_sampling.c - adaptive mirroring, exploration and the per-transaction
** retry budget (runtime/sampling.c, tx.c, adjust.c): the schedule, its
** re-arming on a failure or a signal, threads hammering one id, the
** exploration draw and its bounds, the retry_budget key, and hostile
** descriptor values (NaN, negative, huge).
**
** Transactions are written by hand as ptmcc would emit them (as in
** test_tx.c); the rules are a fixed script, the mirror runs inline on the
** test's thread.  Criterion runs each test in its own process, so the
** per-id state and the environment read once per process start fresh.
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ptm_int.h"

struct frame {
    struct {
        int fail; /* the primary fails (ret -1) */
    } arg;
    int ret;
    int err;
};

static atomic_int primaryRuns, altRuns, mirrorRuns;

static void primary(void *p)
{
    struct frame *fr = p;
    atomic_fetch_add(&primaryRuns, 1);
    fr->ret = fr->arg.fail ? -1 : 0;
    fr->err = fr->arg.fail ? EIO : 0;
}

static void alternative(void *p)
{
    struct frame *fr = p;
    atomic_fetch_add(&altRuns, 1);
    fr->ret = 0;
    fr->err = 0;
}

static void mirror(void *p)
{
    struct frame *fr = p;
    atomic_fetch_add(&mirrorRuns, 1);
    fr->ret = 0;
    fr->err = 0;
}

static int success(const void *p)
{
    return ((const struct frame *)p)->ret >= 0;
}

static const struct ptm_alt alts[] = {{"sampling_alternative", alternative}};

static const char rulesQuiet[] = "return {analyze = function(m) return {probability = 0} end}";
static const char rulesDoom[] = "return {analyze = function(m) return {probability = 0.9} end}";

/* A descriptor of id "sampling.test" whose rules say doom ? 0.9 : 0, at
** threshold 0.5, mirroring inline. */
static struct ptm_tx_desc descOf(int doom, int adaptive, struct ptm_tx_slot *slot)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = "sampling.test",
        .function = "sampling_primary",
        .file = "test_sampling.c",
        .line = 1,
        .frame_size = sizeof(struct frame),
        .primary = primary,
        .mirror = mirror,
        .success = success,
        .failure_prediction_enabled = 1,
        .mirror_mode = PTM_MIRROR_INLINE,
        .threshold = 0.5,
        .rules_name = doom ? "doom.lua" : "quiet.lua",
        .rules_source = doom ? rulesDoom : rulesQuiet,
        .mirror_sampling = adaptive ? PTM_SAMPLING_ADAPTIVE : PTM_SAMPLING_ALWAYS,
        .slot = slot,
    };
}

static int call(const struct ptm_tx_desc *d, int fail)
{
    struct frame fr = {.arg = {fail}};
    return ptm_tx_run(d, &fr);
}

/* mirrorsOf: the mirrors n calls of d make. */
static int mirrorsOf(const struct ptm_tx_desc *d, int n, int fail)
{
    int before = atomic_load(&mirrorRuns);
    for (int i = 0; i < n; i++)
        call(d, fail);
    return atomic_load(&mirrorRuns) - before;
}

Test(sampling, schedule)
{
    cr_assert_eq(ptmSamplingEvery(0), 1);
    cr_assert_eq(ptmSamplingEvery(PTM_SAMPLING_QUIET - 1), 1);
    cr_assert_eq(ptmSamplingEvery(PTM_SAMPLING_QUIET), 2);
    cr_assert_eq(ptmSamplingEvery(2 * PTM_SAMPLING_QUIET - 1), 2);
    cr_assert_eq(ptmSamplingEvery(2 * PTM_SAMPLING_QUIET), 4);
    cr_assert_eq(ptmSamplingEvery(3 * PTM_SAMPLING_QUIET), 8);
    cr_assert_eq(ptmSamplingEvery(6 * PTM_SAMPLING_QUIET), PTM_SAMPLING_CAP);
    cr_assert_eq(ptmSamplingEvery(7 * PTM_SAMPLING_QUIET), PTM_SAMPLING_CAP);
    cr_assert_eq(ptmSamplingEvery(UINT64_MAX), PTM_SAMPLING_CAP);
    cr_assert_str_eq(ptmSamplingReason(2), "adaptive sampling: quiet, 1 call in 2 mirrored");
    cr_assert_str_eq(ptmSamplingReason(64), "adaptive sampling: quiet, 1 call in 64 mirrored");
    cr_assert_str_eq(ptmSamplingReason(1u << 20), "adaptive sampling: quiet, 1 call in 64 mirrored");
    cr_assert_str_eq(ptmSamplingReason(0), "adaptive sampling: quiet, 1 call in 2 mirrored");
}

/* Quiet calls are all mirrored until the run is long, then a share; a
** failure of an unmirrored primary re-arms full mirroring at once. */
Test(sampling, kicks_in_and_rearms_on_failure)
{
    static struct ptm_tx_slot slot;
    struct ptm_tx_desc d = descOf(0, 1, &slot);
    cr_assert_eq(mirrorsOf(&d, PTM_SAMPLING_QUIET, 0), PTM_SAMPLING_QUIET,
                 "the first %d calls are all mirrored", PTM_SAMPLING_QUIET);
    mirrorsOf(&d, 300, 0);
    struct ptmTxState *st = ptmTxStateFor(&d);
    cr_assert_not_null(st);
    cr_assert_eq(slot.state, st, "the slot caches the id's state");
    int m = mirrorsOf(&d, 6400, 0);
    /* 1 in 64: 100 expected; binomial sd ~10. */
    cr_assert(m >= 40 && m <= 200, "%d mirrors of 6400 quiet calls", m);
    /* A failing primary, mirrored or not, re-arms. */
    int before = atomic_load(&primaryRuns);
    cr_assert_eq(call(&d, 1), 0);
    cr_assert_eq(atomic_load(&primaryRuns), before + 1);
    cr_assert_eq(atomic_load(&st->quiet), 0);
    cr_assert_eq(mirrorsOf(&d, PTM_SAMPLING_QUIET, 0), PTM_SAMPLING_QUIET,
                 "full mirroring after a failure");
}

/* A signal (here the rules' probability at the threshold) seen by a
** sampled mirror of the id re-arms full mirroring, for every descriptor of
** the id. */
Test(sampling, rearms_on_a_signal)
{
    static struct ptm_tx_slot slotA, slotB;
    struct ptm_tx_desc quiet = descOf(0, 1, &slotA);
    struct ptm_tx_desc doom = descOf(1, 1, &slotB);
    mirrorsOf(&quiet, 1000, 0);
    struct ptmTxState *st = ptmTxStateFor(&quiet);
    cr_assert_eq(ptmTxStateFor(&doom), st, "descriptors of one id share its state");
    cr_assert_eq(ptmSamplingEvery(atomic_load(&st->quiet)), PTM_SAMPLING_CAP);
    /* Calls of doom until one is mirrored: its probability 0.9 >= 0.5. */
    int tries = 0;
    while (mirrorsOf(&doom, 1, 0) == 0 && tries < 100000)
        tries++;
    cr_assert_lt(tries, 100000);
    cr_assert_eq(atomic_load(&st->quiet), 0);
    cr_assert_eq(mirrorsOf(&quiet, PTM_SAMPLING_QUIET, 0), PTM_SAMPLING_QUIET);
}

/* A transaction without the key mirrors every call, however quiet. */
Test(sampling, always_is_the_default)
{
    struct ptm_tx_desc d = descOf(0, 0, NULL);
    cr_assert_eq(mirrorsOf(&d, 2000, 0), 2000);
}

/* An unknown sampling value (a corrupt descriptor) mirrors always. */
Test(sampling, unknown_value_mirrors_always)
{
    struct ptm_tx_desc d = descOf(0, 0, NULL);
    d.mirror_sampling = (enum ptm_mirror_sampling)77;
    cr_assert_eq(mirrorsOf(&d, 1000, 0), 1000);
}

/* A dry run mirrors every call: the mirror is all it runs. */
Test(sampling, dry_run_always_mirrors)
{
    setenv("PTM_DRY_RUN", "1", 1);
    struct ptm_tx_desc d = descOf(0, 1, NULL);
    cr_assert_eq(mirrorsOf(&d, 1000, 0), 1000);
    cr_assert_eq(atomic_load(&primaryRuns), 0);
}

struct hammer {
    struct ptmTxState *st;
    int n;
    int noisy_every; /* 0: all quiet */
    atomic_ulong mirrored, calls;
};

static void *hammerSchedule(void *p)
{
    struct hammer *h = p;
    unsigned long mirrored = 0;
    for (int i = 0; i < h->n; i++) {
        unsigned every;
        mirrored += (unsigned long)ptmSamplingMirror(h->st, &every);
        if (every < 1 || every > PTM_SAMPLING_CAP)
            return (void *)1;
        ptmSamplingNote(h->st, !(h->noisy_every && i % h->noisy_every == 0));
    }
    atomic_fetch_add(&h->mirrored, mirrored);
    atomic_fetch_add(&h->calls, (unsigned long)h->n);
    return NULL;
}

/* Threads hammering one id's schedule: every call counted once, quiet
** increments not lost, k always within its bounds. */
Test(sampling, threads_hammer_the_schedule)
{
    struct ptm_tx_desc d = descOf(0, 1, NULL);
    struct ptmTxState *st = ptmTxStateFor(&d);
    cr_assert_not_null(st);
    enum { THREADS = 8, N = 50000 };
    pthread_t t[THREADS];
    static struct hammer h;
    h.st = st;
    h.n = N;
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammerSchedule, &h), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc, "k out of bounds");
    }
    /* Quiet notes counted up to the saturation (a few threads racing at
    ** its edge may each add one). */
    cr_assert_geq(atomic_load(&st->quiet), PTM_SAMPLING_SATURATED);
    cr_assert_leq(atomic_load(&st->quiet), PTM_SAMPLING_SATURATED + THREADS);
    cr_assert_eq(atomic_load(&h.calls), (unsigned long)THREADS * N);
    /* At the cap, about 1 in 64 mirrored (6250 expected). */
    cr_assert(atomic_load(&h.mirrored) > 3000 && atomic_load(&h.mirrored) < 12000, "%lu",
              (unsigned long)atomic_load(&h.mirrored));
    /* With noise now and then, the run restarts. */
    static struct hammer noisy;
    noisy.st = st;
    noisy.n = N;
    noisy.noisy_every = 997;
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammerSchedule, &noisy), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&noisy.calls), (unsigned long)THREADS * N);
    cr_assert_leq(atomic_load(&st->quiet), PTM_SAMPLING_SATURATED + THREADS);
    /* Noise every 997 calls of each thread keeps mirroring well above 1 in 64. */
    cr_assert_gt(atomic_load(&noisy.mirrored), atomic_load(&h.mirrored));
    /* Sequentially: a quiet run of exactly PTM_SAMPLING_QUIET is counted. */
    ptmSamplingNote(st, 0);
    for (int i = 0; i < PTM_SAMPLING_QUIET; i++)
        ptmSamplingNote(st, 1);
    cr_assert_eq(atomic_load(&st->quiet), PTM_SAMPLING_QUIET);
}

static void *hammerCalls(void *p)
{
    const struct ptm_tx_desc *d = p;
    for (int i = 0; i < 3000; i++)
        if (call(d, i % 500 == 499) != (i % 500 != 499))
            return (void *)1;
    return NULL;
}

/* Threads calling one adaptive transaction: each call's outcome is its
** primary's, every call is counted as mirrored or skipped. */
Test(sampling, threads_hammer_calls)
{
    static struct ptm_tx_slot slot;
    static struct ptm_tx_desc d;
    d = descOf(0, 1, &slot);
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammerCalls, &d), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc, "a call's outcome was not its primary's");
    }
    cr_assert_eq(atomic_load(&primaryRuns), THREADS * 3000);
    struct ptm_stats s;
    ptm_stats_get(&s);
    cr_assert_eq(s.mirrors, (uint64_t)atomic_load(&mirrorRuns));
    cr_assert_eq(s.transactions, THREADS * 3000u);
    cr_assert_lt(atomic_load(&mirrorRuns), THREADS * 3000, "sampling left some calls out");
    cr_assert_gt(atomic_load(&mirrorRuns), 4 * PTM_SAMPLING_QUIET, "a failure every 500 calls re-arms");
}

/* Past PTM_TX_STATES_MAX ids there is no state: those calls mirror
** always. */
Test(sampling, id_table_is_bounded)
{
    static char ids[PTM_TX_STATES_MAX + 1][24];
    struct ptm_tx_desc d = descOf(0, 1, NULL);
    for (int i = 0; i < PTM_TX_STATES_MAX; i++) {
        snprintf(ids[i], sizeof ids[i], "id.%d", i);
        d.transaction_id = ids[i];
        cr_assert_not_null(ptmTxStateFor(&d));
    }
    snprintf(ids[PTM_TX_STATES_MAX], sizeof ids[0], "one.too.many");
    d.transaction_id = ids[PTM_TX_STATES_MAX];
    cr_assert_null(ptmTxStateFor(&d));
    cr_assert_eq(mirrorsOf(&d, 500, 0), 500);
    ptmTxStatesForget();
}

/* --- exploration ---------------------------------------------------------- */

/* explored: primaries that ran among n calls of a would-divert
** transaction with exploration x. */
static int explored(double x, int n)
{
    struct ptm_tx_desc d = descOf(1, 0, NULL);
    d.alternatives = alts;
    d.n_alternatives = 1;
    d.exploration = x;
    int before = atomic_load(&primaryRuns);
    for (int i = 0; i < n; i++)
        call(&d, 0);
    return atomic_load(&primaryRuns) - before;
}

Test(exploration, a_share_of_diverts_runs_the_primary)
{
    int n = explored(0.05, 4000);
    /* 200 expected; sd ~14. */
    cr_assert(n >= 120 && n <= 300, "%d of 4000 explored", n);
    cr_assert_eq(atomic_load(&altRuns), 4000 - n);
}

Test(exploration, never_without_the_key)
{
    cr_assert_eq(explored(0, 5000), 0);
    cr_assert_eq(atomic_load(&altRuns), 5000);
}

Test(exploration, hostile_values)
{
    cr_assert_eq(explored(NAN, 3000), 0, "NaN is no exploration");
    cr_assert_eq(explored(-0.5, 3000), 0, "negative is no exploration");
    cr_assert_eq(explored(-INFINITY, 3000), 0);
    int n = explored(1e300, 4000);
    cr_assert(n <= 300, "huge is bounded to %g: %d of 4000", PTM_EXPLORATION_MAX, n);
    n = explored(INFINITY, 4000);
    cr_assert(n <= 300, "infinite is bounded: %d of 4000", n);
    struct ptm_tx_desc d = descOf(0, 0, NULL);
    d.exploration = 0.5;
    cr_assert_eq(ptmExplorationOf(&d), PTM_EXPLORATION_MAX);
    d.exploration = NAN;
    cr_assert_eq(ptmExplorationOf(&d), 0.0);
}

/* Both keys on one transaction: an explored call is mirrored (it had to
** be, to be predicted) and re-arms full mirroring. */
Test(exploration, with_adaptive_sampling)
{
    struct ptm_tx_desc d = descOf(1, 1, NULL);
    d.alternatives = alts;
    d.n_alternatives = 1;
    d.exploration = 0.05;
    int m = mirrorsOf(&d, 2000, 0);
    cr_assert_eq(m, 2000, "a transaction whose calls are predicted to fail stays mirrored");
    cr_assert_gt(atomic_load(&primaryRuns), 0);
}

/* --- the retry_budget key -------------------------------------------------- */

/* retriesWith: primaries that ran for 20 failing calls with 3 retries
** each under retry_budget ratio (set: the key is given). */
static int retriesWith(int set, double ratio)
{
    setenv("PTM_RETRY_BUDGET", "off", 1);
    ptmRetryBudgetReset();
    static struct ptm_tx_slot slot;
    struct ptm_tx_desc d = descOf(0, 0, &slot);
    d.retry_max = 3;
    d.retry_budget = ratio;
    d.retry_budget_set = set;
    int before = atomic_load(&primaryRuns);
    for (int i = 0; i < 20; i++)
        call(&d, 1);
    return atomic_load(&primaryRuns) - before;
}

Test(retry_budget, without_the_key_every_retry_runs)
{
    cr_assert_eq(retriesWith(0, 0), 80);
}

Test(retry_budget, ratio_zero_allows_the_min)
{
    /* 20 first attempts, and the min's 10 retries. */
    cr_assert_eq(retriesWith(1, 0), 30);
}

Test(retry_budget, a_ratio_allows_its_share)
{
    /* 10 + 0.5 x 20 calls = 20 retries. */
    cr_assert_eq(retriesWith(1, 0.5), 40);
}

Test(retry_budget, hostile_values)
{
    cr_assert_eq(retriesWith(1, NAN), 30, "NaN is ratio 0");
}

Test(retry_budget, huge_is_bounded_not_broken)
{
    cr_assert_eq(retriesWith(1, 1e300), 80);
}

Test(retry_budget, negative_is_zero)
{
    cr_assert_eq(retriesWith(1, -5), 30);
}
