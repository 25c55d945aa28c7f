/*
** ptm_int.h - the internals of libptm, one section per module (file).
**
** Public names start with ptm_ (ptm.h, ptm_gen.h).  Internal names are
** ptm<Module><Verb>, as SQLite's are sqlite3<Module><Verb>, so that nothing
** here collides with the host program when libptm is linked statically.
**
** Return codes: functions returning int return PTM_OK (0) or a PTM_E* code;
** they never exit() or abort() the host program.
*/
#ifndef PTM_INT_H
#define PTM_INT_H

#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "ptm.h"
#include "ptm_gen.h"

#define PTM_OK      0
#define PTM_ERROR   1  /* a system call failed; errno says which */
#define PTM_ENOMEM  2
#define PTM_EINVAL  3  /* a caller's mistake */
#define PTM_ERULES  4  /* the rules script failed */

/* The calls of shims.def, as event call numbers. */
enum ptmCall {
#define PTM_SHIM(name, family) PTM_CALL_##name,
#include "shims/shims.def"
#undef PTM_SHIM
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
};
extern struct ptmOsTable ptmOs;
void ptmOsReset(void);
uint64_t ptmOsNowNs(void); /* CLOCK_MONOTONIC, in ns */

/* ring.c ----------------------------------------------------------------
** The mirror's observation channel: a MAP_SHARED anonymous mapping that a
** fork child fills and the parent reads after the child is gone.  Pushing
** an event is a relaxed atomic add and a copy: no syscall, no lock.
*/
#define PTM_TARGET_MAX 160
#define PTM_DETAIL_MAX 64
#define PTM_RING_FRAME_MAX 16384
#define PTM_RING_DEFAULT_CAP 1024

enum ptmEventKind {
    PTM_EV_CALL = 1,   /* a shim ran: call, target, result, err, bytes */
    PTM_EV_VALIDATE,   /* ptm_validate() failed: target holds the message */
    PTM_EV_DENIED      /* seccomp denied syscall number `call` */
};

/* The call changes something the primary needs done (it writes, creates,
** removes, renames, or opens for writing): its predicted error predicts a
** failure.  A failed read-side call (an fopen "r" of a missing file) is
** often the program's normal path and only informs. */
#define PTM_EVF_EFFECT 0x1u

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

struct ptmRing {
    _Atomic uint32_t head;        /* events pushed; beyond cap they were dropped */
    uint32_t cap;
    _Atomic uint32_t denied;      /* syscalls denied by seccomp */
    _Atomic uint32_t returned;    /* the mirror function returned */
    _Atomic int32_t setup_err;    /* fork child: errno of a sandbox setup that failed
                                  ** (the mirror did not run); 0 otherwise */
    uint32_t frame_len;           /* bytes of frame[] valid once returned */
    unsigned char frame[PTM_RING_FRAME_MAX]; /* the mirror's frame after it returned */
    struct ptmEvent ev[];
};

/* ptmRingCreate: maps a ring for cap events (0: PTM_RING_DEFAULT_CAP).
** OUT: *out.  PTM_OK, PTM_EINVAL (cap above 2^20) or PTM_ENOMEM. */
int ptmRingCreate(uint32_t cap, struct ptmRing **out);
/* ptmRingDestroy: unmaps a ring from ptmRingCreate (NULL is fine). */
void ptmRingDestroy(struct ptmRing *ring);
/* ptmRingReset: empties a ring for the next mirror. */
void ptmRingReset(struct ptmRing *ring);
/* ptmRingPush: claims the next slot, zeroed; NULL when the ring is full
** (the event is counted as dropped). */
struct ptmEvent *ptmRingPush(struct ptmRing *ring);
/* ptmRingCount: the number of events stored (at most cap). */
uint32_t ptmRingCount(const struct ptmRing *ring);
/* ptmRingDropped: the number of events that did not fit. */
uint32_t ptmRingDropped(const struct ptmRing *ring);
/* ptmRingForThread: this thread's ring, created on first use and unmapped
** when the thread exits.  NULL when it cannot be mapped. */
struct ptmRing *ptmRingForThread(void);

/* mirror.c --------------------------------------------------------------
** The state of the mirror running on this thread.  Shims record through
** it; when ptmMirrorCurrent is NULL no mirror runs and shims are the real
** calls.
*/
struct ptmSimFile; /* shims/file.c: a file the mirror opened */

/* The call of a PTM_EV_DENIED event is PTM_CALL_SYSCALL | the syscall
** number: syscall numbers (write is 1 on x86_64) would otherwise collide
** with the enum ptmCall numbers, and ptmCallName must tell them apart. */
#define PTM_CALL_SYSCALL 0x8000u

struct ptmMirror {
    struct ptmRing *ring;
    uint64_t t0_ns;               /* when the mirror started */
    struct ptmSimFile *files;     /* simulated descriptors, owned by shims/file.c */
};
extern _Thread_local struct ptmMirror *ptmMirrorCurrent;

/* ptmMirrorEnter: makes m the running mirror of this thread, recording into
** ring from now on.  OUT: *m (initialised). */
void ptmMirrorEnter(struct ptmMirror *m, struct ptmRing *ring);
/* ptmMirrorLeave: ends the mirror m of this thread: closes what the mirror
** opened through shims and left open, frees its simulated files, and sets
** ptmMirrorCurrent back to NULL. */
void ptmMirrorLeave(struct ptmMirror *m);

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
/* ptmCallName: the name of an event's call: a shim ("fopen") for an
** enum ptmCall, a syscall ("write") for PTM_CALL_SYSCALL | nr, "?" else.
** The string is static. */
const char *ptmCallName(unsigned call);
/* ptmCopyField: copies s (NULL: "") into a fixed field of cap bytes,
** NUL-terminated, ending in "..." when it was truncated. */
void ptmCopyField(char *dst, size_t cap, const char *s);

/* exec_fork.c -----------------------------------------------------------
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
    PTM_MS_FAILED         /* it could not be run (fork failed, ...): no observation */
};

struct ptmMirrorRun {
    enum ptmMirrorStatus status;
    const char *executor;         /* "fork" */
    int signo;                    /* the crash signal */
    int exit_code;                /* when it exited without returning */
    uint64_t duration_ns;
    uint32_t denied;              /* syscalls denied */
    struct ptmRing *ring;         /* its events; not owned */
    int frame_valid;              /* ring->frame holds the mirror's frame */
    int criteria_failed;          /* the mirror's result fails success_criteria
                                     (set by the engine from ring->frame) */
    char error[160];              /* why PTM_MS_FAILED */
};

/* ptmStatusName: "returned", "crashed", "timeout", "denied", "failed". */
const char *ptmStatusName(enum ptmMirrorStatus s);

/* ptmForkRun: runs desc->mirror on a copy of frame in a child process.
** deadline_ns is relative (ns from now; 0: none).  ring must come from
** ptmRingCreate; it is reset first.  OUT: *run (always filled; status
** PTM_MS_FAILED when the mirror could not run).  Returns PTM_OK when a
** mirror ran, PTM_EINVAL for a bad argument, else PTM_ERROR. */
int ptmForkRun(const struct ptm_tx_desc *desc, const void *frame,
               uint64_t deadline_ns, struct ptmRing *ring,
               struct ptmMirrorRun *run);

/* shims/file.c ----------------------------------------------------------
** What a mirror opened, written or closed through the shims.  Each entry is
** a descriptor the mirror holds: a real read-only one the mirror opened
** (closed for real), a simulated write-intent one backed by a harmless
** read-only descriptor, or a borrowed host descriptor (never closed).
*/
enum ptmSimKind {
    PTM_SIM_READONLY = 1,  /* opened read-only for real by the mirror */
    PTM_SIM_WRITE,         /* write intent, simulated; fd is harmless */
    PTM_SIM_BORROWED       /* the host's descriptor or FILE, used by the mirror */
};

struct ptmSimFile {
    struct ptmSimFile *next;
    struct ptmMirror *mirror;     /* the list this entry is on */
    enum ptmSimKind kind;
    int fd;                       /* what the mirror holds; -1 once closed under a FILE */
    int flags;                    /* open flags (borrowed: F_GETFL) */
    int closed;                   /* borrowed, and closed by the mirror (simulated) */
    int regular;                  /* a regular file: free space and RLIMIT_FSIZE apply */
    int real_data;                /* fd reads the real file's data */
    off_t offset;                 /* simulated file offset */
    off_t size;                   /* simulated size */
    off_t size0;                  /* size when the mirror opened it */
    FILE *fp;                     /* the FILE the mirror uses on it, or NULL */
    char *path;                   /* as given; NULL when not known */
    char *vfs_path;               /* where free space is measured; NULL: fstatvfs(fd) */
};

/* ptmShimOpenCheck: would open(path, flags) succeed?  Uses read-only calls
** only.  Returns 0 or the errno the real call would set. */
int ptmShimOpenCheck(const char *path, int flags);
/* ptmSimOpen: opens path for the mirror m: for real when flags are
** read-only, else simulated after ptmShimOpenCheck.  OUT: *out, the entry
** on m->files.  Returns 0 or an errno (nothing opened). */
int ptmSimOpen(struct ptmMirror *m, const char *path, int flags, mode_t mode,
               struct ptmSimFile **out);
/* ptmSimFind: the entry of m for descriptor fd, or NULL. */
struct ptmSimFile *ptmSimFind(struct ptmMirror *m, int fd);
/* ptmSimFindFile: the entry of m for stream fp, or NULL. */
struct ptmSimFile *ptmSimFindFile(struct ptmMirror *m, FILE *fp);
/* ptmSimBorrow: the entry of m for a host descriptor, created on first use
** (fp: the host FILE on it, or NULL).  OUT: *out.  Returns 0, EBADF when fd
** is not open, or ENOMEM. */
int ptmSimBorrow(struct ptmMirror *m, int fd, FILE *fp, struct ptmSimFile **out);
/* ptmSimWrite: simulates write(2) of n bytes on f: checks EBADF, EFBIG
** (RLIMIT_FSIZE) and ENOSPC, then advances the simulated offset and size.
** Returns the bytes the real call would write (short at RLIMIT_FSIZE), or
** -1 with *err set. */
ssize_t ptmSimWrite(struct ptmSimFile *f, size_t n, int *err);
/* ptmSimRemove: unlinks f from its mirror's list and frees it; closes
** f->fd when close_fd and the mirror owns it. */
void ptmSimRemove(struct ptmSimFile *f, int close_fd);
/* ptmSimReleaseAll: closes and frees everything on m->files. */
void ptmSimReleaseAll(struct ptmMirror *m);
/* ptmShimFdTarget: "fd N", or the path the mirror opened fd with.  OUT: dst. */
void ptmShimFdTarget(struct ptmMirror *m, int fd, char *dst, size_t cap);

/* exec_inline.c ---------------------------------------------------------
** The inline executor: the mirror on the calling thread.  Crashes are
** caught by chained signal handlers on an alternate stack, hangs by a
** watchdog (cooperative ptm_mirror_cancel first, a signal after a grace
** period).  Same contract as ptmForkRun; run->executor is "inline".
*/
int ptmInlineRun(const struct ptm_tx_desc *desc, const void *frame,
                 uint64_t deadline_ns, struct ptmRing *ring,
                 struct ptmMirrorRun *run);

/* history.c -------------------------------------------------------------
** What earlier calls of a transaction id did, for signals and rules.
*/
struct ptmHistory;

#define PTM_HISTORY_MAX_SIGS 64      /* distinct event signatures kept per id */
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
/* ptmHistoryRecord: adds one call's outcome.  ring: the mirror's events,
** or NULL; the events join the baseline when the call succeeded. */
void ptmHistoryRecord(struct ptmHistory *h, int success, int diverted,
                      const uint64_t *attempt_us, unsigned n_attempts,
                      const struct ptmRing *ring);

/* signals.c -------------------------------------------------------------
** The seed's four signals, from what the mirror observed.
*/
struct ptmSignals {
    int contention;               /* EAGAIN/EBUSY-class results, held locks */
    int validation;               /* ptm_validate failures, EINVAL-class results, crashes */
    double predicted_timeout_ms;  /* predicted primary duration */
    double acceptable_timeout_ms; /* the timeout key; HUGE_VAL when none */
    double deviation;             /* ptmHistoryDeviation */
    unsigned validation_failures; /* failed ptm_validate calls */
    unsigned contention_events;
    unsigned error_events;        /* shim results with a predicted errno */
    int criteria_failed;          /* the mirror's result fails success_criteria */
};

/* ptmSignalsCompute: OUT: *sig. */
void ptmSignalsCompute(const struct ptm_tx_desc *desc, const struct ptmMirrorRun *run,
                       const struct ptmHistoryView *hist, double deviation,
                       struct ptmSignals *sig);
/* ptmErrnoClass: "contention", "validation" or NULL for an errno value. */
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

/* lua-rules/default.lua, embedded at build time (default_rules.c). */
extern const char ptmDefaultRules[];

struct ptmVerdict {
    double probability;           /* in [0,1] */
    char reasons[PTM_MAX_REASONS][96];
    unsigned n_reasons;
    int divert;                   /* index of the alternative rules asked for, -1: first */
    int retry_max;                /* -1: keep the metadata's */
    int64_t timeout_us;           /* -1: keep the metadata's */
    int rules_error;              /* the script failed; probability is 0 */
    char error[256];
};

struct ptmObservation {
    const struct ptm_tx_desc *desc;
    const struct ptmMirrorRun *run;
    const struct ptmSignals *signals;
    const struct ptmHistoryView *history;
    int mirror_success;           /* success_criteria on the mirror's result, -1: unknown */
};

/* ptmPamAnalyze: runs the rules' analyze(m).  OUT: *v (always filled).
** Returns PTM_OK, or PTM_ERULES when the script failed (v->rules_error set,
** v->error says why, v->probability 0). */
int ptmPamAnalyze(const struct ptmObservation *obs, struct ptmVerdict *v);
/* ptmPamRulesName: the name of the script that analyzes desc's calls: the
** PTM_RULES path when set, else desc->rules_name, else "default". */
const char *ptmPamRulesName(const struct ptm_tx_desc *desc);

/* trace.c ---------------------------------------------------------------
** PTM_TRACE=path: one JSON object per transaction call, appended.
*/
struct ptmTxRecord {
    const struct ptm_tx_desc *desc;
    const struct ptmMirrorRun *run;     /* NULL: no mirror ran */
    const struct ptmSignals *signals;   /* NULL with run */
    const struct ptmVerdict *verdict;   /* NULL: no analysis */
    const char *decision;               /* "primary", "divert", "disabled" */
    const char *path;                   /* the function that ran */
    unsigned attempts;
    int success;
    int dry_run;
    uint64_t duration_ns;
    const char *mirror_reason;          /* why this executor */
};

/* ptmTraceWrite: appends r as one line to $PTM_TRACE; nothing when unset.
** Thread-safe: each line is one write(2) on an O_APPEND descriptor. */
void ptmTraceWrite(const struct ptmTxRecord *r);

/* tx.c ------------------------------------------------------------------ */
/* ptmSetLastError: sets this thread's ptm_last_error(). */
void ptmSetLastError(const char *fmt, ...) PTM_PRINTF_LIKE(1, 2);

#endif /* PTM_INT_H */
