/*
** shims/sqlite_fds.c - the SQLite overlay's private read-only descriptors:
** one per file (device and inode), in a process-wide table, opened once
** and closed only when that drops no lock (ptmSqlPinSet): closing any
** descriptor of a file drops every POSIX lock the process holds on it,
** the host's included.  The overlays (sqlite_vfs.c) and the primary's
** busy wait (sqlite_busy.c) pin the entries they use.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_int.h"

struct privFd {
    dev_t dev;
    ino_t ino;
    int fd;
    unsigned refs;                  /* overlays (any thread) and busy waits using it */
    char *path;                     /* where it was opened (NULL: no memory) */
};
static struct privFd *privFds;
static size_t nPrivFds, capPrivFds;
static pthread_mutex_t privMu = PTHREAD_MUTEX_INITIALIZER;

/* privAtforkChild: a child of the host's fork() inherits the table but
** maybe a locked mutex. */
static void privAtforkChild(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    privMu = fresh;
}

/* Registered before main: a handler registered by a thread while another
** forks is not run for that fork (glibc runs only those its prepare step
** saw). */
__attribute__((constructor)) static void privAtforkInit(void)
{
    (void)pthread_atfork(NULL, NULL, privAtforkChild);
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

/* ptmSqlPrivateFd: see sqlite_int.h. */
int ptmSqlPrivateFd(const char *path, struct stat *st)
{
    int fd = -1;
    size_t i;

    if (ptmOs.stat(path, st) != 0)
        return -1;
    privLock();
    for (i = 0; i < nPrivFds; i++)
        if (privFds[i].dev == st->st_dev && privFds[i].ino == st->st_ino) {
            /* The program may have closed the number (a daemon closes all
            ** but 0-2) and got it again for a file of its own: reading
            ** that as the database would mislead the mirror.  Such an
            ** entry no longer names the file; the number is the host's,
            ** so it is forgotten, never closed. */
            struct stat now;
            if (ptmOs.fstat(privFds[i].fd, &now) == 0 && now.st_dev == st->st_dev &&
                now.st_ino == st->st_ino) {
                fd = privFds[i].fd;
                break;
            }
            privFds[i].fd = -1; /* swept later: close(-1) does nothing */
            privFds[i].dev = 0;
            privFds[i].ino = 0;
        }
    if (fd < 0) {
        fd = ptmOs.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
        if (fd >= 0 && ptmOs.fstat(fd, st) != 0)
            memset(st, 0, sizeof *st); /* kept all the same (ptmSqlPinSet may close it) */
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
            privFds[nPrivFds++] = (struct privFd){st->st_dev, st->st_ino, fd, 0, strdup(path)};
    }
    privUnlock();
    return fd;
}

/* ---------------------------------------------------------------------
** Closing a private descriptor, when that drops no lock.
**
** Each overlay pins the entries its files read through (o->pinned in
** sqlite_vfs.c, moved when a file is rebased to a new inode, released when the overlay
** is freed or abandoned); a primary's busy wait pins the -shm it probes.
** An entry no one pins is closed only when its file is no longer at its
** path (deleted, or replaced by another inode: no new open reaches it)
** and no other descriptor of the process is open on that inode
** (/proc/self/fd): a process that has no descriptor of a file holds no
** POSIX lock on it, so the close drops nothing.  The fork executor's child
** never closes one (its table is a copy; it changes nothing).
*/
/* otherFdOpenOn: whether a descriptor of the process other than except is
** open on dev/ino; 1 also when /proc cannot tell. */
static int otherFdOpenOn(dev_t dev, ino_t ino, int except)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = 0;

    if (!d)
        return 1;
    while (!found && (e = readdir(d)) != NULL) {
        char path[64];
        struct stat st;
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (*end || e->d_name[0] == '.' || n == except || n == dirfd(d))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%ld", n);
        found = stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
    }
    closedir(d);
    return found;
}

/* sweepLocked: closes entry i when it may (above); under privLock.
** Whether it was closed (entry i is then another one). */
static int sweepLocked(size_t i)
{
    struct privFd *p = &privFds[i];
    struct stat st;

    if (p->refs || !p->path)
        return 0;
    if (ptmOs.stat(p->path, &st) == 0 && st.st_dev == p->dev && st.st_ino == p->ino)
        return 0; /* still the file at its path: the host may open and lock it */
    if (otherFdOpenOn(p->dev, p->ino, p->fd))
        return 0;
    ptmOs.close(p->fd);
    free(p->path);
    privFds[i] = privFds[--nPrivFds];
    return 1;
}

/* ptmSqlPinSet: see sqlite_int.h. */
void ptmSqlPinSet(int was[PTM_SQL_PINS], const int now[PTM_SQL_PINS])
{
    size_t i;
    int k;

    if (ptmMirrorCurrent && ptmMirrorCurrent->in_child)
        return;
    if (memcmp(was, now, sizeof(int) * PTM_SQL_PINS) == 0)
        return;
    pthread_mutex_lock(&privMu);
    for (i = 0; i < nPrivFds; i++)
        for (k = 0; k < PTM_SQL_PINS; k++) {
            if (now[k] >= 0 && privFds[i].fd == now[k])
                privFds[i].refs++;
            if (was[k] >= 0 && privFds[i].fd == was[k] && privFds[i].refs)
                privFds[i].refs--;
        }
    for (i = 0; i < nPrivFds;)
        if (!privFds[i].refs && !sweepLocked(i))
            i++;
        else if (privFds[i].refs)
            i++;
    pthread_mutex_unlock(&privMu);
    memcpy(was, now, sizeof(int) * PTM_SQL_PINS);
}

/* ptmSqlWalLockFd: see sqlite_int.h.  The descriptor is pinned until
** ptmSqlWalLockPut. */
int ptmSqlWalLockFd(const char *path)
{
    char shm[PATH_MAX + 8];
    struct stat st;
    int was[PTM_SQL_PINS] = {-1, -1, -1, -1}, now[PTM_SQL_PINS] = {-1, -1, -1, -1};

    if (!path || !*path || snprintf(shm, sizeof shm, "%s-shm", path) >= (int)sizeof shm)
        return -1;
    now[0] = ptmSqlPrivateFd(shm, &st);
    ptmSqlPinSet(was, now);
    return now[0];
}

/* ptmSqlWalLockPut: see sqlite_int.h. */
void ptmSqlWalLockPut(int fd)
{
    int was[PTM_SQL_PINS] = {fd, -1, -1, -1};
    static const int none[PTM_SQL_PINS] = {-1, -1, -1, -1};
    if (fd >= 0)
        ptmSqlPinSet(was, none);
}

/* ptmSqlPrivateFds: see sqlite_int.h. */
size_t ptmSqlPrivateFds(void)
{
    size_t n;
    pthread_mutex_lock(&privMu);
    n = nPrivFds;
    pthread_mutex_unlock(&privMu);
    return n;
}

