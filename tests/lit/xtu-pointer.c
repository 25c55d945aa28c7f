// -fptm-mirror-all and calls through pointers: each unit lists its
// functions with their clones in the section ptm_xmap, and a clone's call
// through a pointer asks ptm_clone_of for the target's clone.  A target
// whose clone is proved runs inline (a static function of another file,
// storing through the write buffer: the dry run sees its own count, the
// host's stays 0); a target that needs fork (it calls exit) and a library
// function make the inline mirror stop there and the fork executor run
// it, and the trace says why.  In a mirror a function's name is its clone:
// the map lists both.
// RUN: %ptmcc -fptm-mirror-all --emit-source -I %inputs %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=EMIT
// RUN: %ptmcc -fptm-mirror-all --emit-source -I %inputs %inputs/xtu-ops.c -o - | grep -v '^// ' | FileCheck %s --check-prefix=OPSMAP
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -I %inputs -c %inputs/xtu-ops.c -o %t.ops.o
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -I %inputs %s %t.ops.o -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: FileCheck %s --check-prefix=OUT < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: rm -f %t.trace && env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: FileCheck %s --check-prefix=DRYTRACE < %t.trace

#include <ptm.h>
#include <stdio.h>

#include "xtu-ops.h"

PTM_TRANSACTION(.transaction_id = "apply")
int apply(const char *name, int v)
{
    xtu_op op = ops_lookup(name);
    return op(v) + ops_calls;
}

int main(void)
{
    printf("twice %d\n", apply("twice", 3));
    printf("abs %d\n", apply("abs", -3));
    printf("quit %d\n", apply("quit", 0) >= 0);
    return 0;
}

// EMIT: return (__extension__({ __auto_type __ptm_fp0 = (op); (__typeof__(__ptm_fp0))ptm_clone_of((void (*)(void))__ptm_fp0); }))(v) +
// EMIT: .indirect = 1,
// EMIT: static const struct ptm_xmap __ptm_xmap[] __attribute__((__used__, __section__("ptm_xmap"), __aligned__(sizeof(void *)))) = {
// EMIT-NEXT: { (void (*)(void))(apply), (void (*)(void))apply__ptm_mirror, &apply__ptm_xfacts },
// EMIT-NEXT: { (void (*)(void))apply__ptm_mirror, (void (*)(void))apply__ptm_mirror, &apply__ptm_xfacts },
// EMIT-NEXT: { (void (*)(void))(main), (void (*)(void))main__ptm_mirror, &main__ptm_xfacts },

// The static functions whose address the unit takes keep their rows.
// OPSMAP: static const struct ptm_xmap __ptm_xmap[]
// OPSMAP-NEXT: { (void (*)(void))(twice), (void (*)(void))twice__ptm_mirror, &twice__ptm_xfacts },
// OPSMAP-NEXT: { (void (*)(void))twice__ptm_mirror, (void (*)(void))twice__ptm_mirror, &twice__ptm_xfacts },
// OPSMAP-NEXT: { (void (*)(void))(quit), (void (*)(void))quit__ptm_mirror, &quit__ptm_xfacts },

// The primary of quit exits the program, as a plain build would.
// OUT: twice 7
// OUT-NEXT: abs 4
// OUT-NOT: quit

// TRACE: "transaction_id":"apply",{{.*}}"mirror":"inline","mirror_reason":"auto: the mirror's {{[0-9]+}} functions across files{{[^"]*}}write buffer","mirror_status":"returned"
// TRACE: "transaction_id":"apply",{{.*}}"mirror":"fork","mirror_reason":"calls through a pointer a function without a mirror clone","mirror_status":"returned"

// A dry run runs no primary: quit's mirror, in the fork executor, exits
// there, and the program goes on.
// DRYTRACE: "mirror":"inline"
// DRYTRACE: "mirror":"fork","mirror_reason":"calls through a pointer a function without a mirror clone"
// DRYTRACE: "mirror":"fork","mirror_reason":"through a pointer: reaches 'quit' via quit: calls unknown external 'exit' ({{.*}}xtu-ops.c:16)"

// DRY: twice 7
// DRY-NEXT: abs 3
// DRY-NEXT: quit
