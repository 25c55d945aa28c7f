/*
 * inline_bench: the inline executor against a plain call of the same
 * mirror, side by side in one process.  The mirror makes one shim call
 * (fprintf to stderr, recorded, nothing written) and doubles its argument.
 *
 * Rounds alternate ABBA (plain, executor, executor, plain, ...) and each
 * side runs a batch of calls per round, so that drift in a noisy machine
 * falls on both sides alike.  Reported: the median microseconds per call
 * of each side and the ratio of the medians.
 *
 *   inline_bench [rounds] [calls per round]
 *
 * Built against libptm's internals (it calls ptmInlineRun directly); the
 * figure was a [cost] line printed by test_inline.c before it moved here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "median.h"
#include "ptm_int.h"

#define MS 1000000ULL

struct frame {
    struct { int x; } arg;
    int ret;
    int err;
};

static void mirrorDoubles(void *p)
{
    struct frame *fr = p;
    ptm_shim_fprintf(stderr, "mirror %d\n", fr->arg.x);
    fr->ret = 2 * fr->arg.x;
}

/* The baseline: the mirror's body with the real call, outside a mirror,
** into a stream that goes nowhere. */
static FILE *devNull;

static void plainDoubles(void *p)
{
    struct frame *fr = p;
    fprintf(devNull, "mirror %d\n", fr->arg.x);
    fr->ret = 2 * fr->arg.x;
}

static const struct ptm_tx_desc desc = {
    .abi = PTM_ABI_VERSION, .transaction_id = "bench.inline", .function = "t",
    .frame_size = sizeof(struct frame), .mirror = mirrorDoubles,
};

static struct ptmRing *ring;

/* Microseconds per call of a batch of n. */
static double executor(int n)
{
    uint64_t t0 = ptmOsNowNs();
    for (int i = 0; i < n; i++) {
        struct frame fr = {.arg = {i}};
        struct ptmMirrorRun r;
        if (ptmInlineRun(&desc, &fr, 100 * MS, ring, &r) != PTM_OK || r.status != PTM_MS_RETURNED ||
            ((struct frame *)ring->frame)->ret != 2 * i) {
            fprintf(stderr, "ptmInlineRun: status %s %s\n", ptmStatusName(r.status), r.error);
            exit(1);
        }
    }
    return (double)(ptmOsNowNs() - t0) / 1e3 / n;
}

static double plain(int n)
{
    uint64_t t0 = ptmOsNowNs();
    for (int i = 0; i < n; i++) {
        struct frame fr = {.arg = {i}};
        plainDoubles(&fr);
        if (fr.ret != 2 * i)
            exit(1);
    }
    return (double)(ptmOsNowNs() - t0) / 1e3 / n;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 40;
    int calls = argc > 2 ? atoi(argv[2]) : 1000;
    if (rounds < 1 || calls < 1) {
        fprintf(stderr, "usage: inline_bench [rounds] [calls per round]\n");
        return 2;
    }
    devNull = fopen("/dev/null", "w");
    if (!devNull || ptmRingCreate(0, &ring) != PTM_OK) {
        perror("inline_bench");
        return 1;
    }
    double *a = calloc((size_t)rounds, sizeof *a), *b = calloc((size_t)rounds, sizeof *b);
    executor(calls); /* the executor's setup: handlers, the watchdog */
    for (int i = 0; i < rounds; i++) {
        if (i % 2 == 0) {
            a[i] = plain(calls);
            b[i] = executor(calls);
        } else {
            b[i] = executor(calls);
            a[i] = plain(calls);
        }
    }
    double ma = median(a, rounds), mb = median(b, rounds);
    printf("%d rounds of %d calls (ABBA)\n", rounds, calls);
    printf("  %-36s median %8.3f us per call\n", "plain call (fprintf to /dev/null)", ma);
    printf("  %-36s median %8.3f us per call\n", "ptmInlineRun (one shim call)", mb);
    printf("  ratio executor/plain: %.1fx\n", mb / ma);
    free(a), free(b);
    ptmRingDestroy(ring);
    fclose(devNull);
    return 0;
}
