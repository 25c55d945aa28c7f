/*
** mirror.c - a mirror's start and end on this thread, and its run's result.
**
** The executors start a mirror here (ptmMirrorEnter) and end it here
** (ptmMirrorLeave); what it records while it runs goes through event.c.
*/
#include <stdlib.h>

#include "ptm_int.h"

/*
** ptmMirrorEnter: makes m, recording into ring, the running mirror of
** this thread, starting its clock now.  OUT: *m.
*/
void ptmMirrorEnter(struct ptmMirror *m, struct ptmRing *ring)
{
    pid_t self = ptmOsPid();

    m->ring = ring;
    m->t0_ns = ptmOsNowNs();
    m->files = NULL;
    m->ovs = NULL;
    m->ns = NULL;
    m->fsuse = NULL;
    m->streams = NULL;
    m->locks = NULL;
    m->ov_bytes = 0;
    m->cwd = NULL;
    m->virt_ns = 0;
    /* The ring was made by the host process; a fork child sees its own pid. */
    m->host_pid = ring && ptmRingHost(ring) > 0 ? ptmRingHost(ring) : self;
    m->in_child = m->host_pid != self;
    if (ring)
        ring->virt_sleep_ns = 0;
    ptmMirrorCurrent = m;
}

/*
** ptmMirrorLeave: ends the mirror m on this thread: what it opened through
** the shims and did not close is closed (nothing is written: its FILEs
** flush into simulation), and ptmMirrorCurrent is NULL again.
*/
void ptmMirrorLeave(struct ptmMirror *m)
{
    /* Still current while releasing: a FILE's flush calls back into the
    ** shims' simulation, which must not reach the disk. */
    ptmMirrorCurrent = m;
    ptmLockReleaseAll(m);
    ptmStdioReleaseAll(m);
    ptmSimReleaseAll(m);
    free(m->cwd);
    m->cwd = NULL;
    ptmMirrorCurrent = NULL;
}

/*
** ptmStatusName: the name of a mirror status, as traces and rules see it.
*/
const char *ptmStatusName(enum ptmMirrorStatus s)
{
    switch (s) {
    case PTM_MS_RETURNED: return "returned";
    case PTM_MS_CRASHED: return "crashed";
    case PTM_MS_TIMEOUT: return "timeout";
    case PTM_MS_DENIED: return "denied";
    case PTM_MS_FAILED: return "failed";
    case PTM_MS_LONGJMP: return "longjmp";
    }
    return "?";
}

/*
** ptmMirrorRunRelease: frees the heap copy of the mirror's frame that an
** inline run keeps when the frame is larger than the ring's (the ring is a
** shared mapping and stays small).  Safe on a run that owns nothing, and
** twice.
*/
void ptmMirrorRunRelease(struct ptmMirrorRun *run)
{
    if (!run || !run->frame_heap)
        return;
    if (run->frame == run->frame_heap) {
        run->frame = NULL;
        run->frame_valid = 0;
    }
    free(run->frame_heap);
    run->frame_heap = NULL;
}
