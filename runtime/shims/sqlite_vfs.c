/*
** shims/sqlite_vfs.c - the SQLite overlay: a VFS ("ptm-overlay") that reads
** the real database and writes nothing, and the per-thread overlay
** connections of sqlite_int.h's first section.
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
** inode and are NEVER closed: closing any descriptor of a file drops every
** POSIX lock the process holds on it, the host's included.  xClose of an
** overlay file frees only memory.
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
** (see "Real bytes kept across mirrors").  A mirror's COMMIT is usually a
** check (sqlite_sql.c, ptmSqlCommitCheckable): its transaction stays open
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_int.h"

#define BLOCK 4096                  /* the overlay's unit of memory */
#define SHM_REGION_MAX 64           /* 2 MiB of wal-index: ~250k frames */
#define PROBE_RETRIES 16            /* EINTR retries of one pread */
#define PROGRESS_OPS 1000           /* VM steps between deadline checks */

/* SQLite's lock bytes (os_unix.c / os.h), for the default 1 GiB PENDING_BYTE. */
#define PENDING_BYTE 0x40000000
#define RESERVED_BYTE (PENDING_BYTE + 1)
#define SHARED_FIRST (PENDING_BYTE + 2)
#define SHARED_SIZE 510
#define WAL_LOCK_FIRST 120          /* WALINDEX_LOCK_OFFSET in -shm */
#define VERSION_SHM_BYTES 100       /* both wal-index headers and nBackfill */
#define WAL_HDR_BYTES 48            /* one wal-index header (WalIndexHdr) */
#define WAL_FILE_HDR 32             /* the -wal's own header */
#define WAL_FRAME_HDR 24            /* before each page in the -wal */

/* The kinds of lock an event may name, one event per kind per mirror. */
enum lockKind { LK_SHARED, LK_RESERVED, LK_EXCLUSIVE, LK_WAL_WRITE, LK_WAL_CKPT, LK_COUNT };

/* One block of what the overlay wrote. */
struct block {
    sqlite3_int64 idx;              /* offset / BLOCK; -1: empty slot */
    unsigned char *data;
};

/* A file as the overlay sees it: an optional real base under a block map. */
struct memFile {
    int fd;                         /* private read-only descriptor; -1: none */
    dev_t dev;
    ino_t ino;
    int dirty;                      /* written or truncated: size is ours */
    int exists;                     /* journals: exists in memory */
    int hidden;                     /* journals: deleted, the real one unseen */
    sqlite3_int64 size;             /* logical size when dirty */
    sqlite3_int64 base_limit;       /* real bytes at or past it read as zeros */
    const unsigned char *head;      /* the first bytes of the real file as
                                       Begin read them, served to reads within
                                       them until the file is written; NULL: none */
    size_t head_len;
    sqlite3_int64 fresh_from;       /* a block first written at or past it
                                       starts as zeros, not as the real bytes:
                                       the -wal past its committed frames */
    struct block *map;              /* open addressing, cap a power of two */
    size_t cap, used;
    struct readCache *kept;         /* the database and its -wal: real bytes
                                       read by earlier mirrors (see keptGet) */
    sqlite3_int64 keep_below;       /* reads ending past it are not kept
                                       (0: none, in this mirror) */
};

/* The private copy of the WAL index. */
struct shmCopy {
    int fd;                         /* the real -shm's private descriptor; -1: none */
    dev_t dev;
    ino_t ino;
    int n;                          /* regions mapped */
    void *region[SHM_REGION_MAX];
    unsigned char lock_excl;        /* WAL locks held (bookkeeping) */
    unsigned short lock_shared[8];
    /* The real header as last copied whole, and whether SQLite may have
    ** written more than read marks into the copy since (an exclusive lock
    ** below the read marks: a write, checkpoint or recovery).  When neither
    ** the real header nor the copy changed, Begin reads only the header. */
    unsigned char seen[VERSION_SHM_BYTES];
    int seen_ok, written;
};

/* What ptmSqlOverlayBegin saw of the real database. */
struct dbVersion {
    int have_db, have_shm;
    unsigned char hdr[28];          /* the header up to the change counter (24) */
    unsigned char shm[VERSION_SHM_BYTES];
};

struct ptmSqlOverlay {
    struct ptmSqlOverlay *next;     /* this thread's list */
    char *path;                     /* the database, as ptmSqlOverlayOpen was given it */
    char *name;                     /* as SQLite names it (xFullPathname: links
                                       resolved): its -wal, -journal, -shm follow it */
    char *base;                     /* its basename, for events */
    sqlite3 *db;
    sqlite3_stmt *rollback;         /* "ROLLBACK", prepared once (NULL: exec it) */
    struct memFile dbf, wal, journal;
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
    unsigned char head[BLOCK];      /* the database's first block, read at Begin */
};

/* An open file of the VFS. */
struct ovFile {
    sqlite3_file base;
    struct ptmSqlOverlay *o;        /* NULL: a temp file of no overlay */
    struct memFile *mf;
    struct memFile own;             /* temp files: their content */
    int is_db;
};

/* ---------------------------------------------------------------------
** Private descriptors: one per file, opened once, never closed.
*/
struct privFd {
    dev_t dev;
    ino_t ino;
    int fd;
};
static struct privFd *privFds;
static size_t nPrivFds, capPrivFds;
static pthread_mutex_t privMu = PTHREAD_MUTEX_INITIALIZER;

/* A child of the host's fork() inherits the table but maybe a locked
** mutex. */
static void privAtforkChild(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    privMu = fresh;
}

/* The fork executor's child is made by a raw clone(), without
** pthread_atfork: alone in its process, it takes no lock on the table
** (one a host thread held across the clone would never be released).  The
** table is changed only on a first open, under the lock: a child cloned in
** that instant may miss the new entry, and opens its own. */
static void privLock(void)
{
    if (!ptmMirrorCurrent || !ptmMirrorCurrent->in_child)
        pthread_mutex_lock(&privMu);
}

static void privUnlock(void)
{
    if (!ptmMirrorCurrent || !ptmMirrorCurrent->in_child)
        pthread_mutex_unlock(&privMu);
}

/* privateFd: the private read-only descriptor of the file at path, opened
** on first use.  OUT: *st (its identity).  -1 (errno set) when the file
** cannot be opened; ENOENT: it does not exist. */
static int privateFd(const char *path, struct stat *st)
{
    int fd = -1;
    size_t i;

    if (ptmOs.stat(path, st) != 0)
        return -1;
    privLock();
    for (i = 0; i < nPrivFds; i++)
        if (privFds[i].dev == st->st_dev && privFds[i].ino == st->st_ino) {
            fd = privFds[i].fd;
            break;
        }
    if (fd < 0) {
        fd = ptmOs.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
        if (fd >= 0 && ptmOs.fstat(fd, st) != 0)
            memset(st, 0, sizeof *st); /* kept all the same: never closed */
        if (fd >= 0 && nPrivFds == capPrivFds) {
            size_t cap = capPrivFds ? capPrivFds * 2 : 16;
            struct privFd *more = realloc(privFds, cap * sizeof *more);
            if (more) {
                privFds = more;
                capPrivFds = cap;
            }
        }
        /* A full table that cannot grow leaks the descriptor rather than
        ** close it. */
        if (fd >= 0 && nPrivFds < capPrivFds)
            privFds[nPrivFds++] = (struct privFd){st->st_dev, st->st_ino, fd};
    }
    privUnlock();
    return fd;
}

/* rebase: points mf at the current file at path (it may have appeared,
** or been replaced by a new inode since).  0, or the errno of a file that
** exists but cannot be read (it must not read as empty); a missing file
** is 0 and reads as empty. */
static _Thread_local int lastErrno; /* xGetLastError: sqlite3_system_errno */

static int rebase(struct memFile *mf, const char *path)
{
    struct stat st;
    int fd = privateFd(path, &st), err = fd < 0 && errno != ENOENT ? errno : 0;
    if (err)
        lastErrno = err;
    mf->fd = fd;
    mf->dev = fd >= 0 ? st.st_dev : 0;
    mf->ino = fd >= 0 ? st.st_ino : 0;
    return err;
}

/* preadFull: up to n bytes at off from fd, retrying EINTR a few times and
** short reads; the count read (short at the end of the file), -1 on error. */
static ssize_t preadFull(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    int tries = 0;

    while (got < n) {
        ssize_t r = ptmOs.pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR && ++tries < PROBE_RETRIES)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ---------------------------------------------------------------------
** Memory files: a block map over an optional base.
*/
static size_t limitBytes = PTM_SQL_OVERLAY_MAX_BYTES;
static _Thread_local size_t usedBytes;

static size_t slotOf(const struct memFile *mf, sqlite3_int64 idx)
{
    return ((size_t)idx * 0x9E3779B97F4A7C15ull) & (mf->cap - 1);
}

static unsigned char *blockFind(const struct memFile *mf, sqlite3_int64 idx)
{
    size_t i;
    if (!mf->used)
        return NULL;
    for (i = slotOf(mf, idx); mf->map[i].idx != -1; i = (i + 1) & (mf->cap - 1))
        if (mf->map[i].idx == idx)
            return mf->map[i].data;
    return NULL;
}

static void blockPut(struct memFile *mf, sqlite3_int64 idx, unsigned char *data)
{
    size_t i = slotOf(mf, idx);
    while (mf->map[i].idx != -1)
        i = (i + 1) & (mf->cap - 1);
    mf->map[i] = (struct block){idx, data};
    mf->used++;
}

static int mapGrow(struct memFile *mf)
{
    size_t cap = mf->cap ? mf->cap * 2 : 16, i, old = mf->cap;
    struct block *map = malloc(cap * sizeof *map), *was = mf->map;
    if (!map)
        return 0;
    for (i = 0; i < cap; i++)
        map[i].idx = -1;
    mf->map = map;
    mf->cap = cap;
    mf->used = 0;
    for (i = 0; i < old; i++)
        if (was[i].idx != -1)
            blockPut(mf, was[i].idx, was[i].data);
    free(was);
    return 1;
}

/* memDrop: forgets everything written; the file is the real one again. */
static void memDrop(struct memFile *mf)
{
    size_t i;
    for (i = 0; i < mf->cap && mf->used; i++)
        if (mf->map[i].idx != -1) {
            free(mf->map[i].data);
            mf->map[i].idx = -1;
            mf->used--;
            usedBytes -= BLOCK;
        }
    if (mf->cap > 1024) { /* a big mirror's table is not kept for ever */
        free(mf->map);
        mf->map = NULL;
        mf->cap = 0;
    }
    mf->used = 0;
    mf->dirty = 0;
    mf->size = 0;
    mf->base_limit = INT64_MAX;
    mf->fresh_from = INT64_MAX;
    mf->head = NULL;
}

static void keptFree(struct memFile *mf);

static void memFree(struct memFile *mf)
{
    keptFree(mf);
    memDrop(mf);
    free(mf->map);
    mf->map = NULL;
    mf->cap = 0;
}

static void memInit(struct memFile *mf)
{
    memset(mf, 0, sizeof *mf);
    mf->fd = -1;
    mf->base_limit = INT64_MAX;
    mf->fresh_from = INT64_MAX;
}

/* ---------------------------------------------------------------------
** Real bytes kept across mirrors.  SQLite empties its page cache whenever
** another connection committed (the WAL header moved): the host's own
** primary, between two mirrors.  Reading the same pages again costs a
** pread each; these are kept here instead, for as long as they cannot
** have changed (keyFor): a -wal frame below the committed end never
** changes until the WAL restarts with a new salt, and the database file
** changes only through a checkpoint (nBackfill, its header) or, in
** rollback mode, a commit (its change counter).  Begin drops them all
** when any of that moved, End when the database changed during the mirror
** or a lock was found held.
*/
#define KEPT_SLOTS 64               /* per file: 256 KiB of 4 KiB pages */
#define KEPT_MAX_READ 65536

/* One read kept.  Direct-mapped by offset, each slot's buffer reused by the
** next read that lands in it: no allocation per read (a table that freed
** and allocated its pages cost more in malloc and page faults than the
** preads it saved). */
struct keptRead {
    sqlite3_int64 off;              /* -1: empty slot */
    int amt, cap;
    unsigned char *data;
};

struct readCache {
    struct keptRead slot[KEPT_SLOTS];
};

static void keptFlush(struct memFile *mf)
{
    size_t i;

    if (mf->kept)
        for (i = 0; i < KEPT_SLOTS; i++)
            mf->kept->slot[i].off = -1;
}

static void keptFree(struct memFile *mf)
{
    size_t i;

    if (mf->kept)
        for (i = 0; i < KEPT_SLOTS; i++)
            free(mf->kept->slot[i].data);
    free(mf->kept);
    mf->kept = NULL;
}

static struct keptRead *keptSlot(const struct memFile *mf, sqlite3_int64 off)
{
    return &mf->kept->slot[((size_t)off * 0x9E3779B97F4A7C15ull >> 40) & (KEPT_SLOTS - 1)];
}

/* keptGet: amt bytes at off, from what an earlier read kept; 1 when they
** were there (copied to buf). */
static int keptGet(const struct memFile *mf, void *buf, int amt, sqlite3_int64 off)
{
    const struct keptRead *k;

    if (!mf->kept || off + amt > mf->keep_below)
        return 0;
    k = keptSlot(mf, off);
    if (k->off != off || k->amt != amt)
        return 0;
    memcpy(buf, k->data, (size_t)amt);
    return 1;
}

/* keptPut: keeps the amt real bytes at off just read, in place of what
** its slot held (no memory: nothing kept). */
static void keptPut(struct memFile *mf, const void *buf, int amt, sqlite3_int64 off)
{
    struct keptRead *k;
    size_t i;

    if (amt <= 0 || amt > KEPT_MAX_READ || off < 0 || off + amt > mf->keep_below)
        return;
    if (!mf->kept) {
        if (!(mf->kept = calloc(1, sizeof *mf->kept)))
            return;
        for (i = 0; i < KEPT_SLOTS; i++)
            mf->kept->slot[i].off = -1;
    }
    k = keptSlot(mf, off);
    if (k->cap < amt) {
        unsigned char *more = realloc(k->data, (size_t)amt);
        if (!more) {
            k->off = -1;
            return;
        }
        k->data = more;
        k->cap = amt;
    }
    memcpy(k->data, buf, (size_t)amt);
    k->off = off;
    k->amt = amt;
}

/* realSize: the size of the base file; 0 when there is none. */
static int realSize(const struct memFile *mf, sqlite3_int64 *size)
{
    struct stat st;
    *size = 0;
    if (mf->fd < 0)
        return SQLITE_OK;
    if (ptmOs.fstat(mf->fd, &st) != 0)
        return SQLITE_IOERR_FSTAT;
    *size = st.st_size;
    return SQLITE_OK;
}

static int logicalSize(const struct memFile *mf, sqlite3_int64 *size)
{
    if (mf->dirty) {
        *size = mf->size;
        return SQLITE_OK;
    }
    return realSize(mf, size);
}

/* makeDirty: from the first write or truncation on, the size is ours. */
static int makeDirty(struct memFile *mf)
{
    int rc;
    if (mf->dirty)
        return SQLITE_OK;
    rc = realSize(mf, &mf->size);
    if (rc != SQLITE_OK)
        return rc;
    /* What a real writer appends from now on is not the overlay's file. */
    if (mf->base_limit > mf->size)
        mf->base_limit = mf->size;
    mf->dirty = 1;
    return SQLITE_OK;
}

/* baseRead: n bytes at off of the base, zeros where it has none. */
static int baseRead(const struct memFile *mf, unsigned char *buf, size_t n, sqlite3_int64 off)
{
    ssize_t got = 0;
    size_t want = n;

    if (off >= mf->base_limit)
        want = 0;
    else if ((sqlite3_int64)n > mf->base_limit - off)
        want = (size_t)(mf->base_limit - off);
    if (want && mf->fd >= 0) {
        got = preadFull(mf->fd, buf, want, (off_t)off);
        if (got < 0)
            return SQLITE_IOERR_READ;
    }
    memset(buf + got, 0, n - (size_t)got);
    return SQLITE_OK;
}

/* blockFor: the block idx, made from the base on first write of its bytes
** lo..hi (unless they are all of it, or the block lies wholly past
** fresh_from, where nothing the overlay reads back comes from the base). */
static int blockFor(struct memFile *mf, sqlite3_int64 idx, size_t lo, size_t hi,
                    unsigned char **out)
{
    unsigned char *b = blockFind(mf, idx);
    int rc;

    if (b) {
        *out = b;
        return SQLITE_OK;
    }
    if (usedBytes + BLOCK > limitBytes)
        return SQLITE_IOERR_NOMEM;
    if ((mf->used + 1) * 2 > mf->cap && !mapGrow(mf))
        return SQLITE_IOERR_NOMEM;
    b = malloc(BLOCK);
    if (!b)
        return SQLITE_IOERR_NOMEM;
    if ((lo == 0 && hi == BLOCK) || idx * BLOCK >= mf->fresh_from) {
        /* Only what this write leaves of the block is zeroed. */
        memset(b, 0, lo);
        memset(b + hi, 0, BLOCK - hi);
        rc = SQLITE_OK;
    } else {
        rc = baseRead(mf, b, BLOCK, idx * BLOCK);
    }
    if (rc != SQLITE_OK) {
        free(b);
        return rc;
    }
    blockPut(mf, idx, b);
    usedBytes += BLOCK;
    *out = b;
    return SQLITE_OK;
}

static int memRead(struct memFile *mf, void *out, int amt, sqlite3_int64 off)
{
    unsigned char *buf = out;
    sqlite3_int64 size, end = off + amt, pos = off;
    int rc;

    if (!mf->dirty && !mf->used) {
        /* Nothing written: one pread, the common case; none for the
        ** header and page 1, which Begin read. */
        ssize_t got = 0;
        if (mf->head && off >= 0 && off + amt <= (sqlite3_int64)mf->head_len) {
            memcpy(buf, mf->head + off, (size_t)amt);
            return SQLITE_OK;
        }
        if (keptGet(mf, buf, amt, off))
            return SQLITE_OK;
        if (mf->fd >= 0 && (got = preadFull(mf->fd, buf, (size_t)amt, (off_t)off)) < 0)
            return SQLITE_IOERR_READ;
        if (got < amt) {
            memset(buf + got, 0, (size_t)(amt - got));
            return SQLITE_IOERR_SHORT_READ;
        }
        keptPut(mf, buf, amt, off);
        return SQLITE_OK;
    }
    if ((rc = logicalSize(mf, &size)) != SQLITE_OK)
        return rc;
    while (pos < end && pos < size) {
        sqlite3_int64 idx = pos / BLOCK, stop = (idx + 1) * BLOCK;
        unsigned char *b = blockFind(mf, idx);
        if (stop > end)
            stop = end;
        if (stop > size)
            stop = size;
        if (b) {
            memcpy(buf + (pos - off), b + (pos - idx * BLOCK), (size_t)(stop - pos));
        } else {
            /* A run of unwritten blocks is one read of the base. */
            while (stop < end && stop < size && !blockFind(mf, stop / BLOCK))
                stop = stop + BLOCK - stop % BLOCK < end ? stop + BLOCK - stop % BLOCK : end;
            if (stop > size)
                stop = size;
            rc = baseRead(mf, buf + (pos - off), (size_t)(stop - pos), pos);
            if (rc != SQLITE_OK)
                return rc;
        }
        pos = stop;
    }
    if (pos < end) {
        memset(buf + (pos - off), 0, (size_t)(end - pos));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int memWrite(struct memFile *mf, const void *in, int amt, sqlite3_int64 off)
{
    const unsigned char *buf = in;
    sqlite3_int64 pos = off, end = off + amt;
    int rc = makeDirty(mf);

    while (rc == SQLITE_OK && pos < end) {
        sqlite3_int64 idx = pos / BLOCK, stop = (idx + 1) * BLOCK;
        unsigned char *b;
        if (stop > end)
            stop = end;
        rc = blockFor(mf, idx, (size_t)(pos - idx * BLOCK), (size_t)(stop - idx * BLOCK), &b);
        if (rc == SQLITE_OK)
            memcpy(b + (pos - idx * BLOCK), buf + (pos - off), (size_t)(stop - pos));
        pos = stop;
    }
    if (pos > mf->size)
        mf->size = pos;
    return rc;
}

/* mapCut: frees the blocks wholly at or past size, and rebuilds the map
** (open addressing has no simple delete). */
static int mapCut(struct memFile *mf, sqlite3_int64 size)
{
    struct memFile keep = *mf;
    size_t j;

    keep.map = NULL;
    keep.cap = keep.used = 0;
    while (keep.cap < mf->cap)
        if (!mapGrow(&keep)) {
            free(keep.map);
            return SQLITE_IOERR_NOMEM;
        }
    for (j = 0; j < mf->cap; j++) {
        if (mf->map[j].idx == -1)
            continue;
        if (mf->map[j].idx * BLOCK >= size) {
            free(mf->map[j].data);
            usedBytes -= BLOCK;
        } else {
            blockPut(&keep, mf->map[j].idx, mf->map[j].data);
        }
    }
    free(mf->map);
    *mf = keep;
    return SQLITE_OK;
}

static int memTruncate(struct memFile *mf, sqlite3_int64 size)
{
    int rc = makeDirty(mf);
    unsigned char *b;

    if (rc != SQLITE_OK)
        return rc;
    if (size < mf->size) {
        if ((b = blockFind(mf, size / BLOCK)) && size % BLOCK)
            memset(b + size % BLOCK, 0, BLOCK - (size_t)(size % BLOCK));
        if (mf->used && (rc = mapCut(mf, (size + BLOCK - 1) / BLOCK * BLOCK)) != SQLITE_OK)
            return rc;
        if (mf->base_limit > size)
            mf->base_limit = size;
    }
    mf->size = size;
    return SQLITE_OK;
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
        memFree(&p->own);
    else if (p->o && p->mf != &p->o->journal)
        memDrop(p->mf);
    if (p->is_db && p->o)
        p->o->lock = SQLITE_LOCK_NONE;
    return SQLITE_OK;
}

static int ovRead(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    return memRead(((struct ovFile *)f)->mf, buf, amt, off);
}

static int ovWrite(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    return memWrite(((struct ovFile *)f)->mf, buf, amt, off);
}

static int ovTruncate(sqlite3_file *f, sqlite3_int64 size)
{
    return memTruncate(((struct ovFile *)f)->mf, size);
}

static int ovSync(sqlite3_file *f, int flags)
{
    (void)f;
    (void)flags;
    return SQLITE_OK;
}

static int ovFileSize(sqlite3_file *f, sqlite3_int64 *size)
{
    return logicalSize(((struct ovFile *)f)->mf, size);
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
    if (s->fd >= 0 && (got = preadFull(s->fd, s->region[i], (size_t)size, (off_t)i * size)) < 0) {
        memset(s->region[i], 0, (size_t)size);
        return SQLITE_IOERR_SHMMAP;
    }
    memset((char *)s->region[i] + got, 0, (size_t)size - (size_t)got);
    return SQLITE_OK;
}

static void shmRebase(struct ptmSqlOverlay *o)
{
    char path[PATH_MAX + 8];
    struct memFile m;
    shmPath(o, path, sizeof path);
    memInit(&m);
    rebase(&m, path);
    if (m.fd != o->shm.fd || m.dev != o->shm.dev || m.ino != o->shm.ino)
        o->shm.seen_ok = 0; /* another -shm: copy it whole */
    o->shm.fd = m.fd;
    o->shm.dev = m.dev;
    o->shm.ino = m.ino;
}

/* walFreshFrom: where the committed frames of the -wal end, by the private
** copy of the WAL index as it was just read from the real one: a frame
** past them is one the overlay writes itself (whole), or one it never
** reads (a stale frame of an earlier generation, or one a real writer
** appended after the copy was made), so a block there need not be read
** from the real file before the overlay's frame goes into it.  Only a
** copy whose two headers agree is believed; otherwise every block is
** read as before. */
static void walFreshFrom(struct ptmSqlOverlay *o)
{
    const unsigned char *h;
    uint16_t sz;
    uint32_t mx;
    sqlite3_int64 page;

    o->wal.fresh_from = INT64_MAX;
    if (o->shm.n < 1 || o->shm.fd < 0)
        return;
    h = o->shm.region[0];
    if (memcmp(h, h + WAL_HDR_BYTES, WAL_HDR_BYTES) != 0 || !h[12])
        return; /* torn or never initialised: SQLite will recover from the file */
    memcpy(&sz, h + 14, sizeof sz);
    memcpy(&mx, h + 16, sizeof mx);
    page = sz == 1 ? 65536 : sz;
    if (page < 512)
        return;
    o->wal.fresh_from = WAL_FILE_HDR + (sqlite3_int64)mx * (page + WAL_FRAME_HDR);
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
    if (s->n == 0)
        shmRebase(p->o);
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
    if ((flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE) && ofst < 3)
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
    memInit(&p->own);
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
        struct memFile *j = &o->journal;
        if (!j->exists) {
            /* The overlay's own journal starts empty; without CREATE it is
            ** a hot journal to read. */
            memDrop(j);
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
        memDrop(&o->journal);
        o->journal.exists = 0;
        o->journal.fd = -1;
        o->journal.hidden = 1; /* a real one stays unseen until Begin */
    } else if ((o = overlayOf(name, "-wal"))) {
        memDrop(&o->wal);
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
        if (o->db && sqlite3_close(o->db) != SQLITE_OK)
            continue; /* statements left: leak it rather than free under them */
        memFree(&o->journal);
        memFree(&o->dbf);
        memFree(&o->wal);
        free(o->name);
        free(o->path);
        free(o);
    }
}

static void vfsRegister(void)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);

    pthread_atfork(NULL, NULL, privAtforkChild);
    if (!real || pthread_key_create(&threadKey, threadExit) != 0)
        return;
    ovVfs.mxPathname = real->mxPathname;
    ovVfs.pAppData = real;
    vfsRc = sqlite3_vfs_register(&ovVfs, 0);
}

/* ---------------------------------------------------------------------
** Overlays.
*/
/* readVersion: what the real database is now, through the descriptors
** Begin chose (no stat: End must cost little). */
static void readVersion(struct ptmSqlOverlay *o, struct dbVersion *v)
{
    memset(v, 0, sizeof *v);
    if (o->dbf.fd >= 0)
        v->have_db = preadFull(o->dbf.fd, v->hdr, sizeof v->hdr, 0) == (ssize_t)sizeof v->hdr;
    if (o->wal_mode && o->shm.fd >= 0)
        v->have_shm = preadFull(o->shm.fd, v->shm, sizeof v->shm, 0) >= 0;
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
    memInit(&o->dbf);
    memInit(&o->wal);
    memInit(&o->journal);
    o->shm.fd = -1;
    lastErrno = 0;
    opening = o;
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
    opening = NULL;
    if (rc != SQLITE_OK) {
        int err = rc == SQLITE_CANTOPEN ? sqlite3_system_errno(o->db) : 0;
        sqlite3_close(o->db);
        memFree(&o->dbf);
        memFree(&o->wal);
        memFree(&o->journal);
        free(o->name);
        free(o->path);
        free(o);
        lastErrno = 0;
        if (err)
            errno = err;
        return rc;
    }
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

    memDrop(&o->dbf);
    memDrop(&o->wal);
    memDrop(&o->journal);
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
    memcpy(o->ver.shm, o->shm.region[0], sizeof o->ver.shm);
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

/* refresh: the real files as they are now: a database or -wal replaced
** since (a new inode) is read from its new file, and the copy of the WAL
** index is read again, in place; o->ver is what they are, and the first
** block of the database is kept for SQLite's reads of its header and
** page 1 in this mirror (the version read and SQLite's are one pread). */
static void refresh(struct ptmSqlOverlay *o, int *rc)
{
    struct stat st;
    char path[PATH_MAX + 8];
    unsigned char was_seen[VERSION_SHM_BYTES];
    int same, seen_ok;
    ssize_t got;

    if (ptmOs.stat(o->name, &st) != 0)
        memset(&st, 0, sizeof st);
    o->db_st = st;
    if (!st.st_ino)
        o->dbf.fd = -1; /* gone: an empty database */
    else if ((o->dbf.fd < 0 || st.st_dev != o->dbf.dev || st.st_ino != o->dbf.ino) &&
             rebase(&o->dbf, o->name) != 0)
        *rc = SQLITE_CANTOPEN;
    memset(&o->ver, 0, sizeof o->ver);
    if (o->dbf.fd >= 0 && (got = preadFull(o->dbf.fd, o->head, sizeof o->head, 0)) >= 0) {
        o->dbf.head = o->head;
        o->dbf.head_len = (size_t)got;
        o->ver.have_db = got >= (ssize_t)sizeof o->ver.hdr;
        if (o->ver.have_db)
            memcpy(o->ver.hdr, o->head, sizeof o->ver.hdr);
    }
    o->wal_mode = o->shm.n > 0 || (o->ver.have_db && (o->ver.hdr[18] == 2 || o->ver.hdr[19] == 2));
    if (!o->wal_mode)
        return;
    shmRebase(o);
    seen_ok = o->shm.seen_ok;
    memcpy(was_seen, o->shm.seen, sizeof was_seen);
    if (o->shm.n && o->shm.fd >= 0 && (o->shm.written || !o->shm.seen_ok)) {
        /* The copy is read again whole in any case (the last mirror wrote
        ** into it, or it is another -shm's): one pread fewer. */
        same = shmReread(o, rc);
    } else {
        if (o->shm.fd >= 0)
            o->ver.have_shm = preadFull(o->shm.fd, o->ver.shm, sizeof o->ver.shm, 0) ==
                              (ssize_t)sizeof o->ver.shm;
        same = o->shm.seen_ok && o->ver.have_shm &&
               memcmp(o->ver.shm, o->shm.seen, sizeof o->shm.seen) == 0;
        if (o->shm.n && (!same || o->shm.written))
            shmReread(o, rc);
    }
    snprintf(path, sizeof path, "%s-wal", o->name);
    if (!same && !walSameFile(o, was_seen, seen_ok) && rebase(&o->wal, path) != 0)
        *rc = SQLITE_CANTOPEN;
    else if (o->wal.fd < 0 && rebase(&o->wal, path) != 0)
        *rc = SQLITE_CANTOPEN;
    if (*rc == SQLITE_OK)
        walFreshFrom(o);
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
        keptFlush(&o->dbf);
        keptFlush(&o->wal);
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
    int rc = SQLITE_OK;

    if (o->active && o->mirror == ptmMirrorCurrent &&
        (!ptmMirrorCurrent || o->mirror_t0 == ptmMirrorCurrent->t0_ns)) {
        o->busy = busy;
        return SQLITE_OK;
    }
    rollBack(o);
    if (dropWrites(o) || o->stale || o->active)
        sqlite3_db_release_memory(o->db);
    if (o->stale || o->active) {
        keptFlush(&o->dbf);
        keptFlush(&o->wal);
    }
    o->stale = 0;
    refresh(o, &rc);
    keepReads(o);
    o->busy = busy;
    o->reported = 0;
    o->active = 1;
    o->mirror = ptmMirrorCurrent;
    o->mirror_t0 = ptmMirrorCurrent ? ptmMirrorCurrent->t0_ns : 0;
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
    o->stale = dropWrites(o) || changed || o->reported;
    if (changed || o->reported) {
        keptFlush(&o->dbf);
        keptFlush(&o->wal);
    }
    o->dbf.keep_below = o->wal.keep_below = 0;
    o->active = 0;
    return changed;
}

/* ptmSqlOverlayAbandon: see sqlite_int.h.  Its private descriptors stay
** in the process-wide table, as every descriptor does. */
void ptmSqlOverlayAbandon(struct ptmSqlOverlay *o)
{
    for (struct ptmSqlOverlay **pp = &overlays; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    o->next = NULL;
    o->active = 0;
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

/* ptmSqlOverlaySetLimit: see sqlite_int.h. */
size_t ptmSqlOverlaySetLimit(size_t bytes)
{
    size_t was = limitBytes;
    limitBytes = bytes ? bytes : PTM_SQL_OVERLAY_MAX_BYTES;
    return was;
}

/* ptmSqlOverlayBytes: see sqlite_int.h. */
size_t ptmSqlOverlayBytes(void)
{
    return usedBytes;
}
