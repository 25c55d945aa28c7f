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
    cr_assert_eq(r->cap, 16);
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
    cr_assert_eq(r->cap, PTM_RING_DEFAULT_CAP);
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
    cr_assert_eq(mine->cap, PTM_RING_DEFAULT_CAP);
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
    /* Both threads' rings were unmapped when they exited; ours was not. */
    cr_assert_eq(n_unmapped, 2);
    cr_assert((unmapped[0] == a && unmapped[1] == b) || (unmapped[0] == b && unmapped[1] == a));
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
    cr_assert(mine->dontfork);
    cr_assert_eq(ptmRingCreate(8, &plain), PTM_OK);
    cr_assert_not(plain->dontfork);
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
