// A static inline helper from a user header that a mirror reaches gets a
// clone too, copied from the header's text under a #line that names the
// header, so the backend's diagnostics and the debugger point there.  The
// C library's own inline functions (system headers) are library calls.
// RUN: %ptmcc --emit-source -I %inputs %s -o - | grep -v '^// ' | FileCheck %s
// RUN: %ptmcc -Wall -Wextra -Werror -I %inputs %s -o %t 2>/dev/null
// RUN: %t 250 2>&1 | FileCheck %s --check-prefix=OUT

#include <inline-helpers.h>
#include <ptm.h>
#include <stdio.h>
#include <stdlib.h>

PTM_TRANSACTION(.success_criteria = return >= 0)
int level(int v)
{
    return clamp(v, 0, 100);
}

int main(int argc, char **argv)
{
    printf("level %d\n", level(argc > 1 ? atoi(argv[1]) : -1));
    return 0;
}

// CHECK: #line 7 "{{.*}}inline-helpers.h"
// CHECK-NEXT: {{^}}static {{ *}}int clamp__ptm_mirror{{$}}
// CHECK-NEXT: #line 7 "{{.*}}inline-helpers.h"
// CHECK-NEXT: {{^ *}}(int v, int lo, int hi);
// CHECK: return clamp__ptm_mirror(v, 0, 100);
// CHECK: /* The mirror clone of clamp ({{.*}}inline-helpers.h:7): its I/O goes to PTM's shims. */
// CHECK-NEXT: #line 7 "{{.*}}inline-helpers.h"
// CHECK-NEXT: {{^}}static {{ *}}int clamp__ptm_mirror{{$}}
// CHECK-NEXT: #line 7 "{{.*}}inline-helpers.h"
// CHECK-NEXT: {{^ *}}(int v, int lo, int hi){{$}}
// CHECK-NEXT: {
// CHECK-NEXT: if (ptm_mirror_cancel) ptm_mirror_cancelled();
// CHECK-NEXT: #line 8 "{{.*}}inline-helpers.h"
// CHECK-NEXT: {{^ +$}}
// CHECK-NEXT:     if (v < lo) {
// CHECK-NEXT:         ptm_shim_fputs("clamped low\n", stderr);
// CHECK-NOT: next_ticket__ptm_mirror

// OUT: level 100
