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
**
** Everything in the shared mapping is written by the mirror's process, and a
** fork mirror may write anything there (a wild store, a hostile mirror): it
** is untrusted input to the parent.  So what the parent's safety depends on
** -- the cap that bounds every read of ev[], the mapping's size, whether
** fork() children inherit it, the host's pid -- lives in one private page
** just below the shared mapping (struct ringPriv).  A fork child gets its
** own copy-on-write copy of that page: it reads the same values, and what
** it writes there stays in the child.  The rest, the parent validates after
** the child is gone (ptmRingCheck) before anything reads it.
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

/* What only the ring's creator may change, in the private page below the
** shared mapping. */
struct ringPriv {
    uint32_t cap;                 /* events ev[] holds */
    int32_t pid;                  /* the process that created the ring: the host
                                  ** of its mirrors (a fork child sees another getpid()) */
    int32_t dontfork;             /* MADV_DONTFORK (ptmRingForThread's rings): a child
                                  ** inherits it only through ptmRingInherit */
};

/* The page size, set by the first ptmRingCreate, before any ring exists. */
static size_t ringPage;

static size_t ringBytes(uint32_t cap)
{
    return offsetof(struct ptmRing, ev) + (size_t)cap * sizeof(struct ptmEvent);
}

static struct ringPriv *ringPriv(const struct ptmRing *ring)
{
    return (struct ringPriv *)((uintptr_t)ring - ringPage);
}

/*
** ptmRingCreate: maps a shared anonymous ring for cap events (0: the
** default cap), empty.  OUT: *out (NULL on failure).  Returns PTM_OK,
** PTM_EINVAL for a cap beyond RING_CAP_MAX, or PTM_ENOMEM when the mapping
** failed (errno says why).
*/
enum ptmRc ptmRingCreate(uint32_t cap, struct ptmRing **out)
{
    unsigned char *base;
    void *shared;
    size_t bytes;

    *out = NULL;
    if (cap == 0)
        cap = PTM_RING_DEFAULT_CAP;
    if (cap > RING_CAP_MAX)
        return PTM_EINVAL;
    if (!ringPage)
        ringPage = (size_t)sysconf(_SC_PAGESIZE);
    bytes = ringBytes(cap);
    /* One private mapping for the private page and the ring, then the ring
    ** part replaced by a shared one in place: the two stay adjacent. */
    base = ptmOs.mmap(NULL, ringPage + bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return PTM_ENOMEM;
    shared = ptmOs.mmap(base + ringPage, bytes, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (shared == MAP_FAILED) {
        int err = errno;
        ptmOs.munmap(base, ringPage + bytes);
        errno = err;
        return PTM_ENOMEM;
    }
    /* Anonymous pages are zero: head, denied, returned are already 0. */
    *out = shared;
    ringPriv(*out)->cap = cap;
    ringPriv(*out)->pid = (int32_t)getpid();
    return PTM_OK;
}

/*
** ptmRingSize: the bytes of ring's shared mapping (header, frame and events).
*/
size_t ptmRingSize(const struct ptmRing *ring)
{
    return ringBytes(ringPriv(ring)->cap);
}

/*
** ptmRingCap: the number of events ring holds, from its private page: what
** a mirror writes into the shared mapping cannot change it.
*/
uint32_t ptmRingCap(const struct ptmRing *ring)
{
    return ringPriv(ring)->cap;
}

/*
** ptmRingHost: the pid of the process that created ring, the host of the
** mirrors that record into it (a fork child sees its own getpid()).
*/
pid_t ptmRingHost(const struct ptmRing *ring)
{
    return (pid_t)ringPriv(ring)->pid;
}

/*
** ptmRingDestroy: unmaps a ring from ptmRingCreate (its private page too).
** NULL is a no-op.
*/
void ptmRingDestroy(struct ptmRing *ring)
{
    if (ring)
        ptmOs.munmap(ringPriv(ring), ringPage + ptmRingSize(ring));
}

/*
** ptmRingInherit: whether the next fork() children inherit ring (on: 1)
** or not (0), for a ring of ptmRingForThread, which they normally do not
** (MADV_DONTFORK); any other ring is always inherited and this is a
** no-op.  The fork executor lends its thread's ring to its own child only.
** Returns 0, or the errno of madvise.
*/
int ptmRingInherit(struct ptmRing *ring, int on)
{
    if (!ringPriv(ring)->dontfork)
        return 0;
    if (ptmOs.madvise(ring, ptmRingSize(ring), on ? MADV_DOFORK : MADV_DONTFORK) != 0)
        return errno ? errno : EINVAL;
    return 0;
}

/*
** ptmRingReset: empties ring for the next mirror: no events, no denials,
** not returned or left, no verdict, no end errno, no frame, no fork
** stamps.  Only the owner calls it, never
** while a mirror writes into it.
*/
void ptmRingReset(struct ptmRing *ring)
{
    atomic_store_explicit(&ring->head, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->denied, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->returned, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->left, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->setup_err, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->end_errno, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->verdict, PTM_VERDICT_NONE, memory_order_relaxed);
    ring->frame_len = 0;
    ring->virt_sleep_ns = 0;
    memset(ring->stamp_ns, 0, sizeof ring->stamp_ns);
    ring->fd_max = -1;
    for (unsigned i = 0; i < PTM_RING_SOCK_FDS / 64; i++)
        atomic_store_explicit(&ring->sock_fds[i], 0, memory_order_relaxed);
    for (unsigned i = 0; i < PTM_RING_HOST_HANDLES; i++)
        atomic_store_explicit(&ring->host_handles[i], 0, memory_order_relaxed);
}

/*
** ptmRingNoteHandle: records that the mirror used the host's handle h (a
** SQLite connection), for the primary's adjustments: the first free slot
** takes it, a handle noted already is not noted again, and past
** PTM_RING_HOST_HANDLES handles the rest are not noted.  NULL ring or h:
** nothing.  Async-signal-safe.
*/
void ptmRingNoteHandle(struct ptmRing *ring, const void *h)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    if (!ring || !h)
        return;
    for (unsigned i = 0; i < PTM_RING_HOST_HANDLES; i++) {
        uint64_t cur = 0;
        if (atomic_compare_exchange_strong_explicit(&ring->host_handles[i], &cur, v,
                                                    memory_order_relaxed, memory_order_relaxed) ||
            cur == v)
            return;
    }
}

/*
** ptmRingNoteSocket: records that the mirror used the host's socket fd,
** for the primary's timeouts.  fd outside [0, PTM_RING_SOCK_FDS) and a
** NULL ring are ignored.  Async-signal-safe.
*/
void ptmRingNoteSocket(struct ptmRing *ring, int fd)
{
    if (ring && fd >= 0 && fd < PTM_RING_SOCK_FDS)
        atomic_fetch_or_explicit(&ring->sock_fds[fd / 64], 1ULL << (fd % 64),
                                 memory_order_relaxed);
}

/*
** ptmRingPush: claims the next event slot and zeroes it.  Returns the slot,
** or NULL when the ring is full (the push is still counted, as a drop).
** Async-signal-safe.
*/
struct ptmEvent *ptmRingPush(struct ptmRing *ring)
{
    uint32_t i = atomic_fetch_add_explicit(&ring->head, 1, memory_order_relaxed);
    if (i >= ptmRingCap(ring)) {
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
    uint32_t cap = ptmRingCap(ring);
    return h < cap ? h : cap;
}

/*
** ptmRingDropped: the number of pushes that found the ring full.
*/
uint32_t ptmRingDropped(const struct ptmRing *ring)
{
    uint32_t h = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint32_t cap = ptmRingCap(ring);
    return h > cap ? h - cap : 0;
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
    ringPriv(ring)->dontfork = ptmOs.madvise(ring, ptmRingSize(ring), MADV_DONTFORK) == 0;
    threadRing = ring;
    return ring;
}

/* Whether field (cap bytes) holds a NUL-terminated string, as every
** writer of the runtime leaves it (ptmCopyField, snprintf). */
static int ringFieldEnds(const char *field, size_t cap)
{
    return memchr(field, '\0', cap) != NULL;
}

/* ringEventCheck: NULL when ev is an event a writer of the runtime could
** have left, else the field that is not.  A slot of kind 0 was claimed by
** a push the child did not finish (it was killed in between): it is empty,
** not garbage (ptmRingCheck counts them). */
static const char *ringEventCheck(const struct ptmEvent *ev)
{
    if (ev->kind >= PTM_EV_KIND_END)
        return "an event's kind";
    switch (ev->kind) {
    case PTM_EV_CALL:
    case PTM_EV_VALIDATE:
        if (ev->call >= PTM_CALL_COUNT)
            return "an event's call";
        break;
    case PTM_EV_DENIED:
        if (!(ev->call & PTM_CALL_SYSCALL))
            return "a denied event's syscall";
        break;
    default:
        break;
    }
    if (ev->err < 0 || ev->err > 4095)
        return "an event's errno";
    if (!ringFieldEnds(ev->target, sizeof ev->target) ||
        !ringFieldEnds(ev->detail, sizeof ev->detail))
        return "an event's text (no NUL)";
    return NULL;
}

/*
** ptmRingCheck: whether ring, after a mirror wrote into it, holds only what
** the runtime's writers can leave there: its header fields in their
** domains (returned and verdict, setup_err and end_errno errnos, frame_len 0 or
** frame_size, head not beyond what pushes can reach) and every stored
** event well formed (a known kind and call, an errno, NUL-terminated
** text).  Counts (denied, dropped events) and numbers (results, times)
** have no wrong values: a mirror can make them anything by its calls.  The parent calls it once
** the mirror is gone, before anything reads the ring: a fork mirror can
** write anything into its shared mapping, and garbage there is no
** observation.  The bounds the readers rely on (the cap) are private and
** cannot be written by the child at all (ptmRingCap).
** Returns NULL when the ring is well formed, else a static string naming
** the first field that is not.
*/
const char *ptmRingCheck(const struct ptmRing *ring, size_t frame_size)
{
    uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint32_t cap = ptmRingCap(ring);
    uint32_t frame_len = ring->frame_len;
    int32_t setup_err = atomic_load_explicit(&ring->setup_err, memory_order_relaxed);

    /* ptmRingPush clamps head at UINT32_MAX / 2; racing pushes (one per
    ** thread of the child, and its signal handler) may each add one more. */
    if (head > UINT32_MAX / 2 + RING_CAP_MAX)
        return "head";
    if (atomic_load_explicit(&ring->returned, memory_order_relaxed) > 1)
        return "returned";
    if (atomic_load_explicit(&ring->verdict, memory_order_relaxed) > PTM_VERDICT_FAILED)
        return "verdict";
    if (setup_err < 0 || setup_err > 4095)
        return "setup_err";
    int32_t end_errno = atomic_load_explicit(&ring->end_errno, memory_order_relaxed);
    if (end_errno < 0 || end_errno > 4095)
        return "end_errno";
    if (frame_len != 0 && (frame_len != frame_size || frame_len > PTM_RING_FRAME_MAX))
        return "frame_len";
    if (ring->fd_max < -1)
        return "fd_max";
    unsigned unfilled = 0;
    for (uint32_t i = 0, n = head < cap ? head : cap; i < n; i++) {
        const char *why = ringEventCheck(&ring->ev[i]);
        if (why)
            return why;
        /* A push left unfilled: the child was killed between claiming the
        ** slot and writing it, which happens once, twice when its SIGSYS
        ** handler's push interrupted a shim's; more are a forged head. */
        if (ring->ev[i].kind == 0 && ++unfilled > 2)
            return "head (unfilled events)";
    }
    return NULL;
}
