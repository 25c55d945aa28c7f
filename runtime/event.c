/*
** event.c - what the running mirror records, and how code below the
** executors ends it.
**
** A mirror, inline or in a fork child, runs on one thread; ptmMirrorCurrent
** points at its struct ptmMirror while it runs, and is NULL otherwise, which
** is how a shim knows whether to simulate or to be the real call.  The shim
** families, the write buffer and the bounds checks record through here and
** stop the mirror through here; the executors above register how it stops
** (ptmMirrorSetExits), so that nothing here calls up into them.
*/
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptm_int.h"

_Thread_local struct ptmMirror *ptmMirrorCurrent;
_Thread_local int ptmShimCalling;

/* Set by the inline executor's watchdog at a mirror's deadline (ptm_gen.h).
** Defined here, below the shims, so that a family whose library runs long
** inside one call (SQLite's progress handler) can poll it too. */
PTM_API _Thread_local volatile int ptm_mirror_cancel;

/* Whether a successful call has an effect the primary needs done (see
** PTM_EVF_EFFECT): calls.def's effect column.  Reads, probes, clocks and
** sleeps have none; the opens, the sockets' connect and the lock calls set
** it themselves, by intent or when they meet contention.  Calls that are not
** shims (a syscall the fork executor saw) have one. */
static const unsigned char callEffect[PTM_CALL_COUNT] = {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered) effect,
#include "calls.def"
};

static int callHasEffect(unsigned call)
{
    return call >= PTM_CALL_COUNT || callEffect[call];
}

/*
** ptmMirrorRecord: appends an event of kind and call to the running
** mirror's ring, stamped with start_ns (from ptmOsNowNs, taken when the
** call began) relative to the mirror's start, and the time since.  Returns
** the event for the caller to fill in, or NULL when no mirror runs or the
** ring is full.  Async-signal-safe.
*/
struct ptmEvent *ptmMirrorRecord(enum ptmEventKind kind, unsigned call,
                                 uint64_t start_ns)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmEvent *ev;
    uint64_t now;

    if (!m || !m->ring)
        return NULL;
    ev = ptmRingPush(m->ring);
    if (!ev)
        return NULL;
    now = ptmOsNowNs();
    ev->kind = (uint16_t)kind;
    ev->call = (uint16_t)call;
    if (kind == PTM_EV_CALL && callHasEffect(call))
        ev->flags = PTM_EVF_EFFECT;
    ev->t_ns = start_ns >= m->t0_ns ? start_ns - m->t0_ns : 0;
    ev->dur_ns = now >= start_ns ? now - start_ns : 0;
    return ev;
}

struct ptmEvent *ptmMirrorRecordCall(enum ptmCall call, uint64_t start_ns, const char *target,
                                     int64_t result, int err, uint64_t bytes)
{
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_CALL, call, start_ns);
    if (!ev)
        return NULL;
    ev->result = result;
    ev->err = err;
    ev->bytes = bytes;
    ptmCopyField(ev->target, sizeof ev->target, target);
    return ev;
}

/*
** ptmMirrorRecordRead: records a call without an effect (a read, a stat, a
** seek, a clock), merging it into the ring's last event when that is the
** same call on the same target and both succeeded without effect: bytes and
** durations add up, result is the latest, and detail counts the calls
** ("x2", "x3", ...).  So a loop of fgetc calls is one event, not a full
** ring that drops the writes after it.  The ring is this mirror's alone
** (one writer), so looking at its last slot is safe.  Returns the event, or
** NULL when no mirror runs or the ring is full.
*/
struct ptmEvent *ptmMirrorRecordRead(enum ptmCall call, uint64_t start_ns, const char *target,
                                     int64_t result, int err, uint64_t bytes)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmEvent *last;
    uint32_t head;
    unsigned long n = 1;
    uint64_t now;

    if (!m || !m->ring)
        return NULL;
    head = atomic_load_explicit(&m->ring->head, memory_order_relaxed);
    if (err == 0 && head > 0 && head <= ptmRingCap(m->ring)) {
        last = &m->ring->ev[head - 1];
        if (last->kind == PTM_EV_CALL && last->call == call && last->err == 0 &&
            !(last->flags & (PTM_EVF_EFFECT | PTM_EVF_PRETENDED)) &&
            strncmp(last->target, target ? target : "", sizeof last->target - 1) == 0) {
            now = ptmOsNowNs();
            if (last->detail[0] == 'x')
                n = strtoul(last->detail + 1, NULL, 10);
            snprintf(last->detail, sizeof last->detail, "x%lu", n + 1);
            last->result = result;
            last->bytes += bytes;
            last->dur_ns += now >= start_ns ? now - start_ns : 0;
            return last;
        }
    }
    return ptmMirrorRecordCall(call, start_ns, target, result, err, bytes);
}

static const char *const shimNames[PTM_CALL_COUNT] = {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered) #name,
#include "calls.def"
};

/* Syscall names resolved by libseccomp are cached, one per number, so that
** ptmCallName can return a static string; losers of a race free theirs. */
#define SYSCALL_NAME_MAX 1024
static _Atomic(char *) syscallNames[SYSCALL_NAME_MAX];

static const char *syscallName(unsigned nr)
{
    char *name, *expected = NULL;

    if (nr >= SYSCALL_NAME_MAX)
        return "?";
    name = atomic_load_explicit(&syscallNames[nr], memory_order_acquire);
    if (name)
        return name;
    name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
    if (!name)
        return "?";
    if (!atomic_compare_exchange_strong(&syscallNames[nr], &expected, name)) {
        free(name);
        return expected;
    }
    return name;
}

/*
** ptmCallName: the name of an event's call: a shim's ("fopen") for an
** enum ptmCall, a syscall's ("write") for PTM_CALL_SYSCALL | nr, "?" for
** anything else.  The string is static.  Not async-signal-safe (the first
** lookup of a syscall allocates).
*/
const char *ptmCallName(unsigned call)
{
    if (call & PTM_CALL_SYSCALL)
        return syscallName(call & ~PTM_CALL_SYSCALL);
    if (call < PTM_CALL_COUNT)
        return shimNames[call];
    return "?";
}

/*
** ptmCopyField: copies s (NULL: "") into dst, a field of cap bytes, always
** NUL-terminated; when s does not fit, it ends in "..." so that a reader
** knows.  Async-signal-safe.
*/
void ptmCopyField(char *dst, size_t cap, const char *s)
{
    size_t n;

    if (cap == 0)
        return;
    if (!s)
        s = "";
    n = strnlen(s, cap);
    if (n < cap) {
        memcpy(dst, s, n + 1);
        return;
    }
    memcpy(dst, s, cap - 1);
    dst[cap - 1] = '\0';
    if (cap > 4)
        memcpy(dst + cap - 4, "...", 3);
}

/* ------------------------------------------------------------ the way out */

/* How an inline mirror stops, registered by the inline executor; a
** pointer to a static table, so one atomic load gives both. */
static _Atomic(const struct ptmMirrorExits *) exits;

/*
** ptmMirrorSetExits: from now on ptmMirrorBail and ptmMirrorFault call
** e's functions (static; the inline executor's, registered once).
*/
void ptmMirrorSetExits(const struct ptmMirrorExits *e)
{
    atomic_store_explicit(&exits, e, memory_order_release);
}

void ptmMirrorBail(const char *why)
{
    const struct ptmMirrorExits *e = atomic_load_explicit(&exits, memory_order_acquire);
    if (e)
        e->bail(why);
}

void ptmMirrorFault(int signo)
{
    const struct ptmMirrorExits *e = atomic_load_explicit(&exits, memory_order_acquire);
    if (e)
        e->fault(signo);
}

/*
** ptm_local_oob: a mirror was about to store outside its local object
** (where: "buf at file:line:col").  Records a PTM_EV_OUT_OF_BOUNDS event
** and ends the mirror as crashed by SIGSEGV: an inline mirror jumps back
** to its executor, a fork child dies of the signal.  Never returns.
*/
PTM_API void ptm_local_oob(const char *where)
{
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_OUT_OF_BOUNDS, PTM_CALL_COUNT, ptmOsNowNs());
    if (ev) {
        ptmCopyField(ev->target, sizeof ev->target, where);
        ptmCopyField(ev->detail, sizeof ev->detail, "store outside the local: not done");
    }
    ptmMirrorFault(SIGSEGV);
    /* A fork child (its crash signals are at their default action), or a
    ** clone called outside any mirror: the store must not happen there
    ** either. */
    raise(SIGSEGV);
    abort();
}
