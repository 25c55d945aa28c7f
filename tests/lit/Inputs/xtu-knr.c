/* Functions defined K&R-style, as zlib's are, for xtu-knr.c. */
#include "xtu-knr.h"

int knr_total;

static int scale(x)
float x;
{
    return (int)(x * 4);
}

int knr_store(slot, v)
    int *slot;
    long v;
{
    *slot += (int)v;
    knr_total += (int)v;
    return *slot;
}

/* the declarations in another order than the list, and one each of
** char, float, short, a pointer, an array, a struct and register */
int knr_mix(a, c, x, s, p, buf, pt, r)
    struct knr_pt pt;
    short s;
    float x;
    char c;
    int *p;
    char buf[];
    register int r;
    int a;
{
    knr_total += 1;
    return a + c + scale(x) + s + *p + buf[1] + pt.u * pt.v + r;
}

int knr_pick(c, x)
    char c;
    float x;
{
    knr_total += 100;
    return c == 'q' && x == 2.5f ? 7 : -1;
}

knr_fn knr_pointer()
{
    return knr_pick;
}
