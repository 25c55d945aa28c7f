/*
** shims/sim.c - the simulated world of a mirror, shared by the shim families.
**
** A mirror must walk the primary's path without changing anything.  What it
** does to files therefore happens here, in memory, per mirror:
**
**   - Descriptors (struct ptmSimFile on m->files).  A read-only open of a
**     real file is a real read-only descriptor (O_NOATIME where allowed: not
**     even the access time moves).  Any other open is simulated: the mirror
**     gets a harmless descriptor -- the real file opened read-only, or
**     /dev/null -- so that the number is unique and fstat() works, and the
**     entry (offset, flags, content) is the truth.  A host descriptor the
**     mirror uses is borrowed: it is never written, moved or closed; the
**     mirror's offset on it is private (it starts where the host's is, read
**     with lseek(fd, 0, SEEK_CUR), and reads use pread).
**   - The content overlay (struct ptmOvFile on m->ovs): per file, the byte
**     ranges the mirror wrote (sorted extents) over the real bytes, its size
**     as the mirror sees it, and the length of the real prefix still visible
**     (O_TRUNC and ftruncate cut it).  Reads merge the three; so what the
**     mirror wrote, through any descriptor, it reads back.  Real files are
**     keyed by (st_dev, st_ino); files the mirror created have no real part.
**     Memory is capped per mirror (OV_CAP_BYTES): beyond it written bytes are
**     counted but not kept (ov->lost), and read back as the real bytes.
**   - The namespace overlay (struct ptmNsEntry on m->ns): absolute paths the
**     mirror created (a file bound to its overlay, or a directory), removed
**     (unlink, rmdir, the source of a rename) or renamed (the target names
**     the source's content; a renamed real directory is an alias of its real
**     path).  Every path is looked up here first, by longest prefix, then on
**     the real system.  Paths are made absolute and normalised lexically
**     ("a/../b" is "b"), so a symbolic link to a directory the mirror changed
**     is not seen through.
**   - Free space (struct ptmFsUse on m->fsuse): the bytes the mirror's writes
**     added, per filesystem (st_dev), against f_bavail * f_frsize from
**     statvfs/fstatvfs; truncations give bytes back.  f_bavail is what an
**     unprivileged writer gets (root may use the reserved blocks too), and a
**     write that does not fit whole is predicted to fail (the kernel may write
**     part of it first).  One statvfs serves the process's mirrors for a few
**     milliseconds, for writes far from the limit only (checkSpace).
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

#include "ptm_int.h"

#define WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
#define OV_CAP_BYTES ((size_t)64 << 20) /* overlay memory per mirror */

/* A byte range the mirror wrote: data[0..len) is the file at off. */
struct ptmOvExtent {
    struct ptmOvExtent *next;     /* sorted by off, disjoint */
    off_t off;
    size_t len, cap;
    unsigned char *data;
};

/* One file's content as the mirror sees it. */
struct ptmOvFile {
    struct ptmOvFile *next;       /* on m->ovs */
    dev_t dev;                    /* the real file; ino 0: made by the mirror */
    ino_t ino;
    dev_t fs;                     /* the filesystem charged for its growth */
    char *real_path;              /* where its real bytes can be opened; NULL: unknown
                                  ** (or not asked yet: see link_fd, ovRealPath) */
    int link_fd;                  /* a host descriptor on it whose /proc/self/fd link
                                  ** names it, read on first need; -1 */
    char *vfs_path;               /* where free space is measured; NULL: vfs_fd */
    int vfs_fd;                   /* a host descriptor for fstatvfs, not owned; -1 */
    int real_fd;                  /* own read-only descriptor on the real file; -1 */
    int real_stale;               /* real_fd turned out to be on another file: unused */
    int host_fd;                  /* a readable host descriptor on it, not owned; -1 */
    off_t size;                   /* its size in the mirror's view */
    off_t real_len;               /* [0, real_len) not overwritten: the real bytes */
    mode_t mode;                  /* made by the mirror: permission bits */
    uid_t uid;
    gid_t gid;
    struct timespec mtime;        /* when the mirror made or last wrote it; 0: never */
    struct ptmOvExtent *ext;
    int lost;                     /* written bytes beyond OV_CAP_BYTES were dropped */
};

enum nsState { NS_GONE = 1, NS_FILE, NS_DIR };

/* A path the mirror created, removed or renamed. */
struct ptmNsEntry {
    struct ptmNsEntry *next;
    char *path;                   /* absolute, normalised */
    enum nsState state;
    struct ptmOvFile *ov;         /* NS_FILE: its content (on m->ovs) */
    mode_t mode;                  /* NS_DIR made by the mirror: permission bits */
    char *alias;                  /* NS_DIR renamed from a real directory: its real path */
};

/* Bytes the mirror added to one filesystem. */
struct ptmFsUse {
    struct ptmFsUse *next;
    dev_t dev;
    int64_t bytes;
};

/* ----------------------------------------------------------------- probes */

int ptmProbeStat(const char *path, struct stat *st)
{
    while (ptmOs.stat(path, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

int ptmProbeLstat(const char *path, struct stat *st)
{
    while (ptmOs.lstat(path, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

int ptmProbeFstat(int fd, struct stat *st)
{
    while (ptmOs.fstat(fd, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

int ptmProbeAccess(const char *path, int mode)
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

/* In a fork child, the flags of the host's descriptor: the child reopened
** a file open for writing read-only (ptmForkHostFlags). */
int ptmProbeGetfl(int fd, int *flags)
{
    while ((*flags = ptmOs.fcntl_getfl(fd)) < 0)
        if (errno != EINTR)
            return errno;
    *flags = ptmForkHostFlags(fd, *flags);
    return 0;
}

/* A real open (read-only: the callers never pass write intent).  OUT: *fd.
** 0 or an errno. */
static int probeOpen(const char *path, int flags, mode_t mode, int *fd)
{
    while ((*fd = ptmOs.open(path, flags, mode)) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* A read-only open that, where the kernel lets us (owner or root), does not
** update the file's access time either.  OUT: *fd.  0 or an errno. */
static int probeOpenQuiet(const char *path, int flags, mode_t mode, int *fd)
{
    int err = probeOpen(path, flags | O_NOATIME, mode, fd);
    if (err == EPERM)
        err = probeOpen(path, flags, mode, fd);
    return err;
}

static int openDevNull(int flags, int *fd)
{
    return probeOpen("/dev/null", O_RDONLY | O_NOCTTY | (flags & O_CLOEXEC), 0, fd);
}

/* pread that retries EINTR.  -1 with *err, or the count. */
static ssize_t probePread(int fd, void *buf, size_t n, off_t off, int *err)
{
    ssize_t r;
    while ((r = ptmOs.pread(fd, buf, n, off)) < 0)
        if (errno != EINTR) {
            *err = errno;
            return -1;
        }
    return r;
}

/* EROFS when path is on a read-only filesystem, else 0 (also when statvfs
** cannot tell: the later checks decide). */
static int probeReadOnlyFs(const char *path)
{
    struct statvfs vfs;
    if (probeStatvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        return EROFS;
    return 0;
}

/* The process's umask, read from /proc (umask(2) would set it). */
static mode_t processUmask(void)
{
    char buf[2048];
    const char *p;
    ssize_t n;
    int fd;

    if (probeOpen("/proc/self/status", O_RDONLY | O_CLOEXEC, 0, &fd) != 0)
        return 022;
    while ((n = ptmOs.read(fd, buf, sizeof buf - 1)) < 0 && errno == EINTR)
        ;
    ptmOs.close(fd);
    if (n <= 0)
        return 022;
    buf[n] = '\0';
    p = strstr(buf, "Umask:");
    return p ? (mode_t)strtoul(p + 6, NULL, 8) & 0777 : 022;
}

/* ------------------------------------------------------------------ paths */

/* The directory that holds path's last component, as written.  OUT: dir
** (cap bytes).  0 or ENAMETOOLONG. */
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

/* The last component of path ("" for "/"). */
static const char *baseName(const char *path, size_t *len)
{
    size_t n = strlen(path);
    const char *b;

    while (n > 1 && path[n - 1] == '/')
        n--;
    b = memrchr(path, '/', n);
    b = b ? b + 1 : path;
    *len = (size_t)(path + n - b);
    return b;
}

/* base + "/" + rel, normalised lexically: no ".", "..", "//" or trailing
** slash.  OUT: *out (malloc'd).  0, ENAMETOOLONG or ENOMEM. */
static int joinNormal(const char *base, const char *rel, char **out)
{
    size_t bl = base ? strlen(base) : 0, rl = strlen(rel), n = 0;
    char *src, *dst, *p, *q;

    if (bl + rl + 2 > PATH_MAX)
        return ENAMETOOLONG;
    src = malloc(bl + rl + 2);
    dst = malloc(bl + rl + 2);
    if (!src || !dst) {
        free(src);
        free(dst);
        return ENOMEM;
    }
    snprintf(src, bl + rl + 2, "%s/%s", base ? base : "", rel);
    for (p = src; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        q = p;
        while (*q && *q != '/')
            q++;
        if (q - p == 1 && p[0] == '.') {
            /* nothing */
        } else if (q - p == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && dst[n - 1] != '/')
                n--;
            if (n > 0)
                n--;                        /* the slash before it */
        } else {
            dst[n++] = '/';
            memcpy(dst + n, p, (size_t)(q - p));
            n += (size_t)(q - p);
        }
        p = q;
    }
    if (n == 0)
        dst[n++] = '/';
    dst[n] = '\0';
    free(src);
    *out = dst;
    return 0;
}

/* The working directory, read once per mirror.  NULL when it cannot be. */
static const char *mirrorCwd(struct ptmMirror *m)
{
    char buf[PATH_MAX];
    if (!m->cwd && ptmOs.getcwd(buf, sizeof buf))
        m->cwd = strdup(buf);
    return m->cwd;
}

/* path relative to dirfd, absolute and normalised.  OUT: *out (malloc'd).
** 0 or an errno (EFAULT, ENOENT for "", EBADF, ENOMEM, ENAMETOOLONG). */
static int absPath(struct ptmMirror *m, int dirfd, const char *path, char **out)
{
    char link[PATH_MAX], proc[40];
    struct ptmSimFile *f;
    const char *base = NULL;
    ssize_t n;

    *out = NULL;
    if (!path)
        return EFAULT;
    if (!*path)
        return ENOENT;
    if (path[0] != '/') {
        if (dirfd == AT_FDCWD) {
            if (!(base = mirrorCwd(m)))
                return ENOENT;
        } else if ((f = ptmSimFind(m, dirfd)) != NULL && f->abs_path) {
            base = f->abs_path;
        } else {
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
            while ((n = ptmOs.readlink(proc, link, sizeof link - 1)) < 0 && errno == EINTR)
                ;
            if (n <= 0 || link[0] != '/')
                return EBADF;
            link[n] = '\0';
            base = link;
        }
    }
    return joinNormal(base, path, out);
}

/* -------------------------------------------------------------- namespace */

/* A path as the mirror sees it. */
enum viewKind { V_REAL = 1, V_GONE, V_FILE, V_DIR, V_NOTDIR };

struct view {
    enum viewKind kind;
    const char *real;             /* V_REAL: the real path to probe; V_DIR: its alias */
    struct ptmNsEntry *e;         /* V_FILE, V_DIR */
    char *abs;                    /* the absolute path when computed; owned */
    char *buf;                    /* storage behind real; owned */
};

static void viewFree(struct view *v)
{
    free(v->abs);
    free(v->buf);
    v->abs = v->buf = NULL;
}

/* Is prefix a path-component prefix of path (or path itself)?  OUT: *len. */
static int isPrefix(const char *prefix, const char *path, size_t *len)
{
    size_t n = strlen(prefix);
    if (strncmp(prefix, path, n) != 0)
        return 0;
    if (n == 1 && prefix[0] == '/') {
        *len = 0;                           /* "/" is everyone's */
        return 1;
    }
    *len = n;
    return path[n] == '\0' || path[n] == '/';
}

static struct ptmNsEntry *nsFind(struct ptmMirror *m, const char *abs)
{
    struct ptmNsEntry *e;
    for (e = m->ns; e; e = e->next)
        if (strcmp(e->path, abs) == 0)
            return e;
    return NULL;
}

/* Looks abs up: the longest prefix entry decides.  Fills v (abs is v's). */
static void nsLookup(struct ptmMirror *m, struct view *v, const char *given)
{
    struct ptmNsEntry *e, *best = NULL;
    size_t len, bestLen = 0;
    int exact = 0;

    for (e = m->ns; e; e = e->next) {
        if (isPrefix(e->path, v->abs, &len) && (!best || len > bestLen)) {
            best = e;
            bestLen = len;
        }
    }
    if (best)
        exact = strcmp(best->path, v->abs) == 0;
    if (!best) {
        v->kind = V_REAL;
        v->real = given ? given : v->abs;
    } else if (exact) {
        v->e = best;
        v->kind = best->state == NS_GONE ? V_GONE : best->state == NS_FILE ? V_FILE : V_DIR;
        v->real = best->state == NS_DIR ? best->alias : NULL;
    } else if (best->state == NS_GONE) {
        v->kind = V_GONE;
    } else if (best->state == NS_FILE) {
        v->kind = V_NOTDIR;
    } else if (!best->alias) {
        v->kind = V_GONE;                   /* a new directory has only what the mirror made */
    } else {
        size_t al = strlen(best->alias), rl = strlen(v->abs + bestLen);
        v->buf = malloc(al + rl + 1);
        if (!v->buf) {
            v->kind = V_GONE;
            return;
        }
        memcpy(v->buf, best->alias, al);
        memcpy(v->buf + al, v->abs + bestLen, rl + 1);
        v->kind = V_REAL;
        v->real = v->buf;
    }
}

/* path relative to dirfd as the mirror sees it.  OUT: *v (viewFree it).
** need_abs: compute the absolute path even when nothing was changed.
** 0 or an errno. */
static int resolve(struct ptmMirror *m, int dirfd, const char *path, int need_abs,
                   struct view *v)
{
    int plain, err;

    memset(v, 0, sizeof *v);
    if (!path)
        return EFAULT;
    if (!*path)
        return ENOENT;
    plain = path[0] == '/' || dirfd == AT_FDCWD;
    if (!m->ns && plain && !need_abs) {
        v->kind = V_REAL;
        v->real = path;
        return 0;
    }
    if ((err = absPath(m, dirfd, path, &v->abs)) != 0)
        return err;
    if (!m->ns) {
        v->kind = V_REAL;
        v->real = plain ? path : v->abs;
        return 0;
    }
    nsLookup(m, v, plain ? path : NULL);
    return 0;
}

/* Records abs as state (taking ov and alias), replacing an entry for it.
** 0 or ENOMEM. */
static int nsSet(struct ptmMirror *m, const char *abs, enum nsState state, struct ptmOvFile *ov,
                 mode_t mode, const char *alias)
{
    struct ptmNsEntry *e = nsFind(m, abs);
    char *a = alias ? strdup(alias) : NULL;

    if (alias && !a)
        return ENOMEM;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->path = strdup(abs))) {
            free(e);
            free(a);
            return ENOMEM;
        }
        e->next = m->ns;
        m->ns = e;
    }
    free(e->alias);
    e->state = state;
    e->ov = ov;
    e->mode = mode;
    e->alias = a;
    return 0;
}

/* Drops the entries strictly under dir/. */
static void nsDropUnder(struct ptmMirror *m, const char *dir)
{
    struct ptmNsEntry **pp = &m->ns, *e;
    size_t len;

    while ((e = *pp) != NULL) {
        if (strcmp(e->path, dir) != 0 && isPrefix(dir, e->path, &len)) {
            *pp = e->next;
            free(e->path);
            free(e->alias);
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Moves the entries strictly under from/ to under to/.  0 or ENOMEM. */
static int nsMoveUnder(struct ptmMirror *m, const char *from, const char *to)
{
    struct ptmNsEntry *e;
    size_t len, fl = strlen(from), tl = strlen(to);
    char *p;

    if (fl == 1)
        fl = 0;                             /* "/" */
    for (e = m->ns; e; e = e->next) {
        if (strcmp(e->path, from) == 0 || !isPrefix(from, e->path, &len))
            continue;
        p = malloc(tl + strlen(e->path + fl) + 1);
        if (!p)
            return ENOMEM;
        memcpy(p, to, tl);
        strcpy(p + tl, e->path + fl);
        free(e->path);
        e->path = p;
    }
    return 0;
}

/* --------------------------------------------------------------- overlay */

static struct ptmOvFile *ovFind(struct ptmMirror *m, dev_t dev, ino_t ino)
{
    struct ptmOvFile *ov;
    if (ino == 0)
        return NULL;
    for (ov = m->ovs; ov; ov = ov->next)
        if (ov->ino == ino && ov->dev == dev)
            return ov;
    return NULL;
}

static struct ptmOvFile *ovNew(struct ptmMirror *m)
{
    struct ptmOvFile *ov = calloc(1, sizeof *ov);
    if (!ov)
        return NULL;
    ov->vfs_fd = ov->real_fd = ov->host_fd = ov->link_fd = -1;
    ov->next = m->ovs;
    m->ovs = ov;
    return ov;
}

/* The overlay of the existing regular file st (at path, or on host
** descriptor host_fd), found or made.  NULL when out of memory. */
static struct ptmOvFile *ovForReal(struct ptmMirror *m, const struct stat *st, const char *path,
                                   int host_fd, int host_readable)
{
    struct ptmOvFile *ov = ovFind(m, st->st_dev, st->st_ino);

    if (!ov) {
        if (!(ov = ovNew(m)))
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
static const char *ovRealPath(struct ptmOvFile *ov)
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
static int ovRealFd(struct ptmOvFile *ov)
{
    const char *path;
    struct stat st;

    if (ov->host_fd >= 0)
        return ov->host_fd;
    if (ov->real_fd < 0 && !ov->real_stale && (path = ovRealPath(ov)) != NULL &&
        probeOpenQuiet(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0, &ov->real_fd) == 0 &&
        ov->ino && (ptmProbeFstat(ov->real_fd, &st) != 0 || st.st_dev != ov->dev ||
                    st.st_ino != ov->ino))
        ov->real_stale = 1;                 /* another file: closed by ovFreeAll */
    return ov->real_stale ? -1 : ov->real_fd;
}

/* Reads [off, off+n) of ov as the mirror sees it.  -1 with *err, or the count. */
static ssize_t ovRead(struct ptmOvFile *ov, void *buf, size_t n, off_t off, int *err)
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
        if ((fd = ovRealFd(ov)) >= 0) {
            while (filled < want) {
                if ((r = probePread(fd, b + filled, want - filled, off + (off_t)filled, err)) < 0)
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
    if (m->ov_bytes - e->cap + cap > OV_CAP_BYTES)
        cap = need;
    if (m->ov_bytes - e->cap + cap > OV_CAP_BYTES || !(d = realloc(e->data, cap)))
        return ENOMEM;
    m->ov_bytes = m->ov_bytes - e->cap + cap;
    e->data = d;
    e->cap = cap;
    return 0;
}

static void extentFree(struct ptmMirror *m, struct ptmOvExtent *e)
{
    m->ov_bytes -= e->cap;
    free(e->data);
    free(e);
}

/* Stores buf[0..n) at off in ov's extents.  0, or ENOMEM (the cap: ov->lost). */
static int ovStore(struct ptmMirror *m, struct ptmOvFile *ov, const void *buf, size_t n, off_t off)
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
static void ovTruncate(struct ptmMirror *m, struct ptmOvFile *ov, off_t len)
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

static void ovFreeAll(struct ptmMirror *m)
{
    struct ptmOvFile *ov;
    struct ptmOvExtent *e;

    while ((ov = m->ovs) != NULL) {
        m->ovs = ov->next;
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
    for (u = m->fsuse; u; u = u->next)
        if (u->dev == dev)
            return u;
    u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->dev = dev;
    u->next = m->fsuse;
    m->fsuse = u;
    return u;
}

/* The bytes a write of n at off allocates in ov: what lies beyond its size
** (a hole before it costs nothing). */
static off_t allocBytes(const struct ptmOvFile *ov, off_t off, size_t n)
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
static int checkSpace(struct ptmMirror *m, struct ptmOvFile *ov, off_t alloc)
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
        err = probeStatvfs(ov->vfs_path, &vfs);
    else if (ov->vfs_fd >= 0)
        err = probeFstatvfs(ov->vfs_fd, &vfs);
    else
        return 0;
    if (err)
        return 0;
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (ov->fs)
        vfsRemember(ov->fs, avail, need > avail ? 0 : (uint64_t)alloc, by_path, by_fd);
    return need > avail ? ENOSPC : 0;
}

static void charge(struct ptmMirror *m, struct ptmOvFile *ov, int64_t delta)
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
** that answered; ptmSimReleaseAll forgets it.
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
static ssize_t fsizeLimit(struct ptmMirror *m, off_t off, size_t n, int *err)
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

/* ------------------------------------------------------- feasibility checks */

/* Could an entry be created in (or removed from) the real directory dir?
** The kernel's order: a missing or non-directory dir, a read-only
** filesystem, the permission bits.  OUT: *dst.  0 or an errno. */
static int checkDirWritable(const char *dir, struct stat *dst)
{
    int err = ptmProbeStat(dir, dst);
    if (err)
        return err;
    if (!S_ISDIR(dst->st_mode))
        return ENOTDIR;
    if ((err = probeReadOnlyFs(dir)) != 0)
        return err;
    return ptmProbeAccess(dir, W_OK | X_OK);
}

/* Would a file be created in real directory dir?  0 or an errno (ENOSPC:
** no inode left; f_files == 0 means the filesystem does not count them). */
static int checkCreateIn(const char *dir)
{
    struct statvfs vfs;
    struct stat dst;
    int err;

    if ((err = checkDirWritable(dir, &dst)) != 0)
        return err;
    if (probeStatvfs(dir, &vfs) == 0 && vfs.f_files > 0 && vfs.f_favail == 0)
        return ENOSPC;
    return 0;
}

/* ptmShimOpenCheck for a path already stat()ed: st and err are what
** ptmProbeStat said of it (no second stat for the caller that needs st). */
static int openCheckStat(const char *path, int flags, const struct stat *st, int err)
{
    char dir[PATH_MAX];

    if (err == ENOENT) {
        if (!(flags & O_CREAT))
            return ENOENT;
        if ((err = parentDir(path, dir, sizeof dir)) != 0)
            return err;
        return checkCreateIn(dir);
    }
    if (err)
        return err;
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return EEXIST;
    if (S_ISDIR(st->st_mode))
        return EISDIR;
    /* Devices, fifos and sockets are writable on a read-only filesystem. */
    if (S_ISREG(st->st_mode) && (err = probeReadOnlyFs(path)) != 0)
        return err;
    if ((flags & O_ACCMODE) == O_RDONLY)
        return ptmProbeAccess(path, R_OK);
    return ptmProbeAccess(path, (flags & O_ACCMODE) == O_RDWR ? R_OK | W_OK : W_OK);
}

/*
** ptmShimOpenCheck: would open(path, flags) with write intent succeed on
** the real system?  Read-only calls only.  Returns 0, or the errno the real
** call would set: EEXIST (O_CREAT|O_EXCL on an existing path), EISDIR,
** EROFS, EACCES (no write permission on the file, or on the directory of a
** file to create), ENOENT (missing without O_CREAT, or a missing
** directory), ENOSPC (no inode left), or what stat() says about the path.
*/
int ptmShimOpenCheck(const char *path, int flags)
{
    struct stat st;

    if (!path)
        return EFAULT;
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return checkDirWritable(path, &st);  /* an unnamed file in dir path */
    return openCheckStat(path, flags, &st, ptmProbeStat(path, &st));
}

/* Permission of a file or directory the mirror made: owner bits for
** anyone but root; root may do anything but execute a file without x. */
static int nsPermits(mode_t perm, int isdir, int mode)
{
    if (geteuid() == 0)
        return (mode & X_OK) && !isdir && !(perm & 0111) ? EACCES : 0;
    if (((mode & R_OK) && !(perm & 0400)) || ((mode & W_OK) && !(perm & 0200)) ||
        ((mode & X_OK) && !(perm & 0100)))
        return EACCES;
    return 0;
}

/* The nearest ancestor of abs (or abs) that is a real directory, as the
** mirror sees it.  OUT: realdir (cap bytes, "" when none), *fsdev. */
static void nearestReal(struct ptmMirror *m, const char *abs, char *realdir, size_t cap,
                        dev_t *fsdev)
{
    char cur[PATH_MAX], up[PATH_MAX];
    struct view v;
    struct stat st;
    int found;

    realdir[0] = '\0';
    ptmCopyField(cur, sizeof cur, abs);
    for (;;) {
        found = 0;
        if (resolve(m, AT_FDCWD, cur, 0, &v) == 0) {
            if ((v.kind == V_REAL || (v.kind == V_DIR && v.real)) &&
                ptmProbeStat(v.real, &st) == 0 && S_ISDIR(st.st_mode)) {
                ptmCopyField(realdir, cap, v.real);
                if (fsdev)
                    *fsdev = st.st_dev;
                found = 1;
            }
            viewFree(&v);
        }
        if (found || strcmp(cur, "/") == 0 || parentDir(cur, up, sizeof up) != 0)
            return;
        memcpy(cur, up, sizeof cur);
    }
}

/* Could an entry be created in (create: a new inode too) or removed from
** the parent of abs, as the mirror sees it?  OUT: *fsdev, the filesystem,
** when fsdev is not NULL, and realdir (cap bytes): the nearest real
** directory ("" when none).  0 or an errno. */
static int parentWritable(struct ptmMirror *m, const char *abs, int create, dev_t *fsdev,
                          char *realdir, size_t cap)
{
    char dir[PATH_MAX];
    struct view pv;
    struct stat st;
    int err;

    if (realdir && cap)
        realdir[0] = '\0';
    if ((err = parentDir(abs, dir, sizeof dir)) != 0)
        return err;
    if ((err = resolve(m, AT_FDCWD, dir, 0, &pv)) != 0)
        return err;
    switch (pv.kind) {
    case V_GONE: err = ENOENT; break;
    case V_FILE:
    case V_NOTDIR: err = ENOTDIR; break;
    case V_DIR:
        if (pv.real) {
            err = checkDirWritable(pv.real, &st);
            if (!err && realdir)
                ptmCopyField(realdir, cap, pv.real);
        } else {
            err = nsPermits(pv.e->mode, 1, W_OK | X_OK);
            /* A new directory lives on its nearest real ancestor's filesystem. */
            if (!err && realdir)
                nearestReal(m, dir, realdir, cap, fsdev);
        }
        break;
    case V_REAL:
        err = create ? checkCreateIn(pv.real) : checkDirWritable(pv.real, &st);
        if (!err && realdir)
            ptmCopyField(realdir, cap, pv.real);
        if (!err && fsdev && ptmProbeStat(pv.real, &st) == 0)
            *fsdev = st.st_dev;
        break;
    }
    if (!err && fsdev && pv.kind == V_DIR && pv.real && ptmProbeStat(pv.real, &st) == 0)
        *fsdev = st.st_dev;
    viewFree(&pv);
    return err;
}

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
    f->next = m->files;
    m->files = f;
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
static int openCreate(struct ptmMirror *m, struct view *v, int flags, mode_t mode,
                      struct ptmSimFile **out)
{
    char realdir[PATH_MAX];
    struct ptmOvFile *ov;
    dev_t fs = 0;
    int fd, err;

    if ((err = parentWritable(m, v->abs, 1, &fs, realdir, sizeof realdir)) != 0)
        return err;
    if ((err = openDevNull(flags, &fd)) != 0)
        return err;
    if (!(ov = ovNew(m))) {
        ptmSimCloseFd(m, fd);
        return ENOMEM;
    }
    ov->fs = fs;
    ov->vfs_path = realdir[0] ? strdup(realdir) : NULL;
    ov->mode = mode & ~processUmask() & 07777;
    ov->uid = geteuid();
    ov->gid = getegid();
    clock_gettime(CLOCK_REALTIME, &ov->mtime);
    if (nsSet(m, v->abs, NS_FILE, ov, ov->mode, NULL) != 0) {
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
    err = ov->ino && ovRealPath(ov) ? ptmProbeAccess(ov->real_path, want)
                                    : nsPermits(ov->mode, 0, want);
    if (err)
        return err;
    if ((flags & O_TRUNC) && acc != O_RDONLY && ov->size > 0) {
        charge(m, ov, -(int64_t)ov->size);
        ovTruncate(m, ov, 0);
    }
    if ((err = openDevNull(flags, &fd)) != 0)
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

    if ((err = probeOpenQuiet(path, flags, mode, &fd)) != 0)
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
            f->ov = ovFind(m, st.st_dev, st.st_ino);
        }
    }
    f->real_offset = 1;
    *out = f;
    return 0;
}

/* An open of a real path (v->real).  0 or an errno. */
static int openReal(struct ptmMirror *m, struct view *v, int dirfd, const char *path, int flags,
                    mode_t mode, struct ptmSimFile **out)
{
    struct ptmOvFile *ov;
    struct stat st;
    int fd, err, tmp = (flags & O_TMPFILE) == O_TMPFILE;

    if (!(flags & WRITE_INTENT) && !tmp)
        return openReadOnly(m, v->real, flags, mode, out);
    if (tmp) {
        if ((err = ptmShimOpenCheck(v->real, flags)) != 0)
            return err;
        if ((err = ptmProbeStat(v->real, &st)) != 0 || (err = openDevNull(flags, &fd)) != 0)
            return err;
        if (!(ov = ovNew(m))) {
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
        if (!v->abs && (err = absPath(m, dirfd, path, &v->abs)) != 0)
            return err;
        return openCreate(m, v, flags, mode, out);
    }
    if ((err = openCheckStat(v->real, flags, &st, err)) != 0)
        return err;
    if (!S_ISREG(st.st_mode)) {
        /* A device, a fifo: written in simulation, never opened for writing. */
        if ((err = openDevNull(flags, &fd)) != 0)
            return err;
        if (!(*out = simHarmless(m, fd, flags, st.st_mode & S_IFMT, NULL)))
            return ENOMEM;
        if (S_ISCHR(st.st_mode))
            (*out)->rdev = st.st_rdev;
        return 0;
    }
    if (!v->abs && absPath(m, dirfd, path, &v->abs) == ENOMEM)
        return ENOMEM;
    if (!(ov = ovForReal(m, &st, v->real[0] == '/' ? v->real : v->abs, -1, 0)))
        return ENOMEM;
    if ((flags & O_TRUNC) && ov->size > 0) {
        charge(m, ov, -(int64_t)ov->size);
        ovTruncate(m, ov, 0);
    }
    /* The real file read-only, so that fstat() and mmap() of it work. */
    if (probeOpenQuiet(v->real, O_RDONLY | O_NOCTTY | (flags & O_CLOEXEC), 0, &fd) != 0 &&
        (err = openDevNull(flags, &fd)) != 0)
        return err;
    return (*out = simHarmless(m, fd, flags, S_IFREG, ov)) ? 0 : ENOMEM;
}

/* An open of a directory the mirror made or renamed.  0 or an errno. */
static int openDir(struct ptmMirror *m, struct view *v, int flags, mode_t mode,
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
    if ((err = openDevNull(flags, &fd)) != 0)
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
    struct view v;
    int err;

    *out = NULL;
    if ((err = resolve(m, dirfd, path, 0, &v)) != 0)
        return err;
    switch (v.kind) {
    case V_NOTDIR:
        err = ENOTDIR;
        break;
    case V_GONE:
        err = (flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE
                  ? openCreate(m, &v, flags, mode, out)
                  : ENOENT;
        break;
    case V_FILE:
        err = openOv(m, v.e->ov, flags, out);
        break;
    case V_DIR:
        err = openDir(m, &v, flags, mode, out);
        break;
    case V_REAL:
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
    viewFree(&v);
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
            f->ov = ovFind(m, st.st_dev, st.st_ino);
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
** learnt only if they are (ovRealPath). */
static struct ptmOvFile *bindOv(struct ptmSimFile *f)
{
    struct stat st;
    int acc;

    if (f->ov || f->type != S_IFREG)
        return f->ov;
    if ((f->ov = ovFind(f->mirror, f->dev, f->ino)) != NULL)
        return f->ov;
    if (f->fd < 0)
        return NULL;
    acc = f->flags & O_ACCMODE;
    if (f->kind == PTM_SIM_BORROWED) {
        f->ov = ovForReal(f->mirror, &f->st, NULL, f->fd, acc != O_WRONLY);
        if (f->ov && acc == O_WRONLY && !f->ov->real_path && f->ov->link_fd < 0) {
            f->ov->link_fd = f->fd;
            if (f->owns_fd)
                ovRealPath(f->ov);          /* the mirror's dup: it may close it first */
        }
    } else if (ptmProbeFstat(f->fd, &st) == 0) {
        f->ov = ovForReal(f->mirror, &st, f->abs_path ? f->abs_path : f->path, -1, 0);
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
    ov = f->ov ? f->ov : ovFind(f->mirror, f->dev, f->ino);
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
    if ((r = fsizeLimit(f->mirror, off, n, err)) < 0)
        return -1;
    alloc = allocBytes(ov, off, (size_t)r);
    if ((*err = checkSpace(f->mirror, ov, alloc)) != 0)
        return -1;
    ovStore(f->mirror, ov, buf, (size_t)r, off); /* beyond the cap: counted, not kept */
    charge(f->mirror, ov, alloc);
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
** EAGAIN (a full non-blocking pipe); a socket goes to ptmNetSend.  A regular file's
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
    if (ptmNetIsSocket(f))
        return ptmNetSend(f, n, 0, NULL, 0, err, NULL, 0);
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
** of file).  Invented: the event gets marked pretended (ptmNetNoteRecv),
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
    struct ptmOvFile *ov = f->ov ? f->ov : ovFind(f->mirror, f->dev, f->ino);

    if (ov)
        return ovRead(ov, buf, n, off, err);
    if (f->kind == PTM_SIM_WRITE) {
        *err = EIO;                         /* cannot be: a simulated file has an overlay */
        return -1;
    }
    return probePread(f->fd, buf, n, off, err);
}

/*
** ptmSimRead: read(2) of up to n bytes on f.  A regular file reads through
** the overlay (what the mirror wrote, over the real bytes) at f's offset,
** which advances: the mirror's own descriptor's for real, a host
** descriptor's privately (pread).  A socket goes to ptmNetRecv.  A pipe, a
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
    if (ptmNetIsSocket(f))
        return ptmNetRecv(f, buf, n, 0, NULL, NULL, err);
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    switch (f->type) {
    case S_IFREG:
        if (f->real_offset && !f->ov && !(f->ov = ovFind(f->mirror, f->dev, f->ino)))
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
        return harmlessDevice(f) ? probePread(f->fd, buf, n, off, err) : 0;
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
    if (len > 0 && fsizeLimit(f->mirror, len - 1, 1, &err) < 0)
        return err;
    if (!(ov = bindOv(f)))
        return ENOMEM;
    if (len < ov->size)
        charge(f->mirror, ov, -(int64_t)(ov->size - len));
    ovTruncate(f->mirror, ov, len);
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
static int ovStat(struct ptmOvFile *ov, struct stat *st)
{
    int err = ENOENT, fd;

    if (ov->ino) {
        if (ov->host_fd >= 0)
            err = ptmProbeFstat(ov->host_fd, st);
        else if (ovRealPath(ov) && (err = ptmProbeStat(ov->real_path, st)) == 0 &&
                 (st->st_dev != ov->dev || st->st_ino != ov->ino))
            err = ESTALE;                   /* the path names another file now */
        if (err && (fd = ovRealFd(ov)) >= 0)
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

static void dirStat(const struct ptmNsEntry *e, struct stat *st)
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
    if (f->type == S_IFREG && (ov = f->ov ? f->ov : ovFind(f->mirror, f->dev, f->ino)) != NULL)
        return ovStat(ov, st);
    if (f->kind == PTM_SIM_WRITE && f->type == S_IFDIR) {
        dirStat(NULL, st);
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

    for (pp = &f->mirror->files; *pp; pp = &(*pp)->next) {
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

/* ------------------------------------------------------------- safe close */

/* Descriptors whose close would drop this process's fcntl locks. */
#define PARK_MAX 64
static struct {
    atomic_flag busy;
    int n;
    int fd[PARK_MAX];
} parked = {.busy = ATOMIC_FLAG_INIT};

/* Does /proc/locks list a POSIX (process-associated) lock of pid on the
** file of fd?  For kernels (and valgrind) without F_OFD_GETLK.  When it
** cannot be read: yes, to be safe. */
static int procLocksOf(int fd, pid_t pid)
{
    char buf[4096], part[160], *line, *nl;
    unsigned maj, min;
    unsigned long long ino;
    struct stat st;
    size_t keep = 0;
    ssize_t n;
    int lfd, lpid, found = 0;

    if (ptmProbeFstat(fd, &st) != 0 || probeOpen("/proc/locks", O_RDONLY | O_CLOEXEC, 0, &lfd) != 0)
        return 1;
    for (;;) {
        while ((n = ptmOs.read(lfd, buf + keep, sizeof buf - 1 - keep)) < 0 && errno == EINTR)
            ;
        if (n <= 0)
            break;
        n += (ssize_t)keep;
        buf[n] = '\0';
        for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
            *nl = '\0';
            /* "1: POSIX  ADVISORY  WRITE 1234 08:02:131090 0 EOF" */
            if (sscanf(line, "%*s %159s %*s %*s %d %x:%x:%llu", part, &lpid, &maj, &min, &ino) == 5 &&
                strcmp(part, "POSIX") == 0 && lpid == pid && ino == (unsigned long long)st.st_ino &&
                makedev(maj, min) == st.st_dev)
                found = 1;
        }
        keep = (size_t)(buf + n - line);
        memmove(buf, line, keep);
    }
    ptmOs.close(lfd);
    return found;
}

/* Does this process hold a process-associated (F_SETLK) lock on fd's file?
** F_OFD_GETLK from the mirror's own description sees them (F_GETLK would
** not: a process's locks never conflict with its own); /proc/locks where
** F_OFD_GETLK is missing.  Conservative: yes when a lock of another owner
** to the end of the file hides the rest. */
static int holdsProcessLocks(int fd, pid_t self)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int i;

    for (i = 0; i < 16; i++) {
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_pid = 0;
        if (ptmOs.fcntl_lock(fd, F_OFD_GETLK, &fl) != 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            return errno == EINVAL ? procLocksOf(fd, self) : 0;
        }
        if (fl.l_type == F_UNLCK)
            return 0;
        if (fl.l_pid == self || fl.l_len == 0)
            return 1;
        fl.l_start += fl.l_len;
        fl.l_len = 0;
    }
    return 1;
}

/* Closes the parked descriptors whose locks are gone.  Lock-free: a busy
** table is left for the next time. */
static void sweepParked(pid_t self)
{
    int i;

    if (atomic_flag_test_and_set(&parked.busy))
        return;
    for (i = 0; i < parked.n;) {
        if (!holdsProcessLocks(parked.fd[i], self)) {
            ptmOs.close(parked.fd[i]);
            parked.fd[i] = parked.fd[--parked.n];
        } else {
            i++;
        }
    }
    atomic_flag_clear(&parked.busy);
}

/*
** ptmSimCloseFd: closes fd, a descriptor mirror m owns.  POSIX drops all the
** process's fcntl locks on a file at the close of any descriptor on it, so
** in the host's process (not a fork child) a regular file's descriptor is
** closed only when F_OFD_GETLK shows no lock of this process on the file;
** else it is parked (at most PARK_MAX; beyond that it stays open for good)
** and closed by a later call once the locks are gone.
*/
void ptmSimCloseFd(struct ptmMirror *m, int fd)
{
    struct stat st;
    pid_t self;

    if (fd < 0)
        return;
    if ((m && m->in_child) || ptmProbeFstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ptmOs.close(fd);
        return;
    }
    self = ptmOsPid();
    if (!holdsProcessLocks(fd, self)) {
        ptmOs.close(fd);
    } else if (!atomic_flag_test_and_set(&parked.busy)) {
        if (parked.n < PARK_MAX)
            parked.fd[parked.n++] = fd;
        atomic_flag_clear(&parked.busy);
    }
    if (parked.n > 0)
        sweepParked(self);
}

/*
** ptmSimReleaseAll: closes every descriptor mirror m owns (through
** ptmSimCloseFd) and frees its simulated world: descriptors, overlay,
** namespace, free-space accounting.
*/
void ptmSimReleaseAll(struct ptmMirror *m)
{
    struct ptmNsEntry *e;
    struct ptmFsUse *u;

    while (m->files)
        ptmSimRemove(m->files);
    ovFreeAll(m);
    while ((e = m->ns) != NULL) {
        m->ns = e->next;
        free(e->path);
        free(e->alias);
        free(e);
    }
    while ((u = m->fsuse) != NULL) {
        m->fsuse = u->next;
        free(u);
    }
    m->ov_bytes = 0;
    if (fsizeCache.m == m)
        fsizeCache.m = NULL;
    if (!m->in_child && parked.n > 0)
        sweepParked(ptmOsPid());
}

/*
** ptmShimFdTarget: an event target for descriptor fd: the path the mirror
** opened it with, else "fd N".  OUT: dst (cap bytes).
*/
void ptmShimFdTarget(struct ptmMirror *m, int fd, char *dst, size_t cap)
{
    struct ptmSimFile *f = ptmSimFind(m, fd);
    char buf[16], *p = buf + sizeof buf;
    unsigned u = fd < 0 ? 0u - (unsigned)fd : (unsigned)fd;

    if (f && f->path) {
        ptmCopyField(dst, cap, f->path);
        return;
    }
    /* "fd N" without snprintf, a quarter of a write shim's instructions. */
    *--p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (fd < 0)
        *--p = '-';
    *--p = ' ';
    *--p = 'd';
    *--p = 'f';
    ptmCopyField(dst, cap, p);
}

/* ---------------------------------------------------------- the namespace */

/*
** ptmSimStat: stat(2) (follow) or lstat(2) of path relative to dirfd, as the
** mirror sees it: a removed path is ENOENT, a file the mirror made or
** renamed is described from its overlay, a real file the mirror wrote has
** the overlay's size.  OUT: *st.  0 or an errno.
*/
int ptmSimStat(struct ptmMirror *m, int dirfd, const char *path, int follow,
               struct stat *st)
{
    struct ptmOvFile *ov;
    struct view v;
    int err;

    if ((err = resolve(m, dirfd, path, 0, &v)) != 0)
        return err;
    switch (v.kind) {
    case V_GONE: err = ENOENT; break;
    case V_NOTDIR: err = ENOTDIR; break;
    case V_FILE: err = ovStat(v.e->ov, st); break;
    case V_DIR:
        if (v.real)
            err = ptmProbeStat(v.real, st);
        else
            dirStat(v.e, st);
        break;
    case V_REAL:
        err = follow ? ptmProbeStat(v.real, st) : ptmProbeLstat(v.real, st);
        if (!err && S_ISREG(st->st_mode) && (ov = ovFind(m, st->st_dev, st->st_ino)) != NULL)
            err = ovStat(ov, st);
        break;
    }
    viewFree(&v);
    return err;
}

/*
** ptmSimAccess: access(2) of path as the mirror sees it: ENOENT for what it
** removed, the mode bits of what it made (root passes but for X_OK on a file
** without x), the real access() for the rest.  0 or an errno.
*/
int ptmSimAccess(struct ptmMirror *m, const char *path, int mode)
{
    struct view v;
    int err;

    if ((err = resolve(m, AT_FDCWD, path, 0, &v)) != 0)
        return err;
    switch (v.kind) {
    case V_GONE: err = ENOENT; break;
    case V_NOTDIR: err = ENOTDIR; break;
    case V_FILE:
        err = v.e->ov->ino && ovRealPath(v.e->ov) ? ptmProbeAccess(v.e->ov->real_path, mode)
                                                  : nsPermits(v.e->ov->mode, 0, mode);
        break;
    case V_DIR:
        err = v.real ? ptmProbeAccess(v.real, mode) : nsPermits(v.e->mode, 1, mode);
        break;
    case V_REAL: err = ptmProbeAccess(v.real, mode); break;
    }
    viewFree(&v);
    return err;
}

/* Would unlink(path) of a real path succeed?  0 or an errno. */
static int checkUnlinkReal(const char *path)
{
    char dir[PATH_MAX];
    struct stat st, dst;
    uid_t me = geteuid();
    int err;

    if ((err = ptmProbeLstat(path, &st)) != 0)
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
** ptmSimUnlink: unlink(2) of path as the mirror sees it: checked (ENOENT,
** ENOTDIR, EISDIR, EROFS, EACCES, EPERM for a sticky directory) and recorded
** as removed, so that the mirror's later opens and stats miss it (and an
** O_CREAT|O_EXCL may make it again).  Descriptors open on it keep reading.
** 0 or an errno.
*/
int ptmSimUnlink(struct ptmMirror *m, const char *path)
{
    struct view v;
    int err;

    if ((err = resolve(m, AT_FDCWD, path, 1, &v)) != 0)
        return err;
    switch (v.kind) {
    case V_GONE: err = ENOENT; break;
    case V_NOTDIR: err = ENOTDIR; break;
    case V_DIR: err = EISDIR; break;
    case V_FILE:
        if ((err = parentWritable(m, v.abs, 0, NULL, NULL, 0)) == 0)
            err = nsSet(m, v.abs, NS_GONE, NULL, 0, NULL);
        break;
    case V_REAL:
        if ((err = checkUnlinkReal(v.real)) == 0)
            err = nsSet(m, v.abs, NS_GONE, NULL, 0, NULL);
        break;
    }
    viewFree(&v);
    return err;
}

/* Would rename(from, to) of two real paths succeed?  The kernel's order: a
** missing source, a missing target directory, different filesystems, a
** read-only one, permissions, then the kinds of source and an existing
** target.  OUT: *same, the paths name one file (a no-op).  0 or an errno.
** Bind mounts of one filesystem share st_dev, so EXDEV across them is not
** seen. */
static int checkRenameReal(const char *from, const char *to, int *same)
{
    char fdir[PATH_MAX], tdir[PATH_MAX];
    struct stat sf, st, sfd, std;
    int err;

    *same = 0;
    if ((err = ptmProbeLstat(from, &sf)) != 0)
        return err;
    if ((err = parentDir(from, fdir, sizeof fdir)) != 0 ||
        (err = parentDir(to, tdir, sizeof tdir)) != 0)
        return err;
    if ((err = ptmProbeStat(tdir, &std)) != 0)
        return err;
    if (!S_ISDIR(std.st_mode))
        return ENOTDIR;
    if (sf.st_dev != std.st_dev)
        return EXDEV;
    if ((err = checkDirWritable(fdir, &sfd)) != 0 || (err = checkDirWritable(tdir, &std)) != 0)
        return err;
    if (ptmProbeLstat(to, &st) == 0) {
        if (st.st_dev == sf.st_dev && st.st_ino == sf.st_ino) {
            *same = 1;
            return 0;
        }
        if (S_ISDIR(sf.st_mode) && !S_ISDIR(st.st_mode))
            return ENOTDIR;
        if (!S_ISDIR(sf.st_mode) && S_ISDIR(st.st_mode))
            return EISDIR;
    }
    return 0;
}

/* Is directory abs (real at real, or NULL) empty as the mirror sees it?
** 0 (empty), ENOTEMPTY, or an errno. */
static int dirEmpty(struct ptmMirror *m, const char *abs, const char *real)
{
    struct ptmNsEntry *e;
    struct view cv;
    char buf[4096], *child;
    size_t len, al = strlen(abs);
    long got, off;
    int fd, err = 0, gone;

    for (e = m->ns; e; e = e->next)
        if (e->state != NS_GONE && strcmp(e->path, abs) != 0 && isPrefix(abs, e->path, &len))
            return ENOTEMPTY;
    if (!real)
        return 0;
    if ((err = probeOpen(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd)) != 0)
        return err;
    while (!err && (got = ptmOs.getdents(fd, buf, sizeof buf)) != 0) {
        if (got < 0) {
            if (errno != EINTR)
                err = errno;
            continue;
        }
        for (off = 0; off < got && !err;) {
            const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            off += reclen;
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                continue;
            if (!(child = malloc(al + strlen(name) + 2))) {
                err = ENOMEM;
                break;
            }
            sprintf(child, "%s/%s", strcmp(abs, "/") == 0 ? "" : abs, name);
            gone = 0;
            if (m->ns && resolve(m, AT_FDCWD, child, 0, &cv) == 0) {
                gone = cv.kind == V_GONE;
                viewFree(&cv);
            }
            free(child);
            if (!gone)
                err = ENOTEMPTY;
        }
    }
    ptmOs.close(fd);
    return err;
}

/* The filesystem of what v names, or of its nearest real ancestor. */
static dev_t viewFs(struct ptmMirror *m, const struct view *v)
{
    char realdir[PATH_MAX];
    struct stat st;
    dev_t fs = 0;

    if (v->kind == V_REAL && ptmProbeLstat(v->real, &st) == 0)
        return st.st_dev;
    if (v->kind == V_FILE && v->e->ov)
        return v->e->ov->fs;
    if (v->kind == V_DIR && v->real && ptmProbeStat(v->real, &st) == 0)
        return st.st_dev;
    if (v->abs)
        parentWritable(m, v->abs, 0, &fs, realdir, sizeof realdir);
    return fs;
}

/*
** ptmSimRename: rename(2) of from to to as the mirror sees it.  Checked
** (ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL for a directory into itself,
** EXDEV, EROFS, EACCES) and recorded: from is removed, to names from's
** content (a file's overlay; a real directory by alias, with what the
** mirror made under it).  0 or an errno.
*/
int ptmSimRename(struct ptmMirror *m, const char *from, const char *to)
{
    struct view vf, vt;
    struct stat sf, st;
    struct ptmOvFile *ov = NULL;
    const char *alias = NULL;
    mode_t dmode = 0755;
    size_t len;
    int err, fromDir = 0, toKind = 0, same = 0; /* toKind: 0 none, 1 file, 2 dir */

    if ((err = resolve(m, AT_FDCWD, from, 1, &vf)) != 0)
        return err;
    if ((err = resolve(m, AT_FDCWD, to, 1, &vt)) != 0) {
        viewFree(&vf);
        return err;
    }
    if (vf.kind == V_GONE)
        err = ENOENT;
    else if (vf.kind == V_NOTDIR || vt.kind == V_NOTDIR)
        err = ENOTDIR;
    else if (strcmp(vf.abs, vt.abs) == 0)
        same = 1;
    else if (vf.kind == V_REAL && vt.kind == V_REAL)
        err = checkRenameReal(vf.real, vt.real, &same);
    if (err || same)
        goto done;

    /* What moves. */
    if (vf.kind == V_FILE) {
        ov = vf.e->ov;
    } else if (vf.kind == V_DIR) {
        fromDir = 1;
        alias = vf.e->alias;
        dmode = vf.e->mode;
    } else if ((err = ptmProbeLstat(vf.real, &sf)) != 0) {
        goto done;
    } else if (S_ISDIR(sf.st_mode)) {
        fromDir = 1;
        alias = vf.real;
        dmode = sf.st_mode & 07777;
    } else if (S_ISREG(sf.st_mode) || (ptmProbeStat(vf.real, &st) == 0 && S_ISREG(st.st_mode))) {
        if (!S_ISREG(sf.st_mode))
            sf = st;                        /* a symbolic link to a file: its target */
        if (!(ov = ovForReal(m, &sf, vf.real[0] == '/' ? vf.real : vf.abs, -1, 0))) {
            err = ENOMEM;
            goto done;
        }
    } else {
        err = EINVAL;                       /* a device or a fifo: not modelled */
        goto done;
    }

    if (vf.kind != V_REAL || vt.kind != V_REAL) {
        /* The checks checkRenameReal made, against the overlay. */
        if ((err = parentWritable(m, vt.abs, 0, NULL, NULL, 0)) != 0 ||
            (err = parentWritable(m, vf.abs, 0, NULL, NULL, 0)) != 0)
            goto done;
        if (viewFs(m, &vf) != viewFs(m, &vt)) {
            err = EXDEV;
            goto done;
        }
        if (vt.kind == V_FILE)
            toKind = 1;
        else if (vt.kind == V_DIR)
            toKind = 2;
        else if (vt.kind == V_REAL && ptmProbeLstat(vt.real, &st) == 0)
            toKind = S_ISDIR(st.st_mode) ? 2 : 1;
        if (fromDir && toKind == 1)
            err = ENOTDIR;
        else if (!fromDir && toKind == 2)
            err = EISDIR;
        if (err)
            goto done;
    } else if (ptmProbeLstat(vt.real, &st) == 0) {
        toKind = S_ISDIR(st.st_mode) ? 2 : 1;
    }
    if (fromDir && isPrefix(vf.abs, vt.abs, &len)) {
        err = EINVAL;                       /* into itself */
        goto done;
    }
    if (fromDir && toKind == 2 &&
        (err = dirEmpty(m, vt.abs, vt.kind == V_DIR ? vt.real : vt.kind == V_REAL ? vt.real : NULL)) != 0)
        goto done;

    /* Record it. */
    nsDropUnder(m, vt.abs);
    if (fromDir && (err = nsMoveUnder(m, vf.abs, vt.abs)) != 0)
        goto done;
    if ((err = nsSet(m, vt.abs, fromDir ? NS_DIR : NS_FILE, ov, fromDir ? dmode : 0, alias)) != 0)
        goto done;
    err = nsSet(m, vf.abs, NS_GONE, NULL, 0, NULL);
done:
    viewFree(&vf);
    viewFree(&vt);
    return err;
}

/*
** ptmSimMkdir: mkdir(2) of path as the mirror sees it: EEXIST, ENOENT (no
** parent), ENOTDIR, EROFS, EACCES; recorded as a new, empty directory with
** mode less the umask.  0 or an errno.
*/
int ptmSimMkdir(struct ptmMirror *m, const char *path, mode_t mode)
{
    struct view v;
    struct stat st;
    int err;

    if ((err = resolve(m, AT_FDCWD, path, 1, &v)) != 0)
        return err;
    if (v.kind == V_FILE || v.kind == V_DIR ||
        (v.kind == V_REAL && ptmProbeLstat(v.real, &st) == 0))
        err = EEXIST;
    else if (v.kind == V_NOTDIR)
        err = ENOTDIR;
    else if ((err = parentWritable(m, v.abs, 1, NULL, NULL, 0)) == 0)
        err = nsSet(m, v.abs, NS_DIR, NULL, mode & ~processUmask() & 07777, NULL);
    viewFree(&v);
    return err;
}

/*
** ptmSimRmdir: rmdir(2) of path as the mirror sees it: EINVAL for ".",
** ENOTEMPTY for ".." or a directory with entries (the real ones the mirror
** did not remove, and what it made), ENOENT, ENOTDIR, EBUSY for "/", EROFS,
** EACCES; recorded as removed.  0 or an errno.
*/
int ptmSimRmdir(struct ptmMirror *m, const char *path)
{
    struct view v;
    struct stat st;
    const char *base;
    size_t blen;
    int err;

    if (!path)
        return EFAULT;
    base = baseName(path, &blen);
    if (blen == 1 && base[0] == '.')
        return EINVAL;
    if (blen == 2 && base[0] == '.' && base[1] == '.')
        return ENOTEMPTY;
    if ((err = resolve(m, AT_FDCWD, path, 1, &v)) != 0)
        return err;
    switch (v.kind) {
    case V_GONE: err = ENOENT; break;
    case V_NOTDIR:
    case V_FILE: err = ENOTDIR; break;
    case V_REAL:
        if ((err = ptmProbeLstat(v.real, &st)) != 0)
            break;
        if (!S_ISDIR(st.st_mode)) {
            err = ENOTDIR;
            break;
        }
        /* fall through */
    case V_DIR:
        if (strcmp(v.abs, "/") == 0)
            err = EBUSY;
        else if ((err = dirEmpty(m, v.abs, v.real)) == 0 &&
                 (err = parentWritable(m, v.abs, 0, NULL, NULL, 0)) == 0) {
            nsDropUnder(m, v.abs);
            err = nsSet(m, v.abs, NS_GONE, NULL, 0, NULL);
        }
        break;
    }
    viewFree(&v);
    return err;
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
        fd = ovRealFd(ov);
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
