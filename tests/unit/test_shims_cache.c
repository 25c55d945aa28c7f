/*
** test_shims_cache.c - what the file shims keep between calls, and what
** they must not: the probes a write makes through ptmOs (counted here by
** pass-through replacements), and that no fact outlives what could change
** it.
**
**   - A borrowed (host) descriptor: F_GETFL and fstat once per mirror,
**     never carried over to the next mirror; its offset (lseek) only when
**     needed, and its path (readlink) only when its real bytes are read.
**   - Free space: one statvfs serves the process's mirrors for a short
**     time, but only for writes far from the limit; near it, and for every
**     ENOSPC, a fresh one.
**   - RLIMIT_FSIZE: once per mirror.
**   - The pid: once per process, forgotten in a fork child.
*/
#include "shims_test.h"

#include <sys/resource.h>
#include <sys/wait.h>

/* ------------------------------------------------------ counting probes */

static int nFstatvfs, nStatvfs, nGetrlimit, nGetfl, nFstat, nLseek, nReadlink, nGetpid;
static unsigned long long availBytes; /* 0: the real figure */

static void scaleVfs(struct statvfs *st)
{
    if (availBytes) {
        st->f_frsize = 4096;
        st->f_bavail = (fsblkcnt_t)(availBytes / 4096);
    }
}

static int countStatvfs(const char *path, struct statvfs *st)
{
    nStatvfs++;
    if (statvfs(path, st) != 0)
        return -1;
    scaleVfs(st);
    return 0;
}

static int countFstatvfs(int fd, struct statvfs *st)
{
    nFstatvfs++;
    if (fstatvfs(fd, st) != 0)
        return -1;
    scaleVfs(st);
    return 0;
}

static int countGetrlimit(int resource, struct rlimit *rl)
{
    nGetrlimit += resource == RLIMIT_FSIZE;
    return getrlimit(resource, rl);
}

static int countGetfl(int fd)
{
    nGetfl++;
    return fcntl(fd, F_GETFL);
}

static int countFstat(int fd, struct stat *st)
{
    nFstat++;
    return fstat(fd, st);
}

static off_t countLseek(int fd, off_t off, int whence)
{
    nLseek++;
    return lseek(fd, off, whence);
}

static ssize_t countReadlink(const char *path, char *buf, size_t n)
{
    nReadlink++;
    return readlink(path, buf, n);
}

static pid_t countGetpid(void)
{
    nGetpid++;
    return getpid();
}

static void countAll(void)
{
    ptmOs.statvfs = countStatvfs;
    ptmOs.fstatvfs = countFstatvfs;
    ptmOs.getrlimit = countGetrlimit;
    ptmOs.fcntl_getfl = countGetfl;
    ptmOs.fstat = countFstat;
    ptmOs.lseek = countLseek;
    ptmOs.readlink = countReadlink;
}

static void zeroCounts(void)
{
    nFstatvfs = nStatvfs = nGetrlimit = nGetfl = nFstat = nLseek = nReadlink = nGetpid = 0;
}

/* Ends the test's mirror and starts another on the same ring. */
static void nextMirror(void)
{
    ptmMirrorLeave(&mirror);
    ptmRingReset(ring);
    ptmMirrorEnter(&mirror, ring);
}

TestSuite(cache, .init = enterMirror, .fini = leaveMirror);

/* ------------------------------------------------------ host descriptors */

Test(cache, an_append_to_a_host_descriptor_probes_little)
{
    int fd = open(at("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    countAll();
    zeroCounts();
    cr_assert_eq(ptm_shim_write(fd, "entry 1\n", 8), 8);
    cr_assert_eq(nGetfl, 1);
    cr_assert_eq(nFstat, 1, "one fstat: the borrow's serves the overlay too");
    cr_assert_eq(nLseek, 0, "an O_APPEND write needs no offset");
    cr_assert_eq(nReadlink, 0, "nothing read the real bytes: no path needed");
    cr_assert_eq(nGetrlimit, 1);
    cr_assert_eq(nFstatvfs + nStatvfs, 1);

    cr_assert_eq(ptm_shim_write(fd, "entry 2\n", 8), 8);
    cr_assert_eq(nGetfl, 1, "the entry is kept for the mirror");
    cr_assert_eq(nFstat, 1);
    cr_assert_eq(nGetrlimit, 1, "RLIMIT_FSIZE once per mirror");
    cr_assert_eq(nFstatvfs + nStatvfs, 1, "a second write makes no second statvfs");
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_CUR), 26, "appends moved the offset to the end");
    cr_assert_eq(nLseek, 0);
    close(fd);
    cr_assert_str_eq(readFile(at("log")), "0123456789", "nothing reached the file");
}

Test(cache, a_host_descriptor_is_named_by_its_number)
{
    cr_assert_eq(ptm_shim_write(-1, "x", 1), -1);
    cr_assert_str_eq(lastOf(PTM_CALL_write)->target, "fd -1");
    ptm_shim_fsync(0);                      /* whatever stdin is here */
    cr_assert_str_eq(lastOf(PTM_CALL_fsync)->target, "fd 0");
    cr_assert_eq(ptm_shim_write(2147483647, "x", 1), -1);
    cr_assert_str_eq(lastOf(PTM_CALL_write)->target, "fd 2147483647");
}

Test(cache, the_host_offset_is_read_when_needed)
{
    int fd = open(at("data"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    cr_assert_eq(lseek(fd, 4, SEEK_SET), 4);
    countAll();
    zeroCounts();
    cr_assert_eq(ptm_shim_write(fd, "ab", 2), 2);
    cr_assert_eq(nLseek, 1, "a write at the offset asks where the host's is");
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_CUR), 6);
    cr_assert_eq(nLseek, 1, "once");
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 4, "the host's offset did not move");
    close(fd);
}

Test(cache, the_path_of_a_write_only_descriptor_is_learnt_when_read_through)
{
    int fd = open(at("wo"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[32] = "";
    int rfd;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    countAll();
    zeroCounts();
    cr_assert_eq(ptm_shim_write(fd, "ab", 2), 2);
    cr_assert_eq(nReadlink, 0);
    /* The mirror reads the file back by its path: the real bytes under
    ** what it wrote, read through the path of the write-only descriptor. */
    rfd = ptm_shim_open(at("wo"), O_RDONLY);
    cr_assert_geq(rfd, 0);
    cr_assert_eq(ptm_shim_read(rfd, buf, sizeof buf - 1), 10);
    cr_assert_str_eq(buf, "ab23456789");
    cr_assert_leq(nReadlink, 1);
    ptm_shim_close(rfd);
    close(fd);
}

Test(cache, a_path_that_names_another_file_now_is_not_believed)
{
    int fd = open(at("a"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    struct stat a, seen;

    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &a), 0);
    cr_assert_eq(ptm_shim_write(fd, "xyz", 3), 3);
    cr_assert_eq(ptm_shim_fstat(fd, &seen), 0);
    cr_assert_eq(seen.st_ino, a.st_ino);
    /* Someone renames another file over a's path while the mirror runs. */
    writeFile(at("b"), "another");
    cr_assert_eq(rename(at("b"), at("a")), 0);
    cr_assert_eq(ptm_shim_fstat(fd, &seen), 0);
    cr_assert_eq(seen.st_ino, a.st_ino, "still the file the descriptor is on");
    cr_assert_eq(seen.st_size, 3);
    close(fd);
}

Test(cache, a_descriptor_reopened_between_mirrors_is_asked_again)
{
    int fd = open(at("first"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int other;
    struct stat seen, want;

    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), 1);

    /* Between two mirrors the host closes it and opens another file, read
    ** only, on the same number. */
    nextMirror();
    writeFile(at("second"), "0123456789");
    other = open(at("second"), O_RDONLY);
    cr_assert_geq(other, 0);
    cr_assert_eq(dup2(other, fd), fd);
    close(other);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1, "the descriptor is read-only now");
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(ptm_shim_fstat(fd, &seen), 0);
    cr_assert_eq(stat(at("second"), &want), 0);
    cr_assert_eq(seen.st_ino, want.st_ino);
    cr_assert_eq(seen.st_size, 10);

    /* The same file again, writable, and its flags changed by F_SETFL
    ** between two mirrors: the second one appends, at the end. */
    nextMirror();
    close(fd);
    cr_assert_eq(open(at("second"), O_WRONLY), fd);
    cr_assert_eq(ptm_shim_write(fd, "ab", 2), 2);
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_CUR), 2, "not O_APPEND: at the offset");
    nextMirror();
    cr_assert_eq(fcntl(fd, F_SETFL, O_APPEND), 0);
    cr_assert_eq(ptm_shim_write(fd, "ab", 2), 2);
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_CUR), 12, "O_APPEND now: at the end");
    close(fd);
    cr_assert_str_eq(readFile(at("second")), "0123456789");
}

/* A fake fstatvfs: the real answer, with 4 KiB free on the filesystem of
** smallDev only. */
static dev_t smallDev;

static int smallOnOneFs(int fd, struct statvfs *st)
{
    struct stat fs;
    if (fstatvfs(fd, st) != 0 || fstat(fd, &fs) != 0)
        return -1;
    if (fs.st_dev == smallDev) {
        st->f_frsize = 4096;
        st->f_bavail = 1;
    }
    return 0;
}

Test(cache, free_space_is_per_filesystem)
{
    static char block[8192];
    char shm[64];
    struct stat a, b;
    int fd = open(at("big"), O_WRONLY | O_CREAT | O_APPEND, 0644), other;

    snprintf(shm, sizeof shm, "/dev/shm/ptm-cache-%d", (int)getpid());
    other = open(shm, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (other < 0 || fstat(other, &b) != 0 || fstat(fd, &a) != 0 || a.st_dev == b.st_dev) {
        if (other >= 0)
            close(other);
        unlink(shm);
        close(fd);
        cr_skip_test("no second filesystem at /dev/shm");
    }
    smallDev = b.st_dev;
    ptmOs.fstatvfs = smallOnOneFs;
    cr_assert_eq(ptm_shim_write(fd, block, sizeof block), (ssize_t)sizeof block);

    /* The next mirror writes through the same number, now on the small
    ** filesystem: its figure is not the first one's. */
    nextMirror();
    cr_assert_eq(dup2(other, fd), fd);
    close(other);
    cr_assert_eq(ptm_shim_write(fd, block, sizeof block), -1);
    cr_assert_eq(errno, ENOSPC);
    close(fd);
    unlink(shm);
}

/* ------------------------------------------------------------ free space */

Test(cache, free_space_serves_the_next_mirrors_for_a_while)
{
    int fd = open(at("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    uint64_t t0;

    cr_assert_geq(fd, 0);
    countAll();
    availBytes = (unsigned long long)1 << 40;  /* 1 TiB */
    zeroCounts();
    t0 = ptmOsNowNs();
    cr_assert_eq(ptm_shim_write(fd, "x", 1), 1);
    nextMirror();
    cr_assert_eq(ptm_shim_write(fd, "x", 1), 1);
    if (ptmOsNowNs() - t0 < PTM_SIM_VFS_TTL_NS)
        cr_assert_eq(nFstatvfs + nStatvfs, 1, "one statvfs for both mirrors");
    cr_assert_eq(nGetrlimit, 2, "RLIMIT_FSIZE is asked again in the next mirror");
    close(fd);
}

Test(cache, near_the_limit_every_write_asks_again)
{
    static char block[8000];
    int fd = open(at("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

    cr_assert_geq(fd, 0);
    countAll();
    availBytes = PTM_SIM_VFS_MARGIN + 12288;
    zeroCounts();
    cr_assert_eq(ptm_shim_write(fd, block, sizeof block), (ssize_t)sizeof block);
    cr_assert_eq(nFstatvfs, 1);
    cr_assert_eq(ptm_shim_write(fd, block, sizeof block), (ssize_t)sizeof block,
                 "16000 bytes fit in the margin and 12288 more");
    cr_assert_eq(nFstatvfs, 2, "within the margin: asked again");
    availBytes = 4096;                      /* the disk fills up meanwhile */
    nextMirror();
    cr_assert_eq(ptm_shim_write(fd, block, sizeof block), -1);
    cr_assert_eq(errno, ENOSPC, "the cached figure did not hide it");
    cr_assert_eq(nFstatvfs, 3);
    cr_assert_eq(ptm_shim_write(fd, block, sizeof block), -1);
    cr_assert_eq(nFstatvfs, 4, "an ENOSPC is never cached");
    close(fd);
}

Test(cache, a_replaced_statvfs_is_never_answered_from_the_real_one)
{
    int fd = open(at("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), 1, "the real figure, cached");
    ptmOs.statvfs = fakeStatvfs;
    ptmOs.fstatvfs = fakeFstatvfs;
    freeBlocks = 0;
    nextMirror();
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1);
    cr_assert_eq(errno, ENOSPC);
    close(fd);
}

/* --------------------------------------------------------- RLIMIT_FSIZE */

static int smallFsize(int resource, struct rlimit *rl)
{
    nGetrlimit += resource == RLIMIT_FSIZE;
    if (getrlimit(resource, rl) != 0)
        return -1;
    if (resource == RLIMIT_FSIZE)
        rl->rlim_cur = 100;
    return 0;
}

Test(cache, rlimit_fsize_once_per_mirror_and_asked_again_by_the_next)
{
    static char block[256];
    int fd = ptm_shim_open(at("limited"), O_WRONLY | O_CREAT, 0644);

    cr_assert_geq(fd, 0);
    ptmOs.getrlimit = countGetrlimit;
    zeroCounts();
    cr_assert_eq(ptm_shim_write(fd, block, 60), 60);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 60);
    cr_assert_eq(ptm_shim_ftruncate(fd, 10), 0);
    cr_assert_eq(nGetrlimit, 1);
    ptm_shim_close(fd);

    /* The limit drops between two mirrors: the next one sees it. */
    nextMirror();
    ptmOs.getrlimit = smallFsize;
    fd = ptm_shim_open(at("limited"), O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 60);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 40);
    cr_assert_eq(ptm_shim_write(fd, block, 1), -1);
    cr_assert_eq(errno, EFBIG);
    cr_assert_eq(nGetrlimit, 2);
    ptm_shim_close(fd);
}

/* ------------------------------------------------------------------ pid */

Test(cache, the_pid_is_asked_once_and_again_in_a_fork_child)
{
    pid_t child;
    int st;

    cr_assert_eq(ptmOsPid(), getpid());
    cr_assert_eq(ptmOsPid(), getpid());
    child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(ptmOsPid() == getpid() ? 0 : 1);
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw its own pid");
    cr_assert_eq(ptmOsPid(), getpid());

    ptmOs.getpid = countGetpid;
    ptmOsPid();
    ptmOsPid();
    cr_assert_eq(nGetpid, 2, "a replaced getpid is called every time");
    ptmOsReset();
}
