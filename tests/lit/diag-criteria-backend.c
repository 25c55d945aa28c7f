// An error the C compiler finds in success_criteria or snapshot (a name it
// does not know, a type, operands, a member) is reported at the user's text,
// under the user's own line, once per expression: not under a line of the
// generated code (`retrun == 0)) != 0;`), and without the errors that follow
// from it ("expected expression").  The same with gcc as the backend.
// RUN: not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --implicit-check-not=error: --implicit-check-not=frame --implicit-check-not=ptm_
// RUN: %if gcc %{ env PTM_CC=gcc not %ptmcc -c %s -o %t.o 2>&1 | FileCheck %s --implicit-check-not=error: --implicit-check-not=frame %}
// RUN: not %ptmcc --emit-source %s -o %t.c 2>&1 | FileCheck %s --implicit-check-not=error:
// Fixed, the same annotations build without a warning:
// RUN: %ptmcc -DFIXED -Wall -Wextra -Werror -c %s -o %t.o

#include <ptm.h>
#include <errno.h>
#include "Inputs/criteria-tx.h"

struct conf { int on; } gconf;
int table[4];

#ifndef FIXED
CHECKED_TX("macro")
int m(int k) { return k; }
PTM_TRANSACTION(.success_criteria = retrun == 0)
int a(int k) { return k; }

PTM_TRANSACTION(.success_criteria = return == 0 || gconf == 0)
int b(int k) { return k; }

PTM_TRANSACTION(.success_criteria = return < 2 && gconf.of == 1 && nosuch == 3)
int c(int k) { return k; }

PTM_TRANSACTION(.snapshot = { { table, sizeof(struct nope) } })
int d(int k) { return k; }

PTM_TRANSACTION(.success_criteria = errno != EAGIAN,
                .snapshot = { { &table[k], sizeof table[0] }, { &gconf, sizeof(gconf.off) } })
int e(int k) { return k; }
#else
PTM_TRANSACTION(.success_criteria = return == 0)
int a(int k) { return k; }

PTM_TRANSACTION(.success_criteria = return == 0 || gconf.on == 0)
int b(int k) { return k; }

PTM_TRANSACTION(.success_criteria = return < 2 && gconf.on == 1)
int c(int k) { return k; }

PTM_TRANSACTION(.snapshot = { { table, sizeof(struct conf) } })
int d(int k) { return k; }

PTM_TRANSACTION(.success_criteria = errno != EAGAIN,
                .snapshot = { { &table[k], sizeof table[0] }, { &gconf, sizeof(gconf.on) } })
int e(int k) { return k; }
#endif

// CHECK: criteria-tx.h:3:82: error: use of undeclared identifier 'retrun'; did you mean 'return'?
// CHECK-NEXT: {{^}}    3 | #define CHECKED_TX(id) PTM_TRANSACTION(.transaction_id = id, .success_criteria = retrun == 0){{$}}
// CHECK-NEXT: {{^}}      |                                                                                  ^~~~~~{{$}}
// CHECK-NEXT: {{^}}      |                                                                                  return{{$}}
// CHECK-NEXT: diag-criteria-backend.c:22:37: error: use of undeclared identifier 'retrun'; did you mean 'return'?
// CHECK-NEXT: {{^}}   22 | PTM_TRANSACTION(.success_criteria = retrun == 0){{$}}
// CHECK-NEXT: {{^}}      |                                     ^~~~~~{{$}}
// CHECK-NEXT: {{^}}      |                                     return{{$}}
// CHECK-NEXT: diag-criteria-backend.c:25:59: error: invalid operands to binary expression ('struct conf' and 'int')
// CHECK-NEXT: {{^}}   25 | PTM_TRANSACTION(.success_criteria = return == 0 || gconf == 0){{$}}
// CHECK-NEXT: {{^}}      |                                                           ^{{$}}
// The first error of an expression only:
// CHECK-NEXT: diag-criteria-backend.c:28:57: error: no member named 'of' in 'struct conf'
// CHECK-NEXT: {{^}}   28 | PTM_TRANSACTION(.success_criteria = return < 2 && gconf.of == 1 && nosuch == 3){{$}}
// CHECK-NEXT: {{^}}      |                                                         ^{{$}}
// CHECK-NEXT: diag-criteria-backend.c:31:40: error: invalid application of 'sizeof' to an incomplete type 'struct nope'
// CHECK-NEXT: {{^}}   31 | PTM_TRANSACTION(.snapshot = { { table, sizeof(struct nope) } }){{$}}
// CHECK-NEXT: {{^}}      |                                        ^{{$}}
// CHECK-NEXT: diag-criteria-backend.c:34:46: error: use of undeclared identifier 'EAGIAN'
// CHECK-NEXT: {{^}}   34 | PTM_TRANSACTION(.success_criteria = errno != EAGIAN,{{$}}
// CHECK-NEXT: {{^}}      |                                              ^{{$}}
// CHECK-NEXT: diag-criteria-backend.c:35:86: error: no member named 'off' in 'struct conf'
// CHECK-NEXT: {{^}}   35 |                 .snapshot = { { &table[k], sizeof table[0] }, { &gconf, sizeof(gconf.off) } }){{$}}
// CHECK-NEXT: {{^}}      |                                                                                      ^{{$}}
// CHECK-NEXT: {{^}}7 errors generated.{{$}}
