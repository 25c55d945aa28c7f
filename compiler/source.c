/*
** source.c - source files, read once, and offsets turned into line:col.
**
** Positions inside ptmcc are byte offsets into a loaded file: libclang hands
** out offsets, the annotation map stores them, and only diagnostics need
** lines and columns.  Columns count bytes from 1, as clang's do.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ptmcc.h"

static SrcFile **files;
static int nfiles;

static SrcFile *src_add(const char *path, char *text, size_t len)
{
    SrcFile *f = xcalloc(1, sizeof *f);
    f->path = xstrdup(path);
    f->text = text;
    f->len = len;
    files = xrealloc(files, sizeof *files * (size_t)(nfiles + 1));
    files[nfiles++] = f;
    return f;
}

char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    Buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        buf_put(&b, chunk, n);
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        buf_free(&b);
        return NULL;
    }
    if (!b.data)
        buf_put(&b, "", 0);
    *len = b.len;
    return b.data;
}

SrcFile *src_load(const char *path)
{
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i]->path, path) == 0)
            return files[i];
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        return NULL;
    return src_add(path, text, len);
}

/* read_bounded: up to max + 1 bytes of fd, NUL-terminated: a file that
** grew past max since it was measured still ends the read.  OUT: *len.
** NULL with errno set on a read error. */
static char *read_bounded(int fd, size_t max, size_t *len)
{
    char *text = malloc(max + 2);
    if (!text)
        return NULL;
    size_t n = 0;
    while (n <= max) {
        ssize_t r = read(fd, text + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(text);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    text[n] = '\0';
    *len = n;
    return xrealloc(text, n + 1); /* the cap was room to read, not to keep */
}

/* src_load_regular: see ptmcc.h.  open() does not wait on a FIFO
** (O_NONBLOCK) and the checks are made on the descriptor that is read,
** so a device, a FIFO or a file swapped after the check never reaches
** the read. */
SrcFile *src_load_regular(const char *path, size_t max, int *err)
{
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i]->path, path) == 0 && files[i]->len <= max)
            return files[i];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    if (fstat(fd, &st) != 0)
        *err = errno;
    else if (!S_ISREG(st.st_mode))
        *err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    else if ((unsigned long long)st.st_size > max)
        *err = EFBIG;
    else if (!(text = read_bounded(fd, max, &len)))
        *err = errno;
    else if (len > max)
        *err = EFBIG;
    close(fd);
    if (!text || len > max) {
        free(text);
        return NULL;
    }
    return src_add(path, text, len);
}

SrcFile *src_from_text(const char *path, const char *text)
{
    return src_add(path, xstrdup(text), strlen(text));
}

/* index_lines: the offsets where f's lines start. */
static void index_lines(SrcFile *f)
{
    unsigned n = 1;
    for (size_t i = 0; i < f->len; i++)
        n += f->text[i] == '\n';
    f->lines = xcalloc(n, sizeof *f->lines);
    f->nlines = 0;
    f->lines[f->nlines++] = 0;
    for (size_t i = 0; i < f->len; i++)
        if (f->text[i] == '\n')
            f->lines[f->nlines++] = i + 1;
}

void src_line_col(SrcLoc loc, unsigned *line, unsigned *col)
{
    if (!loc.file) {
        *line = *col = 0;
        return;
    }
    SrcFile *f = loc.file;
    if (!f->lines)
        index_lines(f);
    size_t off = loc.off < f->len ? loc.off : f->len;
    unsigned lo = 0, hi = f->nlines; /* the last line starting at or before off */
    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;
        if (f->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    *line = lo + 1;
    *col = (unsigned)(off - f->lines[lo] + 1);
}
