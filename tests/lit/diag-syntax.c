// Syntax errors point into the annotation at the exact line and column,
// even when it spans several lines and holds comments.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(
    .transaction_id = "multi",   /* a comment */
    .retry = { .max = 3,
               .backoff = exponential(5 ms 200 ms) },
    .timeout = 250 ms)
int f(int x) { return x; }

// CHECK: diag-syntax.c:10:44: error: {{.*}}
// CHECK-NEXT: {{^ +10 \| +\.backoff = exponential\(5 ms 200 ms\) },$}}
