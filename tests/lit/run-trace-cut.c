// A run killed in the middle of a trace record leaves a cut line; the next
// run starts its records on a fresh line, and ptm-trace show skips the cut
// one and shows the rest.
// RUN: %ptmcc %s -o %t 2>/dev/null
// RUN: printf '{"ts":"2026-01-01T00:00:00.0000' > %t.trace
// RUN: env PTM_TRACE=%t.trace %t
// RUN: env PTM_TRACE=%t.trace %t
// RUN: FileCheck %s --check-prefix=FILE --match-full-lines < %t.trace
// RUN: %ptm_trace show %t.trace 2>&1 | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(.success_criteria = return > 0)
int one(int x)
{
    return x;
}

int main(void)
{
    return one(1) == 1 ? 0 : 1;
}

// FILE: {"ts":"2026-01-01T00:00:00.0000
// FILE-NEXT: {"ts":"{{.*}}"function":"one"{{.*}}}
// FILE-NEXT: {"ts":"{{.*}}"function":"one"{{.*}}}
// CHECK: :1: a record is cut off (its writer stopped mid-line); skipped
// CHECK: one · mirror
// CHECK: one · mirror
