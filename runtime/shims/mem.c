/*
** shims/mem.c - the heap and the memory copies of a mirror.
**
** In an inline mirror (redo.c) allocations come from the mirror's own
** arena, released when the mirror ends: a mirror that allocates leaks
** nothing into the host, and one that frees never frees the host's memory
** (free of a host pointer does nothing; its memory is the primary's to
** free, so an allocation the library made would leak at every mirror).  memcpy, memmove and memset write through the write buffer, so a
** copy into host memory lands in the mirror's view of it; memcmp, memchr,
** strncmp and strnlen read the mirror's view of exactly the bytes they
** are given, which ptmcc cannot size at the call (a pointer and a count).
**
** strerror and strsignal are here for the same reason as the heap: for a
** number glibc has no text for, it formats one into a per-thread buffer of
** its own and frees the one before, which may be the string the host got
** from its last such call (called as they are, an inline mirror freed the
** host's string).  In an inline mirror that text goes into the mirror's
** heap instead.
**
** Outside an inline mirror (in a fork child, or outside any mirror) each
** shim is the real call.  None of them records an event: memory is not I/O.
*/
#include <errno.h>
#include <libintl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shims_int.h"

void *ptm_shim_malloc(size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    return r ? ptmRedoMalloc(r, n, 0) : malloc(n);
}

void *ptm_shim_calloc(size_t n, size_t size)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return calloc(n, size);
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = ptmRedoMalloc(r, n * size, 0);
    if (p)
        memset(p, 0, n * size);
    return p;
}

/*
** Aligned allocations, in an inline mirror, from its heap too: called as
** they are, each mirror leaked its allocation, which the free shim leaves
** to a primary that never made it.  An alignment past 64 KiB, or one
** that is not a power of two (which glibc versions treat differently),
** stops the inline mirror and a fork makes the real call.
*/
static void *alignedHeap(struct ptmRedo *r, size_t align, size_t n)
{
    if (align > 65536 || (align & (align - 1)))
        ptmMirrorBail("inline mirror stopped: an aligned allocation it cannot make in its heap; fork");
    return ptmRedoMalloc(r, n, align);
}

void *ptm_shim_aligned_alloc(size_t align, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    return r ? alignedHeap(r, align, n) : aligned_alloc(align, n);
}

/* ptm_shim_posix_memalign: EINVAL, *out untouched, for an alignment POSIX
** refuses; else 0 and *out (in the mirror's view) the allocation. */
int ptm_shim_posix_memalign(void **out, size_t align, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return posix_memalign(out, align, n);
    if (align % sizeof(void *) || (align & (align - 1)) || !align)
        return EINVAL;
    void *p = alignedHeap(r, align, n);
    *(void **)ptmRedoOut(out, sizeof *out) = p;
    return 0;
}

/*
** ptm_shim_realloc: in an inline mirror, a new allocation holding the
** mirror's view of the old one (an allocation of the host is read, not
** freed, and copied up to its usable size).
*/
void *ptm_shim_realloc(void *p, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return realloc(p, n);
    void *q = ptmRedoMalloc(r, n, 0);
    if (!q || !p)
        return q;
    size_t old = ptmRedoOwns(r, p, 1) ? ptmRedoSize(p) : malloc_usable_size(p);
    ptmRedoRead(r, q, p, old < n ? old : n);
    return q;
}

void ptm_shim_free(void *p)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        free(p);
    else if (p && ptmRedoOwns(r, p, 1) && (uintptr_t)p >= ptm_redo_heap_lo &&
             (uintptr_t)p < ptm_redo_heap_hi)
        ptmRedoFree(r, p);
}

char *ptm_shim_strdup(const char *s)
{
    return ptm_shim_strndup(s, SIZE_MAX);
}

/* strnlen of the mirror's view of s. */
static size_t viewLength(struct ptmRedo *r, const char *s, size_t max)
{
    if (ptm_redo_mode != 2)
        return strnlen(s, max);
    size_t n = 0;
    while (n < max) {
        char c;
        ptmRedoRead(r, &c, s + n, 1);
        if (!c)
            break;
        n++;
    }
    return n;
}

char *ptm_shim_strndup(const char *s, size_t max)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return max == SIZE_MAX ? strdup(s) : strndup(s, max);
    size_t n = viewLength(r, s, max);
    char *p = ptmRedoMalloc(r, n + 1, 0);
    if (p) {
        ptmRedoRead(r, p, s, n);
        p[n] = '\0';
    }
    return p;
}

void *ptm_shim_memcpy(void *restrict d, const void *restrict s, size_t n)
{
    return ptm_shim_memmove(d, s, n);
}

void *ptm_shim_memmove(void *d, const void *s, size_t n)
{
    if (!ptmRedoCurrent)
        return memmove(d, s, n);
    /* The source's view first: a block the destination's translation
    ** merges away keeps its bytes, but a write into it would be lost. */
    const void *from = ptm_redo_ld_slow(s, n);
    memmove(ptm_redo_st_slow(d, n), from, n);
    return d;
}

void *ptm_shim_memset(void *d, int c, size_t n)
{
    if (!ptmRedoCurrent)
        return memset(d, c, n);
    memset(ptm_redo_st_slow(d, n), c, n);
    return d;
}

/*
** The readers: what they compare or search is the mirror's view, so a
** mirror that wrote a record compares what it wrote, as the primary will.
** Nothing is buffered yet (ptm_redo_mode != 2): real memory is the view.
*/
int ptm_shim_memcmp(const void *a, const void *b, size_t n)
{
    if (!ptmRedoCurrent || ptm_redo_mode != 2)
        return memcmp(a, b, n);
    /* Two views at once: a block merged away by the second keeps its bytes. */
    const void *va = ptm_redo_ld_slow(a, n);
    return memcmp(va, ptm_redo_ld_slow(b, n), n);
}

/* ptm_shim_memchr: a hit in the view is returned as the same place in s. */
void *ptm_shim_memchr(const void *s, int c, size_t n)
{
    if (!ptmRedoCurrent || ptm_redo_mode != 2)
        return memchr(s, c, n);
    const unsigned char *v = ptm_redo_ld_slow(s, n), *hit = memchr(v, c, n);
    return hit ? (unsigned char *)(uintptr_t)s + (hit - v) : NULL;
}

int ptm_shim_strncmp(const char *a, const char *b, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r || ptm_redo_mode != 2)
        return strncmp(a, b, n);
    /* Each string's view up to its NUL or n bytes: no byte past either. */
    size_t la = viewLength(r, a, n), lb = viewLength(r, b, n);
    const char *va = ptm_redo_ld_slow(a, la < n ? la + 1 : n);
    return strncmp(va, ptm_redo_ld_slow(b, lb < n ? lb + 1 : n), n);
}

size_t ptm_shim_strnlen(const char *s, size_t max)
{
    struct ptmRedo *r = ptmRedoCurrent;
    return r ? viewLength(r, s, max) : strnlen(s, max);
}

/* A copy of text, n bytes and a NUL, in the mirror's heap r (NULL when full). */
static char *heapText(struct ptmRedo *r, const char *text, size_t n)
{
    char *p = ptmRedoMalloc(r, n + 1, 0);
    if (p) {
        memcpy(p, text, n);
        p[n] = '\0';
    }
    return p;
}

/*
** ptm_shim_strerror: strerror's text for errnum.  In an inline mirror,
** GNU strerror_r gives glibc's own text (translated as strerror's) without
** touching its per-thread buffer: a static string for a known number,
** else "Unknown error N" in buf, which is copied to the mirror's heap.
** errno is left as it was, as strerror leaves it.
*/
char *ptm_shim_strerror(int errnum)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return strerror(errnum);
    int saved = errno;
    char buf[128];
    char *text = strerror_r(errnum, buf, sizeof buf);
    if (text == buf)
        text = heapText(r, buf, strlen(buf));
    errno = saved;
    return text ? text : (char *)"Unknown error";
}

/*
** ptm_shim_strsignal: strsignal's text for sig.  A signal glibc describes
** is its translated description, as strsignal returns it without a
** buffer; any other is formatted as glibc formats it ("Real-time signal
** N" from SIGRTMIN, else "Unknown signal N") into the mirror's heap.
*/
char *ptm_shim_strsignal(int sig)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return strsignal(sig);
    const char *desc = sigdescr_np(sig);
    if (desc)
        return dgettext("libc", desc);
    char buf[128];
    int n;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        n = snprintf(buf, sizeof buf, dgettext("libc", "Real-time signal %d"), sig - SIGRTMIN);
    else
        n = snprintf(buf, sizeof buf, dgettext("libc", "Unknown signal %d"), sig);
    char *text = n < 0 ? NULL : heapText(r, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    return text ? text : (char *)"Unknown signal";
}
