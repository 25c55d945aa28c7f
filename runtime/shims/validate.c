/*
** shims/validate.c - ptm_validate() in a mirror.
**
** ptmcc turns ptm_validate(cond, fmt, ...) in a mirror clone into
** ptm_shim_validate.  A failed check is the mirror's most direct evidence
** that the primary would fail on its data, so it becomes a PTM_EV_VALIDATE
** event whose target is the formatted message.
*/
#include <stdarg.h>
#include <stdio.h>

#include "ptm_int.h"

/*
** ptm_shim_validate: returns cond, always.  In a mirror, when cond is 0,
** records PTM_EV_VALIDATE with the message formatted from fmt (truncated to
** the event's target field) and result 0.  Outside a mirror, or when the
** check passed, fmt is never formatted.
*/
int ptm_shim_validate(int cond, const char *fmt, ...)
{
    char msg[PTM_TARGET_MAX + 8];
    struct ptmEvent *ev;
    uint64_t t0;
    va_list ap;

    if (cond || !ptmMirrorCurrent)
        return cond;
    t0 = ptmOsNowNs();
    msg[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    ev = ptmMirrorRecord(PTM_EV_VALIDATE, PTM_CALL_ptm_validate, t0);
    if (ev) {
        ev->result = 0;
        ptmCopyField(ev->target, sizeof ev->target, msg);
    }
    return cond;
}
