/*
** model.c - the calibrated failure model: P(the primary fails | what the
** mirror saw), learnt online from labelled outcomes.
**
** Why Beta-Bernoulli per cell, not a logistic regression: the seed's
** pseudocode is a sum of fixed weights, which no logistic model with those
** weights reproduces; a Beta prior whose mean is the seed's sum gives it
** back exactly while no outcome is known (the seed's behaviour, which a
** program with no history must keep), and the posterior mean is the
** observed failure rate once outcomes outweigh the prior.  Its state is
** counts, which several processes writing one history file merge by
** adding (store.c), where a regression's weights could only overwrite each
** other.  Each update is O(1) and needs no learning rate.
**
** Two levels, so that the values of the signals count without starving
** rare combinations of evidence:
**   - a pattern: which of the four seed signals fired (16 patterns);
**     prior Beta(k0 * seed, k0 * (1 - seed)), k0 = PTM_MODEL_PRIOR_PATTERN;
**   - a cell: the pattern and, per fired signal, whether its value was
**     strong (ptmModelCell); prior: its pattern's posterior mean, with
**     weight k1 = PTM_MODEL_PRIOR_CELL.
** Both weights are powers of two, so that with no outcome the estimate is
** the seed's sum to the last bit (k * p / k is exact in binary).
**
** The circuit breaker is apart from the cells: repeated real failures of
** the primary in a row (whatever the mirror saw) make a probability of
** their own, which lapses when no failure came for PTM_BREAKER_QUIET_MS:
** the next call runs the primary, whose success closes the breaker
** (history.c keeps the streak).
*/
#include <math.h>

#include "ptm_int.h"

/* The seed's weights, in the order the pseudocode adds them. */
static const double modelWeight[4] = {0.2, 0.4, 0.3, 0.1};

/*
** ptmModelCell: the cell of signals s: bits 0-3 the seed's four signals as
** the default rules test them (contention; validation; predicted timeout
** over the acceptable one; deviation over PTM_DEVIATION_THRESHOLD), bits
** 4-7 their strength when they fired (two or more contention events; the
** mirror's own result failed success_criteria; predicted over twice the
** acceptable timeout; deviation over PTM_MODEL_DEVIATION_STRONG).
** Returns a value below PTM_MODEL_CELLS; 0 for NULL.
*/
unsigned ptmModelCell(const struct ptmSignals *s)
{
    if (!s)
        return 0;
    unsigned c = 0;
    int timeout = isgreater(s->predicted_timeout_ms, s->acceptable_timeout_ms);
    int deviation = s->deviation > PTM_DEVIATION_THRESHOLD;
    if (s->contention) {
        c |= 1u;
        if (s->contention_events >= 2)
            c |= 1u << 4;
    }
    if (s->validation) {
        c |= 2u;
        if (s->criteria_failed)
            c |= 1u << 5;
    }
    if (timeout) {
        c |= 4u;
        if (isgreater(s->predicted_timeout_ms, 2.0 * s->acceptable_timeout_ms))
            c |= 1u << 6;
    }
    if (deviation) {
        c |= 8u;
        if (s->deviation > PTM_MODEL_DEVIATION_STRONG)
            c |= 1u << 7;
    }
    return c;
}

/*
** ptmModelSeed: the seed pseudocode's probability for the coarse pattern
** of cell (its low four bits): 0.0, plus each fired signal's weight in the
** pseudocode's order, so that the double is the one default.lua computes.
*/
double ptmModelSeed(unsigned cell)
{
    double p = 0.0;
    for (unsigned i = 0; i < 4; i++)
        if (cell & (1u << i))
            p = p + modelWeight[i];
    return p;
}

/*
** ptmModelPredict: the posterior mean for cell (masked to its range) from
** counts, with the pattern's and the cell's evidence.  counts NULL, or no
** outcome of the pattern: exactly ptmModelSeed(cell).
** OUT: out->cell, seed, probability, n, failures, cell_n, cell_failures,
** enough; the other fields are left as they are.
*/
void ptmModelPredict(const struct ptmModelCounts *counts, unsigned cell,
                     struct ptmModelView *out)
{
    cell %= PTM_MODEL_CELLS;
    unsigned pattern = cell & (PTM_MODEL_PATTERNS - 1);
    double seed = ptmModelSeed(cell);
    uint64_t n = 0, f = 0;
    if (counts) {
        /* The pattern's cells: its fired bits' strength bits vary. */
        for (unsigned hi = 0; hi < PTM_MODEL_PATTERNS; hi++) {
            unsigned c = pattern | ((hi & pattern) << 4);
            if ((hi & pattern) != hi)
                continue;
            n += counts->n[c];
            f += counts->fail[c];
        }
    }
    out->cell = cell;
    out->seed = seed;
    out->n = n;
    out->failures = f;
    out->cell_n = counts ? counts->n[cell] : 0;
    out->cell_failures = counts ? counts->fail[cell] : 0;
    out->enough = n >= PTM_MODEL_MIN_OUTCOMES;
    if (n == 0) {
        out->probability = seed;
        return;
    }
    const double k0 = PTM_MODEL_PRIOR_PATTERN, k1 = PTM_MODEL_PRIOR_CELL;
    double p_pattern = (k0 * seed + (double)f) / (k0 + (double)n);
    double p = (k1 * p_pattern + (double)out->cell_failures) / (k1 + (double)out->cell_n);
    out->probability = p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}

/*
** ptmModelBreaker: the circuit breaker's probability after streak real
** failures of the primary in a row, the last since_ms ago: 0 below
** PTM_BREAKER_MIN_STREAK or once PTM_BREAKER_QUIET_MS passed without a
** failure (the next call runs the primary: half-open); else
** 1 - 2^-(streak - MIN + 2): 0.75 at the minimum, 0.875 one more, at
** most 0.99.  Five in a row: independent calls that fail one time in
** five make such a streak once in ~3,000 calls.
*/
double ptmModelBreaker(unsigned streak, uint64_t since_ms)
{
    if (streak < PTM_BREAKER_MIN_STREAK || since_ms >= PTM_BREAKER_QUIET_MS)
        return 0.0;
    unsigned k = streak - PTM_BREAKER_MIN_STREAK + 2;
    double p = 1.0 - ldexp(1.0, -(int)(k > 60 ? 60 : k));
    return p > 0.99 ? 0.99 : p;
}
