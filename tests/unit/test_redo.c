/*
** test_redo.c - the write buffer and heap of inline mirrors (redo.c,
** shims/mem.c).
**
** Mirrors here are written by hand as ptmcc instruments them: every access
** to memory that is not the function's own local goes through ptm_redo_ld
** or ptm_redo_st.  They run in the real inline executor, so that what the
** tests see is what a program would: real memory unchanged, the mirror
** reading back its own writes.
*/
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptm_int.h"

#define LD(e) (*(__typeof__(e) *)ptm_redo_ld(&(e), sizeof(e)))
#define ST(e) (*(__typeof__(e) *)ptm_redo_st(&(e), sizeof(e)))

struct frame {
    struct { void *p; } arg;
    long ret;
    int err;
};

static struct ptmRing *ring;

static void setup(void)
{
    cr_assert_eq(ptmRingCreate(0, &ring), PTM_OK);
}

static void teardown(void)
{
    ptmRingDestroy(ring);
}

TestSuite(redo, .init = setup, .fini = teardown);

/* run: mirror(p) in the inline executor.  OUT: *run.  Returns the frame's
** result. */
static long run(void (*mirror)(void *), void *p, struct ptmMirrorRun *out)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = "redo.test", .function = "t",
        .frame_size = sizeof(struct frame), .mirror = mirror,
    };
    struct frame fr = {.arg = {p}};
    struct ptmMirrorRun r;
    cr_assert_eq(ptmInlineRun(&d, &fr, 0, ring, &r), PTM_OK);
    if (out)
        *out = r;
    cr_assert(r.frame_valid || r.status != PTM_MS_RETURNED);
    return r.frame_valid ? ((struct frame *)(void *)ring->frame)->ret : -1;
}

/* --- mirrors ---------------------------------------------------------- */

struct account {
    long balance;
    int ops;
    char name[52];
    long history[64];
};

static struct account host = {.balance = 100, .ops = 7, .name = "alice"};

/* Debits 30 through the buffer and reads the result back. */
static void mirrorDebit(void *p)
{
    struct frame *fr = p;
    struct account *a = fr->arg.p;
    ST(a->balance) = LD(a->balance) - 30;
    ST(a->ops) += 1;
    fr->ret = LD(a->balance) * 100 + LD(a->ops);
}

Test(redo, stores_go_to_the_buffer_and_read_back)
{
    struct ptmMirrorRun r;
    cr_assert_eq(run(mirrorDebit, &host, &r), 70 * 100 + 8);
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_eq(host.balance, 100);
    cr_assert_eq(host.ops, 7);
    /* A second mirror starts from real memory again. */
    cr_assert_eq(run(mirrorDebit, &host, NULL), 70 * 100 + 8);
}

/* Writes history[0..63] one by one (one shadow block per granule, merged
** when an access spans two), then a long that straddles a granule. */
static void mirrorHistory(void *p)
{
    struct frame *fr = p;
    struct account *a = fr->arg.p;
    for (int i = 0; i < 64; i++)
        ST(a->history[i]) = i * 3;
    /* 8 bytes across the first 64-byte boundary inside history. */
    unsigned char *bytes = (unsigned char *)a->history;
    size_t off = (((uintptr_t)bytes + 64) & ~(uintptr_t)63) - 4 - (uintptr_t)bytes;
    long straddle;
    memcpy(&straddle, ptm_redo_ld(bytes + off, sizeof straddle), sizeof straddle);
    long sum = 0;
    for (int i = 0; i < 64; i++)
        sum += LD(a->history[i]);
    long logical[64], expect;
    for (int i = 0; i < 64; i++)
        logical[i] = i * 3;
    memcpy(&expect, (unsigned char *)logical + off, sizeof expect);
    fr->ret = straddle == expect ? sum : -2;
}

Test(redo, accesses_across_granules_merge_blocks)
{
    memset(host.history, 0, sizeof host.history);
    cr_assert_eq(run(mirrorHistory, &host, NULL), 3 * (63 * 64 / 2));
    for (int i = 0; i < 64; i++)
        cr_assert_eq(host.history[i], 0);
}

/* Owns its stack and its heap: stores there are in place. */
static void mirrorOwns(void *p)
{
    struct frame *fr = p;
    long local = 1;
    long *heap = ptm_shim_malloc(4 * sizeof *heap);
    int inPlace = ptm_redo_st(&local, sizeof local) == (void *)&local &&
                  ptm_redo_st(heap + 3, sizeof *heap) == (void *)(heap + 3) &&
                  ptm_redo_st(fr->arg.p, 8) != fr->arg.p;
    heap[3] = 5;
    heap = ptm_shim_realloc(heap, 100 * sizeof *heap);
    fr->ret = inPlace && heap[3] == 5 ? 1 : 0;
    ptm_shim_free(heap);
}

Test(redo, the_mirror_owns_its_stack_and_heap)
{
    cr_assert_eq(run(mirrorOwns, &host, NULL), 1);
}

/* The caller's frames are the host's: a store into one is buffered. */
static void mirrorWritesCallerStack(void *p)
{
    struct frame *fr = p;
    long *callers = fr->arg.p;
    ST(*callers) = 9;
    fr->ret = LD(*callers);
}

Test(redo, the_callers_stack_is_the_hosts)
{
    volatile long mine = 5;
    cr_assert_eq(run(mirrorWritesCallerStack, (void *)&mine, NULL), 9);
    cr_assert_eq(mine, 5);
}

/* memcpy, memset and strdup see and make the mirror's view. */
static void mirrorCopies(void *p)
{
    struct frame *fr = p;
    struct account *a = fr->arg.p;
    ptm_shim_memcpy(a->name, "bob", 4);
    char *copy = ptm_shim_strdup(a->name);
    ptm_shim_memset(&a->ops, 0, sizeof a->ops);
    char *grown = ptm_shim_realloc(a, sizeof *a); /* a host block: read, not freed */
    fr->ret = strcmp(copy, "bob") == 0 && LD(a->ops) == 0 &&
              strcmp(((struct account *)grown)->name, "bob") == 0;
    ptm_shim_free(a); /* the host's: not freed */
}

Test(redo, copies_and_frees_never_reach_the_host)
{
    struct account *a = malloc(sizeof *a);
    *a = host;
    cr_assert_eq(run(mirrorCopies, a, NULL), 1);
    cr_assert_str_eq(a->name, "alice");
    cr_assert_eq(a->ops, 7);
    free(a); /* AddressSanitizer would see a double free had the mirror freed it */
}

/* A library writer handed host memory stops the mirror. */
static void mirrorStrcpy(void *p)
{
    struct frame *fr = p;
    struct account *a = fr->arg.p;
    strcpy(ptm_redo_own(a->name), "mallory");
    fr->ret = 1;
}

Test(redo, a_library_write_to_host_memory_stops_the_mirror)
{
    struct ptmMirrorRun r;
    run(mirrorStrcpy, &host, &r);
    cr_assert_eq(r.status, PTM_MS_FAILED);
    cr_assert_not_null(r.bailed);
    cr_assert_str_eq(host.name, "alice");
    /* Its own memory is fine. */
    char mine[8];
    cr_assert_eq(ptm_redo_own(mine), mine);
}

/* malloc, use, free in a loop reuses one block of the mirror's heap; a
** heap that keeps growing past PTM_REDO_HEAP_MAX stops the mirror (the
** fork executor then runs it with real malloc). */
static void mirrorChurn(void *p)
{
    struct frame *fr = p;
    void *first = ptm_shim_malloc(65536), *again = NULL;
    ptm_shim_free(first);
    for (int i = 0; i < 10000; i++) {
        again = ptm_shim_malloc(65536);
        ptm_shim_free(again);
    }
    fr->ret = again == first && ptmRedoCurrent->heap_bytes == 0;
}

static void mirrorHoard(void *p)
{
    struct frame *fr = p;
    for (size_t i = 0; i <= PTM_REDO_HEAP_MAX / 65536; i++)
        ptm_shim_malloc(65536);
    fr->ret = 1; /* not reached */
}

Test(redo, a_freed_newest_block_is_reused_and_the_heap_is_capped)
{
    struct ptmMirrorRun r;
    cr_assert_eq(run(mirrorChurn, NULL, NULL), 1);
    run(mirrorHoard, NULL, &r);
    cr_assert_eq(r.status, PTM_MS_FAILED);
    cr_assert_not_null(r.bailed);
    cr_assert(strstr(r.bailed, "256 MiB") != NULL, "%s", r.bailed);
}

/* The readers the compiler cannot size read the mirror's view: a buffer
** with a NUL inside (memcmp, memchr), one with no terminator (strncmp,
** strnlen).  Each check that sees real memory instead adds a bit. */
static unsigned char bytes[8] = {1, 0, 2, 0, 3, 0, 4, 0};
static char letters[4] = {'a', 'b', 'c', 'd'};

static void mirrorReaders(void *p)
{
    struct frame *fr = p;
    static const unsigned char want[8] = {1, 0, 2, 0, 9, 0, 4, 0};
    unsigned char *b = fr->arg.p;
    ST(b[4]) = 9;
    ST(letters[3]) = 'x';
    long missed = 0;
    missed |= ptm_shim_memcmp(b, want, sizeof want) != 0;
    missed |= (ptm_shim_memchr(b, 9, 8) != (void *)(b + 4)) << 1;
    missed |= (ptm_shim_strncmp(letters, "abcx", 4) != 0) << 2;
    missed |= (ptm_shim_strnlen(letters, 4) != 4) << 3;
    missed |= (ptm_shim_memchr(b, 3, 8) != NULL) << 4;
    fr->ret = missed;
}

Test(redo, readers_of_a_pointer_and_a_count_see_the_view)
{
    cr_assert_eq(run(mirrorReaders, bytes, NULL), 0);
    cr_assert_eq(bytes[4], 3);
    cr_assert_eq(letters[3], 'd');
    /* Outside a mirror they are the real calls. */
    cr_assert_eq(ptm_shim_memchr(bytes, 3, 8), (void *)(bytes + 4));
    cr_assert_gt(ptm_shim_strncmp(letters, "abcc", 4), 0);
}

/* Outside an inline mirror the translations are the identity and the
** shims the real calls. */
Test(redo, outside_a_mirror_everything_is_real)
{
    long x = 1;
    cr_assert_eq(ptm_redo_ld(&x, sizeof x), (void *)&x);
    cr_assert_eq(ptm_redo_st(&x, sizeof x), (void *)&x);
    char *s = ptm_shim_strdup("real");
    ptm_shim_memcpy(s, "REAL", 4);
    cr_assert_str_eq(s, "REAL");
    ptm_shim_free(s);
}

/* Another thread watches the balance while mirrors write it. */
static _Atomic int stop;
static _Atomic long changes;

static void *watch(void *p)
{
    volatile long *balance = p;
    while (!atomic_load(&stop))
        if (*balance != 100)
            atomic_fetch_add(&changes, 1);
    return NULL;
}

static void mirrorHammer(void *p)
{
    struct frame *fr = p;
    struct account *a = fr->arg.p;
    for (int i = 0; i < 1000; i++)
        ST(a->balance) = i;
    fr->ret = LD(a->balance);
}

Test(redo, other_threads_never_see_a_mirror_write)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, watch, &host.balance), 0);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(run(mirrorHammer, &host, NULL), 999);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&changes), 0);
    cr_assert_eq(host.balance, 100);
}

/* A copy keeps its original's alignment (vector types load aligned). */
static _Alignas(64) unsigned char aligned[256];

static void mirrorAligned(void *p)
{
    struct frame *fr = p;
    int ok = 1;
    for (size_t off = 0; off < 192; off += 8) {
        unsigned char *v = ptm_redo_st(aligned + off, 64);
        ok &= ((uintptr_t)v & 63) == ((uintptr_t)(aligned + off) & 63);
    }
    fr->ret = ok;
}

Test(redo, a_copy_is_aligned_as_its_original)
{
    cr_assert_eq(run(mirrorAligned, NULL, NULL), 1);
}

/* --- instrumented mirrors' own objects ------------------------------- */

/* runObjects: as run, for a mirror of instrumented clones (desc.redo):
** of the stack, only the objects they register are the mirror's. */
static long runObjects(void (*mirror)(void *), void *p, struct ptmMirrorRun *out)
{
    struct ptm_tx_desc d = {
        .abi = PTM_ABI_VERSION, .transaction_id = "redo.objects", .function = "t",
        .frame_size = sizeof(struct frame), .mirror = mirror, .inline_ok = 1, .redo = 1,
    };
    struct frame fr = {.arg = {p}};
    cr_assert_eq(ptmInlineRun(&d, &fr, 0, ring, out), PTM_OK);
    return out->frame_valid ? ((struct frame *)(void *)ring->frame)->ret : -1;
}

/* put: a clone storing through its pointer, as ptmcc instruments it. */
static __attribute__((noinline)) void put(char *p, size_t i, char c)
{
    unsigned mark __attribute__((__cleanup__(ptm_redo_unframe))) = ptm_redo_frame();
    *(char *)ptm_redo_st(&p[i], 1) = c;
}

/* A registered local is written in place, through a pointer too, and a
** loop that declares it again does not register it again. */
static void mirrorOwnObject(void *p)
{
    struct frame *fr = p;
    unsigned mark __attribute__((__cleanup__(ptm_redo_unframe))) = ptm_redo_frame();
    for (int round = 0; round < 1000; round++) {
        char buf[16];
        ptm_redo_local(&buf, sizeof buf);
        buf[0] = 'a';
        put(buf, 15, 'z');
        if (buf[15] != 'z')
            return;
    }
    fr->ret = (long)ptmRedoCurrent->nobj;
}

/* A store through a pointer past a local, into the mirror's frames. */
static void mirrorPastObject(void *p)
{
    struct frame *fr = p;
    unsigned mark __attribute__((__cleanup__(ptm_redo_unframe))) = ptm_redo_frame();
    char buf[16];
    ptm_redo_local(&buf, sizeof buf);
    for (size_t i = 0; i < (size_t)fr->arg.p; i++)
        put(buf, i, 'x');
    fr->ret = buf[0];
}

Test(redo, an_instrumented_mirror_owns_its_objects_not_its_frames)
{
    struct ptmMirrorRun r;
    cr_assert_eq(runObjects(mirrorOwnObject, NULL, &r), 1, "one object, registered once");
    cr_assert_eq(r.status, PTM_MS_RETURNED);
    cr_assert_eq(runObjects(mirrorPastObject, (void *)(uintptr_t)16, &r), 'x');
    for (size_t far = 17; far <= 4096; far *= 4) {
        runObjects(mirrorPastObject, (void *)(uintptr_t)far, &r);
        cr_assert_eq(r.status, PTM_MS_CRASHED, "%zu bytes", far);
        cr_assert_eq(r.signo, SIGSEGV);
        cr_assert_eq(atomic_load(&ring->head), 1);
        cr_assert_eq(ring->ev[0].kind, PTM_EV_OUT_OF_BOUNDS);
    }
}
