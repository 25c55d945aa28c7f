/*
** ring.c - the mirror's observation channel.
**
** A ring is one MAP_SHARED|MAP_ANONYMOUS mapping: a header, the mirror's
** frame, and cap fixed-size events.  Because the mapping is shared, a fork
** child writes into the very pages its parent reads after reaping it; no
** pipe, no syscall per event.  A push claims a slot with one relaxed atomic
** add on head, so it is safe from a signal handler (the SIGSYS handler of
** the fork executor pushes while a shim may be half-way through a push);
** pushes beyond cap still count, which is how drops are known.
**
** The parent reads only after waitpid() (or, for an inline mirror, on the
** same thread), which orders the child's stores before the parent's loads.
*/
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ptm_int.h"

/* The largest cap accepted: keeps the mapping size far from overflow and
** head far from wrapping (a mirror pushing 2^32 events is not a mirror). */
#define RING_CAP_MAX (1u << 20)

static size_t ringBytes(uint32_t cap)
{
    return offsetof(struct ptmRing, ev) + (size_t)cap * sizeof(struct ptmEvent);
}

/*
** ptmRingCreate: maps a shared anonymous ring for cap events (0: the
** default cap), empty.  OUT: *out (NULL on failure).  Returns PTM_OK,
** PTM_EINVAL for a cap beyond RING_CAP_MAX, or PTM_ENOMEM when the mapping
** failed (errno says why).
*/
int ptmRingCreate(uint32_t cap, struct ptmRing **out)
{
    void *p;

    *out = NULL;
    if (cap == 0)
        cap = PTM_RING_DEFAULT_CAP;
    if (cap > RING_CAP_MAX)
        return PTM_EINVAL;
    p = ptmOs.mmap(NULL, ringBytes(cap), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return PTM_ENOMEM;
    /* Anonymous pages are zero: head, denied, returned are already 0. */
    *out = p;
    (*out)->cap = cap;
    (*out)->pid = (int32_t)getpid(); /* the host of its mirrors (shims/) */
    return PTM_OK;
}

/*
** ptmRingSize: the bytes of ring's mapping (header, frame and events).
*/
size_t ptmRingSize(const struct ptmRing *ring)
{
    return ringBytes(ring->cap);
}

/*
** ptmRingDestroy: unmaps a ring from ptmRingCreate.  NULL is a no-op.
*/
void ptmRingDestroy(struct ptmRing *ring)
{
    if (ring)
        ptmOs.munmap(ring, ringBytes(ring->cap));
}

/*
** ptmRingReset: empties ring for the next mirror: no events, no denials,
** not returned or left, no verdict, no frame, no fork stamps.  Only the owner calls it, never
** while a mirror writes into it.
*/
void ptmRingReset(struct ptmRing *ring)
{
    atomic_store_explicit(&ring->head, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->denied, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->returned, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->left, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->setup_err, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->verdict, PTM_VERDICT_NONE, memory_order_relaxed);
    ring->frame_len = 0;
    ring->virt_sleep_ns = 0;
    memset(ring->stamp_ns, 0, sizeof ring->stamp_ns);
    ring->fd_max = -1;
}

/*
** ptmRingPush: claims the next event slot and zeroes it.  Returns the slot,
** or NULL when the ring is full (the push is still counted, as a drop).
** Async-signal-safe.
*/
struct ptmEvent *ptmRingPush(struct ptmRing *ring)
{
    uint32_t i = atomic_fetch_add_explicit(&ring->head, 1, memory_order_relaxed);
    if (i >= ring->cap) {
        /* Keep head from wrapping back into the ring after 2^32 drops. */
        if (i > UINT32_MAX / 2)
            atomic_store_explicit(&ring->head, UINT32_MAX / 2, memory_order_relaxed);
        return NULL;
    }
    memset(&ring->ev[i], 0, sizeof ring->ev[i]);
    return &ring->ev[i];
}

/*
** ptmRingCount: the number of events stored, at most cap.
*/
uint32_t ptmRingCount(const struct ptmRing *ring)
{
    uint32_t h = atomic_load_explicit(&ring->head, memory_order_relaxed);
    return h < ring->cap ? h : ring->cap;
}

/*
** ptmRingDropped: the number of pushes that found the ring full.
*/
uint32_t ptmRingDropped(const struct ptmRing *ring)
{
    uint32_t h = atomic_load_explicit(&ring->head, memory_order_relaxed);
    return h > ring->cap ? h - ring->cap : 0;
}

/* One ring per thread: the pointer is thread-local for speed, and also
** registered under a pthread key so that its destructor unmaps the ring
** when the thread exits. */
static pthread_key_t ringKey;
static pthread_once_t ringKeyOnce = PTHREAD_ONCE_INIT;
static int ringKeyRc = -1;
static _Thread_local struct ptmRing *threadRing;

static void ringKeyDestroy(void *p)
{
    threadRing = NULL;
    ptmRingDestroy(p);
}

static void ringKeyInit(void)
{
    ringKeyRc = pthread_key_create(&ringKey, ringKeyDestroy);
}

/*
** ptmRingForThread: the calling thread's ring, mapped with the default cap
** on first use and unmapped when the thread exits (the main thread's lives
** until the process ends).  It is marked MADV_DONTFORK: no child of fork()
** needs another thread's ring (and one it could write would be a channel
** out of the mirror), so only ptmForkRun, on this thread, lets its own
** child inherit it.  Returns NULL when it cannot be mapped.
*/
struct ptmRing *ptmRingForThread(void)
{
    struct ptmRing *ring;

    if (threadRing)
        return threadRing;
    pthread_once(&ringKeyOnce, ringKeyInit);
    if (ringKeyRc != 0)
        return NULL;
    if (ptmRingCreate(0, &ring) != PTM_OK)
        return NULL;
    if (pthread_setspecific(ringKey, ring) != 0) {
        ptmRingDestroy(ring);
        return NULL;
    }
    ring->dontfork = ptmOs.madvise(ring, ringBytes(ring->cap), MADV_DONTFORK) == 0;
    threadRing = ring;
    return ring;
}
