/*
** history.c - what earlier calls of a transaction id did.
**
** One struct ptmHistory per transaction_id, found through a hash map keyed
** by the id string and kept for the life of the process (descriptors of
** different translation units that share an id share a history).  Each
** history has its own mutex; the map has one more, held only to find or
** insert an entry.
**
** Latency: the mean and variance of the primary attempts' durations, in
** microseconds: Welford's, with equal weights, for the first
** PTM_HISTORY_LATENCY_WINDOW samples, then exponentially weighted (each new
** sample weighs 1/WINDOW), so that old latencies age: a service that was
** slow once and is fast again is learnt as fast.
**
** Half-open probes: a prediction of a timeout comes from latencies of the
** past (this history, a response time the mirror replays), and a diverted
** call measures nothing, so such a prediction could never learn that it
** became wrong.  As a circuit breaker does, every probe_every-th call that
** would be diverted for a predicted timeout alone runs the primary instead
** (ptmHistoryProbe); when it succeeds within the timeout, the latencies are
** forgotten and learnt again from it, else the next probe waits twice as
** many calls (ptmHistoryProbeDone).
**
** Deviation baseline: every event of a mirror has a signature (its kind,
** its call number and the class of its errno).  For each mirror of a call
** that ran the primary and succeeded, the baseline counts, per signature,
** the mirrors in which that signature appeared, and the number of such
** mirrors.  The expected set B is the signatures that appeared in at least
** half of the baseline mirrors; the deviation of a new mirror is the Jaccard
** distance between its set of signatures S and B: 1 - |S n B| / |S u B|.
** With fewer than PTM_HISTORY_MIN_BASELINE baseline mirrors it is 0.
** Memory is bounded: at most PTM_HISTORY_MAX_SIGS signatures per id.
**
** The model (model.c): per id, the labelled outcomes per cell; per path
** (the primary and each alternative), calls and failures; the circuit
** breaker's streak of real primary failures (ptmHistoryLearn).
**
** Persistence (store.c): a history is created from the file's totals for
** its id (ptmStoreLoad, at the id's first use), and every counter keeps,
** beside its total, what this process added since the last flush (the
** p_ fields); the store's writer collects those increments
** (histCollect, registered as the store's hook) and adds them to the
** file's, so that processes sharing one file never overwrite each other's
** counts.  Every PTM_STORE_BATCH recorded calls wake the writer, at most
** once per PTM_STORE_KICK_GAP_NS.  The
** breaker's streak and the probe's state are not persisted: they describe
** this process's last minutes.  With a Redis store the writer also reads
** the fleet's totals again (histRebase).
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptm_int.h"

#define PTM_HISTORY_BUCKETS 64
#define PTM_HISTORY_LATENCY_WINDOW 8
#define PTM_HISTORY_PROBE_FIRST 4      /* the first probe: the 4th such call */
#define PTM_HISTORY_PROBE_MAX 256

struct ptmHistSig {
    uint32_t sig;
    uint64_t mirrors;             /* baseline mirrors in which sig appeared */
    uint64_t p_mirrors;           /* ... of them since the last flush */
};

struct ptmHistPath {
    char name[PTM_STORE_PATH_NAME];
    uint64_t calls, failures, p_calls, p_failures;
    const char *seen;             /* the last string found to be name: a descriptor's
                                     function or alternative name, whose module is
                                     pinned once it ran (peers.c), so it never changes */
};

struct ptmHistory {
    struct ptmHistory *next;      /* hash chain */
    char *id;
    pthread_mutex_t mu;
    uint64_t calls, successes, failures, diversions;
    uint64_t latency_n;
    double latency_mean, latency_m2;   /* Welford, in us (m2: the variance times n - 1
                                       ** up to the window, then the variance) */
    uint64_t latency_own;              /* samples this process measured since the estimate
                                       ** was loaded or forgotten (histRebase) */
    unsigned timeout_diverts;          /* calls diverted for a predicted timeout alone
                                       ** since the last primary ran */
    unsigned probe_every;              /* ... before one runs the primary as a probe */
    uint64_t baseline_n;
    unsigned n_sigs;
    struct ptmHistSig sigs[PTM_HISTORY_MAX_SIGS];
    /* Since the last flush (store.c adds them to the file's). */
    uint64_t p_calls, p_successes, p_failures, p_diversions, p_latency_n, p_baseline_n;
    int p_latency_reset;
    /* The model, the paths, the breaker. */
    struct ptmModelCounts model, p_model;
    uint64_t outcomes;                 /* labelled outcomes, all cells */
    unsigned n_paths;
    struct ptmHistPath paths[PTM_STORE_MAX_PATHS];
    unsigned streak;                   /* real primary failures in a row */
    uint64_t last_fail_ns;             /* ptmOsNowNs of the last one */
};

static pthread_mutex_t histMapMu = PTHREAD_MUTEX_INITIALIZER;
static struct ptmHistory *histMap[PTM_HISTORY_BUCKETS];

static uint32_t histHash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* histSetLatency: h's latency estimate as n samples of mean and variance
** var (m2 in the form the sample count calls for); h locked or not yet
** shared. */
static void histSetLatency(struct ptmHistory *h, uint64_t n, double mean, double var)
{
    h->latency_n = n;
    h->latency_mean = mean;
    h->latency_m2 = n > PTM_HISTORY_LATENCY_WINDOW ? var
                    : n >= 2                       ? var * (double)(n - 1)
                                                   : 0.0;
}

/* histVariance: the variance of h's latency estimate; h locked. */
static double histVariance(const struct ptmHistory *h)
{
    return h->latency_n > PTM_HISTORY_LATENCY_WINDOW ? h->latency_m2
           : h->latency_n >= 2 ? h->latency_m2 / (double)(h->latency_n - 1)
                               : 0.0;
}

/* histLoad: h's counters from the file's totals d (h not yet shared). */
static void histLoad(struct ptmHistory *h, const struct ptmHistData *d)
{
    h->calls = d->calls;
    h->successes = d->successes;
    h->failures = d->failures;
    h->diversions = d->diversions;
    histSetLatency(h, d->latency_n, d->latency_mean_us, d->latency_var);
    h->baseline_n = d->baseline_n;
    h->n_sigs = d->n_sigs < PTM_HISTORY_MAX_SIGS ? d->n_sigs : PTM_HISTORY_MAX_SIGS;
    for (unsigned i = 0; i < h->n_sigs; i++)
        h->sigs[i] = (struct ptmHistSig){d->sigs[i].sig, d->sigs[i].mirrors, 0};
    h->n_paths = d->n_paths < PTM_STORE_MAX_PATHS ? d->n_paths : PTM_STORE_MAX_PATHS;
    for (unsigned i = 0; i < h->n_paths; i++) {
        memcpy(h->paths[i].name, d->paths[i].name, sizeof h->paths[i].name);
        h->paths[i].name[sizeof h->paths[i].name - 1] = 0;
        h->paths[i].calls = d->paths[i].calls;
        h->paths[i].failures = d->paths[i].failures;
    }
    h->model = d->model;
    for (unsigned c = 0; c < PTM_MODEL_CELLS; c++)
        h->outcomes += h->model.n[c];
}

static size_t histCollect(struct ptmHistData **out);
static size_t histIds(char (**ids)[PTM_STORE_ID_MAX]);
static void histRebase(const struct ptmHistData *fleet, const struct ptmHistData *unpushed);

/* histNew: a history for id, from the file's totals when it has any.
** NULL when out of memory. */
static struct ptmHistory *histNew(const char *id)
{
    struct ptmHistory *h = calloc(1, sizeof *h);
    if (h && !(h->id = strdup(id))) {
        free(h);
        return NULL;
    }
    if (!h)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    h->probe_every = PTM_HISTORY_PROBE_FIRST;
    struct ptmHistData *d = malloc(sizeof *d);
    if (d) {
        ptmStoreSetHooks(histCollect, histIds, histRebase);
        if (ptmStoreLoad(id, d))
            histLoad(h, d);
        free(d);
    }
    return h;
}

static void histFree(struct ptmHistory *h)
{
    pthread_mutex_destroy(&h->mu);
    free(h->id);
    free(h);
}

/* histAtforkPrepare, histAtforkRelease: a fork() holds the map's lock and
** every history's across itself, so that the child (a host's child that
** makes calls, or PTM's own fork mirror) never inherits one that the
** ptm-history thread held while it collected or rebased: its first call
** on that lock would wait forever.  The order is the collector's: the map,
** then each history. */
static void histAtforkPrepare(void)
{
    pthread_mutex_lock(&histMapMu);
    for (size_t b = 0; b < PTM_HISTORY_BUCKETS; b++)
        for (struct ptmHistory *h = histMap[b]; h; h = h->next)
            pthread_mutex_lock(&h->mu);
}

static void histAtforkRelease(void)
{
    for (size_t b = 0; b < PTM_HISTORY_BUCKETS; b++)
        for (struct ptmHistory *h = histMap[b]; h; h = h->next)
            pthread_mutex_unlock(&h->mu);
    pthread_mutex_unlock(&histMapMu);
}

/* Registered before main: a handler registered by a thread while another
** forks is not run for that fork (glibc runs only those its prepare step
** saw), and that child would inherit the locks held. */
__attribute__((constructor)) static void histAtforkInit(void)
{
    (void)pthread_atfork(histAtforkPrepare, histAtforkRelease, histAtforkRelease);
}

/* histFind: the history of id in the map, or NULL; histMapMu held. */
static struct ptmHistory *histFind(const char *id, uint32_t b)
{
    struct ptmHistory *h;
    for (h = histMap[b]; h; h = h->next)
        if (strcmp(h->id, id) == 0)
            break;
    return h;
}

/*
** ptmHistoryFor: the history of desc->transaction_id (desc->function when
** the id is NULL), created on first use and kept for the process.  A new
** one starts from the history file's totals for the id (store.c), read
** without holding the map's lock, so that other ids' calls go on
** meanwhile.  Returns NULL only when out of memory.
*/
struct ptmHistory *ptmHistoryFor(const struct ptm_tx_desc *desc)
{
    const char *id = desc->transaction_id ? desc->transaction_id
                     : desc->function     ? desc->function
                                          : "";
    uint32_t b = histHash(id) % PTM_HISTORY_BUCKETS;
    struct ptmHistory *h;

    pthread_mutex_lock(&histMapMu);
    h = histFind(id, b);
    pthread_mutex_unlock(&histMapMu);
    if (h)
        return h;
    struct ptmHistory *fresh = histNew(id);
    pthread_mutex_lock(&histMapMu);
    h = histFind(id, b); /* another thread may have made it meanwhile */
    if (!h && fresh) {
        h = fresh;
        fresh = NULL;
        h->next = histMap[b];
        histMap[b] = h;
    }
    pthread_mutex_unlock(&histMapMu);
    if (fresh)
        histFree(fresh);
    return h;
}

/*
** ptmHistoryGet: a consistent copy of h's counters.  OUT: *out.
** latency_sd_us is the sample standard deviation (0 below 2 samples).
*/
void ptmHistoryGet(struct ptmHistory *h, struct ptmHistoryView *out)
{
    memset(out, 0, sizeof *out);
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    out->calls = h->calls;
    out->successes = h->successes;
    out->failures = h->failures;
    out->diversions = h->diversions;
    out->latency_n = h->latency_n;
    out->latency_mean_us = h->latency_mean;
    out->latency_sd_us = sqrt(histVariance(h));
    out->baseline_n = h->baseline_n;
    pthread_mutex_unlock(&h->mu);
}

/* The signature of one event: kind, call number, errno class. */
static uint32_t histSignature(const struct ptmEvent *ev)
{
    uint32_t cls = 0; /* succeeded */
    if (ev->err) {
        switch (ptmErrnoClassOf(ev->err)) {
        case PTM_ERRCLASS_VALIDATION: cls = 1; break;
        case PTM_ERRCLASS_CONTENTION: cls = 2; break;
        case PTM_ERRCLASS_NONE: cls = 3; break; /* another error */
        }
    }
    return ((uint32_t)(ev->kind & 0xff) << 24) | ((uint32_t)ev->call << 8) | cls;
}

#define HIST_SMALL_SET 32

static int histCmpU32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
** histSignatureSet: the distinct signatures of ring's events, sorted, in
** small (the caller's) when ring holds at most HIST_SMALL_SET events.
** OUT: *set (small, or malloc'd: histSetFree; NULL when there are none),
** *n.
** Returns PTM_OK or PTM_ENOMEM.
*/
static enum ptmRc histSignatureSet(const struct ptmRing *ring, uint32_t small[HIST_SMALL_SET],
                                   uint32_t **set, size_t *n)
{
    *set = NULL;
    *n = 0;
    uint32_t count = ring ? ptmRingCount(ring) : 0;
    if (count == 0)
        return PTM_OK;
    uint32_t *s = count <= HIST_SMALL_SET ? small : malloc(count * sizeof *s);
    if (!s)
        return PTM_ENOMEM;
    for (uint32_t i = 0; i < count; i++)
        s[i] = histSignature(&ring->ev[i]);
    if (s == small) {
        /* A mirror makes a few events: no allocation, and insertion. */
        for (uint32_t i = 1; i < count; i++) {
            uint32_t v = s[i], j = i;
            for (; j > 0 && s[j - 1] > v; j--)
                s[j] = s[j - 1];
            s[j] = v;
        }
    } else {
        qsort(s, count, sizeof *s, histCmpU32);
    }
    size_t k = 0;
    for (uint32_t i = 0; i < count; i++)
        if (k == 0 || s[k - 1] != s[i])
            s[k++] = s[i];
    *set = s;
    *n = k;
    return PTM_OK;
}

/* histSetFree: a set from histSignatureSet, given small. */
static void histSetFree(uint32_t *set, const uint32_t *small)
{
    if (set != small)
        free(set);
}

/* In the expected set B: seen in at least half of the baseline mirrors. */
static int histInBaseline(const struct ptmHistory *h, const struct ptmHistSig *e)
{
    return e->mirrors * 2 >= h->baseline_n;
}

/*
** ptmHistoryDeviation: the Jaccard distance, in [0,1], between the set of
** signatures of ring's events and the baseline's expected set B.  0 with
** fewer than PTM_HISTORY_MIN_BASELINE baseline mirrors, when both sets are
** empty, or when memory for the set cannot be had.
*/
double ptmHistoryDeviation(struct ptmHistory *h, const struct ptmRing *ring)
{
    if (!h)
        return 0.0;
    uint32_t small[HIST_SMALL_SET], *set;
    size_t n;
    if (histSignatureSet(ring, small, &set, &n) != PTM_OK)
        return 0.0;

    double dev = 0.0;
    pthread_mutex_lock(&h->mu);
    if (h->baseline_n >= PTM_HISTORY_MIN_BASELINE) {
        size_t n_b = 0, inter = 0;
        for (unsigned i = 0; i < h->n_sigs; i++) {
            if (!histInBaseline(h, &h->sigs[i]))
                continue;
            n_b++;
            if (n && bsearch(&h->sigs[i].sig, set, n, sizeof *set, histCmpU32))
                inter++;
        }
        size_t uni = n + n_b - inter;
        dev = uni ? 1.0 - (double)inter / (double)uni : 0.0;
    }
    pthread_mutex_unlock(&h->mu);
    histSetFree(set, small);
    return dev;
}

/* Adds one successful mirror's signature set to the baseline; h locked. */
static void histAddBaseline(struct ptmHistory *h, const uint32_t *set, size_t n)
{
    h->baseline_n++;
    h->p_baseline_n++;
    for (size_t i = 0; i < n; i++) {
        unsigned j;
        for (j = 0; j < h->n_sigs; j++)
            if (h->sigs[j].sig == set[i])
                break;
        if (j < h->n_sigs) {
            h->sigs[j].mirrors++;
            h->sigs[j].p_mirrors++;
            continue;
        }
        if (h->n_sigs < PTM_HISTORY_MAX_SIGS) {
            h->sigs[h->n_sigs++] = (struct ptmHistSig){set[i], 1, 1};
            continue;
        }
        /* Full: replace the rarest signature if it is not in B (it can
        ** never be again soon), so that a changed behaviour is learnt. */
        unsigned min = 0;
        for (j = 1; j < h->n_sigs; j++)
            if (h->sigs[j].mirrors < h->sigs[min].mirrors)
                min = j;
        if (!histInBaseline(h, &h->sigs[min]))
            h->sigs[min] = (struct ptmHistSig){set[i], 1, 1};
    }
}

/* Adds one primary latency x (us); h locked.  Up to the window, Welford's
** equal weights; past it, each sample weighs 1/window and m2 holds the
** exponentially weighted variance itself, converted once from Welford's
** sum. */
PTM_HOT static void histAddLatency(struct ptmHistory *h, double x)
{
    const double window = PTM_HISTORY_LATENCY_WINDOW;
    h->latency_n++;
    h->p_latency_n++;
    h->latency_own++;
    double d = x - h->latency_mean;
    if (h->latency_n <= PTM_HISTORY_LATENCY_WINDOW) {
        h->latency_mean += d / (double)h->latency_n;
        h->latency_m2 += d * (x - h->latency_mean);
        return;
    }
    if (h->latency_n == PTM_HISTORY_LATENCY_WINDOW + 1)
        h->latency_m2 /= window - 1;
    h->latency_mean += d / window;
    h->latency_m2 = (1.0 - 1.0 / window) * (h->latency_m2 + d * d / window);
}

/*
** ptmHistoryProbe: a call of h is about to be diverted for a predicted
** timeout alone (no contention, no validation error): counts it, and says
** whether it should run the primary instead, as a half-open probe (every
** probe_every-th such call since the primary last ran).  Returns 1 for a
** probe, then the caller reports its end with ptmHistoryProbeDone; 0
** otherwise.
*/
int ptmHistoryProbe(struct ptmHistory *h)
{
    int probe;
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    probe = ++h->timeout_diverts >= h->probe_every;
    if (probe)
        h->timeout_diverts = 0;
    pthread_mutex_unlock(&h->mu);
    return probe;
}

/*
** ptmHistoryProbeDone: the probe of ptmHistoryProbe ended.  recovered: it
** met success_criteria within the timeout, so the latencies that predicted
** the timeout are forgotten (the probe's own, recorded next by
** ptmHistoryRecord, starts them again) and the next probe comes as early
** as the first; otherwise the next probe waits twice as many calls (at
** most PTM_HISTORY_PROBE_MAX).
*/
void ptmHistoryProbeDone(struct ptmHistory *h, int recovered)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (recovered) {
        h->latency_n = h->p_latency_n = h->latency_own = 0;
        h->latency_mean = h->latency_m2 = 0.0;
        h->p_latency_reset = 1;
        h->probe_every = PTM_HISTORY_PROBE_FIRST;
    } else if (h->probe_every < PTM_HISTORY_PROBE_MAX) {
        h->probe_every *= 2;
    }
    pthread_mutex_unlock(&h->mu);
}

/* histRecordLocked: ptmHistoryRecord's counts, with the mirror's
** signature set (set, n) when it joins the baseline (learn); h locked. */
PTM_HOT static void histRecordLocked(struct ptmHistory *h, int success, int diverted,
                             const uint64_t *attempt_us, unsigned n_attempts, int learn,
                             const uint32_t *set, size_t n)
{
    h->calls++;
    h->p_calls++;
    if (success) {
        h->successes++;
        h->p_successes++;
    } else {
        h->failures++;
        h->p_failures++;
    }
    if (diverted) {
        h->diversions++;
        h->p_diversions++;
    }
    if (!diverted)
        h->timeout_diverts = 0; /* the primary ran: the circuit is closed */
    if (!diverted && attempt_us) {
        for (unsigned i = 0; i < n_attempts; i++)
            histAddLatency(h, (double)attempt_us[i]);
    }
    if (learn)
        histAddBaseline(h, set, n);
}

/*
** ptmHistoryRecord: adds one call's outcome to h.
**
** success: the path that ran met success_criteria.  diverted: an
** alternative ran instead of the primary.  attempt_us[0..n_attempts): the
** durations of the primary's attempts; they feed the latency statistics
** only when the primary ran (diverted == 0).  ring: the mirror's events or
** NULL; they join the deviation baseline only when the primary ran and
** succeeded (a diverted call's mirror is exactly what the baseline must not
** learn as normal).
*/
void ptmHistoryRecord(struct ptmHistory *h, int success, int diverted,
                      const uint64_t *attempt_us, unsigned n_attempts,
                      const struct ptmRing *ring)
{
    if (!h)
        return;
    uint32_t small[HIST_SMALL_SET], *set = NULL;
    size_t n = 0;
    int learn = success && !diverted && ring != NULL &&
                histSignatureSet(ring, small, &set, &n) == PTM_OK;

    pthread_mutex_lock(&h->mu);
    histRecordLocked(h, success, diverted, attempt_us, n_attempts, learn, set, n);
    pthread_mutex_unlock(&h->mu);
    histSetFree(set, small);
}

/*
** ptmHistoryModel: what the model of h says of signals s (NULL: the
** mirror saw nothing to go by, cell 0).  OUT: *out, all fields.
*/
void ptmHistoryModel(struct ptmHistory *h, const struct ptmSignals *s, struct ptmModelView *out)
{
    memset(out, 0, sizeof *out);
    unsigned cell = ptmModelCell(s);
    if (!h) {
        ptmModelPredict(NULL, cell, out);
        return;
    }
    pthread_mutex_lock(&h->mu);
    ptmModelPredict(&h->model, cell, out);
    out->outcomes = h->outcomes;
    out->streak = h->streak;
    /* A streak is news only when the id's failure rate (Laplace's
    ** estimate over its calls) makes it unlikely: a function that fails
    ** half the time as a matter of course fails five times in a row
    ** every 32 streaks, and must not be diverted for it. */
    double rate = (double)(h->failures + 1) / (double)(h->calls + 2);
    if (h->streak && pow(rate, (double)h->streak) < PTM_BREAKER_SURPRISE)
        out->breaker = ptmModelBreaker(h->streak, (ptmOsNowNs() - h->last_fail_ns) / 1000000);
    pthread_mutex_unlock(&h->mu);
}

/* histPath: the counters of path in h (a new row when there is room),
** or NULL; h locked. */
PTM_HOT static struct ptmHistPath *histPath(struct ptmHistory *h, const char *path)
{
    for (unsigned i = 0; i < h->n_paths; i++)
        if (h->paths[i].seen == path)
            return &h->paths[i];
    for (unsigned i = 0; i < h->n_paths; i++)
        if (strncmp(h->paths[i].name, path, PTM_STORE_PATH_NAME - 1) == 0) {
            h->paths[i].seen = path;
            return &h->paths[i];
        }
    if (h->n_paths >= PTM_STORE_MAX_PATHS)
        return NULL;
    struct ptmHistPath *p = &h->paths[h->n_paths++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", path);
    p->seen = path;
    return p;
}

static atomic_uint histSinceKick;

/* histLearnLocked: ptmHistoryLearn's counts; now: the clock at a failed
** primary (else unread); h locked. */
PTM_HOT static void histLearnLocked(struct ptmHistory *h, const char *path, int path_failed,
                            int primary_ran, int primary_failed, int labelled, unsigned cell,
                            uint64_t now)
{
    cell %= PTM_MODEL_CELLS;
    struct ptmHistPath *p = path ? histPath(h, path) : NULL;
    if (p) {
        p->calls++;
        p->p_calls++;
        p->failures += path_failed != 0;
        p->p_failures += path_failed != 0;
    }
    if (primary_ran) {
        if (primary_failed) {
            h->streak++;
            h->last_fail_ns = now;
        } else {
            h->streak = 0;
        }
    }
    if (labelled) {
        h->model.n[cell]++;
        h->p_model.n[cell]++;
        h->outcomes++;
        if (primary_failed) {
            h->model.fail[cell]++;
            h->p_model.fail[cell]++;
        }
    }
}

/* histCountCall: one more call recorded; every PTM_STORE_BATCH of them
** wake the store's writer (never waits), unless it was woken less than
** PTM_STORE_KICK_GAP_NS ago: a write costs a batch of fast calls (64 Lua
** f:write) more CPU than the calls themselves, and the counts a crash can
** lose are then at most that long's (and PTM_STORE_PERIOD_MS's) instead
** of 64 calls'. */
PTM_HOT static void histCountCall(void)
{
    static _Atomic uint64_t kickedNs; /* the last wake-up's ptmOsNowNs; 0: none */

    if (atomic_fetch_add(&histSinceKick, 1) + 1 >= PTM_STORE_BATCH) {
        atomic_store(&histSinceKick, 0);
        uint64_t now = ptmOsNowNs(), last = atomic_load(&kickedNs);
        if (last && now - last < PTM_STORE_KICK_GAP_NS)
            return;
        atomic_store(&kickedNs, now);
        ptmStoreKick();
    }
}

/*
** ptmHistoryLearn: what one call teaches h beyond ptmHistoryRecord.
**
** path: the function that ran (NULL: none), path_failed: it did not meet
** its outcome (an alternative that returned succeeded).  primary_ran: the
** primary ran (not diverted, not a dry run), and primary_failed: it did
** not meet success_criteria, or its last attempt overran the timeout; the
** breaker's streak follows it.  labelled: the call is a label for the
** model (the primary ran after a mirror whose observation is in cell),
** so that cell's counts gain the outcome.
**
** Every PTM_STORE_BATCH calls, wakes the store's writer (never waits).
*/
void ptmHistoryLearn(struct ptmHistory *h, const char *path, int path_failed, int primary_ran,
                     int primary_failed, int labelled, unsigned cell)
{
    if (!h)
        return;
    /* The clock only for a failure: most calls succeed, and each read
    ** counts on the cheapest calls (adaptive sampling's unmirrored ones). */
    uint64_t now = primary_ran && primary_failed ? ptmOsNowNs() : 0;
    pthread_mutex_lock(&h->mu);
    histLearnLocked(h, path, path_failed, primary_ran, primary_failed, labelled, cell, now);
    pthread_mutex_unlock(&h->mu);
    histCountCall();
}

/*
** ptmHistoryEnd: one ended call, both ptmHistoryRecord(h, o->success,
** o->diverted, o->attempt_us, o->n_attempts, o->ring) and
** ptmHistoryLearn(h, o->path, !o->success, o->primary_ran,
** o->primary_failed, o->labelled, o->cell), under one hold of h's lock:
** what tx.c calls for every call, and the cheapest of calls (adaptive
** sampling's unmirrored ones) pay for each lock taken.  h NULL: nothing.
*/
PTM_HOT void ptmHistoryEnd(struct ptmHistory *h, const struct ptmHistoryOutcome *o)
{
    if (!h)
        return;
    uint32_t small[HIST_SMALL_SET], *set = NULL;
    size_t n = 0;
    int learn = o->success && !o->diverted && o->ring != NULL &&
                histSignatureSet(o->ring, small, &set, &n) == PTM_OK;
    uint64_t now = o->primary_ran && o->primary_failed ? ptmOsNowNs() : 0;
    pthread_mutex_lock(&h->mu);
    histRecordLocked(h, o->success, o->diverted, o->attempt_us, o->n_attempts, learn, set, n);
    histLearnLocked(h, o->path, !o->success, o->primary_ran, o->primary_failed, o->labelled,
                    o->cell, now);
    pthread_mutex_unlock(&h->mu);
    histSetFree(set, small);
    histCountCall();
}

/* histTake: h's increments since the last collection into *d, which they
** then leave; h locked.  Returns whether there were any. */
static int histTake(struct ptmHistory *h, struct ptmHistData *d)
{
    int any = h->p_calls || h->p_baseline_n || h->p_latency_n || h->p_latency_reset;
    for (unsigned i = 0; !any && i < h->n_paths; i++)
        any = h->paths[i].p_calls != 0;
    if (!any)
        return 0;
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", h->id);
    d->calls = h->p_calls;
    d->successes = h->p_successes;
    d->failures = h->p_failures;
    d->diversions = h->p_diversions;
    d->latency_n = h->p_latency_n;
    d->latency_reset = h->p_latency_reset;
    d->latency_mean_us = h->latency_mean;
    d->latency_var = histVariance(h);
    d->baseline_n = h->p_baseline_n;
    for (unsigned i = 0; i < h->n_sigs; i++) {
        if (!h->sigs[i].p_mirrors)
            continue;
        d->sigs[d->n_sigs].sig = h->sigs[i].sig;
        d->sigs[d->n_sigs++].mirrors = h->sigs[i].p_mirrors;
        h->sigs[i].p_mirrors = 0;
    }
    for (unsigned i = 0; i < h->n_paths; i++) {
        if (!h->paths[i].p_calls)
            continue;
        memcpy(d->paths[d->n_paths].name, h->paths[i].name, PTM_STORE_PATH_NAME);
        d->paths[d->n_paths].calls = h->paths[i].p_calls;
        d->paths[d->n_paths++].failures = h->paths[i].p_failures;
        h->paths[i].p_calls = h->paths[i].p_failures = 0;
    }
    d->model = h->p_model;
    memset(&h->p_model, 0, sizeof h->p_model);
    h->p_calls = h->p_successes = h->p_failures = h->p_diversions = 0;
    h->p_latency_n = h->p_baseline_n = 0;
    h->p_latency_reset = 0;
    return 1;
}

/* histCollect: the store's hook: every history's increments since the
** last collection.  OUT: *out, malloc'd (NULL when there are none or no
** memory: those increments then stay for the next collection). */
static size_t histCollect(struct ptmHistData **out)
{
    *out = NULL;
    size_t n = 0, cap = 0;
    struct ptmHistData *v = NULL;
    pthread_mutex_lock(&histMapMu);
    for (unsigned b = 0; b < PTM_HISTORY_BUCKETS; b++) {
        for (struct ptmHistory *h = histMap[b]; h; h = h->next) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                struct ptmHistData *nv = realloc(v, ncap * sizeof *nv);
                if (!nv)
                    goto done;
                v = nv;
                cap = ncap;
            }
            pthread_mutex_lock(&h->mu);
            n += histTake(h, &v[n]);
            pthread_mutex_unlock(&h->mu);
        }
    }
done:
    pthread_mutex_unlock(&histMapMu);
    if (!n) {
        free(v);
        return 0;
    }
    *out = v;
    return n;
}

/* histAtLeast: have, or the fleet's count plus what this process has not
** pushed yet when that is more (saturating).  A count never goes back: a
** server that lost its data (restarted without persistence, flushed)
** must not make the process forget what it learnt. */
static uint64_t histAtLeast(uint64_t have, uint64_t fleet, uint64_t unpushed_here,
                            uint64_t unpushed_pending)
{
    uint64_t x = fleet;
    x = x > UINT64_MAX - unpushed_here ? UINT64_MAX : x + unpushed_here;
    x = x > UINT64_MAX - unpushed_pending ? UINT64_MAX : x + unpushed_pending;
    return x > have ? x : have;
}

/* histRebaseLocked: histRebase's work on h (locked); u: the
** pending increments, all zero when there are none. */
static void histRebaseLocked(struct ptmHistory *h, const struct ptmHistData *f,
                             const struct ptmHistData *u)
{
    h->calls = histAtLeast(h->calls, f->calls, h->p_calls, u->calls);
    h->successes = histAtLeast(h->successes, f->successes, h->p_successes, u->successes);
    h->failures = histAtLeast(h->failures, f->failures, h->p_failures, u->failures);
    h->diversions = histAtLeast(h->diversions, f->diversions, h->p_diversions, u->diversions);
    h->baseline_n = histAtLeast(h->baseline_n, f->baseline_n, h->p_baseline_n, u->baseline_n);
    /* Latency: the count joins the fleet's; the estimate is the fleet's
    ** only while this process measured nothing of its own since it was
    ** loaded (its own samples are newer than the fleet's pooled sums,
    ** which are not aged) and no half-open probe's reset waits to be
    ** pushed. */
    uint64_t n = histAtLeast(h->latency_n, f->latency_n, h->p_latency_n, u->latency_n);
    int adopt = !h->latency_own && !h->p_latency_reset && !u->latency_reset && f->latency_n &&
                isfinite(f->latency_mean_us) && isfinite(f->latency_var);
    histSetLatency(h, n, adopt ? f->latency_mean_us : h->latency_mean,
                   adopt ? f->latency_var : histVariance(h));
    for (unsigned i = 0; i < f->n_sigs && i < PTM_HISTORY_MAX_SIGS; i++) {
        uint64_t pend = 0;
        for (unsigned k = 0; k < u->n_sigs && k < PTM_HISTORY_MAX_SIGS; k++)
            if (u->sigs[k].sig == f->sigs[i].sig)
                pend = u->sigs[k].mirrors;
        unsigned j = 0;
        while (j < h->n_sigs && h->sigs[j].sig != f->sigs[i].sig)
            j++;
        if (j < h->n_sigs)
            h->sigs[j].mirrors =
                histAtLeast(h->sigs[j].mirrors, f->sigs[i].mirrors, h->sigs[j].p_mirrors, pend);
        else if (h->n_sigs < PTM_HISTORY_MAX_SIGS)
            h->sigs[h->n_sigs++] = (struct ptmHistSig){f->sigs[i].sig, f->sigs[i].mirrors, 0};
    }
    for (unsigned i = 0; i < f->n_paths && i < PTM_STORE_MAX_PATHS; i++) {
        char name[PTM_STORE_PATH_NAME];
        snprintf(name, sizeof name, "%s", f->paths[i].name);
        uint64_t pc = 0, pf = 0;
        for (unsigned k = 0; k < u->n_paths && k < PTM_STORE_MAX_PATHS; k++)
            if (strncmp(u->paths[k].name, name, sizeof name) == 0) {
                pc = u->paths[k].calls;
                pf = u->paths[k].failures;
            }
        struct ptmHistPath *p = NULL;
        for (unsigned j = 0; !p && j < h->n_paths; j++)
            if (strncmp(h->paths[j].name, name, sizeof name) == 0)
                p = &h->paths[j];
        if (!p && h->n_paths < PTM_STORE_MAX_PATHS) {
            p = &h->paths[h->n_paths++];
            memset(p, 0, sizeof *p);
            memcpy(p->name, name, sizeof name);
        }
        if (!p)
            continue;
        p->calls = histAtLeast(p->calls, f->paths[i].calls, p->p_calls, pc);
        p->failures = histAtLeast(p->failures, f->paths[i].failures, p->p_failures, pf);
    }
    h->outcomes = 0;
    for (unsigned c = 0; c < PTM_MODEL_CELLS; c++) {
        uint64_t n_c = histAtLeast(h->model.n[c], f->model.n[c], h->p_model.n[c], u->model.n[c]);
        uint64_t f_c =
            histAtLeast(h->model.fail[c], f->model.fail[c], h->p_model.fail[c], u->model.fail[c]);
        h->model.n[c] = n_c > UINT32_MAX ? UINT32_MAX : (uint32_t)n_c;
        h->model.fail[c] = f_c > h->model.n[c] ? h->model.n[c] : (uint32_t)f_c;
        h->outcomes += h->model.n[c];
    }
}

/*
** histRebase: the store's rebase hook (ptmStoreSetHooks): what the fleet
** learnt since this process loaded the id fleet->id, read again from the
** shared store (store_redis.c, the writer thread).  fleet: the server's totals now; unpushed: this
** process's increments the store holds but has not pushed yet (NULL:
** none).  The caller holds the store's write lock, so no push runs
** meanwhile: every count becomes the fleet's plus what the server has not
** seen from this process (unpushed, and the increments since the last
** collection, h's own), or stays as it is when that is more (a server
** that lost its data; histAtLeast).  Signatures and paths the fleet has
** and this history lacks join it while there is room; the breaker's
** streak and the probes' state are this process's and stay.  No history
** for the id (or an id of 128 bytes or more): nothing.
*/
static void histRebase(const struct ptmHistData *fleet, const struct ptmHistData *unpushed)
{
    static const struct ptmHistData none;
    char id[sizeof fleet->id];
    snprintf(id, sizeof id, "%s", fleet->id);
    uint32_t b = histHash(id) % PTM_HISTORY_BUCKETS;
    pthread_mutex_lock(&histMapMu);
    struct ptmHistory *h = histFind(id, b);
    if (h) {
        pthread_mutex_lock(&h->mu);
        histRebaseLocked(h, fleet, unpushed ? unpushed : &none);
        pthread_mutex_unlock(&h->mu);
    }
    pthread_mutex_unlock(&histMapMu);
}

/*
** histIds: the store's ids hook: the ids of the process's histories
** shorter than a struct ptmHistData's id (the store's keys).  OUT: *ids, malloc'd (NULL
** when there are none or no memory).  Returns their number.
*/
static size_t histIds(char (**ids)[PTM_STORE_ID_MAX])
{
    *ids = NULL;
    size_t n = 0, cap = 0;
    char(*v)[PTM_STORE_ID_MAX] = NULL;
    pthread_mutex_lock(&histMapMu);
    for (unsigned b = 0; b < PTM_HISTORY_BUCKETS; b++)
        for (struct ptmHistory *h = histMap[b]; h; h = h->next) {
            if (strlen(h->id) >= PTM_STORE_ID_MAX)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                char(*nv)[PTM_STORE_ID_MAX] = realloc(v, ncap * sizeof *nv);
                if (!nv)
                    goto done;
                v = nv;
                cap = ncap;
            }
            snprintf(v[n++], PTM_STORE_ID_MAX, "%s", h->id);
        }
done:
    pthread_mutex_unlock(&histMapMu);
    if (!n) {
        free(v);
        return 0;
    }
    *ids = v;
    return n;
}

/*
** ptmHistoryForget: drops every history of the process (tests: a second
** run in one process, after ptmStoreReset).  Not while calls run.
*/
void ptmHistoryForget(void)
{
    pthread_mutex_lock(&histMapMu);
    for (unsigned b = 0; b < PTM_HISTORY_BUCKETS; b++) {
        struct ptmHistory *h = histMap[b], *next;
        for (; h; h = next) {
            next = h->next;
            histFree(h);
        }
        histMap[b] = NULL;
    }
    pthread_mutex_unlock(&histMapMu);
}
