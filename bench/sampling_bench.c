/*
 * sampling_bench: adaptive mirroring (`.mirror_sampling = adaptive`,
 * runtime/sampling.c), what it buys and what it costs, in one process
 * (built by ptmcc).
 *
 * (a) Throughput of a page-cache append, one write(2) per call: the plain
 *     function through the retry loop a programmer writes, the same body
 *     as a PTM transaction that mirrors every call (`always`), as one with
 *     `.mirror_sampling = adaptive`, after a warm-up that lets its quiet
 *     run reach the schedule's cap, and as one with `.mirror = off` (the
 *     engine's floor: what an unmirrored call cannot go below).  Rounds in
 *     ABBA order, the medians of the rounds' wall and thread-CPU
 *     microseconds per call, and the throughput ratios to plain (CPU time
 *     is the steadier figure on a loaded machine).
 * (b) Failures missed: a workload of N calls of which 1% are doomed, in
 *     bursts of BURST calls at random places (a fixed seed, the same
 *     calls for both).  A doomed call fails its ptm_validate check (the
 *     mirror sees a validation signal and the default rules divert it to
 *     an alternative); a doomed call whose primary runs fails.  Counted
 *     per variant: doomed calls averted (diverted), failures (a doomed
 *     primary that ran), and the share of calls mirrored.
 *
 * Usage: sampling_bench [rounds] [calls per round] [workload calls]
 */
#include <ptm.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* cpu_us: this thread's CPU time (user + system): on a loaded machine the
** wall clock also counts the time other processes had the CPU. */
static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile int sink;

/* --- (a) the append ---------------------------------------------------- */

static int append_plain(int fd, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

PTM_TRANSACTION(.transaction_id = "sampling.always", .success_criteria = return == 0,
                .retry = { .max = 2, .backoff = exponential(1 ms, 10 ms) })
int append_always(int fd, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

/* The floor of an unmirrored call: the engine with no mirror at all. */
PTM_TRANSACTION(.transaction_id = "sampling.off", .success_criteria = return == 0,
                .retry = { .max = 2, .backoff = exponential(1 ms, 10 ms) }, .mirror = off)
int append_off(int fd, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

PTM_TRANSACTION(.transaction_id = "sampling.adaptive", .success_criteria = return == 0,
                .retry = { .max = 2, .backoff = exponential(1 ms, 10 ms) },
                .mirror_sampling = adaptive)
int append_adaptive(int fd, int n)
{
    char line[64];
    int len = snprintf(line, sizeof line, "entry %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

static int append_with_retry(int fd, int n)
{
    for (int attempt = 0; attempt <= 2; attempt++)
        if (append_plain(fd, n) == 0)
            return 0;
    return -1;
}

typedef void (*body_fn)(int fd, int i);
static void call_plain(int fd, int i) { sink = append_with_retry(fd, i); }
static void call_always(int fd, int i) { sink = append_always(fd, i); }
static void call_adaptive(int fd, int i) { sink = append_adaptive(fd, i); }
static void call_off(int fd, int i) { sink = append_off(fd, i); }

/* round_us: microseconds per call of n calls of f, wall and CPU. */
static double round_us(body_fn f, int fd, int n, double *cpu)
{
    double t0 = now_us(), c0 = cpu_us();
    for (int i = 0; i < n; i++)
        f(fd, i);
    *cpu = (cpu_us() - c0) / n;
    return (double)(now_us() - t0) / n;
}

/* --- (b) rare faults in bursts ------------------------------------------ */

static long diverted_always, diverted_adaptive;

int record_queue_always(int fd, int n, int doomed);
int record_queue_adaptive(int fd, int n, int doomed);

PTM_TRANSACTION(.transaction_id = "sampling.faults.always", .success_criteria = return == 0,
                .alternative_paths = { record_queue_always })
int record_always(int fd, int n, int doomed)
{
    if (!ptm_validate(!doomed, "record %d is doomed", n)) {
        errno = EINVAL;
        return -1;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "record %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

int record_queue_always(int fd, int n, int doomed)
{
    (void)fd, (void)n, (void)doomed;
    diverted_always++;
    return 0;
}

PTM_TRANSACTION(.transaction_id = "sampling.faults.adaptive", .success_criteria = return == 0,
                .alternative_paths = { record_queue_adaptive }, .mirror_sampling = adaptive)
int record_adaptive(int fd, int n, int doomed)
{
    if (!ptm_validate(!doomed, "record %d is doomed", n)) {
        errno = EINVAL;
        return -1;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "record %d\n", n);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

int record_queue_adaptive(int fd, int n, int doomed)
{
    (void)fd, (void)n, (void)doomed;
    diverted_adaptive++;
    return 0;
}

#define BURST 5

/* doomed_plan: which of n calls are doomed: 1% of them, in bursts of
** BURST at random places (seed fixed). */
static unsigned char *doomed_plan(int n, int *count)
{
    unsigned char *d = calloc((size_t)n, 1);
    if (!d)
        exit(1);
    srand(13);
    int want = n / 100, have = 0;
    while (have + BURST <= want) {
        int at = rand() % (n - BURST);
        int clear = 1;
        for (int i = at > 0 ? at - 1 : 0; i < at + BURST + 1 && i < n; i++)
            clear &= !d[i];
        if (!clear)
            continue;
        for (int i = at; i < at + BURST; i++)
            d[i] = 1;
        have += BURST;
    }
    *count = have;
    return d;
}

typedef int (*record_fn)(int fd, int n, int doomed);

/* run_workload: calls of f over the plan. OUT: *failed, doomed calls that
** failed (their primary ran); *good_failed, the others that failed;
** *mirrors, the mirrors run. */
static void run_workload(record_fn f, int fd, const unsigned char *plan, int n, long *failed,
                         long *good_failed, unsigned long *mirrors)
{
    struct ptm_stats before, after;
    ptm_stats_get(&before);
    *failed = *good_failed = 0;
    for (int i = 0; i < n; i++) {
        int rc = f(fd, i, plan[i]);
        if (rc != 0 && plan[i])
            (*failed)++;
        else if (rc != 0)
            (*good_failed)++;
    }
    ptm_stats_get(&after);
    *mirrors = (unsigned long)(after.mirrors - before.mirrors);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    int calls = argc > 2 ? atoi(argv[2]) : 20000;
    int wcalls = argc > 3 ? atoi(argv[3]) : 20000;
    if (rounds < 1 || calls < 1 || wcalls < 1000) {
        fprintf(stderr, "usage: sampling_bench [rounds] [calls per round] [workload calls >= 1000]\n");
        return 2;
    }
    char path[] = "/tmp/ptm_sampling_bench_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    unlink(path);
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_APPEND);

    /* Warm-up: the Lua state, the watchdog; adaptive's quiet run reaches
    ** the cap. */
    for (int i = 0; i < 1000; i++) {
        call_always(fd, i);
        call_adaptive(fd, i);
        call_plain(fd, i);
        call_off(fd, i);
    }

    enum { V = 4 };
    static const char *const names[V] = {"plain (retry loop)", "PTM always", "PTM adaptive",
                                         "PTM mirror = off"};
    body_fn fns[V] = {call_plain, call_always, call_adaptive, call_off};
    double *t[V], *c[V];
    for (int k = 0; k < V; k++) {
        t[k] = calloc((size_t)rounds * 2, sizeof *t[k]);
        c[k] = calloc((size_t)rounds * 2, sizeof *c[k]);
        if (!t[k] || !c[k])
            return 1;
    }
    double adaptive_calls = 0;
    unsigned long adaptive_mirrors = 0;
    for (int r = 0; r < 2 * rounds; r++) {
        /* ABBA: the order reverses every round. */
        for (int j = 0; j < V; j++) {
            int k = r % 2 ? V - 1 - j : j;
            if (ftruncate(fd, 0) != 0)
                return 1;
            struct ptm_stats a, b;
            ptm_stats_get(&a);
            t[k][r] = round_us(fns[k], fd, calls, &c[k][r]);
            ptm_stats_get(&b);
            if (k == 2) {
                adaptive_calls += calls;
                adaptive_mirrors += (unsigned long)(b.mirrors - a.mirrors);
            }
        }
    }
    double med[V], cmed[V];
    for (int k = 0; k < V; k++) {
        qsort(t[k], (size_t)rounds * 2, sizeof *t[k], cmp_double);
        qsort(c[k], (size_t)rounds * 2, sizeof *c[k], cmp_double);
        med[k] = t[k][rounds];
        cmed[k] = c[k][rounds];
    }
    printf("(a) page-cache append, one write per call: %d rounds (ABBA) of %d calls, medians\n",
           2 * rounds, calls);
    printf("  %-22s %10s %12s %12s %12s\n", "variant", "wall us", "vs plain", "CPU us",
           "vs plain");
    for (int k = 0; k < V; k++)
        printf("  %-22s %10.3f %11.3fx %12.3f %11.3fx\n", names[k], med[k], med[0] / med[k],
               cmed[k], cmed[0] / cmed[k]);
    printf("  (throughput ratio: plain's time per call / the variant's)\n");
    printf("  adaptive mirrored %lu of %.0f calls (%.2f%%)\n", adaptive_mirrors, adaptive_calls,
           100.0 * (double)adaptive_mirrors / adaptive_calls);

    int doomed;
    unsigned char *plan = doomed_plan(wcalls, &doomed);
    long failed[2], good_failed[2];
    unsigned long mirrors[2];
    for (int i = 0; i < 500; i++) { /* both start quiet, as a long-running program would */
        record_always(fd, i, 0);
        record_adaptive(fd, i, 0);
    }
    diverted_always = diverted_adaptive = 0;
    run_workload(record_always, fd, plan, wcalls, &failed[0], &good_failed[0], &mirrors[0]);
    run_workload(record_adaptive, fd, plan, wcalls, &failed[1], &good_failed[1], &mirrors[1]);
    printf("(b) %d calls, %d doomed (1%%) in bursts of %d at random places\n", wcalls, doomed,
           BURST);
    printf("  %-10s %10s %10s %12s %10s\n", "variant", "averted", "failed", "good failed",
           "mirrored");
    printf("  %-10s %10ld %10ld %12ld %9.2f%%\n", "always", diverted_always, failed[0],
           good_failed[0], 100.0 * (double)mirrors[0] / wcalls);
    printf("  %-10s %10ld %10ld %12ld %9.2f%%\n", "adaptive", diverted_adaptive, failed[1],
           good_failed[1], 100.0 * (double)mirrors[1] / wcalls);
    printf("  failures missed by adaptive against always: %ld of %d doomed calls (%.1f%%)\n",
           failed[1] - failed[0], doomed, 100.0 * (double)(failed[1] - failed[0]) / doomed);
    free(plan);
    for (int k = 0; k < V; k++) {
        free(t[k]);
        free(c[k]);
    }
    close(fd);
    return 0;
}
