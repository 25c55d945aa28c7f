/*
** shims/jump.c - longjmp, _longjmp and siglongjmp made by a mirror's own
** code.
**
** ptmcc turns these calls in a mirror clone into the shims below, so that
** longjmp.c knows the jump is the mirror's: one that leaves the mirror ends
** it (PTM_MS_LONGJMP), under either executor.  The same jump reaching
** longjmp.c any other way during an inline mirror is a signal handler of the
** host's, whose jump belongs to the host (see ptmJumpFromMirror).  The
** jmp_buf is read in the mirror's view: an instrumented inline mirror's
** setjmp wrote into its write buffer's copy.
*/
#include <setjmp.h>

#include "shims_int.h"

/* ptm_shim_longjmp: longjmp(3) from a mirror.  Does not return. */
void ptm_shim_longjmp(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpFromMirror(PTM_JUMP_LONGJMP, env, val);
}

/* ptm_shim__longjmp: _longjmp(3) from a mirror.  Does not return. */
void ptm_shim__longjmp(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpFromMirror(PTM_JUMP__LONGJMP, env, val);
}

/* ptm_shim_siglongjmp: siglongjmp(3) from a mirror.  Does not return. */
void ptm_shim_siglongjmp(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpFromMirror(PTM_JUMP_SIGLONGJMP, env, val);
}
