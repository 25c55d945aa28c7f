// The clones go to the end of the file, where a macro that the file
// defines again (M) or undefines (N, then a function of that name) after
// a transaction would expand otherwise than in it: a mirror would run code
// ptmcc never looked at, and store into the host's memory.  Each clone
// restores the definitions in force at its function (push_macro, #define,
// pop_macro): a dry run leaves the host's memory as it was, and the mirror
// computes what the primary does.
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | FileCheck %s
// RUN: %ptmcc -std=gnu11 -O2 -Wall -Wextra -Werror %s -o %t
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t | FileCheck %s --check-prefix=DRY
// RUN: grep -c '"mirror":"inline"' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: grep -c '"criteria_failed":false' %t.trace | FileCheck %s --check-prefix=COUNT
// RUN: %t | FileCheck %s --check-prefix=REAL

#include <ptm.h>
#include <stdio.h>

static int host, host_n;
#define M(p) ((p) + 1)
#define N(p) ((p) * 2)

PTM_TRANSACTION(.transaction_id = "t", .success_criteria = return == 7, .mirror = auto)
int t(int x)
{
    return M(x) + N(x);
}

#undef M
#define M(p) (host = (p))
#undef N
static int N(int p)
{
    host_n = p;
    return p;
}

int main(void)
{
    int r = t(2);
    printf("r %d host %d %d\n", r, host, host_n);
    M(3);
    printf("later M %d N %d\n", host, N(4) + host_n);
    return 0;
}

// CHECK-LABEL: /* The mirror clone of t (
// CHECK-NEXT: #pragma push_macro("M")
// CHECK-NEXT: #undef M
// CHECK-NEXT: #define M(p) ((p) + 1)
// CHECK-NEXT: #pragma push_macro("N")
// CHECK-NEXT: #undef N
// CHECK-NEXT: #define N(p) ((p) * 2)
// CHECK: return M(x) + N(x);
// CHECK: #pragma pop_macro("N")
// CHECK-NEXT: #pragma pop_macro("M")

// DRY: r 7 host 0 0
// DRY: later M 3 N 8
// COUNT: 1
// REAL: r 7 host 0 0
