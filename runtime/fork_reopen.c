/*
** fork_reopen.c - the descriptors a fork child reopened read-only, and
** the host's flags for them (ptmForkHostFlags), which the shims read.
** Below both: the child (fork_child.c) fills the table, the simulated
** world (shims/sim.c) reads it, and neither calls the other.
*/
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fork_int.h"

/* The inherited regular files that were open for writing, which the child
** reopened read-only (fork_child.c, childPrivateFd): their numbers, the
** host's flags, and which file each was.  Child-only state: empty in the
** host. */
struct reopen {
    int fd, flags;
    dev_t dev;
    ino_t ino;
};
#define REOPEN_SMALL 64
static struct reopen reopenSmall[REOPEN_SMALL], *reopened = reopenSmall;
static unsigned nReopened, reopenCap = REOPEN_SMALL;

/*
** ptmForkNoteReopen: the fork child remembers that descriptor fd (the
** host's flags fl, the file st) is now read-only.  A full table that
** cannot grow forgets: the mirror then sees the descriptor as read-only,
** and its writes fail as writes to one would.
*/
void ptmForkNoteReopen(int fd, int fl, const struct stat *st)
{
    if (nReopened == reopenCap) {
        struct reopen *more = malloc(sizeof *more * reopenCap * 2);
        if (!more)
            return;
        memcpy(more, reopened, sizeof *more * nReopened);
        if (reopened != reopenSmall)
            free(reopened);
        reopened = more;
        reopenCap *= 2;
    }
    reopened[nReopened++] = (struct reopen){fd, fl, st->st_dev, st->st_ino};
}

/*
** ptmForkHostFlags: flags, the F_GETFL of descriptor fd, corrected to what
** the host's descriptor says: in a fork child, an inherited regular file
** open for writing was reopened read-only (childPrivateFd), and the shims
** must still predict its writes as the host's descriptor would take them.
** Returns flags, with the host's access mode and O_APPEND when fd is still
** that file.
*/
int ptmForkHostFlags(int fd, int flags)
{
    struct stat st;
    unsigned i;

    if ((flags & O_ACCMODE) != O_RDONLY)
        return flags;
    for (i = 0; i < nReopened; i++) {
        if (reopened[i].fd != fd)
            continue;
        if (FAILED(SYS2(SYS_fstat, fd, &st)) || st.st_dev != reopened[i].dev ||
            st.st_ino != reopened[i].ino)
            return flags;
        return (flags & ~(O_ACCMODE | O_APPEND)) | (reopened[i].flags & (O_ACCMODE | O_APPEND));
    }
    return flags;
}
