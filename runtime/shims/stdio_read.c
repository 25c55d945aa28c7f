/*
** shims/stdio_read.c - stdio's reads and positions in a mirror: fread
** fgets fgetc getc getchar fscanf scanf vfscanf, fseek fseeko ftell ftello
** rewind, getline getdelim, fgetpos fsetpos.
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

/* ------------------------------------------------------------------ reads */

/* The stream a read works on: the mirror's own FILE, or a simulated
** stream's shadow.  OUT: *s.  NULL with *err set. */
FILE *ptmStdioReadStream(struct ptmMirror *m, FILE *stream, struct ptmSimStream **s, int *err)
{
    FILE *r;

    if ((*err = ptmStdioStreamFor(m, stream, s)) != 0)
        return NULL;
    if (!(*s)->simio)
        return stream;
    if (!(r = ptmStdioShadowOf(*s)))
        *err = ENOMEM;
    return r;
}

static void recordReadOf(struct ptmMirror *m, enum ptmCall call, uint64_t t0, FILE *stream,
                         int64_t result, int err, uint64_t bytes)
{
    char target[PTM_TARGET_MAX];
    struct ptmSimStream *s = ptmStdioStreamFind(m, stream);
    ptmStdioStreamTarget(m, stream, target, sizeof target);
    /* A stream over a socket may have read an invented end of file. */
    ptmShimNoteRecv(s ? s->f : NULL, ptmMirrorRecordRead(call, t0, target, result, err, bytes));
}

/* The error of a read that returned less than asked, if any (not EOF). */
static int readError(FILE *fp)
{
    return ferror(fp) ? ptmStdioErrnoOr(EIO) : 0;
}

/* fread, fread_unlocked in a mirror, recorded as call. */
size_t ptmStdioMirrorFread(struct ptmMirror *m, enum ptmCall call, void *buf, size_t size,
                           size_t n, FILE *stream)
{
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    size_t r = 0;
    FILE *in;
    int err;

    if ((in = ptmStdioReadStream(m, stream, &s, &err)) != NULL) {
        errno = 0;
        r = size && n <= SIZE_MAX / size ? fread(ptmRedoOut(buf, size * n), size, n, in)
                                         : fread(buf, size, n, in);
        err = r < n ? readError(in) : 0;
        if (s->simio)
            ptmStdioShadowDone(s);
    }
    recordReadOf(m, call, t0, stream, (int64_t)r, err, (uint64_t)r * size);
    if (err)
        errno = err;
    return r;
}

/*
** ptm_shim_fread: fread(3).  In a mirror: the mirror's own FILE reads the
** file as the mirror sees it; a host FILE is read through its shadow
** (never consumed).
*/
size_t ptm_shim_fread(void *restrict buf, size_t size, size_t n, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorFread(m, PTM_CALL_fread, buf, size, n, stream)
             : fread(buf, size, n, stream);
}

/* fgets, fgets_unlocked in a mirror, recorded as call. */
char *ptmStdioMirrorFgets(struct ptmMirror *m, enum ptmCall call, char *line, int n,
                          FILE *stream)
{
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    char *r = NULL, *view = line;
    FILE *in;
    int err;

    if ((in = ptmStdioReadStream(m, stream, &s, &err)) != NULL) {
        errno = 0;
        view = n > 0 ? ptmRedoOut(line, (size_t)n) : line;
        r = fgets(view, n, in) ? line : NULL;
        err = r ? 0 : readError(in);
        if (s->simio)
            ptmStdioShadowDone(s);
    }
    recordReadOf(m, call, t0, stream, r ? 0 : -1, err, r ? strlen(view) : 0);
    if (err)
        errno = err;
    return r;
}

/*
** ptm_shim_fgets: fgets(3), as ptm_shim_fread.
*/
char *ptm_shim_fgets(char *restrict line, int n, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorFgets(m, PTM_CALL_fgets, line, n, stream) : fgets(line, n, stream);
}

/* ptmStdioMirrorGetc: fgetc (and its kin, call) in mirror m: the next
** byte of stream as the mirror sees it, or EOF; recorded as a read. */
int ptmStdioMirrorGetc(struct ptmMirror *m, enum ptmCall call, FILE *stream)
{
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    FILE *in;
    int err, c = EOF;

    if ((in = ptmStdioReadStream(m, stream, &s, &err)) != NULL) {
        errno = 0;
        c = fgetc(in);
        err = c == EOF ? readError(in) : 0;
        if (s->simio)
            ptmStdioShadowDone(s);
    }
    recordReadOf(m, call, t0, stream, c, err, c == EOF ? 0 : 1);
    if (err)
        errno = err;
    return c;
}

/*
** ptm_shim_fgetc: fgetc(3), as ptm_shim_fread.
*/
int ptm_shim_fgetc(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorGetc(m, PTM_CALL_fgetc, stream) : fgetc(stream);
}

/*
** ptm_shim_getc: getc(3), as ptm_shim_fgetc.
*/
int ptm_shim_getc(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorGetc(m, PTM_CALL_getc, stream) : getc(stream);
}

/*
** ptm_shim_getchar: getchar(3): ptm_shim_fgetc on stdin, whose unread
** input the mirror never consumes.
*/
int ptm_shim_getchar(void)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? ptmStdioMirrorGetc(m, PTM_CALL_getchar, stdin) : getchar();
}

static int mirrorVfscanf(struct ptmMirror *m, enum ptmCall call, FILE *stream, const char *fmt,
                         va_list ap)
{
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    off_t before = -1, after;
    FILE *in;
    int err, r = EOF;

    if ((in = ptmStdioReadStream(m, stream, &s, &err)) != NULL) {
        before = ftello(in);
        errno = 0;
        r = vfscanf(in, fmt, ap);
        err = r == EOF ? readError(in) : 0;
        if (s->simio)
            ptmStdioShadowDone(s);
    }
    after = in && before >= 0 ? ftello(in) : -1;
    recordReadOf(m, call, t0, stream, r, err,
                 after > before && before >= 0 ? (uint64_t)(after - before) : 0);
    if (err)
        errno = err;
    return r;
}

/*
** ptm_shim_vfscanf: vfscanf(3), as ptm_shim_fread.
*/
int ptm_shim_vfscanf(FILE *restrict stream, const char *restrict fmt, va_list ap)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorVfscanf(m, PTM_CALL_vfscanf, stream, fmt, ap) : vfscanf(stream, fmt, ap);
}

/*
** ptm_shim_fscanf: fscanf(3), as ptm_shim_fread.
*/
int ptm_shim_fscanf(FILE *restrict stream, const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = m ? mirrorVfscanf(m, PTM_CALL_fscanf, stream, fmt, ap) : vfscanf(stream, fmt, ap);
    va_end(ap);
    return r;
}

/*
** ptm_shim_scanf: scanf(3): ptm_shim_fscanf on stdin.
*/
int ptm_shim_scanf(const char *restrict fmt, ...)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = m ? mirrorVfscanf(m, PTM_CALL_scanf, stdin, fmt, ap) : vscanf(fmt, ap);
    va_end(ap);
    return r;
}

/* ------------------------------------------------------------- positions */

/* fseek on a simulated stream: the position moves, the end-of-file
** indicator and any pushed-back byte are gone.  0 or an errno. */
static int simioSeek(struct ptmSimStream *s, off_t off, int whence)
{
    off_t base;

    if (!ptmStdioRegular(s))
        return ESPIPE;
    ptmStdioShadowDone(s);
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = s->pos; break;
    case SEEK_END: base = ptmSimSize(s->f); break;
    default: return EINVAL;
    }
    if (off > 0 ? base > INT64_MAX - off : base + off < 0)
        return off > 0 ? EOVERFLOW : EINVAL;
    s->pos = base + off;
    s->eof = 0;
    if (s->shadow)
        fseeko(s->shadow, s->pos, SEEK_SET); /* clears the shadow's indicator */
    return 0;
}

/* fseek, fseeko in a mirror, recorded as call. */
static int mirrorSeek(struct ptmMirror *m, enum ptmCall call, FILE *stream, off_t off,
                      int whence)
{
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    int err;

    if ((err = ptmStdioStreamFor(m, stream, &s)) == 0) {
        if (!s->simio) {
            errno = 0;
            if (fseeko(stream, off, whence) != 0)
                err = ptmStdioErrnoOr(EINVAL);
        } else {
            err = simioSeek(s, off, whence);
        }
    }
    recordReadOf(m, call, t0, stream, err ? -1 : 0, err, 0);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* ftell, ftello in a mirror, recorded as call. */
static off_t mirrorTell(struct ptmMirror *m, enum ptmCall call, FILE *stream)
{
    struct ptmSimStream *s;
    uint64_t t0 = ptmOsNowNs();
    off_t r = -1;
    int err;

    if ((err = ptmStdioStreamFor(m, stream, &s)) == 0) {
        if (!s->simio) {
            errno = 0;
            if ((r = ftello(stream)) < 0)
                err = ptmStdioErrnoOr(EINVAL);
        } else if (!ptmStdioRegular(s)) {
            err = ESPIPE;
        } else {
            ptmStdioShadowDone(s);
            r = s->pos;
        }
    }
    if (!err && call == PTM_CALL_ftell && r > LONG_MAX)
        err = EOVERFLOW;
    recordReadOf(m, call, t0, stream, err ? -1 : r, err, 0);
    if (err)
        errno = err;
    return err ? -1 : r;
}

/*
** ptm_shim_fseek: fseek(3).  In a mirror: real on the mirror's own FILE;
** on a host FILE it moves the position in the mirror's view only (ESPIPE
** for a pipe or terminal, EINVAL), and clears the end-of-file indicator
** there.
*/
int ptm_shim_fseek(FILE *stream, long off, int whence)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorSeek(m, PTM_CALL_fseek, stream, (off_t)off, whence)
             : fseek(stream, off, whence);
}

/*
** ptm_shim_fseeko: fseeko(3), as ptm_shim_fseek with an off_t.
*/
int ptm_shim_fseeko(FILE *stream, off_t off, int whence)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorSeek(m, PTM_CALL_fseeko, stream, off, whence) : fseeko(stream, off, whence);
}

/*
** ptm_shim_ftell: ftell(3).  In a mirror: the mirror's own FILE's, or a
** host FILE's position in the mirror's view (ESPIPE when it has none).
*/
long ptm_shim_ftell(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? (long)mirrorTell(m, PTM_CALL_ftell, stream) : ftell(stream);
}

/*
** ptm_shim_ftello: ftello(3), as ptm_shim_ftell with an off_t.
*/
off_t ptm_shim_ftello(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorTell(m, PTM_CALL_ftello, stream) : ftello(stream);
}

/* clearerr on a simulated stream: the mirror's view only. */
void ptmStdioClearView(struct ptmSimStream *s)
{
    s->eof = s->error = 0;
    if (s->shadow)
        clearerr(s->shadow);
}

/*
** ptm_shim_rewind: rewind(3), as ptm_shim_fseek(stream, 0, SEEK_SET) and
** clearing the indicators; on a host FILE, in the mirror's view only (the
** host's own error indicator is not cleared).
*/
void ptm_shim_rewind(FILE *stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimStream *s;
    uint64_t t0;
    int err;

    if (!m) {
        rewind(stream);
        return;
    }
    t0 = ptmOsNowNs();
    if ((err = ptmStdioStreamFor(m, stream, &s)) == 0) {
        if (!s->simio) {
            rewind(stream);
        } else {
            err = ptmStdioRegular(s) ? simioSeek(s, 0, SEEK_SET) : 0;
            if (!err)
                ptmStdioClearView(s);               /* the mirror's view of the indicators */
        }
    }
    recordReadOf(m, PTM_CALL_rewind, t0, stream, 0, err, 0);
}

/* ------------------------------------------------------------------ lines */

/* getline, getdelim in a mirror: the line is read with the real getdelim
** into a private buffer, from the mirror's own FILE or a host FILE's
** shadow, then stored in the caller's buffer, grown through the mirror's
** heap (ptm_shim_realloc: an inline mirror's arena, where a host buffer is
** copied and never freed).  *line and *cap are read and written as the
** mirror sees them (ptmRedoIn/ptmRedoOut). */
static ssize_t mirrorGetdelim(struct ptmMirror *m, enum ptmCall call, char **line, size_t *cap,
                              int delim, FILE *stream)
{
    struct ptmSimStream *s = NULL;
    uint64_t t0 = ptmOsNowNs();
    char *buf = NULL, *tmp = NULL, *grown;
    size_t have = 0, tcap = 0, want;
    ssize_t r = -1;
    FILE *in = NULL;
    int err = 0;

    if (!line || !cap) {
        err = EINVAL;
    } else {
        memcpy(&buf, ptmRedoIn(line, sizeof *line), sizeof buf);
        memcpy(&have, ptmRedoIn(cap, sizeof *cap), sizeof have);
        in = ptmStdioReadStream(m, stream, &s, &err);
    }
    if (in && (!buf || have == 0)) {
        /* As glibc: a buffer first, even for a line that is not there. */
        have = 120;
        if (!(grown = ptm_shim_realloc(buf, have))) {
            err = ENOMEM;
        } else {
            buf = grown;
            memcpy(ptmRedoOut(line, sizeof *line), &buf, sizeof buf);
            memcpy(ptmRedoOut(cap, sizeof *cap), &have, sizeof have);
        }
    }
    if (in && !err) {
        errno = 0;
        r = getdelim(&tmp, &tcap, delim, in);
        err = r < 0 ? readError(in) : 0;
        if (s->simio)
            ptmStdioShadowDone(s);
    }
    if (r >= 0 && (size_t)r + 1 > have) {
        want = (size_t)r + 1 > 2 * have ? (size_t)r + 1 : 2 * have;
        if (!(grown = ptm_shim_realloc(buf, want))) {
            err = ENOMEM;
            r = -1;
        } else {
            buf = grown;
            have = want;
            memcpy(ptmRedoOut(line, sizeof *line), &buf, sizeof buf);
            memcpy(ptmRedoOut(cap, sizeof *cap), &have, sizeof have);
        }
    }
    if (r >= 0)
        memcpy(ptmRedoOut(buf, (size_t)r + 1), tmp, (size_t)r + 1);
    free(tmp);
    recordReadOf(m, call, t0, stream, r, err, r > 0 ? (uint64_t)r : 0);
    if (err)
        errno = err;
    return r;
}

/*
** ptm_shim_getline: getline(3).  In a mirror: read as ptm_shim_fgets reads
** (a host FILE through its shadow, never consumed), into *line grown in
** the mirror's heap; returns the length, or -1 at end of file, or -1 with
** errno (EINVAL, ENOMEM, the read's error).
*/
ssize_t ptm_shim_getline(char **restrict line, size_t *restrict cap, FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorGetdelim(m, PTM_CALL_getline, line, cap, '\n', stream)
             : getline(line, cap, stream);
}

/*
** ptm_shim_getdelim: getdelim(3), as ptm_shim_getline.
*/
ssize_t ptm_shim_getdelim(char **restrict line, size_t *restrict cap, int delim,
                          FILE *restrict stream)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    return m ? mirrorGetdelim(m, PTM_CALL_getdelim, line, cap, delim, stream)
             : getdelim(line, cap, delim, stream);
}

/* -------------------------------------------------------- fgetpos, fsetpos */

/*
** ptm_shim_fgetpos: fgetpos(3).  In a mirror: the mirror's own FILE's
** position, or a host FILE's in the mirror's view (taken from its shadow,
** placed there: ESPIPE for a pipe or terminal); *pos is written as the
** mirror sees it.  Recorded as ftell is.
*/
int ptm_shim_fgetpos(FILE *restrict stream, fpos_t *restrict pos)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimStream *s;
    uint64_t t0;
    FILE *at;
    int err;

    if (!m)
        return fgetpos(stream, pos);
    t0 = ptmOsNowNs();
    if ((at = ptmStdioReadStream(m, stream, &s, &err)) != NULL) {
        errno = 0;
        if (fgetpos(at, ptmRedoOut(pos, sizeof *pos)) != 0)
            err = ptmStdioErrnoOr(EINVAL);
    }
    recordReadOf(m, PTM_CALL_fgetpos, t0, stream, err ? -1 : 0, err, 0);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/*
** ptm_shim_fsetpos: fsetpos(3), as ptm_shim_fseek to a position from
** ptm_shim_fgetpos (or the host's fgetpos: the same offsets).
*/
int ptm_shim_fsetpos(FILE *stream, const fpos_t *pos)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    struct ptmSimStream *s;
    uint64_t t0;
    fpos_t want;
    FILE *at;
    int err;

    if (!m)
        return fsetpos(stream, pos);
    t0 = ptmOsNowNs();
    if (!pos) {
        err = EINVAL;
    } else if ((at = ptmStdioReadStream(m, stream, &s, &err)) != NULL) {
        memcpy(&want, ptmRedoIn(pos, sizeof *pos), sizeof want);
        errno = 0;
        if (fsetpos(at, &want) != 0) {
            err = ptmStdioErrnoOr(EINVAL);
        } else if (s->simio) {
            s->eof = 0;
            ptmStdioShadowDone(s);
        }
    }
    recordReadOf(m, PTM_CALL_fsetpos, t0, stream, err ? -1 : 0, err, 0);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
