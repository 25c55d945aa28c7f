/*
** longjmp.c - a longjmp that leaves a mirror, or a call the engine makes
** for the host, does not leave PTM's state behind.
**
** setjmp-based error handling (Lua's errors, png_error, a parser's bail-out)
** leaves a function by longjmp to a frame of its caller.  Two places in PTM
** must not be left that way unseen:
**
**   - a mirror.  A fork mirror that jumps into the host's setjmp would run
**     the rest of the host program in the child, an inline mirror would
**     run it with the mirror's state still active.  A jump out of a mirror
**     ends the mirror instead: it lands back in its executor, and the run
**     is the observation PTM_MS_LONGJMP ("left by longjmp").
**   - a primary or an alternative.  The jump goes on, as in a plain build;
**     first the engine writes the call's trace record and releases what
**     the call held (ptm_tx_run's frame is about to be abandoned).
**
** Both are scopes (struct ptmJumpScope), pushed on a per-thread stack while
** they run.  The jumps are caught where every caller reaches them: libptm
** defines longjmp, _longjmp, siglongjmp and __longjmp_chk (what glibc's
** _FORTIFY_SOURCE calls) in the program itself, and ptmcc exports them from
** its dynamic symbol table (-Wl,--export-dynamic-symbol), so that shared
** libraries (liblua, libpng) bind to them ahead of libc's.  The C library's
** own internal jumps do not go through them, and need not.  Each checks the
** scopes and then jumps through libc's function (dlsym(RTLD_NEXT)).
**
** The four live in longjmp_api.c, a library of their own (libptm_jump.a)
** that ptmcc's link names after libc: a program that calls longjmp but has
** no transaction takes libc's and links no part of libptm, while the
** inline executor (exec_inline.c), linked with any transaction, refers to
** ptmJumpApi and so brings them in ahead of libc's.  (Not this file: they
** call it, and it must not refer back to them.)
**
** Whether a jump leaves a scope: a scope records the frame address of the
** function that runs it (hi); its code runs in frames below hi, its
** caller's above.  The target's stack pointer is in the jmp_buf, mangled by
** glibc (PTR_MANGLE); on x86-64 it is demangled with the thread's pointer
** guard, after a self-test at start-up.  Where that is not possible, the
** jmp_buf's own address stands for the target when it lies on this
** thread's stack (a local jmp_buf, the usual case); a jmp_buf elsewhere
** (png's lives in its struct) is taken to leave a mirror -- which only ends
** the mirror early -- and to stay inside a primary, where a wrong guess
** would release a call still running.  So is a target far above the
** scope's frame (SAME_STACK): another stack's, a coroutine switch that
** may come back.
**
** A jump that stays inside a scope (setjmp and longjmp both within the
** mirror or the primary) is untouched.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* This file defines the jump functions themselves: not their fortified
** redirections. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include "ptm_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define PTM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PTM_ASAN 1
#endif
#endif
#ifdef PTM_ASAN
/* AddressSanitizer's own longjmp interceptors are weak: ours replace them,
** so its bookkeeping for the frames a jump abandons is done here. */
void __asan_handle_no_return(void);
#endif

void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));
/* libc's own name for its jumps: found in a static program (ptmcc links it
** in with -u), where dlsym finds nothing; never bound to a shared libc
** (weak and hidden: a dynamic program does not name glibc's private
** symbol). */
extern void __libc_siglongjmp(struct __jmp_buf_tag env[1], int val)
    __attribute__((weak, noreturn, visibility("hidden")));

typedef void (*jumpFn)(struct __jmp_buf_tag *env, int val);

static uintptr_t peerTop(void);
static int peerStep(int fn, struct __jmp_buf_tag *env, int val);

_Thread_local struct ptmJumpScope *ptmJumpTop;

static struct {
    jumpFn fn[PTM_JUMP_KINDS];  /* libc's, by enum ptmJumpFn */
    int demangles;              /* spOf reads the saved stack pointer */
    _Atomic int resolved;
} real;

/* A jump of the host's that waits for the inline mirror it interrupted to
** end (ptmJumpResume). */
static _Thread_local struct {
    struct __jmp_buf_tag *env;
    int val;
    enum ptmJumpFn fn;
} pending;

/* ------------------------------------------------------------------------
** The target of a jump
*/

/* spOf: the stack pointer saved in env, demangled.  Meaningful only when
** real.demangles. */
static uintptr_t spOf(const struct __jmp_buf_tag *env)
{
#if defined(__x86_64__) && defined(__GLIBC__)
    /* glibc's x86-64 PTR_MANGLE: xor with the TCB's pointer guard
    ** (%fs:0x30), then rotate left by 17; JB_RSP is word 6. */
    uintptr_t v = (uintptr_t)env->__jmpbuf[6], guard;
    __asm__("mov %%fs:0x30, %0" : "=r"(guard));
    v = (v >> 17) | (v << 47);
    return v ^ guard;
#else
    (void)env;
    return 0;
#endif
}

/* demanglesHere: whether spOf reads back the stack pointer of a setjmp
** made in this very frame. */
static __attribute__((noinline)) int demanglesHere(void)
{
    jmp_buf b;
    if (_setjmp(b))
        return 0; /* never jumped to */
    uintptr_t sp = spOf(b), here = (uintptr_t)__builtin_frame_address(0);
    return sp <= here && here - sp < 4096;
}

/* resolve: libc's jump functions and the demangling self-test, once; from
** a constructor, so that no jump (from a signal handler) has to dlsym. */
__attribute__((constructor)) static void resolve(void)
{
    if (atomic_load(&real.resolved))
        return;
    static const char *const names[PTM_JUMP_KINDS] = {
        [PTM_JUMP_LONGJMP] = "longjmp", [PTM_JUMP__LONGJMP] = "_longjmp",
        [PTM_JUMP_SIGLONGJMP] = "siglongjmp", [PTM_JUMP_CHK] = "__longjmp_chk"};
    jumpFn any = NULL;
    for (int i = 0; i < PTM_JUMP_KINDS; i++)
        if ((real.fn[i] = (jumpFn)dlsym(RTLD_NEXT, names[i])) != NULL)
            any = real.fn[i];
    if (!any && __libc_siglongjmp)
        any = __libc_siglongjmp;
    /* glibc's four are one function; any stands for a missing one. */
    for (int i = 0; i < PTM_JUMP_KINDS; i++)
        if (!real.fn[i])
            real.fn[i] = any;
    real.demangles = demanglesHere();
    atomic_store(&ptmPeerSelf.jump_top, peerTop);
    atomic_store(&ptmPeerSelf.jump_step, peerStep);
    atomic_store(&real.resolved, 1);
}

enum { INSIDE, OUTSIDE, UNKNOWN };

/* How far above a scope's frame its caller's frames can be: a target
** farther up is on another stack (a coroutine's), not the caller's. */
#define SAME_STACK ((uintptr_t)64 << 20)

/* where: whether env's target lies inside scope s (its frames are below
** s->hi), outside it (in its caller's frames, above), or cannot be told. */
static int where(const struct ptmJumpScope *s, const struct __jmp_buf_tag *env)
{
    if (real.demangles) {
        uintptr_t sp = spOf(env);
        return sp < s->hi ? INSIDE : sp - s->hi < SAME_STACK ? OUTSIDE : UNKNOWN;
    }
    /* The jmp_buf's address, when it is on this stack between here and
    ** the scope's frame or just above it (the caller's frames). */
    uintptr_t at = (uintptr_t)env, here = (uintptr_t)__builtin_frame_address(0);
    if (at >= here && at < s->hi)
        return INSIDE;
    if (at >= s->hi && at - s->hi < SAME_STACK)
        return OUTSIDE;
    return UNKNOWN;
}

/* ------------------------------------------------------------------------
** Scopes
*/

/* onAltStack: whether this thread runs on its signal stack now. */
static int onAltStack(void)
{
    stack_t ss;
    return sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK);
}

/* The scopes' frames, beside the list: whether a scope still runs is read
** here, never from the scope, whose memory may be gone.  Deeper than
** SIDE_MAX, no scope is dropped. */
#define SIDE_MAX 64
static _Thread_local struct {
    struct ptmJumpScope *s;
    uintptr_t hi;
} side[SIDE_MAX];
static _Thread_local unsigned sideN, sideOver;

static void sidePush(struct ptmJumpScope *s)
{
    if (sideOver || sideN == SIDE_MAX) {
        sideOver++;
        return;
    }
    side[sideN].s = s;
    side[sideN++].hi = s->hi;
}

/* sidePop: s, and the scopes entered after it, no longer run. */
static void sidePop(const struct ptmJumpScope *s)
{
    for (unsigned i = sideN; i-- > 0;)
        if (side[i].s == s) {
            sideN = i;
            sideOver = 0;
            return;
        }
    if (sideOver)
        sideOver--;
}

/* liveTop: this thread's innermost scope that may still run, seen from a
** frame at here.  A running scope's frame is above every frame of the code
** it runs: one below here on the same stack has been left unseen -- by a
** jump through libc's longjmp (a plain program's own, in a process where
** this runtime is a library's: docs/DESIGN.md §9).  Its frame is gone, so
** it cannot be ended (no record; what it held is not released): it is
** dropped, so that no jump reads it.  Not from a signal stack, which lies
** anywhere. */
static struct ptmJumpScope *liveTop(uintptr_t here)
{
    unsigned n = sideN;
    if (sideOver)
        return ptmJumpTop;
    while (n > 0 && side[n - 1].hi < here && here - side[n - 1].hi < SAME_STACK)
        n--;
    if (n < sideN && !onAltStack()) {
        sideN = n;
        ptmJumpTop = n ? side[n - 1].s : NULL;
    }
    return ptmJumpTop;
}

/*
** ptmJumpEnter: s runs on this thread from now on, inside the scopes
** already running.  The caller has filled in s->kind and s->hi (its own
** frame address), and s->back (a mirror) or s->unwind and s->ctx (a call).
** s->left is cleared; entering a mirror also drops a pending jump that no
** engine resumed.
*/
void ptmJumpEnter(struct ptmJumpScope *s)
{
    if (s->kind == PTM_SCOPE_MIRROR)
        pending.env = NULL; /* left by a mirror nobody resumed: dropped */
    liveTop(s->hi + 1);
    s->left = 0;
    s->prev = ptmJumpTop;
    ptmJumpTop = s;
    sidePush(s);
}

/*
** ptmJumpLeave: s, and any scope entered after it, no longer runs.  Safe
** after a jump that ended s.
*/
void ptmJumpLeave(struct ptmJumpScope *s)
{
    sidePop(s);
    ptmJumpTop = s->prev;
}

/*
** ptmJumpReal: siglongjmp(env, val) through libc, past the scopes: libptm's
** own jumps back to its executors.  Async-signal-safe.  Does not return.
*/
void ptmJumpReal(sigjmp_buf env, int val)
{
    if (!atomic_load(&real.resolved))
        resolve();
#ifdef PTM_ASAN
    __asan_handle_no_return();
#endif
    real.fn[PTM_JUMP_SIGLONGJMP](env, val);
    __builtin_unreachable();
}

/* stepOwn: this runtime's innermost scope s, for a jump fn to env: a
** mirror's it leaves ends the jump -- it lands back in the mirror's
** executor -- unless the scope defers the jumps that are not its own (an
** inline mirror: a signal handler of the host interrupted it), which then
** go on once the mirror has ended (ptmJumpResume).  A call's it leaves
** writes its record and releases the call: returns 1, the jump goes on.
** Returns 0 when the jump stays inside s. */
static int stepOwn(enum ptmJumpFn fn, struct __jmp_buf_tag *env, int val, int own)
{
    struct ptmJumpScope *s = ptmJumpTop;
    int w = where(s, env);
    if (s->kind == PTM_SCOPE_MIRROR && w != INSIDE) {
        s->left = 1;
        if (s->defers && !own) {
            pending.env = env;
            pending.val = val;
            pending.fn = fn;
        }
        sidePop(s);
        ptmJumpTop = s->prev; /* its frame is the executor's again */
        ptmJumpReal(*s->back, PTM_JUMP_LEFT);
    }
    if (s->kind != PTM_SCOPE_CALL || w != OUTSIDE)
        return 0;
    sidePop(s);
    ptmJumpTop = s->prev;
    s->left = 1;
    s->unwind(s->ctx);
    return 1;
}

/* peerTop, peerStep: this runtime's scopes, for another runtime's jump
** (peers.c): a library's longjmp may leave the program's primary, the
** program's a library's. */
static uintptr_t peerTop(void)
{
    struct ptmJumpScope *s = liveTop((uintptr_t)__builtin_frame_address(0));
    return s ? s->hi : 0;
}

static int peerStep(int fn, struct __jmp_buf_tag *env, int val)
{
    if (!atomic_load(&real.resolved))
        resolve();
    return ptmJumpTop && fn >= 0 && fn < PTM_JUMP_KINDS ? stepOwn(fn, env, val, 0) : 0;
}

/* innermostPeer: the peer whose innermost scope on this thread is the
** innermost of all peers' (the lowest frame); NULL: none has one.
** OUT: *hi, that scope's hi. */
static struct ptmPeer *innermostPeer(uintptr_t *hi)
{
    struct ptmPeer *p, *best = NULL;
    *hi = 0;
    for (int i = 0; (p = ptmPeerNext(&i)) != NULL;) {
        uintptr_t (*top)(void) = atomic_load(&p->jump_top);
        uintptr_t h = top ? top() : 0;
        if (h && (!best || h < *hi))
            best = p, *hi = h;
    }
    return best;
}

/* jump: longjmp(env, val) through libc's fn; own: made by the mirror's own
** code (shims/jump.c).  Each scope the jump leaves is ended first,
** innermost first, this runtime's and its peers' alike (stepOwn). */
static __attribute__((noreturn)) void jump(enum ptmJumpFn fn, struct __jmp_buf_tag *env,
                                           int val, int own)
{
    if (!atomic_load(&real.resolved))
        resolve();
    for (;;) {
        uintptr_t phi;
        struct ptmPeer *p = innermostPeer(&phi);
        struct ptmJumpScope *s = liveTop((uintptr_t)__builtin_frame_address(0));
        int (*step)(int, struct __jmp_buf_tag *, int) = p ? atomic_load(&p->jump_step) : NULL;
        if (s && (!step || s->hi <= phi)) {
            if (!stepOwn(fn, env, val, own))
                break;
        } else if (step) {
            if (!step(fn, env, val))
                break;
        } else {
            break;
        }
    }
#ifdef PTM_ASAN
    __asan_handle_no_return();
#endif
    real.fn[fn](env, val);
    __builtin_unreachable();
}

/*
** ptmJumpFromMirror: the jump fn(env, val) that a mirror's own code makes
** (shims/jump.c): one that leaves the mirror ends it, under either
** executor, and is never made.  Does not return.
*/
void ptmJumpFromMirror(enum ptmJumpFn fn, struct __jmp_buf_tag *env, int val)
{
    /* An instrumented inline mirror's setjmp wrote its write buffer's copy
    ** of env; the saved registers mean the same from any address. */
    jump(fn, (struct __jmp_buf_tag *)ptmRedoIn(env, sizeof(jmp_buf)), val, 1);
}

/*
** ptmJumpPending: whether a jump of the host's waits on this thread: one
** that a signal handler made while an inline mirror ran, or while the fork
** executor waited for its child; it ended the mirror instead.
*/
int ptmJumpPending(void)
{
    return pending.env != NULL;
}

/*
** ptmJumpResume: makes the pending jump (call only when ptmJumpPending()),
** ending the scopes it leaves as any jump does: the engine calls it once
** the call it was running has its record and is released.  Does not
** return.
*/
void ptmJumpResume(void)
{
    struct __jmp_buf_tag *env = pending.env;
    if (!env)
        abort(); /* a caller's mistake: there is nowhere to go */
    pending.env = NULL;
    jump(pending.fn, env, pending.val, 0);
}

/* ptmJumpEntry: see ptm_int.h. */
void ptmJumpEntry(enum ptmJumpFn fn, struct __jmp_buf_tag *env, int val)
{
    jump(fn, env, val, 0);
}
