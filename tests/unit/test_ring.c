/*
** test_ring.c - the mirror's observation ring (runtime/ring.c).
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptm_int.h"

static void resetOs(void)
{
    ptmOsReset();
}

TestSuite(ring, .fini = resetOs);

Test(ring, create_is_empty)
{
    struct ptmRing *r;

    cr_assert_eq(ptmRingCreate(16, &r), PTM_OK);
    cr_assert_not_null(r);
    cr_assert_eq(ptmRingCap(r), 16);
    cr_assert_eq(ptmRingCount(r), 0);
    cr_assert_eq(ptmRingDropped(r), 0);
    cr_assert_eq(r->denied, 0);
    cr_assert_eq(r->returned, 0);
    cr_assert_eq(r->frame_len, 0);
    ptmRingDestroy(r);
}

Test(ring, default_and_too_large_caps)
{
    struct ptmRing *r;

    cr_assert_eq(ptmRingCreate(0, &r), PTM_OK);
    cr_assert_eq(ptmRingCap(r), PTM_RING_DEFAULT_CAP);
    ptmRingDestroy(r);
    cr_assert_eq(ptmRingCreate(UINT32_MAX, &r), PTM_EINVAL);
    cr_assert_null(r);
    ptmRingDestroy(NULL); /* a no-op */
}

static void *failingMmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
    (void)a, (void)l, (void)p, (void)f, (void)fd, (void)o;
    errno = ENOMEM;
    return MAP_FAILED;
}

Test(ring, mmap_failure_is_enomem)
{
    struct ptmRing *r;

    ptmOs.mmap = failingMmap;
    cr_assert_eq(ptmRingCreate(8, &r), PTM_ENOMEM);
    cr_assert_null(r);
}

Test(ring, push_stores_zeroed_events_in_order)
{
    struct ptmRing *r;
    struct ptmEvent *e;
    unsigned i;

    cr_assert_eq(ptmRingCreate(8, &r), PTM_OK);
    for (i = 0; i < 5; i++) {
        e = ptmRingPush(r);
        cr_assert_not_null(e);
        cr_assert_eq(e, &r->ev[i]);
        cr_assert_eq(e->kind, 0);
        cr_assert_eq(e->target[0], '\0');
        e->kind = PTM_EV_CALL;
        e->bytes = 100 + i;
    }
    cr_assert_eq(ptmRingCount(r), 5);
    for (i = 0; i < 5; i++)
        cr_assert_eq(r->ev[i].bytes, 100 + i);
    ptmRingDestroy(r);
}

Test(ring, overflow_counts_drops)
{
    struct ptmRing *r;
    unsigned i, stored = 0;

    cr_assert_eq(ptmRingCreate(16, &r), PTM_OK);
    for (i = 0; i < 20; i++)
        stored += ptmRingPush(r) != NULL;
    cr_assert_eq(stored, 16);
    cr_assert_eq(ptmRingCount(r), 16);
    cr_assert_eq(ptmRingDropped(r), 4);
    ptmRingDestroy(r);
}

Test(ring, reset_empties_everything)
{
    struct ptmRing *r;
    unsigned i;

    cr_assert_eq(ptmRingCreate(4, &r), PTM_OK);
    for (i = 0; i < 6; i++)
        ptmRingPush(r);
    r->denied = 3;
    r->returned = 1;
    r->setup_err = EPERM;
    r->frame_len = 10;
    ptmRingReset(r);
    cr_assert_eq(ptmRingCount(r), 0);
    cr_assert_eq(ptmRingDropped(r), 0);
    cr_assert_eq(r->denied, 0);
    cr_assert_eq(r->returned, 0);
    cr_assert_eq(r->setup_err, 0);
    cr_assert_eq(r->frame_len, 0);
    cr_assert_not_null(ptmRingPush(r));
    cr_assert_eq(ptmRingCount(r), 1);
    ptmRingDestroy(r);
}

Test(ring, child_pushes_parent_reads)
{
    struct ptmRing *r;
    struct ptmEvent *e;
    int st, i;
    pid_t pid;

    cr_assert_eq(ptmRingCreate(8, &r), PTM_OK);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        for (i = 0; i < 10; i++) {
            if ((e = ptmRingPush(r)) != NULL) {
                e->kind = PTM_EV_CALL;
                e->result = i;
                snprintf(e->target, sizeof e->target, "child %d", i);
            }
        }
        atomic_fetch_add(&r->denied, 2);
        memcpy(r->frame, "frame", 6);
        r->frame_len = 6;
        atomic_store(&r->returned, 1);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert_eq(ptmRingCount(r), 8);
    cr_assert_eq(ptmRingDropped(r), 2);
    cr_assert_eq(r->denied, 2);
    cr_assert_eq(r->returned, 1);
    cr_assert_eq(r->frame_len, 6);
    cr_assert_str_eq((char *)r->frame, "frame");
    for (i = 0; i < 8; i++) {
        char want[32];
        snprintf(want, sizeof want, "child %d", i);
        cr_assert_eq(r->ev[i].kind, PTM_EV_CALL);
        cr_assert_eq(r->ev[i].result, i);
        cr_assert_str_eq(r->ev[i].target, want);
    }
    ptmRingDestroy(r);
}

/* Concurrent pushes never share a slot. */
struct pusher {
    struct ptmRing *ring;
    int id;
};

static void *pushMany(void *arg)
{
    struct pusher *p = arg;
    struct ptmEvent *e;
    int i;

    for (i = 0; i < 1000; i++) {
        if ((e = ptmRingPush(p->ring)) != NULL) {
            e->result = p->id * 1000 + i;
            e->kind = PTM_EV_CALL;
        }
    }
    return NULL;
}

Test(ring, concurrent_pushes_claim_distinct_slots)
{
    static unsigned char seen[4000];
    struct pusher p[4];
    pthread_t t[4];
    struct ptmRing *r;
    unsigned i;

    cr_assert_eq(ptmRingCreate(4096, &r), PTM_OK);
    for (i = 0; i < 4; i++) {
        p[i] = (struct pusher){r, (int)i};
        cr_assert_eq(pthread_create(&t[i], NULL, pushMany, &p[i]), 0);
    }
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(ptmRingCount(r), 4000);
    cr_assert_eq(ptmRingDropped(r), 0);
    for (i = 0; i < 4000; i++) {
        cr_assert_eq(r->ev[i].kind, PTM_EV_CALL);
        cr_assert(r->ev[i].result >= 0 && r->ev[i].result < 4000);
        cr_assert_eq(seen[r->ev[i].result], 0, "slot value %ld seen twice",
                     (long)r->ev[i].result);
        seen[r->ev[i].result] = 1;
    }
    ptmRingDestroy(r);
}

/* Per-thread rings: distinct, stable, unmapped at thread exit. */
static void *unmapped[8];
static int n_unmapped;

static int countingMunmap(void *addr, size_t len)
{
    if (n_unmapped < 8)
        unmapped[n_unmapped++] = addr;
    return munmap(addr, len);
}

/* Asserts run on the test's thread: this one only reports.  The barrier
** keeps both threads (and so both rings) alive at once, so that the second
** ring cannot reuse the address of the first, unmapped one. */
static pthread_barrier_t bothHaveRings;

static void *threadRing(void *out)
{
    struct ptmRing *r = ptmRingForThread();
    *(struct ptmRing **)out = r;
    if (ptmRingForThread() != r || (r && !ptmRingPush(r)))
        *(struct ptmRing **)out = NULL;
    pthread_barrier_wait(&bothHaveRings);
    return NULL;
}

Test(ring, per_thread_rings_are_distinct_and_unmapped_at_exit)
{
    struct ptmRing *mine, *a = NULL, *b = NULL;
    pthread_t ta, tb;

    ptmOs.munmap = countingMunmap;
    pthread_barrier_init(&bothHaveRings, NULL, 2);
    mine = ptmRingForThread();
    cr_assert_not_null(mine);
    cr_assert_eq(ptmRingCap(mine), PTM_RING_DEFAULT_CAP);
    cr_assert_eq(ptmRingForThread(), mine);
    cr_assert_eq(pthread_create(&ta, NULL, threadRing, &a), 0);
    cr_assert_eq(pthread_create(&tb, NULL, threadRing, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    cr_assert_neq(a, mine);
    cr_assert_neq(b, mine);
    /* Both threads' rings were unmapped when they exited, each with the
    ** private page below it; ours was not. */
    cr_assert_eq(n_unmapped, 2);
    long pg = sysconf(_SC_PAGESIZE);
    void *pa = (char *)a - pg, *pb = (char *)b - pg;
    cr_assert((unmapped[0] == pa && unmapped[1] == pb) ||
              (unmapped[0] == pb && unmapped[1] == pa));
    cr_assert_eq(ptmRingCount(mine), 0, "other threads' pushes never reach this ring");
}

static void *threadRingFails(void *out)
{
    *(struct ptmRing **)out = ptmRingForThread();
    return NULL;
}

Test(ring, per_thread_ring_null_when_unmappable)
{
    struct ptmRing *r = (struct ptmRing *)1;
    pthread_t t;

    ptmOs.mmap = failingMmap;
    cr_assert_eq(pthread_create(&t, NULL, threadRingFails, &r), 0);
    pthread_join(t, NULL);
    cr_assert_null(r);
}

/* A thread's ring is MADV_DONTFORK: a fork() child (other than the fork
** executor's own, which test_fork.c covers) does not inherit it, while a
** ring from ptmRingCreate is inherited as before. */
Test(ring, a_threads_ring_is_not_inherited_by_fork)
{
    struct ptmRing *mine = ptmRingForThread(), *plain;
    unsigned char v;
    pid_t pid;
    int st;

    cr_assert_not_null(mine);
    cr_assert_eq(ptmRingCreate(8, &plain), PTM_OK);
    cr_assert_geq(ptmRingSize(plain), sizeof *plain + 8 * sizeof(struct ptmEvent));
    pid = fork();
    if (pid == 0) {
        int gone = mincore(mine, 4096, &v) != 0 && errno == ENOMEM;
        int here = mincore(plain, 4096, &v) == 0;
        _exit(gone && here ? 0 : 1);
    }
    cr_assert_gt(pid, 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    ptmRingDestroy(plain);
}

static int failingMadvise(void *a, size_t l, int advice)
{
    (void)a, (void)l, (void)advice;
    errno = EINVAL;
    return -1;
}

static void *threadRingNoMadvise(void *out)
{
    *(struct ptmRing **)out = ptmRingForThread();
    return NULL;
}

Test(ring, a_threads_ring_without_madvise_is_still_usable)
{
    struct ptmRing *r = NULL;
    pthread_t t;

    ptmOs.madvise = failingMadvise;
    cr_assert_eq(pthread_create(&t, NULL, threadRingNoMadvise, &r), 0);
    pthread_join(t, NULL);
    cr_assert_not_null(r, "the ring is there, only inherited by fork()");
}

/* --- a ring is untrusted input once a mirror wrote into it --------------- */

/* A well-formed ring after a mirror of an 8-byte frame returned: two
** events, a denial, its verdict and its frame. */
static struct ptmRing *wellFormed(void)
{
    struct ptmRing *r;
    struct ptmEvent *e;

    cr_assert_eq(ptmRingCreate(8, &r), PTM_OK);
    e = ptmRingPush(r);
    e->kind = PTM_EV_CALL;
    e->call = PTM_CALL_fopen;
    e->err = ENOENT;
    ptmCopyField(e->target, sizeof e->target, "/nonexistent");
    e = ptmRingPush(r);
    e->kind = PTM_EV_DENIED;
    e->call = PTM_CALL_SYSCALL | 1;
    e->err = EPERM;
    atomic_store(&r->denied, 1);
    atomic_store(&r->verdict, PTM_VERDICT_MET);
    r->frame_len = 8;
    atomic_store(&r->returned, 1);
    cr_assert_null(ptmRingCheck(r, 8));
    return r;
}

/* Each field a mirror can garble, garbled alone: ptmRingCheck names it. */
Test(ring, check_names_each_garbled_field)
{
    struct ptmRing *r;
    const char *why;
    unsigned i;

#define GARBLED(stmt, want)                                                        \
    do {                                                                           \
        r = wellFormed();                                                          \
        stmt;                                                                      \
        why = ptmRingCheck(r, 8);                                                  \
        cr_assert_not_null(why, "not caught: %s", #stmt);                          \
        cr_assert(strstr(why, want), "%s: %s, not %s", #stmt, why, want);           \
        ptmRingDestroy(r);                                                         \
    } while (0)

    GARBLED(atomic_store(&r->head, UINT32_MAX), "head");
    GARBLED(atomic_store(&r->head, 8), "head (unfilled");       /* 6 empty slots */
    GARBLED(atomic_store(&r->returned, 0x01010101), "returned");
    GARBLED(atomic_store(&r->verdict, 3), "verdict");
    GARBLED(atomic_store(&r->setup_err, -1), "setup_err");
    GARBLED(atomic_store(&r->setup_err, 0x07070707), "setup_err");
    GARBLED(r->frame_len = 7, "frame_len");
    GARBLED(r->frame_len = UINT32_MAX, "frame_len");
    GARBLED(r->fd_max = -2, "fd_max");
    GARBLED(r->ev[0].kind = 0xffff, "kind");
    GARBLED(r->ev[0].kind = PTM_EV_KIND_END, "kind");
    GARBLED(r->ev[0].call = PTM_CALL_COUNT, "call");
    GARBLED(r->ev[1].call = 1, "syscall");
    GARBLED(r->ev[0].err = -3, "errno");
    GARBLED(r->ev[0].err = 1 << 20, "errno");
    GARBLED(memset(r->ev[0].target, 'A', sizeof r->ev[0].target), "NUL");
    GARBLED(memset(r->ev[1].detail, 0xff, sizeof r->ev[1].detail), "NUL");
#undef GARBLED

    /* What a mirror can make anything by its own calls is no garbage:
    ** counts, results, times, an unfinished push of a killed child. */
    r = wellFormed();
    atomic_store(&r->denied, UINT32_MAX);
    r->ev[0].result = INT64_MIN;
    r->ev[0].bytes = UINT64_MAX;
    r->ev[0].t_ns = UINT64_MAX;
    r->virt_sleep_ns = UINT64_MAX;
    cr_assert_not_null(ptmRingPush(r)); /* claimed, never filled */
    cr_assert_null(ptmRingCheck(r, 8));
    for (i = 0; i < 5; i++)
        ptmRingPush(r)->kind = PTM_EV_MISSING_CLONE;
    cr_assert_null(ptmRingPush(r)); /* a dropped push */
    cr_assert_null(ptmRingCheck(r, 8));
    cr_assert_eq(ptmRingDropped(r), 1);
    ptmRingDestroy(r);
}

static size_t unmappedLen;

static int lenMunmap(void *addr, size_t len)
{
    unmappedLen = len;
    return munmap(addr, len);
}

/* A child that writes 0xff over the whole ring -- header, frame, events --
** moves none of the bounds the parent reads it with, and every reader of
** the parent survives it: the count, the checks, the signals, the
** deviation, the rules and the trace (PTM_TRACE set: a record is
** written), and the unmap. */
Test(ring, a_child_garbling_the_whole_ring_moves_no_bound)
{
    static char trace[] = "/tmp/ptm-ring-trace-XXXXXX";
    struct ptmRing *r;
    size_t size;
    pid_t pid;
    int st, fd;

    fd = mkstemp(trace);
    cr_assert_geq(fd, 0);
    cr_assert_eq(setenv("PTM_TRACE", trace, 1), 0);
    cr_assert_eq(ptmRingCreate(4, &r), PTM_OK);
    size = ptmRingSize(r);
    pid = fork();
    if (pid == 0) {
        /* Child */
        memset(r, 0xff, size);
        _exit(0);
    }
    /* Parent */
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(atomic_load(&r->head), UINT32_MAX, "the child did write");
    cr_assert_eq(ptmRingCap(r), 4);
    cr_assert_eq(ptmRingSize(r), size);
    cr_assert_eq(ptmRingCount(r), 4);
    cr_assert_not_null(ptmRingCheck(r, 8));

    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "garbled",
                            .function = "garbled", .threshold = 0.5};
    struct ptmMirrorRun run = {.status = PTM_MS_RETURNED, .executor = PTM_EXEC_FORK, .ring = r};
    struct ptmHistoryView view = {0};
    struct ptmSignals sig;
    struct ptmHistory *h = ptmHistoryFor(&d);
    ptmSignalsCompute(&d, &run, &view, ptmHistoryDeviation(h, r), &sig);
    struct ptmObservation obs = {.desc = &d, .run = &run, .signals = &sig, .history = &view};
    struct ptmVerdict v;
    (void)ptmPamAnalyze(&obs, &v);
    struct ptmTxRecord rec = {.desc = &d, .run = &run, .signals = &sig, .verdict = &v,
                              .decision = PTM_DECISION_PRIMARY, .path = "garbled", .attempts = 1,
                              .success = 1};
    ptmTraceWrite(&rec);
    ptmHistoryRecord(h, 1, 0, NULL, 0, r);
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    cr_assert_gt(n, 0, "a record was written");
    buf[n] = '\0';
    cr_assert(strstr(buf, "\"transaction_id\":\"garbled\""), "%s", buf);
    cr_assert_eq(buf[n - 1], '\n');
    close(fd);
    unlink(trace);

    ptmOs.munmap = lenMunmap;
    ptmRingDestroy(r);
    cr_assert_eq(unmappedLen, size + (size_t)sysconf(_SC_PAGESIZE));
}
