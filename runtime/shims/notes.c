/*
** shims/notes.c - what the shim families add to their events: a target
** for a descriptor, a signal that would kill the primary, a read the mirror
** had to invent.  Every family that records calls on descriptors uses
** them, so they live below the families.
*/
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "shims_int.h"

/*
** ptmShimFdTarget: an event target for descriptor fd: the path the mirror
** opened it with, else "fd N".  OUT: dst (cap bytes).
*/
void ptmShimFdTarget(struct ptmMirror *m, int fd, char *dst, size_t cap)
{
    struct ptmSimFile *f = ptmSimFind(m, fd);
    char buf[16], *p = buf + sizeof buf;
    unsigned u = fd < 0 ? 0u - (unsigned)fd : (unsigned)fd;

    if (f && f->path) {
        ptmCopyField(dst, cap, f->path);
        return;
    }
    /* "fd N" without snprintf, a quarter of a write shim's instructions. */
    *--p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (fd < 0)
        *--p = '-';
    *--p = ' ';
    *--p = 'd';
    *--p = 'f';
    ptmCopyField(dst, cap, p);
}

/*
** ptmShimNoteSignal: the real call would not return err but raise a signal
** whose default action kills the process (SIGXFSZ for EFBIG, SIGPIPE for
** EPIPE unless nosig): notes it in ev->detail when that default is in place.
** sigaction() with a NULL new action only reads.
*/
void ptmShimNoteSignal(struct ptmEvent *ev, int err, int nosig)
{
    struct sigaction sa;
    int sig = err == EFBIG ? SIGXFSZ : err == EPIPE && !nosig ? SIGPIPE : 0;

    if (!ev || !sig || sigaction(sig, NULL, &sa) != 0)
        return;
    if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL)
        ptmCopyField(ev->detail, sizeof ev->detail,
                     sig == SIGXFSZ ? "SIGXFSZ kills" : "SIGPIPE kills");
}

/*
** ptmShimNoteRecv: marks ev, the event of a receive on f (recv, read, a
** stdio read over a socket), as pretended when a receive on f since the
** last mark had no recorded response, and says so in its detail.  The flag
** is kept until an event takes it, so a stdio read that consumed the
** invented EOF through its buffer is marked too.  A socket's note (net.c:
** a replayed timeout, a half-open probe) then becomes the detail, its
** flags added.  f or ev may be NULL (no entry; a full ring: the flag waits
** for the next event).
*/
void ptmShimNoteRecv(struct ptmSimFile *f, struct ptmEvent *ev)
{
    if (!f || !ev)
        return;
    if (f->unrecorded) {
        f->unrecorded = 0;
        ev->flags |= PTM_EVF_PRETENDED;
        ptmCopyField(ev->detail, sizeof ev->detail,
                     ptmSimIsSocket(f) ? "no recorded response" : "host input left for the primary");
    }
    if (f->sock && f->sock->note[0]) {
        ev->flags |= f->sock->note_flags;
        ptmCopyField(ev->detail, sizeof ev->detail, f->sock->note);
        f->sock->note[0] = '\0';
        f->sock->note_flags = 0;
    }
}
