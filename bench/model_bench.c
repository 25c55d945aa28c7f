/*
** model_bench.c - the seed's fixed weights against the learned model, on a
** workload whose failure rate per signal pattern is known.
**
** Plain C against libptm's internals: each call draws a signal pattern and
** whether its primary fails from the table below (the same draws for
** every variant), asks the real PAM (the embedded lua-rules/default.lua,
** ptmPamAnalyze) for a probability, diverts at the default threshold
** (0.4), and feeds the outcome of every call whose primary ran to the
** history (ptmHistoryLearn), as tx.c does.  Calls are paced at one per
** millisecond, so that the circuit breaker's quiet period means what it
** means in a service of 1,000 calls a second.  Variants, side by side:
**
**   seed      the seed's pseudocode (no model: m.model absent);
**   learned   the default rules with the model; labels only from calls
**             that ran the primary (a diverted call has no outcome);
**   observe   the same, after the first 200 calls ran in observe mode
**             (predicted and recorded, the primary always ran).
**
** Each learns during calls 1..1000; the figures are for calls 1001..2000,
** where the ground truth of every call is known (the draw), diverted or
** not: Brier score (mean (p - failed)^2), the false-divert rate (diverted
** calls whose primary would have succeeded, over those that would have
** succeeded), averted failures (diverted calls whose primary would have
** failed, over those that would have failed), and the Brier score on
** labelled calls only, as a deployment could measure it.
**
** usage: model_bench [calls per phase (1000)]
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptm_int.h"

struct pattern {
    const char *name;
    unsigned bits;                /* model.c's coarse bits */
    int strong;                   /* the strength bit of its signal */
    double freq, fail;            /* share of calls; P(primary fails) */
};

/* The seed's sums for these: 0, 0.2, 0.4, 0.4, 0.3, 0.1, 0.5. */
static const struct pattern patterns[] = {
    {"nothing fired", 0, 0, 0.58, 0.02},
    {"contention (lock held long)", 1, 1, 0.08, 0.75},
    {"contention (held briefly)", 1, 0, 0.06, 0.05},
    {"validation (an event)", 2, 0, 0.08, 0.20},
    {"validation (result failed)", 2, 1, 0.04, 0.97},
    {"timeout alone", 4, 0, 0.09, 0.85},
    {"deviation alone", 8, 0, 0.04, 0.05},
    {"contention + timeout", 5, 0, 0.03, 0.90},
};
#define N_PATTERNS (sizeof patterns / sizeof patterns[0])

static uint64_t rng;

static double draw(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static unsigned pick(void)
{
    double u = draw(), c = 0;
    for (unsigned i = 0; i < N_PATTERNS; i++) {
        c += patterns[i].freq;
        if (u < c)
            return i;
    }
    return 0;
}

static struct ptmSignals signalsOf(const struct pattern *p)
{
    struct ptmSignals s = {.predicted_timeout_ms = 1.0, .acceptable_timeout_ms = 10.0};
    if (p->bits & 1) {
        s.contention = 1;
        s.contention_events = p->strong ? 3 : 1;
    }
    if (p->bits & 2) {
        s.validation = 1;
        s.error_events = 1;
        s.criteria_failed = p->strong;
    }
    if (p->bits & 4)
        s.predicted_timeout_ms = 15.0;
    if (p->bits & 8)
        s.deviation = 0.6;
    return s;
}

enum variant { SEED, LEARNED, OBSERVE };
static const char *const variantName[] = {"seed", "learned", "observe+learned"};

struct figures {
    double brier, brier_labelled;
    unsigned n, labelled, good, doomed, false_diverts, averted, breaker_calls;
    double p_end[N_PATTERNS];
};

static const struct ptm_alt alts[] = {{"alternative", NULL}};

static void run(enum variant var, unsigned phase, struct figures *f)
{
    static const char *const ids[] = {"bench.seed", "bench.learned", "bench.observe"};
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = ids[var], .function = "primary",
        .alternatives = alts, .n_alternatives = 1, .failure_prediction_enabled = 1,
        .threshold = 0.4, .retry_max = 0,
    };
    struct ptmHistory *h = ptmHistoryFor(&d);
    struct ptmMirrorRun mrun = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_INLINE,
                                .duration_ns = 1000000};
    struct ptmHistoryView hv = {0};
    memset(f, 0, sizeof *f);
    rng = 0x9E3779B97F4A7C15ULL;
    for (unsigned i = 0; i < 2 * phase; i++) {
        usleep(1000);
        const struct pattern *p = &patterns[pick()];
        int doomed = draw() < p->fail;
        struct ptmSignals s = signalsOf(p);
        struct ptmModelView mv;
        ptmHistoryModel(h, &s, &mv);
        struct ptmObservation obs = {.desc = &d, .run = &mrun, .signals = &s, .history = &hv,
                                     .model = var == SEED ? NULL : &mv};
        struct ptmVerdict v;
        if (ptmPamAnalyze(&obs, &v) != PTM_OK) {
            fprintf(stderr, "model_bench: rules failed: %s\n", v.error);
            exit(1);
        }
        int observing = var == OBSERVE && i < 200;
        int divert = !observing && v.probability >= d.threshold;
        unsigned cell = ptmModelCell(&s);
        if (divert)
            ptmHistoryLearn(h, "alternative", 0, 0, 0, 0, cell);
        else
            ptmHistoryLearn(h, "primary", doomed, 1, doomed, 1, cell);
        if (i < phase)
            continue;
        double e = v.probability - doomed;
        f->n++;
        f->brier += e * e;
        if (!divert) {
            f->labelled++;
            f->brier_labelled += e * e;
        }
        f->breaker_calls += mv.breaker > 0 && var != SEED;
        if (doomed) {
            f->doomed++;
            f->averted += divert;
        } else {
            f->good++;
            f->false_diverts += divert;
        }
    }
    for (unsigned k = 0; k < N_PATTERNS; k++) {
        struct ptmSignals s = signalsOf(&patterns[k]);
        struct ptmModelView mv;
        ptmHistoryModel(h, &s, &mv);
        f->p_end[k] = var == SEED ? mv.seed : mv.probability;
    }
}

int main(int argc, char **argv)
{
    unsigned phase = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000;
    if (phase == 0)
        phase = 1000;
    setenv("PTM_HISTORY", "off", 1);
    struct figures fig[3];
    for (int v = SEED; v <= OBSERVE; v++)
        run((enum variant)v, phase, &fig[v]);

    printf("model_bench: %u calls to learn, then %u calls measured (threshold 0.4)\n\n", phase,
           phase);
    printf("%-16s %7s %11s %15s %15s %9s %8s\n", "variant", "Brier", "Brier lab.",
           "false-divert", "averted", "failures", "breaker");
    for (int v = SEED; v <= OBSERVE; v++) {
        const struct figures *f = &fig[v];
        char fd[32], av[32];
        snprintf(fd, sizeof fd, "%u/%u %.1f%%", f->false_diverts, f->good,
                 100.0 * f->false_diverts / (f->good ? f->good : 1));
        snprintf(av, sizeof av, "%u/%u %.1f%%", f->averted, f->doomed,
                 100.0 * f->averted / (f->doomed ? f->doomed : 1));
        printf("%-16s %7.4f %11.4f %15s %15s %9u %8u\n", variantName[v], f->brier / f->n,
               f->labelled ? f->brier_labelled / f->labelled : 0.0, fd, av,
               f->doomed - f->averted, f->breaker_calls);
    }
    printf("\nP(fail) at the end, per pattern:\n%-30s %6s %6s %6s %8s %8s\n", "pattern",
           "share", "true", "seed", "learned", "observe");
    for (unsigned k = 0; k < N_PATTERNS; k++)
        printf("%-30s %5.0f%% %6.2f %6.2f %8.2f %8.2f\n", patterns[k].name,
               100 * patterns[k].freq, patterns[k].fail, fig[SEED].p_end[k],
               fig[LEARNED].p_end[k], fig[OBSERVE].p_end[k]);
    return 0;
}
