/*
** clones.c - mirrors that call into files ptmcc did not build.
**
** A mirror calls a PTM_MIRRORABLE function of another file through a weak
** reference to its clone; when that file was compiled without ptmcc the
** clone is missing and the generated code calls the function itself, after
** telling the runtime here.  Nothing passes through silently: the event
** goes into the mirror's observation (and so into the trace and the rules'
** view), and the fork executor's seccomp filter stops the function's
** writes as it does for any unknown external.
*/
#include "ptm_int.h"

/*
** ptm_note_missing_clone: records a PTM_EV_MISSING_CLONE event naming the
** function in the running mirror.  Outside a mirror (a clone cannot run
** there, but a program may call a mirror function by hand) it does
** nothing.  Async-signal-safe, like every event.
*/
PTM_API void ptm_note_missing_clone(const char *name)
{
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_MISSING_CLONE, PTM_CALL_COUNT, ptmOsNowNs());
    if (!ev)
        return;
    ptmCopyField(ev->target, sizeof ev->target, name);
    ptmCopyField(ev->detail, sizeof ev->detail, "no mirror clone: ran as it is");
}
