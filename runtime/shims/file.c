/*
** shims/file.c - POSIX file I/O in a mirror: open openat creat close read
** pread write pwrite lseek fsync fdatasync ftruncate unlink rename mkdir
** rmdir stat lstat fstat access fcntl flock copy_file_range, and stdio's
** remove.
**
** Outside a mirror (ptmMirrorCurrent == NULL) each shim is exactly the real
** call.  In a mirror each one
**   (a) records a PTM_EV_CALL event: target (the path, or the path the
**       mirror opened the descriptor with, or "fd N"), result, predicted
**       errno, bytes (written, or read), duration; calls that change
**       something carry PTM_EVF_EFFECT (opens by their intent);
**   (b) predicts whether the real call would succeed with read-only probes
**       through ptmOs (stat, access, statvfs, getrlimit, fcntl F_GETFL and
**       F_OFD_GETLK, /proc/locks), each retried on EINTR;
**   (c) returns what the real call would -- a simulated success, or -1 with
**       errno set to the predicted error -- having written nothing.
**
** The world the mirror sees is simulated in shims/sim.c: writes go to a
** per-mirror overlay it reads back (offsets, O_APPEND, O_TRUNC, ftruncate,
** holes), and unlink/rename/mkdir/rmdir change a per-mirror namespace, so a
** later open or stat in the same mirror sees the change: an O_CREAT|O_EXCL
** after an unlink succeeds, a second one fails with EEXIST.  Host
** descriptors are never moved: reads of them use pread at a private offset.
**
** Locks: fcntl(F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW) and flock()
** take nothing.  They probe whether someone else holds a conflicting lock
** (F_OFD_GETLK; /proc/locks for flock) and record contention as EAGAIN /
** EWOULDBLOCK with PTM_EVF_EFFECT: the non-blocking forms fail with it, as
** the real call would; the blocking forms return 0, as the real call would
** after waiting.  The other fcntl commands: F_GETFL answers the mirror's
** view of the flags, F_SETFL and other setters change only that view (a
** host's open file description is shared: never touched), getters pass
** through, F_DUPFD duplicates the mirror's entry (the copy's offset is its
** own, not shared as dup's would be).
**
** Not modelled: link/symlink and the *at variants other than openat,
** mandatory locking, quotas (EDQUOT), fsync's EIO, and unlink's effect on
** free space.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shims_int.h"

#define WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* Sets errno and returns -1, for the failing path of a shim. */
static int failWith(int err)
{
    errno = err;
    return -1;
}

/* "O_WRONLY|O_CREAT|O_TRUNC 0644": an open's flags, for event details. */
static void flagsDetail(int flags, mode_t mode, char *dst, size_t cap)
{
    static const struct {
        int bit;
        const char *name;
    } bits[] = {
        {O_CREAT, "O_CREAT"},   {O_EXCL, "O_EXCL"},         {O_TRUNC, "O_TRUNC"},
        {O_APPEND, "O_APPEND"}, {O_NONBLOCK, "O_NONBLOCK"}, {O_CLOEXEC, "O_CLOEXEC"},
        {O_SYNC, "O_SYNC"},     {O_NOFOLLOW, "O_NOFOLLOW"}, {O_DIRECTORY, "O_DIRECTORY"},
    };
    char buf[160];
    size_t i, n;
    int acc = flags & O_ACCMODE;

    n = (size_t)snprintf(buf, sizeof buf, "%s",
                         acc == O_RDONLY ? "O_RDONLY" : acc == O_WRONLY ? "O_WRONLY" : "O_RDWR");
    for (i = 0; i < sizeof bits / sizeof bits[0] && n < sizeof buf; i++)
        if ((flags & bits[i].bit) == bits[i].bit)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "|%s", bits[i].name);
    if (n < sizeof buf && (flags & O_CREAT))
        snprintf(buf + n, sizeof buf - n, " %04o", (unsigned)mode & 07777);
    ptmCopyField(dst, cap, buf);
}

/* The open family in a mirror. */
static int mirrorOpen(struct ptmMirror *m, enum ptmCall call, int dirfd, const char *path,
                      int flags, mode_t mode)
{
    struct ptmSimFile *f = NULL;
    struct ptmEvent *ev;
    uint64_t t0 = ptmOsNowNs();
    int err;

    err = ptmSimOpen(m, dirfd, path, flags, mode, &f);
    ev = ptmMirrorRecordCall(call, t0, path, err ? -1 : f->fd, err, 0);
    if (ev) {
        flagsDetail(flags, mode, ev->detail, sizeof ev->detail);
        if ((flags & WRITE_INTENT) || (flags & O_TMPFILE) == O_TMPFILE)
            ev->flags |= PTM_EVF_EFFECT;
    }
    return err ? failWith(err) : f->fd;
}

/* The mode argument of open(2), present with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(ap, flags, mode)                                          \
    do {                                                                    \
        if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) {    \
            va_start(ap, flags);                                            \
            mode = (mode_t)va_arg(ap, int);                                 \
            va_end(ap);                                                     \
        }                                                                   \
    } while (0)

/*
** ptm_shim_open: open(2).  In a mirror: a read-only open of a real file is
** real (reads pass through); anything else is checked (ENOENT, EEXIST,
** EISDIR, EACCES, EROFS, ENOSPC for inodes, ENOTDIR) and simulated on a
** harmless descriptor; the namespace overlay is consulted and, for a new
** file, updated.
*/
int ptm_shim_open(const char *path, int flags, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    mode_t mode = 0;
    va_list ap;

    OPEN_MODE(ap, flags, mode);
    if (!m)
        return open(path, flags, mode);
    return mirrorOpen(m, PTM_CALL_open, AT_FDCWD, path, flags, mode);
}

/*
** ptm_shim_openat: openat(2), as ptm_shim_open with a relative path taken
** from dirfd (a directory the mirror opened, or the host's).
*/
int ptm_shim_openat(int dirfd, const char *path, int flags, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    mode_t mode = 0;
    va_list ap;

    OPEN_MODE(ap, flags, mode);
    if (!m)
        return openat(dirfd, path, flags, mode);
    return mirrorOpen(m, PTM_CALL_openat, dirfd, path, flags, mode);
}

/*
** ptm_shim_creat: creat(2), which is open(path, O_CREAT|O_WRONLY|O_TRUNC).
*/
int ptm_shim_creat(const char *path, mode_t mode)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return creat(path, mode);
    return mirrorOpen(m, PTM_CALL_creat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/*
** ptm_shim_close: close(2).  In a mirror: a descriptor the mirror opened is
** closed for real (it is read-only, /dev/null or an unconnected socket;
** never in a way that drops the host's fcntl locks); a host descriptor is
** only marked closed, so that the mirror's later use of it fails with EBADF.
*/
int ptm_shim_close(int fd)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimFile *f;
    char target[PTM_TARGET_MAX];
    uint64_t t0;
    int err;

    if (!m)
        return close(fd);
    t0 = ptmOsNowNs();
    ptmShimFdTarget(m, fd, target, sizeof target);
    err = ptmSimEntry(m, fd, &f);
    if (!err)
        err = ptmSimClose(f);
    ptmMirrorRecordCall(PTM_CALL_close, t0, target, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/* read, pread, write, pwrite in a mirror: op runs on fd's entry. */
enum rwOp { RW_READ, RW_PREAD, RW_WRITE, RW_PWRITE };

static ssize_t mirrorRw(struct ptmMirror *m, enum ptmCall call, enum rwOp op, int fd, void *rbuf,
                        const void *wbuf, size_t n, off_t off)
{
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    struct ptmEvent *ev;
    uint64_t t0 = ptmOsNowNs();
    ssize_t r = -1;
    int err;

    err = ptmSimEntry(m, fd, &f);
    if (!err) {
        switch (op) {
        case RW_READ: r = ptmSimRead(f, rbuf, n, &err); break;
        case RW_PREAD: r = ptmSimPread(f, rbuf, n, off, &err); break;
        case RW_WRITE: r = ptmSimWrite(f, wbuf, n, &err); break;
        case RW_PWRITE: r = ptmSimPwrite(f, wbuf, n, off, &err); break;
        }
    }
    ptmShimFdTarget(m, fd, target, sizeof target);
    if (op == RW_READ || op == RW_PREAD) {
        ev = ptmMirrorRecordRead(call, t0, target, r, err, r > 0 ? (uint64_t)r : 0);
        ptmShimNoteRecv(f, ev);
    } else {
        ev = ptmMirrorRecordCall(call, t0, target, r, err, r > 0 ? (uint64_t)r : 0);
        ptmShimNoteSignal(ev, err, 0);
    }
    if (r < 0)
        return failWith(err);
    return r;
}

/*
** ptm_shim_write: write(2).  In a mirror: checked (EBADF, EFBIG, ENOSPC,
** EAGAIN on a full non-blocking pipe, a socket's state) and simulated: the
** bytes go to the mirror's overlay of the file, on the mirror's own
** descriptors and the host's alike.
*/
ssize_t ptm_shim_write(int fd, const void *buf, size_t n)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return write(fd, buf, n);
    return mirrorRw(m, PTM_CALL_write, RW_WRITE, fd, NULL, ptmRedoIn(buf, n), n, 0);
}

/*
** ptm_shim_pwrite: pwrite(2), as ptm_shim_write at offset off (ESPIPE,
** EINVAL), without moving the offset.
*/
ssize_t ptm_shim_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return pwrite(fd, buf, n, off);
    return mirrorRw(m, PTM_CALL_pwrite, RW_PWRITE, fd, NULL, ptmRedoIn(buf, n), n, off);
}

/*
** ptm_shim_read: read(2).  In a mirror: the file as the mirror sees it
** (what it wrote over the real bytes); a host descriptor is read with pread
** at the mirror's private offset; a pipe, terminal or socket of the host is
** never consumed (a recorded response for a socket, else EAGAIN when
** non-blocking, else end of file).
*/
ssize_t ptm_shim_read(int fd, void *buf, size_t n)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return read(fd, buf, n);
    return mirrorRw(m, PTM_CALL_read, RW_READ, fd, ptmRedoOut(buf, n), NULL, n, 0);
}

/*
** ptm_shim_pread: pread(2), as ptm_shim_read at offset off.
*/
ssize_t ptm_shim_pread(int fd, void *buf, size_t n, off_t off)
{
    struct ptmMirror *m = ptmMirrorCurrent;

    if (!m)
        return pread(fd, buf, n, off);
    return mirrorRw(m, PTM_CALL_pread, RW_PREAD, fd, ptmRedoOut(buf, n), NULL, n, off);
}

/*
** ptm_shim_lseek: lseek(2).  In a mirror: moves the mirror's offset only
** (SEEK_END against the size the mirror sees); a host descriptor's real
** offset never moves.
*/
off_t ptm_shim_lseek(int fd, off_t off, int whence)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    uint64_t t0;
    off_t r = -1;
    int err;

    if (!m)
        return lseek(fd, off, whence);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err)
        r = ptmSimSeek(f, off, whence, &err);
    ptmShimFdTarget(m, fd, target, sizeof target);
    ptmMirrorRecordRead(PTM_CALL_lseek, t0, target, r, err, 0);
    return r < 0 ? failWith(err) : r;
}

/* fsync, fdatasync in a mirror. */
static int mirrorSync(struct ptmMirror *m, enum ptmCall call, int fd)
{
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    uint64_t t0 = ptmOsNowNs();
    int err;

    err = ptmSimEntry(m, fd, &f);
    if (!err)
        err = ptmSimSync(f);
    ptmShimFdTarget(m, fd, target, sizeof target);
    ptmMirrorRecordCall(call, t0, target, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_fsync: fsync(2).  In a mirror: nothing to flush; EBADF for a
** descriptor that is not open, EINVAL for a pipe or a socket.
*/
int ptm_shim_fsync(int fd)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorSync(m, PTM_CALL_fsync, fd) : fsync(fd);
}

/*
** ptm_shim_fdatasync: fdatasync(2), as ptm_shim_fsync.
*/
int ptm_shim_fdatasync(int fd)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorSync(m, PTM_CALL_fdatasync, fd) : fdatasync(fd);
}

/*
** ptm_shim_ftruncate: ftruncate(2).  In a mirror: the overlay is cut or
** extended (EBADF, EINVAL for a file not open for writing, EFBIG); reads in
** the same mirror see the new size.
*/
int ptm_shim_ftruncate(int fd, off_t len)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    struct ptmEvent *ev;
    uint64_t t0;
    int err;

    if (!m)
        return ftruncate(fd, len);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err)
        err = ptmSimTruncate(f, len);
    ptmShimFdTarget(m, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(PTM_CALL_ftruncate, t0, target, err ? -1 : 0, err, 0);
    if (ev && !err)
        snprintf(ev->detail, sizeof ev->detail, "length %lld", (long long)len);
    ptmShimNoteSignal(ev, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_unlink: unlink(2).  In a mirror: checked (ENOENT, EISDIR, EROFS,
** EACCES, EPERM for a sticky directory) and recorded in the mirror's
** namespace: the file is still there for everyone else, gone for the mirror.
*/
int ptm_shim_unlink(const char *path)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int err;

    if (!m)
        return unlink(path);
    t0 = ptmOsNowNs();
    err = ptmSimUnlink(m, path);
    ptmMirrorRecordCall(PTM_CALL_unlink, t0, path, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_rename: rename(2).  In a mirror: checked (ENOENT, ENOTDIR, EXDEV,
** EROFS, EACCES, EISDIR, ENOTEMPTY, EINVAL) and recorded in the mirror's
** namespace; nothing moves for real.
*/
int ptm_shim_rename(const char *from, const char *to)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmEvent *ev;
    uint64_t t0;
    int err;

    if (!m)
        return rename(from, to);
    t0 = ptmOsNowNs();
    err = ptmSimRename(m, from, to);
    ev = ptmMirrorRecordCall(PTM_CALL_rename, t0, from, err ? -1 : 0, err, 0);
    if (ev)
        ptmCopyField(ev->detail, sizeof ev->detail, to);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_mkdir: mkdir(2).  In a mirror: checked (EEXIST, ENOENT, ENOTDIR,
** EROFS, EACCES) and recorded in the mirror's namespace.
*/
int ptm_shim_mkdir(const char *path, mode_t mode)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmEvent *ev;
    uint64_t t0;
    int err;

    if (!m)
        return mkdir(path, mode);
    t0 = ptmOsNowNs();
    err = ptmSimMkdir(m, path, mode);
    ev = ptmMirrorRecordCall(PTM_CALL_mkdir, t0, path, err ? -1 : 0, err, 0);
    if (ev)
        snprintf(ev->detail, sizeof ev->detail, "%04o", (unsigned)mode & 07777);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_rmdir: rmdir(2).  In a mirror: checked (ENOENT, ENOTDIR,
** ENOTEMPTY as the mirror sees the directory, EINVAL, EBUSY, EROFS, EACCES)
** and recorded in the mirror's namespace.
*/
int ptm_shim_rmdir(const char *path)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int err;

    if (!m)
        return rmdir(path);
    t0 = ptmOsNowNs();
    err = ptmSimRmdir(m, path);
    ptmMirrorRecordCall(PTM_CALL_rmdir, t0, path, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_remove: remove(3): unlink(2), and rmdir(2) when the path is a
** directory (glibc's order).  In a mirror: as ptm_shim_unlink, then
** ptm_shim_rmdir for EISDIR, in the mirror's namespace only; one event.
*/
int ptm_shim_remove(const char *path)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int err;

    if (!m)
        return remove(path);
    t0 = ptmOsNowNs();
    err = ptmSimUnlink(m, path);
    if (err == EISDIR)
        err = ptmSimRmdir(m, path);
    ptmMirrorRecordCall(PTM_CALL_remove, t0, path, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

static int mirrorStat(struct ptmMirror *m, enum ptmCall call, const char *path, int follow,
                      struct stat *st)
{
    uint64_t t0 = ptmOsNowNs();
    int err = st ? ptmSimStat(m, AT_FDCWD, path, follow, st) : EFAULT;

    ptmMirrorRecordRead(call, t0, path, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_stat: stat(2).  In a mirror: as the mirror sees the path (what
** it removed is ENOENT, what it made or wrote has the overlay's size).
*/
int ptm_shim_stat(const char *restrict path, struct stat *restrict st)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorStat(m, PTM_CALL_stat, path, 1, ptmRedoOut(st, sizeof *st)) : stat(path, st);
}

/*
** ptm_shim_lstat: lstat(2), as ptm_shim_stat without following a final
** symbolic link.
*/
int ptm_shim_lstat(const char *restrict path, struct stat *restrict st)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorStat(m, PTM_CALL_lstat, path, 0, ptmRedoOut(st, sizeof *st))
             : lstat(path, st);
}

/*
** ptm_shim_fstat: fstat(2).  In a mirror: the descriptor's file as the
** mirror sees it (a simulated open reports the file it names, not its
** harmless descriptor).
*/
int ptm_shim_fstat(int fd, struct stat *st)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    uint64_t t0;
    int err;

    if (!m)
        return fstat(fd, st);
    st = ptmRedoOut(st, sizeof *st);
    t0 = ptmOsNowNs();
    err = st ? ptmSimEntry(m, fd, &f) : EFAULT;
    if (!err)
        err = ptmSimFstat(f, st);
    ptmShimFdTarget(m, fd, target, sizeof target);
    ptmMirrorRecordRead(PTM_CALL_fstat, t0, target, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/*
** ptm_shim_access: access(2).  In a mirror: as the mirror sees the path.
*/
int ptm_shim_access(const char *path, int mode)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    int err;

    if (!m)
        return access(path, mode);
    t0 = ptmOsNowNs();
    err = ptmSimAccess(m, path, mode);
    ptmMirrorRecordRead(PTM_CALL_access, t0, path, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/* ------------------------------------------------------------------ fcntl */

static const char *lockCmdName(int cmd)
{
    switch (cmd) {
    case F_SETLK: return "F_SETLK";
    case F_SETLKW: return "F_SETLKW";
    case F_OFD_SETLK: return "F_OFD_SETLK";
    case F_OFD_SETLKW: return "F_OFD_SETLKW";
    default: return "F_GETLK";
    }
}

/* fcntl's lock-taking commands in a mirror: probed, never taken.  OUT:
** *ev_err (the contention to record), detail.  Returns what fcntl would. */
static int mirrorSetLock(struct ptmSimFile *f, int cmd, struct flock *fl, int *err, int *ev_err,
                         char *detail, size_t cap)
{
    int ofd = cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
    int wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
    pid_t holder = 0;

    *err = *ev_err = 0;
    if (!fl) {
        *err = EFAULT;
        return -1;
    }
    if (ofd && fl->l_pid != 0) {
        *err = EINVAL;
        return -1;
    }
    *ev_err = ptmSimLockProbe(f, fl, ofd, &holder);
    snprintf(detail, cap, "%s %s", lockCmdName(cmd),
             fl->l_type == F_RDLCK ? "F_RDLCK" : fl->l_type == F_WRLCK ? "F_WRLCK" : "F_UNLCK");
    if (*ev_err == EAGAIN) {
        snprintf(detail, cap, "%s held by %s%d", lockCmdName(cmd), holder < 0 ? "an OFD lock " : "pid ",
                 holder < 0 ? 0 : (int)holder);
        if (wait)
            return 0;                       /* it would wait, then have it */
        *err = EAGAIN;
        return -1;
    }
    if (*ev_err) {
        *err = *ev_err;
        return -1;
    }
    return 0;
}

/* F_DUPFD in a mirror: a real duplicate of the harmless (or host)
** descriptor, with a copy of the entry.  The copy's offset is its own. */
static int mirrorDup(struct ptmMirror *m, struct ptmSimFile *f, int cmd, int minfd, int *err)
{
    struct ptmSimFile *g;
    int nfd;

    if (f->fd < 0) {
        *err = EBADF;
        return -1;
    }
    while ((nfd = ptmOs.fcntl_int(f->fd, cmd, minfd)) < 0)
        if (errno != EINTR) {
            *err = errno;
            return -1;
        }
    g = calloc(1, sizeof *g);
    if (!g || (f->path && !(g->path = strdup(f->path))) ||
        (f->abs_path && !(g->abs_path = strdup(f->abs_path)))) {
        if (g) {
            free(g->path);
            free(g);
        }
        ptmSimCloseFd(m, nfd);
        *err = ENOMEM;
        return -1;
    }
    g->mirror = m;
    g->kind = f->kind;
    g->fd = nfd;
    g->flags = f->flags & ~O_CLOEXEC;
    g->type = f->type;
    g->real_offset = 0;
    g->dev = f->dev;
    g->ino = f->ino;
    g->st = f->st;
    g->offset = ptmSimOffset(f);
    g->ov = f->ov;
    g->owns_fd = f->kind == PTM_SIM_BORROWED;
    if (f->sock && (g->sock = malloc(sizeof *g->sock)) != NULL)
        *g->sock = *f->sock;
    g->next = ptmSimWorldOf(m)->files;
    ptmSimWorldOf(m)->files = g;
    return nfd;
}

/* The fcntl commands that pass a pointer. */
/* fcntlView: the struct cmd reads (a setter) or fills (F_GETLK,
** F_GETOWN_EX) at arg, as an inline mirror sees it: a view in its write
** buffer, so that a getter never fills the host's struct and a setter reads
** what the mirror stored.  arg itself outside an inline mirror. */
static void *fcntlView(int cmd, void *arg)
{
    switch (cmd) {
    case F_GETLK: case F_OFD_GETLK:
        return ptmRedoOut(arg, sizeof(struct flock));
    case F_SETLK: case F_SETLKW: case F_OFD_SETLK: case F_OFD_SETLKW:
        return (void *)(uintptr_t)ptmRedoIn(arg, sizeof(struct flock));
    case F_GETOWN_EX:
        return ptmRedoOut(arg, sizeof(struct f_owner_ex));
    case F_SETOWN_EX:
        return (void *)(uintptr_t)ptmRedoIn(arg, sizeof(struct f_owner_ex));
    default:
        return arg;
    }
}

static int fcntlTakesPointer(int cmd)
{
    switch (cmd) {
    case F_GETLK: case F_SETLK: case F_SETLKW:
    case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
    case F_GETOWN_EX: case F_SETOWN_EX:
        return 1;
    default:
        return 0;
    }
}

/*
** ptm_shim_fcntl: fcntl(2).  In a mirror: the lock-taking commands probe
** and record contention, never lock; F_GETFL and F_SETFL use the mirror's
** view of the flags; the other setters are simulated; getters and F_GETLK
** pass through to the mirror's descriptor, filling the write buffer's view
** of the struct in an inline mirror; F_DUPFD copies the entry.
*/
int ptm_shim_fcntl(int fd, int cmd, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX], detail[PTM_DETAIL_MAX] = "";
    struct ptmSimFile *f;
    struct ptmEvent *ev;
    uint64_t t0;
    void *arg;
    va_list ap;
    int err, ev_err = 0, r = -1, effect = 0, iarg;

    /* As glibc does: the argument, if any, is read as a pointer. */
    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    iarg = (int)(intptr_t)arg;
    if (!m)
        return fcntlTakesPointer(cmd) ? fcntl(fd, cmd, arg) : fcntl(fd, cmd, iarg);
    arg = fcntlView(cmd, arg);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err) {
        switch (cmd) {
        case F_SETLK: case F_SETLKW: case F_OFD_SETLK: case F_OFD_SETLKW:
            r = mirrorSetLock(f, cmd, arg, &err, &ev_err, detail, sizeof detail);
            effect = 1;
            break;
        case F_GETFL:
            r = f->flags;
            break;
        case F_SETFL:
            /* What F_SETFL may change; the rest of the flags stay. */
            f->flags = (f->flags & ~(O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)) |
                       (iarg & (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME));
            r = 0;
            effect = 1;
            break;
        case F_DUPFD:
        case F_DUPFD_CLOEXEC:
            r = mirrorDup(m, f, cmd, iarg, &err);
            break;
        case F_SETFD:
            r = 0;                          /* close-on-exec: nothing execs in a mirror */
            break;
        case F_SETOWN: case F_SETSIG: case F_SETLEASE: case F_NOTIFY:
        case F_SETPIPE_SZ: case F_ADD_SEALS: case F_SETOWN_EX:
            r = cmd == F_SETPIPE_SZ ? iarg : 0; /* simulated: the description is shared */
            effect = 1;
            break;
        case F_GETFD: case F_GETLK: case F_OFD_GETLK: case F_GETOWN: case F_GETSIG:
        case F_GETLEASE: case F_GETPIPE_SZ: case F_GET_SEALS: case F_GETOWN_EX:
            /* Getters: asked of the mirror's descriptor (F_GETLK of a
            ** simulated open asks its harmless one). */
            if (f->fd < 0)
                err = EBADF;
            else if ((r = fcntlTakesPointer(cmd) ? fcntl(f->fd, cmd, arg) : fcntl(f->fd, cmd, iarg)) < 0)
                err = errno;
            break;
        default:
            r = 0;                          /* unknown: simulated, never applied */
            effect = 1;
            break;
        }
    }
    ptmShimFdTarget(m, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(PTM_CALL_fcntl, t0, target, r, err ? err : ev_err, 0);
    if (ev) {
        if (effect)
            ev->flags |= PTM_EVF_EFFECT;
        if (detail[0])
            ptmCopyField(ev->detail, sizeof ev->detail, detail);
        else
            snprintf(ev->detail, sizeof ev->detail, "cmd %d", cmd);
    }
    return err ? failWith(err) : r;
}

/* ------------------------------------------------------------------ flock */

/* Would flock(f->fd, ex ? LOCK_EX : LOCK_SH) wait for someone else's lock?
** The kernel's list of flock locks (sim_locks.c: /proc/locks, read off the
** mirror's path, so the answer may be age_ns old); those held through the
** host's own description of a borrowed descriptor (its fdinfo lists them)
** are the primary's: a conversion, not a conflict.  0, EWOULDBLOCK, or -1
** when it cannot be known (no read in time). */
static int flockProbe(struct ptmSimFile *f, int ex, pid_t *holder, uint64_t *age_ns)
{
    char path[64], *mine;
    int n;

    *age_ns = 0;
    if (f->type != S_IFREG || f->ino == 0)
        return 0;
    n = ptmProbeFlockConflicts(f->dev, f->ino, ex, f->mirror->in_child, f->mirror->host_pid,
                               holder, age_ns);
    if (n < 0)
        return -1;
    if (n > 0 && f->kind == PTM_SIM_BORROWED) {
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)f->mirror->host_pid, f->fd);
        if ((mine = ptmProbeProcText(path, 1u << 20, NULL)) != NULL) {
            pid_t ignored;
            n -= ptmFlockConflicts(mine, f->dev, f->ino, ex, &ignored);
            free(mine);
        }
    }
    return n > 0 ? EWOULDBLOCK : 0;
}

/*
** ptm_shim_flock: flock(2).  In a mirror: no lock is taken or released.
** A conflicting flock lock someone else holds (from /proc/locks, read off
** the mirror's path: sim_locks.c; the detail says when the answer is a
** millisecond old or more) is contention: LOCK_NB fails with EWOULDBLOCK, a blocking request returns
** 0 as it would after waiting; both record EWOULDBLOCK with PTM_EVF_EFFECT.
** When the lock state cannot be known in time the call goes on as if the
** lock were free and the event is marked PTM_EVF_PRETENDED.  EBADF, EINVAL
** for a bad operation.
*/
int ptm_shim_flock(int fd, int op)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    struct ptmEvent *ev;
    pid_t holder = 0;
    uint64_t t0, age = 0;
    int err, ev_err = 0, unknown = 0, kind = op & ~LOCK_NB;

    if (!m)
        return flock(fd, op);
    t0 = ptmOsNowNs();
    err = ptmSimEntry(m, fd, &f);
    if (!err && kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN)
        err = EINVAL;
    if (!err && kind != LOCK_UN) {
        ev_err = flockProbe(f, kind == LOCK_EX, &holder, &age);
        if (ev_err < 0) {
            unknown = 1; /* went on as if free: pretended */
            ev_err = 0;
        } else if (ev_err && (op & LOCK_NB)) {
            err = ev_err;
        }
    }
    ptmShimFdTarget(m, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(PTM_CALL_flock, t0, target, err ? -1 : 0, err ? err : ev_err, 0);
    if (ev) {
        ev->flags |= PTM_EVF_EFFECT | (unknown ? PTM_EVF_PRETENDED : 0);
        if (unknown)
            snprintf(ev->detail, sizeof ev->detail, "lock state unknown (/proc/locks not read in time)");
        else if (ev_err)
            snprintf(ev->detail, sizeof ev->detail, "held by pid %d", (int)holder);
        else
            snprintf(ev->detail, sizeof ev->detail, "%s%s",
                     kind == LOCK_EX ? "LOCK_EX" : kind == LOCK_SH ? "LOCK_SH" : "LOCK_UN",
                     (op & LOCK_NB) ? "|LOCK_NB" : "");
        if (!unknown && age >= 1000000u) {
            size_t len = strlen(ev->detail);
            snprintf(ev->detail + len, sizeof ev->detail - len, " (as of %llu ms ago)",
                     (unsigned long long)(age / 1000000u));
        }
    }
    return err ? failWith(err) : 0;
}

/* -------------------------------------------------------- copy_file_range */

#define COPY_CHUNK 65536

/* copy_file_range in a mirror: len bytes of in's file as the mirror sees it
** written into out's overlay, chunk by chunk, at *pin / *pout or at the
** descriptors' offsets.  Returns the count copied, or -1 with *err set. */
static ssize_t mirrorCopy(struct ptmSimFile *in, loff_t *pin, struct ptmSimFile *out,
                          loff_t *pout, size_t len, int *err)
{
    char *buf = malloc(len < COPY_CHUNK ? (len ? len : 1) : COPY_CHUNK);
    size_t done = 0;
    ssize_t r, w;
    int werr;

    if (!buf) {
        *err = ENOMEM;
        return -1;
    }
    while (done < len) {
        size_t k = len - done < COPY_CHUNK ? len - done : COPY_CHUNK;
        r = pin ? ptmSimPread(in, buf, k, (off_t)*pin, err) : ptmSimRead(in, buf, k, err);
        if (r <= 0)
            break;
        w = pout ? ptmSimPwrite(out, buf, (size_t)r, (off_t)*pout, err)
                 : ptmSimWrite(out, buf, (size_t)r, err);
        if (!pin && w < r) /* what was read and not written is read again */
            (void)ptmSimSeek(in, -(off_t)(r - (w > 0 ? w : 0)), SEEK_CUR, &werr);
        if (w <= 0)
            break;
        done += (size_t)w;
        if (pin)
            *pin += w;
        if (pout)
            *pout += w;
        if (w < r)
            break;
    }
    free(buf);
    if (done > 0 || *err == 0) {
        *err = 0;
        return (ssize_t)done;
    }
    return -1;
}

/*
** ptm_shim_copy_file_range: copy_file_range(2).  In a mirror: checked
** (EINVAL for flags or a descriptor that is not a regular file, EBADF for
** a descriptor not open for reading or writing or an O_APPEND output,
** EFBIG, ENOSPC as write(2)'s) and simulated: the bytes of fd_in as the
** mirror sees them go to the mirror's overlay of fd_out, and *off_in and
** *off_out (or the descriptors' offsets in the mirror) advance by the count.
** One event, on fd_out, with PTM_EVF_EFFECT.  Not modelled: EINVAL for
** overlapping ranges of one file, EXDEV.
*/
ssize_t ptm_shim_copy_file_range(int fd_in, __loff_t *off_in, int fd_out, __loff_t *off_out,
                                 size_t len, unsigned int flags)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *in, *out;
    struct ptmEvent *ev;
    loff_t pin = 0, pout = 0;
    ssize_t r = -1;
    uint64_t t0;
    int err;

    if (!m)
        return copy_file_range(fd_in, off_in, fd_out, off_out, len, flags);
    t0 = ptmOsNowNs();
    if (off_in)
        memcpy(&pin, ptmRedoIn(off_in, sizeof *off_in), sizeof pin);
    if (off_out)
        memcpy(&pout, ptmRedoIn(off_out, sizeof *off_out), sizeof pout);
    err = ptmSimEntry(m, fd_in, &in);
    if (!err)
        err = ptmSimEntry(m, fd_out, &out);
    if (!err && flags != 0)
        err = EINVAL;
    if (!err && ((in->type && in->type != S_IFREG) || (out->type && out->type != S_IFREG)))
        err = EINVAL;
    if (!err && ((in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_ACCMODE) == O_RDONLY ||
                 (out->flags & O_APPEND)))
        err = EBADF;
    if (!err && ((off_in && pin < 0) || (off_out && pout < 0)))
        err = EINVAL;
    if (!err)
        r = mirrorCopy(in, off_in ? &pin : NULL, out, off_out ? &pout : NULL, len, &err);
    if (r > 0 && off_in)
        memcpy(ptmRedoOut(off_in, sizeof *off_in), &pin, sizeof pin);
    if (r > 0 && off_out)
        memcpy(ptmRedoOut(off_out, sizeof *off_out), &pout, sizeof pout);
    ptmShimFdTarget(m, fd_out, target, sizeof target);
    ev = ptmMirrorRecordCall(PTM_CALL_copy_file_range, t0, target, r, err,
                             r > 0 ? (uint64_t)r : 0);
    ptmShimNoteSignal(ev, err, 0);
    return r < 0 ? failWith(err) : r;
}
