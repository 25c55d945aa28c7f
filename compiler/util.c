/*
** util.c - allocation that cannot fail quietly, and growable strings.
**
** ptmcc is a short-lived tool: running out of memory ends it with a message
** (a compiler cannot do anything useful without memory), so callers never
** check these for NULL.
*/
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptmcc.h"

static void out_of_memory(void)
{
    fputs("ptmcc: error: out of memory\n", stderr);
    exit(1);
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xcalloc(1, n + 1);
    memcpy(p, s, n);
    return p;
}

/* format: a malloc'd printf. */
char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        out_of_memory();
    va_end(ap);
    return s;
}

void buf_put(Buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(Buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        out_of_memory();
    buf_put(b, s, (size_t)n);
    free(s);
}

void buf_free(Buf *b)
{
    free(b->data);
    *b = (Buf){0};
}

size_t skip_literal(const char *t, size_t i, size_t end)
{
    char q = t[i++];
    while (i < end && t[i] != q) {
        if (t[i] == '\\')
            i++;
        i++;
    }
    return i + 1;
}

struct deepCall {
    int (*main_fn)(int, char **);
    int argc;
    char **argv;
    int rc;
};

static void *deep_call(void *p)
{
    struct deepCall *d = p;
    d->rc = d->main_fn(d->argc, d->argv);
    return NULL;
}

/*
** run_on_deep_stack: see ptmcc.h.  ptmcc's walks of the syntax tree
** recurse once per level (libclang's visitor too): a sum of 5,000 terms,
** which clang-19 compiles, overflowed the 8 MiB main stack and killed the
** build.  The stack is reserved, not committed: only the pages a deep
** file uses are touched.
*/
int run_on_deep_stack(int (*main_fn)(int, char **), int argc, char **argv)
{
    struct deepCall d = {main_fn, argc, argv, 1};
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0)
        return main_fn(argc, argv);
    int ok = pthread_attr_setstacksize(&attr, PTMCC_STACK_BYTES) == 0 &&
             pthread_create(&t, &attr, deep_call, &d) == 0;
    pthread_attr_destroy(&attr);
    if (!ok)
        return main_fn(argc, argv);
    pthread_join(t, NULL);
    return d.rc;
}
