/*
** ptm_int.h - the internals of libptm, one section per module (file).
**
** Public names start with ptm_ (ptm.h, ptm_gen.h).  Internal names are
** ptm<Module><Verb>, as SQLite's are sqlite3<Module><Verb>, so that nothing
** here collides with the host program when libptm is linked statically.
**
** Result codes: a function returns either an enum ptmRc (PTM_OK or a
** PTM_E* code) or "0 or an errno", and its contract says which and names
** the codes.  The PTM_E* codes are negative and below -4095, so that none
** equals an errno value (positive) or a system call's -errno (-4095..-1),
** which travel in the same ints.  No function exit()s or abort()s the host
** program.  See docs/DESIGN.md, section 6.
*/
#ifndef PTM_INT_H
#define PTM_INT_H

/* PTM_HOT: a function on every call's path (tx.c's, and what it calls
** on a call that is not mirrored).  The compiler puts such functions in
** .text.hot, which the linker lays out together: the path touches a few
** pages of code, not one per source file, and the caches and TLB a system
** call of the host may have emptied are refilled for fewer of them. */
#define PTM_HOT __attribute__((hot))

/*
** PTM_HOLD_ACROSS_FORK(name, mu): mu, a leaf lock (its holder takes no
** other lock of libptm), is held across every fork() of the process, so
** that no child (of the host, or a fork mirror) inherits it held by a
** thread the child does not have, and waits on it for ever at its first
** call.  The handlers (name##Prepare, name##Release) are registered
** before main: one registered while another thread forks is not run for
** that fork (glibc runs only the handlers its prepare step saw).
*/
#define PTM_HOLD_ACROSS_FORK(name, mu)                                              \
    static void name##Prepare(void) { pthread_mutex_lock(mu); }                     \
    static void name##Release(void) { pthread_mutex_unlock(mu); }                   \
    __attribute__((constructor)) static void name##AtforkInit(void)                 \
    {                                                                               \
        (void)pthread_atfork(name##Prepare, name##Release, name##Release);          \
    }

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "ptm.h"
#include "ptm_gen.h"

enum ptmRc {
    PTM_OK = 0,
    PTM_ERROR = -5001,  /* a system call failed; errno says which */
    PTM_ENOMEM = -5002, /* out of memory (or of a fixed table's room) */
    PTM_EINVAL = -5003, /* a caller's mistake */
    PTM_ERULES = -5004  /* the rules script failed */
};
_Static_assert(PTM_ERROR < -4095 && PTM_ERULES < -4095, "a PTM_E* code is an -errno");

/* The shims of calls.def, as event call numbers. */
enum ptmCall {
#define PTM_SHIM_CALL(name, family, io, effect, written, routed, unwritten, buffered) \
    PTM_CALL_##name,
#include "calls.def"
    PTM_CALL_COUNT
};

/* os.c ------------------------------------------------------------------
** Every system call the runtime makes goes through ptmOs, so that tests can
** replace an entry to inject a fault (EINTR, ENOSPC, EACCES, a failing
** fork).  ptmOsReset() puts the real calls back.
*/
struct ptmOsTable {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*access)(const char *path, int mode);
    int (*mkdir)(const char *path, mode_t mode);      /* the history store's directory */
    int (*stat)(const char *path, struct stat *st);
    int (*fstat)(int fd, struct stat *st);
    int (*statvfs)(const char *path, struct statvfs *st);
    int (*fstatvfs)(int fd, struct statvfs *st);
    int (*getrlimit)(int resource, struct rlimit *rl);
    int (*fcntl_getfl)(int fd); /* fcntl(fd, F_GETFL) */
    pid_t (*fork)(void);
    pid_t (*waitpid)(pid_t pid, int *status, int options);
    int (*kill)(pid_t pid, int sig);
    int (*pidfd_open)(pid_t pid);
    int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    int (*nanosleep)(const struct timespec *req, struct timespec *rem);
    int (*lstat)(const char *path, struct stat *st);  /* unlink/rename act on links */
    off_t (*lseek)(int fd, off_t off, int whence);    /* a simulated fd's offset */
    int (*madvise)(void *addr, size_t len, int advice); /* rings: MADV_(DONT|DO)FORK */
    /* The shims' read-only probes and the mirror's own objects (shims/). */
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    int (*fcntl_lock)(int fd, int cmd, struct flock *fl); /* F_GETLK, F_OFD_GETLK only */
    int (*fcntl_int)(int fd, int cmd, int arg);        /* read-only: F_GETPIPE_SZ, F_GETFD */
    int (*ioctl_int)(int fd, unsigned long req, int *out); /* FIONREAD, TIOCOUTQ */
    long (*getdents)(int fd, void *buf, size_t n);     /* getdents64 */
    ssize_t (*readlink)(const char *path, char *buf, size_t n);
    char *(*getcwd)(char *buf, size_t n);
    int (*socket)(int domain, int type, int proto);
    int (*connect)(int fd, const struct sockaddr *addr, socklen_t len); /* probes only */
    int (*getsockopt)(int fd, int level, int opt, void *val, socklen_t *len);
    int (*getpeername)(int fd, struct sockaddr *addr, socklen_t *len);
    int (*clock_gettime)(clockid_t clk, struct timespec *ts);
    int (*mutex_trylock)(pthread_mutex_t *mu);
    int (*mutex_unlock)(pthread_mutex_t *mu);
    int (*rwlock_tryrdlock)(pthread_rwlock_t *rw);
    int (*rwlock_trywrlock)(pthread_rwlock_t *rw);
    int (*rwlock_unlock)(pthread_rwlock_t *rw);
    int (*spin_trylock)(pthread_spinlock_t *sp);
    int (*spin_unlock)(pthread_spinlock_t *sp);
    pid_t (*getpid)(void);                            /* through ptmOsPid */
    /* The resource broker (broker.c) and the call's socket timeouts. */
    int (*setrlimit)(int resource, const struct rlimit *rl);
    int (*getnice)(int *out);                         /* this thread's niceness */
    int (*setnice)(int nice);                         /* this thread's */
    int (*getaffinity)(size_t size, cpu_set_t *set);  /* this thread's */
    int (*setaffinity)(size_t size, const cpu_set_t *set);
    int (*setsockopt)(int fd, int level, int opt, const void *val, socklen_t len);
    /* A copy of n bytes of this process's memory at src that fails
    ** (EFAULT) instead of faulting: a primary's arguments read before its
    ** real call, which reports a bad pointer itself (process_vm_readv). */
    ssize_t (*read_self)(void *dst, const void *src, size_t n);
};
extern struct ptmOsTable ptmOs;
void ptmOsReset(void);
uint64_t ptmOsNowNs(void); /* CLOCK_MONOTONIC, in ns */
/* ptmOsPid: this process's pid, without a system call after the first:
** cached, and forgotten in the child of a fork() (a pthread_atfork child
** handler; not after a raw clone(2) or _Fork()).  A replaced ptmOs.getpid
** is called every time. */
pid_t ptmOsPid(void);

/* ring.c ----------------------------------------------------------------
** The mirror's observation channel: a MAP_SHARED anonymous mapping that a
** fork child fills and the parent reads after the child is gone.  Pushing
** an event is a relaxed atomic add and a copy: no syscall, no lock.
*/
#define PTM_TARGET_MAX 160
#define PTM_DETAIL_MAX 64
#define PTM_RING_FRAME_MAX 16384
#define PTM_RING_DEFAULT_CAP 1024
#define PTM_RING_SOCK_FDS 1024
#define PTM_RING_HOST_HANDLES 8

enum ptmEventKind {
    PTM_EV_CALL = 1,   /* a shim ran: call, target, result, err, bytes */
    PTM_EV_VALIDATE,   /* ptm_validate() failed: target holds the message */
    PTM_EV_DENIED,     /* seccomp denied syscall number `call` */
    PTM_EV_MISSING_CLONE, /* a PTM_MIRRORABLE function had no mirror clone and
                            ran as it is: target holds its name (clones.c) */
    PTM_EV_OUT_OF_BOUNDS, /* a store past a local array of the mirror, not
                             done: target holds the array and where (bounds.c) */
    PTM_EV_KIND_END       /* keep last: kinds at or above it are garbage */
};

/* The call changes something the primary needs done (it writes, creates,
** removes, renames, or opens for writing): its predicted error predicts a
** failure.  A failed read-side call (an fopen "r" of a missing file) is
** often the program's normal path and only informs. */
#define PTM_EVF_EFFECT 0x1u
/* The mirror went on past something it had to pretend, so what it computed
** after it may be invented and its verdict is inconclusive: a lock it found
** held and went on as though it had it (what it read after it, another
** thread may have been changing), or a receive with no recorded response
** (its empty read or EAGAIN is not what the peer would send). */
#define PTM_EVF_PRETENDED 0x2u
/* A receive from a peer whose last receive timed out, let through to probe
** it (half-open, shims/net.c): the history's latencies, which that timeout
** made long, do not predict this call's (signals.c). */
#define PTM_EVF_HALF_OPEN 0x4u

struct ptmEvent {
    uint16_t kind;                /* enum ptmEventKind */
    uint16_t call;                /* enum ptmCall, or the syscall number */
    int32_t err;                  /* errno the real call would set, 0: it would succeed */
    uint32_t flags;               /* PTM_EVF_* */
    int64_t result;               /* what the shim returned to the mirror */
    uint64_t bytes;               /* bytes the real call would have written */
    uint64_t t_ns;                /* start, from the mirror's start */
    uint64_t dur_ns;              /* time spent in the shim */
    char target[PTM_TARGET_MAX];  /* a path, "fd 3", "stderr", a message */
    char detail[PTM_DETAIL_MAX];  /* open flags, an fopen mode, ... */
};

/* The steps of a fork mirror, in order (struct ptmRing.stamp_ns). */
enum ptmForkStamp {
    PTM_STAMP_FORK,     /* parent: about to fork */
    PTM_STAMP_CHILD,    /* child: running */
    PTM_STAMP_SIGNALS,  /* child: deadline timer, signals, parent death, no core */
    PTM_STAMP_FDS,      /* child: inherited descriptors made private */
    PTM_STAMP_SHARED,   /* child: shared mappings made read-only */
    PTM_STAMP_FILTER,   /* child: confined, seccomp filter attached; the mirror starts */
    PTM_STAMP_MIRROR,   /* child: the mirror returned */
    PTM_STAMP_REAPED,   /* parent: child reaped */
    PTM_STAMP_COUNT
};

/* The mirror's verdict: success_criteria on the mirror's result, judged by
** its executor where that result lives (a fork child's pointers are its
** own, and a frame larger than the ring's is never copied out).  Its one
** form from the executor to the rules: the fork child stores it in
** ring->verdict, each executor puts it in run->verdict, and signals.c, tx.c
** and pam.c (m.mirror_success: nil, true, false) read it there. */
enum ptmMirrorVerdict {
    PTM_VERDICT_NONE = 0,         /* not judged: no criteria, or no result */
    PTM_VERDICT_MET = 1,
    PTM_VERDICT_FAILED = 2
};

/* Everything in struct ptmRing is in the shared mapping, which a fork
** mirror can write: the parent reads it only through ptmRingCount (bounded
** by the private cap) and after ptmRingCheck. */
struct ptmRing {
    _Atomic uint32_t head;        /* events pushed; beyond cap they were dropped */
    _Atomic uint32_t denied;      /* syscalls denied by seccomp */
    _Atomic uint32_t returned;    /* the mirror function returned */
    _Atomic uint32_t left;        /* fork child: it left by longjmp (longjmp.c) */
    _Atomic int32_t setup_err;    /* fork child: errno of a sandbox setup that failed
                                  ** (the mirror did not run); 0 otherwise */
    _Atomic uint32_t verdict;     /* fork child: enum ptmMirrorVerdict of its own frame, stored
                                  ** before returned, for frames of any size */
    uint32_t frame_len;           /* bytes of frame[] valid once returned */
    _Atomic int32_t end_errno;    /* errno when the mirror returned (its frame's err):
                                  ** why a result that fails success_criteria failed */
    uint64_t virt_sleep_ns;       /* virtual time the mirror waited instead of sleeping
                                  ** (sleeps, timed waits, recorded network latency) */
    /* Fork executor: when each step of the last fork mirror ended
    ** (ptmOsNowNs; 0: not reached), for the cost breakdown, and the
    ** highest descriptor the child found open. */
    uint64_t stamp_ns[PTM_STAMP_COUNT];
    int32_t fd_max;
    /* The host's sockets the mirror used (a bit per descriptor below
    ** PTM_RING_SOCK_FDS): the primary gets the call's send and receive
    ** timeouts on them (adjust.c).  Untrusted, as all of the ring: each is
    ** checked to be a socket of the host before it is touched. */
    _Atomic uint64_t sock_fds[PTM_RING_SOCK_FDS / 64];
    /* Handles of the host's own (its SQLite connections) that the mirror
    ** used, for the primary's adjustments by their family (ptmRingNoteHandle,
    ** ptmFamiliesPrimaryApply).  Untrusted: a family touches only a handle
    ** its own records know. */
    _Atomic uint64_t host_handles[PTM_RING_HOST_HANDLES];
    /* The mirror's frame after it returned.  The fork executor copies the
    ** caller's here before the fork and the child runs the mirror on it in
    ** place, so it is aligned like malloc's memory. */
    _Alignas(16) unsigned char frame[PTM_RING_FRAME_MAX];
    struct ptmEvent ev[];
};

/* ptmRingCreate: maps a ring for cap events (0: PTM_RING_DEFAULT_CAP).
** OUT: *out.  PTM_OK, PTM_EINVAL (cap above 2^20) or PTM_ENOMEM. */
enum ptmRc ptmRingCreate(uint32_t cap, struct ptmRing **out);
/* ptmRingSize: the bytes of ring's shared mapping. */
size_t ptmRingSize(const struct ptmRing *ring);
/* ptmRingCap: the events ring holds, from its private page (trusted). */
uint32_t ptmRingCap(const struct ptmRing *ring);
/* ptmRingHost: the pid of the process that created ring (trusted). */
pid_t ptmRingHost(const struct ptmRing *ring);
/* ptmRingInherit: lets fork() children inherit a ring of ptmRingForThread
** (on) or not (off); a no-op for other rings.  0 or an errno. */
int ptmRingInherit(struct ptmRing *ring, int on);
/* ptmRingCheck: NULL when what a mirror left in ring is well formed for a
** frame of frame_size bytes, else the first field that is not (static). */
const char *ptmRingCheck(const struct ptmRing *ring, size_t frame_size);
/* ptmRingDestroy: unmaps a ring from ptmRingCreate (NULL is fine). */
void ptmRingDestroy(struct ptmRing *ring);
/* ptmRingReset: empties a ring for the next mirror. */
void ptmRingReset(struct ptmRing *ring);
/* ptmRingNoteSocket: the mirror used the host's socket fd (ring->sock_fds).
** Async-signal-safe; descriptors at or past PTM_RING_SOCK_FDS are not noted. */
void ptmRingNoteSocket(struct ptmRing *ring, int fd);
/* ptmRingNoteHandle: the mirror used the host's handle h (ring->host_handles;
** past PTM_RING_HOST_HANDLES distinct ones, not noted).  Async-signal-safe. */
void ptmRingNoteHandle(struct ptmRing *ring, const void *h);
/* ptmRingPush: claims the next slot, zeroed; NULL when the ring is full
** (the event is counted as dropped). */
struct ptmEvent *ptmRingPush(struct ptmRing *ring);
/* ptmRingCount: the number of events stored (at most cap). */
uint32_t ptmRingCount(const struct ptmRing *ring);
/* ptmRingDropped: the number of events that did not fit. */
uint32_t ptmRingDropped(const struct ptmRing *ring);
/* ptmRingForThread: this thread's ring, created on first use and unmapped
** when the thread exits, not inherited by fork() (MADV_DONTFORK) except
** by ptmForkRun's child on this thread.  NULL when it cannot be mapped. */
struct ptmRing *ptmRingForThread(void);

/* mirror.c --------------------------------------------------------------
** A mirror's state, its start and its end on this thread.  The shim
** families keep their own state in it, opaque here, and are called only
** through ptmShimFamilies; what a mirror records goes through event.c.
*/
/* The call of a PTM_EV_DENIED event is PTM_CALL_SYSCALL | the syscall
** number: syscall numbers (write is 1 on x86_64) would otherwise collide
** with the enum ptmCall numbers, and ptmCallName must tell them apart. */
#define PTM_CALL_SYSCALL 0x8000u

/* Bytes of a mirror that belong to the shim families (struct ptmShimState
** of shims/shims_int.h, which checks that it fits). */
#define PTM_MIRROR_SHIM_BYTES 128

struct ptmMirror {
    struct ptmRing *ring;
    uint64_t t0_ns;               /* when the mirror started */
    uint64_t virt_ns;             /* the virtual clock's advance (sleeps, waits) */
    pid_t host_pid;               /* the process the primary runs in */
    int in_child;                 /* the mirror runs in a fork child of host_pid */
    /* The executor's correction of a descriptor's F_GETFL flags to the
    ** host's (a fork child reopened the host's files read-only); NULL: none. */
    int (*host_flags)(int fd, int flags);
    /* The shim families' simulated world (descriptors, overlays, FILEs,
    ** locks): opaque here, zeroed by ptmMirrorEnter, released by the
    ** families' ptmShimFamilies entries at ptmMirrorLeave. */
    _Alignas(16) unsigned char shims[PTM_MIRROR_SHIM_BYTES];
};

/* ptmMirrorEnter: makes m the running mirror of this thread, recording into
** ring from now on.  OUT: *m (initialised). */
void ptmMirrorEnter(struct ptmMirror *m, struct ptmRing *ring);
/* ptmMirrorLeave: ends the mirror m of this thread: closes what the mirror
** opened through shims and left open, frees its simulated files, and sets
** ptmMirrorCurrent back to NULL. */
void ptmMirrorLeave(struct ptmMirror *m);

/* A shim family as the mirror core sees it, in the manner of SQLite's
** sqlite3_io_methods: what it must do when a mirror starts and ends.  The entries
** live in the families; ptmShimFamilies collects them. */
struct ptmShimFamily {
    const char *name;             /* "sim", "stdio", "lock", "net" */
    /* Sets up mirror m's state of the family, once m->shims is zeroed;
    ** NULL: nothing to set up. */
    void (*enter)(struct ptmMirror *m);
    /* Releases what mirror m holds of the family (closes, frees, unlocks):
    ** m is still ptmMirrorCurrent, so what it calls stays simulated. */
    void (*release)(struct ptmMirror *m);  /* NULL: nothing to release */
    /* Before the primary: adjusts the host's handles of the family that the
    ** mirror used (ring->host_handles, untrusted) for the primary's
    ** duration; timeout_us: the rules' timeout for the call (0: none).
    ** Returns what primary_restore puts back (NULL: nothing changed).
    ** NULL: the family adjusts nothing. */
    void *(*primary_apply)(const struct ptmRing *ring, uint64_t timeout_us);
    void (*primary_restore)(void *saved);
};
/* The families with state in a mirror, ptmShimFamilyCount of them, in the
** order ptmMirrorLeave releases them (shims/families.c); an entry is NULL
** when its family was not linked (a weak reference: SQLite's, of
** libptm_sqlite.a).  ptmMirrorEnter and ptmMirrorLeave call them through
** this table only. */
extern const struct ptmShimFamily *const ptmShimFamilies[];
extern const unsigned ptmShimFamilyCount;
/* What the families changed for a primary (ptmFamiliesPrimaryApply). */
#define PTM_FAMILIES_MAX 8
struct ptmFamilyAdjust {
    void *saved[PTM_FAMILIES_MAX];
};
/* ptmFamiliesPrimaryApply: each family's primary_apply, for the primary
** that follows a mirror that recorded into ring (NULL: nothing).  OUT: *fa.
** ptmFamiliesPrimaryRestore: puts back what it changed; safe to call twice. */
void ptmFamiliesPrimaryApply(const struct ptmRing *ring, uint64_t timeout_us,
                             struct ptmFamilyAdjust *fa);
void ptmFamiliesPrimaryRestore(struct ptmFamilyAdjust *fa);

/* event.c ---------------------------------------------------------------
** What the running mirror records, for the shim families, the write buffer
** and the bounds checks, and how they stop it: below them all, so that
** they call nothing above themselves.
*/
/* The mirror running on this thread; NULL: none (shims are the real calls). */
extern _Thread_local struct ptmMirror *ptmMirrorCurrent;
/* Nonzero while a shim calls a library on a mirror's behalf (SQLite on
** the overlay's connection): a transaction the program defined there (a
** PTM_TRANSACTION on sqlite3_exec in the program's own SQLite) is then
** the library's code to the runtime, and runs its primary alone.  A
** nested mirror instead opened the overlay again, which called it again,
** until the stack ran out. */
extern _Thread_local int ptmShimCalling;

/* ptmMirrorRecord: appends an event to the current mirror's ring.  Returns
** the event so that the caller can fill it in, or NULL when no mirror runs
** or the ring is full. */
struct ptmEvent *ptmMirrorRecord(enum ptmEventKind kind, unsigned call,
                                 uint64_t start_ns);
/* ptmMirrorRecordCall: records a finished shim call (PTM_EV_CALL) with its
** result, predicted errno (0: success), bytes and target.  Returns the
** event (to add a detail), or NULL when none was recorded. */
struct ptmEvent *ptmMirrorRecordCall(enum ptmCall call, uint64_t start_ns, const char *target,
                                     int64_t result, int err, uint64_t bytes);
/* ptmMirrorRecordRead: as ptmMirrorRecordCall, for a call without an
** effect that succeeded (a read, a stat, a seek): when the ring's last event
** is the same call on the same target, also successful and without effect,
** it is merged into that one (bytes and durations add up, result is the
** latest, detail says "xN" calls) so that a read loop cannot fill the ring.
** Returns the event, or NULL. */
struct ptmEvent *ptmMirrorRecordRead(enum ptmCall call, uint64_t start_ns, const char *target,
                                     int64_t result, int err, uint64_t bytes);
/* ptmCallName: the name of an event's call: a shim ("fopen") for an
** enum ptmCall, a syscall ("write") for PTM_CALL_SYSCALL | nr, "?" else.
** The string is static. */
const char *ptmCallName(unsigned call);
/* ptmCopyField: copies s (NULL: "") into a fixed field of cap bytes,
** NUL-terminated, ending in "..." when it was truncated. */
void ptmCopyField(char *dst, size_t cap, const char *s);

/* How an inline mirror stops, from code below the executors: the inline
** executor registers its functions once (ptmMirrorSetExits). */
struct ptmMirrorExits {
    void (*bail)(const char *why);
    void (*fault)(int signo);
};
/* ptmMirrorSetExits: e (static) serves ptmMirrorBail and ptmMirrorFault
** from now on. */
void ptmMirrorSetExits(const struct ptmMirrorExits *e);
/* ptmMirrorBail: the inline mirror running on this thread cannot go on
** without writing memory it does not own (why: a static string, the
** trace's reason for the fork that follows): it stops, and its run ends
** PTM_MS_FAILED with run->bailed set, so that the engine runs it in the
** fork executor instead.  Does not return when an inline mirror runs;
** returns at once otherwise. */
void ptmMirrorBail(const char *why);
/* ptmMirrorFault: the inline mirror running on this thread ends as if it
** had taken the signal signo (PTM_MS_CRASHED), without going on.  Does not
** return when an inline mirror runs; returns at once otherwise. */
void ptmMirrorFault(int signo);

/* exec_fork.c, fork_child.c ---------------------------------------------
** The fork executor: the mirror runs in a copy-on-write child under a
** seccomp filter that denies write-class syscalls (each denial becomes an
** event and the call returns EPERM), and the parent reaps it before the
** deadline or kills it.
*/
enum ptmMirrorStatus {
    PTM_MS_RETURNED = 0,  /* the mirror function returned */
    PTM_MS_CRASHED,       /* a signal ended it (SIGSEGV, abort, ...) */
    PTM_MS_TIMEOUT,       /* the deadline killed it */
    PTM_MS_DENIED,        /* it returned, but seccomp denied a syscall on the way */
    PTM_MS_FAILED,        /* it could not be run (fork failed, ...): no observation */
    PTM_MS_LONGJMP        /* it left by longjmp, to a frame of the host: the host's
                             error handling took over (a Lua error, png_error) */
};

/* The executor that ran a mirror (ptmExecutorName: "fork", "inline"). */
enum ptmExecutor {
    PTM_EXEC_NONE = 0,
    PTM_EXEC_FORK,
    PTM_EXEC_INLINE
};

/* ptmExecutorName: the executor as traces and rules name it ("?": none). */
static inline const char *ptmExecutorName(enum ptmExecutor e)
{
    return e == PTM_EXEC_FORK ? "fork" : e == PTM_EXEC_INLINE ? "inline" : "?";
}

struct ptmMirrorRun {
    enum ptmMirrorStatus status;
    enum ptmExecutor executor;
    int signo;                    /* the crash signal */
    int exit_code;                /* when it exited without returning */
    uint64_t duration_ns;
    uint32_t denied;              /* syscalls denied */
    struct ptmRing *ring;         /* its events; not owned */
    int frame_valid;              /* frame holds the mirror's frame */
    void *frame;                  /* the mirror's frame after it returned, when the
                                     executor hands it back: ring->frame when it fits
                                     there, else (inline) frame_heap; NULL otherwise */
    void *frame_heap;             /* owned: free with ptmMirrorRunRelease */
    const char *frame_lost;       /* why a mirror that returned did not hand its frame
                                     back (static text); NULL otherwise */
    enum ptmMirrorVerdict verdict; /* success_criteria on the mirror's result, judged
                                     by the executor; PTM_VERDICT_NONE: no criteria,
                                     or the mirror did not return */
    char error[160];              /* why PTM_MS_FAILED */
    const char *bailed;           /* inline: why the mirror stopped before its
                                     end (PTM_MS_FAILED; ptmMirrorBail) */
};

/* ptmStatusName: "returned", "crashed", "timeout", "denied", "failed",
** "longjmp". */
const char *ptmStatusName(enum ptmMirrorStatus s);
/* ptmMirrorRunRelease: frees what run owns (an inline run's heap copy of
** its frame); run->frame is then NULL unless it is the ring's. */
void ptmMirrorRunRelease(struct ptmMirrorRun *run);

/* ptmForkRun: runs desc->mirror on a copy of frame in a child process.
** deadline_ns is relative (ns from now; 0: none).  ring must come from
** ptmRingCreate; it is reset first.  OUT: *run (always filled; status
** PTM_MS_FAILED when the mirror could not run).  The child judges its
** result against success_criteria (run->verdict); its frame comes back in
** ring->frame only when it fits (run->frame_lost says so otherwise).
** Returns PTM_OK when a mirror ran, PTM_EINVAL for a bad argument, else
** PTM_ERROR. */
enum ptmRc ptmForkRun(const struct ptm_tx_desc *desc, const void *frame,
               uint64_t deadline_ns, struct ptmRing *ring,
               struct ptmMirrorRun *run);
/* ptmForkHoldAdd: a lock the mirror side of a shim takes, held by
** ptmForkRun across its fork so that no child finds it held by a thread it
** does not have.  hold() returns 1 when it took it, 0 when it gave up (it
** must not wait forever); release() follows a 1.  PTM_OK, PTM_EINVAL, or
** PTM_ENOMEM (8 are registered already). */
enum ptmRc ptmForkHoldAdd(int (*hold)(void), void (*release)(void));
/* ptmForkHostFlags (fork_reopen.c): flags (F_GETFL of fd) with the access
** mode of the host's descriptor, which a fork child reopened read-only. */
int ptmForkHostFlags(int fd, int flags);

/* sandbox.c -------------------------------------------------------------
** The fork child's seccomp filter (a table of denied system calls, built
** once per process into a BPF program) and its Landlock ruleset.
*/
/* Landlock's system calls: the same numbers on x86_64 and aarch64. */
#define PTM_NR_LANDLOCK_CREATE_RULESET 444
#define PTM_NR_LANDLOCK_RESTRICT_SELF 446
/* landlock_create_ruleset's attribute, the layout of ABI 6. */
struct ptmLandlockRuleset {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
/* What the SIGSYS handler needs to describe a denial of system call nr:
** the argument naming its path or descriptor, and the one that says what
** was asked (an ioctl's request, a prctl's option); -1: none. */
struct ptmSandboxDeny {
    int nr;
    signed char path_arg, fd_arg, detail_arg;
};
/* PROCMAP_QUERY (Linux 6.11), as <linux/fs.h> of 6.11 defines it: the
** child reads its mappings with it, and the filter allows it. */
struct ptmProcmapQuery {
    uint64_t size, query_flags, query_addr;
    uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY_IOCTL _IOWR('f', 17, struct ptmProcmapQuery)
struct sock_fprog;
/* ptmSandboxBuild: builds the filter once per process.  OUT: *why (the
** failed step).  0 or an errno. */
int ptmSandboxBuild(const char **why);
/* ptmSandboxProgram: the built filter with this process's pid and
** deadline timer patched in (async-signal-safe), for seccomp(2). */
struct sock_fprog *ptmSandboxProgram(uint32_t pid, uint32_t timer);
/* ptmSandboxDenied: the filter's row for system call nr, or NULL. */
const struct ptmSandboxDeny *ptmSandboxDenied(int nr);
/* ptmSandboxLandlock: the child's Landlock ruleset.  OUT: *rs.  Its size,
** or 0 when there is no Landlock. */
size_t ptmSandboxLandlock(struct ptmLandlockRuleset *rs);
/* ptmSandboxDescribe: prints the filter's table, as Markdown, to out
** (docs/sandbox.md).  0 or an errno. */
int ptmSandboxDescribe(FILE *out);

/* exec_inline.c ---------------------------------------------------------
** The inline executor: the mirror on the calling thread.  Crashes are
** caught by chained signal handlers on an alternate stack, hangs by a
** watchdog (cooperative ptm_mirror_cancel first, a signal after a grace
** period).  Same contract as ptmForkRun; run->executor is PTM_EXEC_INLINE.  A
** frame larger than the ring's is handed back too, as run->frame_heap:
** the caller frees it with ptmMirrorRunRelease.
*/
enum ptmRc ptmInlineRun(const struct ptm_tx_desc *desc, const void *frame,
                 uint64_t deadline_ns, struct ptmRing *ring,
                 struct ptmMirrorRun *run);

/* clones.c --------------------------------------------------------------
** Mirrors across files: the missing clone's event, and the walk of a
** transaction's reachable set through the clones' facts (ABI 7).
*/
/* ptmXtuResolve: the decision for a transaction whose descriptor has
** xfacts: walks every function its mirror reaches, across files, the
** first time, and keeps the result in desc->xstate; later calls (any
** thread) read it.  Returns the state, NULL when desc has no xfacts. */
const struct ptm_xstate *ptmXtuResolve(const struct ptm_tx_desc *desc);
/* ptmXtuWalk: the walk itself, from root, into *out (done set to 2).
** max: the most functions it follows (more: fork).  Exposed for tests. */
void ptmXtuWalk(const struct ptm_xfacts *root, unsigned max, struct ptm_xstate *out);
/* ptmXtuLoadTargets: loads the clone map (section ptm_xmap) once and
** judges each target, for ptm_clone_of.  PTM_OK, or PTM_ENOMEM. */
enum ptmRc ptmXtuLoadTargets(void);

/* longjmp.c -------------------------------------------------------------
** A longjmp out of a mirror ends the mirror; one out of a primary or an
** alternative ends the call (record, release) and goes on.  See longjmp.c.
*/
enum ptmJumpKind {
    PTM_SCOPE_MIRROR = 1,          /* a mirror (or the fork executor's wait for one):
                                      a jump out lands at *back instead */
    PTM_SCOPE_CALL                 /* a jump out calls unwind(ctx), then goes on */
};
struct ptmJumpScope {
    struct ptmJumpScope *prev;
    enum ptmJumpKind kind;
    uintptr_t hi;                  /* its frames lie below this address: the frame
                                      address of the function that runs it */
    sigjmp_buf *back;              /* mirror: where a jump out of it lands, with the
                                      value PTM_JUMP_LEFT */
    void (*unwind)(void *ctx);     /* call: releases it before the jump leaves it */
    void *ctx;
    int defers;                    /* mirror: a jump out of it that its own code did not
                                      make (a signal handler of the host's, during an
                                      inline mirror or the fork executor's wait) goes
                                      on once it has ended: ptmJumpPending,
                                      ptmJumpResume */
    volatile int left;             /* a jump left it */
};
/* libc's jump functions. */
enum ptmJumpFn { PTM_JUMP_LONGJMP, PTM_JUMP__LONGJMP, PTM_JUMP_SIGLONGJMP, PTM_JUMP_CHK,
                 PTM_JUMP_KINDS };
#define PTM_JUMP_LEFT 2            /* not 1: the inline executor's own jumps */
/* The scopes running on this thread, innermost first. */
extern _Thread_local struct ptmJumpScope *ptmJumpTop;
/* ptmJumpEnter: s (kind, hi, and back or unwind filled in) runs on this
** thread from now on; s->left is cleared. */
void ptmJumpEnter(struct ptmJumpScope *s);
/* ptmJumpLeave: s, and any scope entered after it, no longer runs.  Safe
** after a jump out of s. */
void ptmJumpLeave(struct ptmJumpScope *s);
/* ptmJumpReal: libc's siglongjmp, past the scopes: for libptm's own jumps
** back to its executors. */
void ptmJumpReal(sigjmp_buf env, int val) __attribute__((noreturn));
/* ptmJumpFromMirror: the jump fn(env, val) made by a mirror's own code
** (shims/jump.c): one out of the mirror ends it.  Does not return. */
void ptmJumpFromMirror(enum ptmJumpFn fn, struct __jmp_buf_tag *env, int val)
    __attribute__((noreturn));
/* ptmJumpEntry: the program's jump fn(env, val) (longjmp_api.c's
** longjmp and its kin): as libc's, once the scopes it leaves are ended.
** Does not return. */
void ptmJumpEntry(enum ptmJumpFn fn, struct __jmp_buf_tag *env, int val)
    __attribute__((noreturn));
/* ptmJumpApi: defined beside the jump functions; exec_inline.c refers to
** it so that linking libptm links them. */
extern const volatile int ptmJumpApi;
/* ptmJumpPending: whether a jump of the host's waits for the engine:
** made by a signal handler while a scope that defers ran, it ended the
** mirror.  Cleared when the next mirror starts. */
int ptmJumpPending(void);
/* ptmJumpResume: makes the pending jump (only when ptmJumpPending()),
** past the scopes still running (a call's are ended).  Does not return. */
void ptmJumpResume(void) __attribute__((noreturn));

/* peers.c ---------------------------------------------------------------
** The other copies of libptm in this process (a program built by ptmcc and
** its ptmcc-built libraries each carry one, hidden): found through an ELF
** note, they share what is one per thread or process.  See peers.c.
*/
#define PTM_PEER_VERSION 1
struct __jmp_buf_tag;
/* One runtime as the others see it.  version and size stay first in every
** version; the hooks are set by the layers that own what they read. */
struct ptmPeer {
    uint32_t version;                 /* PTM_PEER_VERSION */
    uint32_t size;                    /* sizeof(struct ptmPeer) */
    int (*in_mirror)(void);           /* this thread runs one of its mirrors */
    void (*join)(struct ptmPeer *p);  /* p is another runtime of the process */
    /* Its inline executor's signal handler (exec_inline.c); NULL: none yet. */
    _Atomic(void (*)(int, siginfo_t *, void *)) on_signal;
    /* Its innermost jump scope on this thread: the scope's hi, 0 none
    ** (longjmp.c). */
    _Atomic(uintptr_t (*)(void)) jump_top;
    /* Ends its innermost scope if a jump fn to env leaves it: 1 a call's
    ** was ended (go on), 0 it is not left (the jump stays inside it); a
    ** mirror's left does not return (longjmp.c). */
    _Atomic(int (*)(int fn, struct __jmp_buf_tag *env, int val)) jump_step;
    /* Its PTM_METRICS table (metrics.c); NULL: none yet. */
    _Atomic(void *) metrics;
    _Atomic(uint64_t) *metrics_dropped;
    /* Its ptm_validate_failed, recording into its running mirror
    ** (shims/validate.c). */
    _Atomic(void (*)(const char *fmt, va_list ap)) validate_failed;
};
/* This runtime. */
extern struct ptmPeer ptmPeerSelf;
/* ptmPeerPin: this runtime's module is never unloaded (RTLD_NODELETE). */
void ptmPeerPin(void);
/* ptmPeerNext: the next usable peer from *i (start at 0); NULL: no more. */
struct ptmPeer *ptmPeerNext(int *i);
/* ptmPeerInMirror: whether another runtime runs a mirror on this thread. */
int ptmPeerInMirror(void);
/* ptmPeerIsHandler: whether fn is another runtime's signal handler. */
int ptmPeerIsHandler(void (*fn)(int, siginfo_t *, void *));

/* redo.c ----------------------------------------------------------------
** The write buffer and heap of an inline mirror (see redo.c).
*/
struct redoChunk;
struct redoSlot;
struct redoBlock;
struct ptmRedo {
    uintptr_t stack_hi;            /* the mirror's frames are below this one */
    struct redoChunk *heap;        /* its allocations */
    struct redoChunk *shadow;      /* its shadow blocks */
    struct redoSlot *table;        /* granule -> block */
    size_t cap, used;
    struct redoBlock *views;       /* every view handed out, newest first */
    size_t heap_bytes;             /* allocated from its heap, net of frees */
    int objects;                   /* instrumented clones: of the stack, only
                                      the objects they registered are the
                                      mirror's (ptm_redo_local) */
    struct redoObject *obj;        /* those objects, oldest first */
    size_t nobj, capobj;
};

/* The inline mirror's buffer on this thread; NULL: none runs. */
extern _Thread_local struct ptmRedo *ptmRedoCurrent;

void ptmRedoBegin(struct ptmRedo *r, const void *frame);
void ptmRedoEnd(struct ptmRedo *r);
/* ptmRedoThreadExit: releases the buffers the thread kept (thread exit). */
void ptmRedoThreadExit(void);
/* ptmRedoOwns: whether the mirror owns [p, p+n): its heap, and its stack
** -- with r->objects, only the local objects its clones registered. */
int ptmRedoOwns(const struct ptmRedo *r, const void *p, size_t n);
/* ptmRedoRoom: the bytes from p to the end of the mirror's object that
** holds it (a registered local, its heap); 0: the mirror does not own p. */
size_t ptmRedoRoom(const struct ptmRedo *r, const void *p);
/* ptmRedoRead: the mirror's view of [src, src+n) copied to dst (r NULL:
** real memory). */
void ptmRedoRead(struct ptmRedo *r, void *dst, const void *src, size_t n);
/* ptmRedoOut, ptmRedoIn: where a shim writes (reads) the n bytes at p the
** mirror handed it: p, or in an inline mirror the write buffer's view. */
void *ptmRedoOut(void *p, size_t n);
const void *ptmRedoIn(const void *p, size_t n);
/* ptmFormatCheck (bounds.c): in an inline mirror, stops it
** (ptmMirrorBail: a fork runs it) when fmt, a printf format, has a %n
** conversion, which stores through a pointer argument the host may have
** given the mirror. */
void ptmFormatCheck(const char *fmt);
/* ptmRedoMalloc: n bytes of the mirror's heap aligned to align (0: 16).
** A heap past PTM_REDO_HEAP_MAX, or memory the system will not give,
** stops the inline mirror: the fork executor runs it with real malloc. */
#define PTM_REDO_HEAP_MAX ((size_t)256 << 20)
void *ptmRedoMalloc(struct ptmRedo *r, size_t n, size_t align);
/* ptmRedoFree: p, an allocation of r's heap, is given back when it is the
** newest one left (malloc, use, free in a loop reuses one block); any
** other is kept until the mirror ends. */
void ptmRedoFree(struct ptmRedo *r, void *p);
/* ptmRedoSize: the size asked for p, an allocation of ptmRedoMalloc. */
size_t ptmRedoSize(const void *p);

#define PTM_HISTORY_MAX_SIGS 64      /* distinct event signatures kept per id */

/* model.c ---------------------------------------------------------------
** The calibrated failure model: P(the primary fails | what the mirror saw),
** Beta-Bernoulli per signal pattern, the seed's weights as the prior.
*/
/* A cell: the four seed signals that fired (bits 0-3: contention,
** validation, predicted timeout, deviation: the coarse pattern) and, for
** each that fired, whether its value was strong (bits 4-7: two or more
** contention events; the mirror's result failed success_criteria; a
** predicted duration over twice the timeout; a deviation over
** PTM_MODEL_DEVIATION_STRONG). */
#define PTM_MODEL_CELLS 256
#define PTM_MODEL_PATTERNS 16
#define PTM_MODEL_PRIOR_PATTERN 8.0  /* pseudo-outcomes of the seed's prior */
#define PTM_MODEL_PRIOR_CELL 4.0     /* ... of a pattern's estimate in its cells */
#define PTM_MODEL_MIN_OUTCOMES 10    /* labelled outcomes before default.lua uses it */
#define PTM_MODEL_DEVIATION_STRONG 0.8
#define PTM_BREAKER_MIN_STREAK 5     /* real failures in a row before the breaker opens */
#define PTM_BREAKER_QUIET_MS 1000    /* without a new failure, it lets the primary try */
#define PTM_BREAKER_SURPRISE 0.01    /* ... and only when the id's failure rate makes
                                     ** such a streak this unlikely */

/* Labelled outcomes of one id, per cell: n calls, fail of them failed. */
struct ptmModelCounts {
    uint32_t n[PTM_MODEL_CELLS], fail[PTM_MODEL_CELLS];
};

/* What the model says of one observation (the rules' m.model). */
struct ptmModelView {
    unsigned cell;                /* the observation's cell */
    double seed;                  /* the seed's fixed-weight sum for its pattern */
    double probability;           /* the posterior mean of its cell */
    uint64_t n, failures;         /* labelled outcomes of its pattern */
    uint64_t cell_n, cell_failures; /* ... of its cell */
    uint64_t outcomes;            /* labelled outcomes of the id, all cells */
    double breaker;               /* circuit breaker's probability, 0 when closed */
    unsigned streak;              /* real primary failures in a row */
    int enough;                   /* n >= PTM_MODEL_MIN_OUTCOMES */
};

struct ptmSignals;
/* ptmModelCell: the cell of signals s. */
unsigned ptmModelCell(const struct ptmSignals *s);
/* ptmModelSeed: the seed's pseudocode for the coarse pattern of cell: the
** sum 0.2 (contention) + 0.4 (validation) + 0.3 (timeout) + 0.1
** (deviation), added in that order, as lua-rules/default.lua adds them. */
double ptmModelSeed(unsigned cell);
/* ptmModelPredict: the posterior for cell from counts (NULL: none).
** OUT: *out (breaker, streak and outcomes left as they are). */
void ptmModelPredict(const struct ptmModelCounts *counts, unsigned cell,
                     struct ptmModelView *out);
/* ptmModelBreaker: the breaker's probability after streak real failures
** in a row, the last one since_ms ago. */
double ptmModelBreaker(unsigned streak, uint64_t since_ms);

/* store.c ---------------------------------------------------------------
** The persisted history: a SQLite file per program (PTM_HISTORY), read at
** an id's first use, written in batches by a background thread and at
** exit.  SQLite is libptm's private dlopen'd copy, never the host's.
*/
#define PTM_STORE_MAX_PATHS 8
#define PTM_STORE_PATH_NAME 64
#define PTM_STORE_BATCH 64           /* calls between two wake-ups of the writer */
#define PTM_STORE_KICK_GAP_NS (100u * 1000000u) /* and at least this long between */

#define PTM_STORE_ID_MAX 128         /* a stored id's bytes, with its NUL */

/* One id's history, as totals (a load) or as increments (a flush). */
struct ptmHistData {
    char id[PTM_STORE_ID_MAX];
    uint64_t calls, successes, failures, diversions;
    uint64_t latency_n;           /* flush: samples since the last flush */
    double latency_mean_us, latency_var; /* the current estimate, its variance */
    int latency_reset;            /* flush: a half-open probe made the history forget
                                  ** its latencies: the file's are replaced */
    uint64_t baseline_n;
    unsigned n_sigs;
    struct { uint32_t sig; uint64_t mirrors; } sigs[PTM_HISTORY_MAX_SIGS];
    unsigned n_paths;
    struct { char name[PTM_STORE_PATH_NAME]; uint64_t calls, failures; } paths[PTM_STORE_MAX_PATHS];
    struct ptmModelCounts model;
};

/* ptmStoreCollector: the history's hook (history.c registers it): fills
** *out with a malloc'd array of the increments since the last collection,
** and returns its length. */
typedef size_t (*ptmStoreCollector)(struct ptmHistData **out);
/* The history's hooks for a re-read of a fleet's store (history.c): ids
** fills *out with the ids of the histories (malloc'd) and returns their
** number; rebase makes fleet->id's history the fleet's totals plus what
** this process has not pushed (unpushed: NULL, none). */
typedef size_t (*ptmStoreIds)(char (**out)[PTM_STORE_ID_MAX]);
typedef void (*ptmStoreRebase)(const struct ptmHistData *fleet,
                               const struct ptmHistData *unpushed);
/* ptmStoreSetHooks: registers the history's hooks (once). */
void ptmStoreSetHooks(ptmStoreCollector collect, ptmStoreIds ids, ptmStoreRebase rebase);
/* ptmStoreLoad: id's totals from the file.  OUT: *out.  Returns 1 when the
** file had rows for id, else 0 (no file, no rows, store unavailable). */
int ptmStoreLoad(const char *id, struct ptmHistData *out);
/* ptmStoreKick: another batch of calls was recorded: wakes the writer
** (started on the first kick).  Never waits. */
void ptmStoreKick(void);
/* ptmStoreKicks: how many times ptmStoreKick ran in this process. */
unsigned long ptmStoreKicks(void);
/* ptmStoreFlush: collects and writes now, on this thread.  Returns PTM_OK,
** PTM_EINVAL when the store is off or unavailable, PTM_ERROR on a write
** that failed (then the store is unavailable for the process). */
enum ptmRc ptmStoreFlush(void);
/* ptmStoreReread: with Redis, the fleet's totals read again into the
** histories (the writer does it every PTM_STORE_REREAD_MS).  PTM_OK,
** PTM_ERROR, or PTM_EINVAL (no Redis store). */
enum ptmRc ptmStoreReread(void);
/* ptmStoreState: NULL when the store works or has not been used yet; "off"
** (PTM_HISTORY=off), or why it is unavailable. */
const char *ptmStoreState(void);
/* ptmStoreReset: closes the store and forgets its state, so that the next
** use reads PTM_HISTORY again (tests: a second run in one process). */
void ptmStoreReset(void);

/* store_redis.c ---------------------------------------------------------
** store.c's second backend: PTM_HISTORY=redis://host[:port][/prefix], a
** history shared by a fleet through a Redis server (hiredis, dlopen'd).
** store.c calls it only outside mirrors and fork children.
*/
struct ptmRedisUrl {
    char host[256];
    int port;
    char prefix[256];
};
/* ptmStoreRedisParse: url, strictly.  OUT: *u, or why[0..n).  Returns 0
** or -1 (a bad URL). */
int ptmStoreRedisParse(const char *url, struct ptmRedisUrl *u, char *why, size_t n);
/* ptmStoreRedisOpen: hiredis loaded for u.  OUT: why on failure.  Returns
** 0 or -1. */
int ptmStoreRedisOpen(const struct ptmRedisUrl *u, char *why, size_t n);
/* ptmStoreRedisLoad: id's totals from the server within a bounded time.
** OUT: *out.  Returns 1 when the server had fields for id, else 0. */
int ptmStoreRedisLoad(const char *id, struct ptmHistData *out);
/* ptmStoreRedisFlush: collects the increments (collect, under its own
** lock) and pushes them with any kept ones.  Returns PTM_OK or PTM_ERROR
** (kept or dropped). */
enum ptmRc ptmStoreRedisFlush(ptmStoreCollector collect, int at_exit);
/* ptmStoreRedisReread: the fleet's totals of every id (ids) read again
** into the histories (rebase), under the write lock.  Returns PTM_OK or
** PTM_ERROR (recorded, backed off). */
enum ptmRc ptmStoreRedisReread(ptmStoreIds ids, ptmStoreRebase rebase);
/* ptmStoreRedisState: NULL while the server answers, else the problem. */
const char *ptmStoreRedisState(void);
/* ptmStoreRedisReset: connections closed, kept increments and problem
** forgotten (tests). */
void ptmStoreRedisReset(void);

/* history.c -------------------------------------------------------------
** What earlier calls of a transaction id did, for signals and rules.
*/
struct ptmHistory;

#define PTM_HISTORY_MIN_BASELINE 3   /* baseline mirrors before deviation is measured */

struct ptmHistoryView {
    uint64_t calls, successes, failures, diversions;
    uint64_t latency_n;           /* primary attempts measured */
    double latency_mean_us, latency_sd_us;
    uint64_t baseline_n;          /* mirrors in the event baseline */
};

/* ptmHistoryFor: the history of desc->transaction_id, created on first use
** and kept for the life of the process.  NULL only when out of memory. */
struct ptmHistory *ptmHistoryFor(const struct ptm_tx_desc *desc);
/* ptmHistoryGet: a consistent copy of the counters.  OUT: *out. */
void ptmHistoryGet(struct ptmHistory *h, struct ptmHistoryView *out);
/* ptmHistoryDeviation: how far the mirror's events are from the baseline
** of earlier successful calls, in [0,1]; 0 without a baseline. */
double ptmHistoryDeviation(struct ptmHistory *h, const struct ptmRing *ring);
/* ptmHistoryProbe: a call is about to be diverted for a predicted timeout
** alone: 1 when it should run the primary as a half-open probe instead. */
int ptmHistoryProbe(struct ptmHistory *h);
/* ptmHistoryProbeDone: the probe ended; recovered: it succeeded within the
** timeout (the old latencies are forgotten), else probes get rarer. */
void ptmHistoryProbeDone(struct ptmHistory *h, int recovered);
/* ptmHistoryRecord: adds one call's outcome.  ring: the mirror's events,
** or NULL; the events join the baseline when the call succeeded. */
void ptmHistoryRecord(struct ptmHistory *h, int success, int diverted,
                      const uint64_t *attempt_us, unsigned n_attempts,
                      const struct ptmRing *ring);
/* ptmHistoryModel: what h's model says of signals s (NULL: cell 0), with
** the breaker.  OUT: *out. */
void ptmHistoryModel(struct ptmHistory *h, const struct ptmSignals *s, struct ptmModelView *out);
/* ptmHistoryLearn: the path's outcome, the breaker's streak and, for a
** labelled call, the model's counts of cell. */
void ptmHistoryLearn(struct ptmHistory *h, const char *path, int path_failed, int primary_ran,
                     int primary_failed, int labelled, unsigned cell);
/* One ended call, for ptmHistoryEnd: ptmHistoryRecord's and
** ptmHistoryLearn's arguments (path_failed is !success). */
struct ptmHistoryOutcome {
    int success, diverted;
    const uint64_t *attempt_us;   /* NULL: the attempts were not measured */
    unsigned n_attempts;
    const struct ptmRing *ring;   /* the mirror's events, or NULL */
    const char *path;             /* the function that ran, or NULL */
    int primary_ran, primary_failed, labelled;
    unsigned cell;
};
/* ptmHistoryEnd: ptmHistoryRecord and ptmHistoryLearn of one call under
** one hold of h's lock (tx.c). */
void ptmHistoryEnd(struct ptmHistory *h, const struct ptmHistoryOutcome *o);
/* ptmHistoryForget: drops every history (tests). */
void ptmHistoryForget(void);

/* signals.c -------------------------------------------------------------
** The seed's four signals, from what the mirror observed.
*/
/* The signals of signals.def, as fields: FLAG int, COUNT unsigned, NUM
** double, ERRNO int. */
#define PTM_SIGNAL_CTYPE_FLAG int
#define PTM_SIGNAL_CTYPE_COUNT unsigned
#define PTM_SIGNAL_CTYPE_NUM double
#define PTM_SIGNAL_CTYPE_ERRNO int
struct ptmSignals {
#define PTM_SIGNAL(name, type, fires) PTM_SIGNAL_CTYPE_##type name;
#include "signals.def"
#undef PTM_SIGNAL
};

enum ptmSignalType { PTM_SIGNAL_FLAG, PTM_SIGNAL_COUNT, PTM_SIGNAL_NUM, PTM_SIGNAL_ERRNO };

/* One row of signals.def. */
struct ptmSignalInfo {
    const char *name;             /* m.signals.<name>, a trace's signals.<name> */
    enum ptmSignalType type;
    size_t offset;                /* of its field in struct ptmSignals */
    const char *fires;            /* when it fires, in words */
};

/* The signals' indices in ptmSignalTable: PTM_SIGNAL_I_<name>. */
enum {
#define PTM_SIGNAL(name, type, fires) PTM_SIGNAL_I_##name,
#include "signals.def"
#undef PTM_SIGNAL
    PTM_N_SIGNALS
};

/* ptmSignalTable: the rows of signals.def, in order. */
extern const struct ptmSignalInfo ptmSignalTable[PTM_N_SIGNALS];
/* ptmSignalValue: the value of signal i (of ptmSignalTable) in s, as a
** double (FLAG 0 or 1, COUNT and ERRNO exactly). */
double ptmSignalValue(const struct ptmSignals *s, unsigned i);

/* ptmNetCountForkReplays: counts, in this process, the recorded receive
** timeouts that a fork mirror's events (ring, untrusted) say it replayed
** (shims/net.c): the child's own count died with it. */
void ptmNetCountForkReplays(const struct ptmRing *ring);
/* ptmSignalsCompute: OUT: *sig. */
void ptmSignalsCompute(const struct ptm_tx_desc *desc, const struct ptmMirrorRun *run,
                       const struct ptmHistoryView *hist, double deviation,
                       struct ptmSignals *sig);
/* The class of a predicted errno value (ptmErrnoClassOf). */
enum ptmErrClass {
    PTM_ERRCLASS_NONE = 0,   /* no errno, or one neither detector claims */
    PTM_ERRCLASS_VALIDATION, /* repeating the request unchanged fails again */
    PTM_ERRCLASS_CONTENTION  /* another party holds what it needs: a retry may succeed */
};
/* ptmErrnoClassOf: the class of errno value err. */
enum ptmErrClass ptmErrnoClassOf(int err);
/* ptmErrnoClass: its name for rules and traces: "contention", "validation"
** or NULL. */
const char *ptmErrnoClass(int err);
/* ptmEventKindName: "call", "validate", "denied" ("?" for anything else). */
const char *ptmEventKindName(unsigned kind);
/* The deviation above which the default rules add the seed's 0.1 (m.deviation_threshold). */
#define PTM_DEVIATION_THRESHOLD 0.5

/* pam.c -----------------------------------------------------------------
** The Predictive Analysis Module: a sandboxed Lua 5.4 state per rules
** script, shared by threads under a lock.
*/
#define PTM_MAX_REASONS 8
#define PTM_PAM_MEMORY_CAP (8u << 20) /* bytes a rules state may allocate */
#define PTM_PAM_BUDGET 1000000        /* VM instructions per load / analyze() */
#define PTM_PAM_TIME_MS 50            /* and wall-clock time (a load: CPU time): a library
                                         call (string.rep) can take long for one instruction */
#define PTM_PAM_LOAD_WALL_MS 1000     /* a load's wall-clock bound */

/* lua-rules/default.lua, embedded at build time (default_rules.c). */
extern const char ptmDefaultRules[];

/* What the rules may ask for: more retries than PTM_PAM_RETRIES_MAX (or
** the metadata's retry.max, when larger) and a timeout_ms beyond
** [PTM_PAM_TIMEOUT_MIN_MS, PTM_PAM_TIMEOUT_MAX_MS] (or the metadata's
** timeout, when larger) are clamped, and the clamp recorded. */
#define PTM_PAM_RETRIES_MAX 10
#define PTM_PAM_TIMEOUT_MIN_MS 0.001
#define PTM_PAM_TIMEOUT_MAX_MS 60000.0
#define PTM_PAM_MAX_CLAMPS 8
/* And the backoff's base_ms and cap_ms beyond [0, PTM_PAM_TIMEOUT_MAX_MS],
** resources.memory beyond PTM_PAM_MEMORY_MAX bytes, resources.cpu beyond
** [1, PTM_PAM_CPU_MAX]. */
#define PTM_PAM_MEMORY_MAX (1ULL << 40)
#define PTM_PAM_CPU_MAX 1024

struct ptmVerdict {
    double probability;           /* in [0,1] */
    char reasons[PTM_MAX_REASONS][96];
    unsigned n_reasons;
    int divert;                   /* index of the alternative rules asked for, -1: first */
    int retry_max;                /* -1: keep the metadata's */
    int64_t timeout_us;           /* -1: keep the metadata's */
    int backoff_set;              /* the rules gave backoff: the three below apply */
    enum ptm_backoff_kind backoff;
    uint64_t backoff_base_us, backoff_cap_us;
    uint64_t memory_bytes;        /* resources.memory; 0: not asked */
    unsigned cpus;                /* resources.cpu; 0: not asked */
    int rules_error;              /* the script failed; probability is 0 */
    char error[256];
    struct {
        const char *key;          /* "probability", "retries", "timeout_ms",
                                     "backoff.base_ms", "resources.memory", ... */
        double asked;             /* what the rules returned for it */
    } clamped[PTM_PAM_MAX_CLAMPS]; /* values brought into their bounds (trace: clamped) */
    unsigned n_clamped;
};

/* A retry judged again (adjust.c): what the attempts so far showed,
** for the rules' m.retry. */
struct ptmRetryView {
    unsigned attempts;            /* attempts made */
    unsigned retries_left;        /* what retry.max (or the rules) still allow */
    double last_ms, elapsed_ms;   /* the last attempt; all of them, with backoffs */
    int overran;                  /* the last attempt took longer than the timeout */
    int same_failure;             /* it failed with the errno of the one before */
    int err;                      /* the errno the last attempt ended with */
    /* The transaction's own retry budget (its retry_budget key); NULL:
    ** none, only the process's. */
    struct ptmRetryWindow *tx_window;
    double tx_ratio;
};

struct ptmObservation {
    const struct ptm_tx_desc *desc;
    const struct ptmMirrorRun *run;
    const struct ptmSignals *signals;
    const struct ptmHistoryView *history;
    const struct ptmModelView *model; /* the model's estimate (rules' m.model), or NULL */
    const struct ptmRetryView *retry; /* NULL: the first judgment, before any attempt */
};

/* ptmPamAnalyze: runs the rules' analyze(m).  OUT: *v (always filled).
** Returns PTM_OK, or PTM_ERULES when the script failed (v->rules_error set,
** v->error says why, v->probability 0). */
enum ptmRc ptmPamAnalyze(const struct ptmObservation *obs, struct ptmVerdict *v);
/* ptmPamRulesName: the name of the script that analyzes desc's calls: the
** PTM_RULES path when set, else desc->rules_name, else "default". */
const char *ptmPamRulesName(const struct ptm_tx_desc *desc);

/* adjust.c --------------------------------------------------------------
** The rules' adjustments of one call: the running call (ptm_prediction,
** ptm_timeout_ms), retries judged again, the process's retry budget.
*/
struct ptmCurrent {
    struct ptm_prediction pred;
    const char *reasons[PTM_MAX_REASONS];
    int predicted;                /* pred holds a prediction */
    uint64_t timeout_us;          /* the call's timeout, 0: none */
    struct ptmCurrent *outer;     /* the call this one was made from */
};
void ptmCurrentEnter(struct ptmCurrent *cur, uint64_t timeout_us);
void ptmCurrentLeave(struct ptmCurrent *cur);
void ptmCurrentPredict(struct ptmCurrent *cur, const struct ptmVerdict *v, int err,
                       const char *alternative);
void ptmCurrentTimeout(struct ptmCurrent *cur, uint64_t timeout_us);
int ptmPredictedErrno(const struct ptmMirrorRun *run, const struct ptmSignals *s);

void ptmRetryBudgetCall(void);
void ptmRetryBudgetCallAt(uint64_t now);
int ptmRetryBudgetTake(void);
void ptmRetryBudgetReset(void);

/* A retry budget's window: the calls and retries of the last 10 to 20
** seconds (the process's budget, and each retry_budget key's, kept per
** transaction id by sampling.c).  A zeroed one with its mutex initialized
** is empty. */
struct ptmRetryWindow {
    pthread_mutex_t mu;           /* rolls and retries; calls are counted lock-free */
    _Atomic uint64_t epoch;       /* now / the window's length, of calls0 */
    _Atomic uint64_t calls0;      /* calls of this window */
    uint64_t calls1;              /* ... of the one before */
    uint64_t retries[2];          /* this window, the one before */
};
void ptmRetryWindowCall(struct ptmRetryWindow *w, uint64_t now);
int ptmRetryWindowTake(struct ptmRetryWindow *w, double ratio, double min);
double ptmRetryBudgetMin(void);
double ptmRetryBudgetRatioOf(const struct ptm_tx_desc *d);

#define PTM_MAX_REJUDGED 8
struct ptmRejudged {
    unsigned attempt;             /* the attempt that failed */
    const char *why;              /* "overran the timeout" | "failed the same way" */
    double probability;           /* NaN: the rules failed */
    const char *decision;         /* "retry" | "stop" | "divert" | "retry (rules failed)" */
};
/* What the retries of one call did beyond retry.max, for the trace. */
struct ptmRetryReport {
    struct ptmRejudged judged[PTM_MAX_REJUDGED];
    unsigned n_judged;            /* re-judgments; the first PTM_MAX_REJUDGED are kept */
    const char *stopped;          /* why retries stopped before retry.max; NULL */
    int budget_denied;
};
enum ptmRetryStep { PTM_RETRY_GO_ON, PTM_RETRY_STOP, PTM_RETRY_DIVERT };
unsigned ptmRetryCap(const struct ptm_tx_desc *d);
enum ptmRetryStep ptmRetryJudge(const struct ptmObservation *first,
                                const struct ptmRetryView *rv, unsigned *retry_max,
                                struct ptmVerdict *v, int *asked, struct ptmRetryReport *rep);

/* The call's timeout on the host's sockets the mirror used, for the
** primary's duration (when the rules set timeout_ms). */
#define PTM_SOCK_TIMEOUTS 16
struct ptmSockSaved {
    int fd;
    int rcv_set, snd_set;         /* changed: restore the value below */
    struct timeval rcv, snd;
};
struct ptmSockTimeouts {
    struct ptmSockSaved s[PTM_SOCK_TIMEOUTS];
    unsigned n;
};
void ptmSocketTimeoutsApply(const struct ptmRing *ring, uint64_t timeout_us,
                            struct ptmSockTimeouts *st);
void ptmSocketTimeoutsRestore(struct ptmSockTimeouts *st);

/* sampling.c ------------------------------------------------------------
** Per transaction id: adaptive mirroring (the mirror_sampling key), the
** exploration draw (the exploration key) and the id's retry budget window
** (the retry_budget key).
*/
#define PTM_SAMPLING_QUIET 32         /* quiet calls before sampling starts */
#define PTM_SAMPLING_CAP 64           /* at most 1 call in 64 is mirrored */
#define PTM_SAMPLING_SATURATED (PTM_SAMPLING_QUIET * 8) /* quiet stops counting: the cap's */
#define PTM_EXPLORATION_MAX 0.05      /* the largest exploration honoured */
#define PTM_TX_STATES_MAX 4096        /* ids with state; beyond: none (always mirrored) */
struct ptmTxState {
    struct ptmTxState *next;      /* hash chain */
    char *id;
    _Atomic uint64_t quiet;       /* calls since the last that saw or did something,
                                     up to PTM_SAMPLING_SATURATED */
    struct ptmHistory *_Atomic history; /* the id's history (tx.c), once found */
    struct ptmMetricsTx *_Atomic metrics; /* the id's metrics (metrics.c), once found */
    struct ptmRetryWindow budget; /* the retry_budget key's window */
};
struct ptmTxState *ptmTxStateFor(const struct ptm_tx_desc *d);
unsigned ptmSamplingEvery(uint64_t quiet);
int ptmSamplingMirror(struct ptmTxState *st, unsigned *every);
void ptmSamplingNote(struct ptmTxState *st, int quiet);
const char *ptmSamplingReason(unsigned every);
double ptmExplorationOf(const struct ptm_tx_desc *d);
int ptmExplore(const struct ptm_tx_desc *d);
/* ptmTxStatesForget: drops every id's state (tests).  A state caches its
** id's history: a test that calls ptmHistoryForget with adaptive or
** retry_budget descriptors calls this too, and zeroes their slots. */
void ptmTxStatesForget(void);

/* broker.c --------------------------------------------------------------
** Resources for the primary's duration: resource_requirements and the
** rules' resources, granted as far as the process may, restored after.
*/
#define PTM_BROKER_NOTES 8
struct ptmBrokerGrant {
    uint64_t memory_bytes;        /* asked; 0: not */
    unsigned cpus;                /* asked; 0: not */
    int active;                   /* something was asked: restore it */
    int process_wide;             /* holds a reference on the process-wide part */
    int nice_saved, nice_changed;
    cpu_set_t affinity_saved;
    int affinity_changed;
    char granted[PTM_BROKER_NOTES][96];
    unsigned n_granted;
    char denied[PTM_BROKER_NOTES][128]; /* what could not be granted, and why */
    unsigned n_denied;
};
void ptmBrokerApply(uint64_t memory_bytes, unsigned cpus, struct ptmBrokerGrant *g);
void ptmBrokerRestore(struct ptmBrokerGrant *g);

/* trace.c ---------------------------------------------------------------
** PTM_TRACE=path: one JSON object per transaction call, appended.
*/
/* What a call decided to run (trace: decision). */
enum ptmDecision {
    PTM_DECISION_PRIMARY = 0,
    PTM_DECISION_DIVERT,          /* an alternative */
    PTM_DECISION_DISABLED         /* PTM_DISABLE: the primary, nothing observed */
};

/* ptmDecisionName: "primary", "divert", "disabled", as traces spell it. */
static inline const char *ptmDecisionName(enum ptmDecision d)
{
    return d == PTM_DECISION_DIVERT ? "divert" : d == PTM_DECISION_DISABLED ? "disabled"
                                                                            : "primary";
}

struct ptmTxRecord {
    const struct ptm_tx_desc *desc;
    const struct ptmMirrorRun *run;     /* NULL: no mirror ran */
    const struct ptmSignals *signals;   /* NULL with run */
    const struct ptmVerdict *verdict;   /* NULL: no analysis */
    enum ptmDecision decision;
    const char *path;                   /* the function that ran; NULL: none (dry run) */
    unsigned attempts;
    int success;
    int dry_run;
    uint64_t duration_ns;
    const char *mirror_reason;          /* why this executor */
    int left;                           /* the primary or alternative left by longjmp */
    enum ptmMirrorVerdict alt_criteria; /* an alternative ran: its result met or failed
                                        ** the primary's success_criteria; NONE: n/a */
    const char *would_run;              /* dry run: the function that would have run */
    const char *dry_result;             /* dry run: what the call returned ("mirror",
                                        ** "mirror, pointer cleared", "none: why") */
    int probe;                          /* the primary ran as a half-open probe, though a
                                        ** timeout alone predicted failure */
    int observe;                        /* PTM_MODE=observe: the primary ran regardless */
    enum ptmDecision predicted;         /* what the prediction decided */
    const struct ptmModelView *model;   /* the model's estimate, or NULL */
    const char *history_store;          /* why the history file is not used, or NULL */
    uint64_t timeout_us;                /* the call's timeout (the rules' or the key's) */
    const struct ptmRetryReport *retry; /* retries judged again; NULL: none */
    const struct ptmBrokerGrant *resources; /* NULL: none asked */
    int sampling;                       /* mirror_sampling = adaptive */
    int mirror_sampled;                 /* ... and this call was mirrored */
    unsigned sampling_every;            /* ... 1 call in this many is mirrored now */
    int explored;                       /* a would-divert call ran the primary (exploration) */
};

/* ptmTraceWrite: appends r as one line to $PTM_TRACE; nothing when unset.
** Thread-safe: each line is one write(2) on an O_APPEND descriptor. */
void ptmTraceWrite(const struct ptmTxRecord *r);
/* ptmTraceUtc: ts as ISO-8601 UTC with microseconds, computed without
** gmtime_r (whose lock a forked child may inherit held).  OUT: buf. */
void ptmTraceUtc(struct timespec ts, char *buf, size_t cap);
/* ptmTraceWanted: PTM_TRACE names a file the records go to. */
int ptmTraceWanted(void);

/* metrics.c: per-transaction counters (ptm_metrics_write, PTM_METRICS).
** ptmMetricsRecord: counts one finished call, lock-free after an id's
** first call; starts the PTM_METRICS writer on the first.
** ptmMetricsFlush: writes $PTM_METRICS now (temporary file, rename);
** 0 or an errno (said once on stderr); errno preserved. */
void ptmMetricsRecord(const struct ptmTxRecord *r);
int ptmMetricsFlush(void);

/* last_error.c ----------------------------------------------------------
** ptm_last_error(), below tx.c and trace.c, which both set it.
*/
/* ptmSetLastError: sets this thread's ptm_last_error(). */
void ptmSetLastError(const char *fmt, ...) PTM_PRINTF_LIKE(1, 2);
/* ptmLastErrorClear: this thread's ptm_last_error() becomes "". */
void ptmLastErrorClear(void);

#endif /* PTM_INT_H */
