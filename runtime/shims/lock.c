/*
** shims/lock.c - pthread locks in a mirror: pthread_mutex_lock trylock
** timedlock unlock, pthread_rwlock_rdlock wrlock tryrdlock trywrlock
** timedrdlock timedwrlock unlock, pthread_spin_lock trylock unlock,
** pthread_cond_wait timedwait.
**
** Outside a mirror each shim is exactly the real call.  In a mirror a lock
** must neither hang the mirror nor let it skip the primary's path:
**
**   - A blocking lock becomes a try-lock.  When it succeeds the mirror holds
**     the lock for real -- it runs in the host's process under the inline
**     executor, and must exclude the host's threads as the primary would --
**     until the matching unlock shim, or the end of the mirror, which
**     releases whatever is still held (ptmLockFamily's release).
**   - When the lock is busy, the primary would wait for it: the mirror
**     records contention (an event with errno EBUSY and PTM_EVF_EFFECT, so
**     the contention signal counts it) and goes on as though it had waited
**     and acquired it, WITHOUT acquiring it: the lock is "pretended", and
**     its matching unlock is a no-op.  A timed lock whose deadline has
**     passed (on the mirror's virtual clock) returns ETIMEDOUT instead.
**   - A lock the calling thread already holds would deadlock a normal mutex
**     or a rwlock held for writing: that is recorded as EDEADLK (a certain
**     hang of the primary) and pretended; an error-checking mutex returns
**     EDEADLK as the real one does.  (glibc: the owner is read from the
**     lock's __owner / __cur_writer fields.)
**   - The try-lock forms are the real try-lock; EBUSY is returned and
**     recorded as contention.
**   - An unlock of a lock the mirror did not take in this mirror (held by
**     the caller before the transaction began) is simulated: a real unlock
**     would release the host's lock under it.  An error-checking or
**     recursive mutex not owned by the thread says EPERM, as for real.
**   - pthread_cond_wait returns at once, as a spurious wakeup may (nobody
**     would wake a mirror); pthread_cond_timedwait advances the virtual
**     clock to its deadline and returns ETIMEDOUT.
**   - In a fork child, a lock that another host thread held at the fork is
**     still held in the child's copy: that is real contention at the time
**     of the snapshot, and is recorded as such.
**
** Uncontended acquisitions and releases record nothing: a loop taking a
** lock per item would fill the ring with events that predict nothing.
*/
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "shims_int.h"

enum lockKind { LK_MUTEX = 1, LK_READ, LK_WRITE, LK_SPIN };

/* A lock taken (real) or pretended in a mirror, most recent first. */
struct ptmSimLock {
    struct ptmSimLock *next;
    void *obj;
    enum lockKind kind;
    int real;
};

static int push(struct ptmMirror *m, void *obj, enum lockKind kind, int real)
{
    struct ptmSimLock *l = malloc(sizeof *l);
    if (!l)
        return ENOMEM;
    l->obj = obj;
    l->kind = kind;
    l->real = real;
    l->next = ptmShimStateOf(m)->locks;
    ptmShimStateOf(m)->locks = l;
    return 0;
}

/* The most recent entry for obj of kind (LK_READ matches either rwlock
** kind when any is set), unlinked; NULL when none. */
static struct ptmSimLock *take(struct ptmMirror *m, void *obj, int rwlock)
{
    struct ptmSimLock **pp, *l;

    for (pp = &ptmShimStateOf(m)->locks; (l = *pp) != NULL; pp = &l->next) {
        if (l->obj == obj && (rwlock ? l->kind == LK_READ || l->kind == LK_WRITE : 1)) {
            *pp = l->next;
            return l;
        }
    }
    return NULL;
}

static int holds(struct ptmMirror *m, void *obj, enum lockKind kind)
{
    struct ptmSimLock *l;
    for (l = ptmShimStateOf(m)->locks; l; l = l->next)
        if (l->obj == obj && l->kind == kind && l->real)
            return 1;
    return 0;
}

static void realUnlock(struct ptmSimLock *l)
{
    switch (l->kind) {
    case LK_MUTEX: ptmOs.mutex_unlock(l->obj); break;
    case LK_READ:
    case LK_WRITE: ptmOs.rwlock_unlock(l->obj); break;
    case LK_SPIN: ptmOs.spin_unlock(l->obj); break;
    }
}

/* lockRelease: at the end of mirror m, releases the locks it took for
** real, most recent first, and forgets the ones it pretended to take. */
static void lockRelease(struct ptmMirror *m)
{
    struct ptmSimLock *l;

    while ((l = ptmShimStateOf(m)->locks) != NULL) {
        ptmShimStateOf(m)->locks = l->next;
        if (l->real)
            realUnlock(l);
        free(l);
    }
}

const struct ptmShimFamily ptmLockFamily = {.name = "lock", .release = lockRelease};

/* Records a lock call's contention or error: errno err, the result the
** shim returns, a note. */
static void record(enum ptmCall call, uint64_t t0, const void *obj, int result, int err,
                   const char *detail)
{
    char target[PTM_TARGET_MAX];
    struct ptmEvent *ev;

    snprintf(target, sizeof target, "%s %p",
             call >= PTM_CALL_pthread_spin_lock && call <= PTM_CALL_pthread_spin_unlock ? "spinlock"
             : call >= PTM_CALL_pthread_rwlock_rdlock && call <= PTM_CALL_pthread_rwlock_unlock
                 ? "rwlock"
             : call >= PTM_CALL_pthread_cond_wait ? "cond"
                                                  : "mutex",
             obj);
    ev = ptmMirrorRecordCall(call, t0, target, result, err, 0);
    if (!ev)
        return;
    if (err == EBUSY || err == EDEADLK)
        ev->flags |= PTM_EVF_EFFECT;
    if (err == EBUSY && result == 0)
        ev->flags |= PTM_EVF_PRETENDED;
    if (detail)
        ptmCopyField(ev->detail, sizeof ev->detail, detail);
}

/* glibc's owner of a mutex / the writer of a rwlock: a thread id, 0 none. */
static pid_t mutexOwner(const pthread_mutex_t *mu)
{
#ifdef __GLIBC__
    return (pid_t)__atomic_load_n(&mu->__data.__owner, __ATOMIC_RELAXED) & 0x3fffffff;
#else
    (void)mu;
    return 0;
#endif
}

static int mutexType(const pthread_mutex_t *mu)
{
#ifdef __GLIBC__
    return __atomic_load_n(&mu->__data.__kind, __ATOMIC_RELAXED) & 3;
#else
    (void)mu;
    return PTHREAD_MUTEX_DEFAULT;
#endif
}

static pid_t rwlockWriter(const pthread_rwlock_t *rw)
{
#ifdef __GLIBC__
    return (pid_t)__atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED);
#else
    (void)rw;
    return 0;
#endif
}

/* Has the absolute time abstime (on clk) passed on the mirror's clock?
** EINVAL for a malformed one. */
static int deadlinePassed(struct ptmMirror *m, clockid_t clk, const struct timespec *abstime,
                          int *passed)
{
    struct timespec now;

    *passed = 0;
    if (!abstime || abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L)
        return EINVAL;
    if (ptmTimeNow(m, clk, &now) != 0)
        return 0;
    *passed = abstime->tv_sec < now.tv_sec ||
              (abstime->tv_sec == now.tv_sec && abstime->tv_nsec <= now.tv_nsec);
    return 0;
}

/* The nanoseconds from the mirror's now (on clk) to abstime; 0 if passed. */
static uint64_t untilNs(struct ptmMirror *m, clockid_t clk, const struct timespec *abstime)
{
    struct timespec now;
    int64_t d;

    if (ptmTimeNow(m, clk, &now) != 0)
        return 0;
    d = ((int64_t)abstime->tv_sec - (int64_t)now.tv_sec) * 1000000000LL +
        (abstime->tv_nsec - now.tv_nsec);
    return d > 0 ? (uint64_t)d : 0;
}

/* ----------------------------------------------------------------- mutex */

/* pthread_mutex_lock / timedlock in a mirror (timed: abstime applies). */
static int mirrorMutexLock(struct ptmMirror *m, enum ptmCall call, pthread_mutex_t *mu,
                           const struct timespec *abstime, int timed)
{
    uint64_t t0 = ptmOsNowNs();
    char note[PTM_DETAIL_MAX];
    pid_t owner;
    int rc, passed = 0;

    rc = ptmOs.mutex_trylock(mu);
    if (rc == 0 || rc == EOWNERDEAD) {
        if (push(m, mu, LK_MUTEX, 1) != 0) {
            ptmOs.mutex_unlock(mu);
            return ENOMEM;
        }
        if (rc)
            record(call, t0, mu, rc, rc, "owner died");
        return rc;
    }
    if (rc != EBUSY) {
        record(call, t0, mu, rc, rc, NULL);
        return rc;
    }
    /* It would wait: only now does the deadline matter (as in glibc). */
    if (timed && (rc = deadlinePassed(m, CLOCK_REALTIME, abstime, &passed)) != 0) {
        record(call, t0, mu, rc, rc, NULL);
        return rc;
    }
    owner = mutexOwner(mu);
    if (owner && owner == gettid()) {
        if (mutexType(mu) == PTHREAD_MUTEX_ERRORCHECK) {
            record(call, t0, mu, EDEADLK, EDEADLK, "already owned");
            return EDEADLK;
        }
        record(call, t0, mu, 0, EDEADLK, "self-deadlock: the primary would hang");
    } else if (passed) {
        record(call, t0, mu, ETIMEDOUT, EBUSY, "busy; the deadline has passed");
        return ETIMEDOUT;
    } else {
        snprintf(note, sizeof note, "held by thread %d", (int)owner);
        record(call, t0, mu, 0, EBUSY, note);
    }
    if (push(m, mu, LK_MUTEX, 0) != 0)      /* pretended: as though it had waited */
        return ENOMEM;
    return 0;
}

/*
** ptm_shim_pthread_mutex_lock: pthread_mutex_lock(3).  In a mirror: a
** try-lock; a busy mutex is recorded as contention (EBUSY) and pretended
** acquired; see the top of this file.
*/
int ptm_shim_pthread_mutex_lock(pthread_mutex_t *mu)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorMutexLock(m, PTM_CALL_pthread_mutex_lock, mu, NULL, 0) : pthread_mutex_lock(mu);
}

/*
** ptm_shim_pthread_mutex_timedlock: pthread_mutex_timedlock(3).  In a
** mirror: as ptm_shim_pthread_mutex_lock, but ETIMEDOUT when the mutex is
** busy and abstime has passed on the mirror's clock.
*/
int ptm_shim_pthread_mutex_timedlock(pthread_mutex_t *restrict mu,
                                     const struct timespec *restrict abstime)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorMutexLock(m, PTM_CALL_pthread_mutex_timedlock, mu, abstime, 1)
             : pthread_mutex_timedlock(mu, abstime);
}

/*
** ptm_shim_pthread_mutex_trylock: pthread_mutex_trylock(3).  In a mirror:
** the real try-lock, tracked so the mirror's end releases it; EBUSY is
** recorded as contention.
*/
int ptm_shim_pthread_mutex_trylock(pthread_mutex_t *mu)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int rc;

    if (!m)
        return pthread_mutex_trylock(mu);
    t0 = ptmOsNowNs();
    rc = ptmOs.mutex_trylock(mu);
    if (rc == 0 || rc == EOWNERDEAD) {
        if (push(m, mu, LK_MUTEX, 1) != 0) {
            ptmOs.mutex_unlock(mu);
            return ENOMEM;
        }
    }
    if (rc)
        record(PTM_CALL_pthread_mutex_trylock, t0, mu, rc, rc, NULL);
    return rc;
}

/*
** ptm_shim_pthread_mutex_unlock: pthread_mutex_unlock(3).  In a mirror:
** releases what the mirror took for real, forgets what it pretended, and
** simulates the release of a mutex held before the mirror began (EPERM for
** an error-checking or recursive one the thread does not own).
*/
int ptm_shim_pthread_mutex_unlock(pthread_mutex_t *mu)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimLock *l;
    uint64_t t0;
    int rc = 0, type;

    if (!m)
        return pthread_mutex_unlock(mu);
    t0 = ptmOsNowNs();
    if ((l = take(m, mu, 0)) != NULL) {
        if (l->real)
            rc = ptmOs.mutex_unlock(mu);
        free(l);
    } else {
        type = mutexType(mu);
        if ((type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE) &&
            mutexOwner(mu) != gettid())
            rc = EPERM;
    }
    if (rc)
        record(PTM_CALL_pthread_mutex_unlock, t0, mu, rc, rc, NULL);
    return rc;
}

/* ---------------------------------------------------------------- rwlock */

static int mirrorRwLock(struct ptmMirror *m, enum ptmCall call, pthread_rwlock_t *rw, int write,
                        const struct timespec *abstime, int timed)
{
    uint64_t t0 = ptmOsNowNs();
    char note[PTM_DETAIL_MAX];
    int rc, passed = 0;

    rc = write ? ptmOs.rwlock_trywrlock(rw) : ptmOs.rwlock_tryrdlock(rw);
    if (rc == 0) {
        if (push(m, rw, write ? LK_WRITE : LK_READ, 1) != 0) {
            ptmOs.rwlock_unlock(rw);
            return ENOMEM;
        }
        return 0;
    }
    if (rc != EBUSY) {
        record(call, t0, rw, rc, rc, NULL);
        return rc;
    }
    if (timed && (rc = deadlinePassed(m, CLOCK_REALTIME, abstime, &passed)) != 0) {
        record(call, t0, rw, rc, rc, NULL);
        return rc;
    }
    if (rwlockWriter(rw) == gettid()) {
        record(call, t0, rw, EDEADLK, EDEADLK, "already write-locked by this thread");
        return EDEADLK;                     /* glibc detects it and says so */
    }
    if (write && holds(m, rw, LK_READ)) {
        record(call, t0, rw, 0, EDEADLK, "self-deadlock: read-locked by this thread");
    } else if (passed) {
        record(call, t0, rw, ETIMEDOUT, EBUSY, "busy; the deadline has passed");
        return ETIMEDOUT;
    } else {
        snprintf(note, sizeof note, "%s-locked by another thread", rwlockWriter(rw) ? "write" : "read");
        record(call, t0, rw, 0, EBUSY, note);
    }
    if (push(m, rw, write ? LK_WRITE : LK_READ, 0) != 0)
        return ENOMEM;
    return 0;
}

/*
** ptm_shim_pthread_rwlock_rdlock: pthread_rwlock_rdlock(3).  In a mirror:
** a try-lock; busy is recorded as contention and pretended acquired.
*/
int ptm_shim_pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorRwLock(m, PTM_CALL_pthread_rwlock_rdlock, rw, 0, NULL, 0)
             : pthread_rwlock_rdlock(rw);
}

/*
** ptm_shim_pthread_rwlock_wrlock: pthread_rwlock_wrlock(3), as
** ptm_shim_pthread_rwlock_rdlock for writing.
*/
int ptm_shim_pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorRwLock(m, PTM_CALL_pthread_rwlock_wrlock, rw, 1, NULL, 0)
             : pthread_rwlock_wrlock(rw);
}

/*
** ptm_shim_pthread_rwlock_timedrdlock: pthread_rwlock_timedrdlock(3), as
** ptm_shim_pthread_rwlock_rdlock; ETIMEDOUT when busy past abstime.
*/
int ptm_shim_pthread_rwlock_timedrdlock(pthread_rwlock_t *restrict rw,
                                        const struct timespec *restrict abstime)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorRwLock(m, PTM_CALL_pthread_rwlock_timedrdlock, rw, 0, abstime, 1)
             : pthread_rwlock_timedrdlock(rw, abstime);
}

/*
** ptm_shim_pthread_rwlock_timedwrlock: pthread_rwlock_timedwrlock(3), as
** ptm_shim_pthread_rwlock_wrlock; ETIMEDOUT when busy past abstime.
*/
int ptm_shim_pthread_rwlock_timedwrlock(pthread_rwlock_t *restrict rw,
                                        const struct timespec *restrict abstime)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorRwLock(m, PTM_CALL_pthread_rwlock_timedwrlock, rw, 1, abstime, 1)
             : pthread_rwlock_timedwrlock(rw, abstime);
}

static int mirrorRwTry(struct ptmMirror *m, enum ptmCall call, pthread_rwlock_t *rw, int write)
{
    uint64_t t0 = ptmOsNowNs();
    int rc = write ? ptmOs.rwlock_trywrlock(rw) : ptmOs.rwlock_tryrdlock(rw);

    if (rc == 0 && push(m, rw, write ? LK_WRITE : LK_READ, 1) != 0) {
        ptmOs.rwlock_unlock(rw);
        return ENOMEM;
    }
    if (rc)
        record(call, t0, rw, rc, rc, NULL);
    return rc;
}

/*
** ptm_shim_pthread_rwlock_tryrdlock: pthread_rwlock_tryrdlock(3).  In a
** mirror: the real try-lock, tracked; EBUSY recorded as contention.
*/
int ptm_shim_pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorRwTry(m, PTM_CALL_pthread_rwlock_tryrdlock, rw, 0)
             : pthread_rwlock_tryrdlock(rw);
}

/*
** ptm_shim_pthread_rwlock_trywrlock: pthread_rwlock_trywrlock(3), as
** ptm_shim_pthread_rwlock_tryrdlock for writing.
*/
int ptm_shim_pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorRwTry(m, PTM_CALL_pthread_rwlock_trywrlock, rw, 1)
             : pthread_rwlock_trywrlock(rw);
}

/*
** ptm_shim_pthread_rwlock_unlock: pthread_rwlock_unlock(3).  In a mirror:
** releases what the mirror took, forgets what it pretended, and simulates
** the release of a lock held before the mirror began.
*/
int ptm_shim_pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimLock *l;
    uint64_t t0;
    int rc = 0;

    if (!m)
        return pthread_rwlock_unlock(rw);
    t0 = ptmOsNowNs();
    if ((l = take(m, rw, 1)) != NULL) {
        if (l->real)
            rc = ptmOs.rwlock_unlock(rw);
        free(l);
    }
    if (rc)
        record(PTM_CALL_pthread_rwlock_unlock, t0, rw, rc, rc, NULL);
    return rc;
}

/* ------------------------------------------------------------------ spin */

/*
** ptm_shim_pthread_spin_lock: pthread_spin_lock(3).  In a mirror: a
** try-lock; busy is recorded as contention and pretended acquired (a
** spinlock has no owner: spinning on one's own lock is not detected).
*/
int ptm_shim_pthread_spin_lock(pthread_spinlock_t *sp)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int rc;

    if (!m)
        return pthread_spin_lock(sp);
    t0 = ptmOsNowNs();
    rc = ptmOs.spin_trylock(sp);
    if (rc == 0) {
        if (push(m, (void *)sp, LK_SPIN, 1) != 0) {
            ptmOs.spin_unlock(sp);
            return ENOMEM;
        }
        return 0;
    }
    record(PTM_CALL_pthread_spin_lock, t0, (const void *)sp, 0, EBUSY, "held");
    return push(m, (void *)sp, LK_SPIN, 0);
}

/*
** ptm_shim_pthread_spin_trylock: pthread_spin_trylock(3).  In a mirror:
** the real try-lock, tracked; EBUSY recorded as contention.
*/
int ptm_shim_pthread_spin_trylock(pthread_spinlock_t *sp)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int rc;

    if (!m)
        return pthread_spin_trylock(sp);
    t0 = ptmOsNowNs();
    rc = ptmOs.spin_trylock(sp);
    if (rc == 0 && push(m, (void *)sp, LK_SPIN, 1) != 0) {
        ptmOs.spin_unlock(sp);
        return ENOMEM;
    }
    if (rc)
        record(PTM_CALL_pthread_spin_trylock, t0, (const void *)sp, rc, rc, NULL);
    return rc;
}

/*
** ptm_shim_pthread_spin_unlock: pthread_spin_unlock(3).  In a mirror:
** releases what the mirror took, forgets what it pretended, and simulates
** the release of a lock held before the mirror began.
*/
int ptm_shim_pthread_spin_unlock(pthread_spinlock_t *sp)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimLock *l;
    int rc = 0;

    if (!m)
        return pthread_spin_unlock(sp);
    if ((l = take(m, (void *)sp, 0)) != NULL) {
        if (l->real)
            rc = ptmOs.spin_unlock(sp);
        free(l);
    }
    return rc;
}

/* ------------------------------------------------------------ conditions */

/*
** ptm_shim_pthread_cond_wait: pthread_cond_wait(3).  In a mirror: returns
** 0 at once, as a spurious wakeup may -- nothing would wake the mirror; the
** mutex stays as it is.  Recorded.
*/
int ptm_shim_pthread_cond_wait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mu)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return pthread_cond_wait(cond, mu);
    (void)mu;
    record(PTM_CALL_pthread_cond_wait, ptmOsNowNs(), cond, 0, 0, "spurious wakeup");
    return 0;
}

/*
** ptm_shim_pthread_cond_timedwait: pthread_cond_timedwait(3).  In a
** mirror: the virtual clock advances to abstime (on the condition's clock)
** and ETIMEDOUT is returned; EINVAL for a malformed abstime.
*/
int ptm_shim_pthread_cond_timedwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mu,
                                    const struct timespec *restrict abstime)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char note[PTM_DETAIL_MAX];
    clockid_t clk = CLOCK_REALTIME;
    uint64_t t0, ns;
    int passed, rc;

    if (!m)
        return pthread_cond_timedwait(cond, mu, abstime);
    t0 = ptmOsNowNs();
#ifdef __GLIBC__
    /* Bit 1 of __wrefs: the condition was made for CLOCK_MONOTONIC. */
    if (__atomic_load_n(&cond->__data.__wrefs, __ATOMIC_RELAXED) & 2)
        clk = CLOCK_MONOTONIC;
#endif
    if ((rc = deadlinePassed(m, clk, abstime, &passed)) != 0) {
        record(PTM_CALL_pthread_cond_timedwait, t0, cond, rc, rc, NULL);
        return rc;
    }
    ns = untilNs(m, clk, abstime);
    ptmTimeAdvance(m, ns);
    snprintf(note, sizeof note, "%lluns", (unsigned long long)ns);
    record(PTM_CALL_pthread_cond_timedwait, t0, cond, ETIMEDOUT, ETIMEDOUT, note);
    return ETIMEDOUT;
}
