/*
** last_error.c - ptm_last_error(): the last problem PTM absorbed on this
** thread.  A module of its own, below both the engine (tx.c), which clears
** it at each call and sets it, and the trace (trace.c), which reports a
** trace file it could not open there: neither calls the other for it.
*/
#include <stdarg.h>
#include <stdio.h>

#include "ptm_int.h"

static _Thread_local char lastError[256];

/* ptm_last_error: see ptm.h. */
const char *ptm_last_error(void)
{
    return lastError;
}

/*
** ptmSetLastError: sets this thread's ptm_last_error() to the formatted
** message (truncated to 255 bytes).
*/
void ptmSetLastError(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lastError, sizeof lastError, fmt, ap);
    va_end(ap);
}

/* ptmLastErrorClear: this thread's ptm_last_error() becomes "". */
void ptmLastErrorClear(void)
{
    lastError[0] = '\0';
}
