// The mirror_deadline key: a duration, read as the timeout's, with the
// same diagnostics.  Nothing is compiled when the annotation is wrong; a
// right one becomes the descriptor's mirror_deadline_us.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --strict-whitespace
// RUN: not test -e %t.o
// RUN: %ptmcc -DVALID --emit-source %s | FileCheck %s --check-prefix=EMIT

#include <ptm.h>

#ifdef VALID
PTM_TRANSACTION(.timeout = 2 s, .mirror_deadline = 25 ms)
int valid(int x) { return x; }
// EMIT:      {{^}}    .timeout_us = 2000000,{{$}}
// EMIT-NEXT: {{^}}    .mirror_deadline_us = 25000,{{$}}
#else

PTM_TRANSACTION(.mirror_deadline = 50)
int no_unit(int x) { return x; }

PTM_TRANSACTION(.mirror_deadline = "soon")
int a_string(int x) { return x; }

PTM_TRANSACTION(.mirror_deadline = -5 ms)
int negative(int x) { return x; }

PTM_TRANSACTION(.mirror_deadline = 5 parsecs)
int unknown_unit(int x) { return x; }

PTM_TRANSACTION(.mirror_dedline = 5 ms)
int misspelt(int x) { return x; }

PTM_TRANSACTION(.mirror_deadline = 5 ms, .mirror_deadline = 6 ms)
int twice(int x) { return x; }

PTM_TRANSACTION(.mirror_deadline = 0.1 us)
int too_short(int x) { return x; }

PTM_TRANSACTION(.mirror_deadline = 1e12 s)
int too_long(int x) { return x; }
#endif

// CHECK: diag-mirror-deadline.c:17:36: error: 'mirror_deadline' needs a unit (us, ms or s); did you mean '50 ms'?
// CHECK-NEXT: {{^}}   17 | PTM_TRANSACTION(.mirror_deadline = 50)
// CHECK-NEXT: {{^}}      |                                    ^~
// CHECK-NEXT: {{^}}      |                                    50 ms
// CHECK: diag-mirror-deadline.c:20:36: error: 'mirror_deadline' expects a duration such as 250 ms
// CHECK: diag-mirror-deadline.c:23:36: error: duration must be positive
// CHECK: diag-mirror-deadline.c:26:38: error: unknown duration unit 'parsecs'; durations use us, ms or s
// CHECK: diag-mirror-deadline.c:29:18: error: unknown key 'mirror_dedline'; did you mean 'mirror_deadline'?
// CHECK: diag-mirror-deadline.c:32:43: error: duplicate key 'mirror_deadline'
// CHECK: diag-mirror-deadline.c:32:36: note: previous value is here
// CHECK: diag-mirror-deadline.c:35:36: error: duration is shorter than 1 us
// CHECK: diag-mirror-deadline.c:38:36: error: duration is too long
