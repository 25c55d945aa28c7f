/*
** test_shims_file.c - the POSIX file family (runtime/shims/file.c, sim.c):
** the overlay (what the mirror wrote it reads back), the namespace overlay
** (unlink, rename, mkdir, rmdir seen by later opens and stats), host
** descriptors never moved, file locks probed and never taken, and faults
** injected through ptmOs.  At the end: the basics (open, write, unlink,
** rename and their feasibility probes) and the probe caches.
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptm_int.h"
#include "shims_test.h"

/* ---------------------------------------------------------------- real */

TestSuite(real, .init = makeDir, .fini = removeDir);

Test(real, the_new_file_shims_are_the_real_calls)
{
    const char *p = at("f");
    struct stat st;
    char buf[16];
    int fd, dfd;

    cr_assert_null(ptmMirrorCurrent);
    fd = ptm_shim_creat(p, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_pwrite(fd, "abcdef", 6, 0), 6);
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_CUR), 0, "pwrite does not move the offset");
    cr_assert_eq(ptm_shim_write(fd, "XY", 2), 2);
    cr_assert_eq(ptm_shim_fsync(fd), 0);
    cr_assert_eq(ptm_shim_fdatasync(fd), 0);
    cr_assert_eq(ptm_shim_ftruncate(fd, 4), 0);
    cr_assert_eq(ptm_shim_fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 4);
    cr_assert_eq(ptm_shim_fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_EX | LOCK_NB), 0);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_UN), 0);
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_str_eq(readFile(p), "XYcd");

    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    fd = ptm_shim_openat(dfd, "f", O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_pread(fd, buf, 2, 2), 2);
    cr_assert_eq(memcmp(buf, "cd", 2), 0);
    cr_assert_eq(ptm_shim_read(fd, buf, 4), 4);
    cr_assert_eq(ptm_shim_close(fd), 0);
    close(dfd);

    cr_assert_eq(ptm_shim_mkdir(at("d"), 0700), 0);
    cr_assert_eq(ptm_shim_stat(at("d"), &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(ptm_shim_lstat(p, &st), 0);
    cr_assert_eq(ptm_shim_access(p, R_OK), 0);
    cr_assert_eq(ptm_shim_rmdir(at("d")), 0);
    cr_assert_neq(access(at("d"), F_OK), 0);
}

Test(real, copy_file_range_is_the_real_call)
{
    const char *src = at("src"), *dst = at("dst");
    loff_t off = 6;
    int in, out;

    writeFile(src, "hello world");
    writeFile(dst, "");
    in = ptm_shim_open(src, O_RDONLY);
    out = ptm_shim_open(dst, O_WRONLY);
    cr_assert_geq(in, 0);
    cr_assert_geq(out, 0);
    cr_assert_eq(ptm_shim_copy_file_range(in, &off, out, NULL, 64, 0), 5);
    cr_assert_eq(off, 11);
    cr_assert_eq(ptm_shim_lseek(out, 0, SEEK_CUR), 5, "the output's offset moved");
    ptm_shim_close(in);
    ptm_shim_close(out);
    cr_assert_str_eq(readFile(dst), "world");
}

/* -------------------------------------------------------------- overlay */

TestSuite(overlay, .init = enterMirror, .fini = leaveMirror);

Test(overlay, what_the_mirror_wrote_it_reads_back)
{
    const char *p = at("data");
    struct fileState before;
    struct stat st;
    char buf[64];
    int w, r;

    writeFile(p, "0123456789");
    fileState(p, &before);
    w = ptm_shim_open(p, O_WRONLY);
    r = ptm_shim_open(p, O_RDONLY);
    cr_assert_geq(w, 0);
    cr_assert_geq(r, 0);
    cr_assert_eq(ptm_shim_lseek(w, 3, SEEK_SET), 3);
    cr_assert_eq(ptm_shim_write(w, "abc", 3), 3);
    /* The read-only descriptor sees it: one file, one overlay. */
    cr_assert_eq(ptm_shim_read(r, buf, sizeof buf), 10);
    cr_assert_eq(memcmp(buf, "012abc6789", 10), 0);
    /* Growing it, across a hole. */
    cr_assert_eq(ptm_shim_pwrite(w, "Z", 1, 14), 1);
    cr_assert_eq(ptm_shim_lseek(w, 0, SEEK_CUR), 6, "pwrite does not move the offset");
    cr_assert_eq(ptm_shim_pread(r, buf, sizeof buf, 0), 15);
    cr_assert_eq(memcmp(buf, "012abc6789\0\0\0\0Z", 15), 0, "a hole reads as zeros");
    cr_assert_eq(ptm_shim_fstat(r, &st), 0);
    cr_assert_eq(st.st_size, 15);
    cr_assert_eq(ptm_shim_stat(p, &st), 0);
    cr_assert_eq(st.st_size, 15, "stat sees the mirror's size too");
    cr_assert_eq(ptm_shim_lseek(r, -2, SEEK_END), 13);
    cr_assert_eq(ptm_shim_read(r, buf, 8), 2);
    cr_assert_eq(ptm_shim_read(r, buf, 8), 0, "end of the file as the mirror sees it");
    /* ftruncate shrinks, then grows with zeros. */
    cr_assert_eq(ptm_shim_ftruncate(w, 4), 0);
    cr_assert_eq(ptm_shim_ftruncate(w, 6), 0);
    cr_assert_eq(ptm_shim_pread(r, buf, sizeof buf, 0), 6);
    cr_assert_eq(memcmp(buf, "012a\0\0", 6), 0);
    cr_assert_eq(ptm_shim_close(w), 0);
    cr_assert_eq(ptm_shim_close(r), 0);
    /* Closing loses nothing: the overlay belongs to the mirror. */
    r = ptm_shim_open(p, O_RDONLY);
    cr_assert_eq(ptm_shim_read(r, buf, sizeof buf), 6);
    cr_assert_eq(memcmp(buf, "012a\0\0", 6), 0);
    assertUnchanged(p, &before);
}

Test(overlay, append_and_trunc)
{
    const char *p = at("log");
    struct fileState before;
    char buf[64];
    int a, t;

    writeFile(p, "one\n");
    fileState(p, &before);
    a = ptm_shim_open(p, O_WRONLY | O_APPEND);
    cr_assert_eq(ptm_shim_lseek(a, 0, SEEK_SET), 0);
    cr_assert_eq(ptm_shim_write(a, "two\n", 4), 4, "O_APPEND writes at the end whatever the offset");
    cr_assert_eq(ptm_shim_write(a, "three\n", 6), 6);
    t = ptm_shim_open(p, O_RDONLY);
    cr_assert_eq(ptm_shim_read(t, buf, sizeof buf), 14);
    cr_assert_eq(memcmp(buf, "one\ntwo\nthree\n", 14), 0);
    ptm_shim_close(t);
    t = ptm_shim_open(p, O_RDWR | O_TRUNC);
    cr_assert_eq(ptm_shim_read(t, buf, sizeof buf), 0, "O_TRUNC empties it for the mirror");
    cr_assert_eq(ptm_shim_write(a, "four\n", 5), 5);
    cr_assert_eq(ptm_shim_pread(t, buf, sizeof buf, 0), 5);
    cr_assert_eq(memcmp(buf, "four\n", 5), 0);
    assertUnchanged(p, &before);
}

Test(overlay, host_descriptors_are_read_privately_and_never_moved)
{
    const char *p = at("host");
    char buf[16];
    int fd, m2;

    writeFile(p, "abcdefghij");
    fd = open(p, O_RDWR);
    cr_assert_eq(lseek(fd, 2, SEEK_SET), 2);
    cr_assert_eq(ptm_shim_read(fd, buf, 3), 3);
    cr_assert_eq(memcmp(buf, "cde", 3), 0, "from the host's offset");
    cr_assert_eq(ptm_shim_read(fd, buf, 2), 2);
    cr_assert_eq(memcmp(buf, "fg", 2), 0, "the mirror's offset advanced");
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 2, "the host's did not");
    cr_assert_eq(ptm_shim_write(fd, "XY", 2), 2);
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_CUR), 9);
    /* The mirror's own open of the file sees its writes through the host's. */
    m2 = ptm_shim_open(p, O_RDONLY);
    cr_assert_eq(ptm_shim_read(m2, buf, 10), 10);
    cr_assert_eq(memcmp(buf, "abcdefgXYj", 10), 0);
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 2);
    cr_assert_str_eq(readFile(p), "abcdefghij");
    /* F_SETFL changes the mirror's view of the flags, not the host's. */
    cr_assert_eq(ptm_shim_fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK), 0);
    cr_assert(ptm_shim_fcntl(fd, F_GETFL) & O_APPEND);
    cr_assert_not(fcntl(fd, F_GETFL) & O_APPEND);
    close(fd);
}

Test(overlay, pipes_and_terminals_of_the_host_are_never_consumed)
{
    int p[2], full[2];
    char buf[8];
    static char block[1 << 16];

    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(write(p[1], "hostdata", 8), 8);
    cr_assert_eq(ptm_shim_read(p[0], buf, sizeof buf), 0, "blocking: an empty read");
    cr_assert_eq(ptm_shim_fcntl(p[0], F_SETFL, O_NONBLOCK), 0, "in the mirror's view only");
    cr_assert_not(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    cr_assert_eq(ptm_shim_read(p[0], buf, sizeof buf), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(lastOf(PTM_CALL_read)->err, EAGAIN);
    cr_assert_eq(ptm_shim_pread(p[0], buf, 1, 0), -1);
    cr_assert_eq(errno, ESPIPE);
    cr_assert_eq(read(p[0], buf, 8), 8, "the host's data is all there");
    cr_assert_eq(memcmp(buf, "hostdata", 8), 0);

    /* A full non-blocking pipe: EAGAIN, predicted with FIONREAD. */
    cr_assert_eq(pipe2(full, O_NONBLOCK), 0);
    while (write(full[1], block, sizeof block) > 0)
        ;
    cr_assert_eq(ptm_shim_write(full[1], "x", 1), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(lastOf(PTM_CALL_write)->err, EAGAIN);
    cr_assert(lastOf(PTM_CALL_write)->flags & PTM_EVF_EFFECT);
    close(p[0]);
    close(p[1]);
    close(full[0]);
    close(full[1]);
}

Test(overlay, reads_merge_into_one_event)
{
    const char *p = at("chars");
    char c;
    int fd, i;

    writeFile(p, "0123456789");
    fd = ptm_shim_open(p, O_RDONLY);
    for (i = 0; i < 10; i++)
        cr_assert_eq(ptm_shim_read(fd, &c, 1), 1);
    cr_assert_eq(ptm_shim_read(fd, &c, 1), 0);
    cr_assert_eq(countOf(PTM_CALL_read), 1, "one event for the run of reads");
    cr_assert_eq(lastOf(PTM_CALL_read)->bytes, 10);
    cr_assert_str_eq(lastOf(PTM_CALL_read)->detail, "x11");
    cr_assert_eq(lastOf(PTM_CALL_read)->result, 0, "the latest result");
    cr_assert_not(lastOf(PTM_CALL_read)->flags & PTM_EVF_EFFECT);
}

/* ------------------------------------------------------------ namespace */

TestSuite(names, .init = enterMirror, .fini = leaveMirror);

Test(names, unlink_then_exclusive_create)
{
    const char *p = at("lock");
    struct fileState before;
    struct stat st;
    int fd;

    writeFile(p, "pid 1\n");
    fileState(p, &before);
    cr_assert_eq(ptm_shim_open(p, O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert_eq(ptm_shim_unlink(p), 0);
    cr_assert_eq(ptm_shim_stat(p, &st), -1, "gone for the mirror");
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_open(p, O_RDONLY), -1);
    cr_assert_eq(errno, ENOENT);
    fd = ptm_shim_open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    cr_assert_geq(fd, 0, "after its unlink, O_EXCL succeeds: %s", strerror(errno));
    cr_assert_eq(ptm_shim_write(fd, "pid 2\n", 6), 6);
    cr_assert_eq(ptm_shim_open(p, O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
    cr_assert_eq(errno, EEXIST, "a second O_EXCL create fails");
    cr_assert_eq(lastOf(PTM_CALL_open)->err, EEXIST);
    cr_assert_eq(ptm_shim_stat(p, &st), 0);
    cr_assert_eq(st.st_size, 6);
    cr_assert(S_ISREG(st.st_mode));
    assertUnchanged(p, &before);
}

Test(names, a_new_file_exists_for_the_mirror_only)
{
    const char *p = at("new");
    struct stat st;
    char buf[8];
    int fd;

    fd = ptm_shim_open(p, O_RDWR | O_CREAT, 0640);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, "hello", 5), 5);
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_eq(ptm_shim_access(p, F_OK), 0);
    cr_assert_eq(access(p, F_OK), -1, "nothing was created");
    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    cr_assert_eq(ptm_shim_fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 5);
    cr_assert_eq(st.st_mode & 0777, 0640 & ~umask(022));
    cr_assert_eq(ptm_shim_unlink(p), 0);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 0, "an open descriptor outlives the unlink");
    cr_assert_eq(ptm_shim_pread(fd, buf, sizeof buf, 0), 5);
}

Test(names, rename_moves_content_in_the_mirror)
{
    const char *a = at("a"), *b = at("b");
    struct fileState sa, sb;
    char buf[16];
    int fd;

    writeFile(a, "content of a");
    writeFile(b, "old b");
    fileState(a, &sa);
    fileState(b, &sb);
    cr_assert_eq(ptm_shim_rename(a, b), 0);
    cr_assert_eq(ptm_shim_open(a, O_RDONLY), -1);
    cr_assert_eq(errno, ENOENT);
    fd = ptm_shim_open(b, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 12);
    cr_assert_eq(memcmp(buf, "content of a", 12), 0, "b names a's content now");
    /* Write through the new name, read through the old content's descriptor. */
    ptm_shim_close(fd);
    fd = ptm_shim_open(b, O_WRONLY | O_APPEND);
    cr_assert_eq(ptm_shim_write(fd, "!", 1), 1);
    cr_assert_eq(ptm_shim_rename(b, a), 0, "and back");
    cr_assert_eq(ptm_shim_stat(b, &(struct stat){0}), -1);
    fd = ptm_shim_open(a, O_RDONLY);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 13);
    cr_assert_eq(memcmp(buf, "content of a!", 13), 0);
    assertUnchanged(a, &sa);
    assertUnchanged(b, &sb);
}

Test(names, directories_in_the_mirror)
{
    const char *d = at("d"), *e = at("e");
    struct stat st;
    char buf[8];
    int fd, before = entries(dir);

    cr_assert_eq(ptm_shim_mkdir(d, 0755), 0);
    cr_assert_eq(ptm_shim_mkdir(d, 0755), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert_eq(ptm_shim_stat(d, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    fd = ptm_shim_open(at("d/f"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0, "a file in a directory the mirror made: %s", strerror(errno));
    cr_assert_eq(ptm_shim_write(fd, "in d", 4), 4);
    ptm_shim_close(fd);
    cr_assert_eq(ptm_shim_rmdir(d), -1);
    cr_assert_eq(errno, ENOTEMPTY);
    cr_assert_eq(ptm_shim_rename(d, e), 0, "a directory moves with its files");
    cr_assert_eq(ptm_shim_stat(at("d/f"), &st), -1);
    cr_assert_eq(errno, ENOENT);
    fd = ptm_shim_open(at("e/f"), O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 4);
    ptm_shim_close(fd);
    cr_assert_eq(ptm_shim_unlink(at("e/f")), 0);
    cr_assert_eq(ptm_shim_rmdir(e), 0, "empty now");
    cr_assert_eq(ptm_shim_stat(e, &st), -1);
    cr_assert_eq(ptm_shim_rmdir(at("nope")), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_mkdir(at("nope/x"), 0755), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(entries(dir), before, "nothing was made for real");
}

Test(names, a_real_directory_renamed_and_emptied)
{
    const char *r = at("real"), *s = at("moved");
    struct stat st;
    char buf[8];
    int fd;

    cr_assert_eq(mkdir(r, 0755), 0);
    writeFile(at("real/x"), "x!");
    cr_assert_eq(ptm_shim_rmdir(r), -1);
    cr_assert_eq(errno, ENOTEMPTY);
    cr_assert_eq(ptm_shim_rename(r, s), 0);
    fd = ptm_shim_open(at("moved/x"), O_RDONLY);
    cr_assert_geq(fd, 0, "the alias reads the real directory");
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 2);
    ptm_shim_close(fd);
    cr_assert_eq(ptm_shim_unlink(at("moved/x")), 0);
    cr_assert_eq(ptm_shim_rmdir(s), 0, "the real entries the mirror removed do not count");
    cr_assert_eq(ptm_shim_rmdir(at(".")), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(stat(at("real/x"), &st), 0, "all still there for real");
    cr_assert_eq(ptm_shim_rmdir(at("real/x")), -1);
    cr_assert_eq(errno, ENOENT);
}

Test(names, openat_resolves_against_its_directory)
{
    int dfd, fd;
    char buf[8];

    cr_assert_eq(mkdir(at("sub"), 0755), 0);
    writeFile(at("sub/in"), "inside");
    dfd = ptm_shim_open(at("sub"), O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
    fd = ptm_shim_openat(dfd, "in", O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 6);
    cr_assert_eq(ptm_shim_unlink(at("sub/in")), 0);
    cr_assert_eq(ptm_shim_openat(dfd, "in", O_RDONLY), -1, "the unlink is seen through dirfd");
    cr_assert_eq(errno, ENOENT);
    fd = ptm_shim_openat(dfd, "in", O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0, "and O_EXCL makes it again: %s", strerror(errno));
    cr_assert_eq(lastOf(PTM_CALL_openat)->err, 0);
    cr_assert_str_eq(lastOf(PTM_CALL_openat)->target, "in");
    cr_assert_str_eq(readFile(at("sub/in")), "inside");
}

/* --------------------------------------------------------------- faults */

TestSuite(faults, .init = enterMirror, .fini = leaveMirror);

Test(faults, enospc_counts_every_file_the_mirror_grew)
{
    static char block[3000];
    int a, b;

    writeFile(at("existing"), "");
    ptmOs.statvfs = fakeStatvfs;
    ptmOs.fstatvfs = fakeFstatvfs;
    freeBlocks = 1;                         /* 4096 bytes */
    a = ptm_shim_open(at("existing"), O_WRONLY);
    b = ptm_shim_open(at("new"), O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(ptm_shim_write(a, block, sizeof block), 3000);
    cr_assert_eq(ptm_shim_write(b, block, 1000), 1000, "4000 of 4096");
    cr_assert_eq(ptm_shim_write(b, block, 200), -1, "the two files share the filesystem");
    cr_assert_eq(errno, ENOSPC);
    cr_assert_eq(lastOf(PTM_CALL_write)->err, ENOSPC);
    cr_assert(lastOf(PTM_CALL_write)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_pwrite(a, block, 100, 0), 100, "overwriting needs no space");
    cr_assert_eq(ptm_shim_ftruncate(a, 1000), 0, "a truncation gives 2000 back");
    cr_assert_eq(ptm_shim_write(b, block, 2000), 2000);
}

/* /dev/full fails every write with ENOSPC (drivers/char/mem.c): opened by
** the mirror, or the host's own descriptor on it; write, pwrite, and the
** stdio that flushes into them.  /dev/null and /dev/zero take everything. */
Test(faults, enospc_from_dev_full)
{
    int fd = ptm_shim_open("/dev/full", O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1);
    cr_assert_eq(errno, ENOSPC);
    cr_assert_eq(lastOf(PTM_CALL_write)->err, ENOSPC);
    cr_assert(lastOf(PTM_CALL_write)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_write(fd, "", 0), -1, "even 0 bytes");
    cr_assert_eq(ptm_shim_pwrite(fd, "x", 1, 0), -1);
    cr_assert_eq(errno, ENOSPC);
    ptm_shim_close(fd);

    int host = open("/dev/full", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(host, 0);
    cr_assert_eq(ptm_shim_write(host, "abc", 3), -1, "the host's descriptor");
    cr_assert_eq(errno, ENOSPC);
    close(host);

    FILE *f = ptm_shim_fopen("/dev/full", "w");
    cr_assert_not_null(f);
    cr_assert_geq(ptm_shim_fputs("line\n", f), 0, "buffered");
    cr_assert_eq(ptm_shim_fflush(f), EOF);
    cr_assert_eq(errno, ENOSPC);
    ptm_shim_fclose(f);

    static const char *const sinks[] = {"/dev/null", "/dev/zero"};
    for (unsigned i = 0; i < 2; i++) {
        fd = ptm_shim_open(sinks[i], O_WRONLY);
        cr_assert_geq(fd, 0);
        cr_assert_eq(ptm_shim_write(fd, "abc", 3), 3, "%s", sinks[i]);
        ptm_shim_close(fd);
    }
}

/* A pipe whose reader is gone: the write would fail with EPIPE (and the
** SIGPIPE it raises kills, by default); a pipe with a reader takes it. */
Test(faults, epipe_when_the_reader_is_gone)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(ptm_shim_write(p[1], "x", 1), 1, "a reader is there");
    close(p[0]);
    cr_assert_eq(ptm_shim_write(p[1], "x", 1), -1);
    cr_assert_eq(errno, EPIPE);
    cr_assert_eq(lastOf(PTM_CALL_write)->err, EPIPE);
    cr_assert(lastOf(PTM_CALL_write)->flags & PTM_EVF_EFFECT);
    close(p[1]);
}

Test(faults, erofs_and_eacces)
{
    writeFile(at("f"), "x");
    ptmOs.statvfs = fakeStatvfs;
    freeBlocks = 100;
    readOnlyFs = 1;
    cr_assert_eq(ptm_shim_mkdir(at("d"), 0755), -1);
    cr_assert_eq(errno, EROFS);
    cr_assert_eq(ptm_shim_rmdir(at("nothing")), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_creat(at("c"), 0644), -1);
    cr_assert_eq(errno, EROFS);
    cr_assert_eq(lastOf(PTM_CALL_creat)->err, EROFS);
    cr_assert(lastOf(PTM_CALL_creat)->flags & PTM_EVF_EFFECT);
    readOnlyFs = 0;
}

static char denied[192];

static int denyingAccess(const char *path, int mode)
{
    if ((mode & W_OK) && strcmp(path, denied) == 0) {
        errno = EACCES;
        return -1;
    }
    return access(path, mode);
}

Test(faults, eacces_from_access)
{
    cr_assert_eq(mkdir(at("ro"), 0755), 0);
    writeFile(at("ro/f"), "x");
    snprintf(denied, sizeof denied, "%s", at("ro"));
    ptmOs.access = denyingAccess;
    cr_assert_eq(ptm_shim_mkdir(at("ro/sub"), 0755), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_eq(ptm_shim_rmdir(at("ro")), -1, "rmdir needs the parent writable, not ro");
    cr_assert_eq(errno, ENOTEMPTY);
    cr_assert_eq(ptm_shim_rename(at("ro/f"), at("g")), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_eq(ptm_shim_access(at("ro"), W_OK), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_eq(lastOf(PTM_CALL_access)->err, EACCES);
    cr_assert_not(lastOf(PTM_CALL_access)->flags & PTM_EVF_EFFECT);
}

/* RLIMIT_FSIZE of 100 bytes. */
static int smallFsize(int resource, struct rlimit *rl)
{
    if (getrlimit(resource, rl) != 0)
        return -1;
    if (resource == RLIMIT_FSIZE)
        rl->rlim_cur = 100;
    return 0;
}

Test(faults, efbig_for_writes_and_truncations)
{
    int fd;

    ptmOs.getrlimit = smallFsize;
    fd = ptm_shim_open(at("big"), O_RDWR | O_CREAT, 0644);
    cr_assert_eq(ptm_shim_pwrite(fd, "x", 1, 100), -1);
    cr_assert_eq(errno, EFBIG);
    cr_assert_eq(ptm_shim_ftruncate(fd, 101), -1);
    cr_assert_eq(errno, EFBIG);
    cr_assert_eq(ptm_shim_ftruncate(fd, 100), 0);
    signal(SIGXFSZ, SIG_DFL);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), 1);
    cr_assert_eq(ptm_shim_lseek(fd, 0, SEEK_END), 100);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1);
    cr_assert_str_eq(lastOf(PTM_CALL_write)->detail, "SIGXFSZ kills",
                     "the primary would die of SIGXFSZ, not see EFBIG");
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1);
    cr_assert_str_eq(lastOf(PTM_CALL_write)->detail, "");
}

/* pread interrupted by signals: a read-only call, retried. */
static int interrupts;

static ssize_t eintrPread(int fd, void *buf, size_t n, off_t off)
{
    if (interrupts > 0) {
        interrupts--;
        errno = EINTR;
        return -1;
    }
    return pread(fd, buf, n, off);
}

static int eintrGetdents;

static long eintrGetdentsCall(int fd, void *buf, size_t n)
{
    if (eintrGetdents > 0) {
        eintrGetdents--;
        errno = EINTR;
        return -1;
    }
    return syscall(SYS_getdents64, fd, buf, n);
}

Test(faults, eintr_in_read_only_calls_is_retried)
{
    char buf[8];
    int fd;

    writeFile(at("f"), "abcdef");
    cr_assert_eq(mkdir(at("d"), 0755), 0);
    writeFile(at("d/x"), "");
    fd = open(at("f"), O_RDONLY);
    ptmOs.pread = eintrPread;
    ptmOs.getdents = eintrGetdentsCall;
    interrupts = 3;
    cr_assert_eq(ptm_shim_read(fd, buf, 6), 6, "a host descriptor is read with pread");
    cr_assert_eq(interrupts, 0);
    cr_assert_eq(memcmp(buf, "abcdef", 6), 0);
    eintrGetdents = 2;
    cr_assert_eq(ptm_shim_rmdir(at("d")), -1);
    cr_assert_eq(errno, ENOTEMPTY);
    cr_assert_eq(eintrGetdents, 0);
    close(fd);
}

/* A pipe that looks full: FIONREAD says it holds F_GETPIPE_SZ bytes. */
static int fullPipe(int fd, unsigned long req, int *out)
{
    (void)fd;
    if (req != FIONREAD) {
        errno = EINVAL;
        return -1;
    }
    *out = 65536;
    return 0;
}

Test(faults, eagain_injected_for_a_non_blocking_pipe)
{
    int p[2];

    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    ptmOs.ioctl_int = fullPipe;
    cr_assert_eq(ptm_shim_write(p[1], "x", 1), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(lastOf(PTM_CALL_write)->err, EAGAIN);
    cr_assert_str_eq(ptmErrnoClass(lastOf(PTM_CALL_write)->err), "contention");
    ptmOsReset();
    cr_assert_eq(ptm_shim_write(p[1], "x", 1), 1, "the real pipe has room");
    cr_assert_eq(read(p[0], &(char){0}, 1), -1, "and got nothing");
    cr_assert_eq(errno, EAGAIN);
    close(p[0]);
    close(p[1]);
}

/* ---------------------------------------------------------------- locks */

TestSuite(locks, .init = enterMirror, .fini = leaveMirror);

/* A child process that holds a write lock (fcntl, or flock) on path until
** killed.  Returns its pid once the lock is held. */
static pid_t lockHolder(const char *path, int useFlock)
{
    int ready[2];
    char c;
    pid_t pid;

    cr_assert_eq(pipe(ready), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int fd = open(path, O_RDWR);
        if (fd < 0 || (useFlock ? flock(fd, LOCK_EX) : fcntl(fd, F_SETLK, &fl)) != 0)
            _exit(1);
        if (write(ready[1], "k", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child took the lock");
    close(ready[0]);
    return pid;
}

static void stopHolder(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

Test(locks, a_lock_another_process_holds_is_contention)
{
    const char *p = at("db");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    struct ptmEvent *e;
    pid_t holder;
    int fd;

    writeFile(p, "data");
    holder = lockHolder(p, 0);
    fd = ptm_shim_open(p, O_RDWR);
    cr_assert_eq(ptm_shim_fcntl(fd, F_SETLK, &fl), -1);
    cr_assert_eq(errno, EAGAIN);
    e = lastOf(PTM_CALL_fcntl);
    cr_assert_eq(e->err, EAGAIN);
    cr_assert(e->flags & PTM_EVF_EFFECT, "contention counts");
    char want[64];
    snprintf(want, sizeof want, "F_SETLK held by pid %d", (int)holder);
    cr_assert_str_eq(e->detail, want);
    /* F_SETLKW would wait, then have it: 0, with the contention recorded. */
    cr_assert_eq(ptm_shim_fcntl(fd, F_SETLKW, &fl), 0);
    cr_assert_eq(lastOf(PTM_CALL_fcntl)->err, EAGAIN);
    cr_assert_eq(lastOf(PTM_CALL_fcntl)->result, 0);
    /* A read lock elsewhere in the file does not conflict with nothing held. */
    stopHolder(holder);
    cr_assert_eq(ptm_shim_fcntl(fd, F_SETLK, &fl), 0);
    cr_assert_eq(lastOf(PTM_CALL_fcntl)->err, 0);
    /* Nothing was taken: another process can lock it. */
    holder = lockHolder(p, 0);
    stopHolder(holder);
}

Test(locks, the_primary_s_own_process_lock_is_no_conflict)
{
    const char *p = at("own");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int host, fd;

    writeFile(p, "data");
    host = open(p, O_RDWR);
    cr_assert_eq(fcntl(host, F_SETLK, &fl), 0, "the host process holds a lock");
    fd = ptm_shim_open(p, O_RDWR);
    cr_assert_eq(ptm_shim_fcntl(fd, F_SETLK, &fl), 0, "its own process lock: no conflict");
    fl.l_pid = 0;
    cr_assert_eq(ptm_shim_fcntl(fd, F_OFD_SETLK, &fl), -1, "an OFD lock conflicts with it");
    cr_assert_eq(errno, EAGAIN);
    close(host);
}

Test(locks, closing_the_mirrors_descriptors_keeps_the_hosts_locks)
{
    const char *p = at("held");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int host, fd, answer[2];
    char seen = 0;
    pid_t child;
    FILE *f;

    writeFile(p, "data");
    host = open(p, O_RDWR);
    cr_assert_eq(fcntl(host, F_SETLK, &fl), 0);
    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_not_null(f = ptm_shim_fopen(p, "r"));
    cr_assert_eq(ptm_shim_fclose(f), 0);
    ptmMirrorLeave(&mirror);
    /* POSIX would drop the host's lock at the close of any descriptor on
    ** the file; the mirror's were parked instead.  Another process sees it
    ** (and says so through a pipe: under valgrind its exit code is not its
    ** own). */
    cr_assert_eq(pipe(answer), 0);
    child = fork();
    if (child == 0) {
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int c = open(p, O_RDWR);
        char r = c < 0 ? 'o' : fcntl(c, F_GETLK, &q) != 0 ? 'g' : q.l_type == F_WRLCK ? 'L' : 'u';
        _exit(write(answer[1], &r, 1) == 1 ? 0 : 1);
    }
    close(answer[1]);
    cr_assert_eq(read(answer[0], &seen, 1), 1);
    waitpid(child, NULL, 0);
    cr_assert_eq(seen, 'L', "the host's lock survived (the child saw '%c')", seen);
    close(host);
}

Test(locks, flock_contention_and_nothing_taken)
{
    const char *p = at("fl");
    pid_t holder;
    int fd, other;

    /* Every probe reads (no reuse of a table read before the holder took
    ** its lock: what reuse misses is test_sim_locks.c's), waiting seconds if
    ** need be on a loaded machine. */
    ptmFlockProbeSet(0, 0, 5000000000ull, 5000000000ull, 60000000000ull);
    writeFile(p, "x");
    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_EX | LOCK_NB), 0, "free");
    other = open(p, O_RDONLY);
    cr_assert_eq(flock(other, LOCK_EX | LOCK_NB), 0, "the mirror took nothing");
    flock(other, LOCK_UN);
    close(other);
    holder = lockHolder(p, 1);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_SH | LOCK_NB), -1);
    cr_assert_eq(errno, EWOULDBLOCK);
    cr_assert_eq(lastOf(PTM_CALL_flock)->err, EWOULDBLOCK);
    cr_assert(lastOf(PTM_CALL_flock)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_flock(fd, LOCK_EX), 0, "blocking: it would wait, then have it");
    cr_assert_eq(lastOf(PTM_CALL_flock)->err, EWOULDBLOCK);
    cr_assert_eq(ptm_shim_flock(fd, 99), -1);
    cr_assert_eq(errno, EINVAL);
    stopHolder(holder);
}

Test(locks, the_host_descriptors_own_flock_is_a_conversion)
{
    const char *p = at("mine");
    int host;

    writeFile(p, "x");
    host = open(p, O_RDONLY);
    cr_assert_eq(flock(host, LOCK_SH), 0);
    cr_assert_eq(ptm_shim_flock(host, LOCK_EX | LOCK_NB), 0, "its own lock: no conflict");
    cr_assert_eq(lastOf(PTM_CALL_flock)->err, 0);
    close(host);
}

/* ------------------------------------------------- real (basics) */

Test(real, file_shims_are_the_real_calls)
{
    const char *p = at("a.txt"), *q = at("b.txt");
    mode_t old = umask(022);
    struct stat st;
    int fd;

    cr_assert_null(ptmMirrorCurrent);
    fd = ptm_shim_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, "hello\n", 6), 6);
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_str_eq(readFile(p), "hello\n");
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "the mode is open's third argument");
    umask(old);
    cr_assert_eq(ptm_shim_rename(p, q), 0);
    cr_assert_neq(access(p, F_OK), 0);
    cr_assert_str_eq(readFile(q), "hello\n");
    cr_assert_eq(ptm_shim_unlink(q), 0);
    cr_assert_neq(access(q, F_OK), 0);
    cr_assert_eq(ptm_shim_close(fd), -1);
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(ptm_shim_open(at("missing/x"), O_RDONLY), -1);
    cr_assert_eq(errno, ENOENT);
}

/* -------------------------------------------------------------- mirror */

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, reads_pass_through)
{
    const char *p = at("in.txt");
    char line[64], buf[64];
    FILE *f;
    int fd;

    writeFile(p, "first\nsecond\n");
    f = ptm_shim_fopen(p, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "first\n");
    cr_assert_eq(ptm_shim_fputs("no", f), EOF, "a read-only FILE cannot be written");
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(ptm_shim_fclose(f), 0);

    /* r+: the real bytes are readable, writes are simulated. */
    f = ptm_shim_fopen(p, "r+");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "first\n");
    cr_assert_eq(ptm_shim_fprintf(f, "XXXXXX"), 6);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_str_eq(readFile(p), "first\nsecond\n");

    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(read(fd, buf, 5), 5);
    cr_assert_eq(memcmp(buf, "first", 5), 0);
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_eq(fcntl(fd, F_GETFD), -1, "the mirror's own read-only fd is really closed");

    /* A write-intent open of an existing file reads the real data too, and
    ** what the mirror wrote over it: the r+ FILE's "XXXXXX" above. */
    fd = ptm_shim_open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_read(fd, buf, 6), 6);
    cr_assert_eq(memcmp(buf, "first\n", 6), 0);
    cr_assert_eq(ptm_shim_write(fd, "zz", 2), 2, "written at offset 6, after the read");
    cr_assert_eq(ptm_shim_read(fd, buf, 6), 5, "the offset follows the simulated write");
    cr_assert_eq(memcmp(buf, "XXXX\n", 5), 0);
    cr_assert_eq(ptm_shim_pread(fd, buf, 13, 0), 13);
    cr_assert_eq(memcmp(buf, "first\nzzXXXX\n", 13), 0, "read back: the overlay over the file");
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_str_eq(readFile(p), "first\nsecond\n");
}

Test(mirror, reading_leaves_no_atime_trace)
{
    const char *p = at("old.txt");
    struct timespec times[2];
    struct stat before, after;
    char line[32];
    FILE *f;

    writeFile(p, "old news\n");
    /* An atime older than mtime: any read would update it (relatime). */
    cr_assert_eq(stat(p, &before), 0);
    times[0] = (struct timespec){before.st_mtim.tv_sec - 86400 * 2, 0};
    times[1] = before.st_mtim;
    cr_assert_eq(utimensat(AT_FDCWD, p, times, 0), 0);
    cr_assert_eq(stat(p, &before), 0);

    f = ptm_shim_fopen(p, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "old news\n");
    ptm_shim_fclose(f);
    cr_assert_eq(stat(p, &after), 0);
    cr_assert_eq(after.st_atim.tv_sec, before.st_atim.tv_sec, "O_NOATIME: atime kept");
}

Test(mirror, open_for_write_is_simulated)
{
    const char *p = at("w.txt"), *n = at("created.txt");
    struct ptmEvent *e;
    struct stat st;
    int fd;

    writeFile(p, "keep me");
    fd = ptm_shim_open(p, O_WRONLY | O_TRUNC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY, "the real fd is harmless");
    cr_assert_eq(ptm_shim_write(fd, "0123456789", 10), 10);
    e = lastOf(PTM_CALL_write);
    cr_assert_eq(e->bytes, 10);
    cr_assert_eq(e->result, 10);
    cr_assert_str_eq(e->target, p);
    cr_assert_eq(fstat(fd, &st), 0, "fstat works on the simulated fd");
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_str_eq(readFile(p), "keep me");

    fd = ptm_shim_open(n, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    e = lastOf(PTM_CALL_open);
    cr_assert_str_eq(e->detail, "O_WRONLY|O_CREAT|O_EXCL 0600");
    cr_assert_eq(e->result, fd);
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_neq(access(n, F_OK), 0);
    cr_assert_eq(ptm_shim_close(fd), -1, "closed twice");
    cr_assert_eq(errno, EBADF);
}

Test(mirror, excl_on_existing_is_eexist)
{
    const char *p = at("x.txt");
    struct ptmEvent *e;

    writeFile(p, "x");
    cr_assert_eq(ptm_shim_open(p, O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
    cr_assert_eq(errno, EEXIST);
    e = lastOf(PTM_CALL_open);
    cr_assert_eq(e->err, EEXIST);
    cr_assert(e->flags & PTM_EVF_EFFECT);
    cr_assert_eq(e->result, -1);
    cr_assert_str_eq(e->target, p);
    cr_assert_null(ptm_shim_fopen(p, "wx"));
    cr_assert_eq(errno, EEXIST);
    cr_assert_eq(lastOf(PTM_CALL_fopen)->err, EEXIST);
    cr_assert_eq(lastOf(PTM_CALL_fopen)->result, -1);
}

Test(mirror, missing_paths)
{
    cr_assert_eq(ptm_shim_open(at("nope"), O_WRONLY), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_open(at("nodir/f"), O_WRONLY | O_CREAT, 0644), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_null(ptm_shim_fopen(at("nodir/f"), "a"));
    cr_assert_eq(errno, ENOENT);
    cr_assert_null(ptm_shim_fopen(at("nope"), "r"));
    cr_assert_eq(errno, ENOENT);
    cr_assert_not(lastOf(PTM_CALL_fopen)->flags & PTM_EVF_EFFECT, "a read has none");
    cr_assert_eq(ptm_shim_open(at("nope"), O_RDONLY), -1);
    cr_assert_not(lastOf(PTM_CALL_open)->flags & PTM_EVF_EFFECT);
    cr_assert_null(ptm_shim_fopen(at("nope"), "r+"));
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_open(dir, O_WRONLY), -1);
    cr_assert_eq(errno, EISDIR);
    cr_assert_null(ptm_shim_fopen(at("nope"), "q"));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(ptm_shim_fopen(at("nope"), NULL));
    cr_assert_eq(errno, EINVAL);
}

Test(mirror, unwritable_directory_is_eacces)
{
    cr_assert_eq(mkdir(at("ro"), 0555), 0);
    snprintf(denied, sizeof denied, "%s", at("ro"));
    ptmOs.access = denyingAccess;
    cr_assert_eq(ptm_shim_open(at("ro/new"), O_WRONLY | O_CREAT, 0644), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_eq(lastOf(PTM_CALL_open)->err, EACCES);
    cr_assert_null(ptm_shim_fopen(at("ro/new"), "w"));
    cr_assert_eq(errno, EACCES);
    cr_assert_eq(access(at("ro/new"), F_OK), -1);
}

Test(mirror, unwritable_file_is_eacces)
{
    writeFile(at("locked"), "x");
    snprintf(denied, sizeof denied, "%s", at("locked"));
    ptmOs.access = denyingAccess;
    cr_assert_eq(ptm_shim_open(at("locked"), O_WRONLY), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_null(ptm_shim_fopen(at("locked"), "a"));
    cr_assert_eq(errno, EACCES);
    /* Reading it is still fine. */
    FILE *f = ptm_shim_fopen(at("locked"), "r");
    cr_assert_not_null(f);
    ptm_shim_fclose(f);
}

Test(mirror, enospc_from_statvfs)
{
    const char *p = at("big.bin");
    static char block[8192];
    struct ptmEvent *e;
    FILE *f;
    int fd;

    ptmOs.statvfs = fakeStatvfs;
    ptmOs.fstatvfs = fakeFstatvfs;
    freeBlocks = 1;
    fd = ptm_shim_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, block, 4000), 4000, "4000 bytes fit in one block");
    cr_assert_eq(ptm_shim_write(fd, block, 200), -1, "4200 do not");
    cr_assert_eq(errno, ENOSPC);
    e = lastOf(PTM_CALL_write);
    cr_assert_eq(e->err, ENOSPC);
    cr_assert(e->flags & PTM_EVF_EFFECT);
    cr_assert_eq(e->result, -1);
    cr_assert_eq(e->bytes, 0);
    ptm_shim_close(fd);

    /* stdio: the buffered bytes fail at the flush, as they would. */
    freeBlocks = 0;
    f = ptm_shim_fopen(p, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fprintf(f, "%s", "no room"), 7);
    cr_assert_eq(ptm_shim_fclose(f), EOF);
    cr_assert_eq(errno, ENOSPC);
    e = lastOf(PTM_CALL_fclose);
    cr_assert_eq(e->err, ENOSPC);
    cr_assert_neq(access(p, F_OK), 0);
}

Test(mirror, enospc_on_a_host_descriptor)
{
    int fd = open(at("host.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    static char block[8192];

    cr_assert_geq(fd, 0);
    ptmOs.fstatvfs = fakeFstatvfs;
    freeBlocks = 1;
    cr_assert_eq(ptm_shim_write(fd, block, 4096), 4096);
    cr_assert_eq(ptm_shim_write(fd, block, 1), -1);
    cr_assert_eq(errno, ENOSPC);
    char want[32];
    struct stat st;
    snprintf(want, sizeof want, "fd %d", fd);
    cr_assert_str_eq(lastOf(PTM_CALL_write)->target, want);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 0, "nothing reached the host's file");
    /* close is simulated: the host's descriptor stays open. */
    cr_assert_eq(ptm_shim_close(fd), 0);
    cr_assert_neq(fcntl(fd, F_GETFD), -1);
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1, "closed in the mirror's view");
    cr_assert_eq(errno, EBADF);
    close(fd);
}

Test(mirror, erofs_from_statvfs)
{
    writeFile(at("f"), "x");
    ptmOs.statvfs = fakeStatvfs;
    freeBlocks = 100;
    readOnlyFs = 1;
    cr_assert_eq(ptm_shim_open(at("f"), O_RDWR), -1);
    cr_assert_eq(errno, EROFS);
    cr_assert_eq(ptm_shim_open(at("g"), O_RDWR | O_CREAT, 0644), -1);
    cr_assert_eq(errno, EROFS);
    cr_assert_eq(ptm_shim_unlink(at("f")), -1);
    cr_assert_eq(errno, EROFS);
    readOnlyFs = 0;
}

Test(mirror, efbig_from_rlimit_fsize)
{
    static char block[256];
    FILE *f;
    int fd;

    ptmOs.getrlimit = smallFsize;
    fd = ptm_shim_open(at("limited"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 60);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 40, "the kernel writes up to the limit");
    cr_assert_eq(ptm_shim_write(fd, block, 1), -1, "then fails at it");
    cr_assert_eq(errno, EFBIG);
    cr_assert_eq(lastOf(PTM_CALL_write)->err, EFBIG);
    ptm_shim_close(fd);

    f = ptm_shim_fopen(at("limited"), "w");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fwrite(block, 1, 200, f), 200); /* buffered */
    cr_assert_eq(ptm_shim_fclose(f), EOF);
    cr_assert_eq(errno, EFBIG);
}

Test(mirror, ebadf)
{
    int fd = open(at("ro.txt"), O_RDONLY | O_CREAT, 0644);

    cr_assert_eq(ptm_shim_write(9999, "x", 1), -1);
    cr_assert_eq(errno, EBADF);
    cr_assert_str_eq(lastOf(PTM_CALL_write)->target, "fd 9999");
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1, "a read-only host fd");
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(ptm_shim_close(9999), -1);
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(ptm_shim_fputs("x", NULL), EOF);
    cr_assert_eq(errno, EBADF);
    close(fd);
}

static int eintrStat(const char *path, struct stat *st)
{
    if (interrupts > 0) {
        interrupts--;
        errno = EINTR;
        return -1;
    }
    return stat(path, st);
}

static int eintrAccess(const char *path, int mode)
{
    if (interrupts > 0) {
        interrupts--;
        errno = EINTR;
        return -1;
    }
    return access(path, mode);
}

static int eintrGetfl(int fd)
{
    if (interrupts > 0) {
        interrupts--;
        errno = EINTR;
        return -1;
    }
    return fcntl(fd, F_GETFL);
}

Test(mirror, read_only_probes_retry_on_eintr)
{
    int fd;

    writeFile(at("e"), "x");
    ptmOs.stat = eintrStat;
    ptmOs.access = eintrAccess;
    ptmOs.fcntl_getfl = eintrGetfl;
    interrupts = 3;
    cr_assert_eq(ptm_shim_open(at("e"), O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
    cr_assert_eq(errno, EEXIST, "EINTR was retried, not reported");
    cr_assert_eq(interrupts, 0);
    ptmOsReset();
    ptmOs.access = eintrAccess;
    ptmOs.fcntl_getfl = eintrGetfl;
    interrupts = 2;
    fd = ptm_shim_open(at("e"), O_WRONLY);
    cr_assert_geq(fd, 0, "EINTR from access was retried");
    cr_assert_eq(interrupts, 0);
    ptm_shim_close(fd);
    interrupts = 2;
    cr_assert_eq(ptm_shim_write(STDERR_FILENO, "", 0), 0);
    cr_assert_eq(interrupts, 0);
}

Test(mirror, unlink_feasibility)
{
    const char *p = at("victim");

    writeFile(p, "alive");
    cr_assert_eq(ptm_shim_unlink(p), 0);
    cr_assert_str_eq(readFile(p), "alive", "simulated: the file is still there");
    cr_assert_eq(lastOf(PTM_CALL_unlink)->result, 0);
    cr_assert_str_eq(lastOf(PTM_CALL_unlink)->target, p);
    cr_assert_eq(ptm_shim_unlink(at("ghost")), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(lastOf(PTM_CALL_unlink)->err, ENOENT);
    cr_assert_eq(ptm_shim_unlink(dir), -1);
    cr_assert_eq(errno, EISDIR);
    cr_assert_eq(ptm_shim_unlink(p), -1, "gone in the mirror's view");
    cr_assert_eq(errno, ENOENT);
    writeFile(at("other"), "alive");
    snprintf(denied, sizeof denied, "%s", dir);
    ptmOs.access = denyingAccess;
    cr_assert_eq(ptm_shim_unlink(at("other")), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_str_eq(readFile(p), "alive");
    /* A dangling symlink can be unlinked: lstat, not stat. */
    cr_assert_eq(symlink(at("nowhere"), at("dangling")), 0);
    ptmOsReset();
    cr_assert_eq(ptm_shim_unlink(at("dangling")), 0);
}

/* Fault injection: the directory `otherFs` is on another filesystem. */
static char otherFs[192];

static int otherDevStat(const char *path, struct stat *st)
{
    if (stat(path, st) != 0)
        return -1;
    if (strcmp(path, otherFs) == 0)
        st->st_dev += 1;
    return 0;
}

Test(mirror, rename_feasibility)
{
    const char *a = at("a"), *b = at("b");

    writeFile(a, "A");
    cr_assert_eq(ptm_shim_rename(a, b), 0);
    cr_assert_str_eq(readFile(a), "A");
    cr_assert_neq(access(b, F_OK), 0, "simulated: nothing moved");
    cr_assert_str_eq(lastOf(PTM_CALL_rename)->target, a);
    cr_assert_str_eq(lastOf(PTM_CALL_rename)->detail, b);

    cr_assert_eq(ptm_shim_rename(at("ghost"), b), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_rename(a, at("nodir/b")), -1);
    cr_assert_eq(errno, ENOENT);
    /* In the mirror's view a is gone now, and b holds its content. */
    cr_assert_eq(ptm_shim_access(a, F_OK), -1);
    cr_assert_eq(errno, ENOENT);
    a = b;
    cr_assert_eq(mkdir(at("sub"), 0755), 0);
    cr_assert_eq(ptm_shim_rename(a, at("sub")), -1);
    cr_assert_eq(errno, EISDIR);

    cr_assert_eq(mkdir(at("mnt"), 0755), 0);
    snprintf(otherFs, sizeof otherFs, "%s", at("mnt"));
    ptmOs.stat = otherDevStat;
    cr_assert_eq(ptm_shim_rename(a, at("mnt/a")), -1);
    cr_assert_eq(errno, EXDEV, "errno %s", strerror(errno));
    cr_assert_eq(lastOf(PTM_CALL_rename)->err, EXDEV);
    ptmOsReset();

    snprintf(denied, sizeof denied, "%s", at("sub"));
    ptmOs.access = denyingAccess;
    cr_assert_eq(ptm_shim_rename(a, at("sub/a")), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_str_eq(readFile(at("a")), "A");
}

/*
** Probe caches: what the file shims keep between calls, and what
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

static int countingSmallFsize(int resource, struct rlimit *rl)
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
    ptmOs.getrlimit = countingSmallFsize;
    fd = ptm_shim_open(at("limited"), O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 60);
    cr_assert_eq(ptm_shim_write(fd, block, 60), 40);
    cr_assert_eq(ptm_shim_write(fd, block, 1), -1);
    cr_assert_eq(errno, EFBIG);
    cr_assert_eq(nGetrlimit, 2);
    ptm_shim_close(fd);
}

/* The real limit (ptmOs's own getrlimit, not a stand-in) and a host FILE
** that the host itself fills up to it between two mirrors, as Lua's
** f:write does: each mirror reads both again.  The host ignores SIGXFSZ,
** should a write of its own pass the limit. */
Test(cache, the_real_rlimit_fsize_and_a_host_stream_grown_to_it_between_mirrors)
{
    static char block[1000];
    struct rlimit was, low, seen;
    FILE *fp = fopen(at("grown"), "w");

    cr_assert_not_null(fp);
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
    low = was;
    low.rlim_cur = sizeof block;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &low), 0);
    cr_assert_eq(ptmOs.getrlimit(RLIMIT_FSIZE, &seen), 0);
    cr_assert(seen.rlim_cur == low.rlim_cur && seen.rlim_max == low.rlim_max);
    cr_assert_eq(ptm_shim_fwrite(block, 1, 100, fp), 100, "below the limit");

    nextMirror();
    cr_assert_eq(fwrite(block, 1, sizeof block, fp), sizeof block);
    cr_assert_eq(fflush(fp), 0, "the host writes up to the limit");
    errno = 0;
    cr_assert_eq(ptm_shim_fwrite(block, 1, 1, fp), 0, "the file is at the limit now");
    cr_assert_eq(errno, EFBIG);

    nextMirror();
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
    cr_assert_eq(ptm_shim_fwrite(block, 1, 1, fp), 1, "the limit is raised again");
    cr_assert_eq(fclose(fp), 0);
    cr_assert_eq(ptmOs.getrlimit(RLIMIT_NOFILE, &seen), 0);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &low), 0);
    cr_assert(seen.rlim_cur == low.rlim_cur && seen.rlim_max == low.rlim_max);
}

#ifdef SYS_getrlimit
/* Under a host's seccomp filter that kills the process on getrlimit(2)
** (one made from what the plain program calls: glibc's getrlimit is
** prlimit64), ptmOs's getrlimit reads the limit and the process lives. */
Test(cache, getrlimit_under_a_host_filter_that_kills_on_getrlimit2)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrlimit, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    pid_t child = fork();
    int st;

    cr_assert_geq(child, 0);
    if (child == 0) {
        struct rlimit want, seen;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
            _exit(2);
        if (getrlimit(RLIMIT_NOFILE, &want) != 0 || ptmOs.getrlimit(RLIMIT_NOFILE, &seen) != 0)
            _exit(4);
        _exit(seen.rlim_cur == want.rlim_cur && seen.rlim_max == want.rlim_max ? 0 : 5);
    }
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFEXITED(st), "status %#x", st);
    cr_assert_eq(WEXITSTATUS(st), 0);
}
#endif

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

/* ------------------------------------------------------- copy_file_range */

TestSuite(copy, .init = enterMirror, .fini = leaveMirror);

Test(copy, copy_file_range_writes_the_overlay_only)
{
    const char *src = at("src"), *dst = at("dst");
    struct fileState before;
    struct ptmEvent *ev;
    loff_t oi = 2, oo = 4;
    char buf[64];
    int in, out, r;

    writeFile(src, "0123456789");
    writeFile(dst, "abcdefghij");
    fileState(dst, &before);
    in = ptm_shim_open(src, O_RDONLY);
    out = ptm_shim_open(dst, O_WRONLY);
    r = ptm_shim_open(dst, O_RDONLY);
    cr_assert_eq(ptm_shim_copy_file_range(in, &oi, out, &oo, 3, 0), 3);
    cr_assert_eq(oi, 5, "*off_in advanced");
    cr_assert_eq(oo, 7, "*off_out advanced");
    cr_assert_eq(ptm_shim_pread(r, buf, sizeof buf, 0), 10);
    cr_assert_eq(memcmp(buf, "abcd234hij", 10), 0, "the mirror reads back what it copied");
    ev = lastOf(PTM_CALL_copy_file_range);
    cr_assert_eq(ev->result, 3);
    cr_assert_eq(ev->bytes, 3);
    cr_assert_eq(ev->err, 0);
    cr_assert(ev->flags & PTM_EVF_EFFECT, "a copy is an effect the primary must make");
    cr_assert_str_eq(ev->target, dst);
    cr_assert_str_eq(ptmCallName(PTM_CALL_copy_file_range), "copy_file_range");

    /* Without offsets: the descriptors' offsets in the mirror, up to the
    ** end of the input as the mirror sees it. */
    cr_assert_eq(ptm_shim_lseek(in, 8, SEEK_SET), 8);
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, out, NULL, 100, 0), 2);
    cr_assert_eq(ptm_shim_lseek(in, 0, SEEK_CUR), 10);
    cr_assert_eq(ptm_shim_lseek(out, 0, SEEK_CUR), 2);
    cr_assert_eq(ptm_shim_pread(r, buf, sizeof buf, 0), 10);
    cr_assert_eq(memcmp(buf, "89cd234hij", 10), 0);
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, out, NULL, 100, 0), 0, "end of the input");
    assertUnchanged(dst, &before);
    cr_assert_eq(countOf(PTM_CALL_copy_file_range), 3);
}

Test(copy, copy_file_range_predicts_its_errors)
{
    const char *src = at("src"), *dst = at("dst");
    struct fileState before;
    int in, ro, app, rw;

    writeFile(src, "data");
    writeFile(dst, "x");
    fileState(dst, &before);
    in = ptm_shim_open(src, O_RDONLY);
    ro = ptm_shim_open(dst, O_RDONLY);
    app = ptm_shim_open(dst, O_WRONLY | O_APPEND);
    rw = ptm_shim_open(dst, O_RDWR);
    errno = 0;
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, rw, NULL, 4, 1), -1);
    cr_assert_eq(errno, EINVAL, "flags must be 0");
    cr_assert_eq(lastOf(PTM_CALL_copy_file_range)->err, EINVAL);
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, ro, NULL, 4, 0), -1);
    cr_assert_eq(errno, EBADF, "the output is not open for writing");
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, app, NULL, 4, 0), -1);
    cr_assert_eq(errno, EBADF, "an O_APPEND output");
    cr_assert_eq(ptm_shim_copy_file_range(app, NULL, rw, NULL, 4, 0), -1);
    cr_assert_eq(errno, EBADF, "the input is not open for reading");
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, 999, NULL, 4, 0), -1);
    cr_assert_eq(errno, EBADF, "not open");
    cr_assert_eq(ptm_shim_copy_file_range(in, NULL, rw, NULL, 4, 0), 4);
    assertUnchanged(dst, &before);
}
