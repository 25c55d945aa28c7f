/*
** test_shims_lock.c - the lock family (runtime/shims/lock.c): blocking
** locks become try-locks; a free lock is held for real until its unlock or
** the mirror's end; a busy one is contention (EBUSY, PTM_EVF_EFFECT),
** pretended acquired, and its unlock is a no-op; self-deadlocks are
** recorded; a lock held before the mirror is never released by it.
*/
#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "shims_test.h"

/* A thread that holds a lock until told to let go. */
struct holder {
    pthread_t t;
    pthread_mutex_t *mu;
    pthread_rwlock_t *rw;
    int write;
    pthread_spinlock_t *sp;
    volatile int held, release;
};

static void *holdIt(void *arg)
{
    struct holder *h = arg;
    if (h->mu)
        pthread_mutex_lock(h->mu);
    else if (h->rw)
        h->write ? pthread_rwlock_wrlock(h->rw) : pthread_rwlock_rdlock(h->rw);
    else
        pthread_spin_lock(h->sp);
    __atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&h->release, __ATOMIC_ACQUIRE))
        usleep(1000);
    if (h->mu)
        pthread_mutex_unlock(h->mu);
    else if (h->rw)
        pthread_rwlock_unlock(h->rw);
    else
        pthread_spin_unlock(h->sp);
    return NULL;
}

static void hold(struct holder *h)
{
    cr_assert_eq(pthread_create(&h->t, NULL, holdIt, h), 0);
    while (!__atomic_load_n(&h->held, __ATOMIC_ACQUIRE))
        usleep(1000);
}

static void letGo(struct holder *h)
{
    __atomic_store_n(&h->release, 1, __ATOMIC_RELEASE);
    pthread_join(h->t, NULL);
}

/* Whether another thread could take mu now. */
static void *tryFromAnother(void *mu)
{
    int rc = pthread_mutex_trylock(mu);
    if (rc == 0)
        pthread_mutex_unlock(mu);
    return (void *)(intptr_t)rc;
}

static int busyForOthers(pthread_mutex_t *mu)
{
    pthread_t t;
    void *rc;
    pthread_create(&t, NULL, tryFromAnother, mu);
    pthread_join(t, &rc);
    return (int)(intptr_t)rc == EBUSY;
}

Test(real, the_lock_shims_are_the_real_calls)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    pthread_spinlock_t sp;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct timespec soon;

    cr_assert_null(ptmMirrorCurrent);
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&mu), 0);
    cr_assert(busyForOthers(&mu));
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_nsec += 1000000;
    if (soon.tv_nsec >= 1000000000) {
        soon.tv_sec++;
        soon.tv_nsec -= 1000000000;
    }
    cr_assert_eq(ptm_shim_pthread_cond_timedwait(&cv, &mu, &soon), ETIMEDOUT);
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0);
    cr_assert_not(busyForOthers(&mu));
    cr_assert_eq(ptm_shim_pthread_mutex_trylock(&mu), 0);
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_wrlock(&rw), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_tryrdlock(&rw), EBUSY);
    cr_assert_eq(ptm_shim_pthread_rwlock_unlock(&rw), 0);
    cr_assert_eq(pthread_spin_init(&sp, 0), 0);
    cr_assert_eq(ptm_shim_pthread_spin_lock(&sp), 0);
    cr_assert_eq(ptm_shim_pthread_spin_trylock(&sp), EBUSY);
    cr_assert_eq(ptm_shim_pthread_spin_unlock(&sp), 0);
}

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, a_free_mutex_is_held_for_real_until_its_unlock)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

    cr_assert_eq(ptm_shim_pthread_mutex_lock(&mu), 0);
    cr_assert(busyForOthers(&mu), "the mirror excludes the host's threads, as the primary would");
    cr_assert_eq(ptmRingCount(ring), 0, "an uncontended lock records nothing");
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0);
    cr_assert_not(busyForOthers(&mu));
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&mu), 0);
    ptmMirrorLeave(&mirror);
    cr_assert_not(busyForOthers(&mu), "the mirror's end released it");
}

Test(mirror, a_busy_mutex_is_contention_pretended_acquired)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct holder h = {.mu = &mu};
    struct ptmEvent *e;
    uint64_t t0;

    hold(&h);
    t0 = ptmOsNowNs();
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&mu), 0, "as though it had waited");
    cr_assert_lt(ptmOsNowNs() - t0, 100000000u, "without waiting");
    e = lastOf(PTM_CALL_pthread_mutex_lock);
    cr_assert_eq(e->err, EBUSY);
    cr_assert_eq(e->result, 0);
    cr_assert(e->flags & PTM_EVF_EFFECT, "the contention signal counts it");
    cr_assert(e->flags & PTM_EVF_PRETENDED, "what the mirror reads next may be torn");
    cr_assert_eq(strncmp(e->detail, "held by thread ", 15), 0, "%s", e->detail);
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0, "a no-op");
    cr_assert(busyForOthers(&mu), "the holder still has it");
    cr_assert_eq(ptm_shim_pthread_mutex_trylock(&mu), EBUSY);
    cr_assert_eq(lastOf(PTM_CALL_pthread_mutex_trylock)->err, EBUSY);
    cr_assert_not(lastOf(PTM_CALL_pthread_mutex_trylock)->flags & PTM_EVF_PRETENDED,
                  "a try-lock that fails is not pretended");
    /* A timed lock whose deadline passed on the virtual clock times out. */
    struct timespec past = {1, 0};
    cr_assert_eq(ptm_shim_pthread_mutex_timedlock(&mu, &past), ETIMEDOUT);
    cr_assert_eq(lastOf(PTM_CALL_pthread_mutex_timedlock)->err, EBUSY);
    ptmMirrorLeave(&mirror);
    cr_assert(busyForOthers(&mu), "the mirror's end did not release the holder's lock");
    letGo(&h);
    cr_assert_not(busyForOthers(&mu));
}

Test(mirror, self_deadlocks_are_recorded)
{
    pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER, check;
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&check, &a);
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&normal), 0);
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&normal), 0, "the mirror goes on");
    cr_assert_eq(lastOf(PTM_CALL_pthread_mutex_lock)->err, EDEADLK, "the primary would hang");
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&normal), 0);
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&normal), 0);
    cr_assert_not(busyForOthers(&normal));
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&check), 0);
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&check), EDEADLK, "as the real one says");
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&check), 0);
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&check), EPERM, "not owned any more");
}

Test(mirror, a_lock_held_before_the_mirror_is_never_released_by_it)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

    pthread_mutex_lock(&mu);                /* the caller's, before the transaction */
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0, "simulated");
    cr_assert(busyForOthers(&mu));
    ptmMirrorLeave(&mirror);
    cr_assert(busyForOthers(&mu));
    pthread_mutex_unlock(&mu);
}

Test(mirror, rwlocks_and_spinlocks)
{
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    pthread_spinlock_t sp;
    struct holder r = {.rw = &rw}, s = {.sp = &sp};

    cr_assert_eq(ptm_shim_pthread_rwlock_rdlock(&rw), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_rdlock(&rw), 0, "readers share");
    cr_assert_eq(ptmRingCount(ring), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_wrlock(&rw), 0);
    cr_assert_eq(lastOf(PTM_CALL_pthread_rwlock_wrlock)->err, EDEADLK,
                 "a writer behind this thread's own read lock would hang");
    cr_assert_eq(ptm_shim_pthread_rwlock_unlock(&rw), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_unlock(&rw), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_unlock(&rw), 0);
    cr_assert_eq(pthread_rwlock_trywrlock(&rw), 0, "all released");
    pthread_rwlock_unlock(&rw);

    hold(&r);                                /* a reader elsewhere */
    cr_assert_eq(ptm_shim_pthread_rwlock_tryrdlock(&rw), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_unlock(&rw), 0);
    cr_assert_eq(ptm_shim_pthread_rwlock_trywrlock(&rw), EBUSY);
    cr_assert_eq(ptm_shim_pthread_rwlock_wrlock(&rw), 0);
    cr_assert_eq(lastOf(PTM_CALL_pthread_rwlock_wrlock)->err, EBUSY);
    cr_assert_eq(ptm_shim_pthread_rwlock_timedwrlock(&rw, &(struct timespec){1, 0}), ETIMEDOUT);
    cr_assert_eq(ptm_shim_pthread_rwlock_unlock(&rw), 0);
    letGo(&r);

    cr_assert_eq(pthread_spin_init(&sp, 0), 0);
    hold(&s);
    cr_assert_eq(ptm_shim_pthread_spin_lock(&sp), 0);
    cr_assert_eq(lastOf(PTM_CALL_pthread_spin_lock)->err, EBUSY);
    cr_assert_eq(ptm_shim_pthread_spin_unlock(&sp), 0, "pretended: a no-op");
    cr_assert_eq(pthread_spin_trylock(&sp), EBUSY, "the holder still has it");
    letGo(&s);
    cr_assert_eq(ptm_shim_pthread_spin_lock(&sp), 0);
    cr_assert_eq(pthread_spin_trylock(&sp), EBUSY, "the mirror holds it for real");
    ptmMirrorLeave(&mirror);
    cr_assert_eq(pthread_spin_trylock(&sp), 0, "released at the mirror's end");
}

Test(mirror, condition_waits_do_not_wait)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct timespec at;

    cr_assert_eq(ptm_shim_pthread_mutex_lock(&mu), 0);
    cr_assert_eq(ptm_shim_pthread_cond_wait(&cv, &mu), 0, "a spurious wakeup");
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 30;
    cr_assert_eq(ptm_shim_pthread_cond_timedwait(&cv, &mu, &at), ETIMEDOUT);
    cr_assert_geq(mirror.virt_ns, 29000000000ull, "the wait went on the virtual clock");
    cr_assert_eq(ring->virt_sleep_ns, mirror.virt_ns);
    cr_assert_eq(ptm_shim_pthread_cond_timedwait(&cv, &mu, &(struct timespec){0, -5}), EINVAL);
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0);
}

/* Fault injection: every try-lock says busy. */
static int alwaysBusy(pthread_mutex_t *mu)
{
    (void)mu;
    return EBUSY;
}

Test(mirror, ebusy_injected_through_ptmOs)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

    ptmOs.mutex_trylock = alwaysBusy;
    cr_assert_eq(ptm_shim_pthread_mutex_lock(&mu), 0);
    cr_assert_eq(lastOf(PTM_CALL_pthread_mutex_lock)->err, EBUSY);
    cr_assert_eq(ptm_shim_pthread_mutex_trylock(&mu), EBUSY);
    ptmOsReset();
    cr_assert_eq(ptm_shim_pthread_mutex_unlock(&mu), 0);
    cr_assert_not(busyForOthers(&mu), "nothing was taken");
}

/* In a fork child, a lock another host thread held at the fork is real
** contention at the snapshot: the fork executor records it. */
struct frame {
    pthread_mutex_t *mu;
    int rc;
};

static void lockingMirror(void *p)
{
    struct frame *f = p;
    f->rc = ptm_shim_pthread_mutex_lock(f->mu);
    ptm_shim_pthread_mutex_unlock(f->mu);
}

Test(fork, a_lock_held_at_the_fork_is_contention)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct holder h = {.mu = &mu};
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "lock.fork",
                            .function = "f", .frame_size = sizeof(struct frame),
                            .mirror = lockingMirror};
    struct frame fr = {.mu = &mu, .rc = -1};
    struct ptmMirrorRun run;
    struct ptmRing *r;

    if (RUNNING_ON_VALGRIND)
        cr_skip_test("the fork executor's sandbox cannot be set up under valgrind here");
    cr_assert_eq(ptmRingCreate(64, &r), PTM_OK);
    hold(&h);
    int rc = ptmForkRun(&d, &fr, 5000000000ull, r, &run);
    letGo(&h);
    cr_assert_eq(rc, PTM_OK, "%s", run.error);
    cr_assert_eq(run.status, PTM_MS_RETURNED, "%s", run.error);
    cr_assert_eq(((struct frame *)r->frame)->rc, 0);
    cr_assert_eq(ptmRingCount(r), 1);
    cr_assert_eq(r->ev[0].call, PTM_CALL_pthread_mutex_lock);
    cr_assert_eq(r->ev[0].err, EBUSY);
    cr_assert(r->ev[0].flags & PTM_EVF_EFFECT);
    ptmRingDestroy(r);
}
