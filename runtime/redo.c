/*
** redo.c - the write buffer and the heap of an inline mirror.
**
** ptmcc instruments a mirror clone whose stores it cannot prove local: every
** access to memory that is not one of the function's own locals goes through
** ptm_redo_ld (a read) or ptm_redo_st (a write), which translate an address
** into where the mirror's view of those bytes lives:
**
**   - Memory the mirror owns is itself: its live stack frames (between
**     the stack pointer and the executor's frame) and what it allocated
**     (ptm_shim_malloc and friends, from an arena released when it ends).
**   - Any other byte the mirror writes is copied on first touch into a
**     shadow block, and the write goes there; later reads of it read the
**     block (a redo log, as transactional memory's write-back mode keeps,
**     never written back).  Bytes it never wrote are read in place.
**
** So real memory, seen from another thread during the mirror, never
** changes, and the mirror reads back what it wrote.
**
** Shadow blocks cover whole 64-byte granules, found through a hash table
** by granule; an access that spans blocks merges them into one, so that a
** translated address is always contiguous for the whole access.  A block
** reads real memory lazily, byte by byte as the program touches it (each
** byte has a valid flag): the runtime never reads bytes the program does
** not, which keeps it inside objects (and clean under AddressSanitizer).
**
** Everything here is per thread; ptmRedoCurrent is NULL outside an inline
** mirror, where the translations are the identity and the heap shims are
** the real calls (the fork executor's child owns all its memory anyway).
*/
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ptm_int.h"

#define GRANULE_SHIFT 6
#define CHUNK_MIN (64u * 1024u)
#define HEAP_ALIGN 16u

PTM_API _Thread_local int ptm_redo_mode;
PTM_API _Thread_local uintptr_t ptm_redo_heap_lo, ptm_redo_heap_hi;
_Thread_local struct ptmRedo *ptmRedoCurrent;

/* One contiguous shadow of [lo, hi): data, and which bytes of it hold the
** mirror's view (the rest are still to be read from real memory). */
struct redoBlock {
    uintptr_t lo, hi;
    unsigned char *data;
    unsigned char *valid;
    struct redoBlock *made_before; /* every view this mirror made, newest first */
};

struct redoChunk {
    struct redoChunk *next;
    size_t size, used;
    _Alignas(16) unsigned char mem[];
};

struct redoSlot {
    uintptr_t granule; /* 0: empty (no object lives in the first 64 bytes) */
    struct redoBlock *block;
};

/* ------------------------------------------------------------------------
** Chunks: bump allocation, all released at once.
**
** Chunks and the granule table are mapped (ptmOs.mmap), not malloc'd: the
** watchdog's last-resort signal may jump out of the mirror anywhere in
** here, and must not leave malloc's lock held.  Each thread keeps one
** chunk of each kind and its table for its next mirror, so a mirror that
** stays small makes no system call.
*/

static _Thread_local struct redoChunk *spareShadow, *spareHeap;
static _Thread_local struct redoSlot *spareTable;
static _Thread_local size_t spareCap;

static void *mapAnon(size_t n)
{
    void *p = ptmOs.mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* chunkAlloc: n bytes aligned to align from the chunk list at *list, which
** grows by a chunk (*spare, when it will do) when the first one is full.
** NULL when out of memory. */
static void *chunkAlloc(struct redoChunk **list, struct redoChunk **spare, size_t n,
                        size_t align)
{
    struct redoChunk *c = *list;
    if (c) {
        uintptr_t base = (uintptr_t)c->mem;
        size_t at = (size_t)(((base + c->used + align - 1) & ~(uintptr_t)(align - 1)) - base);
        if (at <= c->size && n <= c->size - at) {
            c->used = at + n;
            return c->mem + at;
        }
    }
    if (n > SIZE_MAX / 2 - sizeof *c - align)
        return NULL;
    size_t size = n + align > CHUNK_MIN ? n + align : CHUNK_MIN;
    if (size == CHUNK_MIN && *spare) {
        c = *spare;
        *spare = NULL;
    } else if ((c = mapAnon(sizeof *c + size)) == NULL) {
        return NULL;
    }
    c->size = size;
    c->used = 0;
    c->next = *list;
    *list = c;
    size_t at = ((uintptr_t)c->mem + align - 1) / align * align - (uintptr_t)c->mem;
    c->used = at + n;
    return c->mem + at;
}

/* chunksFree: releases the chunks of *list, keeping one of the smallest
** size in *spare (NULL: none kept) for the thread's next mirror. */
static void chunksFree(struct redoChunk **list, struct redoChunk **spare)
{
    for (struct redoChunk *c = *list, *next; c; c = next) {
        next = c->next;
        if (spare && !*spare && c->size == CHUNK_MIN) {
            c->next = NULL;
            *spare = c;
        } else {
            ptmOs.munmap(c, sizeof *c + c->size);
        }
    }
    *list = NULL;
}

/* inChunks: whether [p, p+n) lies in memory handed out from list. */
static int inChunks(const struct redoChunk *c, uintptr_t p, size_t n)
{
    for (; c; c = c->next) {
        uintptr_t lo = (uintptr_t)c->mem;
        if (p >= lo && p - lo <= c->used && n <= c->used - (p - lo))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
** The granule table
*/

static size_t slotOf(const struct ptmRedo *r, uintptr_t g)
{
    return (size_t)((g * 0x9E3779B97F4A7C15ull) >> 20) & (r->cap - 1);
}

static struct redoBlock *blockAt(const struct ptmRedo *r, uintptr_t g)
{
    if (!r->used)
        return NULL;
    for (size_t i = slotOf(r, g);; i = (i + 1) & (r->cap - 1)) {
        if (r->table[i].granule == g)
            return r->table[i].block;
        if (r->table[i].granule == 0)
            return NULL;
    }
}

/* grow: doubles the table (or makes the first).  PTM_OK or PTM_ENOMEM. */
static int grow(struct ptmRedo *r)
{
    size_t cap = r->cap ? r->cap * 2 : 256;
    struct redoSlot *t;
    if (!r->cap && spareTable) {
        t = spareTable;
        cap = spareCap;
        spareTable = NULL;
    } else if ((t = mapAnon(cap * sizeof *t)) == NULL) {
        return PTM_ENOMEM;
    }
    struct redoSlot *old = r->table;
    size_t oldCap = r->cap;
    r->table = t;
    r->cap = cap;
    for (size_t i = 0; i < oldCap; i++) {
        if (!old[i].granule)
            continue;
        size_t j = slotOf(r, old[i].granule);
        while (t[j].granule)
            j = (j + 1) & (cap - 1);
        t[j] = old[i];
    }
    if (old)
        ptmOs.munmap(old, oldCap * sizeof *old);
    return PTM_OK;
}

/* setBlock: granule g is covered by b from now on.  PTM_OK or PTM_ENOMEM. */
static int setBlock(struct ptmRedo *r, uintptr_t g, struct redoBlock *b)
{
    if ((r->used + 1) * 2 > r->cap && grow(r) != PTM_OK)
        return PTM_ENOMEM;
    size_t i = slotOf(r, g);
    while (r->table[i].granule && r->table[i].granule != g)
        i = (i + 1) & (r->cap - 1);
    if (!r->table[i].granule) {
        r->table[i].granule = g;
        r->used++;
    }
    r->table[i].block = b;
    return PTM_OK;
}

/* ------------------------------------------------------------------------
** Translation
*/

/* AddressSanitizer may keep a function's locals in a "fake stack" on the
** heap (to find uses after return); it tells which real frame one stands
** for.  Weak: absent from a program built without it. */
extern void *__asan_get_current_fake_stack(void) __attribute__((weak));
extern void *__asan_addr_is_in_fake_stack(void *fake, void *addr, void **beg, void **end)
    __attribute__((weak));

/* onStack: whether [a, a+n) is in a live frame of the mirror: between the
** frame of this check (whose callers are the mirror's frames) and the
** executor's.  Nothing below the stack pointer is a live object. */
static int onStack(const struct ptmRedo *r, uintptr_t lo, uintptr_t a, size_t n)
{
    return a >= lo && a < r->stack_hi && n <= r->stack_hi - a;
}

/* A local object an instrumented clone registered: [lo, hi). */
struct redoObject {
    uintptr_t lo, hi;
};

/* inObject: whether [a, a+n) lies in one registered object. */
static int inObject(const struct ptmRedo *r, uintptr_t a, size_t n)
{
    for (size_t i = r->nobj; i-- > 0;)
        if (a >= r->obj[i].lo && a < r->obj[i].hi && n <= r->obj[i].hi - a)
            return 1;
    return 0;
}

/* ptmRedoOwns: whether the running mirror owns [p, p+n): its stack frames
** (with r->objects, the objects its clones registered there) or its heap. */
int ptmRedoOwns(const struct ptmRedo *r, const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)__builtin_frame_address(0);
    if (inChunks(r->heap, a, n))
        return 1;
    if (r->objects)
        return inObject(r, a, n);
    if (onStack(r, lo, a, n))
        return 1;
    void *fake = __asan_get_current_fake_stack ? __asan_get_current_fake_stack() : NULL;
    void *beg, *end;
    void *real = fake ? __asan_addr_is_in_fake_stack(fake, (void *)a, &beg, &end) : NULL;
    return real && onStack(r, lo, (uintptr_t)real, 1) && n <= (uintptr_t)end - a;
}

/* ptmRedoRoom: how many bytes from p on lie in the one object of the
** running mirror that holds p: a local its clones registered, or its
** heap; 0 when the mirror does not own p. */
size_t ptmRedoRoom(const struct ptmRedo *r, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (const struct redoChunk *c = r->heap; c; c = c->next) {
        uintptr_t lo = (uintptr_t)c->mem;
        if (a >= lo && a - lo < c->used)
            return c->used - (a - lo);
    }
    for (size_t i = r->nobj; r->objects && i-- > 0;)
        if (a >= r->obj[i].lo && a < r->obj[i].hi)
            return r->obj[i].hi - a;
    uintptr_t lo = (uintptr_t)__builtin_frame_address(0);
    return !r->objects && onStack(r, lo, a, 1) ? r->stack_hi - a : 0;
}

/* fill: makes the block's view of [a, a+n) complete, reading the bytes it
** does not hold yet from real memory. */
static void fill(struct redoBlock *b, uintptr_t a, size_t n)
{
    size_t off = a - b->lo;
    if (!memchr(b->valid + off, 0, n))
        return;
    const volatile unsigned char *real = (const volatile unsigned char *)a;
    for (size_t i = 0; i < n; i++) {
        if (!b->valid[off + i]) {
            b->data[off + i] = real[i];
            b->valid[off + i] = 1;
        }
    }
}

/* merge: one block for the granules g0..g1 and every block that covers
** one of them, holding what those held.  NULL when out of memory. */
static struct redoBlock *merge(struct ptmRedo *r, uintptr_t g0, uintptr_t g1)
{
    uintptr_t lo = g0 << GRANULE_SHIFT, hi = (g1 + 1) << GRANULE_SHIFT;
    for (uintptr_t g = g0; g <= g1; g++) {
        struct redoBlock *b = blockAt(r, g);
        if (b) {
            lo = b->lo < lo ? b->lo : lo;
            hi = b->hi > hi ? b->hi : hi;
            g = (b->hi >> GRANULE_SHIFT) - 1;
        }
    }
    size_t size = hi - lo;
    struct redoBlock *nb =
        chunkAlloc(&r->shadow, &spareShadow, sizeof *nb, _Alignof(struct redoBlock));
    /* Aligned as a granule: a byte's copy keeps the byte's alignment, for
    ** types aligned up to 64 (an _Alignas(32) vector's aligned moves). */
    unsigned char *mem = chunkAlloc(&r->shadow, &spareShadow, 2 * size, 1u << GRANULE_SHIFT);
    if (!nb || !mem)
        return NULL;
    *nb = (struct redoBlock){lo, hi, mem, mem + size, r->views};
    r->views = nb;
    memset(nb->valid, 0, size);
    /* The old blocks stay where they are (a translation in flight may
    ** still point into one) but are no longer found. */
    for (uintptr_t g = lo >> GRANULE_SHIFT; g < hi >> GRANULE_SHIFT; g++) {
        struct redoBlock *b = blockAt(r, g);
        if (b && b != nb) {
            memcpy(nb->data + (b->lo - lo), b->data, b->hi - b->lo);
            memcpy(nb->valid + (b->lo - lo), b->valid, b->hi - b->lo);
            for (uintptr_t h = b->lo >> GRANULE_SHIFT; h < b->hi >> GRANULE_SHIFT; h++)
                if (setBlock(r, h, nb) != PTM_OK)
                    return NULL;
            g = (b->hi >> GRANULE_SHIFT) - 1;
        } else if (!b && setBlock(r, g, nb) != PTM_OK) {
            return NULL;
        }
    }
    return nb;
}

/* intoFrames: whether a store to [a, a+n), which is none of the mirror's
** objects, reaches into its live stack frames (or the executor's): there
** it would change a return address, a saved register, the executor's
** state.  Such a store is a wild one (past a local, through a stale
** pointer), and ends the mirror; a store into the host's memory (the
** frames above the executor's included) goes to the buffer. */
static int intoFrames(const struct ptmRedo *r, uintptr_t a, size_t n)
{
    uintptr_t lo = (uintptr_t)__builtin_frame_address(0);
    if (!r->objects)
        return 0;
    if (a < r->stack_hi && a + n > lo)
        return 1;
    /* Under AddressSanitizer a frame may live in its fake stack. */
    void *fake = __asan_get_current_fake_stack ? __asan_get_current_fake_stack() : NULL;
    void *beg, *end;
    void *real = fake ? __asan_addr_is_in_fake_stack(fake, (void *)a, &beg, &end) : NULL;
    return real && onStack(r, lo, (uintptr_t)real, 1);
}

/* translate: where the mirror's view of [p, p+n) is.  write: the mirror
** is about to write it.  NULL when the write buffer is out of memory. */
static void *translate(struct ptmRedo *r, const volatile void *p, size_t n, int write)
{
    uintptr_t a = (uintptr_t)p;
    if (n == 0 || a + n < a)
        return (void *)a;
    if (write && ptmRedoOwns(r, (const void *)a, n))
        return (void *)a;
    if (write && intoFrames(r, a, n))
        ptm_local_oob("through a pointer, into the mirror's stack frames outside its locals");
    uintptr_t g0 = a >> GRANULE_SHIFT, g1 = (a + n - 1) >> GRANULE_SHIFT;
    struct redoBlock *b = blockAt(r, g0);
    if (!b || a + n > b->hi) {
        int any = b != NULL;
        for (uintptr_t g = g0 + 1; !any && r->used && g <= g1; g++)
            any = blockAt(r, g) != NULL;
        if (!any && !write)
            return (void *)a;
        b = merge(r, g0, g1);
        if (!b)
            return NULL;
        ptm_redo_mode = 2;
    }
    fill(b, a, n);
    return b->data + (a - b->lo);
}

/* outOfMemory: the write buffer cannot grow: the mirror cannot go on
** without writing real memory, so it stops and runs in a fork instead. */
static void *outOfMemory(void)
{
    ptmMirrorBail("inline mirror stopped: its write buffer is out of memory; fork");
    abort(); /* not reached: ptmMirrorBail leaves the mirror */
}

/*
** ptm_redo_ld_slow, ptm_redo_st_slow: what ptm_gen.h's ptm_redo_ld and
** ptm_redo_st call when an inline mirror runs on this thread: the address
** of the mirror's view of the n bytes at p, for reading or writing.
*/
PTM_API void *ptm_redo_ld_slow(const volatile void *p, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return (void *)(uintptr_t)p;
    void *v = translate(r, p, n, 0);
    return v ? v : outOfMemory();
}

PTM_API void *ptm_redo_st_slow(volatile void *p, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r)
        return (void *)(uintptr_t)p;
    void *v = translate(r, p, n, 1);
    return v ? v : outOfMemory();
}

/*
** ptm_redo_frame, ptm_redo_unframe, ptm_redo_local: what instrumented
** clones tell of their local objects (see ptm_gen.h).  ptm_redo_frame, at
** a clone's entry, returns the mark its exit (ptm_redo_unframe) goes back
** to; it also drops the objects of frames that a longjmp left, below this
** one, whose exits never ran.  Nothing outside an instrumented inline
** mirror.
*/
PTM_API unsigned ptm_redo_frame(void)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r || !r->objects)
        return 0;
    /* Under AddressSanitizer's fake stack, locals are not on this stack:
    ** their addresses say nothing of which frames are gone. */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (!__asan_get_current_fake_stack || !__asan_get_current_fake_stack())
        while (r->nobj && r->obj[r->nobj - 1].hi <= sp)
            r->nobj--;
    return (unsigned)r->nobj;
}

PTM_API void ptm_redo_unframe(unsigned *mark)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (r && r->objects && *mark < r->nobj)
        r->nobj = *mark;
}

PTM_API void ptm_redo_local(const volatile void *p, size_t n)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r || !r->objects)
        return;
    /* A block in a loop declares its objects again each time round. */
    uintptr_t lo = (uintptr_t)p;
    for (size_t i = r->nobj, k = 0; i-- > 0 && k < 16; k++)
        if (r->obj[i].lo == lo && r->obj[i].hi == lo + n)
            return;
    if (r->nobj == r->capobj) {
        size_t cap = r->capobj ? 2 * r->capobj : 64;
        struct redoObject *obj = chunkAlloc(&r->shadow, &spareShadow, cap * sizeof *obj,
                                            _Alignof(struct redoObject));
        if (!obj)
            outOfMemory();
        if (r->nobj)
            memcpy(obj, r->obj, r->nobj * sizeof *obj);
        r->obj = obj;
        r->capobj = cap;
    }
    r->obj[r->nobj++] = (struct redoObject){lo, lo + n};
}

/*
** ptm_redo_own: p, an argument a library function writes through (strcpy's
** destination, fgets's buffer), when the running inline mirror owns what it
** points to (or p is NULL, or no inline mirror runs).  Otherwise the write
** would reach real memory: the inline mirror stops here and the fork
** executor runs it instead.
*/
PTM_API void *ptm_redo_own(void *p)
{
    struct ptmRedo *r = ptmRedoCurrent;
    if (!r || !p || ptmRedoOwns(r, p, 1))
        return p;
    ptmMirrorBail("inline mirror stopped: a library call writes memory it does not own; fork");
    return p; /* not reached */
}

/*
** ptm_redo_str: s, a string a library function will read, as the running
** inline mirror sees it: s itself when the mirror wrote none of its bytes
** (or no inline mirror runs), else a copy of the mirror's view on the
** mirror's heap.
*/
PTM_API void *ptm_redo_str(const volatile void *s)
{
    struct ptmRedo *r = ptmRedoCurrent;
    uintptr_t a = (uintptr_t)s;
    if (!r || ptm_redo_mode != 2 || !s)
        return (void *)a;
    size_t n = 0;
    int shadowed = 0;
    for (;;) {
        uintptr_t g = (a + n) >> GRANULE_SHIFT;
        size_t room = ((g + 1) << GRANULE_SHIFT) - (a + n);
        struct redoBlock *b = blockAt(r, g);
        const unsigned char *v;
        if (b) {
            fill(b, a + n, 1);
            v = b->data + (a + n - b->lo);
            shadowed = 1;
            if (!*v)
                break;
            n++;
            continue;
        }
        v = (const unsigned char *)(a + n);
        const unsigned char *nul = memchr((const void *)v, 0, room);
        if (nul) {
            n += (size_t)(nul - v);
            break;
        }
        n += room;
    }
    if (!shadowed)
        return (void *)a;
    char *copy = ptmRedoMalloc(r, n + 1, 0);
    struct redoBlock *view =
        chunkAlloc(&r->shadow, &spareShadow, sizeof *view, _Alignof(struct redoBlock));
    if (!copy || !view)
        return outOfMemory();
    ptmRedoRead(r, copy, (const void *)a, n);
    copy[n] = '\0';
    /* Not in the table: a view to map back from (ptm_redo_real) only. */
    *view = (struct redoBlock){a, a + n + 1, (unsigned char *)copy, NULL, r->views};
    r->views = view;
    return copy;
}

/*
** ptm_redo_real: p, a pointer a library function returned, where the
** running inline mirror's code expects it: a pointer into a view this
** mirror made (strchr's result in the view of acct->name) becomes the same
** place in real memory (&acct->name[k]), so that it compares and subtracts
** as the primary's would, and is translated again when used.  Any other
** pointer is itself.
*/
PTM_API void *ptm_redo_real(const volatile void *p)
{
    struct ptmRedo *r = ptmRedoCurrent;
    uintptr_t a = (uintptr_t)p;
    if (!r || !p)
        return (void *)a;
    for (const struct redoBlock *b = r->views; b; b = b->made_before) {
        uintptr_t d = (uintptr_t)b->data;
        if (a >= d && a - d <= b->hi - b->lo)
            return (void *)(b->lo + (a - d));
    }
    return (void *)a;
}

/*
** ptmRedoOut, ptmRedoIn: where a shim writes (reads) the n bytes at p that
** the mirror's code handed it: p itself outside an inline mirror, else the
** mirror's view of them (read(fd, rec->buf, n) fills the write buffer's
** copy of rec->buf).
*/
/* inPlace: whether an access at p needs no view: no write buffer this far
** (ptm_redo_mode below need: 1 for writes, 2 for reads), or the mirror's own
** heap.  ptm_gen.h's ptm_redo_ld and ptm_redo_st (one out-of-line copy
** per generated unit) make the same test for generated code; the runtime
** keeps its own so that this file does not call the header that calls it. */
static int inPlace(const void *p, int need)
{
    uintptr_t a = (uintptr_t)p;
    return ptm_redo_mode < need || a - ptm_redo_heap_lo < ptm_redo_heap_hi - ptm_redo_heap_lo;
}

void *ptmRedoOut(void *p, size_t n)
{
    return !p || inPlace(p, 1) ? p : ptm_redo_st_slow(p, n);
}

const void *ptmRedoIn(const void *p, size_t n)
{
    return !p || inPlace(p, 2) ? p : ptm_redo_ld_slow(p, n);
}

/*
** ptmRedoRead: copies the mirror's view of [src, src+n) to dst (which the
** caller owns): what it wrote there, else real memory.
*/
void ptmRedoRead(struct ptmRedo *r, void *dst, const void *src, size_t n)
{
    const void *v = r ? translate(r, src, n, 0) : src;
    memcpy(dst, v ? v : outOfMemory(), n);
}

/* ------------------------------------------------------------------------
** The mirror's heap
*/

/* A header before each allocation: its size, for realloc. */
struct heapHead {
    size_t size;
    size_t below;        /* the chunk's use before this allocation */
};

/*
** ptmRedoMalloc: n bytes from the mirror's heap, aligned to align (a power
** of two, at least 16).  Never NULL: past PTM_REDO_HEAP_MAX, or when the
** system gives no memory, the inline mirror stops and a fork runs it.
*/
void *ptmRedoMalloc(struct ptmRedo *r, size_t n, size_t align)
{
    if (align < HEAP_ALIGN)
        align = HEAP_ALIGN;
    if (n > PTM_REDO_HEAP_MAX || r->heap_bytes > PTM_REDO_HEAP_MAX - n)
        ptmMirrorBail("inline mirror stopped: its heap would pass 256 MiB; fork");
    struct redoChunk *chunk = r->heap;
    size_t below = chunk ? chunk->used : 0;
    unsigned char *p = chunkAlloc(&r->heap, &spareHeap, n + align, align);
    if (!p)
        ptmMirrorBail("inline mirror stopped: no memory for its heap; fork");
    if (r->heap != chunk)
        below = 0; /* a new chunk */
    p += align;
    ((struct heapHead *)p)[-1].size = n;
    ((struct heapHead *)p)[-1].below = below;
    r->heap_bytes += n;
    ptm_redo_heap_lo = (uintptr_t)r->heap->mem;
    ptm_redo_heap_hi = (uintptr_t)r->heap->mem + r->heap->used;
    return p;
}

void ptmRedoFree(struct ptmRedo *r, void *p)
{
    struct redoChunk *c = r->heap;
    const struct heapHead *h = (const struct heapHead *)p - 1;
    if (!c || (unsigned char *)p + h->size != c->mem + c->used)
        return;
    c->used = h->below;
    r->heap_bytes -= h->size;
    ptm_redo_heap_hi = (uintptr_t)c->mem + c->used;
}

/* ptmRedoSize: the size of p, an allocation of the mirror's heap. */
size_t ptmRedoSize(const void *p)
{
    return ((const struct heapHead *)p)[-1].size;
}

/* ------------------------------------------------------------------------
** Begin and end
*/

/*
** ptmRedoBegin: starts r, the write buffer and heap of an inline mirror
** about to run on this thread below the stack frame at frame (everything
** of this thread's stack below it is the mirror's).  OUT: *r.
*/
void ptmRedoBegin(struct ptmRedo *r, const void *frame)
{
    memset(r, 0, sizeof *r);
    r->stack_hi = (uintptr_t)frame;
    ptmRedoCurrent = r;
    ptm_redo_mode = 1;
}

/*
** ptmRedoEnd: ends r: its shadow blocks are dropped (nothing is written
** back) and its heap released.
*/
void ptmRedoEnd(struct ptmRedo *r)
{
    ptm_redo_mode = 0;
    ptm_redo_heap_lo = ptm_redo_heap_hi = 0;
    ptmRedoCurrent = NULL;
    chunksFree(&r->shadow, &spareShadow);
    chunksFree(&r->heap, &spareHeap);
    if (r->table && !spareTable && r->cap <= 4096) {
        memset(r->table, 0, r->cap * sizeof *r->table);
        spareTable = r->table;
        spareCap = r->cap;
    } else if (r->table) {
        ptmOs.munmap(r->table, r->cap * sizeof *r->table);
    }
    r->table = NULL;
    r->cap = r->used = 0;
    r->obj = NULL; /* it lived in the shadow chunks */
    r->nobj = r->capobj = 0;
}

/*
** ptmRedoThreadExit: releases what this thread kept for its next mirror.
*/
void ptmRedoThreadExit(void)
{
    chunksFree(&spareShadow, NULL);
    chunksFree(&spareHeap, NULL);
    if (spareTable)
        ptmOs.munmap(spareTable, spareCap * sizeof *spareTable);
    spareTable = NULL;
}
