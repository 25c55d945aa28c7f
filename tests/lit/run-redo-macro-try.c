// Three forms of Lua's ldo.c and lobject.c, each a general rule:
//   - a call through a pointer whose callee is written whole inside a
//     macro's argument (TRY(&lj, (*f)(ud);)) goes to ptm_clone_of there,
//     under -fptm-mirror-all: the target's clone runs, the mirror stays
//     inline;
//   - (&lj)->b, a macro's (c)->b given &lj, is the local lj's member:
//     setjmp may write it;
//   - a library writer handed a parameter that a macro's body
//     parenthesizes (FMT((s), n, v) -> snprintf((s), ...)) has the
//     argument checked (ptm_redo_own), not the function refused: the
//     mirror's own array passes; a global's address makes the inline
//     mirror stop and fork (a library call may not write the host's memory).
// A dry run leaves the host's memory as it was; the real run writes.
// RUN: %ptmcc -fptm-mirror-all --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -fptm-mirror-all -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep '"transaction_id":"try"' %t.trace | grep -c '"mirror":"inline"' | FileCheck %s --check-prefix=COUNT
// RUN: grep '"transaction_id":"put_global"' %t.trace | grep -c '"mirror":"fork"' | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=BOTH
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <setjmp.h>
#include <stdio.h>

struct longjmp_s { jmp_buf b; int status; };
#define TRY(c, a) if (setjmp((c)->b) == 0) { a }
#define FMT(s, sz, n) snprintf((s), sz, "%d", (int)(n))

static char out[16];
static int total;

static void add(void *ud)
{
    total += *(int *)ud;
}

static int put(char *buff, int n)
{
    return FMT(buff, 16, n);
}

PTM_TRANSACTION(.transaction_id = "try", .success_criteria = return == 2, .mirror = inline)
int run(void (*f)(void *), int v)
{
    struct longjmp_s lj;
    char local[16];
    lj.status = 0;
    TRY(&lj, (*f)(&v);)
    int n = put(local, total);
    out[0] = local[0];
    out[1] = local[1];
    return n;
}

PTM_TRANSACTION(.transaction_id = "put_global", .success_criteria = return == 1)
int put_global(int v)
{
    return put(out + 8, v);
}

int main(void)
{
    int r = run(add, 42);
    printf("r %d total %d out '%s'\n", r, total, out);
    r = put_global(7);
    printf("r %d out '%s'\n", r, out + 8);
    return 0;
}

// CHECK: TRY(&lj, (__extension__({ __auto_type __ptm_fp0 = ((*f)); (__typeof__(__ptm_fp0))ptm_clone_of((void (*)(void))__ptm_fp0); }))(&v);)
// CHECK: return FMT((__extension__({ __auto_type __ptm_a{{[0-9]+}} = (buff); (__typeof__(__ptm_a{{[0-9]+}}))ptm_redo_own(__ptm_a{{[0-9]+}}); })), 16, n);

// DRY: r 2 total 0 out ''
// DRY: r 1 out ''
// COUNT: 1
// BOTH: 2
// REAL: r 2 total 42 out '42'
// REAL: r 1 out '7'
