/*
** shims/sim.c - the simulated world of a mirror, shared by the shim families:
** its descriptors.
**
** A mirror must walk the primary's path without changing anything.  What it
** does to files therefore happens here, in memory, per mirror:
**
**   - Descriptors (struct ptmSimFile, on struct ptmSimWorld's files).  A
**     read-only open of a real file is a real read-only descriptor
**     (O_NOATIME where allowed: not even the access time moves).  Any
**     other open is simulated: the mirror gets a harmless descriptor --
**     the real file opened read-only, or /dev/null -- so that the number
**     is unique and fstat() works, and the entry (offset, flags, content)
**     is the truth.  A host descriptor the mirror uses is borrowed: it is
**     never written, moved or closed; the mirror's offset on it is private
**     (it starts where the host's is, read with lseek(fd, 0, SEEK_CUR),
**     and reads use pread).
**   - The content overlay (struct ptmOvFile, on the world's ovs): per file, the byte
**     ranges the mirror wrote (sorted extents) over the real bytes, its size
**     as the mirror sees it, and the length of the real prefix still visible
**     (O_TRUNC and ftruncate cut it).  Reads merge the three; so what the
**     mirror wrote, through any descriptor, it reads back.  Real files are
**     keyed by (st_dev, st_ino); files the mirror created have no real part.
**     Memory is capped per mirror (OV_CAP_BYTES): beyond it written bytes are
**     counted but not kept (ov->lost), and read back as the real bytes.
**   - The namespace overlay (struct ptmNsEntry, on ns): absolute paths the
**     mirror created (a file bound to its overlay, or a directory), removed
**     (unlink, rmdir, the source of a rename) or renamed (the target names
**     the source's content; a renamed real directory is an alias of its real
**     path).  Every path is looked up here first, by longest prefix, then on
**     the real system.  Paths are made absolute and normalised lexically
**     ("a/../b" is "b"), so a symbolic link to a directory the mirror changed
**     is not seen through.
**   - Free space (struct ptmFsUse, on fsuse): the bytes the mirror's writes
**     added, per filesystem (st_dev), against f_bavail * f_frsize from
**     statvfs/fstatvfs; truncations give bytes back.  f_bavail is what an
**     unprivileged writer gets (root may use the reserved blocks too), and a
**     write that does not fit whole is predicted to fail (the kernel may write
**     part of it first).  One statvfs serves the process's mirrors for a few
**     milliseconds, for writes far from the limit only (ptmSpaceCheck).
**
** What a write costs in probes: a host descriptor is asked its flags and
** what it is (F_GETFL, fstat) once per mirror; its offset (lseek) and its
** path (readlink of /proc/self/fd) only when the mirror needs them;
** RLIMIT_FSIZE once per mirror; free space as above.  Nothing about a host
** descriptor is carried from one mirror to the next: the host may close it
** and open another file on its number in between.
**
** The real system is only probed, with read-only calls through ptmOs, each
** retried on EINTR.  One more thing must never happen in the host's process
** (the inline executor): closing any descriptor on a file drops every fcntl
** (process-associated) lock the process holds on that file.  So the mirror's
** own descriptors are closed through ptmSimCloseFd, which asks F_OFD_GETLK
** whether this process holds such a lock first, and parks the descriptor
** (closes it later) when it does.
**
** The files of the simulated world, from the bottom: sim_probe.c (the
** probes, the safe close), sim_path.c (paths, the namespace overlay, the
** feasibility checks), sim_overlay.c (the content overlay, free space),
** this file (descriptors, file locks, the family's release) and sim_ns.c
** (the namespace calls: stat, access, unlink, rename, mkdir, rmdir).
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

#define WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* ------------------------------------------------------------ descriptors */

static struct ptmSimFile *simNew(struct ptmMirror *m, enum ptmSimKind kind, int fd, int flags)
{
    struct ptmSimFile *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->mirror = m;
    f->kind = kind;
    f->fd = fd;
    f->flags = flags;
    f->next = ptmSimWorldOf(m)->files;
    ptmSimWorldOf(m)->files = f;
    return f;
}

/* A simulated descriptor on a harmless real one (fd, owned).  NULL, with fd
** closed, when out of memory. */
static struct ptmSimFile *simHarmless(struct ptmMirror *m, int fd, int flags, mode_t type,
                                      struct ptmOvFile *ov)
{
    struct ptmSimFile *f = simNew(m, PTM_SIM_WRITE, fd, flags);
    if (!f) {
        ptmSimCloseFd(m, fd);
        return NULL;
    }
    f->type = type;
    f->ov = ov;
    if (ov) {
        f->dev = ov->dev;
        f->ino = ov->ino;
    }
    return f;
}

/* A new file at v->abs (missing, O_CREAT given): checked, recorded in the
** namespace, and opened simulated.  0 or an errno. */
static int openCreate(struct ptmMirror *m, struct ptmSimView *v, int flags, mode_t mode,
                      struct ptmSimFile **out)
{
    char realdir[PATH_MAX];
    struct ptmOvFile *ov;
    dev_t fs = 0;
    int fd, err;

    if ((err = ptmSimParentWritable(m, v->abs, 1, &fs, realdir, sizeof realdir)) != 0)
        return err;
    if ((err = ptmProbeDevNull(flags, &fd)) != 0)
        return err;
    if (!(ov = ptmOvNew(m))) {
        ptmSimCloseFd(m, fd);
        return ENOMEM;
    }
    ov->fs = fs;
    ov->vfs_path = realdir[0] ? strdup(realdir) : NULL;
    ov->mode = mode & ~ptmProbeUmask() & 07777;
    ov->uid = geteuid();
    ov->gid = getegid();
    clock_gettime(CLOCK_REALTIME, &ov->mtime);
    if (ptmSimNsSet(m, v->abs, PTM_NS_FILE, ov, ov->mode, NULL) != 0) {
        ptmSimCloseFd(m, fd);
        return ENOMEM;
    }
    return (*out = simHarmless(m, fd, flags, S_IFREG, ov)) ? 0 : ENOMEM;
}

/* Opens the content ov (a file the namespace overlay names).  0 or an errno. */
static int openOv(struct ptmMirror *m, struct ptmOvFile *ov, int flags, struct ptmSimFile **out)
{
    int acc = flags & O_ACCMODE, want = acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK : R_OK | W_OK;
    int fd, err;

    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return EEXIST;
    if (flags & O_DIRECTORY)
        return ENOTDIR;
    err = ov->ino && ptmOvRealPath(ov) ? ptmProbeAccess(ov->real_path, want)
                                    : ptmSimNsPermits(ov->mode, 0, want);
    if (err)
        return err;
    if ((flags & O_TRUNC) && acc != O_RDONLY && ov->size > 0) {
        ptmSpaceCharge(m, ov, -(int64_t)ov->size);
        ptmOvTruncate(m, ov, 0);
    }
    if ((err = ptmProbeDevNull(flags, &fd)) != 0)
        return err;
    return (*out = simHarmless(m, fd, flags, S_IFREG, ov)) ? 0 : ENOMEM;
}

/* A read-only open of the real path.  0 or an errno. */
static int openReadOnly(struct ptmMirror *m, const char *path, int flags, mode_t mode,
                        struct ptmSimFile **out)
{
    struct ptmSimFile *f;
    struct stat st;
    int fd, err;

    if ((err = ptmProbeOpenQuiet(path, flags, mode, &fd)) != 0)
        return err;
    if (!(f = simNew(m, PTM_SIM_READONLY, fd, flags))) {
        ptmSimCloseFd(m, fd);
        return ENOMEM;
    }
    if (ptmProbeFstat(fd, &st) == 0) {
        f->type = st.st_mode & S_IFMT;
        if (S_ISREG(st.st_mode)) {
            f->dev = st.st_dev;
            f->ino = st.st_ino;
            f->ov = ptmOvFind(m, st.st_dev, st.st_ino);
        }
    }
    f->real_offset = 1;
    *out = f;
    return 0;
}

/* An open of a real path (v->real).  0 or an errno. */
static int openReal(struct ptmMirror *m, struct ptmSimView *v, int dirfd, const char *path,
                    int flags, mode_t mode, struct ptmSimFile **out)
{
    struct ptmOvFile *ov;
    struct stat st;
    int fd, err, tmp = (flags & O_TMPFILE) == O_TMPFILE;

    if (!(flags & WRITE_INTENT) && !tmp)
        return openReadOnly(m, v->real, flags, mode, out);
    if (tmp) {
        if ((err = ptmShimOpenCheck(v->real, flags)) != 0)
            return err;
        if ((err = ptmProbeStat(v->real, &st)) != 0 || (err = ptmProbeDevNull(flags, &fd)) != 0)
            return err;
        if (!(ov = ptmOvNew(m))) {
            ptmSimCloseFd(m, fd);
            return ENOMEM;
        }
        ov->fs = st.st_dev;
        ov->vfs_path = strdup(v->real);
        ov->mode = mode & 07777;
        return (*out = simHarmless(m, fd, flags, S_IFREG, ov)) ? 0 : ENOMEM;
    }
    err = ptmProbeStat(v->real, &st);
    if (err == ENOENT && (flags & O_CREAT)) {
        if (!v->abs && (err = ptmSimAbsPath(m, dirfd, path, &v->abs)) != 0)
            return err;
        return openCreate(m, v, flags, mode, out);
    }
    if ((err = ptmSimOpenCheckStat(v->real, flags, &st, err)) != 0)
        return err;
    if (!S_ISREG(st.st_mode)) {
        /* A device, a fifo: written in simulation, never opened for writing. */
        if ((err = ptmProbeDevNull(flags, &fd)) != 0)
            return err;
        if (!(*out = simHarmless(m, fd, flags, st.st_mode & S_IFMT, NULL)))
            return ENOMEM;
        if (S_ISCHR(st.st_mode))
            (*out)->rdev = st.st_rdev;
        return 0;
    }
    if (!v->abs && ptmSimAbsPath(m, dirfd, path, &v->abs) == ENOMEM)
        return ENOMEM;
    if (!(ov = ptmOvForReal(m, &st, v->real[0] == '/' ? v->real : v->abs, -1, 0)))
        return ENOMEM;
    if ((flags & O_TRUNC) && ov->size > 0) {
        ptmSpaceCharge(m, ov, -(int64_t)ov->size);
        ptmOvTruncate(m, ov, 0);
    }
    /* The real file read-only, so that fstat() and mmap() of it work. */
    if (ptmProbeOpenQuiet(v->real, O_RDONLY | O_NOCTTY | (flags & O_CLOEXEC), 0, &fd) != 0 &&
        (err = ptmProbeDevNull(flags, &fd)) != 0)
        return err;
    return (*out = simHarmless(m, fd, flags, S_IFREG, ov)) ? 0 : ENOMEM;
}

/* An open of a directory the mirror made or renamed.  0 or an errno. */
static int openDir(struct ptmMirror *m, struct ptmSimView *v, int flags, mode_t mode,
                   struct ptmSimFile **out)
{
    int fd, err;

    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND)) ||
        ((flags & O_CREAT) && !(flags & O_DIRECTORY)))
        return EISDIR;
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return EEXIST;
    if (v->real)
        return openReadOnly(m, v->real, flags, mode, out);
    if ((err = ptmProbeDevNull(flags, &fd)) != 0)
        return err;
    return (*out = simHarmless(m, fd, flags, S_IFDIR, NULL)) ? 0 : ENOMEM;
}

/*
** ptmSimOpen: open(path, flags, mode) relative to dirfd for mirror m.  The
** path is looked up in the namespace overlay first: a path the mirror
** removed is missing (O_CREAT makes it again), one it made or renamed names
** that content.  A read-only open of a real file is real; anything else is
** checked (ptmShimOpenCheck, the parent directory, O_EXCL against the
** overlay too) and simulated: O_TRUNC cuts the overlay, O_CREAT records the
** new file.  OUT: *out, the new entry, whose fd the mirror gets.  Returns 0
** or the errno of the (predicted) failure, with nothing opened.
*/
int ptmSimOpen(struct ptmMirror *m, int dirfd, const char *path, int flags, mode_t mode,
               struct ptmSimFile **out)
{
    struct ptmSimView v;
    int err;

    *out = NULL;
    if ((err = ptmSimResolve(m, dirfd, path, 0, &v)) != 0)
        return err;
    switch (v.kind) {
    case PTM_VIEW_NOTDIR:
        err = ENOTDIR;
        break;
    case PTM_VIEW_GONE:
        err = (flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE
                  ? openCreate(m, &v, flags, mode, out)
                  : ENOENT;
        break;
    case PTM_VIEW_FILE:
        err = openOv(m, v.e->ov, flags, out);
        break;
    case PTM_VIEW_DIR:
        err = openDir(m, &v, flags, mode, out);
        break;
    case PTM_VIEW_REAL:
        err = openReal(m, &v, dirfd, path, flags, mode, out);
        break;
    }
    if (!err) {
        (*out)->path = strdup(path);
        (*out)->abs_path = v.abs;
        v.abs = NULL;
        if (!(*out)->path) {
            ptmSimRemove(*out);
            *out = NULL;
            err = ENOMEM;
        }
    }
    ptmSimViewFree(&v);
    return err;
}

/*
** ptmSimAdd: a new entry of mirror m for fd, a descriptor the mirror made
** itself (a socket), of kind, open flags and file type.  Returns it, or
** NULL when out of memory (fd is the caller's to close then).
*/
struct ptmSimFile *ptmSimAdd(struct ptmMirror *m, enum ptmSimKind kind, int fd, int flags,
                             mode_t type)
{
    struct ptmSimFile *f = simNew(m, kind, fd, flags);
    if (f)
        f->type = type;
    return f;
}

/*
** ptmSimIsSocket: whether entry f refers to a socket.  A host descriptor of
** unknown kind (a fork child's /dev/null stand-in) is not one: reads and
** writes on it are simulated by sim.c's rules.
*/
int ptmSimIsSocket(struct ptmSimFile *f)
{
    return f->kind == PTM_SIM_SOCKET || f->type == S_IFSOCK;
}

/* In a fork child every inherited descriptor that is not a regular file or
** a directory was replaced by /dev/null (fork_child.c): such a descriptor is
** of unknown kind. */
static int inheritedUnknown(const struct ptmMirror *m, const struct stat *st)
{
    return m->in_child && S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 &&
           minor(st->st_rdev) == 3;
}

/* The entry for host descriptor fd, new: its flags (F_GETFL) and what it
** is (fstat), asked once per mirror and never carried over from an earlier
** mirror -- between two mirrors the host may have closed the descriptor and
** opened another file, or the same file with other flags, on its number,
** or changed its flags with F_SETFL, none of which fstat alone would show.
** Its offset is read when first needed (offset_pending).  0, EBADF or
** ENOMEM. */
static int simBorrow(struct ptmMirror *m, int fd, struct ptmSimFile **out)
{
    struct ptmSimFile *f;
    struct stat st;
    int flags, err;

    if ((err = ptmProbeGetfl(fd, &flags)) != 0)
        return err;
    if (!(f = simNew(m, PTM_SIM_BORROWED, fd, flags)))
        return ENOMEM;
    if (ptmProbeFstat(fd, &st) == 0 && !inheritedUnknown(m, &st)) {
        f->type = st.st_mode & S_IFMT;
        if (S_ISCHR(st.st_mode))
            f->rdev = st.st_rdev;
        if (S_ISREG(st.st_mode)) {
            f->dev = st.st_dev;
            f->ino = st.st_ino;
            f->st = st;
            f->ov = ptmOvFind(m, st.st_dev, st.st_ino);
            f->offset_pending = 1;
        }
    }
    *out = f;
    return 0;
}

/*
** ptmSimEntry: the entry of mirror m for descriptor fd: the mirror's own, or
** the host's, borrowed on first use (its flags, type, and offset).  OUT:
** *out.  Returns 0, EBADF (not open, or closed by the mirror) or ENOMEM.
*/
int ptmSimEntry(struct ptmMirror *m, int fd, struct ptmSimFile **out)
{
    struct ptmSimFile *f = ptmSimFind(m, fd);
    int err;

    *out = NULL;
    if (fd < 0)
        return EBADF;
    if (!f && (err = simBorrow(m, fd, &f)) != 0)
        return err;
    if (f->closed)
        return EBADF;
    *out = f;
    return 0;
}

/* f's overlay, made for a real regular file on first need.  NULL: none can
** be (not a regular file, or out of memory).  A borrowed descriptor's is
** made from the fstat simBorrow took in this mirror; when the descriptor
** cannot read (O_WRONLY), the path its real bytes are read through is
** learnt only if they are (ptmOvRealPath). */
static struct ptmOvFile *bindOv(struct ptmSimFile *f)
{
    struct stat st;
    int acc;

    if (f->ov || f->type != S_IFREG)
        return f->ov;
    if ((f->ov = ptmOvFind(f->mirror, f->dev, f->ino)) != NULL)
        return f->ov;
    if (f->fd < 0)
        return NULL;
    acc = f->flags & O_ACCMODE;
    if (f->kind == PTM_SIM_BORROWED) {
        f->ov = ptmOvForReal(f->mirror, &f->st, NULL, f->fd, acc != O_WRONLY);
        if (f->ov && acc == O_WRONLY && !f->ov->real_path && f->ov->link_fd < 0) {
            f->ov->link_fd = f->fd;
            if (f->owns_fd)
                ptmOvRealPath(f->ov);          /* the mirror's dup: it may close it first */
        }
    } else if (ptmProbeFstat(f->fd, &st) == 0) {
        f->ov = ptmOvForReal(f->mirror, &st, f->abs_path ? f->abs_path : f->path, -1, 0);
    }
    return f->ov;
}

/* f's offset as the mirror sees it.  A borrowed descriptor's starts where
** the host's is, asked (lseek SEEK_CUR, which never moves it) on first need:
** an O_APPEND write has none. */
static off_t curOffset(struct ptmSimFile *f)
{
    off_t off;
    if (f->real_offset && f->fd >= 0 && (off = ptmOs.lseek(f->fd, 0, SEEK_CUR)) >= 0)
        return off;
    if (f->offset_pending) {
        f->offset_pending = 0;
        off = f->fd >= 0 ? ptmOs.lseek(f->fd, 0, SEEK_CUR) : -1;
        f->offset = off < 0 ? 0 : off;
    }
    return f->offset;
}

/*
** ptmSimOffset: f's offset as the mirror sees it (a borrowed descriptor's
** starts where the host's is; reading it moves nothing).
*/
off_t ptmSimOffset(struct ptmSimFile *f)
{
    return curOffset(f);
}

static void setOffset(struct ptmSimFile *f, off_t off)
{
    if (f->real_offset && f->fd >= 0) {
        ptmOs.lseek(f->fd, off, SEEK_SET);  /* the mirror's own read-only description */
    } else {
        f->offset = off;
        f->offset_pending = 0;
    }
}

/*
** ptmSimSize: f's size as the mirror sees it (the overlay's, else the real
** file's); -1 when f is not a regular file.
*/
off_t ptmSimSize(struct ptmSimFile *f)
{
    struct stat st;
    struct ptmOvFile *ov;

    if (f->type != S_IFREG)
        return -1;
    ov = f->ov ? f->ov : ptmOvFind(f->mirror, f->dev, f->ino);
    if (ov)
        return ov->size;
    return f->fd >= 0 && ptmProbeFstat(f->fd, &st) == 0 ? st.st_size : -1;
}

/* The write of n bytes at off to regular file f.  -1 with *err, or the count. */
static ssize_t regularWrite(struct ptmSimFile *f, const void *buf, size_t n, off_t off, int *err)
{
    struct ptmOvFile *ov = bindOv(f);
    ssize_t r;
    off_t alloc;

    if (!ov) {
        *err = ENOMEM;
        return -1;
    }
    if ((r = ptmSpaceFsizeLimit(f->mirror, off, n, err)) < 0)
        return -1;
    alloc = ptmSpaceAllocBytes(ov, off, (size_t)r);
    if ((*err = ptmSpaceCheck(f->mirror, ov, alloc)) != 0)
        return -1;
    ptmOvStore(f->mirror, ov, buf, (size_t)r, off); /* beyond the cap: counted, not kept */
    ptmSpaceCharge(f->mirror, ov, alloc);
    if (off + r > ov->size)
        ov->size = off + r;
    clock_gettime(CLOCK_REALTIME, &ov->mtime);
    return r;
}

/* A write of n bytes to a pipe: EPIPE when no one can read it any more
** (poll says POLLERR on a write end without readers), EAGAIN when it is
** non-blocking and full (or an atomic write does not fit), a short count
** when part fits. */
static ssize_t pipeWrite(struct ptmSimFile *f, size_t n, int *err)
{
    struct pollfd pf = {.fd = f->fd, .events = POLLOUT};
    int queued, size;

    if (f->fd >= 0 && ptmOs.poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR)) {
        *err = EPIPE;
        return -1;
    }
    if (!(f->flags & O_NONBLOCK) || f->fd < 0)
        return (ssize_t)n;
    if (ptmOs.ioctl_int(f->fd, FIONREAD, &queued) != 0 ||
        (size = ptmOs.fcntl_int(f->fd, F_GETPIPE_SZ, 0)) <= 0 || queued < 0)
        return (ssize_t)n;
    if (queued >= size || (n <= PIPE_BUF && n > (size_t)(size - queued))) {
        *err = EAGAIN;
        return -1;
    }
    return n > (size_t)(size - queued) ? (ssize_t)(size - queued) : (ssize_t)n;
}

static int writable(const struct ptmSimFile *f)
{
    return !f->closed && f->fd >= 0 && (f->flags & O_ACCMODE) != O_RDONLY && !(f->flags & O_PATH);
}

/*
** deviceWriteErr: the errno a write to character device f fails with
** whatever it writes, 0 when it is not known to fail.  The devices of
** major 1 write as drivers/char/mem.c says: /dev/full always fails with
** ENOSPC (also a write of 0 bytes), /dev/null, /dev/zero, /dev/random and
** /dev/urandom take everything.  A terminal or any other device is
** assumed to take what it is given: its driver decides, and only the real
** write would tell.
*/
static int deviceWriteErr(const struct ptmSimFile *f)
{
    if (f->type == S_IFCHR && f->rdev && major(f->rdev) == 1 && minor(f->rdev) == 7)
        return ENOSPC;
    return 0;
}

/*
** ptmSimWrite: write(2) of buf[0..n) on f, simulated.  Predicts EBADF
** (closed, or not open for writing), EFBIG (RLIMIT_FSIZE), ENOSPC (the bytes
** the mirror added to the filesystem against what is free; a device that
** is always full, deviceWriteErr), EPIPE (a pipe without readers) and
** EAGAIN (a full non-blocking pipe); a socket goes to net.c (ptmNetSend).  A regular file's
** bytes go to the overlay at the offset (the end with O_APPEND), which
** advances.  Returns the count the real call would (short when it would
** reach RLIMIT_FSIZE), or -1 with *err set.
*/
ssize_t ptmSimWrite(struct ptmSimFile *f, const void *buf, size_t n, int *err)
{
    ssize_t r;
    off_t off;

    *err = 0;
    if (!writable(f)) {
        *err = EBADF;
        return -1;
    }
    if (ptmSimIsSocket(f))
        return ptmSimWorldOf(f->mirror)->sockets->send(f, n, 0, NULL, 0, err, NULL, 0);
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    switch (f->type) {
    case S_IFREG:
        if (n == 0)
            return 0;
        off = (f->flags & O_APPEND) && bindOv(f) ? f->ov->size : curOffset(f);
        if ((r = regularWrite(f, buf, n, off, err)) >= 0)
            setOffset(f, off + r);
        return r;
    case S_IFIFO:
        return pipeWrite(f, n, err);
    case S_IFDIR:
        *err = EISDIR;
        return -1;
    default:
        if ((*err = deviceWriteErr(f)) != 0)
            return -1;
        return (ssize_t)n;                  /* a terminal, a device, unknown */
    }
}

/*
** ptmSimPwrite: pwrite(2) of buf[0..n) at off on f, simulated as
** ptmSimWrite, without moving the offset.  ESPIPE for pipes and sockets,
** EINVAL for a negative offset; with O_APPEND the bytes go to the end, as
** Linux does it.  Returns the count or -1 with *err set.
*/
ssize_t ptmSimPwrite(struct ptmSimFile *f, const void *buf, size_t n, off_t off, int *err)
{
    *err = 0;
    if (!writable(f)) {
        *err = EBADF;
        return -1;
    }
    if (f->type == S_IFIFO || f->type == S_IFSOCK || f->kind == PTM_SIM_SOCKET || f->type == 0) {
        *err = ESPIPE;
        return -1;
    }
    if (off < 0) {
        *err = EINVAL;
        return -1;
    }
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    if ((*err = deviceWriteErr(f)) != 0)
        return -1;
    if (f->type != S_IFREG || n == 0)
        return (ssize_t)n;
    if ((f->flags & O_APPEND) && bindOv(f))
        off = f->ov->size;
    return regularWrite(f, buf, n, off, err);
}

/* Character devices whose reads take nothing from anyone: mem, null, zero,
** full, random, urandom (major 1). */
static int harmlessDevice(struct ptmSimFile *f)
{
    struct stat st;
    return f->type == S_IFCHR && f->fd >= 0 && ptmProbeFstat(f->fd, &st) == 0 &&
           major(st.st_rdev) == 1 && minor(st.st_rdev) != 1; /* not /dev/mem */
}

static int readable(const struct ptmSimFile *f)
{
    return !f->closed && f->fd >= 0 && (f->flags & O_ACCMODE) != O_WRONLY && !(f->flags & O_PATH);
}

/* A read of what the mirror cannot take without taking it from the host
** (a pipe, a terminal): EAGAIN when non-blocking, else an empty read (end
** of file).  Invented: the event gets marked pretended (ptmShimNoteRecv),
** so that what the mirror computes from it is no evidence. */
static ssize_t simulatedEmptyRead(struct ptmSimFile *f, int *err)
{
    f->unrecorded = 1;
    if (f->flags & O_NONBLOCK) {
        *err = EAGAIN;
        return -1;
    }
    return 0;
}

static ssize_t realRead(int fd, void *buf, size_t n, int *err)
{
    ssize_t r;
    while ((r = ptmOs.read(fd, buf, n)) < 0)
        if (errno != EINTR) {
            *err = errno;
            return -1;
        }
    return r;
}

/* A read of regular file f at off: the overlay's view, else the real
** bytes through fd (which may be the host's: pread never moves it). */
static ssize_t regularRead(struct ptmSimFile *f, void *buf, size_t n, off_t off, int *err)
{
    struct ptmOvFile *ov = f->ov ? f->ov : ptmOvFind(f->mirror, f->dev, f->ino);

    if (ov)
        return ptmOvRead(ov, buf, n, off, err);
    if (f->kind == PTM_SIM_WRITE) {
        *err = EIO;                         /* cannot be: a simulated file has an overlay */
        return -1;
    }
    return ptmProbePread(f->fd, buf, n, off, err);
}

/*
** ptmSimRead: read(2) of up to n bytes on f.  A regular file reads through
** the overlay (what the mirror wrote, over the real bytes) at f's offset,
** which advances: the mirror's own descriptor's for real, a host
** descriptor's privately (pread).  A socket goes to net.c (ptmNetRecv).  A pipe, a
** terminal or an unknown descriptor of the host is not read (its data is
** the primary's): EAGAIN when non-blocking, else end of file.  Returns the
** count, or -1 with *err set (EBADF, EISDIR, EAGAIN, or what pread says).
*/
ssize_t ptmSimRead(struct ptmSimFile *f, void *buf, size_t n, int *err)
{
    ssize_t r;
    off_t off;

    *err = 0;
    if (!readable(f)) {
        *err = EBADF;
        return -1;
    }
    if (ptmSimIsSocket(f))
        return ptmSimWorldOf(f->mirror)->sockets->recv(f, buf, n, 0, NULL, NULL, err);
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    switch (f->type) {
    case S_IFREG:
        if (f->real_offset && !f->ov && !(f->ov = ptmOvFind(f->mirror, f->dev, f->ino)))
            return realRead(f->fd, buf, n, err); /* the mirror's own description */
        off = curOffset(f);
        if ((r = regularRead(f, buf, n, off, err)) > 0)
            setOffset(f, off + r);
        return r;
    case S_IFDIR:
        *err = EISDIR;
        return -1;
    default:
        if (harmlessDevice(f))
            return realRead(f->fd, buf, n, err);
        if (f->kind == PTM_SIM_WRITE)
            return 0;                       /* a device opened for writing: /dev/null */
        return simulatedEmptyRead(f, err);
    }
}

/*
** ptmSimPread: pread(2) of up to n bytes at off on f, through the overlay;
** the offset does not move.  ESPIPE for pipes, sockets and unknown host
** descriptors, EINVAL for a negative offset.  Returns the count or -1 with
** *err set.
*/
ssize_t ptmSimPread(struct ptmSimFile *f, void *buf, size_t n, off_t off, int *err)
{
    *err = 0;
    if (!readable(f)) {
        *err = EBADF;
        return -1;
    }
    if (f->type == S_IFIFO || f->type == S_IFSOCK || f->kind == PTM_SIM_SOCKET || f->type == 0) {
        *err = ESPIPE;
        return -1;
    }
    if (off < 0) {
        *err = EINVAL;
        return -1;
    }
    if (f->type == S_IFDIR) {
        *err = EISDIR;
        return -1;
    }
    if (f->type != S_IFREG)
        return harmlessDevice(f) ? ptmProbePread(f->fd, buf, n, off, err) : 0;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    return regularRead(f, buf, n, off, err);
}

/*
** ptmSimSeek: lseek(2) on f: the mirror's offset on a regular file
** (SEEK_SET, SEEK_CUR, SEEK_END against the overlay's size, SEEK_DATA and
** SEEK_HOLE with the file as one extent of data), the mirror's own
** description of a directory.  ESPIPE for pipes, sockets and unknown host
** descriptors; a device stays at 0.  Returns the new offset, or -1 with
** *err set (EBADF, EINVAL, ENXIO, EOVERFLOW, ESPIPE).
*/
off_t ptmSimSeek(struct ptmSimFile *f, off_t off, int whence, int *err)
{
    off_t base, size, pos;

    *err = 0;
    if (f->closed || f->fd < 0) {
        *err = EBADF;
        return -1;
    }
    if (f->type == S_IFIFO || f->type == S_IFSOCK || f->kind == PTM_SIM_SOCKET || f->type == 0) {
        *err = ESPIPE;
        return -1;
    }
    if (f->type == S_IFDIR && f->kind == PTM_SIM_READONLY) {
        if ((pos = ptmOs.lseek(f->fd, off, whence)) < 0)
            *err = errno;
        return pos;
    }
    if (f->type != S_IFREG && f->type != S_IFDIR)
        return 0;
    size = ptmSimSize(f);
    if (size < 0)
        size = 0;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = curOffset(f); break;
    case SEEK_END: base = size; break;
    case SEEK_DATA:
    case SEEK_HOLE:
        if (off < 0 || off >= size) {
            *err = off < 0 ? EINVAL : ENXIO;
            return -1;
        }
        pos = whence == SEEK_DATA ? off : size;
        setOffset(f, pos);
        return pos;
    default:
        *err = EINVAL;
        return -1;
    }
    if ((off > 0 && base > INT64_MAX - off) || (off < 0 && base + off < 0)) {
        *err = off > 0 ? EOVERFLOW : EINVAL;
        return -1;
    }
    pos = base + off;
    setOffset(f, pos);
    return pos;
}

/*
** ptmSimTruncate: ftruncate(2) of f to len in the overlay.  Predicts EBADF
** (closed), EINVAL (a negative length, not a regular file, not open for
** writing) and EFBIG (RLIMIT_FSIZE); a shrink gives its bytes back to the
** filesystem's free space, a growth makes a hole (no space).  0 or an errno.
*/
int ptmSimTruncate(struct ptmSimFile *f, off_t len)
{
    struct ptmOvFile *ov;
    int err = 0;

    if (f->closed || f->fd < 0)
        return EBADF;
    if (len < 0 || f->type != S_IFREG || !writable(f))
        return EINVAL;
    if (len > 0 && ptmSpaceFsizeLimit(f->mirror, len - 1, 1, &err) < 0)
        return err;
    if (!(ov = bindOv(f)))
        return ENOMEM;
    if (len < ov->size)
        ptmSpaceCharge(f->mirror, ov, -(int64_t)(ov->size - len));
    ptmOvTruncate(f->mirror, ov, len);
    return 0;
}

/*
** ptmSimSync: fsync(2)/fdatasync(2) on f: nothing to flush in a mirror;
** checked only.  EBADF when closed, EINVAL for a pipe or a socket.
*/
int ptmSimSync(struct ptmSimFile *f)
{
    if (f->closed || f->fd < 0)
        return EBADF;
    if (f->type == S_IFIFO || f->type == S_IFSOCK || f->kind == PTM_SIM_SOCKET)
        return EINVAL;
    return 0;
}

/* ov as stat() would describe it.  OUT: *st.  0 or an errno. */
int ptmSimOvStat(struct ptmOvFile *ov, struct stat *st)
{
    int err = ENOENT, fd;

    if (ov->ino) {
        if (ov->host_fd >= 0)
            err = ptmProbeFstat(ov->host_fd, st);
        else if (ptmOvRealPath(ov) && (err = ptmProbeStat(ov->real_path, st)) == 0 &&
                 (st->st_dev != ov->dev || st->st_ino != ov->ino))
            err = ESTALE;                   /* the path names another file now */
        if (err && (fd = ptmOvRealFd(ov)) >= 0)
            err = ptmProbeFstat(fd, st);
    }
    if (err) {
        memset(st, 0, sizeof *st);
        st->st_mode = S_IFREG | ov->mode;
        st->st_nlink = 1;
        st->st_uid = ov->uid;
        st->st_gid = ov->gid;
        st->st_dev = ov->fs;
        st->st_ino = ov->ino ? ov->ino : (ino_t)(uintptr_t)ov;
        st->st_blksize = 4096;
        st->st_atim = st->st_ctim = ov->mtime;
    }
    st->st_size = ov->size;
    st->st_blocks = (blkcnt_t)((ov->size + 511) / 512);
    if (ov->mtime.tv_sec)
        st->st_mtim = st->st_ctim = ov->mtime;
    return 0;
}

/* ptmSimDirStat: a directory the mirror made (e; NULL: a default one) as
** stat() would describe it.  OUT: *st. */
void ptmSimDirStat(const struct ptmNsEntry *e, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFDIR | (e ? e->mode : 0755);
    st->st_nlink = 2;
    st->st_uid = geteuid();
    st->st_gid = getegid();
    st->st_ino = (ino_t)(uintptr_t)e;
    st->st_size = 4096;
    st->st_blksize = 4096;
    clock_gettime(CLOCK_REALTIME, &st->st_mtim);
    st->st_atim = st->st_ctim = st->st_mtim;
}

/*
** ptmSimFstat: fstat(2) of f as the mirror sees it: the real file's
** metadata with the overlay's size and the time of the mirror's last
** write; a file the mirror made is described from the overlay.  OUT: *st.
** 0 or an errno (EBADF when closed).
*/
int ptmSimFstat(struct ptmSimFile *f, struct stat *st)
{
    struct ptmOvFile *ov;

    if (f->closed || f->fd < 0)
        return EBADF;
    if (f->type == S_IFREG && (ov = f->ov ? f->ov : ptmOvFind(f->mirror, f->dev, f->ino)) != NULL)
        return ptmSimOvStat(ov, st);
    if (f->kind == PTM_SIM_WRITE && f->type == S_IFDIR) {
        ptmSimDirStat(NULL, st);
        return 0;
    }
    if (f->kind == PTM_SIM_WRITE && f->type != S_IFREG && f->abs_path)
        return ptmProbeStat(f->abs_path, st);
    return ptmProbeFstat(f->fd, st);
}

/*
** ptmSimClose: the mirror's close(f->fd).  A host descriptor is closed in
** simulation only (it stays open; the mirror's later use of it is EBADF,
** and a second close fails so).  The mirror's own descriptor is closed for
** real (through ptmSimCloseFd); its entry lives on while a FILE the mirror
** made on it does (stdio.c), else it is freed.  0 or EBADF.
*/
int ptmSimClose(struct ptmSimFile *f)
{
    if (f->closed || f->fd < 0)
        return EBADF;
    if (f->kind == PTM_SIM_BORROWED) {
        f->closed = 1;
        return 0;
    }
    if (f->streams > 0) {
        ptmSimCloseFd(f->mirror, f->fd);
        f->fd = -1;
        f->closed = 1;
        return 0;
    }
    ptmSimRemove(f);
    return 0;
}

/*
** ptmSimRemove: unlinks f from its mirror's list and frees it, closing its
** descriptor when the mirror owns it (never a borrowed one).
*/
void ptmSimRemove(struct ptmSimFile *f)
{
    struct ptmSimFile **pp;

    for (pp = &ptmSimWorldOf(f->mirror)->files; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if ((f->kind != PTM_SIM_BORROWED || f->owns_fd) && f->fd >= 0)
        ptmSimCloseFd(f->mirror, f->fd);
    free(f->sock);
    free(f->path);
    free(f->abs_path);
    free(f);
}

/* ------------------------------------------------------------ file locks */

/*
** ptmSimLockProbe: would fcntl(f->fd, F_SETLK-class, fl) conflict with a
** lock someone else holds?  Asked with F_OFD_GETLK on a descriptor of the
** mirror's (which sees this process's locks too), skipping this process's
** own process-associated locks when the request is one too (ofd == 0: the
** primary would own both); F_GETLK where OFD locks are missing.  fl's
** l_whence may be SEEK_SET, SEEK_CUR or SEEK_END (against the mirror's
** offset and size).  OUT: *holder, the pid of a conflicting lock (-1 for an
** OFD lock).  Returns 0 (no conflict, or none visible), EAGAIN, or EINVAL /
** EBADF for a bad request.
*/
int ptmSimLockProbe(struct ptmSimFile *f, const struct flock *fl, int ofd, pid_t *holder)
{
    struct flock p;
    off_t start, end;
    int fd, i, cmd = F_OFD_GETLK;

    *holder = 0;
    if (fl->l_type == F_UNLCK)
        return 0;
    if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK)
        return EINVAL;
    if ((fl->l_type == F_RDLCK && !readable(f)) || (fl->l_type == F_WRLCK && !writable(f)))
        return EBADF;
    if (f->type != S_IFREG)
        return 0;
    switch (fl->l_whence) {
    case SEEK_SET: start = fl->l_start; break;
    case SEEK_CUR: start = curOffset(f) + fl->l_start; break;
    case SEEK_END: start = ptmSimSize(f) + fl->l_start; break;
    default: return EINVAL;
    }
    if (fl->l_len < 0) {
        start += fl->l_len;
        end = start - fl->l_len;
    } else {
        end = fl->l_len ? start + fl->l_len : 0;
    }
    if (start < 0)
        return EINVAL;
    /* A descriptor on the real file: f's own, or the overlay's. */
    if (f->kind == PTM_SIM_WRITE) {
        struct ptmOvFile *ov = bindOv(f);
        if (!ov || !ov->ino)
            return 0;                       /* a file only the mirror knows */
        fd = ptmOvRealFd(ov);
    } else {
        fd = f->fd;
    }
    if (fd < 0)
        return 0;
    for (i = 0; i < 16; i++) {
        memset(&p, 0, sizeof p);
        p.l_type = fl->l_type;
        p.l_whence = SEEK_SET;
        p.l_start = start;
        p.l_len = end ? end - start : 0;
        if (ptmOs.fcntl_lock(fd, cmd, &p) != 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            if (errno == EINVAL && cmd == F_OFD_GETLK) {
                cmd = F_GETLK;
                i--;
                continue;
            }
            return 0;
        }
        if (p.l_type == F_UNLCK)
            return 0;
        if (!ofd && p.l_pid == f->mirror->host_pid) {
            /* The primary's own process lock: no conflict.  Look past it. */
            if (p.l_len == 0)
                return 0;
            start = p.l_start + p.l_len;
            if (end && start >= end)
                return 0;
            continue;
        }
        *holder = p.l_pid;
        return EAGAIN;
    }
    return 0;
}

/* ---------------------------------------------------------------- release */

/* simRelease: closes every descriptor mirror m owns (through
** ptmSimCloseFd) and frees its simulated world: descriptors, overlay,
** namespace, free-space accounting, the working directory it read. */
static void simRelease(struct ptmMirror *m)
{
    struct ptmNsEntry *e;
    struct ptmFsUse *u;

    while (ptmSimWorldOf(m)->files)
        ptmSimRemove(ptmSimWorldOf(m)->files);
    ptmOvFreeAll(m);
    while ((e = ptmSimWorldOf(m)->ns) != NULL) {
        ptmSimWorldOf(m)->ns = e->next;
        free(e->path);
        free(e->alias);
        free(e);
    }
    while ((u = ptmSimWorldOf(m)->fsuse) != NULL) {
        ptmSimWorldOf(m)->fsuse = u->next;
        free(u);
    }
    ptmSimWorldOf(m)->ov_bytes = 0;
    ptmSpaceForget(m);
    ptmSimCloseParked(m);
    free(ptmSimWorldOf(m)->cwd);
    ptmSimWorldOf(m)->cwd = NULL;
}

const struct ptmShimFamily ptmSimFamily = {.name = "sim", .release = simRelease};
