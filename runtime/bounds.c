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
** its local object is not done: the mirror ends here, as the store's fault
** would have ended it in a fork child, and the event says where.
*/
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptm_int.h"

/*
** ptm_local_oob: a mirror was about to store outside its local object
** (where: "buf at file:line:col").  Records a PTM_EV_OUT_OF_BOUNDS event
** and ends the mirror as crashed by SIGSEGV: an inline mirror jumps back
** to its executor, a fork child dies of the signal.  Never returns.
*/
PTM_API void ptm_local_oob(const char *where)
{
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_OUT_OF_BOUNDS, PTM_CALL_COUNT, ptmOsNowNs());
    if (ev) {
        ptmCopyField(ev->target, sizeof ev->target, where);
        ptmCopyField(ev->detail, sizeof ev->detail, "store outside the local: not done");
    }
    ptmInlineFault(SIGSEGV);
    /* A fork child (its crash signals are at their default action), or a
    ** clone called outside any mirror: the store must not happen there
    ** either. */
    raise(SIGSEGV);
    abort();
}

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

PTM_API int ptm_local_vsprintf(const volatile void *obj, size_t size, const char *where,
                               char *d, const char *fmt, va_list ap)
{
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
