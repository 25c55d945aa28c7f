// A macro that expands its argument twice, loaded in one expansion and
// stored in the other (Lua's SETARG_B: (i) = (((i) & mask) | v)), with an
// argument whose accesses nest (s->code[s->pc - 1]): the argument gets
// one wrap, through ptm_redo_st, whose view the load reads back; nested
// accesses inside it are wrapped once.  The same when the load comes
// first (SET_IF_ZERO's condition).  The mirror runs inline, reads what it
// stored, and leaves the host's memory as it was in a dry run.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

typedef struct Proto { unsigned *code; } Proto;
typedef struct FS { Proto *f; int pc; } FS;
#define SETB(i, v) ((i) = (((i) & ~0xffu) | (unsigned)(v)))
#define SET_IF_ZERO(i, v) ((i) == 0 ? ((i) = (v)) : (i))

static unsigned code[2] = {0x1234, 0};
static Proto proto = {code};
static FS fs0 = {&proto, 1};

PTM_TRANSACTION(.transaction_id = "setb", .success_criteria = return == 0x1205, .mirror = inline)
unsigned setb(FS *fs)
{
    SETB(fs->f->code[fs->pc - 1], 5);
    return SET_IF_ZERO(fs->f->code[fs->pc], 7) == 7 ? fs->f->code[0] : 0;
}

int main(void)
{
    unsigned r = setb(&fs0);
    printf("r %x code %x %x\n", r, code[0], code[1]);
    return 0;
}

// CHECK: SETB((*__extension__({ __auto_type __ptm_a[[A:[0-9]+]] = &((*__extension__({ __auto_type __ptm_a[[C:[0-9]+]] = &((*__extension__({ __auto_type __ptm_a[[F:[0-9]+]] = &(fs->f); (__typeof__(__ptm_a[[F]]))ptm_redo_ld(__ptm_a[[F]], sizeof *__ptm_a[[F]]); }))->code); (__typeof__(__ptm_a[[C]]))ptm_redo_ld(__ptm_a[[C]], sizeof *__ptm_a[[C]]); }))[(*__extension__({ __auto_type __ptm_a[[P:[0-9]+]] = &(fs->pc); (__typeof__(__ptm_a[[P]]))ptm_redo_ld(__ptm_a[[P]], sizeof *__ptm_a[[P]]); })) - 1]); (__typeof__(__ptm_a[[A]]))ptm_redo_st(__ptm_a[[A]], sizeof *__ptm_a[[A]]); })), 5);
// CHECK: return SET_IF_ZERO((*__extension__({ __auto_type __ptm_a[[B:[0-9]+]] = &(
// CHECK-SAME: (__typeof__(__ptm_a[[B]]))ptm_redo_st(__ptm_a[[B]], sizeof *__ptm_a[[B]]); })), 7) == 7

// DRY: r 1205 code 1234 0
// COUNT: 1
// REAL: r 1205 code 1205 7
