/*
** shims/stdio.c - stdio in a mirror: fopen fdopen freopen fclose fflush
** fwrite fputs fputc putc putchar puts fprintf printf vfprintf vprintf
** dprintf fread fgets fgetc getc getchar fscanf scanf vfscanf fseek ftell
** rewind feof ferror clearerr fileno ungetc setvbuf setbuf getline getdelim
** fseeko ftello fgetpos fsetpos perror, and the _unlocked forms.
**
** Outside a mirror each shim is exactly the real call.  In a mirror:
**
**   - A FILE the mirror makes (fopen, fdopen) is a fopencookie() stream
**     over a simulated descriptor (shims/sim.c): its buffering is the real
**     one, so a full disk shows where it would for real -- at the flush --
**     and every stdio call on it, shimmed or not (fflush, ungetc, feof),
**     is real and harmless: its writes go to the mirror's overlay, its reads
**     come from the overlay over the real file.  setvbuf gives it stdio's
**     own buffer, never the caller's (which may be host memory).  fileno()
**     of such a FILE is the descriptor the mirror opened under it (the
**     cookie stream itself has none).
**   - A FILE the mirror did not make (stdin, stdout, stderr, a FILE the
**     host passed in) is never touched: no call that locks it, moves it,
**     fills or flushes its buffer.  Writes are checked against the
**     descriptor under it at once, as though the FILE were unbuffered, and
**     go to the overlay at the FILE's position in the mirror's view (which
**     starts where the host's is: the descriptor's offset, less what the
**     FILE has read ahead, plus what it has buffered to write).  Reads go
**     through a private "shadow" stream: for a regular file it reads the
**     overlay at that position; for a pipe or a terminal it returns the
**     bytes the host's FILE had already buffered and then what a read of
**     the descriptor would (end of file, EAGAIN when non-blocking, a
**     recorded response for a socket) -- the host's unread input is never
**     consumed.  fclose is simulated; later use fails with EBADF.  Its
**     end-of-file and error indicators, too, are the mirror's view: the
**     host's when the mirror began, then what the mirror's own reads and
**     writes met, cleared by the mirror's clearerr, fseek, rewind; ungetc
**     pushes back onto the shadow, setvbuf leaves the FILE as it is.
**   - freopen checks the new path like fopen and makes the stream name it
**     (handled as above, as a FILE the mirror does not own), without
**     touching the old FILE beyond flushing the mirror's own buffer.
**
** Events: target "stdout", "stderr", "stdin", the path the mirror opened
** the FILE with, or "fd N"; bytes, the count the call writes (or reads);
** result, the call's return value (for fopen-like calls: 0, or -1 for
** NULL).  Reads without an error merge into one event per run of calls.
** feof, ferror, clearerr, fileno, ungetc and setvbuf record nothing: they
** neither move a byte nor make a system call.
** Depends on glibc for the read-ahead of host FILEs (_IO_read_ptr and
** friends); elsewhere the descriptor's offset is taken as the position.
**
** The family's files: stdio_stream.c (the cookies, the table of FILEs,
** their release), stdio_read.c (reads, positions, lines, fgetpos and
** fsetpos) and this file (opens, writes, the stream's state, perror, the
** _unlocked forms).
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shims_int.h"

/* ----------------------------------------------------------------- opens */

/* fopen in a mirror.  OUT: *err.  The FILE, or NULL. */
static FILE *mirrorFopen(struct ptmMirror *m, const char *path, const char *mode, int *err)
{
    struct ptmSimFile *f;
    FILE *fp;
    int flags;

    if ((*err = ptmStdioModeFlags(mode, &flags)) != 0)
        return NULL;
    if ((*err = ptmSimOpen(m, AT_FDCWD, path, flags, 0666, &f)) != 0)
        return NULL;
    if (!(fp = ptmStdioMakeStream(m, f, mode, err)))
        ptmSimRemove(f);
    return fp;
}

static void recordOpen(enum ptmCall call, uint64_t t0, const char *target, FILE *fp, int err,
                       const char *mode)
{
    struct ptmEvent *ev = ptmMirrorRecordCall(call, t0, target, fp ? 0 : -1, fp ? 0 : err, 0);
    if (ev) {
        ptmCopyField(ev->detail, sizeof ev->detail, mode);
        if (mode && strpbrk(mode, "wa+"))
            ev->flags |= PTM_EVF_EFFECT;
    }
}

/*
** ptm_shim_fopen: fopen(3).  In a mirror: checked like open(2) (EEXIST for
** "x", EACCES, ENOENT, EROFS, EISDIR, EINVAL for a bad mode) and gives a
** FILE that reads the file as the mirror sees it and writes nothing.
*/
FILE *ptm_shim_fopen(const char *restrict path, const char *restrict mode)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0;
    FILE *fp;
    int err;

    if (!m)
        return fopen(path, mode);
    t0 = ptmOsNowNs();
    fp = mirrorFopen(m, path, mode, &err);
    recordOpen(PTM_CALL_fopen, t0, path, fp, err, mode);
    if (!fp)
        errno = err;
    return fp;
}

/*
** ptm_shim_fdopen: fdopen(3).  In a mirror: a FILE over the mirror's entry
** for fd (its own, or the host's, borrowed): EBADF, EINVAL when the mode
** asks for access the descriptor lacks.  Writes are simulated; fclose of
** it closes the descriptor in simulation.
*/
FILE *ptm_shim_fdopen(int fd, const char *mode)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimFile *f;
    uint64_t t0;
    FILE *fp = NULL;
    int err, flags, acc;

    if (!m)
        return fdopen(fd, mode);
    t0 = ptmOsNowNs();
    err = ptmStdioModeFlags(mode, &flags);
    if (!err)
        err = ptmSimEntry(m, fd, &f);
    if (!err) {
        acc = f->flags & O_ACCMODE;
        if (((flags & O_ACCMODE) != O_WRONLY && acc == O_WRONLY) ||
            ((flags & O_ACCMODE) != O_RDONLY && acc == O_RDONLY))
            err = EINVAL;
    }
    if (!err && (fp = ptmStdioMakeStream(m, f, mode, &err)) != NULL && (flags & O_APPEND))
        f->flags |= O_APPEND;               /* glibc sets it on the descriptor */
    ptmShimFdTarget(m, fd, target, sizeof target);
    recordOpen(PTM_CALL_fdopen, t0, target, fp, err, mode);
    if (!fp)
        errno = err;
    return fp;
}

/*
** ptm_shim_freopen: freopen(3).  In a mirror: path is checked like fopen;
** on success stream names the new file in the mirror's view (the real FILE
** is not reopened: its buffer was flushed into the simulation if the
** mirror made it, and is untouched if the host did); on failure the stream
** is closed, as the real call leaves it.  A NULL path (a mode change) is
** simulated as a success.
*/
FILE *ptm_shim_freopen(const char *restrict path, const char *restrict mode,
                       FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimStream *s;
    struct ptmSimFile *nf = NULL;
    uint64_t t0;
    int err, flags;

    if (!m)
        return freopen(path, mode, stream);
    t0 = ptmOsNowNs();
    ptmStdioStreamTarget(m, stream, target, sizeof target);
    err = ptmStdioStreamFor(m, stream, &s);
    if (!err && (err = ptmStdioModeFlags(mode, &flags)) == 0 && path)
        err = ptmSimOpen(m, AT_FDCWD, path, flags, 0666, &nf);
    if (!err && path) {
        if (s->made && !s->simio) {
            fflush(stream);                 /* into the simulation */
            s->detached = 1;
        }
        if (s->shadow) {
            fclose(s->shadow);
            s->shadow = NULL;
        }
        free(s->pending);
        s->pending = NULL;
        s->npending = s->ipending = 0;
        ptmStdioReleaseEntry(s);
        s->f = nf;
        nf->streams++;
        s->simio = 1;
        s->eof = s->error = 0;
        s->pos = (flags & O_APPEND) ? ptmSimSize(nf) : 0;
        if (s->pos < 0)
            s->pos = 0;
    } else if (err && s) {
        s->closed = 1;
    }
    recordOpen(PTM_CALL_freopen, t0, path ? path : target, err ? NULL : stream, err, mode);
    if (err) {
        errno = err;
        return NULL;
    }
    return stream;
}

/*
** ptm_shim_fclose: fclose(3).  In a mirror: the mirror's own FILE is
** closed for real (its buffer flushes into the simulation, so a predicted
** ENOSPC or EFBIG shows here, as it would); a host FILE is only marked
** closed: no flush, no close.  EOF with EBADF when closed already.
*/
int ptm_shim_fclose(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    char target[PTM_TARGET_MAX];
    struct ptmSimStream *s;
    uint64_t t0;
    int err, r = 0;

    if (!m)
        return fclose(stream);
    t0 = ptmOsNowNs();
    ptmStdioStreamTarget(m, stream, target, sizeof target);
    err = ptmStdioStreamFor(m, stream, &s);
    if (!err) {
        if (s->made && !s->simio) {
            errno = 0;
            r = fclose(stream);             /* the cookie's close drops the entry */
            err = r ? ptmStdioErrnoOr(EIO) : 0;
            s->made = 0;
            ptmStdioStreamFree(m, s);
        } else {
            if (s->made && s->simio)
                ptmStdioReleaseEntry(s);            /* freopen'd: the new file is closed */
            else if (s->f && s->f->kind == PTM_SIM_BORROWED)
                s->f->closed = 1;           /* fclose closes the descriptor too */
            s->closed = 1;
        }
    }
    if (err && !r)
        r = EOF;
    ptmMirrorRecordCall(PTM_CALL_fclose, t0, target, r, err, 0);
    if (err)
        errno = err;
    return r;
}

/* fflush, fflush_unlocked in a mirror, recorded as call. */
static int mirrorFflush(struct ptmMirror *m, enum ptmCall call, FILE *stream)
{
    char target[PTM_TARGET_MAX];
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    int err = 0, r = 0;

    if (!stream) {
        ptmCopyField(target, sizeof target, "all");
        for (s = ptmShimStateOf(m)->streams; s; s = s->next) {
            if (s->made && !s->simio && !s->closed) {
                errno = 0;
                if (fflush(s->fp) != 0) {
                    r = EOF;
                    err = ptmStdioErrnoOr(EIO);
                }
            }
        }
    } else {
        ptmStdioStreamTarget(m, stream, target, sizeof target);
        if ((err = ptmStdioStreamFor(m, stream, &s)) == 0 && s->made && !s->simio) {
            errno = 0;
            if ((r = fflush(stream)) != 0)
                err = ptmStdioErrnoOr(EIO);
        }
        if (err)
            r = EOF;
    }
    ptmMirrorRecordCall(call, t0, target, r, err, 0);
    if (err)
        errno = err;
    return r;
}

/*
** ptm_shim_fflush: fflush(3).  In a mirror: the mirror's own FILE flushes
** into the simulation (its errors are the predicted ones); a host FILE is
** not flushed (its pending bytes were never the mirror's); NULL flushes the
** mirror's own FILEs only.
*/
int ptm_shim_fflush(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFflush(m, PTM_CALL_fflush, stream) : fflush(stream);
}

/* ----------------------------------------------------------------- writes */

/* A put of n bytes of buf to stream in a mirror, as fwrite/fputs/fputc/
** puts do it.  real: performs it on the mirror's own FILE and returns 0 or
** an errno.  Returns 0 or an errno. */
static int mirrorPut(struct ptmMirror *m, FILE *stream, const void *buf, size_t n,
                     int (*real)(FILE *, const void *), const void *arg)
{
    struct ptmSimStream *s;
    int err;

    if ((err = ptmStdioStreamFor(m, stream, &s)) != 0)
        return err;
    if (!s->simio)
        return real(stream, arg);
    return ptmStdioSimioWrite(s, buf, n);
}

static void recordWrite(struct ptmMirror *m, enum ptmCall call, uint64_t t0, FILE *stream,
                        int64_t result, int err, uint64_t bytes)
{
    char target[PTM_TARGET_MAX];
    struct ptmEvent *ev;

    ptmStdioStreamTarget(m, stream, target, sizeof target);
    ev = ptmMirrorRecordCall(call, t0, target, result, err, err ? 0 : bytes);
    ptmShimNoteSignal(ev, err, 0);
}

/* One formatted write in a mirror.  ap is consumed; *bytes is the length
** of the output.  Returns what vfprintf would. */
static int mirrorVfprintf(struct ptmMirror *m, FILE *stream, const char *fmt, va_list ap,
                          int *err, uint64_t *bytes)
{
    struct ptmSimStream *s;
    char small[1024], *buf = small;
    va_list aq;
    int len, r;

    *bytes = 0;
    ptmFormatCheck(fmt);
    if ((*err = ptmStdioStreamFor(m, stream, &s)) != 0)
        return -1;
    if (!fmt) {
        *err = EINVAL;
        return -1;
    }
    if (!s->simio) {
        /* The mirror's own FILE: the real call cannot reach a disk. */
        errno = 0;
        r = vfprintf(stream, fmt, ap);
        *err = r < 0 ? ptmStdioErrnoOr(EIO) : 0;
        *bytes = r < 0 ? 0 : (uint64_t)r;
        return r;
    }
    va_copy(aq, ap);
    len = vsnprintf(small, sizeof small, fmt, aq);
    va_end(aq);
    if (len < 0) {
        *err = ptmStdioErrnoOr(EINVAL);
        return -1;
    }
    if ((size_t)len >= sizeof small) {
        if (!(buf = malloc((size_t)len + 1))) {
            *err = ENOMEM;
            return -1;
        }
        vsnprintf(buf, (size_t)len + 1, fmt, ap);
    }
    *err = ptmStdioSimioWrite(s, buf, (size_t)len);
    if (buf != small)
        free(buf);
    if (*err)
        return -1;
    *bytes = (uint64_t)len;
    return len;
}

/*
** ptm_shim_vfprintf: vfprintf(3).  In a mirror: the output goes to the
** mirror's own FILE, or, checked, to the overlay for a host FILE; its
** length is recorded.
*/
int ptm_shim_vfprintf(FILE *restrict stream, const char *restrict fmt, va_list ap)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0, bytes;
    int r, err;

    if (!m)
        return vfprintf(stream, fmt, ap);
    t0 = ptmOsNowNs();
    r = mirrorVfprintf(m, stream, fmt, ap, &err, &bytes);
    recordWrite(m, PTM_CALL_vfprintf, t0, stream, r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

/*
** ptm_shim_fprintf: fprintf(3), as ptm_shim_vfprintf.
*/
int ptm_shim_fprintf(FILE *restrict stream, const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
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
    recordWrite(m, PTM_CALL_fprintf, t0, stream, r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

/*
** ptm_shim_vprintf: vprintf(3).  In a mirror: recorded against stdout,
** never written.
*/
int ptm_shim_vprintf(const char *restrict fmt, va_list ap)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0, bytes;
    int r, err;

    if (!m)
        return vprintf(fmt, ap);
    t0 = ptmOsNowNs();
    r = mirrorVfprintf(m, stdout, fmt, ap, &err, &bytes);
    recordWrite(m, PTM_CALL_vprintf, t0, stdout, r, err, bytes);
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
    recordWrite(m, PTM_CALL_printf, t0, stdout, r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

/* mirrorVdprintf: dprintf in a mirror, recorded as call: formatted and
** written to the mirror's entry for fd (simulated, as ptm_shim_write). */
static int mirrorVdprintf(struct ptmMirror *m, unsigned call, int fd, const char *fmt,
                          va_list ap)
{
    char target[PTM_TARGET_MAX], small[1024], *buf = small;
    struct ptmSimFile *f;
    struct ptmEvent *ev;
    uint64_t t0 = ptmOsNowNs();
    int len = -1;
    ptmFormatCheck(fmt);
    int err = fmt ? ptmSimEntry(m, fd, &f) : EINVAL;
    if (!err) {
        va_list aq;
        va_copy(aq, ap);
        len = vsnprintf(small, sizeof small, fmt, aq);
        va_end(aq);
        if (len < 0)
            err = ptmStdioErrnoOr(EINVAL);
        else if ((size_t)len >= sizeof small && !(buf = malloc((size_t)len + 1)))
            err = ENOMEM;
        else if (buf != small)
            vsnprintf(buf, (size_t)len + 1, fmt, ap);
        if (!err)
            err = ptmStdioSimWriteAll(f, buf, (size_t)len);
        if (buf != small)
            free(buf);
    }
    if (err)
        len = -1;
    ptmShimFdTarget(m, fd, target, sizeof target);
    ev = ptmMirrorRecordCall(call, t0, target, len, err, err ? 0 : (uint64_t)len);
    ptmShimNoteSignal(ev, err, 0);
    if (err)
        errno = err;
    return len;
}

/*
** ptm_shim_dprintf: dprintf(3).  In a mirror: formatted and written to the
** mirror's entry for fd (simulated, as ptm_shim_write).
*/
int ptm_shim_dprintf(int fd, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = ptmMirrorCurrent ? mirrorVdprintf(ptmMirrorCurrent, PTM_CALL_dprintf, fd, fmt, ap)
                               : vdprintf(fd, fmt, ap);
    va_end(ap);
    return len;
}

/*
** The fortified printf family.  With _FORTIFY_SOURCE=2, glibc makes printf,
** fprintf and dprintf macros for these when the compiler (clang) lacks
** __va_arg_pack, so a mirror's printf arrives here.  Outside a mirror they
** are glibc's own checked calls; in a mirror, the shims above (the check
** flag changes nothing the simulation does).
*/
int ptm_shim___fprintf_chk(FILE *restrict stream, int flag, const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0, bytes;
    va_list ap;
    int r, err;

    va_start(ap, fmt);
    if (!m) {
        r = __vfprintf_chk(stream, flag, fmt, ap);
        va_end(ap);
        return r;
    }
    t0 = ptmOsNowNs();
    r = mirrorVfprintf(m, stream, fmt, ap, &err, &bytes);
    va_end(ap);
    recordWrite(m, PTM_CALL___fprintf_chk, t0, stream, r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

int ptm_shim___printf_chk(int flag, const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    uint64_t t0, bytes;
    va_list ap;
    int r, err;

    va_start(ap, fmt);
    if (!m) {
        r = __vfprintf_chk(stdout, flag, fmt, ap);
        va_end(ap);
        return r;
    }
    t0 = ptmOsNowNs();
    r = mirrorVfprintf(m, stdout, fmt, ap, &err, &bytes);
    va_end(ap);
    recordWrite(m, PTM_CALL___printf_chk, t0, stdout, r, err, bytes);
    if (r < 0)
        errno = err;
    return r;
}

int ptm_shim___dprintf_chk(int fd, int flag, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = ptmMirrorCurrent
                  ? mirrorVdprintf(ptmMirrorCurrent, PTM_CALL___dprintf_chk, fd, fmt, ap)
                  : __vdprintf_chk(fd, flag, fmt, ap);
    va_end(ap);
    return len;
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
    return a->done == a->n ? 0 : ptmStdioErrnoOr(EIO);
}

/* fwrite, fwrite_unlocked in a mirror, recorded as call. */
static size_t mirrorFwrite(struct ptmMirror *m, enum ptmCall call, const void *buf, size_t size,
                           size_t n, FILE *stream)
{
    struct fwriteArgs a = {buf, size, n, 0};
    size_t bytes = 0;
    uint64_t t0 = ptmOsNowNs();
    int err = 0;

    if (size == 0 || n == 0) {
        err = stream ? 0 : EBADF;
    } else if (n > SIZE_MAX / size) {
        err = EOVERFLOW;
    } else {
        bytes = size * n;
        a.buf = ptmRedoIn(buf, bytes);
        err = mirrorPut(m, stream, a.buf, bytes, realFwrite, &a);
        if (!err)
            a.done = n;
    }
    recordWrite(m, call, t0, stream, (int64_t)a.done, err, bytes);
    if (err)
        errno = err;
    return err ? a.done : (size == 0 ? 0 : n);
}

/*
** ptm_shim_fwrite: fwrite(3).  In a mirror: size*n bytes recorded; returns
** n, or fewer with errno set when the write would fail.
*/
size_t ptm_shim_fwrite(const void *restrict buf, size_t size, size_t n, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFwrite(m, PTM_CALL_fwrite, buf, size, n, stream)
             : fwrite(buf, size, n, stream);
}

static int realFputs(FILE *stream, const void *s)
{
    errno = 0;
    return fputs(s, stream) == EOF ? ptmStdioErrnoOr(EIO) : 0;
}

/* fputs, fputs_unlocked in a mirror, recorded as call. */
static int mirrorFputs(struct ptmMirror *m, enum ptmCall call, const char *s, FILE *stream)
{
    uint64_t t0 = ptmOsNowNs();
    size_t len = s ? strlen(s) : 0;
    int err = s ? mirrorPut(m, stream, s, len, realFputs, s) : EFAULT;

    recordWrite(m, call, t0, stream, err ? EOF : 1, err, len);
    if (err) {
        errno = err;
        return EOF;
    }
    return 1;
}

/*
** ptm_shim_fputs: fputs(3).  In a mirror: strlen(s) bytes recorded;
** returns 1 (as glibc does), or EOF with errno set.
*/
int ptm_shim_fputs(const char *restrict s, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFputs(m, PTM_CALL_fputs, s, stream) : fputs(s, stream);
}

static int realFputc(FILE *stream, const void *c)
{
    errno = 0;
    return fputc(*(const int *)c, stream) == EOF ? ptmStdioErrnoOr(EIO) : 0;
}

/* fputc, putc, putchar in a mirror. */
static int mirrorPutc(struct ptmMirror *m, enum ptmCall call, int c, FILE *stream)
{
    unsigned char byte = (unsigned char)c;
    uint64_t t0 = ptmOsNowNs();
    int err = mirrorPut(m, stream, &byte, 1, realFputc, &c);

    recordWrite(m, call, t0, stream, err ? EOF : byte, err, 1);
    if (err) {
        errno = err;
        return EOF;
    }
    return byte;
}

/*
** ptm_shim_fputc: fputc(3).  In a mirror: one byte recorded; returns c as
** an unsigned char, or EOF with errno set.
*/
int ptm_shim_fputc(int c, FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorPutc(m, PTM_CALL_fputc, c, stream) : fputc(c, stream);
}

/*
** ptm_shim_putc: putc(3), as ptm_shim_fputc.
*/
int ptm_shim_putc(int c, FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorPutc(m, PTM_CALL_putc, c, stream) : putc(c, stream);
}

/*
** ptm_shim_putchar: putchar(3), as ptm_shim_fputc on stdout.
*/
int ptm_shim_putchar(int c)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorPutc(m, PTM_CALL_putchar, c, stdout) : putchar(c);
}

struct putsArgs {
    const char *s;
};

static int realPuts(FILE *stream, const void *arg)
{
    (void)stream;
    errno = 0;
    return puts(((const struct putsArgs *)arg)->s) == EOF ? ptmStdioErrnoOr(EIO) : 0;
}

/*
** ptm_shim_puts: puts(3).  In a mirror: strlen(s)+1 bytes recorded;
** returns that count (glibc's), or EOF with errno set.
*/
int ptm_shim_puts(const char *s)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimStream *st;
    struct putsArgs a = {s};
    char *line = NULL;
    uint64_t t0;
    size_t len;
    int err, r;

    if (!m)
        return puts(s);
    t0 = ptmOsNowNs();
    len = s ? strlen(s) + 1 : 0;
    if (!s) {
        err = EFAULT;
    } else if ((err = ptmStdioStreamFor(m, stdout, &st)) == 0 && st->simio) {
        /* The line and its newline, in one write. */
        if (!(line = malloc(len)))
            err = ENOMEM;
        else {
            memcpy(line, s, len - 1);
            line[len - 1] = '\n';
            err = ptmStdioSimioWrite(st, line, len);
            free(line);
        }
    } else if (!err) {
        err = realPuts(stdout, &a);
    }
    r = err ? EOF : (len > INT_MAX ? INT_MAX : (int)len);
    recordWrite(m, PTM_CALL_puts, t0, stdout, r, err, len);
    if (err)
        errno = err;
    return r;
}

/* ------------------------------------------------------ stream state */

/* feof, ferror in a mirror: the indicator in the mirror's view.  No event:
** the answer is the process's own memory, and a `while (!feof(f))` loop
** would otherwise add an unmergeable event per line.  A stream the mirror
** closed answers 0. */
static int mirrorIndicator(struct ptmMirror *m, FILE *stream, int error)
{
    struct ptmSimStream *s;

    if (ptmStdioStreamFor(m, stream, &s) != 0)
        return 0;
    if (!s->simio)
        return error ? ferror(stream) : feof(stream);
    if (error ? s->error : s->eof)
        return 1;
    return s->shadow && (error ? ferror(s->shadow) : feof(s->shadow));
}

/*
** ptm_shim_feof: feof(3).  In a mirror: the mirror's own FILE's indicator;
** for a host FILE, the mirror's view of it: the host's indicator when the
** mirror began, then what the mirror's reads through the shadow met,
** cleared by its clearerr, fseek, rewind.  Records nothing.
*/
int ptm_shim_feof(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorIndicator(m, stream, 0) : feof(stream);
}

/*
** ptm_shim_ferror: ferror(3), as ptm_shim_feof; in the mirror's view a
** host FILE's error indicator is also set by a write that would fail.
*/
int ptm_shim_ferror(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorIndicator(m, stream, 1) : ferror(stream);
}

/* clearerr in a mirror. */
static void mirrorClearerr(struct ptmMirror *m, FILE *stream)
{
    struct ptmSimStream *s;

    if (ptmStdioStreamFor(m, stream, &s) != 0)
        return;
    if (!s->simio)
        clearerr(stream);
    else
        ptmStdioClearView(s);
}

/*
** ptm_shim_clearerr: clearerr(3).  In a mirror: the mirror's own FILE's
** indicators are cleared; a host FILE's in the mirror's view only (the
** host's FILE is not written).  Records nothing.
*/
void ptm_shim_clearerr(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (m)
        mirrorClearerr(m, stream);
    else
        clearerr(stream);
}

/* fileno in a mirror. */
static int mirrorFileno(struct ptmMirror *m, FILE *stream)
{
    struct ptmSimStream *s;
    int err = ptmStdioStreamFor(m, stream, &s);

    if (!err && s->f && !s->f->closed)
        return s->f->fd;
    if (!err && !s->made && !s->f)
        return fileno(stream);              /* a host FILE without a descriptor: -1 */
    errno = err ? err : EBADF;
    return -1;
}

/*
** ptm_shim_fileno: fileno(3).  In a mirror: the descriptor the mirror's
** shims know the FILE by -- a host FILE's own, the one the mirror opened
** for its own FILE (so that fstat(fileno(f)) and the like work in the
** mirror's world) -- or -1 with EBADF for a FILE the mirror closed.
** Records nothing.
*/
int ptm_shim_fileno(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFileno(m, stream) : fileno(stream);
}

/*
** ptm_shim_ungetc: ungetc(3).  In a mirror: pushed back onto the mirror's
** own FILE, or onto a host FILE's shadow (whose next read returns it; the
** position in the mirror's view steps back, and its end-of-file indicator
** is cleared); the host's FILE is never written.  EOF for c == EOF or a
** stream the mirror closed.  Records nothing: no byte moves.
*/
int ptm_shim_ungetc(int c, FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimStream *s;
    FILE *in;
    int err, r;

    if (!m)
        return ungetc(c, stream);
    if (!(in = ptmStdioReadStream(m, stream, &s, &err))) {
        errno = err;
        return EOF;
    }
    r = ungetc(c, in);
    if (s->simio && r != EOF) {
        s->eof = 0;
        ptmStdioShadowDone(s);
    }
    return r;
}

/* setvbuf in a mirror. */
static int mirrorSetvbuf(struct ptmMirror *m, FILE *stream, int mode, size_t size)
{
    struct ptmSimStream *s;
    int err;

    if ((err = ptmStdioStreamFor(m, stream, &s)) == 0 && mode != _IOFBF && mode != _IOLBF &&
        mode != _IONBF)
        err = EINVAL;
    if (!err && !s->simio && setvbuf(stream, NULL, mode, size) != 0)
        err = ptmStdioErrnoOr(EINVAL);
    if (err) {
        errno = err;
        return EOF;
    }
    return 0;
}

/*
** ptm_shim_setvbuf: setvbuf(3).  In a mirror: the mirror's own FILE takes
** the mode with a buffer of stdio's (never buf: the FILE outlives the
** mirror's frames until the mirror ends, and buf may be host memory); a
** host FILE is not changed (the mirror writes it as though unbuffered
** anyway): 0, or EOF with EINVAL for a bad mode, EBADF for a stream the
** mirror closed.  Records nothing.
*/
int ptm_shim_setvbuf(FILE *restrict stream, char *restrict buf, int mode, size_t size)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorSetvbuf(m, stream, mode, size) : setvbuf(stream, buf, mode, size);
}

/*
** ptm_shim_setbuf: setbuf(3), as ptm_shim_setvbuf(stream, buf, buf ?
** _IOFBF : _IONBF, BUFSIZ).
*/
void ptm_shim_setbuf(FILE *restrict stream, char *restrict buf)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (m)
        (void)mirrorSetvbuf(m, stream, buf ? _IOFBF : _IONBF, BUFSIZ);
    else
        setbuf(stream, buf);
}

/* ----------------------------------------------------------------- perror */

/*
** ptm_shim_perror: perror(3).  In a mirror: "s: message\n" (or "message\n"
** for a NULL or empty s) written as fputs to stderr is: checked, recorded
** against stderr, never printed.  errno is left as it was unless the write
** would fail.
*/
void ptm_shim_perror(const char *s)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    int saved = errno, err, n;
    char msg[1024], why[256];
    uint64_t t0;

    if (!m) {
        perror(s);
        return;
    }
    t0 = ptmOsNowNs();
    n = snprintf(msg, sizeof msg, "%s%s%s\n", s && *s ? s : "", s && *s ? ": " : "",
                 strerror_r(saved, why, sizeof why));
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = (int)sizeof msg - 1;
    err = mirrorPut(m, stderr, msg, (size_t)n, realFputs, msg);
    recordWrite(m, PTM_CALL_perror, t0, stderr, err ? -1 : n, err, (uint64_t)n);
    errno = err ? err : saved;
}

/* ----------------------------------------------------- the _unlocked forms */

/* A mirror never takes a host FILE's lock, and its own FILEs are its
** thread's: each _unlocked form is the shim above under its own name. */

/* ptm_shim_getc_unlocked: getc_unlocked(3), as ptm_shim_getc. */
int ptm_shim_getc_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorGetc(m, PTM_CALL_getc_unlocked, stream) : getc_unlocked(stream);
}

/* ptm_shim_getchar_unlocked: getchar_unlocked(3), as ptm_shim_getchar. */
int ptm_shim_getchar_unlocked(void)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorGetc(m, PTM_CALL_getchar_unlocked, stdin) : getchar_unlocked();
}

/* ptm_shim_fgetc_unlocked: fgetc_unlocked(3), as ptm_shim_fgetc. */
int ptm_shim_fgetc_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorGetc(m, PTM_CALL_fgetc_unlocked, stream) : fgetc_unlocked(stream);
}

/* ptm_shim_fgets_unlocked: fgets_unlocked(3), as ptm_shim_fgets. */
char *ptm_shim_fgets_unlocked(char *restrict line, int n, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorFgets(m, PTM_CALL_fgets_unlocked, line, n, stream)
             : fgets_unlocked(line, n, stream);
}

/* ptm_shim_fread_unlocked: fread_unlocked(3), as ptm_shim_fread. */
size_t ptm_shim_fread_unlocked(void *restrict buf, size_t size, size_t n, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorFread(m, PTM_CALL_fread_unlocked, buf, size, n, stream)
             : (fread_unlocked)(buf, size, n, stream);
}

/* ptm_shim_putc_unlocked: putc_unlocked(3), as ptm_shim_putc. */
int ptm_shim_putc_unlocked(int c, FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorPutc(m, PTM_CALL_putc_unlocked, c, stream) : putc_unlocked(c, stream);
}

/* ptm_shim_putchar_unlocked: putchar_unlocked(3), as ptm_shim_putchar. */
int ptm_shim_putchar_unlocked(int c)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorPutc(m, PTM_CALL_putchar_unlocked, c, stdout) : putchar_unlocked(c);
}

/* ptm_shim_fputc_unlocked: fputc_unlocked(3), as ptm_shim_fputc. */
int ptm_shim_fputc_unlocked(int c, FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorPutc(m, PTM_CALL_fputc_unlocked, c, stream) : fputc_unlocked(c, stream);
}

/* ptm_shim_fputs_unlocked: fputs_unlocked(3), as ptm_shim_fputs. */
int ptm_shim_fputs_unlocked(const char *restrict s, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFputs(m, PTM_CALL_fputs_unlocked, s, stream) : fputs_unlocked(s, stream);
}

/* ptm_shim_fwrite_unlocked: fwrite_unlocked(3), as ptm_shim_fwrite. */
size_t ptm_shim_fwrite_unlocked(const void *restrict buf, size_t size, size_t n,
                                FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFwrite(m, PTM_CALL_fwrite_unlocked, buf, size, n, stream)
             : (fwrite_unlocked)(buf, size, n, stream);
}

/* ptm_shim_fflush_unlocked: fflush_unlocked(3), as ptm_shim_fflush. */
int ptm_shim_fflush_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFflush(m, PTM_CALL_fflush_unlocked, stream) : fflush_unlocked(stream);
}

/* ptm_shim_feof_unlocked: feof_unlocked(3), as ptm_shim_feof. */
int ptm_shim_feof_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorIndicator(m, stream, 0) : feof_unlocked(stream);
}

/* ptm_shim_ferror_unlocked: ferror_unlocked(3), as ptm_shim_ferror. */
int ptm_shim_ferror_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorIndicator(m, stream, 1) : ferror_unlocked(stream);
}

/* ptm_shim_clearerr_unlocked: clearerr_unlocked(3), as ptm_shim_clearerr. */
void ptm_shim_clearerr_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (m)
        mirrorClearerr(m, stream);
    else
        clearerr_unlocked(stream);
}

/* ptm_shim_fileno_unlocked: fileno_unlocked(3), as ptm_shim_fileno. */
int ptm_shim_fileno_unlocked(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorFileno(m, stream) : fileno_unlocked(stream);
}
