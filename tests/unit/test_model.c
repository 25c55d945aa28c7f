/*
** test_model.c - the calibrated model (model.c), its counts in the
** history (history.c: ptmHistoryModel, ptmHistoryLearn), m.model and
** ptm.beta for rules (pam_lib.c), and the default rules' use of it.
**
** PTM_HISTORY is off (tests/CMakeLists.txt): these histories live in
** memory; test_store.c covers the file.
*/
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "child_test.h"
#include "ptm_int.h"

static const struct ptm_alt alts[] = {{"tx_queue", NULL}};

static struct ptm_tx_desc descOf(const char *id, const char *src)
{
    return (struct ptm_tx_desc){
        .abi = PTM_ABI_VERSION,
        .transaction_id = id,
        .function = "transfer",
        .alternatives = alts,
        .n_alternatives = 1,
        .failure_prediction_enabled = 1,
        .threshold = 0.5,
        .retry_max = 3,
        .rules_name = src ? "test" : NULL,
        .rules_source = src,
    };
}

/* The signals of coarse pattern bits (0 contention, 1 validation, 2
** timeout, 3 deviation), with weak values. */
static struct ptmSignals signalsOf(unsigned bits)
{
    struct ptmSignals s = {.predicted_timeout_ms = 1.0, .acceptable_timeout_ms = HUGE_VAL};
    if (bits & 1) {
        s.contention = 1;
        s.contention_events = 1;
    }
    if (bits & 2) {
        s.validation = 1;
        s.error_events = 1;
    }
    if (bits & 4) {
        s.predicted_timeout_ms = 15.0;
        s.acceptable_timeout_ms = 10.0;
    }
    if (bits & 8)
        s.deviation = 0.6;
    return s;
}

static int analyzeWith(const struct ptm_tx_desc *d, const struct ptmSignals *s,
                       const struct ptmModelView *mv, struct ptmVerdict *v)
{
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE,
                               .duration_ns = 1000000};
    struct ptmHistoryView h = {0};
    struct ptmObservation obs = {.desc = d, .run = &run, .signals = s, .history = &h,
                                 .model = mv};
    return ptmPamAnalyze(&obs, v);
}

/* --- no history: the seed's pseudocode, to the bit ------------------------ */

Test(seed, no_history_is_the_seed_exactly)
{
    struct ptm_tx_desc d = descOf("seed.tx", NULL);
    for (unsigned bits = 0; bits < 16; bits++) {
        struct ptmSignals s = signalsOf(bits);
        struct ptmModelView mv;
        struct ptmHistory *h = ptmHistoryFor(&d);
        ptmHistoryModel(h, &s, &mv);
        cr_assert_eq(mv.cell, bits);
        cr_assert_eq(mv.n, 0);
        cr_assert(!mv.enough);
        cr_assert_eq(mv.breaker, 0.0);
        /* The model's estimate is the seed's sum, to the last bit ... */
        cr_assert(mv.probability == ptmModelSeed(bits), "pattern %u: %.17g vs %.17g", bits,
                  mv.probability, ptmModelSeed(bits));
        /* ... and the default rules decide exactly as without a model. */
        struct ptmVerdict with, without;
        cr_assert_eq(analyzeWith(&d, &s, &mv, &with), PTM_OK);
        cr_assert_eq(analyzeWith(&d, &s, NULL, &without), PTM_OK);
        cr_assert(with.probability == without.probability, "pattern %u: %.17g vs %.17g", bits,
                  with.probability, without.probability);
        /* (the PAM rounds a verdict to 1e-9, pam.c) */
        cr_assert(with.probability == round(mv.probability * 1e9) / 1e9, "pattern %u", bits);
        cr_assert_eq(with.n_reasons, without.n_reasons);
        for (unsigned i = 0; i < with.n_reasons; i++)
            cr_assert_str_eq(with.reasons[i], without.reasons[i]);
    }
}

Test(seed, timeout_alone_is_0_3_and_does_not_divert)
{
    cr_assert(ptmModelSeed(4) == 0.0 + 0.3);
    struct ptm_tx_desc d = descOf("seed.timeout", NULL);
    struct ptmSignals s = signalsOf(4);
    struct ptmModelView mv;
    ptmHistoryModel(ptmHistoryFor(&d), &s, &mv);
    struct ptmVerdict v;
    cr_assert_eq(analyzeWith(&d, &s, &mv, &v), PTM_OK);
    cr_assert(v.probability < d.threshold);
}

/* --- learning --------------------------------------------------------------- */

Test(update, counts_move_the_estimate_to_the_observed_rate)
{
    struct ptmModelCounts c;
    memset(&c, 0, sizeof c);
    struct ptmModelView mv;
    /* Timeout alone (seed 0.3) that fails 9 times in 10. */
    c.n[4] = 100;
    c.fail[4] = 90;
    ptmModelPredict(&c, 4, &mv);
    cr_assert_eq(mv.n, 100);
    cr_assert_eq(mv.failures, 90);
    cr_assert(mv.enough);
    /* Pattern: (8*0.3 + 90)/108 = 0.8556; cell: (4*0.8556 + 90)/104. */
    double pp = (8 * 0.3 + 90) / 108.0, pc = (4 * pp + 90) / 104.0;
    cr_assert_float_eq(mv.probability, pc, 1e-12);
    cr_assert_gt(mv.probability, 0.85);

    /* Validation (seed 0.4) that never fails: the estimate falls. */
    c.n[2] = 40;
    ptmModelPredict(&c, 2, &mv);
    cr_assert_lt(mv.probability, 0.1);

    /* A strong cell of a pattern learns from its pattern first: cell 4|64
    ** (timeout over twice the limit) has no outcome of its own. */
    ptmModelPredict(&c, 4 | 64, &mv);
    cr_assert_eq(mv.cell_n, 0);
    cr_assert_eq(mv.n, 100);
    cr_assert_float_eq(mv.probability, pp, 1e-12);
}

Test(update, cells_use_the_values)
{
    struct ptmSignals s = signalsOf(4);
    cr_assert_eq(ptmModelCell(&s), 4u);
    s.predicted_timeout_ms = 25.0; /* over twice 10 */
    cr_assert_eq(ptmModelCell(&s), 4u | 64u);
    s.predicted_timeout_ms = HUGE_VAL; /* the mirror timed out */
    cr_assert_eq(ptmModelCell(&s), 4u | 64u);
    s = signalsOf(1);
    s.contention_events = 3;
    cr_assert_eq(ptmModelCell(&s), 1u | 16u);
    s = signalsOf(2);
    s.criteria_failed = 1;
    cr_assert_eq(ptmModelCell(&s), 2u | 32u);
    s = signalsOf(8);
    s.deviation = 0.9;
    cr_assert_eq(ptmModelCell(&s), 8u | 128u);
    cr_assert_eq(ptmModelCell(NULL), 0u);
}

Test(update, labels_through_the_history)
{
    struct ptm_tx_desc d = descOf("update.labels", NULL);
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmSignals s = signalsOf(4);
    unsigned cell = ptmModelCell(&s);
    /* Unlabelled calls (diverted: the primary did not run) teach nothing. */
    for (int i = 0; i < 20; i++)
        ptmHistoryLearn(h, "tx_queue", 0, 0, 0, 0, cell);
    struct ptmModelView mv;
    ptmHistoryModel(h, &s, &mv);
    cr_assert_eq(mv.n, 0);
    /* Labelled: the primary failed 12 times in 12, alternating with
    ** successes so that the breaker stays closed. */
    for (int i = 0; i < 12; i++) {
        ptmHistoryLearn(h, "transfer", 1, 1, 1, 1, cell);
        ptmHistoryLearn(h, "transfer", 0, 1, 0, 1, 0);
    }
    ptmHistoryModel(h, &s, &mv);
    cr_assert_eq(mv.n, 12);
    cr_assert_eq(mv.failures, 12);
    cr_assert_eq(mv.outcomes, 24);
    cr_assert(mv.enough);
    cr_assert_gt(mv.probability, 0.7);
    cr_assert_eq(mv.breaker, 0.0);

    /* The default rules now use it, and say so. */
    struct ptmVerdict v;
    cr_assert_eq(analyzeWith(&d, &s, &mv, &v), PTM_OK);
    cr_assert(v.probability == round(mv.probability * 1e9) / 1e9);
    cr_assert_geq(v.probability, d.threshold);
    int said = 0;
    for (unsigned i = 0; i < v.n_reasons; i++)
        said |= strncmp(v.reasons[i], "model: ", 7) == 0 && strstr(v.reasons[i], "12 outcomes");
    cr_assert(said, "no model reason");
}

/* --- the circuit breaker ------------------------------------------------------ */

Test(breaker, repeated_failures_open_it_and_a_success_closes_it)
{
    cr_assert_eq(PTM_BREAKER_MIN_STREAK, 5);
    cr_assert_eq(ptmModelBreaker(4, 0), 0.0);
    cr_assert_float_eq(ptmModelBreaker(5, 0), 0.75, 1e-12);
    cr_assert_float_eq(ptmModelBreaker(6, 10), 0.875, 1e-12);
    cr_assert_eq(ptmModelBreaker(40, 0), 0.99);
    cr_assert_eq(ptmModelBreaker(5, PTM_BREAKER_QUIET_MS), 0.0); /* quiet: half-open */

    struct ptm_tx_desc d = descOf("breaker.tx", NULL);
    struct ptmHistory *h = ptmHistoryFor(&d);
    /* A path that usually succeeds. */
    for (int i = 0; i < 20; i++) {
        ptmHistoryRecord(h, 1, 0, NULL, 0, NULL);
        ptmHistoryLearn(h, "transfer", 0, 1, 0, 1, 0);
    }
    for (int i = 0; i < 6; i++) {
        ptmHistoryRecord(h, 0, 0, NULL, 0, NULL);
        ptmHistoryLearn(h, "transfer", 1, 1, 1, 1, 0);
    }
    struct ptmSignals s = signalsOf(0);
    struct ptmModelView mv;
    ptmHistoryModel(h, &s, &mv);
    cr_assert_eq(mv.streak, 6);
    cr_assert_float_eq(mv.breaker, 0.875, 1e-12);
    /* Nothing fired, yet the rules run (the when list is not quiet) and
    ** the breaker's probability diverts. */
    struct ptmVerdict v;
    cr_assert_eq(analyzeWith(&d, &s, &mv, &v), PTM_OK);
    cr_assert_float_eq(v.probability, 0.875, 1e-12);
    cr_assert(strstr(v.reasons[v.n_reasons - 1], "circuit breaker: 6 failures"));

    /* A receive probing a peer that timed out (half-open, shims/net.c)
    ** is let through: its success is what closes the breaker. */
    s.half_open = 1;
    cr_assert_eq(analyzeWith(&d, &s, &mv, &v), PTM_OK);
    cr_assert_lt(v.probability, d.threshold, "the model's %g alone", v.probability);
    for (unsigned i = 0; i < v.n_reasons; i++)
        cr_assert_null(strstr(v.reasons[i], "circuit breaker"), "%s", v.reasons[i]);
    s.half_open = 0;

    /* After the quiet period the breaker lapses (the primary may try). */
    usleep((PTM_BREAKER_QUIET_MS + 100) * 1000);
    ptmHistoryModel(h, &s, &mv);
    cr_assert_eq(mv.breaker, 0.0);
    cr_assert_eq(mv.streak, 6);
    /* Its success closes the breaker. */
    ptmHistoryLearn(h, "transfer", 0, 1, 0, 1, 0);
    ptmHistoryModel(h, &s, &mv);
    cr_assert_eq(mv.streak, 0);
}

Test(breaker, a_path_that_often_fails_does_not_open_it)
{
    struct ptm_tx_desc d = descOf("breaker.flaky", NULL);
    struct ptmHistory *h = ptmHistoryFor(&d);
    /* Fails half the time as a matter of course (a lookup that finds
    ** nothing): six failures in a row are no news. */
    for (int i = 0; i < 40; i++) {
        ptmHistoryRecord(h, i % 2, 0, NULL, 0, NULL);
        ptmHistoryLearn(h, "transfer", !(i % 2), 1, !(i % 2), 1, 0);
    }
    for (int i = 0; i < 6; i++) {
        ptmHistoryRecord(h, 0, 0, NULL, 0, NULL);
        ptmHistoryLearn(h, "transfer", 1, 1, 1, 1, 0);
    }
    struct ptmModelView mv;
    ptmHistoryModel(h, NULL, &mv);
    cr_assert_eq(mv.streak, 6);
    cr_assert_eq(mv.breaker, 0.0);
}

/* --- m.model and ptm.beta for rules ---------------------------------------- */

Test(rules, m_model_fields)
{
    static const char src[] =
        "return { analyze = function(m)\n"
        "  local x = m.model\n"
        "  if not x then return 0.01 end\n"
        "  local ok = x.n == 12 and x.failures == 3 and x.cell == 2 and x.seed == 0.4\n"
        "    and x.enough == true and x.min_outcomes == 10 and x.breaker == 0\n"
        "    and x.streak == 0 and x.cell_n == 12 and x.outcomes == 12\n"
        "    and math.abs(x.probability - ptm.beta(ptm.beta(0.4, 8, 12, 3), 4, 12, 3)) < 1e-12\n"
        "  return ok and 0.9 or 0.02\n"
        "end }\n";
    struct ptm_tx_desc d = descOf("rules.m_model", src);
    struct ptmModelCounts c;
    memset(&c, 0, sizeof c);
    c.n[2] = 12;
    c.fail[2] = 3;
    struct ptmModelView mv = {0};
    ptmModelPredict(&c, 2, &mv);
    mv.outcomes = 12;
    struct ptmSignals s = signalsOf(2);
    struct ptmVerdict v;
    cr_assert_eq(analyzeWith(&d, &s, &mv, &v), PTM_OK, "%s", v.error);
    cr_assert_float_eq(v.probability, 0.9, 1e-12);
    cr_assert_eq(analyzeWith(&d, &s, NULL, &v), PTM_OK, "%s", v.error);
    cr_assert_float_eq(v.probability, 0.01, 1e-12);
}

Test(rules, beta_checks_its_arguments)
{
    static const char *const bad[] = {
        "ptm.beta(1.5, 8, 1, 0)", "ptm.beta(0.5, 0, 1, 0)", "ptm.beta(0.5, 8, -1, 0)",
        "ptm.beta(0.5, 8, 3, 4)", "ptm.beta('x', 8, 3, 1)", "ptm.beta(0.5, 8, 3)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "return { analyze = function(m) return %s end }", bad[i]);
        struct ptm_tx_desc d = descOf("rules.beta", src);
        struct ptmSignals s = signalsOf(0);
        struct ptmVerdict v;
        cr_assert_eq(analyzeWith(&d, &s, NULL, &v), PTM_ERULES, "%s accepted", bad[i]);
        cr_assert(strstr(v.error, "bad argument"), "%s: %s", bad[i], v.error);
    }
    struct ptm_tx_desc d = descOf("rules.beta",
                                  "return { analyze = function(m) return ptm.beta(0.3, 8, 8, 8) end }");
    struct ptmSignals s = signalsOf(0);
    struct ptmVerdict v;
    cr_assert_eq(analyzeWith(&d, &s, NULL, &v), PTM_OK, "%s", v.error);
    cr_assert_float_eq(v.probability, (8 * 0.3 + 8) / 16.0, 1e-12);
}

/* --- one lock per call ------------------------------------------------------- */

/* ptmHistoryEnd (tx.c's one call per transaction) learns exactly what
** ptmHistoryRecord then ptmHistoryLearn learn: counts, latencies, the
** model's cells, the paths and the breaker, over a mixed sequence. */
Test(history, end_is_record_then_learn)
{
    struct ptm_tx_desc a = descOf("history.end.a", NULL), b = descOf("history.end.b", NULL);
    struct ptmHistory *ha = ptmHistoryFor(&a), *hb = ptmHistoryFor(&b);
    for (unsigned i = 0; i < 200; i++) {
        int success = i % 7 != 3, diverted = i % 11 == 5, ran = !diverted;
        int failed = ran && !success;
        uint64_t us[2] = {100 + i % 13, 300 + i};
        unsigned n = 1 + (i % 5 == 0);
        const char *path = diverted ? "tx_queue" : "transfer";
        unsigned cell = i % PTM_MODEL_CELLS;
        int labelled = ran && i % 3 != 0;
        ptmHistoryRecord(ha, success, diverted, diverted ? NULL : us, diverted ? 0 : n, NULL);
        ptmHistoryLearn(ha, path, !success, ran, failed, labelled, cell);
        struct ptmHistoryOutcome o = {.success = success,
                                      .diverted = diverted,
                                      .attempt_us = diverted ? NULL : us,
                                      .n_attempts = diverted ? 0 : n,
                                      .path = path,
                                      .primary_ran = ran,
                                      .primary_failed = failed,
                                      .labelled = labelled,
                                      .cell = cell};
        ptmHistoryEnd(hb, &o);
    }
    struct ptmHistoryView va, vb;
    ptmHistoryGet(ha, &va);
    ptmHistoryGet(hb, &vb);
    cr_assert_eq(memcmp(&va, &vb, sizeof va), 0);
    for (unsigned bits = 0; bits < 16; bits++) {
        struct ptmSignals s = signalsOf(bits);
        struct ptmModelView ma, mb;
        ptmHistoryModel(ha, &s, &ma);
        ptmHistoryModel(hb, &s, &mb);
        cr_assert_eq(ma.outcomes, mb.outcomes);
        cr_assert_eq(ma.n, mb.n);
        cr_assert_eq(ma.cell_n, mb.cell_n);
        cr_assert_eq(ma.cell_failures, mb.cell_failures);
        cr_assert_eq(ma.streak, mb.streak);
        cr_assert_eq(ma.cell, mb.cell);
        cr_assert_float_eq(ma.probability, mb.probability, 0.0);
        cr_assert_float_eq(ma.breaker, mb.breaker, 0.0);
    }
    ptmHistoryEnd(NULL, &(struct ptmHistoryOutcome){.success = 1}); /* no history: nothing */
}

/* A thread that makes histories and ends calls on them without pause, so
** that the map's lock and the histories' are held most of the time. */
static atomic_int hammering;

static void *hammer(void *arg)
{
    (void)arg;
    char id[48];
    for (unsigned i = 0; atomic_load(&hammering); i++) {
        snprintf(id, sizeof id, "history.fork.%u", i % 512);
        struct ptm_tx_desc d = descOf(id, NULL);
        ptmHistoryEnd(ptmHistoryFor(&d), &(struct ptmHistoryOutcome){.success = 1});
    }
    return NULL;
}

/* A child forked while another thread holds the history's locks makes a
** call (ptmHistoryFor, ptmHistoryEnd) and exits: it must never wait on a
** lock the other thread held at the fork, which it does not have. */
Test(history, a_fork_child_never_inherits_a_held_lock)
{
    pthread_t t;
    atomic_store(&hammering, 1);
    cr_assert_eq(pthread_create(&t, NULL, hammer, NULL), 0);
    int hung = 0;
    for (int i = 0; i < 200 && !hung; i++) {
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            /* Child */
            char id[48];
            snprintf(id, sizeof id, "history.fork.child.%d", i);
            struct ptm_tx_desc d = descOf(id, NULL);
            ptmHistoryEnd(ptmHistoryFor(&d), &(struct ptmHistoryOutcome){.success = 1});
            d = descOf("history.fork.0", NULL);
            ptmHistoryEnd(ptmHistoryFor(&d), &(struct ptmHistoryOutcome){.success = 1});
            _exit(0);
        }
        /* Parent */
        int status;
        hung = !waitChild(pid, 5000, &status);
    }
    atomic_store(&hammering, 0);
    pthread_join(t, NULL);
    cr_assert_not(hung, "a fork child waited 5 s on a history lock");
}
