/*
** shims/sim_overlay.c - the content overlay (what the mirror wrote, per file,
** over the real bytes) and the free space its writes use up, per filesystem.
**
** Part of the simulated world of a mirror: see sim.c for the whole.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shims_int.h"

#define OV_CAP_BYTES ((size_t)64 << 20) /* overlay memory per mirror */

/* --------------------------------------------------------------- overlay */

/* ptmOvFind: m's overlay of the real file (dev, ino), or NULL (ino 0: a
** file the mirror made has none to find). */
struct ptmOvFile *ptmOvFind(struct ptmMirror *m, dev_t dev, ino_t ino)
{
    struct ptmOvFile *ov;
    if (ino == 0)
        return NULL;
    for (ov = ptmSimWorldOf(m)->ovs; ov; ov = ov->next)
        if (ov->ino == ino && ov->dev == dev)
            return ov;
    return NULL;
}

/* ptmOvNew: a new, empty overlay on m's list.  NULL when out of memory. */
struct ptmOvFile *ptmOvNew(struct ptmMirror *m)
{
    struct ptmOvFile *ov = calloc(1, sizeof *ov);
    if (!ov)
        return NULL;
    ov->vfs_fd = ov->real_fd = ov->host_fd = ov->link_fd = -1;
    ov->next = ptmSimWorldOf(m)->ovs;
    ptmSimWorldOf(m)->ovs = ov;
    return ov;
}

/* The overlay of the existing regular file st (at path, or on host
** descriptor host_fd), found or made.  NULL when out of memory. */
struct ptmOvFile *ptmOvForReal(struct ptmMirror *m, const struct stat *st, const char *path,
                               int host_fd, int host_readable)
{
    struct ptmOvFile *ov = ptmOvFind(m, st->st_dev, st->st_ino);

    if (!ov) {
        if (!(ov = ptmOvNew(m)))
            return NULL;
        ov->dev = ov->fs = st->st_dev;
        ov->ino = st->st_ino;
        ov->size = ov->real_len = st->st_size;
        ov->mode = st->st_mode & 07777;
        ov->uid = st->st_uid;
        ov->gid = st->st_gid;
    }
    if (path && path[0] == '/' && !ov->real_path)
        ov->real_path = strdup(path);
    /* Free space: measured on the host's descriptor when there is one. */
    if (host_fd >= 0 && ov->vfs_fd < 0 && !ov->vfs_path)
        ov->vfs_fd = host_fd;
    if (path && !ov->vfs_path && ov->vfs_fd < 0)
        ov->vfs_path = strdup(path);
    if (host_fd >= 0 && host_readable && ov->host_fd < 0)
        ov->host_fd = host_fd;
    return ov;
}

/* Where ov's real bytes can be opened: its path, or NULL when unknown.
** For a file known by a host descriptor only, the descriptor's
** /proc/self/fd link is read on the first need, once per mirror (not at
** every write: most mirrors never ask). */
const char *ptmOvRealPath(struct ptmOvFile *ov)
{
    char proc[40], link[PATH_MAX];
    ssize_t n;

    if (!ov->real_path && ov->link_fd >= 0) {
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", ov->link_fd);
        ov->link_fd = -1;
        while ((n = ptmOs.readlink(proc, link, sizeof link - 1)) < 0 && errno == EINTR)
            ;
        link[n > 0 ? n : 0] = '\0';
        if (link[0] == '/' && !strstr(link, " (deleted)"))
            ov->real_path = strdup(link);
    }
    return ov->real_path;
}

/* A descriptor that reads ov's real bytes, opened on first need; -1 when
** there is none.  What its path names now must still be ov's file (it may
** have been renamed over, or replaced, since the path was learnt). */
int ptmOvRealFd(struct ptmOvFile *ov)
{
    const char *path;
    struct stat st;

    if (ov->host_fd >= 0)
        return ov->host_fd;
    if (ov->real_fd < 0 && !ov->real_stale && (path = ptmOvRealPath(ov)) != NULL &&
        ptmProbeOpenQuiet(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0, &ov->real_fd) == 0 &&
        ov->ino && (ptmProbeFstat(ov->real_fd, &st) != 0 || st.st_dev != ov->dev ||
                    st.st_ino != ov->ino))
        ov->real_stale = 1;                 /* another file: closed by ptmOvFreeAll */
    return ov->real_stale ? -1 : ov->real_fd;
}

/* Reads [off, off+n) of ov as the mirror sees it.  -1 with *err, or the count. */
ssize_t ptmOvRead(struct ptmOvFile *ov, void *buf, size_t n, off_t off, int *err)
{
    unsigned char *b = buf;
    struct ptmOvExtent *e;
    size_t filled = 0, want;
    off_t end, lo, hi;
    ssize_t r;
    int fd;

    if (off >= ov->size || n == 0)
        return 0;
    if ((off_t)n > ov->size - off)
        n = (size_t)(ov->size - off);
    end = off + (off_t)n;
    if (off < ov->real_len) {
        want = (size_t)((end < ov->real_len ? end : ov->real_len) - off);
        if ((fd = ptmOvRealFd(ov)) >= 0) {
            while (filled < want) {
                if ((r = ptmProbePread(fd, b + filled, want - filled, off + (off_t)filled,
                                       err)) < 0)
                    return -1;
                if (r == 0)
                    break;                  /* it shrank underneath: zeros */
                filled += (size_t)r;
            }
        }
    }
    memset(b + filled, 0, n - filled);
    for (e = ov->ext; e && e->off < end; e = e->next) {
        lo = e->off > off ? e->off : off;
        hi = e->off + (off_t)e->len < end ? e->off + (off_t)e->len : end;
        if (lo < hi)
            memcpy(b + (lo - off), e->data + (lo - e->off), (size_t)(hi - lo));
    }
    return (ssize_t)n;
}

/* Grows e's buffer to hold need bytes, within the mirror's cap.  0 or ENOMEM. */
static int extentReserve(struct ptmMirror *m, struct ptmOvExtent *e, size_t need)
{
    size_t cap = e->cap ? e->cap : 64;
    unsigned char *d;

    if (need <= e->cap)
        return 0;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (ptmSimWorldOf(m)->ov_bytes - e->cap + cap > OV_CAP_BYTES)
        cap = need;
    if (ptmSimWorldOf(m)->ov_bytes - e->cap + cap > OV_CAP_BYTES || !(d = realloc(e->data, cap)))
        return ENOMEM;
    ptmSimWorldOf(m)->ov_bytes = ptmSimWorldOf(m)->ov_bytes - e->cap + cap;
    e->data = d;
    e->cap = cap;
    return 0;
}

static void extentFree(struct ptmMirror *m, struct ptmOvExtent *e)
{
    ptmSimWorldOf(m)->ov_bytes -= e->cap;
    free(e->data);
    free(e);
}

/* Stores buf[0..n) at off in ov's extents.  0, or ENOMEM (the cap: ov->lost). */
int ptmOvStore(struct ptmMirror *m, struct ptmOvFile *ov, const void *buf, size_t n, off_t off)
{
    struct ptmOvExtent **pp, *e, *q, *nx, *merged;
    off_t end = off + (off_t)n, start, stop;

    if (n == 0)
        return 0;
    if (!buf) {
        ov->lost = 1;
        return ENOMEM;
    }
    for (pp = &ov->ext; *pp && (*pp)->off + (off_t)(*pp)->len < off; pp = &(*pp)->next)
        ;
    e = *pp;
    /* The common cases: an append to e, or a write inside it. */
    if (e && e->off <= off) {
        stop = e->off + (off_t)e->len > end ? e->off + (off_t)e->len : end;
        if (!e->next || e->next->off > stop) {
            if (extentReserve(m, e, (size_t)(stop - e->off)) != 0) {
                ov->lost = 1;
                return ENOMEM;
            }
            memcpy(e->data + (off - e->off), buf, n);
            e->len = (size_t)(stop - e->off);
            return 0;
        }
    }
    /* Else one new extent replaces every extent it touches. */
    start = e && e->off < off ? e->off : off;
    stop = end;
    for (q = e; q && q->off <= end; q = q->next)
        if (q->off + (off_t)q->len > stop)
            stop = q->off + (off_t)q->len;
    merged = calloc(1, sizeof *merged);
    if (!merged || extentReserve(m, merged, (size_t)(stop - start)) != 0) {
        free(merged);
        ov->lost = 1;
        return ENOMEM;
    }
    merged->off = start;
    merged->len = (size_t)(stop - start);
    for (q = e; q && q->off <= end; q = nx) {
        nx = q->next;
        memcpy(merged->data + (q->off - start), q->data, q->len);
        extentFree(m, q);
    }
    memcpy(merged->data + (off - start), buf, n);
    merged->next = q;
    *pp = merged;
    return 0;
}

/* Cuts ov to len bytes (it may grow: a hole). */
void ptmOvTruncate(struct ptmMirror *m, struct ptmOvFile *ov, off_t len)
{
    struct ptmOvExtent **pp = &ov->ext, *e;

    while ((e = *pp) != NULL) {
        if (e->off >= len) {
            *pp = e->next;
            extentFree(m, e);
            continue;
        }
        if (e->off + (off_t)e->len > len)
            e->len = (size_t)(len - e->off);
        pp = &e->next;
    }
    if (ov->real_len > len)
        ov->real_len = len;
    ov->size = len;
    clock_gettime(CLOCK_REALTIME, &ov->mtime);
}

/* ptmOvFreeAll: frees m's overlays, closing their own descriptors. */
void ptmOvFreeAll(struct ptmMirror *m)
{
    struct ptmOvFile *ov;
    struct ptmOvExtent *e;

    while ((ov = ptmSimWorldOf(m)->ovs) != NULL) {
        ptmSimWorldOf(m)->ovs = ov->next;
        while ((e = ov->ext) != NULL) {
            ov->ext = e->next;
            extentFree(m, e);
        }
        if (ov->real_fd >= 0)
            ptmSimCloseFd(m, ov->real_fd);
        free(ov->real_path);
        free(ov->vfs_path);
        free(ov);
    }
}

/* ------------------------------------------------------------ free space */

static struct ptmFsUse *fsUse(struct ptmMirror *m, dev_t dev)
{
    struct ptmFsUse *u;
    for (u = ptmSimWorldOf(m)->fsuse; u; u = u->next)
        if (u->dev == dev)
            return u;
    u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->dev = dev;
    u->next = ptmSimWorldOf(m)->fsuse;
    ptmSimWorldOf(m)->fsuse = u;
    return u;
}

/* The bytes a write of n at off allocates in ov: what lies beyond its size
** (a hole before it costs nothing). */
off_t ptmSpaceAllocBytes(const struct ptmOvFile *ov, off_t off, size_t n)
{
    off_t end = off + (off_t)n;
    if (end <= ov->size)
        return 0;
    return off >= ov->size ? (off_t)n : end - ov->size;
}

/*
** Free space, shared by the mirrors of the process.  A statvfs per write
** would cost more than the write it predicts, so what one gave is kept per
** filesystem (st_dev) for VFS_TTL_NS, with the bytes the mirrors predicted
** since (charged: the primaries are expected to write them).  A cached
** figure may only say that a write fits, and only with VFS_MARGIN bytes to
** spare after everything charged: to go wrong, others would have to fill
** VFS_MARGIN in VFS_TTL_NS (6.7 GB/s).  A write near the limit, and every
** ENOSPC, is decided on a fresh statvfs.  A figure is served only through
** the ptmOs entries that produced it, so a test that replaces
** ptmOs.statvfs or fstatvfs is never answered from the real one.
**
** The table is guarded by a flag taken with test-and-set, never waited
** for: when it is busy (another thread, or a fork child that inherited it
** set) the caller probes without it.  Only the st_dev-wide figures are
** kept: the read-only flag of statvfs is a mount's (a bind mount may be
** read-only over a writable filesystem) and is always asked afresh.
*/
#define VFS_SLOTS 8
#define VFS_TTL_NS PTM_SIM_VFS_TTL_NS
#define VFS_MARGIN PTM_SIM_VFS_MARGIN

struct vfsFact {
    dev_t dev;
    uint64_t at_ns;                         /* when probed; 0: an empty slot */
    uint64_t avail;                         /* f_bavail * f_frsize then */
    uint64_t charged;                       /* bytes predicted to fit since */
    int (*by_path)(const char *, struct statvfs *); /* ptmOs.statvfs then */
    int (*by_fd)(int, struct statvfs *);    /* ptmOs.fstatvfs then */
};

static struct {
    atomic_flag busy;
    unsigned next;                          /* the slot to reuse next */
    struct vfsFact slot[VFS_SLOTS];
} vfsCache = {.busy = ATOMIC_FLAG_INIT};

/* The live slot of dev in the locked table, or NULL. */
static struct vfsFact *vfsSlot(dev_t dev, uint64_t now)
{
    struct vfsFact *v;
    int i;

    for (i = 0; i < VFS_SLOTS; i++) {
        v = &vfsCache.slot[i];
        if (v->at_ns && v->dev == dev && now - v->at_ns < VFS_TTL_NS &&
            v->by_path == ptmOs.statvfs && v->by_fd == ptmOs.fstatvfs)
            return v;
    }
    return NULL;
}

/* Does a cached figure for filesystem dev show need bytes fitting with
** VFS_MARGIN to spare?  If so, alloc of them are charged to it.  0 when
** there is none, or it is too close to tell, or the table is busy. */
static int vfsCachedFits(dev_t dev, uint64_t need, uint64_t alloc)
{
    struct vfsFact *v;
    int fits = 0;

    if (atomic_flag_test_and_set_explicit(&vfsCache.busy, memory_order_acquire))
        return 0;
    if ((v = vfsSlot(dev, ptmOsNowNs())) != NULL && v->avail >= v->charged &&
        v->avail - v->charged >= VFS_MARGIN && v->avail - v->charged - VFS_MARGIN >= need) {
        v->charged += alloc;
        fits = 1;
    }
    atomic_flag_clear_explicit(&vfsCache.busy, memory_order_release);
    return fits;
}

/* Keeps avail, just probed through by_path/by_fd, as filesystem dev's
** figure, with charged bytes already predicted against it.  Skipped when
** the table is busy. */
static void vfsRemember(dev_t dev, uint64_t avail, uint64_t charged,
                        int (*by_path)(const char *, struct statvfs *),
                        int (*by_fd)(int, struct statvfs *))
{
    uint64_t now = ptmOsNowNs();
    struct vfsFact *v;
    int i;

    if (atomic_flag_test_and_set_explicit(&vfsCache.busy, memory_order_acquire))
        return;
    for (v = NULL, i = 0; i < VFS_SLOTS && !v; i++)
        if (vfsCache.slot[i].dev == dev || !vfsCache.slot[i].at_ns)
            v = &vfsCache.slot[i];
    if (!v)
        v = &vfsCache.slot[vfsCache.next++ % VFS_SLOTS];
    *v = (struct vfsFact){dev, now ? now : 1, avail, charged, by_path, by_fd};
    atomic_flag_clear_explicit(&vfsCache.busy, memory_order_release);
}

/* ENOSPC when adding alloc bytes to ov's filesystem would pass what is free
** there, counting what the mirror added before.  0 when it fits or when
** statvfs cannot tell.  Asks statvfs only when the shared figure (above)
** cannot answer. */
int ptmSpaceCheck(struct ptmMirror *m, struct ptmOvFile *ov, off_t alloc)
{
    int (*by_path)(const char *, struct statvfs *) = ptmOs.statvfs;
    int (*by_fd)(int, struct statvfs *) = ptmOs.fstatvfs;
    struct statvfs vfs;
    struct ptmFsUse *u;
    uint64_t avail, need;
    int64_t used;
    int err;

    if (alloc <= 0)
        return 0;
    u = fsUse(m, ov->fs);
    used = u && u->bytes > 0 ? u->bytes : 0;
    need = (uint64_t)used + (uint64_t)alloc;
    if (ov->fs && vfsCachedFits(ov->fs, need, (uint64_t)alloc))
        return 0;
    if (ov->vfs_path)
        err = ptmProbeStatvfs(ov->vfs_path, &vfs);
    else if (ov->vfs_fd >= 0)
        err = ptmProbeFstatvfs(ov->vfs_fd, &vfs);
    else
        return 0;
    if (err)
        return 0;
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (ov->fs)
        vfsRemember(ov->fs, avail, need > avail ? 0 : (uint64_t)alloc, by_path, by_fd);
    return need > avail ? ENOSPC : 0;
}

/* ptmSpaceCharge: adds delta bytes (negative: given back) to what m used
** of ov's filesystem. */
void ptmSpaceCharge(struct ptmMirror *m, struct ptmOvFile *ov, int64_t delta)
{
    struct ptmFsUse *u = delta ? fsUse(m, ov->fs) : NULL;
    if (u)
        u->bytes += delta;
}

/*
** RLIMIT_FSIZE, asked once per mirror: the host may change it between two
** mirrors (setrlimit, or prlimit from another process) and nothing tells
** us, but not while an inline mirror runs on its thread.  Kept per thread
** for the mirror (and its start time) that asked, through the ptmOs entry
** that answered; ptmSpaceForget forgets it.
*/
static _Thread_local struct {
    const struct ptmMirror *m;
    uint64_t t0_ns;
    int (*by)(int, struct rlimit *);
    rlim_t cur;
} fsizeCache;

/* The soft RLIMIT_FSIZE for mirror m (RLIM_INFINITY when it cannot be read). */
static rlim_t fsizeOf(struct ptmMirror *m)
{
    struct rlimit rl;
    int rc;

    if (fsizeCache.m == m && fsizeCache.t0_ns == m->t0_ns && fsizeCache.by == ptmOs.getrlimit)
        return fsizeCache.cur;
    while ((rc = ptmOs.getrlimit(RLIMIT_FSIZE, &rl)) != 0 && errno == EINTR)
        ;
    if (rc != 0)
        return RLIM_INFINITY;
    fsizeCache.m = m;
    fsizeCache.t0_ns = m->t0_ns;
    fsizeCache.by = ptmOs.getrlimit;
    fsizeCache.cur = rl.rlim_cur;
    return rl.rlim_cur;
}

/* The largest write RLIMIT_FSIZE allows mirror m at off: n, less (the
** kernel writes up to the limit), or -1 with EFBIG at the limit. */
ssize_t ptmSpaceFsizeLimit(struct ptmMirror *m, off_t off, size_t n, int *err)
{
    rlim_t cur = fsizeOf(m);

    if (cur == RLIM_INFINITY)
        return (ssize_t)n;
    if ((rlim_t)off >= cur) {
        *err = EFBIG;
        return -1;
    }
    if ((rlim_t)off + n > cur)
        return (ssize_t)(cur - (rlim_t)off);
    return (ssize_t)n;
}

/*
** ptmSpaceForget: the end of mirror m: the RLIMIT_FSIZE this thread kept
** for it is forgotten (a later mirror may have its address).
*/
void ptmSpaceForget(struct ptmMirror *m)
{
    if (fsizeCache.m == m)
        fsizeCache.m = NULL;
}
