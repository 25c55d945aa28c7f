// The mirror_sampling, exploration and retry_budget keys (issue 13):
// their diagnostics, and the descriptor fields a right annotation
// becomes.  Nothing is compiled when an annotation is wrong.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --strict-whitespace
// RUN: not test -e %t.o
// RUN: %ptmcc -DVALID --emit-source %s | FileCheck %s --check-prefix=EMIT
// RUN: %ptmcc -DVALID -Wall -Wextra -Werror -c %s -o %t.valid.o

#include <ptm.h>

#ifdef VALID
PTM_TRANSACTION(.mirror_sampling = adaptive, .exploration = 0.01, .retry_budget = 0.2)
int both(int x) { return x; }
// EMIT:      {{^}}static struct ptm_tx_slot both__ptm_slot;{{$}}
// EMIT:      {{^}}    .mirror_sampling = PTM_SAMPLING_ADAPTIVE,{{$}}
// EMIT-NEXT: {{^}}    .exploration = 0.01,{{$}}
// EMIT-NEXT: {{^}}    .retry_budget = 0.20000000000000001,{{$}}
// EMIT-NEXT: {{^}}    .retry_budget_set = 1,{{$}}
// EMIT-NEXT: {{^}}    .slot = &both__ptm_slot,{{$}}

PTM_TRANSACTION(.mirror_sampling = always, .exploration = 0, .retry_budget = 0)
int defaults_spelt(int x) { return x; }
// EMIT:      {{^}}static struct ptm_tx_slot defaults_spelt__ptm_slot;{{$}}
// EMIT:      {{^}}    .retry_budget = 0,{{$}}
// EMIT-NEXT: {{^}}    .retry_budget_set = 1,{{$}}
// EMIT-NEXT: {{^}}    .slot = &defaults_spelt__ptm_slot,{{$}}

PTM_TRANSACTION(.exploration = 0.05)
int explore_only(int x) { return x; }
// EMIT:      {{^}}static const struct ptm_tx_desc explore_only__ptm_desc = {{{$}}
// EMIT-NOT:  .slot
// EMIT:      {{^}}    .exploration = 0.050000000000000003,{{$}}
// EMIT-NOT:  .slot
// EMIT:      {{^}}};{{$}}
#else

PTM_TRANSACTION(.mirror_sampling = sometimes)
int unknown(int x) { return x; }

PTM_TRANSACTION(.mirror_sampling = adaptiv)
int misspelt(int x) { return x; }

PTM_TRANSACTION(.mirror_sampling = "adaptive")
int a_string(int x) { return x; }

PTM_TRANSACTION(.mirror_sampling = 1)
int a_number(int x) { return x; }

PTM_TRANSACTION(.exploration = 0.5)
int too_much(int x) { return x; }

PTM_TRANSACTION(.exploration = -0.01)
int negative(int x) { return x; }

PTM_TRANSACTION(.exploration = 1 ms)
int a_unit(int x) { return x; }

PTM_TRANSACTION(.exploration = nan)
int not_a_number(int x) { return x; }

PTM_TRANSACTION(.exploration = 1e999)
int huge(int x) { return x; }

PTM_TRANSACTION(.retry_budget = -0.2)
int negative_budget(int x) { return x; }

PTM_TRANSACTION(.retry_budget = 1e6)
int huge_budget(int x) { return x; }

PTM_TRANSACTION(.retry_budget = { .ratio = 0.2 })
int a_table(int x) { return x; }

PTM_TRANSACTION(.mirror_sampling = adaptive, .mirror_sampling = always)
int twice(int x) { return x; }
#endif

// CHECK: diag-mirror-sampling.c:37:36: error: unknown mirror sampling 'sometimes'; use always or adaptive
// CHECK-NEXT: {{^}}   37 | PTM_TRANSACTION(.mirror_sampling = sometimes)
// CHECK-NEXT: {{^}}      |                                    ^~~~~~~~~
// CHECK: diag-mirror-sampling.c:40:36: error: unknown mirror sampling 'adaptiv'; did you mean 'adaptive'?
// CHECK-NEXT: {{^}}   40 | PTM_TRANSACTION(.mirror_sampling = adaptiv)
// CHECK-NEXT: {{^}}      |                                    ^~~~~~~
// CHECK-NEXT: {{^}}      |                                    adaptive
// CHECK: diag-mirror-sampling.c:43:36: error: 'mirror_sampling' expects always or adaptive
// CHECK-NEXT: {{^}}   43 | PTM_TRANSACTION(.mirror_sampling = "adaptive")
// CHECK-NEXT: {{^}}      |                                    ^~~~~~~~~~
// CHECK-NEXT: {{^}}      |                                    adaptive
// CHECK: diag-mirror-sampling.c:46:36: error: 'mirror_sampling' expects always or adaptive
// CHECK: diag-mirror-sampling.c:49:32: error: 'exploration' must be at most 0.05: each explored call lets a predicted failure happen
// CHECK-NEXT: {{^}}   49 | PTM_TRANSACTION(.exploration = 0.5)
// CHECK-NEXT: {{^}}      |                                ^~~
// CHECK: diag-mirror-sampling.c:52:32: error: 'exploration' must be non-negative
// CHECK: diag-mirror-sampling.c:55:32: error: 'exploration' expects a fraction such as 0.01
// CHECK: diag-mirror-sampling.c:58:32: error: 'exploration' expects a fraction such as 0.01
// CHECK: diag-mirror-sampling.c:61:32: error: floating-point literal is too large
// CHECK: diag-mirror-sampling.c:64:33: error: 'retry_budget' must be non-negative
// CHECK: diag-mirror-sampling.c:67:33: error: 'retry_budget' must be at most 1000
// CHECK: diag-mirror-sampling.c:70:33: error: 'retry_budget' expects a ratio of retries to calls such as 0.2
// CHECK: diag-mirror-sampling.c:73:47: error: duplicate key 'mirror_sampling'
// CHECK: diag-mirror-sampling.c:73:36: note: previous value is here
// CHECK: 13 errors generated.
