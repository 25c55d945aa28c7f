/*
** shims/stdio_stream.c - the FILEs of a mirror: the cookies that put a
** FILE the mirror makes over a simulated descriptor, the table of the
** FILEs it used (struct ptmSimStream), and their release when it ends.
**
** Part of the stdio family: see stdio.c for the whole.
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

/* fopen's mode as open(2) flags.  OUT: *flags.  0 or EINVAL. */
int ptmStdioModeFlags(const char *mode, int *flags)
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
int ptmStdioErrnoOr(int fallback)
{
    return errno ? errno : fallback;
}

/* ptmStdioRegular: whether s is over a regular file's descriptor. */
int ptmStdioRegular(const struct ptmSimStream *s)
{
    return s->f && s->f->type == S_IFREG;
}

/* ------------------------------------------------------------ the cookies */

/* A cookie stream's I/O: its struct ptmSimStream's descriptor entry. */
static ssize_t cookieRead(void *cookie, char *buf, size_t n)
{
    struct ptmSimStream *s = cookie;
    ssize_t r;
    int err;

    if (s->detached || !s->f)
        return 0;
    if ((r = ptmSimRead(s->f, buf, n, &err)) < 0)
        errno = err;
    return r;
}

/* Simulates writing all n bytes, as stdio's flush loop would: a short
** write (at RLIMIT_FSIZE) is retried and then fails.  0 or an errno. */
int ptmStdioSimWriteAll(struct ptmSimFile *f, const void *buf, size_t n)
{
    const char *p = buf;
    ssize_t r;
    int err;

    while (n > 0) {
        if ((r = ptmSimWrite(f, p, n, &err)) < 0)
            return err;
        if (r == 0)
            return EIO;
        n -= (size_t)r;
        p += r;
    }
    return 0;
}

static ssize_t cookieWrite(void *cookie, const char *buf, size_t n)
{
    struct ptmSimStream *s = cookie;
    int err;

    if (s->detached)
        return (ssize_t)n;
    if (!s->f) {
        errno = EBADF;
        return -1;
    }
    if ((err = ptmStdioSimWriteAll(s->f, buf, n)) != 0) {
        errno = err;
        return -1;
    }
    return (ssize_t)n;
}

static int cookieSeek(void *cookie, off64_t *pos, int whence)
{
    struct ptmSimStream *s = cookie;
    off_t r;
    int err;

    if (s->detached || !s->f) {
        errno = EBADF;
        return -1;
    }
    if ((r = ptmSimSeek(s->f, (off_t)*pos, whence, &err)) < 0) {
        errno = err;
        return -1;
    }
    *pos = r;
    return 0;
}

/* Drops s's hold on its descriptor entry: a host descriptor is closed in
** simulation (fclose closes the descriptor under the FILE), the mirror's
** own is closed once no FILE uses it. */
void ptmStdioReleaseEntry(struct ptmSimStream *s)
{
    struct ptmSimFile *f = s->f;

    s->f = NULL;
    if (!f)
        return;
    if (f->streams > 0)
        f->streams--;
    if (f->kind == PTM_SIM_BORROWED && !f->owns_fd)
        f->closed = 1;
    else if (f->streams == 0)
        ptmSimRemove(f);
}

static int cookieClose(void *cookie)
{
    struct ptmSimStream *s = cookie;
    if (!s->detached)
        ptmStdioReleaseEntry(s);
    return 0;
}

static const cookie_io_functions_t simIo = {
    .read = cookieRead, .write = cookieWrite, .seek = cookieSeek, .close = cookieClose,
};

/* The shadow of a host FILE: reads from the position in the mirror's view
** (a regular file), else the read-ahead bytes and then the descriptor. */
static ssize_t shadowRead(void *cookie, char *buf, size_t n)
{
    struct ptmSimStream *s = cookie;
    size_t k;
    ssize_t r;
    int err;

    if (!s->f)
        return 0;
    if (ptmStdioRegular(s)) {
        if ((r = ptmSimPread(s->f, buf, n, s->rpos, &err)) < 0) {
            errno = err;
            return -1;
        }
        s->rpos += r;
        return r;
    }
    if (s->ipending < s->npending) {
        k = s->npending - s->ipending < n ? s->npending - s->ipending : n;
        memcpy(buf, s->pending + s->ipending, k);
        s->ipending += k;
        return (ssize_t)k;
    }
    if ((r = ptmSimRead(s->f, buf, n, &err)) < 0)
        errno = err;
    return r;
}

static int shadowSeek(void *cookie, off64_t *pos, int whence)
{
    struct ptmSimStream *s = cookie;
    off_t base;

    if (!ptmStdioRegular(s)) {
        errno = ESPIPE;
        return -1;
    }
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = s->rpos; break;
    case SEEK_END: base = ptmSimSize(s->f); break;
    default: errno = EINVAL; return -1;
    }
    if (base + *pos < 0) {
        errno = EINVAL;
        return -1;
    }
    s->rpos = base + (off_t)*pos;
    *pos = s->rpos;
    return 0;
}

static int shadowClose(void *cookie)
{
    (void)cookie;
    return 0;
}

static const cookie_io_functions_t shadowIo = {
    .read = shadowRead, .write = NULL, .seek = shadowSeek, .close = shadowClose,
};

/* ---------------------------------------------------------------- streams */

/* ptmStdioStreamFind: m's entry for fp, or NULL when the mirror has not
** used it. */
struct ptmSimStream *ptmStdioStreamFind(struct ptmMirror *m, FILE *fp)
{
    struct ptmSimStream *s;
    for (s = ptmShimStateOf(m)->streams; s; s = s->next)
        if (s->fp == fp)
            return s;
    return NULL;
}

static struct ptmSimStream *streamNew(struct ptmMirror *m, FILE *fp)
{
    struct ptmSimStream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fp = fp;
    s->next = ptmShimStateOf(m)->streams;
    ptmShimStateOf(m)->streams = s;
    return s;
}

/* ptmStdioStreamFree: unlinks s from m's list and frees it, with its
** private shadow (not the program's FILE). */
void ptmStdioStreamFree(struct ptmMirror *m, struct ptmSimStream *s)
{
    struct ptmSimStream **pp;

    for (pp = &ptmShimStateOf(m)->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->shadow)
        fclose(s->shadow);                  /* private; its close does nothing */
    free(s->pending);
    free(s);
}

/* Starts the mirror's view of a host FILE on entry f: its position, and
** the bytes it has read ahead (which the shadow serves for a pipe). */
static void hostPosition(struct ptmSimStream *s)
{
    size_t unread = 0, unwritten = 0;
    FILE *fp = s->fp;

#ifdef __GLIBC__
    if (fp->_IO_read_end > fp->_IO_read_ptr)
        unread = (size_t)(fp->_IO_read_end - fp->_IO_read_ptr);
    if (fp->_IO_write_ptr > fp->_IO_write_base)
        unwritten = (size_t)(fp->_IO_write_ptr - fp->_IO_write_base);
#endif
    if (ptmStdioRegular(s)) {
        s->pos = ptmSimOffset(s->f) - (off_t)unread + (off_t)unwritten;
        if (s->pos < 0)
            s->pos = 0;
    } else if (unread > 0 && (s->pending = malloc(unread)) != NULL) {
#ifdef __GLIBC__
        memcpy(s->pending, fp->_IO_read_ptr, unread);
#endif
        s->npending = unread;
    }
}

/* The host FILE's end-of-file and error indicators, read without its lock
** (a flag word; glibc's feof_unlocked), into the mirror's view. */
static void hostIndicators(struct ptmSimStream *s)
{
#ifdef __GLIBC__
    s->eof = feof_unlocked(s->fp) != 0;
    s->error = ferror_unlocked(s->fp) != 0;
#else
    s->eof = feof(s->fp) != 0;
    s->error = ferror(s->fp) != 0;
#endif
}

/* The mirror's stream for fp, borrowing a host FILE on first use.  fileno()
** takes no lock, so a host thread holding the FILE's lock cannot stall the
** mirror.  OUT: *out.  0 or an errno (EBADF: closed in the mirror, or a
** descriptor that is not open). */
int ptmStdioStreamFor(struct ptmMirror *m, FILE *fp, struct ptmSimStream **out)
{
    struct ptmSimStream *s;
    int fd, err;

    *out = NULL;
    if (!fp)
        return EBADF;
    if (!(s = ptmStdioStreamFind(m, fp))) {
        if (!(s = streamNew(m, fp)))
            return ENOMEM;
        s->simio = 1;
        hostIndicators(s);
        if ((fd = fileno(fp)) >= 0) {
            if ((err = ptmSimEntry(m, fd, &s->f)) != 0) {
                ptmStdioStreamFree(m, s);
                return err;
            }
            hostPosition(s);
        }
    }
    if (s->closed || (s->f && s->f->closed && !s->made))
        return EBADF;
    *out = s;
    return 0;
}

/* A stream the mirror makes over entry f.  NULL with *err set. */
FILE *ptmStdioMakeStream(struct ptmMirror *m, struct ptmSimFile *f, const char *mode, int *err)
{
    struct ptmSimStream *s = streamNew(m, NULL);
    FILE *fp;

    if (!s) {
        *err = ENOMEM;
        return NULL;
    }
    if (!(fp = fopencookie(s, mode, simIo))) {
        *err = ptmStdioErrnoOr(ENOMEM);
        ptmStdioStreamFree(m, s);
        return NULL;
    }
    s->fp = fp;
    s->f = f;
    s->made = 1;
    f->streams++;
    return fp;
}

/* The event target naming stream. */
void ptmStdioStreamTarget(struct ptmMirror *m, FILE *stream, char *dst, size_t cap)
{
    struct ptmSimStream *s;

    if (stream == stdout)
        ptmCopyField(dst, cap, "stdout");
    else if (stream == stderr)
        ptmCopyField(dst, cap, "stderr");
    else if (stream == stdin)
        ptmCopyField(dst, cap, "stdin");
    else if ((s = ptmStdioStreamFind(m, stream)) != NULL && s->f && s->f->path)
        ptmCopyField(dst, cap, s->f->path);
    else if (s && s->f)
        ptmShimFdTarget(m, s->f->fd, dst, cap);
    else if (stream && fileno(stream) >= 0)
        ptmShimFdTarget(m, fileno(stream), dst, cap);
    else
        ptmCopyField(dst, cap, "FILE");
}

/* A write of buf[0..n) to a simulated stream: checked at once and sent to
** the overlay at its position.  0 or an errno. */
int ptmStdioSimioWrite(struct ptmSimStream *s, const void *buf, size_t n)
{
    const char *p = buf;
    size_t done = 0;
    ssize_t r;
    int err;

    if (!s->f || n == 0)
        return 0;                           /* a stream without a descriptor: nothing to check */
    if (!ptmStdioRegular(s)) {
        if ((err = ptmStdioSimWriteAll(s->f, buf, n)) != 0)
            s->error = 1;                   /* as the real FILE's would be */
        return err;
    }
    while (done < n) {
        if ((r = ptmSimPwrite(s->f, p + done, n - done, s->pos, &err)) < 0 ||
            (r == 0 && (err = EIO) != 0)) {
            s->error = 1;
            return err;
        }
        done += (size_t)r;
        s->pos = (s->f->flags & O_APPEND) ? ptmSimSize(s->f) : s->pos + r;
    }
    return 0;
}

/* The shadow of simulated stream s, positioned at s->pos.  NULL: none (out
** of memory); the reads then see end of file. */
FILE *ptmStdioShadowOf(struct ptmSimStream *s)
{
    if (!s->shadow) {
        s->rpos = s->pos;
        s->shadow = fopencookie(s, "r", shadowIo);
#ifdef __GLIBC__
        /* An end of file the host had seen holds for the mirror's reads
        ** too: glibc's reads stop at the indicator until it is cleared. */
        if (s->shadow && s->eof)
            s->shadow->_flags |= _IO_EOF_SEEN;
#endif
        return s->shadow;
    }
    if (ptmStdioRegular(s) && ftello(s->shadow) != s->pos)
        fseeko(s->shadow, s->pos, SEEK_SET);
    return s->shadow;
}

/* After a read through the shadow: the position follows it. */
void ptmStdioShadowDone(struct ptmSimStream *s)
{
    off_t at;
    if (s->shadow && ptmStdioRegular(s) && (at = ftello(s->shadow)) >= 0)
        s->pos = at;
}

/* stdioRelease: at the end of mirror m, closes the FILEs it made (their
** buffers flush into the simulation, nothing reaches a disk) and forgets
** the host FILEs it used, which it never touched. */
static void stdioRelease(struct ptmMirror *m)
{
    struct ptmSimStream *s;

    while ((s = ptmShimStateOf(m)->streams) != NULL) {
        ptmShimStateOf(m)->streams = s->next;
        if (s->made) {
            if (s->simio && !s->detached)
                ptmStdioReleaseEntry(s);
            s->detached = s->detached || s->simio;
            fclose(s->fp);                  /* the cookie's close drops its entry */
        } else if (s->simio && s->f) {
            s->f = NULL;                    /* a host entry: sim.c frees it */
        }
        if (s->shadow)
            fclose(s->shadow);
        free(s->pending);
        free(s);
    }
}

const struct ptmShimFamily ptmStdioFamily = {.name = "stdio", .release = stdioRelease};
