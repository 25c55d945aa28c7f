// An annotation written through the user's own macro: as clang does for
// any macro, an error in a token of the macro's body is reported at the
// macro's use, with a note "expanded from macro" at the exact token in the
// definition (in a header too); an error in an argument is reported at the
// argument, where a fix-it can apply.
// RUN: not %ptmcc -I %inputs -c %s -o %t.o 2>&1 | FileCheck %s --strict-whitespace

#include <ptm.h>
#include <macro-tx.h>

#define BANK_TX(id) PTM_TRANSACTION(.transaction_id = id, .mirror = sometimes)
#define RETRY_TX(n) PTM_TRANSACTION(.retry = n, .timeout = 5 parsecs)
#define EMPTY_TX() PTM_TRANSACTION(.thresold = 0.5)

BANK_TX("bank.transfer")
int transfer(int from, int to) { return from + to; }

RETRY_TX(-2)
int r(int x) { return x; }

EMPTY_TX()
int e(int x) { return x; }

HEADER_TX("h", .mirror = forkk)
int h(int x) { return x; }

// CHECK: macro-diag.c:15:1: error: unknown mirror mode 'sometimes'; modes are auto, inline, fork and off
// CHECK-NEXT: {{^}}   15 | BANK_TX("bank.transfer")
// CHECK-NEXT: {{^}}      | ^
// CHECK-NEXT: macro-diag.c:11:69: note: expanded from macro 'BANK_TX'
// CHECK-NEXT: {{^}}   11 | #define BANK_TX(id) PTM_TRANSACTION(.transaction_id = id, .mirror = sometimes)
// CHECK-NEXT: {{^}}      |                                                                     ^~~~~~~~~
// CHECK: macro-diag.c:18:10: error: 'retry' must be non-negative
// CHECK-NEXT: {{^}}   18 | RETRY_TX(-2)
// CHECK-NEXT: {{^}}      |          ^~
// CHECK: macro-diag.c:18:1: error: unknown duration unit 'parsecs'; durations use us, ms or s
// CHECK: macro-diag.c:12:62: note: expanded from macro 'RETRY_TX'
// CHECK: macro-diag.c:21:1: error: unknown key 'thresold'; did you mean 'threshold'?
// CHECK-NEXT: {{^}}   21 | EMPTY_TX()
// CHECK-NEXT: {{^}}      | ^
// CHECK-NEXT: macro-diag.c:13:37: note: expanded from macro 'EMPTY_TX'
// CHECK: macro-diag.c:24:1: error: unknown key 'retires'; did you mean 'retry'?
// CHECK: macro-tx.h:3:67: note: expanded from macro 'HEADER_TX'
// CHECK: macro-diag.c:24:26: error: unknown mirror mode 'forkk'; did you mean 'fork'?
// CHECK-NEXT: {{^}}   24 | HEADER_TX("h", .mirror = forkk)
// CHECK-NEXT: {{^}}      |                          ^~~~~
// CHECK-NEXT: {{^}}      |                          fork
