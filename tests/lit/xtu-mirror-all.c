// -fptm-mirror-all: every function of a unit gets a mirror clone, exported
// when the function is (a static one stays static), buffered, with its
// facts record; a mirror's call of a function of another file goes to that
// file's clone through a weak reference.  The runtime walks the facts once
// and runs the mirror inline only when every function it reaches is
// proved: a mirror whose stores go to the write buffer reads them back (the
// dry run's result counts its own store, the host's total stays 0); one
// that reaches system() through another file forks, even under
// `mirror = inline`, and the trace names the function and the path; one
// that reaches a file built without ptmcc forks and names the callee.
// RUN: %ptmcc -fptm-mirror-all --emit-source -I %inputs %inputs/xtu-all.c -o - | grep -v '^// ' | FileCheck %s --check-prefix=CLONE
// RUN: %ptmcc -fptm-mirror-all --emit-source -I %inputs %s -o - | grep -v '^// ' | FileCheck %s --check-prefix=CALLER
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -I %inputs -c %inputs/xtu-all.c -o %t.all.o
// RUN: %clang -Wall -Wextra -Werror -I %inputs -c %inputs/xtu-plain.c -o %t.plain.o
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -I %inputs %s %t.all.o %t.plain.o -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: FileCheck %s --check-prefix=OUT < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// What -E prints of a unit without annotations stays as written.
// RUN: %ptmcc -fptm-mirror-all -E -I %inputs %inputs/xtu-all.c | FileCheck %s --check-prefix=PRE --implicit-check-not=__ptm_
// Without the flag the calls are unknown externals, as before (and
// `mirror = inline` an error at compile time).
// RUN: not %ptmcc -I %inputs -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=OFF

#include <ptm.h>
#include <stdio.h>

#include "xtu-all.h"

PTM_TRANSACTION(.transaction_id = "add")
int add(int v)
{
    all_add(v);
    return all_total_now();
}

PTM_TRANSACTION(.transaction_id = "shell", .mirror = inline)
int shell(void)
{
    return all_shell("true") == 0 ? 0 : -1;
}

PTM_TRANSACTION(.transaction_id = "plain")
int plain(int v)
{
    return all_plain(v);
}

int main(void)
{
    printf("add %d\n", add(2));
    printf("shell %d\n", shell());
    printf("plain %d\n", plain(4));
    printf("total %d\n", all_total);
    return 0;
}

// CLONE: {{^}}static int twice__ptm_mirror{{$}}
// CLONE: {{^}}local int once__ptm_mirror{{$}}
// CLONE: {{^}}int all_add__ptm_mirror{{$}}
// CLONE: all_total{{.*}}ptm_redo_st(
// CLONE: {{^}}int all_shell__ptm_mirror{{$}}
// CLONE: static const struct ptm_xfacts twice__ptm_xfacts __attribute__((__unused__));
// CLONE: static const struct ptm_xfacts once__ptm_xfacts __attribute__((__unused__));
// CLONE: extern const struct ptm_xfacts all_add__ptm_xfacts;
// CLONE: const struct ptm_xfacts all_add__ptm_xfacts = {
// CLONE-NEXT:     .name = "all_add",
// CLONE-NEXT:     .file = "{{.*}}xtu-all.c",
// CLONE-NEXT:     .stores_out = 1,
// CLONE-NEXT:     .buffered = 1,
// CLONE-NEXT:     .n_calls = 2,
// CLONE-NEXT:     .calls = all_add__ptm_xcalls,
// CLONE: const struct ptm_xfacts all_shell__ptm_xfacts = {
// CLONE-NEXT:     .name = "all_shell",
// CLONE-NEXT:     .file = "{{.*}}xtu-all.c",
// CLONE-NEXT:     .stores_out = 0,
// CLONE-NEXT:     .buffered = 1,
// CLONE-NEXT:     .fork = "calls unknown external 'system' ({{.*}}xtu-all.c:33)",
// The static functions the unit only calls (twice, once) have no row in
// the clone map: no pointer can hold them.
// CLONE: static const struct ptm_xmap __ptm_xmap[]
// CLONE-NEXT: { (void (*)(void))(all_add), (void (*)(void))all_add__ptm_mirror, &all_add__ptm_xfacts },
// CLONE-NOT: twice
// CLONE-NOT: once
// CLONE: };

// CALLER: extern __typeof__(all_add) all_add__ptm_mirror __attribute__((weak));
// CALLER: extern const struct ptm_xfacts all_add__ptm_xfacts __attribute__((weak));
// CALLER: (*all_add__ptm_xtu())(v);
// CALLER: static struct ptm_xstate add__ptm_xstate;
// CALLER: .mirror_mode = PTM_MIRROR_INLINE,
// CALLER: .xfacts = &shell__ptm_xfacts,

// PRE: int all_add(int v)

// OUT: add 4
// OUT-NEXT: shell 0
// OUT-NEXT: plain 5
// OUT-NEXT: total 4

// TRACE: "transaction_id":"add",{{.*}}"mirror":"inline","mirror_reason":"auto: the mirror's 5 functions across files call only shims and clones, and their stores outside their locals go to its write buffer","mirror_status":"returned"
// TRACE: "transaction_id":"shell",{{.*}}"mirror":"fork","mirror_reason":"reaches 'all_shell' via shell -> all_shell: calls unknown external 'system' ({{.*}}xtu-all.c:33)"
// TRACE: "transaction_id":"plain",{{.*}}"mirror":"fork","mirror_reason":"reaches 'all_plain' via plain: no mirror clone (its file was not built by ptmcc -fptm-mirror-all)"

// DRY: add 4
// DRY: total 0

// OFF: warning: the mirror of 'add' forks: it reaches unknown external 'all_add' via add
// OFF: error: 'mirror = inline' needs every call in the mirror of 'shell' to reach a shim or a mirror clone
