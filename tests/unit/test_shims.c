/*
** test_shims.c - the file, stdio and validate shims (runtime/shims/).
**
** "real": outside a mirror every shim is the real call.
** "mirror": inside a fake mirror context (ptmMirrorCurrent set on this
** thread, no fork) every shim records, predicts and writes nothing.
** Tests run as root, which bypasses permission bits, so EACCES, EROFS,
** ENOSPC and EFBIG are injected through ptmOs, as tests of other failure
** paths are.
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ptm_int.h"
#include "shims_test.h"

/* ---------------------------------------------------------------- real */

TestSuite(real, .init = makeDir, .fini = removeDir);

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

Test(real, stdio_shims_are_the_real_calls)
{
    const char *p = at("s.txt");
    FILE *f = ptm_shim_fopen(p, "w");

    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fprintf(f, "n=%d;", 42), 5);
    cr_assert_geq(ptm_shim_fputs("abc", f), 0);
    cr_assert_eq(ptm_shim_fputc('!', f), '!');
    cr_assert_eq(ptm_shim_fwrite("xyz", 1, 3, f), 3);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_str_eq(readFile(p), "n=42;abc!xyz");
    f = ptm_shim_fopen(p, "a");
    cr_assert_not_null(f);
    ptm_shim_fputs("+", f);
    ptm_shim_fclose(f);
    cr_assert_str_eq(readFile(p), "n=42;abc!xyz+");
}

Test(real, printf_and_puts_write_stdout, .init = cr_redirect_stdout)
{
    cr_assert_eq(ptm_shim_printf("%s-%d\n", "out", 7), 6);
    cr_assert_geq(ptm_shim_puts("line"), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("out-7\nline\n");
}

Test(real, validate_returns_cond_and_records_nothing)
{
    struct ptmRing *r;
    cr_assert_eq(ptmRingCreate(8, &r), PTM_OK);
    cr_assert_eq(ptm_shim_validate(0, "bad %d", 1), 0);
    cr_assert_eq(ptm_shim_validate(7, "fine"), 7);
    cr_assert_eq(ptmRingCount(r), 0);
    ptmRingDestroy(r);
}

/* -------------------------------------------------------------- mirror */

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, fopen_append_fprintf_fclose_changes_nothing)
{
    const char *p = at("log.txt");
    struct stat before, after;
    struct ptmEvent *e;
    FILE *f;

    writeFile(p, "line 1\n");
    cr_assert_eq(stat(p, &before), 0);
    usleep(20000); /* a write would move mtime visibly */

    f = ptm_shim_fopen(p, "a");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fprintf(f, "line %d\n", 2), 7);
    cr_assert_geq(ptm_shim_fputs("tail\n", f), 0);
    cr_assert_eq(ptm_shim_fputc('x', f), 'x');
    cr_assert_eq(ptm_shim_fwrite("abcd", 2, 2, f), 2);
    fflush(f); /* not shimmed, and still harmless: the FILE is simulated */
    cr_assert_eq(ptm_shim_fclose(f), 0);

    cr_assert_eq(stat(p, &after), 0);
    cr_assert_str_eq(readFile(p), "line 1\n");
    cr_assert_eq(after.st_size, before.st_size);
    cr_assert_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

    cr_assert_eq(ptmRingCount(ring), 6);
    e = event(0);
    cr_assert_eq(e->kind, PTM_EV_CALL);
    cr_assert_eq(e->call, PTM_CALL_fopen);
    cr_assert_str_eq(e->target, p);
    cr_assert_str_eq(e->detail, "a");
    cr_assert_eq(e->err, 0);
    cr_assert(e->flags & PTM_EVF_EFFECT, "an append open has an effect");
    e = lastOf(PTM_CALL_fprintf);
    cr_assert_eq(e->bytes, 7);
    cr_assert_eq(e->result, 7);
    cr_assert_str_eq(e->target, p);
    cr_assert_eq(lastOf(PTM_CALL_fputs)->bytes, 5);
    cr_assert_eq(lastOf(PTM_CALL_fputc)->bytes, 1);
    cr_assert_eq(lastOf(PTM_CALL_fwrite)->bytes, 4);
    e = lastOf(PTM_CALL_fclose);
    cr_assert_eq(e->result, 0);
    cr_assert_eq(e->err, 0);
    cr_assert_geq(event(5)->t_ns, event(0)->t_ns, "events are stamped in order");
    cr_assert_null(ptmSimWorldOf(&mirror)->files, "fclose released the simulated file");
}

Test(mirror, fopen_w_truncates_nothing_and_creates_nothing)
{
    const char *p = at("data.txt"), *q = at("new.txt");
    FILE *f;

    writeFile(p, "precious");
    f = ptm_shim_fopen(p, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fprintf(f, "overwritten"), 11);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_str_eq(readFile(p), "precious");

    f = ptm_shim_fopen(q, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_neq(access(q, F_OK), 0, "a simulated fopen(\"w\") creates no file");
}

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

/* Fault injection: access() says EACCES for one path (root ignores mode
** bits, so chmod could not show it). */
static char denied[192];

static int denyingAccess(const char *path, int mode)
{
    if ((mode & W_OK) && strcmp(path, denied) == 0) {
        errno = EACCES;
        return -1;
    }
    return access(path, mode);
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

/* Fault injection: RLIMIT_FSIZE of 100 bytes. */
static int smallFsize(int resource, struct rlimit *rl)
{
    if (getrlimit(resource, rl) != 0)
        return -1;
    if (resource == RLIMIT_FSIZE)
        rl->rlim_cur = 100;
    return 0;
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

/* Fault injection: stat, access and fcntl interrupted by signals. */
static int interrupts;

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

Test(mirror, validate_records_the_message)
{
    struct ptmEvent *e;

    cr_assert_eq(ptm_shim_validate(1, "never %s", "formatted"), 1);
    cr_assert_eq(ptmRingCount(ring), 0);
    cr_assert_eq(ptm_shim_validate(0, "balance %ld below %d", -5L, 0), 0);
    cr_assert_eq(ptmRingCount(ring), 1);
    e = event(0);
    cr_assert_eq(e->kind, PTM_EV_VALIDATE);
    cr_assert_eq(e->call, PTM_CALL_ptm_validate);
    cr_assert_str_eq(e->target, "balance -5 below 0");
    cr_assert_str_eq(ptmCallName(e->call), "ptm_validate");

    char longMsg[400];
    memset(longMsg, 'm', sizeof longMsg - 1);
    longMsg[sizeof longMsg - 1] = '\0';
    ptm_shim_validate(0, "%s", longMsg);
    e = event(1);
    cr_assert_eq(strlen(e->target), PTM_TARGET_MAX - 1);
    cr_assert_str_eq(e->target + PTM_TARGET_MAX - 4, "...");
}

Test(mirror, stdout_and_stderr_are_never_written)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    cr_assert_eq(ptm_shim_printf("total %d\n", 1234), 11);
    cr_assert_eq(ptm_shim_puts("hello"), 6);
    cr_assert_eq(ptm_shim_fprintf(stderr, "warn: %s\n", "x"), 8);
    cr_assert_eq(ptm_shim_fputc('c', stdout), 'c');
    cr_assert_eq(ptm_shim_fwrite("abc", 1, 3, stdout), 3);
    cr_assert_eq(lastOf(PTM_CALL_printf)->bytes, 11);
    cr_assert_str_eq(lastOf(PTM_CALL_printf)->target, "stdout");
    cr_assert_eq(lastOf(PTM_CALL_puts)->bytes, 6);
    cr_assert_str_eq(lastOf(PTM_CALL_fprintf)->target, "stderr");
    cr_assert_eq(lastOf(PTM_CALL_fprintf)->bytes, 8);

    /* fclose(stdout) is simulated; later writes fail as they would. */
    cr_assert_eq(ptm_shim_fclose(stdout), 0);
    cr_assert_eq(ptm_shim_printf("after"), -1);
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(ptm_shim_fclose(stdout), EOF);
    ptmMirrorLeave(&mirror);

    fflush(stdout);
    fflush(stderr);
    cr_assert_stdout_eq_str("");
    cr_assert_stderr_eq_str("");
}

Test(mirror, stdout_really_works_after_the_mirror)
{
    cr_redirect_stdout();
    ptm_shim_fclose(stdout);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(ptm_shim_printf("still %s\n", "open"), 11);
    fflush(stdout);
    cr_assert_stdout_eq_str("still open\n");
}

static int countFds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

Test(mirror, leave_closes_what_the_mirror_left_open)
{
    int before = countFds();
    writeFile(at("r"), "r");
    cr_assert_geq(ptm_shim_open(at("r"), O_RDONLY), 0);
    cr_assert_geq(ptm_shim_open(at("r"), O_WRONLY), 0);
    cr_assert_not_null(ptm_shim_fopen(at("r"), "r"));
    FILE *w = ptm_shim_fopen(at("w"), "w");
    cr_assert_not_null(w);
    ptm_shim_fprintf(w, "buffered");
    cr_assert_eq(countFds(), before + 4);
    ptmMirrorLeave(&mirror);
    cr_assert_null(ptmMirrorCurrent);
    cr_assert_null(ptmSimWorldOf(&mirror)->files);
    cr_assert_eq(countFds(), before);
    cr_assert_neq(access(at("w"), F_OK), 0, "the leaked FILE flushed into simulation");
}

Test(mirror, a_full_ring_drops_events_not_calls)
{
    int i;
    for (i = 0; i < 300; i++)
        cr_assert_eq(ptm_shim_printf("%d", i % 10), 1);
    cr_assert_eq(ptmRingCount(ring), 256);
    cr_assert_eq(ptmRingDropped(ring), 44);
}

/* --------------------------------------------------------------- names */

Test(names, calls_syscalls_fields_statuses)
{
    char f[8];

    cr_assert_str_eq(ptmCallName(PTM_CALL_write), "write");
    cr_assert_str_eq(ptmCallName(PTM_CALL_fopen), "fopen");
    cr_assert_str_eq(ptmCallName(PTM_CALL_puts), "puts");
    cr_assert_str_eq(ptmCallName(PTM_CALL_SYSCALL | SYS_write), "write");
    cr_assert_str_eq(ptmCallName(PTM_CALL_SYSCALL | SYS_openat), "openat");
    cr_assert_str_eq(ptmCallName(PTM_CALL_SYSCALL | SYS_unlink), "unlink");
    cr_assert_str_eq(ptmCallName(PTM_CALL_COUNT + 5), "?");
    ptmCopyField(f, sizeof f, "short");
    cr_assert_str_eq(f, "short");
    ptmCopyField(f, sizeof f, "exactly");
    cr_assert_str_eq(f, "exactly");
    ptmCopyField(f, sizeof f, "too long by far");
    cr_assert_str_eq(f, "too ...");
    ptmCopyField(f, sizeof f, NULL);
    cr_assert_str_eq(f, "");
    cr_assert_str_eq(ptmStatusName(PTM_MS_RETURNED), "returned");
    cr_assert_str_eq(ptmStatusName(PTM_MS_CRASHED), "crashed");
    cr_assert_str_eq(ptmStatusName(PTM_MS_TIMEOUT), "timeout");
    cr_assert_str_eq(ptmStatusName(PTM_MS_DENIED), "denied");
    cr_assert_str_eq(ptmStatusName(PTM_MS_FAILED), "failed");
}

Test(names, record_outside_a_mirror_is_null)
{
    cr_assert_null(ptmMirrorCurrent);
    cr_assert_null(ptmMirrorRecord(PTM_EV_CALL, PTM_CALL_write, ptmOsNowNs()));
}
