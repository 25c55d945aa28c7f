/*
** shims/sqlite_vfs.c - the SQLite overlay: a VFS ("ptm-overlay") that reads
** the real database and writes nothing, and the per-thread overlay
** connections of sqlite_int.h's sqlite_vfs.c section.
**
** What each file of an overlay connection is:
**   - the database and its -wal: the real file, read through the overlay's
**     own read-only descriptor, under an in-memory map of the blocks the
**     overlay wrote (a write never reaches the disk; truncation and size
**     are the overlay's).  A missing real file reads as empty.
**   - the rollback journal, temp files, sub-journals: memory only.  The
**     one exception is a hot journal left by a writer that died, which the
**     overlay reads (and "rolls back" into its memory) through a private
**     descriptor.  Nothing the overlay does creates a file.
**   - the WAL index: private 32 KiB regions filled from the real -shm and
**     refreshed in place by ptmSqlOverlayBegin (SQLite keeps the pointers).
**
** Locks are probed, never taken: F_OFD_GETLK on SQLite's lock bytes of the
** database (rollback mode) or on the WAL lock bytes of -shm.  An OFD probe
** from a descriptor that holds nothing sees every other holder, the host
** process's own classic locks included.  A held lock becomes one event per
** kind of lock per mirror, then SQLITE_BUSY or a private grant, as the
** busy policy of ptmSqlOverlayBegin says.
**
** The private descriptors live in a process-wide table keyed by device and
** inode and are closed only when that drops no lock (sqlite_fds.c): closing any
** descriptor of a file drops every POSIX lock the process holds on it, the
** host's included.  xClose of an overlay file frees only memory.
**
** Lock events: a RESERVED, EXCLUSIVE or WAL write/checkpoint lock wanted
** and found held is PTM_EVF_EFFECT (the primary's write would wait or
** fail on it); a SHARED lock (a read) found blocked by a writer's PENDING
** or EXCLUSIVE is recorded without it.  The WAL read marks and recovery
** locks are never probed: the copy of the index is private.
**
** Staleness: after a mirror that wrote, that saw a lock held or the
** database change, Begin drops every page SQLite cached; otherwise the
** cache is checked by SQLite itself, as any connection's is.  Real bytes
** read are kept across mirrors only while the file cannot have changed
** (sqlite_mem.c, "Real bytes kept across mirrors").  A mirror's COMMIT is,
** when it can be, a check (ptmSqlCommitCheckable): its transaction stays open
** and End rolls it back, so nothing was written and SQLite's cache holds.
**
** A fork mirror inherits the cached overlays and the descriptor table; its
** child takes no lock on the table (see privLock).  Its sandbox lets the
** overlay's open(O_RDONLY), pread, stat, fstat and F_OFD_GETLK through.
**
** Memory: every block of every overlay file of a thread counts against
** PTM_SQL_OVERLAY_MAX_BYTES (64 MiB, see ptmSqlOverlaySetLimit); a write
** past it fails with SQLITE_IOERR_NOMEM, which SQLite reports as
** SQLITE_NOMEM: a huge mirrored transaction fails (and says why) rather
** than exhaust the host.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_int.h"

#define BLOCK PTM_SQL_BLOCK
#define SHM_REGION_MAX 64           /* 2 MiB of wal-index: ~250k frames */
#define PROGRESS_OPS 1000           /* VM steps between deadline checks */

/* SQLite's lock bytes (os_unix.c / os.h), for the default 1 GiB PENDING_BYTE. */
#define PENDING_BYTE 0x40000000
#define RESERVED_BYTE (PENDING_BYTE + 1)
#define SHARED_FIRST (PENDING_BYTE + 2)
#define SHARED_SIZE 510
#define WAL_LOCK_FIRST 120          /* WALINDEX_LOCK_OFFSET in -shm */
#define VERSION_SHM_BYTES 100       /* both wal-index headers and nBackfill */
#define SHM_ATTEMPTED 128           /* nBackfillAttempted in the -shm */
#define VERSION_SHM_READ 132        /* the -shm bytes a version is read from */

/* The kinds of lock an event may name, one event per kind per mirror. */
enum lockKind { LK_SHARED, LK_RESERVED, LK_EXCLUSIVE, LK_WAL_WRITE, LK_WAL_CKPT, LK_COUNT };

/* The private copy of the WAL index. */
struct shmCopy {
    int fd;                         /* the real -shm's private descriptor; -1: none */
    dev_t dev;
    ino_t ino;
    int n;                          /* regions mapped */
    void *region[SHM_REGION_MAX];
    unsigned char lock_excl;        /* WAL locks held (bookkeeping) */
    unsigned short lock_shared[8];
    /* The real header as last copied, and whether SQLite may have written
    ** more than read marks into the copy since (the checkpoint or recovery
    ** lock taken, or frames the overlay wrote).  When neither the real
    ** header nor the copy changed, Begin copies nothing. */
    unsigned char seen[VERSION_SHM_BYTES];
    int seen_ok, written;
    struct ptmSqlShmView view;      /* the real -shm mapped (sqlite_wal.c) */
};

/* What ptmSqlOverlayBegin saw of the real database. */
struct dbVersion {
    int have_db, have_shm;
    unsigned char hdr[28];          /* the header up to the change counter (24) */
    unsigned char shm[VERSION_SHM_BYTES];
    unsigned char attempted[4];     /* nBackfillAttempted: a checkpoint sets it
                                       before it writes into the database file */
};

struct ptmSqlOverlay {
    struct ptmSqlOverlay *next;     /* this thread's list */
    char *path;                     /* the database, as ptmSqlOverlayOpen was given it */
    char *name;                     /* as SQLite names it (xFullPathname: links
                                       resolved): its -wal, -journal, -shm follow it */
    char *base;                     /* its basename, for events */
    sqlite3 *db;
    sqlite3_stmt *rollback;         /* "ROLLBACK", prepared once (NULL: exec it) */
    struct ptmSqlMemFile dbf, wal, journal;
    struct shmCopy shm;
    int lock;                       /* SQLITE_LOCK_* held, privately */
    int active;                     /* between Begin and End */
    const struct ptmMirror *mirror; /* whose Begin: a mirror that ended without */
    uint64_t mirror_t0;             /* End (a crash, a jump) does not leave it on */
    enum ptmSqlBusy busy;
    unsigned call;
    unsigned reported;              /* lock kinds already recorded (1 << kind) */
    struct dbVersion ver;
    int wal_mode;                   /* the header said WAL at Begin */
    int stale;                      /* the last mirror wrote: drop the cache */
    struct stat db_st;              /* the database as Begin's stat saw it */
    struct keptKey {                /* what the kept reads are valid for */
        int ok, wal_mode;
        dev_t ddev, wdev;
        ino_t dino, wino;
        off_t dsize;
        struct timespec dmtime;
        unsigned char hdr[28], salt[8], backfill[4];
    } key;
    int pinned[PTM_SQL_PINS];                  /* the private descriptors it pins */
    unsigned char head[BLOCK];      /* the database's first block, read at Begin */
    ssize_t head_got;               /* its bytes read; -1: none */
};

/* An open file of the VFS. */
struct ovFile {
    sqlite3_file base;
    struct ptmSqlOverlay *o;        /* NULL: a temp file of no overlay */
    struct ptmSqlMemFile *mf;
    struct ptmSqlMemFile own;             /* temp files: their content */
    int is_db;
};

/* repin: o pins the descriptors its files read through now. */
static void repin(struct ptmSqlOverlay *o)
{
    int now[PTM_SQL_PINS] = {o->dbf.fd, o->wal.fd, o->shm.fd, o->journal.fd};
    ptmSqlPinSet(o->pinned, now);
}

/* unpin: o pins nothing any more (freed or abandoned). */
static void unpin(struct ptmSqlOverlay *o)
{
    static const int none[PTM_SQL_PINS] = {-1, -1, -1, -1};
    ptmSqlPinSet(o->pinned, none);
}

/* rebase: points mf at the current file at path (it may have appeared,
** or been replaced by a new inode since).  0, or the errno of a file that
** exists but cannot be read (it must not read as empty); a missing file
** is 0 and reads as empty. */
static _Thread_local int lastErrno; /* xGetLastError: sqlite3_system_errno */

static int rebase(struct ptmSqlMemFile *mf, const char *path)
{
    struct stat st;
    int fd = ptmSqlPrivateFd(path, &st), err = fd < 0 && errno != ENOENT ? errno : 0;
    if (err)
        lastErrno = err;
    mf->fd = fd;
    mf->dev = fd >= 0 ? st.st_dev : 0;
    mf->ino = fd >= 0 ? st.st_ino : 0;
    return err;
}

/* ---------------------------------------------------------------------
** Lock probes and events.
*/
/* probe: whether another holder has a lock that conflicts with a lock of
** type (F_RDLCK, F_WRLCK) on len bytes at start of fd.  OUT: *pid (the
** holder's, -1: an OFD lock).  1 held, 0 free or not knowable (a probe
** that fails is no lock: the mirror goes on as without the probe). */
static int probe(int fd, short type, off_t start, off_t len, pid_t *pid)
{
    struct flock fl;

    if (fd < 0)
        return 0;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    if (ptmOs.fcntl_lock(fd, F_OFD_GETLK, &fl) != 0) {
        /* A kernel without OFD locks (before 3.15): the classic probe sees
        ** other processes' locks, not this process's own. */
        if (errno != EINVAL)
            return 0;
        fl.l_type = type;
        fl.l_whence = SEEK_SET;
        fl.l_start = start;
        fl.l_len = len;
        fl.l_pid = 0;
        if (ptmOs.fcntl_lock(fd, F_GETLK, &fl) != 0)
            return 0;
    }
    if (fl.l_type == F_UNLCK)
        return 0;
    *pid = fl.l_pid;
    return 1;
}

/* heldLock: a lock of kind wanted found held (holder: the name of the lock
** held, pid its holder).  Records it once per kind per mirror and returns
** what the overlay answers: SQLITE_BUSY or SQLITE_OK (granted privately). */
static int heldLock(struct ptmSqlOverlay *o, enum lockKind wanted, const char *holder, pid_t pid)
{
    uint64_t t0;
    struct ptmEvent *ev;
    char target[PTM_TARGET_MAX];
    int busy = o->busy == PTM_SQL_BUSY_FAIL;

    if (!ptmMirrorCurrent)
        return SQLITE_OK; /* a close at thread exit: nothing to tell */
    if (o->reported & (1u << wanted))
        return busy ? SQLITE_BUSY : SQLITE_OK;
    o->reported |= 1u << wanted;
    t0 = ptmOsNowNs();
    if (pid > 0)
        snprintf(target, sizeof target, "%s: %s lock held by pid %ld", o->base, holder, (long)pid);
    else
        snprintf(target, sizeof target, "%s: %s lock held by another open file", o->base, holder);
    ev = ptmMirrorRecordCall((enum ptmCall)o->call, t0, target, busy ? SQLITE_BUSY : SQLITE_OK,
                             EBUSY, 0);
    if (ev) {
        if (wanted != LK_SHARED)
            ev->flags |= PTM_EVF_EFFECT;
        if (!busy)
            ev->flags |= PTM_EVF_PRETENDED;
        ptmCopyField(ev->detail, sizeof ev->detail, busy ? "SQLITE_BUSY" : "go on");
    }
    return busy ? SQLITE_BUSY : SQLITE_OK;
}

/* probeDbLock: what the real xLock(level) would meet on the database. */
static int probeDbLock(struct ptmSqlOverlay *o, int level)
{
    int fd = o->dbf.fd;
    pid_t pid = 0;

    if (level == SQLITE_LOCK_SHARED) {
        if (probe(fd, F_RDLCK, PENDING_BYTE, 1, &pid))
            return heldLock(o, LK_SHARED, "PENDING", pid);
        if (probe(fd, F_RDLCK, SHARED_FIRST, SHARED_SIZE, &pid))
            return heldLock(o, LK_SHARED, "EXCLUSIVE", pid);
    } else if (level == SQLITE_LOCK_RESERVED) {
        if (probe(fd, F_WRLCK, RESERVED_BYTE, 1, &pid))
            return heldLock(o, LK_RESERVED, "RESERVED", pid);
    } else if (level == SQLITE_LOCK_EXCLUSIVE) {
        if (probe(fd, F_WRLCK, PENDING_BYTE, 1, &pid))
            return heldLock(o, LK_EXCLUSIVE, "PENDING", pid);
        if (probe(fd, F_WRLCK, SHARED_FIRST, SHARED_SIZE, &pid))
            return heldLock(o, LK_EXCLUSIVE, "SHARED", pid);
    }
    return SQLITE_OK;
}

/* ---------------------------------------------------------------------
** The io methods.
*/
static int ovClose(sqlite3_file *f)
{
    struct ovFile *p = (struct ovFile *)f;
    /* Only memory: the descriptor stays open for the process's locks. */
    if (p->mf == &p->own)
        ptmSqlMemFree(&p->own);
    else if (p->o && p->mf != &p->o->journal)
        ptmSqlMemDrop(p->mf);
    if (p->is_db && p->o)
        p->o->lock = SQLITE_LOCK_NONE;
    return SQLITE_OK;
}

static int ovRead(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    return ptmSqlMemRead(((struct ovFile *)f)->mf, buf, amt, off);
}

static int ovWrite(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    return ptmSqlMemWrite(((struct ovFile *)f)->mf, buf, amt, off);
}

static int ovTruncate(sqlite3_file *f, sqlite3_int64 size)
{
    return ptmSqlMemTruncate(((struct ovFile *)f)->mf, size);
}

static int ovSync(sqlite3_file *f, int flags)
{
    (void)f;
    (void)flags;
    return SQLITE_OK;
}

static int ovFileSize(sqlite3_file *f, sqlite3_int64 *size)
{
    return ptmSqlMemSize(((struct ovFile *)f)->mf, size);
}

static int ovLock(sqlite3_file *f, int level)
{
    struct ovFile *p = (struct ovFile *)f;
    int rc = SQLITE_OK;

    if (!p->is_db || !p->o)
        return SQLITE_OK;
    if (level > p->o->lock)
        rc = probeDbLock(p->o, level);
    if (rc == SQLITE_OK && level > p->o->lock)
        p->o->lock = level;
    return rc;
}

static int ovUnlock(sqlite3_file *f, int level)
{
    struct ovFile *p = (struct ovFile *)f;
    if (p->is_db && p->o && level < p->o->lock)
        p->o->lock = level;
    return SQLITE_OK;
}

static int ovCheckReservedLock(sqlite3_file *f, int *out)
{
    struct ovFile *p = (struct ovFile *)f;
    pid_t pid;

    *out = 0;
    if (p->is_db && p->o)
        *out = p->o->lock >= SQLITE_LOCK_RESERVED ||
               probe(p->o->dbf.fd, F_WRLCK, RESERVED_BYTE, 1, &pid);
    return SQLITE_OK;
}

static int ovFileControl(sqlite3_file *f, int op, void *arg)
{
    (void)f;
    if (op == SQLITE_FCNTL_HAS_MOVED) {
        *(int *)arg = 0;
        return SQLITE_OK;
    }
    return SQLITE_NOTFOUND;
}

static int ovSectorSize(sqlite3_file *f)
{
    (void)f;
    return BLOCK;
}

static int ovDeviceCharacteristics(sqlite3_file *f)
{
    (void)f;
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

/* shmPath: the database's -shm, in buf. */
static void shmPath(const struct ptmSqlOverlay *o, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-shm", o->name);
}

/* shmFill: region i of the private copy, read again from the real -shm. */
static int shmFill(struct shmCopy *s, int i, int size)
{
    ssize_t got = 0;
    if (s->fd >= 0 &&
        (got = ptmSqlPreadFull(s->fd, s->region[i], (size_t)size, (off_t)i * size)) < 0) {
        memset(s->region[i], 0, (size_t)size);
        return SQLITE_IOERR_SHMMAP;
    }
    memset((char *)s->region[i] + got, 0, (size_t)size - (size_t)got);
    return SQLITE_OK;
}

/* shmRebase: the -shm at its path now (o->shm's descriptor, maybe
** another file's).  OUT: *st, its stat (zeros: none). */
static void shmRebase(struct ptmSqlOverlay *o, struct stat *st)
{
    char path[PATH_MAX + 8];
    shmPath(o, path, sizeof path);
    memset(st, 0, sizeof *st);
    int fd = ptmSqlPrivateFd(path, st);
    if (fd < 0)
        memset(st, 0, sizeof *st);
    if (fd != o->shm.fd || st->st_dev != o->shm.dev || st->st_ino != o->shm.ino)
        o->shm.seen_ok = 0; /* another -shm: copy it whole */
    o->shm.fd = fd;
    o->shm.dev = fd >= 0 ? st->st_dev : 0;
    o->shm.ino = fd >= 0 ? st->st_ino : 0;
}

/* shmStat: the real -shm's stat, through the descriptor the copy reads
** when it is still linked (a path's stat costs a lookup per component):
** SQLite only ever deletes a -shm (the last connection's close), which
** makes its link count 0, and the path is looked up again.  OUT: *st
** (zeros: no -shm). */
static void shmStat(struct ptmSqlOverlay *o, struct stat *st)
{
    if (o->shm.fd >= 0 && ptmOs.fstat(o->shm.fd, st) == 0 && st->st_nlink > 0 &&
        st->st_dev == o->shm.dev && st->st_ino == o->shm.ino)
        return;
    shmRebase(o, st);
}

/* walFreshFrom: where the committed frames of the -wal end, by the private
** copy of the WAL index as it was just read from the real one
** (ptmSqlWalCommittedEnd): a frame past them is one the overlay writes
** itself (whole), or one it never reads (a stale frame of an earlier
** generation, or one a real writer appended after the copy was made), so
** a block there need not be read from the real file before the overlay's
** frame goes into it. */
static void walFreshFrom(struct ptmSqlOverlay *o)
{
    o->wal.fresh_from = INT64_MAX;
    if (o->shm.n >= 1 && o->shm.fd >= 0)
        o->wal.fresh_from = ptmSqlWalCommittedEnd(o->shm.region[0]);
}

/* walKeepBelow: the -wal's reads are kept below its committed end, when
** the private copy of the WAL index (whose header says where that is) is
** of the generation the key names. */
static void walKeepBelow(struct ptmSqlOverlay *o)
{
    o->wal.keep_below = 0;
    if (o->key.ok && o->wal_mode && o->wal.fd >= 0 && o->wal.fresh_from != INT64_MAX &&
        o->shm.n > 0 && memcmp((unsigned char *)o->shm.region[0] + 32, o->key.salt, 8) == 0)
        o->wal.keep_below = o->wal.fresh_from;
}

static int ovShmMap(sqlite3_file *f, int i, int size, int extend, void volatile **pp)
{
    struct ovFile *p = (struct ovFile *)f;
    struct shmCopy *s;
    int rc = SQLITE_OK;

    (void)extend; /* the copy is private: every region can exist */
    *pp = NULL;
    if (!p->is_db || !p->o || size != 32768 || i < 0 || i >= SHM_REGION_MAX)
        return SQLITE_IOERR_SHMMAP;
    s = &p->o->shm;
    if (s->n == 0) {
        struct stat st;
        shmRebase(p->o, &st);
        repin(p->o);
    }
    while (s->n <= i) {
        void *r = malloc((size_t)size);
        if (!r)
            return SQLITE_IOERR_NOMEM;
        s->region[s->n] = r;
        rc = shmFill(s, s->n++, size);
        if (s->n == 1 && rc == SQLITE_OK && !p->o->wal.dirty) {
            walFreshFrom(p->o);
            if (p->o->active)
                walKeepBelow(p->o);
        }
    }
    *pp = s->region[i];
    return rc;
}

static int ovShmLock(sqlite3_file *f, int ofst, int n, int flags)
{
    struct ovFile *p = (struct ovFile *)f;
    struct shmCopy *s;
    pid_t pid = 0;
    int i, rc = SQLITE_OK;

    if (!p->is_db || !p->o || ofst < 0 || ofst + n > 8)
        return SQLITE_IOERR_SHMLOCK;
    s = &p->o->shm;
    if ((flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE) && n == 1 && ofst <= 1) {
        /* Only the write and checkpoint locks say something of others:
        ** the read marks and the recovery of a private copy are private. */
        if (probe(s->fd, F_WRLCK, WAL_LOCK_FIRST + ofst, 1, &pid))
            rc = heldLock(p->o, ofst ? LK_WAL_CKPT : LK_WAL_WRITE,
                          ofst ? "WAL checkpoint" : "WAL write", pid);
    }
    if (rc != SQLITE_OK)
        return rc;
    /* The checkpoint and recovery locks: SQLite may write the copy beyond
    ** read marks (the write lock alone writes it only with frames, which
    ** End sees the -wal written for). */
    if ((flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE) && ofst < 3 && ofst + n > 1)
        s->written = 1;
    for (i = ofst; i < ofst + n; i++) {
        if (flags & SQLITE_SHM_UNLOCK) {
            s->lock_excl &= (unsigned char)~(1u << i);
            if (s->lock_shared[i])
                s->lock_shared[i]--;
        } else if (flags & SQLITE_SHM_EXCLUSIVE) {
            s->lock_excl |= (unsigned char)(1u << i);
        } else {
            s->lock_shared[i]++;
        }
    }
    return SQLITE_OK;
}

static void ovShmBarrier(sqlite3_file *f)
{
    (void)f;
    atomic_thread_fence(memory_order_seq_cst);
}

static int ovShmUnmap(sqlite3_file *f, int deleteFlag)
{
    struct ovFile *p = (struct ovFile *)f;
    int i;

    (void)deleteFlag; /* the real -shm is not ours to delete */
    if (!p->is_db || !p->o)
        return SQLITE_OK;
    for (i = 0; i < p->o->shm.n; i++)
        free(p->o->shm.region[i]);
    p->o->shm.n = 0;
    p->o->shm.seen_ok = 0;
    ptmSqlShmViewUnmap(&p->o->shm.view);
    return SQLITE_OK;
}

static const sqlite3_io_methods ovMethods = {
    .iVersion = 2,
    .xClose = ovClose,
    .xRead = ovRead,
    .xWrite = ovWrite,
    .xTruncate = ovTruncate,
    .xSync = ovSync,
    .xFileSize = ovFileSize,
    .xLock = ovLock,
    .xUnlock = ovUnlock,
    .xCheckReservedLock = ovCheckReservedLock,
    .xFileControl = ovFileControl,
    .xSectorSize = ovSectorSize,
    .xDeviceCharacteristics = ovDeviceCharacteristics,
    .xShmMap = ovShmMap,
    .xShmLock = ovShmLock,
    .xShmBarrier = ovShmBarrier,
    .xShmUnmap = ovShmUnmap,
};

/* ---------------------------------------------------------------------
** The VFS.
*/
static _Thread_local struct ptmSqlOverlay *overlays; /* this thread's */
static _Thread_local struct ptmSqlOverlay *opening;  /* in sqlite3_open_v2 */

static sqlite3_vfs *realVfs(sqlite3_vfs *vfs)
{
    return (sqlite3_vfs *)vfs->pAppData;
}

/* suffixed: whether name is an overlay's path followed by suffix; the
** overlay, or NULL. */
static struct ptmSqlOverlay *overlayOf(const char *name, const char *suffix)
{
    size_t n = name ? strlen(name) : 0, k = strlen(suffix);
    struct ptmSqlOverlay *o;

    if (n <= k || strcmp(name + n - k, suffix) != 0)
        return NULL;
    for (o = overlays; o; o = o->next)
        if (o->name && strlen(o->name) == n - k && memcmp(o->name, name, n - k) == 0)
            return o;
    if (opening && opening->name && strlen(opening->name) == n - k &&
        memcmp(opening->name, name, n - k) == 0)
        return opening;
    return NULL;
}

static int realExists(const char *path)
{
    struct stat st;
    return ptmOs.stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > 0);
}

static int ovOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags)
{
    struct ovFile *p = (struct ovFile *)f;
    struct ptmSqlOverlay *o = NULL;

    (void)vfs;
    memset(p, 0, sizeof *p);
    ptmSqlMemInit(&p->own);
    p->mf = &p->own;
    if (flags & SQLITE_OPEN_MAIN_DB) {
        o = opening;
        if (!o || !name || o->name)
            return SQLITE_CANTOPEN; /* only ptmSqlOverlayOpen opens databases */
        if (!(o->name = strdup(name)))
            return SQLITE_NOMEM;
        if (rebase(&o->dbf, o->name) != 0)
            return SQLITE_CANTOPEN;
        p->mf = &o->dbf;
        p->is_db = 1;
    } else if ((flags & SQLITE_OPEN_WAL) && (o = overlayOf(name, "-wal"))) {
        if (rebase(&o->wal, name) != 0)
            return SQLITE_CANTOPEN;
        p->mf = &o->wal;
    } else if ((flags & SQLITE_OPEN_MAIN_JOURNAL) && (o = overlayOf(name, "-journal"))) {
        struct ptmSqlMemFile *j = &o->journal;
        if (!j->exists) {
            /* The overlay's own journal starts empty; without CREATE it is
            ** a hot journal to read. */
            ptmSqlMemDrop(j);
            j->fd = -1;
            if (!(flags & SQLITE_OPEN_CREATE)) {
                if (j->hidden || !realExists(name))
                    return SQLITE_CANTOPEN;
                rebase(j, name);
            }
            j->exists = 1;
        }
        p->mf = j;
    } else {
        o = NULL; /* temp files, sub-journals, super-journals: memory only */
    }
    p->o = o;
    if (o && o != opening)
        repin(o);
    p->base.pMethods = &ovMethods;
    if (outFlags)
        *outFlags = flags;
    return SQLITE_OK;
}

static int ovDelete(sqlite3_vfs *vfs, const char *name, int syncDir)
{
    struct ptmSqlOverlay *o;

    (void)vfs;
    (void)syncDir;
    if ((o = overlayOf(name, "-journal"))) {
        ptmSqlMemDrop(&o->journal);
        o->journal.exists = 0;
        o->journal.fd = -1;
        o->journal.hidden = 1; /* a real one stays unseen until Begin */
    } else if ((o = overlayOf(name, "-wal"))) {
        ptmSqlMemDrop(&o->wal);
    }
    return SQLITE_OK;
}

static int ovAccess(sqlite3_vfs *vfs, const char *name, int what, int *out)
{
    struct ptmSqlOverlay *o;

    if ((o = overlayOf(name, "-journal"))) {
        if (o->journal.exists)
            *out = 1;
        else
            *out = !o->journal.hidden && realExists(name);
        return SQLITE_OK;
    }
    if ((o = overlayOf(name, "-wal")) && o->wal.dirty && what == SQLITE_ACCESS_EXISTS) {
        *out = 1;
        return SQLITE_OK;
    }
    return realVfs(vfs)->xAccess(realVfs(vfs), name, what, out);
}

static int ovFullPathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return realVfs(vfs)->xFullPathname(realVfs(vfs), name, n, out);
}

static void *ovDlOpen(sqlite3_vfs *vfs, const char *name)
{
    return realVfs(vfs)->xDlOpen(realVfs(vfs), name);
}

static void ovDlError(sqlite3_vfs *vfs, int n, char *msg)
{
    realVfs(vfs)->xDlError(realVfs(vfs), n, msg);
}

static void (*ovDlSym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return realVfs(vfs)->xDlSym(realVfs(vfs), h, sym);
}

static void ovDlClose(sqlite3_vfs *vfs, void *h)
{
    realVfs(vfs)->xDlClose(realVfs(vfs), h);
}

static int ovRandomness(sqlite3_vfs *vfs, int n, char *out)
{
    return realVfs(vfs)->xRandomness(realVfs(vfs), n, out);
}

static int ovSleep(sqlite3_vfs *vfs, int us)
{
    return realVfs(vfs)->xSleep(realVfs(vfs), us);
}

static int ovCurrentTime(sqlite3_vfs *vfs, double *now)
{
    return realVfs(vfs)->xCurrentTime(realVfs(vfs), now);
}

/* The errno of the overlay's last failed open on this thread, which
** sqlite3_system_errno() then gives (the shims map SQLITE_CANTOPEN by it). */
static int ovGetLastError(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    if (n > 0 && msg)
        snprintf(msg, (size_t)n, "%s", lastErrno ? strerror(lastErrno) : "");
    return lastErrno;
}

static int ovCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *now)
{
    sqlite3_vfs *r = realVfs(vfs);
    double d;
    int rc;

    if (r->iVersion >= 2 && r->xCurrentTimeInt64)
        return r->xCurrentTimeInt64(r, now);
    rc = r->xCurrentTime(r, &d);
    *now = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

static sqlite3_vfs ovVfs = {
    .iVersion = 2,
    .szOsFile = sizeof(struct ovFile),
    .zName = "ptm-overlay",
    .xOpen = ovOpen,
    .xDelete = ovDelete,
    .xAccess = ovAccess,
    .xFullPathname = ovFullPathname,
    .xDlOpen = ovDlOpen,
    .xDlError = ovDlError,
    .xDlSym = ovDlSym,
    .xDlClose = ovDlClose,
    .xRandomness = ovRandomness,
    .xSleep = ovSleep,
    .xCurrentTime = ovCurrentTime,
    .xGetLastError = ovGetLastError,
    .xCurrentTimeInt64 = ovCurrentTimeInt64,
};

static pthread_once_t vfsOnce = PTHREAD_ONCE_INIT;
static int vfsRc = SQLITE_ERROR;
static pthread_key_t threadKey;

/* Closes the overlays of a thread that exits (never their descriptors). */
static void threadExit(void *unused)
{
    struct ptmSqlOverlay *o = overlays, *next;

    (void)unused;
    overlays = NULL;
    for (; o; o = next) {
        next = o->next;
        sqlite3_finalize(o->rollback);
        unpin(o); /* its descriptors may close now (ptmSqlPinSet) */
        if (o->db && sqlite3_close(o->db) != SQLITE_OK)
            continue; /* statements left: leak it rather than free under them */
        ptmSqlMemFree(&o->journal);
        ptmSqlMemFree(&o->dbf);
        ptmSqlMemFree(&o->wal);
        free(o->name);
        free(o->path);
        free(o);
    }
}

static void vfsRegister(void)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);

    if (!real || pthread_key_create(&threadKey, threadExit) != 0)
        return;
    ovVfs.mxPathname = real->mxPathname;
    ovVfs.pAppData = real;
    vfsRc = sqlite3_vfs_register(&ovVfs, 0);
}

/* ---------------------------------------------------------------------
** Overlays.
*/
/* shmVersion: v's -shm part from the first VERSION_SHM_READ bytes of the
** real -shm, read whole or in part (got bytes; < 0: not read). */
static void shmVersion(struct dbVersion *v, const unsigned char *buf, ssize_t got)
{
    v->have_shm = got >= 0;
    memset(v->shm, 0, sizeof v->shm);
    memset(v->attempted, 0, sizeof v->attempted);
    if (got > 0)
        memcpy(v->shm, buf, (size_t)got < sizeof v->shm ? (size_t)got : sizeof v->shm);
    if (got >= VERSION_SHM_READ)
        memcpy(v->attempted, buf + SHM_ATTEMPTED, sizeof v->attempted);
}

/* readVersion: what the real database is now, through the descriptors
** Begin chose (no stat: End must cost little).  In WAL mode one read of
** the -shm: the database file is then written only by a checkpoint, which
** sets nBackfillAttempted before its first write there (and nBackfill
** after), or by a connection leaving WAL mode, which needs every other
** connection closed (an open WAL connection holds a SHARED lock on the
** database: the host's, whose calls the mirror runs).  So the database's
** header is Begin's while the -shm's bytes are. */
static void readVersion(struct ptmSqlOverlay *o, struct dbVersion *v)
{
    unsigned char buf[VERSION_SHM_READ];

    memset(v, 0, sizeof *v);
    if (o->wal_mode && o->shm.fd >= 0) {
        v->have_db = o->ver.have_db;
        memcpy(v->hdr, o->ver.hdr, sizeof v->hdr);
        shmVersion(v, buf, ptmSqlPreadFull(o->shm.fd, buf, sizeof buf, 0));
        return;
    }
    if (o->dbf.fd >= 0)
        v->have_db = ptmSqlPreadFull(o->dbf.fd, v->hdr, sizeof v->hdr, 0) == (ssize_t)sizeof v->hdr;
}

/* SQLite's progress handler on an overlay connection: a statement that
** runs past the mirror's deadline stops with SQLITE_INTERRUPT when the
** watchdog sets ptm_mirror_cancel, instead of waiting for the watchdog's
** last resort, a signal whose jump out of SQLite would leave its mutexes
** held (the host's next SQLite call would hang on them). */
static int cancelled(void *unused)
{
    (void)unused;
    return ptm_mirror_cancel != 0;
}

/*
** ptmSqlOverlayOpen: see sqlite_int.h.  After SQLITE_CANTOPEN, errno is
** the system's reason when there was one (EACCES).  The connection is opened without
** SQLITE_OPEN_URI (path is a plain file name, as sqlite3_db_filename gives
** it), never checkpoints (wal_autocheckpoint 0, no checkpoint on close),
** keeps temp tables in memory, and stops a statement at the mirror's
** deadline (cancelled).
*/
int ptmSqlOverlayOpen(const char *path, struct ptmSqlOverlay **out)
{
    struct ptmSqlOverlay *o;
    const char *slash;
    int rc;

    *out = NULL;
    if (!path || !*path)
        return SQLITE_CANTOPEN;
    for (o = overlays; o; o = o->next)
        if (strcmp(o->path, path) == 0) {
            *out = o;
            return SQLITE_OK;
        }
    pthread_once(&vfsOnce, vfsRegister);
    if (vfsRc != SQLITE_OK)
        return vfsRc;
    o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(path))) {
        free(o);
        return SQLITE_NOMEM;
    }
    slash = strrchr(o->path, '/');
    o->base = slash ? (char *)slash + 1 : o->path;
    ptmSqlMemInit(&o->dbf);
    ptmSqlMemInit(&o->wal);
    ptmSqlMemInit(&o->journal);
    o->shm.fd = -1;
    o->head_got = -1;
    for (int k = 0; k < PTM_SQL_PINS; k++)
        o->pinned[k] = -1;
    lastErrno = 0;
    opening = o;
    ptmShimCalling++;
    rc = sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                         SQLITE_OPEN_NOMUTEX, ovVfs.zName);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(o->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_wal_autocheckpoint(o->db, 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(o->db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sqlite3_progress_handler(o->db, PROGRESS_OPS, cancelled, NULL);
    ptmShimCalling--;
    opening = NULL;
    if (rc != SQLITE_OK) {
        int err = rc == SQLITE_CANTOPEN ? sqlite3_system_errno(o->db) : 0;
        sqlite3_close(o->db);
        unpin(o);
        ptmSqlMemFree(&o->dbf);
        ptmSqlMemFree(&o->wal);
        ptmSqlMemFree(&o->journal);
        free(o->name);
        free(o->path);
        free(o);
        lastErrno = 0;
        if (err)
            errno = err;
        return rc;
    }
    repin(o);
    o->next = overlays;
    overlays = o;
    pthread_setspecific(threadKey, o);
    *out = o;
    return SQLITE_OK;
}

/* ptmSqlOverlayDb: see sqlite_int.h. */
sqlite3 *ptmSqlOverlayDb(struct ptmSqlOverlay *o)
{
    return o->db;
}

/* ptmSqlOverlaySetCall: see sqlite_int.h. */
void ptmSqlOverlaySetCall(struct ptmSqlOverlay *o, unsigned call)
{
    o->call = call;
}

/* dropWrites: forgets what the overlay wrote; whether it wrote anything
** to the database or its -wal. */
static int dropWrites(struct ptmSqlOverlay *o)
{
    int wrote = o->dbf.dirty || o->dbf.used || o->wal.dirty || o->wal.used;

    ptmSqlMemDrop(&o->dbf);
    ptmSqlMemDrop(&o->wal);
    ptmSqlMemDrop(&o->journal);
    o->journal.exists = 0;
    o->journal.hidden = 0;
    o->journal.fd = -1;
    return wrote;
}

/* shmReread: the whole private copy of the WAL index read again from the
** real -shm; its header is then the version Begin records.  Whether the
** header is the one seen last time (same). */
static int shmReread(struct ptmSqlOverlay *o, int *rc)
{
    int i, same;

    for (i = 0; i < o->shm.n; i++) {
        int r = shmFill(&o->shm, i, 32768);
        if (*rc == SQLITE_OK)
            *rc = r;
    }
    shmVersion(&o->ver, o->shm.region[0], VERSION_SHM_READ);
    same = o->shm.seen_ok && memcmp(o->ver.shm, o->shm.seen, sizeof o->shm.seen) == 0;
    memcpy(o->shm.seen, o->shm.region[0], sizeof o->shm.seen);
    o->shm.seen_ok = o->ver.have_shm = o->shm.fd >= 0 && *rc == SQLITE_OK;
    o->shm.written = 0;
    return same;
}

/* walSameFile: whether the -wal is surely the file o->wal reads: the -shm
** is the one of the last Begin (shmRebase keeps seen_ok) and the WAL's
** salt there is the same.  A -wal is only ever deleted together with its
** -shm (the last connection's close), which the -shm's new inode shows,
** so no stat of the -wal is needed while both hold. */
static int walSameFile(const struct ptmSqlOverlay *o, const unsigned char *was_seen, int seen_ok)
{
    return o->wal.fd >= 0 && seen_ok && o->ver.have_shm &&
           memcmp(o->ver.shm + 32, was_seen + 32, 8) == 0;
}

/* readHead: the database's first block, read now: what SQLite's reads of
** its header and page 1 in this mirror get, and the header's version. */
static void readHead(struct ptmSqlOverlay *o)
{
    o->head_got = o->dbf.fd >= 0 ? ptmSqlPreadFull(o->dbf.fd, o->head, sizeof o->head, 0) : -1;
    if (o->head_got < 0)
        return;
    o->dbf.head = o->head;
    o->dbf.head_len = (size_t)o->head_got;
    o->ver.have_db = o->head_got >= (ssize_t)sizeof o->ver.hdr;
    if (o->ver.have_db)
        memcpy(o->ver.hdr, o->head, sizeof o->ver.hdr);
}

/* headStill: whether the first block of the database read at the last
** Begin (was, whose stat was was_st) is still what the file holds, in WAL
** mode, without reading it: the same file, size and mtime, and the -shm
** (o->ver, just read) shows no checkpoint since nor one under way (the
** same salt, nBackfill and nBackfillAttempted, the last two equal); see
** readVersion for why a checkpoint is the only writer to watch. */
static int headStill(const struct ptmSqlOverlay *o, const struct dbVersion *was,
                     const struct stat *was_st)
{
    const struct stat *st = &o->db_st;
    return o->head_got >= 0 && was->have_db && was->have_shm && o->ver.have_shm &&
           st->st_ino && st->st_dev == was_st->st_dev && st->st_ino == was_st->st_ino &&
           st->st_size == was_st->st_size && st->st_mtim.tv_sec == was_st->st_mtim.tv_sec &&
           st->st_mtim.tv_nsec == was_st->st_mtim.tv_nsec &&
           memcmp(o->ver.shm + 32, was->shm + 32, 8) == 0 &&
           memcmp(o->ver.shm + 96, was->shm + 96, 4) == 0 &&
           memcmp(o->ver.attempted, was->attempted, 4) == 0 &&
           memcmp(o->ver.shm + 96, o->ver.attempted, 4) == 0;
}

/* stillOwn: whether mf's descriptor still names the file it was opened on:
** the program may have closed the number and got it again for a file of
** its own (privateFd).  A missing descriptor is still its own. */
static int stillOwn(const struct ptmSqlMemFile *mf)
{
    struct stat st;
    return mf->fd < 0 ||
           (ptmOs.fstat(mf->fd, &st) == 0 && st.st_dev == mf->dev && st.st_ino == mf->ino);
}

/* refreshShm: the copy of the WAL index brought up to the real -shm, in
** place: through its mapping what moved (sqlite_wal.c), else (no mapping:
** mmap refused) read again whole when it changed or the last mirror wrote
** into it, else its header only; o->ver's -shm part; the -wal opened again
** when it may be another file. */
static void refreshShm(struct ptmSqlOverlay *o, int *rc)
{
    char path[PATH_MAX + 8];
    unsigned char was_seen[VERSION_SHM_BYTES], buf[VERSION_SHM_READ];
    int same, seen_ok, intact;
    struct stat st;

    shmStat(o, &st);
    seen_ok = o->shm.seen_ok;
    memcpy(was_seen, o->shm.seen, sizeof was_seen);
    /* Intact: SQLite wrote neither beyond read marks into the copy (the
    ** locks it took, frames of the overlay's say it did) nor its header (a
    ** restart whose frames then failed to be written leaves no other
    ** trace). */
    intact = o->shm.n && !o->shm.written && memcmp(o->shm.region[0], was_seen, sizeof was_seen) == 0;
    if (o->shm.n && o->shm.fd >= 0 &&
        ptmSqlShmViewMap(&o->shm.view, o->shm.fd, o->shm.dev, o->shm.ino,
                         (size_t)o->shm.n * PTM_SQL_SHM_REGION) == 0) {
        unsigned char hdr[PTM_SQL_SHM_HDR];
        ptmSqlShmCopy(&o->shm.view, st.st_size, o->shm.region, o->shm.n,
                      seen_ok ? was_seen : NULL, intact, hdr);
        shmVersion(&o->ver, hdr, VERSION_SHM_READ);
        same = seen_ok && memcmp(hdr, was_seen, sizeof was_seen) == 0;
        memcpy(o->shm.seen, hdr, sizeof o->shm.seen);
        o->shm.seen_ok = o->ver.have_shm = 1;
        o->shm.written = 0;
    } else if (o->shm.n && o->shm.fd >= 0 && (!intact || !o->shm.seen_ok)) {
        /* The copy is read again whole in any case (the last mirror wrote
        ** into it, or it is another -shm's): one pread fewer. */
        same = shmReread(o, rc);
    } else {
        if (o->shm.fd >= 0)
            shmVersion(&o->ver, buf, ptmSqlPreadFull(o->shm.fd, buf, sizeof buf, 0));
        o->ver.have_shm = o->ver.have_shm && o->shm.fd >= 0;
        same = o->shm.seen_ok && o->ver.have_shm &&
               memcmp(o->ver.shm, o->shm.seen, sizeof o->shm.seen) == 0;
        if (o->shm.n && (!same || !intact))
            shmReread(o, rc);
    }
    snprintf(path, sizeof path, "%s-wal", o->name);
    if (!same && !walSameFile(o, was_seen, seen_ok) && rebase(&o->wal, path) != 0)
        *rc = SQLITE_CANTOPEN;
    else if ((o->wal.fd < 0 || !stillOwn(&o->wal)) && rebase(&o->wal, path) != 0)
        *rc = SQLITE_CANTOPEN;
    if (*rc == SQLITE_OK)
        walFreshFrom(o);
}

/* refresh: the real files as they are now: a database or -wal replaced
** since (a new inode) is read from its new file, and the copy of the WAL
** index is read again, in place; o->ver is what they are, and the first
** block of the database is kept for SQLite's reads of its header and
** page 1 in this mirror (the version read and SQLite's are one pread).
** In WAL mode (the overlay connection mapped the -shm before) the -shm
** comes first, and that block is read only when headStill says it may
** have changed. */
static void refresh(struct ptmSqlOverlay *o, int *rc)
{
    struct stat st, was_st = o->db_st;
    struct dbVersion was = o->ver;

    /* The descriptor's fstat while the file is linked (see shmStat: a
    ** database deleted or renamed over has a link count of 0), else the
    ** path's.  A descriptor that no longer names its file (the program
    ** closed the number and got it again: stillOwn) is opened again. */
    int own = o->dbf.fd >= 0 && ptmOs.fstat(o->dbf.fd, &st) == 0 &&
              st.st_dev == o->dbf.dev && st.st_ino == o->dbf.ino;
    if (!(own && st.st_nlink > 0) && ptmOs.stat(o->name, &st) != 0)
        memset(&st, 0, sizeof st);
    o->db_st = st;
    if (!st.st_ino)
        o->dbf.fd = -1; /* gone: an empty database */
    else if ((!own || st.st_dev != o->dbf.dev || st.st_ino != o->dbf.ino) &&
             rebase(&o->dbf, o->name) != 0)
        *rc = SQLITE_CANTOPEN;
    memset(&o->ver, 0, sizeof o->ver);
    if (o->shm.n > 0 && o->dbf.fd >= 0) {
        o->wal_mode = 1;
        refreshShm(o, rc);
        if (!headStill(o, &was, &was_st)) {
            readHead(o);
        } else {
            o->dbf.head = o->head;
            o->dbf.head_len = (size_t)o->head_got;
            o->ver.have_db = was.have_db;
            memcpy(o->ver.hdr, was.hdr, sizeof o->ver.hdr);
        }
        return;
    }
    readHead(o);
    o->wal_mode = o->shm.n > 0 || (o->ver.have_db && (o->ver.hdr[18] == 2 || o->ver.hdr[19] == 2));
    if (o->wal_mode)
        refreshShm(o, rc);
}

/* rollBack: ends the overlay connection's open transaction, if any, by
** the ROLLBACK statement kept prepared (one parse per overlay, not one per
** mirror). */
static void rollBack(struct ptmSqlOverlay *o)
{
    if (sqlite3_get_autocommit(o->db))
        return;
    if (!o->rollback &&
        sqlite3_prepare_v3(o->db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &o->rollback,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(o->rollback);
        o->rollback = NULL;
        sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
        return;
    }
    sqlite3_step(o->rollback);
    sqlite3_reset(o->rollback);
}

/* keepReads: what the reads kept by earlier mirrors are valid for, from
** what refresh just saw: they are dropped when it differs from the last
** Begin's, and this mirror keeps reads only where that is known (a
** readable header; in WAL mode a -shm whose two headers agree, and -wal
** frames below the committed end only). */
static void keepReads(struct ptmSqlOverlay *o)
{
    struct keptKey k;

    memset(&k, 0, sizeof k);
    k.ok = o->ver.have_db && o->dbf.fd >= 0 && (!o->wal_mode || o->ver.have_shm);
    k.wal_mode = o->wal_mode;
    k.ddev = o->dbf.dev;
    k.dino = o->dbf.ino;
    k.dsize = o->db_st.st_size;
    k.dmtime = o->db_st.st_mtim;
    memcpy(k.hdr, o->ver.hdr, sizeof k.hdr);
    if (o->wal_mode) {
        k.wdev = o->wal.dev;
        k.wino = o->wal.ino;
        memcpy(k.salt, o->ver.shm + 32, sizeof k.salt);
        memcpy(k.backfill, o->ver.shm + 96, sizeof k.backfill);
    }
    if (!k.ok || memcmp(&k, &o->key, sizeof k) != 0) {
        ptmSqlKeptFlush(&o->dbf);
        ptmSqlKeptFlush(&o->wal);
        /* SQLite's own cache too: it trusts a change counter that a file
        ** put in the database's place may share with the old one. */
        sqlite3_db_release_memory(o->db);
    }
    memcpy(&o->key, &k, sizeof k); /* padding included: compared whole */
    o->dbf.keep_below = k.ok ? INT64_MAX : 0;
    walKeepBelow(o);
}

/* ptmSqlOverlayBegin: see sqlite_int.h.  After a mirror that wrote, every
** cached page is dropped (sqlite3_db_release_memory once no transaction is
** open): SQLite keeps its cache when the change counter it reads equals
** the one it last saw, which the overlay's own discarded commit may have
** set to the very value a real writer then wrote.  After a mirror that
** only read, the cache is SQLite's own to check, as any connection's. */
int ptmSqlOverlayBegin(struct ptmSqlOverlay *o, enum ptmSqlBusy busy)
{
    int rc = SQLITE_OK, wrote;

    if (o->active && o->mirror == ptmMirrorCurrent &&
        (!ptmMirrorCurrent || o->mirror_t0 == ptmMirrorCurrent->t0_ns)) {
        o->busy = busy;
        return SQLITE_OK;
    }
    rollBack(o);
    if (o->active) {
        /* A mirror that ended without End, maybe inside the copy of the
        ** WAL index (a fault in the mapping: the -shm shrank): the copy
        ** is read whole, through a new mapping. */
        ptmSqlShmViewUnmap(&o->shm.view);
        o->shm.seen_ok = 0;
    }
    wrote = dropWrites(o);
    if (wrote)
        o->shm.written = 1;
    if (wrote || o->stale || o->active)
        sqlite3_db_release_memory(o->db);
    if (o->stale || o->active) {
        ptmSqlKeptFlush(&o->dbf);
        ptmSqlKeptFlush(&o->wal);
    }
    o->stale = 0;
    /* Active from here: a mirror stopped inside refresh leaves it so. */
    o->active = 1;
    o->mirror = ptmMirrorCurrent;
    o->mirror_t0 = ptmMirrorCurrent ? ptmMirrorCurrent->t0_ns : 0;
    refresh(o, &rc);
    keepReads(o);
    o->busy = busy;
    o->reported = 0;
    repin(o);
    return rc == SQLITE_IOERR_SHMMAP ? SQLITE_IOERR_READ : rc;
}

/* ptmSqlOverlayEnd: see sqlite_int.h. */
int ptmSqlOverlayEnd(struct ptmSqlOverlay *o)
{
    struct dbVersion now;
    int changed;

    rollBack(o);
    readVersion(o, &now);
    changed = memcmp(&now, &o->ver, sizeof now) != 0;
    /* Pages read while a writer held its lock, or while the database
    ** changed, may be torn under a change counter that looks current. */
    o->stale = dropWrites(o);
    if (o->stale)
        o->shm.written = 1; /* its frames went into the copy of the index */
    o->stale = o->stale || changed || o->reported;
    if (changed || o->reported) {
        ptmSqlKeptFlush(&o->dbf);
        ptmSqlKeptFlush(&o->wal);
    }
    o->dbf.keep_below = o->wal.keep_below = 0;
    o->active = 0;
    repin(o);
    return changed;
}

/* ptmSqlOverlayAbandon: see sqlite_int.h.  Its private descriptors stay
** in the process-wide table, as every descriptor does. */
static _Atomic unsigned abandonedCount;

void ptmSqlOverlayAbandon(struct ptmSqlOverlay *o)
{
    int i;

    for (struct ptmSqlOverlay **pp = &overlays; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    o->next = NULL;
    o->active = 0;
    unpin(o); /* its connection is never used again */
    /* Nor are its files and its copy of the WAL index, which only that
    ** connection points to: what the overlay wrote and kept goes back to
    ** the thread's budget.  The connection itself leaks. */
    ptmSqlMemFree(&o->dbf);
    ptmSqlMemFree(&o->wal);
    ptmSqlMemFree(&o->journal);
    for (i = 0; i < o->shm.n; i++)
        free(o->shm.region[i]);
    o->shm.n = 0;
    ptmSqlShmViewUnmap(&o->shm.view);
    atomic_fetch_add_explicit(&abandonedCount, 1, memory_order_relaxed);
}

/* ptmSqlOverlaysAbandoned: see sqlite_int.h. */
unsigned ptmSqlOverlaysAbandoned(void)
{
    return atomic_load_explicit(&abandonedCount, memory_order_relaxed);
}

/* ptmSqlOverlayCommitFree: see sqlite_int.h.  The WAL index mapped is
** what says the connection is in WAL mode (an exclusive-locking WAL
** connection maps none, and is treated as rollback mode: probed). */
int ptmSqlOverlayCommitFree(struct ptmSqlOverlay *o)
{
    pid_t pid;

    if (o->shm.n > 0 || o->lock >= SQLITE_LOCK_EXCLUSIVE)
        return 1;
    return !probe(o->dbf.fd, F_WRLCK, PENDING_BYTE, 1, &pid) &&
           !probe(o->dbf.fd, F_WRLCK, SHARED_FIRST, SHARED_SIZE, &pid);
}

/* ptmSqlWalWriteHeld: see sqlite_int.h. */
int ptmSqlWalWriteHeld(int fd)
{
    pid_t pid;
    return probe(fd, F_WRLCK, WAL_LOCK_FIRST, 1, &pid);
}
