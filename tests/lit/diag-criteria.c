// success_criteria is checked against the function: no 'return' in a void
// function, no strings, no units.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s

#include <ptm.h>

PTM_TRANSACTION(.success_criteria = return == 0)
void v(int x) { (void)x; }

PTM_TRANSACTION(.success_criteria = return == "ok")
int s(int x) { return x; }

PTM_TRANSACTION(.success_criteria = return < 5 ms)
int u(int x) { return x; }

// CHECK: diag-criteria.c:7:37: error: {{.*}}void{{.*}}
// CHECK: diag-criteria.c:10:47: error: {{.*}}
// CHECK: diag-criteria.c:13:46: error: {{.*}}
