/*
** shims_test.h - what the shim tests (test_shims_*.c, test_mirror.c)
** share: a scratch directory, a fake mirror on the test's thread (a ring,
** ptmMirrorEnter), file helpers and event lookups.  Each test runs in its
** own process (Criterion), so the statics here are per test.
**
** Tests run as root, which bypasses permission bits, so EACCES, EROFS,
** ENOSPC, EFBIG and EINTR are injected through ptmOs.
*/
#ifndef SHIMS_TEST_H
#define SHIMS_TEST_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "shims/shims_int.h"

static char dir[64];
static struct ptmRing *ring;
static struct ptmMirror mirror;

/* dir/name, in one of 64 static buffers used in turn: enough for a test. */
static inline const char *at(const char *name)
{
    static char bufs[64][192];
    static unsigned next;
    char *b = bufs[next++ % 64];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static inline void writeFile(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* The file's whole content, in a static buffer ("" when missing). */
static inline const char *readFile(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* What a file is: its bytes (compared whole, which a hash would only
** stand for), size, mtime and ctime.  missing: it does not exist. */
struct fileState {
    int missing;
    off_t size;
    struct timespec mtime, ctime;
    char bytes[8192];
};

static inline void fileState(const char *path, struct fileState *s)
{
    struct stat st;
    memset(s, 0, sizeof *s);
    if (stat(path, &st) != 0) {
        s->missing = 1;
        return;
    }
    s->size = st.st_size;
    s->mtime = st.st_mtim;
    s->ctime = st.st_ctim;
    snprintf(s->bytes, sizeof s->bytes, "%s", readFile(path));
}

static inline void assertUnchanged(const char *path, const struct fileState *before)
{
    struct fileState now;
    fileState(path, &now);
    cr_assert_eq(now.missing, before->missing, "%s: existence changed", path);
    cr_assert_eq(now.size, before->size, "%s: size changed", path);
    cr_assert_str_eq(now.bytes, before->bytes, "%s: content changed", path);
    cr_assert_eq(now.mtime.tv_sec, before->mtime.tv_sec, "%s: mtime changed", path);
    cr_assert_eq(now.mtime.tv_nsec, before->mtime.tv_nsec, "%s: mtime changed", path);
    cr_assert_eq(now.ctime.tv_nsec, before->ctime.tv_nsec, "%s: ctime changed", path);
}

/* entries: how many names directory path holds, "." and ".." included
** (0 when it cannot be read). */
static inline int entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

static inline void makeDir(void)
{
    snprintf(dir, sizeof dir, "/tmp/ptm-shims-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static inline void removeDir(void)
{
    char cmd[128];
    ptmOsReset();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

static inline void enterMirror(void)
{
    makeDir();
    cr_assert_eq(ptmRingCreate(256, &ring), PTM_OK);
    ptmMirrorEnter(&mirror, ring);
}

static inline void leaveMirror(void)
{
    if (ptmMirrorCurrent)
        ptmMirrorLeave(&mirror);
    ptmRingDestroy(ring);
    removeDir();
}

/* The i-th event, and the last event of a call. */
static inline struct ptmEvent *event(unsigned i)
{
    cr_assert_lt(i, ptmRingCount(ring), "no event %u (%u recorded)", i, ptmRingCount(ring));
    return &ring->ev[i];
}

static inline struct ptmEvent *lastOf(enum ptmCall call)
{
    unsigned i = ptmRingCount(ring);
    while (i-- > 0)
        if (ring->ev[i].kind == PTM_EV_CALL && ring->ev[i].call == call)
            return &ring->ev[i];
    cr_assert_fail("no %s event", ptmCallName(call));
    return NULL;
}

static inline unsigned countOf(enum ptmCall call)
{
    unsigned i, n = 0;
    for (i = 0; i < ptmRingCount(ring); i++)
        n += ring->ev[i].kind == PTM_EV_CALL && ring->ev[i].call == call;
    return n;
}

/* Fault injection through ptmOs.statvfs/fstatvfs: the real answer, with
** freeBlocks blocks of 4 KiB free, and read-only when readOnlyFs is set. */
static unsigned long freeBlocks;
static int readOnlyFs;

static inline void fakeVfs(struct statvfs *st)
{
    st->f_frsize = 4096;
    st->f_bsize = 4096;
    st->f_bavail = freeBlocks;
    st->f_bfree = freeBlocks;
    if (readOnlyFs)
        st->f_flag |= ST_RDONLY;
}

static inline int fakeStatvfs(const char *path, struct statvfs *st)
{
    if (statvfs(path, st) != 0)
        return -1;
    fakeVfs(st);
    return 0;
}

static inline int fakeFstatvfs(int fd, struct statvfs *st)
{
    if (fstatvfs(fd, st) != 0)
        return -1;
    fakeVfs(st);
    return 0;
}

#endif /* SHIMS_TEST_H */
