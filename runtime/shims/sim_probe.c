/*
** shims/sim_probe.c - the real system as the simulated world sees it: read-only
** probes, each retried on EINTR, and the one close a mirror makes for real
** (ptmSimCloseFd), which must not drop the host's fcntl locks.
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

/* ptmProbeStatvfs: statvfs(2) of path.  OUT: *st.  0 or an errno. */
int ptmProbeStatvfs(const char *path, struct statvfs *st)
{
    while (ptmOs.statvfs(path, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* ptmProbeFstatvfs: fstatvfs(2) of fd.  OUT: *st.  0 or an errno. */
int ptmProbeFstatvfs(int fd, struct statvfs *st)
{
    while (ptmOs.fstatvfs(fd, st) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* In a fork child, the flags of the host's descriptor: the child reopened
** a file open for writing read-only (struct ptmMirror.host_flags). */
int ptmProbeGetfl(int fd, int *flags)
{
    while ((*flags = ptmOs.fcntl_getfl(fd)) < 0)
        if (errno != EINTR)
            return errno;
    if (ptmMirrorCurrent && ptmMirrorCurrent->host_flags)
        *flags = ptmMirrorCurrent->host_flags(fd, *flags);
    return 0;
}

/* A real open (read-only: the callers never pass write intent).  OUT: *fd.
** 0 or an errno. */
int ptmProbeOpen(const char *path, int flags, mode_t mode, int *fd)
{
    while ((*fd = ptmOs.open(path, flags, mode)) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* A read-only open that, where the kernel lets us (owner or root), does not
** update the file's access time either.  OUT: *fd.  0 or an errno. */
int ptmProbeOpenQuiet(const char *path, int flags, mode_t mode, int *fd)
{
    int err = ptmProbeOpen(path, flags | O_NOATIME, mode, fd);
    if (err == EPERM)
        err = ptmProbeOpen(path, flags, mode, fd);
    return err;
}

/* ptmProbeDevNull: /dev/null opened read-only (with flags' O_CLOEXEC), the
** harmless descriptor of a simulated open.  OUT: *fd.  0 or an errno. */
int ptmProbeDevNull(int flags, int *fd)
{
    return ptmProbeOpen("/dev/null", O_RDONLY | O_NOCTTY | (flags & O_CLOEXEC), 0, fd);
}

/* pread that retries EINTR.  -1 with *err, or the count. */
ssize_t ptmProbePread(int fd, void *buf, size_t n, off_t off, int *err)
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
int ptmProbeReadOnlyFs(const char *path)
{
    struct statvfs vfs;
    if (ptmProbeStatvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        return EROFS;
    return 0;
}

/* The process's umask, read from /proc (umask(2) would set it). */
mode_t ptmProbeUmask(void)
{
    char buf[2048];
    const char *p;
    ssize_t n;
    int fd;

    if (ptmProbeOpen("/proc/self/status", O_RDONLY | O_CLOEXEC, 0, &fd) != 0)
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

    if (ptmProbeFstat(fd, &st) != 0 ||
        ptmProbeOpen("/proc/locks", O_RDONLY | O_CLOEXEC, 0, &lfd) != 0)
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
** ptmSimCloseParked: the end of mirror m: the descriptors parked so far
** are closed when this process no longer holds fcntl locks on their files
** (not in a fork child, whose descriptors die with it).
*/
void ptmSimCloseParked(struct ptmMirror *m)
{
    if (!m->in_child && parked.n > 0)
        sweepParked(ptmOsPid());
}
