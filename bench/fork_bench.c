/*
 * fork_bench: the fork executor against a bare fork()+_exit()+waitpid(),
 * side by side in one process, at the process's own RSS (~2 MB of its
 * own, plus the libraries) and again after 100 MB more are touched.
 *
 * Rounds alternate ABBA (bare, executor, executor, bare, ...) so that
 * drift in a noisy machine falls on both sides alike.  Reported per size:
 * the median and minimum microseconds of each, the ratio of the medians,
 * and the median of the per-round ratios.  The executor's own breakdown
 * comes from the stamps the child writes into the ring (runtime/ptm_int.h,
 * enum ptmForkStamp): medians of each step.
 *
 *   fork_bench [rounds at 2 MB] [rounds at 100 MB] [MB]
 *
 * Built against libptm's internals (it calls ptmForkRun directly; a
 * transaction through ptm_tx_run is measured too, for the full path).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "median.h"
#include "ptm_int.h"

struct frame {
    int in, out;
};

static void mirrorTrivial(void *p)
{
    struct frame *f = p;
    f->out = f->in * 2;
}

static int successOk(const void *p)
{
    return ((const struct frame *)p)->out >= 0;
}

static const struct ptm_tx_desc desc = {
    .abi = PTM_ABI_VERSION,
    .transaction_id = "bench.fork",
    .function = "trivial",
    .file = __FILE__,
    .frame_size = sizeof(struct frame),
    .primary = mirrorTrivial,
    .mirror = mirrorTrivial,
    .success = successOk,
    .failure_prediction_enabled = 1,
    .mirror_mode = PTM_MIRROR_FORK,
    .threshold = 0.5,
};

static double us(uint64_t ns)
{
    return (double)ns / 1e3;
}

static double bareFork(void)
{
    uint64_t t0 = ptmOsNowNs();
    int st;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        perror("fork");
        exit(1);
    }
    return us(ptmOsNowNs() - t0);
}

static struct ptmRing *ring;
static uint64_t stamps[PTM_STAMP_COUNT];

static double executor(void)
{
    struct frame fr = {21, 0};
    struct ptmMirrorRun run;
    uint64_t t0 = ptmOsNowNs();
    if (ptmForkRun(&desc, &fr, 5000000000ull, ring, &run) != PTM_OK ||
        run.status != PTM_MS_RETURNED || ((struct frame *)ring->frame)->out != 42) {
        fprintf(stderr, "ptmForkRun: status %s %s\n", ptmStatusName(run.status), run.error);
        exit(1);
    }
    double t = us(ptmOsNowNs() - t0);
    memcpy(stamps, ring->stamp_ns, sizeof stamps);
    return t;
}

static double transaction(void)
{
    struct frame fr = {21, 0};
    uint64_t t0 = ptmOsNowNs();
    if (!ptm_tx_run(&desc, &fr) || fr.out != 42) {
        fprintf(stderr, "ptm_tx_run failed: %s\n", ptm_last_error());
        exit(1);
    }
    return us(ptmOsNowNs() - t0);
}

static long rssKiB(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static const char *const stepNames[PTM_STAMP_COUNT] = {
    "", "fork -> child runs", "deadline timer, signals, no core", "descriptors made private",
    "shared mappings read-only", "pgrp, Landlock, seccomp", "the mirror", "exit -> parent reaped"};

static void measure(int rounds)
{
    double *bare = calloc((size_t)rounds, sizeof *bare);
    double *exec = calloc((size_t)rounds, sizeof *exec);
    double *tx = calloc((size_t)rounds, sizeof *tx);
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    double *step[PTM_STAMP_COUNT];
    int i, k;

    for (k = 0; k < PTM_STAMP_COUNT; k++)
        step[k] = calloc((size_t)rounds, sizeof **step);
    for (i = 0; i < rounds; i++) {
        if (i % 2 == 0) {
            bare[i] = bareFork();
            exec[i] = executor();
            tx[i] = transaction();
        } else {
            tx[i] = transaction();
            exec[i] = executor();
            bare[i] = bareFork();
        }
        ratio[i] = exec[i] / bare[i];
        for (k = 1; k < PTM_STAMP_COUNT; k++)
            step[k][i] = stamps[k] && stamps[k - 1] ? us(stamps[k] - stamps[k - 1]) : 0;
    }
    long rss = rssKiB();
    double mb = median(bare, rounds), me = median(exec, rounds), mt = median(tx, rounds);
    printf("RSS %ld KiB, %d rounds (ABBA)\n", rss, rounds);
    printf("  %-34s median %8.1f us   min %8.1f us\n", "bare fork+_exit+waitpid", mb, bare[0]);
    printf("  %-34s median %8.1f us   min %8.1f us\n", "ptmForkRun (trivial mirror)", me, exec[0]);
    printf("  %-34s median %8.1f us   min %8.1f us\n", "ptm_tx_run (mirror = fork)", mt, tx[0]);
    printf("  ratio executor/bare: of medians %.2fx, of minimums %.2fx, median per round %.2fx\n",
           me / mb, exec[0] / bare[0], median(ratio, rounds));
    printf("  executor breakdown (medians):\n");
    for (k = 1; k < PTM_STAMP_COUNT; k++)
        printf("    %-32s %8.1f us\n", stepNames[k], median(step[k], rounds));
    for (k = 0; k < PTM_STAMP_COUNT; k++)
        free(step[k]);
    free(bare), free(exec), free(tx), free(ratio);
}

int main(int argc, char **argv)
{
    int small = argc > 1 ? atoi(argv[1]) : 400;
    int large = argc > 2 ? atoi(argv[2]) : 60;
    size_t mb = argc > 3 ? (size_t)atoi(argv[3]) : 100;

    if (ptmRingCreate(0, &ring) != PTM_OK) {
        perror("ptmRingCreate");
        return 1;
    }
    executor(); /* builds the filter */
    transaction();
    measure(small);

    /* 100 MB more, touched, so that fork copies their page tables. */
    unsigned char *big = mmap(NULL, mb << 20, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(big, 1, mb << 20);
    measure(large);
    munmap(big, mb << 20);
    ptmRingDestroy(ring);
    return 0;
}
