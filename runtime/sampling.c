/*
** sampling.c - per transaction id: adaptive mirroring, the exploration
** draw, and the id's own retry budget window.
**
** Adaptive mirroring (`.mirror_sampling = adaptive`).  Every call pays
** for its mirror; on a cheap call (a page-cache append) the mirror is most
** of the cost.  A transaction whose calls have shown nothing for a long
** run mirrors only a share of them:
**   - quiet is the number of calls since the last one that saw or did
**     something: a mirror with a signal (contention, validation, a
**     predicted timeout, a deviation, a result that failed
**     success_criteria), a mirror that did not return (crashed, timed
**     out, denied, failed to start), a rules error, a probability at or
**     over the threshold, a diversion, a probe or an explored call, or a
**     primary that failed, overran its timeout, needed a retry or left by
**     longjmp.  Such a call sets quiet to 0 (tx.c, ptmSamplingNote): the
**     next call is mirrored, and so is every call until the run is long
**     again.  A call mirrored or not that did nothing of the sort adds 1.
**   - the schedule (ptmSamplingEvery): below PTM_SAMPLING_QUIET (32)
**     quiet calls every call is mirrored; then 1 call in k, k = 2 for the
**     next 32 quiet calls, 4 for the 32 after, ... doubling every 32 quiet
**     calls up to PTM_SAMPLING_CAP (64), reached after 32 x 6 = 192 quiet
**     calls.  The count stops at PTM_SAMPLING_SATURATED (256): past the
**     cap a quiet call only reads it.
**   - which calls: each call is mirrored with probability 1/k, from a
**     per-thread generator, not every k-th call: a program whose calls
**     alternate between kinds must not see one kind never mirrored.
** A call not mirrored runs its primary as a plain call would, with the
** metadata's retries, backoff and timeout (no rules ran, so no rules'
** adjustment), and its outcome is recorded (history, breaker, trace,
** metrics): its failure re-arms full mirroring.  What is lost is the
** prediction of that one call: a failure that starts among unmirrored
** calls happens once before mirroring is back (bench/sampling_bench.c
** counts them).
**
** Exploration (`.exploration = x`, at most PTM_EXPLORATION_MAX): a share
** x of the calls the rules would divert run the primary once instead,
** so that the model gets labels for the cells it diverts (a diverted call
** has no outcome of its own).  It deliberately lets a predicted failure
** happen; never without the key.
**
** State: one struct ptmTxState per transaction id, in a hash map (a mutex
** to find or insert), cached in the descriptor's slot (ABI 8) so that a
** call after the first reads it with one atomic load.  Its counters are
** atomics: the hot path is a load, a draw and an increment.  At most
** PTM_TX_STATES_MAX ids get state; the calls of ids beyond them are
** always mirrored and have no budget of their own.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ptm_int.h"

#define TX_STATE_BUCKETS 64

static pthread_mutex_t stateMu = PTHREAD_MUTEX_INITIALIZER;
static struct ptmTxState *stateMap[TX_STATE_BUCKETS];
static unsigned stateCount;

/*
** Forks: the map's lock and every state's budget lock are held across each
** fork() of the process, so that a child (of the host, or a mirror) never
** inherits one that another thread held; the child's first call takes
** them.  Both are leaves: nothing else is locked while they are held.
*/
static void stateAtforkPrepare(void)
{
    pthread_mutex_lock(&stateMu);
    for (unsigned b = 0; b < TX_STATE_BUCKETS; b++)
        for (struct ptmTxState *st = stateMap[b]; st; st = st->next)
            pthread_mutex_lock(&st->budget.mu);
}

static void stateAtforkRelease(void)
{
    for (unsigned b = 0; b < TX_STATE_BUCKETS; b++)
        for (struct ptmTxState *st = stateMap[b]; st; st = st->next)
            pthread_mutex_unlock(&st->budget.mu);
    pthread_mutex_unlock(&stateMu);
}

/* Registered before main, so before any thread can hold the locks. */
__attribute__((constructor)) static void stateAtforkInit(void)
{
    (void)pthread_atfork(stateAtforkPrepare, stateAtforkRelease, stateAtforkRelease);
}

static _Thread_local uint64_t samplingRng;

/* samplingRandom: xorshift64*, seeded per thread. */
PTM_HOT static uint64_t samplingRandom(void)
{
    if (!samplingRng) {
        if (getrandom(&samplingRng, sizeof samplingRng, GRND_NONBLOCK) != sizeof samplingRng)
            samplingRng = ptmOsNowNs() ^ (uint64_t)pthread_self();
        samplingRng |= 1;
    }
    samplingRng ^= samplingRng >> 12;
    samplingRng ^= samplingRng << 25;
    samplingRng ^= samplingRng >> 27;
    return samplingRng * 0x2545F4914F6CDD1DULL;
}

static uint32_t stateHash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* stateLookup: the state of id, made when missing (stateMu held); NULL
** when out of memory or past PTM_TX_STATES_MAX ids. */
static struct ptmTxState *stateLookup(const char *id)
{
    uint32_t b = stateHash(id) % TX_STATE_BUCKETS;
    for (struct ptmTxState *st = stateMap[b]; st; st = st->next)
        if (strcmp(st->id, id) == 0)
            return st;
    if (stateCount >= PTM_TX_STATES_MAX)
        return NULL;
    struct ptmTxState *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (!(st->id = strdup(id))) {
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->budget.mu, NULL);
    st->next = stateMap[b];
    stateMap[b] = st;
    stateCount++;
    return st;
}

/*
** ptmTxStateFor: the state of d's transaction id (d->function when the id
** is NULL), made at its first use and kept for the process; descriptors
** that share an id share it.  Cached in d->slot when d has one.  Returns
** NULL when out of memory or past PTM_TX_STATES_MAX ids.  Thread-safe.
*/
PTM_HOT struct ptmTxState *ptmTxStateFor(const struct ptm_tx_desc *d)
{
    struct ptmTxState *st = d->slot ? __atomic_load_n(&d->slot->state, __ATOMIC_ACQUIRE) : NULL;
    if (st)
        return st;
    const char *id = d->transaction_id ? d->transaction_id : d->function ? d->function : "";
    pthread_mutex_lock(&stateMu);
    st = stateLookup(id);
    pthread_mutex_unlock(&stateMu);
    if (st && d->slot)
        __atomic_store_n(&d->slot->state, st, __ATOMIC_RELEASE);
    return st;
}

/*
** ptmSamplingEvery: k, when quiet calls have shown nothing: 1 call in k is
** mirrored (1: every call).  See the top of this file.
*/
unsigned ptmSamplingEvery(uint64_t quiet)
{
    if (quiet < PTM_SAMPLING_QUIET)
        return 1;
    uint64_t steps = quiet / PTM_SAMPLING_QUIET; /* >= 1 */
    unsigned k = 1;
    while (steps-- > 0 && k < PTM_SAMPLING_CAP)
        k *= 2;
    return k;
}

/*
** ptmSamplingMirror: whether this call of st's transaction is mirrored
** under adaptive sampling.  OUT: *every, the k of the draw (1: every call
** is mirrored now).  st NULL: mirrored.
** Thread-safe, lock-free: a load and a draw.
*/
PTM_HOT int ptmSamplingMirror(struct ptmTxState *st, unsigned *every)
{
    *every = 1;
    if (!st)
        return 1;
    unsigned k = ptmSamplingEvery(atomic_load_explicit(&st->quiet, memory_order_relaxed));
    *every = k;
    /* k is a power of two: a mask, not a division. */
    return k <= 1 || ((samplingRandom() >> 11) & (k - 1)) == 0;
}

/*
** ptmSamplingNote: a call of st's transaction ended; quiet: it saw and
** did nothing worth a look (the top of this file), else full mirroring
** is re-armed at once.  st NULL: nothing.  Thread-safe, lock-free.  The
** count stops at PTM_SAMPLING_SATURATED, where the schedule is at its cap.
*/
PTM_HOT void ptmSamplingNote(struct ptmTxState *st, int quiet)
{
    if (!st)
        return;
    if (!quiet) {
        atomic_store_explicit(&st->quiet, 0, memory_order_relaxed);
        return;
    }
    /* Past the cap's run the count no longer matters: a load, no
    ** read-modify-write on the calls that sampling keeps cheap. */
    if (atomic_load_explicit(&st->quiet, memory_order_relaxed) < PTM_SAMPLING_SATURATED)
        atomic_fetch_add_explicit(&st->quiet, 1, memory_order_relaxed);
}

/*
** ptmSamplingReason: the trace's mirror_reason for a call that sampling
** left unmirrored, 1 call in every being mirrored.  A static string.
*/
PTM_HOT const char *ptmSamplingReason(unsigned every)
{
    static const char *const reasons[] = {
        "adaptive sampling: quiet, 1 call in 2 mirrored",
        "adaptive sampling: quiet, 1 call in 4 mirrored",
        "adaptive sampling: quiet, 1 call in 8 mirrored",
        "adaptive sampling: quiet, 1 call in 16 mirrored",
        "adaptive sampling: quiet, 1 call in 32 mirrored",
        "adaptive sampling: quiet, 1 call in 64 mirrored",
    };
    unsigned i = 0;
    while (i + 1 < sizeof reasons / sizeof *reasons && (2u << i) < every)
        i++;
    return reasons[i];
}

/*
** ptmExplorationOf: d's exploration, brought into [0, PTM_EXPLORATION_MAX]
** (a descriptor is not trusted beyond what ptmcc allows: NaN or negative
** is 0, more than the bound is the bound).
*/
double ptmExplorationOf(const struct ptm_tx_desc *d)
{
    double x = d->exploration;
    return !(x > 0) ? 0.0 : x > PTM_EXPLORATION_MAX ? PTM_EXPLORATION_MAX : x;
}

/*
** ptmExplore: whether this call, which the rules would divert, runs the
** primary instead for a label: a draw with d's exploration (0: never).
** Thread-safe.
*/
int ptmExplore(const struct ptm_tx_desc *d)
{
    double x = ptmExplorationOf(d);
    if (x <= 0)
        return 0;
    /* 53 random bits: a uniform double in [0, 1). */
    double u = (double)(samplingRandom() >> 11) * 0x1p-53;
    return u < x;
}

/*
** ptmTxStatesForget: drops every id's state (tests: a fresh schedule).
** Descriptors' slots must be zeroed by the caller.  Not while calls run.
*/
void ptmTxStatesForget(void)
{
    pthread_mutex_lock(&stateMu);
    for (unsigned b = 0; b < TX_STATE_BUCKETS; b++) {
        struct ptmTxState *st = stateMap[b], *next;
        for (; st; st = next) {
            next = st->next;
            pthread_mutex_destroy(&st->budget.mu);
            free(st->id);
            free(st);
        }
        stateMap[b] = NULL;
    }
    stateCount = 0;
    pthread_mutex_unlock(&stateMu);
}
