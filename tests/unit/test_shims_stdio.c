/*
** test_shims_stdio.c - the stdio family (runtime/shims/stdio.c) beyond the
** basics of test_shims.c: the calls added by issue 4, read-back through
** FILEs, host FILEs never touched (their buffers, positions and unread
** input), freopen, fflush(NULL), dprintf.
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <sys/statvfs.h>

#include "shims_test.h"

/* ---------------------------------------------------------------- real */

TestSuite(real, .init = makeDir, .fini = removeDir);

static int callVfprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = ptm_shim_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

static int callVfscanf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = ptm_shim_vfscanf(f, fmt, ap);
    va_end(ap);
    return r;
}

Test(real, the_new_stdio_shims_are_the_real_calls)
{
    const char *p = at("s");
    char line[32];
    int fd, n = 0;
    FILE *f;

    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    f = ptm_shim_fdopen(fd, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_putc('a', f), 'a');
    cr_assert_eq(callVfprintf(f, "%d;", 12), 3);
    cr_assert_eq(ptm_shim_fflush(f), 0);
    cr_assert_str_eq(readFile(p), "a12;");
    cr_assert_eq(ptm_shim_dprintf(fd, "[%s]", "d"), 3);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_str_eq(readFile(p), "a12;[d]");

    f = ptm_shim_fopen(p, "r");
    cr_assert_eq(ptm_shim_fgetc(f), 'a');
    cr_assert_eq(ptm_shim_getc(f), '1');
    cr_assert_eq(callVfscanf(f, "%d", &n), 1);
    cr_assert_eq(n, 2);
    cr_assert_eq(ptm_shim_ftell(f), 3);
    ptm_shim_rewind(f);
    cr_assert_eq(ptm_shim_fread(line, 1, 4, f), 4);
    cr_assert_eq(ptm_shim_fseek(f, -3, SEEK_END), 0);
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "[d]");
    cr_assert_eq(ptm_shim_fscanf(f, "%d", &n), EOF);
    f = ptm_shim_freopen(at("t"), "w", f);
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fputs("t!", f), 1);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_str_eq(readFile(at("t")), "t!");
}

static int callVprintf(const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = ptm_shim_vprintf(fmt, ap);
    va_end(ap);
    return r;
}

Test(real, vprintf_and_putchar_write_stdout, .init = cr_redirect_stdout)
{
    cr_assert_eq(callVprintf("v=%d\n", 5), 4);
    cr_assert_eq(ptm_shim_putchar('>'), '>');
    fflush(stdout);
    cr_assert_stdout_eq_str("v=5\n>");
}

/* -------------------------------------------------------------- mirror */

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, a_file_written_through_stdio_reads_back)
{
    const char *p = at("notes");
    char line[64];
    int n = 0;
    FILE *f;

    f = ptm_shim_fopen(p, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fprintf(f, "count %d\n", 42), 9);
    cr_assert_eq(ptm_shim_fputs("second\n", f), 1);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_neq(access(p, F_OK), 0, "no file was made");
    f = ptm_shim_fopen(p, "r");
    cr_assert_not_null(f, "the mirror's file exists for it: %s", strerror(errno));
    cr_assert_eq(ptm_shim_fscanf(f, "count %d\n", &n), 1);
    cr_assert_eq(n, 42);
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "second\n");
    cr_assert_null(ptm_shim_fgets(line, sizeof line, f), "end of file");
    cr_assert_eq(ptm_shim_ftell(f), 16);
    ptm_shim_rewind(f);
    cr_assert_eq(ptm_shim_fgetc(f), 'c');
    cr_assert_eq(ptm_shim_fclose(f), 0);
    /* Appending through another FILE, then reading with fread. */
    f = ptm_shim_fopen(p, "a+");
    cr_assert_eq(ptm_shim_fputc('!', f), '!');
    cr_assert_eq(ptm_shim_fflush(f), 0);
    cr_assert_eq(ptm_shim_fseek(f, 0, SEEK_SET), 0);
    cr_assert_eq(ptm_shim_fread(line, 1, sizeof line, f), 17);
    cr_assert_eq(memcmp(line, "count 42\nsecond\n!", 17), 0);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_neq(access(p, F_OK), 0);
}

Test(mirror, a_host_file_is_read_where_the_host_is_and_left_alone)
{
    const char *p = at("input");
    char line[32], rest[64];
    FILE *host;

    writeFile(p, "line one\nline two\nline three\n");
    host = fopen(p, "r");
    cr_assert_not_null(fgets(line, sizeof line, host));
    cr_assert_str_eq(line, "line one\n");       /* the FILE has read ahead: all of it */
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, host));
    cr_assert_str_eq(line, "line two\n", "the mirror goes on where the host is");
    cr_assert_eq(ptm_shim_ftell(host), 18);
    cr_assert_eq(ptm_shim_fgetc(host), 'l');
    cr_assert_eq(ptm_shim_fseek(host, 0, SEEK_SET), 0);
    cr_assert_eq(ptm_shim_fgetc(host), 'l');
    cr_assert_eq(ptm_shim_fclose(host), 0, "simulated");
    cr_assert_eq(ptm_shim_fgetc(host), EOF);
    cr_assert_eq(errno, EBADF);
    ptmMirrorLeave(&mirror);
    /* The host's FILE is exactly as it was. */
    cr_assert_eq(ftell(host), 9);
    cr_assert_eq(fread(rest, 1, sizeof rest, host), 20);
    cr_assert_eq(memcmp(rest, "line two\nline three\n", 20), 0);
    fclose(host);
}

Test(mirror, a_host_file_with_buffered_output_is_never_flushed)
{
    const char *p = at("out");
    struct fileState before;
    char back[32];
    FILE *host;

    writeFile(p, "");
    host = fopen(p, "w+");
    cr_assert_eq(fputs("host-pending;", host), 1);  /* buffered, not written */
    fileState(p, &before);
    cr_assert_eq(ptm_shim_fprintf(host, "mirror %d;", 7), 9);
    cr_assert_eq(ptm_shim_fputs("more", host), 1);
    cr_assert_eq(ptm_shim_fflush(host), 0);
    cr_assert_eq(ptm_shim_fflush(NULL), 0);
    assertUnchanged(p, &before);
    /* The mirror's own view: its bytes after the host's pending ones. */
    cr_assert_eq(ptm_shim_ftell(host), 13 + 9 + 4);
    cr_assert_eq(lastOf(PTM_CALL_fprintf)->bytes, 9);
    cr_assert_eq(ptm_shim_fseek(host, 13, SEEK_SET), 0);
    cr_assert_not_null(ptm_shim_fgets(back, sizeof back, host));
    cr_assert_str_eq(back, "mirror 7;more");
    ptmMirrorLeave(&mirror);
    cr_assert_eq(fclose(host), 0);
    cr_assert_str_eq(readFile(p), "host-pending;", "only the host's own bytes");
}

Test(mirror, stdin_from_a_pipe_is_not_consumed)
{
    int p[2], n = 0;
    char c, rest[32];

    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(write(p[1], "17 left over\n", 13), 13);
    close(p[1]);
    cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
    close(p[0]);
    cr_assert_eq(fread(&c, 1, 1, stdin), 1);     /* stdin has read ahead: "7 left over\n" */
    cr_assert_eq(c, '1');
    cr_assert_eq(ptm_shim_scanf("%d", &n), 1, "the mirror reads the bytes the host buffered");
    cr_assert_eq(n, 7);
    cr_assert_eq(ptm_shim_getchar(), ' ');
    cr_assert_not_null(ptm_shim_fgets(rest, sizeof rest, stdin));
    cr_assert_str_eq(rest, "left over\n");
    cr_assert_eq(ptm_shim_getc(stdin), EOF, "then an empty read: nothing is taken from the pipe");
    ptmMirrorLeave(&mirror);
    cr_assert_not_null(fgets(rest, sizeof rest, stdin));
    cr_assert_str_eq(rest, "7 left over\n", "the host reads all of it");
}

Test(mirror, freopen_redirects_in_the_mirror_only)
{
    const char *p = at("redirected");
    char line[32];
    FILE *f;

    cr_redirect_stdout();
    f = ptm_shim_freopen(p, "w", stdout);
    cr_assert_eq(f, stdout);
    cr_assert_eq(ptm_shim_printf("to the file %d\n", 1), 14);
    cr_assert_eq(ptm_shim_puts("again"), 6);
    cr_assert_eq(ptm_shim_putchar('x'), 'x');
    cr_assert_str_eq(lastOf(PTM_CALL_freopen)->target, p);
    cr_assert(lastOf(PTM_CALL_freopen)->flags & PTM_EVF_EFFECT);
    cr_assert_neq(access(p, F_OK), 0, "nothing was created");
    f = ptm_shim_fopen(p, "r");
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "to the file 1\n");
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "again\n");
    cr_assert_eq(ptm_shim_fgetc(f), 'x');
    cr_assert_null(ptm_shim_freopen(at("nodir/x"), "w", f));
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_fputs("x", f), EOF, "a failed freopen closes the stream");
    ptmMirrorLeave(&mirror);
    fflush(stdout);
    cr_assert_stdout_eq_str("");
}

Test(mirror, fdopen_and_dprintf_on_a_host_descriptor)
{
    const char *p = at("fd");
    struct fileState before;
    char buf[32];
    FILE *f;
    int fd;

    writeFile(p, "base\n");
    fileState(p, &before);
    fd = open(p, O_RDWR);
    cr_assert_eq(ptm_shim_dprintf(fd, "%s-%d\n", "dp", 1), 5);
    cr_assert_eq(lastOf(PTM_CALL_dprintf)->bytes, 5);
    f = ptm_shim_fdopen(fd, "a+");
    cr_assert_not_null(f);
    cr_assert_eq(ptm_shim_fprintf(f, "via FILE\n"), 9);
    cr_assert_eq(ptm_shim_fclose(f), 0, "flushed into the simulation");
    cr_assert_eq(ptm_shim_write(fd, "x", 1), -1, "fclose closed the descriptor, in the mirror");
    cr_assert_eq(errno, EBADF);
    cr_assert_null(ptm_shim_fdopen(fd, "r"));
    cr_assert_eq(errno, EBADF);
    fd = ptm_shim_open(p, O_RDONLY);
    cr_assert_eq(ptm_shim_read(fd, buf, sizeof buf), 14);
    cr_assert_eq(memcmp(buf, "dp-1\nvia FILE\n", 14), 0, "dprintf wrote at offset 0");
    ptm_shim_close(fd);
    cr_assert_null(ptm_shim_fdopen(open(p, O_RDONLY), "w"), "mode against the descriptor");
    cr_assert_eq(errno, EINVAL);
    assertUnchanged(p, &before);
}

Test(mirror, stdout_writes_are_recorded_not_written)
{
    cr_redirect_stdout();
    cr_assert_eq(callVprintf("%05d", 42), 5);
    cr_assert_eq(lastOf(PTM_CALL_vprintf)->bytes, 5);
    cr_assert_str_eq(lastOf(PTM_CALL_vprintf)->target, "stdout");
    cr_assert_eq(ptm_shim_putc('!', stdout), '!');
    cr_assert_eq(ptm_shim_putchar('?'), '?');
    cr_assert_eq(ptm_shim_fflush(stdout), 0);
    cr_assert_eq(callVfprintf(stderr, "%s", "err"), 3);
    cr_assert_str_eq(lastOf(PTM_CALL_vfprintf)->target, "stderr");
    ptmMirrorLeave(&mirror);
    fflush(stdout);
    cr_assert_stdout_eq_str("");
}

/* Fault injection: a full disk, seen at the flush of the mirror's FILE and
** at once for a host FILE (unbuffered in the mirror's eyes). */
static int fullStatvfs(const char *path, struct statvfs *st)
{
    if (statvfs(path, st) != 0)
        return -1;
    st->f_bavail = 0;
    return 0;
}

static int fullFstatvfs(int fd, struct statvfs *st)
{
    if (fstatvfs(fd, st) != 0)
        return -1;
    st->f_bavail = 0;
    return 0;
}

Test(mirror, enospc_through_stdio)
{
    FILE *own, *host;

    writeFile(at("h"), "");
    host = fopen(at("h"), "a");
    ptmOs.statvfs = fullStatvfs;
    ptmOs.fstatvfs = fullFstatvfs;
    own = ptm_shim_fopen(at("o"), "w");
    cr_assert_eq(ptm_shim_fputs("buffered", own), 1);
    cr_assert_eq(ptm_shim_fflush(own), EOF);
    cr_assert_eq(errno, ENOSPC);
    cr_assert_eq(lastOf(PTM_CALL_fflush)->err, ENOSPC);
    cr_assert_eq(ptm_shim_fwrite("abc", 1, 3, host), 0);
    cr_assert_eq(errno, ENOSPC);
    cr_assert_eq(lastOf(PTM_CALL_fwrite)->err, ENOSPC);
    cr_assert(lastOf(PTM_CALL_fwrite)->flags & PTM_EVF_EFFECT);
    ptmOsReset();
    ptmMirrorLeave(&mirror);
    fclose(host);
    cr_assert_str_eq(readFile(at("h")), "");
}

/* Fault injection: EINTR while a host FILE is read through its shadow. */
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

Test(mirror, eintr_while_reading_is_retried)
{
    char line[16];
    FILE *host;

    writeFile(at("r"), "retried\n");
    host = fopen(at("r"), "r");
    ptmOs.pread = eintrPread;
    interrupts = 2;
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, host));
    cr_assert_str_eq(line, "retried\n");
    cr_assert_eq(interrupts, 0);
    ptmOsReset();
    fclose(host);
}
