/*
** longjmp_api.c - the program's longjmp, _longjmp, siglongjmp and
** __longjmp_chk, in a library of their own (libptm_jump.a).
**
** They replace libc's only in a program that runs transactions: ptmcc's
** link names this library after libc, so a program that calls longjmp but
** links nothing else of libptm takes libc's (its reference is already
** satisfied when this archive is searched), while libptm's exec_inline.c refers
** to ptmJumpApi, which pulls them in ahead of libc's shared ones.
** (Exported by ptmcc's link, so that shared libraries call them too.)
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* This file defines the jump functions themselves: not their fortified
** redirections. */
#undef _FORTIFY_SOURCE
#include <setjmp.h>

#include "ptm_int.h"

void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

const volatile int ptmJumpApi = 1;

/*
** longjmp, _longjmp, siglongjmp, __longjmp_chk: as libc's, once the scopes
** the jump leaves are ended (longjmp.c).  Do not return.
*/
PTM_API __attribute__((noreturn)) void longjmp(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpEntry(PTM_JUMP_LONGJMP, env, val);
}

PTM_API __attribute__((noreturn)) void _longjmp(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpEntry(PTM_JUMP__LONGJMP, env, val);
}

PTM_API __attribute__((noreturn)) void siglongjmp(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpEntry(PTM_JUMP_SIGLONGJMP, env, val);
}

PTM_API __attribute__((noreturn)) void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
    ptmJumpEntry(PTM_JUMP_CHK, env, val);
}
