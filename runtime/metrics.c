/*
** metrics.c - per-transaction counters, as Prometheus text exposition.
**
** Each transaction call ends in ptmMetricsRecord (tx.c, beside the trace
** record): a lookup of its transaction id in a fixed open-addressed table
** (a strcmp, and a strdup the first time an id is seen; cached in the
** id's state, sampling.c, for a descriptor that has one) and relaxed atomic
** increments, nothing else on the call's path.  ptm_metrics_write() prints
** the table in the Prometheus text format (version 0.0.4).
**
** PTM_METRICS=path writes that text to path, atomically (a temporary file
** in the same directory, then rename(2), as node_exporter's textfile
** collector expects): at exit, and every PTM_METRICS_INTERVAL seconds
** (default 15; 0: only at exit) from one writer thread, started with the
** first call that records, all signals blocked, joined at exit.  The inline
** executor's watchdog, the runtime's only other background thread, exists
** only while inline mirrors run and sleeps when none do, so it cannot
** carry a periodic write.  A path that cannot be written is said once on
** stderr; the writes go on being tried (a directory may appear), quietly.
** A forked child never writes the parent's file.
**
** Bounds: PTM_METRICS_MAX_TX transaction ids; the calls of ids beyond them
** are counted in ptm_metrics_dropped_total, not lost silently.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ptm_int.h"

#define PTM_METRICS_MAX_TX 256
#define METRICS_DEFAULT_INTERVAL_S 15

/* The histograms' upper bounds, in seconds (Prometheus' unit), and in ns. */
static const char *const metricsLe[] = {"0.0001", "0.0005", "0.001", "0.005", "0.01",
                                        "0.05",   "0.1",    "0.5",   "1",     "5"};
static const uint64_t metricsLeNs[] = {100000ULL,    500000ULL,    1000000ULL,
                                       5000000ULL,   10000000ULL,  50000000ULL,
                                       100000000ULL, 500000000ULL, 1000000000ULL,
                                       5000000000ULL};
#define METRICS_BUCKETS (sizeof metricsLeNs / sizeof metricsLeNs[0])
_Static_assert(sizeof metricsLe / sizeof metricsLe[0] == METRICS_BUCKETS, "bucket bounds");

struct metricsHist {
    _Atomic uint64_t bucket[METRICS_BUCKETS + 1]; /* not cumulative; the last: +Inf */
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
};

struct ptmMetricsTx {
    _Atomic(char *) id;           /* NULL: free slot; set once, never freed */
    _Atomic uint64_t calls, mirrors, diversions, failures, retries;
    struct metricsHist mirror, primary;
};

static struct ptmMetricsTx metricsTable[PTM_METRICS_MAX_TX];
static _Atomic uint64_t metricsDropped;

static uint32_t metricsHash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* metricsSlot: id's slot, claimed when new.  NULL: the table is full (or
** out of memory). */
static struct ptmMetricsTx *metricsSlot(const char *id)
{
    uint32_t h = metricsHash(id);
    for (unsigned i = 0; i < PTM_METRICS_MAX_TX; i++) {
        struct ptmMetricsTx *t = &metricsTable[(h + i) % PTM_METRICS_MAX_TX];
        char *cur = atomic_load_explicit(&t->id, memory_order_acquire);
        if (!cur) {
            char *mine = strdup(id);
            if (!mine)
                return NULL;
            if (atomic_compare_exchange_strong(&t->id, &cur, mine))
                return t;
            free(mine); /* another thread took the slot: cur is its id */
        }
        if (strcmp(cur, id) == 0)
            return t;
    }
    return NULL;
}

/* metricsSlotOf: the slot of d's transaction id: cached in the id's state
** (sampling.c) when d has one, so that a call after the first neither
** hashes nor compares the id.  NULL: the table is full. */
PTM_HOT static struct ptmMetricsTx *metricsSlotOf(const struct ptm_tx_desc *d)
{
    struct ptmTxState *st = d->slot ? __atomic_load_n(&d->slot->state, __ATOMIC_ACQUIRE) : NULL;
    struct ptmMetricsTx *t = st ? atomic_load_explicit(&st->metrics, memory_order_acquire) : NULL;
    if (t)
        return t;
    t = metricsSlot(d->transaction_id);
    if (st && t)
        atomic_store_explicit(&st->metrics, t, memory_order_release);
    return t;
}

PTM_HOT static void metricsAdd(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

PTM_HOT static void metricsObserve(struct metricsHist *h, uint64_t ns)
{
    unsigned b = 0;
    while (b < METRICS_BUCKETS && ns > metricsLeNs[b])
        b++;
    metricsAdd(&h->bucket[b], 1);
    metricsAdd(&h->sum_ns, ns);
    metricsAdd(&h->count, 1);
}

/* metricsPublish: the other runtimes of the process (peers.c) may print
** this table in their PTM_METRICS files. */
PTM_HOT static void metricsPublish(void)
{
    if (!atomic_load_explicit(&ptmPeerSelf.metrics, memory_order_relaxed)) {
        ptmPeerSelf.metrics_dropped = &metricsDropped;
        atomic_store(&ptmPeerSelf.metrics, (void *)metricsTable);
    }
}

/* --- the file -------------------------------------------------------------- */

static pthread_once_t metricsOnce = PTHREAD_ONCE_INIT;
static char *metricsPath;         /* PTM_METRICS; NULL: unset */
static unsigned metricsInterval = METRICS_DEFAULT_INTERVAL_S;
static pid_t metricsOwner;        /* the process that read PTM_METRICS */
static atomic_int metricsSaid;    /* the path's failure was said on stderr */
static pthread_mutex_t metricsMu = PTHREAD_MUTEX_INITIALIZER; /* the writer's state */

/* metricsMu is a leaf (the writer lets it go while it writes). */
PTM_HOLD_ACROSS_FORK(metrics, &metricsMu)
static pthread_cond_t metricsCv;
static atomic_int metricsThreadRunning, metricsStop; /* read unlocked by the calls */
static pthread_t metricsThread;

static void metricsInit(void)
{
    const char *p = getenv("PTM_METRICS");
    if (!p || !*p)
        return;
    metricsPath = strdup(p);
    metricsOwner = getpid();
    const char *iv = getenv("PTM_METRICS_INTERVAL");
    if (iv && *iv) {
        char *end;
        long n = strtol(iv, &end, 10);
        if (*end == '\0' && n >= 0 && n <= 86400)
            metricsInterval = (unsigned)n;
    }
}

/* metricsSayFailed: says once on stderr why the file cannot be written. */
static void metricsSayFailed(const char *what, int err)
{
    if (atomic_exchange(&metricsSaid, 1))
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "ptm: PTM_METRICS=%s: cannot %s: %s; metrics are not "
                     "written\n", metricsPath, what, strerror(err));
    if (n > 0)
        (void)!ptmOs.write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* metricsWriteAll: writes n bytes of buf to fd.  0 or an errno. */
static int metricsWriteAll(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = ptmOs.write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
** ptmMetricsFlush: writes the exposition to $PTM_METRICS (a temporary
** file, then rename); nothing when it is unset, or in a process forked
** from the one that read it.  Returns 0, or an errno (said once on
** stderr).  errno is preserved.
*/
int ptmMetricsFlush(void)
{
    int saved = errno, err = 0;
    pthread_once(&metricsOnce, metricsInit);
    if (!metricsPath || getpid() != metricsOwner)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m || ptm_metrics_write(m) != 0) {
        err = errno ? errno : ENOMEM;
        if (m)
            fclose(m);
        free(text);
        metricsSayFailed("format them", err);
        errno = saved;
        return err;
    }
    fclose(m);
    size_t plen = strlen(metricsPath) + 48;
    char *tmp = malloc(plen);
    struct rlimit rl;
    if (!tmp) {
        err = ENOMEM;
    } else if (ptmOs.getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
               len > rl.rlim_cur) {
        err = EFBIG; /* writing past it would raise SIGXFSZ and kill the host */
    } else {
        /* Per runtime too: the process's other copies of libptm write the
        ** same file (peers.c). */
        snprintf(tmp, plen, "%s.tmp.%ld.%lx", metricsPath, (long)getpid(),
                 (unsigned long)((uintptr_t)metricsTable >> 4 & 0xffffff));
        int fd = ptmOs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            err = errno;
        } else {
            err = metricsWriteAll(fd, text, len);
            if (ptmOs.close(fd) != 0 && !err)
                err = errno;
            if (!err && rename(tmp, metricsPath) != 0)
                err = errno;
            if (err)
                unlink(tmp);
        }
    }
    free(tmp);
    free(text);
    if (err)
        metricsSayFailed("write it", err);
    errno = saved;
    return err;
}

/* The writer: a flush every metricsInterval seconds until told to stop. */
static void *metricsWriter(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ptm-metrics");
    pthread_mutex_lock(&metricsMu);
    while (!metricsStop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += metricsInterval;
        while (!metricsStop && pthread_cond_timedwait(&metricsCv, &metricsMu, &ts) != ETIMEDOUT)
            ;
        if (metricsStop)
            break;
        pthread_mutex_unlock(&metricsMu);
        ptmMetricsFlush();
        pthread_mutex_lock(&metricsMu);
    }
    pthread_mutex_unlock(&metricsMu);
    return NULL;
}

/* metricsStartWriter: starts the writer once, with every signal blocked
** (the host's handlers must never run on it). */
static void metricsStartWriter(void)
{
    pthread_mutex_lock(&metricsMu);
    if (!metricsThreadRunning && !metricsStop) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&metricsCv, &ca);
        pthread_condattr_destroy(&ca);
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        metricsThreadRunning = pthread_create(&metricsThread, NULL, metricsWriter, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!metricsThreadRunning)
            metricsStop = 1; /* no periodic writes; the one at exit stays */
    }
    pthread_mutex_unlock(&metricsMu);
}

/* At exit: the writer stops and is joined, and the last figures are written. */
__attribute__((destructor)) static void metricsAtExit(void)
{
    if (!metricsPath || getpid() != metricsOwner)
        return;
    pthread_mutex_lock(&metricsMu);
    int running = metricsThreadRunning;
    metricsStop = 1;
    if (running)
        pthread_cond_broadcast(&metricsCv);
    pthread_mutex_unlock(&metricsMu);
    if (running)
        pthread_join(metricsThread, NULL);
    metricsThreadRunning = 0;
    ptmMetricsFlush();
}

/*
** ptmMetricsRecord: counts one finished transaction call (r as traced):
** calls, mirrors, diversions, failures, retries, the mirror's latency and
** the primary's.  Lock-free after the first call of an id; starts the
** PTM_METRICS writer on the first call.  Dry runs count as calls and
** mirrors only (nothing ran for real).
*/
PTM_HOT void ptmMetricsRecord(const struct ptmTxRecord *r)
{
    if (!r || !r->desc || !r->desc->transaction_id)
        return;
    pthread_once(&metricsOnce, metricsInit);
    if (metricsPath && metricsInterval && !metricsThreadRunning && !metricsStop &&
        getpid() == metricsOwner)
        metricsStartWriter();
    metricsPublish();
    struct ptmMetricsTx *t = metricsSlotOf(r->desc);
    if (!t) {
        metricsAdd(&metricsDropped, 1);
        return;
    }
    metricsAdd(&t->calls, 1);
    if (r->run) {
        metricsAdd(&t->mirrors, 1);
        metricsObserve(&t->mirror, r->run->duration_ns);
    }
    if (r->dry_run)
        return;
    if (r->decision == PTM_DECISION_DIVERT)
        metricsAdd(&t->diversions, 1);
    if (!r->success)
        metricsAdd(&t->failures, 1);
    if (r->attempts > 1)
        metricsAdd(&t->retries, r->attempts - 1);
    /* The primary's time: the call's, less its mirror's (the attempts,
    ** with their backoff). */
    if (r->path && r->desc->function &&
        (r->path == r->desc->function || strcmp(r->path, r->desc->function) == 0)) {
        uint64_t m = r->run ? r->run->duration_ns : 0;
        metricsObserve(&t->primary, r->duration_ns > m ? r->duration_ns - m : 0);
    }
}

/* --- the exposition ----------------------------------------------------- */

/* Prints id as a label value: backslash, double quote and newline escaped. */
static void metricsLabel(FILE *f, const char *id)
{
    for (; *id; id++) {
        if (*id == '\\' || *id == '"')
            fputc('\\', f), fputc(*id, f);
        else if (*id == '\n')
            fputs("\\n", f);
        else
            fputc(*id, f);
    }
}

static uint64_t metricsGet(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* metricsFind: id's slot in table t, or NULL (never claims one). */
static struct ptmMetricsTx *metricsFind(struct ptmMetricsTx *t, const char *id)
{
    uint32_t h = metricsHash(id);
    for (unsigned i = 0; i < PTM_METRICS_MAX_TX; i++) {
        struct ptmMetricsTx *x = &t[(h + i) % PTM_METRICS_MAX_TX];
        const char *cur = atomic_load_explicit(&x->id, memory_order_acquire);
        if (!cur)
            return NULL;
        if (strcmp(cur, id) == 0)
            return x;
    }
    return NULL;
}

#define METRICS_MAX_TABLES 17

/* The tables to print: this runtime's and its peers' (the other copies of
** libptm in the process, peers.c), so that each runtime's file holds the
** process's figures.  An id in several runtimes is printed once, summed. */
struct metricsTables {
    unsigned n;
    struct ptmMetricsTx *t[METRICS_MAX_TABLES];
    _Atomic uint64_t *dropped[METRICS_MAX_TABLES];
};

static void metricsCollect(struct metricsTables *m)
{
    struct ptmPeer *p;
    m->n = 0;
    m->t[m->n] = metricsTable;
    m->dropped[m->n++] = &metricsDropped;
    for (int i = 0; m->n < METRICS_MAX_TABLES && (p = ptmPeerNext(&i)) != NULL;) {
        struct ptmMetricsTx *t = atomic_load(&p->metrics);
        if (t) {
            m->t[m->n] = t;
            m->dropped[m->n++] = p->metrics_dropped;
        }
    }
}

/* metricsFirst: whether table k is the first that holds id. */
static int metricsFirst(const struct metricsTables *m, unsigned k, const char *id)
{
    for (unsigned j = 0; j < k; j++)
        if (metricsFind(m->t[j], id))
            return 0;
    return 1;
}

static void metricsCounter(FILE *f, const struct metricsTables *m, const char *name,
                           const char *help, size_t off)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (unsigned k = 0; k < m->n; k++)
        for (unsigned i = 0; i < PTM_METRICS_MAX_TX; i++) {
            const char *id = atomic_load_explicit(&m->t[k][i].id, memory_order_acquire);
            if (!id || !metricsFirst(m, k, id))
                continue;
            uint64_t v = 0;
            for (unsigned j = k; j < m->n; j++) {
                struct ptmMetricsTx *t = j == k ? &m->t[k][i] : metricsFind(m->t[j], id);
                if (t)
                    v += metricsGet((_Atomic uint64_t *)((char *)t + off));
            }
            fprintf(f, "%s{transaction_id=\"", name);
            metricsLabel(f, id);
            fprintf(f, "\"} %llu\n", (unsigned long long)v);
        }
}

static void metricsHistogram(FILE *f, const struct metricsTables *m, const char *name,
                             const char *help, size_t off)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (unsigned k = 0; k < m->n; k++)
        for (unsigned i = 0; i < PTM_METRICS_MAX_TX; i++) {
            const char *id = atomic_load_explicit(&m->t[k][i].id, memory_order_acquire);
            if (!id || !metricsFirst(m, k, id))
                continue;
            uint64_t bucket[METRICS_BUCKETS + 1] = {0}, sum_ns = 0;
            for (unsigned j = k; j < m->n; j++) {
                struct ptmMetricsTx *t = j == k ? &m->t[k][i] : metricsFind(m->t[j], id);
                if (!t)
                    continue;
                struct metricsHist *h = (struct metricsHist *)((char *)t + off);
                for (unsigned b = 0; b <= METRICS_BUCKETS; b++)
                    bucket[b] += metricsGet(&h->bucket[b]);
                sum_ns += metricsGet(&h->sum_ns);
            }
            /* Cumulative, and +Inf equal to _count, even while calls are added. */
            uint64_t cum = 0;
            for (unsigned b = 0; b <= METRICS_BUCKETS; b++) {
                cum += bucket[b];
                fprintf(f, "%s_bucket{transaction_id=\"", name);
                metricsLabel(f, id);
                fprintf(f, "\",le=\"%s\"} %llu\n", b < METRICS_BUCKETS ? metricsLe[b] : "+Inf",
                        (unsigned long long)cum);
            }
            fprintf(f, "%s_sum{transaction_id=\"", name);
            metricsLabel(f, id);
            fprintf(f, "\"} %.9f\n", (double)sum_ns / 1e9);
            fprintf(f, "%s_count{transaction_id=\"", name);
            metricsLabel(f, id);
            fprintf(f, "\"} %llu\n", (unsigned long long)cum);
        }
}

/*
** ptm_metrics_write: prints this process's per-transaction metrics to f in
** the Prometheus text exposition format (0.0.4): counters
** ptm_calls_total, ptm_mirrors_total, ptm_diversions_total,
** ptm_failures_total, ptm_retries_total, histograms
** ptm_mirror_latency_seconds and ptm_primary_latency_seconds, each labelled
** by transaction_id, and ptm_metrics_dropped_total (calls of transaction
** ids beyond the table's 256).  Thread-safe; the figures are read without
** stopping the calls, so two counters may be a call apart.
** Returns 0, or -1 with errno set when f reported a write error.
*/
PTM_API int ptm_metrics_write(FILE *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    struct metricsTables m;
    metricsPublish();
    metricsCollect(&m);
    uint64_t dropped = 0;
    for (unsigned k = 0; k < m.n; k++)
        dropped += m.dropped[k] ? metricsGet(m.dropped[k]) : 0;
    metricsCounter(f, &m, "ptm_calls_total", "Transaction calls.", offsetof(struct ptmMetricsTx, calls));
    metricsCounter(f, &m, "ptm_mirrors_total", "Calls that ran a mirror.",
                   offsetof(struct ptmMetricsTx, mirrors));
    metricsCounter(f, &m, "ptm_diversions_total", "Calls diverted to an alternative.",
                   offsetof(struct ptmMetricsTx, diversions));
    metricsCounter(f, &m, "ptm_failures_total", "Calls whose outcome was a failure.",
                   offsetof(struct ptmMetricsTx, failures));
    metricsCounter(f, &m, "ptm_retries_total", "Attempts of the primary after the first.",
                   offsetof(struct ptmMetricsTx, retries));
    metricsHistogram(f, &m, "ptm_mirror_latency_seconds", "How long mirrors ran.",
                     offsetof(struct ptmMetricsTx, mirror));
    metricsHistogram(f, &m, "ptm_primary_latency_seconds",
                     "How long calls that ran the primary took after their mirror.",
                     offsetof(struct ptmMetricsTx, primary));
    fprintf(f, "# HELP ptm_metrics_dropped_total Calls of transaction ids beyond the table.\n"
               "# TYPE ptm_metrics_dropped_total counter\nptm_metrics_dropped_total %llu\n",
            (unsigned long long)dropped);
    if (fflush(f) != 0 || ferror(f))
        return -1;
    return 0;
}
