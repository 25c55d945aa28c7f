/*
** bounds.c - stores past a local array of a mirror.
**
** ptmcc lets a mirror store into its own locals in place, on the host's
** stack when the mirror runs inline.  C's a[i] is *(a + i), so an index
** past the array would reach whatever lies beyond it: the executor's frame,
** the host's frames, another thread's stack.  ptmcc therefore checks, in
** the mirror clones, each store into a local array whose index is not a
** constant inside it (ptm_local_at, ptm_local_fit of ptm_gen.h), and hands
** the library calls that write a local array without a length (strcpy,
** sprintf ...) to the checked versions below.  A store that would leave
** its local object is not done: the mirror ends (ptm_local_oob, in
** event.c), as the store's fault would have ended it in a fork child, and
** the event says where.
*/
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptm_int.h"

/* room: how many bytes of the local object [obj, obj+size) lie from d on;
** ends the mirror when d is not in it. */
static size_t room(const volatile void *obj, size_t size, const char *where, const void *d)
{
    uintptr_t off = (uintptr_t)d - (uintptr_t)obj;
    if (off > size)
        ptm_local_oob(where);
    return size - off;
}

/*
** ptm_local_strcpy, ptm_local_stpcpy, ptm_local_strcat, ptm_local_strncat,
** ptm_local_sprintf, ptm_local_vsprintf: the library call of that name
** with d in the mirror's local object [obj, obj+size), whose room the call
** must not pass (where names the object for the event).  A copy that
** would not fit is not made (sprintf's may fill the room, inside the
** object): the mirror ends in ptm_local_oob.  Returns what the call
** returns.
*/
PTM_API char *ptm_local_stpcpy(const volatile void *obj, size_t size, const char *where,
                               char *d, const char *s)
{
    size_t r = room(obj, size, where, d), n = strlen(s);
    if (n >= r)
        ptm_local_oob(where);
    memmove(d, s, n + 1);
    return d + n;
}

PTM_API char *ptm_local_strcpy(const volatile void *obj, size_t size, const char *where,
                               char *d, const char *s)
{
    ptm_local_stpcpy(obj, size, where, d, s);
    return d;
}

PTM_API char *ptm_local_strncat(const volatile void *obj, size_t size, const char *where,
                                char *d, const char *s, size_t max)
{
    size_t r = room(obj, size, where, d), have = strnlen(d, r);
    size_t n = strnlen(s, max);
    if (have == r || n >= r - have)
        ptm_local_oob(where);
    memmove(d + have, s, n);
    d[have + n] = '\0';
    return d;
}

PTM_API char *ptm_local_strcat(const volatile void *obj, size_t size, const char *where,
                               char *d, const char *s)
{
    return ptm_local_strncat(obj, size, where, d, s, SIZE_MAX);
}

/* A printf format's %n stores the count through a pointer argument,
** wherever it points: a format with one stops an inline mirror
** (ptmFormatCheck, which the stdio shims, SQLite's printf shims and
** ptm_local_sprintf call; ptmcc keeps snprintf and the others it calls
** directly from inline mirrors unless their format is a literal without
** one).  Here, below the shims, which call it. */

/* Whether fmt has a %n conversion (%n, %ln, %2$hhn ...). */
static bool formatStores(const char *fmt)
{
    for (const char *f = fmt; (f = strchr(f, '%')) != NULL;) {
        f++;
        if (*f == '%') {
            f++;
            continue;
        }
        f += strspn(f, "0123456789$#-+ '*.I!,"); /* SQLite's ! and , too */
        f += strspn(f, "hlLqjzt");
        if (*f == 'n')
            return true;
    }
    return false;
}

/* ptmFormatCheck: see ptm_int.h. */
void ptmFormatCheck(const char *fmt)
{
    if (ptmRedoCurrent && fmt && formatStores(fmt))
        ptmMirrorBail("inline mirror stopped: a format's %n stores through an argument; fork");
}

PTM_API int ptm_local_vsprintf(const volatile void *obj, size_t size, const char *where,
                               char *d, const char *fmt, va_list ap)
{
    ptmFormatCheck(fmt);
    size_t r = room(obj, size, where, d);
    int n = vsnprintf(d, r, fmt, ap);
    if (n >= 0 && (size_t)n >= r)
        ptm_local_oob(where);
    return n;
}

PTM_API int ptm_local_sprintf(const volatile void *obj, size_t size, const char *where,
                              char *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = ptm_local_vsprintf(obj, size, where, d, fmt, ap);
    va_end(ap);
    return n;
}

/* ownedRoom: the room of the mirror's object d points into, for a library
** call that writes there; a d the inline mirror does not own stops it (the
** fork executor runs it instead).  SIZE_MAX when no inline mirror runs. */
static size_t ownedRoom(const void *d)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return SIZE_MAX;
    size_t room = ptmRedoRoom(r, d);
    if (!room)
        ptmMirrorBail("inline mirror stopped: a library call writes memory it does not own; fork");
    return room;
}

#define PAST_OWNED "by a library call, past the end of the mirror's object"

/*
** ptm_redo_fit: in an instrumented clone, a library call is about to
** write count units of unit bytes at p, a pointer: they must lie in one
** object the inline mirror owns.  A p it does not own stops the mirror
** (the fork executor runs it); a write past the object's end ends it as
** crashed, with an out_of_bounds event.
*/
PTM_API void ptm_redo_fit(size_t count, size_t unit, const volatile void *p)
{
    if (!p || !ptmRedoCurrent)
        return;
    size_t room = ownedRoom((const void *)(uintptr_t)p);
    if (unit && count > room / unit)
        ptm_local_oob(PAST_OWNED);
}

/*
** ptm_redo_own_n: p, through which a library call in an instrumented clone
** writes an object of n bytes (strtol's end, localtime_r's struct tm), when
** the n bytes lie in one object the inline mirror owns (or no inline
** mirror runs).  A p it does not own stops the mirror (the fork executor
** runs it), an object past the end of the mirror's ends it as crashed.
*/
PTM_API void *ptm_redo_own_n(void *p, size_t n)
{
    ptm_redo_fit(n, 1, p);
    return p;
}

/*
** ptm_redo_strcpy, ptm_redo_stpcpy, ptm_redo_strcat, ptm_redo_strncat,
** ptm_redo_sprintf, ptm_redo_vsprintf: the library call, in an
** instrumented clone, writing through a pointer d: in an inline mirror, d
** must point into an object the mirror owns, and the call stays in it (as
** ptm_local_strcpy ...).  The call itself outside an inline mirror.
*/
PTM_API char *ptm_redo_strcpy(char *d, const char *s)
{
    size_t room = ownedRoom(d);
    return room == SIZE_MAX ? strcpy(d, s) : ptm_local_strcpy(d, room, PAST_OWNED, d, s);
}

PTM_API char *ptm_redo_stpcpy(char *d, const char *s)
{
    size_t room = ownedRoom(d);
    return room == SIZE_MAX ? stpcpy(d, s) : ptm_local_stpcpy(d, room, PAST_OWNED, d, s);
}

PTM_API char *ptm_redo_strcat(char *d, const char *s)
{
    size_t room = ownedRoom(d);
    return room == SIZE_MAX ? strcat(d, s) : ptm_local_strcat(d, room, PAST_OWNED, d, s);
}

PTM_API char *ptm_redo_strncat(char *d, const char *s, size_t max)
{
    size_t room = ownedRoom(d);
    return room == SIZE_MAX ? strncat(d, s, max)
                            : ptm_local_strncat(d, room, PAST_OWNED, d, s, max);
}

PTM_API int ptm_redo_vsprintf(char *d, const char *fmt, va_list ap)
{
    size_t room = ownedRoom(d);
    return room == SIZE_MAX ? vsprintf(d, fmt, ap)
                            : ptm_local_vsprintf(d, room, PAST_OWNED, d, fmt, ap);
}

PTM_API int ptm_redo_sprintf(char *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = ptm_redo_vsprintf(d, fmt, ap);
    va_end(ap);
    return n;
}
