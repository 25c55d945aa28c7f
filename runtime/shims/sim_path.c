/*
** shims/sim_path.c - paths and names as the mirror sees them: absolute,
** normalised paths, the namespace overlay (what the mirror created, removed
** or renamed) looked up before the real system, and the feasibility checks
** of an open or a change of the namespace (read-only probes).
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

/* ------------------------------------------------------------------ paths */

/* The directory that holds path's last component, as written.  OUT: dir
** (cap bytes).  0 or ENAMETOOLONG. */
int ptmSimParentDir(const char *path, char *dir, size_t cap)
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
const char *ptmSimBaseName(const char *path, size_t *len)
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
    if (!ptmSimWorldOf(m)->cwd && ptmOs.getcwd(buf, sizeof buf))
        ptmSimWorldOf(m)->cwd = strdup(buf);
    return ptmSimWorldOf(m)->cwd;
}

/* path relative to dirfd, absolute and normalised.  OUT: *out (malloc'd).
** 0 or an errno (EFAULT, ENOENT for "", EBADF, ENOMEM, ENAMETOOLONG). */
int ptmSimAbsPath(struct ptmMirror *m, int dirfd, const char *path, char **out)
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

/*
** ptmSimFind: the entry of mirror m for descriptor fd, or NULL.
*/
struct ptmSimFile *ptmSimFind(struct ptmMirror *m, int fd)
{
    struct ptmSimFile *f;
    if (fd < 0)
        return NULL;
    for (f = ptmSimWorldOf(m)->files; f; f = f->next)
        if (f->fd == fd)
            return f;
    return NULL;
}

/* -------------------------------------------------------------- namespace */

/* ptmSimViewFree: frees what v owns (its absolute path, its storage). */
void ptmSimViewFree(struct ptmSimView *v)
{
    free(v->abs);
    free(v->buf);
    v->abs = v->buf = NULL;
}

/* Is prefix a path-component prefix of path (or path itself)?  OUT: *len. */
int ptmSimIsPrefix(const char *prefix, const char *path, size_t *len)
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
    for (e = ptmSimWorldOf(m)->ns; e; e = e->next)
        if (strcmp(e->path, abs) == 0)
            return e;
    return NULL;
}

/* Looks abs up: the longest prefix entry decides.  Fills v (abs is v's). */
static void nsLookup(struct ptmMirror *m, struct ptmSimView *v, const char *given)
{
    struct ptmNsEntry *e, *best = NULL;
    size_t len, bestLen = 0;
    int exact = 0;

    for (e = ptmSimWorldOf(m)->ns; e; e = e->next) {
        if (ptmSimIsPrefix(e->path, v->abs, &len) && (!best || len > bestLen)) {
            best = e;
            bestLen = len;
        }
    }
    if (best)
        exact = strcmp(best->path, v->abs) == 0;
    if (!best) {
        v->kind = PTM_VIEW_REAL;
        v->real = given ? given : v->abs;
    } else if (exact) {
        v->e = best;
        v->kind = best->state == PTM_NS_GONE   ? PTM_VIEW_GONE
                  : best->state == PTM_NS_FILE ? PTM_VIEW_FILE
                                               : PTM_VIEW_DIR;
        v->real = best->state == PTM_NS_DIR ? best->alias : NULL;
    } else if (best->state == PTM_NS_GONE) {
        v->kind = PTM_VIEW_GONE;
    } else if (best->state == PTM_NS_FILE) {
        v->kind = PTM_VIEW_NOTDIR;
    } else if (!best->alias) {
        v->kind = PTM_VIEW_GONE;            /* a new directory has only what the mirror made */
    } else {
        size_t al = strlen(best->alias), rl = strlen(v->abs + bestLen);
        v->buf = malloc(al + rl + 1);
        if (!v->buf) {
            v->kind = PTM_VIEW_GONE;
            return;
        }
        memcpy(v->buf, best->alias, al);
        memcpy(v->buf + al, v->abs + bestLen, rl + 1);
        v->kind = PTM_VIEW_REAL;
        v->real = v->buf;
    }
}

/* path relative to dirfd as the mirror sees it.  OUT: *v (ptmSimViewFree it).
** need_abs: compute the absolute path even when nothing was changed.
** 0 or an errno. */
int ptmSimResolve(struct ptmMirror *m, int dirfd, const char *path, int need_abs,
                  struct ptmSimView *v)
{
    int plain, err;

    memset(v, 0, sizeof *v);
    if (!path)
        return EFAULT;
    if (!*path)
        return ENOENT;
    plain = path[0] == '/' || dirfd == AT_FDCWD;
    if (!ptmSimWorldOf(m)->ns && plain && !need_abs) {
        v->kind = PTM_VIEW_REAL;
        v->real = path;
        return 0;
    }
    if ((err = ptmSimAbsPath(m, dirfd, path, &v->abs)) != 0)
        return err;
    if (!ptmSimWorldOf(m)->ns) {
        v->kind = PTM_VIEW_REAL;
        v->real = plain ? path : v->abs;
        return 0;
    }
    nsLookup(m, v, plain ? path : NULL);
    return 0;
}

/* Records abs as state (taking ov and alias), replacing an entry for it.
** 0 or ENOMEM. */
int ptmSimNsSet(struct ptmMirror *m, const char *abs, enum ptmNsState state, struct ptmOvFile *ov,
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
        e->next = ptmSimWorldOf(m)->ns;
        ptmSimWorldOf(m)->ns = e;
    }
    free(e->alias);
    e->state = state;
    e->ov = ov;
    e->mode = mode;
    e->alias = a;
    return 0;
}

/* Drops the entries strictly under dir/. */
void ptmSimNsDropUnder(struct ptmMirror *m, const char *dir)
{
    struct ptmNsEntry **pp = &ptmSimWorldOf(m)->ns, *e;
    size_t len;

    while ((e = *pp) != NULL) {
        if (strcmp(e->path, dir) != 0 && ptmSimIsPrefix(dir, e->path, &len)) {
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
int ptmSimNsMoveUnder(struct ptmMirror *m, const char *from, const char *to)
{
    struct ptmNsEntry *e;
    size_t len, fl = strlen(from), tl = strlen(to);
    char *p;

    if (fl == 1)
        fl = 0;                             /* "/" */
    for (e = ptmSimWorldOf(m)->ns; e; e = e->next) {
        if (strcmp(e->path, from) == 0 || !ptmSimIsPrefix(from, e->path, &len))
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

/* ------------------------------------------------------- feasibility checks */

/* Could an entry be created in (or removed from) the real directory dir?
** The kernel's order: a missing or non-directory dir, a read-only
** filesystem, the permission bits.  OUT: *dst.  0 or an errno. */
int ptmSimCheckDirWritable(const char *dir, struct stat *dst)
{
    int err = ptmProbeStat(dir, dst);
    if (err)
        return err;
    if (!S_ISDIR(dst->st_mode))
        return ENOTDIR;
    if ((err = ptmProbeReadOnlyFs(dir)) != 0)
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

    if ((err = ptmSimCheckDirWritable(dir, &dst)) != 0)
        return err;
    if (ptmProbeStatvfs(dir, &vfs) == 0 && vfs.f_files > 0 && vfs.f_favail == 0)
        return ENOSPC;
    return 0;
}

/* ptmShimOpenCheck for a path already stat()ed: st and err are what
** ptmProbeStat said of it (no second stat for the caller that needs st). */
int ptmSimOpenCheckStat(const char *path, int flags, const struct stat *st, int err)
{
    char dir[PATH_MAX];

    if (err == ENOENT) {
        if (!(flags & O_CREAT))
            return ENOENT;
        if ((err = ptmSimParentDir(path, dir, sizeof dir)) != 0)
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
    if (S_ISREG(st->st_mode) && (err = ptmProbeReadOnlyFs(path)) != 0)
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
        return ptmSimCheckDirWritable(path, &st);  /* an unnamed file in dir path */
    return ptmSimOpenCheckStat(path, flags, &st, ptmProbeStat(path, &st));
}

/* Permission of a file or directory the mirror made: owner bits for
** anyone but root; root may do anything but execute a file without x. */
int ptmSimNsPermits(mode_t perm, int isdir, int mode)
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
    struct ptmSimView v;
    struct stat st;
    int found;

    realdir[0] = '\0';
    ptmCopyField(cur, sizeof cur, abs);
    for (;;) {
        found = 0;
        if (ptmSimResolve(m, AT_FDCWD, cur, 0, &v) == 0) {
            if ((v.kind == PTM_VIEW_REAL || (v.kind == PTM_VIEW_DIR && v.real)) &&
                ptmProbeStat(v.real, &st) == 0 && S_ISDIR(st.st_mode)) {
                ptmCopyField(realdir, cap, v.real);
                if (fsdev)
                    *fsdev = st.st_dev;
                found = 1;
            }
            ptmSimViewFree(&v);
        }
        if (found || strcmp(cur, "/") == 0 || ptmSimParentDir(cur, up, sizeof up) != 0)
            return;
        memcpy(cur, up, sizeof cur);
    }
}

/* Could an entry be created in (create: a new inode too) or removed from
** the parent of abs, as the mirror sees it?  OUT: *fsdev, the filesystem,
** when fsdev is not NULL, and realdir (cap bytes): the nearest real
** directory ("" when none).  0 or an errno. */
int ptmSimParentWritable(struct ptmMirror *m, const char *abs, int create, dev_t *fsdev,
                         char *realdir, size_t cap)
{
    char dir[PATH_MAX];
    struct ptmSimView pv;
    struct stat st;
    int err;

    if (realdir && cap)
        realdir[0] = '\0';
    if ((err = ptmSimParentDir(abs, dir, sizeof dir)) != 0)
        return err;
    if ((err = ptmSimResolve(m, AT_FDCWD, dir, 0, &pv)) != 0)
        return err;
    switch (pv.kind) {
    case PTM_VIEW_GONE: err = ENOENT; break;
    case PTM_VIEW_FILE:
    case PTM_VIEW_NOTDIR: err = ENOTDIR; break;
    case PTM_VIEW_DIR:
        if (pv.real) {
            err = ptmSimCheckDirWritable(pv.real, &st);
            if (!err && realdir)
                ptmCopyField(realdir, cap, pv.real);
        } else {
            err = ptmSimNsPermits(pv.e->mode, 1, W_OK | X_OK);
            /* A new directory lives on its nearest real ancestor's filesystem. */
            if (!err && realdir)
                nearestReal(m, dir, realdir, cap, fsdev);
        }
        break;
    case PTM_VIEW_REAL:
        err = create ? checkCreateIn(pv.real) : ptmSimCheckDirWritable(pv.real, &st);
        if (!err && realdir)
            ptmCopyField(realdir, cap, pv.real);
        if (!err && fsdev && ptmProbeStat(pv.real, &st) == 0)
            *fsdev = st.st_dev;
        break;
    }
    if (!err && fsdev && pv.kind == PTM_VIEW_DIR && pv.real && ptmProbeStat(pv.real, &st) == 0)
        *fsdev = st.st_dev;
    ptmSimViewFree(&pv);
    return err;
}
