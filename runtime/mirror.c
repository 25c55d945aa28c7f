/*
** mirror.c - a mirror's start and end on this thread, and its run's result.
**
** The executors start a mirror here (ptmMirrorEnter) and end it here
** (ptmMirrorLeave); what it records while it runs goes through event.c.
*/
#include <stdlib.h>
#include <string.h>

#include "ptm_int.h"

/*
** ptmMirrorEnter: makes m, recording into ring, the running mirror of
** this thread, starting its clock now.  OUT: *m.
*/
void ptmMirrorEnter(struct ptmMirror *m, struct ptmRing *ring)
{
    const struct ptmShimFamily *const *fam;
    pid_t self = ptmOsPid();

    m->ring = ring;
    m->t0_ns = ptmOsNowNs();
    m->virt_ns = 0;
    m->host_flags = NULL;
    memset(m->shims, 0, sizeof m->shims);
    /* The ring was made by the host process; a fork child sees its own pid. */
    m->host_pid = ring && ptmRingHost(ring) > 0 ? ptmRingHost(ring) : self;
    m->in_child = m->host_pid != self;
    if (ring)
        ring->virt_sleep_ns = 0;
    for (fam = ptmShimFamilies; fam < ptmShimFamilies + ptmShimFamilyCount; fam++)
        if (*fam && (*fam)->enter)
            (*fam)->enter(m);
    ptmMirrorCurrent = m;
}

/*
** ptmMirrorLeave: ends the mirror m on this thread: what it opened through
** the shims and did not close is closed (nothing is written: its FILEs
** flush into simulation), and ptmMirrorCurrent is NULL again.
*/
void ptmMirrorLeave(struct ptmMirror *m)
{
    const struct ptmShimFamily *const *fam;

    /* Still current while releasing: a FILE's flush calls back into the
    ** shims' simulation, which must not reach the disk. */
    ptmMirrorCurrent = m;
    for (fam = ptmShimFamilies; fam < ptmShimFamilies + ptmShimFamilyCount; fam++)
        if (*fam && (*fam)->release)
            (*fam)->release(m);
    ptmMirrorCurrent = NULL;
}

/*
** ptmFamiliesPrimaryApply: see ptm_int.h.  Each family that adjusts
** something gets its own slot of fa.
*/
void ptmFamiliesPrimaryApply(const struct ptmRing *ring, uint64_t timeout_us,
                             struct ptmFamilyAdjust *fa)
{
    memset(fa, 0, sizeof *fa);
    if (!ring)
        return;
    for (unsigned i = 0; i < ptmShimFamilyCount && i < PTM_FAMILIES_MAX; i++)
        if (ptmShimFamilies[i] && ptmShimFamilies[i]->primary_apply)
            fa->saved[i] = ptmShimFamilies[i]->primary_apply(ring, timeout_us);
}

/*
** ptmFamiliesPrimaryRestore: see ptm_int.h.
*/
void ptmFamiliesPrimaryRestore(struct ptmFamilyAdjust *fa)
{
    for (unsigned i = 0; i < ptmShimFamilyCount && i < PTM_FAMILIES_MAX; i++)
        if (fa->saved[i]) {
            void *saved = fa->saved[i];
            fa->saved[i] = NULL;
            ptmShimFamilies[i]->primary_restore(saved);
        }
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
