/*
** test_longjmp.c - longjmp.c: a jump out of a scope (a mirror, a call the
** engine makes) ends it; a jump within it is left alone.
**
** The jumps are made as a program makes them: through the longjmp of this
** executable (libptm's), or through the mirror's shims.
*/
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "ptm_int.h"

#define SECOND 1000000000ULL

static jmp_buf outside;
static int unwound;

static void countUnwind(void *ctx)
{
    (void)ctx;
    unwound++;
}

/* inScope: fn(arg) inside a call scope, as the engine runs a primary. */
static __attribute__((noinline)) void inScope(void (*fn)(void *), void *arg)
{
    struct ptmJumpScope s = {.kind = PTM_SCOPE_CALL,
                             .hi = (uintptr_t)__builtin_frame_address(0),
                             .unwind = countUnwind};
    ptmJumpEnter(&s);
    fn(arg);
    ptmJumpLeave(&s);
}

static void jumpOut(void *env)
{
    longjmp(env, 7);
}

static void jumpWithin(void *arg)
{
    (void)arg;
    jmp_buf here;
    if (setjmp(here) == 0)
        jumpOut(here);
}

Test(longjmp, a_jump_out_of_a_call_unwinds_it_once_and_lands)
{
    unwound = 0;
    volatile int landed = 0;
    if (setjmp(outside) == 0)
        inScope(jumpOut, outside);
    else
        landed = 1;
    cr_assert(landed);
    cr_assert_eq(unwound, 1);
    cr_assert_null(ptmJumpTop, "the scope is gone");
}

Test(longjmp, a_jump_within_a_call_is_left_alone)
{
    unwound = 0;
    inScope(jumpWithin, NULL);
    cr_assert_eq(unwound, 0);
    cr_assert_null(ptmJumpTop);
}

/* A jmp_buf on the heap (png keeps its own in its struct): where the jump
** lands comes from the saved stack pointer, not the buffer's address. */
Test(longjmp, a_heap_jmp_buf_is_placed_by_its_stack_pointer)
{
#if !defined(__x86_64__)
    cr_skip_test("the stack pointer is demangled on x86-64 only");
#endif
    struct __jmp_buf_tag *heap = malloc(sizeof(jmp_buf));
    unwound = 0;
    volatile int landed = 0;
    if (setjmp(heap) == 0)
        inScope(jumpOut, heap);
    else
        landed = 1;
    cr_assert(landed);
    cr_assert_eq(unwound, 1);
    free(heap);
}

static void nestedCall(void *env)
{
    inScope(jumpOut, env);
}

Test(longjmp, nested_calls_are_unwound_innermost_first)
{
    unwound = 0;
    if (setjmp(outside) == 0)
        inScope(nestedCall, outside);
    cr_assert_eq(unwound, 2);
    cr_assert_null(ptmJumpTop);
}

/* A mirror scope run as an executor runs one: returns PTM_JUMP_LEFT when a
** jump left it. */
static __attribute__((noinline)) int inMirror(void (*fn)(void *), void *arg, int defers)
{
    sigjmp_buf back;
    struct ptmJumpScope s = {.kind = PTM_SCOPE_MIRROR,
                             .hi = (uintptr_t)__builtin_frame_address(0),
                             .back = &back,
                             .defers = defers};
    int r = sigsetjmp(back, 0);
    if (r == 0) {
        ptmJumpEnter(&s);
        fn(arg);
    }
    ptmJumpLeave(&s);
    return r;
}

static void shimJumpOut(void *env)
{
    ptm_shim_longjmp(env, 9);
}

Test(longjmp, a_jump_out_of_a_mirror_ends_the_mirror_instead)
{
    volatile int landed = 0;
    volatile int r = 0;
    if (setjmp(outside) == 0)
        r = inMirror(jumpOut, outside, 0);
    else
        landed = 1;
    cr_assert_not(landed, "the jump did not reach the host");
    cr_assert_eq(r, PTM_JUMP_LEFT);
    cr_assert_not(ptmJumpPending());
    cr_assert_eq(inMirror(jumpWithin, NULL, 0), 0, "a jump within the mirror is its own");
}

Test(longjmp, a_jump_a_mirror_did_not_make_waits_for_the_engine)
{
    volatile int landed = 0;
    if (setjmp(outside) == 0) {
        /* The mirror's own jump ends it, and is gone. */
        cr_assert_eq(inMirror(shimJumpOut, outside, 1), PTM_JUMP_LEFT);
        cr_assert_not(ptmJumpPending());
        /* Another (a signal handler's) ends it too, then goes on. */
        cr_assert_eq(inMirror(jumpOut, outside, 1), PTM_JUMP_LEFT);
        cr_assert(ptmJumpPending());
        ptmJumpResume();
    } else {
        landed = 1;
    }
    cr_assert(landed);
    cr_assert_not(ptmJumpPending());
}

/* The executors */

struct frame {
    struct { int x; } arg;
    int ret;
    int err;
};

static void mirrorJumpsOut(void *p)
{
    struct frame *fr = p;
    ptm_shim_longjmp(outside, fr->arg.x);
}

static void mirrorLibraryJumpsOut(void *p)
{
    struct frame *fr = p;
    longjmp(outside, fr->arg.x); /* as liblua does: not through a shim */
}

static int run(int fork, void (*mirror)(void *), struct ptmMirrorRun *r)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = "longjmp.test", .function = "t",
        .frame_size = sizeof(struct frame), .mirror = mirror,
    };
    struct frame fr = {.arg = {3}};
    struct ptmRing *ring = ptmRingForThread();
    cr_assert_not_null(ring);
    return fork ? ptmForkRun(&d, &fr, 5 * SECOND, ring, r)
                : ptmInlineRun(&d, &fr, 5 * SECOND, ring, r);
}

Test(longjmp, both_executors_observe_a_mirror_left_by_longjmp)
{
    struct ptmMirrorRun r;
    volatile int landed = 0;
    if (setjmp(outside) == 0) {
        for (int fork = 0; fork < 2; fork++) {
            cr_assert_eq(run(fork, mirrorJumpsOut, &r), PTM_OK);
            cr_assert_eq(r.status, PTM_MS_LONGJMP, "%s: %s", ptmExecutorName(r.executor),
                         ptmStatusName(r.status));
            cr_assert_str_eq(ptmStatusName(r.status), "longjmp");
            cr_assert_str_eq(r.frame_lost, "left by longjmp");
            cr_assert_not(r.frame_valid);
            cr_assert_eq(r.verdict, PTM_VERDICT_NONE);
            cr_assert_not(ptmJumpPending());
        }
        /* A library's jump in a fork child is the mirror's too. */
        cr_assert_eq(run(1, mirrorLibraryJumpsOut, &r), PTM_OK);
        cr_assert_eq(r.status, PTM_MS_LONGJMP);
        cr_assert_not(ptmJumpPending());
    } else {
        landed = 1;
    }
    cr_assert_not(landed);
    cr_assert_null(ptmJumpTop);
    /* The inline executor still runs mirrors on this thread. */
    cr_assert_eq(run(0, jumpWithin, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
}

static volatile sig_atomic_t stopSpinning;

static void mirrorSpins(void *p)
{
    struct frame *fr = p;
    while (!stopSpinning)
        fr->ret++;
}

static void onAlarm(int sig)
{
    siglongjmp(outside, sig);
}

/* A signal handler of the host jumps while the engine waits for its fork
** child: the child is killed and reaped, no scope is left behind, and the
** jump is the engine's to make (here: the test's). */
Test(longjmp, a_handler_jump_while_a_fork_mirror_runs_waits_for_the_engine)
{
    struct ptmMirrorRun r;
    struct sigaction sa = {.sa_handler = onAlarm};
    struct itimerval it = {.it_value = {0, 100 * 1000}};
    volatile int landed = 0;

    sigaction(SIGALRM, &sa, NULL);
    if (sigsetjmp(outside, 1) == 0) {
        setitimer(ITIMER_REAL, &it, NULL);
        cr_assert_eq(run(1, mirrorSpins, &r), PTM_OK);
        cr_assert_eq(r.status, PTM_MS_LONGJMP, "%s", ptmStatusName(r.status));
        cr_assert_null(ptmJumpTop, "no scope is left behind");
        cr_assert(ptmJumpPending());
        ptmJumpResume();
    } else {
        landed = 1;
    }
    cr_assert(landed);
    cr_assert_null(ptmJumpTop);
    cr_assert_not(ptmJumpPending());
    /* The next mirror runs as ever. */
    cr_assert_eq(run(1, jumpWithin, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
}
