// ptmcc stops reporting after -ferror-limit errors (20 by default, as clang),
// with clang's fatal error, and its cost stays linear in the errors: 4,000
// bad escapes in one string once took 93 s and printed the whole line under
// each error (27 MB for 3,000).  A line longer than 4096 bytes is not
// printed, as clang does not print one.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=LIMIT20 --implicit-check-not=error:
// RUN: not %ptmcc -ferror-limit=3 -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=LIMIT3 --implicit-check-not=error:
// RUN: not %ptmcc -fmax-errors=3 -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=LIMIT3 --implicit-check-not=error:
// RUN: not %ptmcc -ferror-limit=0 -c %s -o %t.o 2>&1 | FileCheck %s --check-prefix=NOLIMIT
//
// 4,000 bad escapes on one line of 8,000 bytes, without a limit:
// RUN: not %ptmcc -ferror-limit=0 -c %inputs/escapes-4000.c -o %t.o 2> %t.err
// RUN: FileCheck %s --check-prefix=LONG --input-file=%t.err
// RUN: wc -c < %t.err | FileCheck %s --check-prefix=SIZE
// RUN: not %ptmcc -c %inputs/escapes-4000.c -o %t.o 2>&1 | FileCheck %s --check-prefix=LONG20

#include <ptm.h>

PTM_TRANSACTION(.transaction_id = "\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q\q")
int f(int x) { return x; }

// LIMIT20-COUNT-20: diag-error-limit.c:19:{{[0-9]+}}: error: unknown escape sequence '\q'
// LIMIT20-NEXT: {{^ +19 \| PTM_TRANSACTION}}
// LIMIT20-NEXT: {{^ +\| +\^~$}}
// LIMIT20-NEXT: {{^}}fatal error: too many errors emitted, stopping now [-ferror-limit=]{{$}}
// LIMIT20-NEXT: {{^}}21 errors generated.{{$}}

// LIMIT3: diag-error-limit.c:19:36: error: unknown escape sequence '\q'
// LIMIT3: diag-error-limit.c:19:38: error: unknown escape sequence '\q'
// LIMIT3: diag-error-limit.c:19:40: error: unknown escape sequence '\q'
// LIMIT3: {{^}}fatal error: too many errors emitted, stopping now [-ferror-limit=]{{$}}
// LIMIT3-NEXT: {{^}}4 errors generated.{{$}}

// NOLIMIT-COUNT-30: error: unknown escape sequence '\q'
// NOLIMIT-NOT: fatal error
// NOLIMIT: {{^}}30 errors generated.{{$}}

// LONG: escapes-4000.c:3:36: error: unknown escape sequence '\q'
// LONG-NEXT: escapes-4000.c:3:38: error: unknown escape sequence '\q'
// LONG: escapes-4000.c:3:8034: error: unknown escape sequence '\q'
// LONG-NEXT: {{^}}4000 errors generated.{{$}}
// Well under a megabyte (the quadratic output was 50 MB):
// SIZE: {{^ *[0-9]{1,6}$}}

// LONG20-COUNT-20: error: unknown escape sequence '\q'
// LONG20-NEXT: fatal error: too many errors emitted, stopping now [-ferror-limit=]
