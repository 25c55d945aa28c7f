/*
** shims/sim_locks.c - who holds a flock(2) lock on a file, for a mirror's
** flock probe, without paying /proc/locks' global cost in every mirror.
**
** Linux keeps flock locks apart from POSIX and OFD locks on local
** filesystems: F_OFD_GETLK cannot see them, /proc/self/fdinfo lists only the
** locks of that one open file description, and no per-file interface lists
** another process's flock locks.  /proc/locks is the only read-only way, and
** it is global: its reader takes the kernel's file_rwsem for writing
** (fs/locks.c, locks_start: percpu_down_write), which must first wait for
** an RCU grace period unless a reader passed recently.  Reads a few
** microseconds apart cost microseconds; a read after a pause of 5 ms or more
** can cost milliseconds (a plain loop on a 2-core machine at load 9: reads
** 20 ms apart had a median of 0.3 ms, a p90 of 12 ms and a max of 128 ms;
** bench/locks_bench.c measures it).  A mirror that read it synchronously put that pause on its
** caller, which is what set p99 on the mixed workload (bench/mixed).
**
** So, in the host's process, the file is read by one thread, "ptm-locks",
** started at the first probe, which sleeps on a futex until a probe asks for
** a read, reads the file whole (at most READ_CAP bytes), keeps the flock
** holders it lists (at most LOCKS_MAX) in one table and publishes it under a
** sequence count (a seqlock: the probe takes no lock, so a mirror stopped
** by the watchdog's jump leaves nothing held).  A probe:
**   - answers from the table when its read began at most `ttl` ago (0 by
**     default: bench/mixed, whose brief locks are taken just before the
**     job, missed 1-3 of 15 with 2 ms);
**   - else asks for a read and waits for it (a futex wait) at most
**     `budget` when the table it has is at most `stale` old, or at most
**     `cold` when it has none (the first probe of a process, or after a
**     quiet spell): a fresh read answers;
**   - past that wait, answers from the table if it is at most `stale` old
**     (the answer's age is returned: the event says it), else reports
**     "unknown" (-1), which the flock shim records as a pretended event.
** A probe within `warm` (10 ms) of the last read reads the file itself: the
** kernel's side is then still cheap, and a hand-off to the thread costs two
** wake-ups, which on an overloaded CPU cost more than the read (bench/mixed,
** whose jobs come back to back: a probe that always handed off had a p99 of
** 3.9-4.9 ms, one that always read itself 0.6-1.8 ms).  After a pause a
** probe waits at most `budget` (1 ms) for the kernel, where a read of its
** own could stall it for tens of milliseconds (on an overloaded CPU the
** wait ends later: the thread must be scheduled again).
**
** What the table can miss: a flock lock taken or released in the `age`
** before the probe (at most `stale`): a lock taken since is not seen (the
** primary meets it, as it would without a mirror), a lock released since is
** seen held (the call may divert when it need not).  This process's own
** locks count only from a read begun after the probe: a table read while
** the host's own primary held its lock (the reader runs beside it) would
** otherwise show that lock to every mirror until the next read (bench/mixed
** found it: 7-18% of its good jobs diverted); so a lock another thread of
** the host holds is missed by an answer from an older table.  A read is a
** snapshot of the whole file, so two locks' states are from the same moment.
**
** A fork child (the fork executor's, or a host's own fork) has no reader
** thread: the executor's child reads synchronously unless the table it
** inherited is fresh (`ttl`); a host's child starts its own reader.
** PTM_FLOCK_PROBE=sync restores the synchronous read in every probe.
**
** Part of the simulated world of a mirror: see sim.c for the whole.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "shims_int.h"

#define LOCKS_MAX 4096         /* flock holders kept from one read */
#define READ_CAP (4u << 20)    /* bytes of /proc/locks read at most */
#define MS 1000000ull

struct lockEnt {
    dev_t dev;
    ino_t ino;
    pid_t pid;
    int write;
};

/* The published table.  seq is odd while it is being written. */
static struct {
    _Atomic uint32_t seq;
    _Atomic uint64_t read_ns;  /* when the published read began; 0: none yet */
    _Atomic int n;
    _Atomic int whole;         /* every flock lock of that read is in ent */
    struct lockEnt ent[LOCKS_MAX];
} table;

/* The writer's side: one writer at a time (the reader thread, or a probe
** that reads itself), which holds `writer`, the time it took it (0: free).
** A writer that has held it WRITER_STALE is taken to be gone (a mirror that
** the watchdog's jump took out of its read) and its claim is taken over;
** a slow writer that finds its claim taken over publishes nothing. */
#define WRITER_STALE (5000 * MS)
static _Atomic uint64_t writer;
static struct lockEnt scratch[LOCKS_MAX];

/* Claims the writer's side.  Its stamp, or 0 when another writer has it. */
static uint64_t writerClaim(void)
{
    uint64_t now = ptmOsNowNs(), held = 0;
    if (now == 0)
        now = 1;
    if (atomic_compare_exchange_strong(&writer, &held, now))
        return now;
    if (now - held > WRITER_STALE && atomic_compare_exchange_strong(&writer, &held, now))
        return now;
    return 0;
}

/* Gives the writer's side back, if stamp still holds it. */
static void writerRelease(uint64_t stamp)
{
    atomic_compare_exchange_strong(&writer, &stamp, 0);
}

/* The reader thread and the probe's limits. */
static struct {
    _Atomic uint32_t want;     /* bumped by a probe that needs a read */
    _Atomic uint32_t gen;      /* bumped after each publication */
    _Atomic pid_t pid;         /* the process whose reader runs; 0: none */
    _Atomic int state;         /* 0 unset, 1 configured */
    int sync;                  /* PTM_FLOCK_PROBE=sync */
    uint64_t ttl, budget, cold, stale, warm;
    _Atomic uint64_t reads;    /* reads of /proc/locks, for tests and benches */
} rd;

static long futexOp(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/* ------------------------------------------------------------------ parse */

/* One line of /proc/locks ("1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF")
** or of fdinfo ("lock:\t1: FLOCK ..."), len bytes without its newline, as a
** flock holder's entry.  1, or 0 for any other line: a waiter ("1: ->
** FLOCK"), a POSIX, OFD or lease line, a line too long or malformed. */
static int parseFlockLine(const char *line, size_t len, struct lockEnt *e)
{
    char copy[256], kind[16], rw[16];
    unsigned maj, min;
    unsigned long long inode;
    const char *p;
    int pid;

    if (len >= sizeof copy)
        return 0;
    memcpy(copy, line, len);
    copy[len] = '\0';
    p = strchr(copy, ':');
    if (p && strncmp(copy, "lock:", 5) == 0)
        p = strchr(p + 1, ':');
    if (!p || strncmp(p + 1, " ->", 3) == 0)
        return 0;
    if (sscanf(p + 1, " %15s %*s %15s %d %x:%x:%llu", kind, rw, &pid, &maj, &min, &inode) != 6 ||
        strcmp(kind, "FLOCK") != 0)
        return 0;
    e->dev = makedev(maj, min);
    e->ino = (ino_t)inode;
    e->pid = (pid_t)pid;
    e->write = strcmp(rw, "WRITE") == 0;
    return 1;
}

/* Does holder e conflict with a request for an exclusive (ex) or shared
** lock on (dev, ino)?  Shared with shared does not. */
static int conflicts(const struct lockEnt *e, dev_t dev, ino_t ino, int ex)
{
    return e->ino == ino && e->dev == dev && (ex || e->write);
}

/*
** ptmFlockConflicts: the flock locks on (dev, ino) listed in text (the
** /proc/locks format, or fdinfo's "lock:" lines; NUL-terminated, any size)
** that conflict with a request for an exclusive (ex) or shared lock.
** OUT: *holder, the pid of one of them (untouched when none).  Returns their
** count.  Lines that are not flock holders, or are malformed, are skipped.
*/
int ptmFlockConflicts(const char *text, dev_t dev, ino_t ino, int ex, pid_t *holder)
{
    struct lockEnt e;
    const char *line, *nl;
    int n = 0;

    for (line = text; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (parseFlockLine(line, nl ? (size_t)(nl - line) : strlen(line), &e) &&
            conflicts(&e, dev, ino, ex)) {
            *holder = e.pid;
            n++;
        }
    }
    return n;
}

/*
** ptmProbeProcText: the whole of a /proc file (at most cap bytes; the rest
** is not read), NUL-terminated, malloc'd.  OUT: *cut, 1 when the file had
** more than cap bytes (may be NULL).  NULL when it cannot be opened or
** memory runs out.
*/
char *ptmProbeProcText(const char *path, size_t cap, int *cut)
{
    size_t have = 8192, len = 0;
    char *buf = malloc(have), *more;
    ssize_t r;
    int fd;

    if (cut)
        *cut = 0;
    if (!buf)
        return NULL;
    if (ptmProbeOpen(path, O_RDONLY | O_CLOEXEC, 0, &fd) != 0) {
        free(buf);
        return NULL;
    }
    for (;;) {
        if (len + 1 >= have) {
            if (have > cap || !(more = realloc(buf, have * 2))) {
                if (cut)
                    *cut = 1;
                break;
            }
            buf = more;
            have *= 2;
        }
        r = ptmOs.read(fd, buf + len, have - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    ptmOs.close(fd);
    buf[len] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ table */

/* Reads /proc/locks and publishes its flock holders, unless another writer
** is at it.  t0: when the read began (the table's time). */
static void readAndPublish(void)
{
    uint64_t t0, stamp;
    const char *line, *nl;
    struct lockEnt e;
    char *text;
    int n = 0, whole, cut = 0;

    if ((stamp = writerClaim()) == 0)
        return;
    t0 = ptmOsNowNs();
    text = ptmProbeProcText("/proc/locks", READ_CAP, &cut);
    atomic_fetch_add(&rd.reads, 1);
    if (!text) {
        writerRelease(stamp);
        return;
    }
    whole = !cut;
    for (line = text; *line; line = nl ? nl + 1 : "") {
        nl = strchr(line, '\n');
        if (!parseFlockLine(line, nl ? (size_t)(nl - line) : strlen(line), &e))
            continue;
        if (n == LOCKS_MAX) {
            whole = 0;
            break;
        }
        scratch[n++] = e;
    }
    free(text);
    if (atomic_load(&writer) != stamp)
        return; /* taken over: this read is too old to publish */
    atomic_fetch_add_explicit(&table.seq, 1, memory_order_acq_rel);
    atomic_thread_fence(memory_order_release);
    memcpy(table.ent, scratch, (size_t)n * sizeof scratch[0]);
    atomic_store_explicit(&table.n, n, memory_order_relaxed);
    atomic_store_explicit(&table.whole, whole, memory_order_relaxed);
    atomic_store_explicit(&table.read_ns, t0, memory_order_relaxed);
    atomic_fetch_add_explicit(&table.seq, 1, memory_order_release);
    writerRelease(stamp);
    atomic_fetch_add(&rd.gen, 1);
    futexOp(&rd.gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

/* Looks (dev, ino) up in the published table.  Locks of process self count
** only when the table's read began at or after since: an older read may have
** caught this process's own primary holding the lock it has released since
** (every job of a program that locks one file would then see it held).
** OUT: *n conflicts, *holder, *read_ns (the table's time).  0 when answered;
** -1 when there is no table, it lost holders (cut), or a writer kept
** changing it. */
static int lookUp(dev_t dev, ino_t ino, int ex, pid_t self, uint64_t since, int *n,
                  pid_t *holder, uint64_t *read_ns)
{
    for (int tries = 0; tries < 8; tries++) {
        uint32_t s = atomic_load_explicit(&table.seq, memory_order_acquire);
        if (s & 1)
            continue;
        uint64_t t = atomic_load_explicit(&table.read_ns, memory_order_relaxed);
        int cnt = atomic_load_explicit(&table.n, memory_order_relaxed), k = 0;
        int whole = atomic_load_explicit(&table.whole, memory_order_relaxed);
        pid_t who = 0;
        for (int i = 0; i < cnt && i < LOCKS_MAX; i++)
            if (conflicts(&table.ent[i], dev, ino, ex) &&
                (table.ent[i].pid != self || t >= since)) {
                who = table.ent[i].pid;
                k++;
            }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&table.seq, memory_order_relaxed) != s)
            continue;
        if (t == 0 || (!whole && k == 0))
            return -1;
        *n = k;
        *read_ns = t;
        if (k)
            *holder = who;
        return 0;
    }
    return -1;
}

/* The reader thread: a read per wave of requests, asleep in between. */
static void *lockReader(void *arg)
{
    uint32_t done = 0;

    (void)arg;
    pthread_setname_np(pthread_self(), "ptm-locks");
    for (;;) {
        uint32_t w = atomic_load(&rd.want);
        if (w == done) {
            futexOp(&rd.want, FUTEX_WAIT_PRIVATE, w, NULL);
            continue;
        }
        done = w;
        readAndPublish();
    }
    return NULL;
}

/* Is this process's reader running?  Starts it at the first call (and in
** the child of a host's fork).  Every signal is blocked in it, so that no
** host handler ever runs there. */
static int readerRunning(void)
{
    pid_t self = ptmOsPid(), had = atomic_load(&rd.pid);
    sigset_t all, old;
    pthread_attr_t at;
    pthread_t t;
    int err;

    if (had == self)
        return 1;
    if (had == -self || !atomic_compare_exchange_strong(&rd.pid, &had, -self))
        return 0; /* another thread is starting it, or it could not start */
    if (had != 0) {
        /* A host's fork child: the parent's reader, which may have been
        ** writing at the fork, is not here. */
        if (atomic_load(&table.seq) & 1)
            atomic_fetch_add(&table.seq, 1);
        atomic_store(&writer, 0);
    }
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    err = pthread_create(&t, &at, lockReader, NULL);
    pthread_attr_destroy(&at);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err == 0)
        atomic_store(&rd.pid, self);
    return err == 0; /* a failed start stays -self: synchronous from then on */
}

static uint64_t envMs(const char *s, uint64_t dflt)
{
    char *end;
    unsigned long v;
    if (!s || !*s)
        return dflt;
    v = strtoul(s, &end, 10);
    return *end == '\0' ? (uint64_t)v * MS : dflt;
}

/* Reads PTM_FLOCK_PROBE once: "sync", or "async[:ttl:budget:cold:stale:warm]"
** (milliseconds; warm: a probe this soon after the last read reads itself). */
static void configure(void)
{
    const char *e;
    char buf[96], *parts[6] = {0}, *save = NULL;
    int i = 0;

    if (atomic_load(&rd.state))
        return;
    rd.ttl = 0;
    rd.budget = 1 * MS;
    rd.cold = 50 * MS;
    rd.stale = 250 * MS;
    rd.warm = 10 * MS;
    e = getenv("PTM_FLOCK_PROBE");
    if (e && strlen(e) < sizeof buf) {
        strcpy(buf, e);
        for (char *p = strtok_r(buf, ":", &save); p && i < 6; p = strtok_r(NULL, ":", &save))
            parts[i++] = p;
        rd.sync = parts[0] && strcmp(parts[0], "sync") == 0;
        rd.ttl = envMs(parts[1], rd.ttl);
        rd.budget = envMs(parts[2], rd.budget);
        rd.cold = envMs(parts[3], rd.cold);
        rd.stale = envMs(parts[4], rd.stale);
        rd.warm = envMs(parts[5], rd.warm);
    }
    atomic_store(&rd.state, 1);
}

/*
** ptmFlockProbeSet: sets the probe's mode and limits (tests and benches;
** PTM_FLOCK_PROBE otherwise, read at the first probe).  sync: every probe
** reads /proc/locks itself.  ttl, budget, cold, stale: in ns (above); warm
** is set to 0 (every read not reused is the reader thread's).
*/
void ptmFlockProbeSet(int sync, uint64_t ttl, uint64_t budget, uint64_t cold, uint64_t stale)
{
    rd.sync = sync;
    rd.ttl = ttl;
    rd.budget = budget;
    rd.cold = cold;
    rd.stale = stale;
    rd.warm = 0;
    atomic_store(&rd.state, 1);
}

/* ptmFlockProbeReads: how many times this process read /proc/locks for
** flock probes. */
uint64_t ptmFlockProbeReads(void)
{
    return atomic_load(&rd.reads);
}

/* The synchronous probe: the file read now, by the caller. */
static int probeNow(dev_t dev, ino_t ino, int ex, pid_t *holder)
{
    int cut = 0, n;
    char *text = ptmProbeProcText("/proc/locks", READ_CAP, &cut);

    atomic_fetch_add(&rd.reads, 1);
    if (!text)
        return -1;
    n = ptmFlockConflicts(text, dev, ino, ex, holder);
    free(text);
    return n == 0 && cut ? -1 : n;
}

/* Waits until a read that began at or after since is published, or until
** the clock reaches until.  1 when one was. */
static int awaitRead(uint64_t since, uint64_t until)
{
    for (;;) {
        uint32_t g = atomic_load(&rd.gen);
        if (atomic_load(&table.read_ns) >= since)
            return 1;
        uint64_t now = ptmOsNowNs();
        if (now >= until)
            return 0;
        struct timespec ts = {.tv_sec = (time_t)((until - now) / 1000000000u),
                              .tv_nsec = (long)((until - now) % 1000000000u)};
        futexOp(&rd.gen, FUTEX_WAIT_PRIVATE, g, &ts);
    }
}

/*
** ptmProbeFlockConflicts: how many flock locks on (dev, ino) conflict with a
** request for an exclusive (ex) or shared lock, as the kernel lists them
** (this process's own included: the caller takes out those of a borrowed
** descriptor).  in_child: the probe runs in the fork executor's child.
** self: the host's pid, whose own locks only a read begun after the probe
** began may show (a table read earlier may have caught a primary's lock).
** OUT: *holder, one holder's pid; *age_ns, how old the answer is (0: read
** for this probe).  Returns the count, or -1: unknown (no read within the
** wait, and none recent enough; the file could not be read; or a table cut
** at its bounds that does not list the file).
*/
int ptmProbeFlockConflicts(dev_t dev, ino_t ino, int ex, int in_child, pid_t self,
                           pid_t *holder, uint64_t *age_ns)
{
    uint64_t t0 = ptmOsNowNs(), t, have;
    int n;

    configure();
    *age_ns = 0;
    have = atomic_load(&table.read_ns);
    if (!rd.sync && have && t0 - have <= rd.ttl && lookUp(dev, ino, ex, self, t0, &n, holder, &t) == 0) {
        *age_ns = t0 > t ? t0 - t : 0;
        return n;
    }
    if (rd.sync || in_child || !readerRunning())
        return probeNow(dev, ino, ex, holder);
    if (have && t0 - have <= rd.warm) {
        /* The kernel's side is still warm from the last read: cheaper to
        ** read here than to hand it to the reader. */
        readAndPublish();
        if (lookUp(dev, ino, ex, self, t0, &n, holder, &t) == 0 && t >= t0)
            return n;
    }
    atomic_fetch_add(&rd.want, 1);
    futexOp(&rd.want, FUTEX_WAKE_PRIVATE, 1, NULL);
    int usable = have && t0 - have <= rd.stale;
    awaitRead(t0, t0 + (usable ? rd.budget : rd.cold));
    if (lookUp(dev, ino, ex, self, t0, &n, holder, &t) != 0)
        return -1;
    uint64_t now = ptmOsNowNs();
    if (t < t0 && now - t > rd.stale)
        return -1;
    *age_ns = t >= t0 ? 0 : now - t;
    return n;
}
