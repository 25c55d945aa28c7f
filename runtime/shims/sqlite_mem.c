/*
** shims/sqlite_mem.c - the SQLite overlay's files in memory: a block map of
** what the overlay wrote over an optional real base read through a private
** descriptor, bounded per thread (PTM_SQL_OVERLAY_MAX_BYTES), and the real
** bytes kept across mirrors while they cannot have changed.  sqlite_vfs.c
** builds its files on these; sqlite_int.h declares them.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_int.h"

#define BLOCK PTM_SQL_BLOCK
#define PROBE_RETRIES 16            /* EINTR retries of one pread */

/* preadFull: up to n bytes at off from fd, retrying EINTR a few times and
** short reads; the count read (short at the end of the file), -1 on error. */
ssize_t ptmSqlPreadFull(int fd, void *buf, size_t n, off_t off)
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

static size_t slotOf(const struct ptmSqlMemFile *mf, sqlite3_int64 idx)
{
    return ((size_t)idx * 0x9E3779B97F4A7C15ull) & (mf->cap - 1);
}

static unsigned char *blockFind(const struct ptmSqlMemFile *mf, sqlite3_int64 idx)
{
    size_t i;
    if (!mf->used)
        return NULL;
    for (i = slotOf(mf, idx); mf->map[i].idx != -1; i = (i + 1) & (mf->cap - 1))
        if (mf->map[i].idx == idx)
            return mf->map[i].data;
    return NULL;
}

static void blockPut(struct ptmSqlMemFile *mf, sqlite3_int64 idx, unsigned char *data)
{
    size_t i = slotOf(mf, idx);
    while (mf->map[i].idx != -1)
        i = (i + 1) & (mf->cap - 1);
    mf->map[i] = (struct ptmSqlBlock){idx, data};
    mf->used++;
}

static int mapGrow(struct ptmSqlMemFile *mf)
{
    size_t cap = mf->cap ? mf->cap * 2 : 16, i, old = mf->cap;
    struct ptmSqlBlock *map = malloc(cap * sizeof *map), *was = mf->map;
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
void ptmSqlMemDrop(struct ptmSqlMemFile *mf)
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

static void keptFree(struct ptmSqlMemFile *mf);

/* ptmSqlMemFree: see sqlite_int.h. */
void ptmSqlMemFree(struct ptmSqlMemFile *mf)
{
    keptFree(mf);
    ptmSqlMemDrop(mf);
    free(mf->map);
    mf->map = NULL;
    mf->cap = 0;
}

/* ptmSqlMemInit: see sqlite_int.h. */
void ptmSqlMemInit(struct ptmSqlMemFile *mf)
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

struct ptmSqlKept {
    struct keptRead slot[KEPT_SLOTS];
};

/* ptmSqlKeptFlush: see sqlite_int.h. */
void ptmSqlKeptFlush(struct ptmSqlMemFile *mf)
{
    size_t i;

    if (mf->kept)
        for (i = 0; i < KEPT_SLOTS; i++)
            mf->kept->slot[i].off = -1;
}

static void keptFree(struct ptmSqlMemFile *mf)
{
    size_t i;

    if (mf->kept)
        for (i = 0; i < KEPT_SLOTS; i++)
            free(mf->kept->slot[i].data);
    free(mf->kept);
    mf->kept = NULL;
}

static struct keptRead *keptSlot(const struct ptmSqlMemFile *mf, sqlite3_int64 off)
{
    return &mf->kept->slot[((size_t)off * 0x9E3779B97F4A7C15ull >> 40) & (KEPT_SLOTS - 1)];
}

/* keptGet: amt bytes at off, from what an earlier read kept; 1 when they
** were there (copied to buf). */
static int keptGet(const struct ptmSqlMemFile *mf, void *buf, int amt, sqlite3_int64 off)
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
static void keptPut(struct ptmSqlMemFile *mf, const void *buf, int amt, sqlite3_int64 off)
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
static int realSize(const struct ptmSqlMemFile *mf, sqlite3_int64 *size)
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

/* ptmSqlMemSize: see sqlite_int.h. */
int ptmSqlMemSize(const struct ptmSqlMemFile *mf, sqlite3_int64 *size)
{
    if (mf->dirty) {
        *size = mf->size;
        return SQLITE_OK;
    }
    return realSize(mf, size);
}

/* makeDirty: from the first write or truncation on, the size is ours. */
static int makeDirty(struct ptmSqlMemFile *mf)
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
static int baseRead(const struct ptmSqlMemFile *mf, unsigned char *buf, size_t n, sqlite3_int64 off)
{
    ssize_t got = 0;
    size_t want = n;

    if (off >= mf->base_limit)
        want = 0;
    else if ((sqlite3_int64)n > mf->base_limit - off)
        want = (size_t)(mf->base_limit - off);
    if (want && mf->fd >= 0) {
        got = ptmSqlPreadFull(mf->fd, buf, want, (off_t)off);
        if (got < 0)
            return SQLITE_IOERR_READ;
    }
    memset(buf + got, 0, n - (size_t)got);
    return SQLITE_OK;
}

/* blockFor: the block idx, made from the base on first write of its bytes
** lo..hi (unless they are all of it, or the block lies wholly past
** fresh_from, where nothing the overlay reads back comes from the base). */
static int blockFor(struct ptmSqlMemFile *mf, sqlite3_int64 idx, size_t lo, size_t hi,
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

/* ptmSqlMemRead: see sqlite_int.h. */
int ptmSqlMemRead(struct ptmSqlMemFile *mf, void *out, int amt, sqlite3_int64 off)
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
        if (mf->fd >= 0 && (got = ptmSqlPreadFull(mf->fd, buf, (size_t)amt, (off_t)off)) < 0)
            return SQLITE_IOERR_READ;
        if (got < amt) {
            memset(buf + got, 0, (size_t)(amt - got));
            return SQLITE_IOERR_SHORT_READ;
        }
        keptPut(mf, buf, amt, off);
        return SQLITE_OK;
    }
    if ((rc = ptmSqlMemSize(mf, &size)) != SQLITE_OK)
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

/* ptmSqlMemWrite: see sqlite_int.h. */
int ptmSqlMemWrite(struct ptmSqlMemFile *mf, const void *in, int amt, sqlite3_int64 off)
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
static int mapCut(struct ptmSqlMemFile *mf, sqlite3_int64 size)
{
    struct ptmSqlMemFile keep = *mf;
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

/* ptmSqlMemTruncate: see sqlite_int.h. */
int ptmSqlMemTruncate(struct ptmSqlMemFile *mf, sqlite3_int64 size)
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
