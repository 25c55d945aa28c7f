/*
** shims/file.c - POSIX file I/O in a mirror: write open close unlink rename.
**
** Outside a mirror (ptmMirrorCurrent == NULL) each shim is exactly the real
** call.  In a mirror each one
**   (a) records a PTM_EV_CALL event (target, flags, result, errno, bytes),
**   (b) predicts whether the real call would succeed using read-only system
**       calls only (stat, access, statvfs, getrlimit, fcntl F_GETFL), each
**       retried on EINTR and made through ptmOs so tests can inject faults,
**   (c) returns what the real call would -- a simulated success, or -1 with
**       errno set to the predicted error -- having written nothing.
**
** A write-intent open gets a real descriptor that is harmless: the existing
** file opened read-only (so the mirror can read the real data), else
** /dev/null read-only, so that close() and fstat() on it work.  The mirror's
** view of it (flags, simulated offset and size) is a struct ptmSimFile on
** ptmMirrorCurrent->files.  Descriptors the mirror did not open (the host's)
** are "borrowed": writes are checked and simulated, close is simulated, and
** they are never lseek'd or closed for real.
**
** What the mirror writes is not kept: reading a simulated file returns the
** real file's bytes (or EOF for a new or truncated file).  Free space is
** checked per file against f_bavail (what an unprivileged writer gets; root
** may in fact use the reserved blocks too), and a write that does not fit
** whole is predicted to fail, though the kernel might write part of it.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ptm_int.h"

#define WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* Read-only probes, retried on EINTR; each returns 0 or an errno. */

static int probeStat(const char *path, struct stat *st)
{
    while (ptmOs.stat(path, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

static int probeLstat(const char *path, struct stat *st)
{
    while (ptmOs.lstat(path, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

static int probeFstat(int fd, struct stat *st)
{
    while (ptmOs.fstat(fd, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

static int probeAccess(const char *path, int mode)
{
    while (ptmOs.access(path, mode) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

static int probeStatvfs(const char *path, struct statvfs *st)
{
    while (ptmOs.statvfs(path, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

static int probeFstatvfs(int fd, struct statvfs *st)
{
    while (ptmOs.fstatvfs(fd, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* fcntl(F_GETFL): OUT: *flags.  0 or an errno (EBADF: fd is not open). */
static int probeGetfl(int fd, int *flags)
{
    while ((*flags = ptmOs.fcntl_getfl(fd)) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* A real read-only open.  OUT: *fd.  0 or an errno. */
static int probeOpen(const char *path, int flags, mode_t mode, int *fd)
{
    while ((*fd = ptmOs.open(path, flags, mode)) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* A read-only open for the mirror that, where the kernel lets us (owner or
** root), does not update the file's access time either: the mirror leaves
** no trace, not even metadata.  OUT: *fd.  0 or an errno. */
static int probeOpenQuiet(const char *path, int flags, mode_t mode, int *fd)
{
    int err = probeOpen(path, flags | O_NOATIME, mode, fd);
    if (err == EPERM)
        err = probeOpen(path, flags, mode, fd);
    return err;
}

/* EROFS when path is on a read-only filesystem, else 0 (also when statvfs
** cannot tell: then the later checks decide). */
static int probeReadOnlyFs(const char *path)
{
    struct statvfs vfs;
    if (probeStatvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        return EROFS;
    return 0;
}

/* The directory that holds path's last component.  OUT: dir (cap bytes).
** 0 or ENAMETOOLONG. */
static int parentDir(const char *path, char *dir, size_t cap)
{
    size_t n = strlen(path);
    const char *slash;

    while (n > 1 && path[n - 1] == '/')
        n--;                                /* "a/b/" names b, in a */
    slash = memrchr(path, '/', n);
    if (!slash) {
        ptmCopyField(dir, cap, ".");
        return 0;
    }
    n = (size_t)(slash - path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0)
        n = 1;                              /* "/x" is in "/" */
    if (n >= cap)
        return ENAMETOOLONG;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

/* Could a new entry be created in (or removed from) directory dir?  The
** order is the kernel's: a missing or non-directory dir, then a read-only
** filesystem, then the permission bits.  0 or an errno. */
static int checkDirWritable(const char *dir, struct stat *dst)
{
    int err = probeStat(dir, dst);
    if (err)
        return err;
    if (!S_ISDIR(dst->st_mode))
        return ENOTDIR;
    if ((err = probeReadOnlyFs(dir)) != 0)
        return err;
    return probeAccess(dir, W_OK | X_OK);
}

/* Would open(path, O_CREAT...) create a missing file?  0 or an errno. */
static int checkCreate(const char *path)
{
    char dir[PATH_MAX];
    struct stat dst;
    struct statvfs vfs;
    int err;

    if ((err = parentDir(path, dir, sizeof dir)) != 0)
        return err;
    if ((err = checkDirWritable(dir, &dst)) != 0)
        return err;
    /* No inode left (f_files == 0: the filesystem does not count them). */
    if (probeStatvfs(dir, &vfs) == 0 && vfs.f_files > 0 && vfs.f_favail == 0)
        return ENOSPC;
    return 0;
}

/*
** ptmShimOpenCheck: would open(path, flags) with write intent succeed?
** Read-only calls only.  Returns 0, or the errno the real call would set:
** EEXIST (O_CREAT|O_EXCL on an existing path), EISDIR, EROFS, EACCES (no
** write permission on the file, or on the directory of a file to create),
** ENOENT (missing without O_CREAT, or a missing directory), ENOSPC (no
** inode left), or what stat() says about the path.
*/
int ptmShimOpenCheck(const char *path, int flags)
{
    struct stat st;
    int err;

    if (!path)
        return EFAULT;
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return checkDirWritable(path, &st);  /* an unnamed file in dir path */
    err = probeStat(path, &st);
    if (err == ENOENT)
        return (flags & O_CREAT) ? checkCreate(path) : ENOENT;
    if (err)
        return err;
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return EEXIST;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    /* Devices, fifos and sockets are writable on a read-only filesystem. */
    if (S_ISREG(st.st_mode) && (err = probeReadOnlyFs(path)) != 0)
        return err;
    return probeAccess(path, W_OK);
}

static struct ptmSimFile *simNew(struct ptmMirror *m, enum ptmSimKind kind, int fd,
                                 int flags)
{
    struct ptmSimFile *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->mirror = m;
    f->kind = kind;
    f->fd = fd;
    f->flags = flags;
    f->next = m->files;
    m->files = f;
    return f;
}

/* The real, read-only open of a mirror's read-only open(). */
static int simOpenReadOnly(struct ptmMirror *m, const char *path, int flags, mode_t mode,
                           struct ptmSimFile **out)
{
    struct stat st;
    struct ptmSimFile *f;
    int fd, err;

    if ((err = probeOpenQuiet(path, flags, mode, &fd)) != 0)
        return err;
    f = simNew(m, PTM_SIM_READONLY, fd, flags);
    if (!f || !(f->path = strdup(path))) {
        if (f)
            ptmSimRemove(f, 1);
        else
            ptmOs.close(fd);
        return ENOMEM;
    }
    if (probeFstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        f->regular = 1;
        f->size = f->size0 = st.st_size;
    }
    f->real_data = 1;
    *out = f;
    return 0;
}

/* The harmless descriptor behind a simulated write-intent open: the
** existing regular file read-only when its old bytes are still there to be
** read, else /dev/null.  OUT: *fd, *real_data.  0 or an errno. */
static int harmlessFd(const char *path, int flags, int existed, const struct stat *st,
                      int *fd, int *real_data)
{
    int ro = O_RDONLY | O_NOCTTY | (flags & O_CLOEXEC);

    *real_data = 0;
    if (existed && S_ISREG(st->st_mode) && !(flags & O_TRUNC) &&
        probeOpenQuiet(path, ro, 0, fd) == 0) {
        *real_data = 1;
        return 0;
    }
    return probeOpen("/dev/null", ro, 0, fd);
}

/* A simulated write-intent open, after ptmShimOpenCheck said yes. */
static int simOpenWrite(struct ptmMirror *m, const char *path, int flags,
                        struct ptmSimFile **out)
{
    struct stat st;
    struct ptmSimFile *f;
    char dir[PATH_MAX];
    int existed, fd, real_data, err;

    existed = probeStat(path, &st) == 0;
    if (!existed && parentDir(path, dir, sizeof dir) != 0)
        return ENAMETOOLONG;
    if ((err = harmlessFd(path, flags, existed, &st, &fd, &real_data)) != 0)
        return err;
    f = simNew(m, PTM_SIM_WRITE, fd, flags);
    if (!f) {
        ptmOs.close(fd);
        return ENOMEM;
    }
    f->real_data = real_data;
    f->regular = !existed || S_ISREG(st.st_mode);
    if (existed && S_ISREG(st.st_mode) && !(flags & O_TRUNC))
        f->size = f->size0 = st.st_size;
    f->path = strdup(path);
    f->vfs_path = strdup(existed ? path : dir);
    if (!f->path || !f->vfs_path) {
        ptmSimRemove(f, 1);
        return ENOMEM;
    }
    *out = f;
    return 0;
}

/*
** ptmSimOpen: opens path for mirror m: for real when flags carry no write
** intent, else -- when ptmShimOpenCheck predicts success -- simulated on a
** harmless descriptor.  OUT: *out, the new entry on m->files, whose fd is
** what the mirror gets.  Returns 0 or the errno of the (predicted) failure.
*/
int ptmSimOpen(struct ptmMirror *m, const char *path, int flags, mode_t mode,
               struct ptmSimFile **out)
{
    int err;

    *out = NULL;
    if (!path)
        return EFAULT;
    if (!(flags & WRITE_INTENT) && (flags & O_TMPFILE) != O_TMPFILE)
        return simOpenReadOnly(m, path, flags, mode, out);
    if ((err = ptmShimOpenCheck(path, flags)) != 0)
        return err;
    return simOpenWrite(m, path, flags, out);
}

/*
** ptmSimFind: the entry of mirror m for descriptor fd, or NULL.
*/
struct ptmSimFile *ptmSimFind(struct ptmMirror *m, int fd)
{
    struct ptmSimFile *f;
    if (fd < 0)
        return NULL;
    for (f = m->files; f; f = f->next)
        if (f->fd == fd)
            return f;
    return NULL;
}

/*
** ptmSimFindFile: the entry of mirror m for stream fp, or NULL.
*/
struct ptmSimFile *ptmSimFindFile(struct ptmMirror *m, FILE *fp)
{
    struct ptmSimFile *f;
    if (!fp)
        return NULL;
    for (f = m->files; f; f = f->next)
        if (f->fp == fp)
            return f;
    return NULL;
}

/*
** ptmSimBorrow: the entry of mirror m for a host descriptor fd (and the
** host FILE fp on it, or NULL), created on first use with the descriptor's
** flags, offset and size.  fd < 0 with a FILE is a stream without a
** descriptor (fmemopen, a cookie): an entry that nothing is checked for.
** OUT: *out.  Returns 0, EBADF when fd is not open, or ENOMEM.
*/
int ptmSimBorrow(struct ptmMirror *m, int fd, FILE *fp, struct ptmSimFile **out)
{
    struct ptmSimFile *f;
    struct stat st;
    int flags = O_RDWR, err;
    off_t off;

    *out = NULL;
    if (fd < 0 && !fp)
        return EBADF;
    for (f = m->files; f && fd >= 0; f = f->next) {
        if (f->fd == fd && f->kind == PTM_SIM_BORROWED && (!fp || !f->fp || f->fp == fp)) {
            if (fp && !f->fp)
                f->fp = fp;
            *out = f;
            return 0;
        }
    }
    if (fd >= 0 && (err = probeGetfl(fd, &flags)) != 0)
        return err;
    f = simNew(m, PTM_SIM_BORROWED, fd, flags);
    if (!f)
        return ENOMEM;
    f->fp = fp;
    if (fd >= 0 && probeFstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        f->regular = 1;
        f->size = f->size0 = st.st_size;
        /* Only asks where the host's offset is; never moves it. */
        off = ptmOs.lseek(fd, 0, SEEK_CUR);
        f->offset = (flags & O_APPEND) ? st.st_size : (off < 0 ? 0 : off);
    }
    *out = f;
    return 0;
}

/* The largest write the file's RLIMIT_FSIZE allows at offset off: n, less
** (the kernel writes up to the limit), or -1 with EFBIG at the limit. */
static ssize_t fsizeLimit(off_t off, size_t n, int *err)
{
    struct rlimit rl;
    int rc;

    while ((rc = ptmOs.getrlimit(RLIMIT_FSIZE, &rl)) != 0 && errno == EINTR)
        ;
    if (rc != 0 || rl.rlim_cur == RLIM_INFINITY)
        return (ssize_t)n;
    if ((rlim_t)off >= rl.rlim_cur) {
        *err = EFBIG;
        return -1;
    }
    if ((rlim_t)off + n > rl.rlim_cur)
        return (ssize_t)(rl.rlim_cur - (rlim_t)off);
    return (ssize_t)n;
}

/* ENOSPC when growing f to end bytes needs more than is free on its
** filesystem; the growth counts from the size when the mirror opened it,
** so that many small simulated writes add up.  0 or ENOSPC. */
static int checkSpace(struct ptmSimFile *f, off_t end)
{
    struct statvfs vfs;
    uint64_t growth, avail;
    int err;

    if (end <= f->size || end <= f->size0)
        return 0;
    growth = (uint64_t)(end - f->size0);
    err = f->vfs_path ? probeStatvfs(f->vfs_path, &vfs) : probeFstatvfs(f->fd, &vfs);
    if (err)
        return 0;                           /* cannot tell: predict success */
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    return growth > avail ? ENOSPC : 0;
}

/*
** ptmSimWrite: simulates write(2) of n bytes on f.  Predicts EBADF (closed,
** or not open for writing), EFBIG (at RLIMIT_FSIZE) and ENOSPC (not enough
** free space), for regular files; then advances the simulated offset and
** size (and the harmless descriptor's offset, so that raw reads follow).
** Returns the byte count the real call would return (short when it would
** reach RLIMIT_FSIZE), or -1 with *err set.
*/
ssize_t ptmSimWrite(struct ptmSimFile *f, size_t n, int *err)
{
    off_t off, end;
    ssize_t r;

    *err = 0;
    if (f->closed || (f->fd < 0 && !f->fp) || (f->flags & O_ACCMODE) == O_RDONLY ||
        (f->flags & O_PATH)) {
        *err = EBADF;
        return -1;
    }
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    if (n == 0 || !f->regular)
        return (ssize_t)n;
    /* Raw reads (read(2) is not shimmed) move the real file's offset. */
    if (f->kind == PTM_SIM_WRITE && f->real_data && f->fd >= 0 &&
        (off = ptmOs.lseek(f->fd, 0, SEEK_CUR)) >= 0)
        f->offset = off;
    off = (f->flags & O_APPEND) ? f->size : f->offset;
    if ((r = fsizeLimit(off, n, err)) < 0)
        return -1;
    end = off + (off_t)r;
    if ((*err = checkSpace(f, end)) != 0)
        return -1;
    f->offset = end;
    if (end > f->size)
        f->size = end;
    if (f->kind == PTM_SIM_WRITE && f->fd >= 0)
        ptmOs.lseek(f->fd, end, SEEK_SET);  /* ours, read-only: harmless */
    return r;
}

/*
** ptmSimRemove: unlinks f from its mirror's list and frees it; when
** close_fd, closes f->fd if the mirror owns it (never a borrowed one).
*/
void ptmSimRemove(struct ptmSimFile *f, int close_fd)
{
    struct ptmSimFile **pp;

    for (pp = &f->mirror->files; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (close_fd && f->kind != PTM_SIM_BORROWED && f->fd >= 0)
        ptmOs.close(f->fd);
    free(f->path);
    free(f->vfs_path);
    free(f);
}

/*
** ptmSimReleaseAll: closes what mirror m opened and left open (its FILEs
** flush into the simulation: nothing reaches a disk) and frees every entry.
*/
void ptmSimReleaseAll(struct ptmMirror *m)
{
    struct ptmSimFile *f;
    FILE *fp;

    while ((f = m->files) != NULL) {
        fp = f->fp;
        if (!fp || f->kind == PTM_SIM_BORROWED) {
            ptmSimRemove(f, 1);
        } else if (f->kind == PTM_SIM_WRITE) {
            fclose(fp);                     /* the cookie's close removes f */
        } else {
            ptmSimRemove(f, 0);             /* fclose closes the descriptor */
            fclose(fp);
        }
    }
}

/*
** ptmShimFdTarget: an event target for descriptor fd: the path the mirror
** opened it with, else "fd N".  OUT: dst (cap bytes).
*/
void ptmShimFdTarget(struct ptmMirror *m, int fd, char *dst, size_t cap)
{
    struct ptmSimFile *f = ptmSimFind(m, fd);
    if (f && f->path)
        ptmCopyField(dst, cap, f->path);
    else
        snprintf(dst, cap, "fd %d", fd);
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

/* Sets errno and returns -1, for the failing path of a shim. */
static int failWith(int err)
{
    errno = err;
    return -1;
}

/*
** ptm_shim_write: write(2).  In a mirror: checked (EBADF, EFBIG, ENOSPC)
** and simulated, on the mirror's own descriptors and the host's alike.
*/
ssize_t ptm_shim_write(int fd, const void *buf, size_t n)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimFile *f;
    char target[PTM_TARGET_MAX];
    uint64_t t0;
    ssize_t r = -1;
    int err;

    if (!m)
        return write(fd, buf, n);
    t0 = ptmOsNowNs();
    f = ptmSimFind(m, fd);
    err = f ? 0 : ptmSimBorrow(m, fd, NULL, &f);
    if (!err)
        r = ptmSimWrite(f, n, &err);
    ptmShimFdTarget(m, fd, target, sizeof target);
    ptmMirrorRecordCall(PTM_CALL_write, t0, target, r, err, r > 0 ? (uint64_t)r : 0);
    if (r < 0)
        return failWith(err);
    return r;
}

/*
** ptm_shim_open: open(2).  In a mirror: a read-only open is real (reads
** pass through); a write-intent one is checked and simulated, returning a
** harmless read-only descriptor.
*/
int ptm_shim_open(const char *path, int flags, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimFile *f;
    struct ptmEvent *ev;
    mode_t mode = 0;
    uint64_t t0;
    va_list ap;
    int err;

    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (!m)
        return open(path, flags, mode);
    t0 = ptmOsNowNs();
    err = ptmSimOpen(m, path, flags, mode, &f);
    ev = ptmMirrorRecordCall(PTM_CALL_open, t0, path, err ? -1 : f->fd, err, 0);
    if (ev) {
        flagsDetail(flags, mode, ev->detail, sizeof ev->detail);
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)))
            ev->flags |= PTM_EVF_EFFECT;
    }
    if (err)
        return failWith(err);
    return f->fd;
}

/*
** ptm_shim_close: close(2).  In a mirror: a descriptor the mirror opened is
** closed for real (it is read-only or /dev/null); a host descriptor is only
** marked closed, so that the mirror's later use of it fails with EBADF.
*/
int ptm_shim_close(int fd)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimFile *f;
    char target[PTM_TARGET_MAX];
    uint64_t t0;
    int err = 0;

    if (!m)
        return close(fd);
    t0 = ptmOsNowNs();
    ptmShimFdTarget(m, fd, target, sizeof target);
    f = ptmSimFind(m, fd);
    if (!f) {
        err = ptmSimBorrow(m, fd, NULL, &f);
        if (!err)
            f->closed = 1;
    } else if (f->kind == PTM_SIM_BORROWED) {
        if (f->closed)
            err = EBADF;
        f->closed = 1;
    } else if (f->fp) {
        ptmOs.close(f->fd);                 /* the FILE on it keeps its entry */
        f->fd = -1;
    } else {
        ptmSimRemove(f, 1);
    }
    ptmMirrorRecordCall(PTM_CALL_close, t0, target, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/* Would unlink(path) succeed?  0 or an errno. */
static int checkUnlink(const char *path)
{
    char dir[PATH_MAX];
    struct stat st, dst;
    uid_t me = geteuid();
    int err;

    if (!path)
        return EFAULT;
    if ((err = probeLstat(path, &st)) != 0)
        return err;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if ((err = parentDir(path, dir, sizeof dir)) != 0)
        return err;
    if ((err = checkDirWritable(dir, &dst)) != 0)
        return err;
    /* A sticky directory (/tmp): only the owner of the file or of the
    ** directory may remove it (root, with CAP_FOWNER, may too). */
    if ((dst.st_mode & S_ISVTX) && me != 0 && st.st_uid != me && dst.st_uid != me)
        return EPERM;
    return 0;
}

/*
** ptm_shim_unlink: unlink(2).  In a mirror: checked (ENOENT, EISDIR,
** EROFS, EACCES, EPERM for a sticky directory) and simulated; the file is
** still there afterwards, for the mirror as for everyone else.
*/
int ptm_shim_unlink(const char *path)
{
    uint64_t t0;
    int err;

    if (!ptmMirrorCurrent)
        return unlink(path);
    t0 = ptmOsNowNs();
    err = checkUnlink(path);
    ptmMirrorRecordCall(PTM_CALL_unlink, t0, path, err ? -1 : 0, err, 0);
    return err ? failWith(err) : 0;
}

/* Would rename(from, to) succeed?  The kernel's order: a missing source,
** a missing target directory, different filesystems, a read-only one,
** permissions, then the kinds of source and an existing target.  0 or an
** errno.  Bind mounts of one filesystem share st_dev, so EXDEV across them
** is not seen. */
static int checkRename(const char *from, const char *to)
{
    char fdir[PATH_MAX], tdir[PATH_MAX];
    struct stat sf, st, sfd, std;
    int err;

    if (!from || !to)
        return EFAULT;
    if ((err = probeLstat(from, &sf)) != 0)
        return err;
    if ((err = parentDir(from, fdir, sizeof fdir)) != 0 ||
        (err = parentDir(to, tdir, sizeof tdir)) != 0)
        return err;
    if ((err = probeStat(tdir, &std)) != 0)
        return err;
    if (!S_ISDIR(std.st_mode))
        return ENOTDIR;
    if (sf.st_dev != std.st_dev)
        return EXDEV;
    if ((err = checkDirWritable(fdir, &sfd)) != 0 || (err = checkDirWritable(tdir, &std)) != 0)
        return err;
    if (probeLstat(to, &st) == 0) {
        if (st.st_dev == sf.st_dev && st.st_ino == sf.st_ino)
            return 0;                       /* the same file: a no-op */
        if (S_ISDIR(sf.st_mode) && !S_ISDIR(st.st_mode))
            return ENOTDIR;
        if (!S_ISDIR(sf.st_mode) && S_ISDIR(st.st_mode))
            return EISDIR;
    }
    return 0;
}

/*
** ptm_shim_rename: rename(2).  In a mirror: checked (ENOENT, ENOTDIR,
** EXDEV, EROFS, EACCES, EISDIR) and simulated; nothing moves.
*/
int ptm_shim_rename(const char *from, const char *to)
{
    struct ptmEvent *ev;
    uint64_t t0;
    int err;

    if (!ptmMirrorCurrent)
        return rename(from, to);
    t0 = ptmOsNowNs();
    err = checkRename(from, to);
    ev = ptmMirrorRecordCall(PTM_CALL_rename, t0, from, err ? -1 : 0, err, 0);
    if (ev)
        ptmCopyField(ev->detail, sizeof ev->detail, to);
    return err ? failWith(err) : 0;
}
