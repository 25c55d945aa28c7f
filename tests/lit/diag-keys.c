// Key-level diagnostics: unknown keys with a fix-it, values without units,
// out-of-range thresholds, unknown mirror modes, duplicates.  Nothing is
// compiled when the annotation is wrong.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --strict-whitespace
// RUN: not test -e %t.o

#include <ptm.h>

PTM_TRANSACTION(
    .transaction_id = "t",
    .retires = 3,
    .timeout = 250,
    .threshold = 1.5,
    .mirror = forkk,
    .transaction_id = "again")
int f(int x) { return x; }

// CHECK: diag-keys.c:11:6: error: unknown key 'retires'; did you mean 'retry'?
// CHECK-NEXT: {{^}}   11 |     .retires = 3,
// CHECK-NEXT: {{^}}      |      ^~~~~~~
// CHECK-NEXT: {{^}}      |      retry
// CHECK: diag-keys.c:12:16: error: 'timeout' needs a unit (us, ms or s); did you mean '250 ms'?
// CHECK: {{^}}      |                250 ms
// CHECK: diag-keys.c:13:18: error: 'threshold' must be between 0 and 1
// CHECK: diag-keys.c:14:15: error: unknown mirror mode 'forkk'; did you mean 'fork'?
// CHECK: diag-keys.c:15:6: error: duplicate key 'transaction_id'
// CHECK: diag-keys.c:10:23: note: previous value is here
