/* static inline helpers a mirror reaches (emit-header-inline.c,
** emit-static-hoist.c): ptmcc clones them from this header's text. */
#ifndef INLINE_HELPERS_H
#define INLINE_HELPERS_H
#include <stdio.h>

static inline int clamp(int v, int lo, int hi)
{
    if (v < lo) {
        fputs("clamped low\n", stderr);
        return lo;
    }
    return v > hi ? hi : v;
}

static inline int next_ticket(void)
{
    static int ticket;
    return ++ticket;
}

#endif
