/*
** shims/stdio.c - stdio in a mirror: fopen fclose fwrite fputs fputc
** fprintf printf puts.
**
** Outside a mirror each shim is exactly the real call.  In a mirror:
**
**   - fopen(path, "r") opens the real file read-only: reads work.
**   - A write-intent fopen (w, a, r+, x) is checked like open(2) and returns
**     a FILE made with fopencookie() over a simulated file (shims/file.c):
**     its write callback simulates (ENOSPC, EFBIG, no bytes written) and
**     its read callback reads the real file when it existed.  So even the
**     stdio calls ptmcc does not redirect (fflush, fseek, putc...) cannot
**     reach the disk through that FILE.  Its buffering is the real one, so
**     a full disk shows where it would for real: at the flush (fclose).
**   - A write to a FILE the mirror did not open (stdout, stderr, a FILE the
**     host passed in) is recorded with its byte count, checked against the
**     descriptor under it (EBADF, EFBIG, ENOSPC) and never written: the
**     FILE, its buffer and its lock are not touched.  The check is made
**     at once, as though the FILE were unbuffered.
**   - fclose of such a FILE is simulated (no flush, no close); the mirror's
**     later writes to it fail with EBADF.
**
** Events: target "stdout", "stderr", the path the mirror opened the FILE
** with, or "fd N"; bytes, the count the call would write; result, the
** call's return value (for fopen: 0, or -1 when it returns NULL).
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptm_int.h"

/* fopen's mode as open(2) flags.  OUT: *flags.  0 or EINVAL. */
static int modeFlags(const char *mode, int *flags)
{
    int acc, extra = 0;
    const char *p;

    if (!mode)
        return EINVAL;
    switch (mode[0]) {
    case 'r': acc = O_RDONLY; break;
    case 'w': acc = O_WRONLY; extra = O_CREAT | O_TRUNC; break;
    case 'a': acc = O_WRONLY; extra = O_CREAT | O_APPEND; break;
    default: return EINVAL;
    }
    for (p = mode + 1; *p && *p != ','; p++) {
        if (*p == '+')
            acc = O_RDWR;
        else if (*p == 'x')
            extra |= O_EXCL;
        else if (*p == 'e')
            extra |= O_CLOEXEC;
    }
    *flags = acc | extra;
    return 0;
}

/* errno after a failed real call, never 0 (a short fwrite may not set it). */
static int errnoOr(int fallback)
{
    return errno ? errno : fallback;
}

/* The cookie of a write-intent FILE is its struct ptmSimFile. */

static ssize_t cookieRead(void *cookie, char *buf, size_t n)
{
    struct ptmSimFile *f = cookie;
    ssize_t r;

    if (f->fd < 0)
        return 0;
    /* The harmless descriptor's offset follows the simulated one. */
    while ((r = ptmOs.read(f->fd, buf, n)) < 0 && errno == EINTR)
        ;
    if (r > 0)
        f->offset += r;
    return r;
}

/* Simulates writing all n bytes, as stdio's flush loop would: a short
** write (at RLIMIT_FSIZE) is retried and then fails.  0 or an errno. */
static int simWriteAll(struct ptmSimFile *f, size_t n)
{
    ssize_t r;
    int err;

    while (n > 0) {
        if ((r = ptmSimWrite(f, n, &err)) < 0)
            return err;
        n -= (size_t)r;
    }
    return 0;
}

static ssize_t cookieWrite(void *cookie, const char *buf, size_t n)
{
    int err;
    (void)buf;
    if ((err = simWriteAll(cookie, n)) != 0) {
        errno = err;
        return -1;
    }
    return (ssize_t)n;
}

static int cookieSeek(void *cookie, off64_t *pos, int whence)
{
    struct ptmSimFile *f = cookie;
    off64_t base;

    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = f->offset; break;
    case SEEK_END: base = f->size; break;
    default: errno = EINVAL; return -1;
    }
    if (*pos < -base) {
        errno = EINVAL;
        return -1;
    }
    f->offset = base + *pos;
    if (f->fd >= 0)
        ptmOs.lseek(f->fd, f->offset, SEEK_SET); /* ours, read-only */
    *pos = f->offset;
    return 0;
}

static int cookieClose(void *cookie)
{
    ptmSimRemove(cookie, 1);
    return 0;
}

static const cookie_io_functions_t simIo = {
    .read = cookieRead, .write = cookieWrite, .seek = cookieSeek, .close = cookieClose,
};

/* fopen in a mirror.  OUT: *err.  The FILE, or NULL. */
static FILE *mirrorFopen(struct ptmMirror *m, const char *path, const char *mode, int *err)
{
    struct ptmSimFile *f;
    int flags;
    FILE *fp;

    if ((*err = modeFlags(mode, &flags)) != 0)
        return NULL;
    if ((*err = ptmSimOpen(m, path, flags, 0666, &f)) != 0)
        return NULL;
    if (f->kind == PTM_SIM_READONLY)
        fp = fdopen(f->fd, mode);
    else
        fp = fopencookie(f, mode, simIo);
    if (!fp) {
        *err = errno;
        ptmSimRemove(f, 1);
        return NULL;
    }
    f->fp = fp;
    return fp;
}

/*
** ptm_shim_fopen: fopen(3).  In a mirror: read-only opens are real; write
** intent is checked (EEXIST for "x", EACCES, ENOENT, EROFS, EISDIR...) and
** gives a FILE that writes nothing.
*/
FILE *ptm_shim_fopen(const char *restrict path, const char *restrict mode)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmEvent *ev;
    uint64_t t0;
    FILE *fp;
    int err;

    if (!m)
        return fopen(path, mode);
    t0 = ptmOsNowNs();
    fp = mirrorFopen(m, path, mode, &err);
    ev = ptmMirrorRecordCall(PTM_CALL_fopen, t0, path, fp ? 0 : -1, fp ? 0 : err, 0);
    if (ev) {
        ptmCopyField(ev->detail, sizeof ev->detail, mode);
        if (mode && strpbrk(mode, "wa+"))
            ev->flags |= PTM_EVF_EFFECT;
    }
    if (!fp)
        errno = err;
    return fp;
}

/* The event target naming stream. */
static void streamTarget(struct ptmMirror *m, FILE *stream, char *dst, size_t cap)
{
    struct ptmSimFile *f;
    int fd;

    if (stream == stdout)
        ptmCopyField(dst, cap, "stdout");
    else if (stream == stderr)
        ptmCopyField(dst, cap, "stderr");
    else if ((f = ptmSimFindFile(m, stream)) != NULL && f->path)
        ptmCopyField(dst, cap, f->path);
    else if (stream && (fd = fileno(stream)) >= 0)
        ptmShimFdTarget(m, fd, dst, cap);
    else
        ptmCopyField(dst, cap, "FILE");
}

/* The mirror's entry for stream, borrowing a host stream on first use.
** fileno() takes no lock, so a host thread holding the FILE's lock at the
** fork cannot deadlock the mirror.  OUT: *out.  0 or an errno. */
static int streamEntry(struct ptmMirror *m, FILE *stream, struct ptmSimFile **out)
{
    struct ptmSimFile *f;
    int err;

    *out = NULL;
    if (!stream)
        return EBADF;
    f = ptmSimFindFile(m, stream);
    if (!f && (err = ptmSimBorrow(m, fileno(stream), stream, &f)) != 0)
        return err;
    if (f->closed)
        return EBADF;
    *out = f;
    return 0;
}

/* A write of n bytes to a host stream: checked and simulated.  0 or an
** errno.  A stream without a descriptor cannot be checked: it succeeds. */
static int borrowedWrite(struct ptmSimFile *f, size_t n)
{
    if (f->fd < 0)
        return 0;
    return simWriteAll(f, n);
}

/* One formatted write in a mirror.  ap is consumed; *bytes is the length
** of the output.  Returns what vfprintf would. */
static int mirrorVfprintf(struct ptmMirror *m, FILE *stream, const char *fmt, va_list ap,
                          int *err, uint64_t *bytes)
{
    struct ptmSimFile *f;
    va_list aq;
    int len, r;

    *bytes = 0;
    if ((*err = streamEntry(m, stream, &f)) != 0)
        return -1;
    va_copy(aq, ap);
    len = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (len < 0) {
        *err = errno;
        return -1;
    }
    if (f->kind != PTM_SIM_BORROWED) {
        /* The mirror's own FILE: the real call cannot reach a disk. */
        errno = 0;
        r = vfprintf(stream, fmt, ap);
        *err = r < 0 ? errnoOr(EIO) : 0;
        *bytes = r < 0 ? 0 : (uint64_t)r;
        return r;
    }
    if ((*err = borrowedWrite(f, (size_t)len)) != 0)
        return -1;
    *bytes = (uint64_t)len;
    return len;
}

/* A write of n bytes of buf to stream in a mirror, as fwrite/fputs/fputc/
** puts do it.  real: performs it on the mirror's own FILE and returns 0 or
** an errno.  Returns 0 or an errno. */
static int mirrorPut(struct ptmMirror *m, FILE *stream, size_t n,
                     int (*real)(FILE *, const void *), const void *arg)
{
    struct ptmSimFile *f;
    int err;

    if ((err = streamEntry(m, stream, &f)) != 0)
        return err;
    if (f->kind != PTM_SIM_BORROWED)
        return real(stream, arg);
    return borrowedWrite(f, n);
}

/*
** ptm_shim_fprintf: fprintf(3).  In a mirror: the output's length is
** recorded; it goes to the mirror's own FILE or nowhere.
*/
int ptm_shim_fprintf(FILE *restrict stream, const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    uint64_t t0, bytes;
    va_list ap;
    int r, err;

    va_start(ap, fmt);
    if (!m) {
        r = vfprintf(stream, fmt, ap);
        va_end(ap);
        return r;
    }
    t0 = ptmOsNowNs();
    r = mirrorVfprintf(m, stream, fmt, ap, &err, &bytes);
    va_end(ap);
    streamTarget(m, stream, target, sizeof target);
    ptmMirrorRecordCall(PTM_CALL_fprintf, t0, target, r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

/*
** ptm_shim_printf: printf(3).  In a mirror: recorded, never written.
*/
int ptm_shim_printf(const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0, bytes;
    va_list ap;
    int r, err;

    va_start(ap, fmt);
    if (!m) {
        r = vprintf(fmt, ap);
        va_end(ap);
        return r;
    }
    t0 = ptmOsNowNs();
    r = mirrorVfprintf(m, stdout, fmt, ap, &err, &bytes);
    va_end(ap);
    ptmMirrorRecordCall(PTM_CALL_printf, t0, "stdout", r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

struct fwriteArgs {
    const void *buf;
    size_t size, n, done;
};

static int realFwrite(FILE *stream, const void *arg)
{
    struct fwriteArgs *a = (struct fwriteArgs *)arg;
    errno = 0;
    a->done = fwrite(a->buf, a->size, a->n, stream);
    return a->done == a->n ? 0 : errnoOr(EIO);
}

/*
** ptm_shim_fwrite: fwrite(3).  In a mirror: size*n bytes recorded; returns
** n, or 0 with errno set when the write would fail.
*/
size_t ptm_shim_fwrite(const void *restrict buf, size_t size, size_t n,
                       FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct fwriteArgs a = {buf, size, n, 0};
    char target[PTM_TARGET_MAX];
    size_t bytes;
    uint64_t t0;
    int err;

    if (!m)
        return fwrite(buf, size, n, stream);
    t0 = ptmOsNowNs();
    if (size == 0 || n == 0) {
        err = 0;
        bytes = 0;
    } else if (n > SIZE_MAX / size) {
        err = EOVERFLOW;
        bytes = 0;
    } else {
        bytes = size * n;
        err = mirrorPut(m, stream, bytes, realFwrite, &a);
        if (!err)
            a.done = n;
    }
    streamTarget(m, stream, target, sizeof target);
    ptmMirrorRecordCall(PTM_CALL_fwrite, t0, target, (int64_t)a.done, err,
               err ? 0 : (uint64_t)bytes);
    if (err)
        errno = err;
    return err ? a.done : (size == 0 ? 0 : n);
}

static int realFputs(FILE *stream, const void *s)
{
    errno = 0;
    return fputs(s, stream) == EOF ? errnoOr(EIO) : 0;
}

/*
** ptm_shim_fputs: fputs(3).  In a mirror: strlen(s) bytes recorded;
** returns 1 (as glibc does), or EOF with errno set.
*/
int ptm_shim_fputs(const char *restrict s, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    uint64_t t0;
    size_t len;
    int err;

    if (!m)
        return fputs(s, stream);
    t0 = ptmOsNowNs();
    len = s ? strlen(s) : 0;
    err = s ? mirrorPut(m, stream, len, realFputs, s) : EFAULT;
    streamTarget(m, stream, target, sizeof target);
    ptmMirrorRecordCall(PTM_CALL_fputs, t0, target, err ? EOF : 1, err, err ? 0 : len);
    if (err) {
        errno = err;
        return EOF;
    }
    return 1;
}

static int realFputc(FILE *stream, const void *c)
{
    errno = 0;
    return fputc(*(const int *)c, stream) == EOF ? errnoOr(EIO) : 0;
}

/*
** ptm_shim_fputc: fputc(3).  In a mirror: one byte recorded; returns c as
** an unsigned char, or EOF with errno set.
*/
int ptm_shim_fputc(int c, FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    uint64_t t0;
    int err;

    if (!m)
        return fputc(c, stream);
    t0 = ptmOsNowNs();
    err = mirrorPut(m, stream, 1, realFputc, &c);
    streamTarget(m, stream, target, sizeof target);
    ptmMirrorRecordCall(PTM_CALL_fputc, t0, target, err ? EOF : (unsigned char)c, err, err ? 0 : 1);
    if (err) {
        errno = err;
        return EOF;
    }
    return (unsigned char)c;
}

static int realPuts(FILE *stream, const void *s)
{
    (void)stream;
    errno = 0;
    return puts(s) == EOF ? errnoOr(EIO) : 0;
}

/*
** ptm_shim_puts: puts(3).  In a mirror: strlen(s)+1 bytes recorded;
** returns that count (glibc's), or EOF with errno set.
*/
int ptm_shim_puts(const char *s)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    size_t len;
    int err, r;

    if (!m)
        return puts(s);
    t0 = ptmOsNowNs();
    len = s ? strlen(s) + 1 : 0;
    err = s ? mirrorPut(m, stdout, len, realPuts, s) : EFAULT;
    r = err ? EOF : (len > INT_MAX ? INT_MAX : (int)len);
    ptmMirrorRecordCall(PTM_CALL_puts, t0, "stdout", r, err, err ? 0 : len);
    if (err)
        errno = err;
    return r;
}

/*
** ptm_shim_fclose: fclose(3).  In a mirror: the mirror's own FILE is
** closed for real (its buffer flushes into the simulation, so a predicted
** ENOSPC or EFBIG shows here, as it would); a host FILE is only marked
** closed: no flush, no close.
*/
int ptm_shim_fclose(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimFile *f;
    char target[PTM_TARGET_MAX];
    uint64_t t0;
    int err, r = 0;

    if (!m)
        return fclose(stream);
    t0 = ptmOsNowNs();
    streamTarget(m, stream, target, sizeof target);
    err = streamEntry(m, stream, &f);
    if (!err) {
        if (f->kind == PTM_SIM_WRITE) {
            errno = 0;
            r = fclose(stream);             /* the cookie's close frees f */
            err = r ? errnoOr(EIO) : 0;
        } else if (f->kind == PTM_SIM_READONLY) {
            ptmSimRemove(f, 0);             /* fclose closes the descriptor */
            errno = 0;
            r = fclose(stream);
            err = r ? errnoOr(EIO) : 0;
        } else {
            f->closed = 1;
        }
    }
    if (err && !r)
        r = EOF;
    ptmMirrorRecordCall(PTM_CALL_fclose, t0, target, r, err, 0);
    if (err)
        errno = err;
    return r;
}
