// -fptm-mirror-all and K&R-style definitions (as all of zlib's are): each
// gets a mirror clone whose header is the original's, renamed, so that it
// takes its arguments as the original does: promoted by callers that see
// no prototype (knr_mix, knr_pick through `int f();`), converted by the
// prototype of callers that see one (knr_store), and back to the declared
// types inside.  Its forward declaration is __typeof__ of the original:
// calls in a mirror convert as the original's calls do.  The transaction
// here reaches all of them in another file, one through a pointer, and
// its mirror runs inline with the primary's result; a dry run returns the
// mirror's result, which matches, and leaves the host's memory as it was.
// RUN: %ptmcc -fptm-mirror-all --emit-source -I %inputs %inputs/xtu-knr.c -o - | grep -v '^// ' | FileCheck %s --check-prefix=CLONE
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -Wno-deprecated-non-prototype -I %inputs -c %inputs/xtu-knr.c -o %t.knr.o
// RUN: %ptmcc -fptm-mirror-all -Wall -Wextra -Werror -Wno-deprecated-non-prototype -I %inputs %s %t.knr.o -o %t
// RUN: rm -f %t.trace && env PTM_TRACE=%t.trace %t > %t.out
// RUN: FileCheck %s --check-prefix=OUT < %t.out
// RUN: FileCheck %s --check-prefix=TRACE < %t.trace
// RUN: env PTM_DRY_RUN=1 %t | FileCheck %s --check-prefix=DRY
// The same program built by clang-19 alone prints the same.
// RUN: %clang -Wno-deprecated-non-prototype -I %ptm_include -I %inputs %s %inputs/xtu-knr.c -o %t.plain
// RUN: %t.plain | FileCheck %s --check-prefix=OUT

#include <ptm.h>
#include <stdio.h>

#include "xtu-knr.h"

static int slot;

PTM_TRANSACTION(.transaction_id = "knr", .success_criteria = return >= 0)
int knr(int n)
{
    struct knr_pt pt = {3, 4};
    char c = 'A';
    float x = 1.75f;
    short s = 300;
    int v = knr_mix(n, c, x, s, &slot, "xy", pt, 9);
    knr_fn pick = knr_pointer();
    return v + knr_store(&slot, 0) + pick('q', 2.5f);
}

int main(void)
{
    slot = 5;
    printf("knr %d\n", knr(2));
    printf("total %d slot %d\n", knr_total, slot);
    return 0;
}

// CLONE: {{^}}static __typeof__(scale) scale__ptm_mirror;
// CLONE: {{^}}__typeof__(knr_store) knr_store__ptm_mirror;
// CLONE: {{^}}__typeof__(knr_mix) knr_mix__ptm_mirror;
// CLONE: {{^}}static int scale__ptm_mirror{{$}}
// CLONE-NEXT: #line
// CLONE-NEXT: {{^ *}}(x){{$}}
// CLONE-NEXT: {{^}}float x;{{$}}
// CLONE: {{^}}int knr_mix__ptm_mirror{{$}}
// CLONE-NEXT: #line
// CLONE-NEXT: {{^ *}}(a, c, x, s, p, buf, pt, r){{$}}
// CLONE-NEXT: {{^}}    struct knr_pt pt;{{$}}
// CLONE-NEXT: {{^}}    short s;{{$}}
// CLONE-NEXT: {{^}}    float x;{{$}}
// CLONE-NEXT: {{^}}    char c;{{$}}
// CLONE-NEXT: {{^}}    int *p;{{$}}
// CLONE-NEXT: {{^}}    char buf[];{{$}}
// CLONE-NEXT: {{^}}    register int r;{{$}}
// CLONE-NEXT: {{^}}    int a;{{$}}
// CLONE-NEXT: {
// CLONE: scale__ptm_mirror(x)
// CLONE: { (void (*)(void))(knr_pick), (void (*)(void))knr_pick__ptm_mirror, &knr_pick__ptm_xfacts },

// 2 + 65 + 7 + 300 + 5 + 'y' (121) + 12 + 9 = 521; slot 5 + 0; 7
// OUT: knr 533
// OUT-NEXT: total 101 slot 5

// TRACE: "transaction_id":"knr",{{.*}}"mirror":"inline","mirror_reason":"auto: the mirror's {{[0-9]+}} functions across files call only shims and clones, and their stores outside their locals go to its write buffer","mirror_status":"returned"

// DRY: knr 533
// DRY-NEXT: total 0 slot 5
