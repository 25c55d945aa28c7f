/*
** test_shims_stdio.c - the stdio family (runtime/shims/stdio.c): the calls
** added by issue 4, read-back through FILEs, host FILEs never touched
** (their buffers, positions and unread input), freopen, fflush(NULL),
** dprintf; then the basics (fopen, fprintf, stdout and stderr never
** written); then the calls added after issue 4.
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ptm_int.h"
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

/* ------------------------------------------------- real (basics) */

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

/* ----------------------------------------------- mirror (basics) */

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

/*
** The stdio calls added after issue 4 (the last
** stdio block of runtime/calls.def's shims): feof ferror clearerr fileno ungetc
** setvbuf setbuf getline getdelim fseeko ftello fgetpos fsetpos perror
** remove and the _unlocked forms.  Outside a mirror each is the real call;
** in one, a host FILE's state -- position, indicators, buffer, unread
** input -- is the mirror's view only, and the host's FILE is exactly as it
** was afterwards.  Faults (EIO on a read, ENOSPC on a write, EROFS) are
** injected through ptmOs.
*/

/* What the host can see of a FILE: position, indicators, its buffer. */
struct hostState {
    long pos;
    int eof, error;
    char *buf, *rptr, *rend, *wptr;
};

static void hostState(FILE *f, struct hostState *s)
{
    s->eof = feof(f);
    s->error = ferror(f);
    s->buf = f->_IO_buf_base;
    s->rptr = f->_IO_read_ptr;
    s->rend = f->_IO_read_end;
    s->wptr = f->_IO_write_ptr;
    s->pos = ftell(f); /* last: it may settle the FILE's pointers */
}

static void assertHostUnchanged(FILE *f, const struct hostState *before)
{
    struct hostState now;
    hostState(f, &now);
    cr_assert_eq(now.eof, before->eof, "host feof changed");
    cr_assert_eq(now.error, before->error, "host ferror changed");
    cr_assert_eq(now.buf, before->buf, "host buffer changed");
    cr_assert_eq(now.rptr, before->rptr, "host read pointer moved");
    cr_assert_eq(now.rend, before->rend, "host read end moved");
    cr_assert_eq(now.wptr, before->wptr, "host write pointer moved");
    cr_assert_eq(now.pos, before->pos, "host position moved");
}

/* ---------------------------------------------------------------- real */

Test(real, the_shims_are_the_real_calls)
{
    const char *p = at("r");
    char *line = NULL, small[16];
    size_t cap = 0;
    fpos_t pos;
    FILE *f;

    writeFile(p, "one\ntwo,three\n");
    f = fopen(p, "r");
    cr_assert_eq(ptm_shim_setvbuf(f, NULL, _IOFBF, 64), 0);
    cr_assert_eq(ptm_shim_fileno(f), fileno(f));
    cr_assert_eq(ptm_shim_fileno_unlocked(f), fileno(f));
    cr_assert_eq(ptm_shim_getline(&line, &cap, f), 4);
    cr_assert_str_eq(line, "one\n");
    cr_assert_eq(ptm_shim_fgetpos(f, &pos), 0);
    cr_assert_eq(ptm_shim_getdelim(&line, &cap, ',', f), 4);
    cr_assert_str_eq(line, "two,");
    cr_assert_eq(ptm_shim_ftello(f), 8);
    cr_assert_eq(ptm_shim_fsetpos(f, &pos), 0);
    cr_assert_eq(ptm_shim_getc_unlocked(f), 't');
    cr_assert_eq(ptm_shim_ungetc('T', f), 'T');
    cr_assert_eq(ptm_shim_fgetc_unlocked(f), 'T');
    cr_assert_not_null(ptm_shim_fgets_unlocked(small, sizeof small, f));
    cr_assert_str_eq(small, "wo,three\n");
    cr_assert_eq(ptm_shim_feof(f), 0);
    cr_assert_eq(ptm_shim_getline(&line, &cap, f), -1);
    cr_assert_neq(ptm_shim_feof(f), 0);
    cr_assert_neq(ptm_shim_feof_unlocked(f), 0);
    cr_assert_eq(ptm_shim_ferror(f), 0);
    ptm_shim_clearerr(f);
    cr_assert_eq(feof(f), 0);
    cr_assert_eq(ptm_shim_fseeko(f, 4, SEEK_SET), 0);
    cr_assert_eq(ptm_shim_fread_unlocked(small, 1, 3, f), 3);
    cr_assert_eq(memcmp(small, "two", 3), 0);
    fclose(f);
    free(line);

    f = fopen(p, "w");
    ptm_shim_setbuf(f, NULL);
    cr_assert_eq(ptm_shim_putc_unlocked('a', f), 'a');
    cr_assert_eq(ptm_shim_fputc_unlocked('b', f), 'b');
    cr_assert_eq(ptm_shim_fputs_unlocked("cd", f), 1);
    cr_assert_eq(ptm_shim_fwrite_unlocked("ef", 1, 2, f), 2);
    cr_assert_eq(ptm_shim_fflush_unlocked(f), 0);
    cr_assert_eq(ptm_shim_ferror_unlocked(f), 0);
    ptm_shim_clearerr_unlocked(f);
    fclose(f);
    cr_assert_str_eq(readFile(p), "abcdef");
    cr_assert_eq(ptm_shim_remove(p), 0);
    cr_assert_neq(access(p, F_OK), 0);
    cr_assert_eq(mkdir(at("d"), 0755), 0);
    cr_assert_eq(ptm_shim_remove(at("d")), 0, "a directory: rmdir");
    cr_assert_neq(access(at("d"), F_OK), 0);
}

Test(real, perror_prints, .init = cr_redirect_stderr)
{
    errno = ENOENT;
    ptm_shim_perror("ctx");
    fflush(stderr);
    cr_assert_stderr_eq_str("ctx: No such file or directory\n");
}

/* -------------------------------------------------------------- mirror */

Test(mirror, a_getline_loop_over_a_host_file_leaves_it_alone)
{
    const char *p = at("lines");
    char *line = NULL, rest[64];
    struct hostState before;
    size_t cap = 0;
    ssize_t n;
    int lines = 0;
    FILE *host;

    writeFile(p, "first\nsecond line\nthird\n");
    host = fopen(p, "r");
    cr_assert_not_null(fgets(rest, sizeof rest, host));   /* the host read ahead: all of it */
    hostState(host, &before);
    while ((n = ptm_shim_getline(&line, &cap, host)) != -1) {
        lines++;
        cr_assert_eq((size_t)n, strlen(line));
    }
    cr_assert_eq(lines, 2, "the mirror goes on where the host is");
    cr_assert_str_eq(line, "third\n", "a line at end of file leaves the buffer as it was");
    cr_assert_neq(ptm_shim_feof(host), 0, "the mirror read to the end");
    cr_assert_eq(ptm_shim_ferror(host), 0);
    cr_assert_eq(ptm_shim_ftello(host), 24);
    cr_assert_eq(countOf(PTM_CALL_getline), 1, "the reads merge");
    cr_assert_eq(lastOf(PTM_CALL_getline)->bytes, 18);
    cr_assert_eq(strncmp(lastOf(PTM_CALL_getline)->target, "fd ", 3), 0);
    cr_assert_not(lastOf(PTM_CALL_getline)->flags & PTM_EVF_EFFECT);
    ptm_shim_clearerr(host);
    cr_assert_eq(ptm_shim_feof(host), 0, "cleared in the mirror's view");
    free(line);
    ptmMirrorLeave(&mirror);
    assertHostUnchanged(host, &before);
    cr_assert_eq(feof(host), 0);
    cr_assert_not_null(fgets(rest, sizeof rest, host));
    cr_assert_str_eq(rest, "second line\n", "the host reads on from its own place");
    fclose(host);
}

Test(mirror, getdelim_grows_the_buffer_and_reads_what_the_mirror_wrote)
{
    const char *p = at("csv");
    char *field = malloc(2);
    size_t cap = 2;
    FILE *f;

    f = ptm_shim_fopen(p, "w");
    cr_assert_eq(ptm_shim_fputs("a-long-first-field,b,", f), 1);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    f = ptm_shim_fopen(p, "r");
    cr_assert_eq(ptm_shim_getdelim(&field, &cap, ',', f), 19);
    cr_assert_str_eq(field, "a-long-first-field,");
    cr_assert_geq(cap, 20);
    cr_assert_eq(ptm_shim_getdelim(&field, &cap, ',', f), 2);
    cr_assert_str_eq(field, "b,");
    cr_assert_eq(ptm_shim_getdelim(&field, &cap, ',', f), -1);
    cr_assert_neq(ptm_shim_feof(f), 0, "the mirror's own FILE: the real indicator");
    cr_assert_eq(ptm_shim_getline(NULL, &cap, f), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(lastOf(PTM_CALL_getline)->err, EINVAL);
    cr_assert_eq(ptm_shim_fclose(f), 0);
    cr_assert_neq(access(p, F_OK), 0, "no file was made");
    free(field);
}

Test(mirror, getline_allocates_even_at_end_of_file)
{
    char *line = NULL;
    size_t cap = 0;
    FILE *host;

    writeFile(at("empty"), "");
    host = fopen(at("empty"), "r");
    cr_assert_eq(ptm_shim_getline(&line, &cap, host), -1);
    cr_assert_not_null(line, "as glibc: the buffer is made first");
    cr_assert_gt(cap, 0);
    cr_assert_neq(ptm_shim_feof(host), 0);
    free(line);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(feof(host), 0, "the host never read");
    fclose(host);
}

Test(mirror, a_host_end_of_file_holds_until_cleared)
{
    const char *p = at("grow");
    char line[32];
    FILE *host;

    writeFile(p, "a\n");
    host = fopen(p, "r");
    cr_assert_not_null(fgets(line, sizeof line, host));
    cr_assert_null(fgets(line, sizeof line, host));
    cr_assert_neq(feof(host), 0);
    writeFile(p, "a\nb\n");                      /* the file grew */
    cr_assert_neq(ptm_shim_feof(host), 0, "the host's indicator, as the mirror began");
    cr_assert_eq(ptm_shim_fgetc(host), EOF, "sticky, as glibc's");
    ptm_shim_clearerr(host);
    cr_assert_eq(ptm_shim_feof(host), 0);
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, host));
    cr_assert_str_eq(line, "b\n");
    cr_assert_eq(ptm_shim_fgetc(host), EOF);
    cr_assert_neq(ptm_shim_feof(host), 0);
    cr_assert_eq(ptm_shim_fseek(host, 0, SEEK_CUR), 0);
    cr_assert_eq(ptm_shim_feof(host), 0, "fseek clears it");
    ptmMirrorLeave(&mirror);
    cr_assert_neq(feof(host), 0, "the host's indicator was never cleared");
    fclose(host);
}

Test(mirror, ungetc_pushes_back_onto_the_shadow_only)
{
    const char *p = at("u");
    struct hostState before;
    FILE *host;

    writeFile(p, "xyz");
    host = fopen(p, "r");
    cr_assert_eq(fgetc(host), 'x');
    hostState(host, &before);
    cr_assert_eq(ptm_shim_fgetc(host), 'y');
    cr_assert_eq(ptm_shim_ungetc('Q', host), 'Q');
    cr_assert_eq(ptm_shim_ftell(host), 1, "the position steps back");
    cr_assert_eq(ptm_shim_getc(host), 'Q');
    cr_assert_eq(ptm_shim_getc(host), 'z');
    cr_assert_eq(ptm_shim_ungetc(EOF, host), EOF);
    cr_assert_eq(ptm_shim_fgetc(host), EOF);
    cr_assert_eq(ptm_shim_ungetc('!', host), '!');
    cr_assert_eq(ptm_shim_feof(host), 0, "ungetc clears end of file");
    ptmMirrorLeave(&mirror);
    assertHostUnchanged(host, &before);
    cr_assert_eq(fgetc(host), 'y', "nothing was pushed onto the host's FILE");
    fclose(host);
}

Test(mirror, setvbuf_never_changes_a_host_file_nor_writes_a_callers_buffer)
{
    static char hostBuf[64], ownBuf[64], zero[64];
    struct hostState before;
    FILE *host, *own;

    writeFile(at("h"), "data");
    host = fopen(at("h"), "r");
    cr_assert_eq(fgetc(host), 'd');
    hostState(host, &before);
    cr_assert_eq(ptm_shim_setvbuf(host, hostBuf, _IONBF, sizeof hostBuf), 0);
    ptm_shim_setbuf(host, hostBuf);
    cr_assert_eq(ptm_shim_setvbuf(host, NULL, 42, 0), EOF);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(ptm_shim_fgetc(host), 'a');
    own = ptm_shim_fopen(at("o"), "w");
    cr_assert_eq(ptm_shim_setvbuf(own, ownBuf, _IOFBF, sizeof ownBuf), 0);
    cr_assert_eq(ptm_shim_fputs("buffered", own), 1);
    cr_assert_eq(memcmp(ownBuf, zero, sizeof zero), 0, "the caller's buffer is not used");
    cr_assert_eq(ptm_shim_fclose(own), 0);
    cr_assert_eq(ptm_shim_setvbuf(host, NULL, _IOLBF, 0), 0);
    ptmMirrorLeave(&mirror);
    assertHostUnchanged(host, &before);
    cr_assert_eq(memcmp(hostBuf, zero, sizeof zero), 0);
    cr_assert_eq(fgetc(host), 'a');
    fclose(host);
}

Test(mirror, positions_of_a_host_file_move_in_the_view_only)
{
    const char *p = at("pos");
    struct hostState before;
    fpos_t mark;
    char c;
    FILE *host;
    int pipefd[2];

    writeFile(p, "0123456789");
    host = fopen(p, "r");
    cr_assert_eq(fgetc(host), '0');
    hostState(host, &before);
    cr_assert_eq(ptm_shim_fseeko(host, 5, SEEK_SET), 0);
    cr_assert_eq(ptm_shim_ftello(host), 5);
    cr_assert_eq(ptm_shim_fgetpos(host, &mark), 0);
    cr_assert_eq(ptm_shim_fgetc(host), '5');
    cr_assert_eq(ptm_shim_fseeko(host, -1, SEEK_END), 0);
    cr_assert_eq(ptm_shim_fgetc(host), '9');
    cr_assert_eq(ptm_shim_fsetpos(host, &mark), 0);
    cr_assert_eq(ptm_shim_fread(&c, 1, 1, host), 1);
    cr_assert_eq(c, '5');
    cr_assert_eq(ptm_shim_fseeko(host, -100, SEEK_CUR), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(lastOf(PTM_CALL_fseeko)->err, EINVAL);
    cr_assert_not(lastOf(PTM_CALL_ftello)->flags & PTM_EVF_EFFECT);
    ptmMirrorLeave(&mirror);
    assertHostUnchanged(host, &before);
    cr_assert_eq(fgetc(host), '1');
    fclose(host);

    /* A pipe has no position. */
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(pipe(pipefd), 0);
    host = fdopen(pipefd[0], "r");
    cr_assert_eq(ptm_shim_ftello(host), -1);
    cr_assert_eq(errno, ESPIPE);
    cr_assert_eq(ptm_shim_fgetpos(host, &mark), -1);
    cr_assert_eq(errno, ESPIPE);
    cr_assert_eq(ptm_shim_fseeko(host, 0, SEEK_SET), -1);
    cr_assert_eq(errno, ESPIPE);
    ptmMirrorLeave(&mirror);
    fclose(host);
    close(pipefd[1]);
}

Test(mirror, fileno_names_the_descriptor_the_mirror_knows)
{
    struct stat st;
    FILE *host, *own;
    int fd;

    writeFile(at("h"), "host");
    host = fopen(at("h"), "r");
    cr_assert_eq(ptm_shim_fileno(host), fileno(host));
    own = ptm_shim_fopen(at("o"), "w");
    cr_assert_eq(ptm_shim_fputs("12345", own), 1);
    cr_assert_eq(ptm_shim_fflush(own), 0);
    fd = ptm_shim_fileno(own);
    cr_assert_geq(fd, 0, "the mirror's descriptor under its FILE");
    cr_assert_eq(ptm_shim_fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 5, "the mirror's world: its overlay");
    cr_assert_eq(ptm_shim_fclose(own), 0);
    cr_assert_eq(ptm_shim_fclose(host), 0);
    cr_assert_eq(ptm_shim_fileno(host), -1);
    cr_assert_eq(errno, EBADF);
    ptmMirrorLeave(&mirror);
    cr_assert_geq(fileno(host), 0, "the host's FILE is open");
    fclose(host);
}

Test(mirror, perror_is_recorded_not_printed)
{
    char expect[128];

    cr_redirect_stderr();
    snprintf(expect, sizeof expect, "opening: %s\n", strerror(EACCES));
    errno = EACCES;
    ptm_shim_perror("opening");
    cr_assert_eq(errno, EACCES, "errno is left alone");
    cr_assert_str_eq(lastOf(PTM_CALL_perror)->target, "stderr");
    cr_assert_eq(lastOf(PTM_CALL_perror)->bytes, strlen(expect));
    cr_assert(lastOf(PTM_CALL_perror)->flags & PTM_EVF_EFFECT);
    errno = ENOENT;
    ptm_shim_perror(NULL);
    cr_assert_eq(lastOf(PTM_CALL_perror)->bytes, strlen(strerror(ENOENT)) + 1);
    ptmMirrorLeave(&mirror);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

Test(mirror, remove_unlinks_or_rmdirs_in_the_namespace_only)
{
    struct fileState before;
    struct stat st;

    writeFile(at("f"), "keep");
    fileState(at("f"), &before);
    cr_assert_eq(mkdir(at("empty"), 0755), 0);
    cr_assert_eq(mkdir(at("full"), 0755), 0);
    writeFile(at("full/x"), "x");
    cr_assert_eq(ptm_shim_remove(at("f")), 0);
    cr_assert_eq(ptm_shim_stat(at("f"), &st), -1, "gone for the mirror");
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_remove(at("f")), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(ptm_shim_remove(at("empty")), 0, "rmdir semantics");
    cr_assert_eq(ptm_shim_stat(at("empty"), &st), -1);
    cr_assert_eq(ptm_shim_remove(at("full")), -1);
    cr_assert_eq(errno, ENOTEMPTY);
    cr_assert_eq(lastOf(PTM_CALL_remove)->err, ENOTEMPTY);
    cr_assert(lastOf(PTM_CALL_remove)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(countOf(PTM_CALL_remove), 4);
    ptmMirrorLeave(&mirror);
    assertUnchanged(at("f"), &before);
    cr_assert_eq(access(at("empty"), F_OK), 0);
}

Test(mirror, the_unlocked_forms_are_recorded_under_their_names)
{
    struct fileState before;
    char line[16];
    FILE *host;

    writeFile(at("u"), "in\n");
    fileState(at("u"), &before);
    host = fopen(at("u"), "r+");
    cr_assert_not_null(ptm_shim_fgets_unlocked(line, sizeof line, host));
    cr_assert_str_eq(line, "in\n");
    cr_assert_eq(lastOf(PTM_CALL_fgets_unlocked)->bytes, 3);
    cr_assert_eq(ptm_shim_putc_unlocked('o', host), 'o');
    cr_assert_eq(ptm_shim_fputs_unlocked("ut", host), 1);
    cr_assert_eq(ptm_shim_fwrite_unlocked("!\n", 1, 2, host), 2);
    cr_assert_eq(ptm_shim_fflush_unlocked(host), 0);
    cr_assert_str_eq(ptmCallName(lastOf(PTM_CALL_putc_unlocked)->call), "putc_unlocked");
    cr_assert(lastOf(PTM_CALL_fwrite_unlocked)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_fseeko(host, 0, SEEK_SET), 0);
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, host));
    cr_assert_not_null(ptm_shim_fgets(line, sizeof line, host));
    cr_assert_str_eq(line, "out!\n", "the mirror reads back its writes");
    ptmMirrorLeave(&mirror);
    fclose(host);
    assertUnchanged(at("u"), &before);
}

/* -------------------------------------------------------------- faults */

static ssize_t eioPread(int fd, void *buf, size_t n, off_t off)
{
    (void)fd, (void)buf, (void)n, (void)off;
    errno = EIO;
    return -1;
}

Test(mirror, eio_while_reading_sets_the_error_indicator_in_the_view_only)
{
    const char *p = at("bad");
    struct hostState before;
    char *line = NULL;
    size_t cap = 0;
    FILE *host;

    writeFile(p, "unreadable\n");
    host = fopen(p, "r");
    hostState(host, &before);
    ptmOs.pread = eioPread;
    errno = 0;
    cr_assert_eq(ptm_shim_getline(&line, &cap, host), -1);
    cr_assert_eq(errno, EIO);
    cr_assert_eq(lastOf(PTM_CALL_getline)->err, EIO);
    cr_assert_neq(ptm_shim_ferror(host), 0, "the mirror sees the read error");
    cr_assert_eq(ptm_shim_feof(host), 0);
    ptm_shim_clearerr(host);
    cr_assert_eq(ptm_shim_ferror(host), 0);
    ptmOsReset();
    cr_assert_eq(ptm_shim_getline(&line, &cap, host), 11, "the next read works");
    free(line);
    ptmMirrorLeave(&mirror);
    assertHostUnchanged(host, &before);
    fclose(host);
}

Test(mirror, enospc_sets_the_error_indicator_of_a_host_file_in_the_view)
{
    struct hostState before;
    FILE *host;

    writeFile(at("h"), "");
    host = fopen(at("h"), "a");
    hostState(host, &before);
    ptmOs.statvfs = fullStatvfs;
    ptmOs.fstatvfs = fullFstatvfs;
    cr_assert_eq(ptm_shim_ferror(host), 0);
    cr_assert_lt(ptm_shim_fprintf(host, "%s", "no room"), 0);
    cr_assert_neq(ptm_shim_ferror(host), 0, "as the real FILE's would be");
    errno = ENOSPC;
    ptm_shim_perror("log");
    cr_assert_eq(lastOf(PTM_CALL_perror)->target[0] != '\0', 1);
    ptm_shim_rewind(host);
    cr_assert_eq(ptm_shim_ferror(host), 0, "rewind clears it, in the view");
    ptmOsReset();
    ptmMirrorLeave(&mirror);
    assertHostUnchanged(host, &before);
    fclose(host);
    cr_assert_str_eq(readFile(at("h")), "");
}

Test(mirror, erofs_for_remove)
{
    writeFile(at("f"), "x");
    ptmOs.statvfs = fakeStatvfs;
    freeBlocks = 100;
    readOnlyFs = 1;
    cr_assert_eq(ptm_shim_remove(at("f")), -1);
    cr_assert_eq(errno, EROFS);
    cr_assert_eq(lastOf(PTM_CALL_remove)->err, EROFS);
    readOnlyFs = 0;
    ptmOsReset();
    cr_assert_eq(access(at("f"), F_OK), 0);
}

/* ------------------------------------------------------- inline mirror */

/* Host memory: an inline mirror's getline writes the view of these. */
static char *gLine;
static size_t gCap;

Test(mirror, an_inline_getline_into_host_pointers_writes_the_view_only)
{
    const char *p = at("inline");
    struct ptmRedo redo;
    char *orig, *view;
    size_t cap;
    FILE *host;
    char top;

    writeFile(p, "a line longer than the host's buffer\nnext\n");
    host = fopen(p, "r");
    orig = gLine = malloc(8);
    strcpy(gLine, "host");
    gCap = 8;
    ptmRedoBegin(&redo, &top);
    cr_assert_eq(ptm_shim_getline(&gLine, &gCap, host), 37);
    memcpy(&view, ptm_redo_ld(&gLine, sizeof gLine), sizeof view);
    memcpy(&cap, ptm_redo_ld(&gCap, sizeof gCap), sizeof cap);
    cr_assert_neq(view, orig, "grown in the mirror's heap");
    cr_assert(ptmRedoOwns(&redo, view, cap), "the arena's");
    cr_assert_geq(cap, 38);
    cr_assert_str_eq(view, "a line longer than the host's buffer\n");
    cr_assert_eq(ptm_shim_getline(&gLine, &gCap, host), 5);
    memcpy(&view, ptm_redo_ld(&gLine, sizeof gLine), sizeof view);
    cr_assert_str_eq(view, "next\n");
    ptmRedoEnd(&redo);
    cr_assert_eq(gLine, orig, "the host's pointer is untouched");
    cr_assert_eq(gCap, 8);
    cr_assert_str_eq(gLine, "host");
    ptmMirrorLeave(&mirror);
    fclose(host);
    free(gLine);
}
