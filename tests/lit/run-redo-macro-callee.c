// The forms of Lua's lmem.c, lvm.c and ldo.c that need a macro's BODY
// rewritten for the clone, under -fptm-mirror-all:
//   - a call through a pointer the body spells (callfrealloc's
//     (*g->frealloc)(g->ud, ...)), also through another macro (GROW1):
//     the clone's redefinition sends the callee to ptm_clone_of, so the
//     allocator's clone runs, its stores into the write buffer;
//   - a local the body declares and takes the address of (TWICE's t1,
//     op_bitwiseK's i1): the redefinition registers it (ptm_redo_local);
//   - an array the body names handed to _longjmp (THROW's (c)->b,
//     LUAI_THROW): it decays into its view, which the shim only reads; one
//     handed to memcmp (KEY_IS) is read by memcmp's shim through the
//     buffer itself.
// The mirror runs inline and reads back its own writes; a dry run leaves
// the host's memory as it was; the real run writes.  A transaction whose
// call through a pointer a system header's macro spells forks (and says
// so), as does one whose macro the function redefines in its text.
// RUN: %ptmcc -fptm-mirror-all -isystem %inputs/macro-sys -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep '"transaction_id":"grow"' %t.trace | grep -c '"mirror":"inline"' | FileCheck %s --check-prefix=ONE
// RUN: grep '"transaction_id":"throw"' %t.trace | grep -c '"mirror":"inline"' | FileCheck %s --check-prefix=ONE
// RUN: grep '"transaction_id":"sys"' %t.trace | grep '"mirror":"fork"' | FileCheck %s --check-prefix=SYS
// RUN: grep '"transaction_id":"redef"' %t.trace | grep '"mirror":"fork"' | FileCheck %s --check-prefix=REDEF
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=ALL
// RUN: %t | FileCheck %s --check-prefix=REAL
// RUN: %if gcc %{ %if !asan %{ env PTM_CC=gcc %ptmcc -fptm-mirror-all -isystem %inputs/macro-sys -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t.gcc && %t.gcc | FileCheck %s --check-prefix=REAL %} %}

#include <call_sys.h>
#include <ptm.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef struct Alloc {
    void *(*frealloc)(void *ud, void *p, long n);
    void *ud;
} Alloc;
struct pool { long slots[4]; long used; };
struct rec { char key[4]; long n; };
struct catcher { jmp_buf b; int status; };

static struct pool pool;
static struct rec rec = {"abcd", 0};
static long stamp;
static struct catcher *handler;

#define callfrealloc(g, p, n) ((*g->frealloc)(g->ud, p, n))
#define GROW1(g) callfrealloc(g, NULL, 1)
#define TWICE(v, out) { long t1; long *tp = &t1; *tp = (v) * 2; (out) = t1; }
#define KEY_IS(s, k) (memcmp((s)->key, (k), 4) == 0)
#define THROW(c) _longjmp((c)->b, 1)
#define CALL_ONE(f) ((*f)(1))

static void *bump(void *ud, void *p, long n)
{
    struct pool *b = ud;
    (void)p;
    if (b->used + n > 4)
        return NULL;
    void *r = &b->slots[b->used];
    b->used += n;
    stamp = b->used;
    return r;
}

PTM_TRANSACTION(.transaction_id = "grow", .success_criteria = return == 0)
int grow(Alloc *g, long v)
{
    long *slot = callfrealloc(g, NULL, 1);
    long *next = GROW1(g);
    if (!slot || !next)
        return 1;
    long doubled;
    TWICE(v, doubled);
    *slot = doubled;
    *next = v;
    rec.n = *slot + *next;
    return pool.used == 2 && stamp == 2 && pool.slots[0] == 2 * v && pool.slots[1] == v &&
                   KEY_IS(&rec, "abcd") && rec.n == 3 * v
               ? 0
               : 2;
}

static void fail(void)
{
    handler->status = 7;
    THROW(handler);
}

PTM_TRANSACTION(.transaction_id = "throw", .success_criteria = return == 7)
int throw_caught(void)
{
    struct catcher c = {.status = 0};
    struct catcher *old = handler;
    handler = &c;
    if (_setjmp(c.b) == 0)
        fail();
    handler = old;
    stamp += 100;
    return c.status;
}

static long counted;

static long count(long n)
{
    counted += n;
    return counted;
}

PTM_TRANSACTION(.transaction_id = "sys", .success_criteria = return == 1)
long sys_call(long (*f)(long))
{
    return SYS_CALL1(f);
}

PTM_TRANSACTION(.transaction_id = "redef", .success_criteria = return == 1)
long redef(long (*f)(long))
{
    long a = CALL_ONE(f);
#undef CALL_ONE
#define CALL_ONE(f) ((*f)(1) + 0)
    return a < CALL_ONE(f);
}

int main(void)
{
    Alloc g = {bump, &pool};
    int r = grow(&g, 5);
    printf("grow %d used %ld stamp %ld slots %ld %ld n %ld\n", r, pool.used, stamp, pool.slots[0],
           pool.slots[1], rec.n);
    r = throw_caught();
    printf("throw %d stamp %ld\n", r, stamp);
    long s = sys_call(count);
    printf("sys %ld\n", s);
    s = redef(count);
    printf("redef %ld counted %ld\n", s, counted);
    return 0;
}

// DRY: grow 0 used 0 stamp 0 slots 0 0 n 0
// DRY: throw 7 stamp 0
// DRY: sys 1
// DRY: redef 1 counted 0
// ONE: 1
// SYS: calls through a function pointer
// REDEF: rewrites a macro that its text defines or undefines
// ALL: 4
// REAL: grow 0 used 2 stamp 2 slots 10 5 n 15
// REAL: throw 7 stamp 102
// REAL: sys 1
// REAL: redef 1 counted 3
