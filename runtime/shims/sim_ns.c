/*
** shims/sim_ns.c - the namespace calls of a mirror (stat, access, unlink,
** rename, mkdir, rmdir): each answers as the real call would on the
** namespace as the mirror sees it, and changes only the namespace overlay.
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
    struct ptmSimView v;
    int err;

    if ((err = ptmSimResolve(m, dirfd, path, 0, &v)) != 0)
        return err;
    switch (v.kind) {
    case PTM_VIEW_GONE: err = ENOENT; break;
    case PTM_VIEW_NOTDIR: err = ENOTDIR; break;
    case PTM_VIEW_FILE: err = ptmSimOvStat(v.e->ov, st); break;
    case PTM_VIEW_DIR:
        if (v.real)
            err = ptmProbeStat(v.real, st);
        else
            ptmSimDirStat(v.e, st);
        break;
    case PTM_VIEW_REAL:
        err = follow ? ptmProbeStat(v.real, st) : ptmProbeLstat(v.real, st);
        if (!err && S_ISREG(st->st_mode) && (ov = ptmOvFind(m, st->st_dev, st->st_ino)) != NULL)
            err = ptmSimOvStat(ov, st);
        break;
    }
    ptmSimViewFree(&v);
    return err;
}

/*
** ptmSimAccess: access(2) of path as the mirror sees it: ENOENT for what it
** removed, the mode bits of what it made (root passes but for X_OK on a file
** without x), the real access() for the rest.  0 or an errno.
*/
int ptmSimAccess(struct ptmMirror *m, const char *path, int mode)
{
    struct ptmSimView v;
    int err;

    if ((err = ptmSimResolve(m, AT_FDCWD, path, 0, &v)) != 0)
        return err;
    switch (v.kind) {
    case PTM_VIEW_GONE: err = ENOENT; break;
    case PTM_VIEW_NOTDIR: err = ENOTDIR; break;
    case PTM_VIEW_FILE:
        err = v.e->ov->ino && ptmOvRealPath(v.e->ov) ? ptmProbeAccess(v.e->ov->real_path, mode)
                                                  : ptmSimNsPermits(v.e->ov->mode, 0, mode);
        break;
    case PTM_VIEW_DIR:
        err = v.real ? ptmProbeAccess(v.real, mode) : ptmSimNsPermits(v.e->mode, 1, mode);
        break;
    case PTM_VIEW_REAL: err = ptmProbeAccess(v.real, mode); break;
    }
    ptmSimViewFree(&v);
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
    if ((err = ptmSimParentDir(path, dir, sizeof dir)) != 0)
        return err;
    if ((err = ptmSimCheckDirWritable(dir, &dst)) != 0)
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
    struct ptmSimView v;
    int err;

    if ((err = ptmSimResolve(m, AT_FDCWD, path, 1, &v)) != 0)
        return err;
    switch (v.kind) {
    case PTM_VIEW_GONE: err = ENOENT; break;
    case PTM_VIEW_NOTDIR: err = ENOTDIR; break;
    case PTM_VIEW_DIR: err = EISDIR; break;
    case PTM_VIEW_FILE:
        if ((err = ptmSimParentWritable(m, v.abs, 0, NULL, NULL, 0)) == 0)
            err = ptmSimNsSet(m, v.abs, PTM_NS_GONE, NULL, 0, NULL);
        break;
    case PTM_VIEW_REAL:
        if ((err = checkUnlinkReal(v.real)) == 0)
            err = ptmSimNsSet(m, v.abs, PTM_NS_GONE, NULL, 0, NULL);
        break;
    }
    ptmSimViewFree(&v);
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
    if ((err = ptmSimParentDir(from, fdir, sizeof fdir)) != 0 ||
        (err = ptmSimParentDir(to, tdir, sizeof tdir)) != 0)
        return err;
    if ((err = ptmProbeStat(tdir, &std)) != 0)
        return err;
    if (!S_ISDIR(std.st_mode))
        return ENOTDIR;
    if (sf.st_dev != std.st_dev)
        return EXDEV;
    if ((err = ptmSimCheckDirWritable(fdir, &sfd)) != 0 ||
        (err = ptmSimCheckDirWritable(tdir, &std)) != 0)
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
    struct ptmSimView cv;
    char buf[4096], *child;
    size_t len, al = strlen(abs);
    long got, off;
    int fd, err = 0, gone;

    for (e = ptmSimWorldOf(m)->ns; e; e = e->next)
        if (e->state != PTM_NS_GONE && strcmp(e->path, abs) != 0 &&
            ptmSimIsPrefix(abs, e->path, &len))
            return ENOTEMPTY;
    if (!real)
        return 0;
    if ((err = ptmProbeOpen(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd)) != 0)
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
            if (ptmSimWorldOf(m)->ns && ptmSimResolve(m, AT_FDCWD, child, 0, &cv) == 0) {
                gone = cv.kind == PTM_VIEW_GONE;
                ptmSimViewFree(&cv);
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
static dev_t viewFs(struct ptmMirror *m, const struct ptmSimView *v)
{
    char realdir[PATH_MAX];
    struct stat st;
    dev_t fs = 0;

    if (v->kind == PTM_VIEW_REAL && ptmProbeLstat(v->real, &st) == 0)
        return st.st_dev;
    if (v->kind == PTM_VIEW_FILE && v->e->ov)
        return v->e->ov->fs;
    if (v->kind == PTM_VIEW_DIR && v->real && ptmProbeStat(v->real, &st) == 0)
        return st.st_dev;
    if (v->abs)
        ptmSimParentWritable(m, v->abs, 0, &fs, realdir, sizeof realdir);
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
    struct ptmSimView vf, vt;
    struct stat sf, st;
    struct ptmOvFile *ov = NULL;
    const char *alias = NULL;
    mode_t dmode = 0755;
    size_t len;
    int err, fromDir = 0, toKind = 0, same = 0; /* toKind: 0 none, 1 file, 2 dir */

    if ((err = ptmSimResolve(m, AT_FDCWD, from, 1, &vf)) != 0)
        return err;
    if ((err = ptmSimResolve(m, AT_FDCWD, to, 1, &vt)) != 0) {
        ptmSimViewFree(&vf);
        return err;
    }
    if (vf.kind == PTM_VIEW_GONE)
        err = ENOENT;
    else if (vf.kind == PTM_VIEW_NOTDIR || vt.kind == PTM_VIEW_NOTDIR)
        err = ENOTDIR;
    else if (strcmp(vf.abs, vt.abs) == 0)
        same = 1;
    else if (vf.kind == PTM_VIEW_REAL && vt.kind == PTM_VIEW_REAL)
        err = checkRenameReal(vf.real, vt.real, &same);
    if (err || same)
        goto done;

    /* What moves. */
    if (vf.kind == PTM_VIEW_FILE) {
        ov = vf.e->ov;
    } else if (vf.kind == PTM_VIEW_DIR) {
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
        if (!(ov = ptmOvForReal(m, &sf, vf.real[0] == '/' ? vf.real : vf.abs, -1, 0))) {
            err = ENOMEM;
            goto done;
        }
    } else {
        err = EINVAL;                       /* a device or a fifo: not modelled */
        goto done;
    }

    if (vf.kind != PTM_VIEW_REAL || vt.kind != PTM_VIEW_REAL) {
        /* The checks checkRenameReal made, against the overlay. */
        if ((err = ptmSimParentWritable(m, vt.abs, 0, NULL, NULL, 0)) != 0 ||
            (err = ptmSimParentWritable(m, vf.abs, 0, NULL, NULL, 0)) != 0)
            goto done;
        if (viewFs(m, &vf) != viewFs(m, &vt)) {
            err = EXDEV;
            goto done;
        }
        if (vt.kind == PTM_VIEW_FILE)
            toKind = 1;
        else if (vt.kind == PTM_VIEW_DIR)
            toKind = 2;
        else if (vt.kind == PTM_VIEW_REAL && ptmProbeLstat(vt.real, &st) == 0)
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
    if (fromDir && ptmSimIsPrefix(vf.abs, vt.abs, &len)) {
        err = EINVAL;                       /* into itself */
        goto done;
    }
    if (fromDir && toKind == 2 &&
        (err = dirEmpty(m, vt.abs,
                        vt.kind == PTM_VIEW_DIR    ? vt.real
                        : vt.kind == PTM_VIEW_REAL ? vt.real
                                                   : NULL)) != 0)
        goto done;

    /* Record it. */
    ptmSimNsDropUnder(m, vt.abs);
    if (fromDir && (err = ptmSimNsMoveUnder(m, vf.abs, vt.abs)) != 0)
        goto done;
    if ((err = ptmSimNsSet(m, vt.abs, fromDir ? PTM_NS_DIR : PTM_NS_FILE, ov, fromDir ? dmode : 0,
                           alias)) != 0)
        goto done;
    err = ptmSimNsSet(m, vf.abs, PTM_NS_GONE, NULL, 0, NULL);
done:
    ptmSimViewFree(&vf);
    ptmSimViewFree(&vt);
    return err;
}

/*
** ptmSimMkdir: mkdir(2) of path as the mirror sees it: EEXIST, ENOENT (no
** parent), ENOTDIR, EROFS, EACCES; recorded as a new, empty directory with
** mode less the umask.  0 or an errno.
*/
int ptmSimMkdir(struct ptmMirror *m, const char *path, mode_t mode)
{
    struct ptmSimView v;
    struct stat st;
    int err;

    if ((err = ptmSimResolve(m, AT_FDCWD, path, 1, &v)) != 0)
        return err;
    if (v.kind == PTM_VIEW_FILE || v.kind == PTM_VIEW_DIR ||
        (v.kind == PTM_VIEW_REAL && ptmProbeLstat(v.real, &st) == 0))
        err = EEXIST;
    else if (v.kind == PTM_VIEW_NOTDIR)
        err = ENOTDIR;
    else if ((err = ptmSimParentWritable(m, v.abs, 1, NULL, NULL, 0)) == 0)
        err = ptmSimNsSet(m, v.abs, PTM_NS_DIR, NULL, mode & ~ptmProbeUmask() & 07777, NULL);
    ptmSimViewFree(&v);
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
    struct ptmSimView v;
    struct stat st;
    const char *base;
    size_t blen;
    int err;

    if (!path)
        return EFAULT;
    base = ptmSimBaseName(path, &blen);
    if (blen == 1 && base[0] == '.')
        return EINVAL;
    if (blen == 2 && base[0] == '.' && base[1] == '.')
        return ENOTEMPTY;
    if ((err = ptmSimResolve(m, AT_FDCWD, path, 1, &v)) != 0)
        return err;
    switch (v.kind) {
    case PTM_VIEW_GONE: err = ENOENT; break;
    case PTM_VIEW_NOTDIR:
    case PTM_VIEW_FILE: err = ENOTDIR; break;
    case PTM_VIEW_REAL:
        if ((err = ptmProbeLstat(v.real, &st)) != 0)
            break;
        if (!S_ISDIR(st.st_mode)) {
            err = ENOTDIR;
            break;
        }
        /* fall through */
    case PTM_VIEW_DIR:
        if (strcmp(v.abs, "/") == 0)
            err = EBUSY;
        else if ((err = dirEmpty(m, v.abs, v.real)) == 0 &&
                 (err = ptmSimParentWritable(m, v.abs, 0, NULL, NULL, 0)) == 0) {
            ptmSimNsDropUnder(m, v.abs);
            err = ptmSimNsSet(m, v.abs, PTM_NS_GONE, NULL, 0, NULL);
        }
        break;
    }
    ptmSimViewFree(&v);
    return err;
}
